/* fuzz_h225.c - fuzzes the H.225.0 reader (lib/h225: TPKT, Q.931, the
 * ALIGNED PER walk, H.460.17 RAS, names) and the H.323 inspector
 * (lib/inspect/h225.c): frames read whole, request and reply fed as rpd
 * feeds them, refuse for every reason, and the invariants rpd relies on.
 *
 * Input: one selector byte, then the bytes of a connection.  The
 * selector's low six bits give how many bytes arrive per read (1 to 64),
 * its top two bits max_head (16384, 512, 64 or 8). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/err.h>
#include <pbxedge/h225.h>
#include <pbxedge/inspect.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                     \
	do {                         \
		if (!(x))            \
			abort();     \
	} while (0)

static const size_t max_heads[4] = { 16384, 512, 64, 8 };

static const struct pbx_inspector *h323(void)
{
	const struct pbx_inspector *in = pbx_inspector_for(STORE_FAMILY_H323);
	CHECK(in && in->state_size > 0 && !in->lockstep);
	return in;
}

static void *new_state(size_t max_head)
{
	void *st = calloc(1, h323()->state_size);
	CHECK(st);
	h323()->init(st, max_head);
	return st;
}

static bool inside(struct pbx_span s, const void *base, size_t n)
{
	const uint8_t *p = (const uint8_t *)s.p, *b = base;
	return s.len == 0 || (p && p >= b && p <= b + n && s.len <= (size_t)(b + n - p));
}

static bool lower_name(struct pbx_span s)
{
	for (size_t i = 0; i < s.len; i++)
		if (s.p[i] <= 0x20 || s.p[i] > 0x7e || (s.p[i] >= 'A' && s.p[i] <= 'Z') ||
		    s.p[i] == '@')
			return false;
	return true;
}

/* What the reader found in one whole frame holds together. */
static void check_msg(const uint8_t *p, size_t n, const char *text, size_t cap)
{
	struct h225_msg m;
	size_t at;
	int rc = h225_msg_read(p, n, &m, (char *)text, cap, &at);
	if (rc) {
		CHECK(rc == PBX_E_MALFORMED || rc == PBX_E_TOOLONG || rc == PBX_E_INVALID ||
		      rc == PBX_E_NOSPACE);
		CHECK(at <= n);
		return;
	}
	CHECK(m.frame_len == n && n >= 4);
	if (m.keep_alive) {
		CHECK(n == 4 && m.n_ras == 0);
		return;
	}
	CHECK(!m.q931.have_uu || (m.q931.uu >= p && m.q931.uu + m.q931.uu_len <= p + n &&
				  m.q931.uu == p + 4 + m.q931.uu_at));
	CHECK(m.q931.cref <= 0x7fff && m.q931.type < 0x80);
	CHECK(m.q931.have_uu || m.body == H225_BODY_NONE);
	CHECK(m.dest.len == 0 || (inside(m.dest, text, cap) && m.dest_domain.len > 0));
	CHECK(inside(m.dest_domain, text, cap) && lower_name(m.dest_domain));
	CHECK(m.n_ras <= H225_RAS_MAX);
	for (size_t i = 0; i < m.n_ras; i++) {
		const struct h225_ras *r = &m.ras[i];
		CHECK(r->type >= 0 && r->at >= 4 && r->at <= n);
		CHECK(r->n_aliases <= H225_ALIASES_MAX);
		CHECK(r->more_aliases == 0 || r->n_aliases == H225_ALIASES_MAX);
		for (size_t a = 0; a < r->n_aliases; a++)
			CHECK(r->aliases[a].len > 0 && inside(r->aliases[a], text, cap) &&
			      memchr(r->aliases[a].p, 0, r->aliases[a].len) == NULL);
		if (r->gkid_state == H225_GKID_OK) {
			CHECK(r->gkid.len >= 1 && r->gkid.len <= H225_GKID_MAX);
			CHECK(inside(r->gkid, text, cap) && inside(r->name, text, cap) &&
			      inside(r->standby, text, cap));
			CHECK(r->name.len > 0 && lower_name(r->name) && lower_name(r->standby));
			CHECK(r->name.len <= r->gkid.len && r->standby.len <= r->gkid.len);
		} else {
			CHECK(r->name.len == 0 && r->standby.len == 0);
		}
		CHECK(r->reject_reason < 0 || r->type == 2 || r->type == 5);
	}
}

