/* ice_report.c - what the agent modes of rpctl ice-test share around
 * one lib/ice agent (RFC 8445) and its gatherer: permissions toward the
 * remote candidates on our relays (RFC 8656 9), the TURN servers'
 * refusals and lost relays reported to the agent, the pair diagnosis
 * (lib/ice diag_pairs.c) fed from both, a channel for a selected relay
 * pair (RFC 8656 12), and the pairs table and JSON. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <pbxedge/ice.h>
#include <pbxedge/turn.h>

#include "ctl.h"
#include "ice_cmd.h"
#include "ice_io.h"

#define CELL_MAX 128
#define UFRAG_LEN 8          /* RFC 8445 5.3: at least 24 bits, 4 characters */
#define PWD_LEN 24           /* ... and 128 bits, 22 characters */
/* A check unanswered this long has failed: libnice gives up near 7 s,
 * RFC 8489's retransmissions alone would take 39.5 s. */
#define CHECK_TIMEOUT_MS 7000

/* n random ice-chars (RFC 8839 5.4) into out, NUL-terminated. */
static void random_text(char *out, size_t n)
{
	static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				    "0123456789+/";
	uint8_t b[ICE_PWD_MAX];
	if (getrandom(b, n, 0) != (ssize_t)n)
		for (size_t i = 0; i < n; i++)
			b[i] = (uint8_t)rand();
	for (size_t i = 0; i < n; i++)
		out[i] = chars[b[i] % 64];
	out[n] = '\0';
}

static uint64_t random_u64(void)
{
	uint64_t v = 0;
	if (getrandom(&v, sizeof v, 0) != sizeof v)
		v = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
	return v;
}

void ice_verdict_set(struct ice_verdict *v, enum ice_end end, const char *code, const char *reason)
{
	if (v->end != ICE_END_NONE)
		return;
	v->end = end;
	snprintf(v->code, sizeof v->code, "%s", code);
	snprintf(v->reason, sizeof v->reason, "%s", reason);
}

const char *ice_end_name(enum ice_end e)
{
	return e == ICE_END_SUCCESS ? "SUCCESS" : e == ICE_END_FAILED ? "FAILED" : "ABORTED";
}

int ice_end_exit(enum ice_end e)
{
	return e == ICE_END_SUCCESS  ? ICE_EXIT_SUCCESS
	       : e == ICE_END_FAILED ? ICE_EXIT_FAILED
				     : ICE_EXIT_ABORTED;
}

enum ice_end ice_end_of_diag(const struct ice_diag *d)
{
	return d->result == ICE_DIAG_R_SUCCESS	 ? ICE_END_SUCCESS
	       : d->result == ICE_DIAG_R_ABORTED ? ICE_END_ABORTED
						 : ICE_END_FAILED;
}

void ice_agent_config_init(struct ice_agent_config *cfg, enum ice_role role)
{
	ice_agent_config_default(cfg);
	cfg->role = role;
	cfg->check_timeout_ms = CHECK_TIMEOUT_MS;
	cfg->tie_breaker = random_u64();
	cfg->random_seed = random_u64();
	random_text(cfg->ufrag, UFRAG_LEN);
	random_text(cfg->pwd, PWD_LEN);
}

void ice_permit_remote(struct ice_gather *g, const struct ice_cand *k, int64_t now)
{
	for (size_t i = 0; i < ice_gather_n_cands(g); i++) {
		const struct ice_gathered *x = ice_gather_cand(g, i);
		if (x->cand.type != ICE_RELAY ||
		    pbx_addr_family(&x->cand.addr) != pbx_addr_family(&k->addr))
			continue;
		struct turn_client *tc = ice_gather_relay(g, x->relay);
		if (tc)
			(void)turn_client_permit(tc, &k->addr, now);
	}
}

void ice_report_refusals(struct ice_gather *g, struct ice_agent *agent,
			 const struct ice_cand *remote, size_t n_remote, int64_t now,
			 struct ice_refusals *rf)
{
	for (size_t i = 0; i < ice_gather_n_cands(g); i++) {
		const struct ice_gathered *x = ice_gather_cand(g, i);
		struct turn_client *tc = ice_gather_relay(g, x->relay);
		if (x->cand.type != ICE_RELAY || !tc || x->relay < 0 ||
		    x->relay >= ICE_GATHER_RELAYS_MAX)
			continue;
		if (!rf->lost[x->relay] && turn_client_state(tc) != TURN_S_ALLOCATED) {
			rf->lost[x->relay] = true;
			ice_agent_report(agent, (uint64_t)now, ICE_IO_RELAY_SOCK(x->relay), NULL,
					 ICE_REPORT_TURN_LOST, 0);
		}
		for (size_t k = 0; k < n_remote && k < ICE_DESC_CANDS_MAX; k++) {
			const struct pbx_addr *to = &remote[k].addr;
			struct turn_result r;
			if (rf->refused[x->relay][k] ||
			    pbx_addr_family(to) != pbx_addr_family(&x->cand.addr) ||
			    turn_client_permission(tc, to, &r) != TURN_P_FAILED)
				continue;
			rf->refused[x->relay][k] = true;
			ice_agent_report(agent, (uint64_t)now, ICE_IO_RELAY_SOCK(x->relay), to,
					 ICE_REPORT_TURN_REFUSED, r.code);
		}
	}
}

