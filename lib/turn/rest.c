/* rest.c - TURN REST credentials, shared by turnd (checking) and rpctl
 * (minting): user name "EXPIRY:USER", password base64(HMAC-SHA1(secret,
 * user name)) (draft-uberti-behave-turn-rest-00 section 2.2). */
#include <errno.h>
#include <gnutls/crypto.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <pbxedge/turn.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int turn_rest_password(struct pbx_span secret, struct pbx_span username, char *out, size_t n)
{
	uint8_t mac[20];
	/* 20 bytes: 28 characters with one '=' of padding. */
	if (n < TURN_REST_PASSWORD_LEN + 1)
		return PBX_E_NOSPACE;
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA1, secret.p, secret.len, username.p, username.len,
			     mac) < 0)
		return -EIO;
	size_t o = 0;
	for (size_t i = 0; i < 20; i += 3) {
		uint32_t v = (uint32_t)mac[i] << 16;
		size_t k = 20 - i < 3 ? 20 - i : 3;
		if (k > 1)
			v |= (uint32_t)mac[i + 1] << 8;
		if (k > 2)
			v |= mac[i + 2];
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = k > 1 ? b64[v >> 6 & 63] : '=';
		out[o++] = k > 2 ? b64[v & 63] : '=';
	}
	out[o] = '\0';
	return 0;
}

int turn_rest_expiry(struct pbx_span username, int64_t *expiry)
{
	struct pbx_span ts = username, rest;
	pbx_span_cut(username, ':', &ts, &rest);
	/* Twelve digits reach the year 33658: enough, and no overflow. */
	if (ts.len == 0 || ts.len > 12)
		return PBX_E_MALFORMED;
	int64_t v = 0;
	for (size_t i = 0; i < ts.len; i++) {
		if (ts.p[i] < '0' || ts.p[i] > '9')
			return PBX_E_MALFORMED;
		v = v * 10 + (ts.p[i] - '0');
	}
	*expiry = v;
	return 0;
}

int turn_rest_expired(struct pbx_span username, int64_t now, bool *expired)
{
	int64_t expiry;
	int rc = turn_rest_expiry(username, &expiry);
	if (rc)
		return rc;
	/* turnd refuses a user name whose expiry is now or past. */
	*expired = expiry <= now;
	return 0;
}

int turn_rest_username(struct pbx_span user, int64_t expiry, char *out, size_t n)
{
	if (expiry < 0 || expiry > 999999999999 || (user.len && memchr(user.p, ':', user.len)))
		return PBX_E_INVALID;
	int w = snprintf(out, n, "%" PRId64 ":%.*s", expiry, (int)user.len, user.len ? user.p : "");
	if (w < 0 || (size_t)w >= n) {
		if (n)
			out[0] = '\0';
		return PBX_E_NOSPACE;
	}
	return 0;
}

int turn_rest_mint(struct pbx_span secret, struct pbx_span user, int64_t now, int64_t ttl,
		   char *username, size_t un, char *password, size_t pn)
{
	if (ttl <= 0)
		return PBX_E_INVALID;
	int rc = turn_rest_username(user, now + ttl, username, un);
	if (rc)
		return rc;
	return turn_rest_password(secret, pbx_span_cstr(username), password, pn);
}