/* Every frame found in p, read whole with text buffers large and small. */
static void frames(const uint8_t *p, size_t n)
{
	static char big[H225_TEXT_MAX], small[24];
	size_t off = 0, fl;
	while (off < n && h225_tpkt_frame(p + off, n - off, &fl) == 0 && fl <= n - off) {
		uint8_t *c = malloc(fl);
		CHECK(c);
		memcpy(c, p + off, fl);
		check_msg(c, fl, big, sizeof big);
		check_msg(c, fl, small, sizeof small);
		free(c);
		off += fl;
	}
	/* And the bytes as names. */
	char buf[512];
	struct pbx_span s = { (const char *)p, n < 300 ? n : 300 }, name, standby, dom;
	if (h225_gkid_service(s, buf, sizeof buf, &name, &standby) == 0)
		CHECK(name.len > 0 && lower_name(name) && lower_name(standby) &&
		      inside(name, buf, sizeof buf));
	else
		CHECK(name.len == 0 && standby.len == 0);
	if (h225_alias_domain(s, buf, sizeof buf, &dom) == 0)
		CHECK(dom.len > 0 && lower_name(dom) && inside(dom, buf, sizeof buf));
}

/* A refusal is whole TPKT frames, each a GRJ or RRJ over H.460.17 or a
 * RELEASE COMPLETE with cause 3, which our reader reads back. */
static void check_refusal(const uint8_t *m, size_t n)
{
	static char text[256];
	size_t off = 0, fl;
	while (off < n) {
		CHECK(h225_tpkt_frame(m + off, n - off, &fl) == 0 && fl <= n - off && fl > 4);
		struct h225_msg msg;
		size_t at;
		CHECK(h225_msg_read(m + off, fl, &msg, text, sizeof text, &at) == 0);
		if (msg.q931.type == H225_Q931_FACILITY) {
			CHECK(msg.q931.cref == 0 && msg.body == H225_BODY_EMPTY && msg.n_ras == 1);
			CHECK(msg.ras[0].type == H225_RAS_GRJ || msg.ras[0].type == H225_RAS_RRJ);
			CHECK(msg.ras[0].reject_reason >= 0 && msg.ras[0].seq >= 1);
		} else {
			CHECK(msg.q931.type == H225_Q931_RELEASE_COMPLETE && msg.q931.cref_flag);
			CHECK(msg.q931.have_cause && msg.q931.cause == H225_CAUSE_NO_ROUTE);
			CHECK(msg.body == H225_BODY_RELEASE_COMPLETE && off == 0 && fl == n);
		}
		off += fl;
	}
}

/* refuse for every reason (and one past the last): with room, a checked
 * refusal or nothing; with a small writer, the same or nothing at all. */
static void refusals(void *st, const uint8_t *p, size_t n, size_t small)
{
	static uint8_t out[4096], tight[128];
	for (int reason = 0; reason <= PBX_R_COUNT; reason++) {
		struct pbx_writer w;
		pbx_writer_init(&w, out, sizeof out);
		h323()->refuse(st, p, n, (enum pbx_reason)reason, &w);
		size_t len = pbx_writer_len(&w);
		bool silent = reason == PBX_R_NONE || reason == PBX_R_BLACKLISTED ||
			      reason == PBX_R_TLS_FAILED || reason == PBX_R_REJECTED ||
			      reason == PBX_R_CLIENT_CLOSED || reason == PBX_R_IDLE ||
			      reason == PBX_R_SERVICE_MALFORMED || reason == PBX_R_COUNT;
		CHECK(!silent || len == 0);
		CHECK(!pbx_writer_error(&w));
		if (len)
			check_refusal(out, len);

		pbx_writer_init(&w, tight, small < sizeof tight ? small : sizeof tight);
		h323()->refuse(st, p, n, (enum pbx_reason)reason, &w);
		size_t tl = pbx_writer_len(&w);
		CHECK(tl == 0 || (tl == len && memcmp(tight, out, len) == 0));
	}
}

/* Requests as rpd reads them: growing prefixes, step bytes at a time,
 * each call given its own exact-size copy; past each frame to the next; a
 * refusal ends the connection. */
