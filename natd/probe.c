/* probe.c - the probes of one logical server and the verdicts they give:
 * RFC 5780 4.3 (mapping), 4.4 (filtering) and 4.5 (hairpinning), the
 * RFC 3489 10.1 class derived from the same answers, with the
 * retransmissions of RFC 8489 6.2.1 cut to a bounded time.  No I/O and no
 * clock: datagrams and milliseconds in, datagrams and a verdict out.
 *
 * Order matters to a real NAT: the filtering tests run on the fresh
 * mapping of test I, before anything is sent to the server's other
 * address (which would open the filter and make every filter read
 * endpoint-independent); the mapping tests come last.  Redundant members
 * get a socket each, so that probing one never changes the filter state
 * the winner's tests see. */
#include <string.h>

#include "natd.h"

static const char *const behaviour_names[] = {
	[NATD_B_UNKNOWN] = "unknown",
	[NATD_B_EI] = "endpoint-independent",
	[NATD_B_AD] = "address-dependent",
	[NATD_B_APD] = "address-and-port-dependent",
};

static const char *const classic_names[] = {
	[NATD_C_UNKNOWN] = "unknown",
	[NATD_C_OPEN] = "open",
	[NATD_C_FULL_CONE] = "full-cone",
	[NATD_C_RESTRICTED_CONE] = "restricted-cone",
	[NATD_C_PORT_RESTRICTED_CONE] = "port-restricted-cone",
	[NATD_C_SYMMETRIC] = "symmetric",
	[NATD_C_SYMMETRIC_FIREWALL] = "symmetric-firewall",
	[NATD_C_UDP_BLOCKED] = "udp-blocked",
};

static const char *const test_names[] = {
	[NATD_T_BINDING] = "binding",
	[NATD_T_BINDING_3489] = "binding-rfc3489",
	[NATD_T_FILTER_II] = "filtering-change-ip-port",
	[NATD_T_FILTER_III] = "filtering-change-port",
	[NATD_T_MAP_II] = "mapping-other-ip",
	[NATD_T_MAP_III] = "mapping-other-ip-port",
	[NATD_T_HAIRPIN] = "hairpinning",
};

static const char *const tx_state_names[] = {
	[NATD_TX_IDLE] = "not-sent",
	[NATD_TX_PENDING] = "pending",
	[NATD_TX_ANSWERED] = "answered",
	[NATD_TX_ERROR] = "error",
	[NATD_TX_TIMEOUT] = "timeout",
	[NATD_TX_CANCELLED] = "cancelled",
};

const char *natd_behaviour_name(enum natd_behaviour b)
{
	return (unsigned)b <= NATD_B_APD ? behaviour_names[b] : "unknown";
}

const char *natd_hairpin_name(enum natd_hairpin h)
{
	return h == NATD_HP_TRUE ? "true" : h == NATD_HP_FALSE ? "false" : "unknown";
}

const char *natd_classic_name(enum natd_classic c)
{
	return (unsigned)c <= NATD_C_UDP_BLOCKED ? classic_names[c] : "unknown";
}

const char *natd_test_name(enum natd_test t)
{
	return (unsigned)t < NATD_T_COUNT ? test_names[t] : "unknown";
}

const char *natd_tx_state_name(enum natd_tx_state s)
{
	return (unsigned)s <= NATD_TX_CANCELLED ? tx_state_names[s] : "unknown";
}

/* Same IP address, ports aside. */
static bool same_ip(const struct pbx_addr *a, const struct pbx_addr *b)
{
	struct pbx_addr x = *a, y = *b;
	pbx_addr_set_port(&x, 0);
	pbx_addr_set_port(&y, 0);
	return pbx_addr_equal(&x, &y);
}

static void note(struct natd_tx *t, const char *text)
{
	snprintf(t->note, sizeof t->note, "%s", text);
}

