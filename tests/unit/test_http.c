/* test_http.c - unit tests for the HTTP/1.1 inspector, the chunked body
 * scanner and the allowed-URL rule (lib/inspect/http.c). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pbxedge/err.h>
#include <pbxedge/http.h>
#include <pbxedge/inspect.h>

#include "inspect_harness.h"
#include "vectors.h"

#define MAX_HEAD 8192
#define NOWHERE ((size_t)-1)

static const struct pbx_inspector *http(void)
{
	const struct pbx_inspector *in = pbx_inspector_for(STORE_FAMILY_HTTP);
	ck_assert_ptr_nonnull(in);
	return in;
}

/* Printable form of a message for failure output. */
static const char *show(const void *p, size_t len)
{
	static char buf[512];
	struct pbx_span s = { p, len };
	pbx_span_escape(s, buf, sizeof buf, NULL);
	return buf;
}

static bool span_is(struct pbx_span s, const char *text)
{
	return pbx_span_eq(s, pbx_span_cstr(text));
}

#define ck_span(s, text)                                                                  \
	ck_assert_msg(span_is((s), (text)), "span '%s', want '%s'", show((s).p, (s).len), \
		      (text))

/* ---- inline messages ---- */

/* AT marks, in an inline message, the byte a refusal's offset must point
 * at (it is removed); NUL stands for a zero byte, which a C string cannot
 * hold. */
#define AT "\001"
#define NUL "\002"

struct msg {
	uint8_t *p;
	size_t len;
	size_t at; /* where AT was, or NOWHERE */
};

static struct msg unmark(const char *text)
{
	struct msg m = { malloc(strlen(text) + 1), 0, NOWHERE };
	ck_assert_ptr_nonnull(m.p);
	for (const char *s = text; *s; s++) {
		if (*s == '\001')
			m.at = m.len;
		else
			m.p[m.len++] = *s == '\002' ? 0 : (uint8_t)*s;
	}
	return m;
}

/* Run a message through the harness (whole, byte by byte, every split),
 * then once more on the returned bytes, so that the spans of *v point
 * into m.p.  The caller frees m.p. */
static struct msg request_n(const uint8_t *p, size_t len, size_t at, size_t max_head,
			    struct pbx_verdict *v)
{
	struct msg m = { malloc(len ? len : 1), len, at };
	struct pbx_verdict h;
	size_t k0;

	memcpy(m.p, p, len);
	harness_request(http(), m.p, m.len, max_head, &h, &k0);
	void *st = harness_state(http(), max_head);
	http()->request(st, m.p, m.len, v);
	free(st);
	ck_assert_msg(v->kind == h.kind && v->reason == h.reason, "%s: harness disagrees",
		      show(p, len));
	if (v->kind == PBX_V_ROUTE) {
		/* Need-more until the last byte of the head. */
		ck_assert_msg(k0 == v->head_len, "%s: decided at %zu, head_len %zu",
			      show(p, len), k0, v->head_len);
		ck_assert_uint_eq(v->head_len, h.head_len);
	} else if (v->kind == PBX_V_REFUSE) {
		ck_assert_uint_eq(v->offset, h.offset);
		ck_assert_msg(v->offset <= k0, "%s: offset %zu after the decision at %zu",
			      show(p, len), v->offset, k0);
	}
	return m;
}

static struct msg request_max(const char *text, size_t max_head, struct pbx_verdict *v)
{
	struct msg u = unmark(text);
	struct msg m = request_n(u.p, u.len, u.at, max_head, v);
	free(u.p);
	return m;
}

static struct msg request(const char *text, struct pbx_verdict *v)
{
	return request_max(text, MAX_HEAD, v);
}

static void refused_max(const char *text, size_t max_head, enum pbx_reason reason)
{
	struct pbx_verdict v;
	struct msg m = request_max(text, max_head, &v);
	ck_assert_msg(v.kind == PBX_V_REFUSE, "%s: not refused (kind %d)", show(m.p, m.len),
		      v.kind);
	ck_assert_msg(v.reason == reason, "%s: reason %s, want %s", show(m.p, m.len),
		      pbx_reason_name(v.reason), pbx_reason_name(reason));
	ck_assert_msg(m.at != NOWHERE, "%s: the test lacks its AT mark", show(m.p, m.len));
	ck_assert_msg(v.offset == m.at, "%s: offset %zu, want %zu", show(m.p, m.len), v.offset,
		      m.at);
	free(m.p);
}

/* text must be refused for reason, at its AT mark. */
static void refused(const char *text, enum pbx_reason reason)
{
	refused_max(text, MAX_HEAD, reason);
}

/* text must route; the caller checks *v and frees the result. */
static struct msg routed(const char *text, struct pbx_verdict *v)
{
	struct msg m = request(text, v);
	ck_assert_msg(v->kind == PBX_V_ROUTE, "%s: not routed (kind %d, %s at %zu)",
		      show(m.p, m.len), v->kind, pbx_reason_name(v->reason), v->offset);
	ck_assert_msg(v->flags & PBX_VF_REQUEST, "no request flag");
	ck_assert_msg(v->user.len == 0, "user set");
	return m;
}

static void routes(const char *text)
{
	struct pbx_verdict v;
	free(routed(text, &v).p);
}

/* A HEAD request routed first: the reply answers it. */
static void prepare_head(void *st)
{
	static const char head[] = "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n";
	struct pbx_verdict v;
	http()->request(st, (const uint8_t *)head, sizeof head - 1, &v);
	ck_assert_int_eq(v.kind, PBX_V_ROUTE);
}

