/* h225.c - the H.323 inspector: H.225.0 call signalling in TPKT frames
 * (RFC 1006), routed by the gatekeeper identifier of a GatekeeperRequest
 * or RegistrationRequest carried over H.460.17, or by the domain of a
 * Setup's destination alias (H.225.0 7.3.1); the service's
 * GatekeeperReject and RegistrationReject classified (H.225.0 7.6); and
 * H.323's own refusals: GRJ, RRJ (wrapped as H.460.17) and RELEASE
 * COMPLETE with cause 3, "no route to destination" (Q.850).
 *
 * Every frame is a head of its own, held whole: a message is routed or
 * passed only once all of it has been seen, so nothing that a frame
 * carries (a second, bundled RAS message, an alias) slips past.  What
 * each frame from the client gets:
 *
 *  frame                                          verdict
 *  keep-alive (TPKT length 4)                     PASS, no flags: rpd absorbs
 *                                                 it before the first message,
 *                                                 forwards it after
 *  GRQ or RRQ with a usable gatekeeper ID         ROUTE by its service name
 *                                                 (standby, h323-ID aliases)
 *  GRQ or RRQ without one (absent, not ASCII,     REFUSE no-name
 *  not of the identifier's syntax)
 *  lightweight RRQ (keepAlive) without an ID      PASS: it belongs to the
 *                                                 registration's connection
 *  other RAS messages (URQ, ARQ, IRR ...)         PASS
 *  Setup, first message or on a connection        ROUTE by the domain of its
 *  routed by a Setup, with a user@domain alias    first user@domain destination
 *  Setup on a connection routed by RAS            PASS: calls of a registered
 *                                                 endpoint go to its PBX
 *  Setup without such an alias, first message     REFUSE no-name
 *  Setup without one, later                       PASS
 *  any other Q.931 message                        PASS
 *  RAS outside a FACILITY                         REFUSE unsupported
 *  not TPKT, broken Q.931 or PER                  REFUSE malformed
 *  a frame over max_head                          REFUSE too-large (from its
 *                                                 header)
 *  past the reader's bounds (fragmented PER       REFUSE unsupported
 *  lengths, nesting, more than H225_RAS_MAX RAS),
 *  an h323-ID of a GRQ/RRQ that is no text
 *
 * Every PASS but the keep-alive carries PBX_VF_REQUEST, so that rpd
 * refuses it (no-name) as a first message; a ROUTE of a GRQ or RRQ with
 * tokens or cryptoTokens carries PBX_VF_CREDENTIALS too.  A frame carrying several RAS
 * messages routes when all of its GRQs and RRQs name the same service,
 * and is refused other-service otherwise.  rpd checks that every later
 * ROUTE resolves to the connection's service. */
#include <string.h>

#include <pbxedge/err.h>
#include <pbxedge/h225.h>

#include "internal.h"

/* What the connection was routed by, which decides later Setups. */
enum h323_mode {
	H323_FIRST,        /* nothing routed yet */
	H323_BY_RAS,       /* a GRQ or RRQ: a registration's connection */
	H323_BY_SETUP,     /* a Setup: a call's connection */
};

struct h323_state {
	size_t max_head;
	enum h323_mode mode;
	/* Identifiers and aliases, converted from BMPStrings: the verdict's
	 * spans point here, valid until the next call. */
	char text[H225_TEXT_MAX];
};

/* Refusals written at once: a few small frames. */
#define REFUSAL_MAX 512

static void refuse_at(struct pbx_verdict *v, enum pbx_reason reason, size_t at)
{
	memset(v, 0, sizeof *v);
	v->kind = PBX_V_REFUSE;
	v->reason = reason;
	v->offset = at;
}

static void frame_verdict(struct pbx_verdict *v, enum pbx_verdict_kind kind, size_t len,
			  unsigned flags)
{
	v->kind = kind;
	v->head_len = len;
	v->body = PBX_BODY_NONE;
	v->flags = flags;
}

static enum pbx_reason read_reason(int rc)
{
	switch (rc) {
	case PBX_E_MALFORMED:
		return PBX_R_MALFORMED;
	case PBX_E_NOSPACE:
		return PBX_R_TOO_LARGE;
	default:
		/* A bound of the reader, or an alias that is no text: valid
		 * H.225.0 perhaps, but not relayed. */
		return PBX_R_UNSUPPORTED;
	}
}

