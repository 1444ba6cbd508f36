/* http.c - the HTTP/1.1 inspector: request and response heads (RFC 9112
 * sections 2-5, RFC 9110 sections 5.5, 5.6, 7.2, 7.6.1, 7.8), message
 * framing and its smuggling defences (RFC 9112 sections 6 and 11.2),
 * chunked bodies (RFC 9112 section 7.1), dot-segments in targets (RFC 3986
 * sections 3.3 and 5.2.4) and the reverse proxy's allowed-URL rule. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <pbxedge/err.h>
#include <pbxedge/http.h>

#include "internal.h"

/* Field lines in one request head.  Browsers send about twenty; a hundred
 * is either an attack or a client nobody should be proxying for. */
#define HTTP_FIELDS_MAX 100

/* The head bound when init is given none (rpd's default setting). */
#define HTTP_HEAD_DEFAULT 16384

/* Where and why a message broke a rule. */
struct stop {
	enum pbx_reason reason;
	size_t at;
};

/* Where the scan of one head stands.  Offsets count from the start of the
 * message: the caller's buffer may move between calls. */
struct lines {
	size_t line;      /* start of the line being looked for */
	size_t scan;      /* the line's bytes before this hold no LF */
	bool started;     /* the start line is behind us */
	unsigned fields;  /* field lines read */
};

/* What a request head said so far. */
struct req {
	bool active;      /* a head is in progress: NEED_MORE was answered */
	struct lines ls;
	size_t method_at, method_len;
	size_t target_at, target_len;
	int minor;        /* HTTP/1.minor */
	unsigned hosts;
	size_t name_at, name_len;
	bool has_length, has_chunked;
	uint64_t length;
	bool conn_close, conn_keep_alive, conn_upgrade;
	bool upgrade_websocket, upgrade_other;
	size_t upgrade_at; /* the first Upgrade protocol that is not websocket */
	size_t xff_at;
	bool credentials;   /* Authorization or Proxy-Authorization seen */
	size_t method_scan; /* request line: method bytes checked so far */
	bool method_done;   /* its first SP was seen */
};

/* What a response head said so far. */
struct rep {
	bool active;
	struct lines ls;
	int status;
	int minor;
	bool has_length, has_te, te_chunked_last;
	uint64_t length;
	bool conn_close, conn_keep_alive;
	bool framing_field; /* the last field line was Content-Length or
			     * Transfer-Encoding (for obs-fold) */
};

struct http_state {
	size_t max_head;
	bool last_head;   /* the last routed request was HEAD: no reply body */
	bool last_creds;  /* ... and carried credentials (Authorization) */
	struct req q;
	struct rep r;
};

/* Record why and where; false, so that a check can end in "return stop()". */
static bool stop(struct stop *st, enum pbx_reason reason, size_t at)
{
	st->reason = reason;
	st->at = at;
	return false;
}

/* tchar (RFC 9110 5.6.2): the characters of methods and field names. */
static bool is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool is_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static bool span_is(struct pbx_span s, const char *text)
{
	return pbx_span_eq(s, pbx_span_cstr(text));
}

/* Offset of q inside the line that starts at offset at. */
static size_t off_in(struct pbx_span line, const char *q, size_t at)
{
	return at + (size_t)(q - line.p);
}

/* next_item - the next element of a comma-separated list (RFC 9110
 * 5.6.1), trimmed of OWS; it may be empty.  False at the end of list. */
static bool next_item(struct pbx_span *list, struct pbx_span *item)
{
	if (!list->len)
		return false;
	pbx_span_cut(*list, ',', item, list);
	*item = pbx_span_trim(*item);
	return true;
}

/* parse_length - a decimal length of at most 2^63-1, so that rpd's offset
 * arithmetic cannot overflow.  On failure *bad is the index of the byte
 * that broke it (0 for an empty span). */
static bool parse_length(struct pbx_span s, uint64_t *out, size_t *bad)
{
	uint64_t n = 0;

	*bad = 0;
	if (!s.len)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		unsigned d = (unsigned)(unsigned char)s.p[i] - '0';
		if (d > 9 || n > ((uint64_t)INT64_MAX - d) / 10) {
			*bad = i;
			return false;
		}
		n = n * 10 + d;
	}
	*out = n;
	return true;
}

/* ---- lines ---- */

enum { LINE_OK, LINE_MORE, LINE_BAD };

/* next_line - find the line that starts at ls->line among the len bytes at
 * p, ending within max bytes of the message start.  LINE_OK: *line holds
 * it without its CRLF and ls is past it.  LINE_MORE: no line end yet; ls
 * remembers how far it looked, so that each byte is searched once however
 * the head trickles in.  LINE_BAD: *st says why. */
static int next_line(struct lines *ls, const uint8_t *p, size_t len, size_t max,
		     struct pbx_span *line, struct stop *st)
{
	struct pbx_reader r;
	struct pbx_span tail;
	size_t lf = 0, end;