static void prepare_get(void *st)
{
	static const char get[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	struct pbx_verdict v;
	http()->request(st, (const uint8_t *)get, sizeof get - 1, &v);
	ck_assert_int_eq(v.kind, PBX_V_ROUTE);
}

static void prepare_get_with_credentials(void *st)
{
	static const char get[] = "GET / HTTP/1.1\r\nHost: a\r\n"
				  "Authorization: Basic YWxpY2U6d3Jvbmc=\r\n\r\n";
	struct pbx_verdict v;
	http()->request(st, (const uint8_t *)get, sizeof get - 1, &v);
	ck_assert_int_eq(v.kind, PBX_V_ROUTE);
	ck_assert(v.flags & PBX_VF_CREDENTIALS);
}

static void reply_n(const void *p, size_t len, bool head, struct pbx_reply *r)
{
	harness_reply(http(), p, len, MAX_HEAD, head ? prepare_head : prepare_get, r);
}

static void reply_text(const char *text, bool head, struct pbx_reply *r)
{
	reply_n(text, strlen(text), head, r);
}

/* Scan a whole chunked body; returns the pbx_http_chunks result. */
static int chunks_whole(const void *p, size_t len, size_t *used)
{
	struct pbx_chunks c;
	memset(&c, 0, sizeof c);
	return pbx_http_chunks(&c, p, len, used);
}

/* ---- vectors ---- */

struct vec {
	const char *file;
	bool reply;
	enum pbx_verdict_kind kind;
	enum pbx_reason reason;
	/* refusals: the offset is where the nth (-1: last) occurrence of
	 * at starts, or, with at NULL, offset */
	const char *at;
	int nth;
	size_t offset;
	/* routed requests */
	const char *name, *method, *url;
	/* replies */
	int status;
	bool head, final, rejection;
	enum pbx_body body;
	uint64_t body_len;
	unsigned flags;
};

#define R PBX_VF_REQUEST
#define RC (PBX_VF_REQUEST | PBX_VF_CLOSE)
#define C PBX_VF_CLOSE

#define ROUTE(f, n, m, u, b, bl, fl)                                                      \
	{ .file = f, .kind = PBX_V_ROUTE, .name = n, .method = m, .url = u, .body = b,    \
	  .body_len = bl, .flags = fl }
#define REFUSE(f, r, a) { .file = f, .kind = PBX_V_REFUSE, .reason = r, .at = a }
#define REFUSE_NTH(f, r, a, n) { .file = f, .kind = PBX_V_REFUSE, .reason = r, .at = a, .nth = n }
#define REFUSE_OFF(f, r, o) { .file = f, .kind = PBX_V_REFUSE, .reason = r, .offset = o }
#define REPLY(f, s, fin, rej, b, bl, fl)                                                  \
	{ .file = f, .reply = true, .kind = PBX_V_PASS, .status = s, .final = fin,        \
	  .rejection = rej, .body = b, .body_len = bl, .flags = fl }
#define REPLY_HEAD(f, s, fl)                                                              \
	{ .file = f, .reply = true, .kind = PBX_V_PASS, .status = s, .head = true,        \
	  .final = true, .body = PBX_BODY_NONE, .flags = fl }
#define REPLY_BAD(f) { .file = f, .reply = true, .kind = PBX_V_REFUSE, .reason = PBX_R_MALFORMED }

#define NONE PBX_BODY_NONE
#define LEN PBX_BODY_LENGTH
#define CHUNKED PBX_BODY_CHUNKED
#define CLOSE PBX_BODY_CLOSE
#define MAL PBX_R_MALFORMED
#define AMB PBX_R_AMBIGUOUS
#define UNSUP PBX_R_UNSUPPORTED

static const struct vec vectors[] = {
	/* What curl 7.88, wget 1.21 and Python 3.11's urllib sent. */
	ROUTE("req-curl-get.http", "127.0.0.1", "GET", "/PBX0/MY/index.htm", NONE, 0, R),
	ROUTE("req-curl-head.http", "localhost", "HEAD", "/", NONE, 0, R),
	ROUTE("req-curl-http10.http", "127.0.0.1", "GET", "/fonts/a.woff", NONE, 0, RC),
	ROUTE("req-curl-ipv6-host.http", "[::1]", "GET", "/", NONE, 0, R),
	ROUTE("req-curl-post-chunked.http", "hq.example.com", "POST", "/ap/cdr.fcgi", CHUNKED,
	      0, R),
	ROUTE("req-curl-post-form.http", "hq.example.com", "POST", "/PBX0/user.soap", LEN, 7,
	      R),
	ROUTE("req-curl-websocket.http", "hq.example.com", "GET", "/PBX0/WEBSOCKET", NONE, 0,
	      R | PBX_VF_UPGRADE),
	REFUSE("req-curl-h2c.http", UNSUP, "h2c"),
	ROUTE("req-wget-get.http", "127.0.0.1", "GET", "/PBX0/APPS/x.js?a=/b", NONE, 0, R),
	ROUTE("req-wget-post.http", "127.0.0.1", "POST", "/PBX0/user.soap", LEN, 3, R),
	ROUTE("req-urllib-get.http", "127.0.0.1", "GET", "/CDR0/CALL-LIST?x=1", NONE, 0, RC),
	ROUTE("req-urllib-post.http", "127.0.0.1", "POST", "/PBX0/user.soap", LEN, 7, RC),
	/* Smuggling: CL.TE, TE.CL, TE.TE and friends. */
	REFUSE("req-smuggle-cl-te.http", AMB, "Transfer-Encoding"),
	REFUSE("req-smuggle-te-cl.http", AMB, "Content-Length"),
	REFUSE("req-smuggle-te-xchunked.http", UNSUP, "xchunked"),
	REFUSE("req-smuggle-te-space-before-colon.http", AMB, " : chunked"),
	REFUSE("req-smuggle-te-empty-then-fold.http", UNSUP, "\r\n chunked"),
	REFUSE("req-smuggle-te-folded-line.http", AMB, " Transfer-Encoding"),
	REFUSE("req-smuggle-te-chunked-identity.http", UNSUP, "chunked, identity"),
	REFUSE("req-smuggle-te-identity-chunked.http", UNSUP, "identity, chunked"),
	REFUSE("req-smuggle-te-twice.http", AMB, "Transfer-Encoding: identity"),
	REFUSE("req-smuggle-te-vtab.http", MAL, "\vchunked"),
	REFUSE("req-smuggle-te-http10.http", AMB, "Transfer-Encoding"),
	ROUTE("req-te-tab-ows.http", "hq.example.com", "POST", "/ap/cdr.fcgi", CHUNKED, 0, R),
	REFUSE_NTH("req-smuggle-cl-twice-equal.http", AMB, "Content-Length", 1),
	REFUSE("req-smuggle-cl-twice-differ.http", AMB, "Content-Length: 40"),
	REFUSE("req-smuggle-cl-list.http", AMB, ", 5"),
	REFUSE("req-smuggle-cl-plus.http", MAL, "+5"),
	REFUSE("req-smuggle-cl-hex.http", MAL, "x5"),
	REFUSE("req-smuggle-cl-overflow.http", MAL, "1\r\n\r\nhello"),
	REFUSE("req-smuggle-cl-space-before-colon.http", AMB, " : 5"),
	REFUSE("req-smuggle-bare-lf.http", MAL, "\n"),
	REFUSE("req-smuggle-bare-lf-field.http", MAL, "\nTransfer"),
	REFUSE("req-smuggle-bare-cr.http", MAL, "\rTransfer"),
	REFUSE_OFF("req-smuggle-nul-in-value.http", MAL, 44),
	REFUSE_OFF("req-smuggle-nul-in-target.http", MAL, 12),
	REFUSE("req-smuggle-two-hosts.http", AMB, "Host: admin"),
	REFUSE_OFF("req-smuggle-huge-field.http", PBX_R_TOO_LARGE, MAX_HEAD),
	REFUSE("req-smuggle-many-fields.http", PBX_R_TOO_LARGE, "X-99:"),
	REFUSE("req-smuggle-h2c-upgrade.http", UNSUP, "h2c"),
	REFUSE("req-smuggle-double-sp.http", MAL, " /PBX0"),
	REFUSE("req-smuggle-tab-sep.http", MAL, "\t"),
	/* Targets that would slip past a head match on the URL. */
	REFUSE("req-path-dotdot.http", MAL, "../ADMIN"),
	REFUSE("req-path-dot-end.http", MAL, ".. HTTP"),
	REFUSE("req-path-encoded-dotdot.http", MAL, "%2e%2E"),
	REFUSE("req-path-encoded-slash.http", MAL, "%2f"),
	REFUSE("req-path-backslash.http", MAL, "\\"),
	REFUSE("req-path-dotdot-params.http", MAL, "..;"),
	REFUSE("req-path-bad-percent.http", MAL, "%zz"),
	REFUSE("req-path-nul.http", MAL, "%00"),
	ROUTE("req-path-query-dots.http", "hq.example.com", "GET",
	      "/PBX0/MY/x.htm?next=/../ADMIN/%2e%2e", NONE, 0, R),
	/* Forms and versions rpd does not relay. */
	REFUSE("req-absolute-form.http", UNSUP, "http://"),
	REFUSE("req-connect.http", UNSUP, "CONNECT"),
	REFUSE("req-h2-preface.http", UNSUP, "PRI"),
	REFUSE("req-http09.http", MAL, "\r\n"),
	REFUSE("req-version-12.http", MAL, "HTTP/1.2"),
	REFUSE_NTH("req-no-host.http", PBX_R_NO_NAME, "\r\n", -1),
	REFUSE_NTH("req-http10-no-host.http", PBX_R_NO_NAME, "\r\n", -1),
	REFUSE("req-empty-host.http", PBX_R_NO_NAME, "\r\n\r\n"),
	REFUSE("req-host-userinfo.http", MAL, "@"),
	REFUSE("req-host-bad-port.http", MAL, "80a"),
	ROUTE("req-options-asterisk.http", "hq.example.com", "OPTIONS", "*", NONE, 0, R),
	ROUTE("req-leading-crlf.http", "HQ.Example.COM", "GET", "/PBX0/MY", NONE, 0, R),
	ROUTE("req-expect-continue.http", "hq.example.com", "PUT", "/PBX0/user.soap", LEN, 5,
	      RC),

	/* What python3 -m http.server (3.11) and nginx 1.22 answered. */
	REPLY("resp-pyhttp-200.http", 200, true, false, LEN, 6, C),
	REPLY("resp-pyhttp-301.http", 301, true, false, NONE, 0, C),
	REPLY("resp-pyhttp-404.http", 404, true, false, LEN, 335, C),
	REPLY("resp-pyhttp-501.http", 501, true, false, LEN, 357, C),
	REPLY("resp-pyhttp-dirlist.http", 200, true, false, LEN, 195, C),
	REPLY_HEAD("resp-pyhttp-head.http", 200, C),
	REPLY("resp-nginx-200.http", 200, true, false, LEN, 12, C),
	REPLY("resp-nginx-204.http", 204, true, false, NONE, 0, C),
	REPLY("resp-nginx-301.http", 301, true, false, LEN, 169, C),
	REPLY("resp-nginx-304.http", 304, true, false, NONE, 0, C),
	REPLY("resp-nginx-400-smuggle.http", 400, true, false, LEN, 157, C),
	REPLY("resp-nginx-401.http", 401, true, false, LEN, 179, C),
	REPLY("resp-nginx-403.http", 403, true, true, LEN, 153, C),
	REPLY("resp-nginx-404.http", 404, true, false, LEN, 153, C),
	REPLY("resp-nginx-autoindex-chunked.http", 200, true, false, CHUNKED, 0, C),
	REPLY_HEAD("resp-nginx-head.http", 200, C),
	REPLY("resp-nginx-http10-request.http", 200, true, false, LEN, 12, C),
	/* Replies written by hand. */
	REPLY("resp-100-continue.http", 100, false, false, NONE, 0, 0),
	REPLY("resp-101-websocket.http", 101, true, false, NONE, 0, PBX_VF_UPGRADE),
	REPLY("resp-cl-equal-list.http", 200, true, false, LEN, 5, 0),
	REPLY("resp-te-gzip-chunked.http", 200, true, false, CHUNKED, 0, 0),
	REPLY("resp-te-chunked-gzip.http", 200, true, false, CLOSE, 0, C),
	REPLY("resp-no-length.http", 200, true, false, CLOSE, 0, C),
	REPLY("resp-lenient.http", 200, true, false, LEN, 2, 0),
	REPLY_BAD("resp-cl-and-te.http"),
	REPLY_BAD("resp-cl-conflict.http"),
	REPLY_BAD("resp-bare-lf.http"),
	REPLY_BAD("resp-http10-te.http"),
	REPLY_BAD("resp-cl-space-before-colon.http"),
	REPLY_BAD("resp-bad-status.http"),
};

#define NVECTORS (sizeof vectors / sizeof vectors[0])

/* tests/vectors/http (see vectors.h), opened; NULL if not found. */
static DIR *open_vectors(char *dir, size_t n)
{
	return vector_dir("http", dir, n) ? opendir(dir) : NULL;
}

static uint8_t *read_vector(const char *dir, const char *name, size_t *len)
{
	char path[PATH_MAX];
	int k = snprintf(path, sizeof path, "%s/%s", dir, name);
	ck_assert(k > 0 && (size_t)k < sizeof path);
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	uint8_t *buf = malloc(65536);
	*len = fread(buf, 1, 65536, f);
	ck_assert_msg(feof(f) && !ferror(f), "%s: unreadable or over 64 KiB", path);
	fclose(f);
	return buf;
}

static size_t vec_offset(const struct vec *e, const uint8_t *p, size_t len)
{
	if (!e->at)
		return e->offset;
	size_t n = strlen(e->at), found = NOWHERE;
	int seen = 0;
	for (size_t i = 0; i + n <= len; i++) {
		if (memcmp(p + i, e->at, n) != 0)
			continue;
		found = i;
		if (e->nth >= 0 && seen++ == e->nth)
			break;
	}
	ck_assert_msg(found != NOWHERE, "%s: '%s' not in it", e->file, show(e->at, n));
	return found;
}

/* The message's body must end exactly where the file does. */
static void check_body(const char *file, enum pbx_body body, uint64_t body_len,
		       const uint8_t *rest, size_t n)
{
	size_t used;
	switch (body) {
	case PBX_BODY_NONE:
		ck_assert_msg(n == 0, "%s: %zu bytes after a message without body", file, n);
		break;
	case PBX_BODY_LENGTH:
		ck_assert_msg(n == body_len, "%s: body %zu bytes, length %llu", file, n,
			      (unsigned long long)body_len);
		break;
	case PBX_BODY_CHUNKED:
		ck_assert_msg(chunks_whole(rest, n, &used) == 1 && used == n,
			      "%s: chunked body does not end with the file", file);
		break;
	case PBX_BODY_CLOSE:
		break;
	}
}

static void check_request_vector(const struct vec *e, const uint8_t *buf, size_t len)
{
	struct pbx_verdict v;
	struct msg m = request_n(buf, len, NOWHERE, MAX_HEAD, &v);

	ck_assert_msg(v.kind == e->kind, "%s: kind %d, want %d (%s at %zu)", e->file, v.kind,
		      e->kind, pbx_reason_name(v.reason), v.offset);
	if (v.kind == PBX_V_REFUSE) {
		ck_assert_msg(v.reason == e->reason, "%s: %s, want %s", e->file,
			      pbx_reason_name(v.reason), pbx_reason_name(e->reason));
		size_t want = vec_offset(e, m.p, m.len);
		ck_assert_msg(v.offset == want, "%s: offset %zu, want %zu", e->file, v.offset,
			      want);
	} else {
		ck_assert_msg(span_is(v.name, e->name), "%s: name '%s'", e->file,
			      show(v.name.p, v.name.len));
		ck_assert_msg(span_is(v.method, e->method), "%s: method", e->file);
		ck_assert_msg(span_is(v.url, e->url), "%s: url '%s'", e->file,
			      show(v.url.p, v.url.len));
		ck_assert_msg(v.body == e->body && v.body_len == e->body_len, "%s: body %d %llu",
			      e->file, v.body, (unsigned long long)v.body_len);
		ck_assert_msg(v.flags == e->flags, "%s: flags %#x, want %#x", e->file, v.flags,
			      e->flags);
		ck_assert_msg(v.xff_end_of_head == v.head_len - 2, "%s: end of head", e->file);
		check_body(e->file, v.body, v.body_len, m.p + v.head_len, m.len - v.head_len);
	}
	free(m.p);
}

static void check_reply_vector(const struct vec *e, const uint8_t *buf, size_t len)
{
	struct pbx_reply r;

	reply_n(buf, len, e->head, &r);
	ck_assert_msg(r.kind == e->kind, "%s: kind %d, want %d", e->file, r.kind, e->kind);
	if (r.kind == PBX_V_REFUSE) {
		ck_assert_msg(r.reason == e->reason, "%s: %s", e->file, pbx_reason_name(r.reason));
		return;
	}
	ck_assert_msg(r.status == e->status, "%s: status %d", e->file, r.status);
	ck_assert_msg(r.final == e->final && r.rejection == e->rejection,
		      "%s: final %d rejection %d", e->file, r.final, r.rejection);
	ck_assert_msg(r.body == e->body && r.body_len == e->body_len, "%s: body %d %llu",
		      e->file, r.body, (unsigned long long)r.body_len);
	ck_assert_msg(r.flags == e->flags, "%s: flags %#x, want %#x", e->file, r.flags,
		      e->flags);
	ck_assert_msg(memcmp(buf + r.head_len - 4, "\r\n\r\n", 4) == 0, "%s: head_len",
		      e->file);
	check_body(e->file, r.body, r.body_len, buf + r.head_len, len - r.head_len);
}

/* Every file in tests/vectors/http has an entry, and every entry a file. */
START_TEST(test_http_vectors)
{
	char dir[PATH_MAX];
	bool seen[NVECTORS] = { false };
	DIR *d = open_vectors(dir, sizeof dir);
	struct dirent *de;
	size_t files = 0;

	ck_assert_msg(d != NULL, "no vector folder at %s", dir);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		size_t i = 0;
		while (i < NVECTORS && strcmp(vectors[i].file, de->d_name) != 0)
			i++;
		ck_assert_msg(i < NVECTORS, "%s: vector without an expected verdict", de->d_name);
		size_t len;
		uint8_t *buf = read_vector(dir, de->d_name, &len);
		if (vectors[i].reply)
			check_reply_vector(&vectors[i], buf, len);
		else
			check_request_vector(&vectors[i], buf, len);
		free(buf);
		seen[i] = true;
		files++;
	}
	closedir(d);
	for (size_t i = 0; i < NVECTORS; i++)
		ck_assert_msg(seen[i], "%s: missing from %s", vectors[i].file, dir);
	ck_assert_uint_eq(files, NVECTORS);
}
END_TEST

