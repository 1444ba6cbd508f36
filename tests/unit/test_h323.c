/* test_h323.c - unit tests for the H.323 inspector of lib/inspect/h225.c:
 * request, reply and refuse through inspect_harness.h (every frame whole,
 * byte by byte and split at every offset) over the frames of
 * tests/vectors/h225/, keep-alives and coalesced frames as one stream,
 * the routing decisions for first and later messages, and the refusals
 * read back (their exact octets are the ones tshark decoded). */
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
#include <pbxedge/inspect.h>

#include "h225_frames.h"
#include "inspect_harness.h"
#include "vectors.h"
#include "span_check.h"

#define MAX_HEAD 16384
#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define RQ PBX_VF_REQUEST

static const struct pbx_inspector *h323(void)
{
	const struct pbx_inspector *in = pbx_inspector_for(STORE_FAMILY_H323);
	ck_assert_ptr_nonnull(in);
	return in;
}

/* tests/vectors/h225/NAME.bin (see vectors.h). */
static uint8_t *load(const char *name, size_t *len)
{
	char file[256];
	snprintf(file, sizeof file, "%s.bin", name);
	return vector_load("h225", file, len);
}


/* ---- the row ---- */

START_TEST(test_h323_inspector_row)
{
	const struct pbx_inspector *in = h323();
	ck_assert_str_eq(in->name, "h323");
	ck_assert_int_eq(in->family, STORE_FAMILY_H323);
	ck_assert(!in->lockstep);
	ck_assert_uint_le(in->state_size, HARNESS_STATE_MAX);
	ck_assert_ptr_nonnull(in->init);
	ck_assert_ptr_nonnull(in->request);
	ck_assert_ptr_nonnull(in->reply);
	ck_assert_ptr_nonnull(in->refuse);
}
END_TEST

/* ---- first messages ---- */

struct req_case {
	const char *file;
	enum pbx_verdict_kind kind;
	enum pbx_reason reason;
	size_t offset;         /* PBX_V_REFUSE */
	unsigned flags;
	const char *name, *standby;
	const char *aliases;   /* joined with ',' */
};

#define ROUTE(f, fl, n, s, a) { f, PBX_V_ROUTE, PBX_R_NONE, 0, fl, n, s, a }
#define PASS(f, fl) { f, PBX_V_PASS, PBX_R_NONE, 0, fl, "", "", "" }
#define REFUSE(f, r, o) { f, PBX_V_REFUSE, r, o, 0, "", "", "" }

static const struct req_case req_cases[] = {
	ROUTE("grq", RQ, "innovaphone.com", "", "alice"),
	ROUTE("rrq", RQ, "innovaphone.com/branch", "", "alice"),
	ROUTE("setup", RQ, "example.org", "", ""),
	ROUTE("gen-grq-standby", RQ, "innovaphone.com/hq", "innovaphone.com/hq-standby", "alice"),
	ROUTE("gen-grq-utf8-alias", RQ, "example.com", "", "J\xc3\xbcrgen\xe2\x82\xac"),
	ROUTE("gen-grq-after-h46018", RQ, "innovaphone.com", "", "alice"),
	ROUTE("gen-rrq-lightweight-gkid", RQ, "innovaphone.com", "", ""),
	ROUTE("gen-rrq-tokens", RQ | PBX_VF_CREDENTIALS, "innovaphone.com/hq",
	      "innovaphone.com/hq-standby", "alice,Alice Smith"),
	ROUTE("gen-rrq-many-aliases", RQ, "gw.example.com", "", "a0,a1,a2,a3,a4,a5,a6,a7"),
	ROUTE("gen-rrq-bundled", RQ, "innovaphone.com/branch", "", "alice,bob"),
	ROUTE("gen-setup-url", RQ, "example.org", "", ""),
	ROUTE("gen-setup-email", RQ, "mail.example.net", "", ""),
	REFUSE("gen-grq-no-gkid", PBX_R_NO_NAME, 0x21),
	REFUSE("gen-rrq-bundled-other", PBX_R_OTHER_SERVICE, 0x89),
	REFUSE("gen-setup-digits", PBX_R_NO_NAME, 0x0d),
	REFUSE("gen-setup-no-dest", PBX_R_NO_NAME, 0x0d),
	/* Conversation, not routing: rpd refuses them as a first message. */
	PASS("gen-rrq-lightweight", RQ),
	PASS("grj-undefined", RQ),
	PASS("rrj-security", RQ),
	PASS("rc-cause3", RQ),
};

