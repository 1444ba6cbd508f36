/* refresh.c - the Refresh request (RFC 8656 section 8): a new lifetime,
 * or 0 to end the allocation now. */
#include "turnd.h"

static const uint16_t understood[] = {
	STUN_A_LIFETIME, STUN_A_REQUESTED_ADDRESS_FAMILY,
};

static void refresh(struct turnd_req *r)
{
	struct alloc *a = r->alloc;
	size_t i;
	uint8_t fam;
	if (stun_msg_find(r->m, STUN_A_REQUESTED_ADDRESS_FAMILY, 0, &i) == 0 &&
	    (stun_attr_family(r->m, i, &fam) ||
	     (fam == STUN_FAMILY_IPV6) != (pbx_addr_family(&a->relay) == AF_INET6))) {
		request_error(r, STUN_ERR_PEER_ADDRESS_FAMILY);
		return;
	}
	uint32_t lifetime = allocate_lifetime(
		r->m, (uint32_t)r->snap->setting_int[STORE_SET_TURND_MAX_LIFETIME]);
	struct stun_enc e;
	request_begin_success(r, &e);
	stun_attr_put_u32(&e, STUN_A_LIFETIME, lifetime);
	request_end(r, &e);
	r->tw->count[C_REFRESHES]++;
	if (lifetime == 0) {
		r->alloc = NULL;
		alloc_free(a, "refresh-0");
		return;
	}
	a->expires = r->now + lifetime;
	a->lifetime = lifetime;
	a->report = true;
}

const struct turnd_method method_refresh = {
	.method = STUN_REFRESH,
	.auth = true,
	.needs_alloc = true,
	.understood = understood,
	.n_understood = sizeof understood / sizeof understood[0],
	.request = refresh,
};
