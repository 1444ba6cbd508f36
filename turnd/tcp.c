/* tcp.c - TURN over TCP and TLS (RFC 8656 section 3.1, "turn:" with
 * transport=tcp and "turns:"): connections accepted past the blacklist,
 * framed with the codec's stream framer (STUN messages and padded
 * ChannelData), one allocation per connection that ends with it, and a
 * bounded output buffer: relayed data that does not fit while the client
 * is slow to read is dropped and counted, as UDP would lose it. */
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pbxedge/log.h>

#include "turnd.h"

#define ACCEPTS_PER_WAKE 64
#define IN_MAX (2 * (TURND_UDP_MAX + TURND_HEADROOM))
#define OUT_MAX (64 * 1024)
#define IDLE_S 60                   /* without an allocation */

struct conn {
	struct turnd_worker *tw;
	struct conn *prev, *next;
	int fd;
	enum turnd_transport t;
	struct turnd_sock *sock;
	struct pbx_tls *tls;
	bool handshaking, eof, wait_w, dead;
	struct event *ev_r, *ev_w, *timer;
	bool r_on, w_on;
	struct turnd_from from;
	char client_text[PBX_ADDRSTRLEN];
	struct alloc *alloc;
	const char *outcome;
	size_t in_len, out_off, out_len;
	uint8_t in[IN_MAX];
	uint8_t out[OUT_MAX];
};

static void pump(struct conn *c);

static void conn_free(struct conn *c)
{
	struct turnd_worker *tw = c->tw;
	if (c->alloc) {
		struct alloc *a = c->alloc;
		c->alloc = NULL;
		a->conn = NULL;
		alloc_free(a, "connection-closed");
	}
	pbx_log_info("connection client=%s transport=%s outcome=%s", c->client_text,
		     c->t == T_TLS ? "tls" : "tcp", c->outcome ? c->outcome : "closed");
	if (c->prev)
		c->prev->next = c->next;
	else
		tw->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	tw->n_conns--;
	tw->count[C_CONN_CLOSED]++;
	if (c->ev_r)
		event_free(c->ev_r);
	if (c->ev_w)
		event_free(c->ev_w);
	if (c->timer)
		event_free(c->timer);
	if (c->tls) {
		pbx_tls_bye(c->tls);
		pbx_tls_free(c->tls);
	}
	close(c->fd);
	free(c);
}

void conn_alloc_gone(struct conn *c)
{
	c->alloc = NULL;
}

static void set_event(struct event *ev, bool *on, bool want)
{
	if (want && !*on)
		event_add(ev, NULL);
	else if (!want && *on)
		event_del(ev);
	*on = want;
}

void conn_send(struct conn *c, const void *p, size_t len)
{
	if (c->out_off && c->out_off + c->out_len + len > sizeof c->out) {
		memmove(c->out, c->out + c->out_off, c->out_len);
		c->out_off = 0;
	}
	if (c->out_off + c->out_len + len > sizeof c->out) {
		c->tw->count[C_DROP_STREAM_FULL]++;
		return;
	}
	memcpy(c->out + c->out_off + c->out_len, p, len);
	c->out_len += len;
	/* Written when the socket is writable, once per turn of the loop. */
	set_event(c->ev_w, &c->w_on, true);
}

static int conn_read(struct conn *c, size_t *got)
{
	uint8_t *p = c->in + c->in_len;
	size_t n = sizeof c->in - c->in_len;
	if (c->tls) {
		int rc = pbx_tls_read(c->tls, p, n, got);
		if (rc == -EAGAIN)
			c->wait_w = pbx_tls_want_write(c->tls);
		return rc;
	}
	ssize_t r = read(c->fd, p, n);
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
	*got = (size_t)r;
	return 0;
}

static int conn_write(struct conn *c)
{
	while (c->out_len) {
		size_t put;
		const uint8_t *p = c->out + c->out_off;
		if (c->tls) {
			int rc = pbx_tls_write(c->tls, p, c->out_len, &put);
			if (rc == -EAGAIN)
				c->wait_w = true;
			if (rc)
				return rc;
		} else {
			ssize_t w = send(c->fd, p, c->out_len, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK) {
					c->wait_w = true;
					return -EAGAIN;
				}
				return -errno;
			}
			put = (size_t)w;
		}
		c->out_off += put;
		c->out_len -= put;
	}
	c->out_off = 0;
	return 0;
}

/* Handle every whole frame in the input.  Returns false if the
 * connection was closed. */