static struct natd_tx *add_tx(struct natd_probe *p, enum natd_test test, size_t sock,
			      size_t member, const struct pbx_addr *to, unsigned change,
			      enum stun_kind kind, int64_t now)
{
	if (p->n_tx >= NATD_MAX_TX)
		return NULL; /* cannot happen: at most 2 * members + 5 */
	struct natd_tx *t = &p->tx[p->n_tx];
	memset(t, 0, sizeof *t);
	t->kind = (uint8_t)kind;
	if (kind == STUN_KIND_RFC3489) {
		memcpy(t->tid, p->tids[p->n_tx], STUN_TID_LEN_CLASSIC);
		/* A classic ID that starts with the magic cookie would read as
		 * a cookie and a 12-byte ID. */
		if (t->tid[0] == 0x21 && t->tid[1] == 0x12 && t->tid[2] == 0xA4 &&
		    t->tid[3] == 0x42)
			t->tid[0] ^= 0x80;
	} else {
		memcpy(t->tid, p->tids[p->n_tx], STUN_TID_LEN);
	}
	p->n_tx++;
	t->test = (uint8_t)test;
	t->state = NATD_TX_PENDING;
	t->sock = (uint8_t)sock;
	t->member = (uint8_t)member;
	t->change = change;
	t->to = *to;
	t->started = now;
	t->next_send = now;
	t->rto = NATD_RTO_MS;
	t->deadline = now + NATD_TX_LIMIT_MS;
	t->error_code = 0;
	return t;
}

int natd_probe_init(struct natd_probe *p, const struct pbx_addr *members, size_t n,
		    const struct pbx_addr *local,
		    const uint8_t tids[NATD_MAX_TX][STUN_TID_LEN_CLASSIC], int64_t now)
{
	memset(p, 0, sizeof *p);
	if (n == 0 || n > NATD_MAX_MEMBERS)
		return PBX_E_INVALID;
	p->n_members = n;
	memcpy(p->member, members, n * sizeof *members);
	memcpy(p->local, local, (n + 1) * sizeof *local);
	memcpy(p->tids, tids, sizeof p->tids);
	p->start = now;
	p->phase = 1;
	p->v.answered_by = -1;
	for (size_t i = 0; i < n; i++) {
		add_tx(p, NATD_T_BINDING, i, i, &members[i], 0, STUN_KIND_RFC5389, now);
		add_tx(p, NATD_T_BINDING_3489, i, i, &members[i], 0, STUN_KIND_RFC3489, now);
	}
	return 0;
}

static bool pending(const struct natd_tx *t)
{
	return t->state == NATD_TX_PENDING;
}

static struct natd_tx *find_test(struct natd_probe *p, enum natd_test test)
{
	for (size_t i = 0; i < p->n_tx; i++)
		if (p->tx[i].test == test && p->tx[i].state != NATD_TX_CANCELLED &&
		    (test != NATD_T_BINDING || (int)p->tx[i].member == p->v.answered_by))
			return &p->tx[i];
	return NULL;
}

static void settle(struct natd_tx *t, enum natd_tx_state s, int64_t now)
{
	t->state = (uint8_t)s;
	t->done_at = now;
}

/* ---- verdicts ---- */

static void why(char *buf, size_t n, const char *text)
{
	snprintf(buf, n, "%s", text);
}

static void decide_filtering(struct natd_probe *p)
{
	struct natd_verdict *v = &p->v;
	struct natd_tx *ii = find_test(p, NATD_T_FILTER_II);
	struct natd_tx *iii = find_test(p, NATD_T_FILTER_III);
	if (!ii || !iii) {
		why(v->why_filtering, sizeof v->why_filtering,
		    "the server gave no other address to answer from");
		return;
	}
	if (ii->state == NATD_TX_ANSWERED && ii->note[0] == '\0') {
		v->filtering = NATD_B_EI;
		why(v->why_filtering, sizeof v->why_filtering,
		    "an answer from the other address and port came in");
	} else if (ii->state == NATD_TX_TIMEOUT && iii->state == NATD_TX_ANSWERED &&
		   iii->note[0] == '\0') {
		v->filtering = NATD_B_AD;
		why(v->why_filtering, sizeof v->why_filtering,
		    "only an answer from the same address, other port, came in");
	} else if (ii->state == NATD_TX_TIMEOUT && iii->state == NATD_TX_TIMEOUT) {
		v->filtering = NATD_B_APD;
		why(v->why_filtering, sizeof v->why_filtering,
		    "no answer from another address or port came in");
	} else {
		why(v->why_filtering, sizeof v->why_filtering,
		    "the server did not answer the change requests as asked");
	}
}

