/* test_natd_probe.c - unit tests for natd's probe engine (natd/probe.c),
 * its server list (natd/servers.c) and evidence (natd/report.c): a
 * scripted world of a NAT of each type and STUN servers that answer as
 * RFC 5780 servers, as RFC 3489 servers, without an other address,
 * ignoring change requests, with errors, or not at all; the engine's
 * datagrams go through it and its answers come back, on a simulated
 * clock. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/addr.h>
#include <pbxedge/stun.h>

#include "natd.h"

/* ---- the world ---- */

enum server_kind {
	SRV_RFC5780,     /* XOR-MAPPED-ADDRESS, OTHER-ADDRESS, RESPONSE-ORIGIN */
	SRV_RFC3489,     /* MAPPED-ADDRESS, CHANGED-ADDRESS, SOURCE-ADDRESS */
	SRV_RFC3489_ONLY,/* as SRV_RFC3489, and drops requests with the magic cookie */
	SRV_NO_OTHER,    /* XOR-MAPPED-ADDRESS only */
	SRV_NO_CHANGE,   /* ignores CHANGE-REQUEST: answers from where asked */
	SRV_ERROR,       /* answers 500 */
	SRV_DEAD,        /* never answers */
};

struct world {
	bool nat;                       /* false: no NAT (public addresses) */
	enum natd_behaviour mapping;    /* with nat */
	enum natd_behaviour filtering;  /* also a firewall without nat */
	bool hairpin;
	enum server_kind kind[2];       /* server of member 0 and member 1 */
	int latency[2];                 /* ms until member i answers */
	/* Per socket, the (address, port) pairs it sent to. */
	struct pbx_addr sent[NATD_MAX_SOCKS][32];
	size_t n_sent[NATD_MAX_SOCKS];
	/* Datagrams in flight. */
	struct flight {
		int64_t at;
		size_t sock;
		struct pbx_addr from;
		size_t len;
		uint8_t buf[256];
	} q[64];
	size_t nq;
	int requests_seen;
};

static struct pbx_addr A(const char *text)
{
	struct pbx_addr a;
	ck_assert_int_eq(pbx_addr_parse(pbx_span_cstr(text), 3478, 0, &a, NULL), 0);
	return a;
}

static bool same_ip(const struct pbx_addr *a, const struct pbx_addr *b)
{
	struct pbx_addr x = *a, y = *b;
	pbx_addr_set_port(&x, 0);
	pbx_addr_set_port(&y, 0);
	return pbx_addr_equal(&x, &y);
}

/* Server s (0 or 1) lives at 192.0.2.(2s+1):3478 with its alternate at
 * 192.0.2.(2s+2):3479. */
static struct pbx_addr srv_addr(int s, bool alt_ip, bool alt_port)
{
	char text[32];
	snprintf(text, sizeof text, "192.0.2.%d:%d", 2 * s + 1 + alt_ip, 3478 + alt_port);
	return A(text);
}

static struct pbx_addr local_addr(size_t sock)
{
	char text[32];
	snprintf(text, sizeof text, "%s:%zu", "10.0.0.2", 5000 + sock);
	return A(text);
}

static struct pbx_addr ext_ip_addr(void)
{
	return A("203.0.113.1");
}

/* The mapped address of sock towards dest. */
static struct pbx_addr mapped(const struct world *w, size_t sock, const struct pbx_addr *dest)
{
	if (!w->nat)
		return local_addr(sock);
	struct pbx_addr m = ext_ip_addr();
	unsigned port = 40000 + 100 * (unsigned)sock;
	const uint8_t *ip = (const uint8_t *)&dest->u.sin.sin_addr;
	if (w->mapping == NATD_B_AD || w->mapping == NATD_B_APD)
		port += ip[3];
	if (w->mapping == NATD_B_APD)
		port += 50 * (pbx_addr_port(dest) - 3478);
	pbx_addr_set_port(&m, (uint16_t)port);
	return m;
}

static bool filter_passes(const struct world *w, size_t sock, const struct pbx_addr *src)
{
	enum natd_behaviour f = w->filtering;
	if (f == NATD_B_EI || f == NATD_B_UNKNOWN)
		return true;
	for (size_t i = 0; i < w->n_sent[sock]; i++) {
		if (f == NATD_B_AD && same_ip(&w->sent[sock][i], src))
			return true;
		if (f == NATD_B_APD && pbx_addr_equal(&w->sent[sock][i], src))
			return true;
	}
	return false;
}

