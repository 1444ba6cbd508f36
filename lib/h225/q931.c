/* q931.c - the Q.931 message in a TPKT payload (Q.931 4.1 to 4.5 as
 * H.225.0 7.2 and 7.3 profile it): protocol discriminator, a two-octet call
 * reference, the message type and its information elements, with
 * H.225.0's two-octet length for the User-user IE; the Cause IE (Q.850)
 * read for what it says. */
#include <string.h>

#include "internal.h"

#define Q931_DISCRIMINATOR 0x08
#define Q931_CREF_LEN 2
#define IE_CAUSE 0x08
#define IE_USER_USER 0x7e
#define UU_X208 0x05          /* "X.208/X.209 coded user information" */
#define IE_SHIFT_MASK 0xf0
#define IE_SHIFT 0x90         /* 1001 Lccc: shift to codeset ccc */
#define IE_SHIFT_NONLOCKING 0x08
/* The frames written here are small. */
#define FRAME_MAX 256

static int broke(size_t where, size_t *at)
{
	*at = where;
	return PBX_E_MALFORMED;
}

/* Cause IE contents (Q.931 4.5.12): octet 3 (coding standard, location),
 * octet 3a when octet 3's extension bit is 0 (recommendation), then the
 * cause value.  Diagnostics after it are not needed. */
static void read_cause(struct pbx_reader *ie, struct h225_q931 *q)
{
	uint8_t o3, o3a, value;
	if (pbx_read_u8(ie, &o3))
		return;
	if (!(o3 & 0x80) && pbx_read_u8(ie, &o3a))
		return;
	if (pbx_read_u8(ie, &value))
		return;
	q->have_cause = true;
	q->cause = value & 0x7f;
}

int h225_q931_read(const uint8_t *p, size_t n, struct h225_q931 *q, size_t *at)
{
	struct pbx_reader r;
	uint8_t pd, crl, c0, c1, type;
	unsigned codeset = 0, locked = 0;
	bool seen_uu = false;

	memset(q, 0, sizeof *q);
	*at = 0;
	pbx_reader_init(&r, p, n);
	if (pbx_read_u8(&r, &pd) || pd != Q931_DISCRIMINATOR)
		return broke(0, at);
	/* H.225.0 always uses a two-octet call reference; another length
	 * is another protocol. */
	if (pbx_read_u8(&r, &crl) || crl != Q931_CREF_LEN)
		return broke(1, at);
	if (pbx_read_u8(&r, &c0) || pbx_read_u8(&r, &c1))
		return broke(2, at);
	q->cref_flag = c0 & 0x80;
	q->cref = (uint16_t)((c0 & 0x7f) << 8 | c1);
	if (pbx_read_u8(&r, &type) || (type & 0x80))
		return broke(4, at);
	q->type = type;

	while (pbx_reader_left(&r)) {
		size_t ie_at = pbx_reader_offset(&r);
		uint8_t id, l8;
		uint16_t len;
		pbx_read_u8(&r, &id);
		if (id & 0x80) {
			/* Single-octet IEs; a shift changes the codeset of the
			 * next IE (non-locking) or of all that follow. */
			if ((id & IE_SHIFT_MASK) == IE_SHIFT) {
				codeset = id & 7;
				if (!(id & IE_SHIFT_NONLOCKING))
					locked = codeset;
			}
			continue;
		}
		bool uu = id == IE_USER_USER && codeset == 0;
		if (uu) {
			if (pbx_read_u16(&r, &len))
				return broke(ie_at, at);
		} else {
			if (pbx_read_u8(&r, &l8))
				return broke(ie_at, at);
			len = l8;
		}
		struct pbx_reader ie;
		if (pbx_read_sub(&r, len, &ie))
			return broke(ie_at, at);
		if (codeset == 0 && id == IE_CAUSE && !q->have_cause) {
			read_cause(&ie, q);
		} else if (uu) {
			/* Two User-user IEs could be read one way here and the
			 * other way by the PBX. */
			if (seen_uu)
				return broke(ie_at, at);
			seen_uu = true;
			uint8_t upd;
			if (pbx_read_u8(&ie, &upd) == 0 && upd == UU_X208) {
				struct pbx_span rest = pbx_reader_rest(&ie);
				q->have_uu = true;
				q->uu = (const uint8_t *)rest.p;
				q->uu_len = rest.len;
				q->uu_at = ie_at + 4;
			}
		}
		codeset = locked;
	}
	return 0;
}

