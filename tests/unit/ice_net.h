/* ice_net.h - what the ICE unit tests share: two agents (or more) back to
 * back through a fake network on a fake clock, with their candidates and
 * credentials.  A packet takes `latency` ms; an endpoint may be seen from
 * another address (a NAT) and be reachable only there; an agent's packets,
 * or only its Binding requests, may be lost. */
#ifndef PBX_TEST_ICE_NET_H
#define PBX_TEST_ICE_NET_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/ice.h>

#define UFRAG_A "ufrA"
#define PWD_A "passwordA-0123456789abc"
#define UFRAG_B "ufrB"
#define PWD_B "passwordB-0123456789abc"

static inline struct pbx_addr addr_of(const char *text)
{
	struct pbx_addr a;
	struct pbx_err e;
	pbx_err_clear(&e);
	ck_assert_msg(pbx_addr_parse(pbx_span_cstr(text), 1, 0, &a, &e) == 0, "%s: %s", text,
		      e.msg);
	return a;
}

static inline struct ice_cand cand(enum ice_cand_type type, const char *addr, uint16_t local_pref,
			    const char *foundation)
{
	struct ice_cand c;
	memset(&c, 0, sizeof c);
	c.component = 1;
	c.transport = ICE_UDP;
	c.type = type;
	c.addr = addr_of(addr);
	c.port = pbx_addr_port(&c.addr);
	snprintf(c.foundation, sizeof c.foundation, "%s", foundation);
	ck_assert_int_eq(ice_cand_priority(NULL, type, local_pref, 1, &c.priority), 0);
	return c;
}

static inline struct ice_agent *agent(enum ice_role role, uint64_t tb, const char *ufrag,
			       const char *pwd, void (*tweak)(struct ice_agent_config *))
{
	struct ice_agent_config c;
	struct ice_agent *a;
	ice_agent_config_default(&c);
	c.role = role;
	c.tie_breaker = tb;
	c.random_seed = tb * 7 + 1;
	snprintf(c.ufrag, sizeof c.ufrag, "%s", ufrag);
	snprintf(c.pwd, sizeof c.pwd, "%s", pwd);
	if (tweak)
		tweak(&c);
	ck_assert_int_eq(ice_agent_new(&c, &a), 0);
	return a;
}

static inline void add_local(struct ice_agent *a, int sock, const char *addr, const char *fnd)
{
	struct ice_cand c = cand(ICE_HOST, addr, 65535, fnd);
	struct pbx_addr base = c.addr;
	ck_assert_int_eq(ice_agent_add_local(a, 0, &c, sock, &base), 0);
}

static inline void add_remote(struct ice_agent *a, uint64_t now, const char *addr, const char *fnd)
{
	struct ice_cand c = cand(ICE_HOST, addr, 65535, fnd);
	ck_assert_int_eq(ice_agent_add_remote(a, now, &c), 0);
}

static inline void set_remote(struct ice_agent *a, uint64_t now, const char *ufrag, const char *pwd)
{
	ck_assert_int_eq(ice_agent_set_remote(a, now, pbx_span_cstr(ufrag), pbx_span_cstr(pwd),
					      false),
			 0);
}

/* Whether an event of type t (and code, if code >= 0) is queued; drains. */
#define NET_EP_MAX 8
#define NET_Q_MAX 512

struct net_ep {
	struct ice_agent *ag;
	int sock;
	struct pbx_addr addr;     /* where it listens */
	struct pbx_addr seen_as;  /* source address its packets show (a NAT) */
	bool hidden;              /* addr is private: reachable only as seen_as */
};

struct net_pkt {
	uint64_t at;
	int to_ep;
	struct pbx_addr from;
	size_t len;
	uint8_t b[ICE_AGENT_PACKET_MAX];
};

struct net {
	uint64_t now;
	uint32_t latency;
	size_t n_ep;
	struct net_ep ep[NET_EP_MAX];
	struct ice_agent *mute[2];   /* agents whose packets are lost */
	struct ice_agent *drop_requests[2]; /* agents whose Binding requests are lost */
	size_t n_q;
	struct net_pkt q[NET_Q_MAX];
	uint32_t delivered, data_got;
};

static inline struct net *net_new(void)
{
	struct net *n = calloc(1, sizeof *n);
	ck_assert_ptr_nonnull(n);
	n->latency = 5;
	return n;
}

static inline void net_ep(struct net *n, struct ice_agent *ag, int sock, const char *addr,
		   const char *seen_as)
{
	struct net_ep *e = &n->ep[n->n_ep++];
	e->ag = ag;
	e->sock = sock;
	e->addr = addr_of(addr);
	e->seen_as = addr_of(seen_as ? seen_as : addr);
}

