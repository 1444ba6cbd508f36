/* alloc.c - allocations (RFC 8656 section 2.2, 7, 8): the relay socket on
 * a port of the pool, the 5-tuple table of a worker, the one-second timer
 * that ends unrefreshed allocations and sweeps expired permissions and
 * channels, the status rows for rpctl turn status, and the one log line
 * at each allocation's end. */
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pbxedge/log.h>

#include "turnd.h"

#define STATUS_EVERY_S 2      /* a changed allocation is reported this often */
#define STATUS_QUIET_S 30     /* an unchanged one this often */
#define BIND_TRIES 16

static uint32_t bucket_of(const struct turnd_sock *s, const struct pbx_addr *c)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)(uintptr_t)s;
	struct pbx_cidr k;
	memset(&k, 0, sizeof k);
	pbx_cidr_from_addr(c, &k);
	for (int i = 0; i < 16; i++)
		h = (h ^ k.ip[i]) * 1099511628211ULL;
	h = (h ^ pbx_addr_port(c)) * 1099511628211ULL;
	return (uint32_t)(h >> 20) & (ALLOC_BUCKETS - 1);
}

struct alloc *alloc_find(struct turnd_worker *tw, const struct turnd_sock *s,
			 const struct pbx_addr *client)
{
	for (struct alloc *a = tw->buckets[bucket_of(s, client)]; a; a = a->hnext)
		if (a->sock == s && pbx_addr_equal(&a->client, client))
			return a;
	return NULL;
}

static int bind_relay(struct alloc *a, const struct pbx_addr *ip, uint16_t port)
{
	struct pbx_addr at = *ip;
	pbx_addr_set_port(&at, port);
	int fd = socket(pbx_addr_family(&at), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, &at.u.sa, at.len)) {
		int e = -errno;
		close(fd);
		return e;
	}
	int buf = 1 << 19;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
	a->fd = fd;
	a->relay = at;
	a->port = port;
	return 0;
}

int alloc_new(struct turnd_worker *tw, const struct turnd_from *from, const char *user,
	      int family, bool even, bool reserve, uint64_t token, uint32_t lifetime,
	      struct alloc **out)
{
	struct turnd_ctx *ctx = pbx_worker_ctx(tw->w);
	const struct store_snapshot *snap = pbx_worker_snapshot(tw->w);
	struct turnd_shared *sh = ctx->shared;
	int64_t unix_now = store_now();
	/* The relay is on the address the client reached. */
	if (family != pbx_addr_family(&from->local))
		return STUN_ERR_ADDRESS_FAMILY;
	if (!shared_quota_take(sh, user, (unsigned)snap->setting_int[STORE_SET_TURND_USER_QUOTA],
			       (unsigned)snap->setting_int[STORE_SET_TURND_TOTAL_QUOTA]))
		return STUN_ERR_QUOTA_REACHED;
	struct alloc *a = calloc(1, sizeof *a);
	char *u = strdup(user);
	if (!a || !u) {
		free(a);
		free(u);
		shared_quota_give(sh, user);
		return STUN_ERR_SERVER;
	}
	a->user = u;
	a->fd = -1;
	struct pbx_addr ip = from->local;
	uint16_t failed[BIND_TRIES];
	size_t n_failed = 0;
	int code = STUN_ERR_INSUFFICIENT_CAPACITY;
	if (token) {
		uint16_t port;
		/* An unknown or expired token: 508, as for a port in use. */
		if (ports_take_reserved(sh->ports, token, unix_now, &port) == 0) {
			if (bind_relay(a, &ip, port) == 0)
				code = 0;
			else
				ports_give(sh->ports, port);
		}
	} else {
		for (int k = 0; k < BIND_TRIES; k++) {
			uint16_t port;
			uint64_t tok = 0;
			if (ports_take(sh->ports, even, reserve, unix_now, &port, &tok))
				break;
			if (bind_relay(a, &ip, port) == 0) {
				a->token = tok;
				code = 0;
				break;
			}
			/* Taken by another program: keep it out of the search
			 * until this one is done. */
			failed[n_failed++] = port;
		}
	}
	for (size_t k = 0; k < n_failed; k++)
		ports_give(sh->ports, failed[k]);
	if (code) {
		free(a->user);
		free(a);
		shared_quota_give(sh, user);
		return code;
	}
	a->tw = tw;
	a->shared = sh;
	shared_ref(sh);
	a->id = atomic_fetch_add(&sh->next_id, 1);
	a->t = from->t;
	a->sock = from->sock;
	a->conn = from->conn;
	a->client = from->client;
	a->from = *from;
	a->advertised = a->relay;
	if (pbx_addr_family(&ctx->external) == pbx_addr_family(&a->relay)) {
		a->advertised = ctx->external;
		pbx_addr_set_port(&a->advertised, a->port);
	}
	a->started = unix_now;
	a->lifetime = lifetime;
	a->expires = turnd_now() + lifetime;
	peers_init(&a->peers);
	if (relay_open(a)) {
		close(a->fd);
		ports_give(sh->ports, a->port);
		shared_quota_give(sh, user);
		shared_unref(sh);
		free(a->user);
		free(a);
		return STUN_ERR_SERVER;
	}
	if (a->t == T_UDP) {
		uint32_t b = bucket_of(a->sock, &a->client);
		a->hnext = tw->buckets[b];
		tw->buckets[b] = a;
	}
	a->next = tw->all;
	if (tw->all)
		tw->all->prev = a;
	tw->all = a;
	tw->n_allocs++;
	a->report = true;
	alloc_status(a);
	char c[PBX_ADDRSTRLEN], rl[PBX_ADDRSTRLEN];
	pbx_addr_format(&a->client, c, sizeof c);
	pbx_addr_format(&a->advertised, rl, sizeof rl);
	pbx_log_info("allocation-made id=%llu user=%s client=%s transport=%s relayed=%s "
		     "lifetime=%u", (unsigned long long)a->id, a->user, c,
		     a->t == T_UDP ? "udp" : a->t == T_TCP ? "tcp" : "tls", rl, lifetime);
	*out = a;
	return 0;
}

