/* ice_peer.c - rpctl ice-test peer: our ICE agent (lib/ice agent.c)
 * against another agent, over the line protocol of the ICE test peers.
 * It gathers (lib/ice gather.c, the sockets and streams of ice_io.c),
 * prints its description block (a=ice-ufrag, a=ice-pwd, a=candidate
 * lines, a=end-of-candidates), reads the peer's block (or a whole SDP
 * body) and trickles its candidates into the agent as they come, runs
 * the checks (relayed candidates through their TURN client), and proves
 * the selected pair with "hello over ICE" and its echo, or with --no-data
 * (a peer that speaks DTLS next, a browser) with an answered consent
 * check (RFC 7675 5.1) on the selected, nominated pair.  Then a pairs
 * table and one conclusion. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pbxedge/ice.h>
#include <pbxedge/turn.h>

#include "ctl.h"
#include "ice_cmd.h"
#include "ice_io.h"

#define HELLO "hello over ICE"
#define HELLO_EVERY_MS 100      /* the controlling side repeats its hello */
#define ECHO_LINGER_MS 300      /* the controlled side echoes repeats this long */
#define SDP_MAX (256 * 1024)

struct peer {
	struct ctl *c;
	struct ice_run r;
	struct ice_gather *g;
	struct pbx_tls_creds *tls;
	struct ice_io io;
	struct ice_agent *agent;
	struct ice_desc local, remote;
	FILE *out;
	int in_fd;
	bool in_regular;          /* EOF of a file is no peer closing */
	char line[ICE_LINE_MAX];
	size_t line_len;
	bool line_long;           /* the current line is over ICE_LINE_MAX */
	bool first_line_seen, sdp, in_eof, remote_creds, remote_done;
	size_t remote_fed;        /* remote candidates handed to the agent */
	char *sdp_buf;
	size_t sdp_len;
	enum ice_default_check dflt;
	bool echo_back;           /* controlling: the echo came back */
	bool echoed;              /* controlled: echoed at least once */
	int64_t echoed_at, next_hello;
	bool bound;               /* the selected relay pair has a channel */
	bool awaiting_said;       /* --verbose told of the RFC 8863 wait */
	struct ice_refusals rf;   /* the TURN servers' refusals, reported */
	/* The servers' verdict on the gathering (lib/ice diag.c). */
	struct ice_diag gathering;
	bool gathered;
	/* The conclusion. */
	struct ice_verdict v;
};

static int64_t now_of(struct peer *p)
{
	return ice_io_now(&p->io);
}

/* ---- packets ---- */

static void send_tx(struct peer *p, int sock, const struct pbx_addr *to, const void *buf,
		    size_t len)
{
	int rc = ice_io_send(&p->io, sock, to, buf, len);
	if (rc && p->io.verbose) {
		char t[64];
		ice_addr_text(to, t, sizeof t);
		fprintf(p->io.verbose, "%6lld ms  cannot send to %s from socket %d (%d)\n",
			(long long)now_of(p), t, sock, rc);
	}
}

static void send_data(struct peer *p, const void *buf, size_t len)
{
	int sock;
	struct pbx_addr to;
	if (ice_agent_send(p->agent, (uint64_t)now_of(p), len, &sock, &to) == 0)
		send_tx(p, sock, &to, buf, len);
}

static void on_packet(void *arg, int sock, const struct pbx_addr *from, const uint8_t *d,
		      size_t len)
{
	struct peer *p = arg;
	if (!p->agent)
		return;
	enum ice_recv_kind kind;
	int64_t now = now_of(p);
	if (ice_agent_recv(p->agent, (uint64_t)now, sock, from, d, len, &kind) ||
	    kind != ICE_RECV_DATA || p->r.a.no_data)
		return; /* --no-data: a DTLS ClientHello is no hello to echo */
	if (!p->r.a.controlled) {
		if (len == strlen(HELLO) && memcmp(d, HELLO, len) == 0)
			p->echo_back = true;
		return;
	}
	uint8_t copy[ICE_GATHER_PACKET_MAX];
	if (len > sizeof copy)
		return;
	memcpy(copy, d, len);
	int before = p->echoed;
	send_data(p, copy, len);
	const struct ice_pair *sel;
	if (!before && ice_agent_selected(p->agent, &sel) == 0) {
		p->echoed = true;
		p->echoed_at = now;
	}
}

