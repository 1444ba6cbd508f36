/* ice_cmd.h - what the modes of rpctl ice-test share (cmd_ice.c): their
 * options, credentials, servers and host sockets; the peer mode is
 * ice_peer.c's. */
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
	const char *mode;         /* "servers", "peer" */
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
/* A TURN REST credential from the store's newest secret into r. */
int ice_mint_rest(struct ctl *c, struct ice_run *r);
/* TLS client credentials (--ca, else the system's bundle) into *out when
 * a server is reached over TLS, else NULL; 0 or 1 (reported). */
int ice_tls_creds(struct ctl *c, struct ice_run *r, struct pbx_tls_creds **out);
void ice_addr_text(const struct pbx_addr *a, char *buf, size_t n);
void ice_json_addr(struct json *j, const struct pbx_addr *a);

/* rpctl ice-test peer (ice_peer.c). */
int ice_cmd_peer(struct ctl *c, int argc, char **argv);

#endif
