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

#include "inspect_feed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const size_t max_heads[4] = { 16384, 512, 64, 8 };

static const struct pbx_inspector *h323(void)
{
	const struct pbx_inspector *in = pbx_inspector_for(STORE_FAMILY_H323);
	CHECK(in && in->state_size > 0 && !in->lockstep);
	return in;
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
	CHECK(m.dest.len == 0 || (feed_inside(m.dest, text, cap) && m.dest_domain.len > 0));
	CHECK(feed_inside(m.dest_domain, text, cap) && lower_name(m.dest_domain));
	CHECK(m.n_ras <= H225_RAS_MAX);
	for (size_t i = 0; i < m.n_ras; i++) {
		const struct h225_ras *r = &m.ras[i];
		CHECK(r->type >= 0 && r->at >= 4 && r->at <= n);
		CHECK(r->n_aliases <= H225_ALIASES_MAX);
		CHECK(r->more_aliases == 0 || r->n_aliases == H225_ALIASES_MAX);
		for (size_t a = 0; a < r->n_aliases; a++)
			CHECK(r->aliases[a].len > 0 && feed_inside(r->aliases[a], text, cap) &&
			      memchr(r->aliases[a].p, 0, r->aliases[a].len) == NULL);
		if (r->gkid_state == H225_GKID_OK) {
			CHECK(r->gkid.len >= 1 && r->gkid.len <= H225_GKID_MAX);
			CHECK(feed_inside(r->gkid, text, cap) && feed_inside(r->name, text, cap) &&
			      feed_inside(r->standby, text, cap));
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
		      feed_inside(name, buf, sizeof buf));
	else
		CHECK(name.len == 0 && standby.len == 0);
	if (h225_alias_domain(s, buf, sizeof buf, &dom) == 0)
		CHECK(dom.len > 0 && lower_name(dom) && feed_inside(dom, buf, sizeof buf));
}

/* A refusal is whole TPKT frames, each a GRJ or RRJ over H.460.17 or a
 * RELEASE COMPLETE with cause 3, which our reader reads back. */
static void check_refusal(const struct feed *f, enum pbx_reason reason, const uint8_t *m,
			  size_t n, const uint8_t *p, size_t len)
{
	static char text[256];
	size_t off = 0, fl;

	(void)f;
	(void)reason;
	(void)p;
	(void)len;
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

static void check_request(const struct feed *f, void *st, const struct pbx_verdict *v,
			  const uint8_t *c, size_t have)
{
	size_t sn = f->in->state_size, fl = 0;

	switch (v->kind) {
	case PBX_V_ROUTE:
		CHECK(h225_tpkt_frame(c, have, &fl) == 0 && v->head_len == fl);
		CHECK(v->head_len > 4 && v->head_len <= f->max_head);
		CHECK(v->body == PBX_BODY_NONE && (v->flags & PBX_VF_REQUEST));
		CHECK(!(v->flags & ~(unsigned)(PBX_VF_REQUEST | PBX_VF_CREDENTIALS)));
		CHECK(v->name.len > 0 && feed_inside(v->name, st, sn) && lower_name(v->name));
		CHECK(feed_inside(v->standby, st, sn) && lower_name(v->standby));
		CHECK(v->user.len == 0 && v->url.len == 0 && v->method.len == 0);
		CHECK(v->n_aliases <= PBX_VERDICT_ALIASES);
		for (size_t i = 0; i < v->n_aliases; i++)
			CHECK(v->aliases[i].len > 0 && feed_inside(v->aliases[i], st, sn));
		break;
	case PBX_V_PASS:
		CHECK(h225_tpkt_frame(c, have, &fl) == 0 && v->head_len == fl);
		CHECK(v->head_len >= 4 && v->body == PBX_BODY_NONE);
		CHECK(v->flags == (v->head_len == 4 ? 0u : (unsigned)PBX_VF_REQUEST));
		CHECK(v->name.len == 0 && v->standby.len == 0 && v->n_aliases == 0);
		break;
	case PBX_V_REFUSE:
		CHECK(v->reason == PBX_R_MALFORMED || v->reason == PBX_R_TOO_LARGE ||
		      v->reason == PBX_R_UNSUPPORTED || v->reason == PBX_R_NO_NAME ||
		      v->reason == PBX_R_OTHER_SERVICE);
		break;
	default:
		break;
	}
}

static void check_reply(const struct feed *f, void *st, const struct pbx_reply *r,
			const uint8_t *c, size_t have)
{
	size_t fl = 0;
	int frc = h225_tpkt_frame(c, have, &fl);

	(void)st;
	switch (r->kind) {
	case PBX_V_NEED_MORE:
		CHECK(r->status == -1);
		break;
	case PBX_V_REFUSE:
		CHECK(r->reason == PBX_R_MALFORMED || r->reason == PBX_R_TOO_LARGE);
		break;
	case PBX_V_PASS:
		CHECK(frc == 0 && r->flags == 0);
		CHECK(!r->rejection || (r->final && (r->status == H225_GRJ_SECURITY_DENIAL ||
						     r->status == H225_RRJ_SECURITY_DENIAL)));
		CHECK(r->status == -1 || r->final);
		if (r->body == PBX_BODY_NONE) {
			CHECK(r->head_len == fl && fl <= f->max_head && fl <= have);
		} else {
			CHECK(r->body == PBX_BODY_LENGTH && r->head_len == 4 && fl > f->max_head);
			CHECK(r->body_len == fl - 4 && !r->rejection && r->status == -1);
		}
		break;
	default:
		break;
	}
}

static const struct feed_ops h323_ops = {
	.request = check_request,
	/* rpd may still refuse a routed message: unknown name, no target ... */
	.decided = feed_refuse_decided,
	.reply = check_reply,
	.refusal = check_refusal,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct feed f = {
		.in = h323(),
		.ops = &h323_ops,
		.step = (size_t)(data[0] & 0x3f) + 1,
		.max_head = max_heads[data[0] >> 6],
	};
	const uint8_t *p = data + 1;
	size_t n = size - 1;

	frames(p, n);

	void *st = feed_state(f.in, f.max_head);
	feed_requests(&f, st, p, n);
	free(st);
	st = feed_state(f.in, f.max_head);
	feed_replies(&f, st, p, n);
	free(st);

	/* Whatever arrived, refused at any point. */
	feed_refuse_fresh(&f, p, n);
	return 0;
}