static void check_aliases(const struct pbx_verdict *v, const char *want)
{
	char joined[1024] = "";
	for (size_t i = 0; i < v->n_aliases; i++) {
		size_t l = strlen(joined);
		snprintf(joined + l, sizeof joined - l, "%s%.*s", i ? "," : "",
			 (int)v->aliases[i].len, v->aliases[i].p);
	}
	ck_assert_str_eq(joined, want);
}

START_TEST(test_h323_request_vectors)
{
	const struct req_case *c = &req_cases[_i];
	size_t len, at;
	uint8_t *b = load(c->file, &len);
	struct pbx_verdict v;

	/* Whole, byte by byte, every split: one verdict, with the names
	 * (kept in the state) compared by content. */
	harness_request(h323(), b, len, MAX_HEAD, &v, &at);
	ck_assert_msg(v.kind == c->kind, "%s: kind %d, reason %s at %zu", c->file, v.kind,
		      pbx_reason_name(v.reason), v.offset);
	/* A frame is decided once all of it is in, never before. */
	ck_assert_uint_eq(at, len);
	if (c->kind == PBX_V_REFUSE) {
		ck_assert_msg(v.reason == c->reason, "%s: reason %s", c->file,
			      pbx_reason_name(v.reason));
		ck_assert_msg(v.offset == c->offset, "%s: offset %zu", c->file, v.offset);
		free(b);
		return;
	}
	ck_assert_uint_eq(v.head_len, len);
	ck_assert_int_eq(v.body, PBX_BODY_NONE);
	ck_assert_uint_eq(v.flags, c->flags);
	ck_assert_span(v.name, c->name);
	ck_assert_span(v.standby, c->standby);
	ck_assert_uint_eq(v.user.len + v.url.len + v.method.len, 0);
	check_aliases(&v, c->aliases);
	free(b);
}
END_TEST

/* The keep-alive: passed without PBX_VF_REQUEST, so rpd absorbs it before
 * the first message. */
START_TEST(test_h323_request_keepalive)
{
	struct pbx_verdict v;
	size_t at;
	harness_request(h323(), "\x03\x00\x00\x04", 4, MAX_HEAD, &v, &at);
	ck_assert_int_eq(v.kind, PBX_V_PASS);
	ck_assert_uint_eq(v.head_len, 4);
	ck_assert_int_eq(v.body, PBX_BODY_NONE);
	ck_assert_uint_eq(v.flags, 0);
	ck_assert_uint_eq(at, 4);
	/* With a frame behind it, only the keep-alive. */
	harness_request(h323(), "\x03\x00\x00\x04\x03\x00\x00\x04", 8, MAX_HEAD, &v, &at);
	ck_assert_uint_eq(v.head_len, 4);
	ck_assert_uint_eq(at, 4);
}
END_TEST

