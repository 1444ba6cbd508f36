/* daemon.h - the one skeleton every pbxedge daemon runs on.
 *
 * pbx_daemon_main() does what all daemons share: arguments (--db,
 * --foreground, --log-level, --pidfile, --user, --workers, --check ...),
 * logging, the store and its snapshot, binding listening sockets (one
 * SO_REUSEPORT socket per worker for each address), dropping privileges
 * after binding, worker threads each with its own libevent base, reloading
 * the snapshot when the store changes, sd_notify, and signals (SIGTERM:
 * stop accepting, drain for a bounded time, exit 0; SIGHUP: reopen logs).
 * A daemon supplies a struct pbx_daemon_def with its protocol callbacks.
 */
#ifndef PBXEDGE_DAEMON_H
#define PBXEDGE_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <pbxedge/addr.h>
#include <pbxedge/api.h>
#include <pbxedge/store.h>

struct event_base;
struct pbx_worker;

enum pbx_sock_kind { PBX_SOCK_TCP, PBX_SOCK_UDP };

/* A socket a daemon wants, derived from a snapshot.  Two specs with the
 * same key, kind and address are the same socket: it survives reloads. */
struct pbx_listen_spec {
	char key[48];           /* stable name, e.g. "https" */
	enum pbx_sock_kind kind;
	struct pbx_addr addr;
	int tag;                /* the daemon's own meaning, e.g. enum store_proto */
};

#define PBX_MAX_LISTEN 32

/* What a listeners callback returns to keep the sockets bound now. */
#define PBX_LISTEN_KEEP ((size_t)-1)

struct pbx_daemon_def {
	const char *name;     /* "rpd": log ident, status row, setting prefix */
	const char *summary;  /* one line for --help */
	/* Counter names; workers add to them by index (pbx_worker_count).  A
	 * NULL name is a slot that is not reported. */
	const char *const *counters;
	size_t n_counters;
	/* Most worker threads (0: as many as CPUs). */
	int max_workers;
	/* Fill specs (at most PBX_MAX_LISTEN) with the sockets snap asks for;
	 * return how many, or PBX_LISTEN_KEEP to refuse snap's sockets and
	 * keep those bound now (none at start-up), e.g. when snap asks for an
	 * address another daemon is configured to use.  May be NULL: no
	 * sockets. */
	size_t (*listeners)(const struct store_snapshot *snap, struct pbx_listen_spec *specs);
	/* --check: print the effective configuration of snap as understood;
	 * return the number of problems found (0: valid). */
	int (*check)(const struct store_snapshot *snap, FILE *out);
	/* In a worker: a bound, non-blocking socket for spec is handed over.
	 * Return the daemon's handle for it (NULL: the daemon refused it and
	 * closed fd). */
	void *(*socket_open)(struct pbx_worker *w, const struct pbx_listen_spec *spec, int fd);
	/* In a worker: stop using a socket (reload removed it, or draining);
	 * the daemon closes the descriptor. */
	void (*socket_close)(struct pbx_worker *w, void *handle);
	/* The daemon's own shared context (TLS credentials, resolved targets
	 * ...), built in the main thread from the snapshot: at start-up
	 * (prev NULL, reloaded true), after every reload (reloaded true) and
	 * once per poll tick (reloaded false, to notice replaced files or
	 * stale DNS).  Return prev to keep it, or a new context holding one
	 * reference (the skeleton then drops its reference on prev); NULL at
	 * start-up fails the start.  Every worker gets the newest context;
	 * ctx_ref/ctx_unref manage the references (any thread). */
	void *(*prepare)(const struct store_snapshot *snap, void *prev, bool reloaded);
	void (*ctx_ref)(void *ctx);
	void (*ctx_unref)(void *ctx);
	/* In a worker, when it stops (after its sockets are closed): free what
	 * the daemon keeps per worker, such as live connections. */
	void (*worker_stop)(struct pbx_worker *w);
};

