/* addr.c - IPv4/IPv6 socket addresses and CIDR networks: parse, format,
 * match.  Text comes from administrators and configuration files; it is
 * parsed strictly and every refusal says why. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <pbxedge/addr.h>

/* Parse a bare IP address (no brackets, no port) into 4 or 16 bytes.
 * Returns the family or 0 with err set. */
static int parse_ip(struct pbx_span s, uint8_t ip[16], struct pbx_err *err)
{
	char buf[INET6_ADDRSTRLEN + 1];

	if (s.len == 0) {
		pbx_err_set(err, PBX_E_INVALID, "empty address");
		return 0;
	}
	if (s.len >= sizeof buf) {
		pbx_err_set(err, PBX_E_INVALID, "'%.*s...' is too long for an IP address",
			    16, s.p);
		return 0;
	}
	memcpy(buf, s.p, s.len);
	buf[s.len] = '\0';
	for (size_t i = 0; i < s.len; i++) {
		char c = buf[i];
		if (c == '%') {
			pbx_err_set(err, PBX_E_INVALID,
				    "'%s': zone indices (%%...) are not supported", buf);
			return 0;
		}
		bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			  (c >= 'A' && c <= 'F') || c == '.' || c == ':';
		if (!ok) {
			pbx_err_set(err, PBX_E_INVALID,
				    "'%s' is not an IPv4 or IPv6 address (unexpected '%c')",
				    buf, (c >= 0x20 && c < 0x7f) ? c : '?');
			return 0;
		}
	}
	if (memchr(buf, ':', s.len)) {
		if (inet_pton(AF_INET6, buf, ip) == 1)
			return AF_INET6;
		pbx_err_set(err, PBX_E_INVALID, "'%s' is not a valid IPv6 address", buf);
		return 0;
	}
	/* Leading zeros are refused: some tools read them as octal. */
	for (size_t i = 0; i + 1 < s.len; i++) {
		if (buf[i] == '0' && (i == 0 || buf[i - 1] == '.') && buf[i + 1] != '.') {
			pbx_err_set(err, PBX_E_INVALID,
				    "'%s': leading zeros are not allowed in IPv4 addresses", buf);
			return 0;
		}
	}
	if (inet_pton(AF_INET, buf, ip) == 1)
		return AF_INET;
	pbx_err_set(err, PBX_E_INVALID,
		    "'%s' is not a valid IPv4 address (four decimal numbers 0-255)", buf);
	return 0;
}

static void set_ip(struct pbx_addr *a, int family, const uint8_t ip[16], uint16_t port)
{
	memset(a, 0, sizeof *a);
	if (family == AF_INET) {
		a->u.sin.sin_family = AF_INET;
		a->u.sin.sin_port = htons(port);
		memcpy(&a->u.sin.sin_addr, ip, 4);
		a->len = sizeof a->u.sin;
	} else {
		a->u.sin6.sin6_family = AF_INET6;
		a->u.sin6.sin6_port = htons(port);
		memcpy(&a->u.sin6.sin6_addr, ip, 16);
		a->len = sizeof a->u.sin6;
	}
}

static int parse_port(struct pbx_span s, uint16_t *port, struct pbx_err *err)
{
	uint32_t v;
	int rc = pbx_span_to_u32(s, 65535, &v);
	if (rc == 0 && v == 0)
		rc = PBX_E_TOOLONG;
	if (rc == 0 && s.len > 1 && s.p[0] == '0')
		return pbx_err_set(err, PBX_E_INVALID, "port '%.*s' has leading zeros",
				   (int)(s.len > 16 ? 16 : s.len), s.p);
	if (rc == PBX_E_TOOLONG)
		return pbx_err_set(err, PBX_E_INVALID, "port '%.*s' is out of range (1-65535)",
				   (int)(s.len > 16 ? 16 : s.len), s.p);
	if (rc)
		return pbx_err_set(err, PBX_E_INVALID, "port '%.*s' is not a number",
				   (int)(s.len > 16 ? 16 : s.len), s.p);
	*port = (uint16_t)v;
	return 0;
}