/* ---- the row ---- */

START_TEST(test_pbx_inspector_for_http)
{
	const struct pbx_inspector *in = http();
	ck_assert_str_eq(in->name, "http");
	ck_assert_int_eq(in->family, STORE_FAMILY_HTTP);
	/* rpd reads no next request while a reply is pending. */
	ck_assert(in->lockstep);
	ck_assert_ptr_nonnull(in->request);
	ck_assert_ptr_nonnull(in->reply);
	ck_assert_ptr_nonnull(in->refuse);
}
END_TEST

/* ---- request line ---- */

#define HOST "Host: hq.example.com\r\n\r\n"

START_TEST(test_http_request_line)
{
	struct pbx_verdict v;
	struct msg m = routed("GET /PBX0/MY?a=b HTTP/1.1\r\n" HOST, &v);
	ck_span(v.method, "GET");
	ck_span(v.url, "/PBX0/MY?a=b");
	ck_span(v.name, "hq.example.com");
	ck_assert_uint_eq(v.head_len, m.len);
	free(m.p);

	/* Methods are tokens; any token is relayed. */
	routes("M-SEARCH /x HTTP/1.1\r\n" HOST);
	routes("PROPFIND /x HTTP/1.0\r\n" HOST);
	refused("G" AT "(T / HTTP/1.1\r\n" HOST, MAL);
	refused(AT " GET / HTTP/1.1\r\n" HOST, MAL);
	refused(AT "/ HTTP/1.1\r\n" HOST, MAL);

	/* Single SPs only. */
	refused("GET " AT " / HTTP/1.1\r\n" HOST, MAL);
	refused("GET / " AT " HTTP/1.1\r\n" HOST, MAL);
	refused("GET / HTTP/1.1" AT " \r\n" HOST, MAL);
	refused("GET" AT "\t/ HTTP/1.1\r\n" HOST, MAL);
	refused("GET /" AT "\tHTTP/1.1\r\n" HOST, MAL);

	/* Versions. */
	refused("GET /" AT "\r\n" HOST, MAL);
	refused("GET / " AT "HTTP/1.2\r\n" HOST, MAL);
	refused("GET / " AT "HTTP/2.0\r\n" HOST, MAL);
	refused("GET / " AT "HTTP/0.9\r\n" HOST, MAL);
	refused("GET / " AT "http/1.1\r\n" HOST, MAL);
	refused("GET / " AT "HTTP/1.10\r\n" HOST, MAL);
	refused("GET / " AT "\r\n" HOST, MAL);
	refused(AT "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", UNSUP);
	refused("PRI / " AT "HTTP/2.0\r\n\r\n", MAL);

	/* CONNECT, and the forms of a forward proxy. */
	refused(AT "CONNECT hq.example.com:443 HTTP/1.1\r\n" HOST, UNSUP);
	refused(AT "connect hq.example.com:443 HTTP/1.1\r\n" HOST, UNSUP);
	refused("GET " AT "http://hq.example.com/PBX0/MY HTTP/1.1\r\n" HOST, UNSUP);
	refused("GET " AT "hq.example.com:443 HTTP/1.1\r\n" HOST, UNSUP);
	refused("GET " AT "index.html HTTP/1.1\r\n" HOST, MAL);

	/* asterisk-form with OPTIONS alone. */
	m = routed("OPTIONS * HTTP/1.1\r\n" HOST, &v);
	ck_span(v.url, "*");
	ck_span(v.method, "OPTIONS");
	free(m.p);
	refused("GET " AT "* HTTP/1.1\r\n" HOST, MAL);
	refused("OPTIONS " AT "*x HTTP/1.1\r\n" HOST, MAL);

	/* Visible ASCII in the target. */
	refused("GET /a" AT "\x7f HTTP/1.1\r\n" HOST, MAL);
	refused("GET /" AT "\xc3\xa4 HTTP/1.1\r\n" HOST, MAL);
	refused("GET /a" AT NUL " HTTP/1.1\r\n" HOST, MAL);

	/* Leading empty lines are skipped, and the spans still right. */
	m = routed("\r\n\r\nGET /x HTTP/1.1\r\n" HOST, &v);
	ck_span(v.method, "GET");
	ck_assert_ptr_eq(v.method.p, (const char *)m.p + 4);
	ck_assert_uint_eq(v.head_len, m.len);
	free(m.p);
	refused(AT "\nGET / HTTP/1.1\r\n" HOST, MAL);
	refused("\r\n" AT "\r\rGET / HTTP/1.1\r\n" HOST, MAL);

	/* Line ends of the request line itself. */
	refused("GET / HTTP/1.1" AT "\rHost: a\r\n\r\n", MAL);
	refused("GET / HTTP/1.1" AT "\nHost: a\r\n\r\n", MAL);
	refused("GET /" AT "\r HTTP/1.1\r\n" HOST, MAL);
}
END_TEST

/* ---- paths ---- */

struct path_case {
	const char *target; /* with AT where a refusal points */
};

static const struct path_case paths_ok[] = {
	{ "/" }, { "/PBX0/MY" }, { "/PBX0/MY/" }, { "/a/.../b" }, { "/a/.b/c" }, { "/a/b.." },
	{ "/a/..b" }, { "/a%2eb" }, { "/a/%2e%2e%2e" }, { "/%41%7e" }, { "//PBX0//MY" },
	{ "/a;b/c" }, { "/a/...;/b" }, { "/a/;../b" }, { "/x?../../etc" }, { "/x?a=%zz" },
	{ "/x?a=\\b#c" }, { "/x?%2e%2e/%2f" }, { "/PBX0/APPS/x.js?a=/b" }, { "/a/b.c/d" },
	{ "/~user/{x}|" }, { "/a%3bb/c" }, { "/a/%3b../b" },
};

static const struct path_case paths_bad[] = {
	{ "/" AT "." }, { "/" AT ".." }, { "/" AT "./" }, { "/" AT "../" }, { "/a/" AT "./b" },
	{ "/a/" AT "../b" }, { "/a/" AT ".." }, { "/a/" AT "." }, { "/a/" AT "..?x" },
	{ "/a/" AT ".?x" }, { "/" AT "%2e" }, { "/" AT "%2E%2e/" }, { "/" AT ".%2e/" },
	{ "/a/" AT "%2e./b" }, { "/a/" AT "%2e" }, { "/a" AT "%2fb" }, { "/a" AT "%2Fb" },
	{ "/a" AT "%5cb" }, { "/a" AT "%5Cb" }, { "/a" AT "\\b" }, { "/PBX0/MY" AT "\\..\\ADMIN" },
	{ "/a" AT "%00" }, { "/a" AT "%" }, { "/a" AT "%4" }, { "/a" AT "%4?x" }, { "/a" AT "%4g" },
	{ "/a" AT "%g4" }, { "/" AT "..;/x" }, { "/" AT ".;x/y" }, { "/" AT "..;a=b" },
	{ "/PBX0/MY/" AT "..%3b/ADMIN" }, { "/" AT ".%3B" },
	{ "/a" AT "#b" }, { "/a" AT "%2f?x" }, { "/PBX0/MY/" AT "../ADMIN" },
	{ "/PBX0/MY/" AT "%2e%2e/ADMIN" }, { "/PBX0/MY/.." AT "%2fADMIN" },
};

START_TEST(test_http_request_path)
{
	char text[512];
	struct pbx_verdict v;

	for (size_t i = 0; i < sizeof paths_ok / sizeof paths_ok[0]; i++) {
		snprintf(text, sizeof text, "GET %s HTTP/1.1\r\n" HOST, paths_ok[i].target);
		struct msg m = routed(text, &v);
		ck_span(v.url, paths_ok[i].target);
		free(m.p);
	}
	for (size_t i = 0; i < sizeof paths_bad / sizeof paths_bad[0]; i++) {
		snprintf(text, sizeof text, "GET %s HTTP/1.1\r\n" HOST, paths_bad[i].target);
		refused(text, MAL);
	}
}
END_TEST

/* ---- fields ---- */

#define GET "GET / HTTP/1.1\r\n"