/* Framing refusals and what the reader refuses. */
START_TEST(test_h323_request_broken)
{
	struct pbx_verdict v;
	size_t at, len;

	/* Not TPKT: refused at the first byte. */
	harness_request(h323(), "GET / HTTP/1.1\r\n\r\n", 18, MAX_HEAD, &v, &at);
	ck_assert_int_eq(v.kind, PBX_V_REFUSE);
	ck_assert_int_eq(v.reason, PBX_R_MALFORMED);
	ck_assert_uint_eq(v.offset, 0);
	ck_assert_uint_eq(at, 1);
	harness_request(h323(), "\x00\x03\x00\x04", 4, MAX_HEAD, &v, &at);
	ck_assert_int_eq(v.reason, PBX_R_MALFORMED);
	/* A length below 4. */
	harness_request(h323(), "\x03\x00\x00\x03\x00", 5, MAX_HEAD, &v, &at);
	ck_assert_int_eq(v.reason, PBX_R_MALFORMED);
	ck_assert_uint_eq(v.offset, 2);
	ck_assert_uint_eq(at, 4);

	/* A frame over max_head: refused from its header. */
	uint8_t *b = load("rrq", &len);
	harness_request(h323(), b, len, len - 1, &v, &at);
	ck_assert_int_eq(v.reason, PBX_R_TOO_LARGE);
	ck_assert_uint_eq(v.offset, 2);
	ck_assert_uint_eq(at, 4);
	harness_request(h323(), b, len, len, &v, &at);
	ck_assert_int_eq(v.kind, PBX_V_ROUTE);
	/* max_head below a header: nothing can pass. */
	harness_request(h323(), "\x03\x00\x00\x04", 4, 2, &v, &at);
	ck_assert_int_eq(v.reason, PBX_R_TOO_LARGE);
	ck_assert_uint_eq(at, 2);

	/* The RRQ's raw octets in a fragmented length: unsupported. */
	b[0x23] = 0xc0;
	harness_request(h323(), b, len, MAX_HEAD, &v, &at);
	ck_assert_int_eq(v.kind, PBX_V_REFUSE);
	ck_assert_int_eq(v.reason, PBX_R_UNSUPPORTED);
	/* A Q.931 length past the frame: malformed, where it broke. */
	b[0x23] = 0x80;
	b[0x0c] = 0xff;
	harness_request(h323(), b, len, MAX_HEAD, &v, &at);
	ck_assert_int_eq(v.reason, PBX_R_MALFORMED);
	ck_assert_uint_eq(v.offset, 0x0b);
	/* RAS in a Q.931 message other than FACILITY. */
	b[0x0c] = 0x00;
	b[0x08] = H225_Q931_INFORMATION;
	harness_request(h323(), b, len, MAX_HEAD, &v, &at);
	ck_assert_int_eq(v.reason, PBX_R_UNSUPPORTED);
	ck_assert_uint_eq(v.offset, 0x25);
	free(b);

	/* A Setup-UUIE in a FACILITY: the message is not what it says. */
	b = load("setup", &len);
	b[8] = H225_Q931_FACILITY;
	harness_request(h323(), b, len, MAX_HEAD, &v, &at);
	ck_assert_int_eq(v.reason, PBX_R_MALFORMED);
	ck_assert_uint_eq(v.offset, 0x19);
	/* A SETUP without User-user: nothing to route by. */
	static const uint8_t bare[] = { 3, 0, 0, 9, 8, 2, 0, 1, 5 };
	harness_request(h323(), bare, sizeof bare, MAX_HEAD, &v, &at);
	ck_assert_int_eq(v.reason, PBX_R_NO_NAME);
	free(b);

	/* An h323-ID that is no text: unsupported. */
	static const uint16_t ctl[] = { 'a', 0x07 };
	const struct fr_alias bad = { FR_H323_ID, NULL, ctl, 2 };
	const struct fr_alias gk = { FR_H323_ID, "example.com", NULL, 0 };
	const struct fr_ras o = { .seq = 1, .gkid = &gk, .aliases = &bad, .n_aliases = 1 };
	uint8_t f[1024];
	size_t n = fr_grq(f, sizeof f, &o);
	harness_request(h323(), f, n, MAX_HEAD, &v, &at);
	ck_assert_int_eq(v.reason, PBX_R_UNSUPPORTED);
	/* An identifier that is not of the syntax: no-name. */
	const struct fr_alias gk_bad = { FR_H323_ID, "example.com/a:b:c", NULL, 0 };
	const struct fr_ras ob = { .seq = 1, .gkid = &gk_bad };
	n = fr_rrq(f, sizeof f, &ob);
	harness_request(h323(), f, n, MAX_HEAD, &v, &at);
	ck_assert_int_eq(v.reason, PBX_R_NO_NAME);
	/* A lightweight RRQ with a broken identifier is refused too. */
	const struct fr_ras ol = { .seq = 1, .gkid = &gk_bad, .keep_alive = true };
	n = fr_rrq(f, sizeof f, &ol);
	harness_request(h323(), f, n, MAX_HEAD, &v, &at);
	ck_assert_int_eq(v.reason, PBX_R_NO_NAME);
}
END_TEST

/* ---- a connection's frames one after another ---- */

struct step {
	const char *file;      /* NULL: a keep-alive */
	enum pbx_verdict_kind kind;
	enum pbx_reason reason;
	const char *name;
};