static void deliver(struct world *w, int64_t at, size_t sock, const struct pbx_addr *from,
		    const void *buf, size_t len)
{
	ck_assert_uint_lt(w->nq, 64);
	ck_assert_uint_le(len, 256);
	struct flight *f = &w->q[w->nq++];
	f->at = at;
	f->sock = sock;
	f->from = *from;
	f->len = len;
	memcpy(f->buf, buf, len);
}

static void put_addr(struct stun_enc *e, uint16_t type, const struct pbx_addr *a)
{
	ck_assert_int_eq(stun_attr_put_addr(e, type, a), 0);
}

/* A request from sock reaches dest. */
static void world_send(struct world *w, int64_t now, const struct natd_send *s)
{
	const struct pbx_addr *dest = &s->to;
	struct pbx_addr src = mapped(w, s->sock, dest);
	if (w->n_sent[s->sock] < 32)
		w->sent[s->sock][w->n_sent[s->sock]++] = *dest;
	w->requests_seen++;

	/* Hairpinning: to a mapped address of this NAT (or, without one, to
	 * a local socket). */
	for (size_t k = 0; k < NATD_MAX_SOCKS; k++) {
		struct pbx_addr target = w->nat ? mapped(w, k, &(struct pbx_addr){ 0 }) : local_addr(k);
		if (w->nat && w->mapping != NATD_B_EI)
			continue; /* dependent mappings: no stable target to aim at */
		if (!pbx_addr_equal(&target, dest))
			continue;
		if (!w->nat || w->hairpin)
			deliver(w, now, k, &src, s->buf, s->len);
		return;
	}

	int srv = -1;
	bool alt_ip = false, alt_port = false;
	for (int i = 0; i < 2; i++)
		for (int ip = 0; ip < 2; ip++)
			for (int port = 0; port < 2; port++) {
				struct pbx_addr a = srv_addr(i, ip, port);
				if (pbx_addr_equal(&a, dest)) {
					srv = i;
					alt_ip = ip;
					alt_port = port;
				}
			}
	if (srv < 0 || w->kind[srv] == SRV_DEAD)
		return;

	struct stun_msg m;
	ck_assert_int_eq(stun_msg_decode(&m, s->buf, s->len), 0);
	ck_assert_int_eq(m.method, STUN_BINDING);
	ck_assert_int_eq(m.cls, STUN_REQUEST);
	unsigned change = 0;
	size_t i;
	if (stun_msg_find(&m, STUN_A_CHANGE_REQUEST, 0, &i) == 0)
		ck_assert_int_eq(stun_attr_change_request(&m, i, &change), 0);
	enum server_kind kind = w->kind[srv];
	if (kind == SRV_RFC3489_ONLY && m.kind != STUN_KIND_RFC3489)
		return;
	/* A classic request gets a classic answer, whatever else the server
	 * speaks (the XOR forms need the magic cookie). */
	if (m.kind == STUN_KIND_RFC3489 && (kind == SRV_RFC5780 || kind == SRV_NO_OTHER))
		kind = kind == SRV_NO_OTHER ? SRV_NO_OTHER : SRV_RFC3489;
	if (kind != SRV_NO_CHANGE) {
		alt_ip ^= (change & STUN_CHANGE_IP) != 0;
		alt_port ^= (change & STUN_CHANGE_PORT) != 0;
	}
	struct pbx_addr from = srv_addr(srv, alt_ip, alt_port);
	struct pbx_addr other = srv_addr(srv, !alt_ip, !alt_port);

	uint8_t buf[256];
	struct stun_enc e;
	size_t len;
	stun_msg_init_reply(&e, buf, sizeof buf, &m, kind == SRV_ERROR ? STUN_ERROR : STUN_SUCCESS);
	switch (kind) {
	case SRV_RFC5780:
		put_addr(&e, STUN_A_XOR_MAPPED_ADDRESS, &src);
		put_addr(&e, STUN_A_RESPONSE_ORIGIN, &from);
		put_addr(&e, STUN_A_OTHER_ADDRESS, &other);
		break;
	case SRV_RFC3489:
	case SRV_RFC3489_ONLY:
		put_addr(&e, STUN_A_MAPPED_ADDRESS, &src);
		put_addr(&e, STUN_A_SOURCE_ADDRESS, &from);
		put_addr(&e, STUN_A_CHANGED_ADDRESS, &other);
		break;
	case SRV_NO_OTHER:
		put_addr(&e, m.kind == STUN_KIND_RFC3489 ? STUN_A_MAPPED_ADDRESS
							 : STUN_A_XOR_MAPPED_ADDRESS, &src);
		break;
	case SRV_NO_CHANGE:
		put_addr(&e, m.kind == STUN_KIND_RFC3489 ? STUN_A_MAPPED_ADDRESS
							 : STUN_A_XOR_MAPPED_ADDRESS, &src);
		put_addr(&e, STUN_A_OTHER_ADDRESS, &other);
		break;
	case SRV_ERROR:
		ck_assert_int_eq(stun_attr_put_error(&e, 500, NULL), 0);
		break;
	case SRV_DEAD:
		break;
	}
	ck_assert_int_eq(stun_msg_finish(&e, &len), 0);
	/* Back through the NAT's filter to the socket. */
	if (!filter_passes(w, s->sock, &from))
		return;
	deliver(w, now + w->latency[srv], s->sock, &from, buf, len);
}