/* An ICMP error for a check or data we sent from a host socket. */
static void on_icmp(void *arg, int sock, const struct pbx_addr *to, uint8_t type, uint8_t code)
{
	struct peer *p = arg;
	if (p->agent)
		ice_agent_report(p->agent, (uint64_t)now_of(p), sock, to, ICE_REPORT_ICMP,
				 type << 8 | code);
}

/* ---- the peer's description ---- */

/* Hand the agent what the description holds that it has not had yet. */
static void feed_remote(struct peer *p)
{
	uint64_t now = (uint64_t)now_of(p);
	if (!p->remote_creds && p->remote.ufrag[0] && p->remote.pwd[0]) {
		if (ice_agent_set_remote(p->agent, now, pbx_span_cstr(p->remote.ufrag),
					 pbx_span_cstr(p->remote.pwd), p->remote.lite)) {
			ice_verdict_set(&p->v, ICE_END_FAILED, "bad-description",
					"the peer's ice-ufrag or ice-pwd is refused by the agent");
			return;
		}
		p->remote_creds = true;
	}
	if (!p->remote_creds)
		return;
	for (; p->remote_fed < p->remote.n_cands; p->remote_fed++) {
		const struct ice_cand *k = &p->remote.cands[p->remote_fed];
		if (!k->unresolved)
			ice_permit_remote(p->g, k, now_of(p));
		(void)ice_agent_add_remote(p->agent, now, k);
	}
	if (p->remote.end_of_candidates && !p->remote_done) {
		ice_agent_end_of_remote(p->agent, now);
		p->remote_done = true;
	}
}

static void bad_line(struct peer *p, const struct pbx_err *e)
{
	char msg[ICE_DIAG_TEXT_MAX];
	snprintf(msg, sizeof msg, "the peer's description: %s", pbx_err_text(e));
	ice_verdict_set(&p->v, ICE_END_FAILED, "bad-description", msg);
}

static void peer_line(struct peer *p, const char *s, size_t n)
{
	if (!p->first_line_seen) {
		size_t k = 0;
		while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r'))
			k++;
		if (k == n)
			return; /* blank lines before anything */
		p->first_line_seen = true;
		p->sdp = n - k >= 2 && s[k] == 'v' && s[k + 1] == '=';
	}
	if (p->sdp) {
		if (p->sdp_len + n + 1 > SDP_MAX) {
			ice_verdict_set(&p->v, ICE_END_FAILED, "bad-description",
					"the peer's SDP body is over 256 KB");
			return;
		}
		if (!p->sdp_buf && !(p->sdp_buf = malloc(SDP_MAX)))
			return;
		memcpy(p->sdp_buf + p->sdp_len, s, n);
		p->sdp_len += n;
		p->sdp_buf[p->sdp_len++] = '\n';
		return;
	}
	if (p->remote.end_of_candidates)
		return; /* the block is over: what follows is not ours */
	struct pbx_err e = { 0 };
	if (ice_desc_parse_line(&p->remote, (struct pbx_span){ s, n }, &e)) {
		bad_line(p, &e);
		return;
	}
	feed_remote(p);
}

/* The whole SDP body is in: its first m= section's ICE attributes. */
static void sdp_done(struct peer *p)
{
	struct ice_sdp *sdp = NULL;
	struct pbx_err e = { 0 };
	if (ice_sdp_new(&sdp)) {
		ice_verdict_set(&p->v, ICE_END_FAILED, "bad-description", "out of memory");
		return;
	}
	if (ice_sdp_parse(sdp, (struct pbx_span){ p->sdp_buf, p->sdp_len }, &e)) {
		bad_line(p, &e);
	} else if (sdp->n_media == 0) {
		ice_verdict_set(&p->v, ICE_END_FAILED, "bad-description",
				"the peer's SDP has no m= section");
	} else {
		p->remote = sdp->media[0].ice;
		p->remote.end_of_candidates = true; /* the whole body: nothing follows */
		p->dflt = ice_desc_check_default(&p->remote);
		feed_remote(p);
	}
	ice_sdp_free(sdp);
}

