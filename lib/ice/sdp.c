/* sdp.c - ICE's SDP attributes: a=candidate, a=ice-ufrag, a=ice-pwd,
 * a=ice-options, a=ice-lite, a=end-of-candidates (RFC 8839 sections 4.2
 * and 5, RFC 8840 section 4.1, RFC 6544 4.5), in a block of attribute
 * lines or in a whole SDP body (RFC 8866 5, 5.7, 5.14). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/ice.h>

/* ---- small text helpers ---- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* ice-char = ALPHA / DIGIT / "+" / "/" (RFC 8839 section 5.1). */
static bool is_ice_char(char c)
{
	return is_alnum(c) || c == '+' || c == '/';
}

/* Index of the first byte of s that is not an ice-char, or s.len. */
static size_t first_non_ice_char(struct pbx_span s)
{
	for (size_t i = 0; i < s.len; i++)
		if (!is_ice_char(s.p[i]))
			return i;
	return s.len;
}

/* s without its line end (CR, LF) and surrounding blanks. */
static struct pbx_span strip_line(struct pbx_span s)
{
	s = pbx_span_trim(s);
	while (s.len && (s.p[s.len - 1] == '\n' || s.p[s.len - 1] == '\r')) {
		s.len--;
		s = pbx_span_trim(s);
	}
	while (s.len && (s.p[0] == '\n' || s.p[0] == '\r')) {
		s.p++;
		s.len--;
		s = pbx_span_trim(s);
	}
	return s;
}

/* The next field of *rest, fields being separated by runs of blanks
 * (werift splits on single spaces only; we accept more).  Empty at the
 * end. */
static struct pbx_span next_field(struct pbx_span *rest)
{
	size_t i = 0;
	while (i < rest->len && is_blank(rest->p[i]))
		i++;
	size_t start = i;
	while (i < rest->len && !is_blank(rest->p[i]))
		i++;
	struct pbx_span f = { rest->p + start, i - start };
	rest->p += i;
	rest->len -= i;
	return f;
}

/* Take prefix off *s if s starts with it. */
static bool take_prefix(struct pbx_span *s, const char *prefix)
{
	struct pbx_span pre = pbx_span_cstr(prefix);
	if (!pbx_span_starts(*s, pre))
		return false;
	s->p += pre.len;
	s->len -= pre.len;
	return true;
}

/* Input text made safe for a one-line message: escaped, cut at about 40
 * bytes with "..." marking the cut. */
struct shown {
	char text[64];
};

static const char *show(struct pbx_span s, struct shown *b)
{
	bool cut = false;
	size_t n = pbx_span_escape(s, b->text, 48, &cut);
	if (cut)
		memcpy(b->text + n, "...", 4);
	return b->text;
}

/* Copy a span already checked to hold only printable ASCII into dst. */
static void copy_checked(struct pbx_span s, char *dst, size_t n)
{
	if (pbx_span_copy(s, dst, n) != 0)
		dst[0] = '\0';
}

/* ---- candidate ---- */

#define CAND "a=candidate: "

static int parse_number(struct pbx_span f, const char *what, uint32_t min, uint32_t max,
			uint32_t *v, struct pbx_err *err)
{
	struct shown b;
	int rc = pbx_span_to_u32(f, max, v);
	if (rc == PBX_E_MALFORMED)
		return pbx_err_set(err, PBX_E_MALFORMED, CAND "%s '%s' is not a decimal number",
				   what, show(f, &b));
	if (rc || *v < min)
		return pbx_err_set(err, PBX_E_INVALID, CAND "%s '%s' is not in %u..%u", what,
				   show(f, &b), (unsigned)min, (unsigned)max);
	return 0;
}

/* A host name in place of an IP (RFC 8839 5.1 allows an FQDN; browsers
 * hide host addresses behind mDNS ".local" names): letters, digits,
 * '-' and '_' in dot-separated labels of 1..63. */
static bool is_hostname(struct pbx_span s)
{
	if (s.len == 0 || s.len > ICE_HOSTNAME_MAX)
		return false;
	size_t label = 0;
	bool letter = false;
	for (size_t i = 0; i < s.len; i++) {
		char c = s.p[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!is_alnum(c) && c != '-' && c != '_')
			return false;
		if (!(c >= '0' && c <= '9'))
			letter = true;
		if (++label > 63)
			return false;
	}
	/* All digits and dots is a broken IPv4 address, not a name. */
	return letter;
}