/* Run a round to its end with members (1 or 2 servers); returns the
 * round's length in ms. */
static int64_t run(struct world *w, struct natd_probe *p, size_t n_members)
{
	struct pbx_addr members[2] = { srv_addr(0, false, false), srv_addr(1, false, false) };
	struct pbx_addr local[NATD_MAX_SOCKS];
	uint8_t tids[NATD_MAX_TX][STUN_TID_LEN_CLASSIC];
	for (size_t i = 0; i < NATD_MAX_SOCKS; i++)
		local[i] = local_addr(i);
	for (size_t i = 0; i < NATD_MAX_TX; i++)
		for (size_t k = 0; k < STUN_TID_LEN_CLASSIC; k++)
			tids[i][k] = (uint8_t)(i * 31 + k * 7 + 1);
	int64_t now = 1000000;
	ck_assert_int_eq(natd_probe_init(p, members, n_members, local, tids, now), 0);
	for (int guard = 0; guard < 10000; guard++) {
		struct natd_send s;
		while (natd_probe_next(p, now, &s))
			world_send(w, now, &s);
		/* Deliver what is due, earliest first. */
		size_t best = SIZE_MAX;
		for (size_t i = 0; i < w->nq; i++)
			if (w->q[i].at <= now && (best == SIZE_MAX || w->q[i].at < w->q[best].at))
				best = i;
		if (best != SIZE_MAX) {
			struct flight f = w->q[best];
			w->q[best] = w->q[--w->nq];
			natd_probe_input(p, f.sock, &f.from, f.buf, f.len, now);
			continue;
		}
		if (natd_probe_done(p))
			return p->end - p->start;
		int64_t next = natd_probe_wakeup(p);
		for (size_t i = 0; i < w->nq; i++)
			if (next < 0 || w->q[i].at < next)
				next = w->q[i].at;
		ck_assert_int_gt(next, now - 1);
		now = next > now ? next : now + 1;
	}
	ck_abort_msg("the round never ended");
	return 0;
}

static struct world *nat_world(enum natd_behaviour mapping, enum natd_behaviour filtering)
{
	struct world *w = calloc(1, sizeof *w);
	ck_assert_ptr_nonnull(w);
	w->nat = true;
	w->mapping = mapping;
	w->filtering = filtering;
	w->latency[0] = 20;
	w->latency[1] = 30;
	return w;
}

static void check_verdict(const struct natd_probe *p, enum natd_behaviour mapping,
			  enum natd_behaviour filtering, enum natd_hairpin hp, enum natd_classic c)
{
	ck_assert(natd_probe_done(p));
	ck_assert_str_eq(natd_behaviour_name(p->v.mapping), natd_behaviour_name(mapping));
	ck_assert_str_eq(natd_behaviour_name(p->v.filtering), natd_behaviour_name(filtering));
	ck_assert_str_eq(natd_hairpin_name(p->v.hairpin), natd_hairpin_name(hp));
	ck_assert_str_eq(natd_classic_name(p->v.classic), natd_classic_name(c));
	ck_assert(p->v.why_classic[0] != '\0');
	ck_assert(p->v.why_mapping[0] != '\0');
	ck_assert(p->v.why_filtering[0] != '\0');
	ck_assert(p->v.why_hairpin[0] != '\0');
	/* The round is bounded, whatever happened. */
	ck_assert_int_le(p->end - p->start, NATD_ROUND_LIMIT_MS);
}

static char *evidence(const struct natd_probe *p)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(natd_evidence_json(p, f), 0);
	fclose(f);
	return text;
}

/* ---- verdicts per NAT type ---- */

