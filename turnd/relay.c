/* relay.c - the data path (RFC 8656 sections 10-12): ChannelData and Send
 * indications from a client go to its peers from the relay socket; what
 * peers send to the relay socket goes back as ChannelData when the peer
 * has a channel, else as a Data indication, and only from peers holding
 * a permission.  Datagrams are read with recvmmsg and sent with sendmmsg
 * from the worker's buffers; nothing is allocated per datagram.  What the
 * relay sockets that were ready together give for UDP clients leaves in
 * one sendmmsg after the last of them was read (see defer_flush), not in
 * one per relay socket.  A send to a peer that fails (no route,
 * unreachable, filtered) drops that datagram only: the allocation lives
 * on. */
#include <errno.h>
#include <stdlib.h>
#include <event2/event.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <pbxedge/log.h>

#include "turnd.h"

#define ROUNDS 8

/* The worker's buffers for reading relay sockets. */
struct relay_in {
	struct event *flush;    /* sends what the relay reads queued */
	struct mmsghdr msg[TURND_BATCH];
	struct iovec iov[TURND_BATCH];
	struct sockaddr_in6 name[TURND_BATCH];
	uint8_t buf[TURND_BATCH][TURND_PEER_MAX];
};

static struct relay_in *relay_in_of(struct turnd_worker *tw);

void relay_to_peer(struct alloc *a, const struct pbx_addr *peer, const void *p, size_t len,
		   int64_t now)
{
	struct turnd_worker *tw = a->tw;
	const struct store_snapshot *snap = pbx_worker_snapshot(tw->w);
	if (!alloc_bandwidth(a, true, len, now,
			     (uint64_t)snap->setting_int[STORE_SET_TURND_BANDWIDTH])) {
		tw->count[C_DROP_BANDWIDTH]++;
		return;
	}
	a->packets_in++;
	a->bytes_in += len;
	tw->count[C_RELAYED_IN]++;
	tw->count[C_RELAYED_BYTES_IN] += (uint32_t)len;
	peer_queue(tw, a->fd, peer, p, len);
}

void relay_chandata(struct alloc *a, const struct stun_chandata *cd, int64_t now)
{
	struct pbx_addr peer;
	if (peers_channel_peer(&a->peers, cd->channel, now, &peer)) {
		a->tw->count[C_DROP_NO_CHANNEL]++;
		return;
	}
	if (!peers_permitted(&a->peers, &peer, now)) {
		a->tw->count[C_DROP_NO_PERMISSION]++;
		return;
	}
	relay_to_peer(a, &peer, cd->data, cd->len, now);
}

/* One datagram from a peer to the client. */
static void from_peer(struct alloc *a, const struct pbx_addr *peer, const uint8_t *p,
		      size_t len, int64_t now, uint64_t cap)
{
	struct turnd_worker *tw = a->tw;
	if (!peers_permitted(&a->peers, peer, now)) {
		tw->count[C_DROP_NO_PERMISSION]++;
		return;
	}
	if (!alloc_bandwidth(a, false, len, now, cap)) {
		tw->count[C_DROP_BANDWIDTH]++;
		return;
	}
	uint8_t *out = client_slot(tw);
	size_t cap_out = TURND_UDP_MAX + TURND_HEADROOM, n = 0;
	uint16_t ch;
	unsigned stream = a->t == T_UDP ? 0 : STUN_CHAN_STREAM;
	if (peers_peer_channel(&a->peers, peer, now, &ch) == 0) {
		struct pbx_writer w;
		pbx_writer_init(&w, out, cap_out);
		if (stun_hdr_chandata_encode(&w, ch, p, len, stream | STUN_CHAN_RFC5766))
			return;
		n = pbx_writer_len(&w);
	} else {
		struct stun_enc e;
		uint8_t tid[STUN_TID_LEN];
		/* Indications need no unpredictable ID: a counter will do. */
		tw->seq++;
		memcpy(tid, &tw->seq, sizeof tw->seq);
		memcpy(tid + 8, &a->id, 4);
		stun_msg_init(&e, out, cap_out, stun_hdr_type(STUN_DATA, STUN_INDICATION), tid,
			      STUN_KIND_RFC5389);
		stun_attr_put_addr(&e, STUN_A_XOR_PEER_ADDRESS, peer);
		stun_attr_put_text(&e, STUN_A_DATA, p, len);
		if (stun_msg_finish(&e, &n))
			return;
	}
	a->packets_out++;
	a->bytes_out += len;
	tw->count[C_RELAYED_OUT]++;
	tw->count[C_RELAYED_BYTES_OUT] += (uint32_t)len;
	client_commit(tw, &a->from, n);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	out_flush(arg);
}