START_TEST(test_http_request_fields)
{
	struct pbx_verdict v;

	routes(GET "hOsT: a\r\n\r\n");
	routes(GET "Host:a\r\nX-A:\r\nX-B: \t\r\n\r\n");
	routes(GET "Host: a\r\nX-A: a\tb\r\nX-B: \xe4\xf6\r\n\r\n");
	routes(GET "Host: a\r\nX-!#$%&'*+-.^_`|~09: 1\r\n\r\n");

	/* obs-fold, also in the first field line. */
	refused(GET "Host: a\r\nX-A: b\r\n" AT " c\r\n\r\n", AMB);
	refused(GET "Host: a\r\nX-A: b\r\n" AT "\tc\r\n\r\n", AMB);
	refused(GET AT " Host: a\r\n\r\n", AMB);
	/* Whitespace before the colon. */
	refused(GET "Host" AT " : a\r\n\r\n", AMB);
	refused(GET "Host: a\r\nX-A" AT "\t: b\r\n\r\n", AMB);
	refused(GET "Host: a\r\nX" AT " A: b\r\n\r\n", AMB);
	/* Names. */
	refused(GET "Host: a\r\nX-A" AT "\r\n\r\n", MAL);
	refused(GET "Host: a\r\n" AT ": b\r\n\r\n", MAL);
	refused(GET "Host: a\r\nX" AT "(A: b\r\n\r\n", MAL);
	refused(GET "Host: a\r\nX" AT "\xe4: b\r\n\r\n", MAL);
	/* Control characters in values. */
	refused(GET "Host: a\r\nX-A: a" AT "\003b\r\n\r\n", MAL);
	refused(GET "Host: a\r\nX-A: a" AT "\x7f\r\n\r\n", MAL);
	refused(GET "Host: a\r\nX-A: a" AT NUL "b\r\n\r\n", MAL);
	refused(GET "Host: a\r\nX-A: a" AT "\fb\r\n\r\n", MAL);
	refused(GET "Host: a" AT NUL "\r\n\r\n", MAL);
	/* Line ends. */
	refused(GET "Host: a\r\nX-A: a" AT "\rb\r\n\r\n", MAL);
	refused(GET "Host: a\r\nX-A: a" AT "\nb\r\n\r\n", MAL);
	refused(GET "Host: a\r\n" AT "\n", MAL);
	refused(GET "Host: a\r\n" AT "\r\r\n", MAL);

	/* A hundred field lines, and no more. */
	char text[4096];
	size_t n = (size_t)snprintf(text, sizeof text, GET "Host: a\r\n");
	for (int i = 1; i < 100; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "X-%d: %d\r\n", i, i);
	snprintf(text + n, sizeof text - n, "\r\n");
	free(routed(text, &v).p);
	snprintf(text + n, sizeof text - n, AT "X-100: 100\r\n\r\n");
	refused(text, PBX_R_TOO_LARGE);
}
END_TEST

/* ---- Host ---- */

struct host_case {
	const char *value;
	const char *name; /* NULL: refused at AT */
	enum pbx_reason reason;
};

static const struct host_case hosts[] = {
	{ "hq.example.com", "hq.example.com", 0 },
	{ "hq.example.com:8080", "hq.example.com", 0 },
	{ "HQ.Example.Com", "HQ.Example.Com", 0 },
	{ "hq.example.com.", "hq.example.com", 0 },
	{ "hq.example.com.:443", "hq.example.com", 0 },
	{ "hq.example.com..", "hq.example.com.", 0 },
	{ "  hq.example.com \t", "hq.example.com", 0 },
	{ "hq.example.com:", "hq.example.com", 0 },
	{ "hq.example.com:65535", "hq.example.com", 0 },
	{ "[::1]", "[::1]", 0 },
	{ "[::1]:8080", "[::1]", 0 },
	{ "[2001:DB8::1]:443", "[2001:DB8::1]", 0 },
	{ "[::ffff:192.0.2.1]", "[::ffff:192.0.2.1]", 0 },
	{ "192.0.2.1:80", "192.0.2.1", 0 },
	{ "my_host-1", "my_host-1", 0 },
	{ AT "", NULL, PBX_R_NO_NAME },
	{ AT ":80", NULL, PBX_R_NO_NAME },
	{ AT ".", NULL, PBX_R_NO_NAME },
	{ AT ".:80", NULL, PBX_R_NO_NAME },
	{ "a:" AT "8x", NULL, PBX_R_MALFORMED },
	{ "a:" AT "65536", NULL, PBX_R_MALFORMED },
	{ "a:" AT "-1", NULL, PBX_R_MALFORMED },
	{ "a:" AT "80:80", NULL, PBX_R_MALFORMED },
	{ "a" AT "@b", NULL, PBX_R_MALFORMED },
	{ "admin" AT "@hq.example.com", NULL, PBX_R_MALFORMED },
	{ "a" AT " b", NULL, PBX_R_MALFORMED },
	{ "a" AT "/b", NULL, PBX_R_MALFORMED },
	{ "a" AT "%41", NULL, PBX_R_MALFORMED },
	{ "[::1" AT "", NULL, PBX_R_MALFORMED },
	{ "[" AT "]", NULL, PBX_R_MALFORMED },
	{ "[::1]" AT "x", NULL, PBX_R_MALFORMED },
	{ "[::1" AT "%25eth0]", NULL, PBX_R_MALFORMED },
	{ "[" AT "v1.x]", NULL, PBX_R_MALFORMED },
	{ "[::1]:" AT "x", NULL, PBX_R_MALFORMED },
};

START_TEST(test_http_request_host)
{
	char text[256];
	struct pbx_verdict v;

	for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
		snprintf(text, sizeof text, GET "Host: %s\r\nAccept: */*\r\n\r\n", hosts[i].value);
		if (!hosts[i].name) {
			refused(text, hosts[i].reason);
			continue;
		}
		struct msg m = routed(text, &v);
		ck_span(v.name, hosts[i].name);
		free(m.p);
	}
	/* Exactly one Host in HTTP/1.1; none names nothing, in 1.0 too. */
	refused(GET "Host: a\r\n" AT "Host: a\r\n\r\n", AMB);
	refused(GET "Host: a\r\nX: 1\r\n" AT "host: b\r\n\r\n", AMB);
	refused(GET "Host: \r\n" AT "Host: b\r\n\r\n", AMB);
	refused(GET "Accept: */*\r\n" AT "\r\n", PBX_R_NO_NAME);
	refused(GET AT "\r\n", PBX_R_NO_NAME);
	refused("GET / HTTP/1.0\r\nAccept: */*\r\n" AT "\r\n", PBX_R_NO_NAME);
	struct msg m = routed("GET / HTTP/1.0\r\nHost: a.example\r\n\r\n", &v);
	ck_span(v.name, "a.example");
	free(m.p);
	/* X-Host and friends are not Host. */
	refused(GET "X-Host: a\r\nX-Forwarded-Host: a\r\n" AT "\r\n", PBX_R_NO_NAME);
}
END_TEST

/* ---- framing ---- */

#define POST "POST / HTTP/1.1\r\nHost: a\r\n"

static void framed(const char *text, enum pbx_body body, uint64_t len)
{
	struct pbx_verdict v;
	struct msg m = routed(text, &v);
	ck_assert_msg(v.body == body && v.body_len == len, "%s: body %d %llu, want %d %llu",
		      show(m.p, m.len), v.body, (unsigned long long)v.body_len, body,
		      (unsigned long long)len);
	free(m.p);
}

START_TEST(test_http_request_framing)
{
	framed(POST "\r\n", NONE, 0);
	framed(POST "Content-Length: 0\r\n\r\n", NONE, 0);
	framed(POST "Content-Length: 10\r\n\r\n", LEN, 10);
	framed(POST "content-length:  007 \t\r\n\r\n", LEN, 7);
	framed(POST "Content-Length: 9223372036854775807\r\n\r\n", LEN, 9223372036854775807ull);
	framed(POST "Transfer-Encoding: chunked\r\n\r\n", CHUNKED, 0);
	framed(POST "transfer-encoding: CHUNKED\r\n\r\n", CHUNKED, 0);
	framed(POST "Transfer-Encoding:\tChunked \r\n\r\n", CHUNKED, 0);

	/* Content-Length: digits that fit. */
	refused(POST "Content-Length: 922337203685477580" AT "8\r\n\r\n", MAL);
	refused(POST "Content-Length: 1844674407370955161" AT "6\r\n\r\n", MAL);
	refused(POST "Content-Length:" AT "\r\n\r\n", MAL);
	refused(POST "Content-Length: " AT "-1\r\n\r\n", MAL);
	refused(POST "Content-Length: " AT "+1\r\n\r\n", MAL);
	refused(POST "Content-Length: 1" AT "e3\r\n\r\n", MAL);
	refused(POST "Content-Length: 0" AT "x10\r\n\r\n", MAL);
	refused(POST "Content-Length: 5" AT " 5\r\n\r\n", MAL);
	/* ... one of them, no lists. */
	refused(POST "Content-Length: 5" AT ",5\r\n\r\n", AMB);
	refused(POST "Content-Length: " AT ",5\r\n\r\n", AMB);
	refused(POST "Content-Length: 5\r\n" AT "Content-Length: 5\r\n\r\n", AMB);
	refused(POST "Content-Length: 5\r\n" AT "content-length: 6\r\n\r\n", AMB);
	/* ... and never with Transfer-Encoding. */
	refused(POST "Content-Length: 5\r\n" AT "Transfer-Encoding: chunked\r\n\r\n", AMB);
	refused(POST "Transfer-Encoding: chunked\r\n" AT "Content-Length: 5\r\n\r\n", AMB);
	refused(POST "Content-Length: 0\r\n" AT "Transfer-Encoding: gzip\r\n\r\n", AMB);
	/* Transfer-Encoding: chunked alone, once, and not in HTTP/1.0. */
	refused(POST "Transfer-Encoding: " AT "xchunked\r\n\r\n", UNSUP);
	refused(POST "Transfer-Encoding: " AT "chunked, identity\r\n\r\n", UNSUP);
	refused(POST "Transfer-Encoding: " AT "chunked,\r\n\r\n", UNSUP);
	refused(POST "Transfer-Encoding: " AT "gzip, chunked\r\n\r\n", UNSUP);
	refused(POST "Transfer-Encoding: " AT "identity\r\n\r\n", UNSUP);
	refused(POST "Transfer-Encoding: " AT "chunked;q=1\r\n\r\n", UNSUP);
	refused(POST "Transfer-Encoding: " AT "\"chunked\"\r\n\r\n", UNSUP);
	refused(POST "Transfer-Encoding:" AT "\r\n\r\n", UNSUP);
	refused(POST "Transfer-Encoding: chunked\r\n" AT "Transfer-Encoding: chunked\r\n\r\n",
		AMB);
	refused("POST / HTTP/1.0\r\nHost: a\r\n" AT "Transfer-Encoding: chunked\r\n\r\n", AMB);
	refused(POST "Transfer-Encoding: " AT "\vchunked\r\n\r\n", MAL);
	refused(POST "Transfer-Encoding: chunked" AT "\v\r\n\r\n", MAL);
	/* Framing is checked before the head ends: the first rule broken
	 * is the one reported. */
	refused(POST "Content-Length: 5\r\n" AT "Content-Length: 5\r\nHost: b\r\n\r\n", AMB);
}
END_TEST

/* ---- flags ---- */

static unsigned flags_of(const char *text)
{
	struct pbx_verdict v;
	struct msg m = routed(text, &v);
	free(m.p);
	return v.flags;
}

