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

static void *new_state(const struct pbx_inspector *in, size_t max_head)
{
	void *st = calloc(1, in->state_size);
	if (!st)
		abort();
	in->init(st, max_head);
	return st;
}

/* A heap copy of exactly n bytes, so that ASan catches a read past n. */
static uint8_t *exact(const uint8_t *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);
	if (!q)
		abort();
	if (n)
		memcpy(q, p, n);
	return q;
}

/* A span must be empty or lie inside the head. */
static void check_span(struct pbx_span s, const uint8_t *p, size_t head_len)
{
	if (s.len == 0)
		return;
	const uint8_t *q = (const uint8_t *)s.p;
	if (q < p || q > p + head_len || s.len > head_len - (size_t)(q - p))
		abort();
}

static void check_verdict(const struct pbx_verdict *v, const uint8_t *p, size_t len,
			  size_t max_head)
{
	switch (v->kind) {
	case PBX_V_NEED_MORE:
		if (len >= max_head)
			abort();
		return;
	case PBX_V_REFUSE:
		if (v->offset > len || v->offset > max_head)
			abort();
		if (v->reason != PBX_R_MALFORMED && v->reason != PBX_R_TOO_LARGE &&
		    v->reason != PBX_R_AMBIGUOUS && v->reason != PBX_R_NO_NAME)
			abort();
		return;
	case PBX_V_ROUTE:
		if (!(v->flags & PBX_VF_REQUEST) || v->name.len == 0 || v->method.len == 0)
			abort();
		break;
	case PBX_V_PASS:
		if (v->flags || v->name.len || v->user.len || v->method.len)
			abort();
		break;
	default:
		abort();
	}
	if (v->head_len == 0 || v->head_len > len || v->head_len > max_head)
		abort();
	if ((v->body == PBX_BODY_NONE) != (v->body_len == 0) ||
	    (v->body != PBX_BODY_NONE && v->body != PBX_BODY_LENGTH))
		abort();
	if (v->flags & ~(unsigned)(PBX_VF_REQUEST | PBX_VF_CREDENTIALS))
		abort();
	check_span(v->name, p, v->head_len);
	check_span(v->user, p, v->head_len);
	check_span(v->method, p, v->head_len);
	if (v->url.len || v->xff_at || v->xff_end_of_head)
		abort();
}

static size_t span_off(struct pbx_span s, const uint8_t *p)
{
	return s.len ? (size_t)((const uint8_t *)s.p - p) : (size_t)-1;
}

/* The verdict on a prefix does not depend on how it arrived: a fresh
 * state given it whole answers the same. */
static void check_same(const struct pbx_inspector *in, size_t max_head,
		       const struct pbx_verdict *v, const uint8_t *p, size_t len)
{
	void *st = new_state(in, max_head);
	struct pbx_verdict w;
	in->request(st, p, len, &w);
	free(st);
	if (w.kind != v->kind || w.reason != v->reason)
		abort();
	if (v->kind == PBX_V_REFUSE) {
		if (w.offset != v->offset)
			abort();
		return;
	}
	if (w.head_len != v->head_len || w.body != v->body || w.body_len != v->body_len ||
	    w.flags != v->flags || span_off(w.name, p) != span_off(v->name, p) ||
	    w.name.len != v->name.len || span_off(w.user, p) != span_off(v->user, p) ||
	    w.user.len != v->user.len || span_off(w.method, p) != span_off(v->method, p))
		abort();
}

/* Every refusal is either nothing or one whole response with the right
 * status, which the inspector itself reads back as such. */
static void check_refusals(const struct pbx_inspector *in, size_t max_head, const uint8_t *p,
			   size_t len)
{
	static uint8_t out[4096];

	for (int reason = 0; reason < PBX_R_COUNT; reason++) {
		void *st = new_state(in, max_head);
		struct pbx_writer w;
		pbx_writer_init(&w, out, sizeof out);
		in->refuse(st, p, len, (enum pbx_reason)reason, &w);
		free(st);
		size_t n = pbx_writer_len(&w);
		if (n == 0)
			continue;
		if (!refusal_status[reason] || pbx_writer_error(&w) || n < 12 ||
		    memcmp(out, "SIP/2.0 ", 8) != 0 || memcmp(out + n - 4, "\r\n\r\n", 4) != 0)
			abort();
		/* Read it back with room for it whatever the bound was. */
		uint8_t *copy = exact(out, n);
		st = new_state(in, sizeof out);
		struct pbx_reply r;
		in->reply(st, copy, n, &r);
		free(st);
		free(copy);
		if (r.kind != PBX_V_PASS || r.head_len != n || r.body != PBX_BODY_NONE ||
		    r.status != refusal_status[reason] || !r.final || r.flags)
			abort();
	}
}