/* pbx_daemon_main - run the daemon described by def with argv; returns the
 * process exit status (0 after a clean SIGTERM, 1 on a start-up failure, 2
 * on bad arguments; --check: 0 valid, 1 invalid). */
PBX_API int pbx_daemon_main(const struct pbx_daemon_def *def, int argc, char **argv);

/* pbx_worker_base - the worker's libevent base (its thread only). */
PBX_API struct event_base *pbx_worker_base(struct pbx_worker *w);

/* pbx_worker_index - 0 .. workers-1. */
PBX_API int pbx_worker_index(const struct pbx_worker *w);

/* pbx_worker_ctx - the worker's current daemon context (see prepare),
 * borrowed like the snapshot; take a reference with ctx_ref to keep it. */
PBX_API void *pbx_worker_ctx(struct pbx_worker *w);

/* pbx_worker_set_data / pbx_worker_data - a pointer the daemon keeps per
 * worker (its thread only). */
PBX_API void pbx_worker_set_data(struct pbx_worker *w, void *data);
PBX_API void *pbx_worker_data(struct pbx_worker *w);

/* pbx_worker_snapshot - the worker's current snapshot, borrowed: valid
 * until the worker's callback returns.  Take a reference
 * (store_snapshot_ref) to keep it longer, e.g. for a connection. */
PBX_API struct store_snapshot *pbx_worker_snapshot(struct pbx_worker *w);

/* pbx_worker_session_begin/end - count a live session (a connection, an
 * allocation) so that SIGTERM waits for it, up to the drain timeout. */
PBX_API void pbx_worker_session_begin(struct pbx_worker *w);
PBX_API void pbx_worker_session_end(struct pbx_worker *w);

/* pbx_worker_draining - true once the daemon stopped accepting. */
PBX_API bool pbx_worker_draining(const struct pbx_worker *w);

/* pbx_worker_count - add n to the counter at index i of def->counters. */
PBX_API void pbx_worker_count(struct pbx_worker *w, size_t i, uint64_t n);

/* pbx_worker_drop - log a dropped message counted under counter i (the
 * caller counts it), from src, len bytes, broken at offset: at most one
 * line a second per counter and worker, "dropped source=... reason=...
 * offset=... bytes=... unlogged=N" with the counter's name less its
 * "dropped-" prefix as the reason and N the drops left unlogged since the
 * last line (a flood must not become a flood of log lines).  With excerpt
 * (may be NULL), a logged drop also keeps its first bytes in the store
 * for rpctl status under service ("stun", "turn"). */
PBX_API void pbx_worker_drop(struct pbx_worker *w, size_t i, const char *service,
			     const struct pbx_addr *src, size_t offset, const void *excerpt,
			     size_t len);

/* pbx_worker_writer - the daemon's store writer, for suspicious events
 * (thread-safe). */
PBX_API struct store_writer *pbx_worker_writer(struct pbx_worker *w);

/* pbx_sd_notify - send state ("READY=1", "STOPPING=1", "STATUS=...") to
 * the service manager named by $NOTIFY_SOCKET, without libsystemd.
 * Returns 0 (also when there is no manager) or -errno. */
PBX_API int pbx_sd_notify(const char *state);

/* pbx_listen_socket - create a non-blocking socket of kind bound to addr
 * with SO_REUSEADDR and SO_REUSEPORT (and listening, for TCP).  "::"
 * accepts IPv4 too; where IPv6 is off it falls back to 0.0.0.0.  Returns a
 * descriptor, or -errno. */
PBX_API int pbx_listen_socket(enum pbx_sock_kind kind, const struct pbx_addr *addr);

/* pbx_listen_bound - what the socket fd handed over for spec really is
 * bound to (a "::" spec falls back to 0.0.0.0 without IPv6; spec's
 * address if the kernel does not say) into *addr, and whether that is
 * every address (*wildcard: answers then need the arrival address). */
PBX_API void pbx_listen_bound(int fd, const struct pbx_listen_spec *spec, struct pbx_addr *addr,
			      bool *wildcard);

#endif
