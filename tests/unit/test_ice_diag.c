/* test_ice_diag.c - unit tests for the pair half of the ICE diagnosis
 * (lib/ice/diag_pairs.c): the reason table, one filled snapshot per row,
 * and runs of two real agents on a fake network and clock, diagnosed
 * from ice_diag_input_from_agent. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/ice.h>

#include "ice_net.h"

#define PWD_WRONG "wrongpassword-000000000"

/* ---- the reason table ---- */

/* A failed run with one relay -> prflx pair, every count zero: rows
 * change what their case needs. */
static void base(struct ice_diag_input *in)
{
	in->state = ICE_AGENT_FAILED;
	in->fail = ICE_FAIL_CHECKS;
	in->role = ICE_CONTROLLING;
	in->local_v4 = 1;
	in->remote_v4 = 1;
	in->end_of_remote = true;
	in->n_pairs = 1;
	struct ice_pair *p = &in->pairs[0];
	p->id = 1;
	p->component = 1;
	p->state = ICE_PAIR_FAILED;
	p->local = addr_of("198.18.1.1:49488");
	p->remote = addr_of("198.18.2.2:30992");
	p->local_type = ICE_RELAY;
	p->remote_type = ICE_PRFLX;
}

static struct ice_record *rec(struct ice_diag_input *in)
{
	return &in->pairs[0].rec;
}

/* A second pair, host 10.0.0.1:5000 -> prflx 198.18.2.2:30992, in state
 * st, beside the base's. */
static struct ice_pair *second_pair(struct ice_diag_input *in, enum ice_pair_state st)
{
	in->local_v4 = 2;
	in->n_pairs = 2;
	struct ice_pair *p = &in->pairs[1];
	p->id = 2;
	p->state = st;
	p->local = addr_of("10.0.0.1:5000");
	p->remote = addr_of("198.18.2.2:30992");
	p->local_type = ICE_HOST;
	p->remote_type = ICE_PRFLX;
	return p;
}

static void running(struct ice_diag_input *in)
{
	in->state = ICE_AGENT_RUNNING;
	in->fail = ICE_FAIL_NONE;
	in->pairs[0].state = ICE_PAIR_IN_PROGRESS;
}