/* Parse a connection-address (IPv4, IPv6, or a name) for field what.
 * *addr gets the IP (port 0) or stays empty for a name, which goes to
 * name (if not NULL) and sets *is_name. */
static int parse_conn_addr(struct pbx_span f, const char *what, struct pbx_addr *addr,
			   char *name, bool *is_name, struct pbx_err *err)
{
	struct shown b;
	memset(addr, 0, sizeof *addr);
	*is_name = false;
	if (f.len == 0)
		return pbx_err_set(err, PBX_E_TRUNCATED, CAND "%s missing", what);
	bool has_colon = memchr(f.p, ':', f.len) != NULL;
	if (!has_colon && is_hostname(f)) {
		*is_name = true;
		if (name)
			copy_checked(f, name, ICE_HOSTNAME_MAX + 1);
		return 0;
	}
	struct pbx_err inner;
	pbx_err_clear(&inner);
	if (pbx_addr_parse(f, 1, PBX_ADDR_NO_PORT, addr, &inner) != 0) {
		memset(addr, 0, sizeof *addr);
		return pbx_err_set(err, PBX_E_MALFORMED, CAND "%s '%s' is not an IP address or name",
				   what, show(f, &b));
	}
	pbx_addr_set_port(addr, 0);
	return 0;
}

/* The six fixed fields and "typ <type>". */
static int parse_cand_fixed(struct pbx_span *rest, struct ice_cand *c, struct pbx_err *err)
{
	static const char *const types[ICE_CAND_TYPES] = { "host", "srflx", "prflx", "relay" };
	struct shown b;
	uint32_t v;
	int rc;

	struct pbx_span f = next_field(rest);
	if (f.len == 0)
		return pbx_err_set(err, PBX_E_TRUNCATED, CAND "foundation missing");
	size_t bad = first_non_ice_char(f);
	if (bad < f.len || f.len > ICE_FOUNDATION_MAX)
		return pbx_err_set(err, PBX_E_MALFORMED,
				   CAND "foundation '%s' is not 1..32 ice-chars", show(f, &b));
	copy_checked(f, c->foundation, sizeof c->foundation);

	f = next_field(rest);
	if (f.len == 0)
		return pbx_err_set(err, PBX_E_TRUNCATED, CAND "component missing");
	if ((rc = parse_number(f, "component", 1, ICE_COMPONENT_MAX, &v, err)))
		return rc;
	c->component = (uint16_t)v;

	/* libnice writes "UDP"; RFC 8839 says the token is case-insensitive. */
	f = next_field(rest);
	if (f.len == 0)
		return pbx_err_set(err, PBX_E_TRUNCATED, CAND "transport missing");
	if (pbx_span_caseeq_cstr(f, "udp"))
		c->transport = ICE_UDP;
	else if (pbx_span_caseeq_cstr(f, "tcp"))
		c->transport = ICE_TCP;
	else
		return pbx_err_set(err, PBX_E_INVALID, CAND "transport '%s' is not UDP or TCP",
				   show(f, &b));

	f = next_field(rest);
	if (f.len == 0)
		return pbx_err_set(err, PBX_E_TRUNCATED, CAND "priority missing");
	if ((rc = parse_number(f, "priority", 1, ICE_PRIORITY_MAX, &c->priority, err)))
		return rc;

	f = next_field(rest);
	if (f.len == 0)
		return pbx_err_set(err, PBX_E_TRUNCATED, CAND "connection-address missing");
	if ((rc = parse_conn_addr(f, "connection-address", &c->addr, c->hostname,
				  &c->unresolved, err)))
		return rc;

	f = next_field(rest);
	if (f.len == 0)
		return pbx_err_set(err, PBX_E_TRUNCATED, CAND "port missing");
	if ((rc = parse_number(f, "port", 0, 65535, &v, err)))
		return rc;
	c->port = (uint16_t)v;
	if (!c->unresolved)
		pbx_addr_set_port(&c->addr, c->port);

	f = next_field(rest);
	if (f.len == 0)
		return pbx_err_set(err, PBX_E_TRUNCATED, CAND "'typ' missing after the port");
	if (!pbx_span_caseeq_cstr(f, "typ"))
		return pbx_err_set(err, PBX_E_MALFORMED, CAND "'typ' expected after the port, not '%s'",
				   show(f, &b));
	f = next_field(rest);
	if (f.len == 0)
		return pbx_err_set(err, PBX_E_TRUNCATED, CAND "candidate type missing after 'typ'");
	for (int t = 0; t < ICE_CAND_TYPES; t++) {
		if (pbx_span_caseeq_cstr(f, types[t])) {
			c->type = (enum ice_cand_type)t;
			return 0;
		}
	}
	return pbx_err_set(err, PBX_E_INVALID,
			   CAND "candidate type '%s' is not host, srflx, prflx or relay",
			   show(f, &b));
}