START_TEST(test_natd_probe_open)
{
	struct world *w = nat_world(NATD_B_EI, NATD_B_EI);
	struct natd_probe p;
	w->nat = false;
	run(w, &p, 1);
	check_verdict(&p, NATD_B_EI, NATD_B_EI, NATD_HP_TRUE, NATD_C_OPEN);
	ck_assert(!p.v.nat);
	ck_assert(p.v.answered);
	ck_assert_int_eq(p.v.answered_by, 0);
	struct pbx_addr l = local_addr(0);
	ck_assert(pbx_addr_equal(&p.v.mapped, &l));
	free(w);
}
END_TEST

START_TEST(test_natd_probe_symmetric_firewall)
{
	struct world *w = nat_world(NATD_B_EI, NATD_B_APD);
	struct natd_probe p;
	w->nat = false;
	run(w, &p, 1);
	check_verdict(&p, NATD_B_EI, NATD_B_APD, NATD_HP_TRUE, NATD_C_SYMMETRIC_FIREWALL);
	free(w);
}
END_TEST

START_TEST(test_natd_probe_full_cone)
{
	struct world *w = nat_world(NATD_B_EI, NATD_B_EI);
	struct natd_probe p;
	w->hairpin = true;
	int64_t ms = run(w, &p, 1);
	check_verdict(&p, NATD_B_EI, NATD_B_EI, NATD_HP_TRUE, NATD_C_FULL_CONE);
	ck_assert(p.v.nat);
	struct pbx_addr e = ext_ip_addr();
	ck_assert(same_ip(&p.v.mapped, &e));
	/* Every probe answered: no waiting for timeouts. */
	ck_assert_int_lt(ms, 500);
	free(w);
}
END_TEST

START_TEST(test_natd_probe_restricted_cone)
{
	struct world *w = nat_world(NATD_B_EI, NATD_B_AD);
	struct natd_probe p;
	run(w, &p, 1);
	check_verdict(&p, NATD_B_EI, NATD_B_AD, NATD_HP_FALSE, NATD_C_RESTRICTED_CONE);
	free(w);
}
END_TEST

START_TEST(test_natd_probe_port_restricted_cone)
{
	struct world *w = nat_world(NATD_B_EI, NATD_B_APD);
	struct natd_probe p;
	int64_t ms = run(w, &p, 1);
	check_verdict(&p, NATD_B_EI, NATD_B_APD, NATD_HP_FALSE, NATD_C_PORT_RESTRICTED_CONE);
	/* The filtering tests and hairpinning time out together: one limit,
	 * not three. */
	ck_assert_int_lt(ms, 2 * NATD_TX_LIMIT_MS);
	char *ev = evidence(&p);
	ck_assert_ptr_nonnull(strstr(ev, "\"probe\":\"filtering-change-ip-port\""));
	ck_assert_ptr_nonnull(strstr(ev, "\"change\":\"ip+port\",\"sent\":4,\"result\":\"timeout\""));
	ck_assert_ptr_nonnull(strstr(ev, "\"mapped\":\"203.0.113.1:40000\""));
	ck_assert_ptr_nonnull(strstr(ev, "\"rfc3489\":\"NAT with one mapping"));
	free(ev);
	free(w);
}
END_TEST

START_TEST(test_natd_probe_symmetric)
{
	struct world *w = nat_world(NATD_B_APD, NATD_B_APD);
	struct natd_probe p;
	run(w, &p, 1);
	check_verdict(&p, NATD_B_APD, NATD_B_APD, NATD_HP_FALSE, NATD_C_SYMMETRIC);
	free(w);
}
END_TEST

START_TEST(test_natd_probe_address_dependent_mapping)
{
	struct world *w = nat_world(NATD_B_AD, NATD_B_AD);
	struct natd_probe p;
	run(w, &p, 1);
	check_verdict(&p, NATD_B_AD, NATD_B_AD, NATD_HP_FALSE, NATD_C_SYMMETRIC);
	free(w);
}
END_TEST

/* ---- servers ---- */

START_TEST(test_natd_probe_rfc3489_server)
{
	/* A classic server: MAPPED-ADDRESS, CHANGED-ADDRESS, SOURCE-ADDRESS;
	 * the RFC 3489 sequence runs on the same requests. */
	static const struct {
		enum natd_behaviour m, f;
		enum natd_classic c;
	} cases[] = {
		{ NATD_B_EI, NATD_B_EI, NATD_C_FULL_CONE },
		{ NATD_B_EI, NATD_B_AD, NATD_C_RESTRICTED_CONE },
		{ NATD_B_EI, NATD_B_APD, NATD_C_PORT_RESTRICTED_CONE },
		{ NATD_B_APD, NATD_B_APD, NATD_C_SYMMETRIC },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct world *w = nat_world(cases[i].m, cases[i].f);
		struct natd_probe p;
		w->kind[0] = SRV_RFC3489;
		run(w, &p, 1);
		check_verdict(&p, cases[i].m, cases[i].f, NATD_HP_FALSE, cases[i].c);
		ck_assert(p.v.rfc3489);
		char *ev = evidence(&p);
		ck_assert_ptr_nonnull(strstr(ev, "\"style\":\"rfc3489\""));
		free(ev);
		free(w);
	}
	struct world *w = nat_world(NATD_B_EI, NATD_B_EI);
	struct natd_probe p;
	w->nat = false;
	w->kind[0] = SRV_RFC3489;
	run(w, &p, 1);
	check_verdict(&p, NATD_B_EI, NATD_B_EI, NATD_HP_TRUE, NATD_C_OPEN);
	free(w);
}
END_TEST

