/* internal.h - the ALIGNED PER reader and writer and the walkers shared by
 * the H.225.0 reader's files (not installed). */
#ifndef PBXEDGE_H225_INTERNAL_H
#define PBXEDGE_H225_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pbxedge/buf.h>
#include <pbxedge/err.h>
#include <pbxedge/h225.h>

/* ---- reading (per.c) ----
 *
 * A struct per reads one complete PER encoding (an H323-UserInformation,
 * the raw RAS octets, an open type) bit by bit over a pbx_reader, which
 * owns the octets: bits are taken from the octet last read, and
 * alignment drops what is left of it.  Every encoding starts on an octet
 * boundary, so alignment relative to the octet is alignment relative to
 * the encoding (X.691 10.1).  Errors are sticky like the reader's: once
 * one read failed, the others fail with the same code and yield zeros.
 * base is the offset of the encoding's first octet in the frame, for
 * error offsets; the first failure of any reader of a frame (an open
 * type's reader shares its parent's) is recorded in *where. */
struct per_where {
	bool set;
	size_t at;         /* where the first error of a frame happened */
};

struct per {
	struct pbx_reader r;
	struct per_where *where; /* shared by a frame's readers, or NULL */
	size_t base;
	uint8_t cur;       /* the octet being read */
	unsigned bits;     /* its bits not read yet (0-7) */
	unsigned depth;    /* nesting of GenericData within this frame */
	int err;
};

void per_init(struct per *d, const uint8_t *p, size_t len, size_t base);
/* The sticky error (PBX_E_MALFORMED, PBX_E_TOOLONG ...), or 0. */
int per_error(const struct per *d);
/* Record err (the first one wins); returns the sticky error. */
int per_fail(struct per *d, int err);
/* Offset in the frame of the octet being read, for error reports. */
size_t per_at(const struct per *d);
/* Bits left in the encoding. */
uint64_t per_bits_left(const struct per *d);

int per_bits(struct per *d, unsigned n, uint32_t *v);   /* n <= 32 */
int per_bool(struct per *d, bool *b);
int per_skip_bits(struct per *d, uint64_t n);
void per_align(struct per *d);
/* n octets, aligned first; *p points into the input. */
int per_octets(struct per *d, size_t n, const uint8_t **p);
int per_skip_octets(struct per *d, size_t n);
/* A constrained whole number of range r (2..2^32): a bit-field up to 255,
 * one or two aligned octets up to 65536, else a 2-bit octet count and the
 * octets (X.691 10.5.7). */
int per_constrained(struct per *d, uint64_t range, uint32_t *v);
/* An unconstrained length determinant (X.691 10.9.3.5-8), aligned; the
 * fragmented form is refused (PBX_E_TOOLONG). */
int per_length(struct per *d, size_t *n);
/* A normally small non-negative whole number (X.691 10.6). */
int per_small(struct per *d, uint32_t *v);
/* An open type: its length and a reader over exactly its octets. */
int per_open(struct per *d, struct per *sub);
int per_skip_open(struct per *d);
/* Extension additions of a SEQUENCE whose extension bit was set: the
 * presence bitmap, then the open types.  per_additions gives the bitmap's
 * first 64 bits in *present (bit i = addition i) and leaves the reader
 * before the first open type; per_skip_additions skips everything. */
int per_additions(struct per *d, uint64_t *present, size_t *n_more, size_t *nbits);
int per_skip_additions(struct per *d);
/* A CHOICE's index: root alternatives 0..nroot-1, extension alternatives
 * from nroot on (whose open type is left to the caller). */
int per_choice(struct per *d, uint32_t nroot, uint32_t *index, bool *ext);

/* ---- walking what lies in the way (walk.c) ---- */

int walk_oid(struct per *d);
int walk_nonstandard(struct per *d);
int walk_h221(struct per *d);
int walk_transport(struct per *d);
int walk_transports(struct per *d);          /* SEQUENCE OF */
int walk_endpoint_type(struct per *d);
int walk_vendor(struct per *d);
int walk_qseries(struct per *d);
int walk_alias(struct per *d);
int walk_aliases(struct per *d);             /* SEQUENCE OF */
int walk_generic_id(struct per *d, bool *standard, uint32_t *value);
int walk_content(struct per *d);
int walk_enum_param(struct per *d);
int walk_generic_data(struct per *d);
/* A CHOICE of NULL alternatives (nroot of them). */
int walk_null_choice(struct per *d, uint32_t nroot);