	pbx_reader_init(&r, p, len);
	pbx_read_skip(&r, ls->scan);
	int rc = pbx_read_line(&r, max - ls->scan, &tail);
	if (rc == 0) {
		lf = pbx_reader_offset(&r) - 1;
		end = lf > ls->line && p[lf - 1] == '\r' ? lf - 1 : lf;
	} else {
		/* The last byte present may be a CR whose LF is on its way. */
		end = rc == PBX_E_NEEDMORE ? len : max;
		if (end)
			end--;
	}
	/* A CR is only ever the first half of a CRLF.  Followed by anything
	 * else it is a bare CR line end, which some parsers honour and some
	 * do not (RFC 9112 2.2): they would see different heads. */
	size_t from = ls->scan > ls->line ? ls->scan - 1 : ls->line;
	const uint8_t *cr = end > from ? memchr(p + from, '\r', end - from) : NULL;
	if (cr) {
		stop(st, PBX_R_MALFORMED, (size_t)(cr - p));
		return LINE_BAD;
	}
	if (rc == PBX_E_NEEDMORE) {
		ls->scan = len;
		return LINE_MORE;
	}
	if (rc) {
		stop(st, PBX_R_TOO_LARGE, max);
		return LINE_BAD;
	}
	/* A bare LF line end: the same disagreement from the other side. */
	if (end == lf) {
		stop(st, PBX_R_MALFORMED, lf);
		return LINE_BAD;
	}
	line->p = (const char *)p + ls->line;
	line->len = end - ls->line;
	ls->line = ls->scan = lf + 1;
	return LINE_OK;
}

/* ---- request line ---- */

/* check_path - the path of an origin-form target (before the first '?'),
 * which starts at offset at.  rpd checks the path against the allowed
 * URLs by a head match, and the service acts on the path after it has
 * normalised it: /PBX0/MY/../ADMIN matches an allowed "/PBX0/MY" but is
 * /PBX0/ADMIN to the PBX.  So a path must be in normal form already:
 * - no dot-segments (RFC 3986 3.3), not even percent-encoded ones
 *   (servers decode before they normalise) or ones with path parameters
 *   ("..;/" and "..%3b/", which Tomcat and Jetty take for "..");
 * - no encoded '/' or '\', and no raw '\': servers that decode them, or
 *   take '\' for '/', would see segments that rpd did not;
 * - no %00: C backends end the path there;
 * - no broken percent-encoding: decoders differ on what it means;
 * - no '#': not a path character, and some servers cut the path there. */
static bool check_path(struct pbx_span path, size_t at, struct stop *st)
{
	size_t seg = 0;       /* start of the current segment */
	unsigned dots = 0;    /* the segment's name so far is this many dots */
	bool other = false;   /* ... or holds something else */
	bool params = false;  /* past a ';' in the segment */

	for (size_t i = 0; i <= path.len; i++) {
		if (i == path.len || path.p[i] == '/') {
			if (i > 0 && !other && (dots == 1 || dots == 2))
				return stop(st, PBX_R_MALFORMED, at + seg);
			seg = i + 1;
			dots = 0;
			other = params = false;
			continue;
		}
		unsigned char c = (unsigned char)path.p[i];
		size_t here = i;
		int dec = c;
		if (c == '%') {
			int hi = i + 2 < path.len ? hexval((unsigned char)path.p[i + 1]) : -1;
			int lo = hi >= 0 ? hexval((unsigned char)path.p[i + 2]) : -1;
			if (lo < 0)
				return stop(st, PBX_R_MALFORMED, at + here);
			dec = hi * 16 + lo;
			if (dec == '/' || dec == '\\' || dec == 0)
				return stop(st, PBX_R_MALFORMED, at + here);
			i += 2;
		} else if (c == '\\' || c == '#') {
			return stop(st, PBX_R_MALFORMED, at + here);
		}
		if (params)
			continue;
		if (dec == ';')
			params = true;
		else if (dec == '.')
			dots++;
		else
			other = true;
	}
	return true;
}

/* check_target - the request-target (RFC 9112 3.2) at offset at. */
static bool check_target(struct pbx_span method, struct pbx_span t, size_t at, struct stop *st)
{
	/* Visible ASCII only (RFC 3986 2): clients percent-encode the rest,
	 * and raw bytes above 0x7f are read as different paths by servers
	 * that do or do not decode them as UTF-8. */
	for (size_t i = 0; i < t.len; i++) {
		unsigned char c = (unsigned char)t.p[i];
		if (c <= 0x20 || c >= 0x7f)
			return stop(st, PBX_R_MALFORMED, at + i);
	}
	/* asterisk-form is for OPTIONS alone (RFC 9112 3.2.4). */
	if (span_is(t, "*"))
		return span_is(method, "OPTIONS") || stop(st, PBX_R_MALFORMED, at);
	if (t.p[0] != '/') {
		/* absolute-form and authority-form are valid HTTP, but rpd is
		 * no forward proxy: the Host it routes by and the URL it
		 * checks must be the ones the service acts on, and with an
		 * absolute URI the service would take the host from it. */
		if (memchr(t.p, ':', t.len))
			return stop(st, PBX_R_UNSUPPORTED, at);
		return stop(st, PBX_R_MALFORMED, at);
	}
	struct pbx_span path;
	pbx_span_cut(t, '?', &path, NULL);
	return check_path(path, at, st);
}

