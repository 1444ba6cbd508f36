/* udp.c - STUN over UDP (RFC 8489 section 6.2.1): datagrams read in
 * batches with recvmmsg, checked (source, blacklist, rate), answered by
 * answer.c, and sent in batches with sendmmsg from the socket of the
 * address and port combination the answer comes from (RFC 5780 6.1).
 * Buffers are the worker's, made once: nothing is allocated per datagram,
 * and no system call is made per datagram. */
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <pbxedge/dgram.h>
#include <pbxedge/log.h>

#include "stund.h"

#define ROUNDS 8          /* batches per wake-up before others get a turn */

/* Answers going out of one socket. */
struct out_queue {
	unsigned n;
	struct mmsghdr msg[STUND_BATCH];
	struct iovec iov[STUND_BATCH];
	struct sockaddr_in6 name[STUND_BATCH];
	union pbx_dgram_ctl ctl[STUND_BATCH];
};

struct udp_batch {
	struct mmsghdr in[STUND_BATCH];
	struct iovec in_iov[STUND_BATCH];
	struct sockaddr_in6 in_name[STUND_BATCH];
	union pbx_dgram_ctl in_ctl[STUND_BATCH];
	uint8_t in_buf[STUND_BATCH][STUND_UDP_MAX];
	struct out_queue q[R_COUNT];
	uint8_t out_buf[STUND_BATCH][STUND_ANSWER_MAX];
	/* Counts of this batch, added to the worker's counters at its end. */
	uint32_t count[C_COUNT];
	/* Blacklist hits of this batch, for the entry's hit count. */
	struct pbx_cidr hit_entry;
	uint64_t hits;
};

/* Where a datagram arrived; on a socket bound to every address, answers
 * leave from there (routing would otherwise pick the source). */
static void arrival_of(const struct stund_sock *s, struct msghdr *h,
		       struct pbx_dgram_arrival *ar)
{
	ar->have = false;
	ar->local = s->addr;
	if (s->wildcard)
		pbx_dgram_arrival(h, &s->addr, ar);
}

static void queue_answer(struct udp_batch *b, const struct stund_answer *a, const void *name,
			 socklen_t namelen, const struct pbx_dgram_arrival *ar, const uint8_t *buf)
{
	struct out_queue *q = &b->q[a->role];
	unsigned k = q->n++;
	struct msghdr *h = &q->msg[k].msg_hdr;
	memcpy(&q->name[k], name, namelen);
	/* RESPONSE-PORT changes the port only (RFC 5780 7.5). */
	if (q->name[k].sin6_family == AF_INET6)
		q->name[k].sin6_port = htons(a->port);
	else
		((struct sockaddr_in *)&q->name[k])->sin_port = htons(a->port);
	q->iov[k].iov_base = (void *)buf;
	q->iov[k].iov_len = a->len;
	memset(h, 0, sizeof *h);
	h->msg_name = &q->name[k];
	h->msg_namelen = namelen;
	h->msg_iov = &q->iov[k];
	h->msg_iovlen = 1;
	/* Only an answer from the socket it arrived at can carry the
	 * arrival's pktinfo; with an alternate no socket is a wildcard. */
	if (ar->have) {
		h->msg_control = q->ctl[k].buf;
		h->msg_controllen = pbx_dgram_put_pktinfo(ar, q->ctl[k].buf, sizeof q->ctl[k].buf);
	}
}

static void flush_hits(struct stund_worker *sw, struct udp_batch *b)
{
	if (b->hits)
		store_writer_hit(pbx_worker_writer(sw->w), &b->hit_entry, b->hits);
	b->hits = 0;
}