static void f_success(struct ice_diag_input *in)
{
	in->state = ICE_AGENT_COMPLETED;
	in->fail = ICE_FAIL_NONE;
	struct ice_pair *p = &in->pairs[0];
	p->state = ICE_PAIR_SUCCEEDED;
	p->valid = p->nominated = p->selected = true;
	p->rec.req_sent = 3;
	p->rec.resp_ok = 2;
	p->rec.rtt_min_ms = 42;
	p->rec.req_in = p->rec.req_in_ok = 2;
}
static void f_success_one_way(struct ice_diag_input *in)
{
	/* Our checks pass and we selected; every check of the peer's failed
	 * our MESSAGE-INTEGRITY: it was told another password for us. */
	f_success(in);
	rec(in)->req_in = 3;
	rec(in)->req_in_ok = 0;
	rec(in)->req_in_bad_integrity = 3;
}
static void f_success_some_bad(struct ice_diag_input *in)
{
	/* One of the peer's checks passed: it can complete. */
	f_success(in);
	rec(in)->req_in = 3;
	rec(in)->req_in_ok = 1;
	rec(in)->req_in_bad_integrity = 2;
}
static void f_consent(struct ice_diag_input *in)
{
	f_success(in);
	in->state = ICE_AGENT_FAILED;
	in->fail = ICE_FAIL_CONSENT;
	rec(in)->consent_sent = 9;
	rec(in)->consent_ok = 3;
	rec(in)->consent_lost = true;
}
static void f_no_local(struct ice_diag_input *in)
{
	in->n_pairs = 0;
	in->local_v4 = 0;
	in->remote_v4 = 2;
}
static void f_no_remote(struct ice_diag_input *in)
{
	in->n_pairs = 0;
	in->remote_v4 = 0;
}
static void f_no_pairs(struct ice_diag_input *in)
{
	in->n_pairs = 0;
	in->local_v4 = 2;
	in->remote_v4 = 0;
	in->remote_v6 = 3;
}
static void f_no_pairs_mangled(struct ice_diag_input *in)
{
	f_no_pairs(in);
	in->default_check = ICE_DEFAULT_MANGLED;
}
static void f_no_response(struct ice_diag_input *in)
{
	rec(in)->checks = 2;
	rec(in)->req_sent = 12;
	rec(in)->timeouts = 2;
}
static void f_no_response_icmp(struct ice_diag_input *in)
{
	f_no_response(in);
	rec(in)->icmp = 2;
}
static void f_nothing_sent(struct ice_diag_input *in)
{
	(void)in;
}
static void f_mangled(struct ice_diag_input *in)
{
	f_no_response(in);
	in->default_check = ICE_DEFAULT_MANGLED;
}
static void f_perm_denied(struct ice_diag_input *in)
{
	f_no_response(in);
	in->n_relays = 1;
	in->relays[0].relay = addr_of("198.18.1.1:49488");
	in->relays[0].peer = addr_of("127.0.0.1:5000");
	in->relays[0].code = 403;
}
static void f_mangled_and_perm(struct ice_diag_input *in)
{
	f_perm_denied(in);
	in->default_check = ICE_DEFAULT_MANGLED;
}
static void f_perm_denied_but_401(struct ice_diag_input *in)
{
	/* The peer's private address refused by policy is routine: the 401s
	 * on the other path are why the run failed. */
	f_perm_denied(in);
	rec(in)->err_401 = 2;
}
static void f_perm_denied_report(struct ice_diag_input *in)
{
	f_no_response(in);
	rec(in)->turn_errors = 1;
	rec(in)->last_turn_code = 403;
}
static void f_alloc_lost(struct ice_diag_input *in)
{
	f_no_response(in);
	in->n_relays = 1;
	in->relays[0].relay = addr_of("198.18.1.1:49488");
	in->relays[0].lost = true;
}
static void f_alloc_lost_report(struct ice_diag_input *in)
{
	f_no_response(in);
	rec(in)->turn_errors = 1;
}
static void f_auth_out(struct ice_diag_input *in)
{
	rec(in)->req_sent = 7;
	rec(in)->err_401 = 7;
	rec(in)->last_err = 401;
	rec(in)->req_in = rec(in)->req_in_ok = 5; /* one-way-in too: 401 wins */
}
static void f_auth_out_integrity(struct ice_diag_input *in)
{
	rec(in)->req_sent = 7;
	rec(in)->resp_bad_integrity = 6;
}
static void f_auth_in(struct ice_diag_input *in)
{
	rec(in)->req_sent = 3;
	rec(in)->resp_ok = 3; /* one-way-out too: integrity wins */
	rec(in)->req_in = 4;
	rec(in)->req_in_bad_integrity = 4;
}
static void f_auth_in_peer(struct ice_diag_input *in)
{
	/* A prflx address with a record but no pair yet. */
	rec(in)->req_sent = 3;
	rec(in)->resp_ok = 1;
	in->n_peers = 2;
	in->peers[0].addr = in->pairs[0].remote;
	in->peers[0].rec = in->pairs[0].rec;
	in->peers[1].addr = addr_of("198.18.9.9:1111");
	in->peers[1].rec.req_in = 5;
	in->peers[1].rec.req_in_bad_username = 5;
}
static void f_role_conflict(struct ice_diag_input *in)
{
	rec(in)->req_sent = 4;
	rec(in)->err_487 = 3;
	in->role_conflicts = 3;
}
static void f_nonsym(struct ice_diag_input *in)
{
	rec(in)->req_sent = 5;
	rec(in)->nonsymmetric = 2;
}
static void f_one_way_in(struct ice_diag_input *in)
{
	f_no_response(in);
	rec(in)->req_in = rec(in)->req_in_ok = 9;
}
static void f_one_way_in_multi(struct ice_diag_input *in)
{
	f_one_way_in(in);
	second_pair(in, ICE_PAIR_FAILED)->rec.req_sent = 5;
}
static void f_one_way_out(struct ice_diag_input *in)
{
	in->role = ICE_CONTROLLED;
	in->pairs[0].state = ICE_PAIR_SUCCEEDED;
	in->pairs[0].valid = true;
	rec(in)->req_sent = 2;
	rec(in)->resp_ok = 2;
}
static void f_checks_failed(struct ice_diag_input *in)
{
	rec(in)->req_sent = 3;
	rec(in)->resp_ok = 1;
	rec(in)->err_400 = 2;
	rec(in)->req_in = rec(in)->req_in_ok = 1;
}
static void f_interrupted(struct ice_diag_input *in)
{
	f_one_way_in(in);
	running(in);
	in->interrupted = in->peer_closed = in->time_limit = true;
}
static void f_peer_closed_silent(struct ice_diag_input *in)
{
	f_no_response(in);
	running(in);
	in->peer_closed = in->time_limit = true;
}
static void f_peer_closed_heard(struct ice_diag_input *in)
{
	f_one_way_in(in);
	running(in);
	in->peer_closed = true;
}
static void f_timeout(struct ice_diag_input *in)
{
	f_auth_out(in);
	running(in);
	in->time_limit = true;
}
static void f_agent_timeout(struct ice_diag_input *in)
{
	f_no_response(in);
	in->fail = ICE_FAIL_TIMEOUT;
	in->pairs[0].state = ICE_PAIR_WAITING;
}
static void f_concluded_then_closed(struct ice_diag_input *in)
{
	/* Every pair done, the controlled side waiting for a nomination
	 * that never came: the peer's leaving changes nothing. */
	f_one_way_out(in);
	running(in);
	in->pairs[0].state = ICE_PAIR_SUCCEEDED;
	in->peer_closed = true;
}
static void f_perm_denied_left(struct ice_diag_input *in)
{
	/* The only pair's permission refused, its checks still being
	 * retried when the peer gave up and left: the refusal is why. */
	f_perm_denied_report(in);
	running(in);
	in->peer_closed = true;
}
static void f_perm_denied_relays_left(struct ice_diag_input *in)
{
	/* The same from the caller's relays alone: the permission is per IP,
	 * whatever the port. */
	f_perm_denied(in);
	running(in);
	in->relays[0].peer = addr_of("198.18.2.2:1");
	in->peer_closed = true;
}
static void f_perm_denied_other_relay(struct ice_diag_input *in)
{
	/* A refusal on another relay says nothing of this pair's. */
	f_perm_denied(in);
	running(in);
	in->relays[0].relay = addr_of("198.18.1.1:40000");
	in->relays[0].peer = addr_of("198.18.2.2:1");
	in->peer_closed = true;
}
static void f_perm_denied_host_pending(struct ice_diag_input *in)
{
	/* A host pair still in progress: the run had not concluded. */
	f_perm_denied_left(in);
	second_pair(in, ICE_PAIR_IN_PROGRESS)->rec.req_sent = 2;
}
static void f_alloc_lost_left(struct ice_diag_input *in)
{
	f_alloc_lost_report(in);
	running(in);
	in->peer_closed = in->time_limit = true;
}
static void f_no_pairs_running(struct ice_diag_input *in)
{
	/* No pair yet and end-of-candidates not signalled: aborted. */
	f_no_remote(in);
	running(in);
	in->end_of_remote = false;
	in->time_limit = true;
}

