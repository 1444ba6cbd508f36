/* vocab.c - the names of service types and protocol families. */
#include <string.h>
#include <strings.h>

#include <pbxedge/store.h>

static const char *const family_names[STORE_FAMILY_COUNT] = {
	[STORE_FAMILY_HTTP] = "http",
	[STORE_FAMILY_SIP] = "sip",
	[STORE_FAMILY_H323] = "h323",
	[STORE_FAMILY_LDAP] = "ldap",
};

static const struct {
	const char *name;
	enum store_family family;
	bool tls;
	uint16_t port;
} protos[STORE_PROTO_COUNT] = {
	[STORE_PROTO_HTTP] = { "http", STORE_FAMILY_HTTP, false, 80 },
	[STORE_PROTO_HTTPS] = { "https", STORE_FAMILY_HTTP, true, 443 },
	[STORE_PROTO_SIP] = { "sip", STORE_FAMILY_SIP, false, 5060 },
	[STORE_PROTO_SIPS] = { "sips", STORE_FAMILY_SIP, true, 5061 },
	[STORE_PROTO_H323] = { "h323", STORE_FAMILY_H323, false, 1720 },
	[STORE_PROTO_H323S] = { "h323s", STORE_FAMILY_H323, true, 1300 },
	[STORE_PROTO_LDAP] = { "ldap", STORE_FAMILY_LDAP, false, 389 },
	[STORE_PROTO_LDAPS] = { "ldaps", STORE_FAMILY_LDAP, true, 636 },
};

const char *store_family_name(enum store_family f)
{
	return (unsigned)f < STORE_FAMILY_COUNT ? family_names[f] : "?";
}

int store_family_parse(const char *s, enum store_family *f, struct pbx_err *err)
{
	for (int i = 0; i < STORE_FAMILY_COUNT; i++) {
		if (strcasecmp(s, family_names[i]) == 0) {
			*f = (enum store_family)i;
			return 0;
		}
	}
	return pbx_err_set(err, PBX_E_INVALID,
			   "unknown protocol family '%s' (one of: http sip h323 ldap)", s);
}

const char *store_proto_name(enum store_proto p)
{
	return (unsigned)p < STORE_PROTO_COUNT ? protos[p].name : "?";
}

int store_proto_parse(const char *s, enum store_proto *p, struct pbx_err *err)
{
	for (int i = 0; i < STORE_PROTO_COUNT; i++) {
		if (strcasecmp(s, protos[i].name) == 0) {
			*p = (enum store_proto)i;
			return 0;
		}
	}
	return pbx_err_set(err, PBX_E_INVALID,
			   "unknown service type '%s' "
			   "(one of: http https sip sips h323 h323s ldap ldaps)", s);
}

enum store_family store_proto_family(enum store_proto p)
{
	return protos[p].family;
}

bool store_proto_tls(enum store_proto p)
{
	return protos[p].tls;
}

uint16_t store_proto_default_port(enum store_proto p)
{
	return protos[p].port;
}
