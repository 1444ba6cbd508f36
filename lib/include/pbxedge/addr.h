/* addr.h - socket addresses and CIDR networks for IPv4 and IPv6. */
#ifndef PBXEDGE_ADDR_H
#define PBXEDGE_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <pbxedge/api.h>
#include <pbxedge/buf.h>
#include <pbxedge/err.h>

/* Longest text pbx_addr_format writes, NUL included: "[v6]:65535". */
#define PBX_ADDRSTRLEN (INET6_ADDRSTRLEN + 8)
/* Longest text pbx_cidr_format writes, NUL included: "v6/128". */
#define PBX_CIDRSTRLEN (INET6_ADDRSTRLEN + 4)

/* An IPv4 or IPv6 socket address (address and port). */
struct pbx_addr {
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} u;
	socklen_t len; /* 0: no address */
};

/* An IPv4 or IPv6 network: address bytes with host bits zero, and prefix
 * length.  A host is a network of prefix 32 or 128. */
struct pbx_cidr {
	uint8_t family;   /* AF_INET or AF_INET6 */
	uint8_t prefix;   /* 0..32 or 0..128 */
	uint8_t ip[16];   /* network order; IPv4 in the first 4 bytes */
};

enum pbx_addr_flags {
	PBX_ADDR_NEED_PORT = 1, /* refuse text without a port */
	PBX_ADDR_NO_PORT = 2,   /* refuse text with a port */
};

/* pbx_addr_parse - parse "1.2.3.4", "1.2.3.4:80", "::1", "[::1]" or
 * "[::1]:80" into *out.  Without a port in the text the port is
 * default_port, unless flags say PBX_ADDR_NEED_PORT.  Ports are 1..65535.
 * Returns 0, or PBX_E_INVALID with err naming what is wrong. */
PBX_API int pbx_addr_parse(struct pbx_span text, uint16_t default_port, int flags,
			   struct pbx_addr *out, struct pbx_err *err);

/* pbx_addr_from_sockaddr - copy an AF_INET or AF_INET6 sockaddr.  Returns 0
 * or -EAFNOSUPPORT. */
PBX_API int pbx_addr_from_sockaddr(struct pbx_addr *out, const struct sockaddr *sa,
				   socklen_t len);

/* pbx_addr_format - "1.2.3.4:80" or "[::1]:80" into buf (size n).  Returns
 * 0 or PBX_E_NOSPACE. */
PBX_API int pbx_addr_format(const struct pbx_addr *a, char *buf, size_t n);

/* pbx_addr_format_ip - the address without the port, "1.2.3.4" or "::1". */
PBX_API int pbx_addr_format_ip(const struct pbx_addr *a, char *buf, size_t n);

/* pbx_addr_family - AF_INET, AF_INET6, or AF_UNSPEC for an empty address. */
PBX_API int pbx_addr_family(const struct pbx_addr *a);

/* pbx_addr_port - the port in host order. */
PBX_API uint16_t pbx_addr_port(const struct pbx_addr *a);

/* pbx_addr_set_port - set the port (host order). */
PBX_API void pbx_addr_set_port(struct pbx_addr *a, uint16_t port);

/* pbx_addr_unmap - turn an IPv4-mapped IPv6 address (::ffff:a.b.c.d, as a
 * dual-stack socket reports IPv4 peers) into the IPv4 address, port kept;
 * any other address is copied unchanged. */
PBX_API void pbx_addr_unmap(const struct pbx_addr *in, struct pbx_addr *out);

/* pbx_addr_equal - same family, address and port. */
PBX_API bool pbx_addr_equal(const struct pbx_addr *a, const struct pbx_addr *b);

/* pbx_addr_is_any - the unspecified address (0.0.0.0 or ::). */
PBX_API bool pbx_addr_is_any(const struct pbx_addr *a);

/* pbx_cidr_parse - parse a host ("192.0.2.1", "2001:db8::1") or a network
 * ("10.0.0.0/8", "2001:db8::/32").  A network with bits set below its
 * prefix is refused (it is almost always a typo), as are zone indices,
 * leading zeros and anything but the two standard forms.  An IPv4-mapped
 * IPv6 network (::ffff:192.0.2.0/120) becomes the IPv4 network it means
 * (192.0.2.0/24), as clients are matched unmapped.  Returns 0, or
 * PBX_E_INVALID with err naming what is wrong. */
PBX_API int pbx_cidr_parse(struct pbx_span text, struct pbx_cidr *out, struct pbx_err *err);

/* pbx_cidr_from_addr - the host network (/32 or /128) of a's address;
 * IPv4-mapped IPv6 addresses become IPv4.  Returns 0 or -EAFNOSUPPORT. */
PBX_API int pbx_cidr_from_addr(const struct pbx_addr *a, struct pbx_cidr *out);

/* pbx_cidr_format - canonical text: the bare address for a host, else
 * "net/len" (IPv6 per RFC 5952).  Returns 0 or PBX_E_NOSPACE. */
PBX_API int pbx_cidr_format(const struct pbx_cidr *c, char *buf, size_t n);

/* pbx_cidr_contains - true if a's address lies in c.  An IPv4-mapped IPv6
 * address matches IPv4 networks.  The port is ignored. */
PBX_API bool pbx_cidr_contains(const struct pbx_cidr *c, const struct pbx_addr *a);

/* pbx_cidr_overlaps - true if a and b share at least one address (one
 * contains the other). */
PBX_API bool pbx_cidr_overlaps(const struct pbx_cidr *a, const struct pbx_cidr *b);

/* pbx_cidr_is_host - true for a /32 (IPv4) or /128 (IPv6). */
PBX_API bool pbx_cidr_is_host(const struct pbx_cidr *c);

/* pbx_cidr_equal - same family, prefix and network. */
PBX_API bool pbx_cidr_equal(const struct pbx_cidr *a, const struct pbx_cidr *b);

#endif
