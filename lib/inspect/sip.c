/* sip.c - the SIP inspector over TCP/TLS: framing (RFC 3261 7, 7.3, 7.5,
 * 18.3), routing by From (19.1, 20.20), keep-alives (RFC 5626 3.5.1),
 * reply classification (RFC 3261 8.1.3, 22) and refusals (8.2.6, 21). */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <pbxedge/err.h>
#include "internal.h"

enum {
	/* Physical header lines (folded continuations count) per head: real
	 * phones send 10-25; a proxied request with a long Via and
	 * Record-Route history stays far below this. */
	SIP_MAX_LINES = 128,
	/* Client requests remembered so that the PBX's replies can be matched
	 * to them; the oldest is overwritten. */
	SIP_REMEMBER = 32,
	/* The largest refusal written: it is built whole before anything is
	 * handed to the caller's writer, so that a writer too small for it
	 * gets nothing rather than half a response. */
	SIP_REFUSAL_MAX = 8192,
};

/* RFC 3261 8.1.1.5: a CSeq number is below 2^31. */
#define SIP_CSEQ_MAX 0x7fffffffu
#define NPOS ((size_t)-1)

enum sip_hdr {
	H_OTHER,
	H_FROM,
	H_TO,
	H_CALL_ID,
	H_CSEQ,
	H_VIA,
	H_CONTENT_LENGTH,
	H_AUTHORIZATION,
	H_PROXY_AUTHORIZATION,
	H_COUNT
};

/* Header names the inspector reads, with their compact forms.  The other
 * compact forms (RFC 3261 7.3.3, RFC 3515, 3841, 3892, 4028, 4474, 6665)
 * are listed too, so that it is visible that no one-letter name the
 * inspector does not read aliases one it does. */
static const struct {
	const char *name;
	char compact;
	enum sip_hdr id;
} sip_headers[] = {
	{ "From", 'f', H_FROM },
	{ "To", 't', H_TO },
	{ "Call-ID", 'i', H_CALL_ID },
	{ "CSeq", 0, H_CSEQ },
	{ "Via", 'v', H_VIA },
	{ "Content-Length", 'l', H_CONTENT_LENGTH },
	{ "Authorization", 0, H_AUTHORIZATION },
	{ "Proxy-Authorization", 0, H_PROXY_AUTHORIZATION },
	{ "Contact", 'm', H_OTHER },
	{ "Content-Type", 'c', H_OTHER },
	{ "Content-Encoding", 'e', H_OTHER },
	{ "Subject", 's', H_OTHER },
	{ "Supported", 'k', H_OTHER },
	{ "Accept-Contact", 'a', H_OTHER },
	{ "Referred-By", 'b', H_OTHER },
	{ "Request-Disposition", 'd', H_OTHER },
	{ "Reject-Contact", 'j', H_OTHER },
	{ "Identity-Info", 'n', H_OTHER },
	{ "Event", 'o', H_OTHER },
	{ "Refer-To", 'r', H_OTHER },
	{ "Allow-Events", 'u', H_OTHER },
	{ "Session-Expires", 'x', H_OTHER },
	{ "Identity", 'y', H_OTHER },
};

/* How far request() or reply() has scanned the head of the message being
 * received: offsets, because the caller's buffer may move between calls. */
struct sip_scan {
	size_t line;     /* start of the first line not complete yet */
	size_t seen;     /* bytes searched for the end of that line */
	unsigned lines;  /* complete header lines */
	bool started;    /* the start line is complete and valid */
};

/* A request of the client that a reply may answer. */
struct sip_sent {
	uint64_t key;       /* hash of Call-ID and CSeq method */
	uint32_t cseq;
	uint32_t order;     /* when it was sent: the oldest match is answered first */
	bool used;
	bool credentials;
};

struct sip_state {
	size_t max_head;
	struct sip_scan req, rep;
	struct sip_sent sent[SIP_REMEMBER];
	unsigned next_slot;
	uint32_t next_order;
	/* Requests with credentials overwritten before their final answer:
	 * a client pipelining more than SIP_REMEMBER requests must not be able
	 * to push its wrong passwords out of the table. */
	uint32_t lost;
};

/* ---- characters and spans ---- */

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Inside a header value, CR and LF only occur as the line end of a fold
 * (lines are checked before values are read), so they are whitespace:
 * this is the logical unfolding of RFC 3261 7.3.1. */
static bool is_lws(char c)
{
	return is_wsp(c) || c == '\r' || c == '\n';
}

/* RFC 3261 25.1 token. */
static bool is_token(char c)
{
	return is_alnum(c) || (c && strchr("-.!%*_+`'~", c));
}

/* Control characters other than HTAB (and DEL) never occur in a SIP head;
 * bytes from 0x80 do (UTF-8 display names and reason phrases). */
static bool is_ctl(char c)
{
	unsigned char u = (unsigned char)c;
	return (u < 0x20 && c != '\t') || u == 0x7f;
}

static struct pbx_span span_of(const char *p, size_t n)
{
	struct pbx_span s = { p, n };
	return s;
}

static struct pbx_span span_from(struct pbx_span s, size_t i)
{
	return span_of(s.p + i, s.len - i);
}