/* request_line - method SP request-target SP HTTP-version (RFC 9112 3),
 * the line at offset at. */
static bool request_line(struct req *q, struct pbx_span line, size_t at, struct stop *st)
{
	const char *s = line.p;
	size_t n = line.len, i = 0;

	while (i < n && is_tchar((unsigned char)s[i]))
		i++;
	/* Exactly one SP between the parts: a parser that splits on any run
	 * of whitespace would read another target than one that does not. */
	if (i == 0 || i == n || s[i] != ' ')
		return stop(st, PBX_R_MALFORMED, at + i);
	struct pbx_span method = { s, i };
	size_t t = ++i;
	while (i < n && (unsigned char)s[i] > ' ')
		i++;
	/* An empty target is a doubled SP; no second SP is HTTP/0.9; a
	 * control character or HTAB in the target is no separator. */
	if (i == t || i == n || s[i] != ' ')
		return stop(st, PBX_R_MALFORMED, at + i);
	struct pbx_span target = { s + t, i - t };
	size_t ver = ++i;
	struct pbx_span version = { s + ver, n - ver };
	const char *sp = version.len ? memchr(version.p, ' ', version.len) : NULL;
	if (sp)
		return stop(st, PBX_R_MALFORMED, off_in(line, sp, at));

	if (span_is(version, "HTTP/1.1")) {
		q->minor = 1;
	} else if (span_is(version, "HTTP/1.0")) {
		q->minor = 0;
	} else if (span_is(method, "PRI") && span_is(target, "*") &&
		   span_is(version, "HTTP/2.0")) {
		/* The HTTP/2 connection preface (RFC 9113 3.4): a real
		 * protocol, but not one rpd inspects. */
		return stop(st, PBX_R_UNSUPPORTED, at);
	} else {
		return stop(st, PBX_R_MALFORMED, at + ver);
	}
	/* CONNECT opens a tunnel rpd could not inspect.  Methods are
	 * case-sensitive, but a backend that folds case would tunnel too. */
	if (pbx_span_caseeq_cstr(method, "CONNECT"))
		return stop(st, PBX_R_UNSUPPORTED, at);
	q->method_at = at;
	q->method_len = method.len;
	q->target_at = at + t;
	q->target_len = target.len;
	return check_target(method, target, at + t, st);
}

/* ---- request fields ---- */

/* RFC 3986 3.2.2 reg-name characters, without pct-encoded: no client
 * percent-encodes a host name, and a service that decodes one would see
 * another name than rpd routed by. */
static bool is_regname(unsigned char c)
{
	if ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
		return true;
	return c && strchr("-._~!$&'()*+,;=", c) != NULL;
}

/* field_host - Host: uri-host [":" port] (RFC 9110 7.2).  The routing
 * name is the host without the port; an IP literal keeps its brackets. */
static bool field_host(struct req *q, struct pbx_span v, size_t vat, size_t at,
		       struct stop *st)
{
	size_t i = 0, end;
	uint32_t port;

	/* Exactly one Host (RFC 9112 3.2): with two, rpd could route by one
	 * while the service serves the other. */
	if (++q->hosts > 1)
		return stop(st, PBX_R_AMBIGUOUS, at);
	if (v.len && v.p[0] == '[') {
		i = 1;
		while (i < v.len && (hexval((unsigned char)v.p[i]) >= 0 || v.p[i] == ':' ||
				     v.p[i] == '.'))
			i++;
		if (i == 1 || i == v.len || v.p[i] != ']')
			return stop(st, PBX_R_MALFORMED, vat + i);
		end = ++i;
	} else {
		while (i < v.len && is_regname((unsigned char)v.p[i]))
			i++;
		end = i;
		/* "example.com." names example.com: the dot of an absolute
		 * DNS name (RFC 1034 3.1) would make it miss the service. */
		if (end && v.p[end - 1] == '.')
			end--;
	}
	if (i < v.len) {
		if (v.p[i] != ':')
			return stop(st, PBX_R_MALFORMED, vat + i);
		/* RFC 3986 3.2.3 allows an empty port; else it is a number. */
		struct pbx_span digits = { v.p + i + 1, v.len - i - 1 };
		if (digits.len && pbx_span_to_u32(digits, 65535, &port))
			return stop(st, PBX_R_MALFORMED, vat + i + 1);
	}
	q->name_at = vat;
	q->name_len = end;
	return true;
}

/* field_length - Content-Length (RFC 9112 6.2, 6.3). */
static bool field_length(struct req *q, struct pbx_span v, size_t vat, size_t at,
			 struct stop *st)
{
	size_t bad;

