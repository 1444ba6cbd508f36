/* test_h225.c - unit tests for the H.225.0 reader and writers of lib/h225
 * (h225_tpkt_frame, h225_q931_read, h225_msg_read, h225_gkid_service,
 * h225_alias_domain, h225_write_ras_reject, h225_write_release_complete):
 * the worked frames of the wire-format reference and generated ones
 * (tests/vectors/h225/), read as tshark reads them (tshark-expected.txt,
 * made by tshark_fields.py), cut at every byte, and the reference's
 * pitfalls one by one. */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pbxedge/err.h>
#include <pbxedge/h225.h>

#include "h225_frames.h"
#include "vectors.h"
#include "span_check.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- vectors ---- */

/* tests/vectors/h225/NAME.bin (see vectors.h). */
static uint8_t *load(const char *name, size_t *len)
{
	char file[256];
	snprintf(file, sizeof file, "%s.bin", name);
	return vector_load("h225", file, len);
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);
	ck_assert_ptr_nonnull(c);
	memcpy(c, p, n);
	return c;
}


static char text[H225_TEXT_MAX];

/* Read a frame from its own heap copy. */
static int read_msg(const uint8_t *p, size_t n, struct h225_msg *m, size_t *at)
{
	uint8_t *c = dup_bytes(p, n);
	size_t a;
	int rc = h225_msg_read(c, n, m, text, sizeof text, at ? at : &a);
	/* m borrows c: keep it for the caller's checks of spans in text
	 * only (the q931.uu pointer is not looked at after this). */
	free(c);
	m->q931.uu = NULL;
	return rc;
}

/* ---- the encoder and the vector files agree ---- */

START_TEST(test_h225_vectors_encoder)
{
	const struct fr_vector *v = &fr_vectors[_i];
	uint8_t b[8192];
	size_t n = v->build(b, sizeof b), len;
	uint8_t *f = load(v->name, &len);
	ck_assert_msg(n == len && memcmp(b, f, n) == 0, "%s: the encoder's frame differs",
		      v->name);
	free(f);
}
END_TEST

/* ---- as tshark reads them ---- */

static void add(char *line, size_t cap, const char *fmt, const char *key, struct pbx_span s)
{
	size_t l = strlen(line);
	snprintf(line + l, cap - l, fmt, key, (int)s.len, s.p ? s.p : "");
}

/* The reader's findings in tshark_fields.py's form. */
static void summary(const struct h225_msg *m, char *line, size_t cap)
{
	size_t l;
	snprintf(line, cap, "q931=0x%02x", m->q931.type);
	l = strlen(line);
	if (m->body != H225_BODY_NONE)
		l += (size_t)snprintf(line + l, cap - l, " body=%d", m->body);
	if (m->q931.have_cause)
		l += (size_t)snprintf(line + l, cap - l, " cause=%d", m->q931.cause);
	if (m->dest.len) {
		add(line, cap, " %s=%.*s", "dest", m->dest);
		add(line, cap, " %s=%.*s", "domain", m->dest_domain);
	}
	for (size_t i = 0; i < m->n_ras; i++) {
		const struct h225_ras *r = &m->ras[i];
		l = strlen(line);
		l += (size_t)snprintf(line + l, cap - l, " ras=%d", r->type);
		if (r->type == 0 || r->type == 2 || r->type == 3 || r->type == 5)
			l += (size_t)snprintf(line + l, cap - l, " seq=%u", r->seq);
		if (r->gkid_state == H225_GKID_OK) {
			add(line, cap, " %s=%.*s", "gkid", r->gkid);
			add(line, cap, " %s=%.*s", "name", r->name);
			if (r->standby.len)
				add(line, cap, " %s=%.*s", "standby", r->standby);
		} else if (r->gkid_state == H225_GKID_BAD) {
			l = strlen(line);
			snprintf(line + l, cap - l, " gkid=BAD");
		}
		for (size_t a = 0; a < r->n_aliases; a++)
			add(line, cap, a ? ",%s%.*s" : " %saliases=%.*s", "", r->aliases[a]);
		l = strlen(line);
		if (r->keep_alive)
			l += (size_t)snprintf(line + l, cap - l, " keepalive=1");
		if (r->reject_reason >= 0)
			snprintf(line + l, cap - l, " reason=%d", r->reject_reason);
	}
}

/* Every line of tshark-expected.txt: the reader finds what tshark found,
 * in a frame tshark did not find malformed. */
START_TEST(test_h225_as_tshark)
{
	size_t len;
	uint8_t *raw = vector_load("h225", "tshark-expected.txt", &len);
	char *want = malloc(len + 1);
	ck_assert_ptr_nonnull(want);
	memcpy(want, raw, len);
	want[len] = '\0';
	free(raw);
	int lines = 0;
	for (char *save = NULL, *ln = strtok_r(want, "\n", &save); ln;
	     ln = strtok_r(NULL, "\n", &save)) {
		char name[128], line[2048];
		const char *sp = strchr(ln, ' ');
		ck_assert_ptr_nonnull(sp);
		snprintf(name, sizeof name, "%.*s", (int)(sp - ln), ln);
		ck_assert_msg(strstr(ln, "MALFORMED") == NULL, "%s: tshark found it malformed", name);
		size_t fl;
		uint8_t *f = load(name, &fl);
		struct h225_msg m;
		size_t at;
		int rc = h225_msg_read(f, fl, &m, text, sizeof text, &at);
		ck_assert_msg(rc == 0, "%s: %s at %zu", name, pbx_strerror(rc), at);
		summary(&m, line, sizeof line);
		ck_assert_msg(strcmp(line, sp + 1) == 0, "%s:\n reader %s\n tshark %s", name, line,
			      sp + 1);
		free(f);
		lines++;
	}
	ck_assert_int_ge(lines, 20);
	free(want);
}
END_TEST

/* ---- cut at every byte ---- */