/* Everything that has arrived is given, as rpd does, with each frame
 * after the previous one's head. */
static void stream(const struct step *steps, int n)
{
	uint8_t buf[8192];
	size_t total = 0, lens[16];
	ck_assert_int_le(n, 16);
	for (int i = 0; i < n; i++) {
		size_t len = 4;
		uint8_t *b = steps[i].file ? load(steps[i].file, &len) : NULL;
		ck_assert_uint_le(total + len, sizeof buf);
		memcpy(buf + total, b ? b : (const uint8_t *)"\x03\x00\x00\x04", len);
		lens[i] = len;
		total += len;
		free(b);
	}
	void *st = harness_state(h323(), MAX_HEAD);
	size_t off = 0;
	for (int i = 0; i < n; i++) {
		struct pbx_verdict v;
		uint8_t *c = malloc(total - off);
		memcpy(c, buf + off, total - off);
		h323()->request(st, c, total - off, &v);
		ck_assert_msg(v.kind == steps[i].kind, "step %d: kind %d reason %s", i, v.kind,
			      pbx_reason_name(v.reason));
		if (v.kind == PBX_V_REFUSE) {
			ck_assert_int_eq(v.reason, steps[i].reason);
			free(c);
			break;
		}
		ck_assert_uint_eq(v.head_len, lens[i]);
		if (steps[i].name)
			ck_assert_span(v.name, steps[i].name);
		off += v.head_len;
		free(c);
	}
	free(st);
}

/* Pitfalls 2 and 3: keep-alives before and between messages, and a
 * second registration coalesced with the first is checked on its own. */
START_TEST(test_h323_request_stream)
{
	const struct step registration[] = {
		{ NULL, PBX_V_PASS, 0, NULL },
		{ "grq", PBX_V_ROUTE, 0, "innovaphone.com" },
		{ NULL, PBX_V_PASS, 0, NULL },
		{ "rrq", PBX_V_ROUTE, 0, "innovaphone.com/branch" },
		{ "gen-rrq-lightweight", PBX_V_PASS, 0, NULL },
		{ NULL, PBX_V_PASS, 0, NULL },
		/* Calls of a registered endpoint go to its PBX. */
		{ "setup", PBX_V_PASS, 0, NULL },
		{ "gen-setup-digits", PBX_V_PASS, 0, NULL },
		{ "gen-rrq-lightweight-gkid", PBX_V_ROUTE, 0, "innovaphone.com" },
		{ "gen-rrq-bundled-other", PBX_V_REFUSE, PBX_R_OTHER_SERVICE, NULL },
	};
	stream(registration, N(registration));
	/* A Setup's connection: later Setups route again (rpd holds them
	 * to the same service), those without a domain pass. */
	const struct step call[] = {
		{ "setup", PBX_V_ROUTE, 0, "example.org" },
		{ "rc-cause3", PBX_V_PASS, 0, NULL },
		{ "gen-setup-email", PBX_V_ROUTE, 0, "mail.example.net" },
		{ "gen-setup-no-dest", PBX_V_PASS, 0, NULL },
		{ "rrq", PBX_V_ROUTE, 0, "innovaphone.com/branch" },
		{ "gen-grq-no-gkid", PBX_V_REFUSE, PBX_R_NO_NAME, NULL },
	};
	stream(call, N(call));
	/* No first Setup without a domain. */
	const struct step nocall[] = {
		{ NULL, PBX_V_PASS, 0, NULL },
		{ "gen-setup-no-dest", PBX_V_REFUSE, PBX_R_NO_NAME, NULL },
	};
	stream(nocall, N(nocall));
}
END_TEST

/* ---- replies ---- */

struct reply_case {
	const char *file;
	int status;
	bool final, rejection;
};

static const struct reply_case reply_cases[] = {
	{ "rrj-security", H225_RRJ_SECURITY_DENIAL, true, true },
	{ "grj-security", H225_GRJ_SECURITY_DENIAL, true, true },
	{ "rrj-undefined", H225_RRJ_UNDEFINED, true, false },
	{ "grj-undefined", H225_GRJ_UNDEFINED, true, false },
	{ "rc-cause3", -1, false, false },
	{ "setup", -1, false, false },
	{ "grq", -1, false, false },
};