static void read_input(struct peer *p)
{
	char buf[4096];
	ssize_t n = read(p->in_fd, buf, sizeof buf);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (p->line_len)
			peer_line(p, p->line, p->line_len);
		p->line_len = 0;
		p->in_eof = true;
		p->io.extra_fd = -1;
		if (p->sdp && p->v.end == ICE_END_NONE)
			sdp_done(p);
		return;
	}
	for (ssize_t i = 0; i < n && p->v.end == ICE_END_NONE; i++) {
		if (buf[i] == '\n') {
			if (!p->line_long)
				peer_line(p, p->line, p->line_len);
			p->line_len = 0;
			p->line_long = false;
		} else if (p->line_len < sizeof p->line) {
			p->line[p->line_len++] = buf[i];
		} else if (!p->line_long) {
			p->line_long = true;
			ice_verdict_set(&p->v, ICE_END_FAILED, "bad-description",
					"the peer's description has a line over 2048 bytes");
		}
	}
}

/* What the servers' records say of the gathering: shown when it did not
 * succeed, since no candidate of ours explains every pair failing. */
static void judge_gathering(struct peer *p)
{
	p->gathered = ice_gather_diag(p->g, (enum ice_gather_policy)p->r.a.policy,
				      &p->gathering) == 0;
	if (p->io.verbose)
		ice_print_stale(p->io.verbose, p->g, 0);
}

/* ---- our description ---- */

static int add_locals(struct peer *p)
{
	uint64_t now = (uint64_t)now_of(p);
	ice_desc_init(&p->local);
	struct ice_agent_config cfg;
	ice_agent_config_init(&cfg, p->r.a.controlled ? ICE_CONTROLLED : ICE_CONTROLLING);
	if (ice_agent_new(&cfg, &p->agent))
		return ctl_fail(p->c, "cannot set up the ICE agent");
	snprintf(p->local.ufrag, sizeof p->local.ufrag, "%s", cfg.ufrag);
	snprintf(p->local.pwd, sizeof p->local.pwd, "%s", cfg.pwd);
	explicit_bzero(cfg.pwd, sizeof cfg.pwd);
	for (size_t i = 0; i < ice_gather_n_cands(p->g); i++) {
		const struct ice_gathered *x = ice_gather_cand(p->g, i);
		const struct ice_cand *k = &x->cand;
		int sock = k->type == ICE_RELAY ? ICE_IO_RELAY_SOCK(x->relay) : x->sock;
		const struct pbx_addr *base = k->type == ICE_SRFLX ? &k->raddr : &k->addr;
		if (k->component != 1 || ice_agent_add_local(p->agent, now, k, sock, base))
			continue;
		if (p->local.n_cands < ICE_DESC_CANDS_MAX)
			p->local.cands[p->local.n_cands++] = *k;
	}
	ice_agent_end_of_local(p->agent, now);
	p->local.end_of_candidates = true;
	return 0;
}

static int print_block(struct peer *p)
{
	size_t cap = 256 + (size_t)ICE_DESC_CANDS_MAX * ICE_CAND_LINE_MAX;
	char *buf = malloc(cap);
	if (!buf)
		return ctl_fail(p->c, "out of memory");
	int rc = ice_desc_format(&p->local, false, buf, cap, NULL);
	if (rc == 0) {
		fputs(buf, p->out);
		fflush(p->out);
	}
	free(buf);
	return rc ? ctl_fail(p->c, "cannot format our description (error %d)", rc) : 0;
}

/* ---- the run ---- */

static void run_agent(struct peer *p)
{
	uint8_t buf[ICE_AGENT_PACKET_MAX];
	for (int guard = 0; guard < 1000; guard++) {
		struct ice_tx tx;
		if (ice_agent_poll(p->agent, (uint64_t)now_of(p), buf, sizeof buf, &tx) ||
		    tx.len == 0)
			break;
		send_tx(p, tx.socket_id, &tx.to, buf, tx.len);
	}
	struct ice_event ev;
	while (ice_agent_next_event(p->agent, &ev) == 0)
		if (p->io.verbose)
			ice_print_event(p->io.verbose, 0, &ev);
}