static const char *const all_files[] = {
	"grq", "rrq", "grj-undefined", "grj-security", "rrj-undefined", "rrj-security", "setup",
	"rc-cause3", "gen-grq-standby", "gen-grq-no-gkid", "gen-grq-utf8-alias",
	"gen-grq-after-h46018", "gen-rrq-lightweight", "gen-rrq-lightweight-gkid",
	"gen-rrq-tokens", "gen-rrq-many-aliases", "gen-rrq-bundled", "gen-rrq-bundled-other",
	"gen-setup-url", "gen-setup-email", "gen-setup-digits", "gen-setup-no-dest",
};

/* Offset of the User-user IE (0x7e) in a frame: after the Q.931 header
 * and an optional empty Facility IE, or after a Setup's IEs. */
static size_t uu_ie(const uint8_t *b, size_t len)
{
	size_t i = 9;
	while (i < len && b[i] != 0x7e)
		i += 2 + b[i + 1];
	ck_assert_uint_lt(i, len);
	return i;
}

/* Each frame cut short at every byte: as it arrives (the frame is not
 * whole: malformed for the reader, need-more for the framer), and with
 * the TPKT and User-user lengths set to what is left, so that some PER
 * field runs past its window: malformed every time, never a read past
 * the copy (ASan). */
START_TEST(test_h225_truncated)
{
	size_t len;
	uint8_t *b = load(all_files[_i], &len);
	size_t uu = uu_ie(b, len);
	for (size_t k = 0; k < len; k++) {
		struct h225_msg m;
		size_t fl, at;
		uint8_t *c = dup_bytes(b, k);
		int rc = h225_tpkt_frame(c, k, &fl);
		ck_assert_msg(rc == PBX_E_NEEDMORE || (rc == 0 && fl == len), "framing at %zu", k);
		rc = h225_msg_read(c, k, &m, text, sizeof text, &at);
		ck_assert_msg(rc == PBX_E_MALFORMED, "%s: %zu octets read as a frame", all_files[_i],
			      k);
		free(c);
		if (k < 4)
			continue;
		c = dup_bytes(b, k);
		c[2] = (uint8_t)(k >> 8);
		c[3] = (uint8_t)k;
		if (k > uu + 3) {
			c[uu + 1] = (uint8_t)((k - uu - 3) >> 8);
			c[uu + 2] = (uint8_t)(k - uu - 3);
		}
		rc = h225_msg_read(c, k, &m, text, sizeof text, &at);
		/* Cut at an IE boundary before User-user, what is left is a
		 * Q.931 message without one (or a keep-alive). */
		bool ok = rc == 0 && k <= uu && !m.q931.have_uu;
		ck_assert_msg(rc == PBX_E_MALFORMED || ok, "%s cut at %zu: %s", all_files[_i], k,
			      pbx_strerror(rc));
		ck_assert_uint_le(at, k);
		free(c);
	}
	free(b);
}
END_TEST

/* ---- pitfall 1 and 2: TPKT framing ---- */

