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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WRITER_CAP 4096

struct feed {
	const struct pbx_inspector *in;
	size_t step;      /* piece size, 0 for all at once */
	size_t max_head;
};

static size_t next_len(const struct feed *f, size_t n, size_t len)
{
	if (!f->step || len - n <= f->step)
		return len;
	return n + f->step;
}

/* s must lie inside the len bytes at buf (or be empty). */
static void check_span(struct pbx_span s, const uint8_t *buf, size_t len)
{
	if (!s.len)
		return;
	uintptr_t b = (uintptr_t)buf, q = (uintptr_t)s.p;
	if (q < b || s.len > len || q - b > len - s.len)
		abort();
}

static size_t span_off(struct pbx_span s, const uint8_t *buf)
{
	return s.len ? (size_t)((uintptr_t)s.p - (uintptr_t)buf) : (size_t)-1;
}

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
	if (!url.len || url.p[0] != '/')
		abort();
	for (i = 1; i <= url.len; i++) {
		uint8_t c = i < url.len ? (uint8_t)url.p[i] : '/';
		if (c == '?')
			c = '/', i = url.len;
		if (c == '/') {
			if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
				abort();
			n = 0;
			params = false;
			continue;
		}
		if (c == '%') {
			if (i + 2 >= url.len || hexval((uint8_t)url.p[i + 1]) < 0 ||
			    hexval((uint8_t)url.p[i + 2]) < 0)
				abort();
			c = (uint8_t)(hexval((uint8_t)url.p[i + 1]) * 16 +
				      hexval((uint8_t)url.p[i + 2]));
			i += 2;
			if (c == '/')
				abort();
		}
		if (c == ';')
			params = true;
		if (c == '\\' || c == 0)
			abort();
		if (!params && n < sizeof seg)
			seg[n++] = c;
	}
}

static void check_request(const struct feed *f, const struct pbx_verdict *v, const uint8_t *c,
			  size_t n)
{
	switch (v->kind) {
	case PBX_V_NEED_MORE:
		/* max_head bytes always decide. */
		if (n >= f->max_head)
			abort();
		break;
	case PBX_V_ROUTE:
		if (!v->head_len || v->head_len > n || v->head_len > f->max_head)
			abort();
		if (v->head_len < 4 || memcmp(c + v->head_len - 4, "\r\n\r\n", 4) != 0)
			abort();
		if (v->xff_end_of_head + 2 != v->head_len || v->xff_at >= v->head_len)
			abort();
		if (!(v->flags & PBX_VF_REQUEST) || v->reason != PBX_R_NONE)
			abort();
		if (!v->name.len || !v->url.len || !v->method.len || v->user.len)
			abort();
		check_span(v->name, c, v->head_len);
		check_span(v->url, c, v->head_len);
		check_span(v->method, c, v->head_len);
		if (v->body > PBX_BODY_CHUNKED || (v->body == PBX_BODY_LENGTH) != (v->body_len > 0))
			abort();
		check_normal_path(v->url);
		/* The allowed-URL rule, from its definition. */
		if (pbx_url_allowed(v->url, "/PBX0/APPS/")) {
			struct pbx_span path = v->url;
			const char *q = memchr(path.p, '?', path.len);
			if (q)
				path.len = (size_t)(q - path.p);
			if (path.len < 11 || memcmp(path.p, "/PBX0/APPS/", 11) != 0 ||
			    memchr(path.p + 11, '/', path.len - 11))
				abort();
		}
		break;
	case PBX_V_REFUSE:
		if (v->offset > n || v->offset > f->max_head || v->reason == PBX_R_NONE ||
		    v->reason >= PBX_R_COUNT)
			abort();
		break;
	default:
		abort();
	}
}

/* Give one request as rpd does: growing prefixes of the available bytes,
 * each in a heap block of exactly its size, until an answer.  Then the
 * same bytes at once to a fresh state must give the same answer.
 * Returns the bytes the answer saw. */
static size_t feed_request(const struct feed *f, void *st, const uint8_t *p, size_t len,
			   struct pbx_verdict *out)
{
	size_t n = 0, head_off[4];
	struct pbx_verdict v;