START_TEST(test_h323_reply_vectors)
{
	const struct reply_case *c = &reply_cases[_i];
	size_t len;
	uint8_t *b = load(c->file, &len);
	struct pbx_reply r;
	harness_reply(h323(), b, len, MAX_HEAD, NULL, &r);
	ck_assert_int_eq(r.kind, PBX_V_PASS);
	ck_assert_uint_eq(r.head_len, len);
	ck_assert_int_eq(r.body, PBX_BODY_NONE);
	ck_assert_uint_eq(r.flags, 0);
	ck_assert_msg(r.status == c->status, "%s: status %d", c->file, r.status);
	ck_assert_int_eq(r.final, c->final);
	ck_assert_int_eq(r.rejection, c->rejection);
	free(b);
}
END_TEST

START_TEST(test_h323_reply_other)
{
	struct pbx_reply r;
	uint8_t f[1024];
	/* The keep-alive. */
	harness_reply(h323(), "\x03\x00\x00\x04", 4, MAX_HEAD, NULL, &r);
	ck_assert_int_eq(r.kind, PBX_V_PASS);
	ck_assert_uint_eq(r.head_len, 4);
	ck_assert_int_eq(r.status, -1);
	/* A RegistrationConfirm (its choice is all that is read) answers. */
	static const uint8_t rcf[] = { 0x10, 0x00, 0x00, 0x01 };
	const uint8_t *ras = rcf;
	size_t rl = sizeof rcf;
	const struct fr_wrap w = { 0 };
	size_t n = fr_h46017(f, sizeof f, &ras, &rl, 1, &w);
	harness_reply(h323(), f, n, MAX_HEAD, NULL, &r);
	ck_assert_int_eq(r.kind, PBX_V_PASS);
	ck_assert(r.final && !r.rejection);
	ck_assert_int_eq(r.status, -1);
	/* A frame over max_head: framed, passed, not read. */
	size_t len;
	uint8_t *b = load("rrj-security", &len);
	harness_reply(h323(), b, len, 16, NULL, &r);
	ck_assert_int_eq(r.kind, PBX_V_PASS);
	ck_assert_uint_eq(r.head_len, 4);
	ck_assert_int_eq(r.body, PBX_BODY_LENGTH);
	ck_assert_uint_eq(r.body_len, len - 4);
	ck_assert(!r.rejection);
	/* One the reader cannot follow still passes, unclassified. */
	b[0x2c] = 0xff;
	harness_reply(h323(), b, len, MAX_HEAD, NULL, &r);
	ck_assert_int_eq(r.kind, PBX_V_PASS);
	ck_assert_uint_eq(r.head_len, len);
	ck_assert(!r.rejection);
	free(b);
	/* Not TPKT: the service broke the protocol. */
	harness_reply(h323(), "HTTP/1.1 200 OK\r\n", 17, MAX_HEAD, NULL, &r);
	ck_assert_int_eq(r.kind, PBX_V_REFUSE);
	ck_assert_int_eq(r.reason, PBX_R_MALFORMED);
	harness_reply(h323(), "\x03\x00\x00\x01", 4, MAX_HEAD, NULL, &r);
	ck_assert_int_eq(r.kind, PBX_V_REFUSE);
}
END_TEST

/* ---- refusals ---- */

static size_t refuse_into(const void *p, size_t len, enum pbx_reason reason, uint8_t *out,
			  size_t cap)
{
	void *st = harness_state(h323(), MAX_HEAD);
	struct pbx_writer w;
	uint8_t *c = malloc(len ? len : 1);
	if (len)
		memcpy(c, p, len);
	pbx_writer_init(&w, out, cap);
	h323()->refuse(st, len ? c : NULL, len, reason, &w);
	free(c);
	free(st);
	return pbx_writer_len(&w);
}

static void same_as_file(const uint8_t *out, size_t n, const char *file)
{
	size_t len;
	uint8_t *b = load(file, &len);
	ck_assert_msg(n == len && memcmp(out, b, n) == 0, "%s: refusal differs", file);
	free(b);
}

/* The octets tshark decoded (tests/vectors/h225: the reference's rejects
 * and RELEASE COMPLETE, and rpd-*.bin written by this inspector). */