/* RFC 8863's wait: every pair failed, the agent still running for the
 * PAC timer. */
static void waiting(struct ice_diag_input *in)
{
	in->state = ICE_AGENT_RUNNING;
	in->fail = ICE_FAIL_NONE;
}
static void f_wait_peer_left(struct ice_diag_input *in)
{
	/* Nothing either way, and the peer gave up first: we were still
	 * waiting for its checks. */
	f_no_response(in);
	waiting(in);
	in->peer_closed = true;
}
static void f_wait_time_limit(struct ice_diag_input *in)
{
	f_one_way_in(in);
	waiting(in);
	in->time_limit = true;
}
static void f_wait_auth_out_left(struct ice_diag_input *in)
{
	/* The peer refused our checks: a late check of its own would be
	 * refused the same way, nothing to wait for. */
	f_auth_out(in);
	waiting(in);
	in->peer_closed = true;
}
static void f_wait_auth_in(struct ice_diag_input *in)
{
	f_auth_in(in);
	waiting(in);
}
static void f_wait_mangled(struct ice_diag_input *in)
{
	/* The description rewritten on the way: what to fix, but the peer's
	 * checks may still come. */
	f_mangled(in);
	waiting(in);
	in->peer_closed = true;
}
static void f_wait_perm_denied_left(struct ice_diag_input *in)
{
	/* The only pair's relay refused its permission: certain. */
	f_perm_denied_report(in);
	waiting(in);
	in->peer_closed = true;
}
static void f_wait_perm_denied_host_failed(struct ice_diag_input *in)
{
	/* A host pair failed beside the refused relay pair: its peer could
	 * still send a check that makes a peer-reflexive pair. */
	f_wait_perm_denied_left(in);
	struct ice_pair *p = second_pair(in, ICE_PAIR_FAILED);
	p->rec.req_sent = 7;
	p->rec.timeouts = 1;
}

struct row {
	const char *name;
	void (*fill)(struct ice_diag_input *in);
	enum ice_diag_result result;
	enum ice_diag_code code;
	const char *reason[4]; /* words the reason must contain */
	const char *hint[2];   /* words the hint must contain */
};