static void decide_mapping(struct natd_probe *p, bool *varies)
{
	struct natd_verdict *v = &p->v;
	struct natd_tx *ii = find_test(p, NATD_T_MAP_II);
	struct natd_tx *iii = find_test(p, NATD_T_MAP_III);
	*varies = false;
	if (!ii || !iii) {
		why(v->why_mapping, sizeof v->why_mapping,
		    "the server gave no other address to send to");
		return;
	}
	if (ii->state != NATD_TX_ANSWERED) {
		why(v->why_mapping, sizeof v->why_mapping,
		    "the server's other address did not answer");
		return;
	}
	if (pbx_addr_equal(&ii->mapped, &v->mapped)) {
		v->mapping = NATD_B_EI;
		why(v->why_mapping, sizeof v->why_mapping,
		    "the other address saw the same mapped address");
		return;
	}
	*varies = true;
	if (iii->state != NATD_TX_ANSWERED) {
		why(v->why_mapping, sizeof v->why_mapping,
		    "the mapping changed with the address; the other port did not answer");
		return;
	}
	if (pbx_addr_equal(&iii->mapped, &ii->mapped)) {
		v->mapping = NATD_B_AD;
		why(v->why_mapping, sizeof v->why_mapping,
		    "the mapping changed with the address, not with the port");
	} else {
		v->mapping = NATD_B_APD;
		why(v->why_mapping, sizeof v->why_mapping,
		    "the mapping changed with the address and with the port");
	}
}

static void decide_hairpin(struct natd_probe *p)
{
	struct natd_verdict *v = &p->v;
	struct natd_tx *h = find_test(p, NATD_T_HAIRPIN);
	if (!h) {
		why(v->why_hairpin, sizeof v->why_hairpin, "no mapped address to send to");
	} else if (h->state == NATD_TX_ANSWERED) {
		v->hairpin = NATD_HP_TRUE;
		why(v->why_hairpin, sizeof v->why_hairpin,
		    "a request to the mapped address came back in through it");
	} else {
		v->hairpin = NATD_HP_FALSE;
		why(v->why_hairpin, sizeof v->why_hairpin,
		    "a request to the mapped address never came back in");
	}
}

/* RFC 3489 10.1 from the same answers: test II is the change of address
 * and port, test III the change of port, and "test I to the changed
 * address" is the mapping test. */
static void decide_classic(struct natd_probe *p, bool varies)
{
	struct natd_verdict *v = &p->v;
	const char *w = NULL;
	if (!v->nat) {
		if (v->filtering == NATD_B_EI) {
			v->classic = NATD_C_OPEN;
			w = "no NAT, and answers from anywhere come in";
		} else if (v->filtering != NATD_B_UNKNOWN) {
			v->classic = NATD_C_SYMMETRIC_FIREWALL;
			w = "no NAT, but a firewall lets in answers only from where requests went";
		} else {
			w = "no NAT; filtering unknown";
		}
	} else if (varies) {
		v->classic = NATD_C_SYMMETRIC;
		w = "NAT whose mapping changes with the destination";
	} else if (v->mapping != NATD_B_EI) {
		w = "NAT whose mapping could not be tested";
	} else if (v->filtering == NATD_B_EI) {
		v->classic = NATD_C_FULL_CONE;
		w = "NAT with one mapping, open to every source";
	} else if (v->filtering == NATD_B_AD) {
		v->classic = NATD_C_RESTRICTED_CONE;
		w = "NAT with one mapping, open to addresses it sent to";
	} else if (v->filtering == NATD_B_APD) {
		v->classic = NATD_C_PORT_RESTRICTED_CONE;
		w = "NAT with one mapping, open to addresses and ports it sent to";
	} else {
		w = "NAT whose filtering could not be tested";
	}
	why(v->why_classic, sizeof v->why_classic, w);
}