/* Send what was queued for clients once every relay socket that epoll
 * found ready has been read: an event made active now runs after the
 * events already active in this round of the loop, so the datagrams of
 * many allocations to UDP clients, all from the one listening socket,
 * share one sendmmsg instead of taking one each.  The queue holds copies
 * (client_slot) and flushes itself when full. */
static void defer_flush(struct turnd_worker *tw, struct relay_in *in)
{
	if (in->flush)
		event_active(in->flush, EV_TIMEOUT, 0);
	else
		out_flush(tw);
}

static void on_relay_read(evutil_socket_t fd, short what, void *arg)
{
	struct alloc *a = arg;
	struct turnd_worker *tw = a->tw;
	struct relay_in *in = relay_in_of(tw);
	(void)what;
	if (!in)
		return;
	for (int round = 0; round < ROUNDS; round++) {
		for (unsigned i = 0; i < TURND_BATCH; i++) {
			struct msghdr *h = &in->msg[i].msg_hdr;
			in->iov[i].iov_base = in->buf[i];
			in->iov[i].iov_len = sizeof in->buf[i];
			memset(h, 0, sizeof *h);
			h->msg_name = &in->name[i];
			h->msg_namelen = sizeof in->name[i];
			h->msg_iov = &in->iov[i];
			h->msg_iovlen = 1;
		}
		int n = recvmmsg(fd, in->msg, TURND_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		const struct store_snapshot *snap = pbx_worker_snapshot(tw->w);
		uint64_t cap = (uint64_t)snap->setting_int[STORE_SET_TURND_BANDWIDTH];
		int64_t now = turnd_now();
		for (int i = 0; i < n; i++) {
			struct msghdr *h = &in->msg[i].msg_hdr;
			struct pbx_addr peer;
			if (h->msg_flags & MSG_TRUNC) {
				tw->count[C_DROP_OVERSIZED]++;
				continue;
			}
			if (pbx_addr_from_sockaddr(&peer, h->msg_name, h->msg_namelen))
				continue;
			pbx_addr_unmap(&peer, &peer);
			from_peer(a, &peer, in->buf[i], in->msg[i].msg_len, now, cap);
		}
		defer_flush(tw, in);
		if (n < TURND_BATCH)
			break;
	}
}

int relay_open(struct alloc *a)
{
	if (!relay_in_of(a->tw))
		return -ENOMEM;
	a->ev = event_new(pbx_worker_base(a->tw->w), a->fd, EV_READ | EV_PERSIST, on_relay_read,
			  a);
	if (!a->ev || event_add(a->ev, NULL)) {
		if (a->ev)
			event_free(a->ev);
		a->ev = NULL;
		return -ENOMEM;
	}
	return 0;
}

void relay_close(struct alloc *a)
{
	if (a->ev)
		event_free(a->ev);
	a->ev = NULL;
}

static struct relay_in *relay_in_of(struct turnd_worker *tw)
{
	if (tw->relay_in)
		return tw->relay_in;
	struct relay_in *in = calloc(1, sizeof *in);
	if (!in)
		return NULL;
	/* Without the event every relay read flushes at once: slower, not
	 * wrong. */
	in->flush = event_new(pbx_worker_base(tw->w), -1, 0, on_flush, tw);
	tw->relay_in = in;
	return in;
}

void relay_free(struct turnd_worker *tw)
{
	if (tw->relay_in && tw->relay_in->flush)
		event_free(tw->relay_in->flush);
	free(tw->relay_in);
	tw->relay_in = NULL;
}

void relay_send_failed(struct turnd_worker *tw, int fd, unsigned n, int err)
{
	tw->count[C_RELAY_SEND_FAILED] += n;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	int64_t now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (tw->relay_fail_logged_ms && now_ms - tw->relay_fail_logged_ms < 1000) {
		tw->relay_fail_unlogged += n;
		return;
	}
	struct pbx_addr relay;
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char ra[PBX_ADDRSTRLEN] = "?";
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
	    pbx_addr_from_sockaddr(&relay, (struct sockaddr *)&ss, len) == 0) {
		pbx_addr_unmap(&relay, &relay);
		pbx_addr_format(&relay, ra, sizeof ra);
	}
	pbx_log_info("relay-send-failed relayed=%s datagrams=%u error=%s unlogged=%llu", ra, n,
		     strerrorname_np(err) ? strerrorname_np(err) : "unknown",
		     (unsigned long long)tw->relay_fail_unlogged);
	tw->relay_fail_logged_ms = now_ms ? now_ms : 1;
	tw->relay_fail_unlogged = 0;
}
