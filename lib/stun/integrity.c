/* integrity.c - STUN credentials and message integrity: short- and
 * long-term keys (RFC 8489 9.1.1, 9.2.2, 18.5), USERHASH (14.4), nonce
 * cookies (9.2), MESSAGE-INTEGRITY (14.5), MESSAGE-INTEGRITY-SHA256 (14.6)
 * and FINGERPRINT (14.7, with our own table-driven CRC-32). */
#include <errno.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <pbxedge/stun.h>

#include "internal.h"

/* Longest "user:realm:password" hashed into a long-term key. */
#define CREDS_MAX 2048

/* ---- CRC-32 (reflected, polynomial 0xEDB88320, as IEEE 802.3 and zlib) ---- */

static const uint32_t crc_table[256] = {
	0x00000000, 0x77073096, 0xee0e612c, 0x990951ba, 0x076dc419, 0x706af48f,
	0xe963a535, 0x9e6495a3, 0x0edb8832, 0x79dcb8a4, 0xe0d5e91e, 0x97d2d988,
	0x09b64c2b, 0x7eb17cbd, 0xe7b82d07, 0x90bf1d91, 0x1db71064, 0x6ab020f2,
	0xf3b97148, 0x84be41de, 0x1adad47d, 0x6ddde4eb, 0xf4d4b551, 0x83d385c7,
	0x136c9856, 0x646ba8c0, 0xfd62f97a, 0x8a65c9ec, 0x14015c4f, 0x63066cd9,
	0xfa0f3d63, 0x8d080df5, 0x3b6e20c8, 0x4c69105e, 0xd56041e4, 0xa2677172,
	0x3c03e4d1, 0x4b04d447, 0xd20d85fd, 0xa50ab56b, 0x35b5a8fa, 0x42b2986c,
	0xdbbbc9d6, 0xacbcf940, 0x32d86ce3, 0x45df5c75, 0xdcd60dcf, 0xabd13d59,
	0x26d930ac, 0x51de003a, 0xc8d75180, 0xbfd06116, 0x21b4f4b5, 0x56b3c423,
	0xcfba9599, 0xb8bda50f, 0x2802b89e, 0x5f058808, 0xc60cd9b2, 0xb10be924,
	0x2f6f7c87, 0x58684c11, 0xc1611dab, 0xb6662d3d, 0x76dc4190, 0x01db7106,
	0x98d220bc, 0xefd5102a, 0x71b18589, 0x06b6b51f, 0x9fbfe4a5, 0xe8b8d433,
	0x7807c9a2, 0x0f00f934, 0x9609a88e, 0xe10e9818, 0x7f6a0dbb, 0x086d3d2d,
	0x91646c97, 0xe6635c01, 0x6b6b51f4, 0x1c6c6162, 0x856530d8, 0xf262004e,
	0x6c0695ed, 0x1b01a57b, 0x8208f4c1, 0xf50fc457, 0x65b0d9c6, 0x12b7e950,
	0x8bbeb8ea, 0xfcb9887c, 0x62dd1ddf, 0x15da2d49, 0x8cd37cf3, 0xfbd44c65,
	0x4db26158, 0x3ab551ce, 0xa3bc0074, 0xd4bb30e2, 0x4adfa541, 0x3dd895d7,
	0xa4d1c46d, 0xd3d6f4fb, 0x4369e96a, 0x346ed9fc, 0xad678846, 0xda60b8d0,
	0x44042d73, 0x33031de5, 0xaa0a4c5f, 0xdd0d7cc9, 0x5005713c, 0x270241aa,
	0xbe0b1010, 0xc90c2086, 0x5768b525, 0x206f85b3, 0xb966d409, 0xce61e49f,
	0x5edef90e, 0x29d9c998, 0xb0d09822, 0xc7d7a8b4, 0x59b33d17, 0x2eb40d81,
	0xb7bd5c3b, 0xc0ba6cad, 0xedb88320, 0x9abfb3b6, 0x03b6e20c, 0x74b1d29a,
	0xead54739, 0x9dd277af, 0x04db2615, 0x73dc1683, 0xe3630b12, 0x94643b84,
	0x0d6d6a3e, 0x7a6a5aa8, 0xe40ecf0b, 0x9309ff9d, 0x0a00ae27, 0x7d079eb1,
	0xf00f9344, 0x8708a3d2, 0x1e01f268, 0x6906c2fe, 0xf762575d, 0x806567cb,
	0x196c3671, 0x6e6b06e7, 0xfed41b76, 0x89d32be0, 0x10da7a5a, 0x67dd4acc,
	0xf9b9df6f, 0x8ebeeff9, 0x17b7be43, 0x60b08ed5, 0xd6d6a3e8, 0xa1d1937e,
	0x38d8c2c4, 0x4fdff252, 0xd1bb67f1, 0xa6bc5767, 0x3fb506dd, 0x48b2364b,
	0xd80d2bda, 0xaf0a1b4c, 0x36034af6, 0x41047a60, 0xdf60efc3, 0xa867df55,
	0x316e8eef, 0x4669be79, 0xcb61b38c, 0xbc66831a, 0x256fd2a0, 0x5268e236,
	0xcc0c7795, 0xbb0b4703, 0x220216b9, 0x5505262f, 0xc5ba3bbe, 0xb2bd0b28,
	0x2bb45a92, 0x5cb36a04, 0xc2d7ffa7, 0xb5d0cf31, 0x2cd99e8b, 0x5bdeae1d,
	0x9b64c2b0, 0xec63f226, 0x756aa39c, 0x026d930a, 0x9c0906a9, 0xeb0e363f,
	0x72076785, 0x05005713, 0x95bf4a82, 0xe2b87a14, 0x7bb12bae, 0x0cb61b38,
	0x92d28e9b, 0xe5d5be0d, 0x7cdcefb7, 0x0bdbdf21, 0x86d3d2d4, 0xf1d4e242,
	0x68ddb3f8, 0x1fda836e, 0x81be16cd, 0xf6b9265b, 0x6fb077e1, 0x18b74777,
	0x88085ae6, 0xff0f6a70, 0x66063bca, 0x11010b5c, 0x8f659eff, 0xf862ae69,
	0x616bffd3, 0x166ccf45, 0xa00ae278, 0xd70dd2ee, 0x4e048354, 0x3903b3c2,
	0xa7672661, 0xd06016f7, 0x4969474d, 0x3e6e77db, 0xaed16a4a, 0xd9d65adc,
	0x40df0b66, 0x37d83bf0, 0xa9bcae53, 0xdebb9ec5, 0x47b2cf7f, 0x30b5ffe9,
	0xbdbdf21c, 0xcabac28a, 0x53b39330, 0x24b4a3a6, 0xbad03605, 0xcdd70693,
	0x54de5729, 0x23d967bf, 0xb3667a2e, 0xc4614ab8, 0x5d681b02, 0x2a6f2b94,
	0xb40bbe37, 0xc30c8ea1, 0x5a05df1b, 0x2d02ef8d,
};

