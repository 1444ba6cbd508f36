/* store.h - the SQLite store shared by every daemon and rpctl.
 *
 * One database (WAL mode) holds configuration, the blacklist and
 * whitelist, TURN accounts, NAT results and the daemons' status.  Daemons
 * never query it on the hot path: they load an immutable snapshot
 * (store_snapshot_load) and swap in a new one when store_poll reports a
 * configuration change.  Each thread uses its own struct store.
 */
#ifndef PBXEDGE_STORE_H
#define PBXEDGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pbxedge/addr.h>
#include <pbxedge/api.h>
#include <pbxedge/err.h>

/* ---- vocabulary: service types and protocol families ---- */

/* Protocol families a service name can have a target for. */
enum store_family {
	STORE_FAMILY_HTTP,
	STORE_FAMILY_SIP,
	STORE_FAMILY_H323,
	STORE_FAMILY_LDAP,
	STORE_FAMILY_COUNT
};

/* Service types rpd can listen for: a family, plain or TLS. */
enum store_proto {
	STORE_PROTO_HTTP,
	STORE_PROTO_HTTPS,
	STORE_PROTO_SIP,
	STORE_PROTO_SIPS,
	STORE_PROTO_H323,
	STORE_PROTO_H323S,
	STORE_PROTO_LDAP,
	STORE_PROTO_LDAPS,
	STORE_PROTO_COUNT
};

/* store_family_name - "http", "sip", "h323", "ldap". */
PBX_API const char *store_family_name(enum store_family f);

/* store_family_parse - the family named s (case-insensitive).  Returns 0,
 * or PBX_E_INVALID with err listing the families. */
PBX_API int store_family_parse(const char *s, enum store_family *f, struct pbx_err *err);

/* store_proto_name - "http", "https", "sip", "sips", "h323", "h323s",
 * "ldap", "ldaps". */
PBX_API const char *store_proto_name(enum store_proto p);

/* store_proto_parse - the service type named s.  Returns 0 or
 * PBX_E_INVALID with err listing the types. */
PBX_API int store_proto_parse(const char *s, enum store_proto *p, struct pbx_err *err);

/* store_proto_family - the protocol family a service type carries. */
PBX_API enum store_family store_proto_family(enum store_proto p);

/* store_proto_tls - true for the TLS service types. */
PBX_API bool store_proto_tls(enum store_proto p);

/* store_proto_default_port - the well-known port (80, 443, 5060, 5061,
 * 1720, 1300, 389, 636). */
PBX_API uint16_t store_proto_default_port(enum store_proto p);

/* ---- opening ---- */

struct store;

enum store_open_flags {
	STORE_CREATE = 1,   /* create the database file if it does not exist */
	STORE_MIGRATE = 2,  /* bring an older schema up to date */
	STORE_READONLY = 4, /* open read-only (no create, no migrate) */
};

/* Busy timeout for every connection, in milliseconds. */
#define STORE_BUSY_TIMEOUT_MS 5000

/* store_open - open the store at path.  Sets the busy timeout before the
 * first statement, switches to WAL (retrying the switch while another
 * process holds the fresh file), and with STORE_MIGRATE applies missing
 * migrations in one BEGIN IMMEDIATE transaction.  A store newer than this
 * code is refused (PBX_E_SCHEMA_NEWER); an older one opened without
 * STORE_MIGRATE too (PBX_E_INVALID).  On success *out is a new handle the
 * caller frees with store_close; on failure err says why. */
PBX_API int store_open(const char *path, int flags, struct store **out, struct pbx_err *err);

/* store_close - close the handle (NULL is accepted). */
PBX_API void store_close(struct store *st);

/* store_path - the path the handle was opened with. */
PBX_API const char *store_path(const struct store *st);

/* store_schema_version - the store's schema version (PRAGMA user_version). */
PBX_API int store_schema_version(struct store *st, int *version, struct pbx_err *err);

/* store_schema_latest - the newest schema version this code knows. */
PBX_API int store_schema_latest(void);

