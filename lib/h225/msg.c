/* msg.c - one H.225.0 frame read whole: TPKT (RFC 1006), the Q.931
 * message (H.225.0 7.2), its H323-UserInformation and the RAS messages
 * H.460.17 carries in it; and rpd's GatekeeperReject and
 * RegistrationReject frames (H.225.0 7.6, H.460.17). */
#include <string.h>

#include "internal.h"

int h225_msg_read(const uint8_t *p, size_t len, struct h225_msg *m, char *text, size_t cap,
		  size_t *at)
{
	size_t flen, qat;
	int rc;

	memset(m, 0, sizeof *m);
	m->body = H225_BODY_NONE;
	*at = 0;
	rc = h225_tpkt_frame(p, len, &flen);
	if (rc || flen != len) {
		*at = len && p[0] != 3 ? 0 : 2;
		return PBX_E_MALFORMED;
	}
	m->frame_len = flen;
	if (flen == H225_TPKT_HDR) {
		m->keep_alive = true;
		return 0;
	}
	rc = h225_q931_read(p + H225_TPKT_HDR, flen - H225_TPKT_HDR, &m->q931, &qat);
	if (rc) {
		*at = H225_TPKT_HDR + qat;
		return rc;
	}
	if (!m->q931.have_uu)
		return 0;
	struct text t = { text, text ? cap : 0, 0 };
	struct per_where where = { false, 0 };
	size_t base = H225_TPKT_HDR + m->q931.uu_at;
	rc = uu_read(m->q931.uu, m->q931.uu_len, base, &t, m, &where);
	if (rc)
		*at = where.set ? where.at : base;
	return rc;
}

int h225_write_ras_reject(struct pbx_writer *w, int request, uint16_t seq, int reason)
{
	uint8_t ras[32], uu[128];
	struct pbx_writer rw, uw;
	int rc;

	pbx_writer_init(&rw, ras, sizeof ras);
	if ((rc = ras_write_reject(&rw, request, seq, reason)))
		return rc;
	pbx_writer_init(&uw, uu, sizeof uu);
	if ((rc = uu_write_h46017(&uw, ras, pbx_writer_len(&rw))))
		return rc;
	return q931_write_facility(w, uu, pbx_writer_len(&uw));
}