	/* Both framings: a front end that reads one and a back end that
	 * reads the other disagree on where the next request starts (the
	 * CL.TE and TE.CL smuggling of RFC 9112 11.2). */
	if (q->has_chunked)
		return stop(st, PBX_R_AMBIGUOUS, at);
	/* RFC 9110 8.6 lets a recipient accept repeated equal lengths;
	 * refusing every repetition leaves nothing for a server that takes
	 * the first and one that takes the last to disagree on. */
	if (q->has_length)
		return stop(st, PBX_R_AMBIGUOUS, at);
	const char *comma = v.len ? memchr(v.p, ',', v.len) : NULL;
	if (comma)
		return stop(st, PBX_R_AMBIGUOUS, vat + (size_t)(comma - v.p));
	/* Digits only: "+5", "0x5", "5 5" and "-1" each have a reader
	 * somewhere that makes a number of them. */
	if (!parse_length(v, &q->length, &bad))
		return stop(st, PBX_R_MALFORMED, vat + bad);
	q->has_length = true;
	return true;
}

/* field_te - Transfer-Encoding (RFC 9112 6.1). */
static bool field_te(struct req *q, struct pbx_span v, size_t vat, size_t at, struct stop *st)
{
	/* An HTTP/1.0 recipient does not know Transfer-Encoding and frames
	 * by Content-Length or not at all: RFC 9112 6.1 calls it faulty. */
	if (q->minor == 0)
		return stop(st, PBX_R_AMBIGUOUS, at);
	if (q->has_length || q->has_chunked)
		return stop(st, PBX_R_AMBIGUOUS, at);
	/* "chunked" alone, or nothing: no client needs more, and every
	 * other value ("xchunked", "chunked, identity", "identity") is the
	 * raw material of TE.TE smuggling, each server reading it its way. */
	if (!pbx_span_caseeq_cstr(v, "chunked"))
		return stop(st, PBX_R_UNSUPPORTED, vat);
	q->has_chunked = true;
	return true;
}

/* field_connection - Connection options (RFC 9110 7.6.1). */
static void field_connection(bool *close, bool *keep_alive, bool *upgrade, struct pbx_span v)
{
	struct pbx_span item;

	while (next_item(&v, &item)) {
		if (pbx_span_caseeq_cstr(item, "close"))
			*close = true;
		else if (pbx_span_caseeq_cstr(item, "keep-alive"))
			*keep_alive = true;
		else if (upgrade && pbx_span_caseeq_cstr(item, "upgrade"))
			*upgrade = true;
	}
}

/* field_upgrade - Upgrade protocols (RFC 9110 7.8). */
static void field_upgrade(struct req *q, struct pbx_span line, struct pbx_span v, size_t at)
{
	struct pbx_span item;

	while (next_item(&v, &item)) {
		if (!item.len)
			continue;
		if (pbx_span_caseeq_cstr(item, "websocket")) {
			q->upgrade_websocket = true;
		} else if (!q->upgrade_other) {
			q->upgrade_other = true;
			q->upgrade_at = off_in(line, item.p, at);
		}
	}
}

/* request_field - one field line (RFC 9112 5) at offset at. */
static bool request_field(struct req *q, struct pbx_span line, size_t at, struct stop *st)
{
	const char *s = line.p;
	size_t n = line.len, i = 0;

	/* obs-fold (RFC 9112 5.2): a line that continues the previous
	 * field's value.  Recipients differ on whether it does, so a
	 * framing field could be read with two values. */
	if (s[0] == ' ' || s[0] == '\t')
		return stop(st, PBX_R_AMBIGUOUS, at);
	while (i < n && is_tchar((unsigned char)s[i]))
		i++;
	/* Whitespace between name and colon (RFC 9112 5.1): some servers
	 * drop it and take "Transfer-Encoding : chunked" as framing, others
	 * take it for another field. */
	if (i > 0 && i < n && (s[i] == ' ' || s[i] == '\t'))
		return stop(st, PBX_R_AMBIGUOUS, at + i);
	if (i == 0 || i == n || s[i] != ':')
		return stop(st, PBX_R_MALFORMED, at + i);
	struct pbx_span name = { s, i };
	/* No control characters in values (RFC 9110 5.5): NUL ends a value
	 * in C backends, and VT or FF count as whitespace in some. */
	for (size_t j = i + 1; j < n; j++)
		if (is_ctl((unsigned char)s[j]))
			return stop(st, PBX_R_MALFORMED, at + j);
	struct pbx_span raw = { s + i + 1, n - i - 1 };
	struct pbx_span v = pbx_span_trim(raw);
	size_t vat = off_in(line, v.p, at);

	if (pbx_span_caseeq_cstr(name, "host"))
		return field_host(q, v, vat, at, st);
	if (pbx_span_caseeq_cstr(name, "content-length"))
		return field_length(q, v, vat, at, st);
	if (pbx_span_caseeq_cstr(name, "transfer-encoding"))
		return field_te(q, v, vat, at, st);
	if (pbx_span_caseeq_cstr(name, "connection"))
		field_connection(&q->conn_close, &q->conn_keep_alive, &q->conn_upgrade, v);
	else if (pbx_span_caseeq_cstr(name, "upgrade"))
		field_upgrade(q, line, v, at);
	else if (pbx_span_caseeq_cstr(name, "authorization") ||
		 pbx_span_caseeq_cstr(name, "proxy-authorization"))
		q->credentials = true;
	else if (pbx_span_caseeq_cstr(name, "x-forwarded-for"))
		/* rpd appends ", CLIENT" to the last one's value. */
		q->xff_at = vat + v.len;
	return true;
}