/* store_begin - start a write transaction (BEGIN IMMEDIATE), so that a
 * group of changes is applied all or nothing.  Returns 0 or an error. */
PBX_API int store_begin(struct store *st, struct pbx_err *err);

/* store_commit - commit the transaction started by store_begin. */
PBX_API int store_commit(struct store *st, struct pbx_err *err);

/* store_rollback - abandon the transaction started by store_begin. */
PBX_API void store_rollback(struct store *st);

/* store_poll - cheap check (PRAGMA data_version, then the configuration
 * generation) whether configuration changed since the last call or the
 * last snapshot load on this handle.  Sets *changed.  Status, counter and
 * event writes do not count as changes. */
PBX_API int store_poll(struct store *st, bool *changed, struct pbx_err *err);

/* store_now - the current time as stored (Unix seconds). */
PBX_API int64_t store_now(void);

/* ---- settings ---- */

enum store_setting_type {
	STORE_SETTING_INT,
	STORE_SETTING_BOOL,
	STORE_SETTING_STRING,
	STORE_SETTING_PATH,         /* absolute path, or empty for none */
	STORE_SETTING_TLS_PRIORITY, /* a GnuTLS priority string */
	STORE_SETTING_STUN_SERVERS, /* a[:port],b[:port];x[:port] */
	STORE_SETTING_ADDRPORT,     /* one IP address[:port], or empty for none */
	STORE_SETTING_ADDRPORTS,    /* ADDR[:PORT],ADDR[:PORT]..., or empty */
	STORE_SETTING_CIDRS,        /* NET,NET... (hosts or networks), or empty */
	STORE_SETTING_ADDR_AUTO,    /* one IP address, "auto", or empty */
};

/* Setting keys; store_setting_info gives their names and limits. */
enum store_setting {
	STORE_SET_RPD_SUSPICIOUS_PER_MINUTE,
	STORE_SET_RPD_BLACKLIST_MINUTES,
	STORE_SET_RPD_INSPECT_TIMEOUT_MS,
	STORE_SET_RPD_INSPECT_MAX_BYTES,
	STORE_SET_RPD_TLS_CERT,
	STORE_SET_RPD_TLS_KEY,
	STORE_SET_RPD_TLS_PRIORITY,
	STORE_SET_RPD_TRUST_CA,
	STORE_SET_RPD_TARGET_CA,
	STORE_SET_RPD_IPV6_PREFIX,
	STORE_SET_NATD_SERVERS,
	STORE_SET_NATD_INTERVAL_S,
	STORE_SET_STUND_PRIMARY,
	STORE_SET_STUND_ALTERNATE,
	STORE_SET_STUND_TLS_PORT,
	STORE_SET_STUND_TLS_CERT,
	STORE_SET_STUND_TLS_KEY,
	STORE_SET_STUND_SOFTWARE,
	STORE_SET_STUND_RATE_PER_SECOND,
	STORE_SET_STUND_RATE_BURST,
	STORE_SET_STUND_TCP_PER_SOURCE,
	STORE_SET_STUND_TCP_IDLE_S,
	STORE_SET_TURND_LISTEN,
	STORE_SET_TURND_TLS_LISTEN,
	STORE_SET_TURND_REALM,
	STORE_SET_TURND_MIN_PORT,
	STORE_SET_TURND_TLS_CERT,
	STORE_SET_TURND_TLS_KEY,
	STORE_SET_TURND_MAX_PORT,
	STORE_SET_TURND_ALLOW_PEER,
	STORE_SET_TURND_DENY_PEER,
	STORE_SET_TURND_EXTERNAL_IP,
	STORE_SET_TURND_USER_QUOTA,
	STORE_SET_TURND_TOTAL_QUOTA,
	STORE_SET_TURND_BANDWIDTH,
	STORE_SET_TURND_MAX_LIFETIME,
	STORE_SET_TURND_SUSPICIOUS_PER_MINUTE,
	STORE_SET_TURND_BLACKLIST_MINUTES,
	STORE_SETTING_COUNT
};