/* A lightweight re-registration without an identifier. */
static bool lightweight(const struct h225_ras *ras)
{
	return ras->type == H225_RAS_RRQ && ras->keep_alive && ras->gkid_state == H225_GKID_ABSENT;
}

/* The RAS messages of one frame: its GRQs and RRQs must agree on one
 * service; their h323-ID aliases are gathered for the certificate rule. */
static void ras_verdict(struct h323_state *st, const struct h225_msg *m, struct pbx_verdict *v)
{
	bool routing = false;
	unsigned flags = PBX_VF_REQUEST;

	if (m->q931.type != H225_Q931_FACILITY) {
		refuse_at(v, PBX_R_UNSUPPORTED, m->ras[0].at);
		return;
	}
	for (size_t i = 0; i < m->n_ras; i++) {
		const struct h225_ras *ras = &m->ras[i];
		if (ras->type != H225_RAS_GRQ && ras->type != H225_RAS_RRQ)
			continue;
		/* A lightweight re-registration may leave the identifier
		 * out: it keeps the registration this connection was routed
		 * for. */
		if (lightweight(ras))
			continue;
		if (ras->gkid_state != H225_GKID_OK) {
			refuse_at(v, PBX_R_NO_NAME, ras->at);
			return;
		}
		if (!routing) {
			v->name = ras->name;
			v->standby = ras->standby;
			routing = true;
		} else if (!pbx_span_eq(v->name, ras->name) ||
			   !pbx_span_eq(v->standby, ras->standby)) {
			refuse_at(v, PBX_R_OTHER_SERVICE, ras->at);
			return;
		}
		/* More aliases than a verdict holds are left out: with the
		 * certificate rule that only ever means the plain port. */
		for (size_t a = 0; a < ras->n_aliases && v->n_aliases < PBX_VERDICT_ALIASES; a++)
			v->aliases[v->n_aliases++] = ras->aliases[a];
		if (ras->tokens)
			flags |= PBX_VF_CREDENTIALS;
	}
	if (!routing) {
		memset(v, 0, sizeof *v);
		frame_verdict(v, PBX_V_PASS, m->frame_len, PBX_VF_REQUEST);
		return;
	}
	frame_verdict(v, PBX_V_ROUTE, m->frame_len, flags);
	if (st->mode == H323_FIRST)
		st->mode = H323_BY_RAS;
}

static void setup_verdict(struct h323_state *st, const struct h225_msg *m, struct pbx_verdict *v)
{
	if (st->mode == H323_BY_RAS) {
		frame_verdict(v, PBX_V_PASS, m->frame_len, PBX_VF_REQUEST);
		return;
	}
	if (m->body == H225_BODY_SETUP && m->dest_domain.len) {
		v->name = m->dest_domain;
		frame_verdict(v, PBX_V_ROUTE, m->frame_len, PBX_VF_REQUEST);
		st->mode = H323_BY_SETUP;
		return;
	}
	if (st->mode == H323_FIRST)
		refuse_at(v, PBX_R_NO_NAME,
			  m->q931.have_uu ? H225_TPKT_HDR + m->q931.uu_at : H225_TPKT_HDR);
	else
		frame_verdict(v, PBX_V_PASS, m->frame_len, PBX_VF_REQUEST);
}

static void h323_init(void *state, size_t max_head)
{
	struct h323_state *st = state;
	st->max_head = max_head;
	st->mode = H323_FIRST;
}