START_TEST(test_h323_refuse_bytes)
{
	uint8_t out[512];
	size_t len, n;
	uint8_t *b = load("grq", &len);
	n = refuse_into(b, len, PBX_R_UNKNOWN_NAME, out, sizeof out);
	same_as_file(out, n, "grj-undefined");
	n = refuse_into(b, len, PBX_R_BAD_CERT, out, sizeof out);
	same_as_file(out, n, "grj-security");
	n = refuse_into(b, len, PBX_R_TARGET_FAILED, out, sizeof out);
	same_as_file(out, n, "rpd-grj-resource");
	free(b);
	b = load("rrq", &len);
	n = refuse_into(b, len, PBX_R_NO_NAME, out, sizeof out);
	same_as_file(out, n, "rrj-undefined");
	n = refuse_into(b, len, PBX_R_BAD_CERT, out, sizeof out);
	same_as_file(out, n, "rrj-security");
	n = refuse_into(b, len, PBX_R_TARGET_FAILED, out, sizeof out);
	same_as_file(out, n, "rpd-rrj-resource");
	free(b);
	b = load("setup", &len);
	n = refuse_into(b, len, PBX_R_UNKNOWN_NAME, out, sizeof out);
	same_as_file(out, n, "rc-cause3");
	free(b);
	b = load("gen-setup-email", &len);
	n = refuse_into(b, len, PBX_R_SOURCE_DENIED, out, sizeof out);
	same_as_file(out, n, "rpd-rc-cref-32767");
	free(b);
}
END_TEST

/* What a refusal says, read back with the reader (and as the reply a
 * service would send). */
struct refuse_case {
	enum pbx_reason reason;
	int grj, rrj;          /* -1: nothing is written */
};

static const struct refuse_case refuse_cases[] = {
	{ PBX_R_NONE, -1, -1 },
	{ PBX_R_MALFORMED, H225_GRJ_UNDEFINED, H225_RRJ_UNDEFINED },
	{ PBX_R_TOO_LARGE, H225_GRJ_UNDEFINED, H225_RRJ_UNDEFINED },
	{ PBX_R_AMBIGUOUS, H225_GRJ_UNDEFINED, H225_RRJ_UNDEFINED },
	{ PBX_R_UNSUPPORTED, H225_GRJ_UNDEFINED, H225_RRJ_UNDEFINED },
	{ PBX_R_NO_NAME, H225_GRJ_UNDEFINED, H225_RRJ_UNDEFINED },
	{ PBX_R_UNKNOWN_NAME, H225_GRJ_UNDEFINED, H225_RRJ_UNDEFINED },
	{ PBX_R_NO_TARGET, H225_GRJ_UNDEFINED, H225_RRJ_UNDEFINED },
	{ PBX_R_SOURCE_DENIED, H225_GRJ_UNDEFINED, H225_RRJ_UNDEFINED },
	{ PBX_R_URL_DENIED, H225_GRJ_UNDEFINED, H225_RRJ_UNDEFINED },
	{ PBX_R_OTHER_SERVICE, H225_GRJ_UNDEFINED, H225_RRJ_UNDEFINED },
	{ PBX_R_TIMEOUT, H225_GRJ_RESOURCE_UNAVAILABLE, H225_RRJ_RESOURCE_UNAVAILABLE },
	{ PBX_R_BLACKLISTED, -1, -1 },
	{ PBX_R_TLS_FAILED, -1, -1 },
	{ PBX_R_BAD_CERT, H225_GRJ_SECURITY_DENIAL, H225_RRJ_SECURITY_DENIAL },
	{ PBX_R_TARGET_FAILED, H225_GRJ_RESOURCE_UNAVAILABLE, H225_RRJ_RESOURCE_UNAVAILABLE },
	{ PBX_R_REJECTED, -1, -1 },
	{ PBX_R_CLIENT_CLOSED, -1, -1 },
	{ PBX_R_IDLE, -1, -1 },
	{ PBX_R_SERVICE_MALFORMED, -1, -1 },
};