/* One "name value" pair after the type: raddr/rport (RFC 8839), tcptype
 * (RFC 6544), and the extensions werift and libwebrtc add (generation,
 * ufrag, network-id, network-cost).  Others are skipped, as RFC 8839 5.1
 * requires of unknown extension attributes. */
static int parse_cand_ext(struct pbx_span name, struct pbx_span value, struct ice_cand *c,
			  struct pbx_err *err)
{
	struct shown b;
	uint32_t v;
	int rc;

	if (pbx_span_caseeq_cstr(name, "raddr")) {
		bool is_name;
		if ((rc = parse_conn_addr(value, "raddr", &c->raddr, NULL, &is_name, err)))
			return rc;
		c->has_raddr = true;
	} else if (pbx_span_caseeq_cstr(name, "rport")) {
		if ((rc = parse_number(value, "rport", 0, 65535, &v, err)))
			return rc;
		c->has_rport = true;
		c->rport = (uint16_t)v;
	} else if (pbx_span_caseeq_cstr(name, "tcptype")) {
		enum ice_tcptype t;
		if (pbx_span_caseeq_cstr(value, "active"))
			t = ICE_TCPTYPE_ACTIVE;
		else if (pbx_span_caseeq_cstr(value, "passive"))
			t = ICE_TCPTYPE_PASSIVE;
		else if (pbx_span_caseeq_cstr(value, "so"))
			t = ICE_TCPTYPE_SO;
		else
			return pbx_err_set(err, PBX_E_INVALID,
					   CAND "tcptype '%s' is not active, passive or so",
					   show(value, &b));
		/* Meaningless on UDP: dropped, so the agent never sees it. */
		if (c->transport == ICE_TCP)
			c->tcptype = t;
	} else if (pbx_span_caseeq_cstr(name, "generation")) {
		if ((rc = parse_number(value, "generation", 0, UINT32_MAX, &c->generation, err)))
			return rc;
		c->has_generation = true;
	} else if (pbx_span_caseeq_cstr(name, "network-id")) {
		if ((rc = parse_number(value, "network-id", 0, UINT32_MAX, &c->network_id, err)))
			return rc;
		c->has_network_id = true;
	} else if (pbx_span_caseeq_cstr(name, "network-cost")) {
		if ((rc = parse_number(value, "network-cost", 0, UINT32_MAX, &c->network_cost, err)))
			return rc;
		c->has_network_cost = true;
	} else if (pbx_span_caseeq_cstr(name, "ufrag")) {
		if (first_non_ice_char(value) < value.len || value.len > ICE_UFRAG_MAX)
			return pbx_err_set(err, PBX_E_MALFORMED,
					   CAND "ufrag '%s' is not 1..256 ice-chars", show(value, &b));
		copy_checked(value, c->ufrag, sizeof c->ufrag);
	}
	return 0;
}