struct store_setting_info {
	const char *key;     /* "rpd.inspect-timeout-ms": daemon.name */
	enum store_setting_type type;
	const char *def;     /* default, as text */
	int64_t min, max;    /* INT: range; STRING and the others: max is the
			      * length bound; ADDRPORT(S): min is the port of
			      * an address given without one (0: the port
			      * stays optional, the daemon picks it) */
	const char *unit;    /* for help: "ms", "minutes" ... or NULL */
	const char *help;    /* one line */
};

/* store_setting_info - the description of setting s (s < STORE_SETTING_COUNT). */
PBX_API const struct store_setting_info *store_setting_info(enum store_setting s);

/* store_setting_find - the setting named key.  Returns 0, or
 * PBX_E_NOTFOUND with err naming the key. */
PBX_API int store_setting_find(const char *key, enum store_setting *s, struct pbx_err *err);

/* store_setting_validate - check value for setting s and write its
 * canonical text (e.g. "true" for "yes") into canon (size n).  Returns 0,
 * or PBX_E_INVALID with err saying what is wrong and what is allowed. */
PBX_API int store_setting_validate(enum store_setting s, const char *value, char *canon,
				   size_t n, struct pbx_err *err);

/* store_setting_set - validate and store a setting.  Returns 0 or an error. */
PBX_API int store_setting_set(struct store *st, const char *key, const char *value,
			      struct pbx_err *err);

/* store_setting_unset - return a setting to its default. */
PBX_API int store_setting_unset(struct store *st, const char *key, struct pbx_err *err);

/* store_setting_get - the effective value of key (the default if unset)
 * into buf (size n); *is_default tells which (may be NULL). */
PBX_API int store_setting_get(struct store *st, const char *key, char *buf, size_t n,
			      bool *is_default, struct pbx_err *err);

/* ---- configuration changes (each its own transaction unless inside
 * store_begin/store_commit) ---- */

/* store_listen_set - serve proto on port, on addr (NULL or "": every local
 * address; otherwise an IP address).  Replaces an earlier port. */
PBX_API int store_listen_set(struct store *st, enum store_proto proto, uint32_t port,
			     const char *addr, struct pbx_err *err);

/* store_listen_off - stop serving proto.  PBX_E_NOTFOUND if it was off. */
PBX_API int store_listen_off(struct store *st, enum store_proto proto, struct pbx_err *err);

/* store_name_validate - check a service name: a domain, optionally with
 * "/registration-location" ("example.com", "example.com/branch"), at most
 * 253 characters. */
PBX_API int store_name_validate(const char *name, struct pbx_err *err);

/* store_name_add - add a service name.  PBX_E_EXISTS if a name equal to it
 * ignoring case exists. */
PBX_API int store_name_add(struct store *st, const char *name, struct pbx_err *err);

/* store_name_del - delete a name with its targets and access limits. */
PBX_API int store_name_del(struct store *st, const char *name, struct pbx_err *err);

/* A target as given to store_target_set (ports 0: none). */
struct store_target_spec {
	const char *host;
	uint32_t plain_port;
	uint32_t tls_port;
	bool check_cert;
};

/* store_target_set - set (or replace) where requests of family f for name
 * go.  host is a DNS name or an IP address; at least one port is needed. */
PBX_API int store_target_set(struct store *st, const char *name, enum store_family f,
			     const struct store_target_spec *spec, struct pbx_err *err);

/* store_target_del - remove the target of family f for name. */
PBX_API int store_target_del(struct store *st, const char *name, enum store_family f,
			     struct pbx_err *err);

/* store_allow_ip_add/del - allow (or stop allowing) the network cidr for
 * requests of family f to name.  A name/family without any allowed
 * network accepts every source. */
PBX_API int store_allow_ip_add(struct store *st, const char *name, enum store_family f,
			       const char *cidr, struct pbx_err *err);
PBX_API int store_allow_ip_del(struct store *st, const char *name, enum store_family f,
			       const char *cidr, struct pbx_err *err);

/* store_url_validate - check an allowed-URL head: starts with "/", at most
 * 1024 visible ASCII characters. */