static const struct row rows[] = {
	{ "success", f_success, ICE_DIAG_R_SUCCESS, ICE_DIAG_OK,
	  { "relay 198.18.1.1:49488 -> prflx 198.18.2.2:30992", "nominated", "42 ms" }, { "" } },
	{ "selected, theirs all fail here", f_success_one_way, ICE_DIAG_R_FAILED,
	  ICE_DIAG_ICE_AUTH_IN,
	  { "selected relay 198.18.1.1:49488 -> prflx 198.18.2.2:30992",
	    "3 checks from 198.18.2.2:30992", "3 MESSAGE-INTEGRITY", "one way" },
	  { "our description reached it" } },
	{ "selected, one of theirs passed", f_success_some_bad, ICE_DIAG_R_SUCCESS, ICE_DIAG_OK,
	  { "nominated" }, { "" } },
	{ "consent", f_consent, ICE_DIAG_R_FAILED, ICE_DIAG_CONSENT_LOST,
	  { "consent lost", "relay 198.18.1.1:49488 -> prflx 198.18.2.2:30992", "3 of 9" },
	  { "stopped answering" } },
	{ "no-local", f_no_local, ICE_DIAG_R_FAILED, ICE_DIAG_NO_LOCAL_CANDIDATES,
	  { "no local candidate", "2 remote candidates" }, { "gathered nothing" } },
	{ "no-remote", f_no_remote, ICE_DIAG_R_FAILED, ICE_DIAG_NO_REMOTE_CANDIDATES,
	  { "no remote candidate", "before end-of-candidates" }, { "description" } },
	{ "no-pairs", f_no_pairs, ICE_DIAG_R_FAILED, ICE_DIAG_NO_PAIRS,
	  { "IPv6 only (3)", "IPv4 only (2)", "no address family in common" }, { "family" } },
	{ "absence before mangled", f_no_pairs_mangled, ICE_DIAG_R_FAILED, ICE_DIAG_NO_PAIRS,
	  { "no address family in common" }, { "family" } },
	{ "mangled", f_mangled, ICE_DIAG_R_FAILED, ICE_DIAG_MANGLED,
	  { "default address", "none of its 1 candidate", "0 checks answered" }, { "ALG", "SBC" } },
	{ "mangled before turn", f_mangled_and_perm, ICE_DIAG_R_FAILED, ICE_DIAG_MANGLED,
	  { "default address" }, { "ALG" } },
	{ "perm-denied", f_perm_denied, ICE_DIAG_R_FAILED, ICE_DIAG_TURN_PERMISSION_DENIED,
	  { "127.0.0.1", "403", "peer policy", "relay 198.18.1.1:49488" }, { "peer policy" } },
	{ "perm-denied, but 401s", f_perm_denied_but_401, ICE_DIAG_R_FAILED, ICE_DIAG_ICE_AUTH_OUT,
	  { "401" }, { "password" } },
	{ "perm-denied report", f_perm_denied_report, ICE_DIAG_R_FAILED,
	  ICE_DIAG_TURN_PERMISSION_DENIED, { "198.18.2.2", "403", "relay 198.18.1.1:49488" },
	  { "peer policy" } },
	{ "alloc-lost", f_alloc_lost, ICE_DIAG_R_FAILED, ICE_DIAG_TURN_ALLOCATION_LOST,
	  { "allocation", "198.18.1.1:49488", "lost" }, { "relay went away" } },
	{ "alloc-lost report", f_alloc_lost_report, ICE_DIAG_R_FAILED,
	  ICE_DIAG_TURN_ALLOCATION_LOST, { "allocation", "198.18.1.1:49488" }, { "TURN" } },
	{ "auth-out", f_auth_out, ICE_DIAG_R_FAILED, ICE_DIAG_ICE_AUTH_OUT,
	  { "198.18.2.2:30992", "401", "7 checks of ours", "7 sent" },
	  { "password in the description we were given" } },
	{ "auth-out integrity", f_auth_out_integrity, ICE_DIAG_R_FAILED, ICE_DIAG_ICE_AUTH_OUT,
	  { "6 answers", "198.18.2.2:30992", "MESSAGE-INTEGRITY" }, { "password" } },
	{ "auth-in", f_auth_in, ICE_DIAG_R_FAILED, ICE_DIAG_ICE_AUTH_IN,
	  { "4 checks from 198.18.2.2:30992", "4 MESSAGE-INTEGRITY", "0 wrong USERNAME" },
	  { "our description reached it" } },
	{ "auth-in peer record", f_auth_in_peer, ICE_DIAG_R_FAILED, ICE_DIAG_ICE_AUTH_IN,
	  { "5 checks from 198.18.9.9:1111", "5 wrong USERNAME" }, { "user name" } },
	{ "role-conflict", f_role_conflict, ICE_DIAG_R_FAILED, ICE_DIAG_ROLE_CONFLICT,
	  { "3 487 Role Conflict answers", "198.18.2.2:30992", "controlling" },
	  { "tie-breaker" } },
	{ "non-symmetric", f_nonsym, ICE_DIAG_R_FAILED, ICE_DIAG_NON_SYMMETRIC,
	  { "2 answers", "198.18.2.2:30992", "another address" }, { "symmetric" } },
	{ "one-way-in", f_one_way_in, ICE_DIAG_R_FAILED, ICE_DIAG_ONE_WAY_IN,
	  { "12 checks sent to 198.18.2.2:30992 from relay 198.18.1.1:49488", "none answered",
	    "9 checks arrived from the peer" },
	  { "firewalls toward the peer" } },
	{ "one-way-in, two pairs", f_one_way_in_multi, ICE_DIAG_R_FAILED, ICE_DIAG_ONE_WAY_IN,
	  { "12 checks sent to 198.18.2.2:30992 from relay 198.18.1.1:49488 (2 pairs, 17 checks "
	    "in all)",
	    "9 checks arrived" },
	  { "" } },
	{ "one-way-out", f_one_way_out, ICE_DIAG_R_FAILED, ICE_DIAG_ONE_WAY_OUT,
	  { "2 checks of ours answered", "198.18.2.2:30992", "relay 198.18.1.1:49488",
	    "no check arrived" },
	  { "cannot reach us" } },
	{ "no-response", f_no_response, ICE_DIAG_R_FAILED, ICE_DIAG_NO_RESPONSE,
	  { "12 checks sent to 198.18.2.2:30992 from relay 198.18.1.1:49488", "none answered",
	    "no check arrived" },
	  { "either way" } },
	{ "no-response icmp", f_no_response_icmp, ICE_DIAG_R_FAILED, ICE_DIAG_NO_RESPONSE,
	  { "2 ICMP errors came back" }, { "firewalls" } },
	{ "nothing sent", f_nothing_sent, ICE_DIAG_R_FAILED, ICE_DIAG_NO_RESPONSE,
	  { "no check was sent (1 pair)" }, { "" } },
	{ "checks-failed", f_checks_failed, ICE_DIAG_R_FAILED, ICE_DIAG_CHECKS_FAILED,
	  { "400: 2", "1 of 1 peer check passed" }, { "records" } },
	{ "interrupted", f_interrupted, ICE_DIAG_R_ABORTED, ICE_DIAG_INTERRUPTED,
	  { "interrupted", "12 checks sent, 0 answered", "9 arrived" },
	  { "evidence so far: one-way-in" } },
	{ "peer-closed silent", f_peer_closed_silent, ICE_DIAG_R_ABORTED, ICE_DIAG_PEER_CLOSED,
	  { "closed its side", "no check from it had arrived", "RFC 8863" },
	  { "more time", "evidence so far: no-response" } },
	{ "peer-closed heard", f_peer_closed_heard, ICE_DIAG_R_ABORTED, ICE_DIAG_PEER_CLOSED,
	  { "closed its side", "9 of its checks had arrived" }, { "one-way-in" } },
	{ "timeout", f_timeout, ICE_DIAG_R_ABORTED, ICE_DIAG_TIMEOUT,
	  { "time limit", "7 checks sent, 0 answered", "5 arrived" },
	  { "raise the time limit", "evidence so far: ice-auth-out" } },
	{ "agent timeout", f_agent_timeout, ICE_DIAG_R_ABORTED, ICE_DIAG_TIMEOUT,
	  { "time limit" }, { "no-response" } },
	{ "concluded, then closed", f_concluded_then_closed, ICE_DIAG_R_FAILED,
	  ICE_DIAG_ONE_WAY_OUT, { "no check arrived" }, { "cannot reach us" } },
	{ "perm-denied, then the peer left", f_perm_denied_left, ICE_DIAG_R_FAILED,
	  ICE_DIAG_TURN_PERMISSION_DENIED, { "198.18.2.2", "403", "relay 198.18.1.1:49488" },
	  { "peer policy" } },
	{ "perm-denied relays, then the peer left", f_perm_denied_relays_left, ICE_DIAG_R_FAILED,
	  ICE_DIAG_TURN_PERMISSION_DENIED, { "198.18.2.2", "403 Forbidden" }, { "peer policy" } },
	{ "perm-denied elsewhere, the peer left", f_perm_denied_other_relay, ICE_DIAG_R_ABORTED,
	  ICE_DIAG_PEER_CLOSED, { "closed its side", "no check from it had arrived" },
	  { "evidence so far: turn-permission-denied" } },
	{ "perm-denied, a host pair pending", f_perm_denied_host_pending, ICE_DIAG_R_ABORTED,
	  ICE_DIAG_PEER_CLOSED, { "closed its side" },
	  { "evidence so far: turn-permission-denied" } },
	{ "alloc-lost, then the peer left", f_alloc_lost_left, ICE_DIAG_R_FAILED,
	  ICE_DIAG_TURN_ALLOCATION_LOST, { "allocation", "198.18.1.1:49488" }, { "TURN" } },
	{ "waiting, the peer left", f_wait_peer_left, ICE_DIAG_R_ABORTED, ICE_DIAG_PEER_CLOSED,
	  { "closed its side", "no check from it had arrived", "RFC 8863" },
	  { "evidence so far: no-response", "none answered" } },
	{ "waiting, time limit", f_wait_time_limit, ICE_DIAG_R_ABORTED, ICE_DIAG_TIMEOUT,
	  { "time limit", "9 arrived from the peer" }, { "evidence so far: one-way-in" } },
	{ "waiting, ice-auth-out", f_wait_auth_out_left, ICE_DIAG_R_FAILED, ICE_DIAG_ICE_AUTH_OUT,
	  { "401" }, { "password" } },
	{ "waiting, ice-auth-in", f_wait_auth_in, ICE_DIAG_R_FAILED, ICE_DIAG_ICE_AUTH_IN,
	  { "MESSAGE-INTEGRITY" }, { "our description reached it" } },
	{ "waiting, mangled", f_wait_mangled, ICE_DIAG_R_ABORTED, ICE_DIAG_PEER_CLOSED,
	  { "closed its side" }, { "evidence so far: mangled", "default address" } },
	{ "waiting, perm-denied", f_wait_perm_denied_left, ICE_DIAG_R_FAILED,
	  ICE_DIAG_TURN_PERMISSION_DENIED, { "198.18.2.2", "403" }, { "peer policy" } },
	{ "waiting, perm-denied and a host pair", f_wait_perm_denied_host_failed,
	  ICE_DIAG_R_ABORTED, ICE_DIAG_PEER_CLOSED, { "closed its side" },
	  { "evidence so far: turn-permission-denied" } },
	{ "no pairs yet, time limit", f_no_pairs_running, ICE_DIAG_R_ABORTED, ICE_DIAG_TIMEOUT,
	  { "time limit", "0 checks sent" }, { "no-remote-candidates", "no end-of-candidates" } },
};