int pbx_addr_parse(struct pbx_span text, uint16_t default_port, int flags,
		   struct pbx_addr *out, struct pbx_err *err)
{
	struct pbx_span host = text, port = { NULL, 0 };
	bool has_port = false;
	uint8_t ip[16];

	memset(out, 0, sizeof *out);
	if (text.len && text.p[0] == '[') {
		struct pbx_span inner, rest;
		struct pbx_span after = { text.p + 1, text.len - 1 };
		if (!pbx_span_cut(after, ']', &inner, &rest))
			return pbx_err_set(err, PBX_E_INVALID, "'%.*s': missing ']'",
					   (int)text.len, text.p);
		host = inner;
		if (rest.len) {
			if (rest.p[0] != ':')
				return pbx_err_set(err, PBX_E_INVALID,
						   "'%.*s': expected ':PORT' after ']'",
						   (int)text.len, text.p);
			port.p = rest.p + 1;
			port.len = rest.len - 1;
			has_port = true;
		}
		if (!memchr(host.p, ':', host.len))
			return pbx_err_set(err, PBX_E_INVALID,
					   "'%.*s': brackets are only for IPv6 addresses",
					   (int)text.len, text.p);
	} else {
		struct pbx_span first, rest;
		/* One colon: IPv4 with a port.  More: a bare IPv6 address. */
		if (pbx_span_cut(text, ':', &first, &rest) && !memchr(rest.p, ':', rest.len)) {
			host = first;
			port = rest;
			has_port = true;
		}
	}
	if (has_port && (flags & PBX_ADDR_NO_PORT))
		return pbx_err_set(err, PBX_E_INVALID, "'%.*s': a port is not allowed here",
				   (int)text.len, text.p);
	if (!has_port && (flags & PBX_ADDR_NEED_PORT))
		return pbx_err_set(err, PBX_E_INVALID,
				   "'%.*s': a port is required (ADDRESS:PORT or [IPv6]:PORT)",
				   (int)text.len, text.p);
	uint16_t p = default_port;
	if (has_port && parse_port(port, &p, err))
		return PBX_E_INVALID;
	int family = parse_ip(host, ip, err);
	if (!family)
		return PBX_E_INVALID;
	set_ip(out, family, ip, p);
	return 0;
}

int pbx_addr_from_sockaddr(struct pbx_addr *out, const struct sockaddr *sa, socklen_t len)
{
	memset(out, 0, sizeof *out);
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		memcpy(&out->u.sin, sa, sizeof out->u.sin);
		out->len = sizeof out->u.sin;
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		memcpy(&out->u.sin6, sa, sizeof out->u.sin6);
		out->len = sizeof out->u.sin6;
		return 0;
	}
	return -EAFNOSUPPORT;
}

/* inet_ntop for IPv6, except where glibc writes the deprecated
 * IPv4-compatible form "::a.b.c.d" (first 96 bits zero): RFC 5952 keeps
 * dotted quads for IPv4-mapped addresses only, so "::1:2", not "::0.1.0.2". */
static const char *ntop6(const uint8_t ip[16], char *buf, size_t n)
{
	static const uint8_t zero[12];
	if (memcmp(ip, zero, sizeof zero) == 0 && (ip[12] | ip[13])) {
		int w = snprintf(buf, n, "::%x:%x", (unsigned)(ip[12] << 8 | ip[13]),
				 (unsigned)(ip[14] << 8 | ip[15]));
		return (w >= 0 && (size_t)w < n) ? buf : NULL;
	}
	return inet_ntop(AF_INET6, ip, buf, (socklen_t)n);
}

int pbx_addr_format_ip(const struct pbx_addr *a, char *buf, size_t n)
{
	const void *src;
	int family = pbx_addr_family(a);
	if (family == AF_INET)
		src = &a->u.sin.sin_addr;
	else if (family == AF_INET6)
		src = &a->u.sin6.sin6_addr;
	else
		return snprintf(buf, n, "-") < (int)n ? 0 : PBX_E_NOSPACE;
	if (family == AF_INET6 ? !ntop6(src, buf, n) : !inet_ntop(family, src, buf, (socklen_t)n))
		return PBX_E_NOSPACE;
	return 0;
}