int ice_cand_parse(struct pbx_span text, struct ice_cand *out, struct pbx_err *err)
{
	struct shown b;
	int rc;

	memset(out, 0, sizeof *out);
	struct pbx_span rest = strip_line(text);
	if (!take_prefix(&rest, "a=candidate:"))
		take_prefix(&rest, "candidate:");
	if ((rc = parse_cand_fixed(&rest, out, err)))
		goto fail;
	for (;;) {
		struct pbx_span name = next_field(&rest);
		if (name.len == 0)
			break;
		struct pbx_span value = next_field(&rest);
		if (value.len == 0) {
			rc = pbx_err_set(err, PBX_E_TRUNCATED,
					 CAND "extension attribute '%s' has no value",
					 show(name, &b));
			goto fail;
		}
		if ((rc = parse_cand_ext(name, value, out, err)))
			goto fail;
	}
	if (out->has_raddr && out->has_rport && pbx_addr_family(&out->raddr) != AF_UNSPEC)
		pbx_addr_set_port(&out->raddr, out->rport);
	return 0;
fail:
	memset(out, 0, sizeof *out);
	return rc;
}

/* ---- formatting ---- */

/* printf into buf at *off; a failure leaves *off at n ("no space"). */
PBX_PRINTF(4, 5)
static void put(char *buf, size_t n, size_t *off, const char *fmt, ...)
{
	if (*off >= n)
		return;
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(buf + *off, n - *off, fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t)w >= n - *off)
		*off = n; /* marks "no space" */
	else
		*off += (size_t)w;
}

static bool cstr_ice_chars(const char *s, size_t min, size_t max)
{
	struct pbx_span sp = pbx_span_cstr(s);
	return sp.len >= min && sp.len <= max && first_non_ice_char(sp) == sp.len;
}

static bool cand_valid(const struct ice_cand *c)
{
	if (!cstr_ice_chars(c->foundation, 1, ICE_FOUNDATION_MAX) || c->component < 1 ||
	    c->component > ICE_COMPONENT_MAX || c->priority < 1 || c->priority > ICE_PRIORITY_MAX ||
	    (unsigned)c->type >= ICE_CAND_TYPES || (c->transport != ICE_UDP && c->transport != ICE_TCP) ||
	    (unsigned)c->tcptype > ICE_TCPTYPE_SO || !cstr_ice_chars(c->ufrag, 0, ICE_UFRAG_MAX))
		return false;
	if (c->unresolved)
		return is_hostname(pbx_span_cstr(c->hostname));
	int f = pbx_addr_family(&c->addr);
	return f == AF_INET || f == AF_INET6;
}

int ice_cand_format(const struct ice_cand *c, char *buf, size_t n)
{
	static const char *const tcptypes[] = { "", "active", "passive", "so" };
	char ip[PBX_ADDRSTRLEN], rip[PBX_ADDRSTRLEN];
	size_t off = 0;

	if (n)
		buf[0] = '\0';
	if (!cand_valid(c))
		return PBX_E_INVALID;
	if (!c->unresolved && pbx_addr_format_ip(&c->addr, ip, sizeof ip))
		return PBX_E_INVALID;
	put(buf, n, &off, "a=candidate:%s %u %s %u %s %u typ %s", c->foundation,
	    (unsigned)c->component, c->transport == ICE_TCP ? "tcp" : "udp",
	    (unsigned)c->priority, c->unresolved ? c->hostname : ip, (unsigned)c->port,
	    ice_cand_type_name(c->type));
	if (c->has_raddr) {
		if (pbx_addr_family(&c->raddr) == AF_UNSPEC ||
		    pbx_addr_format_ip(&c->raddr, rip, sizeof rip))
			strcpy(rip, "0.0.0.0");
		put(buf, n, &off, " raddr %s", rip);
	}
	if (c->has_rport)
		put(buf, n, &off, " rport %u", (unsigned)c->rport);
	if (c->transport == ICE_TCP && c->tcptype != ICE_TCPTYPE_NONE)
		put(buf, n, &off, " tcptype %s", tcptypes[c->tcptype]);
	if (c->has_generation)
		put(buf, n, &off, " generation %u", (unsigned)c->generation);
	if (c->ufrag[0])
		put(buf, n, &off, " ufrag %s", c->ufrag);
	if (c->has_network_id)
		put(buf, n, &off, " network-id %u", (unsigned)c->network_id);
	if (c->has_network_cost)
		put(buf, n, &off, " network-cost %u", (unsigned)c->network_cost);
	if (off >= n) {
		if (n)
			buf[0] = '\0';
		return PBX_E_NOSPACE;
	}
	return 0;
}

/* ---- descriptions ---- */

void ice_desc_init(struct ice_desc *d)
{
	memset(d, 0, sizeof *d);
}

