/* policy.c - which peers turnd relays to (RFC 8656 section 21.3 and 17):
 * never to its own listening addresses, loopback, the unspecified
 * address, link-local, multicast or the private and other special ranges,
 * unless turnd.allow-peer allows a range; never to turnd.deny-peer.
 * Its own relayed addresses are peers like any other: two clients of one
 * turnd on a private network reach each other relay to relay (ICE pairs
 * both relayed candidates). */
#include <string.h>

#include "turnd.h"

struct special {
	const char *text;
	enum turnd_policy why;
};

/* Parsed once per call from text: a few dozen comparisons, far below the
 * cost of the CreatePermission that asks. */
static const struct special specials[] = {
	{ "0.0.0.0/8", POLICY_UNSPECIFIED },
	{ "127.0.0.0/8", POLICY_LOOPBACK },
	{ "169.254.0.0/16", POLICY_LINK_LOCAL },
	{ "224.0.0.0/4", POLICY_MULTICAST },
	{ "240.0.0.0/4", POLICY_PRIVATE },      /* reserved, and broadcast */
	{ "10.0.0.0/8", POLICY_PRIVATE },
	{ "172.16.0.0/12", POLICY_PRIVATE },
	{ "192.168.0.0/16", POLICY_PRIVATE },
	{ "100.64.0.0/10", POLICY_PRIVATE },    /* RFC 6598 shared address space */
	{ "192.0.0.0/24", POLICY_PRIVATE },     /* IETF protocol assignments */
	{ "198.18.0.0/15", POLICY_PRIVATE },    /* benchmarking */
	{ "::/128", POLICY_UNSPECIFIED },
	{ "::1/128", POLICY_LOOPBACK },
	{ "fe80::/10", POLICY_LINK_LOCAL },
	{ "ff00::/8", POLICY_MULTICAST },
	{ "fc00::/7", POLICY_PRIVATE },         /* unique local */
	{ "fec0::/10", POLICY_PRIVATE },        /* old site-local */
	{ "64:ff9b:1::/48", POLICY_PRIVATE },   /* local-use NAT64 */
	{ "2001:db8::/32", POLICY_PRIVATE },    /* documentation */
};

static const char *const names[] = {
	[POLICY_OK] = "allowed",
	[POLICY_DENIED] = "deny-peer",
	[POLICY_LOOPBACK] = "loopback",
	[POLICY_UNSPECIFIED] = "unspecified",
	[POLICY_LINK_LOCAL] = "link-local",
	[POLICY_MULTICAST] = "multicast",
	[POLICY_PRIVATE] = "private",
	[POLICY_OWN] = "own-address",
	[POLICY_PORT_ZERO] = "port-zero",
};

const char *policy_name(enum turnd_policy p)
{
	return (unsigned)p < sizeof names / sizeof names[0] ? names[p] : "unknown";
}

static bool in_any(const struct pbx_cidr *nets, size_t n, const struct pbx_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (pbx_cidr_contains(&nets[i], a))
			return true;
	return false;
}

bool policy_relayed(const struct pbx_addr *peer, const struct pbx_addr *own, size_t n_own)
{
	struct pbx_addr a;
	bool ours = false;
	pbx_addr_unmap(peer, &a);
	for (size_t i = 0; i < n_own; i++) {
		struct pbx_addr o;
		struct pbx_cidr c;
		pbx_addr_unmap(&own[i], &o);
		/* A listening port is never a relay, on any address. */
		if (pbx_addr_port(&o) != 0 && pbx_addr_port(&o) == pbx_addr_port(&a))
			return false;
		if (!pbx_addr_is_any(&o) && pbx_cidr_from_addr(&o, &c) == 0 &&
		    pbx_cidr_contains(&c, &a))
			ours = true;
	}
	return ours;
}

enum turnd_policy policy_check(const struct pbx_addr *peer, const struct pbx_cidr *allow,
			       size_t n_allow, const struct pbx_cidr *deny, size_t n_deny,
			       const struct pbx_addr *own, size_t n_own)
{
	struct pbx_addr a;
	pbx_addr_unmap(peer, &a);
	if (in_any(deny, n_deny, &a))
		return POLICY_DENIED;
	/* Port 0 is no destination in any range. */
	if (pbx_addr_port(&a) == 0)
		return POLICY_PORT_ZERO;
	if (in_any(allow, n_allow, &a))
		return POLICY_OK;
	for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) {
		struct pbx_cidr c;
		if (pbx_cidr_parse(pbx_span_cstr(specials[i].text), &c, NULL) == 0 &&
		    pbx_cidr_contains(&c, &a))
			return specials[i].why;
	}
	for (size_t i = 0; i < n_own; i++) {
		struct pbx_addr o;
		pbx_addr_unmap(&own[i], &o);
		if (pbx_addr_is_any(&o))
			continue;
		struct pbx_cidr c;
		if (pbx_cidr_from_addr(&o, &c) == 0 && pbx_cidr_contains(&c, &a))
			return POLICY_OWN;
	}
	return POLICY_OK;
}
