/* registry.c - the table of protocol inspectors and the reason names that
 * logs, counters, rpctl status and tests share. */
#include "internal.h"

static const char *const reason_names[PBX_R_COUNT] = {
	[PBX_R_NONE] = "none",
	[PBX_R_MALFORMED] = "malformed",
	[PBX_R_TOO_LARGE] = "too-large",
	[PBX_R_AMBIGUOUS] = "ambiguous-framing",
	[PBX_R_UNSUPPORTED] = "unsupported",
	[PBX_R_NO_NAME] = "no-name",
	[PBX_R_UNKNOWN_NAME] = "unknown-name",
	[PBX_R_NO_TARGET] = "no-target",
	[PBX_R_SOURCE_DENIED] = "source-denied",
	[PBX_R_URL_DENIED] = "url-denied",
	[PBX_R_OTHER_SERVICE] = "other-service",
	[PBX_R_TIMEOUT] = "inspect-timeout",
	[PBX_R_BLACKLISTED] = "blacklisted",
	[PBX_R_TLS_FAILED] = "tls-failed",
	[PBX_R_BAD_CERT] = "bad-certificate",
	[PBX_R_TARGET_FAILED] = "target-failed",
	[PBX_R_REJECTED] = "service-rejected",
	[PBX_R_CLIENT_CLOSED] = "client-closed",
	[PBX_R_IDLE] = "idle-timeout",
	[PBX_R_SERVICE_MALFORMED] = "service-malformed",
};

const char *pbx_reason_name(enum pbx_reason r)
{
	return (unsigned)r < PBX_R_COUNT && reason_names[r] ? reason_names[r] : "unknown";
}

static const struct pbx_inspector *const inspectors[STORE_FAMILY_COUNT] = {
	[STORE_FAMILY_HTTP] = &pbx_inspector_http,
	[STORE_FAMILY_SIP] = &pbx_inspector_sip,
	[STORE_FAMILY_LDAP] = &pbx_inspector_ldap,
	[STORE_FAMILY_H323] = &pbx_inspector_h323,
};

const struct pbx_inspector *pbx_inspector_for(enum store_family f)
{
	return (unsigned)f < STORE_FAMILY_COUNT ? inspectors[f] : NULL;
}