static void h323_request(void *state, const uint8_t *p, size_t len, struct pbx_verdict *v)
{
	struct h323_state *st = state;
	struct h225_msg m;
	size_t flen, at;

	memset(v, 0, sizeof *v);
	int rc = h225_tpkt_frame(p, len, &flen);
	if (rc == PBX_E_NEEDMORE) {
		/* max_head below a TPKT header: nothing could ever pass. */
		if (len >= st->max_head)
			refuse_at(v, PBX_R_TOO_LARGE, len);
		else
			v->kind = PBX_V_NEED_MORE;
		return;
	}
	if (rc) {
		refuse_at(v, PBX_R_MALFORMED, p[0] != 3 ? 0 : 2);
		return;
	}
	if (flen > st->max_head) {
		refuse_at(v, PBX_R_TOO_LARGE, 2);
		return;
	}
	if (len < flen) {
		v->kind = PBX_V_NEED_MORE;
		return;
	}
	rc = h225_msg_read(p, flen, &m, st->text, sizeof st->text, &at);
	if (rc) {
		refuse_at(v, read_reason(rc), at);
		return;
	}
	if (m.keep_alive) {
		frame_verdict(v, PBX_V_PASS, flen, 0);
		return;
	}
	if (m.n_ras) {
		ras_verdict(st, &m, v);
		return;
	}
	/* The body must be the message's: a Setup-UUIE in another Q.931
	 * message could be read as a call by the PBX and not by us. */
	if (m.body == H225_BODY_SETUP && m.q931.type != H225_Q931_SETUP) {
		refuse_at(v, PBX_R_MALFORMED, H225_TPKT_HDR + m.q931.uu_at);
		return;
	}
	if (m.q931.type == H225_Q931_SETUP) {
		setup_verdict(st, &m, v);
		return;
	}
	frame_verdict(v, PBX_V_PASS, flen, PBX_VF_REQUEST);
}

/* ---- replies ---- */

static void h323_reply(void *state, const uint8_t *p, size_t len, struct pbx_reply *r)
{
	struct h323_state *st = state;
	struct h225_msg m;
	size_t flen, at;
	/* Replies are only classified, never routed by their strings:
	 * a little room suffices, and a frame that needs more passes. */
	char text[256];

	memset(r, 0, sizeof *r);
	r->status = -1;
	int rc = h225_tpkt_frame(p, len, &flen);
	if (rc == PBX_E_NEEDMORE && len < st->max_head) {
		r->kind = PBX_V_NEED_MORE;
		return;
	}
	if (rc) {
		r->kind = PBX_V_REFUSE;
		r->reason = rc == PBX_E_NEEDMORE ? PBX_R_TOO_LARGE : PBX_R_MALFORMED;
		return;
	}
	r->kind = PBX_V_PASS;
	r->body = PBX_BODY_NONE;
	if (flen > st->max_head) {
		/* Larger than any reject: framed and passed, not read. */
		r->head_len = H225_TPKT_HDR;
		r->body = PBX_BODY_LENGTH;
		r->body_len = flen - H225_TPKT_HDR;
		return;
	}
	if (len < flen) {
		memset(r, 0, sizeof *r);
		r->status = -1;
		r->kind = PBX_V_NEED_MORE;
		return;
	}
	r->head_len = flen;
	/* The service's frames are relayed as they are; one this reader
	 * cannot follow is still framed, and just not classified. */
	if (h225_msg_read(p, flen, &m, text, sizeof text, &at))
		return;
	for (size_t i = 0; i < m.n_ras; i++) {
		const struct h225_ras *ras = &m.ras[i];
		switch (ras->type) {
		case H225_RAS_GRJ:
		case H225_RAS_RRJ:
			r->status = ras->reject_reason;
			/* securityDenial: how a PBX answers a wrong password. */
			if (ras->reject_reason == (ras->type == H225_RAS_GRJ ? H225_GRJ_SECURITY_DENIAL
									 : H225_RRJ_SECURITY_DENIAL))
				r->rejection = true;
			r->final = true;
			break;
		case H225_RAS_GCF:
		case H225_RAS_RCF:
			r->final = true;
			break;
		default:
			break;
		}
	}
}

/* ---- refusals ---- */

/* The reject reasons for a GRQ and an RRQ; false where nothing is sent: a
 * blacklisted client is dropped unanswered, after a failed TLS handshake
 * there is no channel, the service's own rejection has gone through, and
 * a closed or idle client hears nothing.  For what the configuration
 * decides (no such name, no target, not from there ...) undefinedReason
 * says nothing about it; a target that cannot be reached is
 * resourceUnavailable, which lets an endpoint try its alternate
 * gatekeeper; a certificate that did not verify is securityDenial, as the
 * PBX answers a failed authentication. */