static bool frames(struct conn *c)
{
	struct turnd_worker *tw = c->tw;
	size_t off = 0;
	struct turnd_req r = {
		.tw = tw,
		.ctx = pbx_worker_ctx(tw->w),
		.snap = pbx_worker_snapshot(tw->w),
		.now = turnd_now(),
		.unix_now = store_now(),
		.from = &c->from,
	};
	while (off < c->in_len) {
		struct stun_frame f;
		const uint8_t *p = c->in + off;
		stun_hdr_frame(p, c->in_len - off, TURND_UDP_MAX, STUN_CHAN_RFC5766, &f);
		if (f.kind == STUN_FRAME_NEEDMORE)
			break;
		if (f.kind == STUN_FRAME_GARBAGE) {
			/* The stream lost its framing: nothing after can be
			 * trusted. */
			enum turnd_counter d = (enum turnd_counter)(C_DROP_BASE + f.drop);
			worker_drop(tw, d, &c->from.client, off, p, c->in_len - off);
			c->outcome = worker_counter_name(d);
			conn_free(c);
			return false;
		}
		off += f.len;
		if (f.kind == STUN_FRAME_CHANDATA) {
			struct stun_chandata cd;
			if (stun_hdr_chandata_decode(p, f.len, STUN_CHAN_STREAM | STUN_CHAN_RFC5766,
						     &cd)) {
				worker_drop(tw, (enum turnd_counter)(C_DROP_BASE + cd.drop),
					    &c->from.client, 0, p, f.len);
				continue;
			}
			if (!c->alloc) {
				tw->count[C_DROP_NO_ALLOCATION]++;
				continue;
			}
			relay_chandata(c->alloc, &cd, r.now);
			continue;
		}
		r.alloc = c->alloc;
		r.buf = client_slot(tw);
		r.cap = TURND_ANSWER_MAX;
		request_message(&r, p, f.len);
		if (r.alloc && !c->alloc) {
			c->alloc = r.alloc;
			c->alloc->conn = c;
		} else if (!r.alloc) {
			c->alloc = NULL; /* Refresh 0 ended it */
		}
		if (r.len)
			conn_send(c, r.buf, r.len);
	}
	if (off) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	out_flush(tw);
	return true;
}

static void fail(struct conn *c, int rc)
{
	c->outcome = rc == -ECONNRESET || rc == -EPIPE ? "client-closed" : "io-error";
	conn_free(c);
}

static void pump(struct conn *c)
{
	struct turnd_worker *tw = c->tw;
	int rc;
	c->wait_w = false;
	if (c->handshaking) {
		rc = pbx_tls_handshake(c->tls);
		if (rc && rc != -EAGAIN) {
			tw->count[C_TLS_FAILED]++;
			c->outcome = rc == -ECONNRESET ? "client-closed" : "tls-failed";
			pbx_log_info("tls-failed client=%s reason=tls-failed error=\"%s\"",
				     c->client_text, pbx_tls_error(c->tls));
			conn_free(c);
			return;
		}
		if (rc == 0)
			c->handshaking = false;
		else
			c->wait_w = pbx_tls_want_write(c->tls);
	}
	bool progress = false;
	for (int k = 0; k < 16 && !c->handshaking && !c->eof; k++) {
		size_t got = 0;
		if (c->in_len == sizeof c->in)
			break;
		rc = conn_read(c, &got);
		if (rc == -EAGAIN)
			break;
		if (rc) {
			fail(c, rc);
			return;
		}
		if (got == 0)
			c->eof = true;
		c->in_len += got;
		progress = true;
		if (!frames(c))
			return;
	}
	if (c->out_len && (rc = conn_write(c)) && rc != -EAGAIN) {
		fail(c, rc);
		return;
	}
	if (c->eof) {
		c->outcome = "client-closed";
		conn_free(c);
		return;
	}
	set_event(c->ev_r, &c->r_on, !c->wait_w || c->handshaking);
	set_event(c->ev_w, &c->w_on, c->wait_w || c->out_len);
	if (progress && !c->alloc) {
		struct timeval tv = { IDLE_S, 0 };
		evtimer_add(c->timer, &tv);
	}
	if (!c->handshaking && c->tls && pbx_tls_pending(c->tls))
		event_active(c->ev_r, EV_READ, 0);
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pump(arg);
}

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	if (c->alloc)
		return; /* the allocation's lifetime rules */
	c->outcome = "idle";
	conn_free(c);
}