static void check_words(const char *what, const char *text, const char *const *words, size_t n)
{
	for (size_t i = 0; i < n && words[i]; i++)
		ck_assert_msg(strstr(text, words[i]), "%s: \"%s\" not in \"%s\"", what, words[i],
			      text);
}

START_TEST(test_diag_pairs_table)
{
	const struct row *r = &rows[_i];
	struct ice_diag_input *in = calloc(1, sizeof *in);
	struct ice_diag d;
	ck_assert_ptr_nonnull(in);
	base(in);
	r->fill(in);
	ck_assert_int_eq(ice_diag_pairs(in, &d), 0);
	ck_assert_msg(d.code == r->code, "%s: code %s, want %s (%s)", r->name, ice_diag_name(d.code),
		      ice_diag_name(r->code), d.reason);
	ck_assert_msg(d.result == r->result, "%s: result %s, want %s", r->name,
		      ice_diag_result_name(d.result), ice_diag_result_name(r->result));
	ck_assert(d.success == (r->result == ICE_DIAG_R_SUCCESS));
	/* The pair quoted: the only one, or the busier of two; none when
	 * there is no pair or the cause is not a pair's. */
	if (in->n_pairs && r->code != ICE_DIAG_MANGLED && r->code != ICE_DIAG_ICE_AUTH_IN &&
	    r->code != ICE_DIAG_CHECKS_FAILED && r->result != ICE_DIAG_R_ABORTED &&
	    !(r->code == ICE_DIAG_NO_RESPONSE && !rec(in)->req_sent) && !in->n_relays)
		ck_assert_msg(d.record == 0, "%s: record %d", r->name, d.record);
	else if (!in->n_pairs)
		ck_assert_int_eq(d.record, -1);
	check_words(r->name, d.reason, r->reason, 4);
	check_words(r->name, d.hint, r->hint, 2);
	/* One line each. */
	ck_assert_ptr_null(strchr(d.reason, '\n'));
	ck_assert_ptr_null(strchr(d.hint, '\n'));
	ck_assert_uint_gt(strlen(d.reason), 0);
	if (r->result != ICE_DIAG_R_SUCCESS)
		ck_assert_uint_gt(strlen(d.hint), 0);
	free(in);
}
END_TEST

