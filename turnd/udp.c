/* udp.c - TURN over UDP (RFC 8656 section 3.1): datagrams from clients
 * read in batches with recvmmsg, checked (source, blacklist), dispatched
 * as ChannelData or STUN; everything bound for clients and peers queued
 * in the worker's buffers and sent in batches with sendmmsg, answers from
 * the address the client reached. */
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "turnd.h"

#define ROUNDS 8
#define SLOT (TURND_UDP_MAX + TURND_HEADROOM)

/* Messages going out: to clients (answers, relayed data) and to peers. */
struct queue {
	unsigned n;
	int fd[TURND_BATCH];
	struct mmsghdr msg[TURND_BATCH];
	struct iovec iov[TURND_BATCH];
	struct sockaddr_in6 name[TURND_BATCH];
	union pbx_dgram_ctl ctl[TURND_BATCH];
};

struct udp_out {
	struct mmsghdr in[TURND_BATCH];
	struct iovec in_iov[TURND_BATCH];
	struct sockaddr_in6 in_name[TURND_BATCH];
	union pbx_dgram_ctl in_ctl[TURND_BATCH];
	uint8_t in_buf[TURND_BATCH][TURND_UDP_MAX];
	struct queue client, peer;
	uint8_t slot[TURND_BATCH][SLOT];
	struct pbx_cidr hit_entry;
	uint64_t hits;
};

static void send_queue(struct turnd_worker *tw, struct queue *q)
{
	unsigned at = 0;
	while (at < q->n) {
		/* A run of messages from one socket goes in one sendmmsg. */
		unsigned end = at + 1;
		while (end < q->n && q->fd[end] == q->fd[at])
			end++;
		unsigned failed;
		pbx_dgram_send(q->fd[at], q->msg + at, end - at, &failed);
		if (failed && q == &tw->out->peer)
			relay_send_failed(tw, q->fd[at], failed, errno);
		else
			tw->count[C_SEND_FAILED] += failed;
		at = end;
	}
	q->n = 0;
}

void out_flush(struct turnd_worker *tw)
{
	struct udp_out *o = tw->out;
	if (!o)
		return;
	send_queue(tw, &o->peer);
	send_queue(tw, &o->client);
}

uint8_t *client_slot(struct turnd_worker *tw)
{
	struct udp_out *o = tw->out;
	if (o->client.n == TURND_BATCH)
		send_queue(tw, &o->client);
	return o->slot[o->client.n];
}

static void queue_to(struct queue *q, int fd, const void *name, socklen_t namelen,
		     const void *p, size_t len)
{
	unsigned k = q->n++;
	struct msghdr *h = &q->msg[k].msg_hdr;
	q->fd[k] = fd;
	memcpy(&q->name[k], name, namelen);
	q->iov[k].iov_base = (void *)p;
	q->iov[k].iov_len = len;
	memset(h, 0, sizeof *h);
	h->msg_name = &q->name[k];
	h->msg_namelen = namelen;
	h->msg_iov = &q->iov[k];
	h->msg_iovlen = 1;
}

void client_commit(struct turnd_worker *tw, const struct turnd_from *from, size_t len)
{
	struct udp_out *o = tw->out;
	if (from->t != T_UDP) {
		conn_send(from->conn, o->slot[o->client.n], len);
		return;
	}
	struct queue *q = &o->client;
	struct pbx_addr dst = from->client;
	/* A socket of family AF_INET6 ("::") reaches IPv4 clients mapped. */
	struct sockaddr_in6 mapped;
	const void *name = &dst.u.sa;
	socklen_t namelen = dst.len;
	if (pbx_addr_family(&from->sock->addr) == AF_INET6 && pbx_addr_family(&dst) == AF_INET) {
		memset(&mapped, 0, sizeof mapped);
		mapped.sin6_family = AF_INET6;
		mapped.sin6_port = dst.u.sin.sin_port;
		mapped.sin6_addr.s6_addr[10] = 0xff;
		mapped.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&mapped.sin6_addr.s6_addr[12], &dst.u.sin.sin_addr, 4);
		name = &mapped;
		namelen = sizeof mapped;
	}
	unsigned k = q->n;
	queue_to(q, from->sock->fd, name, namelen, o->slot[k], len);
	if (from->arrival.have) {
		q->msg[k].msg_hdr.msg_control = q->ctl[k].buf;
		q->msg[k].msg_hdr.msg_controllen =
			pbx_dgram_put_pktinfo(&from->arrival, q->ctl[k].buf, sizeof q->ctl[k].buf);
	}
}

void peer_queue(struct turnd_worker *tw, int fd, const struct pbx_addr *peer, const void *p,
		size_t len)
{
	struct udp_out *o = tw->out;
	if (o->peer.n == TURND_BATCH)
		send_queue(tw, &o->peer);
	queue_to(&o->peer, fd, &peer->u.sa, peer->len, p, len);
}