/* Check an a=ice-ufrag or a=ice-pwd value without echoing it (a password
 * must not reach logs, and a ufrag goes with it). */
static int parse_credential(struct pbx_span v, const char *attr, size_t min, size_t max,
			    char *dst, size_t cap, struct pbx_err *err)
{
	if (dst[0])
		return pbx_err_set(err, PBX_E_MALFORMED, "a=%s: given twice", attr);
	if (v.len < min || v.len > max)
		return pbx_err_set(err, v.len > max ? PBX_E_TOOLONG : PBX_E_INVALID,
				   "a=%s: %zu characters, needs %zu..%zu", attr, v.len, min, max);
	size_t bad = first_non_ice_char(v);
	if (bad < v.len)
		return pbx_err_set(err, PBX_E_MALFORMED,
				   "a=%s: character %zu is not an ice-char (letter, digit, '+', '/')",
				   attr, bad + 1);
	copy_checked(v, dst, cap);
	return 0;
}

static int parse_options(struct ice_desc *d, struct pbx_span v, struct pbx_err *err)
{
	struct shown b;
	size_t n = d->n_options;
	char opts[ICE_OPTIONS_MAX][ICE_OPTION_LEN_MAX + 1];

	memcpy(opts, d->options, sizeof opts);
	if (pbx_span_trim(v).len == 0)
		return pbx_err_set(err, PBX_E_MALFORMED, "a=ice-options: no option given");
	for (;;) {
		struct pbx_span t = next_field(&v);
		if (t.len == 0)
			break;
		if (t.len > ICE_OPTION_LEN_MAX || first_non_ice_char(t) < t.len)
			return pbx_err_set(err, PBX_E_MALFORMED,
					   "a=ice-options: option '%s' is not 1..%d ice-chars",
					   show(t, &b), ICE_OPTION_LEN_MAX);
		if (n == ICE_OPTIONS_MAX)
			return pbx_err_set(err, PBX_E_TOOLONG, "a=ice-options: more than %d options",
					   ICE_OPTIONS_MAX);
		copy_checked(t, opts[n++], sizeof opts[0]);
	}
	memcpy(d->options, opts, sizeof opts);
	d->n_options = n;
	return 0;
}

/* Whether the candidate line names a transport other than UDP and TCP
 * (a well-formed token such as "sctp" or "dtls"). */
static bool other_transport(struct pbx_span line)
{
	struct pbx_span rest = strip_line(line);
	if (!take_prefix(&rest, "a=candidate:"))
		take_prefix(&rest, "candidate:");
	next_field(&rest); /* foundation */
	next_field(&rest); /* component */
	struct pbx_span t = next_field(&rest);
	return t.len > 0 && first_non_ice_char(t) == t.len && !pbx_span_caseeq_cstr(t, "udp") &&
	       !pbx_span_caseeq_cstr(t, "tcp");
}

static int add_candidate(struct ice_desc *d, struct pbx_span line, struct pbx_err *err)
{
	struct ice_cand c;
	/* RFC 8839 5.1: a candidate with a transport the agent does not know
	 * is ignored, not a reason to refuse the whole description. */
	if (other_transport(line)) {
		d->n_ignored++;
		return 0;
	}
	int rc = ice_cand_parse(line, &c, err);
	if (rc)
		return rc;
	if (d->end_of_candidates)
		return pbx_err_set(err, PBX_E_MALFORMED, "a=candidate: after a=end-of-candidates");
	if (d->n_cands == ICE_DESC_CANDS_MAX)
		return pbx_err_set(err, PBX_E_TOOLONG, "a=candidate: more than %d candidates",
				   ICE_DESC_CANDS_MAX);
	d->cands[d->n_cands++] = c;
	return 0;
}