static void report_refusals(struct peer *p)
{
	ice_report_refusals(p->g, p->agent, p->remote.cands, p->remote_fed, now_of(p), &p->rf);
}

/* Why the checks did not succeed, from the agent's records and what ended
 * the run (lib/ice diag_pairs.c): the stable reason code, its line and a
 * hint.  kind says what ended it: ICE_END_FAILED (the agent concluded),
 * ICE_END_ABORTED with interrupted, peer_closed or neither (the time limit). */
static int diagnose(struct peer *p, enum ice_end kind, bool interrupted, bool peer_closed,
		    struct ice_diag *d)
{
	struct ice_report_in ri = {
		.agent = p->agent,
		.g = p->g,
		.rf = &p->rf,
		.remote = p->remote.cands,
		.n_remote = p->remote_fed,
		.dflt = p->dflt,
		.interrupted = kind == ICE_END_ABORTED && interrupted,
		.peer_closed = kind == ICE_END_ABORTED && peer_closed,
		.time_limit = kind == ICE_END_ABORTED && !interrupted && !peer_closed,
	};
	return ice_diagnose(&ri, d);
}

/* The verdict a diagnosis d gives, with its code, line and hint. */
static void verdict_of(struct peer *p, const struct ice_diag *d)
{
	ice_verdict_set(&p->v, ice_end_of_diag(d), ice_diag_name(d->code), d->reason);
	snprintf(p->v.hint, sizeof p->v.hint, "%s", d->hint);
}

static void conclude(struct peer *p, enum ice_end kind, bool interrupted, bool peer_closed)
{
	struct ice_diag d;
	if (diagnose(p, kind, interrupted, peer_closed, &d)) {
		ice_verdict_set(&p->v, kind,
				kind == ICE_END_FAILED ? "checks-failed" : "interrupted",
				"no memory to work out why");
		return;
	}
	enum ice_end end = ice_end_of_diag(&d);
	/* The agent's success needs the proof too (the echo, or with
	 * --no-data an answered consent check): without it the run ended
	 * first, and what ended it is the code. */
	if (end == ICE_END_SUCCESS) {
		const char *why = interrupted ? "interrupted" : peer_closed ? "peer-closed" : "timeout";
		char reason[ICE_DIAG_TEXT_MAX];
		snprintf(reason, sizeof reason, "%.300s, but %s before %s", d.reason,
			 interrupted   ? "interrupted by a signal"
			 : peer_closed ? "the peer closed its side"
				       : "the overall --timeout expired",
			 p->r.a.no_data ? "the peer answered a consent check on it"
					: "the hello's echo came back");
		ice_verdict_set(&p->v, kind, why, reason);
		p->v.hint[0] = '\0';
		return;
	}
	verdict_of(p, &d);
}

/* What the selected pair needs: a channel on its relay, the hello. */
static void on_selected(struct peer *p, const struct ice_pair *sel, int64_t now)
{
	if (!p->bound) {
		ice_bind_selected(p->g, sel, now);
		p->bound = true;
	}
	if (!p->r.a.controlled && !p->r.a.no_data && now >= p->next_hello) {
		send_data(p, HELLO, strlen(HELLO));
		p->next_hello = now + HELLO_EVERY_MS;
	}
}

/* The verdict from the agent's state as the run goes (conclude() says
 * why), and what a selected pair needs. */