/* An AliasAddress, read: kind and where its characters are. */
enum alias_kind {
	ALIAS_OTHER,       /* dialledDigits, transportID, partyNumber ... */
	ALIAS_H323_ID,     /* BMPString: 2 octets a character */
	ALIAS_URL_ID,      /* IA5String: 1 octet a character */
	ALIAS_EMAIL_ID,
};

struct alias_ref {
	enum alias_kind kind;
	const uint8_t *chars;
	size_t n;          /* characters */
	size_t at;         /* offset of the characters in the frame */
};

int read_alias(struct per *d, struct alias_ref *a);

/* ---- text (names.c) ---- */

/* A bump allocator over the caller's text buffer. */
struct text {
	char *p;
	size_t cap;
	size_t len;
};

/* BMPString characters (n of them, 2n octets) as printable ASCII, 0x20 to
 * 0x7e: PBX_E_INVALID for anything else. */
int text_bmp_ascii(struct text *t, const uint8_t *c, size_t n, struct pbx_span *out);
/* BMPString characters as UTF-8: PBX_E_INVALID for control characters
 * (C0, DEL, C1), surrogates and the non-characters U+FFFE, U+FFFF. */
int text_bmp_utf8(struct text *t, const uint8_t *c, size_t n, struct pbx_span *out);
/* IA5String characters as they are: PBX_E_INVALID for control characters
 * and octets above 0x7e. */
int text_ia5(struct text *t, const uint8_t *c, size_t n, struct pbx_span *out);
/* Room for n more octets: a pointer to them, or NULL (PBX_E_NOSPACE). */
char *text_take(struct text *t, size_t n);

/* ---- RAS (ras.c) ---- */

/* Read one RasMessage: the whole raw octets of an H.460.17 parameter,
 * which start at offset base of the frame. */
int ras_read(const uint8_t *p, size_t len, size_t base, struct text *t, struct h225_ras *ras,
	     struct per_where *where);

/* Write a GatekeeperReject or RegistrationReject (a complete encoding)
 * into w; see h225_write_ras_reject. */
int ras_write_reject(struct pbx_writer *w, int request, uint16_t seq, int reason);

/* ---- H323-UserInformation (uu.c) ---- */

/* Read the H323-UserInformation (len octets at p, at offset base of the
 * frame) into m: body, destination, RAS messages. */
int uu_read(const uint8_t *p, size_t len, size_t base, struct text *t, struct h225_msg *m,
	    struct per_where *where);

/* ---- writing (per.c) ----
 *
 * A struct per_enc writes bits into a pbx_writer, most significant first;
 * per_enc_finish pads the last octet and writes one zero octet for an
 * empty encoding (X.691 10.1.3), as a complete encoding is never empty. */
struct per_enc {
	struct pbx_writer *w;
	uint8_t cur;
	unsigned bits;     /* bits of cur written (0-7) */
	size_t start;      /* where the encoding started in w */
};

void per_enc_init(struct per_enc *e, struct pbx_writer *w);
void per_put_bits(struct per_enc *e, unsigned n, uint32_t v);
void per_put_align(struct per_enc *e);
void per_put_octets(struct per_enc *e, const void *p, size_t n);
/* An unconstrained length determinant below 16384. */
void per_put_length(struct per_enc *e, size_t n);
/* A normally small non-negative whole number below 64. */
void per_put_small(struct per_enc *e, uint32_t v);
/* An open type holding the n octets of a complete encoding. */
void per_put_open(struct per_enc *e, const void *p, size_t n);
int per_enc_finish(struct per_enc *e);

/* protocolIdentifier 0.0.8.2250.0.7 (H.225.0 version 7), BER contents. */
extern const uint8_t h225_protocol_id[6];

/* Append to w a TPKT frame with a Q.931 FACILITY, global call reference,
 * whose User-user IE holds uu (an H323-UserInformation), or nothing. */
int q931_write_facility(struct pbx_writer *w, const uint8_t *uu, size_t uu_len);

/* Write the H323-UserInformation of an H.460.17 FACILITY carrying ras (n
 * octets) into w. */
int uu_write_h46017(struct pbx_writer *w, const uint8_t *ras, size_t n);

#endif
