/* hdr.c - STUN message types (RFC 8489 section 5), stream framing of STUN
 * and ChannelData (RFC 8489 6.2.2, RFC 8656 section 12), ChannelData
 * decoding and encoding (RFC 8656 12.4, 12.5). */
#include <pbxedge/stun.h>

#include "internal.h"

/* The method's 12 bits are split around the two class bits:
 * M11..M7 C1 M6..M4 C0 M3..M0. */
uint16_t stun_hdr_type(uint16_t method, enum stun_class cls)
{
	unsigned m = method & 0xfff, c = (unsigned)cls & 3;
	return (uint16_t)((m & 0x000f) | (m & 0x0070) << 1 | (m & 0x0f80) << 2 |
			  (c & 1) << 4 | (c & 2) << 7);
}

uint16_t stun_hdr_method(uint16_t type)
{
	return (uint16_t)((type & 0x000f) | (type & 0x00e0) >> 1 | (type & 0x3e00) >> 2);
}

enum stun_class stun_hdr_class(uint16_t type)
{
	return (enum stun_class)((type >> 4 & 1) | (type >> 7 & 2));
}

bool stun_hdr_channel_valid(uint16_t ch, unsigned flags)
{
	if (flags & STUN_CHAN_RFC5766)
		return ch >= 0x4000 && ch <= 0x7fff;
	return ch >= 0x4000 && ch <= 0x4fff;
}

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static struct stun_frame verdict(enum stun_frame_kind kind, enum stun_drop drop, size_t len)
{
	struct stun_frame f = { (uint8_t)kind, (uint8_t)drop, len };
	return f;
}

/* A STUN frame, r past its first 4 bytes: the length is known, but we
 * wait for the magic cookie too, since RFC 3489 clients never use TCP: a
 * frame without the cookie is not STUN at all, and the stream is lost. */
static struct stun_frame frame_stun(struct pbx_reader *r, size_t body, size_t max)
{
	uint32_t cookie;
	if (body & 3)
		return verdict(STUN_FRAME_GARBAGE, STUN_DROP_BAD_LENGTH, 0);
	size_t total = STUN_HDR_LEN + body;
	if (total > max)
		return verdict(STUN_FRAME_GARBAGE, STUN_DROP_TOO_LONG, 0);
	if (pbx_read_u32(r, &cookie))
		return verdict(STUN_FRAME_NEEDMORE, STUN_DROP_NONE, 8);
	if (cookie != STUN_COOKIE)
		return verdict(STUN_FRAME_GARBAGE, STUN_DROP_NO_COOKIE, 0);
	if (pbx_reader_left(r) < total - 8)
		return verdict(STUN_FRAME_NEEDMORE, STUN_DROP_NONE, total);
	return verdict(STUN_FRAME_STUN, STUN_DROP_NONE, total);
}

static struct stun_frame frame_of(const uint8_t *p, size_t len, size_t max, unsigned flags)
{
	struct pbx_reader r;
	uint8_t first;
	uint16_t type, body;

	pbx_reader_init(&r, p, len);
	if (pbx_read_u8(&r, &first))
		return verdict(STUN_FRAME_NEEDMORE, STUN_DROP_NONE, 4);
	/* STUN starts with 0-3, ChannelData with 0x40-0x7F (RFC 7983). */
	if (first > 3 && (first & 0xc0) != 0x40)
		return verdict(STUN_FRAME_GARBAGE, STUN_DROP_NOT_STUN, 0);
	pbx_reader_init(&r, p, len);
	pbx_read_u16(&r, &type);
	if (pbx_read_u16(&r, &body))
		return verdict(STUN_FRAME_NEEDMORE, STUN_DROP_NONE, 4);
	if (first <= 3)
		return frame_stun(&r, body, max);

	if (!stun_hdr_channel_valid(type, flags))
		return verdict(STUN_FRAME_GARBAGE, STUN_DROP_BAD_CHANNEL, 0);
	/* Over a stream ChannelData is padded to 4 (RFC 8656 12.5), so the
	 * next frame starts at the padded end. */
	size_t total = STUN_CHAN_HDR_LEN + pad4(body);
	if (total > max)
		return verdict(STUN_FRAME_GARBAGE, STUN_DROP_TOO_LONG, 0);
	if (len < total)
		return verdict(STUN_FRAME_NEEDMORE, STUN_DROP_NONE, total);
	return verdict(STUN_FRAME_CHANDATA, STUN_DROP_NONE, total);
}

void stun_hdr_frame(const void *p, size_t len, size_t max, unsigned flags,
		    struct stun_frame *out)
{
	*out = frame_of(p, len, max, flags);
}

static int chan_fail(struct stun_chandata *out, enum stun_drop drop, int rc)
{
	out->channel = 0;
	out->data = NULL;
	out->len = 0;
	out->drop = (uint8_t)drop;
	return rc;
}

int stun_hdr_chandata_decode(const void *p, size_t len, unsigned flags,
			     struct stun_chandata *out)
{
	struct pbx_reader r, data;
	uint16_t ch, n;

	pbx_reader_init(&r, p, len);
	pbx_read_u16(&r, &ch);
	if (pbx_read_u16(&r, &n))
		return chan_fail(out, STUN_DROP_TRUNCATED, PBX_E_TRUNCATED);
	if (!stun_hdr_channel_valid(ch, flags))
		return chan_fail(out, STUN_DROP_BAD_CHANNEL, PBX_E_MALFORMED);
	if (pbx_read_sub(&r, n, &data))
		return chan_fail(out, STUN_DROP_TRUNCATED, PBX_E_TRUNCATED);
	/* The padding is required on streams; over UDP it may or may not be
	 * there (RFC 8656 12.5), but nothing may follow it. */
	size_t left = pbx_reader_left(&r), padlen = pad4(n) - n;
	if (left > padlen)
		return chan_fail(out, STUN_DROP_TRAILING, PBX_E_TRAILING);
	if ((flags & STUN_CHAN_STREAM) && left < padlen)
		return chan_fail(out, STUN_DROP_TRUNCATED, PBX_E_TRUNCATED);
	struct pbx_span s = pbx_reader_rest(&data);
	out->channel = ch;
	out->data = (const uint8_t *)s.p;
	out->len = s.len;
	out->drop = STUN_DROP_NONE;
	return 0;
}

int stun_hdr_chandata_encode(struct pbx_writer *w, uint16_t channel, const void *data,
			     size_t len, unsigned flags)
{
	if (pbx_writer_error(w))
		return pbx_writer_error(w);
	if (!stun_hdr_channel_valid(channel, flags) || len > 0xffff)
		return PBX_E_INVALID;
	pbx_write_u16(w, channel);
	pbx_write_u16(w, (uint16_t)len);
	pbx_write_bytes(w, data, len);
	if (flags & STUN_CHAN_STREAM)
		pbx_write_zero(w, pad4(len) - len);
	return pbx_writer_error(w);
}