/* request_done - the head ended with the empty line at offset eoh. */
static bool request_done(struct http_state *s, const uint8_t *p, size_t eoh,
			 struct pbx_verdict *v, struct stop *st)
{
	struct req *q = &s->q;

	/* Host is what rpd routes by.  HTTP/1.1 requires it (RFC 9112 3.2);
	 * an HTTP/1.0 request may leave it out, but then names nothing. */
	if (!q->hosts)
		return stop(st, PBX_R_NO_NAME, eoh);
	if (!q->name_len)
		return stop(st, PBX_R_NO_NAME, q->name_at);
	/* Any upgrade but WebSocket (h2c above all) would switch the
	 * connection to a protocol whose later requests rpd cannot read. */
	if (q->conn_upgrade && q->upgrade_other)
		return stop(st, PBX_R_UNSUPPORTED, q->upgrade_at);

	v->kind = PBX_V_ROUTE;
	v->head_len = q->ls.line;
	v->flags = PBX_VF_REQUEST;
	/* An HTTP/1.0 connection closes unless kept alive (RFC 9112 9.3). */
	if (q->conn_close || (q->minor == 0 && !q->conn_keep_alive))
		v->flags |= PBX_VF_CLOSE;
	if (q->conn_upgrade && q->upgrade_websocket)
		v->flags |= PBX_VF_UPGRADE;
	if (q->has_chunked) {
		v->body = PBX_BODY_CHUNKED;
	} else if (q->has_length && q->length) {
		v->body = PBX_BODY_LENGTH;
		v->body_len = q->length;
	} else {
		v->body = PBX_BODY_NONE;
	}
	v->name.p = (const char *)p + q->name_at;
	v->name.len = q->name_len;
	v->url.p = (const char *)p + q->target_at;
	v->url.len = q->target_len;
	v->method.p = (const char *)p + q->method_at;
	v->method.len = q->method_len;
	v->xff_at = q->xff_at;
	v->xff_end_of_head = eoh;
	s->last_head = span_is(v->method, "HEAD");
	s->last_creds = q->credentials;
	if (q->credentials)
		v->flags |= PBX_VF_CREDENTIALS;
	return true;
}

/* While the request line is still arriving, its method can already be
 * judged: a client that sends bytes no method is made of (a TLS
 * ClientHello on the plain port, binary noise) is refused at once, with
 * the offset request_line would give, rather than after the timeout. */
static bool method_ok(struct req *q, const uint8_t *p, size_t len, struct stop *st)
{
	size_t j = q->method_scan > q->ls.line ? q->method_scan : q->ls.line;
	for (; !q->method_done && j < len; j++) {
		unsigned char c = p[j];
		if (c == ' ') {
			if (j == q->ls.line)
				return stop(st, PBX_R_MALFORMED, j);
			q->method_done = true;
		} else if (!is_tchar(c)) {
			/* A CR starting the line may be an empty line's. */
			if (j == q->ls.line && c == '\r')
				break;
			return stop(st, PBX_R_MALFORMED, j);
		}
	}
	q->method_scan = j;
	return true;
}

static void http_request(void *state, const uint8_t *p, size_t len, struct pbx_verdict *v)
{
	struct http_state *s = state;
	struct req *q = &s->q;
	struct pbx_span line;
	struct stop st = { PBX_R_MALFORMED, 0 };

	memset(v, 0, sizeof *v);
	v->kind = PBX_V_NEED_MORE;
	/* A new message; or fewer bytes than last time, which the calling
	 * convention rules out: start over rather than trust old offsets. */
	if (!q->active || len < q->ls.scan)
		memset(q, 0, sizeof *q);
	q->active = true;
	for (;;) {
		size_t at = q->ls.line;
		int rc = next_line(&q->ls, p, len, s->max_head, &line, &st);
		if (rc == LINE_MORE) {
			if (!q->ls.started && !method_ok(q, p, len, &st))
				break;
			return;
		}
		if (rc == LINE_BAD)
			break;
		if (!q->ls.started) {
			/* RFC 9112 2.2: empty lines before the request line
			 * are skipped (clients send a CRLF after a POST
			 * body); they count toward the head bound. */
			if (!line.len)
				continue;
			q->ls.started = true;
			if (!request_line(q, line, at, &st))
				break;
		} else if (!line.len) {
			if (!request_done(s, p, at, v, &st))
				break;
			q->active = false;
			return;
		} else if (++q->ls.fields > HTTP_FIELDS_MAX) {
			stop(&st, PBX_R_TOO_LARGE, at);
			break;
		} else if (!request_field(q, line, at, &st)) {
			break;
		}
	}
	q->active = false;
	v->kind = PBX_V_REFUSE;
	v->reason = st.reason;
	v->offset = st.at;
}

/* ---- replies ---- */

/* status_line - HTTP/1.x SP 3DIGIT SP reason-phrase (RFC 9112 4).
 * Leniently, the SP before an empty reason may be missing too. */