static inline bool muted(const struct net *n, const struct ice_agent *ag, const uint8_t *b,
			 size_t len)
{
	bool request = len >= 2 && b[0] == 0x00 && b[1] == 0x01;
	return n->mute[0] == ag || n->mute[1] == ag ||
	       (request && (n->drop_requests[0] == ag || n->drop_requests[1] == ag));
}

static inline void net_send(struct net *n, struct ice_agent *ag, const struct ice_tx *tx,
		     const uint8_t *b)
{
	int from = -1, to = -1;
	for (size_t i = 0; i < n->n_ep; i++) {
		if (n->ep[i].ag == ag && n->ep[i].sock == tx->socket_id)
			from = (int)i;
		if (pbx_addr_equal(&n->ep[i].seen_as, &tx->to) ||
		    (!n->ep[i].hidden && pbx_addr_equal(&n->ep[i].addr, &tx->to)))
			to = (int)i;
	}
	ck_assert_int_ge(from, 0);
	if (to < 0 || muted(n, ag, b, tx->len))
		return;
	ck_assert_uint_lt(n->n_q, NET_Q_MAX);
	struct net_pkt *p = &n->q[n->n_q++];
	p->at = n->now + n->latency;
	p->to_ep = to;
	p->from = n->ep[from].seen_as;
	p->len = tx->len;
	memcpy(p->b, b, tx->len);
}

static inline bool net_flush(struct net *n)
{
	bool any = false;
	for (size_t i = 0; i < n->n_q;) {
		if (n->q[i].at > n->now) {
			i++;
			continue;
		}
		struct net_pkt p = n->q[i];
		memmove(&n->q[i], &n->q[i + 1], (n->n_q - i - 1) * sizeof n->q[0]);
		n->n_q--;
		struct net_ep *e = &n->ep[p.to_ep];
		enum ice_recv_kind kind;
		ck_assert_int_eq(ice_agent_recv(e->ag, n->now, e->sock, &p.from, p.b, p.len, &kind),
				 0);
		if (kind == ICE_RECV_DATA)
			n->data_got++;
		n->delivered++;
		any = true;
	}
	return any;
}

static inline void net_run(struct net *n, uint64_t until)
{
	uint8_t b[ICE_AGENT_PACKET_MAX];
	struct ice_tx tx;
	for (;;) {
		bool more = true;
		while (more) {
			more = net_flush(n);
			for (size_t i = 0; i < n->n_ep; i++) {
				if (i > 0 && n->ep[i].ag == n->ep[i - 1].ag)
					continue;
				for (;;) {
					ck_assert_int_eq(ice_agent_poll(n->ep[i].ag, n->now, b,
									sizeof b, &tx),
							 0);
					if (!tx.len)
						break;
					net_send(n, n->ep[i].ag, &tx, b);
					more = true;
				}
			}
		}
		uint64_t next = UINT64_MAX;
		for (size_t i = 0; i < n->n_ep; i++) {
			uint64_t d = ice_agent_next_deadline(n->ep[i].ag, n->now);
			if (d < next)
				next = d;
		}
		for (size_t i = 0; i < n->n_q; i++)
			if (n->q[i].at < next)
				next = n->q[i].at;
		/* Everything due now was done: the agents never ask to be
		 * polled again at once (a caller would spin). */
		ck_assert_uint_gt(next, n->now);
		if (next > until)
			break;
		n->now = next;
	}
	n->now = until;
}

/* A controlling and a controlled agent with one host candidate each,
 * knowing each other's description. */
struct duo {
	struct net *n;
	struct ice_agent *a, *b;
};

static inline struct duo duo_new(uint64_t tb_a, uint64_t tb_b, enum ice_role ra, enum ice_role rb,
			  const char *pwd_b_told_to_a, const char *pwd_a_told_to_b)
{
	struct duo d;
	d.n = net_new();
	d.a = agent(ra, tb_a, UFRAG_A, PWD_A, NULL);
	d.b = agent(rb, tb_b, UFRAG_B, PWD_B, NULL);
	add_local(d.a, 1, "192.0.2.1:1000", "ha");
	add_local(d.b, 2, "192.0.2.2:2000", "hb");
	ice_agent_end_of_local(d.a, 0);
	ice_agent_end_of_local(d.b, 0);
	net_ep(d.n, d.a, 1, "192.0.2.1:1000", NULL);
	net_ep(d.n, d.b, 2, "192.0.2.2:2000", NULL);
	set_remote(d.a, 0, UFRAG_B, pwd_b_told_to_a);
	set_remote(d.b, 0, UFRAG_A, pwd_a_told_to_b);
	add_remote(d.a, 0, "192.0.2.2:2000", "hb");
	add_remote(d.b, 0, "192.0.2.1:1000", "ha");
	ice_agent_end_of_remote(d.a, 0);
	ice_agent_end_of_remote(d.b, 0);
	return d;
}

static inline void duo_free(struct duo *d)
{
	ice_agent_free(d->a);
	ice_agent_free(d->b);
	free(d->n);
}

#endif
