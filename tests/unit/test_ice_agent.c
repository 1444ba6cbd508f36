/* test_ice_agent.c - unit tests for the I/O-free ICE agent (lib/ice/agent.c,
 * check.c): two agents back to back through a fake network on a fake
 * clock, and single scripted packets for the rules a real peer seldom
 * shows (non-symmetric answers, 487, early checks, bad credentials). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/ice.h>
#include <pbxedge/stun.h>

#include "ice_net.h"

static int count_events(struct ice_agent *a, enum ice_event_type t, int code)
{
	struct ice_event ev;
	int n = 0;
	while (ice_agent_next_event(a, &ev) == 0)
		if (ev.type == t && (code < 0 || ev.code == code))
			n++;
	return n;
}

/* ---- the fake network ---- */

static const struct ice_pair *pair_at(struct ice_agent *a, size_t i)
{
	const struct ice_pair *p;
	ck_assert_int_eq(ice_agent_pair(a, i, &p), 0);
	return p;
}

/* ---- scripted packets ---- */

static size_t poll1(struct ice_agent *a, uint64_t now, uint8_t *b, struct ice_tx *tx)
{
	ck_assert_int_eq(ice_agent_poll(a, now, b, ICE_AGENT_PACKET_MAX, tx), 0);
	return tx->len;
}