PBX_API int store_url_validate(const char *url, struct pbx_err *err);

/* store_allow_url_add/del - allow (or stop allowing) the URL head url for
 * HTTP requests to name.  A name without URLs accepts every URL. */
PBX_API int store_allow_url_add(struct store *st, const char *name, const char *url,
				struct pbx_err *err);
PBX_API int store_allow_url_del(struct store *st, const char *name, const char *url,
				struct pbx_err *err);

/* store_config_clear - delete all configuration (settings, listeners,
 * names, manual blacklist entries, whitelist), keeping automatic blacklist
 * entries, accounts, status and events: the first step of an import. */
PBX_API int store_config_clear(struct store *st, struct pbx_err *err);

/* ---- blacklist and whitelist ---- */

enum store_list_kind { STORE_BLACKLIST, STORE_WHITELIST };

/* store_access_add - add (or replace) an entry for cidr (a host or a
 * network).  Blacklist: expires is a Unix time, 0 for permanent, and
 * automatic tells the fraud detection's entries from manual ones.  A
 * blacklist entry for a whitelisted source is refused. */
PBX_API int store_access_add(struct store *st, enum store_list_kind list, const char *cidr,
			     int64_t expires, bool automatic, const char *reason,
			     struct pbx_err *err);

/* store_access_del - delete the entry for cidr (canonicalised first). */
PBX_API int store_access_del(struct store *st, enum store_list_kind list, const char *cidr,
			     struct pbx_err *err);

/* store_blacklist_promote - turn the active blacklist entry for cidr into
 * a whitelist entry, in one transaction (PBX_E_NOTFOUND if there is none:
 * an expired entry cannot be promoted). */
PBX_API int store_blacklist_promote(struct store *st, const char *cidr, struct pbx_err *err);

/* store_blacklist_prune - delete blacklist entries that expired at or
 * before now; *removed (may be NULL) gets their number. */
PBX_API int store_blacklist_prune(struct store *st, int64_t now, int *removed,
				  struct pbx_err *err);

/* ---- TURN accounts and shared secrets ---- */

/* store_turn_user_add - add (or replace) the TURN account user of realm
 * with the long-term keys derived from password (MD5 and SHA-256, RFC
 * 8489 9.2.2); the password itself is not stored.  User, realm and
 * password are printable ASCII; the user has no ':' (TURN REST user names
 * are EXPIRY:USER).  Returns 0 or an error. */
PBX_API int store_turn_user_add(struct store *st, const char *user, const char *realm,
				const char *password, struct pbx_err *err);

/* store_turn_user_key_set - add (or replace) an account from keys derived
 * elsewhere (an import). */
PBX_API int store_turn_user_key_set(struct store *st, const char *user, const char *realm,
				    const uint8_t key_md5[16], const uint8_t key_sha256[32],
				    struct pbx_err *err);

/* store_turn_user_del - delete the account user; PBX_E_NOTFOUND if none. */
PBX_API int store_turn_user_del(struct store *st, const char *user, struct pbx_err *err);

/* store_turn_secret_add - activate a TURN REST shared secret (several may
 * be active).  PBX_E_EXISTS if it is already. */
PBX_API int store_turn_secret_add(struct store *st, const char *secret, struct pbx_err *err);

/* store_turn_secret_del - retire a secret, given by its id or its text. */
PBX_API int store_turn_secret_del(struct store *st, const char *secret_or_id,
				  struct pbx_err *err);

/* ---- listing (for rpctl and export) ---- */

enum store_col_type { STORE_COL_NULL, STORE_COL_INT, STORE_COL_TEXT };

struct store_col {
	const char *name;
	enum store_col_type type;
	int64_t i;
	const char *s; /* TEXT: valid during the callback only */
};

/* Row callback: return 0 to continue, non-zero to stop (returned). */
typedef int (*store_row_fn)(void *arg, const struct store_col *cols, int ncols);