static const struct {
	const char *fields; /* the field lines of a GET / */
	int minor;          /* HTTP/1.minor */
	unsigned flags;
} flag_cases[] = {
	{ "Host: a\r\n", 1, R },
	{ "Host: a\r\nConnection: close\r\n", 1, RC },
	{ "Host: a\r\nConnection: Keep-Alive , CLOSE\r\n", 1, RC },
	{ "Host: a\r\nConnection: keep-alive\r\nConnection: close\r\n", 1, RC },
	{ "Host: a\r\nConnection: closed, xclose\r\n", 1, R },
	{ "Host: a\r\nX-Connection: close\r\n", 1, R },
	/* HTTP/1.0 closes unless kept alive. */
	{ "Host: a\r\n", 0, RC },
	{ "Host: a\r\nConnection: Keep-Alive\r\n", 0, R },
	{ "Host: a\r\nConnection: keep-alive, close\r\n", 0, RC },
	/* WebSocket, when Connection names the upgrade. */
	{ "Host: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n", 1, R | PBX_VF_UPGRADE },
	{ "Host: a\r\nUpgrade: WebSocket\r\nConnection: keep-alive, upgrade\r\n", 1,
	  R | PBX_VF_UPGRADE },
	{ "Host: a\r\nUpgrade: websocket\r\n", 1, R },
	{ "Host: a\r\nConnection: upgrade\r\n", 1, R },
	{ "Host: a\r\nUpgrade: h2c\r\n", 1, R },
};

START_TEST(test_http_request_flags)
{
	char text[256];

	for (size_t i = 0; i < sizeof flag_cases / sizeof flag_cases[0]; i++) {
		snprintf(text, sizeof text, "GET / HTTP/1.%d\r\n%s\r\n", flag_cases[i].minor,
			 flag_cases[i].fields);
		unsigned flags = flags_of(text);
		ck_assert_msg(flags == flag_cases[i].flags, "%s: flags %#x, want %#x",
			      show(text, strlen(text)), flags, flag_cases[i].flags);
	}
	/* Any other upgrade is refused. */
	refused(GET "Host: a\r\nConnection: Upgrade, HTTP2-Settings\r\n"
		    "Upgrade: " AT "h2c\r\n\r\n", UNSUP);
	refused(GET "Host: a\r\nUpgrade: websocket, " AT "h2c\r\nConnection: upgrade\r\n\r\n",
		UNSUP);
	refused(GET "Host: a\r\nUpgrade: " AT "TLS/1.0\r\nUpgrade: websocket\r\n"
		    "Connection: upgrade\r\n\r\n", UNSUP);
	refused(GET "Host: a\r\nUpgrade: " AT "websocket2\r\nConnection: upgrade\r\n\r\n", UNSUP);
}
END_TEST

/* ---- X-Forwarded-For ---- */

/* Insert the client address as rpd does, and read the result back. */
static void forward(const struct msg *m, const struct pbx_verdict *v, const char *want_last)
{
	char out[1024];
	size_t at = v->xff_at ? v->xff_at : v->xff_end_of_head;
	const char *add = v->xff_at ? ", 198.51.100.7" : "X-Forwarded-For: 198.51.100.7\r\n";
	ck_assert_uint_lt(at, v->head_len);
	int n = snprintf(out, sizeof out, "%.*s%s%.*s", (int)at, (const char *)m->p, add,
			 (int)(v->head_len - at), (const char *)m->p + at);
	ck_assert_int_lt(n, (int)sizeof out);

	struct pbx_verdict w;
	struct msg f = request_n((const uint8_t *)out, (size_t)n, NOWHERE, MAX_HEAD, &w);
	ck_assert_int_eq(w.kind, PBX_V_ROUTE);
	ck_assert_uint_eq(w.head_len, (size_t)n);
	/* The last X-Forwarded-For now ends with the client. */
	const char *end = (const char *)f.p + w.xff_at;
	size_t wl = strlen(want_last);
	ck_assert_uint_ge(w.xff_at, wl);
	ck_assert_msg(memcmp(end - wl, want_last, wl) == 0, "forwarded head: %s",
		      show(out, (size_t)n));
	free(f.p);
}

START_TEST(test_http_request_xff)
{
	struct pbx_verdict v;
	struct msg m;

	/* None: a new line at the end of the head. */
	m = routed(GET "Host: a\r\nAccept: */*\r\n\r\n", &v);
	ck_assert_uint_eq(v.xff_at, 0);
	ck_assert_uint_eq(v.xff_end_of_head, m.len - 2);
	forward(&m, &v, "X-Forwarded-For: 198.51.100.7");
	free(m.p);

	/* One: after its value, trailing OWS trimmed. */
	m = routed(GET "X-Forwarded-For: 192.0.2.1 \t\r\nHost: a\r\n\r\n", &v);
	ck_assert_uint_eq(v.xff_at, strlen(GET "X-Forwarded-For: 192.0.2.1"));
	ck_assert_uint_eq(v.xff_end_of_head, m.len - 2);
	forward(&m, &v, "192.0.2.1, 198.51.100.7");
	free(m.p);

	/* Two: after the last one's value. */
	m = routed(GET "Host: a\r\nX-Forwarded-For: 192.0.2.1, 192.0.2.2\r\nAccept: */*\r\n"
		       "x-forwarded-for: 192.0.2.3\r\n\r\n", &v);
	ck_assert_uint_eq(v.xff_at, m.len - strlen("\r\n\r\n"));
	forward(&m, &v, "192.0.2.3, 198.51.100.7");
	free(m.p);

	/* With leading empty lines the offsets still count from p. */
	m = routed("\r\nGET / HTTP/1.1\r\nX-Forwarded-For: 192.0.2.1\r\nHost: a\r\n\r\n", &v);
	ck_assert_uint_eq(v.xff_at, strlen("\r\nGET / HTTP/1.1\r\nX-Forwarded-For: 192.0.2.1"));
	ck_assert_uint_eq(v.xff_end_of_head, m.len - 2);
	free(m.p);

	/* Not X-Forwarded-For. */
	m = routed(GET "Host: a\r\nX-Forwarded-Host: b\r\nForwarded: for=192.0.2.1\r\n\r\n", &v);
	ck_assert_uint_eq(v.xff_at, 0);
	free(m.p);
}
END_TEST

/* ---- the head bound ---- */

START_TEST(test_http_request_max_head)
{
	char text[600];
	struct pbx_verdict v;
	const char *head = GET "Host: a\r\nX-Pad: ";
	size_t max = 200;

	/* A head of exactly max bytes passes; one more byte does not. */
	size_t pad = max - strlen(head) - 4;
	char xs[sizeof text];
	memset(xs, 'x', sizeof xs);
	int n = snprintf(text, sizeof text, "%s%.*s\r\n\r\n", head, (int)pad, xs);
	ck_assert_int_eq(n, (int)max);
	struct msg m = request_max(text, max, &v);
	ck_assert_int_eq(v.kind, PBX_V_ROUTE);
	ck_assert_uint_eq(v.head_len, max);
	free(m.p);
	m = request_max(text, max - 1, &v);
	ck_assert_int_eq(v.kind, PBX_V_REFUSE);
	ck_assert_int_eq(v.reason, PBX_R_TOO_LARGE);
	ck_assert_uint_eq(v.offset, max - 1);
	free(m.p);

	/* Leading empty lines count. */
	char lead[620];
	snprintf(lead, sizeof lead, "\r\n%s", text);
	m = request_max(lead, max, &v);
	ck_assert_int_eq(v.reason, PBX_R_TOO_LARGE);
	ck_assert_uint_eq(v.offset, max);
	free(m.p);
	m = request_max(lead, max + 2, &v);
	ck_assert_int_eq(v.kind, PBX_V_ROUTE);
	free(m.p);

	/* Once max bytes are there, the answer is never need-more, however
	 * the bytes end: in a field, in a CR, in an empty line run. */
	const char *tails[] = { "X-A: aaaa", "X-A: a\r", "X-A: a\r\n", "", "\r\n\r" };
	for (size_t t = 0; t < sizeof tails / sizeof tails[0]; t++) {
		for (size_t cut = strlen(GET) + 1; cut < 80; cut++) {
			char buf[100];
			memset(buf, 'y', sizeof buf);
			memcpy(buf, GET, strlen(GET));
			memcpy(buf + strlen(GET), tails[t], strlen(tails[t]));
			if (t == 3) {
				/* empty lines before the request line */
				memset(buf, '\r', 80);
				for (int i = 1; i < 80; i += 2)
					buf[i] = '\n';
			}
			void *st = harness_state(http(), cut);
			http()->request(st, (const uint8_t *)buf, cut, &v);
			free(st);
			ck_assert_msg(v.kind != PBX_V_NEED_MORE, "need-more with %zu of %zu bytes",
				      cut, cut);
			ck_assert_uint_le(v.offset, cut);
		}
	}
	/* Too large at max even when a line end is a byte past it. */
	refused_max(GET "Host: a\r\nX-A: abc" AT "\r\n\r\n", strlen(GET "Host: a\r\nX-A: abc"),
		    PBX_R_TOO_LARGE);
}
END_TEST

/* ---- keep-alive ---- */

START_TEST(test_http_request_keepalive)
{
	static const char seq[] =
		"GET /PBX0/MY HTTP/1.1\r\nHost: hq.example.com\r\n\r\n"
		"POST /PBX0/user.soap HTTP/1.1\r\nHost: hq.example.com\r\n"
		"Content-Length: 5\r\n\r\nhello"
		"POST /ap/cdr.fcgi HTTP/1.1\r\nHost: hq.example.com\r\n"
		"Transfer-Encoding: chunked\r\n\r\n"
		"3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"
		"\r\n"
		"HEAD /PBX0/MY/ HTTP/1.1\r\nHost: hq.example.com\r\nConnection: close\r\n\r\n";
	static const char *const urls[] = { "/PBX0/MY", "/PBX0/user.soap", "/ap/cdr.fcgi",
					    "/PBX0/MY/" };
	const uint8_t *p = (const uint8_t *)seq;
	size_t len = sizeof seq - 1, off = 0, used;
	struct pbx_verdict v, h;

	/* One state, as rpd keeps one per connection. */
	void *st = harness_state(http(), MAX_HEAD);
	for (size_t i = 0; i < 4; i++) {
		/* Each message also through the harness, with the rest
		 * behind it. */
		harness_request(http(), p + off, len - off, MAX_HEAD, &h, NULL);
		ck_assert_int_eq(h.kind, PBX_V_ROUTE);
		http()->request(st, p + off, len - off, &v);
		ck_assert_int_eq(v.kind, PBX_V_ROUTE);
		ck_assert_uint_eq(v.head_len, h.head_len);
		ck_span(v.url, urls[i]);
		ck_span(v.name, "hq.example.com");
		off += v.head_len;
		if (v.body == PBX_BODY_LENGTH) {
			off += v.body_len;
		} else if (v.body == PBX_BODY_CHUNKED) {
			ck_assert_int_eq(chunks_whole(p + off, len - off, &used), 1);
			off += used;
		}
		ck_assert_uint_eq(v.flags, i == 3 ? RC : R);
	}
	ck_assert_uint_eq(off, len);

	/* A refusal ends its message: the next call starts afresh. */
	static const char bad[] = "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n";
	http()->request(st, (const uint8_t *)bad, sizeof bad - 1, &v);
	ck_assert_int_eq(v.kind, PBX_V_REFUSE);
	http()->request(st, p, 20, &v);
	ck_assert_int_eq(v.kind, PBX_V_NEED_MORE);
	http()->request(st, p, len, &v);
	ck_assert_int_eq(v.kind, PBX_V_ROUTE);
	ck_span(v.url, "/PBX0/MY");
	free(st);
}
END_TEST

