/* worker.c - worker threads: each runs its own libevent base and owns its
 * SO_REUSEPORT sockets; the main thread talks to it only through a locked
 * command list and an event made active across threads. */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pbxedge/log.h>

#include "internal.h"

enum wcmd_type { C_ADD, C_DEL, C_SNAP, C_CTX, C_DRAIN, C_EXIT };

struct wcmd {
	enum wcmd_type type;
	struct pbx_listen_spec spec;
	int fd;
	struct store_snapshot *snap;
	void *ctx;
	struct wcmd *next;
};

struct wsock {
	bool used;
	char key[48];
	void *handle;
};

struct pbx_worker {
	int index;
	pthread_t thread;
	bool started;
	struct event_base *base;
	struct event *wake;
	pthread_mutex_t lock;
	struct wcmd *head, *tail;
	struct store_snapshot *snap;
	void *ctx;
	void *data;
	const struct pbx_daemon_def *def;
	struct pbx_daemon *d;
	struct store_writer *writer;
	struct wsock socks[PBX_MAX_LISTEN];
	_Atomic long sessions;
	_Atomic bool draining;
	_Atomic uint64_t *counters;
	int64_t *drop_logged_ms;      /* per counter: the last drop line */
	uint64_t *drop_unlogged;      /* per counter: drops since */
};

struct event_base *pbx_worker_base(struct pbx_worker *w)
{
	return w->base;
}

int pbx_worker_index(const struct pbx_worker *w)
{
	return w->index;
}

struct store_snapshot *pbx_worker_snapshot(struct pbx_worker *w)
{
	return w->snap;
}

void *pbx_worker_ctx(struct pbx_worker *w)
{
	return w->ctx;
}

void pbx_worker_set_data(struct pbx_worker *w, void *data)
{
	w->data = data;
}

void *pbx_worker_data(struct pbx_worker *w)
{
	return w->data;
}

static void drop_ctx(struct pbx_worker *w, void *ctx)
{
	if (ctx && w->def->ctx_unref)
		w->def->ctx_unref(ctx);
}

void pbx_worker_session_begin(struct pbx_worker *w)
{
	atomic_fetch_add(&w->sessions, 1);
}

void pbx_worker_session_end(struct pbx_worker *w)
{
	atomic_fetch_sub(&w->sessions, 1);
}

bool pbx_worker_draining(const struct pbx_worker *w)
{
	return atomic_load(&w->draining);
}

void pbx_worker_count(struct pbx_worker *w, size_t i, uint64_t n)
{
	if (i < w->def->n_counters)
		atomic_fetch_add_explicit(&w->counters[i], n, memory_order_relaxed);
}

#define DROP_LOG_MS 1000
#define EXCERPT_BYTES 160

void pbx_worker_drop(struct pbx_worker *w, size_t i, const char *service,
		     const struct pbx_addr *src, size_t offset, const void *excerpt, size_t len)
{
	if (i >= w->def->n_counters)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	int64_t now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (w->drop_logged_ms[i] && now_ms - w->drop_logged_ms[i] < DROP_LOG_MS) {
		w->drop_unlogged[i]++;
		return;
	}
	const char *reason = w->def->counters[i] ? w->def->counters[i] : "unknown";
	if (strncmp(reason, "dropped-", 8) == 0)
		reason += 8;
	char text[PBX_ADDRSTRLEN];
	pbx_addr_format(src, text, sizeof text);
	pbx_log_info("dropped source=%s reason=%s offset=%zu bytes=%zu unlogged=%llu", text,
		     reason, offset, len, (unsigned long long)w->drop_unlogged[i]);
	if (excerpt && len && w->writer)
		store_writer_refused(w->writer, service, src, reason, offset, excerpt,
				     len < EXCERPT_BYTES ? len : EXCERPT_BYTES);
	w->drop_logged_ms[i] = now_ms ? now_ms : 1;
	w->drop_unlogged[i] = 0;
}

struct store_writer *pbx_worker_writer(struct pbx_worker *w)
{
	return w->writer;
}

long worker_sessions(struct pbx_worker *w)
{
	return atomic_load(&w->sessions);
}

uint64_t worker_counter(struct pbx_worker *w, size_t i)
{
	return atomic_load_explicit(&w->counters[i], memory_order_relaxed);
}

static void close_socket(struct pbx_worker *w, struct wsock *s)
{
	if (w->def->socket_close)
		w->def->socket_close(w, s->handle);
	s->used = false;
	s->handle = NULL;
}

static void add_socket(struct pbx_worker *w, const struct pbx_listen_spec *spec, int fd)
{
	struct wsock *free_slot = NULL;
	for (int i = 0; i < PBX_MAX_LISTEN; i++)
		if (!w->socks[i].used && !free_slot)
			free_slot = &w->socks[i];
	if (!free_slot || !w->def->socket_open || atomic_load(&w->draining)) {
		close(fd);
		return;
	}
	void *h = w->def->socket_open(w, spec, fd);
	if (!h)
		return;
	free_slot->used = true;
	free_slot->handle = h;
	memcpy(free_slot->key, spec->key, sizeof free_slot->key);
}