static void accept_one(struct turnd_sock *s, int fd, const struct sockaddr *sa, socklen_t len)
{
	struct turnd_worker *tw = s->tw;
	struct turnd_ctx *ctx = pbx_worker_ctx(tw->w);
	const struct store_snapshot *snap = pbx_worker_snapshot(tw->w);
	struct pbx_addr client;

	if (pbx_addr_from_sockaddr(&client, sa, len)) {
		close(fd);
		return;
	}
	pbx_addr_unmap(&client, &client);
	if (!udp_source_ok(tw, &client, snap, ctx, store_now())) {
		tw->count[C_DROP_BLACKLISTED]++;
		close(fd);
		return;
	}
	struct conn *c = tw->n_conns < TURND_MAX_CONNS ? calloc(1, sizeof *c) : NULL;
	if (!c) {
		tw->count[C_CONN_REFUSED]++;
		close(fd);
		return;
	}
	c->tw = tw;
	c->fd = fd;
	c->t = s->t;
	c->sock = s;
	c->from.t = s->t;
	c->from.sock = s;
	c->from.conn = c;
	c->from.client = client;
	c->from.local = s->addr;
	pbx_addr_format(&client, c->client_text, sizeof c->client_text);
	if (s->wildcard) {
		struct sockaddr_in6 sin6;
		socklen_t sl = sizeof sin6;
		if (getsockname(fd, (struct sockaddr *)&sin6, &sl) == 0 &&
		    pbx_addr_from_sockaddr(&c->from.local, (struct sockaddr *)&sin6, sl) == 0)
			pbx_addr_unmap(&c->from.local, &c->from.local);
	}
	c->next = tw->conns;
	if (tw->conns)
		tw->conns->prev = c;
	tw->conns = c;
	tw->n_conns++;
	tw->count[C_CONN_ACCEPTED]++;
	struct event_base *base = pbx_worker_base(tw->w);
	c->ev_r = event_new(base, fd, EV_READ | EV_PERSIST, on_io, c);
	c->ev_w = event_new(base, fd, EV_WRITE | EV_PERSIST, on_io, c);
	c->timer = evtimer_new(base, on_idle, c);
	if (!c->ev_r || !c->ev_w || !c->timer) {
		c->outcome = "out-of-memory";
		conn_free(c);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct timeval tv = { IDLE_S, 0 };
	evtimer_add(c->timer, &tv);
	if (c->t == T_TLS) {
		if (!ctx->tls.creds || pbx_tls_accept(ctx->tls.creds, fd, &c->tls)) {
			tw->count[C_TLS_FAILED]++;
			pbx_log_warn("tls-failed client=%s reason=tls-failed error=\"no usable "
				     "certificate (turnd.tls-cert, turnd.tls-key)\"", c->client_text);
			c->outcome = "tls-failed";
			conn_free(c);
			return;
		}
		c->handshaking = true;
	}
	pump(c);
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct turnd_sock *s = arg;
	(void)what;
	for (int k = 0; k < ACCEPTS_PER_WAKE; k++) {
		struct sockaddr_in6 sa;
		socklen_t len = sizeof sa;
		int cfd = accept4(fd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				pbx_log_warn("accept-failed reason=out-of-descriptors "
					     "error=\"%s\"", pbx_strerror(-errno));
			break;
		}
		accept_one(s, cfd, (struct sockaddr *)&sa, len);
	}
	worker_flush_counts(s->tw);
}

int tcp_open(struct turnd_sock *s)
{
	int rc = out_init(s->tw);
	if (rc)
		return rc;
	s->ev = event_new(pbx_worker_base(s->tw->w), s->fd, EV_READ | EV_PERSIST, on_accept, s);
	if (!s->ev || event_add(s->ev, NULL))
		return -ENOMEM;
	return 0;
}

void tcp_close(struct turnd_sock *s)
{
	struct turnd_worker *tw = s->tw;
	if (s->ev)
		event_free(s->ev);
	s->ev = NULL;
	close(s->fd);
	/* Connections accepted here end with their listener. */
	for (struct conn *c = tw->conns, *next; c; c = next) {
		next = c->next;
		if (c->sock == s) {
			c->outcome = "listener-closed";
			conn_free(c);
		}
	}
}

void tcp_close_all(struct turnd_worker *tw)
{
	while (tw->conns) {
		tw->conns->outcome = "stopping";
		conn_free(tw->conns);
	}
}