static bool reject_reasons(enum pbx_reason reason, int *grj, int *rrj)
{
	switch (reason) {
	case PBX_R_MALFORMED:
	case PBX_R_TOO_LARGE:
	case PBX_R_AMBIGUOUS:
	case PBX_R_UNSUPPORTED:
	case PBX_R_NO_NAME:
	case PBX_R_UNKNOWN_NAME:
	case PBX_R_NO_TARGET:
	case PBX_R_SOURCE_DENIED:
	case PBX_R_URL_DENIED:
	case PBX_R_OTHER_SERVICE:
		*grj = H225_GRJ_UNDEFINED;
		*rrj = H225_RRJ_UNDEFINED;
		return true;
	case PBX_R_TIMEOUT:
	case PBX_R_TARGET_FAILED:
		*grj = H225_GRJ_RESOURCE_UNAVAILABLE;
		*rrj = H225_RRJ_RESOURCE_UNAVAILABLE;
		return true;
	case PBX_R_BAD_CERT:
		*grj = H225_GRJ_SECURITY_DENIAL;
		*rrj = H225_RRJ_SECURITY_DENIAL;
		return true;
	default:
		return false;
	}
}

/* The refusal of the first frame in p: a GatekeeperReject for each GRQ in
 * it and a RegistrationReject for each RRQ, echoing its requestSeqNum (a
 * lightweight RRQ that came first, without an identifier to route by,
 * hears fullRegistrationRequired: the endpoint then registers in full,
 * with its gatekeeper identifier), or
 * for a Setup a RELEASE COMPLETE echoing its call reference (which needs
 * only the frame's first octets: a Setup cut short by a timeout is
 * answered too).  Nothing for keep-alives, other messages, or what cannot
 * be read.  Built aside and written whole, or not at all. */
static void h323_refuse(void *state, const uint8_t *p, size_t len, enum pbx_reason reason,
			struct pbx_writer *w)
{
	struct h323_state *st = state;
	struct h225_msg m;
	uint8_t buf[REFUSAL_MAX];
	struct pbx_writer out;
	size_t flen, at;
	int grj, rrj;

	if (!reject_reasons(reason, &grj, &rrj) || h225_tpkt_frame(p, len, &flen) ||
	    flen == H225_TPKT_HDR)
		return;
	pbx_writer_init(&out, buf, sizeof buf);
	bool whole = len >= flen &&
		     h225_msg_read(p, flen, &m, st->text, sizeof st->text, &at) == 0;
	if (whole && m.n_ras && m.q931.type == H225_Q931_FACILITY) {
		for (size_t i = 0; i < m.n_ras; i++) {
			const struct h225_ras *ras = &m.ras[i];
			if (ras->type == H225_RAS_GRQ)
				h225_write_ras_reject(&out, H225_RAS_GRQ, ras->seq, grj);
			else if (ras->type == H225_RAS_RRQ)
				h225_write_ras_reject(&out, H225_RAS_RRQ, ras->seq,
						      lightweight(ras) && reason == PBX_R_NO_NAME
							      ? H225_RRJ_FULL_REGISTRATION_REQUIRED
							      : rrj);
		}
	} else {
		/* TPKT header, then discriminator, call reference length,
		 * call reference and message type. */
		struct pbx_reader r;
		uint8_t hdr[H225_TPKT_HDR], pd, crl, type;
		uint16_t cref;
		pbx_reader_init(&r, p, len);
		pbx_read_bytes(&r, hdr, sizeof hdr);
		pbx_read_u8(&r, &pd);
		pbx_read_u8(&r, &crl);
		pbx_read_u16(&r, &cref);
		pbx_read_u8(&r, &type);
		if (pbx_reader_error(&r) || flen < H225_TPKT_HDR + 5 || pd != 0x08 || crl != 2 ||
		    type != H225_Q931_SETUP)
			return;
		/* Sent towards the side that chose the call reference. */
		h225_write_release_complete(&out, cref & 0x7fff, true, H225_CAUSE_NO_ROUTE);
	}
	if (!pbx_writer_error(&out) && pbx_writer_len(&out))
		pbx_write_bytes(w, buf, pbx_writer_len(&out));
}

const struct pbx_inspector pbx_inspector_h323 = {
	.name = "h323",
	.family = STORE_FAMILY_H323,
	.state_size = sizeof(struct h323_state),
	/* Endpoints send RAS, calls and keep-alives without waiting. */
	.lockstep = false,
	.init = h323_init,
	.request = h323_request,
	.reply = h323_reply,
	.refuse = h323_refuse,
};