/* ---- writing ---- */

int h225_write_release_complete(struct pbx_writer *w, uint16_t cref, bool flag, uint8_t cause)
{
	uint8_t uu[16], frame[64];
	struct pbx_writer uw, fw;
	struct per_enc e;

	if (cref > 0x7fff || cause > 0x7f)
		return PBX_E_INVALID;
	/* H323-UserInformation: no additions, no user-data; H323-UU-PDU: no
	 * additions, no nonStandardData; body releaseComplete (root 5) with
	 * no additions and no reason (the Cause IE says it), then the
	 * protocolIdentifier. */
	pbx_writer_init(&uw, uu, sizeof uu);
	per_enc_init(&e, &uw);
	per_put_bits(&e, 5, 0);
	per_put_bits(&e, 3, H225_BODY_RELEASE_COMPLETE);
	per_put_bits(&e, 2, 0);
	per_put_length(&e, sizeof h225_protocol_id);
	per_put_octets(&e, h225_protocol_id, sizeof h225_protocol_id);
	if (per_enc_finish(&e))
		return pbx_writer_error(&uw);

	size_t uu_len = pbx_writer_len(&uw);
	pbx_writer_init(&fw, frame, sizeof frame);
	pbx_write_u8(&fw, 3);
	pbx_write_u8(&fw, 0);
	pbx_write_u16(&fw, (uint16_t)(H225_TPKT_HDR + 5 + 4 + 4 + uu_len));
	pbx_write_u8(&fw, Q931_DISCRIMINATOR);
	pbx_write_u8(&fw, Q931_CREF_LEN);
	pbx_write_u16(&fw, (uint16_t)(cref | (flag ? 0x8000 : 0)));
	pbx_write_u8(&fw, H225_Q931_RELEASE_COMPLETE);
	/* Cause: coding standard ITU-T, location user, then the value, each
	 * octet with its extension bit set. */
	pbx_write_u8(&fw, IE_CAUSE);
	pbx_write_u8(&fw, 2);
	pbx_write_u8(&fw, 0x80);
	pbx_write_u8(&fw, (uint8_t)(0x80 | cause));
	pbx_write_u8(&fw, IE_USER_USER);
	pbx_write_u16(&fw, (uint16_t)(1 + uu_len));
	pbx_write_u8(&fw, UU_X208);
	pbx_write_bytes(&fw, uu, uu_len);
	if (pbx_writer_error(&fw))
		return pbx_writer_error(&fw);
	return pbx_write_bytes(w, frame, pbx_writer_len(&fw));
}

int q931_write_facility(struct pbx_writer *w, const uint8_t *uu, size_t uu_len)
{
	size_t total = H225_TPKT_HDR + 5 + 3 + 1 + uu_len;
	uint8_t frame[FRAME_MAX];
	if (total > sizeof frame)
		return PBX_E_INVALID;
	struct pbx_writer fw;
	pbx_writer_init(&fw, frame, sizeof frame);
	pbx_write_u8(&fw, 3);
	pbx_write_u8(&fw, 0);
	pbx_write_u16(&fw, (uint16_t)total);
	pbx_write_u8(&fw, Q931_DISCRIMINATOR);
	pbx_write_u8(&fw, Q931_CREF_LEN);
	pbx_write_u16(&fw, 0);          /* the global call reference */
	pbx_write_u8(&fw, H225_Q931_FACILITY);
	pbx_write_u8(&fw, IE_USER_USER);
	pbx_write_u16(&fw, (uint16_t)(1 + uu_len));
	pbx_write_u8(&fw, UU_X208);
	pbx_write_bytes(&fw, uu, uu_len);
	if (pbx_writer_error(&fw))
		return pbx_writer_error(&fw);
	return pbx_write_bytes(w, frame, total);
}
