/* fuzz_http.c - fuzzes the HTTP/1.1 inspector as rpd drives it: request
 * and reply heads arriving in pieces, bodies skipped by length or by
 * pbx_http_chunks, and every refusal read back as a reply.
 *
 * Input: one selector byte, then the bytes of the connection.  The
 * selector's low 7 bits are the size of the pieces the bytes arrive in (0:
 * all at once); its high bit picks a small head bound (256 bytes, so that
 * too-large is reached often) over rpd's default (16 KiB). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/http.h>
#include <pbxedge/inspect.h>

#include "inspect_feed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

/* A routed path, percent-decoded, holds no dot-segment (path parameters
 * cut off), no backslash and no NUL, and decodes no '/': what the
 * service normalises is what rpd checked.  Written apart from the
 * inspector's own check, as a second opinion. */
static void check_normal_path(struct pbx_span url)
{
	uint8_t seg[8192];
	size_t n = 0, i = 0;
	bool params = false;

	if (url.len == 1 && url.p[0] == '*')
		return;
	CHECK(url.len && url.p[0] == '/');
	for (i = 1; i <= url.len; i++) {
		uint8_t c = i < url.len ? (uint8_t)url.p[i] : '/';
		if (c == '?')
			c = '/', i = url.len;
		if (c == '/') {
			bool dot = n == 1 && seg[0] == '.';
			bool dotdot = n == 2 && seg[0] == '.' && seg[1] == '.';
			CHECK(!dot && !dotdot);
			n = 0;
			params = false;
			continue;
		}
		if (c == '%') {
			CHECK(i + 2 < url.len && hexval((uint8_t)url.p[i + 1]) >= 0 &&
			      hexval((uint8_t)url.p[i + 2]) >= 0);
			c = (uint8_t)(hexval((uint8_t)url.p[i + 1]) * 16 +
				      hexval((uint8_t)url.p[i + 2]));
			i += 2;
			CHECK(c != '/');
		}
		if (c == ';')
			params = true;
		CHECK(c != '\\' && c != 0);
		if (!params && n < sizeof seg)
			seg[n++] = c;
	}
}

/* After the shared checks: a routed request's head, spans, framing and
 * URL. */
static void check_request(const struct feed *f, void *st, const struct pbx_verdict *v,
			  const uint8_t *c, size_t n)
{
	(void)st;
	(void)n;
	switch (v->kind) {
	case PBX_V_ROUTE:
		CHECK(v->head_len <= f->max_head);
		CHECK(v->head_len >= 4 && memcmp(c + v->head_len - 4, "\r\n\r\n", 4) == 0);
		CHECK(v->xff_end_of_head + 2 == v->head_len && v->xff_at < v->head_len);
		CHECK((v->flags & PBX_VF_REQUEST) && v->reason == PBX_R_NONE);
		CHECK(v->name.len && v->url.len && v->method.len && !v->user.len);
		CHECK(feed_inside(v->name, c, v->head_len));
		CHECK(feed_inside(v->url, c, v->head_len));
		CHECK(feed_inside(v->method, c, v->head_len));
		CHECK((unsigned)v->body <= PBX_BODY_CHUNKED &&
		      (v->body == PBX_BODY_LENGTH) == (v->body_len > 0));
		check_normal_path(v->url);
		/* The allowed-URL rule, from its definition. */
		if (pbx_url_allowed(v->url, "/PBX0/APPS/")) {
			struct pbx_span path = v->url;
			const char *q = memchr(path.p, '?', path.len);
			if (q)
				path.len = (size_t)(q - path.p);
			CHECK(path.len >= 11 && memcmp(path.p, "/PBX0/APPS/", 11) == 0 &&
			      !memchr(path.p + 11, '/', path.len - 11));
		}
		break;
	case PBX_V_REFUSE:
		CHECK(v->offset <= f->max_head);
		break;
	case PBX_V_PASS:
		/* Every request routes by its Host. */
		abort();
	default:
		break;
	}
}

/* Scan a chunked body in pieces; must agree with one scan of it all. */
static int chunks(const struct feed *f, const uint8_t *p, size_t len, size_t *used)
{
	struct pbx_chunks a, b;
	size_t u, total = 0, n = 0;
	int rc = 0;

	memset(&a, 0, sizeof a);
	while (rc == 0 && total < len) {
		size_t end = feed_next_len(f, n, len);
		uint8_t *c = feed_copy(p + n, end - n);
		rc = pbx_http_chunks(&a, c, end - n, &u);
		free(c);
		CHECK(u <= end - n && (rc != 0 || u == end - n));
		total += u;
		n = end;
	}
	memset(&b, 0, sizeof b);
	int whole = pbx_http_chunks(&b, p, len, &u);
	CHECK(whole == rc && u == total && u <= len);
	CHECK(rc >= 0 || rc == PBX_E_MALFORMED || rc == PBX_E_TOOLONG);
	*used = total;
	return rc;
}