	do {
		n = next_len(f, n, len);
		uint8_t *c = malloc(n ? n : 1);
		if (n)
			memcpy(c, p, n);
		memset(&v, 0, sizeof v);
		f->in->request(st, c, n, &v);
		check_request(f, &v, c, n);
		head_off[0] = span_off(v.name, c);
		head_off[1] = span_off(v.url, c);
		head_off[2] = span_off(v.method, c);
		head_off[3] = span_off(v.user, c);
		free(c);
	} while (v.kind == PBX_V_NEED_MORE && n < len);

	struct pbx_verdict w;
	void *fresh = calloc(1, f->in->state_size);
	f->in->init(fresh, f->max_head);
	uint8_t *c = malloc(n ? n : 1);
	if (n)
		memcpy(c, p, n);
	memset(&w, 0, sizeof w);
	f->in->request(fresh, c, n, &w);
	if (w.kind != v.kind || w.reason != v.reason)
		abort();
	if (w.kind == PBX_V_REFUSE && w.offset != v.offset)
		abort();
	if (w.kind == PBX_V_ROUTE &&
	    (w.head_len != v.head_len || w.body != v.body || w.body_len != v.body_len ||
	     w.flags != v.flags || w.xff_at != v.xff_at || w.xff_end_of_head != v.xff_end_of_head ||
	     span_off(w.name, c) != head_off[0] || span_off(w.url, c) != head_off[1] ||
	     span_off(w.method, c) != head_off[2] || span_off(w.user, c) != head_off[3] ||
	     w.name.len != v.name.len || w.url.len != v.url.len || w.method.len != v.method.len))
		abort();
	free(c);
	free(fresh);
	*out = v;
	return n;
}

/* Scan a chunked body in pieces; must agree with one scan of it all. */
static int chunks(const struct feed *f, const uint8_t *p, size_t len, size_t *used)
{
	struct pbx_chunks a, b;
	size_t u, total = 0, n = 0;
	int rc = 0;

	memset(&a, 0, sizeof a);
	while (rc == 0 && total < len) {
		size_t end = next_len(f, n, len);
		uint8_t *c = malloc(end - n ? end - n : 1);
		memcpy(c, p + n, end - n);
		rc = pbx_http_chunks(&a, c, end - n, &u);
		free(c);
		if (u > end - n || (rc == 0 && u != end - n))
			abort();
		total += u;
		n = end;
	}
	memset(&b, 0, sizeof b);
	int whole = pbx_http_chunks(&b, p, len, &u);
	if (whole != rc || u != total || u > len)
		abort();
	if (rc < 0 && rc != PBX_E_MALFORMED && rc != PBX_E_TOOLONG)
		abort();
	*used = total;
	return rc;
}

/* The client side: requests one after another, each body skipped. */
static void requests(const struct feed *f, void *st, const uint8_t *p, size_t len)
{
	size_t off = 0, used;
	struct pbx_verdict v;

	while (off < len) {
		feed_request(f, st, p + off, len - off, &v);
		if (v.kind != PBX_V_ROUTE)
			return;
		off += v.head_len;
		/* After an upgrade the bytes are another protocol's. */
		if (v.flags & PBX_VF_UPGRADE)
			return;
		if (v.body == PBX_BODY_LENGTH) {
			if (v.body_len > len - off)
				return;
			off += (size_t)v.body_len;
		} else if (v.body == PBX_BODY_CHUNKED) {
			if (chunks(f, p + off, len - off, &used) != 1)
				return;
			off += used;
		}
	}
}

static void check_reply(const struct feed *f, const struct pbx_reply *r, size_t n)
{
	switch (r->kind) {
	case PBX_V_NEED_MORE:
		if (n >= f->max_head)
			abort();
		break;
	case PBX_V_PASS:
		if (!r->head_len || r->head_len > n || r->head_len > f->max_head)
			abort();
		if (r->status < 100 || r->status > 599)
			abort();
		if (r->final != (r->status >= 200 || r->status == 101))
			abort();
		/* 403 always rejects; 401/407 only after credentials, which
		 * depends on the requests fed before. */
		if (r->status == 403 ? !r->rejection
				     : r->rejection && r->status != 401 && r->status != 407)
			abort();
		if (r->body > PBX_BODY_CLOSE || (r->body == PBX_BODY_LENGTH) != (r->body_len > 0))
			abort();
		if (r->status < 200 && r->body != PBX_BODY_NONE)
			abort();
		break;
	case PBX_V_REFUSE:
		if (r->reason != PBX_R_MALFORMED && r->reason != PBX_R_TOO_LARGE)
			abort();
		break;
	default:
		abort();
	}
}

