/* internal.h - shared between daemon.c and worker.c (not installed). */
#ifndef PBX_BASE_INTERNAL_H
#define PBX_BASE_INTERNAL_H

#include <pbxedge/daemon.h>

struct pbx_daemon;

/* Create worker i of d (its event base and wake-up event); not started. */
struct pbx_worker *worker_new(struct pbx_daemon *d, const struct pbx_daemon_def *def,
			      int index);
/* Give the worker the daemon's store writer (before worker_start). */
void worker_set_writer(struct pbx_worker *w, struct store_writer *writer);
/* Start the worker's thread. */
int worker_start(struct pbx_worker *w);
/* Hand a bound socket to the worker (it owns fd from now on). */
void worker_add_socket(struct pbx_worker *w, const struct pbx_listen_spec *spec, int fd);
/* Ask the worker to stop using the socket with this key. */
void worker_del_socket(struct pbx_worker *w, const char *key);
/* Give the worker a snapshot reference (it drops it later). */
void worker_set_snapshot(struct pbx_worker *w, struct store_snapshot *snap);
/* Give the worker a daemon context reference (it drops it later). */
void worker_set_ctx(struct pbx_worker *w, void *ctx);
/* Stop accepting: close every socket, mark the worker draining. */
void worker_drain(struct pbx_worker *w);
/* Stop the event loop (closing the worker's sockets) and join the thread. */
void worker_stop(struct pbx_worker *w);
/* Free a stopped (or never started) worker. */
void worker_free(struct pbx_worker *w);
/* Live sessions of the worker. */
long worker_sessions(struct pbx_worker *w);
/* Counter i of the worker. */
uint64_t worker_counter(struct pbx_worker *w, size_t i);

#endif
