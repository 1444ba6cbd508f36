/* ice_cmd.h - what the modes of rpctl ice-test share: their options,
 * credentials, servers and host sockets (cmd_ice.c); around an agent,
 * the TURN refusals, the pair diagnosis and the pairs' output
 * (ice_report.c).  The peer mode is ice_peer.c's. */
#ifndef RPCTL_ICE_CMD_H
#define RPCTL_ICE_CMD_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <pbxedge/ice.h>
#include <pbxedge/tls.h>

#include "ctl.h"

#define ICE_PASSWORD_ENV "PBXEDGE_TURN_PASSWORD"
#define ICE_URIS_MAX ICE_GATHER_SERVERS_MAX
#define ICE_PASSWORD_MAX 256
#define ICE_REST_NAME_MAX 128

enum ice_exit { ICE_EXIT_SUCCESS = 0, ICE_EXIT_FAILED = 1, ICE_EXIT_ABORTED = 2 };

struct ice_args {
	const char *mode;         /* "servers", "peer", "loop" */
	const char *stun[ICE_URIS_MAX], *turn[ICE_URIS_MAX];
	size_t n_stun, n_turn;
	const char *local[ICE_GATHER_HOSTS_MAX];
	size_t n_local;
	const char *user, *password_file, *ca, *sni;
	bool rest, verbose;
	int transport;            /* -1: as the URI says */
	uint8_t family, policy;
	uint32_t timeout_s, gather_timeout_s;
	/* peer mode */
	bool controlled;
	bool no_data;             /* end on consent, no hello and echo */
	const char *in, *out;     /* NULL: stdin, stdout */
	/* loop mode */
	const char *a_turn[ICE_URIS_MAX], *b_turn[ICE_URIS_MAX]; /* one agent's own */
	size_t n_a_turn, n_b_turn;
	uint32_t data_s, consent_s; /* 0: none */
	uint32_t consent_timeout_s; /* 0: RFC 7675's 30 */
};

struct ice_run {
	struct ice_args a;
	struct ice_gather_server servers[ICE_GATHER_SERVERS_MAX];
	size_t n_servers;
	struct ice_gather_host hosts[ICE_GATHER_HOSTS_MAX];
	int host_fds[ICE_GATHER_HOSTS_MAX];
	size_t n_hosts;
	char password[ICE_PASSWORD_MAX];
	char rest_user[ICE_REST_NAME_MAX];
	bool have_password;
};

/* Set by SIGINT/SIGTERM while ice_signals_on is in force. */
extern volatile sig_atomic_t ice_stop;
void ice_signals_on(void);
void ice_signals_off(void);

/* The words after "ice-test MODE" into a (a->mode names the mode); 0,
 * or -2 (usage, printed). */
int ice_parse_args(int argc, char **argv, const char *mode, struct ice_args *a);
int ice_read_password(struct ctl *c, struct ice_run *r);
int ice_parse_uri(struct ctl *c, struct ice_run *r, const char *text, bool turn);
int ice_bind_hosts(struct ctl *c, struct ice_run *r);
int ice_open_store(struct ctl *c);
/* ice_save_result - keep row (its time set now) as the last result of
 * its mode for rpctl status when a store is open; a failure is reported
 * on stderr and does not change the run's outcome. */
void ice_save_result(struct ctl *c, struct store_ice_test_row *row);
/* The appliance's own stund and turnd from the store as r's servers
 * (no --stun/--turn given); 0 or 1 (reported). */
int ice_default_servers(struct ctl *c, struct ice_run *r);
/* ice_new_gather - a gatherer over r's host sockets and servers with its
 * options (family, policy, gather timeout).  Returns ice_gather_new's. */
int ice_new_gather(const struct ice_run *r, struct ice_gather **gp);
/* A TURN REST credential from the store's newest secret into r. */
int ice_mint_rest(struct ctl *c, struct ice_run *r);
/* TLS client credentials (--ca, else the system's bundle) into *out when
 * a server is reached over TLS, else NULL; 0 or 1 (reported). */
int ice_tls_creds(struct ctl *c, struct ice_run *r, struct pbx_tls_creds **out);
void ice_addr_text(const struct pbx_addr *a, char *buf, size_t n);
/* ice_hairpin_note - when a server of r or one of the n_extra addresses
 * (the peer's candidates) is this appliance's own external address
 * (turnd.external-ip, else natd's finding; the store must be open) and
 * that address is not on one of this machine's interfaces, a note into
 * buf (size len) that the path depends on the router's hairpinning;
 * else buf is empty. */
void ice_hairpin_note(struct ctl *c, const struct ice_run *r, const struct pbx_addr *extra,
		      size_t n_extra, char *buf, size_t len);
void ice_json_addr(struct json *j, const struct pbx_addr *a);
/* One server record, one gathered candidate of g, as JSON objects. */
void ice_json_server(struct json *j, const struct ice_server_record *s);
void ice_json_cand(struct json *j, struct ice_gather *g, const struct ice_gathered *x);

/* ---- around one agent (ice_report.c) ---- */

/* How an agent mode (peer, loop) ended; ICE_END_NONE while it runs. */
enum ice_end { ICE_END_NONE = 0, ICE_END_SUCCESS, ICE_END_FAILED, ICE_END_ABORTED };

