/* data.c - the TURN client's data path and framing: bytes from the server
 * (datagrams, or a TCP/TLS stream cut into STUN messages and padded
 * ChannelData, RFC 8656 11.5 and 12.5), Data indications and ChannelData
 * in (RFC 8656 11.6, 12.6), Send indications and ChannelData out (11.3,
 * 12.5).  Nothing is allocated: data in points into the caller's bytes or
 * the client's one stream buffer, data out is written into the caller's
 * buffer. */
#include <string.h>

#include "internal.h"

static void drop(struct turn_client *c, struct turn_input *in, enum turn_drop why)
{
	if (why == TURN_DROP_NONE)
		return;
	c->stats.dropped[why]++;
	in->drop = (uint8_t)why;
	in->data = false;
	in->icmp = false;
	in->p = NULL;
	in->len = 0;
}

/* One whole frame: a STUN message or ChannelData. */
static void frame_in(struct turn_client *c, const uint8_t *p, size_t len, int64_t now,
		     struct turn_input *in)
{
	unsigned flags = c->cfg.transport == TURN_UDP ? 0 : STUN_CHAN_STREAM;
	if (len && (p[0] & 0xc0) == 0x40) {
		struct stun_chandata cd;
		if (stun_hdr_chandata_decode(p, len, flags, &cd)) {
			drop(c, in, TURN_DROP_MALFORMED);
			return;
		}
		if (c->state != TURN_S_ALLOCATED && c->state != TURN_S_RELEASING) {
			drop(c, in, TURN_DROP_STATE);
			return;
		}
		const struct turn_chan *h = turn_chan_by_number(c, cd.channel);
		if (!h) {
			drop(c, in, TURN_DROP_CHANNEL);
			return;
		}
		in->data = true;
		in->peer = h->peer;
		in->channel = cd.channel;
		in->p = cd.data;
		in->len = cd.len;
		c->stats.data_in_channel++;
		return;
	}
	struct stun_msg m;
	if (stun_msg_decode(&m, p, len)) {
		drop(c, in, TURN_DROP_MALFORMED);
		return;
	}
	drop(c, in, turn_on_stun(c, &m, now, in));
}

/* The stream's framing is lost: nothing after can be trusted. */
static int broken(struct turn_client *c, int64_t now, struct turn_input *in)
{
	c->broken = true;
	c->shave = 0;
	drop(c, in, TURN_DROP_MALFORMED);
	turn_lost(c, TURN_R_STREAM, now);
	return PBX_E_MALFORMED;
}

/* Over a stream: frame from the buffer (or straight from p when nothing is
 * buffered and p holds a whole frame), at most one frame per call. */
static int stream_in(struct turn_client *c, const uint8_t *p, size_t len, int64_t now,
		     struct turn_input *in)
{
	struct stun_frame f;
	if (c->sskip) {
		/* The rest of a frame too long to keep. */
		size_t k = len < c->sskip ? len : c->sskip;
		c->sskip -= k;
		in->used = k;
		return 0;
	}
	if (c->shave == 0) {
		stun_hdr_frame(p, len, SIZE_MAX, 0, &f);
		if ((f.kind == STUN_FRAME_STUN || f.kind == STUN_FRAME_CHANDATA) &&
		    f.len <= sizeof c->sbuf) {
			in->used = f.len;
			frame_in(c, p, f.len, now, in);
			return 0;
		}
	}
	for (;;) {
		stun_hdr_frame(c->sbuf, c->shave, SIZE_MAX, 0, &f);
		if (f.kind == STUN_FRAME_GARBAGE)
			return broken(c, now, in);
		if (f.kind != STUN_FRAME_NEEDMORE) {
			size_t n = c->shave;
			c->shave = 0;
			frame_in(c, c->sbuf, n, now, in);
			return 0;
		}
		if (f.len > sizeof c->sbuf) {
			/* Skip it whole and stay in step. */
			c->sskip = f.len - c->shave;
			c->shave = 0;
			drop(c, in, TURN_DROP_TOO_LONG);
			size_t k = len - in->used < c->sskip ? len - in->used : c->sskip;
			c->sskip -= k;
			in->used += k;
			return 0;
		}
		size_t want = f.len - c->shave, left = len - in->used;
		size_t k = want < left ? want : left;
		if (k == 0)
			return 0;
		memcpy(c->sbuf + c->shave, p + in->used, k);
		c->shave += k;
		in->used += k;
	}
}

int turn_client_input(struct turn_client *c, const void *p, size_t len, int64_t now,
		      struct turn_input *in)
{
	memset(in, 0, sizeof *in);
	if (c->broken) {
		in->used = len;
		return PBX_E_MALFORMED;
	}
	if (c->cfg.transport == TURN_UDP) {
		in->used = len;
		frame_in(c, p, len, now, in);
		return 0;
	}
	return stream_in(c, p, len, now, in);
}

/* The next Send indication's transaction ID: a counter from a random
 * start (no answer comes, so none is matched; RFC 8656 11.3). */
static void next_tid(struct turn_client *c, uint8_t tid[STUN_TID_LEN])
{
	for (size_t i = STUN_TID_LEN; i-- > 0;)
		if (++c->ind_tid[i])
			break;
	memcpy(tid, c->ind_tid, STUN_TID_LEN);
}

int turn_client_send(struct turn_client *c, const struct pbx_addr *peer, const void *data,
		     size_t n, void *buf, size_t cap, size_t *len)
{
	*len = 0;
	if (c->state != TURN_S_ALLOCATED)
		return PBX_E_INVALID;
	int fam = peer ? pbx_addr_family(peer) : 0;
	if (fam != AF_INET && fam != AF_INET6)
		return PBX_E_INVALID;
	if (n > 0xffff)
		return PBX_E_TOOLONG;
	const struct turn_chan *h = turn_chan_by_peer(c, peer);
	if (h && h->state == TURN_P_OK) {
		struct pbx_writer w;
		pbx_writer_init(&w, buf, cap);
		int rc = stun_hdr_chandata_encode(
			&w, h->number, data, n, c->cfg.transport == TURN_UDP ? 0 : STUN_CHAN_STREAM);
		if (rc)
			return rc;
		*len = pbx_writer_len(&w);
		c->stats.data_out_channel++;
		return 0;
	}
	struct stun_enc e;
	uint8_t tid[STUN_TID_LEN];
	next_tid(c, tid);
	stun_msg_init(&e, buf, cap, stun_hdr_type(STUN_SEND, STUN_INDICATION), tid,
		      STUN_KIND_RFC5389);
	stun_attr_put_addr(&e, STUN_A_XOR_PEER_ADDRESS, peer);
	stun_attr_put_raw(&e, STUN_A_DATA, data, n);
	int rc = stun_msg_finish(&e, len);
	if (rc)
		return rc == PBX_E_TOOLONG ? PBX_E_TOOLONG : rc;
	c->stats.data_out_send++;
	return 0;
}