uint32_t stun_integrity_crc32(uint32_t crc, const void *p, size_t n)
{
	const uint8_t *b = p;
	crc = ~crc;
	for (size_t k = 0; k < n; k++)
		crc = crc_table[(crc ^ b[k]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

bool stun_fingerprint_ok(const uint8_t *p, size_t n, uint32_t v)
{
	return (stun_integrity_crc32(0, p, n) ^ STUN_FINGERPRINT_XOR) == v;
}

/* ---- keys ---- */

int stun_integrity_key_set(struct stun_key *key, const void *p, size_t n)
{
	memset(key, 0, sizeof *key);
	if (n > sizeof key->k)
		return PBX_E_TOOLONG;
	if (n)
		memcpy(key->k, p, n);
	key->len = n;
	return 0;
}

int stun_integrity_key_short(struct stun_key *key, struct pbx_span password)
{
	return stun_integrity_key_set(key, password.p, password.len);
}

bool stun_integrity_prep_ok(struct pbx_span s)
{
	if (s.len == 0)
		return false;
	for (size_t k = 0; k < s.len; k++)
		if ((unsigned char)s.p[k] < 0x20 || (unsigned char)s.p[k] > 0x7e)
			return false;
	return true;
}

/* Texts joined by ':' into buf, bounded.  Returns the length, or 0 if
 * they do not fit. */
static size_t join(uint8_t *buf, size_t cap, const struct pbx_span *parts, size_t n)
{
	struct pbx_writer w;
	pbx_writer_init(&w, buf, cap);
	for (size_t k = 0; k < n; k++) {
		if (k)
			pbx_write_u8(&w, ':');
		pbx_write_bytes(&w, parts[k].p, parts[k].len);
	}
	return pbx_writer_error(&w) ? 0 : pbx_writer_len(&w);
}

int stun_integrity_key_long(struct stun_key *key, uint16_t alg, struct pbx_span user,
			    struct pbx_span realm, struct pbx_span password)
{
	uint8_t buf[CREDS_MAX];
	const struct pbx_span parts[] = { user, realm, password };
	gnutls_digest_algorithm_t hash;

	memset(key, 0, sizeof *key);
	if (alg == STUN_PWALG_MD5) {
		hash = GNUTLS_DIG_MD5;
		key->len = 16;
	} else if (alg == STUN_PWALG_SHA256) {
		hash = GNUTLS_DIG_SHA256;
		key->len = 32;
	} else {
		return PBX_E_INVALID;
	}
	size_t n = join(buf, sizeof buf, parts, 3);
	if (n == 0)
		return PBX_E_TOOLONG;
	int rc = gnutls_hash_fast(hash, buf, n, key->k);
	memset(buf, 0, sizeof buf);
	if (rc < 0) {
		memset(key, 0, sizeof *key);
		return -EIO;
	}
	return 0;
}

int stun_integrity_userhash(struct pbx_span user, struct pbx_span realm, uint8_t out[32])
{
	uint8_t buf[CREDS_MAX];
	const struct pbx_span parts[] = { user, realm };
	size_t n = join(buf, sizeof buf, parts, 2);
	memset(out, 0, 32);
	if (n == 0)
		return PBX_E_TOOLONG;
	return gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, n, out) < 0 ? -EIO : 0;
}

/* ---- nonce cookie ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void stun_integrity_nonce_cookie(uint32_t features, char out[STUN_NONCE_COOKIE_LEN + 1])
{
	size_t n = sizeof STUN_NONCE_COOKIE - 1;
	memcpy(out, STUN_NONCE_COOKIE, n);
	for (int k = 0; k < 4; k++)
		out[n + (size_t)k] = b64[features >> (18 - 6 * k) & 0x3f];
	out[STUN_NONCE_COOKIE_LEN] = '\0';
}

int stun_integrity_nonce_features(struct pbx_span nonce, uint32_t *features)
{
	struct pbx_span cookie = pbx_span_cstr(STUN_NONCE_COOKIE);
	*features = 0;
	if (!pbx_span_starts(nonce, cookie))
		return PBX_E_NOTFOUND;
	if (nonce.len < STUN_NONCE_COOKIE_LEN)
		return PBX_E_MALFORMED;
	uint32_t v = 0;
	for (size_t k = cookie.len; k < STUN_NONCE_COOKIE_LEN; k++) {
		const char *at = memchr(b64, nonce.p[k], sizeof b64 - 1);
		if (!at || nonce.p[k] == '\0')
			return PBX_E_MALFORMED;
		v = v << 6 | (uint32_t)(at - b64);
	}
	*features = v;
	return 0;
}

/* ---- writing ---- */

/* Patch the header length to end where an attribute of n value bytes
 * begun at offset at ends, as the integrity attributes require. */
static int cover(struct stun_enc *e, size_t at, size_t n)
{
	size_t body = at + STUN_ATTR_SPACE(n) - STUN_HDR_LEN;
	return stun_enc_fail(e, pbx_writer_patch_u16(&e->w, 2, (uint16_t)body));
}

static int put_hmac(struct stun_enc *e, uint16_t type, gnutls_mac_algorithm_t mac,
		    const struct stun_key *key, size_t n)
{
	uint8_t digest[32];
	size_t at = pbx_writer_len(&e->w);
	if (stun_enc_begin(e, type, n) || cover(e, at, n))
		return e->err;
	if (gnutls_hmac_fast(mac, key->k, key->len, pbx_writer_data(&e->w), at, digest) < 0)
		return stun_enc_fail(e, -EIO);
	pbx_write_bytes(&e->w, digest, n);
	return stun_enc_end(e, n);
}

int stun_integrity_put(struct stun_enc *e, const struct stun_key *key)
{
	return put_hmac(e, STUN_A_MESSAGE_INTEGRITY, GNUTLS_MAC_SHA1, key, 20);
}

int stun_integrity_put_sha256(struct stun_enc *e, const struct stun_key *key, size_t len)
{
	if (len < STUN_SHA256_MIN || len > STUN_SHA256_FULL || (len & 3))
		return stun_enc_fail(e, PBX_E_INVALID);
	return put_hmac(e, STUN_A_MESSAGE_INTEGRITY_SHA256, GNUTLS_MAC_SHA256, key, len);
}

int stun_integrity_put_fingerprint(struct stun_enc *e)
{
	size_t at = pbx_writer_len(&e->w);
	if (stun_enc_begin(e, STUN_A_FINGERPRINT, 4) || cover(e, at, 4))
		return e->err;
	uint32_t crc = stun_integrity_crc32(0, pbx_writer_data(&e->w), at);
	pbx_write_u32(&e->w, crc ^ STUN_FINGERPRINT_XOR);
	return stun_enc_end(e, 4);
}

/* ---- checking ---- */

/* Equality in time that does not depend on where the first difference
 * is. */
static bool same(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint8_t d = 0;
	for (size_t k = 0; k < n; k++)
		d |= a[k] ^ b[k];
	return d == 0;
}

int stun_integrity_check_attr(const struct stun_msg *m, size_t i, const struct stun_key *key,
			      bool *ok)
{
	gnutls_mac_algorithm_t mac;
	gnutls_hmac_hd_t h;
	uint8_t digest[32], len[2];
	struct pbx_span value;

	*ok = false;
	if (i >= m->n_attrs)
		return PBX_E_INVALID;
	const struct stun_attr_ref *a = &m->attrs[i];
	if (a->type == STUN_A_MESSAGE_INTEGRITY)
		mac = GNUTLS_MAC_SHA1;
	else if (a->type == STUN_A_MESSAGE_INTEGRITY_SHA256)
		mac = GNUTLS_MAC_SHA256;
	else
		return PBX_E_INVALID;
	stun_attr_raw(m, i, &value);

	/* The sender hashed the header with the length ending at this
	 * attribute; the bytes are the caller's, so the patched length goes
	 * in as a piece of its own. */
	size_t at = a->off - 4, body = a->off + STUN_ATTR_SPACE(a->len) - 4 - STUN_HDR_LEN;
	len[0] = (uint8_t)(body >> 8);
	len[1] = (uint8_t)body;
	if (gnutls_hmac_init(&h, mac, key->k, key->len) < 0)
		return -EIO;
	int rc = gnutls_hmac(h, m->p, 2);
	if (rc >= 0)
		rc = gnutls_hmac(h, len, 2);
	if (rc >= 0)
		rc = gnutls_hmac(h, m->p + 4, at - 4);
	gnutls_hmac_deinit(h, digest);
	if (rc < 0)
		return -EIO;
	*ok = same(digest, (const uint8_t *)value.p, value.len);
	return 0;
}

int stun_integrity_check(const struct stun_msg *m, const struct stun_key *key,
			 size_t min_sha256, enum stun_integrity *result)
{
	bool ok;
	int rc;

	*result = STUN_INTEGRITY_ABSENT;
	if (m->integrity256 >= 0) {
		size_t i = (size_t)m->integrity256;
		if (min_sha256 > STUN_SHA256_FULL)
			min_sha256 = STUN_SHA256_FULL;
		if (m->attrs[i].len < min_sha256) {
			*result = STUN_INTEGRITY_TOO_SHORT;
			return 0;
		}
		rc = stun_integrity_check_attr(m, i, key, &ok);
		if (rc)
			return rc;
		*result = ok ? STUN_INTEGRITY_OK_SHA256 : STUN_INTEGRITY_BAD;
	} else if (m->integrity >= 0) {
		rc = stun_integrity_check_attr(m, (size_t)m->integrity, key, &ok);
		if (rc)
			return rc;
		*result = ok ? STUN_INTEGRITY_OK_SHA1 : STUN_INTEGRITY_BAD;
	}
	return 0;
}