/* One datagram: checks, then the answer into the queue of its socket. */
static void one(struct stund_sock *s, struct udp_batch *b, unsigned i,
		const struct store_snapshot *snap, struct stund_limit *limit, int64_t now_ms,
		int64_t now_s)
{
	struct stund_worker *sw = s->sw;
	struct msghdr *h = &b->in[i].msg_hdr;
	size_t len = b->in[i].msg_len;
	const uint8_t *p = b->in_buf[i];
	struct pbx_addr raw, peer;
	struct pbx_cidr entry;
	enum stund_counter drop;

	if (pbx_addr_from_sockaddr(&raw, h->msg_name, h->msg_namelen))
		return;
	pbx_addr_unmap(&raw, &peer);
	if (pbx_addr_port(&peer) == 0) {
		/* Nowhere to answer; such datagrams are forged. */
		drop = C_DROP_BAD_SOURCE;
		goto dropped;
	}
	if (h->msg_flags & MSG_TRUNC) {
		drop = C_DROP_OVERSIZED;
		len = STUND_UDP_MAX;
		goto dropped;
	}
	if (store_snapshot_blacklist_entry(snap, &peer, now_s, &entry)) {
		if (b->hits && !pbx_cidr_equal(&entry, &b->hit_entry))
			flush_hits(sw, b);
		b->hit_entry = entry;
		b->hits++;
		drop = C_DROP_BLACKLISTED;
		goto dropped;
	}
	if (!limit_take(limit, &peer, (uint64_t)now_ms,
			(uint32_t)snap->setting_int[STORE_SET_STUND_RATE_PER_SECOND],
			(uint32_t)snap->setting_int[STORE_SET_STUND_RATE_BURST])) {
		drop = C_DROP_RATE;
		goto dropped;
	}

	struct pbx_dgram_arrival ar;
	arrival_of(s, h, &ar);
	struct stund_req req = {
		.t = T_UDP,
		.peer = &peer,
		.local = &ar.local,
		.role = s->role,
		.software = snap->setting_str[STORE_SET_STUND_SOFTWARE],
	};
	for (int r = 0; r < R_COUNT; r++)
		req.from[r] = sw->udp[r] ? &sw->udp[r]->addr : NULL;
	req.from[s->role] = &ar.local;
	struct stund_answer a;
	answer_message(p, len, &req, b->out_buf[i], sizeof b->out_buf[i], &a);
	if (a.len == 0) {
		if (a.counter >= 0)
			b->count[a.counter]++;
		if (a.dropped)
			worker_drop(sw, (enum stund_counter)a.counter, &peer, a.drop_off, p, len);
		return;
	}
	b->count[C_ANSWERED_UDP]++;
	b->count[C_ERRORS] += a.error;
	b->count[C_TRIMMED] += a.trimmed;
	b->count[C_ANSWERED_CHANGED] += a.role != s->role || a.port != pbx_addr_port(&peer);
	struct pbx_dgram_arrival none = { .have = false };
	queue_answer(b, &a, h->msg_name, h->msg_namelen, a.role == s->role ? &ar : &none,
		     b->out_buf[i]);
	return;
dropped:
	b->count[drop]++;
	worker_drop(sw, drop, &peer, 0, p, len);
}

static void send_queue(struct stund_worker *sw, struct udp_batch *b, enum stund_role role)
{
	struct out_queue *q = &b->q[role];
	unsigned failed = 0;
	if (!q->n)
		return;
	if (!sw->udp[role]) {
		b->count[C_DROP_NO_SOCKET] += q->n;
		q->n = 0;
		return;
	}
	pbx_dgram_send(sw->udp[role]->fd, q->msg, q->n, &failed);
	b->count[C_SEND_FAILED] += failed;
	q->n = 0;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct stund_sock *s = arg;
	struct stund_worker *sw = s->sw;
	struct udp_batch *b = sw->batch;
	(void)what;
	const struct pbx_dgram_rx rx = { b->in, b->in_iov, b->in_name, b->in_ctl,
					  &b->in_buf[0][0], STUND_UDP_MAX, STUND_BATCH };
	for (int round = 0; round < ROUNDS; round++) {
		unsigned n;
		if (pbx_dgram_recv(&rx, fd, s->wildcard, &n) || n == 0)
			break;
		/* One look at the clocks, the snapshot and the limits per
		 * batch. */
		const struct store_snapshot *snap = pbx_worker_snapshot(sw->w);
		struct stund_ctx *ctx = pbx_worker_ctx(sw->w);
		int64_t now_ms = stund_now_ms();
		int64_t now_s = store_now();
		memset(b->count, 0, sizeof b->count);
		for (unsigned i = 0; i < n; i++)
			one(s, b, i, snap, ctx->limit, now_ms, now_s);
		for (int r = 0; r < R_COUNT; r++)
			send_queue(sw, b, (enum stund_role)r);
		flush_hits(sw, b);
		for (int c = 0; c < C_COUNT; c++)
			if (b->count[c])
				pbx_worker_count(sw->w, (size_t)c, b->count[c]);
		if (n < STUND_BATCH)
			break;
	}
}

int udp_open(struct stund_sock *s)
{
	struct stund_worker *sw = s->sw;
	if (!sw->batch && !(sw->batch = calloc(1, sizeof *sw->batch)))
		return -ENOMEM;
	return pbx_dgram_watch(pbx_worker_base(sw->w), s->fd, &s->addr, s->wildcard, on_read, s,
			       &s->ev);
}

void udp_close(struct stund_sock *s)
{
	pbx_dgram_unwatch(&s->ev, s->fd);
}

void udp_batch_free(struct udp_batch *b)
{
	free(b);
}

int64_t stund_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
