/* cand.c - ICE candidate priorities, local preferences, foundations and
 * pair priorities (RFC 8445 5.1.1.3, 5.1.2, 6.1.2.3; RFC 8421 section 4). */
#include <stdio.h>
#include <string.h>

#include <pbxedge/ice.h>

void ice_prefs_default(struct ice_prefs *p)
{
	p->type_pref[ICE_HOST] = 126;
	p->type_pref[ICE_PRFLX] = 110;
	p->type_pref[ICE_SRFLX] = 100;
	p->type_pref[ICE_RELAY] = 0;
}

int ice_priority(unsigned type_pref, uint16_t local_pref, unsigned component, uint32_t *out)
{
	*out = 0;
	if (type_pref > ICE_TYPE_PREF_MAX || component < 1 || component > ICE_COMPONENT_MAX)
		return PBX_E_INVALID;
	*out = ((uint32_t)type_pref << 24) + ((uint32_t)local_pref << 8) +
	       (uint32_t)(256 - component);
	return 0;
}

int ice_cand_priority(const struct ice_prefs *prefs, enum ice_cand_type type,
		      uint16_t local_pref, unsigned component, uint32_t *out)
{
	struct ice_prefs def;

	*out = 0;
	if ((unsigned)type >= ICE_CAND_TYPES)
		return PBX_E_INVALID;
	if (!prefs) {
		ice_prefs_default(&def);
		prefs = &def;
	}
	return ice_priority(prefs->type_pref[type], local_pref, component, out);
}

void ice_priority_split(uint32_t priority, unsigned *type_pref, uint16_t *local_pref,
			unsigned *component)
{
	*type_pref = priority >> 24;
	*local_pref = (uint16_t)(priority >> 8);
	*component = 256 - (priority & 0xFF);
}

int ice_priority_format(uint32_t priority, char *buf, size_t n)
{
	unsigned type_pref, component;
	uint16_t local_pref;

	ice_priority_split(priority, &type_pref, &local_pref, &component);
	int w = snprintf(buf, n, "%u|%u|%u", type_pref, (unsigned)local_pref, component);
	if (w < 0 || (size_t)w >= n) {
		if (n)
			buf[0] = '\0';
		return PBX_E_NOSPACE;
	}
	return 0;
}

/* RFC 8421 section 4 asks for IPv4 and IPv6 to be interleaved so that a
 * broken family costs one check, not all of its addresses' checks, before
 * the other family is tried; within a family the caller's order stands. */
/* The next address of class cls (0: the family of addrs[0], 1: the other)
 * from *from on; n if none.  *from moves past it. */
static size_t next_of_class(const struct pbx_addr *addrs, size_t n, int first, int cls,
			    size_t *from)
{
	for (size_t k = *from; k < n; k++) {
		if ((pbx_addr_family(&addrs[k]) == first) == (cls == 0)) {
			*from = k + 1;
			return k;
		}
	}
	*from = n;
	return n;
}

int ice_local_prefs(const struct pbx_addr *addrs, size_t n, uint16_t *out)
{
	if (n > 65535)
		return PBX_E_INVALID;
	for (size_t i = 0; i < n; i++) {
		int f = pbx_addr_family(&addrs[i]);
		if (f != AF_INET && f != AF_INET6)
			return PBX_E_INVALID;
	}
	if (n == 0)
		return 0;
	int first = pbx_addr_family(&addrs[0]);
	size_t from[2] = { 0, 0 };
	int cls = 0;
	for (size_t rank = 0; rank < n; rank++, cls ^= 1) {
		size_t k = next_of_class(addrs, n, first, cls, &from[cls]);
		if (k == n) { /* this family ran out: the rest are the other */
			cls ^= 1;
			k = next_of_class(addrs, n, first, cls, &from[cls]);
		}
		out[k] = (uint16_t)(65535 - rank);
	}
	return 0;
}

/* FNV-1a, 32 bits: stable across runs and machines, which a foundation
 * must be within one session and which makes test output repeatable. */
static uint32_t fnv1a(uint32_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

/* Hash the family and IP (and the port if with_port) of a. */
static uint32_t hash_addr(uint32_t h, const struct pbx_addr *a, bool with_port)
{
	int f = pbx_addr_family(a);
	uint8_t fam = (uint8_t)f;
	h = fnv1a(h, &fam, 1);
	if (f == AF_INET)
		h = fnv1a(h, &a->u.sin.sin_addr, 4);
	else if (f == AF_INET6)
		h = fnv1a(h, &a->u.sin6.sin6_addr, 16);
	if (with_port) {
		uint16_t port = pbx_addr_port(a);
		uint8_t pb[2] = { (uint8_t)(port >> 8), (uint8_t)port };
		h = fnv1a(h, pb, 2);
	}
	return h;
}

int ice_foundation(enum ice_cand_type type, const struct pbx_addr *base,
		   const struct pbx_addr *server, enum ice_transport transport,
		   char out[ICE_FOUNDATION_MAX + 1])
{
	out[0] = '\0';
	int f = pbx_addr_family(base);
	if ((f != AF_INET && f != AF_INET6) || (unsigned)type >= ICE_CAND_TYPES ||
	    (transport != ICE_UDP && transport != ICE_TCP))
		return PBX_E_INVALID;
	uint8_t tt[2] = { (uint8_t)type, (uint8_t)transport };
	uint32_t h = fnv1a(2166136261u, tt, sizeof tt);
	h = hash_addr(h, base, false);
	if (server && pbx_addr_family(server) != AF_UNSPEC)
		h = hash_addr(h, server, true);
	snprintf(out, ICE_FOUNDATION_MAX + 1, "%08x", (unsigned)h);
	return 0;
}

uint64_t ice_pair_priority(uint32_t g, uint32_t d)
{
	uint64_t lo = g < d ? g : d, hi = g < d ? d : g;
	return (lo << 32) + 2 * hi + (g > d ? 1 : 0);
}

const char *ice_cand_type_name(enum ice_cand_type type)
{
	switch (type) {
	case ICE_HOST:
		return "host";
	case ICE_SRFLX:
		return "srflx";
	case ICE_PRFLX:
		return "prflx";
	case ICE_RELAY:
		return "relay";
	}
	return "?";
}