static struct pbx_span trim_lws(struct pbx_span s)
{
	while (s.len && is_lws(s.p[0])) {
		s.p++;
		s.len--;
	}
	while (s.len && is_lws(s.p[s.len - 1]))
		s.len--;
	return s;
}

static size_t skip_lws(struct pbx_span s, size_t i)
{
	while (i < s.len && is_lws(s.p[i]))
		i++;
	return i;
}

static size_t skip_token(struct pbx_span s, size_t i)
{
	while (i < s.len && is_token(s.p[i]))
		i++;
	return i;
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* Offset of span s (which lies in the buffer at base) from base. */
static size_t off_in(const uint8_t *base, struct pbx_span s)
{
	return (size_t)((const uint8_t *)s.p - base);
}

/* ---- lines ---- */

/* The index of the first control character of s, or NPOS. */
static size_t find_ctl(struct pbx_span s)
{
	for (size_t i = 0; i < s.len; i++)
		if (is_ctl(s.p[i]))
			return i;
	return NPOS;
}

struct sip_start {
	bool request;
	struct pbx_span method;  /* request */
	int status;              /* response, else -1 */
};

/* parse_start - read a start line (without its CRLF).  Returns NPOS, or
 * the index of the byte that breaks the syntax.
 *   Request-Line = Method SP Request-URI SP SIP-Version
 *   Status-Line  = SIP-Version SP Status-Code SP Reason-Phrase */
static size_t parse_start(struct pbx_span l, struct sip_start *s)
{
	static const char version[] = "SIP/2.0";
	const size_t vlen = sizeof version - 1;
	size_t i;

	s->request = false;
	s->method = span_of(l.p, 0);
	s->status = -1;
	if (l.len >= 4 && pbx_span_caseeq_cstr(span_of(l.p, 4), "SIP/")) {
		if (l.len < vlen || !pbx_span_caseeq_cstr(span_of(l.p, vlen), version))
			return 4;
		if (l.len == vlen || l.p[vlen] != ' ')
			return vlen;
		int code = 0;
		for (i = vlen + 1; i < vlen + 4; i++) {
			if (i >= l.len || !is_digit(l.p[i]))
				return i;
			code = code * 10 + (l.p[i] - '0');
		}
		if (code < 100 || code > 699)
			return vlen + 1;
		/* "SIP/2.0 200" without a reason phrase is accepted: the
		 * phrase is for humans, and some embedded stacks drop it
		 * together with its SP. */
		if (i < l.len && l.p[i] != ' ')
			return i;
		i = find_ctl(l);
		if (i != NPOS)
			return i;
		s->status = code;
		return NPOS;
	}
	i = skip_token(l, 0);
	if (i == 0 || i >= l.len || l.p[i] != ' ')
		return i;
	s->method = span_of(l.p, i);
	size_t u = ++i;
	while (i < l.len && l.p[i] > ' ' && l.p[i] < 0x7f)
		i++;
	if (i == u || i >= l.len || l.p[i] != ' ')
		return i;
	i++;
	if (l.len - i != vlen || !pbx_span_caseeq_cstr(span_from(l, i), version))
		return i;
	s->request = true;
	return NPOS;
}

/* check_header_line - a header line (without its CRLF, not empty) is
 * "name *WSP : value" (RFC 3261 7.3.1 allows whitespace before the colon)
 * or a continuation starting with SP or HTAB.  Returns NPOS or the index
 * of the offending byte. */
static size_t check_header_line(struct pbx_span l, bool first)
{
	size_t i = find_ctl(l);
	if (i != NPOS)
		return i;
	if (is_wsp(l.p[0])) {
		/* A continuation needs a header to continue; one holding only
		 * whitespace is refused because lax parsers take it for the
		 * empty line that ends the head, and would then frame the
		 * message differently. */
		if (first || pbx_span_trim(l).len == 0)
			return 0;
		return NPOS;
	}
	i = skip_token(l, 0);
	if (i == 0)
		return 0;
	while (i < l.len && is_wsp(l.p[i]))
		i++;
	if (i >= l.len || l.p[i] != ':')
		return i;
	return NPOS;
}

/* ---- incremental head scan ---- */

enum scan_result { SCAN_MORE, SCAN_HEAD, SCAN_BAD };

/* scan_head - look for the end of the head in the first len bytes of p,
 * going on from where the last call stopped, and check every complete line
 * once.  SCAN_HEAD sets *head_len; SCAN_BAD sets *reason and *offset.  Any
 * answer but SCAN_MORE resets the scan for the next message. */
static enum scan_result scan_head(struct sip_scan *s, size_t max_head, const uint8_t *p,
				  size_t len, size_t *head_len, enum pbx_reason *reason,
				  size_t *offset)
{
	struct pbx_reader r;
	struct pbx_span line;
	enum scan_result res = SCAN_BAD;

	/* Fewer bytes than last time breaks the calling convention: start
	 * over rather than trust offsets past the end. */
	if (s->seen > len)
		memset(s, 0, sizeof *s);
	pbx_reader_init(&r, p, len);
	pbx_read_skip(&r, s->seen);
	for (;;) {
		size_t at = pbx_reader_offset(&r);
		int rc = pbx_read_line(&r, max_head > at ? max_head - at : 0, &line);
		if (rc == PBX_E_NEEDMORE) {
			s->seen = len;
			return SCAN_MORE;
		}
		if (rc) {
			*reason = PBX_R_TOO_LARGE;
			*offset = max_head;
			break;
		}
		/* The whole line from its start, which an earlier call may
		 * have seen part of; the CR before the LF is required. */
		size_t end = pbx_reader_offset(&r) - 1;
		struct pbx_span l = span_of((const char *)p + s->line, end - s->line);
		if (l.len == 0 || l.p[l.len - 1] != '\r') {
			/* RFC 3261 7: lines end in CRLF.  A bare LF is refused,
			 * not tolerated: a PBX that does not take it for a line
			 * end would see other headers (and another
			 * Content-Length) than we do. */
			*reason = PBX_R_MALFORMED;
			*offset = end;
			break;
		}
		l.len--;
		size_t bad;
		if (!s->started) {
			struct sip_start st;
			bad = parse_start(l, &st);
			s->started = true;
		} else if (l.len == 0) {
			*head_len = end + 1;
			res = SCAN_HEAD;
			break;
		} else if (++s->lines > SIP_MAX_LINES) {
			*reason = PBX_R_TOO_LARGE;
			*offset = s->line;
			break;
		} else {
			bad = check_header_line(l, s->lines == 1);
		}
		if (bad != NPOS) {
			*reason = PBX_R_MALFORMED;
			*offset = s->line + bad;
			break;
		}
		s->line = s->seen = end + 1;
	}
	memset(s, 0, sizeof *s);
	return res;
}

/* ---- walking a head's fields ---- */

/* Walks the lines of a head in (p, len) that were checked by scan_head, or
 * (for refuse) bytes that may be incomplete or broken: every line is
 * checked again, and the walk stops at the first one that fails. */
struct sip_walk {
	struct pbx_reader r;
	unsigned lines;
};

struct sip_field {
	enum sip_hdr id;
	size_t at;                /* offset of its first line */
	struct pbx_span value;    /* trimmed; folds still inside */
};

static void walk_init(struct sip_walk *w, const uint8_t *p, size_t len)
{
	pbx_reader_init(&w->r, p, len);
	w->lines = 0;
}

/* walk_line - the next complete CRLF-terminated line free of control
 * characters.  Returns 0, or -1 if there is none. */
static int walk_line(struct sip_walk *w, struct pbx_span *line)
{
	size_t at = pbx_reader_offset(&w->r);
	if (pbx_read_line(&w->r, SIZE_MAX, line) ||
	    pbx_reader_offset(&w->r) - at != line->len + 2 || find_ctl(*line) != NPOS)
		return -1;
	return 0;
}

static enum sip_hdr header_id(struct pbx_span name)
{
	for (size_t i = 0; i < sizeof sip_headers / sizeof sip_headers[0]; i++) {
		if (pbx_span_caseeq_cstr(name, sip_headers[i].name))
			return sip_headers[i].id;
		if (name.len == 1 && sip_headers[i].compact &&
		    (name.p[0] | 0x20) == sip_headers[i].compact)
			return sip_headers[i].id;
	}
	return H_OTHER;
}

/* walk_field - the next header field with its continuation lines.
 * Returns 1 with *f set, 0 at the empty line that ends the head, -1 when
 * the bytes end or break the syntax before it.  A field is only complete
 * once the first byte of the line after it is there (it might be folded
 * on). */
static int walk_field(struct sip_walk *w, struct sip_field *f)
{
	struct pbx_span line, rest;
	size_t at = pbx_reader_offset(&w->r);

	if (walk_line(w, &line))
		return -1;
	if (line.len == 0)
		return 0;
	if (++w->lines > SIP_MAX_LINES || check_header_line(line, w->lines == 1) != NPOS ||
	    is_wsp(line.p[0]))
		return -1;
	size_t colon = skip_token(line, 0);
	f->id = header_id(span_of(line.p, colon));
	while (colon < line.len && line.p[colon] != ':')
		colon++;
	const char *value = line.p + colon + 1;
	const char *end = line.p + line.len;
	for (;;) {
		rest = pbx_reader_rest(&w->r);
		if (rest.len == 0)
			return -1;
		if (!is_wsp(rest.p[0]))
			break;
		if (walk_line(w, &line) || ++w->lines > SIP_MAX_LINES ||
		    check_header_line(line, false) != NPOS)
			return -1;
		end = line.p + line.len;
	}
	f->at = at;
	f->value = trim_lws(span_of(value, (size_t)(end - value)));
	return 1;
}

/* The fields of one head that the inspector reads: the first occurrence,
 * the count, and where the second one is (duplicates are refused). */
struct sip_seen {
	unsigned n;
	struct pbx_span value;
	size_t at, again;
};

/* collect - walk a head's fields into seen[H_COUNT] after its start line.
 * Returns 0 if the walk reached the empty line, -1 if it stopped before. */
static int collect(struct sip_walk *w, struct sip_seen *seen)
{
	struct sip_field f;
	int rc;

	memset(seen, 0, H_COUNT * sizeof *seen);
	while ((rc = walk_field(w, &f)) == 1) {
		struct sip_seen *s = &seen[f.id];
		if (s->n == 0) {
			s->value = f.value;
			s->at = f.at;
		} else if (s->n == 1) {
			s->again = f.at;
		}
		if (s->n < UINT32_MAX)
			s->n++;
	}
	return rc;
}

/* ---- header values ---- */

/* Content-Length = 1*DIGIT (RFC 3261 20.14); the value fits 32 bits. */
static bool parse_length(struct pbx_span v, uint32_t *n)
{
	return pbx_span_to_u32(v, UINT32_MAX, n) == 0;
}

/* Call-ID = word [ "@" word ] (RFC 3261 20.8): printable ASCII without
 * whitespace.  The word characters are not checked one by one: the value
 * is only compared with itself in replies. */
static bool check_call_id(struct pbx_span v)
{
	if (v.len == 0)
		return false;
	for (size_t i = 0; i < v.len; i++)
		if (v.p[i] <= ' ' || v.p[i] >= 0x7f)
			return false;
	return true;
}

/* CSeq = 1*DIGIT LWS Method (RFC 3261 20.16). */
static bool parse_cseq(struct pbx_span v, uint32_t *num, struct pbx_span *method)
{
	size_t i = 0;
	while (i < v.len && is_digit(v.p[i]))
		i++;
	if (i == 0 || i > 10 || pbx_span_to_u32(span_of(v.p, i), SIP_CSEQ_MAX, num))
		return false;
	size_t m = skip_lws(v, i);
	if (m == i)
		return false;
	size_t e = skip_token(v, m);
	if (e == m || e != v.len)
		return false;
	*method = span_of(v.p + m, e - m);
	return true;
}

/* A From or To value split into its URI and header parameters. */
struct sip_addr {
	struct pbx_span uri;
	struct pbx_span params;  /* from the ';' of the first parameter, or empty */
};

/* parse_addr - split a From/To value (RFC 3261 20.20, 20.39):
 *   ( name-addr / addr-spec ) *( SEMI param )
 *   name-addr = [ display-name ] LAQUOT addr-spec RAQUOT
 *   display-name = *( token LWS ) / quoted-string
 * Returns NPOS, or the index of the byte that breaks the syntax. */
static size_t parse_addr(struct pbx_span v, struct sip_addr *a)
{
	size_t i = skip_lws(v, 0), j, k;
	bool angle;

	a->uri = a->params = span_of(v.p, 0);
	if (i < v.len && v.p[i] == '"') {
		for (j = i + 1;; j++) {
			if (j >= v.len)
				return i;
			if (v.p[j] == '"')
				break;
			if (v.p[j] == '\\') {
				/* quoted-pair: anything but CR and LF. */
				if (j + 1 >= v.len || v.p[j + 1] == '\r' || v.p[j + 1] == '\n')
					return j;
				j++;
			}
		}
		j = skip_lws(v, j + 1);
		if (j >= v.len || v.p[j] != '<')
			return j;
		angle = true;
	} else {
		/* Unquoted display names are tokens; bytes from 0x80 are
		 * let in too, as phones send localized names unquoted. */
		j = i;
		while (j < v.len && (is_token(v.p[j]) || is_lws(v.p[j]) ||
				     (unsigned char)v.p[j] >= 0x80))
			j++;
		angle = j < v.len && v.p[j] == '<';
	}
	if (angle) {
		struct pbx_span inner;
		if (!pbx_span_cut(span_from(v, j + 1), '>', &inner, NULL))
			return j;
		/* "< sip:a@b >": whitespace inside the brackets is not in the
		 * grammar, but harmless to step over. */
		a->uri = trim_lws(inner);
		for (k = 0; k < a->uri.len; k++)
			if (is_lws(a->uri.p[k]))
				return off_in((const uint8_t *)v.p, a->uri) + k;
		k = j + 1 + inner.len + 1;
	} else {
		/* RFC 3261 20.10: an addr-spec outside brackets cannot hold
		 * ',', '?' or ';': parameters after ';' are the header's. */
		for (k = i; k < v.len; k++)
			if (is_lws(v.p[k]) || v.p[k] == ';' || v.p[k] == ',' || v.p[k] == '?')
				break;
		a->uri = span_of(v.p + i, k - i);
	}
	k = skip_lws(v, k);
	if (k < v.len && v.p[k] != ';')
		return k;
	a->params = span_from(v, k);
	return NPOS;
}

/* has_tag - whether header parameters (";name[=value]" ...) hold a tag.
 * Returns false with *ok false if they do not parse. */
static bool has_tag(struct pbx_span s, bool *ok)
{
	bool tag = false;
	size_t i = skip_lws(s, 0);

	*ok = false;
	while (i < s.len) {
		if (s.p[i] != ';')
			return false;
		size_t n = skip_lws(s, i + 1);
		i = skip_token(s, n);
		if (i == n)
			return false;
		if (pbx_span_caseeq_cstr(span_of(s.p + n, i - n), "tag"))
			tag = true;
		i = skip_lws(s, i);
		if (i < s.len && s.p[i] == '=') {
			i = skip_lws(s, i + 1);
			size_t val = i;
			if (i < s.len && s.p[i] == '"') {
				for (i++; i < s.len && s.p[i] != '"'; i++)
					if (s.p[i] == '\\')
						i++;
				if (i >= s.len)
					return false;
				i++;
			} else {
				while (i < s.len && !is_lws(s.p[i]) && s.p[i] != ';')
					i++;
			}
			if (i == val)
				return false;
			i = skip_lws(s, i);
		}
	}
	*ok = true;
	return tag;
}

/* user / password characters of RFC 3261 25.1, with %HH escapes. */
static bool check_userinfo(struct pbx_span s, const char *extra)
{
	for (size_t i = 0; i < s.len; i++) {
		char c = s.p[i];
		if (c == '%') {
			if (i + 2 >= s.len || !is_hex(s.p[i + 1]) || !is_hex(s.p[i + 2]))
				return false;
			i += 2;
		} else if (!is_alnum(c) && !strchr("-_.!~*'()", c) && !strchr(extra, c)) {
			return false;
		}
	}
	return true;
}

/* A DNS name or IPv4 address: labels of letters, digits, '-' and '_'
 * (service names allow '_'), one trailing dot allowed. */
static bool check_dns(struct pbx_span h)
{
	size_t label = 0;
	if (h.len == 0)
		return false;
	for (size_t i = 0; i < h.len; i++) {
		char c = h.p[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (is_alnum(c) || c == '-' || c == '_') {
			label++;
		} else {
			return false;
		}
	}
	return true;
}

/* parse_uri - the user and host of a sip: or sips: URI (RFC 3261 19.1.1):
 *   sip:[user[:password]@]host[:port][;uri-parameters][?headers]
 * The host is a DNS name or IPv4 address (without a trailing dot) or an
 * IPv6 reference with its brackets; the user is as written (escapes are
 * not decoded).  Returns false if there is no such URI or no host. */
static bool parse_uri(struct pbx_span u, struct pbx_span *user, struct pbx_span *host)
{
	struct pbx_span scheme, rest, userinfo, hostport, password;

	if (!pbx_span_cut(u, ':', &scheme, &rest) ||
	    (!pbx_span_caseeq_cstr(scheme, "sip") && !pbx_span_caseeq_cstr(scheme, "sips")))
		return false;
	if (pbx_span_cut(rest, '@', &userinfo, &hostport)) {
		/* "sip:@host" (an empty user) is let through: routing needs
		 * only the host, and the PBX judges the user. */
		pbx_span_cut(userinfo, ':', user, &password);
		if (!check_userinfo(*user, "&=+$,;?/") || !check_userinfo(password, "&=+$,"))
			return false;
	} else {
		*user = span_of(rest.p, 0);
		hostport = rest;
	}
	size_t i = 0;
	if (hostport.len && hostport.p[0] == '[') {
		bool colon = false;
		for (i = 1; i < hostport.len && hostport.p[i] != ']'; i++) {
			char c = hostport.p[i];
			if (!is_hex(c) && c != ':' && c != '.')
				return false;
			colon |= c == ':';
		}
		if (i >= hostport.len || !colon)
			return false;
		*host = span_of(hostport.p, ++i);
	} else {
		while (i < hostport.len && (is_alnum(hostport.p[i]) || hostport.p[i] == '-' ||
					    hostport.p[i] == '_' || hostport.p[i] == '.'))
			i++;
		*host = span_of(hostport.p, i);
		if (!check_dns(*host))
			return false;
		if (host->p[host->len - 1] == '.')
			host->len--;
	}
	if (i < hostport.len && hostport.p[i] == ':') {
		size_t d = ++i;
		uint32_t port;
		while (i < hostport.len && is_digit(hostport.p[i]))
			i++;
		if (i - d > 5 || pbx_span_to_u32(span_of(hostport.p + d, i - d), 65535, &port))
			return false;
	}
	return i == hostport.len || hostport.p[i] == ';' || hostport.p[i] == '?';
}

/* ---- remembered requests ---- */

static uint64_t fnv1a(uint64_t h, struct pbx_span s)
{
	for (size_t i = 0; i < s.len; i++) {
		h ^= (unsigned char)s.p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* The key of a request: its Call-ID and CSeq method.  The separator byte
 * cannot occur in a Call-ID, so no two pairs run together alike.  A hash
 * collision can only make a reply look like the answer to another of the
 * same client's requests. */
static uint64_t sent_key(struct pbx_span call_id, struct pbx_span method)
{
	uint64_t h = fnv1a(0xcbf29ce484222325ull, call_id);
	h ^= 0xff;
	h *= 0x100000001b3ull;
	return fnv1a(h, method);
}

static void remember(struct sip_state *st, uint64_t key, uint32_t cseq, bool credentials)
{
	struct sip_sent *e = &st->sent[st->next_slot];
	if (e->used && e->credentials && st->lost < UINT32_MAX)
		st->lost++;
	e->key = key;
	e->cseq = cseq;
	e->order = st->next_order++;
	e->used = true;
	e->credentials = credentials;
	st->next_slot = (st->next_slot + 1) % SIP_REMEMBER;
}

/* The oldest remembered request a response answers, or NULL. */
static struct sip_sent *answered(struct sip_state *st, uint64_t key, uint32_t cseq)
{
	struct sip_sent *best = NULL;
	for (unsigned i = 0; i < SIP_REMEMBER; i++) {
		struct sip_sent *e = &st->sent[i];
		if (e->used && e->key == key && e->cseq == cseq &&
		    (!best || (int32_t)(e->order - best->order) < 0))
			best = e;
	}
	return best;
}

/* ---- request ---- */

static void sip_init(void *state, size_t max_head)
{
	struct sip_state *st = state;
	memset(st, 0, sizeof *st);
	st->max_head = max_head;
}

static void refuse_at(struct pbx_verdict *v, enum pbx_reason reason, size_t offset)
{
	v->kind = PBX_V_REFUSE;
	v->reason = reason;
	v->offset = offset;
}

/* Keep-alives from the client (RFC 5626 3.5.1): CRLF CRLF is a ping, head
 * 4.  A single CRLF followed by anything but another CRLF is passed alone,
 * head 2: it is the pong of a client the PBX pinged, or the stray CRLF
 * that RFC 3261 7.5 says to ignore before a start line.  It is decided by
 * the byte after it, so that a ping split after its first CRLF is not cut
 * in two; a lone CRLF with nothing after it waits. */
static void request_keepalive(size_t max_head, const uint8_t *p, size_t len,
			      struct pbx_verdict *v)
{
	uint8_t b[4] = { 0 };
	size_t view = min_size(min_size(len, max_head), sizeof b);
	struct pbx_reader r;

	pbx_reader_init(&r, p, len);
	pbx_read_bytes(&r, b, view);
	v->body = PBX_BODY_NONE;
	if (view >= 2 && b[1] != '\n') {
		refuse_at(v, PBX_R_MALFORMED, 1);
	} else if (view >= 3 && (b[2] != '\r' || view == 4)) {
		v->kind = PBX_V_PASS;
		v->head_len = view == 4 && b[2] == '\r' && b[3] == '\n' ? 4 : 2;
	} else if (len >= max_head) {
		refuse_at(v, PBX_R_TOO_LARGE, max_head);
	} else {
		v->kind = PBX_V_NEED_MORE;
	}
}

/* request_head - decide on a complete head of head_len bytes. */
static void request_head(struct sip_state *st, const uint8_t *p, size_t head_len,
			 struct pbx_verdict *v)
{
	struct sip_walk w;
	struct sip_seen seen[H_COUNT];
	struct sip_start start;
	struct pbx_span line;
	size_t blank = head_len - 2;
	uint32_t length;

	walk_init(&w, p, head_len);
	walk_line(&w, &line);
	parse_start(line, &start);
	collect(&w, seen);

	/* RFC 3261 18.3: on a stream, Content-Length frames every message. */
	struct sip_seen *cl = &seen[H_CONTENT_LENGTH];
	if (cl->n == 0) {
		refuse_at(v, PBX_R_MALFORMED, blank);
		return;
	}
	if (cl->n > 1) {
		refuse_at(v, PBX_R_AMBIGUOUS, cl->again);
		return;
	}
	if (!parse_length(cl->value, &length)) {
		refuse_at(v, PBX_R_MALFORMED, off_in(p, cl->value));
		return;
	}
	v->head_len = head_len;
	v->body = length ? PBX_BODY_LENGTH : PBX_BODY_NONE;
	v->body_len = length;
	if (!start.request) {
		v->kind = PBX_V_PASS;
		return;
	}

	/* The Call-ID and CSeq match the PBX's replies to this request: one
	 * each, or a client could make the PBX answer a pair other than the
	 * one remembered, and have its wrong passwords go uncounted. */
	struct sip_seen *ci = &seen[H_CALL_ID], *cs = &seen[H_CSEQ];
	struct pbx_span cseq_method;
	uint32_t cseq;
	if (ci->n > 1) {
		refuse_at(v, PBX_R_AMBIGUOUS, ci->again);
		return;
	}
	if (ci->n == 0 || !check_call_id(ci->value)) {
		refuse_at(v, PBX_R_MALFORMED, ci->n ? off_in(p, ci->value) : blank);
		return;
	}
	if (cs->n > 1) {
		refuse_at(v, PBX_R_AMBIGUOUS, cs->again);
		return;
	}
	if (cs->n == 0 || !parse_cseq(cs->value, &cseq, &cseq_method) ||
	    !pbx_span_eq(cseq_method, start.method)) {
		refuse_at(v, PBX_R_MALFORMED, cs->n ? off_in(p, cs->value) : blank);
		return;
	}

	struct sip_seen *from = &seen[H_FROM];
	struct sip_addr addr;
	if (from->n > 1) {
		refuse_at(v, PBX_R_AMBIGUOUS, from->again);
		return;
	}
	if (from->n == 0) {
		refuse_at(v, PBX_R_NO_NAME, blank);
		return;
	}
	size_t bad = parse_addr(from->value, &addr);
	if (bad != NPOS) {
		refuse_at(v, PBX_R_MALFORMED, off_in(p, from->value) + bad);
		return;
	}
	if (!parse_uri(addr.uri, &v->user, &v->name)) {
		v->user = v->name = span_of(NULL, 0);
		refuse_at(v, PBX_R_NO_NAME, off_in(p, from->value));
		return;
	}

	bool credentials = seen[H_AUTHORIZATION].n || seen[H_PROXY_AUTHORIZATION].n;
	v->kind = PBX_V_ROUTE;
	v->flags = PBX_VF_REQUEST | (credentials ? PBX_VF_CREDENTIALS : 0);
	v->method = start.method;
	/* ACK is never answered (RFC 3261 17.1.1.3): remembering it would only
	 * push out requests that are. */
	if (!pbx_span_caseeq_cstr(start.method, "ACK"))
		remember(st, sent_key(ci->value, cseq_method), cseq, credentials);
}

static void sip_request(void *state, const uint8_t *p, size_t len, struct pbx_verdict *v)
{
	struct sip_state *st = state;
	size_t head_len = 0;

	memset(v, 0, sizeof *v);
	if (st->req.seen == 0 && len && p[0] == '\r') {
		request_keepalive(st->max_head, p, len, v);
		return;
	}
	switch (scan_head(&st->req, st->max_head, p, len, &head_len, &v->reason, &v->offset)) {
	case SCAN_MORE:
		v->kind = PBX_V_NEED_MORE;
		v->reason = PBX_R_NONE;
		return;
	case SCAN_BAD:
		v->kind = PBX_V_REFUSE;
		return;
	case SCAN_HEAD:
		break;
	}
	request_head(st, p, head_len, v);
	if (v->kind == PBX_V_REFUSE) {
		v->head_len = 0;
		v->body = PBX_BODY_NONE;
		v->body_len = 0;
	}
}

/* ---- reply ---- */

static void reply_refuse(struct pbx_reply *r, enum pbx_reason reason)
{
	r->kind = PBX_V_REFUSE;
	r->reason = reason;
	r->head_len = 0;
	r->body = PBX_BODY_NONE;
	r->body_len = 0;
}

/* classify - status, finality and rejection of a response.  403 is always
 * a rejection; 401 and 407 only when they answer a request that carried
 * credentials: the first challenge of a registration is normal, a second
 * one means a wrong password. */
static void classify(struct sip_state *st, const struct sip_seen *seen, struct pbx_reply *r)
{
	struct sip_sent *e = NULL;
	struct pbx_span method;
	uint32_t cseq;

	if (seen[H_CALL_ID].n && seen[H_CSEQ].n && check_call_id(seen[H_CALL_ID].value) &&
	    parse_cseq(seen[H_CSEQ].value, &cseq, &method))
		e = answered(st, sent_key(seen[H_CALL_ID].value, method), cseq);
	r->final = r->status >= 200;
	if (r->status == 403) {
		r->rejection = true;
	} else if (r->status == 401 || r->status == 407) {
		if (e) {
			r->rejection = e->credentials;
		} else if (st->lost) {
			/* Its request may be one of those pushed out of the
			 * table with credentials: count it. */
			r->rejection = true;
			st->lost--;
		}
	}
	if (e && r->final)
		e->used = false;
}

/* The answer to a keep-alive ping is a single CRLF (RFC 5626 3.5.1); a
 * PBX that pings the client itself sends two, which pass as two. */
static void reply_keepalive(size_t max_head, const uint8_t *p, size_t len, struct pbx_reply *r)
{
	uint8_t b[2] = { 0 };
	size_t view = min_size(min_size(len, max_head), sizeof b);
	struct pbx_reader rd;

	pbx_reader_init(&rd, p, len);
	pbx_read_bytes(&rd, b, view);
	if (view == 2 && b[1] == '\n') {
		r->kind = PBX_V_PASS;
		r->head_len = 2;
	} else if (view == 2) {
		reply_refuse(r, PBX_R_MALFORMED);
	} else if (len >= max_head) {
		reply_refuse(r, PBX_R_TOO_LARGE);
	} else {
		r->kind = PBX_V_NEED_MORE;
	}
}

static void sip_reply(void *state, const uint8_t *p, size_t len, struct pbx_reply *r)
{
	struct sip_state *st = state;
	size_t head_len = 0, offset;
	enum pbx_reason reason;

	memset(r, 0, sizeof *r);
	r->status = -1;
	if (st->rep.seen == 0 && len && p[0] == '\r') {
		reply_keepalive(st->max_head, p, len, r);
		return;
	}
	switch (scan_head(&st->rep, st->max_head, p, len, &head_len, &reason, &offset)) {
	case SCAN_MORE:
		r->kind = PBX_V_NEED_MORE;
		return;
	case SCAN_BAD:
		reply_refuse(r, reason);
		return;
	case SCAN_HEAD:
		break;
	}

	struct sip_walk w;
	struct sip_seen seen[H_COUNT];
	struct sip_start start;
	struct pbx_span line;
	uint32_t length;
	walk_init(&w, p, head_len);
	walk_line(&w, &line);
	parse_start(line, &start);
	collect(&w, seen);
	/* Only the framing of the PBX's messages is checked: the PBX is
	 * trusted, and a reply whose Call-ID or CSeq does not parse is simply
	 * not matched to a request. */
	if (seen[H_CONTENT_LENGTH].n > 1) {
		reply_refuse(r, PBX_R_AMBIGUOUS);
		return;
	}
	if (seen[H_CONTENT_LENGTH].n == 0 || !parse_length(seen[H_CONTENT_LENGTH].value, &length)) {
		reply_refuse(r, PBX_R_MALFORMED);
		return;
	}
	r->kind = PBX_V_PASS;
	r->head_len = head_len;
	r->body = length ? PBX_BODY_LENGTH : PBX_BODY_NONE;
	r->body_len = length;
	if (start.request) {
		r->flags = PBX_VF_REQUEST;
		return;
	}
	r->status = start.status;
	classify(st, seen, r);
}

/* ---- refuse ---- */

static const char *refusal_status(enum pbx_reason reason)
{
	switch (reason) {
	case PBX_R_MALFORMED:
	case PBX_R_AMBIGUOUS:
	case PBX_R_NO_NAME:
		return "400 Bad Request";
	case PBX_R_TOO_LARGE:
		return "513 Message Too Large";
	case PBX_R_UNSUPPORTED:
		return "501 Not Implemented";
	case PBX_R_UNKNOWN_NAME:
	case PBX_R_NO_TARGET:
		return "404 Not Found";
	case PBX_R_SOURCE_DENIED:
	case PBX_R_URL_DENIED:
	case PBX_R_OTHER_SERVICE:
	case PBX_R_BAD_CERT:
		return "403 Forbidden";
	case PBX_R_TIMEOUT:
		return "408 Request Timeout";
	case PBX_R_TARGET_FAILED:
		return "503 Service Unavailable";
	default:
		/* blacklisted, tls-failed, service-rejected, client-closed:
		 * there is no one to answer, or the PBX answered already. */
		return NULL;
	}
}

static void put(struct pbx_writer *w, const char *s)
{
	pbx_write_bytes(w, s, strlen(s));
}

/* put_header - "Name: value\r\n" with the value unfolded: the CRLF of
 * each fold is dropped, its whitespace kept. */
static void put_header(struct pbx_writer *w, const char *name, struct pbx_span value,
		       const char *suffix)
{
	struct pbx_span before, rest = value;

	put(w, name);
	put(w, ": ");
	for (;;) {
		bool fold = pbx_span_cut(rest, '\r', &before, &rest);
		pbx_write_bytes(w, before.p, before.len);
		if (!fold)
			break;
		if (rest.len && rest.p[0] == '\n')
			rest = span_from(rest, 1);
	}
	put(w, suffix);
	put(w, "\r\n");
}

static void sip_refuse(void *state, const uint8_t *p, size_t len, enum pbx_reason reason,
		       struct pbx_writer *w)
{
	const struct sip_state *st = state;
	const char *status = refusal_status(reason);
	size_t limit = min_size(len, st->max_head);
	struct sip_walk walk;
	struct sip_seen seen[H_COUNT];
	struct sip_start start;
	struct sip_field f;
	struct sip_addr to;
	struct pbx_span line;
	bool ok;

	/* Only a request is answered: not a response, nor a keep-alive
	 * (whose first line is empty, not a start line). */
	walk_init(&walk, p, limit);
	if (!status || walk_line(&walk, &line) || parse_start(line, &start) != NPOS ||
	    !start.request)
		return;
	collect(&walk, seen);
	static const enum sip_hdr needed[] = { H_VIA, H_FROM, H_TO, H_CALL_ID, H_CSEQ };
	for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++)
		if (seen[needed[i]].n == 0 || seen[needed[i]].value.len == 0)
			return;
	if (parse_addr(seen[H_TO].value, &to) != NPOS)
		return;
	bool tagged = has_tag(to.params, &ok);
	if (!ok)
		return;

	uint8_t buf[SIP_REFUSAL_MAX];
	struct pbx_writer out;
	pbx_writer_init(&out, buf, sizeof buf);
	put(&out, "SIP/2.0 ");
	put(&out, status);
	put(&out, "\r\n");
	/* RFC 3261 8.2.6.2: every Via, in order; the first occurrence of the
	 * others (a request with two is refused as ambiguous, and answered
	 * for the first). */
	walk_init(&walk, p, limit);
	walk_line(&walk, &line);
	while (walk_field(&walk, &f) == 1)
		if (f.id == H_VIA && f.value.len)
			put_header(&out, "Via", f.value, "");
	put_header(&out, "From", seen[H_FROM].value, "");
	/* RFC 3261 8.2.6.2: a response adds a To tag if the request had none. */
	put_header(&out, "To", seen[H_TO].value, tagged ? "" : ";tag=pbxedge");
	put_header(&out, "Call-ID", seen[H_CALL_ID].value, "");
	put_header(&out, "CSeq", seen[H_CSEQ].value, "");
	put(&out, "Server: pbxedge\r\nContent-Length: 0\r\n\r\n");
	if (pbx_writer_error(&out))
		return;
	pbx_write_bytes(w, buf, pbx_writer_len(&out));
}

const struct pbx_inspector pbx_inspector_sip = {
	.name = "sip",
	.family = STORE_FAMILY_SIP,
	.state_size = sizeof(struct sip_state),
	/* The PBX sends requests to the phone over the same connection
	 * (INVITE, NOTIFY, OPTIONS), so requests and replies interleave. */
	.lockstep = false,
	.init = sip_init,
	.request = sip_request,
	.reply = sip_reply,
	.refuse = sip_refuse,
};
