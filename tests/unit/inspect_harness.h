/* inspect_harness.h - shared checks for inspector tests: every vector is
 * fed whole, byte by byte, and split in two at every offset, as rpd would
 * receive it over TCP, and must give the same verdict each way. */
#ifndef INSPECT_HARNESS_H
#define INSPECT_HARNESS_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/inspect.h>

#define HARNESS_STATE_MAX 65536

static void *harness_state(const struct pbx_inspector *in, size_t max_head)
{
	ck_assert_uint_le(in->state_size, HARNESS_STATE_MAX);
	void *st = calloc(1, in->state_size ? in->state_size : 1);
	ck_assert_ptr_nonnull(st);
	in->init(st, max_head);
	return st;
}

/* Offset of a span inside buf (len bytes), (size_t)-1 for an empty span,
 * or (size_t)-2 for a span outside buf (in the inspector's state). */
static size_t harness_off(struct pbx_span s, const uint8_t *buf, size_t len)
{
	if (!s.p || !s.len)
		return (size_t)-1;
	if ((const uint8_t *)s.p < buf || (const uint8_t *)s.p >= buf + len)
		return (size_t)-2;
	return (size_t)((const uint8_t *)s.p - buf);
}

/* Two spans are the same: at the same offset of their buffers, or, when
 * they point into state, with the same content. */
static void harness_same_span(struct pbx_span a, const uint8_t *abuf, size_t alen,
			      struct pbx_span b, const uint8_t *bbuf, size_t blen, const char *how,
			      const char *what)
{
	ck_assert_msg(a.len == b.len, "%s: %s length %zu vs %zu", how, what, a.len, b.len);
	size_t oa = harness_off(a, abuf, alen), ob = harness_off(b, bbuf, blen);
	ck_assert_msg(oa == ob, "%s: %s position", how, what);
	if (oa == (size_t)-2)
		ck_assert_msg(memcmp(a.p, b.p, a.len) == 0, "%s: %s content", how, what);
}

static void harness_same_verdict(const struct pbx_verdict *a, const uint8_t *abuf,
				 size_t alen, const struct pbx_verdict *b, const uint8_t *bbuf,
				 size_t blen, const char *how)
{
	ck_assert_msg(a->kind == b->kind, "%s: kind %d vs %d", how, a->kind, b->kind);
	ck_assert_msg(a->reason == b->reason, "%s: reason %s vs %s", how,
		      pbx_reason_name(a->reason), pbx_reason_name(b->reason));
	if (a->kind == PBX_V_NEED_MORE)
		return;
	if (a->kind == PBX_V_REFUSE) {
		ck_assert_msg(a->offset == b->offset, "%s: offset %zu vs %zu", how, a->offset,
			      b->offset);
		return;
	}
	ck_assert_msg(a->head_len == b->head_len, "%s: head_len %zu vs %zu", how, a->head_len,
		      b->head_len);
	ck_assert_msg(a->body == b->body, "%s: body %d vs %d", how, a->body, b->body);
	ck_assert_msg(a->body_len == b->body_len, "%s: body_len", how);
	ck_assert_msg(a->flags == b->flags, "%s: flags %#x vs %#x", how, a->flags, b->flags);
	ck_assert_msg(a->xff_at == b->xff_at && a->xff_end_of_head == b->xff_end_of_head,
		      "%s: xff offsets", how);
	harness_same_span(a->name, abuf, alen, b->name, bbuf, blen, how, "name");
	harness_same_span(a->user, abuf, alen, b->user, bbuf, blen, how, "user");
	harness_same_span(a->url, abuf, alen, b->url, bbuf, blen, how, "url");
	harness_same_span(a->method, abuf, alen, b->method, bbuf, blen, how, "method");
	harness_same_span(a->standby, abuf, alen, b->standby, bbuf, blen, how, "standby");
	ck_assert_msg(a->n_aliases == b->n_aliases, "%s: aliases %zu vs %zu", how,
		      a->n_aliases, b->n_aliases);
	for (size_t i = 0; i < a->n_aliases && i < PBX_VERDICT_ALIASES; i++)
		harness_same_span(a->aliases[i], abuf, alen, b->aliases[i], bbuf, blen, how,
				  "alias");
}

/* The state of the whole-buffer call, which *out's spans may point into. */
static void *harness_out_state;

/* Feed one message (with perhaps more after it) as rpd would and check
 * that whole, byte-by-byte and every two-part split agree.  The verdict
 * for the whole buffer is returned in *out; *decided_at gets the smallest
 * prefix length that produced it.  Each call gets its own copy of the
 * prefix in a buffer of exactly that size, so reads past len are caught
 * by ASan. */