static void finish_round(struct natd_probe *p, int64_t now)
{
	struct natd_verdict *v = &p->v;
	p->phase = 4;
	p->end = now;
	if (!v->answered) {
		bool errors = false;
		for (size_t i = 0; i < p->n_tx; i++)
			errors |= p->tx[i].state == NATD_TX_ERROR || p->tx[i].note[0];
		v->classic = errors ? NATD_C_UNKNOWN : NATD_C_UDP_BLOCKED;
		why(v->why_classic, sizeof v->why_classic,
		    errors ? "no usable answer to test I" : "no answer to test I");
		why(v->why_mapping, sizeof v->why_mapping, "no answer to test I");
		why(v->why_filtering, sizeof v->why_filtering, "no answer to test I");
		why(v->why_hairpin, sizeof v->why_hairpin, "no answer to test I");
		return;
	}
	bool varies;
	decide_filtering(p);
	decide_mapping(p, &varies);
	decide_hairpin(p);
	decide_classic(p, varies);
}

/* ---- phases ---- */

static bool phase_busy(const struct natd_probe *p)
{
	for (size_t i = 0; i < p->n_tx; i++)
		if (pending(&p->tx[i]))
			return true;
	return false;
}

static void start_phase2(struct natd_probe *p, int64_t now)
{
	struct natd_verdict *v = &p->v;
	size_t w = (size_t)v->answered_by;
	p->phase = 2;
	enum stun_kind k = (enum stun_kind)v->kind;
	if (v->other.len) {
		add_tx(p, NATD_T_FILTER_II, w, w, &p->member[w], STUN_CHANGE_IP | STUN_CHANGE_PORT,
		       k, now);
		add_tx(p, NATD_T_FILTER_III, w, w, &p->member[w], STUN_CHANGE_PORT, k, now);
	}
	/* From the second socket to the winner's mapped address: a NAT that
	 * hairpins delivers it to the winner's socket. */
	if (pbx_addr_family(&p->local[p->n_members]) == pbx_addr_family(&v->mapped))
		add_tx(p, NATD_T_HAIRPIN, p->n_members, w, &v->mapped, 0, k, now);
}

static void start_phase3(struct natd_probe *p, int64_t now)
{
	struct natd_verdict *v = &p->v;
	size_t w = (size_t)v->answered_by;
	p->phase = 3;
	if (!v->other.len)
		return;
	struct pbx_addr a = v->other;
	pbx_addr_set_port(&a, pbx_addr_port(&p->member[w]));
	add_tx(p, NATD_T_MAP_II, w, w, &a, 0, (enum stun_kind)v->kind, now);
	add_tx(p, NATD_T_MAP_III, w, w, &v->other, 0, (enum stun_kind)v->kind, now);
}

static bool is_binding(const struct natd_tx *t)
{
	return t->test == NATD_T_BINDING || t->test == NATD_T_BINDING_3489;
}

static void winner(struct natd_probe *p, struct natd_tx *t, int64_t now);

/* Test I's winner: the earliest answer to a request with the magic
 * cookie; else the earliest answer to a classic request of a member whose
 * other request is over (a server that speaks both answers both, and
 * RFC 5780 is asked in its own language). */