static bool status_line(struct rep *r, struct pbx_span line)
{
	const char *s = line.p;

	if (line.len < 12 || memcmp(s, "HTTP/1.", 7) != 0 || s[7] < '0' || s[7] > '9' ||
	    s[8] != ' ')
		return false;
	if (line.len > 12 && s[12] != ' ')
		return false;
	struct pbx_span code = { s + 9, 3 };
	uint32_t status;
	if (pbx_span_to_u32(code, 999, &status) || status < 100 || status > 599)
		return false;
	r->minor = s[7] - '0';
	r->status = (int)status;
	return true;
}

/* The reply's body is framed by its fields; else it has none (RFC 9112
 * 6.3 points 1 and 2: replies to HEAD, 1xx, 204 and 304). */
static bool framed_by_fields(const struct http_state *s)
{
	int status = s->r.status;
	return !s->last_head && status >= 200 && status != 204 && status != 304;
}

/* reply_field - one field line of a reply.  The service is trusted more
 * than clients, so only what decides framing is held to the letter: what
 * a client reads differently elsewhere spoils no one's framing but its
 * own, while a framing disagreement would let the service's bytes pass
 * for a reply to the client's next request. */
static bool reply_field(struct http_state *s, struct pbx_span line)
{
	struct rep *r = &s->r;
	bool framed = framed_by_fields(s);
	struct pbx_span name, v, item;
	uint64_t n;
	size_t bad;

	if (line.p[0] == ' ' || line.p[0] == '\t')
		return !(framed && r->framing_field);
	/* Not a field line at all: clients skip it, and so do we. */
	if (!pbx_span_cut(line, ':', &name, &v)) {
		r->framing_field = false;
		return true;
	}
	struct pbx_span bare = pbx_span_trim(name);
	bool is_cl = pbx_span_caseeq_cstr(bare, "content-length");
	bool is_te = pbx_span_caseeq_cstr(bare, "transfer-encoding");
	r->framing_field = is_cl || is_te;
	v = pbx_span_trim(v);
	if (!r->framing_field) {
		if (pbx_span_caseeq_cstr(bare, "connection"))
			field_connection(&r->conn_close, &r->conn_keep_alive, NULL, v);
		return true;
	}
	if (!framed)
		return true;
	/* Whitespace around a framing field's name (RFC 9112 5.1). */
	if (bare.len != name.len)
		return false;
	if (is_cl) {
		/* A list of equal lengths is one length (RFC 9110 8.6);
		 * different ones, or empty ones, leave the end of the reply
		 * to each reader's guess. */
		bool more;
		do {
			more = pbx_span_cut(v, ',', &item, &v);
			if (!parse_length(pbx_span_trim(item), &n, &bad))
				return false;
			if (r->has_length && n != r->length)
				return false;
			r->has_length = true;
			r->length = n;
		} while (more);
		return true;
	}
	/* RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 is faulty framing. */
	if (r->minor == 0)
		return false;
	r->has_te = true;
	while (next_item(&v, &item))
		if (item.len)
			r->te_chunked_last = pbx_span_caseeq_cstr(item, "chunked");
	return true;
}

/* reply_done - frame and classify the reply whose head ended. */
static bool reply_done(struct http_state *s, struct pbx_reply *out)
{
	struct rep *r = &s->r;

	out->status = r->status;
	out->final = r->status >= 200 || r->status == 101;
	/* A 403 refuses the client.  A 401 (or 407) to a request without
	 * credentials is the normal first challenge of HTTP authentication;
	 * to one that carried them it means they were wrong. */
	out->rejection = r->status == 403 ||
			 ((r->status == 401 || r->status == 407) && s->last_creds);
	out->body = PBX_BODY_NONE;
	if (r->status == 101) {
		out->flags |= PBX_VF_UPGRADE;
	} else if (framed_by_fields(s)) {
		/* RFC 9112 6.3 point 3: both is an error in a reply too. */
		if (r->has_te && r->has_length)
			return false;
		if (r->has_te) {
			/* Chunked not last: the body runs to the close
			 * (RFC 9112 6.3 point 4). */
			out->body = r->te_chunked_last ? PBX_BODY_CHUNKED : PBX_BODY_CLOSE;
		} else if (r->has_length) {
			out->body = r->length ? PBX_BODY_LENGTH : PBX_BODY_NONE;
			out->body_len = r->length;
		} else {
			out->body = PBX_BODY_CLOSE;
		}
	}
	if (r->conn_close || (r->minor == 0 && !r->conn_keep_alive) ||
	    out->body == PBX_BODY_CLOSE)
		out->flags |= PBX_VF_CLOSE;
	out->head_len = r->ls.line;
	out->kind = PBX_V_PASS;
	return true;
}