/* The conclusion of an agent mode, as printed and stored. */
struct ice_verdict {
	enum ice_end end;
	char code[32]; /* the reason code */
	char reason[ICE_DIAG_TEXT_MAX];
	char hint[ICE_DIAG_TEXT_MAX];
	char note[ICE_DIAG_TEXT_MAX]; /* hairpinning */
};

/* ice_verdict_set - end v with end, code and reason, unless it has ended
 * already (the first conclusion stands). */
void ice_verdict_set(struct ice_verdict *v, enum ice_end end, const char *code, const char *reason);
/* ice_end_name - "SUCCESS", "FAILED" or "ABORTED". */
const char *ice_end_name(enum ice_end e);
/* ice_end_exit - the exit status of end e (enum ice_exit). */
int ice_end_exit(enum ice_end e);
/* ice_end_of_diag - the end a pair diagnosis calls for. */
enum ice_end ice_end_of_diag(const struct ice_diag *d);

/* ice_agent_config_init - the agent configuration the modes share: the
 * library's defaults, role, a 7 s check timeout, a random tie-breaker and
 * seed, random ufrag and password (the caller wipes cfg->pwd after
 * ice_agent_new). */
void ice_agent_config_init(struct ice_agent_config *cfg, enum ice_role role);

/* What the TURN servers refused on one agent's relays, per relay and
 * remote candidate, and which relays were lost: each reported to the
 * agent once, and all given to the pair diagnosis. */
struct ice_refusals {
	bool refused[ICE_GATHER_RELAYS_MAX][ICE_DESC_CANDS_MAX];
	bool lost[ICE_GATHER_RELAYS_MAX];
};

/* ice_permit_remote - a permission toward remote candidate k on every
 * relay of g of its family, so that the first checks through the relay
 * are not dropped. */
void ice_permit_remote(struct ice_gather *g, const struct ice_cand *k, int64_t now);

/* ice_report_refusals - a permission the TURN server refused (403 for a
 * peer it will not relay to, say) toward one of the n_remote remote
 * candidates, or an allocation lost, into the agent's records of the
 * pairs concerned, once each (rf remembers). */
void ice_report_refusals(struct ice_gather *g, struct ice_agent *agent,
			 const struct ice_cand *remote, size_t n_remote, int64_t now,
			 struct ice_refusals *rf);

/* What the pair diagnosis of one agent needs beyond the agent. */
struct ice_report_in {
	const struct ice_agent *agent;
	struct ice_gather *g;
	const struct ice_refusals *rf;
	const struct ice_cand *remote; /* the remote candidates fed */
	size_t n_remote;
	enum ice_default_check dflt;   /* of the remote description */
	bool interrupted, peer_closed, time_limit; /* what ended an unfinished run */
};

/* ice_diagnose - the conclusion of an agent's checks (lib/ice
 * diag_pairs.c) into *d.  Returns 0, -ENOMEM or ice_diag_pairs' error. */
int ice_diagnose(const struct ice_report_in *ri, struct ice_diag *d);

/* ice_bind_selected - a channel (RFC 8656 12) toward the selected pair's
 * remote address when the pair goes through one of g's relays. */
void ice_bind_selected(struct ice_gather *g, const struct ice_pair *sel, int64_t now);

/* ice_print_pairs - "title:" and the agent's pairs table (state,
 * nominated, requests sent, responses received, requests received, RTT,
 * last error). */
void ice_print_pairs(FILE *o, const struct ice_agent *agent, const char *title);
/* ice_selected_text - "type addr -> type addr" for the selected pair
 * (our side as the peer sees it) into buf (size n); false, buf empty,
 * without one. */
bool ice_selected_text(const struct ice_agent *agent, char *buf, size_t n);
/* ice_print_selected - "prefix type addr -> type addr" for the selected
 * pair, as the peer sees our side; nothing without one. */
void ice_print_selected(FILE *o, const struct ice_agent *agent, const char *prefix);
/* ice_print_event - one event of the agent as a --verbose line (agent:
 * 'A', 'B' or 0), transient ones marked "not final". */
void ice_print_event(FILE *o, char agent, const struct ice_event *ev);
/* ice_print_stale - for --verbose, a line per server record of g that
 * met 438 (stale nonce) answers and retried. */
void ice_print_stale(FILE *o, struct ice_gather *g, char agent);
/* ice_json_agent - {name, role, candidates (gathered by g), pairs,
 * selected} of one agent. */
void ice_json_agent(struct json *j, const char *name, const char *role, struct ice_gather *g,
		    const struct ice_agent *agent);
/* ice_json_pairs - the pairs as a JSON array. */
void ice_json_pairs(struct json *j, const struct ice_agent *agent);
/* ice_json_selected - the selected pair as a JSON object, or null. */
void ice_json_selected(struct json *j, const struct ice_agent *agent);
/* ice_json_conclusion - {result, code, reason, hints}: hints holds hint
 * and note when not empty (either may be NULL). */
void ice_json_conclusion(struct json *j, const char *result, const char *code,
			 const char *reason, const char *hint, const char *note);

/* rpctl ice-test peer (ice_peer.c). */
int ice_cmd_peer(struct ctl *c, int argc, char **argv);
/* rpctl ice-test loop (ice_loop.c). */
int ice_cmd_loop(struct ctl *c, int argc, char **argv);

#endif