/* The calling convention has the caller come back with the same bytes
 * and more.  Given fewer, the inspector starts over instead of trusting
 * offsets past the end of what it was given. */
START_TEST(test_http_request_fewer_bytes)
{
	static const char longer[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: aaaaaaaaaaaaaaaaaaaa";
	static const char shorter[] = "GET /b HTTP/1.1\r\nHost: b\r\n\r\n";
	static const char reply_longer[] = "HTTP/1.1 200 OK\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaa";
	static const char reply_shorter[] = "HTTP/1.1 204 OK\r\n\r\n";
	void *st = harness_state(http(), MAX_HEAD);
	struct pbx_verdict v;
	struct pbx_reply r;

	ck_assert_uint_lt(sizeof shorter, sizeof longer);
	http()->request(st, (const uint8_t *)longer, sizeof longer - 1, &v);
	ck_assert_int_eq(v.kind, PBX_V_NEED_MORE);
	uint8_t *c = malloc(sizeof shorter - 1);
	memcpy(c, shorter, sizeof shorter - 1);
	http()->request(st, c, sizeof shorter - 1, &v);
	ck_assert_int_eq(v.kind, PBX_V_ROUTE);
	ck_span(v.url, "/b");
	free(c);

	ck_assert_uint_lt(sizeof reply_shorter, sizeof reply_longer);
	http()->reply(st, (const uint8_t *)reply_longer, sizeof reply_longer - 1, &r);
	ck_assert_int_eq(r.kind, PBX_V_NEED_MORE);
	c = malloc(sizeof reply_shorter - 1);
	memcpy(c, reply_shorter, sizeof reply_shorter - 1);
	http()->reply(st, c, sizeof reply_shorter - 1, &r);
	ck_assert_int_eq(r.kind, PBX_V_PASS);
	ck_assert_int_eq(r.status, 204);
	free(c);
	free(st);
}
END_TEST

/* ---- linear time ---- */

/* An 8 MiB head fed one byte more per call, in one line and in 90 lines:
 * with the scan position kept in the state this is 8 million short calls
 * (about a second even under ASan); rescanning the line or the head on
 * every call would be some 10^13 byte visits, and the test would never
 * end within the test timeout.  No clock is read: the margin is a factor
 * of millions, not a ratio to guess. */
START_TEST(test_http_request_linear)
{
	static const int lines[] = { 1, 90 };
	const size_t size = 8u << 20;
	for (size_t i = 0; i < 2; i++) {
		char *head = malloc(size + 4096);
		size_t n = (size_t)sprintf(head, GET "Host: a\r\n");
		size_t line = size / (size_t)lines[i];
		for (int l = 0; l < lines[i]; l++) {
			n += (size_t)sprintf(head + n, "X-%02d: ", l);
			memset(head + n, 'a', line);
			n += line;
			n += (size_t)sprintf(head + n, "\r\n");
		}
		n += (size_t)sprintf(head + n, "\r\n");
		const struct pbx_inspector *in = http();
		void *st = harness_state(in, 2 * size);
		struct pbx_verdict v;
		size_t k;
		for (k = 1; k <= n; k++) {
			in->request(st, (const uint8_t *)head, k, &v);
			if (v.kind != PBX_V_NEED_MORE)
				break;
		}
		ck_assert_int_eq(v.kind, PBX_V_ROUTE);
		ck_assert_uint_eq(v.head_len, n);
		ck_assert_uint_eq(k, n);
		free(st);
		free(head);
	}
}
END_TEST

/* ---- replies ---- */

struct reply_case {
	const char *text;
	bool head;             /* answers a HEAD */
	enum pbx_verdict_kind kind;
	int status;
	enum pbx_body body;
	uint64_t body_len;
	unsigned flags;
};

#define PASSES(t, s, b, l, f) { t, false, PBX_V_PASS, s, b, l, f }
#define PASSES_HEAD(t, s) { t, true, PBX_V_PASS, s, NONE, 0, 0 }
#define FAILS(t, s) { t, false, PBX_V_REFUSE, s, NONE, 0, 0 }
#define OK200 "HTTP/1.1 200 OK\r\n"

static const struct reply_case replies[] = {
	PASSES(OK200 "Content-Length: 5\r\n\r\n", 200, LEN, 5, 0),
	PASSES(OK200 "Content-Length: 0\r\n\r\n", 200, NONE, 0, 0),
	PASSES(OK200 "content-length: 5 , 5\r\nContent-Length: 5\r\n\r\n", 200, LEN, 5, 0),
	PASSES(OK200 "Transfer-Encoding: chunked\r\n\r\n", 200, CHUNKED, 0, 0),
	PASSES(OK200 "Transfer-Encoding: gzip, CHUNKED\r\n\r\n", 200, CHUNKED, 0, 0),
	PASSES(OK200 "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 200, CLOSE,
	       0, C),
	PASSES(OK200 "Transfer-Encoding: identity\r\n\r\n", 200, CLOSE, 0, C),
	PASSES(OK200 "\r\n", 200, CLOSE, 0, C),
	PASSES("HTTP/1.1 500 Oops\r\nConnection: close\r\nContent-Length: 3\r\n\r\n", 500, LEN, 3,
	       C),
	PASSES("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n", 200, LEN, 3, C),
	PASSES("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\n", 200, LEN,
	       3, 0),
	/* No body: 1xx, 204, 304, and any answer to HEAD, whatever the
	 * fields say. */
	PASSES("HTTP/1.1 100 Continue\r\n\r\n", 100, NONE, 0, 0),
	PASSES("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n", 103, NONE, 0,
	       0),
	PASSES("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
	       "Upgrade: websocket\r\n\r\n", 101, NONE, 0, PBX_VF_UPGRADE),
	PASSES("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", 204, NONE, 0, 0),
	PASSES("HTTP/1.1 304 Not Modified\r\nContent-Length: 500\r\n"
	       "Transfer-Encoding: chunked\r\n\r\n", 304, NONE, 0, 0),
	PASSES_HEAD(OK200 "Content-Length: 500\r\n\r\n", 200),
	PASSES_HEAD(OK200 "Transfer-Encoding: chunked\r\n\r\n", 200),
	PASSES_HEAD(OK200 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 200),
	PASSES_HEAD("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n"
		    "Connection: keep-alive\r\n\r\n", 200),
	/* Lenient where framing cannot suffer. */
	PASSES("HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n", 200, LEN, 1, 0),
	PASSES("HTTP/1.1 200 \r\nContent-Length: 1\r\n\r\n", 200, LEN, 1, 0),
	PASSES("\r\n" OK200 "Content-Length: 1\r\n\r\n", 200, LEN, 1, 0),
	PASSES(OK200 "X-A: 1\r\n 2\r\nContent-Length: 1\r\n\r\n", 200, LEN, 1, 0),
	PASSES(OK200 "X-A : 1\r\nbroken\r\nX-B: \003\r\nContent-Length: 1\r\n\r\n", 200, LEN, 1,
	       0),
	PASSES(OK200 "X-Content-Length: 7\r\nContent-Length: 1\r\n\r\n", 200, LEN, 1, 0),
	PASSES("HTTP/1.1 599 Whatever\r\nContent-Length: 1\r\n\r\n", 599, LEN, 1, 0),
	PASSES(OK200 " Content-Length: 5\r\n\r\n", 200, CLOSE, 0, C),
	/* ... and not where it can. */
	FAILS(OK200 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 200),
	FAILS(OK200 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 200),
	FAILS(OK200 "Content-Length: 5, 6\r\n\r\n", 200),
	FAILS(OK200 "Content-Length: 5,\r\n\r\n", 200),
	FAILS(OK200 "Content-Length: +5\r\n\r\n", 200),
	FAILS(OK200 "Content-Length:\r\n\r\n", 200),
	FAILS(OK200 "Content-Length: 99999999999999999999\r\n\r\n", 200),
	FAILS(OK200 "Content-Length: 5\r\n 6\r\n\r\n", 200),
	FAILS(OK200 "Transfer-Encoding: gzip\r\n chunked\r\n\r\n", 200),
	FAILS(OK200 "Transfer-Encoding : chunked\r\n\r\n", 200),
	FAILS("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 200),
	FAILS("HTTP/1.1 200 OK\nContent-Length: 1\r\n\r\n", -1),
	FAILS(OK200 "Content-Length: 1\r\rX: y\r\n\r\n", 200),
	/* Status lines. */
	FAILS("HTTP/1.1 2000 OK\r\n\r\n", -1),
	FAILS("HTTP/1.1 099 Low\r\n\r\n", -1),
	FAILS("HTTP/1.1 600 High\r\n\r\n", -1),
	FAILS("HTTP/1.1 20x OK\r\n\r\n", -1),
	FAILS("HTTP/1.1  200 OK\r\n\r\n", -1),
	FAILS("HTTP/2 200 OK\r\n\r\n", -1),
	FAILS("http/1.1 200 OK\r\n\r\n", -1),
	FAILS("ICY 200 OK\r\n\r\n", -1),
	FAILS("GET / HTTP/1.1\r\n\r\n", -1),
};

START_TEST(test_http_reply)
{
	for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++) {
		const struct reply_case *c = &replies[i];
		struct pbx_reply r;
		reply_text(c->text, c->head, &r);
		const char *t = show(c->text, strlen(c->text));
		ck_assert_msg(r.kind == c->kind, "%s: kind %d", t, r.kind);
		ck_assert_msg(r.status == c->status, "%s: status %d", t, r.status);
		if (r.kind == PBX_V_REFUSE) {
			ck_assert_msg(r.reason == PBX_R_MALFORMED, "%s: %s", t,
				      pbx_reason_name(r.reason));
			continue;
		}
		ck_assert_msg(r.body == c->body && r.body_len == c->body_len, "%s: body %d %llu", t,
			      r.body, (unsigned long long)r.body_len);
		ck_assert_msg(r.flags == c->flags, "%s: flags %#x", t, r.flags);
		ck_assert_uint_eq(r.head_len, strlen(c->text));
		ck_assert(r.final == (c->status >= 200 || c->status == 101));
		ck_assert(!r.rejection);
	}

	/* 403 is a rejection, whatever the framing; 401 and 407 only answer a
	 * request that carried credentials (the first challenge is normal). */
	static const int statuses[] = { 200, 301, 400, 401, 403, 404, 407, 500 };
	for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
		char text[64];
		struct pbx_reply r;
		snprintf(text, sizeof text, "HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n",
			 statuses[i]);
		reply_text(text, false, &r);
		ck_assert_int_eq(r.kind, PBX_V_PASS);
		ck_assert_int_eq(r.status, statuses[i]);
		ck_assert(r.final);
		ck_assert(r.rejection == (statuses[i] == 403));
		harness_reply(http(), text, strlen(text), MAX_HEAD, prepare_get_with_credentials, &r);
		ck_assert(r.rejection == (statuses[i] == 401 || statuses[i] == 403 ||
					  statuses[i] == 407));
	}

	/* The head bound holds for replies. */
	char big[300];
	memset(big, 'a', sizeof big);
	memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
	void *st = harness_state(http(), 100);
	struct pbx_reply r;
	http()->reply(st, (const uint8_t *)big, 99, &r);
	ck_assert_int_eq(r.kind, PBX_V_NEED_MORE);
	ck_assert_int_eq(r.status, -1);
	http()->reply(st, (const uint8_t *)big, 100, &r);
	ck_assert_int_eq(r.kind, PBX_V_REFUSE);
	ck_assert_int_eq(r.reason, PBX_R_TOO_LARGE);
	free(st);
}
END_TEST

