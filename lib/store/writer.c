/* writer.c - the daemons' batched writes: status, heartbeat, counters and
 * suspicious events go through a bounded queue to a thread that owns its
 * own connection and writes each batch in one transaction, so the hot path
 * never waits on SQLite. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pbxedge/log.h>

#include "internal.h"
#include "pbx-config.h"

#define QUEUE_CAP 4096
#define FLUSH_MS 250
#define HEARTBEAT_S 5
#define PRUNE_S 60

enum wmsg_type { W_STATE, W_COUNTER, W_EVENT, W_BLACKLIST, W_HIT, W_REFUSED, W_TURN_ALLOC,
		 W_TURN_GONE };

struct wmsg {
	enum wmsg_type type;
	int64_t at;
	uint64_t value;    /* counter value, hits, offset, expiry */
	char name[48];     /* counter name, or state */
	char source[PBX_CIDRSTRLEN];
	char service[64];
	char reason[48];
	char detail[200];
	char client[PBX_ADDRSTRLEN], relayed[PBX_ADDRSTRLEN]; /* W_TURN_ALLOC */
	int64_t nums[8];
};

struct store_writer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct wmsg *queue;  /* ring of QUEUE_CAP */
	size_t head, count;
	bool stop;
	_Atomic uint64_t dropped;
	struct store *st;
	char daemon[32];
};

