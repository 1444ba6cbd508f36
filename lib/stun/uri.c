/* uri.c - STUN and TURN server URIs: "stun:"/"stuns:" (RFC 7064) and
 * "turn:"/"turns:" with "?transport=" (RFC 7065), the form WebRTC
 * applications and administrators name servers in. */
#include <stdio.h>
#include <string.h>

#include <pbxedge/stun.h>

static const struct {
	const char *name;
	enum stun_uri_scheme scheme;
	uint16_t port;
	enum stun_uri_transport transport;
} schemes[] = {
	{ "stuns", STUN_URI_STUNS, 5349, STUN_URI_TLS },
	{ "stun", STUN_URI_STUN, 3478, STUN_URI_UDP },
	{ "turns", STUN_URI_TURNS, 5349, STUN_URI_TLS },
	{ "turn", STUN_URI_TURN, 3478, STUN_URI_UDP },
};

#define N_SCHEMES (sizeof schemes / sizeof schemes[0])

static size_t scheme_index(enum stun_uri_scheme s)
{
	for (size_t i = 0; i < N_SCHEMES; i++)
		if (schemes[i].scheme == s)
			return i;
	return 0;
}

/* RFC 3986 reg-name, restricted to what names a host: letters, digits,
 * '-', '.', '_' (no percent-encoding: no DNS name needs it). */
static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

/* Split "HOST[:PORT]" (HOST perhaps "[v6]") into host and port text. */
static int split_host(struct pbx_span hp, struct pbx_span *host, struct pbx_span *port,
		      bool *has_port, bool *bracketed, struct pbx_err *err)
{
	*has_port = false;
	*bracketed = false;
	*port = (struct pbx_span){ NULL, 0 };
	if (hp.len && hp.p[0] == '[') {
		struct pbx_span in, rest;
		if (!pbx_span_cut((struct pbx_span){ hp.p + 1, hp.len - 1 }, ']', &in, &rest))
			return pbx_err_set(err, PBX_E_INVALID, "'[' without ']'");
		*host = in;
		*bracketed = true;
		if (rest.len) {
			if (rest.p[0] != ':')
				return pbx_err_set(err, PBX_E_INVALID,
						   "text after ']' that is not ':PORT'");
			*port = (struct pbx_span){ rest.p + 1, rest.len - 1 };
			*has_port = true;
		}
		return 0;
	}
	struct pbx_span before, after;
	if (pbx_span_rcut(hp, ':', &before, &after)) {
		if (memchr(before.p, ':', before.len))
			return pbx_err_set(err, PBX_E_INVALID,
					   "an IPv6 address must be in brackets");
		*host = before;
		*port = after;
		*has_port = true;
	} else {
		*host = hp;
	}
	return 0;
}

static int parse_port(struct pbx_span t, uint16_t *port, struct pbx_err *err)
{
	uint32_t v;
	if (!t.len || pbx_span_to_u32(t, 65535, &v) < 0 || v == 0)
		return pbx_err_set(err, PBX_E_INVALID, "port '%.*s' is not 1-65535",
				   (int)(t.len > 16 ? 16 : t.len), t.p ? t.p : "");
	*port = (uint16_t)v;
	return 0;
}

/* The query: only "transport=udp|tcp", and only for TURN (RFC 7065 3.1). */
static int parse_query(struct pbx_span q, struct stun_uri *u, struct pbx_err *err)
{
	struct pbx_span key, val;
	if (u->scheme == STUN_URI_STUN || u->scheme == STUN_URI_STUNS)
		return pbx_err_set(err, PBX_E_INVALID, "a stun: URI takes no '?' query");
	if (!pbx_span_cut(q, '=', &key, &val) || !pbx_span_caseeq_cstr(key, "transport"))
		return pbx_err_set(err, PBX_E_INVALID,
				   "the only query is '?transport=udp' or '?transport=tcp'");
	if (pbx_span_caseeq_cstr(val, "tcp")) {
		u->transport = u->scheme == STUN_URI_TURNS ? STUN_URI_TLS : STUN_URI_TCP;
		return 0;
	}
	if (pbx_span_caseeq_cstr(val, "udp")) {
		if (u->scheme == STUN_URI_TURNS)
			return pbx_err_set(err, PBX_E_INVALID,
					   "turns: with transport=udp is TURN over DTLS, "
					   "which is not supported");
		u->transport = STUN_URI_UDP;
		return 0;
	}
	return pbx_err_set(err, PBX_E_INVALID, "unknown transport '%.*s' (udp or tcp)",
			   (int)(val.len > 16 ? 16 : val.len), val.p ? val.p : "");
}