static void check_reject(const char *file, int type, int reason, enum pbx_reason why)
{
	uint8_t out[512];
	size_t len;
	uint8_t *b = load(file, &len);
	size_t n = refuse_into(b, len, why, out, sizeof out);
	if (reason < 0) {
		ck_assert_uint_eq(n, 0);
		free(b);
		return;
	}
	struct h225_msg req, m;
	char t1[H225_TEXT_MAX], t2[H225_TEXT_MAX];
	size_t at;
	ck_assert_int_eq(h225_msg_read(b, len, &req, t1, sizeof t1, &at), 0);
	/* One reject frame per request in the frame, each read back. */
	size_t off = 0;
	for (size_t i = 0; i < req.n_ras; i++) {
		size_t fl;
		ck_assert_int_eq(h225_tpkt_frame(out + off, n - off, &fl), 0);
		ck_assert_int_eq(h225_msg_read(out + off, fl, &m, t2, sizeof t2, &at), 0);
		ck_assert_uint_eq(m.q931.type, H225_Q931_FACILITY);
		ck_assert_uint_eq(m.q931.cref, 0);
		ck_assert_int_eq(m.body, H225_BODY_EMPTY);
		ck_assert_uint_eq(m.n_ras, 1);
		ck_assert_int_eq(m.ras[0].type, type);
		ck_assert_int_eq(m.ras[0].reject_reason, reason);
		ck_assert_uint_eq(m.ras[0].seq, req.ras[i].seq);
		struct pbx_reply r;
		harness_reply(h323(), out + off, fl, MAX_HEAD, NULL, &r);
		ck_assert_int_eq(r.rejection, why == PBX_R_BAD_CERT);
		ck_assert_int_eq(r.status, reason);
		off += fl;
	}
	ck_assert_uint_eq(off, n);
	free(b);
}

START_TEST(test_h323_refuse_reasons)
{
	const struct refuse_case *c = &refuse_cases[_i];
	check_reject("grq", H225_RAS_GRJ, c->grj, c->reason);
	check_reject("rrq", H225_RAS_RRJ, c->rrj, c->reason);
	check_reject("gen-rrq-bundled", H225_RAS_RRJ, c->rrj, c->reason);
	check_reject("gen-rrq-bundled-other", H225_RAS_RRJ, c->rrj, c->reason);

	/* A Setup: RELEASE COMPLETE, cause 3, its call reference, flag set. */
	uint8_t out[512];
	size_t len;
	uint8_t *b = load("gen-setup-url", &len);
	size_t n = refuse_into(b, len, c->reason, out, sizeof out);
	free(b);
	if (c->grj < 0) {
		ck_assert_uint_eq(n, 0);
		return;
	}
	struct h225_msg m;
	char t[64];
	size_t at;
	ck_assert_int_eq(h225_msg_read(out, n, &m, t, sizeof t, &at), 0);
	ck_assert_uint_eq(m.q931.type, H225_Q931_RELEASE_COMPLETE);
	ck_assert_uint_eq(m.q931.cref, 4660);
	ck_assert(m.q931.cref_flag);
	ck_assert_uint_eq(m.q931.cause, H225_CAUSE_NO_ROUTE);
	ck_assert_int_eq(m.body, H225_BODY_RELEASE_COMPLETE);
}
END_TEST

/* Nothing for keep-alives, replies, other messages, what cannot be read;
 * a Setup that is not all there still gets its RELEASE COMPLETE. */