static const char *transport_name(enum turnd_transport t)
{
	return t == T_UDP ? "udp" : t == T_TCP ? "tcp" : "tls";
}

void alloc_status(struct alloc *a)
{
	struct store_turn_alloc row = {
		.id = a->id,
		.user = a->user,
		.client = &a->client,
		.transport = transport_name(a->t),
		.relayed = &a->advertised,
		.started = a->started,
		.expires = store_now() + (a->expires - turnd_now()),
		.permissions = a->peers.n_perm,
		.channels = a->peers.n_chan,
		.bytes_in = a->bytes_in,
		.bytes_out = a->bytes_out,
		.packets_in = a->packets_in,
		.packets_out = a->packets_out,
	};
	store_writer_turn_alloc(pbx_worker_writer(a->tw->w), &row);
	a->reported = a->packets_in + a->packets_out;
	a->reported_at = turnd_now();
	a->report = false;
}

void alloc_free(struct alloc *a, const char *reason)
{
	struct turnd_worker *tw = a->tw;
	if (a->t == T_UDP) {
		struct alloc **pp = &tw->buckets[bucket_of(a->sock, &a->client)];
		while (*pp && *pp != a)
			pp = &(*pp)->hnext;
		if (*pp)
			*pp = a->hnext;
	}
	if (a->prev)
		a->prev->next = a->next;
	else
		tw->all = a->next;
	if (a->next)
		a->next->prev = a->prev;
	tw->n_allocs--;
	char c[PBX_ADDRSTRLEN], rl[PBX_ADDRSTRLEN];
	pbx_addr_format(&a->client, c, sizeof c);
	pbx_addr_format(&a->advertised, rl, sizeof rl);
	pbx_log_info("allocation-ended id=%llu user=%s client=%s transport=%s relayed=%s "
		     "reason=%s seconds=%lld packets-in=%llu packets-out=%llu bytes-in=%llu "
		     "bytes-out=%llu", (unsigned long long)a->id, a->user, c,
		     transport_name(a->t), rl, reason, (long long)(store_now() - a->started),
		     (unsigned long long)a->packets_in, (unsigned long long)a->packets_out,
		     (unsigned long long)a->bytes_in, (unsigned long long)a->bytes_out);
	tw->count[C_ALLOCATIONS_ENDED]++;
	store_writer_turn_gone(pbx_worker_writer(tw->w), a->id);
	relay_close(a);
	if (a->fd >= 0)
		close(a->fd);
	ports_give(a->shared->ports, a->port);
	shared_quota_give(a->shared, a->user);
	if (a->conn)
		conn_alloc_gone(a->conn);
	shared_unref(a->shared);
	peers_cleanup(&a->peers);
	free(a->user);
	free(a);
}

bool alloc_bandwidth(struct alloc *a, bool in, size_t n, int64_t now_s, uint64_t cap)
{
	if (!cap)
		return true;
	if (a->bw_at != now_s) {
		a->bw_at = now_s;
		a->bw_in = a->bw_out = 0;
	}
	uint64_t *used = in ? &a->bw_in : &a->bw_out;
	if (*used + n > cap)
		return false;
	*used += n;
	return true;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct turnd_worker *tw = arg;
	(void)fd;
	(void)what;
	int64_t now = turnd_now();
	for (struct alloc *a = tw->all, *next; a; a = next) {
		next = a->next;
		if (a->expires <= now) {
			alloc_free(a, "expired");
			continue;
		}
		uint32_t perm = a->peers.n_perm, chan = a->peers.n_chan;
		peers_expire(&a->peers, now);
		if (perm != a->peers.n_perm || chan != a->peers.n_chan)
			a->report = true;
		if (a->packets_in + a->packets_out != a->reported)
			a->report = true;
		if ((a->report && now - a->reported_at >= STATUS_EVERY_S) ||
		    now - a->reported_at >= STATUS_QUIET_S)
			alloc_status(a);
	}
	worker_flush_counts(tw);
}

int alloc_tick_start(struct turnd_worker *tw)
{
	if (tw->tick)
		return 0;
	struct timeval one = { 1, 0 };
	tw->tick = event_new(pbx_worker_base(tw->w), -1, EV_PERSIST, on_tick, tw);
	if (!tw->tick || event_add(tw->tick, &one))
		return -ENOMEM;
	return 0;
}