/* Permissions the TURN servers refused, and relays lost, as the
 * diagnosis wants them. */
static void add_relays(struct ice_gather *g, const struct ice_refusals *rf,
		       const struct ice_cand *remote, size_t n_remote, struct ice_diag_input *in)
{
	for (size_t i = 0; i < ice_gather_n_cands(g) && in->n_relays < ICE_DIAG_RELAYS_MAX; i++) {
		const struct ice_gathered *x = ice_gather_cand(g, i);
		if (x->cand.type != ICE_RELAY || x->relay < 0 || x->relay >= ICE_GATHER_RELAYS_MAX)
			continue;
		if (rf->lost[x->relay]) {
			struct ice_diag_relay *r = &in->relays[in->n_relays++];
			r->relay = x->cand.addr;
			r->lost = true;
		}
		struct turn_client *tc = ice_gather_relay(g, x->relay);
		for (size_t k = 0; tc && k < n_remote && k < ICE_DESC_CANDS_MAX &&
				   in->n_relays < ICE_DIAG_RELAYS_MAX; k++) {
			struct turn_result r;
			if (!rf->refused[x->relay][k] ||
			    turn_client_permission(tc, &remote[k].addr, &r) != TURN_P_FAILED)
				continue;
			struct ice_diag_relay *dr = &in->relays[in->n_relays++];
			dr->relay = x->cand.addr;
			dr->peer = remote[k].addr;
			dr->code = r.code;
		}
	}
}

int ice_diagnose(const struct ice_report_in *ri, struct ice_diag *d)
{
	struct ice_diag_input *in = calloc(1, sizeof *in);
	if (!in)
		return -ENOMEM;
	ice_diag_input_from_agent(ri->agent, in);
	in->interrupted = ri->interrupted;
	in->peer_closed = ri->peer_closed;
	in->time_limit = ri->time_limit;
	in->default_check = ri->dflt;
	add_relays(ri->g, ri->rf, ri->remote, ri->n_remote, in);
	int rc = ice_diag_pairs(in, d);
	free(in);
	return rc;
}

void ice_bind_selected(struct ice_gather *g, const struct ice_pair *sel, int64_t now)
{
	if (sel->socket_id < ICE_IO_RELAY_BASE)
		return;
	struct turn_client *tc = ice_gather_relay(g, sel->socket_id - ICE_IO_RELAY_BASE);
	if (tc)
		(void)turn_client_bind(tc, &sel->remote, now);
}

/* ---- output ---- */

static void pair_cells(const struct ice_pair *x, char buf[][CELL_MAX])
{
	char a[64], b[64];
	ice_addr_text(&x->local, a, sizeof a);
	ice_addr_text(&x->remote, b, sizeof b);
	snprintf(buf[0], CELL_MAX, "%u", x->id);
	snprintf(buf[1], CELL_MAX, "%s %s", ice_cand_type_name(x->local_type), a);
	snprintf(buf[2], CELL_MAX, "%s %s", ice_cand_type_name(x->remote_type), b);
	snprintf(buf[3], CELL_MAX, "%s%s", ice_pair_state_name(x->state),
		 x->selected ? " selected" : "");
	snprintf(buf[4], CELL_MAX, "%s", x->nominated ? "yes" : "no");
	snprintf(buf[5], CELL_MAX, "%u", x->rec.req_sent);
	snprintf(buf[6], CELL_MAX, "%u", x->rec.resp_ok);
	snprintf(buf[7], CELL_MAX, "%u", x->rec.req_in);
	if (x->rec.resp_ok)
		snprintf(buf[8], CELL_MAX, "%u", x->rec.rtt_last_ms);
	else
		snprintf(buf[8], CELL_MAX, "-");
	if (x->rec.last_err)
		snprintf(buf[9], CELL_MAX, "STUN %u", x->rec.last_err);
	else if (x->rec.last_turn_code)
		snprintf(buf[9], CELL_MAX, "TURN %u", x->rec.last_turn_code);
	else if (x->rec.icmp)
		snprintf(buf[9], CELL_MAX, "ICMP");
	else if (x->rec.timeouts)
		snprintf(buf[9], CELL_MAX, "timeout");
	else
		snprintf(buf[9], CELL_MAX, "-");
}