START_TEST(test_natd_probe_rfc3489_only_server)
{
	/* A server that answers classic requests only: test I's classic
	 * request wins once the other one is over, and the whole RFC 3489
	 * sequence goes on without the magic cookie. */
	static const struct {
		bool nat;
		enum natd_behaviour m, f;
		enum natd_hairpin hp;
		enum natd_classic c;
	} cases[] = {
		{ false, NATD_B_EI, NATD_B_EI, NATD_HP_TRUE, NATD_C_OPEN },
		{ true, NATD_B_EI, NATD_B_EI, NATD_HP_FALSE, NATD_C_FULL_CONE },
		{ true, NATD_B_EI, NATD_B_AD, NATD_HP_FALSE, NATD_C_RESTRICTED_CONE },
		{ true, NATD_B_EI, NATD_B_APD, NATD_HP_FALSE, NATD_C_PORT_RESTRICTED_CONE },
		{ true, NATD_B_AD, NATD_B_APD, NATD_HP_FALSE, NATD_C_SYMMETRIC },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct world *w = nat_world(cases[i].m, cases[i].f);
		struct natd_probe p;
		w->nat = cases[i].nat;
		w->kind[0] = SRV_RFC3489_ONLY;
		int64_t ms = run(w, &p, 1);
		check_verdict(&p, cases[i].m, cases[i].f, cases[i].hp, cases[i].c);
		ck_assert(p.v.rfc3489);
		ck_assert_int_eq(p.v.kind, STUN_KIND_RFC3489);
		/* The cookie request went unanswered for its 4 s. */
		ck_assert_int_eq(p.tx[0].state, NATD_TX_TIMEOUT);
		ck_assert_int_eq(p.tx[1].state, NATD_TX_ANSWERED);
		ck_assert_int_ge(ms, NATD_TX_LIMIT_MS);
		for (size_t k = 2; k < p.n_tx; k++)
			ck_assert_int_eq(p.tx[k].kind, STUN_KIND_RFC3489);
		char *ev = evidence(&p);
		ck_assert_ptr_nonnull(strstr(ev, "\"probe\":\"binding-rfc3489\""));
		ck_assert_ptr_nonnull(strstr(ev, "\"change\":\"ip+port\",\"request\":\"rfc3489\""));
		free(ev);
		free(w);
	}
}
END_TEST

START_TEST(test_natd_probe_no_other_address)
{
	struct world *w = nat_world(NATD_B_EI, NATD_B_APD);
	struct natd_probe p;
	w->kind[0] = SRV_NO_OTHER;
	run(w, &p, 1);
	check_verdict(&p, NATD_B_UNKNOWN, NATD_B_UNKNOWN, NATD_HP_FALSE, NATD_C_UNKNOWN);
	ck_assert(p.v.answered);
	/* The external address is known all the same. */
	struct pbx_addr e = ext_ip_addr();
	ck_assert(same_ip(&p.v.mapped, &e));
	free(w);
}
END_TEST

START_TEST(test_natd_probe_change_ignored)
{
	/* A server that answers change requests from where they went would
	 * make every filter look open: the answer's source gives it away. */
	struct world *w = nat_world(NATD_B_EI, NATD_B_APD);
	struct natd_probe p;
	w->kind[0] = SRV_NO_CHANGE;
	run(w, &p, 1);
	check_verdict(&p, NATD_B_EI, NATD_B_UNKNOWN, NATD_HP_FALSE, NATD_C_UNKNOWN);
	char *ev = evidence(&p);
	ck_assert_ptr_nonnull(strstr(ev, "the change was ignored"));
	free(ev);
	free(w);
}
END_TEST

