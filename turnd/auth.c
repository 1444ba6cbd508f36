/* auth.c - turnd's nonces (RFC 8489 9.2: stateless, bound to the client's
 * address, stale after TURND_NONCE_S).  TURN REST credentials are the
 * library's (turn_rest_*, lib/turn/rest.c). */
#include <errno.h>
#include <gnutls/crypto.h>
#include <string.h>

#include "turnd.h"

static void nonce_mac(const uint8_t secret[16], const struct pbx_addr *client, uint32_t expiry,
		      uint8_t mac[20])
{
	uint8_t msg[4 + 16] = { expiry >> 24, expiry >> 16, expiry >> 8, expiry };
	struct pbx_cidr c;
	memset(&c, 0, sizeof c);
	pbx_cidr_from_addr(client, &c);
	memcpy(msg + 4, c.ip, 16);
	gnutls_hmac_fast(GNUTLS_MAC_SHA1, secret, 16, msg, sizeof msg, mac);
}

static const char hexd[] = "0123456789abcdef";

void auth_nonce_make(const uint8_t secret[16], const struct pbx_addr *client, int64_t now,
		     char *out, size_t n)
{
	uint32_t expiry = (uint32_t)(now + TURND_NONCE_S);
	uint8_t mac[20], raw[12];
	nonce_mac(secret, client, expiry, mac);
	raw[0] = (uint8_t)(expiry >> 24);
	raw[1] = (uint8_t)(expiry >> 16);
	raw[2] = (uint8_t)(expiry >> 8);
	raw[3] = (uint8_t)expiry;
	memcpy(raw + 4, mac, 8);
	size_t o = 0;
	for (size_t i = 0; i < sizeof raw && o + 2 < n; i++) {
		out[o++] = hexd[raw[i] >> 4];
		out[o++] = hexd[raw[i] & 15];
	}
	if (n)
		out[o < n ? o : n - 1] = '\0';
}

int auth_nonce_check(const uint8_t secret[16], const struct pbx_addr *client, int64_t now,
		     struct pbx_span nonce)
{
	uint8_t raw[12], mac[20];
	if (nonce.len != 2 * sizeof raw)
		return PBX_E_MALFORMED;
	for (size_t i = 0; i < sizeof raw; i++) {
		const char *h = memchr(hexd, nonce.p[2 * i], 16);
		const char *l = memchr(hexd, nonce.p[2 * i + 1], 16);
		if (!h || !l)
			return PBX_E_MALFORMED;
		raw[i] = (uint8_t)((h - hexd) << 4 | (l - hexd));
	}
	uint32_t expiry = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 |
			  (uint32_t)raw[2] << 8 | raw[3];
	nonce_mac(secret, client, expiry, mac);
	/* Constant time: the MAC is the secret part. */
	uint8_t diff = 0;
	for (size_t i = 0; i < 8; i++)
		diff |= (uint8_t)(mac[i] ^ raw[4 + i]);
	if (diff)
		return PBX_E_MALFORMED;
	if ((int64_t)expiry <= now || (int64_t)expiry > now + TURND_NONCE_S)
		return PBX_E_TOOLONG;
	return 0;
}