START_TEST(test_diag_pairs_refused)
{
	struct ice_diag_input *in = calloc(1, sizeof *in);
	struct ice_diag d;
	ck_assert_ptr_nonnull(in);
	base(in);
	in->n_pairs = ICE_AGENT_PAIRS_MAX + 1;
	ck_assert_int_eq(ice_diag_pairs(in, &d), PBX_E_INVALID);
	in->n_pairs = 1;
	in->n_relays = ICE_DIAG_RELAYS_MAX + 1;
	ck_assert_int_eq(ice_diag_pairs(in, &d), PBX_E_INVALID);
	free(in);
}
END_TEST

/* Names: the servers' values and names unchanged, every pair code named
 * once, with a hint. */
START_TEST(test_diag_names)
{
	ck_assert_int_eq(ICE_DIAG_NO_CANDIDATE, 21);
	ck_assert_str_eq(ice_diag_name(ICE_DIAG_TURN_AUTH), "turn-auth");
	ck_assert_str_eq(ice_diag_name(ICE_DIAG_NO_CANDIDATE), "no-candidate");
	ck_assert_str_eq(ice_diag_name(ICE_DIAG_ICE_AUTH_OUT), "ice-auth-out");
	ck_assert_str_eq(ice_diag_name(ICE_DIAG_NO_PAIRS), "no-pairs");
	ck_assert_str_eq(ice_diag_name(ICE_DIAG_PEER_CLOSED), "peer-closed");
	ck_assert_str_eq(ice_diag_name(ICE_DIAG_COUNT), "unknown");
	ck_assert_str_eq(ice_diag_hint(ICE_DIAG_COUNT), "");
	for (int c = 1; c < ICE_DIAG_COUNT; c++) {
		ck_assert_msg(ice_diag_name(c) && strcmp(ice_diag_name(c), "unknown"), "code %d", c);
		ck_assert_msg(ice_diag_hint(c)[0], "code %d has no hint", c);
		for (int k = 0; k < c; k++)
			ck_assert_str_ne(ice_diag_name(c), ice_diag_name(k));
	}
	ck_assert_str_eq(ice_diag_result_name(ICE_DIAG_R_SUCCESS), "success");
	ck_assert_str_eq(ice_diag_result_name(ICE_DIAG_R_FAILED), "failed");
	ck_assert_str_eq(ice_diag_result_name(ICE_DIAG_R_ABORTED), "aborted");
	ck_assert_str_eq(ice_diag_result_name((enum ice_diag_result)9), "unknown");
}
END_TEST