int ice_desc_parse_line(struct ice_desc *d, struct pbx_span line, struct pbx_err *err)
{
	struct pbx_span s = strip_line(line), name, value;

	if (!take_prefix(&s, "a="))
		return 0;
	bool has_value = pbx_span_cut(s, ':', &name, &value);
	value = pbx_span_trim(value);
	if (pbx_span_caseeq_cstr(name, "candidate"))
		return add_candidate(d, s, err);
	if (pbx_span_caseeq_cstr(name, "ice-ufrag"))
		return parse_credential(value, "ice-ufrag", ICE_UFRAG_MIN, ICE_UFRAG_MAX, d->ufrag,
					sizeof d->ufrag, err);
	if (pbx_span_caseeq_cstr(name, "ice-pwd"))
		return parse_credential(value, "ice-pwd", ICE_PWD_MIN, ICE_PWD_MAX, d->pwd,
					sizeof d->pwd, err);
	if (pbx_span_caseeq_cstr(name, "ice-options"))
		return parse_options(d, value, err);
	if (pbx_span_caseeq_cstr(name, "ice-lite") && !has_value)
		d->lite = true;
	else if (pbx_span_caseeq_cstr(name, "end-of-candidates") && !has_value)
		d->end_of_candidates = true;
	return 0;
}

/* Put "line N: " in front of err's message. */
static int at_line(struct pbx_err *err, int rc, size_t lineno)
{
	if (!err)
		return rc;
	char msg[PBX_ERR_MSG_MAX];
	memcpy(msg, err->msg, sizeof msg);
	msg[sizeof msg - 1] = '\0';
	return pbx_err_set(err, rc, "line %zu: %s", lineno, msg);
}

/* The next line of r into *line: 0, 1 at the end, or PBX_E_TOOLONG. */
static int next_line(struct pbx_reader *r, struct pbx_span *line)
{
	int rc = pbx_read_line(r, ICE_LINE_MAX, line);
	if (rc == 0)
		return 0;
	if (rc == PBX_E_NEEDMORE) {
		/* The last line without its line end. */
		*line = pbx_reader_rest(r);
		if (line->len == 0)
			return 1;
		pbx_read_skip(r, line->len);
		return 0;
	}
	return PBX_E_TOOLONG;
}

int ice_desc_parse(struct ice_desc *d, struct pbx_span text, struct pbx_err *err)
{
	struct pbx_reader r;
	struct pbx_span line;
	int rc;

	ice_desc_init(d);
	pbx_reader_init(&r, text.p, text.len);
	for (size_t lineno = 1;; lineno++) {
		rc = next_line(&r, &line);
		if (rc == 1)
			return 0;
		if (rc)
			return pbx_err_set(err, rc, "line %zu: longer than %d bytes", lineno,
					   ICE_LINE_MAX);
		if ((rc = ice_desc_parse_line(d, line, err)))
			return at_line(err, rc, lineno);
	}
}

int ice_desc_format(const struct ice_desc *d, bool crlf, char *buf, size_t n, size_t *len)
{
	const char *eol = crlf ? "\r\n" : "\n";
	char line[ICE_CAND_LINE_MAX];
	size_t off = 0;
	int rc;

	if (len)
		*len = 0;
	if (n)
		buf[0] = '\0';
	if (!cstr_ice_chars(d->ufrag, ICE_UFRAG_MIN, ICE_UFRAG_MAX) ||
	    !cstr_ice_chars(d->pwd, ICE_PWD_MIN, ICE_PWD_MAX) || d->n_options > ICE_OPTIONS_MAX ||
	    d->n_cands > ICE_DESC_CANDS_MAX)
		return PBX_E_INVALID;
	put(buf, n, &off, "a=ice-ufrag:%s%sa=ice-pwd:%s%s", d->ufrag, eol, d->pwd, eol);
	if (d->lite)
		put(buf, n, &off, "a=ice-lite%s", eol);
	if (d->n_options) {
		put(buf, n, &off, "a=ice-options:");
		for (size_t i = 0; i < d->n_options; i++) {
			if (!cstr_ice_chars(d->options[i], 1, ICE_OPTION_LEN_MAX))
				return PBX_E_INVALID;
			put(buf, n, &off, "%s%s", i ? " " : "", d->options[i]);
		}
		put(buf, n, &off, "%s", eol);
	}
	for (size_t i = 0; i < d->n_cands; i++) {
		if ((rc = ice_cand_format(&d->cands[i], line, sizeof line)))
			return rc;
		put(buf, n, &off, "%s%s", line, eol);
	}
	if (d->end_of_candidates)
		put(buf, n, &off, "a=end-of-candidates%s", eol);
	if (off >= n) {
		if (n)
			buf[0] = '\0';
		return PBX_E_NOSPACE;
	}
	if (len)
		*len = off;
	return 0;
}

