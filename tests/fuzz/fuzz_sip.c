/* fuzz_sip.c - fuzzes the SIP inspector (lib/inspect/sip.c) the way rpd
 * drives it: requests and replies arriving in pieces, message after
 * message, and refusals for every reason read back as responses.
 *
 * Input: one selector byte, then the stream.  The selector's low six bits
 * give the size of the pieces (1-64 bytes), its top two bits the head
 * bound (64, 512, 4096 or 65536 bytes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/inspect.h>

#include "inspect_feed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const size_t head_bounds[4] = { 64, 512, 4096, 65536 };

/* The status each reason is refused with (0: nothing is written). */
static const int refusal_status[PBX_R_COUNT] = {
	[PBX_R_MALFORMED] = 400, [PBX_R_AMBIGUOUS] = 400, [PBX_R_NO_NAME] = 400,
	[PBX_R_TOO_LARGE] = 513, [PBX_R_UNSUPPORTED] = 501, [PBX_R_UNKNOWN_NAME] = 404,
	[PBX_R_NO_TARGET] = 404, [PBX_R_SOURCE_DENIED] = 403, [PBX_R_URL_DENIED] = 403,
	[PBX_R_OTHER_SERVICE] = 403, [PBX_R_BAD_CERT] = 403, [PBX_R_TIMEOUT] = 408,
	[PBX_R_TARGET_FAILED] = 503,
};

static void check_verdict(const struct feed *f, void *st, const struct pbx_verdict *v,
			  const uint8_t *p, size_t len)
{
	(void)st;
	(void)len;
	switch (v->kind) {
	case PBX_V_REFUSE:
		CHECK(v->offset <= f->max_head);
		CHECK(v->reason == PBX_R_MALFORMED || v->reason == PBX_R_TOO_LARGE ||
		      v->reason == PBX_R_AMBIGUOUS || v->reason == PBX_R_NO_NAME);
		return;
	case PBX_V_ROUTE:
		CHECK((v->flags & PBX_VF_REQUEST) && v->name.len && v->method.len);
		break;
	case PBX_V_PASS:
		CHECK(!v->flags && !v->name.len && !v->user.len && !v->method.len);
		break;
	default:
		return;
	}
	CHECK(v->head_len <= f->max_head);
	CHECK((v->body == PBX_BODY_NONE) == (v->body_len == 0) &&
	      (v->body == PBX_BODY_NONE || v->body == PBX_BODY_LENGTH));
	CHECK(!(v->flags & ~(unsigned)(PBX_VF_REQUEST | PBX_VF_CREDENTIALS)));
	/* Spans lie inside the head. */
	CHECK(feed_inside(v->name, p, v->head_len));
	CHECK(feed_inside(v->user, p, v->head_len));
	CHECK(feed_inside(v->method, p, v->head_len));
	CHECK(!v->url.len && !v->xff_at && !v->xff_end_of_head);
}

/* Every message, whatever its verdict, may be refused. */
static void refuse_message(const struct feed *f, void *st, const struct pbx_verdict *v,
			   const uint8_t *p, size_t len)
{
	(void)st;
	(void)v;
	feed_refuse_fresh(f, p, len);
}

static void check_reply(const struct feed *f, void *st, const struct pbx_reply *r,
			const uint8_t *p, size_t len)
{
	(void)st;
	(void)p;
	(void)len;
	switch (r->kind) {
	case PBX_V_REFUSE:
		CHECK(r->reason == PBX_R_MALFORMED || r->reason == PBX_R_TOO_LARGE ||
		      r->reason == PBX_R_AMBIGUOUS);
		return;
	case PBX_V_PASS:
		break;
	default:
		return;
	}
	CHECK(r->head_len <= f->max_head);
	CHECK((r->body == PBX_BODY_NONE) == (r->body_len == 0) &&
	      (r->body == PBX_BODY_NONE || r->body == PBX_BODY_LENGTH));
	CHECK(!(r->flags & ~(unsigned)PBX_VF_REQUEST));
	if (r->status == -1)
		CHECK(!r->final && !r->rejection);
	else
		CHECK(r->status >= 100 && r->status <= 699 && !(r->flags & PBX_VF_REQUEST) &&
		      r->final == (r->status >= 200));
	CHECK(!r->rejection || r->status == 401 || r->status == 403 || r->status == 407);
	CHECK(r->status != 403 || r->rejection);
}

/* A refusal is one whole response with the right status, which the
 * inspector itself reads back as such. */
static void check_refusal(const struct feed *f, enum pbx_reason reason, const uint8_t *m,
			  size_t n, const uint8_t *p, size_t len)
{
	(void)p;
	(void)len;
	CHECK(refusal_status[reason] && n >= 12 && memcmp(m, "SIP/2.0 ", 8) == 0 &&
	      memcmp(m + n - 4, "\r\n\r\n", 4) == 0);
	/* Read it back with room for it whatever the bound was. */
	void *st = feed_state(f->in, FEED_REFUSAL_CAP);
	struct pbx_reply r;
	f->in->reply(st, m, n, &r);
	free(st);
	CHECK(r.kind == PBX_V_PASS && r.head_len == n && r.body == PBX_BODY_NONE &&
	      r.status == refusal_status[reason] && r.final && !r.flags);
}

static const struct feed_ops sip_ops = {
	.request = check_verdict,
	.decided = refuse_message,
	.reply = check_reply,
	.refusal = check_refusal,
	.same_fresh = true,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct feed f = {
		.in = pbx_inspector_for(STORE_FAMILY_SIP),
		.ops = &sip_ops,
		.step = (size_t)(data[0] & 0x3f) + 1,
		.max_head = head_bounds[data[0] >> 6],
	};
	CHECK(f.in);
	data++;
	size--;

	/* One connection: the requests first, so that the replies can be
	 * matched to what was remembered of them. */
	void *st = feed_state(f.in, f.max_head);
	feed_requests(&f, st, data, size);
	feed_replies(&f, st, data, size);
	free(st);
	return 0;
}
