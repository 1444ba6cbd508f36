/* names.c - names of STUN methods, classes, attributes and drop reasons for
 * logs, and the standard reason phrases of error codes (RFC 8489 14.8,
 * RFC 8656 section 19, RFC 8445 16.2, RFC 3489 11.2.9). */
#include <pbxedge/stun.h>

struct name {
	int value;
	const char *text;
};

static const char *lookup(const struct name *t, size_t n, int value)
{
	for (size_t k = 0; k < n; k++)
		if (t[k].value == value)
			return t[k].text;
	return NULL;
}

#define LOOKUP(table, value) lookup(table, sizeof table / sizeof table[0], value)

static const struct name methods[] = {
	{ STUN_BINDING, "Binding" },
	{ STUN_SHARED_SECRET, "SharedSecret" },
	{ STUN_ALLOCATE, "Allocate" },
	{ STUN_REFRESH, "Refresh" },
	{ STUN_SEND, "Send" },
	{ STUN_DATA, "Data" },
	{ STUN_CREATE_PERMISSION, "CreatePermission" },
	{ STUN_CHANNEL_BIND, "ChannelBind" },
};

static const struct name attrs[] = {
	{ STUN_A_MAPPED_ADDRESS, "MAPPED-ADDRESS" },
	{ STUN_A_RESPONSE_ADDRESS, "RESPONSE-ADDRESS" },
	{ STUN_A_CHANGE_REQUEST, "CHANGE-REQUEST" },
	{ STUN_A_SOURCE_ADDRESS, "SOURCE-ADDRESS" },
	{ STUN_A_CHANGED_ADDRESS, "CHANGED-ADDRESS" },
	{ STUN_A_USERNAME, "USERNAME" },
	{ STUN_A_PASSWORD, "PASSWORD" },
	{ STUN_A_MESSAGE_INTEGRITY, "MESSAGE-INTEGRITY" },
	{ STUN_A_ERROR_CODE, "ERROR-CODE" },
	{ STUN_A_UNKNOWN_ATTRIBUTES, "UNKNOWN-ATTRIBUTES" },
	{ STUN_A_REFLECTED_FROM, "REFLECTED-FROM" },
	{ STUN_A_CHANNEL_NUMBER, "CHANNEL-NUMBER" },
	{ STUN_A_LIFETIME, "LIFETIME" },
	{ STUN_A_XOR_PEER_ADDRESS, "XOR-PEER-ADDRESS" },
	{ STUN_A_DATA, "DATA" },
	{ STUN_A_REALM, "REALM" },
	{ STUN_A_NONCE, "NONCE" },
	{ STUN_A_XOR_RELAYED_ADDRESS, "XOR-RELAYED-ADDRESS" },
	{ STUN_A_REQUESTED_ADDRESS_FAMILY, "REQUESTED-ADDRESS-FAMILY" },
	{ STUN_A_EVEN_PORT, "EVEN-PORT" },
	{ STUN_A_REQUESTED_TRANSPORT, "REQUESTED-TRANSPORT" },
	{ STUN_A_DONT_FRAGMENT, "DONT-FRAGMENT" },
	{ STUN_A_MESSAGE_INTEGRITY_SHA256, "MESSAGE-INTEGRITY-SHA256" },
	{ STUN_A_PASSWORD_ALGORITHM, "PASSWORD-ALGORITHM" },
	{ STUN_A_USERHASH, "USERHASH" },
	{ STUN_A_XOR_MAPPED_ADDRESS, "XOR-MAPPED-ADDRESS" },
	{ STUN_A_RESERVATION_TOKEN, "RESERVATION-TOKEN" },
	{ STUN_A_PRIORITY, "PRIORITY" },
	{ STUN_A_USE_CANDIDATE, "USE-CANDIDATE" },
	{ STUN_A_PADDING, "PADDING" },
	{ STUN_A_RESPONSE_PORT, "RESPONSE-PORT" },
	{ STUN_A_ADDITIONAL_ADDRESS_FAMILY, "ADDITIONAL-ADDRESS-FAMILY" },
	{ STUN_A_ADDRESS_ERROR_CODE, "ADDRESS-ERROR-CODE" },
	{ STUN_A_PASSWORD_ALGORITHMS, "PASSWORD-ALGORITHMS" },
	{ STUN_A_ALTERNATE_DOMAIN, "ALTERNATE-DOMAIN" },
	{ STUN_A_ICMP, "ICMP" },
	{ STUN_A_SOFTWARE, "SOFTWARE" },
	{ STUN_A_ALTERNATE_SERVER, "ALTERNATE-SERVER" },
	{ STUN_A_CACHE_TIMEOUT, "CACHE-TIMEOUT" },
	{ STUN_A_FINGERPRINT, "FINGERPRINT" },
	{ STUN_A_ICE_CONTROLLED, "ICE-CONTROLLED" },
	{ STUN_A_ICE_CONTROLLING, "ICE-CONTROLLING" },
	{ STUN_A_RESPONSE_ORIGIN, "RESPONSE-ORIGIN" },
	{ STUN_A_OTHER_ADDRESS, "OTHER-ADDRESS" },
};

