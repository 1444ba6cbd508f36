/* ice_loop.c - rpctl ice-test loop: two local ICE agents (lib/ice
 * agent.c, RFC 8445), A controlling and B controlled, each gathering
 * through the servers (its own TURN server with --a-turn/--b-turn), their
 * candidates trickled to each other in memory (RFC 8838), the checks run
 * through the relays as two phones would, the selected pair proved with
 * "hello over ICE" and its echo; optionally numbered datagrams through it
 * (loss and RTT) and consent freshness kept running (RFC 7675).  Then a
 * pairs table per agent and one conclusion. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pbxedge/ice.h>
#include <pbxedge/turn.h>

#include "ctl.h"
#include "ice_cmd.h"
#include "ice_io.h"

#define HELLO "hello over ICE"
#define HELLO_EVERY_MS 100
#define DATA_EVERY_MS 20        /* one datagram per 20 ms, as audio goes */
#define DATA_GRACE_MS 1000      /* echoes still counted after the last send */
#define DATA_MAGIC "PBXLOOP1"
#define DATA_LEN 24             /* magic, sequence number, send time (us) */

struct side {
	char name;                /* 'A' or 'B' */
	struct ice_run r;         /* this agent's servers and host sockets */
	struct ice_gather *g;
	struct pbx_tls_creds *tls;
	struct ice_io io;
	bool io_ready;            /* io owns the host sockets */
	struct ice_agent *agent;
	char ufrag[ICE_UFRAG_MAX + 1], pwd[ICE_PWD_MAX + 1];
	size_t n_given;           /* our gathered candidates handed over */
	bool local_done;          /* end-of-candidates given */
	struct ice_cand remote[ICE_DESC_CANDS_MAX]; /* the other's, as fed */
	size_t n_remote;
	struct ice_refusals rf;
	bool bound;
	struct ice_diag gathering;
	bool gathered;
	struct ice_diag d;        /* the pair diagnosis at the end */
	bool diagnosed;
};

struct loop {
	struct ctl *c;
	struct ice_args a;
	struct side s[2];
	int64_t limit;
	/* proving the selected pair */
	bool echo_back;
	int64_t next_hello, proved_at, hold_until;
	/* --data */
	uint32_t sent, received;
	uint8_t *seen;            /* one bit per sequence number */
	uint32_t seq_max;
	int64_t next_data, data_end;
	uint64_t rtt_sum_us, rtt_min_us, rtt_max_us;
	/* the conclusion */
	struct ice_verdict v;
};

static int64_t now_of(struct loop *l)
{
	return ice_io_now(&l->s[0].io);
}

static int64_t clock_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void vlog(struct loop *l, struct side *s, const char *fmt, const char *arg)
{
	if (!l->a.verbose)
		return;
	fprintf(stderr, "%6lld ms  %c ", (long long)now_of(l), s->name);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
}

/* ---- packets ---- */

static void send_tx(struct loop *l, struct side *s, int sock, const struct pbx_addr *to,
		    const void *buf, size_t len)
{
	int rc = ice_io_send(&s->io, sock, to, buf, len);
	if (rc && l->a.verbose) {
		char t[64];
		ice_addr_text(to, t, sizeof t);
		fprintf(stderr, "%6lld ms  %c cannot send to %s from socket %d (%d)\n",
			(long long)now_of(l), s->name, t, sock, rc);
	}
}