static void pick_winner(struct natd_probe *p, int64_t now)
{
	struct natd_tx *best = NULL;
	for (int pass = 0; pass < 2 && !best; pass++) {
		for (size_t i = 0; i < p->n_tx; i++) {
			struct natd_tx *t = &p->tx[i];
			if (t->state != NATD_TX_ANSWERED ||
			    t->test != (pass ? NATD_T_BINDING_3489 : NATD_T_BINDING))
				continue;
			if (pass) {
				bool other_pending = false;
				for (size_t k = 0; k < p->n_tx; k++)
					other_pending |= p->tx[k].test == NATD_T_BINDING &&
							 p->tx[k].member == t->member &&
							 pending(&p->tx[k]);
				if (other_pending)
					continue;
			}
			if (!best || t->done_at < best->done_at)
				best = t;
		}
	}
	if (best)
		winner(p, best, now);
}

/* Move on while the current phase has nothing pending. */
static void advance(struct natd_probe *p, int64_t now)
{
	if (p->phase == 1 && !p->v.answered)
		pick_winner(p, now);
	while (p->phase < 4 && !phase_busy(p)) {
		if (p->phase == 1 && !p->v.answered) {
			finish_round(p, now);
		} else if (p->phase == 1) {
			start_phase2(p, now);
		} else if (p->phase == 2) {
			start_phase3(p, now);
		} else {
			finish_round(p, now);
		}
	}
}

/* Test I answered by member t->member: it wins, the others stop. */
static void winner(struct natd_probe *p, struct natd_tx *t, int64_t now)
{
	struct natd_verdict *v = &p->v;
	v->answered = true;
	v->answered_by = t->member;
	v->mapped = t->mapped;
	v->rfc3489 = t->classic || t->kind == STUN_KIND_RFC3489;
	v->kind = t->kind;
	v->nat = !pbx_addr_equal(&t->mapped, &p->local[t->sock]);
	/* An other address is usable only if it differs from the member in
	 * address and port and is of its family (RFC 5780 4.2). */
	if (t->other.len && pbx_addr_family(&t->other) == pbx_addr_family(&t->to) &&
	    !same_ip(&t->other, &t->to) && pbx_addr_port(&t->other) != pbx_addr_port(&t->to))
		v->other = t->other;
	else if (t->other.len)
		note(t, "its other address is not another address and port; not used");
	for (size_t i = 0; i < p->n_tx; i++)
		if (is_binding(&p->tx[i]) && pending(&p->tx[i]))
			settle(&p->tx[i], NATD_TX_CANCELLED, now);
}

/* ---- sending and time ---- */

static size_t build_request(const struct natd_tx *t, uint8_t *buf, size_t cap)
{
	struct stun_enc e;
	size_t len = 0;
	stun_msg_init(&e, buf, cap, stun_hdr_type(STUN_BINDING, STUN_REQUEST), t->tid,
		      (enum stun_kind)t->kind);
	if (t->change)
		stun_attr_put_change_request(&e, t->change);
	if (stun_msg_finish(&e, &len))
		return 0;
	return len;
}

bool natd_probe_next(struct natd_probe *p, int64_t now, struct natd_send *out)
{
	for (;;) {
		/* Settle what timed out; then the phase may move on. */
		for (size_t i = 0; i < p->n_tx; i++) {
			struct natd_tx *t = &p->tx[i];
			if (pending(t) && now >= t->deadline)
				settle(t, NATD_TX_TIMEOUT, now);
		}
		advance(p, now);
		for (size_t i = 0; i < p->n_tx; i++) {
			struct natd_tx *t = &p->tx[i];
			if (!pending(t) || now < t->next_send || t->sends >= NATD_RC)
				continue;
			out->sock = t->sock;
			out->to = t->to;
			out->len = build_request(t, out->buf, sizeof out->buf);
			t->sends++;
			if (t->sends < NATD_RC) {
				t->next_send = now + t->rto;
				t->rto *= 2;
			} else {
				/* The last send: wait Rm times the first RTO. */
				int64_t end = now + (int64_t)NATD_RM * NATD_RTO_MS;
				if (end < t->deadline)
					t->deadline = end;
			}
			if (out->len)
				return true;
		}
		return false;
	}
}