/* Bodies are skipped by length or by pbx_http_chunks; after an upgrade the
 * bytes are another protocol's, and a body until the close is the rest. */
static bool reach(const struct feed *f, unsigned flags, enum pbx_body body, uint64_t body_len,
		  const uint8_t *p, size_t avail, size_t *used)
{
	if ((flags & PBX_VF_UPGRADE) || body == PBX_BODY_CLOSE)
		return false;
	if (body == PBX_BODY_CHUNKED)
		return chunks(f, p, avail, used) == 1;
	return feed_body_reach(f, flags, body, body_len, p, avail, used);
}

static void check_reply(const struct feed *f, void *st, const struct pbx_reply *r,
			const uint8_t *c, size_t n)
{
	(void)st;
	(void)c;
	(void)n;
	switch (r->kind) {
	case PBX_V_PASS:
		CHECK(r->head_len <= f->max_head);
		CHECK(r->status >= 100 && r->status <= 599);
		CHECK(r->final == (r->status >= 200 || r->status == 101));
		/* 403 always rejects; 401/407 only after credentials, which
		 * depends on the requests fed before. */
		CHECK(r->status == 403 ? r->rejection
				       : !r->rejection || r->status == 401 || r->status == 407);
		CHECK((unsigned)r->body <= PBX_BODY_CLOSE &&
		      (r->body == PBX_BODY_LENGTH) == (r->body_len > 0));
		CHECK(r->status >= 200 || r->body == PBX_BODY_NONE);
		break;
	case PBX_V_REFUSE:
		CHECK(r->reason == PBX_R_MALFORMED || r->reason == PBX_R_TOO_LARGE);
		break;
	default:
		break;
	}
}

/* Does the (perhaps partial) request in p ask for HEAD?  Then its
 * refusal carries no content. */
static bool asks_head(const uint8_t *p, size_t len)
{
	size_t i = 0;
	while (len - i >= 2 && p[i] == '\r' && p[i + 1] == '\n')
		i += 2;
	return len - i >= 5 && memcmp(p + i, "HEAD ", 5) == 0;
}

/* A refusal reads back as one complete reply that closes the connection,
 * as the reply to a HEAD if the request was one. */
static void check_refusal(const struct feed *f, enum pbx_reason reason, const uint8_t *m,
			  size_t n, const uint8_t *p, size_t len)
{
	static const char head[] = "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n";
	void *st = feed_state(f->in, f->max_head);
	bool is_head = asks_head(p, len);

	(void)reason;
	if (is_head) {
		struct pbx_verdict v;
		f->in->request(st, (const uint8_t *)head, sizeof head - 1, &v);
		CHECK(v.kind == PBX_V_ROUTE);
	}
	struct pbx_reply r;
	f->in->reply(st, m, n, &r);
	CHECK(r.kind == PBX_V_PASS && r.final && (r.flags & PBX_VF_CLOSE));
	CHECK(r.status >= 400 && r.status <= 599 && r.rejection == (r.status == 403));
	CHECK(r.head_len + r.body_len == n || (is_head && r.head_len == n));
	free(st);
}

static const struct feed_ops http_ops = {
	.request = check_request,
	.reply = check_reply,
	.reach = reach,
	.refusal = check_refusal,
	.same_fresh = true,
	.answers_all = true,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	struct feed f = {
		.in = pbx_inspector_for(STORE_FAMILY_HTTP),
		.ops = &http_ops,
		.step = data[0] & 0x7f,
		.max_head = data[0] & 0x80 ? 256 : 16384,
	};
	CHECK(f.in);
	const uint8_t *p = data + 1;
	size_t len = size - 1;

	/* One state for both directions, as rpd keeps per connection. */
	void *st = feed_state(f.in, f.max_head);
	feed_requests(&f, st, p, len);
	feed_replies(&f, st, p, len);
	free(st);

	size_t used;
	chunks(&f, p, len, &used);
	feed_refuse_fresh(&f, p, len);
	return 0;
}