static void enqueue(struct store_writer *w, const struct wmsg *m)
{
	pthread_mutex_lock(&w->lock);
	if (w->count == QUEUE_CAP) {
		atomic_fetch_add(&w->dropped, 1);
	} else {
		w->queue[(w->head + w->count) % QUEUE_CAP] = *m;
		w->count++;
		if (w->count == QUEUE_CAP / 2)
			pthread_cond_signal(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
}

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

/* Text from the network (an event's detail) is stored escaped, so that no
 * listing or terminal can be confused by it. */
static void copy_clean(char *dst, size_t n, const char *src)
{
	pbx_span_escape(pbx_span_cstr(src ? src : ""), dst, n, NULL);
}

void store_writer_state(struct store_writer *w, const char *state, const char *detail)
{
	struct wmsg m = { .type = W_STATE, .at = store_now() };
	copy(m.name, sizeof m.name, state);
	copy_clean(m.detail, sizeof m.detail, detail);
	enqueue(w, &m);
}

void store_writer_counter(struct store_writer *w, const char *name, uint64_t value)
{
	struct wmsg m = { .type = W_COUNTER, .at = store_now(), .value = value };
	copy(m.name, sizeof m.name, name);
	enqueue(w, &m);
}

void store_writer_event(struct store_writer *w, const struct pbx_addr *source,
			const char *service, const char *reason, const char *detail)
{
	struct wmsg m = { .type = W_EVENT, .at = store_now() };
	struct pbx_cidr c;
	if (pbx_cidr_from_addr(source, &c) == 0)
		pbx_cidr_format(&c, m.source, sizeof m.source);
	copy_clean(m.service, sizeof m.service, service);
	copy_clean(m.reason, sizeof m.reason, reason);
	copy_clean(m.detail, sizeof m.detail, detail);
	enqueue(w, &m);
}

void store_writer_blacklist(struct store_writer *w, const struct pbx_cidr *net,
			    int64_t expires, const char *reason)
{
	struct wmsg m = { .type = W_BLACKLIST, .at = store_now(), .value = (uint64_t)expires };
	pbx_cidr_format(net, m.source, sizeof m.source);
	copy_clean(m.detail, sizeof m.detail, reason);
	enqueue(w, &m);
}

void store_writer_hit(struct store_writer *w, const struct pbx_cidr *net, uint64_t n)
{
	struct wmsg m = { .type = W_HIT, .at = store_now(), .value = n };
	pbx_cidr_format(net, m.source, sizeof m.source);
	enqueue(w, &m);
}

void store_writer_refused(struct store_writer *w, const char *service,
			  const struct pbx_addr *source, const char *reason, size_t offset,
			  const void *bytes, size_t len)
{
	struct wmsg m = { .type = W_REFUSED, .at = store_now(), .value = offset };
	struct pbx_cidr c;
	if (pbx_cidr_from_addr(source, &c) == 0)
		pbx_cidr_format(&c, m.source, sizeof m.source);
	copy_clean(m.service, sizeof m.service, service);
	copy_clean(m.reason, sizeof m.reason, reason);
	struct pbx_span sp = { bytes, len };
	pbx_span_escape_ascii(sp, m.detail, sizeof m.detail, NULL);
	enqueue(w, &m);
}

void store_writer_turn_alloc(struct store_writer *w, const struct store_turn_alloc *a)
{
	struct wmsg m = { .type = W_TURN_ALLOC, .at = store_now(), .value = a->id };
	copy(m.name, sizeof m.name, a->transport);
	copy_clean(m.detail, sizeof m.detail, a->user);
	pbx_addr_format(a->client, m.client, sizeof m.client);
	pbx_addr_format(a->relayed, m.relayed, sizeof m.relayed);
	int64_t nums[8] = { a->started, a->expires, a->permissions, a->channels,
			    (int64_t)a->bytes_in, (int64_t)a->bytes_out,
			    (int64_t)a->packets_in, (int64_t)a->packets_out };
	memcpy(m.nums, nums, sizeof nums);
	enqueue(w, &m);
}

void store_writer_turn_gone(struct store_writer *w, uint64_t id)
{
	struct wmsg m = { .type = W_TURN_GONE, .at = store_now(), .value = id };
	enqueue(w, &m);
}

uint64_t store_writer_dropped(struct store_writer *w)
{
	return atomic_load(&w->dropped);
}

static int apply(struct store_writer *w, const struct wmsg *m, struct pbx_err *err)
{
	sqlite3_stmt *stmt;
	int rc;
	switch (m->type) {
	case W_STATE:
		rc = store_prepare(w->st, "UPDATE daemon_status SET state = ?2, detail = ?3, "
				   "heartbeat = ?4 WHERE daemon = ?1", &stmt, err);
		if (rc)
			return rc;
		sqlite3_bind_text(stmt, 2, m->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 3, m->detail, -1, SQLITE_STATIC);
		break;
	case W_COUNTER:
		rc = store_prepare(w->st, "INSERT INTO counter (daemon, name, value, updated) "
				   "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (daemon, name) DO UPDATE "
				   "SET value = excluded.value, updated = excluded.updated",
				   &stmt, err);
		if (rc)
			return rc;
		sqlite3_bind_text(stmt, 2, m->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 3, (int64_t)m->value);
		break;
	case W_EVENT:
		rc = store_prepare(w->st, "INSERT INTO suspicious_event (daemon, source, service, "
				   "reason, detail, at) VALUES (?1, ?2, ?3, ?5, ?6, ?4)",
				   &stmt, err);
		if (rc)
			return rc;
		sqlite3_bind_text(stmt, 2, m->source, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 3, m->service, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 5, m->reason, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 6, m->detail, -1, SQLITE_STATIC);
		break;
	case W_BLACKLIST: {
		/* Through the same checks as rpctl's: a whitelisted source is
		 * refused, a manual entry is kept.  Neither fails the batch. */
		struct pbx_err e2;
		rc = store_access_add(w->st, STORE_BLACKLIST, m->source, (int64_t)m->value, true,
				      m->detail, &e2);
		if (rc == PBX_E_INVALID) {
			pbx_log_notice("blacklist-not-added network=%s reason=refused detail=\"%s\"",
				       m->source, pbx_err_text(&e2));
			return 0;
		}
		if (rc)
			*err = e2;
		return rc;
	}
	case W_HIT:
		rc = store_prepare(w->st, "UPDATE blacklist SET hits = hits + ?2 WHERE network = ?1",
				   &stmt, err);
		if (rc)
			return rc;
		sqlite3_bind_text(stmt, 1, m->source, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 2, (int64_t)m->value);
		return store_step_done(w->st, stmt, err, "writer");
	case W_REFUSED:
		rc = store_prepare(w->st, "INSERT INTO refused_message (daemon, at, service, source, "
				   "reason, offset, excerpt) VALUES (?1, ?4, ?2, ?3, ?5, ?6, ?7)",
				   &stmt, err);
		if (rc)
			return rc;
		sqlite3_bind_text(stmt, 2, m->service, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 3, m->source, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 5, m->reason, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 6, (int64_t)m->value);
		sqlite3_bind_text(stmt, 7, m->detail, -1, SQLITE_STATIC);
		break;
	case W_TURN_ALLOC:
		/* The row id is turnd's allocation id within the daemon's rows:
		 * the daemon's rows are cleared when it starts. */
		rc = store_prepare(w->st, "INSERT INTO turn_allocation (id, daemon, user, client, "
				   "transport, relayed, started, expires, permissions, channels, "
				   "bytes_in, bytes_out, packets_in, packets_out, updated) VALUES "
				   "(?2, ?1, ?3, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?4) "
				   "ON CONFLICT (id) DO UPDATE SET expires = excluded.expires, "
				   "permissions = excluded.permissions, channels = excluded.channels, "
				   "bytes_in = excluded.bytes_in, bytes_out = excluded.bytes_out, "
				   "packets_in = excluded.packets_in, packets_out = "
				   "excluded.packets_out, updated = excluded.updated", &stmt, err);
		if (rc)
			return rc;
		sqlite3_bind_int64(stmt, 2, (int64_t)m->value);
		sqlite3_bind_text(stmt, 3, m->detail, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 5, m->client, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 6, m->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 7, m->relayed, -1, SQLITE_STATIC);
		for (int i = 0; i < 8; i++)
			sqlite3_bind_int64(stmt, 8 + i, m->nums[i]);
		break;
	case W_TURN_GONE:
		/* UINT64_MAX: the daemon stops, all of its rows go. */
		rc = store_prepare(w->st, m->value == UINT64_MAX
				   ? "DELETE FROM turn_allocation WHERE daemon = ?1 AND ?2 = ?2"
				   : "DELETE FROM turn_allocation WHERE id = ?2 AND daemon = ?1",
				   &stmt, err);
		if (rc)
			return rc;
		sqlite3_bind_text(stmt, 1, w->daemon, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 2, (int64_t)m->value);
		return store_step_done(w->st, stmt, err, "writer");
	default:
		return 0;
	}
	sqlite3_bind_text(stmt, 1, w->daemon, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, m->at);
	return store_step_done(w->st, stmt, err, "writer");
}

static int heartbeat(struct store_writer *w, struct pbx_err *err)
{
	sqlite3_stmt *stmt;
	int rc = store_prepare(w->st, "UPDATE daemon_status SET heartbeat = ?2 WHERE daemon = ?1",
			       &stmt, err);
	if (rc)
		return rc;
	sqlite3_bind_text(stmt, 1, w->daemon, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, store_now());
	return store_step_done(w->st, stmt, err, "heartbeat");
}

/* Write one batch in one transaction; on failure the batch is logged and
 * dropped (the store stayed locked past the busy timeout, or is broken). */
static void write_batch(struct store_writer *w, const struct wmsg *batch, size_t n,
			bool beat)
{
	struct pbx_err err;
	pbx_err_clear(&err);
	int rc = store_begin(w->st, &err);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = apply(w, &batch[i], &err);
	if (rc == 0 && beat)
		rc = heartbeat(w, &err);
	if (rc == 0)
		rc = store_commit(w->st, &err);
	if (rc) {
		store_rollback(w->st);
		pbx_log_error("store-write-failed messages=%zu reason=store-error detail=\"%s\"", n,
			      pbx_err_text(&err));
	}
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *writer_main(void *arg)
{
	struct store_writer *w = arg;
	struct wmsg *batch = malloc(QUEUE_CAP * sizeof *batch);
	int64_t next_beat = mono_ms() + HEARTBEAT_S * 1000;
	int64_t next_prune = mono_ms();
	bool stopping = false;

	while (!stopping && batch) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += FLUSH_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&w->lock);
		while (!w->stop && w->count < QUEUE_CAP / 2) {
			if (pthread_cond_timedwait(&w->cond, &w->lock, &until) == ETIMEDOUT)
				break;
		}
		stopping = w->stop;
		size_t n = 0;
		while (w->count) {
			batch[n++] = w->queue[w->head];
			w->head = (w->head + 1) % QUEUE_CAP;
			w->count--;
		}
		pthread_mutex_unlock(&w->lock);

		int64_t now = mono_ms();
		bool beat = now >= next_beat;
		if (beat)
			next_beat = now + HEARTBEAT_S * 1000;
		if (n || beat)
			write_batch(w, batch, n, beat);
		if (now >= next_prune) {
			int removed = 0;
			struct pbx_err err;
			next_prune = now + PRUNE_S * 1000;
			if (store_blacklist_prune(w->st, store_now(), &removed, &err))
				pbx_log_warn("blacklist-prune-failed reason=store-error "
					     "detail=\"%s\"", pbx_err_text(&err));
			else if (removed)
				pbx_log_info("blacklist-expired entries=%d", removed);
		}
	}
	free(batch);
	return NULL;
}

int store_writer_start(const char *path, const char *daemon, struct store_writer **out,
		       struct pbx_err *err)
{
	*out = NULL;
	struct store_writer *w = calloc(1, sizeof *w);
	if (!w || !(w->queue = calloc(QUEUE_CAP, sizeof *w->queue))) {
		free(w);
		return pbx_err_set(err, -ENOMEM, "out of memory");
	}
	copy(w->daemon, sizeof w->daemon, daemon);
	int rc = store_open(path, STORE_CREATE | STORE_MIGRATE, &w->st, err);
	if (rc)
		goto fail;
	sqlite3_stmt *stmt;
	struct store_tx tx;
	if ((rc = store_tx_begin(w->st, &tx, err)))
		goto fail;
	rc = store_prepare(w->st,
			   "INSERT INTO daemon_status (daemon, pid, version, started, heartbeat, "
			   "state, detail) VALUES (?1, ?2, ?3, ?4, ?4, 'starting', '') "
			   "ON CONFLICT (daemon) DO UPDATE SET pid = excluded.pid, "
			   "version = excluded.version, started = excluded.started, "
			   "heartbeat = excluded.heartbeat, state = excluded.state, detail = ''",
			   &stmt, err);
	if (rc == 0) {
		sqlite3_bind_text(stmt, 1, w->daemon, -1, SQLITE_STATIC);
		sqlite3_bind_int(stmt, 2, (int)getpid());
		sqlite3_bind_text(stmt, 3, PBX_VERSION, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 4, store_now());
		rc = store_step_done(w->st, stmt, err, "status");
	}
	if (rc == 0 && (rc = store_prepare(w->st, "DELETE FROM counter WHERE daemon = ?1",
					   &stmt, err)) == 0) {
		sqlite3_bind_text(stmt, 1, w->daemon, -1, SQLITE_STATIC);
		rc = store_step_done(w->st, stmt, err, "counters");
	}
	/* Allocations of an earlier run died with it. */
	if (rc == 0 && (rc = store_prepare(w->st, "DELETE FROM turn_allocation WHERE daemon = ?1",
					   &stmt, err)) == 0) {
		sqlite3_bind_text(stmt, 1, w->daemon, -1, SQLITE_STATIC);
		rc = store_step_done(w->st, stmt, err, "allocations");
	}
	if ((rc = store_tx_end(w->st, &tx, rc, err)))
		goto fail;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	if ((rc = pthread_create(&w->thread, NULL, writer_main, w))) {
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->cond);
		rc = pbx_err_set(err, -rc, "cannot start the store writer: %s", pbx_strerror(-rc));
		goto fail;
	}
	*out = w;
	return 0;
fail:
	store_close(w->st);
	free(w->queue);
	free(w);
	return rc;
}

void store_writer_stop(struct store_writer *w)
{
	if (!w)
		return;
	store_writer_state(w, "stopped", "");
	struct wmsg m = { .type = W_TURN_GONE, .at = store_now(), .value = UINT64_MAX };
	enqueue(w, &m);
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	store_close(w->st);
	free(w->queue);
	free(w);
}