/* A Binding request as a peer would send it to an agent. */
static size_t make_check(uint8_t *b, const char *user, const char *pwd, uint32_t prio,
			 uint16_t role_attr, uint64_t tb, bool use_cand, uint8_t tid0)
{
	struct stun_enc e;
	struct stun_key k;
	uint8_t tid[STUN_TID_LEN] = {tid0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
	size_t len;
	stun_msg_init(&e, b, ICE_AGENT_PACKET_MAX, stun_hdr_type(STUN_BINDING, STUN_REQUEST), tid,
		      STUN_KIND_RFC5389);
	if (user)
		stun_attr_put_text(&e, STUN_A_USERNAME, user, strlen(user));
	if (prio)
		stun_attr_put_u32(&e, STUN_A_PRIORITY, prio);
	if (role_attr)
		stun_attr_put_u64(&e, role_attr, tb);
	if (use_cand)
		stun_attr_put_empty(&e, STUN_A_USE_CANDIDATE);
	if (pwd) {
		ck_assert_int_eq(stun_integrity_key_short(&k, pbx_span_cstr(pwd)), 0);
		stun_integrity_put(&e, &k);
	}
	stun_integrity_put_fingerprint(&e);
	ck_assert_int_eq(stun_msg_finish(&e, &len), 0);
	return len;
}

/* An answer to the request in req (signed with pwd unless NULL). */
static size_t make_answer(uint8_t *b, const uint8_t *req, size_t req_len, int code,
			  const struct pbx_addr *mapped, const char *pwd)
{
	struct stun_msg m;
	struct stun_enc e;
	struct stun_key k;
	size_t len;
	ck_assert_int_eq(stun_msg_decode(&m, req, req_len), 0);
	stun_msg_init_reply(&e, b, ICE_AGENT_PACKET_MAX, &m, code ? STUN_ERROR : STUN_SUCCESS);
	if (code)
		stun_attr_put_error(&e, code, NULL);
	else
		stun_attr_put_addr(&e, STUN_A_XOR_MAPPED_ADDRESS, mapped);
	if (pwd) {
		ck_assert_int_eq(stun_integrity_key_short(&k, pbx_span_cstr(pwd)), 0);
		stun_integrity_put(&e, &k);
	}
	stun_integrity_put_fingerprint(&e);
	ck_assert_int_eq(stun_msg_finish(&e, &len), 0);
	return len;
}

static void recv_ok(struct ice_agent *a, uint64_t now, int sock, const char *from,
		    const uint8_t *b, size_t len, enum ice_recv_kind want)
{
	struct pbx_addr f = addr_of(from);
	enum ice_recv_kind kind;
	ck_assert_int_eq(ice_agent_recv(a, now, sock, &f, b, len, &kind), 0);
	ck_assert_int_eq(kind, want);
}

static void decode(struct stun_msg *m, const uint8_t *b, size_t len)
{
	ck_assert_int_eq(stun_msg_decode(m, b, len), 0);
}

static int error_code(const struct stun_msg *m)
{
	size_t i;
	struct stun_error err;
	if (m->cls != STUN_ERROR || stun_msg_find(m, STUN_A_ERROR_CODE, 0, &i))
		return 0;
	ck_assert_int_eq(stun_attr_error(m, i, &err), 0);
	return err.code;
}

/* One controlling agent with one host candidate 192.0.2.1:1000 on socket
 * 1 and the remote 192.0.2.9:9000, its credentials known. */
static struct ice_agent *single(void (*tweak)(struct ice_agent_config *))
{
	struct ice_agent *a = agent(ICE_CONTROLLING, 100, UFRAG_A, PWD_A, tweak);
	add_local(a, 1, "192.0.2.1:1000", "ha");
	ice_agent_end_of_local(a, 0);
	set_remote(a, 0, UFRAG_B, PWD_B);
	add_remote(a, 0, "192.0.2.9:9000", "r1");
	return a;
}

/* ---- tests ---- */

START_TEST(test_agent_config_refused)
{
	struct ice_agent_config c;
	struct ice_agent *a;
	ice_agent_config_default(&c);
	ck_assert_uint_eq(c.ta_ms, 50);
	ck_assert_uint_eq(c.rto_min_ms, 500);
	ck_assert_uint_eq(c.consent_timeout_ms, 30000);
	snprintf(c.ufrag, sizeof c.ufrag, "abc"); /* under 4 */
	snprintf(c.pwd, sizeof c.pwd, "%s", PWD_A);
	ck_assert_int_eq(ice_agent_new(&c, &a), PBX_E_INVALID);
	ck_assert_ptr_null(a);
	snprintf(c.ufrag, sizeof c.ufrag, "abcd");
	snprintf(c.pwd, sizeof c.pwd, "short");
	ck_assert_int_eq(ice_agent_new(&c, &a), PBX_E_INVALID);
	snprintf(c.pwd, sizeof c.pwd, "%s", PWD_A);
	c.ta_ms = 0;
	ck_assert_int_eq(ice_agent_new(&c, &a), PBX_E_INVALID);
	c.ta_ms = 50;
	ck_assert_int_eq(ice_agent_new(&c, &a), 0);
	ck_assert_int_eq(ice_agent_set_remote(a, 0, pbx_span_cstr("ab"), pbx_span_cstr(PWD_B),
					      false),
			 PBX_E_INVALID);
	set_remote(a, 0, UFRAG_B, PWD_B);
	ck_assert_int_eq(ice_agent_set_remote(a, 0, pbx_span_cstr(UFRAG_B), pbx_span_cstr(PWD_B),
					      false),
			 PBX_E_EXISTS);
	ice_agent_free(a);
	ice_agent_free(NULL);
}
END_TEST

/* Pairs: same component, same family, UDP only; a srflx local pairs
 * through its base (and is pruned as redundant); sorted by priority. */
START_TEST(test_agent_pair_formation)
{
	struct ice_agent *a = agent(ICE_CONTROLLING, 1, UFRAG_A, PWD_A, NULL);
	struct ice_cand h4 = cand(ICE_HOST, "192.0.2.1:1000", 65535, "h4");
	struct ice_cand h6 = cand(ICE_HOST, "[2001:db8::1]:1000", 65534, "h6");
	struct ice_cand sx = cand(ICE_SRFLX, "203.0.113.1:4000", 65535, "sx");
	ck_assert_int_eq(ice_agent_add_local(a, 0, &h4, 1, &h4.addr), 0);
	ck_assert_int_eq(ice_agent_add_local(a, 0, &h4, 1, &h4.addr), PBX_E_EXISTS);
	ck_assert_int_eq(ice_agent_add_local(a, 0, &h6, 2, &h6.addr), 0);
	ck_assert_int_eq(ice_agent_add_local(a, 0, &sx, 1, &h4.addr), 0);

	struct ice_cand r4 = cand(ICE_HOST, "198.51.100.1:5000", 65535, "r4");
	struct ice_cand rs = cand(ICE_SRFLX, "198.51.100.2:5001", 65535, "rs");
	struct ice_cand r6 = cand(ICE_HOST, "[2001:db8::2]:5000", 65535, "r6");
	struct ice_cand tcp = cand(ICE_HOST, "198.51.100.1:5002", 1, "rt");
	tcp.transport = ICE_TCP;
	struct ice_cand c2 = cand(ICE_HOST, "198.51.100.1:5003", 1, "r2");
	c2.component = 2;
	ck_assert_int_eq(ice_agent_add_remote(a, 0, &r4), 0);
	ck_assert_int_eq(ice_agent_add_remote(a, 0, &r4), PBX_E_EXISTS);
	ck_assert_int_eq(ice_agent_add_remote(a, 0, &rs), 0);
	ck_assert_int_eq(ice_agent_add_remote(a, 0, &r6), 0);
	ck_assert_int_eq(ice_agent_add_remote(a, 0, &tcp), 0);
	ck_assert_int_eq(ice_agent_add_remote(a, 0, &c2), 0);

	/* h4 x {r4, rs}, h6 x r6; sx's pairs are h4's, pruned. */
	ck_assert_uint_eq(ice_agent_pair_count(a), 3);
	ck_assert_uint_eq(ice_agent_stats(a)->pairs_pruned, 2);
	uint64_t last = UINT64_MAX;
	for (size_t i = 0; i < 3; i++) {
		const struct ice_pair *p = pair_at(a, i);
		ck_assert_uint_le(p->priority, last);
		last = p->priority;
		ck_assert_int_eq(p->local_type, ICE_HOST);
		ck_assert_int_eq(p->state, ICE_PAIR_FROZEN);
		ck_assert_int_eq(pbx_addr_family(&p->local), pbx_addr_family(&p->remote));
	}
	/* Highest: h4 (local pref 65535) with r4; the formula with us as G. */
	ck_assert(pbx_addr_equal(&pair_at(a, 0)->remote, &r4.addr));
	ck_assert_uint_eq(pair_at(a, 0)->priority, ice_pair_priority(h4.priority, r4.priority));
	ck_assert_int_eq(pair_at(a, 0)->socket_id, 1);
	ck_assert(pbx_addr_equal(&pair_at(a, 2)->remote, &rs.addr));

	/* A srflx added before its base: the base's pair replaces it. */
	struct ice_agent *b = agent(ICE_CONTROLLED, 2, UFRAG_A, PWD_A, NULL);
	ck_assert_int_eq(ice_agent_add_remote(b, 0, &r4), 0);
	ck_assert_int_eq(ice_agent_add_local(b, 0, &sx, 1, &h4.addr), 0);
	ck_assert_uint_eq(ice_agent_pair_count(b), 1);
	ck_assert(pbx_addr_equal(&pair_at(b, 0)->local, &h4.addr));
	uint64_t before = pair_at(b, 0)->priority;
	ck_assert_int_eq(ice_agent_add_local(b, 0, &h4, 1, &h4.addr), 0);
	ck_assert_uint_eq(ice_agent_pair_count(b), 1);
	ck_assert_uint_gt(pair_at(b, 0)->priority, before);
	/* Controlled: the remote's priority is G. */
	ck_assert_uint_eq(pair_at(b, 0)->priority, ice_pair_priority(r4.priority, h4.priority));
	ice_agent_free(a);
	ice_agent_free(b);
}
END_TEST

static int cmp_u64_desc(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? 1 : a > b ? -1 : 0;
}

/* At most 100 pairs, and the ones kept are the highest. */
START_TEST(test_agent_pair_limit)
{
	struct ice_agent *a = agent(ICE_CONTROLLING, 1, UFRAG_A, PWD_A, NULL);
	struct ice_cand l[4];
	uint64_t all[4 * 30];
	size_t n = 0;
	char text[64];
	for (int i = 0; i < 4; i++) {
		snprintf(text, sizeof text, "192.0.2.%d:1000", i + 1);
		l[i] = cand(ICE_HOST, text, (uint16_t)(1000 * (i + 1)), "h");
		snprintf(l[i].foundation, sizeof l[i].foundation, "h%d", i);
		ck_assert_int_eq(ice_agent_add_local(a, 0, &l[i], i + 1, &l[i].addr), 0);
	}
	for (int r = 0; r < 30; r++) {
		snprintf(text, sizeof text, "198.51.100.%d:2000", r + 1);
		struct ice_cand c =
			cand(r % 2 ? ICE_HOST : ICE_RELAY, text, (uint16_t)(r * 77), "r");
		snprintf(c.foundation, sizeof c.foundation, "r%d", r);
		ck_assert_int_eq(ice_agent_add_remote(a, 0, &c), 0);
		for (int i = 0; i < 4; i++)
			all[n++] = ice_pair_priority(l[i].priority, c.priority);
	}
	ck_assert_uint_eq(ice_agent_pair_count(a), ICE_AGENT_PAIRS_MAX);
	ck_assert_uint_eq(ice_agent_stats(a)->pairs_over_limit, 20);
	qsort(all, n, sizeof all[0], cmp_u64_desc);
	for (size_t i = 0; i < ICE_AGENT_PAIRS_MAX; i++)
		ck_assert_uint_eq(pair_at(a, i)->priority, all[i]);
	ck_assert_int_eq(ice_agent_pair(a, ICE_AGENT_PAIRS_MAX, &(const struct ice_pair *){0}),
			 PBX_E_NOTFOUND);
	ice_agent_free(a);
}
END_TEST

/* One check per Ta; initial unfreezing by foundation; highest first;
 * the check's attributes. */
START_TEST(test_agent_pacing_and_check_contents)
{
	struct ice_agent *a = agent(ICE_CONTROLLING, 0x1122334455667788ull, UFRAG_A, PWD_A, NULL);
	uint8_t b[ICE_AGENT_PACKET_MAX];
	struct ice_tx tx;
	struct stun_msg m;
	size_t i;
	add_local(a, 1, "192.0.2.1:1000", "ha");
	/* Two remotes of one foundation, one of another. */
	struct ice_cand r1 = cand(ICE_HOST, "198.51.100.1:1", 60000, "same");
	struct ice_cand r2 = cand(ICE_HOST, "198.51.100.2:2", 50000, "same");
	struct ice_cand r3 = cand(ICE_HOST, "198.51.100.3:3", 40000, "other");
	ice_agent_add_remote(a, 0, &r1);
	ice_agent_add_remote(a, 0, &r2);
	ice_agent_add_remote(a, 0, &r3);
	/* Nothing before the remote credentials. */
	ck_assert_uint_eq(poll1(a, 0, b, &tx), 0);
	ck_assert_int_eq(ice_agent_poll(a, 0, b, 100, &tx), PBX_E_NOSPACE);
	set_remote(a, 1000, UFRAG_B, PWD_B);

	ck_assert_uint_gt(poll1(a, 1000, b, &tx), 0);
	ck_assert(pbx_addr_equal(&tx.to, &r1.addr));
	ck_assert_int_eq(tx.socket_id, 1);
	/* r2 shares r1's foundation: frozen; r3 waits. */
	ck_assert_int_eq(pair_at(a, 0)->state, ICE_PAIR_IN_PROGRESS);
	ck_assert_int_eq(pair_at(a, 1)->state, ICE_PAIR_FROZEN);
	ck_assert_int_eq(pair_at(a, 2)->state, ICE_PAIR_WAITING);

	decode(&m, b, tx.len);
	ck_assert_int_eq(m.method, STUN_BINDING);
	ck_assert_int_eq(m.cls, STUN_REQUEST);
	ck_assert_int_ge(m.fingerprint, 0);
	ck_assert_int_eq(stun_msg_find(&m, STUN_A_USERNAME, 0, &i), 0);
	struct pbx_span user;
	ck_assert_int_eq(stun_attr_text(&m, i, &user), 0);
	ck_assert(pbx_span_eq(user, pbx_span_cstr(UFRAG_B ":" UFRAG_A)));
	uint32_t prio, want;
	ck_assert_int_eq(stun_msg_find(&m, STUN_A_PRIORITY, 0, &i), 0);
	ck_assert_int_eq(stun_attr_u32(&m, i, &prio), 0);
	ck_assert_int_eq(ice_cand_priority(NULL, ICE_PRFLX, 65535, 1, &want), 0);
	ck_assert_uint_eq(prio, want);
	uint64_t tb;
	ck_assert_int_eq(stun_msg_find(&m, STUN_A_ICE_CONTROLLING, 0, &i), 0);
	ck_assert_int_eq(stun_attr_u64(&m, i, &tb), 0);
	ck_assert_uint_eq(tb, 0x1122334455667788ull);
	ck_assert_int_eq(stun_msg_find(&m, STUN_A_ICE_CONTROLLED, 0, &i), PBX_E_NOTFOUND);
	ck_assert_int_eq(stun_msg_find(&m, STUN_A_USE_CANDIDATE, 0, &i), PBX_E_NOTFOUND);
	struct stun_key k;
	enum stun_integrity res;
	stun_integrity_key_short(&k, pbx_span_cstr(PWD_B));
	ck_assert_int_eq(stun_integrity_check(&m, &k, STUN_SHA256_FULL, &res), 0);
	ck_assert_int_eq(res, STUN_INTEGRITY_OK_SHA1);

	/* Pacing: nothing more until Ta has passed. */
	ck_assert_uint_eq(poll1(a, 1000, b, &tx), 0);
	ck_assert_uint_eq(poll1(a, 1049, b, &tx), 0);
	ck_assert_uint_eq(ice_agent_next_deadline(a, 1001), 1050);
	ck_assert_uint_gt(poll1(a, 1050, b, &tx), 0);
	ck_assert(pbx_addr_equal(&tx.to, &r3.addr));
	ck_assert_uint_eq(poll1(a, 1050, b, &tx), 0);
	/* Then no waiting pair is left; r2 stays frozen while r1's
	 * foundation is in progress. */
	ck_assert_uint_eq(poll1(a, 1100, b, &tx), 0);
	ck_assert_int_eq(pair_at(a, 1)->state, ICE_PAIR_FROZEN);
	/* ... so the next thing to do is r1's retransmission, not a check
	 * that cannot start (a caller would spin). */
	ck_assert_uint_eq(ice_agent_next_deadline(a, 1100), 1500);
	ck_assert_uint_eq(pair_at(a, 0)->rec.checks, 1);
	ck_assert_uint_eq(pair_at(a, 0)->rec.req_sent, 1);
	ck_assert_uint_eq(pair_at(a, 0)->rec.first_sent_ms, 1000);
	ice_agent_free(a);
}
END_TEST

/* RFC 8489 6.2.1 with RFC 8445 14.3's RTO: 0, 500, 1500, 3500, 7500,
 * 15500, 31500, failed at 39500; and RFC 8863: no failure while the peer
 * may trickle. */
START_TEST(test_agent_retransmissions_and_trickle_failure)
{
	struct ice_agent *a = single(NULL);
	uint8_t b[ICE_AGENT_PACKET_MAX];
	struct ice_tx tx;
	const uint64_t want[] = {0, 500, 1500, 3500, 7500, 15500, 31500};
	size_t k = 0;
	uint8_t tid[STUN_TID_LEN];
	for (uint64_t t = 0; t <= 45000; t++) {
		while (poll1(a, t, b, &tx)) {
			struct stun_msg m;
			decode(&m, b, tx.len);
			if (k == 0)
				memcpy(tid, m.tid, sizeof tid);
			ck_assert_mem_eq(m.tid, tid, sizeof tid); /* retransmissions */
			ck_assert_uint_lt(k, 7);
			ck_assert_uint_eq(t, want[k]);
			k++;
		}
		if (t == 39499)
			ck_assert_int_eq(pair_at(a, 0)->state, ICE_PAIR_IN_PROGRESS);
		if (t == 39500)
			ck_assert_int_eq(pair_at(a, 0)->state, ICE_PAIR_FAILED);
	}
	ck_assert_uint_eq(k, 7);
	const struct ice_pair *p = pair_at(a, 0);
	ck_assert_uint_eq(p->rec.req_sent, 7);
	ck_assert_uint_eq(p->rec.checks, 1);
	ck_assert_uint_eq(p->rec.timeouts, 1);
	ck_assert_uint_eq(p->rec.last_sent_ms, 31500);
	/* Every pair failed, but no end-of-candidates yet: still running. */
	ck_assert_int_eq(ice_agent_state(a, NULL), ICE_AGENT_RUNNING);
	ck_assert_uint_eq(ice_agent_next_deadline(a, 45000), UINT64_MAX);
	ice_agent_end_of_remote(a, 45000);
	ck_assert_uint_eq(poll1(a, 45000, b, &tx), 0);
	enum ice_fail_reason why;
	ck_assert_int_eq(ice_agent_state(a, &why), ICE_AGENT_FAILED);
	ck_assert_int_eq(why, ICE_FAIL_CHECKS);
	ck_assert_int_eq(count_events(a, ICE_EV_FAILED, ICE_FAIL_CHECKS), 1);
	/* The address's record says the same. */
	const struct ice_peer *pe;
	ck_assert_uint_eq(ice_agent_peer_count(a), 1);
	ck_assert_int_eq(ice_agent_peer(a, 0, &pe), 0);
	ck_assert_uint_eq(pe->rec.req_sent, 7);
	ck_assert_uint_eq(pe->rec.resp_ok, 0);
	ice_agent_free(a);
}
END_TEST

static void tweak_fast(struct ice_agent_config *c)
{
	c->max_sends = 2;
	c->rto_cap_ms = 300;
	c->trickle_wait_ms = 2000;
	c->pac_ms = 0; /* the trickle wait alone (the PAC timer has its own test) */
}

/* The caller's caps shorten a check, and without end-of-candidates the
 * checklist fails trickle_wait_ms after the last remote candidate. */
START_TEST(test_agent_caps_and_trickle_wait)
{
	struct ice_agent *a = single(tweak_fast);
	uint8_t b[ICE_AGENT_PACKET_MAX];
	struct ice_tx tx;
	ck_assert_uint_gt(poll1(a, 0, b, &tx), 0);
	ck_assert_uint_eq(ice_agent_next_deadline(a, 0), 300);
	ck_assert_uint_gt(poll1(a, 300, b, &tx), 0);
	ck_assert_uint_eq(ice_agent_next_deadline(a, 300), 600);
	ck_assert_uint_eq(poll1(a, 600, b, &tx), 0);
	ck_assert_int_eq(pair_at(a, 0)->state, ICE_PAIR_FAILED);
	/* A candidate trickled at 1000 pushes the failure to 3000. */
	add_remote(a, 1000, "192.0.2.10:9000", "r2");
	while (poll1(a, 1000, b, &tx))
		;
	for (uint64_t t = 1000; t < 3000; t += 10) {
		while (poll1(a, t, b, &tx))
			;
		ck_assert_int_eq(ice_agent_state(a, NULL), ICE_AGENT_RUNNING);
	}
	ck_assert_uint_eq(poll1(a, 3000, b, &tx), 0);
	ck_assert_int_eq(ice_agent_state(a, NULL), ICE_AGENT_FAILED);
	ice_agent_free(a);
}
END_TEST

static void tweak_pac(struct ice_agent_config *c)
{
	tweak_fast(c);
	c->trickle_wait_ms = 0;
	c->pac_ms = 5000;
}

/* RFC 8863 4: with every pair failed and end-of-candidates from the peer,
 * the checklist still runs until the PAC timer (from the remote
 * credentials) expires, the agent awaiting the peer; then it fails. */
START_TEST(test_agent_pac_timer)
{
	struct ice_agent *a = single(tweak_pac);
	uint8_t b[ICE_AGENT_PACKET_MAX];
	struct ice_tx tx;
	ice_agent_end_of_remote(a, 0);
	ck_assert(!ice_agent_awaiting_peer(a, 0)); /* a check to make */
	ck_assert(!ice_agent_give_up(a, 0));
	for (uint64_t t = 0; t < 5000; t += 10) {
		while (poll1(a, t, b, &tx))
			;
		ck_assert_int_eq(ice_agent_state(a, NULL), ICE_AGENT_RUNNING);
	}
	ck_assert_int_eq(pair_at(a, 0)->state, ICE_PAIR_FAILED);
	ck_assert(ice_agent_awaiting_peer(a, 4990));
	ck_assert_uint_eq(ice_agent_next_deadline(a, 4990), 5000);
	ck_assert_uint_eq(poll1(a, 5000, b, &tx), 0);
	enum ice_fail_reason why;
	ck_assert_int_eq(ice_agent_state(a, &why), ICE_AGENT_FAILED);
	ck_assert_int_eq(why, ICE_FAIL_CHECKS);
	ck_assert(!ice_agent_awaiting_peer(a, 5000));
	ice_agent_free(a);
}
END_TEST

/* During the wait a check from the peer, from an address it never
 * signalled (its NAT's new mapping), makes a peer-reflexive pair whose
 * triggered check succeeds: the agent selects it instead of failing. */
START_TEST(test_agent_pac_late_check)
{
	struct ice_agent *a = single(tweak_pac);
	uint8_t b[ICE_AGENT_PACKET_MAX], o[ICE_AGENT_PACKET_MAX];
	struct ice_tx tx;
	ice_agent_end_of_remote(a, 0);
	uint64_t t = 0;
	for (; !ice_agent_awaiting_peer(a, t); t += 10) {
		ck_assert_uint_lt(t, 5000);
		while (poll1(a, t, b, &tx))
			;
	}
	size_t n = make_check(b, UFRAG_A ":" UFRAG_B, PWD_A, 12345, STUN_A_ICE_CONTROLLED, 7,
			      false, 3);
	recv_ok(a, t, 1, "203.0.113.50:5050", b, n, ICE_RECV_STUN);
	ck_assert(!ice_agent_awaiting_peer(a, t));
	bool answered = false;
	for (; t < 5000 && ice_agent_state(a, NULL) == ICE_AGENT_RUNNING; t += 10) {
		while (poll1(a, t, o, &tx)) {
			struct stun_msg m;
			decode(&m, o, tx.len);
			if (m.cls != STUN_REQUEST ||
			    !pbx_addr_equal(&tx.to, &(struct pbx_addr){
							    addr_of("203.0.113.50:5050").u,
							    addr_of("203.0.113.50:5050").len}))
				continue;
			struct pbx_addr mapped = addr_of("192.0.2.1:1000");
			size_t k = make_answer(b, o, tx.len, 0, &mapped, PWD_B);
			recv_ok(a, t, 1, "203.0.113.50:5050", b, k, ICE_RECV_STUN);
			answered = true;
		}
	}
	ck_assert(answered);
	ck_assert_int_eq(ice_agent_state(a, NULL), ICE_AGENT_COMPLETED);
	const struct ice_pair *sel;
	ck_assert_int_eq(ice_agent_selected(a, &sel), 0);
	ck_assert_int_eq(sel->remote_type, ICE_PRFLX);
	ice_agent_free(a);
}
END_TEST

/* The caller that knows no check can come (its own other agent failed or
 * waits too) ends the wait at once; an agent not awaiting is left be. */
START_TEST(test_agent_give_up)
{
	struct ice_agent *a = single(tweak_pac);
	uint8_t b[ICE_AGENT_PACKET_MAX];
	struct ice_tx tx;
	ice_agent_end_of_remote(a, 0);
	uint64_t t = 0;
	for (; !ice_agent_awaiting_peer(a, t); t += 10) {
		ck_assert(!ice_agent_give_up(a, t));
		ck_assert_uint_lt(t, 5000);
		while (poll1(a, t, b, &tx))
			;
	}
	ck_assert_int_eq(ice_agent_state(a, NULL), ICE_AGENT_RUNNING);
	ck_assert(ice_agent_give_up(a, t));
	enum ice_fail_reason why;
	ck_assert_int_eq(ice_agent_state(a, &why), ICE_AGENT_FAILED);
	ck_assert_int_eq(why, ICE_FAIL_CHECKS);
	ck_assert(!ice_agent_give_up(a, t));
	ice_agent_free(a);
}
END_TEST

/* Two agents back to back: checks both ways, regular nomination by the
 * controlling side, the same pair selected on both. */
START_TEST(test_agent_back_to_back)
{
	struct duo d = duo_new(50, 40, ICE_CONTROLLING, ICE_CONTROLLED, PWD_B, PWD_A);
	net_run(d.n, 5000);
	ck_assert_int_eq(ice_agent_state(d.a, NULL), ICE_AGENT_COMPLETED);
	ck_assert_int_eq(ice_agent_state(d.b, NULL), ICE_AGENT_COMPLETED);
	const struct ice_pair *pa, *pb;
	ck_assert_int_eq(ice_agent_selected(d.a, &pa), 0);
	ck_assert_int_eq(ice_agent_selected(d.b, &pb), 0);
	ck_assert(pbx_addr_equal(&pa->remote, &pb->local));
	ck_assert(pbx_addr_equal(&pb->remote, &pa->local));
	ck_assert(pa->nominated && pb->nominated && pa->valid && pb->valid);
	ck_assert(pa->selected);
	ck_assert_int_eq(pa->mapped_type, ICE_HOST);
	ck_assert_uint_ge(pa->rec.resp_ok, 2); /* the check and the nomination */
	ck_assert_uint_eq(pa->rec.rtt_min_ms, 10);
	ck_assert_uint_ge(pb->rec.use_cand_in, 1);
	ck_assert_uint_ge(pb->rec.req_in_ok, 2);
	ck_assert_uint_eq(pb->rec.req_in_bad_integrity, 0);
	ck_assert_int_eq(count_events(d.a, ICE_EV_SELECTED, -1), 1);
	ck_assert_int_eq(count_events(d.b, ICE_EV_NOMINATED, -1), 1);
	ck_assert_int_eq(ice_agent_role(d.a), ICE_CONTROLLING);

	/* Application data on the selected pair, and back. */
	int sock;
	struct pbx_addr to;
	ck_assert_int_eq(ice_agent_send(d.a, 5000, 5, &sock, &to), 0);
	ck_assert_int_eq(sock, 1);
	ck_assert(pbx_addr_equal(&to, &pb->local));
	recv_ok(d.b, 5000, 2, "192.0.2.1:1000", (const uint8_t *)"hello", 5, ICE_RECV_DATA);
	ck_assert_uint_eq(pb->rec.data_in, 1);
	ck_assert_uint_eq(pa->rec.data_out, 1);
	duo_free(&d);
}
END_TEST

/* Consent freshness: kept while the peer answers (checks every 4-6 s),
 * lost 30 s after the last answer, and then no more data. */
START_TEST(test_agent_consent)
{
	struct duo d = duo_new(50, 40, ICE_CONTROLLING, ICE_CONTROLLED, PWD_B, PWD_A);
	net_run(d.n, 2000);
	ck_assert_int_eq(ice_agent_state(d.a, NULL), ICE_AGENT_COMPLETED);
	const struct ice_pair *pa;
	ck_assert_int_eq(ice_agent_selected(d.a, &pa), 0);
	uint32_t ok0 = pa->rec.consent_ok;
	net_run(d.n, 62000);
	ck_assert_int_eq(ice_agent_state(d.a, NULL), ICE_AGENT_COMPLETED);
	ck_assert_int_eq(ice_agent_state(d.b, NULL), ICE_AGENT_COMPLETED);
	/* 60 s at 4-6 s: between 10 and 15 consent checks. */
	ck_assert_uint_ge(pa->rec.consent_sent, 10);
	ck_assert_uint_le(pa->rec.consent_sent, 15);
	ck_assert_uint_eq(pa->rec.consent_ok - ok0, pa->rec.consent_sent);
	ck_assert(!pa->rec.consent_lost);
	/* B goes silent. */
	d.n->mute[0] = d.b;
	uint64_t last_ok = pa->rec.last_resp_ms;
	net_run(d.n, last_ok + 29999);
	ck_assert_int_eq(ice_agent_state(d.a, NULL), ICE_AGENT_COMPLETED);
	net_run(d.n, last_ok + 30000);
	enum ice_fail_reason why;
	ck_assert_int_eq(ice_agent_state(d.a, &why), ICE_AGENT_FAILED);
	ck_assert_int_eq(why, ICE_FAIL_CONSENT);
	ck_assert(pa->rec.consent_lost);
	ck_assert_int_eq(count_events(d.a, ICE_EV_CONSENT_LOST, -1), 1);
	int sock;
	struct pbx_addr to;
	ck_assert_int_eq(ice_agent_send(d.a, 0, 1, &sock, &to), -EPIPE);
	duo_free(&d);
}
END_TEST

/* A wrong password told to B (for A): B's checks fail integrity at A
 * (401 back to B), while A's checks to B succeed: the one-way pattern. */
START_TEST(test_agent_wrong_password_one_way)
{
	struct duo d = duo_new(50, 40, ICE_CONTROLLING, ICE_CONTROLLED, PWD_B,
			       "wrongpassword-000000000");
	net_run(d.n, 3000);
	const struct ice_pair *pa = pair_at(d.a, 0), *pb = pair_at(d.b, 0);
	/* A: its checks are answered; B's checks to it failed integrity. */
	ck_assert_uint_ge(pa->rec.resp_ok, 1);
	ck_assert_uint_ge(pa->rec.req_in_bad_integrity, 1);
	ck_assert_uint_eq(pa->rec.req_in_ok, pa->rec.req_in - pa->rec.req_in_bad_integrity);
	/* B: A's checks pass, its own get 401. */
	ck_assert_uint_ge(pb->rec.err_401, 1);
	ck_assert_uint_eq(pb->rec.last_err, 401);
	ck_assert_uint_eq(pb->rec.resp_ok, 0);
	ck_assert_uint_ge(pb->rec.req_in_ok, 1);
	ck_assert_uint_eq(pb->rec.req_in_bad_integrity, 0);
	ck_assert_int_ge(count_events(d.b, ICE_EV_AUTH_FAILED, 401), 1);
	ck_assert_int_ge(count_events(d.a, ICE_EV_AUTH_FAILED, 0), 1);
	/* A nominated and selected (its checks work); B took the nomination
	 * on a pair whose own check failed, so it does not select it. */
	ck_assert_int_eq(ice_agent_state(d.a, NULL), ICE_AGENT_COMPLETED);
	ck_assert_int_ne(ice_agent_state(d.b, NULL), ICE_AGENT_COMPLETED);
	duo_free(&d);
}
END_TEST

/* Both controlling, or both controlled: the tie-breaker decides, one
 * switches, and the pair still completes. */
static void role_conflict_case(enum ice_role r, uint64_t tb_a, uint64_t tb_b)
{
	struct duo d = duo_new(tb_a, tb_b, r, r, PWD_B, PWD_A);
	net_run(d.n, 5000);
	ck_assert_int_eq(ice_agent_state(d.a, NULL), ICE_AGENT_COMPLETED);
	ck_assert_int_eq(ice_agent_state(d.b, NULL), ICE_AGENT_COMPLETED);
	struct ice_agent *big = tb_a > tb_b ? d.a : d.b, *small = tb_a > tb_b ? d.b : d.a;
	ck_assert_int_eq(ice_agent_role(big), ICE_CONTROLLING);
	ck_assert_int_eq(ice_agent_role(small), ICE_CONTROLLED);
	ck_assert_uint_ge(ice_agent_stats(d.a)->role_conflicts +
				  ice_agent_stats(d.b)->role_conflicts,
			  1);
	ck_assert_uint_eq(ice_agent_stats(d.a)->role_switches + ice_agent_stats(d.b)->role_switches,
			  1);
	const struct ice_pair *pa, *pb;
	ck_assert_int_eq(ice_agent_selected(d.a, &pa), 0);
	ck_assert_int_eq(ice_agent_selected(d.b, &pb), 0);
	ck_assert(pbx_addr_equal(&pa->remote, &pb->local));
	duo_free(&d);
}

START_TEST(test_agent_role_conflict_both_controlling)
{
	role_conflict_case(ICE_CONTROLLING, 900, 100);
	role_conflict_case(ICE_CONTROLLING, 100, 900);
}
END_TEST

START_TEST(test_agent_role_conflict_both_controlled)
{
	role_conflict_case(ICE_CONTROLLED, 900, 100);
	role_conflict_case(ICE_CONTROLLED, 100, 900);
}
END_TEST

/* 7.3.1.1 on single requests: controlling with a larger tie-breaker
 * answers 487; with a smaller one it switches to controlled. */
START_TEST(test_agent_role_conflict_request)
{
	uint8_t b[ICE_AGENT_PACKET_MAX], o[ICE_AGENT_PACKET_MAX];
	struct ice_tx tx;
	struct stun_msg m;
	struct ice_agent *a = single(NULL); /* tie-breaker 100 */
	size_t n = make_check(b, UFRAG_A ":" UFRAG_B, PWD_A, 1000, STUN_A_ICE_CONTROLLING, 99,
			      false, 1);
	recv_ok(a, 0, 1, "192.0.2.9:9000", b, n, ICE_RECV_STUN);
	ck_assert_uint_gt(poll1(a, 0, o, &tx), 0);
	decode(&m, o, tx.len);
	ck_assert_int_eq(error_code(&m), 487);
	ck_assert_int_ge(m.integrity, 0);
	ck_assert_int_eq(ice_agent_role(a), ICE_CONTROLLING);
	ck_assert_int_eq(count_events(a, ICE_EV_ROLE_CONFLICT, 487), 1);

	n = make_check(b, UFRAG_A ":" UFRAG_B, PWD_A, 1000, STUN_A_ICE_CONTROLLING, 101, false, 2);
	recv_ok(a, 1, 1, "192.0.2.9:9000", b, n, ICE_RECV_STUN);
	ck_assert_int_eq(ice_agent_role(a), ICE_CONTROLLED);
	ck_assert_uint_gt(poll1(a, 1, o, &tx), 0);
	decode(&m, o, tx.len);
	ck_assert_int_eq(m.cls, STUN_SUCCESS);
	ck_assert_uint_eq(pair_at(a, 0)->rec.req_in_conflict, 2);
	ck_assert_uint_eq(ice_agent_stats(a)->role_switches, 1);
	/* Our next check now says ICE-CONTROLLED. */
	ck_assert_uint_gt(poll1(a, 1, o, &tx), 0);
	decode(&m, o, tx.len);
	size_t i;
	ck_assert_int_eq(stun_msg_find(&m, STUN_A_ICE_CONTROLLED, 0, &i), 0);
	ice_agent_free(a);
}
END_TEST

/* A 487 answer to our check: switch role and check the pair again. */
START_TEST(test_agent_487_response)
{
	uint8_t b[ICE_AGENT_PACKET_MAX], o[ICE_AGENT_PACKET_MAX];
	struct ice_tx tx;
	struct stun_msg m;
	struct ice_agent *a = single(NULL);
	size_t n = poll1(a, 0, b, &tx);
	size_t r = make_answer(o, b, n, 487, NULL, PWD_B);
	recv_ok(a, 10, 1, "192.0.2.9:9000", o, r, ICE_RECV_STUN);
	ck_assert_int_eq(ice_agent_role(a), ICE_CONTROLLED);
	ck_assert_uint_eq(pair_at(a, 0)->rec.err_487, 1);
	ck_assert_int_eq(pair_at(a, 0)->state, ICE_PAIR_WAITING);
	ck_assert_uint_gt(poll1(a, 50, b, &tx), 0);
	decode(&m, b, tx.len);
	size_t i;
	ck_assert_int_eq(stun_msg_find(&m, STUN_A_ICE_CONTROLLED, 0, &i), 0);
	ck_assert_int_eq(pair_at(a, 0)->state, ICE_PAIR_IN_PROGRESS);
	ck_assert_int_eq(count_events(a, ICE_EV_ROLE_SWITCH, -1), 1);
	ice_agent_free(a);
}
END_TEST

/* The symmetric rule: an answer from another address fails the pair. */
START_TEST(test_agent_nonsymmetric)
{
	uint8_t b[ICE_AGENT_PACKET_MAX], o[ICE_AGENT_PACKET_MAX];
	struct ice_tx tx;
	struct ice_agent *a = single(NULL);
	size_t n = poll1(a, 0, b, &tx);
	struct pbx_addr mapped = addr_of("192.0.2.1:1000");
	size_t r = make_answer(o, b, n, 0, &mapped, PWD_B);
	recv_ok(a, 10, 1, "192.0.2.99:9999", o, r, ICE_RECV_STUN);
	const struct ice_pair *p = pair_at(a, 0);
	ck_assert_int_eq(p->state, ICE_PAIR_FAILED);
	ck_assert_uint_eq(p->rec.nonsymmetric, 1);
	ck_assert_uint_eq(p->rec.resp_ok, 0);
	ck_assert(!p->valid);
	ck_assert_int_eq(count_events(a, ICE_EV_NONSYMMETRIC, -1), 1);
	/* The stray address has its own record. */
	bool seen = false;
	for (size_t i = 0; i < ice_agent_peer_count(a); i++) {
		const struct ice_peer *pe;
		ice_agent_peer(a, i, &pe);
		if (pbx_addr_equal(&pe->addr, &(struct pbx_addr){addr_of("192.0.2.99:9999").u,
								  addr_of("192.0.2.99:9999").len}))
			seen = pe->rec.nonsymmetric == 1;
	}
	ck_assert(seen);
	ice_agent_free(a);
}
END_TEST

/* Answers that do not verify are dropped and counted; a success signed
 * with the right password and a new mapped address gives a prflx local
 * candidate (7.2.5.3.1). */
START_TEST(test_agent_response_integrity_and_prflx_local)
{
	uint8_t b[ICE_AGENT_PACKET_MAX], o[ICE_AGENT_PACKET_MAX];
	struct ice_tx tx;
	struct ice_agent *a = single(NULL);
	size_t n = poll1(a, 0, b, &tx);
	struct pbx_addr mapped = addr_of("203.0.113.7:7000");
	size_t r = make_answer(o, b, n, 0, &mapped, "not-the-password-of-B--");
	recv_ok(a, 10, 1, "192.0.2.9:9000", o, r, ICE_RECV_STUN);
	ck_assert_uint_eq(pair_at(a, 0)->rec.resp_bad_integrity, 1);
	ck_assert_int_eq(pair_at(a, 0)->state, ICE_PAIR_IN_PROGRESS);
	r = make_answer(o, b, n, 0, &mapped, NULL); /* unsigned success */
	recv_ok(a, 10, 1, "192.0.2.9:9000", o, r, ICE_RECV_STUN);
	ck_assert_uint_eq(pair_at(a, 0)->rec.resp_bad_integrity, 2);
	/* A transaction we never started. */
	uint8_t other[ICE_AGENT_PACKET_MAX];
	size_t on = make_check(other, UFRAG_B ":" UFRAG_A, PWD_B, 1, 0, 0, false, 0xEE);
	r = make_answer(o, other, on, 0, &mapped, PWD_B);
	recv_ok(a, 10, 1, "192.0.2.9:9000", o, r, ICE_RECV_STUN);
	ck_assert_uint_eq(ice_agent_stats(a)->unmatched_responses, 1);

	r = make_answer(o, b, n, 0, &mapped, PWD_B);
	recv_ok(a, 20, 1, "192.0.2.9:9000", o, r, ICE_RECV_STUN);
	const struct ice_pair *p = pair_at(a, 0);
	ck_assert_int_eq(p->state, ICE_PAIR_SUCCEEDED);
	ck_assert(p->valid);
	ck_assert_int_eq(p->mapped_type, ICE_PRFLX);
	ck_assert(pbx_addr_equal(&p->mapped, &mapped));
	ck_assert_uint_eq(p->rec.rtt_last_ms, 20);
	ck_assert_int_eq(count_events(a, ICE_EV_PRFLX_LOCAL, -1), 1);
	ice_agent_free(a);
}
END_TEST

/* A check from an unknown address: answered, learnt as a prflx remote
 * candidate with the request's priority, and checked back at once (a
 * triggered check goes before the waiting pairs). */
START_TEST(test_agent_triggered_and_prflx_remote)
{
	uint8_t b[ICE_AGENT_PACKET_MAX], o[ICE_AGENT_PACKET_MAX];
	struct ice_tx tx;
	struct stun_msg m;
	struct ice_agent *a = single(NULL);
	size_t n = poll1(a, 0, b, &tx); /* the first check, to 192.0.2.9 */
	ck_assert_uint_gt(n, 0);
	n = make_check(b, UFRAG_A ":" UFRAG_B, PWD_A, 12345, STUN_A_ICE_CONTROLLED, 7, false, 3);
	recv_ok(a, 10, 1, "203.0.113.50:5050", b, n, ICE_RECV_STUN);
	ck_assert_int_eq(count_events(a, ICE_EV_PRFLX_REMOTE, -1), 1);
	ck_assert_uint_eq(ice_agent_pair_count(a), 2);
	/* The answer first: success, signed, with the source address. */
	ck_assert_uint_gt(poll1(a, 10, o, &tx), 0);
	decode(&m, o, tx.len);
	ck_assert_int_eq(m.cls, STUN_SUCCESS);
	size_t i;
	struct pbx_addr x;
	ck_assert_int_eq(stun_msg_find(&m, STUN_A_XOR_MAPPED_ADDRESS, 0, &i), 0);
	ck_assert_int_eq(stun_attr_addr(&m, i, &x), 0);
	ck_assert(pbx_addr_equal(&x, &(struct pbx_addr){addr_of("203.0.113.50:5050").u,
							  addr_of("203.0.113.50:5050").len}));
	struct stun_key k;
	enum stun_integrity res;
	stun_integrity_key_short(&k, pbx_span_cstr(PWD_A));
	ck_assert_int_eq(stun_integrity_check(&m, &k, STUN_SHA256_FULL, &res), 0);
	ck_assert_int_eq(res, STUN_INTEGRITY_OK_SHA1);
	/* Then, one Ta after the first check, the triggered check. */
	ck_assert_uint_eq(poll1(a, 10, o, &tx), 0);
	ck_assert_uint_gt(poll1(a, 50, o, &tx), 0);
	ck_assert(pbx_addr_equal(&tx.to, &x));
	const struct ice_pair *pp = NULL;
	for (size_t j = 0; j < ice_agent_pair_count(a); j++)
		if (pbx_addr_equal(&pair_at(a, j)->remote, &x))
			pp = pair_at(a, j);
	ck_assert_ptr_nonnull(pp);
	ck_assert_int_eq(pp->remote_type, ICE_PRFLX);
	ck_assert_int_eq(pp->state, ICE_PAIR_IN_PROGRESS);
	ck_assert_uint_eq(pp->rec.req_in_ok, 1);
	ck_assert_uint_eq(pp->rec.first_in_ms, 10);
	/* The peer's signalled candidate for that address replaces the prflx. */
	add_local(a, 2, "192.0.2.2:1000", "h2");
	ck_assert_uint_eq(ice_agent_pair_count(a), 3); /* prflx remotes pair with no new local */
	add_remote(a, 60, "203.0.113.50:5050", "sig");
	ck_assert_int_eq(pp->remote_type, ICE_HOST);
	ck_assert_str_eq(pp->remote_foundation, "sig");
	ck_assert_uint_eq(ice_agent_pair_count(a), 4); /* ... but a signalled one does */
	ck_assert_uint_eq(ice_agent_stats(a)->pairs_pruned, 0);
	ice_agent_free(a);
}
END_TEST

/* A check before the remote credentials: answered, recorded, and checked
 * back once the description comes (RFC 8445 7.3.1). */
START_TEST(test_agent_check_before_credentials)
{
	uint8_t b[ICE_AGENT_PACKET_MAX], o[ICE_AGENT_PACKET_MAX];
	struct ice_tx tx;
	struct stun_msg m;
	struct ice_agent *a = agent(ICE_CONTROLLED, 5, UFRAG_A, PWD_A, NULL);
	add_local(a, 1, "192.0.2.1:1000", "ha");
	size_t n =
		make_check(b, UFRAG_A ":" UFRAG_B, PWD_A, 777, STUN_A_ICE_CONTROLLING, 9, true, 4);
	recv_ok(a, 0, 1, "198.51.100.5:5000", b, n, ICE_RECV_STUN);
	ck_assert_uint_gt(poll1(a, 0, o, &tx), 0);
	decode(&m, o, tx.len);
	ck_assert_int_eq(m.cls, STUN_SUCCESS);
	ck_assert_uint_eq(poll1(a, 100, o, &tx), 0); /* no check without credentials */
	ck_assert_uint_eq(ice_agent_stats(a)->early_checks, 1);
	ck_assert_int_eq(count_events(a, ICE_EV_EARLY_CHECK, -1), 1);
	const struct ice_peer *pe;
	ck_assert_int_eq(ice_agent_peer(a, 0, &pe), 0);
	ck_assert_uint_eq(pe->rec.req_in_early, 1);
	ck_assert_uint_eq(pe->rec.use_cand_in, 1);

	set_remote(a, 200, UFRAG_B, PWD_B);
	ck_assert_uint_eq(ice_agent_pair_count(a), 1);
	ck_assert_int_eq(pair_at(a, 0)->remote_type, ICE_PRFLX);
	n = poll1(a, 200, o, &tx);
	ck_assert_uint_gt(n, 0);
	ck_assert(pbx_addr_equal(&tx.to, &pe->addr));
	/* Its answer succeeds the pair, and the earlier USE-CANDIDATE
	 * nominates it: the controlled side selects. */
	struct pbx_addr mapped = addr_of("192.0.2.1:1000");
	size_t r = make_answer(b, o, n, 0, &mapped, PWD_B);
	recv_ok(a, 210, 1, "198.51.100.5:5000", b, r, ICE_RECV_STUN);
	const struct ice_pair *p;
	ck_assert_int_eq(ice_agent_selected(a, &p), 0);
	ck_assert(p->nominated);
	ck_assert_int_eq(ice_agent_state(a, NULL), ICE_AGENT_COMPLETED);
	ice_agent_free(a);
}
END_TEST

/* Requests failing authentication: 400 without USERNAME or integrity,
 * 401 for another ufrag or a wrong password; each recorded. */
START_TEST(test_agent_request_auth)
{
	uint8_t b[ICE_AGENT_PACKET_MAX], o[ICE_AGENT_PACKET_MAX];
	struct ice_tx tx;
	struct stun_msg m;
	struct ice_agent *a = single(NULL);
	const char *from = "192.0.2.9:9000";
	size_t n = make_check(b, NULL, PWD_A, 1, STUN_A_ICE_CONTROLLED, 1, false, 5);
	recv_ok(a, 0, 1, from, b, n, ICE_RECV_STUN);
	n = make_check(b, UFRAG_A ":" UFRAG_B, NULL, 1, STUN_A_ICE_CONTROLLED, 1, false, 6);
	recv_ok(a, 0, 1, from, b, n, ICE_RECV_STUN);
	n = make_check(b, "zzzz:" UFRAG_B, PWD_A, 1, STUN_A_ICE_CONTROLLED, 1, false, 7);
	recv_ok(a, 0, 1, from, b, n, ICE_RECV_STUN);
	n = make_check(b, UFRAG_A ":" UFRAG_B, PWD_B, 1, STUN_A_ICE_CONTROLLED, 1, false, 8);
	recv_ok(a, 0, 1, from, b, n, ICE_RECV_STUN);
	n = make_check(b, UFRAG_A ":" UFRAG_B, PWD_A, 0, STUN_A_ICE_CONTROLLED, 1, false, 9);
	recv_ok(a, 0, 1, from, b, n, ICE_RECV_STUN);
	n = make_check(b, UFRAG_A ":other", PWD_A, 5, STUN_A_ICE_CONTROLLED, 1, false, 10);
	recv_ok(a, 0, 1, from, b, n, ICE_RECV_STUN);
	const int want[] = {400, 400, 401, 401, 400, 0};
	for (size_t i = 0; i < 6; i++) {
		ck_assert_uint_gt(poll1(a, 0, o, &tx), 0);
		decode(&m, o, tx.len);
		ck_assert_uint_eq(m.tid[0], 5 + i);
		ck_assert_int_eq(error_code(&m), want[i]);
		/* 400/401 answers are unsigned: we cannot sign for an unknown key. */
		if (want[i] == 401 || i < 2)
			ck_assert_int_lt(m.integrity, 0);
	}
	const struct ice_pair *p = pair_at(a, 0);
	ck_assert_uint_eq(p->rec.req_in, 6);
	ck_assert_uint_eq(p->rec.req_in_no_auth, 3);
	ck_assert_uint_eq(p->rec.req_in_bad_username, 1);
	ck_assert_uint_eq(p->rec.req_in_bad_integrity, 1);
	ck_assert_uint_eq(p->rec.req_in_ok, 1);
	ck_assert_uint_eq(p->rec.req_in_wrong_remote, 1);
	ice_agent_free(a);
}
END_TEST

/* Non-STUN is the caller's data; broken STUN is dropped; caller reports
 * land in the records. */
START_TEST(test_agent_demux_and_reports)
{
	struct ice_agent *a = single(NULL);
	uint8_t rtp[12] = {0x80, 0};
	uint8_t junk[20] = {0x00, 0x01, 0x00, 0x08};
	recv_ok(a, 0, 1, "192.0.2.9:9000", rtp, sizeof rtp, ICE_RECV_DATA);
	recv_ok(a, 0, 1, "192.0.2.77:1", rtp, sizeof rtp, ICE_RECV_DATA);
	recv_ok(a, 0, 1, "192.0.2.9:9000", junk, sizeof junk, ICE_RECV_DROPPED);
	ck_assert_uint_eq(pair_at(a, 0)->rec.data_in, 1);
	ck_assert_uint_eq(ice_agent_stats(a)->data_unpaired, 1);
	ck_assert_uint_eq(ice_agent_stats(a)->malformed, 1);
	struct pbx_addr to = addr_of("192.0.2.9:9000");
	ice_agent_report(a, 0, 1, &to, ICE_REPORT_ICMP, 3);
	ice_agent_report(a, 0, 1, NULL, ICE_REPORT_TURN_LOST, 437);
	ice_agent_report(a, 0, 1, &to, ICE_REPORT_TURN_REFUSED, 403);
	ck_assert_uint_eq(pair_at(a, 0)->rec.icmp, 1);
	ck_assert_uint_eq(pair_at(a, 0)->rec.turn_errors, 2);
	ck_assert_uint_eq(pair_at(a, 0)->rec.last_turn_code, 403);
	enum ice_recv_kind kind;
	struct pbx_addr none;
	memset(&none, 0, sizeof none);
	ck_assert_int_eq(ice_agent_recv(a, 0, 1, &none, rtp, 1, &kind), PBX_E_INVALID);
	int sock;
	ck_assert_int_eq(ice_agent_send(a, 0, 1, &sock, &to), PBX_E_NOTFOUND);
	ice_agent_free(a);
}
END_TEST

/* With no pair at all, end-of-candidates from the peer ends the run: no
 * check can come, so the RFC 8863 wait (default config) does not hold it. */
START_TEST(test_agent_no_pairs)
{
	struct ice_agent *a = agent(ICE_CONTROLLING, 1, UFRAG_A, PWD_A, NULL);
	uint8_t b[ICE_AGENT_PACKET_MAX];
	struct ice_tx tx;
	add_local(a, 1, "192.0.2.1:1000", "ha");
	ice_agent_end_of_local(a, 0);
	set_remote(a, 0, UFRAG_B, PWD_B);
	add_remote(a, 0, "[2001:db8::9]:9", "v6only");
	ck_assert_uint_eq(ice_agent_pair_count(a), 0);
	ck_assert_uint_eq(poll1(a, 10, b, &tx), 0);
	ck_assert_int_eq(ice_agent_state(a, NULL), ICE_AGENT_RUNNING);
	ice_agent_end_of_remote(a, 20);
	struct ice_cand late = cand(ICE_HOST, "192.0.2.9:9", 1, "late");
	ck_assert_int_eq(ice_agent_add_remote(a, 20, &late), PBX_E_INVALID);
	ck_assert_uint_eq(poll1(a, 20, b, &tx), 0);
	ck_assert_int_eq(ice_agent_state(a, NULL), ICE_AGENT_FAILED);
	ice_agent_free(a);
}
END_TEST

static void tweak_timeout(struct ice_agent_config *c)
{
	c->fail_timeout_ms = 1000;
}

START_TEST(test_agent_fail_timeout_and_names)
{
	struct ice_agent *a = single(tweak_timeout);
	uint8_t b[ICE_AGENT_PACKET_MAX];
	struct ice_tx tx;
	poll1(a, 0, b, &tx);
	ck_assert_uint_le(ice_agent_next_deadline(a, 0), 500);
	poll1(a, 999, b, &tx);
	ck_assert_int_eq(ice_agent_state(a, NULL), ICE_AGENT_RUNNING);
	poll1(a, 1000, b, &tx);
	enum ice_fail_reason why;
	ck_assert_int_eq(ice_agent_state(a, &why), ICE_AGENT_FAILED);
	ck_assert_str_eq(ice_fail_reason_name(why), "timeout");
	ck_assert_str_eq(ice_pair_state_name(ICE_PAIR_IN_PROGRESS), "in-progress");
	ck_assert_str_eq(ice_event_name(ICE_EV_CONSENT_LOST), "consent-lost");
	ck_assert_str_eq(ice_role_name(ICE_CONTROLLED), "controlled");
	ck_assert_str_eq(ice_pair_state_name((enum ice_pair_state)9), "?");
	ice_agent_free(a);
}
END_TEST

/* Through a NAT: B's packets come from 203.0.113.2:3000 that B never
 * signalled; both still complete, A over a prflx remote, B with a prflx
 * local. */
START_TEST(test_agent_behind_nat)
{
	struct net *n = net_new();
	struct ice_agent *a = agent(ICE_CONTROLLING, 50, UFRAG_A, PWD_A, NULL);
	struct ice_agent *b = agent(ICE_CONTROLLED, 40, UFRAG_B, PWD_B, NULL);
	add_local(a, 1, "192.0.2.1:1000", "ha");
	add_local(b, 2, "10.0.0.2:2000", "hb");
	net_ep(n, a, 1, "192.0.2.1:1000", NULL);
	net_ep(n, b, 2, "10.0.0.2:2000", "203.0.113.2:3000");
	n->ep[1].hidden = true;
	set_remote(a, 0, UFRAG_B, PWD_B);
	set_remote(b, 0, UFRAG_A, PWD_A);
	add_remote(a, 0, "10.0.0.2:2000", "hb"); /* unreachable private address */
	add_remote(b, 0, "192.0.2.1:1000", "ha");
	net_run(n, 5000);
	ck_assert_int_eq(ice_agent_state(a, NULL), ICE_AGENT_COMPLETED);
	ck_assert_int_eq(ice_agent_state(b, NULL), ICE_AGENT_COMPLETED);
	const struct ice_pair *pa, *pb;
	ck_assert_int_eq(ice_agent_selected(a, &pa), 0);
	ck_assert_int_eq(ice_agent_selected(b, &pb), 0);
	ck_assert_int_eq(pa->remote_type, ICE_PRFLX);
	ck_assert_int_eq(pb->mapped_type, ICE_PRFLX);
	char text[PBX_ADDRSTRLEN];
	pbx_addr_format(&pa->remote, text, sizeof text);
	ck_assert_str_eq(text, "203.0.113.2:3000");
	ice_agent_free(a);
	ice_agent_free(b);
	free(n);
}
END_TEST

static bool has_use_cand(const uint8_t *b, size_t len)
{
	struct stun_msg m;
	size_t i;
	decode(&m, b, len);
	return stun_msg_find(&m, STUN_A_USE_CANDIDATE, 0, &i) == 0;
}

/* Regular nomination waits for better pairs still being checked, up to
 * nominate_wait_ms after the first valid pair (RFC 8445 8.1.1). */
static void nomination_case(bool better_answers)
{
	uint8_t b1[ICE_AGENT_PACKET_MAX], b2[ICE_AGENT_PACKET_MAX], o[ICE_AGENT_PACKET_MAX];
	struct ice_tx tx;
	struct ice_agent *a = agent(ICE_CONTROLLING, 9, UFRAG_A, PWD_A, NULL);
	add_local(a, 1, "192.0.2.1:1000", "ha");
	set_remote(a, 0, UFRAG_B, PWD_B);
	struct ice_cand hi = cand(ICE_HOST, "198.51.100.1:1", 60000, "hi");
	struct ice_cand lo = cand(ICE_RELAY, "198.51.100.2:2", 100, "lo");
	ice_agent_add_remote(a, 0, &hi);
	ice_agent_add_remote(a, 0, &lo);
	struct pbx_addr mapped = addr_of("192.0.2.1:1000");
	size_t n1 = poll1(a, 0, b1, &tx);
	ck_assert(pbx_addr_equal(&tx.to, &hi.addr));
	size_t n2 = poll1(a, 50, b2, &tx);
	ck_assert(pbx_addr_equal(&tx.to, &lo.addr));
	size_t r = make_answer(o, b2, n2, 0, &mapped, PWD_B);
	recv_ok(a, 60, 1, "198.51.100.2:2", o, r, ICE_RECV_STUN);
	ck_assert(pair_at(a, 1)->valid);
	/* The better pair is still in progress: no nomination yet. */
	for (uint64_t t = 60; t < 300; t += 10)
		while (poll1(a, t, o, &tx))
			ck_assert(!has_use_cand(o, tx.len));
	if (better_answers) {
		r = make_answer(o, b1, n1, 0, &mapped, PWD_B);
		recv_ok(a, 300, 1, "198.51.100.1:1", o, r, ICE_RECV_STUN);
		ck_assert_uint_gt(poll1(a, 300, o, &tx), 0);
		ck_assert(has_use_cand(o, tx.len));
		ck_assert(pbx_addr_equal(&tx.to, &hi.addr));
	} else {
		/* 500 ms after the first valid pair, the valid one is taken. */
		for (uint64_t t = 300; t < 560; t += 10)
			while (poll1(a, t, o, &tx))
				ck_assert(!has_use_cand(o, tx.len));
		ck_assert_uint_eq(ice_agent_next_deadline(a, 550), 560);
		ck_assert_uint_gt(poll1(a, 560, o, &tx), 0);
		ck_assert(has_use_cand(o, tx.len));
		ck_assert(pbx_addr_equal(&tx.to, &lo.addr));
	}
	/* Its success nominates and selects. */
	size_t n = tx.len;
	memcpy(b1, o, n);
	r = make_answer(o, b1, n, 0, &mapped, PWD_B);
	recv_ok(a, 600, 1, better_answers ? "198.51.100.1:1" : "198.51.100.2:2", o, r,
		ICE_RECV_STUN);
	const struct ice_pair *p;
	ck_assert_int_eq(ice_agent_selected(a, &p), 0);
	ck_assert(pbx_addr_equal(&p->remote, better_answers ? &hi.addr : &lo.addr));
	ck_assert_int_eq(ice_agent_state(a, NULL), ICE_AGENT_COMPLETED);
	ice_agent_free(a);
}

START_TEST(test_agent_nomination_waits_for_better)
{
	nomination_case(true);
	nomination_case(false);
}
END_TEST

/* Against an ice-lite peer we are controlling (RFC 8445 6.1.1). */
START_TEST(test_agent_lite_peer)
{
	struct ice_agent *a = agent(ICE_CONTROLLED, 1, UFRAG_A, PWD_A, NULL);
	ck_assert_int_eq(ice_agent_set_remote(a, 0, pbx_span_cstr(UFRAG_B), pbx_span_cstr(PWD_B),
					      true),
			 0);
	ck_assert_int_eq(ice_agent_role(a), ICE_CONTROLLING);
	ck_assert_int_eq(count_events(a, ICE_EV_ROLE_SWITCH, -1), 1);
	ice_agent_free(a);
}
END_TEST

/* A check from the peer on a pair in progress cancels our check and
 * triggers a new one (RFC 8445 7.3.1.4); the cancelled check is no longer
 * retransmitted, but its answer still counts. */
START_TEST(test_agent_triggered_cancels_in_progress)
{
	uint8_t b[ICE_AGENT_PACKET_MAX], c[ICE_AGENT_PACKET_MAX], o[ICE_AGENT_PACKET_MAX];
	struct ice_tx tx;
	struct stun_msg m1, m2;
	struct ice_agent *a = single(NULL);
	size_t n1 = poll1(a, 0, b, &tx);
	decode(&m1, b, n1);
	size_t n = make_check(c, UFRAG_A ":" UFRAG_B, PWD_A, 5000, STUN_A_ICE_CONTROLLED, 1, false,
			      0x31);
	recv_ok(a, 100, 1, "192.0.2.9:9000", c, n, ICE_RECV_STUN);
	ck_assert_int_eq(pair_at(a, 0)->state, ICE_PAIR_WAITING);
	ck_assert_uint_gt(poll1(a, 100, o, &tx), 0); /* our answer */
	size_t n2 = poll1(a, 100, c, &tx);           /* the triggered check */
	ck_assert_uint_gt(n2, 0);
	decode(&m2, c, n2);
	ck_assert_mem_ne(m1.tid, m2.tid, STUN_TID_LEN);
	ck_assert_uint_eq(pair_at(a, 0)->rec.checks, 2);
	/* At 500 the first check would have been retransmitted: only the
	 * triggered one is (at 100 + 500). */
	ck_assert_uint_eq(poll1(a, 500, o, &tx), 0);
	ck_assert_uint_gt(poll1(a, 600, o, &tx), 0);
	struct stun_msg m3;
	decode(&m3, o, tx.len);
	ck_assert_mem_eq(m3.tid, m2.tid, STUN_TID_LEN);
	/* The first check's late answer succeeds the pair. */
	struct pbx_addr mapped = addr_of("192.0.2.1:1000");
	size_t r = make_answer(o, b, n1, 0, &mapped, PWD_B);
	recv_ok(a, 700, 1, "192.0.2.9:9000", o, r, ICE_RECV_STUN);
	ck_assert_int_eq(pair_at(a, 0)->state, ICE_PAIR_SUCCEEDED);
	ck_assert_uint_eq(pair_at(a, 0)->rec.rtt_last_ms, 700);
	ck_assert_uint_eq(ice_agent_stats(a)->unmatched_responses, 0);
	ice_agent_free(a);
}
END_TEST

/* Both behind endpoint-independent NATs, each signalling host and srflx
 * candidates: the private hosts cannot reach each other, the srflx pairs
 * can.  Both select the srflx path; the mapped address matches the srflx
 * candidate (no prflx); the host pair's record shows checks without
 * answers. */
START_TEST(test_agent_both_behind_nat)
{
	struct net *n = net_new();
	struct ice_agent *a = agent(ICE_CONTROLLING, 77, UFRAG_A, PWD_A, NULL);
	struct ice_agent *b = agent(ICE_CONTROLLED, 66, UFRAG_B, PWD_B, NULL);
	struct ice_cand ha = cand(ICE_HOST, "10.1.0.1:1000", 65535, "ha");
	struct ice_cand sa = cand(ICE_SRFLX, "198.18.1.2:40000", 65535, "sa");
	struct ice_cand hb = cand(ICE_HOST, "10.2.0.1:2000", 65535, "hb");
	struct ice_cand sb = cand(ICE_SRFLX, "198.18.2.2:50000", 65535, "sb");
	ck_assert_int_eq(ice_agent_add_local(a, 0, &ha, 1, &ha.addr), 0);
	ck_assert_int_eq(ice_agent_add_local(a, 0, &sa, 1, &ha.addr), 0);
	ck_assert_int_eq(ice_agent_add_local(b, 0, &hb, 2, &hb.addr), 0);
	ck_assert_int_eq(ice_agent_add_local(b, 0, &sb, 2, &hb.addr), 0);
	ice_agent_end_of_local(a, 0);
	ice_agent_end_of_local(b, 0);
	net_ep(n, a, 1, "10.1.0.1:1000", "198.18.1.2:40000");
	net_ep(n, b, 2, "10.2.0.1:2000", "198.18.2.2:50000");
	n->ep[0].hidden = n->ep[1].hidden = true;
	set_remote(a, 0, UFRAG_B, PWD_B);
	set_remote(b, 0, UFRAG_A, PWD_A);
	/* Trickled in over the first 100 ms, then end-of-candidates. */
	ck_assert_int_eq(ice_agent_add_remote(a, 0, &hb), 0);
	ck_assert_int_eq(ice_agent_add_remote(b, 0, &ha), 0);
	net_run(n, 100);
	ck_assert_int_eq(ice_agent_add_remote(a, 100, &sb), 0);
	ck_assert_int_eq(ice_agent_add_remote(b, 100, &sa), 0);
	ice_agent_end_of_remote(a, 100);
	ice_agent_end_of_remote(b, 100);
	ck_assert_uint_eq(ice_agent_pair_count(a), 2);
	net_run(n, 5000);
	ck_assert_int_eq(ice_agent_state(a, NULL), ICE_AGENT_COMPLETED);
	ck_assert_int_eq(ice_agent_state(b, NULL), ICE_AGENT_COMPLETED);
	const struct ice_pair *pa, *pb;
	ck_assert_int_eq(ice_agent_selected(a, &pa), 0);
	ck_assert_int_eq(ice_agent_selected(b, &pb), 0);
	ck_assert(pbx_addr_equal(&pa->remote, &sb.addr));
	ck_assert(pbx_addr_equal(&pb->remote, &sa.addr));
	ck_assert(pbx_addr_equal(&pa->local, &ha.addr));
	ck_assert_int_eq(pa->local_type, ICE_HOST);
	ck_assert_int_eq(pa->remote_type, ICE_SRFLX);
	ck_assert_int_eq(pa->mapped_type, ICE_SRFLX);
	ck_assert(pbx_addr_equal(&pa->mapped, &sa.addr));
	for (size_t i = 0; i < ice_agent_pair_count(a); i++) {
		const struct ice_pair *p = pair_at(a, i);
		if (!pbx_addr_equal(&p->remote, &hb.addr))
			continue;
		ck_assert_uint_ge(p->rec.req_sent, 1);
		ck_assert_uint_eq(p->rec.resp_ok, 0);
		ck_assert_uint_eq(p->rec.req_in, 0);
	}
	ice_agent_free(a);
	ice_agent_free(b);
	free(n);
}
END_TEST

static Suite *ice_agent_suite(void)
{
	Suite *s = suite_create("ice_agent");
	TCase *tc = tcase_create("agent");
	tcase_add_test(tc, test_agent_config_refused);
	tcase_add_test(tc, test_agent_pair_formation);
	tcase_add_test(tc, test_agent_pair_limit);
	tcase_add_test(tc, test_agent_pacing_and_check_contents);
	tcase_add_test(tc, test_agent_retransmissions_and_trickle_failure);
	tcase_add_test(tc, test_agent_caps_and_trickle_wait);
	tcase_add_test(tc, test_agent_pac_timer);
	tcase_add_test(tc, test_agent_pac_late_check);
	tcase_add_test(tc, test_agent_give_up);
	tcase_add_test(tc, test_agent_back_to_back);
	tcase_add_test(tc, test_agent_consent);
	tcase_add_test(tc, test_agent_wrong_password_one_way);
	tcase_add_test(tc, test_agent_role_conflict_both_controlling);
	tcase_add_test(tc, test_agent_role_conflict_both_controlled);
	tcase_add_test(tc, test_agent_role_conflict_request);
	tcase_add_test(tc, test_agent_487_response);
	tcase_add_test(tc, test_agent_nonsymmetric);
	tcase_add_test(tc, test_agent_response_integrity_and_prflx_local);
	tcase_add_test(tc, test_agent_triggered_and_prflx_remote);
	tcase_add_test(tc, test_agent_check_before_credentials);
	tcase_add_test(tc, test_agent_request_auth);
	tcase_add_test(tc, test_agent_demux_and_reports);
	tcase_add_test(tc, test_agent_no_pairs);
	tcase_add_test(tc, test_agent_fail_timeout_and_names);
	tcase_add_test(tc, test_agent_behind_nat);
	tcase_add_test(tc, test_agent_nomination_waits_for_better);
	tcase_add_test(tc, test_agent_lite_peer);
	tcase_add_test(tc, test_agent_triggered_cancels_in_progress);
	tcase_add_test(tc, test_agent_both_behind_nat);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ice_agent_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