static void judge(struct peer *p, int64_t now)
{
	enum ice_fail_reason why = ICE_FAIL_NONE;
	enum ice_agent_state st = ice_agent_state(p->agent, &why);
	const struct ice_pair *sel = NULL;
	bool selected = ice_agent_selected(p->agent, &sel) == 0;
	if (st == ICE_AGENT_FAILED) {
		(void)why;
		conclude(p, ICE_END_FAILED, false, false);
		return;
	}
	/* Every pair failed: the agent waits for the peer's checks (RFC 8863),
	 * unless the record already shows that none could help (a password
	 * refused either way, every relay refused or lost): then that is the
	 * conclusion now. */
	struct ice_diag d;
	if (ice_agent_awaiting_peer(p->agent, (uint64_t)now)) {
		if (diagnose(p, ICE_END_FAILED, false, false, &d) == 0 &&
		    d.result == ICE_DIAG_R_FAILED) {
			verdict_of(p, &d);
			return;
		}
		if (p->io.verbose && !p->awaiting_said) {
			fprintf(p->io.verbose,
				"%6lld ms  every pair failed: waiting until %llu ms for a check "
				"from the peer (RFC 8863)\n",
				(long long)now,
				(unsigned long long)ice_agent_next_deadline(p->agent, (uint64_t)now));
			p->awaiting_said = true;
		}
	}
	if (selected) {
		on_selected(p, sel, now);
		if (p->r.a.no_data) {
			/* Consent checks start one interval (5 s, jittered) after
			 * selection; the first answer shows the peer still takes
			 * this pair, with both sides' checks done. */
			if (sel->nominated && sel->rec.consent_ok > 0)
				ice_verdict_set(&p->v, ICE_END_SUCCESS, "ok",
						"a nominated pair was selected and the peer "
						"answered a consent "
						"check on it (--no-data: no data sent)");
		} else if (!p->r.a.controlled && p->echo_back)
			ice_verdict_set(&p->v, ICE_END_SUCCESS, "ok",
					"a pair was selected and the echo came back");
		else if (p->r.a.controlled && p->echoed && now >= p->echoed_at + ECHO_LINGER_MS)
			ice_verdict_set(&p->v, ICE_END_SUCCESS, "ok",
					"a pair was selected and the peer's hello was echoed");
	}
}

static int64_t next_wake(struct peer *p, int64_t now, int64_t limit)
{
	int64_t until = limit;
	uint64_t dl = ice_agent_next_deadline(p->agent, (uint64_t)now);
	if (dl != UINT64_MAX && (int64_t)dl < until)
		until = (int64_t)dl;
	const struct ice_pair *sel;
	if (ice_agent_selected(p->agent, &sel) == 0 && !p->r.a.no_data) {
		if (!p->r.a.controlled && p->next_hello < until)
			until = p->next_hello;
		if (p->echoed && p->echoed_at + ECHO_LINGER_MS < until)
			until = p->echoed_at + ECHO_LINGER_MS;
	}
	return until;
}

static void run(struct peer *p)
{
	int64_t limit = (int64_t)p->r.a.timeout_s * 1000;
	p->io.on_packet = on_packet;
	p->io.on_icmp = on_icmp;
	p->io.arg = p;
	if (ice_io_start(&p->io)) {
		ice_verdict_set(&p->v, ICE_END_FAILED, "gather", "the gathering does not start");
		return;
	}
	while (!ice_gather_done(p->g)) {
		if (ice_stop || now_of(p) >= limit) {
			ice_verdict_set(&p->v, ICE_END_ABORTED,
					ice_stop ? "interrupted" : "timeout",
					ice_stop ? "interrupted by a signal while gathering"
						 : "the --timeout expired while gathering");
			return;
		}
		if (ice_io_step(&p->io, limit)) {
			ice_verdict_set(&p->v, ICE_END_FAILED, "gather", "the gathering failed");
			return;
		}
	}
	judge_gathering(p);
	if (add_locals(p) || print_block(p)) {
		ice_verdict_set(&p->v, ICE_END_FAILED, "local",
				"our description could not be made");
		return;
	}
	p->io.extra_fd = p->in_fd;
	while (p->v.end == ICE_END_NONE) {
		int64_t now = now_of(p);
		if (ice_stop) {
			conclude(p, ICE_END_ABORTED, true, false);
			break;
		}
		if (now >= limit) {
			conclude(p, ICE_END_ABORTED, false, false);
			break;
		}
		if (p->io.extra_ready && p->io.extra_fd >= 0) {
			p->io.extra_ready = false;
			read_input(p);
		}
		if (p->v.end != ICE_END_NONE)
			break;
		run_agent(p);
		report_refusals(p);
		judge(p, now_of(p));
		if (p->v.end != ICE_END_NONE)
			break;
		if (p->in_eof && !p->in_regular && !p->sdp) {
			conclude(p, ICE_END_ABORTED, false, true);
			break;
		}
		if (ice_io_step(&p->io, next_wake(p, now_of(p), limit)))
			ice_verdict_set(&p->v, ICE_END_FAILED, "io", "the gathering's I/O failed");
	}
}