/* The service side: replies one after another. */
static void replies(const struct feed *f, void *st, const uint8_t *p, size_t len)
{
	size_t off = 0, used;
	struct pbx_reply r;

	while (off < len) {
		size_t n = 0;
		do {
			n = next_len(f, n, len - off);
			uint8_t *c = malloc(n ? n : 1);
			if (n)
				memcpy(c, p + off, n);
			memset(&r, 0, sizeof r);
			f->in->reply(st, c, n, &r);
			free(c);
			check_reply(f, &r, n);
		} while (r.kind == PBX_V_NEED_MORE && n < len - off);
		if (r.kind != PBX_V_PASS)
			return;
		off += r.head_len;
		if ((r.flags & PBX_VF_UPGRADE) || r.body == PBX_BODY_CLOSE)
			return;
		if (r.body == PBX_BODY_LENGTH) {
			if (r.body_len > len - off)
				return;
			off += (size_t)r.body_len;
		} else if (r.body == PBX_BODY_CHUNKED) {
			if (chunks(f, p + off, len - off, &used) != 1)
				return;
			off += used;
		}
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

/* Every refusal of these bytes reads back as one complete reply that
 * closes the connection; a writer too small takes nothing. */
static void refusals(const struct feed *f, const uint8_t *p, size_t len)
{
	static uint8_t out[WRITER_CAP];
	static const char head[] = "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n";
	struct pbx_writer w;

	for (int reason = 0; reason < PBX_R_COUNT; reason++) {
		void *st = calloc(1, f->in->state_size);
		f->in->init(st, f->max_head);
		pbx_writer_init(&w, out, sizeof out);
		f->in->refuse(st, p, len, (enum pbx_reason)reason, &w);
		size_t n = pbx_writer_len(&w);
		if (pbx_writer_error(&w))
			abort();
		bool silent = reason == PBX_R_NONE || reason == PBX_R_BLACKLISTED ||
			      reason == PBX_R_TLS_FAILED || reason == PBX_R_REJECTED ||
			      reason == PBX_R_CLIENT_CLOSED || reason == PBX_R_IDLE ||
			      reason == PBX_R_SERVICE_MALFORMED;
		if (silent != (n == 0))
			abort();
		if (!n) {
			free(st);
			continue;
		}
		/* Read it back, as the reply to a HEAD if it was one. */
		f->in->init(st, f->max_head);
		struct pbx_verdict v;
		if (asks_head(p, len)) {
			f->in->request(st, (const uint8_t *)head, sizeof head - 1, &v);
			if (v.kind != PBX_V_ROUTE)
				abort();
		}
		struct pbx_reply r;
		f->in->reply(st, out, n, &r);
		if (r.kind != PBX_V_PASS || !r.final || !(r.flags & PBX_VF_CLOSE) ||
		    r.status < 400 || r.status > 599 || r.rejection != (r.status == 403))
			abort();
		if (r.head_len + r.body_len != n && !(asks_head(p, len) && r.head_len == n))
			abort();
		/* One byte short: nothing at all. */
		uint8_t small[WRITER_CAP];
		pbx_writer_init(&w, small, n - 1);
		f->in->refuse(st, p, len, (enum pbx_reason)reason, &w);
		if (pbx_writer_len(&w) != 0)
			abort();
		free(st);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	struct feed f = {
		.in = pbx_inspector_for(STORE_FAMILY_HTTP),
		.step = data[0] & 0x7f,
		.max_head = data[0] & 0x80 ? 256 : 16384,
	};
	if (!f.in)
		abort();
	const uint8_t *p = data + 1;
	size_t len = size - 1;

	/* One state for both directions, as rpd keeps per connection. */
	void *st = calloc(1, f.in->state_size);
	f.in->init(st, f.max_head);
	requests(&f, st, p, len);
	replies(&f, st, p, len);
	free(st);

	size_t used;
	chunks(&f, p, len, &used);
	refusals(&f, p, len);
	return 0;
}
