/* channel.c - the ChannelBind request (RFC 8656 section 11): a channel
 * number for a peer, which also installs or refreshes the permission. */
#include "turnd.h"

static const uint16_t understood[] = { STUN_A_CHANNEL_NUMBER, STUN_A_XOR_PEER_ADDRESS };

static void channel_bind(struct turnd_req *r)
{
	size_t ic, ip;
	uint16_t ch;
	struct pbx_addr peer;
	/* coturn's turnutils_uclient picks RFC 5766's wider range; accept it. */
	if (stun_msg_find(r->m, STUN_A_CHANNEL_NUMBER, 0, &ic) ||
	    stun_attr_channel(r->m, ic, &ch) || !stun_hdr_channel_valid(ch, STUN_CHAN_RFC5766) ||
	    stun_msg_find(r->m, STUN_A_XOR_PEER_ADDRESS, 0, &ip)) {
		request_error(r, STUN_ERR_BAD_REQUEST);
		return;
	}
	if (request_peer(r, ip, &peer))
		return;
	int rc = peers_bind(&r->alloc->peers, ch, &peer, r->now + TURND_CHANNEL_S, r->now);
	if (rc == 0)
		rc = peers_permit(&r->alloc->peers, &peer, r->now + TURND_PERMISSION_S, r->now);
	if (rc) {
		request_error(r, rc == PBX_E_EXISTS ? STUN_ERR_BAD_REQUEST
						    : STUN_ERR_INSUFFICIENT_CAPACITY);
		return;
	}
	struct stun_enc e;
	request_begin_success(r, &e);
	request_end(r, &e);
	r->tw->count[C_CHANNEL_BINDS]++;
}

const struct turnd_method method_channel_bind = {
	.method = STUN_CHANNEL_BIND,
	.auth = true,
	.needs_alloc = true,
	.understood = understood,
	.n_understood = sizeof understood / sizeof understood[0],
	.request = channel_bind,
};