enum store_query {
	STORE_Q_LISTENERS,    /* proto, port, addr */
	STORE_Q_NAMES,        /* name, targets, allow_ip, allow_url (counts) */
	STORE_Q_TARGETS,      /* name, family, host, plain_port, tls_port, check_cert */
	STORE_Q_ALLOW_IP,     /* name, family, network */
	STORE_Q_ALLOW_URL,    /* name, url */
	STORE_Q_BLACKLIST,    /* network, origin, reason, created, expires, hits (active) */
	STORE_Q_WHITELIST,    /* network, origin, reason, created, hits */
	STORE_Q_DAEMONS,      /* daemon, pid, version, started, heartbeat, state, detail */
	STORE_Q_COUNTERS,     /* daemon, name, value, updated */
	STORE_Q_EVENTS,       /* at, daemon, source, service, reason, detail (newest 20) */
	STORE_Q_NAT,          /* server_index, server, at, external, mapping, ... */
	STORE_Q_NAT_HISTORY,  /* at, server_index, server, external, mapping, ... (newest 100) */
	STORE_Q_TURN_ACCOUNTS,/* user, realm, created */
	STORE_Q_TURN_SECRETS, /* id, created */
	STORE_Q_TURN_KEYS,    /* user, realm, key_md5, key_sha256 (hex), for export */
	STORE_Q_TURN_SECRET_TEXT, /* id, secret, for export */
	STORE_Q_TURN_ALLOCATIONS, /* daemon, user, client, transport, relayed, started,
			       * expires, permissions, channels, bytes_in, bytes_out,
			       * packets_in, packets_out, updated */
	STORE_Q_REFUSED,      /* at, daemon, service, source, reason, offset, excerpt */
	STORE_Q_ICE_TEST,     /* at, result, code, reason, servers, candidates (0 or 1 row) */
};

/* store_query - call fn for each row of query q, in a stable order.  With
 * filter (a service name, for the per-name queries) only that name's rows.
 * Returns 0, fn's non-zero result, or an error. */
PBX_API int store_query(struct store *st, enum store_query q, const char *filter,
			store_row_fn fn, void *arg, struct pbx_err *err);

/* store_name_exists - 0 if the service name exists, else PBX_E_NOTFOUND
 * with err naming it. */
PBX_API int store_name_exists(struct store *st, const char *name, struct pbx_err *err);

/* ---- NAT discovery results (natd) ---- */

/* One logical server's verdict, as natd stores it (texts are the names
 * the nat_result table allows). */
struct store_nat_row {
	const char *server;    /* the logical server as configured */
	const char *external;  /* external IP address; NULL or "": none */
	const char *mapping, *filtering, *hairpin, *classic;
	const char *evidence;  /* JSON */
};

/* store_nat_save - store the verdicts of one round at time at, rows[i]
 * for logical server i, in one transaction: nat_result then holds exactly
 * these n rows, and each row that differs from the verdict stored before
 * (or is the first) is appended to nat_history; changed (n flags, may be
 * NULL) says which.  Returns 0 or an error. */
PBX_API int store_nat_save(struct store *st, const struct store_nat_row *rows, size_t n,
			   int64_t at, bool *changed, struct pbx_err *err);

/* store_nat_external - the external IP address natd found through the
 * first logical server, as text into buf (size len).  Returns 0,
 * PBX_E_NOTFOUND if there is none (yet), PBX_E_NOSPACE, or an error. */
PBX_API int store_nat_external(struct store *st, char *buf, size_t len, struct pbx_err *err);

/* ---- the last result of each mode of rpctl ice-test ---- */

struct store_ice_test_row {
	const char *mode;      /* "servers", "loop" or "peer" */
	int64_t at;            /* Unix seconds */
	const char *result;    /* "SUCCESS", "FAILED" or "ABORTED" */
	const char *code;      /* the reason code ("turn-auth") */
	const char *reason;    /* one line */
	int64_t servers, candidates; /* rows of each table */
	int64_t pairs;         /* rows of the pairs table (loop, peer) */
	const char *selected;  /* the selected pair as text, or NULL/"" */
};

/* store_ice_test_save - replace the stored result of r->mode with r.
 * Returns 0 or an error (PBX_E_INVALID for an unknown mode). */