static void http_reply(void *state, const uint8_t *p, size_t len, struct pbx_reply *out)
{
	struct http_state *s = state;
	struct rep *r = &s->r;
	struct pbx_span line;
	struct stop st = { PBX_R_MALFORMED, 0 };

	memset(out, 0, sizeof *out);
	out->kind = PBX_V_NEED_MORE;
	out->status = -1;
	if (!r->active || len < r->ls.scan) {
		memset(r, 0, sizeof *r);
		r->status = -1;
	}
	r->active = true;
	for (;;) {
		int rc = next_line(&r->ls, p, len, s->max_head, &line, &st);
		if (rc == LINE_MORE)
			return;
		if (rc == LINE_BAD)
			break;
		if (!r->ls.started) {
			/* A stray CRLF after a body: browsers skip it too. */
			if (!line.len)
				continue;
			r->ls.started = true;
			if (!status_line(r, line))
				break;
		} else if (!line.len) {
			if (!reply_done(s, out))
				break;
			r->active = false;
			return;
		} else if (!reply_field(s, line)) {
			break;
		}
	}
	r->active = false;
	memset(out, 0, sizeof *out);
	out->kind = PBX_V_REFUSE;
	out->reason = st.reason;
	out->status = r->status;
}

/* ---- refusals ---- */

static const struct {
	int code;
	const char *phrase;
} refusals[PBX_R_COUNT] = {
	[PBX_R_MALFORMED] = { 400, "Bad Request" },
	[PBX_R_AMBIGUOUS] = { 400, "Bad Request" },
	[PBX_R_NO_NAME] = { 400, "Bad Request" },
	[PBX_R_TOO_LARGE] = { 431, "Request Header Fields Too Large" },
	[PBX_R_UNSUPPORTED] = { 501, "Not Implemented" },
	/* RFC 9110 15.5.20: this server cannot answer for that name. */
	[PBX_R_UNKNOWN_NAME] = { 421, "Misdirected Request" },
	[PBX_R_NO_TARGET] = { 421, "Misdirected Request" },
	[PBX_R_OTHER_SERVICE] = { 421, "Misdirected Request" },
	[PBX_R_SOURCE_DENIED] = { 403, "Forbidden" },
	[PBX_R_URL_DENIED] = { 403, "Forbidden" },
	[PBX_R_BAD_CERT] = { 403, "Forbidden" },
	[PBX_R_TIMEOUT] = { 408, "Request Timeout" },
	[PBX_R_TARGET_FAILED] = { 502, "Bad Gateway" },
	/* blacklisted, tls-failed, service-rejected and client-closed get
	 * no answer: there is no one to answer, or the service did. */
};

/* is_head - whether the (perhaps incomplete) request in p is a HEAD,
 * whose answer carries no content (RFC 9110 9.3.2). */
static bool is_head(const uint8_t *p, size_t len)
{
	size_t i = 0;

	while (i + 1 < len && p[i] == '\r' && p[i + 1] == '\n')
		i += 2;
	return len - i >= 5 && memcmp(p + i, "HEAD ", 5) == 0;
}

static void http_refuse(void *state, const uint8_t *p, size_t len, enum pbx_reason reason,
			struct pbx_writer *w)
{
	char body[64], msg[256];

	(void)state;
	if ((unsigned)reason >= PBX_R_COUNT || !refusals[reason].code || pbx_writer_error(w))
		return;
	int bn = snprintf(body, sizeof body, "pbxedge: %s\n", pbx_reason_name(reason));
	int hn = snprintf(msg, sizeof msg,
			  "HTTP/1.1 %d %s\r\n"
			  "Connection: close\r\n"
			  "Content-Type: text/plain\r\n"
			  "Content-Length: %d\r\n"
			  "\r\n",
			  refusals[reason].code, refusals[reason].phrase, bn);
	if (bn < 0 || hn < 0 || (size_t)bn >= sizeof body || (size_t)(hn + bn) >= sizeof msg)
		return;
	if (!is_head(p, len)) {
		memcpy(msg + hn, body, (size_t)bn);
		hn += bn;
	}
	/* One write: on no space the writer takes nothing at all. */
	pbx_write_bytes(w, msg, (size_t)hn);
}

/* ---- chunked bodies ---- */

enum chunk_state {
	CK_SIZE,         /* hex digits of a chunk size (zeroed state) */
	CK_SIZE_WS,      /* whitespace after the size, before ';' */
	CK_EXT,          /* chunk extensions, up to the CR */
	CK_SIZE_LF,      /* the LF after a size line */
	CK_DATA,         /* c->left bytes of chunk data */
	CK_DATA_CR,      /* the CRLF after the data */
	CK_DATA_LF,
	CK_TRAILER,      /* the start of a trailer line or of the empty line */
	CK_TRAILER_LINE, /* inside a trailer line */
	CK_TRAILER_LF,
	CK_END_LF,       /* the LF of the empty line that ends the body */
	CK_DONE,
};

static bool counts_line(int state)
{
	return state != CK_DATA && state != CK_DATA_CR && state != CK_DATA_LF &&
	       state != CK_DONE;
}

/* chunk_byte - one byte of a chunked body outside chunk data: 0 to go
 * on, 1 at the end of the body, or an error code. */