static void requests(const uint8_t *p, size_t n, size_t step, size_t max_head)
{
	const struct pbx_inspector *in = h323();
	void *st = new_state(max_head);
	size_t off = 0, have = 0;

	while (off < n) {
		have = have + step < n - off ? have + step : n - off;
		uint8_t *c = malloc(have);
		CHECK(c);
		memcpy(c, p + off, have);
		struct pbx_verdict v;
		memset(&v, 0xa5, sizeof v);
		in->request(st, c, have, &v);
		bool stop = false;
		size_t fl = 0;
		switch (v.kind) {
		case PBX_V_NEED_MORE:
			/* Once max_head bytes are in, there is a verdict. */
			CHECK(have < max_head);
			stop = have == n - off;
			break;
		case PBX_V_ROUTE:
			CHECK(h225_tpkt_frame(c, have, &fl) == 0 && v.head_len == fl);
			CHECK(v.head_len > 4 && v.head_len <= have && v.head_len <= max_head);
			CHECK(v.body == PBX_BODY_NONE && (v.flags & PBX_VF_REQUEST));
			CHECK(!(v.flags & ~(unsigned)(PBX_VF_REQUEST | PBX_VF_CREDENTIALS)));
			CHECK(v.name.len > 0 && inside(v.name, st, in->state_size) &&
			      lower_name(v.name));
			CHECK(inside(v.standby, st, in->state_size) && lower_name(v.standby));
			CHECK(v.user.len == 0 && v.url.len == 0 && v.method.len == 0);
			CHECK(v.n_aliases <= PBX_VERDICT_ALIASES);
			for (size_t i = 0; i < v.n_aliases; i++)
				CHECK(v.aliases[i].len > 0 &&
				      inside(v.aliases[i], st, in->state_size));
			/* rpd may still refuse it: unknown name, no target ... */
			refusals(st, c, v.head_len, step);
			break;
		case PBX_V_PASS:
			CHECK(h225_tpkt_frame(c, have, &fl) == 0 && v.head_len == fl);
			CHECK(v.head_len >= 4 && v.head_len <= have && v.body == PBX_BODY_NONE);
			CHECK(v.flags == (v.head_len == 4 ? 0u : (unsigned)PBX_VF_REQUEST));
			CHECK(v.name.len == 0 && v.standby.len == 0 && v.n_aliases == 0);
			break;
		case PBX_V_REFUSE:
			CHECK(v.offset <= have);
			CHECK(v.reason == PBX_R_MALFORMED || v.reason == PBX_R_TOO_LARGE ||
			      v.reason == PBX_R_UNSUPPORTED || v.reason == PBX_R_NO_NAME ||
			      v.reason == PBX_R_OTHER_SERVICE);
			refusals(st, c, have, step);
			stop = true;
			break;
		default:
			abort();
		}
		free(c);
		if (stop)
			break;
		if (v.kind == PBX_V_NEED_MORE)
			continue;
		off += v.head_len;
		have = 0;
	}
	free(st);
}

/* Replies the same way. */
static void replies(const uint8_t *p, size_t n, size_t step, size_t max_head)
{
	const struct pbx_inspector *in = h323();
	void *st = new_state(max_head);
	size_t off = 0, have = 0;

	while (off < n) {
		have = have + step < n - off ? have + step : n - off;
		uint8_t *c = malloc(have);
		CHECK(c);
		memcpy(c, p + off, have);
		struct pbx_reply r;
		memset(&r, 0xa5, sizeof r);
		in->reply(st, c, have, &r);
		size_t fl = 0;
		int frc = h225_tpkt_frame(c, have, &fl);
		free(c);
		if (r.kind == PBX_V_NEED_MORE) {
			CHECK(have < max_head && r.status == -1);
			if (have == n - off)
				break;
			continue;
		}
		if (r.kind == PBX_V_REFUSE) {
			CHECK(r.reason == PBX_R_MALFORMED || r.reason == PBX_R_TOO_LARGE);
			break;
		}
		CHECK(r.kind == PBX_V_PASS && frc == 0 && r.flags == 0);
		CHECK(!r.rejection || (r.final && (r.status == H225_GRJ_SECURITY_DENIAL ||
						   r.status == H225_RRJ_SECURITY_DENIAL)));
		CHECK(r.status == -1 || r.final);
		if (r.body == PBX_BODY_NONE) {
			CHECK(r.head_len == fl && fl <= max_head && fl <= have);
		} else {
			CHECK(r.body == PBX_BODY_LENGTH && r.head_len == 4 && fl > max_head);
			CHECK(r.body_len == fl - 4 && !r.rejection && r.status == -1);
		}
		uint64_t next = r.head_len + (r.body == PBX_BODY_LENGTH ? r.body_len : 0);
		if (next > n - off)
			break;
		off += (size_t)next;
		have = 0;
	}
	free(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = (size_t)(data[0] & 0x3f) + 1;
	size_t max_head = max_heads[data[0] >> 6];
	const uint8_t *p = data + 1;
	size_t n = size - 1;

	frames(p, n);
	requests(p, n, step, max_head);
	replies(p, n, step, max_head);

	/* Whatever arrived, refused at any point. */
	uint8_t *c = malloc(n ? n : 1);
	CHECK(c);
	if (n)
		memcpy(c, p, n);
	void *st = new_state(max_head);
	refusals(st, n ? c : NULL, n, step);
	free(st);
	free(c);
	return 0;
}