/* RFC 8839 5.1: without ICE-aware middleboxes the default destination is
 * one of the candidates; if not, something rewrote c= or m= on the way.
 * Trickle ICE (RFC 8840 4.1.1) uses 0.0.0.0/:: port 9 before any
 * candidate exists. */
enum ice_default_check ice_desc_check_default(const struct ice_desc *d)
{
	if (!d->has_default || pbx_addr_family(&d->default_addr) == AF_UNSPEC)
		return ICE_DEFAULT_NONE;
	if (pbx_addr_is_any(&d->default_addr) && pbx_addr_port(&d->default_addr) == 9)
		return ICE_DEFAULT_PLACEHOLDER;
	for (size_t i = 0; i < d->n_cands && i < ICE_DESC_CANDS_MAX; i++) {
		const struct ice_cand *c = &d->cands[i];
		if (c->component == 1 && !c->unresolved && pbx_addr_equal(&c->addr, &d->default_addr))
			return ICE_DEFAULT_MATCH;
	}
	return ICE_DEFAULT_MANGLED;
}

const char *ice_default_check_name(enum ice_default_check c)
{
	switch (c) {
	case ICE_DEFAULT_NONE:
		return "none";
	case ICE_DEFAULT_MATCH:
		return "match";
	case ICE_DEFAULT_PLACEHOLDER:
		return "placeholder";
	case ICE_DEFAULT_MANGLED:
		return "mangled";
	}
	return "?";
}

/* ---- SDP bodies ---- */

int ice_sdp_new(struct ice_sdp **out)
{
	*out = calloc(1, sizeof **out);
	return *out ? 0 : -ENOMEM;
}

void ice_sdp_free(struct ice_sdp *s)
{
	free(s);
}

/* "m=<media> <port>[/<number of ports>] <proto> <fmt> ..." (RFC 8866 5.14). */
static int parse_m_line(struct pbx_span v, struct ice_sdp_media *m, struct pbx_err *err)
{
	struct shown b;
	struct pbx_span kind = next_field(&v), port = next_field(&v), p;
	uint32_t n;

	if (kind.len == 0 || port.len == 0)
		return pbx_err_set(err, PBX_E_TRUNCATED, "m=: media or port missing");
	for (size_t i = 0; i < kind.len; i++)
		if (!is_alnum(kind.p[i]) && kind.p[i] != '-' && kind.p[i] != '_')
			return pbx_err_set(err, PBX_E_MALFORMED, "m=: media '%s' is not a token",
					   show(kind, &b));
	if (kind.len >= sizeof m->kind)
		kind.len = sizeof m->kind - 1;
	copy_checked(kind, m->kind, sizeof m->kind);
	pbx_span_cut(port, '/', &p, NULL);
	if (pbx_span_to_u32(p, 65535, &n))
		return pbx_err_set(err, PBX_E_INVALID, "m=: port '%s' is not in 0..65535",
				   show(port, &b));
	m->port = (uint16_t)n;
	return 0;
}

/* "c=IN IP4|IP6 <address>[/ttl[/n]]" (RFC 8866 5.7).  *has_ip tells if it
 * held an IP (a name gives no default to compare). */
static int parse_c_line(struct pbx_span v, struct pbx_addr *addr, bool *has_ip,
			struct pbx_err *err)
{
	struct shown b;
	struct pbx_span line = v;
	struct pbx_span net = next_field(&v), type = next_field(&v), text = next_field(&v), a;
	bool is_name;

	*has_ip = false;
	memset(addr, 0, sizeof *addr);
	if (text.len == 0)
		return pbx_err_set(err, PBX_E_TRUNCATED, "c=: network type, address type or address missing");
	if (!pbx_span_caseeq_cstr(net, "IN") ||
	    !(pbx_span_caseeq_cstr(type, "IP4") || pbx_span_caseeq_cstr(type, "IP6")))
		return pbx_err_set(err, PBX_E_MALFORMED, "c=: 'IN IP4' or 'IN IP6' expected, not '%s'",
				   show(line, &b));
	pbx_span_cut(text, '/', &a, NULL);
	if (parse_conn_addr(a, "address", addr, NULL, &is_name, err))
		return pbx_err_set(err, PBX_E_MALFORMED, "c=: address '%s' is not an IP address or name",
				   show(a, &b));
	int want = pbx_span_caseeq_cstr(type, "IP4") ? AF_INET : AF_INET6;
	if (!is_name && pbx_addr_family(addr) != want)
		return pbx_err_set(err, PBX_E_MALFORMED, "c=: address '%s' is not of type %s",
				   show(a, &b), want == AF_INET ? "IP4" : "IP6");
	*has_ip = !is_name;
	return 0;
}