/* ---- two real agents on a fake network (ice_net.h) ---- */

/* A (192.0.2.1:1000, role ra) and B (192.0.2.2:2000), one host candidate
 * each, each told the other's description with the passwords given. */
static struct duo duo(enum ice_role ra, const char *pwd_b_told_to_a, const char *pwd_a_told_to_b)
{
	return duo_new(50, 40, ra, ra == ICE_CONTROLLING ? ICE_CONTROLLED : ICE_CONTROLLING,
		       pwd_b_told_to_a, pwd_a_told_to_b);
}

static struct ice_agent *side(struct duo *d, int i)
{
	return i ? d->b : d->a;
}

/* The diagnosis of side i, the caller's time limit expired. */
static void diagnose(struct duo *n, int i, struct ice_diag *d)
{
	struct ice_diag_input *in = calloc(1, sizeof *in);
	ck_assert_ptr_nonnull(in);
	ck_assert_int_eq(ice_diag_input_from_agent(side(n, i), in), 0);
	ck_assert_uint_eq(in->local_v4, 1);
	ck_assert_uint_eq(in->remote_v4, 1);
	ck_assert(in->end_of_remote);
	in->time_limit = true;
	ck_assert_int_eq(ice_diag_pairs(in, d), 0);
	free(in);
}

static void expect(struct duo *n, int i, enum ice_diag_result res, enum ice_diag_code code,
		   const char *word)
{
	struct ice_diag d;
	diagnose(n, i, &d);
	ck_assert_msg(d.code == code && d.result == res, "side %c: %s %s (%s), want %s %s",
		      "AB"[i], ice_diag_result_name(d.result), ice_diag_name(d.code), d.reason,
		      ice_diag_result_name(res), ice_diag_name(code));
	ck_assert_msg(strstr(d.reason, word), "side %c: \"%s\" not in \"%s\"", "AB"[i], word,
		      d.reason);
	if (getenv("DIAG_SHOW"))
		printf("%c: %s %s: %s / %s\n", "AB"[i], ice_diag_result_name(d.result),
		       ice_diag_name(d.code), d.reason, d.hint);
	ck_assert_ptr_null(strstr(d.reason, PWD_A));
	ck_assert_ptr_null(strstr(d.reason, PWD_B));
	ck_assert_ptr_null(strstr(d.hint, PWD_A));
	ck_assert_ptr_null(strstr(d.hint, PWD_B));
}