/* The selected pair's local candidate as the peer sees it (RFC 8445
 * 7.2.5.3.2): the one its XOR-MAPPED-ADDRESS matched (srflx, prflx,
 * relay); the table shows the base the checks went from. */
static const struct pbx_addr *sel_local(const struct ice_pair *x)
{
	return x->mapped.len ? &x->mapped : &x->local;
}

static enum ice_cand_type sel_type(const struct ice_pair *x)
{
	return x->mapped.len ? x->mapped_type : x->local_type;
}

void ice_print_pairs(FILE *o, const struct ice_agent *agent, const char *title)
{
	static const char *const names[] = { "PAIR", "LOCAL", "REMOTE", "STATE", "NOMINATED",
					     "REQ-SENT", "RESP-RECV", "REQ-RECV", "RTT-MS",
					     "LAST-ERROR" };
	enum { NC = 10 };
	size_t n = agent ? ice_agent_pair_count(agent) : 0;
	char **cells = calloc(n * NC + 1, sizeof *cells);
	if (!cells)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct ice_pair *x;
		char buf[NC][CELL_MAX];
		if (ice_agent_pair(agent, i, &x))
			continue;
		pair_cells(x, buf);
		for (int k = 0; k < NC; k++)
			cells[i * NC + (size_t)k] = strdup(buf[k]);
	}
	fprintf(o, "%s:\n", title);
	ctl_print_table(o, names, NC, cells, n);
	for (size_t i = 0; i < n * NC; i++)
		free(cells[i]);
	free(cells);
}

bool ice_selected_text(const struct ice_agent *agent, char *buf, size_t n)
{
	const struct ice_pair *sel;
	buf[0] = '\0';
	if (!agent || ice_agent_selected(agent, &sel))
		return false;
	char a[64], b[64];
	ice_addr_text(sel_local(sel), a, sizeof a);
	ice_addr_text(&sel->remote, b, sizeof b);
	snprintf(buf, n, "%s %s -> %s %s", ice_cand_type_name(sel_type(sel)), a,
		 ice_cand_type_name(sel->remote_type), b);
	return true;
}

void ice_print_selected(FILE *o, const struct ice_agent *agent, const char *prefix)
{
	char t[160];
	if (ice_selected_text(agent, t, sizeof t))
		fprintf(o, "%s %s\n", prefix, t);
}

void ice_json_agent(struct json *j, const char *name, const char *role, struct ice_gather *g,
		    const struct ice_agent *agent)
{
	json_obj(j);
	json_key(j, "name");
	json_str(j, name);
	json_key(j, "role");
	json_str(j, role);
	json_key(j, "candidates");
	json_arr(j);
	for (size_t k = 0; g && k < ice_gather_n_cands(g); k++)
		ice_json_cand(j, g, ice_gather_cand(g, k));
	json_end_arr(j);
	json_key(j, "pairs");
	ice_json_pairs(j, agent);
	json_key(j, "selected");
	ice_json_selected(j, agent);
	json_end_obj(j);
}

void ice_json_pairs(struct json *j, const struct ice_agent *agent)
{
	static const char *const keys[] = { "id", "local", "remote", "state", "nominated",
					    "requests_sent", "responses_received",
					    "requests_received", "rtt_ms", "last_error" };
	json_arr(j);
	size_t n = agent ? ice_agent_pair_count(agent) : 0;
	for (size_t i = 0; i < n; i++) {
		const struct ice_pair *x;
		char buf[10][CELL_MAX];
		if (ice_agent_pair(agent, i, &x))
			continue;
		pair_cells(x, buf);
		json_obj(j);
		for (int k = 0; k < 10; k++) {
			json_key(j, keys[k]);
			if (k == 0 || (k >= 5 && k <= 7))
				json_int(j, strtoll(buf[k], NULL, 10));
			else if (k == 3)
				json_str(j, ice_pair_state_name(x->state));
			else if (k == 4)
				json_bool(j, x->nominated);
			else if ((k == 8 || k == 9) && strcmp(buf[k], "-") == 0)
				json_null(j);
			else if (k == 8)
				json_int(j, strtoll(buf[k], NULL, 10));
			else
				json_str(j, buf[k]);
		}
		json_key(j, "selected");
		json_bool(j, x->selected);
		json_end_obj(j);
	}
	json_end_arr(j);
}

void ice_json_selected(struct json *j, const struct ice_agent *agent)
{
	const struct ice_pair *sel;
	if (!agent || ice_agent_selected(agent, &sel)) {
		json_null(j);
		return;
	}
	json_obj(j);
	json_key(j, "local_type");
	json_str(j, ice_cand_type_name(sel_type(sel)));
	json_key(j, "local");
	ice_json_addr(j, sel_local(sel));
	json_key(j, "base");
	ice_json_addr(j, &sel->local);
	json_key(j, "remote_type");
	json_str(j, ice_cand_type_name(sel->remote_type));
	json_key(j, "remote");
	ice_json_addr(j, &sel->remote);
	json_end_obj(j);
}

