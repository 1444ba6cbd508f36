/* permission.c - the CreatePermission request (RFC 8656 section 10): one
 * or more peer addresses, each through the peer policy; all or none are
 * installed. */
#include "turnd.h"

static const uint16_t understood[] = { STUN_A_XOR_PEER_ADDRESS };

static void create_permission(struct turnd_req *r)
{
	struct pbx_addr peers[STUN_MAX_ATTRS];
	size_t n = 0, i = 0;
	while (stun_msg_find(r->m, STUN_A_XOR_PEER_ADDRESS, i, &i) == 0) {
		if (request_peer(r, i, &peers[n]))
			return;
		n++;
		i++;
	}
	if (n == 0) {
		request_error(r, STUN_ERR_BAD_REQUEST);
		return;
	}
	for (size_t k = 0; k < n; k++) {
		if (peers_permit(&r->alloc->peers, &peers[k], r->now + TURND_PERMISSION_S, r->now)) {
			request_error(r, STUN_ERR_INSUFFICIENT_CAPACITY);
			return;
		}
	}
	struct stun_enc e;
	request_begin_success(r, &e);
	request_end(r, &e);
	r->tw->count[C_PERMISSIONS]++;
}

const struct turnd_method method_permission = {
	.method = STUN_CREATE_PERMISSION,
	.auth = true,
	.needs_alloc = true,
	.understood = understood,
	.n_understood = sizeof understood / sizeof understood[0],
	.request = create_permission,
};
