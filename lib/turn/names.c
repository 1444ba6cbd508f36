/* names.c - stable names of the TURN client's reasons, states and drops,
 * and the reason each STUN error code of RFC 8656 section 19 maps to. */
#include <pbxedge/turn.h>

static const char *const reason_names[TURN_R_COUNT] = {
	[TURN_R_NONE] = "none",
	[TURN_R_PENDING] = "pending",
	[TURN_R_OK] = "ok",
	[TURN_R_AUTH] = "auth",
	[TURN_R_NONCE_LOOP] = "nonce-loop",
	[TURN_R_QUOTA] = "quota",
	[TURN_R_CAPACITY] = "capacity",
	[TURN_R_FAMILY] = "address-family",
	[TURN_R_TRANSPORT] = "transport",
	[TURN_R_MISMATCH] = "allocation-mismatch",
	[TURN_R_FORBIDDEN] = "forbidden",
	[TURN_R_PEER_FAMILY] = "peer-address-family",
	[TURN_R_WRONG_CREDS] = "wrong-credentials",
	[TURN_R_ALTERNATE] = "try-alternate",
	[TURN_R_UNKNOWN_ATTR] = "unknown-attribute",
	[TURN_R_ERROR] = "error",
	[TURN_R_TIMEOUT] = "timeout",
	[TURN_R_ICMP] = "icmp",
	[TURN_R_CLOSED] = "closed",
	[TURN_R_STREAM] = "stream-garbage",
	[TURN_R_BAD_RESPONSE] = "bad-response",
	[TURN_R_LOCAL] = "local",
	[TURN_R_CANCELLED] = "cancelled",
};

const char *turn_reason_name(enum turn_reason r)
{
	if ((unsigned)r >= TURN_R_COUNT || !reason_names[r])
		return "unknown";
	return reason_names[r];
}

enum turn_reason turn_reason_of_code(int code)
{
	switch (code) {
	case STUN_ERR_TRY_ALTERNATE: return TURN_R_ALTERNATE;
	case STUN_ERR_UNAUTHENTICATED: return TURN_R_AUTH;
	case STUN_ERR_FORBIDDEN: return TURN_R_FORBIDDEN;
	case STUN_ERR_UNKNOWN_ATTRIBUTE: return TURN_R_UNKNOWN_ATTR;
	case STUN_ERR_ALLOCATION_MISMATCH: return TURN_R_MISMATCH;
	case STUN_ERR_STALE_NONCE: return TURN_R_NONCE_LOOP;
	case STUN_ERR_ADDRESS_FAMILY: return TURN_R_FAMILY;
	case STUN_ERR_WRONG_CREDENTIALS: return TURN_R_WRONG_CREDS;
	case STUN_ERR_UNSUPPORTED_TRANSPORT: return TURN_R_TRANSPORT;
	case STUN_ERR_PEER_ADDRESS_FAMILY: return TURN_R_PEER_FAMILY;
	case STUN_ERR_QUOTA_REACHED: return TURN_R_QUOTA;
	case STUN_ERR_INSUFFICIENT_CAPACITY: return TURN_R_CAPACITY;
	default: return TURN_R_ERROR;
	}
}

const char *turn_state_name(enum turn_state s)
{
	static const char *const n[] = { "idle", "allocating", "allocated",
					 "failed", "releasing", "released" };
	if ((unsigned)s >= sizeof n / sizeof n[0])
		return "unknown";
	return n[s];
}

const char *turn_drop_name(enum turn_drop d)
{
	static const char *const n[TURN_DROP_COUNT] = {
		[TURN_DROP_NONE] = "none",
		[TURN_DROP_MALFORMED] = "malformed",
		[TURN_DROP_UNMATCHED] = "unmatched",
		[TURN_DROP_INTEGRITY] = "integrity",
		[TURN_DROP_CHANNEL] = "unknown-channel",
		[TURN_DROP_INDICATION] = "indication",
		[TURN_DROP_REQUEST] = "request",
		[TURN_DROP_TOO_LONG] = "too-long",
		[TURN_DROP_STATE] = "state",
	};
	if ((unsigned)d >= TURN_DROP_COUNT)
		return "unknown";
	return n[d];
}