void ice_json_conclusion(struct json *j, const char *result, const char *code,
			 const char *reason, const char *hint, const char *note)
{
	json_obj(j);
	json_key(j, "result");
	json_str(j, result);
	json_key(j, "code");
	json_str(j, code);
	json_key(j, "reason");
	json_str(j, reason);
	json_key(j, "hints");
	json_arr(j);
	if (hint && *hint)
		json_str(j, hint);
	if (note && *note)
		json_str(j, note);
	json_end_arr(j);
	json_end_obj(j);
}

/* What the agent reports on its way (--verbose).  Several are transient:
 * a check before the peer's credentials are known is answered later, a
 * 487 settles the roles, a 401 may come from a peer that has not read our
 * description yet; the lines say so, so that nobody takes them for the
 * verdict, which only the conclusion gives. */
void ice_print_event(FILE *o, char agent, const struct ice_event *ev)
{
	char a[64] = "";
	if (ev->addr.len)
		ice_addr_text(&ev->addr, a, sizeof a);
	char who[4] = "";
	if (agent)
		snprintf(who, sizeof who, "%c ", agent);
	const char *transient = " (transient, not final)";
	fprintf(o, "%6lld ms  %s", (long long)ev->time_ms, who);
	switch (ev->type) {
	case ICE_EV_PAIR_STATE:
		fprintf(o, "pair %u %s\n", ev->pair_id,
			ice_pair_state_name((enum ice_pair_state)ev->state));
		break;
	case ICE_EV_PAIR_VALID:
		fprintf(o, "pair %u valid\n", ev->pair_id);
		break;
	case ICE_EV_NOMINATED:
		fprintf(o, "pair %u nominated\n", ev->pair_id);
		break;
	case ICE_EV_SELECTED:
		fprintf(o, "pair %u selected\n", ev->pair_id);
		break;
	case ICE_EV_FAILED:
		fprintf(o, "the checks failed (%s)\n",
			ice_fail_reason_name((enum ice_fail_reason)ev->code));
		break;
	case ICE_EV_PRFLX_REMOTE:
		fprintf(o, "peer-reflexive remote candidate %s\n", a);
		break;
	case ICE_EV_PRFLX_LOCAL:
		fprintf(o, "peer-reflexive local candidate %s (pair %u)\n", a, ev->pair_id);
		break;
	case ICE_EV_EARLY_CHECK:
		fprintf(o, "a check from %s before the peer's credentials are known: kept, "
			   "answered once they are%s\n", a, transient);
		break;
	case ICE_EV_ROLE_CONFLICT:
		if (ev->code)
			fprintf(o, "role conflict: 487 on pair %u%s\n", ev->pair_id, transient);
		else
			fprintf(o, "role conflict: a request from %s made us switch%s\n", a,
				transient);
		break;
	case ICE_EV_ROLE_SWITCH:
		fprintf(o, "role now %s%s\n", ice_role_name((enum ice_role)ev->state), transient);
		break;
	case ICE_EV_NONSYMMETRIC:
		fprintf(o, "an answer on pair %u came from %s, not the address checked%s\n",
			ev->pair_id, a, transient);
		break;
	case ICE_EV_AUTH_FAILED:
		if (ev->code)
			fprintf(o, "pair %u: the peer answered %d%s\n", ev->pair_id, ev->code,
				transient);
		else
			fprintf(o, "a check from %s failed our integrity check%s\n", a, transient);
		break;
	case ICE_EV_CONSENT_LOST:
		fprintf(o, "pair %u lost consent\n", ev->pair_id);
		break;
	default:
		fprintf(o, "%s pair %u state %d code %d %s\n", ice_event_name(ev->type),
			ev->pair_id, ev->state, ev->code, a);
		break;
	}
}

void ice_print_stale(FILE *o, struct ice_gather *g, char agent)
{
	char who[4] = "";
	if (agent)
		snprintf(who, sizeof who, "%c ", agent);
	for (size_t i = 0; i < ice_gather_n_records(g); i++) {
		const struct ice_server_record *r = ice_gather_record(g, i);
		if (r->stale)
			fprintf(o, "%6lld ms  %s%s: %u stale-nonce (438) answer%s, each retried "
				   "with the new nonce (transient, not final)\n",
				(long long)(r->settled_ms >= 0 ? r->settled_ms : 0), who, r->uri,
				r->stale, r->stale == 1 ? "" : "s");
	}
}