static void from_of(struct turnd_sock *s, struct msghdr *h, struct turnd_from *f)
{
	memset(f, 0, sizeof *f);
	f->t = T_UDP;
	f->sock = s;
	f->local = s->addr;
	if (!s->wildcard)
		return;
	pbx_dgram_arrival(h, &s->addr, &f->arrival);
	f->local = f->arrival.local;
}

static void flush_hits(struct turnd_worker *tw)
{
	struct udp_out *o = tw->out;
	if (o->hits)
		store_writer_hit(pbx_worker_writer(tw->w), &o->hit_entry, o->hits);
	o->hits = 0;
}

bool udp_source_ok(struct turnd_worker *tw, const struct pbx_addr *src,
		   const struct store_snapshot *snap, struct turnd_ctx *ctx, int64_t unix_now)
{
	struct pbx_cidr entry, net;
	if (store_snapshot_blacklist_entry(snap, src, unix_now, &entry)) {
		struct udp_out *o = tw->out;
		if (o && o->hits && !pbx_cidr_equal(&entry, &o->hit_entry))
			flush_hits(tw);
		if (o) {
			o->hit_entry = entry;
			o->hits++;
		}
		return false;
	}
	fraud_source(src, (unsigned)snap->setting_int[STORE_SET_RPD_IPV6_PREFIX], &net);
	if (fraud_blocked(ctx->shared->fraud, &net, unix_now) &&
	    !store_snapshot_whitelisted(snap, src))
		return false;
	return true;
}

static void one(struct turnd_sock *s, unsigned i, struct turnd_req *r)
{
	struct turnd_worker *tw = s->tw;
	struct udp_out *o = tw->out;
	struct msghdr *h = &o->in[i].msg_hdr;
	size_t len = o->in[i].msg_len;
	const uint8_t *p = o->in_buf[i];
	struct turnd_from from;
	struct pbx_addr raw;

	from_of(s, h, &from);
	if (pbx_addr_from_sockaddr(&raw, h->msg_name, h->msg_namelen))
		return;
	pbx_addr_unmap(&raw, &from.client);
	if (pbx_addr_port(&from.client) == 0) {
		worker_drop(tw, C_DROP_BAD_SOURCE, &from.client, 0, p, len);
		return;
	}
	if (h->msg_flags & MSG_TRUNC) {
		worker_drop(tw, C_DROP_OVERSIZED, &from.client, 0, p, len < 64 ? len : 64);
		return;
	}
	if (!udp_source_ok(tw, &from.client, r->snap, r->ctx, r->unix_now)) {
		tw->count[C_DROP_BLACKLISTED]++;
		return;
	}
	struct alloc *a = alloc_find(tw, s, &from.client);
	/* RFC 7983: 0x40-0x7F is ChannelData. */
	if (len && p[0] >= 0x40 && p[0] <= 0x7f) {
		struct stun_chandata cd;
		if (stun_hdr_chandata_decode(p, len, STUN_CHAN_RFC5766, &cd)) {
			worker_drop(tw, (enum turnd_counter)(C_DROP_BASE + cd.drop), &from.client,
				    0, p, len);
			return;
		}
		if (!a) {
			tw->count[C_DROP_NO_ALLOCATION]++;
			return;
		}
		relay_chandata(a, &cd, r->now);
		return;
	}
	r->from = &from;
	r->alloc = a;
	r->buf = client_slot(tw);
	r->cap = TURND_ANSWER_MAX;
	request_message(r, p, len);
	if (r->len)
		client_commit(tw, &from, r->len);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct turnd_sock *s = arg;
	struct turnd_worker *tw = s->tw;
	struct udp_out *o = tw->out;
	(void)what;
	const struct pbx_dgram_rx rx = { o->in, o->in_iov, o->in_name, o->in_ctl,
					  &o->in_buf[0][0], TURND_UDP_MAX, TURND_BATCH };
	for (int round = 0; round < ROUNDS; round++) {
		unsigned n;
		if (pbx_dgram_recv(&rx, fd, s->wildcard, &n) || n == 0)
			break;
		struct turnd_req r = {
			.tw = tw,
			.ctx = pbx_worker_ctx(tw->w),
			.snap = pbx_worker_snapshot(tw->w),
			.now = turnd_now(),
			.unix_now = store_now(),
		};
		for (unsigned i = 0; i < n; i++)
			one(s, i, &r);
		out_flush(tw);
		flush_hits(tw);
		if (n < TURND_BATCH)
			break;
	}
}

int out_init(struct turnd_worker *tw)
{
	if (!tw->out && !(tw->out = calloc(1, sizeof *tw->out)))
		return -ENOMEM;
	return 0;
}

int udp_open(struct turnd_sock *s)
{
	struct turnd_worker *tw = s->tw;
	if (out_init(tw))
		return -ENOMEM;
	return pbx_dgram_watch(pbx_worker_base(tw->w), s->fd, &s->addr, s->wildcard, on_read, s,
			       &s->ev);
}

void udp_close(struct turnd_sock *s)
{
	pbx_dgram_unwatch(&s->ev, s->fd);
}

void udp_free(struct turnd_worker *tw)
{
	free(tw->out);
	tw->out = NULL;
}

int64_t turnd_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec;
}