START_TEST(test_diag_run_success)
{
	struct duo d = duo(ICE_CONTROLLING, PWD_B, PWD_A);
	net_run(d.n, 5000);
	expect(&d, 0, ICE_DIAG_R_SUCCESS, ICE_DIAG_OK, "host 192.0.2.1:1000 -> host 192.0.2.2:2000");
	expect(&d, 1, ICE_DIAG_R_SUCCESS, ICE_DIAG_OK, "host 192.0.2.2:2000 -> host 192.0.2.1:1000");
	duo_free(&d);
}
END_TEST

/* B (controlling) was told a wrong password for A: A refuses B's checks
 * with 401; A's own checks are answered, but no nomination can reach it. */
START_TEST(test_diag_run_wrong_password)
{
	struct duo d = duo(ICE_CONTROLLED, PWD_B, PWD_WRONG);
	net_run(d.n, 60000);
	expect(&d, 1, ICE_DIAG_R_FAILED, ICE_DIAG_ICE_AUTH_OUT, "401");
	expect(&d, 0, ICE_DIAG_R_FAILED, ICE_DIAG_ICE_AUTH_IN, "MESSAGE-INTEGRITY");
	duo_free(&d);
}
END_TEST

/* A (controlling) has B's password right, B was told a wrong one for A:
 * A's checks pass and A selects and nominates, but B's checks fail A's
 * MESSAGE-INTEGRITY, so B never completes: one way, ice-auth-in for A
 * although it selected, ice-auth-out for B. */
START_TEST(test_diag_run_wrong_password_selected)
{
	struct duo d = duo(ICE_CONTROLLING, PWD_B, PWD_WRONG);
	net_run(d.n, 60000);
	const struct ice_pair *sel;
	ck_assert_int_eq(ice_agent_selected(d.a, &sel), 0);
	expect(&d, 0, ICE_DIAG_R_FAILED, ICE_DIAG_ICE_AUTH_IN, "one way");
	expect(&d, 1, ICE_DIAG_R_FAILED, ICE_DIAG_ICE_AUTH_OUT, "401");
	duo_free(&d);
}
END_TEST

/* B's (controlling) requests are lost on the way to A, answers pass: A's
 * checks are answered but B's never arrive; B hears A but gets no answer. */
START_TEST(test_diag_run_one_way)
{
	struct duo d = duo(ICE_CONTROLLED, PWD_B, PWD_A);
	d.n->drop_requests[0] = d.b;
	net_run(d.n, 120000);
	expect(&d, 0, ICE_DIAG_R_FAILED, ICE_DIAG_ONE_WAY_OUT, "no check arrived");
	expect(&d, 1, ICE_DIAG_R_FAILED, ICE_DIAG_ONE_WAY_IN,
	       "sent to 192.0.2.1:1000 from host 192.0.2.2:2000");
	duo_free(&d);
}
END_TEST

START_TEST(test_diag_run_all_dropped)
{
	struct duo d = duo(ICE_CONTROLLING, PWD_B, PWD_A);
	d.n->mute[0] = d.a;
	d.n->mute[1] = d.b;
	net_run(d.n, 120000);
	expect(&d, 0, ICE_DIAG_R_FAILED, ICE_DIAG_NO_RESPONSE, "none answered");
	expect(&d, 1, ICE_DIAG_R_FAILED, ICE_DIAG_NO_RESPONSE, "no check arrived");
	duo_free(&d);
}
END_TEST

/* Stopped early, the checks still running: aborted by the time limit. */
START_TEST(test_diag_run_aborted)
{
	struct duo d = duo(ICE_CONTROLLING, PWD_B, PWD_A);
	d.n->mute[0] = d.a;
	d.n->mute[1] = d.b;
	net_run(d.n, 1000);
	expect(&d, 0, ICE_DIAG_R_ABORTED, ICE_DIAG_TIMEOUT, "time limit");
	duo_free(&d);
}
END_TEST

static Suite *ice_diag_suite(void)
{
	Suite *s = suite_create("ice_diag");
	TCase *tc = tcase_create("pairs");
	tcase_add_loop_test(tc, test_diag_pairs_table, 0, (int)(sizeof rows / sizeof rows[0]));
	tcase_add_test(tc, test_diag_pairs_refused);
	tcase_add_test(tc, test_diag_names);
	tcase_add_test(tc, test_diag_run_success);
	tcase_add_test(tc, test_diag_run_wrong_password);
	tcase_add_test(tc, test_diag_run_wrong_password_selected);
	tcase_add_test(tc, test_diag_run_one_way);
	tcase_add_test(tc, test_diag_run_all_dropped);
	tcase_add_test(tc, test_diag_run_aborted);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ice_diag_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