int64_t natd_probe_wakeup(const struct natd_probe *p)
{
	if (p->phase >= 4)
		return -1;
	int64_t next = -1;
	for (size_t i = 0; i < p->n_tx; i++) {
		const struct natd_tx *t = &p->tx[i];
		if (!pending(t))
			continue;
		int64_t at = t->deadline;
		if (t->sends < NATD_RC && t->next_send < at)
			at = t->next_send;
		if (next < 0 || at < next)
			next = at;
	}
	return next;
}

bool natd_probe_done(const struct natd_probe *p)
{
	return p->phase >= 4;
}

/* ---- answers ---- */

/* The first attribute of type a, else of type b, as an address. */
static bool get_addr(const struct stun_msg *m, uint16_t a, uint16_t b, struct pbx_addr *out,
		     bool *second)
{
	size_t i;
	*second = false;
	if (stun_msg_find(m, a, 0, &i) == 0 && stun_attr_addr(m, i, out) == 0)
		return true;
	if (b && stun_msg_find(m, b, 0, &i) == 0 && stun_attr_addr(m, i, out) == 0) {
		*second = true;
		return true;
	}
	memset(out, 0, sizeof *out);
	return false;
}

static void take_answer(struct natd_tx *t, const struct stun_msg *m,
			const struct pbx_addr *from, int64_t now)
{
	bool second;
	t->from = *from;
	if (m->cls == STUN_ERROR) {
		size_t i;
		struct stun_error e;
		if (stun_msg_find(m, STUN_A_ERROR_CODE, 0, &i) == 0 && stun_attr_error(m, i, &e) == 0)
			t->error_code = e.code;
		settle(t, NATD_TX_ERROR, now);
		return;
	}
	if (!get_addr(m, STUN_A_XOR_MAPPED_ADDRESS, STUN_A_MAPPED_ADDRESS, &t->mapped, &t->classic)) {
		note(t, "a success answer without a mapped address");
		settle(t, NATD_TX_ERROR, now);
		return;
	}
	get_addr(m, STUN_A_OTHER_ADDRESS, STUN_A_CHANGED_ADDRESS, &t->other, &second);
	t->classic |= second;
	get_addr(m, STUN_A_RESPONSE_ORIGIN, STUN_A_SOURCE_ADDRESS, &t->origin, &second);
	settle(t, NATD_TX_ANSWERED, now);

	const struct pbx_addr *to = &t->to;
	switch (t->test) {
	case NATD_T_FILTER_II:
		/* Only an answer from another address shows the filter let a
		 * stranger in; a server that ignored the change answered from
		 * where the request went. */
		if (same_ip(from, to))
			note(t, "answered from the address the request went to: the change was ignored");
		break;
	case NATD_T_FILTER_III:
		if (!same_ip(from, to) || pbx_addr_port(from) == pbx_addr_port(to))
			note(t, "not answered from the same address and another port: the change "
				"was not made as asked");
		break;
	default:
		break;
	}
}

void natd_probe_input(struct natd_probe *p, size_t sock, const struct pbx_addr *from,
		      const void *data, size_t len, int64_t now)
{
	struct stun_msg m;
	if (p->phase >= 4 || stun_msg_decode(&m, data, len) || m.method != STUN_BINDING) {
		p->ignored++;
		return;
	}
	for (size_t i = 0; i < p->n_tx; i++) {
		struct natd_tx *t = &p->tx[i];
		if (!pending(t) || t->kind != m.kind || memcmp(t->tid, m.tid, m.tid_len) != 0)
			continue;
		if (t->test == NATD_T_HAIRPIN) {
			/* Our own request, arriving at the winner's socket. */
			if (m.cls != STUN_REQUEST || (int)sock != p->v.answered_by)
				break;
			t->from = *from;
			settle(t, NATD_TX_ANSWERED, now);
			advance(p, now);
			return;
		}
		if (sock != t->sock || (m.cls != STUN_SUCCESS && m.cls != STUN_ERROR))
			break;
		take_answer(t, &m, from, now);
		advance(p, now);
		return;
	}
	p->ignored++;
}
