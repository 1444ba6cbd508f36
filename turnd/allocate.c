/* allocate.c - the Allocate request (RFC 8656 section 7): transport,
 * address families (REQUESTED-ADDRESS-FAMILY, ADDITIONAL-ADDRESS-FAMILY),
 * EVEN-PORT with RESERVATION-TOKEN, DONT-FRAGMENT, lifetime, quotas. */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "turnd.h"

static const uint16_t understood[] = {
	STUN_A_REQUESTED_TRANSPORT, STUN_A_LIFETIME, STUN_A_DONT_FRAGMENT,
	STUN_A_EVEN_PORT, STUN_A_RESERVATION_TOKEN, STUN_A_REQUESTED_ADDRESS_FAMILY,
};

uint32_t allocate_lifetime(const struct stun_msg *m, uint32_t max)
{
	size_t i;
	uint32_t v, def = TURND_LIFETIME_DEFAULT < max ? TURND_LIFETIME_DEFAULT : max;
	if (!m || stun_msg_find(m, STUN_A_LIFETIME, 0, &i) || stun_attr_u32(m, i, &v))
		return def;
	if (v == 0)
		return 0;
	if (v < def)
		return def;
	return v > max ? max : v;
}

static void success(struct turnd_req *r, struct alloc *a, bool v6_refused)
{
	struct stun_enc e;
	request_begin_success(r, &e);
	stun_attr_put_addr(&e, STUN_A_XOR_RELAYED_ADDRESS, &a->advertised);
	if (v6_refused)
		stun_attr_put_address_error(&e, STUN_FAMILY_IPV6, STUN_ERR_ADDRESS_FAMILY, NULL);
	stun_attr_put_u32(&e, STUN_A_LIFETIME, a->lifetime);
	if (a->token)
		stun_attr_put_u64(&e, STUN_A_RESERVATION_TOKEN, a->token);
	stun_attr_put_addr(&e, STUN_A_XOR_MAPPED_ADDRESS, &r->from->client);
	request_end(r, &e);
}

static void allocate(struct turnd_req *r)
{
	const struct stun_msg *m = r->m;
	size_t i;
	if (r->alloc) {
		/* A retransmission of the Allocate that made it gets the same
		 * answer (RFC 8656 7.2); any other is a mismatch. */
		if (memcmp(r->alloc->tid, m->tid, STUN_TID_LEN) == 0)
			success(r, r->alloc, false);
		else
			request_error(r, STUN_ERR_ALLOCATION_MISMATCH);
		return;
	}
	uint8_t proto;
	if (stun_msg_find(m, STUN_A_REQUESTED_TRANSPORT, 0, &i) || stun_attr_transport(m, i, &proto)) {
		request_error(r, STUN_ERR_BAD_REQUEST);
		return;
	}
	if (proto != STUN_TRANSPORT_UDP) {
		request_error(r, STUN_ERR_UNSUPPORTED_TRANSPORT);
		return;
	}
	bool even = false, reserve = false, has_token = false, has_req = false, has_add = false;
	uint64_t token = 0;
	uint8_t fam = STUN_FAMILY_IPV4, add = 0;
	if (stun_msg_find(m, STUN_A_EVEN_PORT, 0, &i) == 0) {
		if (stun_attr_even_port(m, i, &reserve)) {
			request_error(r, STUN_ERR_BAD_REQUEST);
			return;
		}
		even = true;
	}
	if (stun_msg_find(m, STUN_A_RESERVATION_TOKEN, 0, &i) == 0) {
		if (stun_attr_u64(m, i, &token)) {
			request_error(r, STUN_ERR_BAD_REQUEST);
			return;
		}
		has_token = true;
	}
	if (stun_msg_find(m, STUN_A_REQUESTED_ADDRESS_FAMILY, 0, &i) == 0) {
		if (stun_attr_family(m, i, &fam)) {
			request_error(r, STUN_ERR_BAD_REQUEST);
			return;
		}
		has_req = true;
	}
	if (stun_msg_find(m, STUN_A_ADDITIONAL_ADDRESS_FAMILY, 0, &i) == 0) {
		if (stun_attr_family(m, i, &add)) {
			request_error(r, STUN_ERR_BAD_REQUEST);
			return;
		}
		has_add = true;
	}
	/* RFC 8656 7.2: the combinations that make no sense are 400. */
	if ((has_token && (even || has_req || has_add)) || (has_req && has_add) ||
	    (has_add && add != STUN_FAMILY_IPV6)) {
		request_error(r, STUN_ERR_BAD_REQUEST);
		return;
	}
	if (fam != STUN_FAMILY_IPV4 && fam != STUN_FAMILY_IPV6) {
		request_error(r, STUN_ERR_ADDRESS_FAMILY);
		return;
	}
	/* The relayed address is on the address the client reached: a family
	 * that is not that one's is not offered here. */
	int local_af = pbx_addr_family(&r->from->local);
	int want = fam == STUN_FAMILY_IPV6 ? AF_INET6 : AF_INET;
	if (want != local_af) {
		request_error(r, STUN_ERR_ADDRESS_FAMILY);
		return;
	}
	bool v6_refused = has_add && local_af != AF_INET6;
	uint32_t lifetime = allocate_lifetime(
		m, (uint32_t)r->snap->setting_int[STORE_SET_TURND_MAX_LIFETIME]);
	if (lifetime == 0) /* LIFETIME 0 in an Allocate: take the default */
		lifetime = allocate_lifetime(
			NULL, (uint32_t)r->snap->setting_int[STORE_SET_TURND_MAX_LIFETIME]);
	struct alloc *a;
	int code = alloc_new(r->tw, r->from, r->user, want, even, reserve, has_token ? token : 0,
			     lifetime, &a);
	if (code) {
		request_error(r, code);
		return;
	}
	a->dont_fragment = stun_msg_find(m, STUN_A_DONT_FRAGMENT, 0, &i) == 0;
	if (a->dont_fragment) {
		/* RFC 8656 7.2: relay with the DF bit set. */
		int df = want == AF_INET ? IP_PMTUDISC_DO : IPV6_PMTUDISC_DO;
		if (want == AF_INET)
			setsockopt(a->fd, IPPROTO_IP, IP_MTU_DISCOVER, &df, sizeof df);
		else
			setsockopt(a->fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &df, sizeof df);
	}
	memcpy(a->tid, m->tid, STUN_TID_LEN);
	r->alloc = a;
	r->tw->count[C_ALLOCATIONS]++;
	success(r, a, v6_refused);
}

const struct turnd_method method_allocate = {
	.method = STUN_ALLOCATE,
	.auth = true,
	.understood = understood,
	.n_understood = sizeof understood / sizeof understood[0],
	.request = allocate,
};