PBX_API int store_ice_test_save(struct store *st, const struct store_ice_test_row *r,
				struct pbx_err *err);

/* store_nat_probe_request - ask natd for a round now; *id names the
 * request.  Returns 0 or an error. */
PBX_API int store_nat_probe_request(struct store *st, int64_t *id, struct pbx_err *err);

/* store_nat_probe_done - when request id was answered (Unix time), 0 if
 * not yet (or if there is no such request). */
PBX_API int store_nat_probe_done(struct store *st, int64_t id, int64_t *done,
				 struct pbx_err *err);

/* store_nat_probe_pending - the newest unanswered request's id into
 * *last, 0 if none. */
PBX_API int store_nat_probe_pending(struct store *st, int64_t *last, struct pbx_err *err);

/* store_nat_probe_finish - mark the requests up to id last answered (now),
 * and drop those answered more than a day ago. */
PBX_API int store_nat_probe_finish(struct store *st, int64_t last, struct pbx_err *err);

/* ---- the snapshot ---- */

struct store_target {
	char *host;           /* NULL: no target for this family */
	uint16_t plain_port;  /* 0: none */
	uint16_t tls_port;    /* 0: none */
	bool check_cert;
};

struct store_name {
	char *name;
	struct store_target target[STORE_FAMILY_COUNT];
	struct pbx_cidr *allow[STORE_FAMILY_COUNT]; /* none: every source */
	size_t n_allow[STORE_FAMILY_COUNT];
	char **urls;                                /* none: every URL */
	size_t n_urls;
};

struct store_listener {
	bool on;
	uint16_t port;
	struct pbx_addr addr; /* the listening address, port included */
};

/* A TURN account: the long-term keys derived from user, realm and
 * password (RFC 8489 9.2.2); the password itself is never stored. */
struct store_turn_account {
	char *user;
	char *realm;
	uint8_t key_md5[16];
	uint8_t key_sha256[32];
};

/* An immutable view of the configuration, the blacklist and whitelist,
 * shared by reference between threads.  Read its fields directly. */
struct store_snapshot {
	int64_t generation;                 /* meta.config_generation */
	int64_t loaded;                     /* store_now() at load */
	int64_t setting_int[STORE_SETTING_COUNT];       /* INT and BOOL */
	const char *setting_str[STORE_SETTING_COUNT];   /* every type, as text */
	struct store_listener listener[STORE_PROTO_COUNT];
	const struct store_name *names;     /* sorted case-insensitively */
	size_t n_names;
	const struct store_turn_account *turn_accounts; /* sorted by user (bytes) */
	size_t n_turn_accounts;
	const char *const *turn_secrets;    /* TURN REST shared secrets, by id */
	size_t n_turn_secrets;
	const char *const *problems;        /* what was wrong while loading */
	size_t n_problems;
	struct store_snapshot_priv *priv;   /* private */
};

/* store_snapshot_load - read configuration, blacklist and whitelist in one
 * read transaction into a new snapshot (one reference, owned by the
 * caller).  Values that fail validation (the database was edited by hand)
 * fall back to their defaults and are listed in problems.  Returns 0 or an
 * error. */
PBX_API int store_snapshot_load(struct store *st, struct store_snapshot **out,
				struct pbx_err *err);

/* store_snapshot_ref - take another reference (any thread). */
PBX_API struct store_snapshot *store_snapshot_ref(struct store_snapshot *s);

/* store_snapshot_unref - drop a reference; the last one frees it.  NULL is
 * accepted. */
PBX_API void store_snapshot_unref(struct store_snapshot *s);

/* store_snapshot_name - the service name equal to name ignoring ASCII
 * case, or NULL. */
PBX_API const struct store_name *store_snapshot_name(const struct store_snapshot *s,
						     struct pbx_span name);

/* store_snapshot_turn_account - the TURN account of user (exact bytes),
 * or NULL. */
PBX_API const struct store_turn_account *store_snapshot_turn_account(
	const struct store_snapshot *s, struct pbx_span user);