/* Session-level attributes apply to every m= section that lacks its own
 * (RFC 8839 5.4, 5.6; ice-lite is session-level only but tolerated in a
 * section), and so does the session's c= line (RFC 8866 5.7). */
static void merge_session(struct ice_sdp *s, const bool *own_c)
{
	const struct ice_desc *sess = &s->session;
	for (size_t i = 0; i < s->n_media; i++) {
		struct ice_sdp_media *m = &s->media[i];
		struct ice_desc *d = &m->ice;
		if (!d->ufrag[0])
			memcpy(d->ufrag, sess->ufrag, sizeof d->ufrag);
		if (!d->pwd[0])
			memcpy(d->pwd, sess->pwd, sizeof d->pwd);
		if (d->n_options == 0) {
			memcpy(d->options, sess->options, sizeof d->options);
			d->n_options = sess->n_options;
		}
		d->lite = d->lite || sess->lite;
		d->end_of_candidates = d->end_of_candidates || sess->end_of_candidates;
		if (!own_c[i]) {
			d->has_default = sess->has_default;
			d->default_addr = sess->default_addr;
		}
		if (d->has_default)
			pbx_addr_set_port(&d->default_addr, m->port);
	}
}

/* One line of a body, at session level (cur is &s->session) or in the
 * last m= section. */
static int sdp_line(struct ice_sdp *s, struct pbx_span line, bool *own_c, struct pbx_err *err)
{
	struct ice_desc *cur = s->n_media ? &s->media[s->n_media - 1].ice : &s->session;
	struct pbx_span v = line;
	bool has_ip;
	int rc;

	if (take_prefix(&v, "m=")) {
		if (s->n_media == ICE_SDP_MEDIA_MAX)
			return pbx_err_set(err, PBX_E_TOOLONG, "m=: more than %d media sections",
					   ICE_SDP_MEDIA_MAX);
		struct ice_sdp_media *m = &s->media[s->n_media];
		memset(m, 0, sizeof *m);
		if ((rc = parse_m_line(v, m, err)))
			return rc;
		own_c[s->n_media++] = false;
		return 0;
	}
	if (take_prefix(&v, "c=")) {
		if ((rc = parse_c_line(v, &cur->default_addr, &has_ip, err)))
			return rc;
		cur->has_default = has_ip;
		if (s->n_media)
			own_c[s->n_media - 1] = true;
		return 0;
	}
	if (!s->n_media && take_prefix(&v, "a=candidate:"))
		return pbx_err_set(err, PBX_E_MALFORMED,
				   "a=candidate: at session level (before the first m= line)");
	return ice_desc_parse_line(cur, line, err);
}

int ice_sdp_parse(struct ice_sdp *s, struct pbx_span body, struct pbx_err *err)
{
	struct pbx_reader r;
	struct pbx_span line;
	bool own_c[ICE_SDP_MEDIA_MAX] = { false };
	int rc;

	s->n_media = 0;
	ice_desc_init(&s->session);
	pbx_reader_init(&r, body.p, body.len);
	for (size_t lineno = 1;; lineno++) {
		rc = next_line(&r, &line);
		if (rc == 1)
			break;
		if (rc)
			return pbx_err_set(err, rc, "line %zu: longer than %d bytes", lineno,
					   ICE_LINE_MAX);
		if ((rc = sdp_line(s, strip_line(line), own_c, err)))
			return at_line(err, rc, lineno);
	}
	if (s->n_media == 0)
		return pbx_err_set(err, PBX_E_MALFORMED,
				   "no m= line: not an SDP body");
	merge_session(s, own_c);
	return 0;
}