static int parse_host(struct pbx_span host, bool bracketed, struct stun_uri *u,
		      struct pbx_err *err)
{
	if (!host.len)
		return pbx_err_set(err, PBX_E_INVALID, "no host");
	if (host.len > STUN_URI_HOST_MAX)
		return pbx_err_set(err, PBX_E_INVALID, "host longer than %d characters",
				   STUN_URI_HOST_MAX);
	struct pbx_err aerr;
	pbx_err_clear(&aerr);
	if (bracketed || memchr(host.p, ':', host.len)) {
		if (pbx_addr_parse(host, u->port, 0, &u->addr, &aerr) < 0 ||
		    pbx_addr_family(&u->addr) != AF_INET6)
			return pbx_err_set(err, PBX_E_INVALID, "'%.*s' is not an IPv6 address",
					   (int)(host.len > 64 ? 64 : host.len), host.p);
		u->is_ip = true;
	} else if (pbx_addr_parse(host, u->port, 0, &u->addr, &aerr) == 0) {
		u->is_ip = true;
	} else {
		for (size_t i = 0; i < host.len; i++)
			if (!name_char(host.p[i]))
				return pbx_err_set(err, PBX_E_INVALID,
						   "host '%.*s' has a character a name cannot have",
						   (int)(host.len > 64 ? 64 : host.len), host.p);
		bool digits_only = true;
		for (size_t i = 0; i < host.len; i++)
			if (!(host.p[i] >= '0' && host.p[i] <= '9') && host.p[i] != '.')
				digits_only = false;
		if (digits_only)
			return pbx_err_set(err, PBX_E_INVALID, "'%.*s' is not an IPv4 address",
					   (int)(host.len > 64 ? 64 : host.len), host.p);
	}
	memcpy(u->host, host.p, host.len);
	u->host[host.len] = '\0';
	return 0;
}

int stun_uri_parse(struct pbx_span text, enum stun_uri_scheme default_scheme,
		   struct stun_uri *out, struct pbx_err *err)
{
	struct stun_uri u;
	memset(&u, 0, sizeof u);
	text = pbx_span_trim(text);
	if (!text.len)
		return pbx_err_set(err, PBX_E_INVALID, "empty server URI");

	size_t si = scheme_index(default_scheme);
	struct pbx_span rest = text, sch, after;
	if (pbx_span_cut(text, ':', &sch, &after)) {
		for (size_t i = 0; i < N_SCHEMES; i++) {
			if (pbx_span_caseeq_cstr(sch, schemes[i].name)) {
				si = i;
				rest = after;
				break;
			}
		}
	}
	u.scheme = schemes[si].scheme;
	u.transport = schemes[si].transport;
	u.port = schemes[si].port;
	/* "turn://host" is a common slip: RFC 7065 URIs have no authority. */
	if (rest.len >= 2 && rest.p[0] == '/' && rest.p[1] == '/')
		return pbx_err_set(err, PBX_E_INVALID, "no '//' after the scheme (write %s:HOST)",
				   schemes[si].name);

	struct pbx_span hp = rest, query = { NULL, 0 };
	bool has_query = pbx_span_cut(rest, '?', &hp, &query);
	struct pbx_span host = { NULL, 0 }, port;
	bool has_port, bracketed;
	int rc = split_host(hp, &host, &port, &has_port, &bracketed, err);
	if (rc < 0)
		return rc;
	if (has_port) {
		if ((rc = parse_port(port, &u.port, err)) < 0)
			return rc;
		u.port_given = true;
	}
	if (has_query && (rc = parse_query(query, &u, err)) < 0)
		return rc;
	if ((rc = parse_host(host, bracketed, &u, err)) < 0)
		return rc;
	if (u.is_ip)
		pbx_addr_set_port(&u.addr, u.port);
	*out = u;
	return 0;
}

int stun_uri_format(const struct stun_uri *u, char *buf, size_t n)
{
	size_t si = scheme_index(u->scheme);
	bool v6 = u->is_ip && pbx_addr_family(&u->addr) == AF_INET6;
	bool tcp = (u->scheme == STUN_URI_TURN && u->transport == STUN_URI_TCP);
	int k = snprintf(buf, n, "%s:%s%s%s:%u%s", schemes[si].name, v6 ? "[" : "", u->host,
			 v6 ? "]" : "", (unsigned)u->port, tcp ? "?transport=tcp" : "");
	if (k < 0 || (size_t)k >= n)
		return PBX_E_NOSPACE;
	return 0;
}

bool stun_uri_is_turn(const struct stun_uri *u)
{
	return u->scheme == STUN_URI_TURN || u->scheme == STUN_URI_TURNS;
}