static void harness_request(const struct pbx_inspector *in, const void *buf, size_t len,
			    size_t max_head, struct pbx_verdict *out, size_t *decided_at)
{
	const uint8_t *b = buf;
	void *st = harness_state(in, max_head);
	uint8_t *whole_copy = malloc(len ? len : 1);
	memcpy(whole_copy, b, len);
	memset(out, 0, sizeof *out);
	in->request(st, whole_copy, len, out);
	/* *out's spans may point into this state (names converted or
	 * joined there): it lives until the next call. */
	free(harness_out_state);
	harness_out_state = st;

	/* Byte by byte. */
	st = harness_state(in, max_head);
	size_t k0 = 0;
	struct pbx_verdict v;
	for (size_t k = 1; k <= len; k++) {
		uint8_t *c = malloc(k);
		memcpy(c, b, k);
		memset(&v, 0, sizeof v);
		in->request(st, c, k, &v);
		if (v.kind != PBX_V_NEED_MORE) {
			harness_same_verdict(&v, c, k, out, whole_copy, len, "byte by byte");
			k0 = k;
			free(c);
			break;
		}
		free(c);
	}
	free(st);
	if (out->kind == PBX_V_NEED_MORE)
		ck_assert_msg(k0 == 0, "byte by byte decided where the whole did not");
	else
		ck_assert_msg(k0 != 0, "byte by byte never decided");

	/* Two parts: every split point. */
	for (size_t s = 1; s < len; s++) {
		st = harness_state(in, max_head);
		uint8_t *c = malloc(s);
		memcpy(c, b, s);
		memset(&v, 0, sizeof v);
		in->request(st, c, s, &v);
		free(c);
		if (v.kind == PBX_V_NEED_MORE) {
			uint8_t *d = malloc(len);
			memcpy(d, b, len);
			memset(&v, 0, sizeof v);
			in->request(st, d, len, &v);
			harness_same_verdict(&v, d, len, out, whole_copy, len, "split");
			free(d);
		} else {
			ck_assert_msg(s >= k0, "split at %zu decided before byte-by-byte (%zu)", s, k0);
		}
		free(st);
	}
	free(whole_copy);
	if (decided_at)
		*decided_at = k0;
}

static void harness_same_reply(const struct pbx_reply *a, const struct pbx_reply *b,
			       const char *how)
{
	ck_assert_msg(a->kind == b->kind, "%s: kind %d vs %d", how, a->kind, b->kind);
	ck_assert_msg(a->reason == b->reason, "%s: reason", how);
	if (a->kind == PBX_V_NEED_MORE || a->kind == PBX_V_REFUSE)
		return;
	ck_assert_msg(a->head_len == b->head_len, "%s: head_len %zu vs %zu", how, a->head_len,
		      b->head_len);
	ck_assert_msg(a->body == b->body && a->body_len == b->body_len, "%s: body", how);
	ck_assert_msg(a->flags == b->flags, "%s: flags", how);
	ck_assert_msg(a->status == b->status, "%s: status %d vs %d", how, a->status, b->status);
	ck_assert_msg(a->final == b->final && a->rejection == b->rejection, "%s: final/rejection",
		      how);
}

/* The same for a reply; prepare (may be NULL) is run on each fresh state
 * first, e.g. to feed the request the reply answers. */
static void harness_reply(const struct pbx_inspector *in, const void *buf, size_t len,
			  size_t max_head, void (*prepare)(void *state), struct pbx_reply *out)
{
	const uint8_t *b = buf;
	void *st = harness_state(in, max_head);
	if (prepare)
		prepare(st);
	uint8_t *whole_copy = malloc(len ? len : 1);
	memcpy(whole_copy, b, len);
	memset(out, 0, sizeof *out);
	in->reply(st, whole_copy, len, out);
	free(st);
	free(whole_copy);

	st = harness_state(in, max_head);
	if (prepare)
		prepare(st);
	bool decided = false;
	for (size_t k = 1; k <= len && !decided; k++) {
		uint8_t *c = malloc(k);
		memcpy(c, b, k);
		struct pbx_reply r;
		memset(&r, 0, sizeof r);
		in->reply(st, c, k, &r);
		if (r.kind != PBX_V_NEED_MORE) {
			harness_same_reply(&r, out, "reply byte by byte");
			decided = true;
		}
		free(c);
	}
	free(st);
	ck_assert_msg(decided == (out->kind != PBX_V_NEED_MORE), "reply byte by byte");

	for (size_t s = 1; s < len; s++) {
		st = harness_state(in, max_head);
		if (prepare)
			prepare(st);
		uint8_t *c = malloc(s);
		memcpy(c, b, s);
		struct pbx_reply r;
		memset(&r, 0, sizeof r);
		in->reply(st, c, s, &r);
		free(c);
		if (r.kind == PBX_V_NEED_MORE) {
			uint8_t *d = malloc(len);
			memcpy(d, b, len);
			memset(&r, 0, sizeof r);
			in->reply(st, d, len, &r);
			harness_same_reply(&r, out, "reply split");
			free(d);
		}
		free(st);
	}
}

#endif