START_TEST(test_natd_probe_dead_server)
{
	struct world *w = nat_world(NATD_B_EI, NATD_B_APD);
	struct natd_probe p;
	w->kind[0] = SRV_DEAD;
	int64_t ms = run(w, &p, 1);
	check_verdict(&p, NATD_B_UNKNOWN, NATD_B_UNKNOWN, NATD_HP_UNKNOWN, NATD_C_UDP_BLOCKED);
	ck_assert(!p.v.answered);
	ck_assert_int_eq(p.v.answered_by, -1);
	ck_assert_int_eq(ms, NATD_TX_LIMIT_MS);
	/* RFC 8489: sent at 0, 0.5, 1.5 and 3.5 s within the limit, with the
	 * magic cookie and without. */
	ck_assert_int_eq(p.tx[0].sends, 4);
	ck_assert_int_eq(p.tx[1].sends, 4);
	ck_assert_int_eq(p.tx[1].kind, STUN_KIND_RFC3489);
	ck_assert_int_eq(w->requests_seen, 8);
	free(w);
}
END_TEST

START_TEST(test_natd_probe_retransmit_schedule)
{
	struct natd_probe p;
	struct pbx_addr m = srv_addr(0, false, false);
	struct pbx_addr local[NATD_MAX_SOCKS];
	uint8_t tids[NATD_MAX_TX][STUN_TID_LEN_CLASSIC] = { { 1 } };
	struct natd_send s;
	for (size_t i = 0; i < NATD_MAX_SOCKS; i++)
		local[i] = local_addr(i);
	ck_assert_int_eq(natd_probe_init(&p, &m, 1, local, tids, 0), 0);
	static const int64_t at[] = { 0, 500, 1500, 3500 };
	for (size_t i = 0; i < 4; i++) {
		ck_assert_int_eq(natd_probe_wakeup(&p), at[i]);
		if (i)
			ck_assert(!natd_probe_next(&p, at[i] - 1, &s));
		/* Test I with the magic cookie, then without. */
		for (size_t k = 0; k < 2; k++) {
			struct stun_msg msg;
			ck_assert(natd_probe_next(&p, at[i], &s));
			ck_assert_int_eq(s.sock, 0);
			ck_assert(pbx_addr_equal(&s.to, &m));
			ck_assert_int_eq(stun_msg_decode(&msg, s.buf, s.len), 0);
			ck_assert_int_eq(msg.kind, k ? STUN_KIND_RFC3489 : STUN_KIND_RFC5389);
		}
		ck_assert(!natd_probe_next(&p, at[i], &s));
	}
	ck_assert_int_eq(natd_probe_wakeup(&p), NATD_TX_LIMIT_MS);
	ck_assert(!natd_probe_next(&p, NATD_TX_LIMIT_MS, &s));
	ck_assert(natd_probe_done(&p));
	ck_assert_int_eq(natd_probe_wakeup(&p), -1);
}
END_TEST

START_TEST(test_natd_probe_error_answer)
{
	struct world *w = nat_world(NATD_B_EI, NATD_B_EI);
	struct natd_probe p;
	w->kind[0] = SRV_ERROR;
	int64_t ms = run(w, &p, 1);
	/* An answer came: not udp-blocked, but nothing to tell from. */
	check_verdict(&p, NATD_B_UNKNOWN, NATD_B_UNKNOWN, NATD_HP_UNKNOWN, NATD_C_UNKNOWN);
	ck_assert(!p.v.answered);
	ck_assert_int_lt(ms, 100);
	char *ev = evidence(&p);
	ck_assert_ptr_nonnull(strstr(ev, "\"result\":\"error\""));
	ck_assert_ptr_nonnull(strstr(ev, "\"error\":500"));
	free(ev);
	free(w);
}
END_TEST

START_TEST(test_natd_probe_redundant)
{
	/* a,b with a dead: b answers. */
	struct world *w = nat_world(NATD_B_EI, NATD_B_EI);
	struct natd_probe p;
	w->kind[0] = SRV_DEAD;
	run(w, &p, 2);
	check_verdict(&p, NATD_B_EI, NATD_B_EI, NATD_HP_FALSE, NATD_C_FULL_CONE);
	ck_assert_int_eq(p.v.answered_by, 1);
	/* a's test I was given up as soon as b answered. */
	ck_assert_int_eq(p.tx[0].state, NATD_TX_CANCELLED);
	ck_assert_int_eq(p.tx[1].state, NATD_TX_CANCELLED);
	/* b's tests ran on b's own socket. */
	for (size_t i = 4; i < p.n_tx; i++)
		if (p.tx[i].test != NATD_T_HAIRPIN)
			ck_assert_int_eq(p.tx[i].sock, 1);
	free(w);

	/* Both alive: the first answer wins. */
	w = nat_world(NATD_B_EI, NATD_B_APD);
	w->latency[0] = 80;
	w->latency[1] = 10;
	run(w, &p, 2);
	ck_assert_int_eq(p.v.answered_by, 1);
	check_verdict(&p, NATD_B_EI, NATD_B_APD, NATD_HP_FALSE, NATD_C_PORT_RESTRICTED_CONE);
	free(w);

	/* An error from one does not stop the other from winning. */
	w = nat_world(NATD_B_EI, NATD_B_EI);
	w->kind[0] = SRV_ERROR;
	run(w, &p, 2);
	ck_assert_int_eq(p.v.answered_by, 1);
	ck_assert_int_eq(p.v.classic, NATD_C_FULL_CONE);
	free(w);
}
END_TEST