/* The recommended reason phrases.  401 is "Unauthenticated" since RFC
 * 8489 ("Unauthorized" before); the RFC 3489 codes keep their old names. */
static const struct name errors[] = {
	{ STUN_ERR_TRY_ALTERNATE, "Try Alternate" },
	{ STUN_ERR_BAD_REQUEST, "Bad Request" },
	{ STUN_ERR_UNAUTHENTICATED, "Unauthenticated" },
	{ STUN_ERR_FORBIDDEN, "Forbidden" },
	{ STUN_ERR_UNKNOWN_ATTRIBUTE, "Unknown Attribute" },
	{ STUN_ERR_STALE_CREDENTIALS, "Stale Credentials" },
	{ STUN_ERR_INTEGRITY_CHECK_FAILURE, "Integrity Check Failure" },
	{ STUN_ERR_MISSING_USERNAME, "Missing Username" },
	{ STUN_ERR_USE_TLS, "Use TLS" },
	{ STUN_ERR_ALLOCATION_MISMATCH, "Allocation Mismatch" },
	{ STUN_ERR_STALE_NONCE, "Stale Nonce" },
	{ STUN_ERR_ADDRESS_FAMILY, "Address Family not Supported" },
	{ STUN_ERR_WRONG_CREDENTIALS, "Wrong Credentials" },
	{ STUN_ERR_UNSUPPORTED_TRANSPORT, "Unsupported Transport Protocol" },
	{ STUN_ERR_PEER_ADDRESS_FAMILY, "Peer Address Family Mismatch" },
	{ STUN_ERR_QUOTA_REACHED, "Allocation Quota Reached" },
	{ STUN_ERR_ROLE_CONFLICT, "Role Conflict" },
	{ STUN_ERR_SERVER, "Server Error" },
	{ STUN_ERR_INSUFFICIENT_CAPACITY, "Insufficient Capacity" },
	{ STUN_ERR_GLOBAL_FAILURE, "Global Failure" },
};

/* Stable: these names are counters' and log lines' keys. */
static const char *const drops[STUN_DROP_COUNT] = {
	[STUN_DROP_NONE] = "none",
	[STUN_DROP_NOT_STUN] = "not-stun",
	[STUN_DROP_TRUNCATED] = "truncated",
	[STUN_DROP_TRAILING] = "trailing",
	[STUN_DROP_BAD_LENGTH] = "bad-length",
	[STUN_DROP_BAD_PADDING] = "bad-padding",
	[STUN_DROP_ATTR_TRUNCATED] = "attr-truncated",
	[STUN_DROP_TOO_MANY_ATTRS] = "too-many-attrs",
	[STUN_DROP_BAD_INTEGRITY_ATTR] = "bad-integrity-attr",
	[STUN_DROP_BAD_FINGERPRINT] = "bad-fingerprint",
	[STUN_DROP_AFTER_FINGERPRINT] = "after-fingerprint",
	[STUN_DROP_TOO_LONG] = "too-long",
	[STUN_DROP_NO_COOKIE] = "no-cookie",
	[STUN_DROP_BAD_CHANNEL] = "bad-channel",
};

const char *stun_names_method(uint16_t method)
{
	return LOOKUP(methods, method);
}

const char *stun_names_class(enum stun_class cls)
{
	static const char *const classes[] = {
		"request", "indication", "success response", "error response",
	};
	return classes[(unsigned)cls & 3];
}

const char *stun_names_attr(uint16_t type)
{
	return LOOKUP(attrs, type);
}

const char *stun_names_error(int code)
{
	return LOOKUP(errors, code);
}

const char *stun_names_drop(enum stun_drop drop)
{
	if ((unsigned)drop >= STUN_DROP_COUNT || !drops[drop])
		return "unknown";
	return drops[drop];
}