int pbx_addr_format(const struct pbx_addr *a, char *buf, size_t n)
{
	char ip[INET6_ADDRSTRLEN];
	if (pbx_addr_format_ip(a, ip, sizeof ip))
		return PBX_E_NOSPACE;
	int family = pbx_addr_family(a);
	int w;
	if (family == AF_INET6)
		w = snprintf(buf, n, "[%s]:%u", ip, pbx_addr_port(a));
	else if (family == AF_INET)
		w = snprintf(buf, n, "%s:%u", ip, pbx_addr_port(a));
	else
		w = snprintf(buf, n, "-");
	return (w >= 0 && (size_t)w < n) ? 0 : PBX_E_NOSPACE;
}

int pbx_addr_family(const struct pbx_addr *a)
{
	return a->len ? a->u.sa.sa_family : AF_UNSPEC;
}

uint16_t pbx_addr_port(const struct pbx_addr *a)
{
	switch (pbx_addr_family(a)) {
	case AF_INET:
		return ntohs(a->u.sin.sin_port);
	case AF_INET6:
		return ntohs(a->u.sin6.sin6_port);
	default:
		return 0;
	}
}

void pbx_addr_set_port(struct pbx_addr *a, uint16_t port)
{
	if (pbx_addr_family(a) == AF_INET)
		a->u.sin.sin_port = htons(port);
	else if (pbx_addr_family(a) == AF_INET6)
		a->u.sin6.sin6_port = htons(port);
}

void pbx_addr_unmap(const struct pbx_addr *in, struct pbx_addr *out)
{
	if (pbx_addr_family(in) == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&in->u.sin6.sin6_addr)) {
		uint8_t ip[16];
		memcpy(ip, &in->u.sin6.sin6_addr.s6_addr[12], 4);
		set_ip(out, AF_INET, ip, ntohs(in->u.sin6.sin6_port));
		return;
	}
	if (out != in)
		*out = *in;
}

bool pbx_addr_equal(const struct pbx_addr *a, const struct pbx_addr *b)
{
	int f = pbx_addr_family(a);
	if (f != pbx_addr_family(b))
		return false;
	if (f == AF_INET)
		return a->u.sin.sin_port == b->u.sin.sin_port &&
		       a->u.sin.sin_addr.s_addr == b->u.sin.sin_addr.s_addr;
	if (f == AF_INET6)
		return a->u.sin6.sin6_port == b->u.sin6.sin6_port &&
		       memcmp(&a->u.sin6.sin6_addr, &b->u.sin6.sin6_addr, 16) == 0;
	return true;
}

bool pbx_addr_is_any(const struct pbx_addr *a)
{
	if (pbx_addr_family(a) == AF_INET)
		return a->u.sin.sin_addr.s_addr == htonl(INADDR_ANY);
	if (pbx_addr_family(a) == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&a->u.sin6.sin6_addr);
	return false;
}

/* ---- CIDR ---- */

static unsigned family_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

/* Zero the bits of ip below prefix; report whether any were set. */
static bool clear_host_bits(uint8_t ip[16], unsigned bits, unsigned prefix)
{
	bool was_set = false;
	for (unsigned i = 0; i < bits / 8; i++) {
		unsigned first = i * 8;
		uint8_t keep;
		if (first + 8 <= prefix)
			keep = 0xff;
		else if (first >= prefix)
			keep = 0;
		else
			keep = (uint8_t)(0xff << (8 - (prefix - first)));
		if (ip[i] & ~keep)
			was_set = true;
		ip[i] &= keep;
	}
	return was_set;
}