/* ---- untrusted answers ---- */

START_TEST(test_natd_probe_input_untrusted)
{
	struct natd_probe p;
	struct pbx_addr m = srv_addr(0, false, false);
	struct pbx_addr local[NATD_MAX_SOCKS];
	uint8_t tids[NATD_MAX_TX][STUN_TID_LEN_CLASSIC];
	struct natd_send s;
	uint8_t buf[256];
	struct stun_enc e;
	size_t len;
	for (size_t i = 0; i < NATD_MAX_SOCKS; i++)
		local[i] = local_addr(i);
	memset(tids, 0x5a, sizeof tids);
	tids[0][0] = 1;
	ck_assert_int_eq(natd_probe_init(&p, &m, 1, local, tids, 0), 0);
	ck_assert(natd_probe_next(&p, 0, &s));

	/* Garbage, a truncated header, an empty datagram. */
	natd_probe_input(&p, 0, &m, "hello", 5, 1);
	natd_probe_input(&p, 0, &m, s.buf, 10, 1);
	natd_probe_input(&p, 0, &m, s.buf, 0, 1);
	/* Our own request echoed back is no answer. */
	natd_probe_input(&p, 0, &m, s.buf, s.len, 1);

	struct stun_msg req;
	ck_assert_int_eq(stun_msg_decode(&req, s.buf, s.len), 0);
	struct pbx_addr mapped = A("203.0.113.9:4444");
	/* A success answer with another transaction ID. */
	uint8_t wrong[STUN_TID_LEN];
	memset(wrong, 0x77, sizeof wrong);
	stun_msg_init(&e, buf, sizeof buf, stun_hdr_type(STUN_BINDING, STUN_SUCCESS), wrong,
		      STUN_KIND_RFC5389);
	stun_attr_put_addr(&e, STUN_A_XOR_MAPPED_ADDRESS, &mapped);
	ck_assert_int_eq(stun_msg_finish(&e, &len), 0);
	natd_probe_input(&p, 0, &m, buf, len, 1);
	/* The right ID on the wrong socket. */
	stun_msg_init_reply(&e, buf, sizeof buf, &req, STUN_SUCCESS);
	stun_attr_put_addr(&e, STUN_A_XOR_MAPPED_ADDRESS, &mapped);
	ck_assert_int_eq(stun_msg_finish(&e, &len), 0);
	natd_probe_input(&p, 1, &m, buf, len, 1);
	ck_assert_int_eq(p.ignored, 6);
	ck_assert_int_eq(p.phase, 1);

	/* The right answer, with an OTHER-ADDRESS equal to the server's own:
	 * taken, but no behaviour tests are built on it. */
	stun_msg_init_reply(&e, buf, sizeof buf, &req, STUN_SUCCESS);
	stun_attr_put_addr(&e, STUN_A_XOR_MAPPED_ADDRESS, &mapped);
	stun_attr_put_addr(&e, STUN_A_OTHER_ADDRESS, &m);
	ck_assert_int_eq(stun_msg_finish(&e, &len), 0);
	natd_probe_input(&p, 0, &m, buf, len, 2);
	ck_assert(p.v.answered);
	ck_assert(pbx_addr_equal(&p.v.mapped, &mapped));
	ck_assert_int_eq(p.v.other.len, 0);
	ck_assert_ptr_nonnull(strstr(p.tx[0].note, "not used"));
	/* A second copy of it is ignored. */
	natd_probe_input(&p, 0, &m, buf, len, 3);
	ck_assert_int_eq(p.ignored, 7);
}
END_TEST

/* ---- the server list ---- */

