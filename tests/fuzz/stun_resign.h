/* stun_resign.h - for fuzz targets of STUN clients: rebuild a message
 * that decodes with the same attributes and a MESSAGE-INTEGRITY made with
 * the client's own key, so that fuzzed answers get past the integrity
 * check and reach the code behind it. */
#ifndef PBXEDGE_FUZZ_STUN_RESIGN_H
#define PBXEDGE_FUZZ_STUN_RESIGN_H

#include <stdint.h>
#include <stdlib.h>

#include <pbxedge/stun.h>

/* stun_resign - the re-signed copy of p (len bytes) in out (cap bytes);
 * returns its length, or 0 when p does not decode as an RFC 5389
 * message or the copy does not fit. */
static inline size_t stun_resign(const struct stun_key *key, const uint8_t *p, size_t len,
				 uint8_t *out, size_t cap)
{
	struct stun_msg m;
	struct stun_enc e;
	size_t n;
	if (stun_msg_decode(&m, p, len) || m.kind != STUN_KIND_RFC5389)
		return 0;
	stun_msg_init(&e, out, cap, m.type, m.tid, STUN_KIND_RFC5389);
	for (size_t i = 0; i < m.n_attrs; i++) {
		uint16_t t = m.attrs[i].type;
		if (t == STUN_A_MESSAGE_INTEGRITY || t == STUN_A_MESSAGE_INTEGRITY_SHA256 ||
		    t == STUN_A_FINGERPRINT)
			continue;
		struct pbx_span v;
		/* Indexed attributes always read back. */
		if (stun_attr_raw(&m, i, &v) != 0)
			abort();
		stun_attr_put_raw(&e, t, v.p, v.len);
	}
	stun_integrity_put(&e, key);
	if (stun_msg_finish(&e, &n))
		return 0;
	return n;
}

#endif