static int chunk_byte(struct pbx_chunks *c, uint8_t b)
{
	if (counts_line(c->state) && ++c->line > PBX_HTTP_CHUNK_LINE_MAX)
		return PBX_E_TOOLONG;
	switch (c->state) {
	case CK_SIZE: {
		int d = hexval(b);
		if (d >= 0) {
			if (c->left > ((uint64_t)INT64_MAX - (uint64_t)d) / 16)
				return PBX_E_TOOLONG;
			c->left = c->left * 16 + (uint64_t)d;
			return 0;
		}
		/* At least one digit; then only CRLF, or extensions.  LF
		 * alone, or anything else after the digits ("5 x", "5\n"),
		 * is where parsers part ways on the size. */
		if (c->line == 1)
			return PBX_E_MALFORMED;
		if (b == '\r')
			c->state = CK_SIZE_LF;
		else if (b == ';')
			c->state = CK_EXT;
		else if (b == ' ' || b == '\t')
			c->state = CK_SIZE_WS;
		else
			return PBX_E_MALFORMED;
		return 0;
	}
	case CK_SIZE_WS:
		/* BWS before an extension (RFC 9112 7.1.1), and only there. */
		if (b == ';')
			c->state = CK_EXT;
		else if (b != ' ' && b != '\t')
			return PBX_E_MALFORMED;
		return 0;
	case CK_EXT:
		/* Extensions are passed on unread; no CR, LF or NUL may hide
		 * in them. */
		if (b == '\r')
			c->state = CK_SIZE_LF;
		else if (is_ctl(b))
			return PBX_E_MALFORMED;
		return 0;
	case CK_SIZE_LF:
		if (b != '\n')
			return PBX_E_MALFORMED;
		c->line = 0;
		c->state = c->left ? CK_DATA : CK_TRAILER;
		return 0;
	case CK_DATA_CR:
		if (b != '\r')
			return PBX_E_MALFORMED;
		c->state = CK_DATA_LF;
		return 0;
	case CK_DATA_LF:
		if (b != '\n')
			return PBX_E_MALFORMED;
		c->state = CK_SIZE;
		return 0;
	case CK_TRAILER:
		if (b == '\r') {
			c->state = CK_END_LF;
			return 0;
		}
		/* A trailer line that starts with whitespace is obs-fold;
		 * one with a control character breaks RFC 9110 5.5. */
		if (b == ' ' || b == '\t' || is_ctl(b))
			return PBX_E_MALFORMED;
		c->state = CK_TRAILER_LINE;
		return 0;
	case CK_TRAILER_LINE:
		if (b == '\r')
			c->state = CK_TRAILER_LF;
		else if (is_ctl(b))
			return PBX_E_MALFORMED;
		return 0;
	case CK_TRAILER_LF:
		if (b != '\n')
			return PBX_E_MALFORMED;
		c->line = 0;
		c->state = CK_TRAILER;
		return 0;
	case CK_END_LF:
		if (b != '\n')
			return PBX_E_MALFORMED;
		c->line = 0;
		c->state = CK_DONE;
		return 1;
	default:
		return PBX_E_MALFORMED;
	}
}

int pbx_http_chunks(struct pbx_chunks *c, const uint8_t *p, size_t len, size_t *used)
{
	struct pbx_reader r;
	uint8_t b;

	*used = 0;
	if (c->state == CK_DONE)
		return 1;
	pbx_reader_init(&r, p, len);
	while (pbx_reader_left(&r)) {
		if (c->state == CK_DATA) {
			size_t n = pbx_reader_left(&r);
			if (n > c->left)
				n = (size_t)c->left;
			pbx_read_skip(&r, n);
			c->left -= n;
			if (!c->left)
				c->state = CK_DATA_CR;
			continue;
		}
		size_t at = pbx_reader_offset(&r);
		pbx_read_u8(&r, &b);
		int rc = chunk_byte(c, b);
		if (rc) {
			/* An error leaves the state as it was before the
			 * offending byte. */
			if (rc < 0 && counts_line(c->state))
				c->line--;
			*used = rc == 1 ? at + 1 : at;
			return rc;
		}
	}
	*used = len;
	return 0;
}

/* ---- allowed URLs ---- */

bool pbx_url_allowed(struct pbx_span url, const char *allowed)
{
	struct pbx_span path, a = pbx_span_cstr(allowed);

	/* An empty entry would allow everything: a slip in the
	 * configuration must not open the service. */
	if (!a.len)
		return false;
	pbx_span_cut(url, '?', &path, NULL);
	if (!pbx_span_starts(path, a))
		return false;
	if (a.p[a.len - 1] != '/')
		return true;
	/* "/PBX0/APPS/" allows the files in that folder, not below it. */
	return path.len == a.len || !memchr(path.p + a.len, '/', path.len - a.len);
}

/* ---- the row ---- */

static void http_init(void *state, size_t max_head)
{
	struct http_state *s = state;

	memset(s, 0, sizeof *s);
	s->max_head = max_head ? max_head : HTTP_HEAD_DEFAULT;
	s->r.status = -1;
}

const struct pbx_inspector pbx_inspector_http = {
	.name = "http",
	.family = STORE_FAMILY_HTTP,
	.state_size = sizeof(struct http_state),
	.lockstep = true,
	.init = http_init,
	.request = http_request,
	.reply = http_reply,
	.refuse = http_refuse,
};
