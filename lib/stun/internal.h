/* internal.h - helpers shared by the STUN codec's files (not installed). */
#ifndef PBXEDGE_STUN_INTERNAL_H
#define PBXEDGE_STUN_INTERNAL_H

#include <stdint.h>

#include <pbxedge/stun.h>

/* The value FINGERPRINT carries for the n bytes before it. */
#define STUN_FINGERPRINT_XOR 0x5354554eu

/* Encoder states: which integrity attributes have been written. */
enum {
	ENC_OPEN = 0,       /* any attribute may follow */
	ENC_AFTER_MI,       /* MESSAGE-INTEGRITY: only -SHA256 and FINGERPRINT */
	ENC_AFTER_MI256,    /* -SHA256: only FINGERPRINT */
	ENC_CLOSED,         /* FINGERPRINT: nothing */
};

/* Length bounds and layout of a known attribute type. */
struct stun_attr_rule {
	uint16_t type;
	uint8_t kind;       /* enum stun_attr_kind */
	uint16_t min, max;  /* value length bounds */
};

/* The rule for a type, or NULL for a type this codec does not know. */
const struct stun_attr_rule *stun_attr_rule(uint16_t type);

/* Begin an attribute of n value bytes: checks the order rules and the
 * message size, writes the attribute header.  Returns e->err. */
int stun_enc_begin(struct stun_enc *e, uint16_t type, size_t n);

/* End the attribute whose value was just written (n bytes): pads it and
 * updates the message length.  Returns e->err. */
int stun_enc_end(struct stun_enc *e, size_t n);

/* Record err as e's sticky error (the first one wins); returns e->err. */
int stun_enc_fail(struct stun_enc *e, int err);

/* Check the FINGERPRINT value v against the n message bytes before the
 * attribute (used by stun_msg_decode). */
bool stun_fingerprint_ok(const uint8_t *p, size_t n, uint32_t v);

#endif
