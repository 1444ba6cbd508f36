/* fuzz_ice_agent.c - fuzzes the ICE agent's datagram input (lib/ice/check.c)
 * in each state: before the remote credentials, checking as controlling or
 * controlled, and completed.  Input: one byte choosing the state, then
 * records [ctl][len][len bytes].  ctl bits 0-1 pick the source (the
 * remote candidate, a stranger, another socket, IPv6), bit 2 wraps the
 * bytes as the attributes of a Binding message signed with an agent's
 * key (so the fuzzer gets past integrity), bits 4-5 that message's class,
 * bit 3 reuses the agent's last transaction ID, bit 6 signs with the wrong
 * key, bit 7 advances the clock.  Every packet the agent sends must be a
 * well-formed STUN message, and its state must stay consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/ice.h>
#include <pbxedge/stun.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define UFRAG_A "ufrA"
#define PWD_A "passwordA-0123456789abc"
#define UFRAG_B "ufrB"
#define PWD_B "passwordB-0123456789abc"

struct h {
	struct ice_agent *a;
	uint64_t now;
	uint8_t last_tid[STUN_TID_LEN];
	uint8_t out[ICE_AGENT_PACKET_MAX];
};

static struct pbx_addr addr(const char *t)
{
	struct pbx_addr x;
	if (pbx_addr_parse(pbx_span_cstr(t), 1, 0, &x, NULL))
		abort();
	return x;
}

static void check_invariants(const struct ice_agent *a)
{
	enum ice_fail_reason why;
	enum ice_agent_state st = ice_agent_state(a, &why);
	const struct ice_pair *p;
	if (st > ICE_AGENT_FAILED || (st == ICE_AGENT_FAILED) != (why != ICE_FAIL_NONE))
		abort();
	if (ice_agent_pair_count(a) > ICE_AGENT_PAIRS_MAX)
		abort();
	uint64_t last = UINT64_MAX;
	for (size_t i = 0; i < ice_agent_pair_count(a); i++) {
		if (ice_agent_pair(a, i, &p) || p->priority > last || p->state > ICE_PAIR_FAILED)
			abort();
		last = p->priority;
		if (p->valid && p->state != ICE_PAIR_SUCCEEDED)
			abort();
	}
	if (ice_agent_selected(a, &p) == 0 && (!p->selected || !p->nominated))
		abort();
}

/* Awaiting the peer (RFC 8863) is a running agent with every pair failed;
 * giving up then fails it, and nothing else. */
static void check_awaiting(struct ice_agent *a, uint64_t now)
{
	const struct ice_pair *p;
	bool waiting = ice_agent_awaiting_peer(a, now);
	if (waiting && ice_agent_state(a, NULL) != ICE_AGENT_RUNNING)
		abort();
	for (size_t i = 0; waiting && i < ice_agent_pair_count(a); i++)
		if (ice_agent_pair(a, i, &p) || p->state != ICE_PAIR_FAILED || p->valid)
			abort();
	if (ice_agent_give_up(a, now) != waiting)
		abort();
	if (waiting && ice_agent_state(a, NULL) != ICE_AGENT_FAILED)
		abort();
}

/* Send whatever is due; each packet must decode, with FINGERPRINT. */
static void drain(struct h *h)
{
	struct ice_tx tx;
	struct stun_msg m;
	int i;
	for (i = 0; i < 64; i++) {
		if (ice_agent_poll(h->a, h->now, h->out, sizeof h->out, &tx))
			abort();
		if (!tx.len)
			break;
		if (tx.len > sizeof h->out || stun_msg_decode(&m, h->out, tx.len) ||
		    m.fingerprint < 0)
			abort();
		if (m.cls == STUN_REQUEST)
			memcpy(h->last_tid, m.tid, STUN_TID_LEN);
	}
	struct ice_event ev;
	while (ice_agent_next_event(h->a, &ev) == 0)
		if (!ice_event_name(ev.type))
			abort();
	check_invariants(h->a);
	/* Nothing left due now: the next deadline lies ahead. */
	if (i < 64 && ice_agent_next_deadline(h->a, h->now) <= h->now)
		abort();
}

/* The bytes as attributes of a signed Binding message. */
static size_t wrap(struct h *h, uint8_t ctl, const uint8_t *p, size_t n, uint8_t *buf,
		   size_t cap)
{
	struct stun_enc e;
	struct stun_key k;
	uint8_t tid[STUN_TID_LEN] = {0xF0, (uint8_t)n};
	enum stun_class cls = (enum stun_class)((ctl >> 4) & 3);
	size_t len;
	if (ctl & 8)
		memcpy(tid, h->last_tid, sizeof tid);
	stun_msg_init(&e, buf, cap, stun_hdr_type(STUN_BINDING, cls), tid, STUN_KIND_RFC5389);
	while (n >= 4) {
		uint16_t type = (uint16_t)(p[0] << 8 | p[1]);
		size_t alen = p[2] & 0x3F;
		if (alen > n - 4)
			alen = n - 4;
		if (stun_attr_put_raw(&e, type, p + 4, alen))
			return 0;
		p += 4 + alen;
		n -= 4 + alen;
	}
	/* Requests are for A's password, answers come with B's. */
	const char *pwd = cls == STUN_REQUEST ? PWD_A : PWD_B;
	if (ctl & 0x40)
		pwd = "wrong-password-0000000";
	stun_integrity_key_short(&k, pbx_span_cstr(pwd));
	stun_integrity_put(&e, &k);
	stun_integrity_put_fingerprint(&e);
	if (stun_msg_finish(&e, &len))
		return 0;
	return len;
}