START_TEST(test_h323_refuse_partial)
{
	uint8_t out[512];
	size_t len;
	static const char *const silent[] = { "grj-undefined", "rrj-security", "rc-cause3" };
	for (int i = 0; i < N(silent); i++) {
		uint8_t *b = load(silent[i], &len);
		ck_assert_uint_eq(refuse_into(b, len, PBX_R_NO_NAME, out, sizeof out), 0);
		free(b);
	}
	ck_assert_uint_eq(refuse_into("\x03\x00\x00\x04", 4, PBX_R_NO_NAME, out, sizeof out), 0);
	/* A lightweight RRQ first: register in full, please. */
	uint8_t *lw = load("gen-rrq-lightweight", &len);
	size_t n = refuse_into(lw, len, PBX_R_NO_NAME, out, sizeof out);
	struct h225_msg m;
	char t[64];
	size_t at;
	ck_assert_int_eq(h225_msg_read(out, n, &m, t, sizeof t, &at), 0);
	ck_assert_int_eq(m.ras[0].type, H225_RAS_RRJ);
	ck_assert_int_eq(m.ras[0].reject_reason, H225_RRJ_FULL_REGISTRATION_REQUIRED);
	ck_assert_uint_eq(m.ras[0].seq, 12);
	n = refuse_into(lw, len, PBX_R_TARGET_FAILED, out, sizeof out);
	ck_assert_int_eq(h225_msg_read(out, n, &m, t, sizeof t, &at), 0);
	ck_assert_int_eq(m.ras[0].reject_reason, H225_RRJ_RESOURCE_UNAVAILABLE);
	free(lw);
	ck_assert_uint_eq(refuse_into("GET /", 5, PBX_R_MALFORMED, out, sizeof out), 0);
	ck_assert_uint_eq(refuse_into(NULL, 0, PBX_R_TIMEOUT, out, sizeof out), 0);

	uint8_t *b = load("setup", &len);
	for (size_t k = 0; k <= len; k++) {
		n = refuse_into(b, k, PBX_R_TIMEOUT, out, sizeof out);
		if (k < 9) {
			ck_assert_uint_eq(n, 0);
			continue;
		}
		same_as_file(out, n, "rc-cause3");
	}
	free(b);
	/* A GRQ not all there: its requestSeqNum cannot be trusted. */
	b = load("grq", &len);
	for (size_t k = 0; k < len; k++)
		ck_assert_uint_eq(refuse_into(b, k, PBX_R_TIMEOUT, out, sizeof out), 0);
	/* Malformed: nothing. */
	b[0x20] = 0x7f;
	ck_assert_uint_eq(refuse_into(b, len, PBX_R_MALFORMED, out, sizeof out), 0);
	free(b);
	/* Too small a writer: nothing at all. */
	b = load("gen-rrq-bundled", &len);
	size_t full = refuse_into(b, len, PBX_R_NO_NAME, out, sizeof out);
	ck_assert_uint_eq(full, 90);
	for (size_t cap = 0; cap < full; cap++) {
		uint8_t *small = malloc(cap ? cap : 1);
		ck_assert_uint_eq(refuse_into(b, len, PBX_R_NO_NAME, small, cap), 0);
		free(small);
	}
	free(b);
}
END_TEST

/* Spans live in the state until the next call, which may replace them. */
START_TEST(test_h323_spans_in_state)
{
	size_t len;
	uint8_t *b = load("gen-rrq-tokens", &len);
	void *st = harness_state(h323(), MAX_HEAD);
	struct pbx_verdict v;
	h323()->request(st, b, len, &v);
	ck_assert_int_eq(v.kind, PBX_V_ROUTE);
	const uint8_t *lo = st, *hi = lo + h323()->state_size;
	const struct pbx_span *spans[] = { &v.name, &v.standby, &v.aliases[0], &v.aliases[1] };
	for (int i = 0; i < N(spans); i++)
		ck_assert((const uint8_t *)spans[i]->p >= lo &&
			  (const uint8_t *)spans[i]->p + spans[i]->len <= hi);
	/* The input is never written to. */
	uint8_t *again = load("gen-rrq-tokens", &len);
	ck_assert_mem_eq(b, again, len);
	free(again);
	free(st);
	free(b);
}
END_TEST

static Suite *h323_suite(void)
{
	Suite *s = suite_create("h323");
	TCase *tc = tcase_create("request");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_h323_inspector_row);
	tcase_add_loop_test(tc, test_h323_request_vectors, 0, N(req_cases));
	tcase_add_test(tc, test_h323_request_keepalive);
	tcase_add_test(tc, test_h323_request_broken);
	tcase_add_test(tc, test_h323_request_stream);
	tcase_add_test(tc, test_h323_spans_in_state);
	suite_add_tcase(s, tc);

	tc = tcase_create("reply");
	tcase_add_loop_test(tc, test_h323_reply_vectors, 0, N(reply_cases));
	tcase_add_test(tc, test_h323_reply_other);
	suite_add_tcase(s, tc);

	tc = tcase_create("refuse");
	tcase_add_test(tc, test_h323_refuse_bytes);
	tcase_add_loop_test(tc, test_h323_refuse_reasons, 0, N(refuse_cases));
	tcase_add_test(tc, test_h323_refuse_partial);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(h323_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