START_TEST(test_h225_tpkt)
{
	size_t n;
	/* The header cut anywhere: need more; a bad version at once. */
	ck_assert_int_eq(h225_tpkt_frame(NULL, 0, &n), PBX_E_NEEDMORE);
	ck_assert_int_eq(h225_tpkt_frame((const uint8_t *)"\x03", 1, &n), PBX_E_NEEDMORE);
	ck_assert_int_eq(h225_tpkt_frame((const uint8_t *)"\x03\x00\x00", 3, &n), PBX_E_NEEDMORE);
	ck_assert_int_eq(h225_tpkt_frame((const uint8_t *)"G", 1, &n), PBX_E_MALFORMED);
	ck_assert_int_eq(h225_tpkt_frame((const uint8_t *)"\x02\x00\x00\x08", 4, &n),
			 PBX_E_MALFORMED);
	/* Lengths 0-3 are invalid. */
	for (uint8_t l = 0; l < 4; l++) {
		uint8_t h[4] = { 3, 0, 0, l };
		ck_assert_int_eq(h225_tpkt_frame(h, 4, &n), PBX_E_MALFORMED);
	}
	/* The keep-alive; a non-zero reserved octet is tolerated. */
	ck_assert_int_eq(h225_tpkt_frame((const uint8_t *)"\x03\x00\x00\x04", 4, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(h225_tpkt_frame((const uint8_t *)"\x03\x7f\xff\xff", 4, &n), 0);
	ck_assert_uint_eq(n, 65535);
	/* Tandberg's 00 03 00 04 is not TPKT: refused, not passed. */
	ck_assert_int_eq(h225_tpkt_frame((const uint8_t *)"\x00\x03\x00\x04", 4, &n),
			 PBX_E_MALFORMED);

	/* Several frames in one read: the first one's length, whatever
	 * follows; the reader takes exactly one frame. */
	size_t g, r;
	uint8_t *grq = load("grq", &g), *rrq = load("rrq", &r);
	uint8_t both[512];
	memcpy(both, "\x03\x00\x00\x04", 4);
	memcpy(both + 4, grq, g);
	memcpy(both + 4 + g, rrq, r);
	ck_assert_int_eq(h225_tpkt_frame(both, 4 + g + r, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(h225_tpkt_frame(both + 4, g + r, &n), 0);
	ck_assert_uint_eq(n, g);
	struct h225_msg m;
	size_t at;
	ck_assert_int_eq(h225_msg_read(both + 4, g + r, &m, text, sizeof text, &at),
			 PBX_E_MALFORMED);
	ck_assert_int_eq(read_msg(both, 4, &m, NULL), 0);
	ck_assert(m.keep_alive);
	ck_assert_int_eq(m.body, H225_BODY_NONE);
	free(grq);
	free(rrq);
}
END_TEST

/* ---- pitfall 4: Q.931 ---- */

/* Read from a copy of exactly n octets, kept until the next call (q->uu
 * points into it). */
static int q931(const char *octets, size_t n, struct h225_q931 *q, size_t *at)
{
	static uint8_t *c;
	free(c);
	c = dup_bytes((const uint8_t *)octets, n);
	return h225_q931_read(c, n, q, at);
}

START_TEST(test_h225_q931)
{
	struct h225_q931 q;
	size_t at;

	/* Minimal: no IEs. */
	ck_assert_int_eq(q931("\x08\x02\x80\x05\x07", 5, &q, &at), 0);
	ck_assert_uint_eq(q.type, 0x07);
	ck_assert_uint_eq(q.cref, 5);
	ck_assert(q.cref_flag);
	ck_assert(!q.have_uu);
	/* Another discriminator, call reference length, a type with bit 8. */
	ck_assert_int_eq(q931("\x09\x02\x00\x05\x07", 5, &q, &at), PBX_E_MALFORMED);
	ck_assert_uint_eq(at, 0);
	ck_assert_int_eq(q931("\x08\x01\x05\x07", 4, &q, &at), PBX_E_MALFORMED);
	ck_assert_uint_eq(at, 1);
	ck_assert_int_eq(q931("\x08\x02\x00\x05\x87", 5, &q, &at), PBX_E_MALFORMED);
	ck_assert_uint_eq(at, 4);
	ck_assert_int_eq(q931("\x08\x02\x00", 3, &q, &at), PBX_E_MALFORMED);
	/* IEs skipped by their one-octet lengths, User-user by two. */
	ck_assert_int_eq(q931("\x08\x02\x00\x01\x62\x1c\x00\x28\x02hi\xa1\x7e\x00\x03\x05\xab\xcd",
			      18, &q, &at), 0);
	ck_assert(q.have_uu);
	ck_assert_uint_eq(q.uu_len, 2);
	ck_assert_uint_eq(q.uu_at, 16);
	ck_assert_uint_eq(q.uu[0], 0xab);
	/* An IE running past the end. */
	ck_assert_int_eq(q931("\x08\x02\x00\x01\x62\x28\x05hi", 9, &q, &at), PBX_E_MALFORMED);
	ck_assert_uint_eq(at, 5);
	ck_assert_int_eq(q931("\x08\x02\x00\x01\x62\x7e\x00\x04\x05\x00\x00", 11, &q, &at),
			 PBX_E_MALFORMED);
	ck_assert_int_eq(q931("\x08\x02\x00\x01\x62\x7e\x00", 7, &q, &at), PBX_E_MALFORMED);
	/* A second User-user IE could be read one way here, another there. */
	ck_assert_int_eq(q931("\x08\x02\x00\x01\x62\x7e\x00\x02\x05\x00\x7e\x00\x02\x05\x00", 15,
			      &q, &at), PBX_E_MALFORMED);
	ck_assert_uint_eq(at, 10);
	/* Another user protocol discriminator: no H.225.0 in it. */
	ck_assert_int_eq(q931("\x08\x02\x00\x01\x62\x7e\x00\x02\x04\x00", 10, &q, &at), 0);
	ck_assert(!q.have_uu);
	ck_assert_int_eq(q931("\x08\x02\x00\x01\x62\x7e\x00\x00", 8, &q, &at), 0);
	ck_assert(!q.have_uu);
	/* After a shift to codeset 6, 0x7e is another IE with one octet of
	 * length; a non-locking shift covers one IE, a locking one all. */
	ck_assert_int_eq(q931("\x08\x02\x00\x01\x62\x9e\x7e\x01\x05\x7e\x00\x02\x05\x11", 14, &q,
			      &at), 0);
	ck_assert(q.have_uu);
	ck_assert_uint_eq(q.uu[0], 0x11);
	ck_assert_int_eq(q931("\x08\x02\x00\x01\x62\x96\x7e\x01\x05\x7e\x01\x05", 12, &q, &at), 0);
	ck_assert(!q.have_uu);
	/* The Cause IE, with and without octet 3a. */
	ck_assert_int_eq(q931("\x08\x02\x81\x01\x5a\x08\x02\x80\x83", 9, &q, &at), 0);
	ck_assert(q.have_cause);
	ck_assert_uint_eq(q.cause, 3);
	ck_assert_int_eq(q931("\x08\x02\x81\x01\x5a\x08\x03\x00\x80\x90", 10, &q, &at), 0);
	ck_assert_uint_eq(q.cause, 16);
}
END_TEST

/* ---- the RAS messages ---- */

START_TEST(test_h225_grq_rrq)
{
	size_t len;
	struct h225_msg m;
	uint8_t *b = load("grq", &len);
	ck_assert_int_eq(read_msg(b, len, &m, NULL), 0);
	ck_assert_uint_eq(m.q931.type, H225_Q931_FACILITY);
	ck_assert_uint_eq(m.q931.cref, 0);
	ck_assert_int_eq(m.body, H225_BODY_EMPTY);
	ck_assert_uint_eq(m.n_ras, 1);
	ck_assert_int_eq(m.ras[0].type, H225_RAS_GRQ);
	ck_assert_uint_eq(m.ras[0].at, 0x21);
	ck_assert_uint_eq(m.ras[0].seq, 1);
	ck_assert_int_eq(m.ras[0].gkid_state, H225_GKID_OK);
	ck_assert_span(m.ras[0].gkid, "innovaphone.com");
	ck_assert_span(m.ras[0].name, "innovaphone.com");
	ck_assert_uint_eq(m.ras[0].standby.len, 0);
	ck_assert_uint_eq(m.ras[0].n_aliases, 1);
	ck_assert_span(m.ras[0].aliases[0], "alice");
	ck_assert(!m.ras[0].tokens && !m.ras[0].keep_alive);
	ck_assert_int_eq(m.ras[0].reject_reason, -1);
	free(b);

	/* Pitfall 14: the RRQ advertises feature 17 in its own featureSet;
	 * that is no second RAS message. */
	b = load("rrq", &len);
	ck_assert_int_eq(read_msg(b, len, &m, NULL), 0);
	ck_assert_uint_eq(m.n_ras, 1);
	ck_assert_int_eq(m.ras[0].type, H225_RAS_RRQ);
	ck_assert_uint_eq(m.ras[0].at, 0x25);
	ck_assert_uint_eq(m.ras[0].seq, 2);
	ck_assert_span(m.ras[0].name, "innovaphone.com/branch");
	ck_assert_span(m.ras[0].aliases[0], "alice");
	ck_assert(!m.ras[0].keep_alive);
	free(b);

	b = load("gen-rrq-lightweight", &len);
	ck_assert_int_eq(read_msg(b, len, &m, NULL), 0);
	ck_assert_int_eq(m.ras[0].gkid_state, H225_GKID_ABSENT);
	ck_assert_uint_eq(m.ras[0].n_aliases, 0);
	ck_assert(m.ras[0].keep_alive && m.ras[0].tokens);
	free(b);

	/* Past H225_ALIASES_MAX: counted, not kept. */
	b = load("gen-rrq-many-aliases", &len);
	ck_assert_int_eq(read_msg(b, len, &m, NULL), 0);
	ck_assert_uint_eq(m.ras[0].n_aliases, H225_ALIASES_MAX);
	ck_assert_uint_eq(m.ras[0].more_aliases, 2);
	ck_assert_span(m.ras[0].aliases[7], "a7");
	free(b);

	/* UTF-16 aliases come out as UTF-8. */
	b = load("gen-grq-utf8-alias", &len);
	ck_assert_int_eq(read_msg(b, len, &m, NULL), 0);
	ck_assert_span(m.ras[0].aliases[0], "J\xc3\xbcrgen\xe2\x82\xac");
	free(b);
}
END_TEST

START_TEST(test_h225_rejects)
{
	static const struct {
		const char *file;
		int type, reason;
		uint16_t seq;
	} cases[] = {
		{ "grj-undefined", H225_RAS_GRJ, H225_GRJ_UNDEFINED, 1 },
		{ "grj-security", H225_RAS_GRJ, H225_GRJ_SECURITY_DENIAL, 1 },
		{ "rrj-undefined", H225_RAS_RRJ, H225_RRJ_UNDEFINED, 2 },
		{ "rrj-security", H225_RAS_RRJ, H225_RRJ_SECURITY_DENIAL, 2 },
	};
	for (int i = 0; i < N(cases); i++) {
		size_t len;
		struct h225_msg m;
		uint8_t *b = load(cases[i].file, &len);
		ck_assert_int_eq(read_msg(b, len, &m, NULL), 0);
		ck_assert_uint_eq(m.n_ras, 1);
		ck_assert_int_eq(m.ras[0].type, cases[i].type);
		ck_assert_int_eq(m.ras[0].reject_reason, cases[i].reason);
		ck_assert_uint_eq(m.ras[0].seq, cases[i].seq);
		free(b);
	}
}
END_TEST

START_TEST(test_h225_setup)
{
	size_t len;
	struct h225_msg m;
	uint8_t *b = load("setup", &len);
	ck_assert_int_eq(read_msg(b, len, &m, NULL), 0);
	ck_assert_uint_eq(m.q931.type, H225_Q931_SETUP);
	ck_assert_uint_eq(m.q931.cref, 257);
	ck_assert(!m.q931.cref_flag);
	ck_assert_int_eq(m.body, H225_BODY_SETUP);
	ck_assert(m.have_dest_list);
	ck_assert_span(m.dest, "bob@example.org");
	ck_assert_span(m.dest_domain, "example.org");
	ck_assert_uint_eq(m.n_ras, 0);
	free(b);

	/* dialledDigits and an h323-ID without '@' before the url-ID. */
	b = load("gen-setup-url", &len);
	ck_assert_int_eq(read_msg(b, len, &m, NULL), 0);
	ck_assert_span(m.dest, "h323:bob@Example.ORG:1720");
	ck_assert_span(m.dest_domain, "example.org");
	free(b);
	b = load("gen-setup-email", &len);
	ck_assert_int_eq(read_msg(b, len, &m, NULL), 0);
	ck_assert_span(m.dest_domain, "mail.example.net");
	free(b);
	/* "bob@" has no domain. */
	b = load("gen-setup-digits", &len);
	ck_assert_int_eq(read_msg(b, len, &m, NULL), 0);
	ck_assert(m.have_dest_list);
	ck_assert_uint_eq(m.dest.len, 0);
	free(b);
	b = load("gen-setup-no-dest", &len);
	ck_assert_int_eq(read_msg(b, len, &m, NULL), 0);
	ck_assert(!m.have_dest_list);
	free(b);

	/* The reader's answer: a RELEASE COMPLETE, with its cause. */
	b = load("rc-cause3", &len);
	ck_assert_int_eq(read_msg(b, len, &m, NULL), 0);
	ck_assert_int_eq(m.body, H225_BODY_RELEASE_COMPLETE);
	ck_assert(m.q931.cref_flag && m.q931.have_cause);
	ck_assert_uint_eq(m.q931.cause, H225_CAUSE_NO_ROUTE);
	free(b);
}
END_TEST

/* ---- pitfalls 5 to 8, 12, 13: the PER walk ---- */

/* A FACILITY with one GRQ for gkid, wrapped as w says. */
static size_t grq_frame(uint8_t *out, size_t cap, const struct fr_ras *o, const struct fr_wrap *w)
{
	uint8_t ras[1024];
	size_t rl = fr_ras_grq(ras, sizeof ras, o);
	const uint8_t *r = ras;
	return fr_h46017(out, cap, &r, &rl, 1, w);
}

START_TEST(test_h225_wrapper_variants)
{
	const struct fr_alias gk = { FR_H323_ID, "example.com", NULL, 0 };
	const struct fr_ras o = { .seq = 5, .gkid = &gk, .aliases = &fr_alice, .n_aliases = 1 };
	uint8_t f[2048];
	struct h225_msg m;

	/* Every combination of the wrapper's variants reads the same GRQ:
	 * the empty Facility IE, no h245Tunnelling, an H.460.18 entry first
	 * (the H.460.17 one starts mid-octet), a longer bitmap. */
	for (unsigned bits = 0; bits < 16; bits++) {
		const struct fr_wrap w = { .facility_ie = bits & 1, .no_tunnelling = bits & 2,
					   .other_first = bits & 4, .long_bitmap = bits & 8 };
		size_t n = grq_frame(f, sizeof f, &o, &w);
		ck_assert_uint_gt(n, 0);
		ck_assert_int_eq(read_msg(f, n, &m, NULL), 0);
		ck_assert_uint_eq(m.n_ras, 1);
		ck_assert_span(m.ras[0].name, "example.com");
		ck_assert_uint_eq(m.ras[0].seq, 5);
	}

	/* A bitmap of two additions (an older sender): no genericData. */
	static const uint8_t uu[] = { 0x28, 0x10, 0x01, 0x00, 0x00, 0x80, 0x01, 0x80 };
	size_t n = fr_frame(f, sizeof f, 0, false, 0x62, NULL, 0, uu, sizeof uu);
	ck_assert_int_eq(read_msg(f, n, &m, NULL), 0);
	ck_assert_int_eq(m.body, H225_BODY_EMPTY);
	ck_assert_uint_eq(m.n_ras, 0);
}
END_TEST

/* Pitfall 7: a fragmented length (11xxxxxx) is refused, not guessed. */
START_TEST(test_h225_fragmented_length)
{
	size_t len, at;
	struct h225_msg m;
	uint8_t *b = load("grq", &len);
	ck_assert_uint_eq(b[0x15], 0x4b);       /* the genericData open type */
	b[0x15] = 0xc1;
	ck_assert_int_eq(read_msg(b, len, &m, &at), PBX_E_TOOLONG);
	ck_assert_uint_eq(at, 0x15);
	free(b);
	b = load("rrq", &len);
	ck_assert_uint_eq(b[0x23], 0x80);       /* the raw RAS octets: 80 9d */
	b[0x23] = 0xc0;
	ck_assert_int_eq(read_msg(b, len, &m, &at), PBX_E_TOOLONG);
	free(b);
}
END_TEST

/* Pitfall 8: a length past its window is malformed, whatever window:
 * the gatekeeperIdentifier, an alias, the raw octets, the open type. */
START_TEST(test_h225_overruns)
{
	static const struct {
		size_t at;
		uint8_t was, now;
	} cases[] = {
		{ 0x34, 0x03, 0x04 },   /* gatekeeperIdentifier 15 -> 16 characters (7-bit) */
		{ 0x56, 0x04, 0x05 },   /* h323-ID 5 -> 6 characters */
		{ 0x54, 0x01, 0x03 },   /* endpointAlias: 3 elements */
		{ 0x20, 0x40, 0x41 },   /* raw RAS 64 -> 65 octets */
		{ 0x15, 0x4b, 0x4c },   /* genericData open type */
		{ 0x16, 0x01, 0x02 },   /* genericData: 2 elements */
	};
	size_t len, at;
	uint8_t *b = load("grq", &len);
	for (int i = 0; i < N(cases); i++) {
		struct h225_msg m;
		uint8_t *c = dup_bytes(b, len);
		ck_assert_uint_eq(c[cases[i].at], cases[i].was);
		c[cases[i].at] = cases[i].now;
		int rc = read_msg(c, len, &m, &at);
		ck_assert_msg(rc == PBX_E_MALFORMED, "case %d: %s", i, pbx_strerror(rc));
		ck_assert_uint_le(at, len);
		free(c);
	}
	/* TransportAddress index 7 does not exist (7 root alternatives). */
	uint8_t *c = dup_bytes(b, len);
	c[0x2c] = 0x70;
	struct h225_msg m;
	ck_assert_int_eq(read_msg(c, len, &m, &at), PBX_E_MALFORMED);
	ck_assert_uint_eq(at, 0x2c);
	free(c);
	free(b);
}
END_TEST

/* A GenericData nesting Content.nested depth times, then the H.460.17
 * GRQ: past H225_DEPTH_MAX the walk stops. */
static size_t nested_frame(uint8_t *out, size_t cap, unsigned depth)
{
	uint8_t gd[2048], uu[4096], ras[512];
	struct fr_bits g, b;
	const struct fr_alias gk = { FR_H323_ID, "example.com", NULL, 0 };
	const struct fr_ras o = { .seq = 1, .gkid = &gk };
	size_t rl = fr_ras_grq(ras, sizeof ras, &o);

	fr_init(&g, gd, sizeof gd);
	fr_len(&g, 2);
	for (unsigned i = 0; i < depth; i++) {
		/* GenericData id 99 with one parameter id 1 whose content is
		 * nested (index 11) with one GenericData. */
		fr_put(&g, 6, 0x10);
		fr_align(&g);
		fr_put(&g, 16, 99);
		fr_put(&g, 16, 0);
		fr_put(&g, 6, 0x10);
		fr_align(&g);
		fr_put(&g, 16, 1);
		fr_put(&g, 5, 11);
		fr_put(&g, 4, 0);
	}
	/* The innermost: no parameters. */
	fr_put(&g, 6, 0x00);
	fr_align(&g);
	fr_put(&g, 16, 98);
	fr_put(&g, 6, 0x10);
	fr_align(&g);
	fr_put(&g, 16, 17);
	fr_put(&g, 16, 0);
	fr_put(&g, 6, 0x10);
	fr_align(&g);
	fr_put(&g, 16, 1);
	fr_put(&g, 5, 0);
	fr_open(&g, ras, rl);
	size_t gl = fr_end(&g);
	fr_init(&b, uu, sizeof uu);
	fr_put(&b, 5, 0x05);
	fr_put(&b, 7, 1);
	fr_open(&b, (const uint8_t *)"", 1);
	fr_put(&b, 7, 8);
	fr_put(&b, 9, 0x001);
	fr_open(&b, gd, gl);
	size_t ul = fr_end(&b);
	return fr_frame(out, cap, 0, false, 0x62, NULL, 0, uu, ul);
}

START_TEST(test_h225_nesting)
{
	uint8_t f[4096];
	struct h225_msg m;
	size_t n = nested_frame(f, sizeof f, H225_DEPTH_MAX);
	ck_assert_int_eq(read_msg(f, n, &m, NULL), 0);
	ck_assert_uint_eq(m.n_ras, 1);
	ck_assert_span(m.ras[0].name, "example.com");
	n = nested_frame(f, sizeof f, H225_DEPTH_MAX + 1);
	ck_assert_int_eq(read_msg(f, n, &m, NULL), PBX_E_TOOLONG);
	n = nested_frame(f, sizeof f, 40);
	ck_assert_int_eq(read_msg(f, n, &m, NULL), PBX_E_TOOLONG);
}
END_TEST

/* Pitfall 13: every RAS message of a frame, up to H225_RAS_MAX. */
START_TEST(test_h225_bundled)
{
	size_t len;
	struct h225_msg m;
	uint8_t *b = load("gen-rrq-bundled", &len);
	ck_assert_int_eq(read_msg(b, len, &m, NULL), 0);
	ck_assert_uint_eq(m.n_ras, 2);
	ck_assert_span(m.ras[0].name, "innovaphone.com/branch");
	ck_assert_span(m.ras[1].name, "innovaphone.com/branch");
	ck_assert_span(m.ras[1].aliases[0], "bob");
	ck_assert_uint_eq(m.ras[1].seq, 21);
	free(b);

	uint8_t ras[5][256], f[4096];
	const uint8_t *r[5];
	size_t rl[5];
	const struct fr_alias gk = { FR_H323_ID, "example.com", NULL, 0 };
	for (int i = 0; i < 5; i++) {
		const struct fr_ras o = { .seq = (uint16_t)(i + 1), .gkid = &gk };
		rl[i] = fr_ras_rrq(ras[i], sizeof ras[i], &o);
		r[i] = ras[i];
	}
	for (int bundle = 0; bundle < 2; bundle++) {
		const struct fr_wrap w = { .bundle = bundle };
		size_t n = fr_h46017(f, sizeof f, r, rl, H225_RAS_MAX, &w);
		ck_assert_int_eq(read_msg(f, n, &m, NULL), 0);
		ck_assert_uint_eq(m.n_ras, H225_RAS_MAX);
		ck_assert_uint_eq(m.ras[H225_RAS_MAX - 1].seq, H225_RAS_MAX);
		n = fr_h46017(f, sizeof f, r, rl, 5, &w);
		ck_assert_int_eq(read_msg(f, n, &m, NULL), PBX_E_TOOLONG);
	}
}
END_TEST

/* Pitfall 10 and 12: BMPStrings, optional fields. */
START_TEST(test_h225_strings)
{
	uint8_t f[2048];
	struct h225_msg m;
	const struct fr_wrap w = { 0 };

	/* A gatekeeper identifier that is not printable ASCII: BAD. */
	static const uint16_t umlaut[] = { 'm', 0xfc, 'n', '.', 'd', 'e' };
	static const uint16_t nul[] = { 'a', 0, 'b' };
	const struct fr_alias bad_ids[] = { { FR_H323_ID, NULL, umlaut, 6 },
					    { FR_H323_ID, NULL, nul, 3 },
					    { FR_H323_ID, "a b.com", NULL, 0 },
					    { FR_H323_ID, "example.com/", NULL, 0 },
					    { FR_H323_ID, "@example.com", NULL, 0 } };
	for (int i = 0; i < N(bad_ids); i++) {
		const struct fr_ras o = { .seq = 1, .gkid = &bad_ids[i] };
		size_t n = grq_frame(f, sizeof f, &o, &w);
		ck_assert_int_eq(read_msg(f, n, &m, NULL), 0);
		ck_assert_int_eq(m.ras[0].gkid_state, H225_GKID_BAD);
		ck_assert_uint_eq(m.ras[0].name.len, 0);
	}
	/* An h323-ID of a registration that is not text: the frame is
	 * refused (no alias is dropped silently). */
	static const uint16_t ctl[] = { 'a', 0x1b, 'b' };
	static const uint16_t sur[] = { 0xd83d, 0xde00 };
	static const uint16_t nonchar[] = { 0xffff };
	const struct fr_alias bad_aliases[] = { { FR_H323_ID, NULL, ctl, 3 },
						{ FR_H323_ID, NULL, sur, 2 },
						{ FR_H323_ID, NULL, nonchar, 1 },
						{ FR_H323_ID, NULL, nul, 3 } };
	const struct fr_alias gk = { FR_H323_ID, "example.com", NULL, 0 };
	for (int i = 0; i < N(bad_aliases); i++) {
		const struct fr_ras o = { .seq = 1, .gkid = &gk, .aliases = &bad_aliases[i],
					  .n_aliases = 1 };
		size_t n = grq_frame(f, sizeof f, &o, &w);
		ck_assert_int_eq(read_msg(f, n, &m, NULL), PBX_E_INVALID);
	}
	/* Other alias kinds are not h323-IDs and not checked. */
	const struct fr_alias others[] = { fr_digits, { FR_URL_ID, "h323:x@y", NULL, 0 },
					   { FR_EMAIL_ID, "a@b", NULL, 0 } };
	const struct fr_ras o = { .seq = 1, .gkid = &gk, .aliases = others, .n_aliases = 3 };
	size_t n = grq_frame(f, sizeof f, &o, &w);
	ck_assert_int_eq(read_msg(f, n, &m, NULL), 0);
	ck_assert_uint_eq(m.ras[0].n_aliases, 0);

	/* The longest identifier (128 characters) and alias (256). */
	char longest[257];
	memset(longest, 'x', 256);
	longest[256] = '\0';
	memcpy(longest + 120, ".example", 8);
	const struct fr_alias big = { FR_H323_ID, longest, NULL, 0 };
	char id128[129];
	memcpy(id128, longest, 128);
	id128[128] = '\0';
	const struct fr_alias gk128 = { FR_H323_ID, id128, NULL, 0 };
	const struct fr_ras ob = { .seq = 1, .gkid = &gk128, .aliases = &big, .n_aliases = 1 };
	n = grq_frame(f, sizeof f, &ob, &w);
	ck_assert_int_eq(read_msg(f, n, &m, NULL), 0);
	ck_assert_uint_eq(m.ras[0].gkid.len, 128);
	ck_assert_uint_eq(m.ras[0].aliases[0].len, 256);
	/* The text buffer too small for them: no space, no overrun. */
	for (size_t cap = 0; cap < 128 * 2 + 256; cap += 17) {
		size_t at;
		char *small = malloc(cap ? cap : 1);
		uint8_t *c = dup_bytes(f, n);
		ck_assert_int_eq(h225_msg_read(c, n, &m, cap ? small : NULL, cap, &at),
				 PBX_E_NOSPACE);
		free(c);
		free(small);
	}

	/* Pitfall 14: an alias spelling a domain is not the identifier. */
	const struct fr_alias dom = { FR_H323_ID, "innovaphone.com", NULL, 0 };
	const struct fr_alias other = { FR_H323_ID, "other.example", NULL, 0 };
	const struct fr_ras od = { .seq = 1, .gkid = &other, .aliases = &dom, .n_aliases = 1 };
	n = grq_frame(f, sizeof f, &od, &w);
	ck_assert_int_eq(read_msg(f, n, &m, NULL), 0);
	ck_assert_span(m.ras[0].name, "other.example");
}
END_TEST

/* ---- names (pitfall 11) ---- */

START_TEST(test_h225_gkid_service)
{
	static const struct {
		const char *gkid, *name, *standby; /* name NULL: malformed */
	} cases[] = {
		/* The reference's table. */
		{ "innovaphone.com", "innovaphone.com", "" },
		{ "hq@innovaphone.com", "innovaphone.com", "" },
		{ "innovaphone.com/branch", "innovaphone.com/branch", "" },
		{ "hq@innovaphone.com/branch", "innovaphone.com/branch", "" },
		{ "innovaphone.com/hq:hq-standby", "innovaphone.com/hq", "innovaphone.com/hq-standby" },
		{ "Vienna@InnovaPhone.COM/HQ:HQ-Standby", "innovaphone.com/hq",
		  "innovaphone.com/hq-standby" },
		{ "CORP.Example.com", "corp.example.com", "" },
		{ "a@b@example.com", "example.com", "" },
		/* Empty parts and extra separators are refused. */
		{ "", NULL, NULL },
		{ "innovaphone.com/", NULL, NULL },
		{ "/x", NULL, NULL },
		{ "a@", NULL, NULL },
		{ "@innovaphone.com", NULL, NULL },
		{ "innovaphone.com/hq:", NULL, NULL },
		{ "innovaphone.com/:sb", NULL, NULL },
		{ "innovaphone.com/a/b", NULL, NULL },
		{ "innovaphone.com/a:b:c", NULL, NULL },
		{ "innovaphone.com:1720", NULL, NULL },
		{ "innovaphone.com/a@b", NULL, NULL },
		{ "innova phone.com", NULL, NULL },
		{ "innovaphone.com\t", NULL, NULL },
		{ "x:y@innovaphone.com", NULL, NULL },
	};
	for (int i = 0; i < N(cases); i++) {
		char buf[512];
		struct pbx_span name, standby;
		int rc = h225_gkid_service(pbx_span_cstr(cases[i].gkid), buf, sizeof buf, &name,
					   &standby);
		if (!cases[i].name) {
			ck_assert_msg(rc == PBX_E_MALFORMED, "'%s' accepted", cases[i].gkid);
			ck_assert_uint_eq(name.len + standby.len, 0);
			continue;
		}
		ck_assert_msg(rc == 0, "'%s': %s", cases[i].gkid, pbx_strerror(rc));
		ck_assert_span(name, cases[i].name);
		ck_assert_span(standby, cases[i].standby);
	}
	/* Exactly the room needed, and one octet less. */
	char buf[64];
	struct pbx_span name, standby;
	struct pbx_span g = pbx_span_cstr("a.b/c:d");
	ck_assert_int_eq(h225_gkid_service(g, buf, 10, &name, &standby), 0);
	ck_assert_int_eq(h225_gkid_service(g, buf, 9, &name, &standby), PBX_E_NOSPACE);
	ck_assert_uint_eq(name.len, 0);
	ck_assert_int_eq(h225_gkid_service(g, NULL, 0, &name, &standby), PBX_E_NOSPACE);
}
END_TEST

START_TEST(test_h225_alias_domain)
{
	static const struct {
		const char *alias, *domain;
	} cases[] = {
		{ "bob@example.org", "example.org" },
		{ "bob@Example.ORG", "example.org" },
		{ "h323:bob@example.org", "example.org" },
		{ "sip:bob@example.org;transport=tcp", "example.org" },
		{ "bob@example.org:1720", "example.org" },
		{ "a@b@example.org", "example.org" },
		{ "bob", NULL },
		{ "bob@", NULL },
		{ "@example.org", NULL },
		{ "bob@:1720", NULL },
		{ "bob@exa mple.org", NULL },
		{ "bob@example.org/x", NULL },
		{ "bob@\xc3\xa9.org", NULL },
	};
	for (int i = 0; i < N(cases); i++) {
		char buf[64];
		struct pbx_span d;
		int rc = h225_alias_domain(pbx_span_cstr(cases[i].alias), buf, sizeof buf, &d);
		if (!cases[i].domain) {
			ck_assert_msg(rc == PBX_E_MALFORMED, "'%s' accepted", cases[i].alias);
			continue;
		}
		ck_assert_int_eq(rc, 0);
		ck_assert_span(d, cases[i].domain);
	}
	char buf[4];
	struct pbx_span d;
	ck_assert_int_eq(h225_alias_domain(pbx_span_cstr("a@b.cd"), buf, 4, &d), 0);
	ck_assert_int_eq(h225_alias_domain(pbx_span_cstr("a@b.cde"), buf, 4, &d), PBX_E_NOSPACE);
}
END_TEST

/* ---- writers ---- */

static void same_as_file(const uint8_t *out, size_t n, const char *file)
{
	size_t len;
	uint8_t *b = load(file, &len);
	ck_assert_msg(n == len && memcmp(out, b, n) == 0, "%s: written frame differs", file);
	free(b);
}

START_TEST(test_h225_write)
{
	uint8_t out[256];
	struct pbx_writer w;

	/* The reference's frames, octet for octet. */
	pbx_writer_init(&w, out, sizeof out);
	ck_assert_int_eq(h225_write_ras_reject(&w, H225_RAS_GRQ, 1, H225_GRJ_UNDEFINED), 0);
	same_as_file(out, pbx_writer_len(&w), "grj-undefined");
	pbx_writer_init(&w, out, sizeof out);
	ck_assert_int_eq(h225_write_ras_reject(&w, H225_RAS_GRQ, 1, H225_GRJ_SECURITY_DENIAL), 0);
	same_as_file(out, pbx_writer_len(&w), "grj-security");
	pbx_writer_init(&w, out, sizeof out);
	ck_assert_int_eq(h225_write_ras_reject(&w, H225_RAS_RRQ, 2, H225_RRJ_UNDEFINED), 0);
	same_as_file(out, pbx_writer_len(&w), "rrj-undefined");
	pbx_writer_init(&w, out, sizeof out);
	ck_assert_int_eq(h225_write_ras_reject(&w, H225_RAS_RRQ, 2, H225_RRJ_SECURITY_DENIAL), 0);
	same_as_file(out, pbx_writer_len(&w), "rrj-security");
	pbx_writer_init(&w, out, sizeof out);
	ck_assert_int_eq(h225_write_release_complete(&w, 257, true, H225_CAUSE_NO_ROUTE), 0);
	same_as_file(out, pbx_writer_len(&w), "rc-cause3");

	/* Every NULL reason reads back as written. */
	for (int req = 0; req < 2; req++) {
		int type = req ? H225_RAS_RRQ : H225_RAS_GRQ;
		for (int reason = 0; reason < 20; reason++) {
			pbx_writer_init(&w, out, sizeof out);
			int rc = h225_write_ras_reject(&w, type, 0xbeef, reason);
			bool null_alt = req ? reason <= 18 && reason != 4 && reason != 14 &&
						      reason != 17
					    : reason <= 6;
			if (!null_alt) {
				ck_assert_int_eq(rc, PBX_E_INVALID);
				ck_assert_uint_eq(pbx_writer_len(&w), 0);
				continue;
			}
			ck_assert_int_eq(rc, 0);
			struct h225_msg m;
			ck_assert_int_eq(read_msg(out, pbx_writer_len(&w), &m, NULL), 0);
			ck_assert_uint_eq(m.n_ras, 1);
			ck_assert_int_eq(m.ras[0].type, req ? H225_RAS_RRJ : H225_RAS_GRJ);
			ck_assert_int_eq(m.ras[0].reject_reason, reason);
			ck_assert_uint_eq(m.ras[0].seq, 0xbeef);
		}
	}
	pbx_writer_init(&w, out, sizeof out);
	ck_assert_int_eq(h225_write_ras_reject(&w, H225_RAS_GRJ, 1, 3), PBX_E_INVALID);
	ck_assert_int_eq(h225_write_ras_reject(&w, H225_RAS_GRQ, 0, 3), PBX_E_INVALID);
	ck_assert_int_eq(h225_write_release_complete(&w, 0x8000, true, 3), PBX_E_INVALID);
	ck_assert_int_eq(h225_write_release_complete(&w, 1, true, 128), PBX_E_INVALID);
	ck_assert_uint_eq(pbx_writer_len(&w), 0);

	/* Too small a writer: nothing at all. */
	for (size_t cap = 0; cap < 45; cap++) {
		uint8_t *small = malloc(cap ? cap : 1);
		pbx_writer_init(&w, small, cap);
		ck_assert_int_eq(h225_write_ras_reject(&w, H225_RAS_GRQ, 1, 3), PBX_E_NOSPACE);
		ck_assert_uint_eq(pbx_writer_len(&w), 0);
		pbx_writer_init(&w, small, cap);
		if (cap < 26) {
			ck_assert_int_eq(h225_write_release_complete(&w, 1, true, 3), PBX_E_NOSPACE);
			ck_assert_uint_eq(pbx_writer_len(&w), 0);
		}
		free(small);
	}
	/* Call references and causes read back. */
	for (uint32_t cref = 0; cref <= 0x7fff; cref += 0x1111) {
		pbx_writer_init(&w, out, sizeof out);
		ck_assert_int_eq(h225_write_release_complete(&w, (uint16_t)cref, cref & 1, 127), 0);
		struct h225_msg m;
		ck_assert_int_eq(read_msg(out, pbx_writer_len(&w), &m, NULL), 0);
		ck_assert_uint_eq(m.q931.cref, cref);
		ck_assert_int_eq(m.q931.cref_flag, cref & 1);
		ck_assert_uint_eq(m.q931.cause, 127);
	}
}
END_TEST

static Suite *h225_suite(void)
{
	Suite *s = suite_create("h225");
	TCase *tc = tcase_create("vectors");
	tcase_add_loop_test(tc, test_h225_vectors_encoder, 0, N(fr_vectors));
	tcase_add_test(tc, test_h225_as_tshark);
	tcase_add_loop_test(tc, test_h225_truncated, 0, N(all_files));
	suite_add_tcase(s, tc);

	tc = tcase_create("reader");
	tcase_add_test(tc, test_h225_tpkt);
	tcase_add_test(tc, test_h225_q931);
	tcase_add_test(tc, test_h225_grq_rrq);
	tcase_add_test(tc, test_h225_rejects);
	tcase_add_test(tc, test_h225_setup);
	tcase_add_test(tc, test_h225_wrapper_variants);
	tcase_add_test(tc, test_h225_fragmented_length);
	tcase_add_test(tc, test_h225_overruns);
	tcase_add_test(tc, test_h225_nesting);
	tcase_add_test(tc, test_h225_bundled);
	tcase_add_test(tc, test_h225_strings);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_test(tc, test_h225_gkid_service);
	tcase_add_test(tc, test_h225_alias_domain);
	suite_add_tcase(s, tc);

	tc = tcase_create("write");
	tcase_add_test(tc, test_h225_write);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(h225_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
