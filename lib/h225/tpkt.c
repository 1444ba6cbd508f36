/* tpkt.c - TPKT framing of H.225.0 call signalling on TCP and TLS
 * (RFC 1006 section 6, as H.323 uses it for every H.225.0 message):
 * a 4-octet header with the length of the whole frame; a frame of just
 * the header is a keep-alive. */
#include "internal.h"

#define TPKT_VERSION 3

int h225_tpkt_frame(const uint8_t *p, size_t len, size_t *frame_len)
{
	struct pbx_reader r;
	uint8_t version, reserved;
	uint16_t n;

	*frame_len = 0;
	pbx_reader_init(&r, p, len);
	/* The version octet alone tells a stream that is not TPKT at all
	 * (an HTTP request sent to port 1720): no need to wait for more. */
	if (pbx_read_u8(&r, &version))
		return PBX_E_NEEDMORE;
	/* GnuGk takes 00 03 00 04 (from Tandberg endpoints) as a keep-alive
	 * too; it is not TPKT, and the PBX behind may not take it, so it is
	 * refused like any other stream that is not TPKT. */
	if (version != TPKT_VERSION)
		return PBX_E_MALFORMED;
	/* The reserved octet is not checked: some old gateways send other
	 * values than 0. */
	if (pbx_read_u8(&r, &reserved) || pbx_read_u16(&r, &n))
		return PBX_E_NEEDMORE;
	if (n < H225_TPKT_HDR)
		return PBX_E_MALFORMED;
	*frame_len = n;
	return 0;
}