START_TEST(test_natd_servers_parse)
{
	struct natd_list *l = calloc(1, sizeof *l);
	struct pbx_err err;
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(natd_servers_parse("172.16.13.1:1234, 172.16.13.2;stun.provider.net;"
					    "[2001:db8::1]:3479", l, &err), 0);
	ck_assert_uint_eq(l->n, 3);
	ck_assert_str_eq(l->l[0].text, "172.16.13.1:1234,172.16.13.2");
	ck_assert_uint_eq(l->l[0].n, 2);
	ck_assert_str_eq(l->l[0].m[0].host, "172.16.13.1");
	ck_assert_uint_eq(l->l[0].m[0].port, 1234);
	ck_assert_uint_eq(l->l[0].m[1].port, 3478);
	ck_assert(!l->l[0].m[1].is_name);
	ck_assert_uint_eq(pbx_addr_port(&l->l[0].m[1].addr), 3478);
	ck_assert_uint_eq(l->l[1].n, 1);
	ck_assert(l->l[1].m[0].is_name);
	ck_assert_str_eq(l->l[1].m[0].host, "stun.provider.net");
	ck_assert_uint_eq(l->l[1].m[0].port, 3478);
	ck_assert_str_eq(l->l[2].m[0].host, "2001:db8::1");
	ck_assert_uint_eq(l->l[2].m[0].port, 3479);

	ck_assert_int_eq(natd_servers_parse("stun.example.com:5000", l, &err), 0);
	ck_assert_uint_eq(l->l[0].m[0].port, 5000);
	ck_assert_int_eq(natd_servers_parse("", l, &err), 0);
	ck_assert_uint_eq(l->n, 0);

	/* Refused, naming the offending part. */
	ck_assert_int_eq(natd_servers_parse("192.0.2.1,,192.0.2.2", l, &err), PBX_E_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "empty server"));
	ck_assert_int_eq(natd_servers_parse("192.0.2.1;a.example,b.example", l, &err),
			 PBX_E_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "a.example,b.example"));
	ck_assert_int_eq(natd_servers_parse("192.0.2.1:70000", l, &err), PBX_E_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "192.0.2.1:70000"));
	ck_assert_int_eq(natd_servers_parse("1,2,3,4,5,6,7,8,9", l, &err), PBX_E_INVALID);
	ck_assert_int_eq(natd_servers_parse("10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4,10.0.0.5,"
					    "10.0.0.6,10.0.0.7,10.0.0.8,10.0.0.9", l, &err),
			 PBX_E_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "more than 8"));
	free(l);
}
END_TEST

START_TEST(test_natd_names)
{
	ck_assert_str_eq(natd_classic_name(NATD_C_PORT_RESTRICTED_CONE), "port-restricted-cone");
	ck_assert_str_eq(natd_classic_name(NATD_C_UDP_BLOCKED), "udp-blocked");
	ck_assert_str_eq(natd_classic_name((enum natd_classic)99), "unknown");
	ck_assert_str_eq(natd_behaviour_name(NATD_B_APD), "address-and-port-dependent");
	ck_assert_str_eq(natd_hairpin_name(NATD_HP_FALSE), "false");
	ck_assert_str_eq(natd_test_name(NATD_T_FILTER_III), "filtering-change-port");
	ck_assert_str_eq(natd_test_name(NATD_T_COUNT), "unknown");
}
END_TEST

static Suite *natd_suite(void)
{
	Suite *s = suite_create("natd");
	TCase *tc = tcase_create("probe");
	tcase_add_test(tc, test_natd_probe_open);
	tcase_add_test(tc, test_natd_probe_symmetric_firewall);
	tcase_add_test(tc, test_natd_probe_full_cone);
	tcase_add_test(tc, test_natd_probe_restricted_cone);
	tcase_add_test(tc, test_natd_probe_port_restricted_cone);
	tcase_add_test(tc, test_natd_probe_symmetric);
	tcase_add_test(tc, test_natd_probe_address_dependent_mapping);
	tcase_add_test(tc, test_natd_probe_rfc3489_server);
	tcase_add_test(tc, test_natd_probe_rfc3489_only_server);
	tcase_add_test(tc, test_natd_probe_no_other_address);
	tcase_add_test(tc, test_natd_probe_change_ignored);
	tcase_add_test(tc, test_natd_probe_dead_server);
	tcase_add_test(tc, test_natd_probe_retransmit_schedule);
	tcase_add_test(tc, test_natd_probe_error_answer);
	tcase_add_test(tc, test_natd_probe_redundant);
	tcase_add_test(tc, test_natd_probe_input_untrusted);
	tcase_add_test(tc, test_natd_servers_parse);
	tcase_add_test(tc, test_natd_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(natd_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
