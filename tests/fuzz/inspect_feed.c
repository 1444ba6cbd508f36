/* inspect_feed.c - the inspector fuzz targets' shared driver: feeding as
 * rpd feeds, and the checks that hold for every protocol. */
#include "inspect_feed.h"

#include <string.h>

/* Answers are filled with this first, so that a field the inspector
 * leaves unset fails the checks rather than passing as zero. */
#define POISON 0xa5

void *feed_state(const struct pbx_inspector *in, size_t max_head)
{
	void *st = calloc(1, in->state_size ? in->state_size : 1);
	CHECK(st);
	in->init(st, max_head);
	return st;
}

uint8_t *feed_copy(const void *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);
	CHECK(q);
	if (n)
		memcpy(q, p, n);
	return q;
}

bool feed_inside(struct pbx_span s, const void *base, size_t n)
{
	uintptr_t b = (uintptr_t)base, q = (uintptr_t)s.p;
	return s.len == 0 || (s.p && q >= b && s.len <= n && q - b <= n - s.len);
}

size_t feed_next_len(const struct feed *f, size_t n, size_t len)
{
	if (!f->step || len - n <= f->step)
		return len;
	return n + f->step;
}

bool feed_silent(enum pbx_reason reason)
{
	switch (reason) {
	case PBX_R_NONE:
	case PBX_R_BLACKLISTED:
	case PBX_R_TLS_FAILED:
	case PBX_R_REJECTED:
	case PBX_R_CLIENT_CLOSED:
	case PBX_R_IDLE:
	case PBX_R_SERVICE_MALFORMED:
		return true;
	default:
		return (unsigned)reason >= PBX_R_COUNT;
	}
}

bool feed_body_reach(const struct feed *f, unsigned flags, enum pbx_body body, uint64_t body_len,
		     const uint8_t *p, size_t avail, size_t *used)
{
	(void)f;
	(void)flags;
	(void)p;
	*used = 0;
	if (body != PBX_BODY_LENGTH)
		return true;
	if (body_len > avail)
		return false;
	*used = (size_t)body_len;
	return true;
}

static bool reach(const struct feed *f, unsigned flags, enum pbx_body body, uint64_t body_len,
		  const uint8_t *p, size_t avail, size_t *used)
{
	if (f->ops->reach)
		return f->ops->reach(f, flags, body, body_len, p, avail, used);
	return feed_body_reach(f, flags, body, body_len, p, avail, used);
}

/* What every request verdict on n bytes holds to. */
static void check_verdict(const struct feed *f, const struct pbx_verdict *v, size_t n)
{
	switch (v->kind) {
	case PBX_V_NEED_MORE:
		/* max_head bytes always decide. */
		CHECK(n < f->max_head);
		break;
	case PBX_V_ROUTE:
	case PBX_V_PASS:
		CHECK(v->head_len > 0 && v->head_len <= n);
		break;
	case PBX_V_REFUSE:
		CHECK(v->offset <= n);
		CHECK(v->reason != PBX_R_NONE && (unsigned)v->reason < PBX_R_COUNT);
		break;
	default:
		abort();
	}
}

/* The same for a reply. */
static void check_reply(const struct feed *f, const struct pbx_reply *r, size_t n)
{
	switch (r->kind) {
	case PBX_V_NEED_MORE:
		CHECK(n < f->max_head);
		break;
	case PBX_V_PASS:
		CHECK(r->head_len > 0 && r->head_len <= n);
		break;
	case PBX_V_REFUSE:
		CHECK(r->reason != PBX_R_NONE && (unsigned)r->reason < PBX_R_COUNT);
		break;
	default:
		abort();
	}
}

/* Two answers on the n bytes at c name the same thing: at the same place
 * in c, or with the same content where they point into states. */
static void same_span(struct pbx_span a, struct pbx_span b, const uint8_t *c, size_t n)
{
	CHECK(a.len == b.len);
	if (!a.len)
		return;
	bool in_a = feed_inside(a, c, n);
	CHECK(in_a == feed_inside(b, c, n));
	CHECK(in_a ? a.p == b.p : memcmp(a.p, b.p, a.len) == 0);
}