/* ---- output ---- */

static void print_text(struct peer *p)
{
	FILE *o = p->c->out;
	ice_print_pairs(o, p->agent, "Pairs");
	fputc('\n', o);
	ice_print_selected(o, p->agent, "ICE: Selected");
	if (p->dflt == ICE_DEFAULT_MANGLED)
		fprintf(o, "ICE: Warning: the SDP's default address (c= and m=) is none of its "
			   "candidates: something on the way rewrote it (an ALG or SBC)\n");
	if (p->gathered && !p->gathering.success)
		fprintf(o, "ICE: Gathering FAILED (%s: %s)\n", ice_diag_name(p->gathering.code),
			p->gathering.reason);
	fprintf(o, "ICE: Conclusion %s (%s: %s)\n", ice_end_name(p->v.end), p->v.code, p->v.reason);
	if (p->v.hint[0])
		fprintf(o, "ICE: Hint: %s\n", p->v.hint);
	if (p->v.note[0])
		fprintf(o, "ICE: Note: %s\n", p->v.note);
}

static void print_json(struct peer *p)
{
	struct json j;
	json_init(&j, p->c->out);
	json_obj(&j);
	const char *role = p->r.a.controlled ? "controlled" : "controlling";
	json_key(&j, "servers");
	json_arr(&j);
	for (size_t k = 0; p->g && k < ice_gather_n_records(p->g); k++)
		ice_json_server(&j, ice_gather_record(p->g, k));
	json_end_arr(&j);
	json_key(&j, "agents");
	json_arr(&j);
	ice_json_agent(&j, "local", role, p->g, p->agent);
	json_end_arr(&j);
	json_key(&j, "role");
	json_str(&j, role);
	json_key(&j, "local_candidates");
	json_int(&j, (int64_t)p->local.n_cands);
	json_key(&j, "remote_candidates");
	json_int(&j, (int64_t)p->remote.n_cands);
	json_key(&j, "default_address");
	json_str(&j, ice_default_check_name(p->dflt));
	json_key(&j, "gathering");
	if (p->gathered) {
		json_obj(&j);
		json_key(&j, "result");
		json_str(&j, p->gathering.success ? "SUCCESS" : "FAILED");
		json_key(&j, "code");
		json_str(&j, ice_diag_name(p->gathering.code));
		json_key(&j, "reason");
		json_str(&j, p->gathering.reason);
		json_end_obj(&j);
	} else {
		json_null(&j);
	}
	json_key(&j, "pairs");
	ice_json_pairs(&j, p->agent);
	json_key(&j, "selected");
	ice_json_selected(&j, p->agent);
	json_key(&j, "data"); /* the hello and its echo are all the data */
	json_null(&j);
	json_key(&j, "conclusion");
	ice_json_conclusion(&j, ice_end_name(p->v.end), p->v.code, p->v.reason, p->v.hint,
			    p->v.note);
	json_end_obj(&j);
	json_done(&j);
}

/* ---- the command ---- */

static int open_streams(struct peer *p)
{
	p->out = stdout;
	p->in_fd = 0;
	const char *o = p->r.a.out, *i = p->r.a.in;
	if (o && strcmp(o, "/dev/stdout") != 0) {
		p->out = fopen(o, "we");
		if (!p->out) {
			p->out = stdout;
			return ctl_fail(p->c, "cannot write --out %s: %s", o, strerror(errno));
		}
	}
	if (i && strcmp(i, "/dev/stdin") != 0) {
		p->in_fd = open(i, O_RDONLY | O_CLOEXEC);
		if (p->in_fd < 0) {
			p->in_fd = 0;
			return ctl_fail(p->c, "cannot read --in %s: %s", i, strerror(errno));
		}
	}
	struct stat sb;
	p->in_regular = fstat(p->in_fd, &sb) == 0 && S_ISREG(sb.st_mode);
	return 0;
}