/* Feed the stream to request() as rpd does: growing prefixes of the next
 * message until a verdict, then past the message. */
static void run_requests(const struct pbx_inspector *in, void *st, size_t max_head,
			 size_t step, const uint8_t *data, size_t size)
{
	size_t pos = 0;

	while (pos < size) {
		size_t rest = size - pos, got = 0;
		struct pbx_verdict v;
		uint8_t *p = NULL;
		do {
			free(p);
			got = got + step < rest ? got + step : rest;
			p = exact(data + pos, got);
			memset(&v, 0x5a, sizeof v);
			in->request(st, p, got, &v);
			check_verdict(&v, p, got, max_head);
		} while (v.kind == PBX_V_NEED_MORE && got < rest);
		if (v.kind != PBX_V_NEED_MORE)
			check_same(in, max_head, &v, p, got);
		check_refusals(in, max_head, p, got);
		free(p);
		if (v.kind == PBX_V_NEED_MORE || v.kind == PBX_V_REFUSE)
			return;
		if (v.body_len > rest - v.head_len)
			return;
		pos += v.head_len + (size_t)v.body_len;
	}
}

static void check_reply(const struct pbx_reply *r, size_t len, size_t max_head)
{
	switch (r->kind) {
	case PBX_V_NEED_MORE:
		if (len >= max_head)
			abort();
		return;
	case PBX_V_REFUSE:
		if (r->reason != PBX_R_MALFORMED && r->reason != PBX_R_TOO_LARGE &&
		    r->reason != PBX_R_AMBIGUOUS)
			abort();
		return;
	case PBX_V_PASS:
		break;
	default:
		abort();
	}
	if (r->head_len == 0 || r->head_len > len || r->head_len > max_head)
		abort();
	if ((r->body == PBX_BODY_NONE) != (r->body_len == 0) ||
	    (r->body != PBX_BODY_NONE && r->body != PBX_BODY_LENGTH))
		abort();
	if (r->flags & ~(unsigned)PBX_VF_REQUEST)
		abort();
	if (r->status == -1) {
		if (r->final || r->rejection)
			abort();
	} else if (r->status < 100 || r->status > 699 || (r->flags & PBX_VF_REQUEST) ||
		   r->final != (r->status >= 200)) {
		abort();
	}
	if (r->rejection && r->status != 401 && r->status != 403 && r->status != 407)
		abort();
	if (r->status == 403 && !r->rejection)
		abort();
}

static void run_replies(const struct pbx_inspector *in, void *st, size_t max_head,
			size_t step, const uint8_t *data, size_t size)
{
	size_t pos = 0;

	while (pos < size) {
		size_t rest = size - pos, got = 0;
		struct pbx_reply r;
		do {
			got = got + step < rest ? got + step : rest;
			uint8_t *p = exact(data + pos, got);
			memset(&r, 0x5a, sizeof r);
			in->reply(st, p, got, &r);
			free(p);
			check_reply(&r, got, max_head);
		} while (r.kind == PBX_V_NEED_MORE && got < rest);
		if (r.kind != PBX_V_PASS || r.body_len > rest - r.head_len)
			return;
		pos += r.head_len + (size_t)r.body_len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct pbx_inspector *in = pbx_inspector_for(STORE_FAMILY_SIP);
	if (!in || size < 1)
		return 0;
	size_t step = (size_t)(data[0] & 0x3f) + 1;
	size_t max_head = head_bounds[data[0] >> 6];
	data++;
	size--;

	/* One connection: the requests first, so that the replies can be
	 * matched to what was remembered of them. */
	void *st = new_state(in, max_head);
	run_requests(in, st, max_head, step, data, size);
	run_replies(in, st, max_head, step, data, size);
	free(st);
	return 0;
}