int pbx_cidr_parse(struct pbx_span text, struct pbx_cidr *out, struct pbx_err *err)
{
	struct pbx_span host, len;
	uint8_t ip[16] = { 0 };

	memset(out, 0, sizeof *out);
	bool has_len = pbx_span_cut(text, '/', &host, &len);
	int family = parse_ip(host, ip, err);
	if (!family)
		return PBX_E_INVALID;
	unsigned bits = family_bits(family);
	uint32_t prefix = bits;
	if (has_len) {
		int rc = pbx_span_to_u32(len, bits, &prefix);
		if (rc == PBX_E_TOOLONG)
			return pbx_err_set(err, PBX_E_INVALID,
					   "'%.*s': prefix length exceeds %u for %s",
					   (int)text.len, text.p, bits,
					   family == AF_INET ? "IPv4" : "IPv6");
		if (rc || (len.len > 1 && len.p[0] == '0'))
			return pbx_err_set(err, PBX_E_INVALID,
					   "'%.*s': prefix length must be a number 0-%u",
					   (int)text.len, text.p, bits);
	}
	out->family = (uint8_t)family;
	out->prefix = (uint8_t)prefix;
	memcpy(out->ip, ip, 16);
	if (clear_host_bits(out->ip, bits, prefix)) {
		char net[PBX_CIDRSTRLEN];
		pbx_cidr_format(out, net, sizeof net);
		memset(out, 0, sizeof *out);
		return pbx_err_set(err, PBX_E_INVALID,
				   "'%.*s': address has bits set beyond the /%u prefix "
				   "(the network is %s)", (int)text.len, text.p,
				   (unsigned)prefix, net);
	}
	/* An IPv4-mapped network (::ffff:a.b.c.d/96 or longer) means IPv4
	 * clients, and clients are matched unmapped: store it as IPv4. */
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (family == AF_INET6 && prefix >= 96 && memcmp(out->ip, mapped, 12) == 0) {
		memmove(out->ip, out->ip + 12, 4);
		memset(out->ip + 4, 0, 12);
		out->family = AF_INET;
		out->prefix = (uint8_t)(prefix - 96);
	}
	return 0;
}

int pbx_cidr_from_addr(const struct pbx_addr *a, struct pbx_cidr *out)
{
	struct pbx_addr u;
	pbx_addr_unmap(a, &u);
	memset(out, 0, sizeof *out);
	if (pbx_addr_family(&u) == AF_INET) {
		memcpy(out->ip, &u.u.sin.sin_addr, 4);
	} else if (pbx_addr_family(&u) == AF_INET6) {
		memcpy(out->ip, &u.u.sin6.sin6_addr, 16);
	} else {
		return -EAFNOSUPPORT;
	}
	out->family = (uint8_t)pbx_addr_family(&u);
	out->prefix = (uint8_t)family_bits(out->family);
	return 0;
}

int pbx_cidr_format(const struct pbx_cidr *c, char *buf, size_t n)
{
	char ip[INET6_ADDRSTRLEN];
	if (c->family != AF_INET && c->family != AF_INET6)
		return PBX_E_INVALID;
	if (c->family == AF_INET6)
		ntop6(c->ip, ip, sizeof ip);
	else
		inet_ntop(c->family, c->ip, ip, sizeof ip);
	int w;
	if (pbx_cidr_is_host(c))
		w = snprintf(buf, n, "%s", ip);
	else
		w = snprintf(buf, n, "%s/%u", ip, c->prefix);
	return (w >= 0 && (size_t)w < n) ? 0 : PBX_E_NOSPACE;
}

bool pbx_cidr_contains(const struct pbx_cidr *c, const struct pbx_addr *a)
{
	struct pbx_cidr host;
	if (pbx_cidr_from_addr(a, &host) || host.family != c->family)
		return false;
	unsigned full = c->prefix / 8, rest = c->prefix % 8;
	if (memcmp(host.ip, c->ip, full) != 0)
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));
		if ((host.ip[full] & mask) != c->ip[full])
			return false;
	}
	return true;
}

bool pbx_cidr_overlaps(const struct pbx_cidr *a, const struct pbx_cidr *b)
{
	if (a->family != b->family)
		return false;
	unsigned p = a->prefix < b->prefix ? a->prefix : b->prefix;
	uint8_t x[16], y[16];
	memcpy(x, a->ip, 16);
	memcpy(y, b->ip, 16);
	clear_host_bits(x, family_bits(a->family), p);
	clear_host_bits(y, family_bits(a->family), p);
	return memcmp(x, y, 16) == 0;
}

bool pbx_cidr_is_host(const struct pbx_cidr *c)
{
	return c->prefix == family_bits(c->family);
}

bool pbx_cidr_equal(const struct pbx_cidr *a, const struct pbx_cidr *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       memcmp(a->ip, b->ip, 16) == 0;
}