static void send_data(struct loop *l, struct side *s, const void *buf, size_t len)
{
	int sock;
	struct pbx_addr to;
	if (ice_agent_send(s->agent, (uint64_t)now_of(l), len, &sock, &to) == 0)
		send_tx(l, s, sock, &to, buf, len);
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* A's echo of one numbered datagram: counted once, its round trip. */
static void data_back(struct loop *l, const uint8_t *d, size_t len)
{
	if (len != DATA_LEN || memcmp(d, DATA_MAGIC, 8) != 0)
		return;
	uint64_t seq = get_u64(d + 8), t = get_u64(d + 16);
	if (seq >= l->sent || !l->seen || (l->seen[seq / 8] & (1u << (seq % 8))))
		return;
	l->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
	uint64_t now = (uint64_t)clock_us(), rtt = now > t ? now - t : 0;
	if (l->received == 0 || rtt < l->rtt_min_us)
		l->rtt_min_us = rtt;
	if (rtt > l->rtt_max_us)
		l->rtt_max_us = rtt;
	l->rtt_sum_us += rtt;
	l->received++;
}

static void on_packet(struct loop *l, struct side *s, int sock, const struct pbx_addr *from,
		      const uint8_t *d, size_t len)
{
	enum ice_recv_kind kind;
	if (ice_agent_recv(s->agent, (uint64_t)now_of(l), sock, from, d, len, &kind) ||
	    kind != ICE_RECV_DATA)
		return;
	if (s->name == 'A') {
		if (len == strlen(HELLO) && memcmp(d, HELLO, len) == 0)
			l->echo_back = true;
		else
			data_back(l, d, len);
		return;
	}
	uint8_t copy[ICE_GATHER_PACKET_MAX];
	if (len > sizeof copy)
		return;
	memcpy(copy, d, len);
	send_data(l, s, copy, len); /* B echoes whatever comes */
}

static void on_packet_a(void *arg, int sock, const struct pbx_addr *from, const uint8_t *d,
			size_t len)
{
	struct loop *l = arg;
	on_packet(l, &l->s[0], sock, from, d, len);
}

static void on_packet_b(void *arg, int sock, const struct pbx_addr *from, const uint8_t *d,
			size_t len)
{
	struct loop *l = arg;
	on_packet(l, &l->s[1], sock, from, d, len);
}

static void on_icmp(struct loop *l, struct side *s, int sock, const struct pbx_addr *to,
		    uint8_t type, uint8_t code)
{
	ice_agent_report(s->agent, (uint64_t)now_of(l), sock, to, ICE_REPORT_ICMP,
			 type << 8 | code);
}

static void on_icmp_a(void *arg, int sock, const struct pbx_addr *to, uint8_t type, uint8_t code)
{
	struct loop *l = arg;
	on_icmp(l, &l->s[0], sock, to, type, code);
}

static void on_icmp_b(void *arg, int sock, const struct pbx_addr *to, uint8_t type, uint8_t code)
{
	struct loop *l = arg;
	on_icmp(l, &l->s[1], sock, to, type, code);
}

/* ---- trickling ---- */

/* A relay of s just allocated: permissions toward what s knows of the
 * other side already, so the first checks through it are not dropped. */
static void permit_known(struct loop *l, struct side *s, const struct ice_gathered *x)
{
	struct turn_client *tc = ice_gather_relay(s->g, x->relay);
	for (size_t k = 0; tc && k < s->n_remote; k++)
		if (pbx_addr_family(&s->remote[k].addr) == pbx_addr_family(&x->cand.addr))
			(void)turn_client_permit(tc, &s->remote[k].addr, now_of(l));
}

/* s's newly gathered candidates into its agent and to the other agent
 * (trickled as they come); end-of-candidates when s's gathering is done. */
static void trickle(struct loop *l, struct side *s, struct side *o)
{
	uint64_t now = (uint64_t)now_of(l);
	for (; s->n_given < ice_gather_n_cands(s->g); s->n_given++) {
		const struct ice_gathered *x = ice_gather_cand(s->g, s->n_given);
		const struct ice_cand *k = &x->cand;
		int sock = k->type == ICE_RELAY ? ICE_IO_RELAY_SOCK(x->relay) : x->sock;
		const struct pbx_addr *base = k->type == ICE_SRFLX ? &k->raddr : &k->addr;
		if (k->component != 1 || ice_agent_add_local(s->agent, now, k, sock, base))
			continue;
		if (k->type == ICE_RELAY)
			permit_known(l, s, x);
		if (o->n_remote == ICE_DESC_CANDS_MAX)
			continue;
		o->remote[o->n_remote++] = *k;
		ice_permit_remote(o->g, k, (int64_t)now);
		(void)ice_agent_add_remote(o->agent, now, k);
		if (l->a.verbose) {
			char t[64];
			ice_addr_text(&k->addr, t, sizeof t);
			fprintf(stderr, "%6lld ms  %c candidate %s %s\n", (long long)now, s->name,
				ice_cand_type_name(k->type), t);
		}
	}
	if (!s->local_done && ice_gather_done(s->g)) {
		s->local_done = true;
		ice_agent_end_of_local(s->agent, now);
		ice_agent_end_of_remote(o->agent, now);
		vlog(l, s, "%s", "end of candidates");
		s->gathered = ice_gather_diag(s->g, (enum ice_gather_policy)l->a.policy,
					      &s->gathering) == 0;
		if (l->a.verbose)
			ice_print_stale(stderr, s->g, s->name);
	}
}

/* ---- the run ---- */

static int new_agent(struct loop *l, struct side *s, enum ice_role role)
{
	struct ice_agent_config cfg;
	ice_agent_config_init(&cfg, role);
	if (l->a.consent_timeout_s) {
		cfg.consent_timeout_ms = l->a.consent_timeout_s * 1000u;
		/* a few checks within the timeout, never more often than 1 s */
		if (cfg.consent_interval_ms > cfg.consent_timeout_ms / 3)
			cfg.consent_interval_ms = cfg.consent_timeout_ms / 3 < 1000
							  ? 1000 : cfg.consent_timeout_ms / 3;
	}
	memcpy(s->ufrag, cfg.ufrag, sizeof s->ufrag);
	memcpy(s->pwd, cfg.pwd, sizeof s->pwd);
	int rc = ice_agent_new(&cfg, &s->agent);
	explicit_bzero(cfg.pwd, sizeof cfg.pwd);
	return rc;
}

static void run_agent(struct loop *l, struct side *s)
{
	uint8_t buf[ICE_AGENT_PACKET_MAX];
	for (int guard = 0; guard < 1000; guard++) {
		struct ice_tx tx;
		if (ice_agent_poll(s->agent, (uint64_t)now_of(l), buf, sizeof buf, &tx) ||
		    tx.len == 0)
			break;
		send_tx(l, s, tx.socket_id, &tx.to, buf, tx.len);
	}
	struct ice_event ev;
	while (ice_agent_next_event(s->agent, &ev) == 0)
		if (l->a.verbose)
			ice_print_event(stderr, s->name, &ev);
	ice_report_refusals(s->g, s->agent, s->remote, s->n_remote, now_of(l), &s->rf);
}

/* The next numbered datagram from A, while --data lasts. */
static void data_send(struct loop *l, int64_t now)
{
	if (!l->seen || now < l->next_data || now >= l->data_end || l->sent >= l->seq_max)
		return;
	uint8_t d[DATA_LEN];
	memcpy(d, DATA_MAGIC, 8);
	put_u64(d + 8, l->sent);
	put_u64(d + 16, (uint64_t)clock_us());
	l->sent++;
	send_data(l, &l->s[0], d, sizeof d);
	l->next_data += DATA_EVERY_MS;
	if (l->next_data < now)
		l->next_data = now + DATA_EVERY_MS;
}

static void judge(struct loop *l, int64_t now)
{
	int done = 0;
	for (int i = 0; i < 2; i++) {
		if (ice_agent_state(l->s[i].agent, NULL) == ICE_AGENT_FAILED) {
			ice_verdict_set(&l->v, ICE_END_FAILED, "checks", "");
			return;
		}
		done += ice_agent_awaiting_peer(l->s[i].agent, (uint64_t)now);
	}
	/* Both agents' pairs all failed, each waiting for a check from the
	 * other (RFC 8863): both are ours, so none can come. */
	if (done == 2) {
		for (int i = 0; i < 2; i++)
			(void)ice_agent_give_up(l->s[i].agent, (uint64_t)now);
		ice_verdict_set(&l->v, ICE_END_FAILED, "checks", "");
		return;
	}
	const struct ice_pair *sa, *sb;
	bool a_sel = ice_agent_selected(l->s[0].agent, &sa) == 0;
	bool b_sel = ice_agent_selected(l->s[1].agent, &sb) == 0;
	if (a_sel && !l->s[0].bound) {
		ice_bind_selected(l->s[0].g, sa, now);
		l->s[0].bound = true;
	}
	if (b_sel && !l->s[1].bound) {
		ice_bind_selected(l->s[1].g, sb, now);
		l->s[1].bound = true;
	}
	if (!a_sel || !b_sel)
		return;
	if (!l->proved_at) {
		if (l->echo_back) {
			l->proved_at = now;
			int64_t data = l->a.data_s ? (int64_t)l->a.data_s * 1000 + DATA_GRACE_MS : 0;
			int64_t consent = (int64_t)l->a.consent_s * 1000;
			l->hold_until = now + (data > consent ? data : consent);
			if (l->a.data_s) {
				l->seq_max = l->a.data_s * (1000 / DATA_EVERY_MS);
				l->seen = calloc(l->seq_max / 8 + 1, 1);
				l->next_data = now;
				l->data_end = now + (int64_t)l->a.data_s * 1000;
			}
			if (l->a.verbose)
				fprintf(stderr, "%6lld ms  loop: the echo came back; holding for %lld ms\n",
					(long long)now, (long long)(l->hold_until - now));
		} else if (now >= l->next_hello) {
			send_data(l, &l->s[0], HELLO, strlen(HELLO));
			l->next_hello = now + HELLO_EVERY_MS;
		}
		return;
	}
	data_send(l, now);
	if (now >= l->hold_until)
		ice_verdict_set(&l->v, ICE_END_SUCCESS, "ok", "");
}

static int64_t next_wake(struct loop *l, int64_t now)
{
	int64_t until = l->proved_at ? l->hold_until : l->limit;
	for (int i = 0; i < 2; i++) {
		uint64_t dl = ice_agent_next_deadline(l->s[i].agent, (uint64_t)now);
		if (dl != UINT64_MAX && (int64_t)dl < until)
			until = (int64_t)dl;
	}
	if (l->proved_at) {
		if (l->hold_until < until)
			until = l->hold_until;
		if (l->seen && now < l->data_end && l->next_data < until)
			until = l->next_data;
	} else if (l->s[0].bound && l->next_hello < until) {
		until = l->next_hello;
	}
	return until;
}

static void run(struct loop *l)
{
	struct ice_io *ios[2] = { &l->s[0].io, &l->s[1].io };
	l->s[0].io.on_packet = on_packet_a;
	l->s[0].io.on_icmp = on_icmp_a;
	l->s[1].io.on_packet = on_packet_b;
	l->s[1].io.on_icmp = on_icmp_b;
	for (int i = 0; i < 2; i++) {
		l->s[i].io.arg = l;
		if (ice_io_start(&l->s[i].io)) {
			ice_verdict_set(&l->v, ICE_END_FAILED, "gather",
					"the gathering does not start");
			return;
		}
	}
	l->s[1].io.t0 = l->s[0].io.t0; /* one clock for both agents */
	uint64_t now0 = (uint64_t)now_of(l);
	if (ice_agent_set_remote(l->s[0].agent, now0, pbx_span_cstr(l->s[1].ufrag),
				 pbx_span_cstr(l->s[1].pwd), false) ||
	    ice_agent_set_remote(l->s[1].agent, now0, pbx_span_cstr(l->s[0].ufrag),
				 pbx_span_cstr(l->s[0].pwd), false)) {
		ice_verdict_set(&l->v, ICE_END_FAILED, "local",
				"the agents refuse each other's credentials");
		return;
	}
	while (l->v.end == ICE_END_NONE) {
		int64_t now = now_of(l);
		if (ice_stop || (now >= l->limit && !l->proved_at)) {
			ice_verdict_set(&l->v, ICE_END_ABORTED,
					ice_stop ? "interrupted" : "timeout", "");
			break;
		}
		trickle(l, &l->s[0], &l->s[1]);
		trickle(l, &l->s[1], &l->s[0]);
		run_agent(l, &l->s[0]);
		run_agent(l, &l->s[1]);
		judge(l, now_of(l));
		if (l->v.end != ICE_END_NONE)
			break;
		if (ice_io_step_many(ios, 2, next_wake(l, now_of(l))))
			ice_verdict_set(&l->v, ICE_END_FAILED, "io", "the gathering's I/O failed");
	}
}

/* ---- the conclusion ---- */

/* Each agent's pair diagnosis; the conclusion is the first agent's that
 * did not succeed (A before B), else A's: the side that saw the failure
 * names it (B is the one to see a permission refused toward A, say). */
static void conclude(struct loop *l)
{
	bool interrupted = l->v.end == ICE_END_ABORTED && ice_stop;
	bool time_limit = l->v.end == ICE_END_ABORTED && !ice_stop;
	const struct ice_diag *pick = NULL;
	for (int i = 0; i < 2; i++) {
		struct side *s = &l->s[i];
		struct ice_report_in ri = {
			.agent = s->agent, .g = s->g, .rf = &s->rf, .remote = s->remote,
			.n_remote = s->n_remote, .dflt = ICE_DEFAULT_NONE,
			.interrupted = interrupted, .time_limit = time_limit,
		};
		s->diagnosed = s->agent && ice_diagnose(&ri, &s->d) == 0;
		if (s->diagnosed && !pick && s->d.result != ICE_DIAG_R_SUCCESS)
			pick = &s->d;
	}
	if (!pick && l->s[0].diagnosed)
		pick = &l->s[0].d;
	enum ice_end kind = l->v.end;
	if (kind == ICE_END_FAILED && strcmp(l->v.code, "checks") != 0)
		return; /* no agent's verdict: the run itself failed */
	l->v.end = ICE_END_NONE;
	if (!pick) {
		ice_verdict_set(&l->v, kind, kind == ICE_END_ABORTED ? l->v.code : "checks-failed",
				"no memory to work out why");
		return;
	}
	enum ice_end end = ice_end_of_diag(pick);
	/* The agents' success needs the echo (and the hold) too; until then
	 * this is how far the checks got when the run ended. */
	if (end == ICE_END_SUCCESS)
		end = kind;
	ice_verdict_set(&l->v, end, ice_diag_name(pick->code), pick->reason);
	snprintf(l->v.hint, sizeof l->v.hint, "%s", pick->hint);
	if (end == ICE_END_ABORTED && kind == ICE_END_ABORTED &&
	    pick->result == ICE_DIAG_R_SUCCESS) {
		snprintf(l->v.code, sizeof l->v.code, "%s",
			 interrupted ? "interrupted" : "timeout");
		snprintf(l->v.reason, sizeof l->v.reason, "%s",
			 interrupted ? "interrupted by a signal after the agents selected a pair"
				     : "the --timeout expired before the selected pair was proved");
	}
}

/* ---- output ---- */

static void rtt_ms(uint64_t us, char *buf, size_t n)
{
	snprintf(buf, n, "%llu.%02llu", (unsigned long long)(us / 1000),
		 (unsigned long long)(us % 1000 / 10));
}

static uint32_t lost(const struct loop *l)
{
	return l->sent - l->received;
}

static void print_text(struct loop *l)
{
	FILE *o = l->c->out;
	for (int i = 0; i < 2; i++) {
		char title[64];
		snprintf(title, sizeof title, "Agent %c (%s) pairs", l->s[i].name,
			 i == 0 ? "controlling" : "controlled");
		if (i)
			fputc('\n', o);
		ice_print_pairs(o, l->s[i].agent, title);
	}
	fputc('\n', o);
	ice_print_selected(o, l->s[0].agent, "ICE: Selected A");
	ice_print_selected(o, l->s[1].agent, "ICE: Selected B");
	for (int i = 0; i < 2; i++)
		if (l->s[i].gathered && !l->s[i].gathering.success)
			fprintf(o, "ICE: Gathering %c FAILED (%s: %s)\n", l->s[i].name,
				ice_diag_name(l->s[i].gathering.code), l->s[i].gathering.reason);
	if (l->a.data_s) {
		if (l->received) {
			char mn[32], av[32], mx[32];
			rtt_ms(l->rtt_min_us, mn, sizeof mn);
			rtt_ms(l->rtt_sum_us / l->received, av, sizeof av);
			rtt_ms(l->rtt_max_us, mx, sizeof mx);
			fprintf(o, "ICE: Data sent %u received %u lost %u, RTT min/avg/max "
				   "%s/%s/%s ms\n", l->sent, l->received, lost(l), mn, av, mx);
		} else {
			fprintf(o, "ICE: Data sent %u received 0 lost %u\n", l->sent, lost(l));
		}
	}
	fprintf(o, "ICE: Conclusion %s (%s: %s)\n", ice_end_name(l->v.end), l->v.code, l->v.reason);
	if (l->v.hint[0])
		fprintf(o, "ICE: Hint: %s\n", l->v.hint);
	if (l->v.note[0])
		fprintf(o, "ICE: Note: %s\n", l->v.note);
}

static void json_rtt(struct json *j, const char *key, uint64_t us, bool have)
{
	json_key(j, key);
	if (!have) {
		json_null(j);
		return;
	}
	json_fixed(j, (int64_t)(us / 10), 100);
}

static void print_json(struct loop *l)
{
	struct json j;
	json_init(&j, l->c->out);
	json_obj(&j);
	json_key(&j, "servers");
	json_arr(&j);
	for (int i = 0; i < 2; i++)
		for (size_t k = 0; l->s[i].g && k < ice_gather_n_records(l->s[i].g); k++) {
			json_obj(&j);
			json_key(&j, "agent");
			json_str(&j, i ? "B" : "A");
			json_key(&j, "record");
			ice_json_server(&j, ice_gather_record(l->s[i].g, k));
			json_end_obj(&j);
		}
	json_end_arr(&j);
	json_key(&j, "agents");
	json_arr(&j);
	for (int i = 0; i < 2; i++) {
		struct side *s = &l->s[i];
		ice_json_agent(&j, i ? "B" : "A", i ? "controlled" : "controlling", s->g,
			       s->agent);
	}
	json_end_arr(&j);
	json_key(&j, "selected");
	ice_json_selected(&j, l->s[0].agent);
	json_key(&j, "data");
	if (l->a.data_s) {
		json_obj(&j);
		json_key(&j, "sent");
		json_int(&j, l->sent);
		json_key(&j, "received");
		json_int(&j, l->received);
		json_key(&j, "lost");
		json_int(&j, lost(l));
		json_key(&j, "rtt_ms");
		json_obj(&j);
		json_rtt(&j, "min", l->rtt_min_us, l->received);
		json_rtt(&j, "avg", l->received ? l->rtt_sum_us / l->received : 0, l->received);
		json_rtt(&j, "max", l->rtt_max_us, l->received);
		json_end_obj(&j);
		json_end_obj(&j);
	} else {
		json_null(&j);
	}
	json_key(&j, "conclusion");
	ice_json_conclusion(&j, ice_end_name(l->v.end), l->v.code, l->v.reason, l->v.hint,
			    l->v.note);
	json_end_obj(&j);
	json_done(&j);
}

/* ---- the command ---- */

/* Side s's servers: --stun, --turn and its own --a-turn/--b-turn; the
 * appliance's own when none is given at all.  Then its host sockets and
 * gatherer. */
static int setup_side(struct loop *l, struct side *s, const struct ice_run *creds)
{
	struct ctl *c = l->c;
	struct ice_run *r = &s->r;
	r->a = l->a;
	memcpy(r->password, creds->password, sizeof r->password);
	memcpy(r->rest_user, creds->rest_user, sizeof r->rest_user);
	r->have_password = creds->have_password;
	const char *const *own = s->name == 'A' ? l->a.a_turn : l->a.b_turn;
	size_t n_own = s->name == 'A' ? l->a.n_a_turn : l->a.n_b_turn;
	for (size_t i = 0; i < l->a.n_stun; i++)
		if (ice_parse_uri(c, r, l->a.stun[i], false))
			return 1;
	for (size_t i = 0; i < l->a.n_turn; i++)
		if (ice_parse_uri(c, r, l->a.turn[i], true))
			return 1;
	for (size_t i = 0; i < n_own; i++)
		if (ice_parse_uri(c, r, own[i], true))
			return 1;
	bool none = !l->a.n_stun && !l->a.n_turn && !l->a.n_a_turn && !l->a.n_b_turn;
	/* Host candidates alone need no server; otherwise the appliance's
	 * own are the default. */
	if (none && l->a.policy != ICE_POLICY_HOST && ice_default_servers(c, r))
		return 1;
	if (ice_bind_hosts(c, r))
		return 1;
	int rc = ice_new_gather(r, &s->g);
	if (rc == 0 && ice_tls_creds(c, r, &s->tls) == 0) {
		ice_io_init(&s->io, s->g, r->host_fds, r->n_hosts, s->tls, r->a.sni, r->servers);
		s->io.verbose = r->a.verbose ? stderr : NULL;
		snprintf(s->io.tag, sizeof s->io.tag, "%c ", s->name);
		s->io_ready = true;
		return 0;
	}
	for (size_t i = 0; i < r->n_hosts; i++)
		close(r->host_fds[i]);
	if (rc)
		return ctl_fail(c, "cannot set up agent %c's gathering (%s)", s->name,
				rc == PBX_E_TOOLONG ? "too many servers or addresses" : "bad input");
	return 1;
}

/* The conclusion, for rpctl status. */
static void save_result(struct loop *l)
{
	char sel[160];
	ice_selected_text(l->s[0].agent, sel, sizeof sel);
	int64_t servers = 0, cands = 0, pairs = 0;
	for (int i = 0; i < 2; i++) {
		const struct side *s = &l->s[i];
		servers += (int64_t)(s->g ? ice_gather_n_records(s->g) : 0);
		cands += (int64_t)(s->g ? ice_gather_n_cands(s->g) : 0);
		pairs += (int64_t)(s->agent ? ice_agent_pair_count(s->agent) : 0);
	}
	struct store_ice_test_row row = {
		.mode = "loop",
		.result = ice_end_name(l->v.end),
		.code = l->v.code,
		.reason = l->v.reason,
		.servers = servers,
		.candidates = cands,
		.pairs = pairs,
		.selected = sel,
	};
	ice_save_result(l->c, &row);
}

int ice_cmd_loop(struct ctl *c, int argc, char **argv)
{
	static struct loop l;
	static struct ice_run creds;
	memset(&l, 0, sizeof l);
	memset(&creds, 0, sizeof creds);
	l.c = c;
	l.s[0].name = 'A';
	l.s[1].name = 'B';
	if (ice_parse_args(argc, argv, "loop", &l.a))
		return 2;
	creds.a = l.a;
	int rc = 1;
	if (ice_open_store(c) || ice_read_password(c, &creds))
		goto out;
	if (l.a.rest && ice_mint_rest(c, &creds))
		goto out;
	if (setup_side(&l, &l.s[0], &creds) || setup_side(&l, &l.s[1], &creds))
		goto out;
	if (new_agent(&l, &l.s[0], ICE_CONTROLLING) || new_agent(&l, &l.s[1], ICE_CONTROLLED)) {
		ctl_fail(c, "cannot set up the ICE agents");
		goto out;
	}
	l.limit = (int64_t)l.a.timeout_s * 1000;
	ice_signals_on();
	run(&l);
	/* every allocation, every socket, whatever the end */
	ice_io_release(&l.s[0].io);
	ice_io_release(&l.s[1].io);
	l.s[0].io_ready = l.s[1].io_ready = false;
	conclude(&l);
	ice_signals_off();
	ice_hairpin_note(c, &l.s[0].r, NULL, 0, l.v.note, sizeof l.v.note);
	if (!l.v.note[0])
		ice_hairpin_note(c, &l.s[1].r, NULL, 0, l.v.note, sizeof l.v.note);
	if (c->json)
		print_json(&l);
	else
		print_text(&l);
	fflush(c->out);
	save_result(&l);
	rc = ice_end_exit(l.v.end);
out:
	for (int i = 0; i < 2; i++) {
		struct side *s = &l.s[i];
		if (s->io_ready)
			ice_io_close(&s->io);
		ice_agent_free(s->agent);
		ice_gather_free(s->g);
		if (s->tls)
			pbx_tls_creds_unref(s->tls);
		explicit_bzero(s->r.password, sizeof s->r.password);
		explicit_bzero(s->pwd, sizeof s->pwd);
	}
	free(l.seen);
	explicit_bzero(creds.password, sizeof creds.password);
	if (c->st) {
		store_close(c->st);
		c->st = NULL;
	}
	return rc;
}