/* The method of the last routed request decides the framing of replies,
 * interim ones included; a later request replaces it. */
START_TEST(test_http_reply_after_head)
{
	static const char head[] = "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n";
	static const char get[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n";
	void *st = harness_state(http(), MAX_HEAD);
	struct pbx_verdict v;
	struct pbx_reply r;

	http()->request(st, (const uint8_t *)head, sizeof head - 1, &v);
	ck_assert_int_eq(v.kind, PBX_V_ROUTE);
	http()->reply(st, (const uint8_t *)cont, sizeof cont - 1, &r);
	ck_assert(!r.final);
	http()->reply(st, (const uint8_t *)ok, sizeof ok - 1, &r);
	ck_assert_int_eq(r.body, PBX_BODY_NONE);
	http()->request(st, (const uint8_t *)get, sizeof get - 1, &v);
	http()->reply(st, (const uint8_t *)ok, sizeof ok - 1, &r);
	ck_assert_int_eq(r.body, PBX_BODY_LENGTH);
	ck_assert_uint_eq(r.body_len, 7);
	/* A refused request does not change it. */
	http()->request(st, (const uint8_t *)"HEAD", 4, &v);
	ck_assert_int_eq(v.kind, PBX_V_NEED_MORE);
	http()->request(st, (const uint8_t *)"HEAD / HTTP/9.9\r\n", 17, &v);
	ck_assert_int_eq(v.kind, PBX_V_REFUSE);
	http()->reply(st, (const uint8_t *)ok, sizeof ok - 1, &r);
	ck_assert_int_eq(r.body, PBX_BODY_LENGTH);
	free(st);
}
END_TEST

/* Two replies back to back, as nginx sent them on one connection. */
START_TEST(test_http_reply_keepalive)
{
	static const char seq[] =
		"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Type: text/plain\r\n"
		"Content-Length: 12\r\nConnection: keep-alive\r\n\r\nhello nginx\n"
		"HTTP/1.1 100 Continue\r\n\r\n"
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
		"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
		"HTTP/1.1 403 Forbidden\r\nContent-Length: 3\r\nConnection: close\r\n\r\nno\n";
	static const int statuses[] = { 200, 100, 200, 404, 403 };
	const uint8_t *p = (const uint8_t *)seq;
	size_t len = sizeof seq - 1, off = 0, used;
	void *st = harness_state(http(), MAX_HEAD);
	struct pbx_reply r, h;

	for (size_t i = 0; i < 5; i++) {
		harness_reply(http(), p + off, len - off, MAX_HEAD, NULL, &h);
		http()->reply(st, p + off, len - off, &r);
		ck_assert_int_eq(r.kind, PBX_V_PASS);
		ck_assert_int_eq(h.kind, PBX_V_PASS);
		ck_assert_int_eq(r.status, statuses[i]);
		ck_assert_uint_eq(r.head_len, h.head_len);
		off += r.head_len;
		if (r.body == PBX_BODY_LENGTH) {
			off += r.body_len;
		} else if (r.body == PBX_BODY_CHUNKED) {
			ck_assert_int_eq(chunks_whole(p + off, len - off, &used), 1);
			off += used;
		}
	}
	ck_assert_uint_eq(off, len);
	ck_assert(r.rejection);
	ck_assert_uint_eq(r.flags, C);
	free(st);
}
END_TEST

/* ---- refusals ---- */

static const int refusal_codes[PBX_R_COUNT] = {
	[PBX_R_MALFORMED] = 400,     [PBX_R_AMBIGUOUS] = 400,   [PBX_R_NO_NAME] = 400,
	[PBX_R_TOO_LARGE] = 431,     [PBX_R_UNSUPPORTED] = 501, [PBX_R_UNKNOWN_NAME] = 421,
	[PBX_R_NO_TARGET] = 421,     [PBX_R_OTHER_SERVICE] = 421, [PBX_R_SOURCE_DENIED] = 403,
	[PBX_R_URL_DENIED] = 403,    [PBX_R_BAD_CERT] = 403,    [PBX_R_TIMEOUT] = 408,
	[PBX_R_TARGET_FAILED] = 502,
};

static bool contains(const uint8_t *p, size_t len, const char *s)
{
	return memmem(p, len, s, strlen(s)) != NULL;
}

START_TEST(test_http_refuse)
{
	static const char req[] = "GET /PBX0/ADMIN HTTP/1.1\r\nHost: a\r\n\r\n";
	static const char head[] = "HEAD /PBX0/ADMIN HTTP/1.1\r\nHost: a\r\n\r\n";
	uint8_t buf[4096];
	struct pbx_writer w;

	for (int reason = 0; reason < PBX_R_COUNT + 2; reason++) {
		int code = reason < PBX_R_COUNT ? refusal_codes[reason] : 0;
		enum pbx_reason why = (enum pbx_reason)reason;
		for (int is_head = 0; is_head < 2; is_head++) {
			const char *p = is_head ? head : req;
			size_t plen = strlen(p);
			void *st = harness_state(http(), MAX_HEAD);
			pbx_writer_init(&w, buf, sizeof buf);
			http()->refuse(st, (const uint8_t *)p, plen, why, &w);
			free(st);
			size_t n = pbx_writer_len(&w);
			ck_assert_int_eq(pbx_writer_error(&w), 0);
			if (!code) {
				/* blacklisted, tls-failed, service-rejected,
				 * client-closed: nothing to say. */
				ck_assert_msg(n == 0, "%s: wrote %zu bytes", pbx_reason_name(why),
					      n);
				continue;
			}
			/* It reads back as a complete reply, with the
			 * status and length it claims. */
			struct pbx_reply r;
			reply_n(buf, n, is_head, &r);
			ck_assert_int_eq(r.kind, PBX_V_PASS);
			ck_assert_int_eq(r.status, code);
			ck_assert(r.final);
			ck_assert_uint_eq(r.flags & PBX_VF_CLOSE, PBX_VF_CLOSE);
			char body[64];
			snprintf(body, sizeof body, "pbxedge: %s\n", pbx_reason_name(why));
			char cl[64];
			snprintf(cl, sizeof cl, "\r\nContent-Length: %zu\r\n", strlen(body));
			ck_assert(contains(buf, r.head_len, cl));
			ck_assert(contains(buf, r.head_len, "\r\nConnection: close\r\n"));
			ck_assert(contains(buf, r.head_len, "\r\nContent-Type: text/plain\r\n"));
			ck_assert(memcmp(buf, "HTTP/1.1 ", 9) == 0);
			if (is_head) {
				ck_assert_int_eq(r.body, PBX_BODY_NONE);
				ck_assert_uint_eq(n, r.head_len);
			} else {
				ck_assert_int_eq(r.body, PBX_BODY_LENGTH);
				ck_assert_uint_eq(r.body_len, strlen(body));
				ck_assert_uint_eq(n, r.head_len + strlen(body));
				ck_assert(memcmp(buf + r.head_len, body, strlen(body)) == 0);
			}
			/* A writer too small, by one byte or by many, takes
			 * nothing at all. */
			for (size_t less = 1; less <= n; less += less < 8 ? 1 : 17) {
				st = harness_state(http(), MAX_HEAD);
				pbx_writer_init(&w, buf, n - less);
				http()->refuse(st, (const uint8_t *)p, plen, why, &w);
				free(st);
				ck_assert_uint_eq(pbx_writer_len(&w), 0);
			}
		}
	}
	/* Whatever the request was, even none at all. */
	pbx_writer_init(&w, buf, sizeof buf);
	void *st = harness_state(http(), MAX_HEAD);
	http()->refuse(st, NULL, 0, PBX_R_TIMEOUT, &w);
	http()->refuse(st, (const uint8_t *)"\r\n\r\nHEA", 7, PBX_R_TIMEOUT, &w);
	free(st);
	ck_assert(contains(buf, pbx_writer_len(&w), "HTTP/1.1 408 "));
	ck_assert(contains(buf, pbx_writer_len(&w), "pbxedge: inspect-timeout\nHTTP/1.1 408"));
}
END_TEST

/* ---- chunked bodies ---- */

/* Scan body whole, in two parts at every split, and byte by byte; all
 * three must agree.  Returns the result, *used the bytes of the body (or
 * the offset of the error). */
static int chunks_every_way(const uint8_t *p, size_t len, size_t *used)
{
	size_t u, total;
	int rc = chunks_whole(p, len, used);
	ck_assert_uint_le(*used, len);
	if (rc == 0)
		ck_assert_uint_eq(*used, len);

	for (size_t s = 0; s <= len; s++) {
		struct pbx_chunks c;
		memset(&c, 0, sizeof c);
		uint8_t *a = malloc(s ? s : 1), *b = malloc(len - s ? len - s : 1);
		memcpy(a, p, s);
		memcpy(b, p + s, len - s);
		int r1 = pbx_http_chunks(&c, a, s, &u);
		if (r1 != 0) {
			ck_assert_int_eq(r1, rc);
			ck_assert_uint_eq(u, *used);
		} else {
			ck_assert_uint_eq(u, s);
			int r2 = pbx_http_chunks(&c, b, len - s, &u);
			ck_assert_msg(r2 == rc, "split at %zu: %d, whole %d", s, r2, rc);
			ck_assert_uint_eq(s + u, *used);
		}
		free(a);
		free(b);
	}

	struct pbx_chunks c;
	memset(&c, 0, sizeof c);
	total = 0;
	int r = 0;
	for (size_t k = 0; k < len && r == 0; k++) {
		r = pbx_http_chunks(&c, p + k, 1, &u);
		total += u;
	}
	ck_assert_int_eq(r, rc);
	ck_assert_uint_eq(total, *used);
	return rc;
}

struct chunk_case {
	const char *text; /* AT: where the body ends, or where it breaks */
	int rc;
};

static const struct chunk_case chunk_cases[] = {
	{ "5\r\nhello\r\n0\r\n\r\n" AT, 1 },
	{ "5\r\nhello\r\n0\r\n\r\n" AT "GET / HTTP/1.1\r\n", 1 },
	{ "0\r\n\r\n" AT "0\r\n\r\n", 1 },
	{ "3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n" AT, 1 },
	{ "A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n" AT, 1 },
	{ "0000000000000000000000005\r\nhello\r\n0\r\n\r\n" AT, 1 },
	{ "5;name=value\r\nhello\r\n0;last\r\n\r\n" AT, 1 },
	{ "5 ;a=\"b c\"\t;d\r\nhello\r\n0\r\n\r\n" AT, 1 },
	{ "5\t\t;a\r\nhello\r\n0\r\n\r\n" AT, 1 },
	{ "5\r\nhe\r\nl\r\n0\r\n\r\n" AT, 1 },
	{ "0\r\nX-Checksum: 1\r\nY: 2\r\n\r\n" AT "next", 1 },
	{ "0\r\nX-Empty:\r\n\r\n" AT, 1 },
	{ "5\r\nhello\r\n", 0 },
	{ "5\r\nhel", 0 },
	{ "0\r\nX-T: 1\r\n", 0 },
	{ "7fffffffffffffff\r\nabc", 0 },
	/* Broken: LF-only line ends, stray bytes, missing digits. */
	{ "5" AT "\nhello\r\n0\r\n\r\n", PBX_E_MALFORMED },
	{ "5\r\nhello" AT "\n0\r\n\r\n", PBX_E_MALFORMED },
	{ "5\r\nhello\r\n0\r\n" AT "\n", PBX_E_MALFORMED },
	{ "5\r\nhello\r\n0\r\n\r" AT "\r", PBX_E_MALFORMED },
	{ "5\r\nhello" AT "X\r\n0\r\n\r\n", PBX_E_MALFORMED },
	{ "5\r\nhello\r" AT "X0\r\n\r\n", PBX_E_MALFORMED },
	{ "5\r" AT "X", PBX_E_MALFORMED },
	{ AT "\r\nhello", PBX_E_MALFORMED },
	{ AT ";x\r\nhello", PBX_E_MALFORMED },
	{ AT "g\r\n", PBX_E_MALFORMED },
	{ AT "-5\r\n", PBX_E_MALFORMED },
	{ AT " 5\r\n", PBX_E_MALFORMED },
	{ "0" AT "x5\r\n", PBX_E_MALFORMED },
	{ "5" AT "x\r\n", PBX_E_MALFORMED },
	{ "5 " AT "\r\nhello", PBX_E_MALFORMED },
	{ "5 " AT "x\r\n", PBX_E_MALFORMED },
	{ "5;a" AT NUL "\r\n", PBX_E_MALFORMED },
	{ "5;a" AT "\n", PBX_E_MALFORMED },
	{ "0\r\nX: 1" AT "\nY: 2\r\n\r\n", PBX_E_MALFORMED },
	{ "0\r\nX: 1\r" AT "Y\r\n\r\n", PBX_E_MALFORMED },
	{ "0\r\n" AT " X: 1\r\n\r\n", PBX_E_MALFORMED },
	{ "0\r\nX: a" AT NUL "b\r\n\r\n", PBX_E_MALFORMED },
	{ "0\r\n" AT "\n", PBX_E_MALFORMED },
	/* Sizes past 2^63 - 1. */
	{ "800000000000000" AT "0\r\n", PBX_E_TOOLONG },
	{ "1000000000000000" AT "0\r\n", PBX_E_TOOLONG },
	{ "fffffffffffffff" AT "f\r\n", PBX_E_TOOLONG },
};

START_TEST(test_pbx_http_chunks)
{
	size_t used;

	for (size_t i = 0; i < sizeof chunk_cases / sizeof chunk_cases[0]; i++) {
		struct msg m = unmark(chunk_cases[i].text);
		int rc = chunks_every_way(m.p, m.len, &used);
		ck_assert_msg(rc == chunk_cases[i].rc, "%s: %d, want %d", show(m.p, m.len), rc,
			      chunk_cases[i].rc);
		if (rc != 0)
			ck_assert_msg(used == m.at, "%s: used %zu, want %zu", show(m.p, m.len),
				      used, m.at);
		free(m.p);
	}

	/* Size and trailer lines are bounded. */
	size_t n = PBX_HTTP_CHUNK_LINE_MAX + 100;
	char *line = malloc(n);
	memset(line, 'a', n);
	memcpy(line, "5;", 2);
	ck_assert_int_eq(chunks_whole(line, n, &used), PBX_E_TOOLONG);
	ck_assert_uint_eq(used, PBX_HTTP_CHUNK_LINE_MAX);
	memcpy(line, "0\r\nX: ", 6);
	ck_assert_int_eq(chunks_whole(line, n, &used), PBX_E_TOOLONG);
	ck_assert_uint_eq(used, 3 + PBX_HTTP_CHUNK_LINE_MAX);
	/* ... a trailer line of exactly the bound, CRLF included, passes. */
	memcpy(line + 3 + PBX_HTTP_CHUNK_LINE_MAX - 2, "\r\n\r\n", 4);
	ck_assert_int_eq(chunks_whole(line, PBX_HTTP_CHUNK_LINE_MAX + 5, &used), 1);
	ck_assert_uint_eq(used, PBX_HTTP_CHUNK_LINE_MAX + 5);
	memset(line + 3, 'a', n - 3);
	memcpy(line + 3 + PBX_HTTP_CHUNK_LINE_MAX - 1, "\r\n\r\n", 4);
	ck_assert_int_eq(chunks_whole(line, PBX_HTTP_CHUNK_LINE_MAX + 6, &used), PBX_E_TOOLONG);
	ck_assert_uint_eq(used, 3 + PBX_HTTP_CHUNK_LINE_MAX);
	free(line);

	/* A big chunk is counted, not read into memory. */
	struct pbx_chunks c;
	memset(&c, 0, sizeof c);
	static const char big[] = "7fffffffffffffff\r\n";
	ck_assert_int_eq(pbx_http_chunks(&c, (const uint8_t *)big, sizeof big - 1, &used), 0);
	uint8_t junk[4096] = { 0 };
	for (int i = 0; i < 100; i++) {
		ck_assert_int_eq(pbx_http_chunks(&c, junk, sizeof junk, &used), 0);
		ck_assert_uint_eq(used, sizeof junk);
	}

	/* After the end, nothing more belongs to the body. */
	memset(&c, 0, sizeof c);
	ck_assert_int_eq(pbx_http_chunks(&c, (const uint8_t *)"0\r\n\r\nGET", 8, &used), 1);
	ck_assert_uint_eq(used, 5);
	ck_assert_int_eq(pbx_http_chunks(&c, (const uint8_t *)"GET", 3, &used), 1);
	ck_assert_uint_eq(used, 0);
	memset(&c, 0, sizeof c);
	ck_assert_int_eq(pbx_http_chunks(&c, NULL, 0, &used), 0);
	ck_assert_uint_eq(used, 0);
}
END_TEST

/* ---- allowed URLs ---- */

static const struct {
	const char *allowed, *url;
	bool ok;
} url_cases[] = {
	/* The reference's rule and its examples. */
	{ "/PBX0/APPS/", "/PBX0/APPS/x.js", true },
	{ "/PBX0/APPS/", "/PBX0/APPS/x.js?a=/b", true },
	{ "/PBX0/APPS/", "/PBX0/APPS/a/b", false },
	{ "/PBX0/APPS/", "/PBX0/APPS/", true },
	{ "/PBX0/APPS/", "/PBX0/APPS/?x=/y", true },
	{ "/PBX0/APPS/", "/PBX0/APPS", false },
	{ "/PBX0/APPS/", "/PBX0/APPS/a/", false },
	{ "/PBX0/MY", "/PBX0/MY", true },
	{ "/PBX0/MY", "/PBX0/MY/x/y", true },
	{ "/PBX0/MY", "/PBX0/MYSELF", true },
	{ "/PBX0/MY", "/PBX0/MY?a=b", true },
	{ "/PBX0/MY", "/PBX0/M", false },
	{ "/PBX0/MY", "/PBX0/M?Y", false },
	/* Case-sensitive. */
	{ "/PBX0/MY", "/pbx0/my", false },
	{ "/PBX0/APPS/", "/PBX0/apps/x.js", false },
	/* A head match on the path alone: the query does not count. */
	{ "/PBX0/ADMIN", "/PBX0/MY?/PBX0/ADMIN", false },
	{ "/PBX0/MY", "/X/PBX0/MY", false },
	{ "/", "/x", true },
	{ "/", "/x/y", false },
	{ "/", "/?a/b", true },
	{ "/fonts", "/fonts/a/b.woff", true },
	{ "/favicon.ico", "/favicon.ico", true },
	{ "/favicon.ico", "/favicon.icon", true },
	/* Nothing allows everything. */
	{ "", "/x", false },
	{ "/", "*", false },
	{ "/", "", false },
};

START_TEST(test_pbx_url_allowed)
{
	for (size_t i = 0; i < sizeof url_cases / sizeof url_cases[0]; i++) {
		struct pbx_span url = pbx_span_cstr(url_cases[i].url);
		/* A copy of exactly the url's size: no reading past it. */
		char *copy = malloc(url.len ? url.len : 1);
		memcpy(copy, url.p, url.len);
		url.p = copy;
		ck_assert_msg(pbx_url_allowed(url, url_cases[i].allowed) == url_cases[i].ok,
			      "'%s' against '%s'", url_cases[i].url, url_cases[i].allowed);
		free(copy);
	}
	ck_assert(!pbx_url_allowed(pbx_span_cstr("/x"), NULL));
	struct pbx_span none = { NULL, 0 };
	ck_assert(!pbx_url_allowed(none, "/"));
}
END_TEST

/* A URL that would pass the rule with dot-segments never gets to it. */
START_TEST(test_pbx_url_allowed_after_inspection)
{
	static const char *const sneaky[] = {
		"/PBX0/MY/../ADMIN", "/PBX0/MY/%2e%2e/ADMIN", "/PBX0/MY/..%2FADMIN",
		"/PBX0/APPS/..\\ADMIN", "/PBX0/APPS/%2e%2E%5cADMIN", "/PBX0/MY/..;/ADMIN",
		"/PBX0/MY/.%2e/ADMIN",
	};
	char text[256];
	for (size_t i = 0; i < sizeof sneaky / sizeof sneaky[0]; i++) {
		struct pbx_span url = pbx_span_cstr(sneaky[i]);
		ck_assert(pbx_url_allowed(url, "/PBX0/MY") || pbx_url_allowed(url, "/PBX0/APPS/"));
		snprintf(text, sizeof text, "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", sneaky[i]);
		struct pbx_verdict v;
		struct msg m = request(text, &v);
		ck_assert_msg(v.kind == PBX_V_REFUSE && v.reason == PBX_R_MALFORMED, "%s passed",
			      sneaky[i]);
		free(m.p);
	}
}
END_TEST

static Suite *http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("http");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_pbx_inspector_for_http);
	tcase_add_test(tc, test_http_vectors);
	tcase_add_test(tc, test_http_request_line);
	tcase_add_test(tc, test_http_request_path);
	tcase_add_test(tc, test_http_request_fields);
	tcase_add_test(tc, test_http_request_host);
	tcase_add_test(tc, test_http_request_framing);
	tcase_add_test(tc, test_http_request_flags);
	tcase_add_test(tc, test_http_request_xff);
	tcase_add_test(tc, test_http_request_max_head);
	tcase_add_test(tc, test_http_request_keepalive);
	tcase_add_test(tc, test_http_request_fewer_bytes);
	tcase_add_test(tc, test_http_request_linear);
	tcase_add_test(tc, test_http_reply);
	tcase_add_test(tc, test_http_reply_after_head);
	tcase_add_test(tc, test_http_reply_keepalive);
	tcase_add_test(tc, test_http_refuse);
	tcase_add_test(tc, test_pbx_http_chunks);
	tcase_add_test(tc, test_pbx_url_allowed);
	tcase_add_test(tc, test_pbx_url_allowed_after_inspection);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(http_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