/* A fresh state given the n bytes at c whole answers as v. */
static void same_fresh(const struct feed *f, const struct pbx_verdict *v, const uint8_t *c,
		       size_t n)
{
	void *st = feed_state(f->in, f->max_head);
	struct pbx_verdict w;

	memset(&w, POISON, sizeof w);
	f->in->request(st, c, n, &w);
	CHECK(w.kind == v->kind && w.reason == v->reason);
	if (v->kind == PBX_V_REFUSE)
		CHECK(w.offset == v->offset);
	if (v->kind == PBX_V_ROUTE || v->kind == PBX_V_PASS) {
		CHECK(w.head_len == v->head_len && w.body == v->body && w.body_len == v->body_len);
		CHECK(w.flags == v->flags);
		CHECK(w.xff_at == v->xff_at && w.xff_end_of_head == v->xff_end_of_head);
		same_span(w.name, v->name, c, n);
		same_span(w.user, v->user, c, n);
		same_span(w.url, v->url, c, n);
		same_span(w.method, v->method, c, n);
		same_span(w.standby, v->standby, c, n);
		CHECK(w.n_aliases == v->n_aliases && v->n_aliases <= PBX_VERDICT_ALIASES);
		for (size_t i = 0; i < v->n_aliases; i++)
			same_span(w.aliases[i], v->aliases[i], c, n);
	}
	free(st);
}

void feed_requests(const struct feed *f, void *st, const uint8_t *p, size_t len)
{
	size_t off = 0, used;

	while (off < len) {
		size_t rest = len - off, n = 0;
		uint8_t *c = NULL;
		struct pbx_verdict v;
		do {
			free(c);
			n = feed_next_len(f, n, rest);
			c = feed_copy(p + off, n);
			memset(&v, POISON, sizeof v);
			f->in->request(st, c, n, &v);
			check_verdict(f, &v, n);
			if (f->ops->request)
				f->ops->request(f, st, &v, c, n);
		} while (v.kind == PBX_V_NEED_MORE && n < rest);
		if (f->ops->same_fresh)
			same_fresh(f, &v, c, n);
		if (f->ops->decided)
			f->ops->decided(f, st, &v, c, n);
		free(c);
		if (v.kind != PBX_V_ROUTE && v.kind != PBX_V_PASS)
			return;
		if (!reach(f, v.flags, v.body, v.body_len, p + off + v.head_len, rest - v.head_len,
			   &used))
			return;
		off += v.head_len + used;
	}
}

void feed_replies(const struct feed *f, void *st, const uint8_t *p, size_t len)
{
	size_t off = 0, used;

	while (off < len) {
		size_t rest = len - off, n = 0;
		struct pbx_reply r;
		do {
			n = feed_next_len(f, n, rest);
			uint8_t *c = feed_copy(p + off, n);
			memset(&r, POISON, sizeof r);
			f->in->reply(st, c, n, &r);
			check_reply(f, &r, n);
			if (f->ops->reply)
				f->ops->reply(f, st, &r, c, n);
			free(c);
		} while (r.kind == PBX_V_NEED_MORE && n < rest);
		if (r.kind != PBX_V_PASS)
			return;
		if (!reach(f, r.flags, r.body, r.body_len, p + off + r.head_len, rest - r.head_len,
			   &used))
			return;
		off += r.head_len + used;
	}
}

void feed_refusals(const struct feed *f, void *st, const uint8_t *p, size_t len)
{
	static uint8_t out[FEED_REFUSAL_CAP], tight[FEED_REFUSAL_CAP];
	struct pbx_writer w;

	for (int i = 0; i <= PBX_R_COUNT; i++) {
		enum pbx_reason reason = (enum pbx_reason)i;
		pbx_writer_init(&w, out, sizeof out);
		f->in->refuse(st, p, len, reason, &w);
		size_t n = pbx_writer_len(&w);
		CHECK(!pbx_writer_error(&w));
		CHECK(n == 0 || !feed_silent(reason));
		if (f->ops->answers_all)
			CHECK(n > 0 || feed_silent(reason));
		if (n && f->ops->refusal) {
			uint8_t *m = feed_copy(out, n);
			f->ops->refusal(f, reason, m, n, p, len);
			free(m);
		}

		/* With less room: one byte short, nothing at all; with step
		 * bytes, the same bytes or nothing. */
		if (n) {
			pbx_writer_init(&w, tight, n - 1);
			f->in->refuse(st, p, len, reason, &w);
			CHECK(pbx_writer_len(&w) == 0);
		}
		pbx_writer_init(&w, tight, f->step < sizeof tight ? f->step : sizeof tight);
		f->in->refuse(st, p, len, reason, &w);
		size_t tl = pbx_writer_len(&w);
		CHECK(tl == 0 || (tl == n && memcmp(tight, out, n) == 0));
	}
}

void feed_refuse_fresh(const struct feed *f, const uint8_t *p, size_t len)
{
	uint8_t *c = feed_copy(p, len);
	void *st = feed_state(f->in, f->max_head);
	feed_refusals(f, st, len ? c : NULL, len);
	free(st);
	free(c);
}

void feed_refuse_decided(const struct feed *f, void *st, const struct pbx_verdict *v,
			 const uint8_t *c, size_t n)
{
	if (v->kind == PBX_V_ROUTE)
		feed_refusals(f, st, c, v->head_len);
	else if (v->kind == PBX_V_REFUSE)
		feed_refusals(f, st, c, n);
}