static void close_streams(struct peer *p)
{
	if (p->out && p->out != stdout)
		fclose(p->out);
	if (p->in_fd > 0)
		close(p->in_fd);
}

static int setup_gather(struct peer *p)
{
	struct ice_run *r = &p->r;
	int rc = ice_new_gather(r, &p->g);
	if (rc == 0 && ice_tls_creds(p->c, r, &p->tls)) {
		for (size_t i = 0; i < r->n_hosts; i++)
			close(r->host_fds[i]);
		return 1;
	}
	if (rc) {
		for (size_t i = 0; i < r->n_hosts; i++)
			close(r->host_fds[i]);
		return ctl_fail(p->c, "cannot set up the gathering (%s)",
				rc == PBX_E_TOOLONG ? "too many servers or addresses" : "bad input");
	}
	ice_io_init(&p->io, p->g, r->host_fds, r->n_hosts, p->tls, r->a.sni, r->servers);
	p->io.verbose = r->a.verbose ? stderr : NULL;
	return 0;
}

/* The conclusion, for rpctl status. */
static void save_result(struct peer *p)
{
	char sel_text[160];
	ice_selected_text(p->agent, sel_text, sizeof sel_text);
	struct store_ice_test_row row = {
		.mode = "peer",
		.result = ice_end_name(p->v.end),
		.code = p->v.code,
		.reason = p->v.reason,
		.servers = (int64_t)(p->g ? ice_gather_n_records(p->g) : 0),
		.candidates = (int64_t)(p->g ? ice_gather_n_cands(p->g) : 0),
		.pairs = (int64_t)(p->agent ? ice_agent_pair_count(p->agent) : 0),
		.selected = sel_text,
	};
	ice_save_result(p->c, &row);
}

int ice_cmd_peer(struct ctl *c, int argc, char **argv)
{
	static struct peer p;
	memset(&p, 0, sizeof p);
	p.c = c;
	if (ice_parse_args(argc, argv, "peer", &p.r.a))
		return 2;
	int rc = 1;
	if (open_streams(&p) || ice_read_password(c, &p.r))
		goto out;
	if (ice_open_store(c) || (p.r.a.rest && ice_mint_rest(c, &p.r)))
		goto out;
	for (size_t i = 0; i < p.r.a.n_stun; i++)
		if (ice_parse_uri(c, &p.r, p.r.a.stun[i], false))
			goto out;
	for (size_t i = 0; i < p.r.a.n_turn; i++)
		if (ice_parse_uri(c, &p.r, p.r.a.turn[i], true))
			goto out;
	if (ice_bind_hosts(c, &p.r) || setup_gather(&p))
		goto out;
	ice_desc_init(&p.remote);
	ice_signals_on();
	run(&p);
	ice_io_release(&p.io); /* every allocation, every socket, whatever the end */
	ice_signals_off();
	/* The peer's candidates (and our servers) against this appliance's
	 * external address: a peer behind the same router is reached back
	 * through it. */
	{
		struct pbx_addr addrs[ICE_DESC_CANDS_MAX];
		for (size_t i = 0; i < p.remote_fed; i++)
			addrs[i] = p.remote.cands[i].addr;
		ice_hairpin_note(c, &p.r, addrs, p.remote_fed, p.v.note, sizeof p.v.note);
	}
	if (c->json)
		print_json(&p);
	else
		print_text(&p);
	fflush(c->out);
	save_result(&p);
	rc = ice_end_exit(p.v.end);
out:
	ice_agent_free(p.agent);
	ice_gather_free(p.g);
	if (p.tls)
		pbx_tls_creds_unref(p.tls);
	free(p.sdp_buf);
	close_streams(&p);
	explicit_bzero(p.r.password, sizeof p.r.password);
	if (c->st) {
		store_close(c->st);
		c->st = NULL;
	}
	return rc;
}