/* Answer A's last check as B would, to move it on. */
static void answer_last(struct h *h, const struct pbx_addr *from, const struct pbx_addr *mapped)
{
	uint8_t b[256];
	struct stun_enc e;
	struct stun_key k;
	size_t len;
	enum ice_recv_kind kind;
	stun_msg_init(&e, b, sizeof b, stun_hdr_type(STUN_BINDING, STUN_SUCCESS), h->last_tid,
		      STUN_KIND_RFC5389);
	stun_attr_put_addr(&e, STUN_A_XOR_MAPPED_ADDRESS, mapped);
	stun_integrity_key_short(&k, pbx_span_cstr(PWD_B));
	stun_integrity_put(&e, &k);
	stun_integrity_put_fingerprint(&e);
	if (stun_msg_finish(&e, &len) || ice_agent_recv(h->a, h->now, 1, from, b, len, &kind))
		abort();
}

static int setup(struct h *h, uint8_t scenario)
{
	struct ice_agent_config c;
	ice_agent_config_default(&c);
	c.role = scenario == 2 ? ICE_CONTROLLED : ICE_CONTROLLING;
	c.tie_breaker = 1000;
	c.random_seed = 42;
	c.nominate_wait_ms = 0;
	c.trickle_wait_ms = 3000;
	memcpy(c.ufrag, UFRAG_A, sizeof UFRAG_A);
	memcpy(c.pwd, PWD_A, sizeof PWD_A);
	if (ice_agent_new(&c, &h->a))
		return -1;
	struct ice_cand l, r;
	memset(&l, 0, sizeof l);
	l.component = 1;
	l.priority = 2130706431u;
	l.type = ICE_HOST;
	memcpy(l.foundation, "1", 2);
	l.addr = addr("192.0.2.1:1000");
	r = l;
	r.addr = addr("192.0.2.9:9000");
	memcpy(r.foundation, "2", 2);
	struct ice_cand l6 = l;
	l6.addr = addr("[2001:db8::1]:1000");
	ice_agent_add_local(h->a, 0, &l, 1, &l.addr);
	ice_agent_add_local(h->a, 0, &l6, 3, &l6.addr);
	ice_agent_end_of_local(h->a, 0);
	if (scenario == 0)
		return 0;
	ice_agent_set_remote(h->a, 0, pbx_span_cstr(UFRAG_B), pbx_span_cstr(PWD_B), false);
	ice_agent_add_remote(h->a, 0, &r);
	drain(h);
	if (scenario == 3) {
		/* Success, then the nomination's success: completed. */
		answer_last(h, &r.addr, &l.addr);
		h->now += 50;
		drain(h);
		answer_last(h, &r.addr, &l.addr);
		drain(h);
		if (ice_agent_state(h->a, NULL) != ICE_AGENT_COMPLETED)
			abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const src[] = {"192.0.2.9:9000", "203.0.113.5:5000",
					  "192.0.2.9:9000", "[2001:db8::9]:9000"};
	struct h h;
	uint8_t buf[1024];
	memset(&h, 0, sizeof h);
	if (size < 1 || setup(&h, data[0] % 4))
		return 0;
	size_t i = 1;
	while (i + 2 <= size) {
		uint8_t ctl = data[i], n = data[i + 1];
		i += 2;
		if (n > size - i)
			n = (uint8_t)(size - i);
		const uint8_t *p = data + i;
		size_t len = n;
		i += n;
		if (ctl & 0x80)
			h.now += (uint64_t)n * 137;
		if (ctl & 4) {
			len = wrap(&h, ctl, p, n, buf, sizeof buf);
			p = buf;
			if (!len)
				continue;
		}
		struct pbx_addr from = addr(src[ctl & 3]);
		int sock = (ctl & 3) == 2 ? 2 : (ctl & 3) == 3 ? 3 : 1;
		enum ice_recv_kind kind;
		if (ice_agent_recv(h.a, h.now, sock, &from, p, len, &kind) ||
		    kind > ICE_RECV_DROPPED)
			abort();
		drain(&h);
		uint64_t d = ice_agent_next_deadline(h.a, h.now);
		if (d < h.now)
			abort();
	}
	/* Let the timers run out. */
	for (int k = 0; k < 8; k++) {
		uint64_t d = ice_agent_next_deadline(h.a, h.now);
		if (d == UINT64_MAX)
			break;
		h.now = d;
		drain(&h);
	}
	check_awaiting(h.a, h.now);
	check_invariants(h.a);
	ice_agent_free(h.a);
	return 0;
}