static void run_commands(evutil_socket_t fd, short what, void *arg)
{
	struct pbx_worker *w = arg;
	(void)fd;
	(void)what;
	pthread_mutex_lock(&w->lock);
	struct wcmd *c = w->head;
	w->head = w->tail = NULL;
	pthread_mutex_unlock(&w->lock);

	while (c) {
		struct wcmd *next = c->next;
		switch (c->type) {
		case C_ADD:
			add_socket(w, &c->spec, c->fd);
			break;
		case C_DEL:
			for (int i = 0; i < PBX_MAX_LISTEN; i++)
				if (w->socks[i].used && strcmp(w->socks[i].key, c->spec.key) == 0)
					close_socket(w, &w->socks[i]);
			break;
		case C_SNAP:
			store_snapshot_unref(w->snap);
			w->snap = c->snap;
			break;
		case C_CTX:
			drop_ctx(w, w->ctx);
			w->ctx = c->ctx;
			break;
		case C_DRAIN:
			atomic_store(&w->draining, true);
			for (int i = 0; i < PBX_MAX_LISTEN; i++)
				if (w->socks[i].used)
					close_socket(w, &w->socks[i]);
			break;
		case C_EXIT:
			for (int i = 0; i < PBX_MAX_LISTEN; i++)
				if (w->socks[i].used)
					close_socket(w, &w->socks[i]);
			if (w->def->worker_stop)
				w->def->worker_stop(w);
			event_base_loopbreak(w->base);
			break;
		}
		free(c);
		c = next;
	}
}

static void post(struct pbx_worker *w, struct wcmd *c)
{
	c->next = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->tail)
		w->tail->next = c;
	else
		w->head = c;
	w->tail = c;
	pthread_mutex_unlock(&w->lock);
	event_active(w->wake, EV_READ, 0);
}

static struct wcmd *cmd(enum wcmd_type type)
{
	struct wcmd *c = calloc(1, sizeof *c);
	if (!c) {
		pbx_log_error("out-of-memory reason=worker-command");
		abort();
	}
	c->type = type;
	c->fd = -1;
	return c;
}

struct pbx_worker *worker_new(struct pbx_daemon *d, const struct pbx_daemon_def *def,
			      int index)
{
	struct pbx_worker *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->index = index;
	w->def = def;
	w->d = d;
	size_t n = def->n_counters ? def->n_counters : 1;
	w->counters = calloc(n, sizeof *w->counters);
	w->drop_logged_ms = calloc(n, sizeof *w->drop_logged_ms);
	w->drop_unlogged = calloc(n, sizeof *w->drop_unlogged);
	w->base = event_base_new();
	if (!w->counters || !w->drop_logged_ms || !w->drop_unlogged || !w->base)
		goto fail;
	w->wake = event_new(w->base, -1, EV_PERSIST, run_commands, w);
	if (!w->wake)
		goto fail;
	pthread_mutex_init(&w->lock, NULL);
	return w;
fail:
	if (w->base)
		event_base_free(w->base);
	free(w->counters);
	free(w->drop_logged_ms);
	free(w->drop_unlogged);
	free(w);
	return NULL;
}

void worker_set_writer(struct pbx_worker *w, struct store_writer *writer)
{
	w->writer = writer;
}

static void *worker_main(void *arg)
{
	struct pbx_worker *w = arg;
	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

int worker_start(struct pbx_worker *w)
{
	int rc = pthread_create(&w->thread, NULL, worker_main, w);
	if (rc)
		return -rc;
	w->started = true;
	return 0;
}

void worker_add_socket(struct pbx_worker *w, const struct pbx_listen_spec *spec, int fd)
{
	struct wcmd *c = cmd(C_ADD);
	c->spec = *spec;
	c->fd = fd;
	post(w, c);
}

void worker_del_socket(struct pbx_worker *w, const char *key)
{
	struct wcmd *c = cmd(C_DEL);
	memcpy(c->spec.key, key, sizeof c->spec.key);
	c->spec.key[sizeof c->spec.key - 1] = '\0';
	post(w, c);
}

void worker_set_snapshot(struct pbx_worker *w, struct store_snapshot *snap)
{
	struct wcmd *c = cmd(C_SNAP);
	c->snap = snap;
	post(w, c);
}

void worker_set_ctx(struct pbx_worker *w, void *ctx)
{
	struct wcmd *c = cmd(C_CTX);
	c->ctx = ctx;
	post(w, c);
}

void worker_drain(struct pbx_worker *w)
{
	post(w, cmd(C_DRAIN));
}

void worker_stop(struct pbx_worker *w)
{
	if (w->started) {
		post(w, cmd(C_EXIT));
		pthread_join(w->thread, NULL);
		w->started = false;
	}
}

void worker_free(struct pbx_worker *w)
{
	worker_stop(w);
	/* Commands posted after the exit are dropped with their resources. */
	for (struct wcmd *c = w->head, *next; c; c = next) {
		next = c->next;
		if (c->fd >= 0)
			close(c->fd);
		store_snapshot_unref(c->snap);
		drop_ctx(w, c->ctx);
		free(c);
	}
	store_snapshot_unref(w->snap);
	drop_ctx(w, w->ctx);
	event_free(w->wake);
	event_base_free(w->base);
	pthread_mutex_destroy(&w->lock);
	free(w->counters);
	free(w->drop_logged_ms);
	free(w->drop_unlogged);
	free(w);
}
