/* send.c - the Send indication (RFC 8656 section 12.1 ... 10.2): data to a
 * peer that holds a permission; anything else is dropped silently, as
 * indications get no answer. */
#include "turnd.h"

static const uint16_t understood[] = {
	STUN_A_XOR_PEER_ADDRESS, STUN_A_DATA, STUN_A_DONT_FRAGMENT,
};

static void send_indication(struct turnd_req *r)
{
	size_t ip, id;
	struct pbx_addr peer;
	struct pbx_span data;
	if (stun_msg_find(r->m, STUN_A_XOR_PEER_ADDRESS, 0, &ip) ||
	    stun_attr_addr(r->m, ip, &peer) || stun_msg_find(r->m, STUN_A_DATA, 0, &id) ||
	    stun_attr_text(r->m, id, &data)) {
		worker_drop(r->tw, C_DROP_BAD_INDICATION, &r->from->client, 0, r->m->p, r->m->len);
		return;
	}
	if (!peers_permitted(&r->alloc->peers, &peer, r->now)) {
		r->tw->count[C_DROP_NO_PERMISSION]++;
		return;
	}
	/* A permission is for an IP address.  One for turnd's own address
	 * (given for a relay port of another allocation) must not open the
	 * other ports there, turnd's and stund's listeners among them: each
	 * destination is checked again. */
	if (request_peer_policy(r, &peer) != POLICY_OK) {
		r->tw->count[C_DROP_NO_PERMISSION]++;
		return;
	}
	relay_to_peer(r->alloc, &peer, data.p, data.len, r->now);
}

const struct turnd_method method_send = {
	.method = STUN_SEND,
	.understood = understood,
	.n_understood = sizeof understood / sizeof understood[0],
	.indication = send_indication,
};