/* store_snapshot_blacklisted - true if a's address is covered by an
 * unexpired blacklist entry at time now and by no whitelist entry. */
PBX_API bool store_snapshot_blacklisted(const struct store_snapshot *s,
					const struct pbx_addr *a, int64_t now);

/* store_snapshot_blacklist_entry - as store_snapshot_blacklisted, and
 * *entry (may be NULL) gets the blacklist entry that matched. */
PBX_API bool store_snapshot_blacklist_entry(const struct store_snapshot *s,
					    const struct pbx_addr *a, int64_t now,
					    struct pbx_cidr *entry);

/* store_snapshot_whitelisted - true if a's address is covered by a
 * whitelist entry. */
PBX_API bool store_snapshot_whitelisted(const struct store_snapshot *s,
					const struct pbx_addr *a);

/* store_snapshot_access_count - entries loaded into list (blacklist:
 * unexpired at load time). */
PBX_API size_t store_snapshot_access_count(const struct store_snapshot *s,
					   enum store_list_kind list);

/* ---- the batched writer (daemons) ---- */

struct store_writer;

/* store_writer_start - start a thread with its own connection to path that
 * records what daemon reports: status, counters, suspicious events.
 * Messages are queued without blocking and written in batches, one
 * transaction each, off the caller's thread.  It also keeps the
 * daemon_status heartbeat and prunes expired blacklist entries.  Returns 0
 * with *out set, or an error (err says why). */
PBX_API int store_writer_start(const char *path, const char *daemon,
			       struct store_writer **out, struct pbx_err *err);

/* store_writer_stop - write what is queued, mark the daemon stopped and
 * join the thread.  NULL is accepted. */
PBX_API void store_writer_stop(struct store_writer *w);

/* store_writer_state - record the daemon's state ("running", "draining")
 * and a one-line detail. */
PBX_API void store_writer_state(struct store_writer *w, const char *state, const char *detail);

/* store_writer_counter - record the current value of a counter. */
PBX_API void store_writer_counter(struct store_writer *w, const char *name, uint64_t value);

/* store_writer_event - record a suspicious event from source. */
PBX_API void store_writer_event(struct store_writer *w, const struct pbx_addr *source,
				const char *service, const char *reason, const char *detail);

/* store_writer_blacklist - add an automatic blacklist entry for net until
 * expires (a manual entry for it is kept; a whitelisted one is refused and
 * logged). */
PBX_API void store_writer_blacklist(struct store_writer *w, const struct pbx_cidr *net,
				    int64_t expires, const char *reason);

/* store_writer_hit - count n requests dropped because of the blacklist
 * entry net (added to its hits; coalesced per batch). */
PBX_API void store_writer_hit(struct store_writer *w, const struct pbx_cidr *net, uint64_t n);

/* store_writer_refused - keep what was refused as it arrived (the newest
 * few per service): the first bytes (escaped), where the input broke a
 * rule, and why. */
PBX_API void store_writer_refused(struct store_writer *w, const char *service,
				  const struct pbx_addr *source, const char *reason,
				  size_t offset, const void *bytes, size_t len);

/* A live TURN allocation as turnd reports it for rpctl turn status. */
struct store_turn_alloc {
	uint64_t id;              /* turnd's own, unique while it runs */
	const char *user;
	const struct pbx_addr *client;
	const char *transport;    /* "udp", "tcp", "tls" */
	const struct pbx_addr *relayed; /* as advertised */
	int64_t started, expires; /* Unix seconds */
	uint32_t permissions, channels;
	uint64_t bytes_in, bytes_out, packets_in, packets_out; /* in: from the client */
};

/* store_writer_turn_alloc - record (or update) a live allocation. */
PBX_API void store_writer_turn_alloc(struct store_writer *w, const struct store_turn_alloc *a);

/* store_writer_turn_gone - forget the allocation id. */
PBX_API void store_writer_turn_gone(struct store_writer *w, uint64_t id);

/* store_writer_dropped - messages dropped because the queue was full. */
PBX_API uint64_t store_writer_dropped(struct store_writer *w);

#endif
