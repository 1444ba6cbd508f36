/* tcp.c - STUN over TCP and TLS (RFC 8489 sections 6.2.2 and 6.2.3):
 * connections accepted with a per-source limit and the blacklist, framed
 * with the codec's stream framer (stun_hdr_frame), answered in order,
 * with bounded buffers (a client that does not read its answers is not
 * read either) and an idle timeout. */
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pbxedge/log.h>

#include "stund.h"

#define ACCEPTS_PER_WAKE 64

struct conn {
	struct stund_worker *sw;
	struct conn *prev, *next;
	struct stund_ctx *ctx;      /* reference: TLS credentials, limits */
	int fd;
	enum stund_transport t;
	enum stund_role role;
	struct pbx_tls *tls;
	bool handshaking;
	bool eof;
	bool wait_w;                /* the last I/O wants the socket writable */
	struct event *ev_r, *ev_w, *timer;
	bool r_on, w_on;
	struct pbx_addr peer, local;
	char peer_text[PBX_ADDRSTRLEN];
	unsigned answered;
	const char *outcome;
	size_t in_len, out_off, out_len;
	uint8_t in[2 * STUND_FRAME_MAX];
	uint8_t out[2 * STUND_ANSWER_MAX];
};

static const char *const transport_name[] = { "udp", "tcp", "tls" };

static void pump(struct conn *c);

static void conn_free(struct conn *c)
{
	struct stund_worker *sw = c->sw;
	pbx_log_info("connection client=%s transport=%s answered=%u outcome=%s", c->peer_text,
		     transport_name[c->t], c->answered, c->outcome ? c->outcome : "closed");
	if (c->prev)
		c->prev->next = c->next;
	else
		sw->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	sw->n_conns--;
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
	limit_conn_close(c->ctx->limit, &c->peer);
	stund_ctx_unref(c->ctx);
	pbx_worker_session_end(sw->w);
	free(c);
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
	pbx_worker_count(c->sw->w, C_CONN_IDLE, 1);
	c->outcome = "idle";
	conn_free(c);
}

static void set_event(struct event *ev, bool *on, bool want)
{
	if (want && !*on)
		event_add(ev, NULL);
	else if (!want && *on)
		event_del(ev);
	*on = want;
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
				c->wait_w = pbx_tls_want_write(c->tls);
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

/* Answer every whole frame in the input while there is room for the
 * answers.  Returns false if the connection was closed. */
static bool frames(struct conn *c)
{
	struct stund_worker *sw = c->sw;
	const struct store_snapshot *snap = pbx_worker_snapshot(sw->w);
	size_t off = 0;
	int64_t now_ms = stund_now_ms();

	if (c->out_off && c->out_len) {
		memmove(c->out, c->out + c->out_off, c->out_len);
		c->out_off = 0;
	}
	while (off < c->in_len && sizeof c->out - c->out_len >= STUND_ANSWER_MAX) {
		struct stun_frame f;
		stun_hdr_frame(c->in + off, c->in_len - off, STUND_FRAME_MAX, 0, &f);
		if (f.kind == STUN_FRAME_NEEDMORE)
			break;
		if (f.kind != STUN_FRAME_STUN) {
			/* The stream has lost its framing (or carries
			 * ChannelData, which needs a TURN server). */
			enum stund_counter d = C_DROP_BASE + (f.kind == STUN_FRAME_GARBAGE
								  ? f.drop : STUN_DROP_NOT_STUN);
			pbx_worker_count(sw->w, d, 1);
			worker_drop(sw, d, &c->peer, off, c->in + off, c->in_len - off, now_ms);
			c->outcome = worker_counter_name(d);
			conn_free(c);
			return false;
		}
		const uint8_t *p = c->in + off;
		off += f.len;
		if (!limit_take(c->ctx->limit, &c->peer, (uint64_t)now_ms,
				(uint32_t)snap->setting_int[STORE_SET_STUND_RATE_PER_SECOND],
				(uint32_t)snap->setting_int[STORE_SET_STUND_RATE_BURST])) {
			pbx_worker_count(sw->w, C_DROP_RATE, 1);
			worker_drop(sw, C_DROP_RATE, &c->peer, 0, p, f.len, now_ms);
			continue;
		}
		struct stund_req req = {
			.t = c->t,
			.peer = &c->peer,
			.local = &c->local,
			.role = c->role,
			.software = snap->setting_str[STORE_SET_STUND_SOFTWARE],
		};
		if (c->t == T_TCP)
			for (int r = 0; r < R_COUNT; r++)
				req.from[r] = sw->tcp[r] ? &sw->tcp[r]->addr : NULL;
		req.from[c->role] = &c->local;
		struct stund_answer a;
		uint8_t *dst = c->out + c->out_len;
		answer_message(p, f.len, &req, dst, sizeof c->out - c->out_len, &a);
		if (a.len == 0) {
			if (a.counter >= 0)
				pbx_worker_count(sw->w, (size_t)a.counter, 1);
			if (a.dropped)
				worker_drop(sw, (enum stund_counter)a.counter, &c->peer,
					    a.drop_off, p, f.len, now_ms);
			continue;
		}
		c->out_len += a.len;
		c->answered++;
		pbx_worker_count(sw->w, c->t == T_TLS ? C_ANSWERED_TLS : C_ANSWERED_TCP, 1);
		if (a.error)
			pbx_worker_count(sw->w, C_ERRORS, 1);
	}
	if (off) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	return true;
}

static void fail(struct conn *c, int rc)
{
	c->outcome = rc == -ECONNRESET || rc == -EPIPE ? "client-closed" : "io-error";
	conn_free(c);
}

static void pump(struct conn *c)
{
	struct stund_worker *sw = c->sw;
	int rc;
	c->wait_w = false;
	if (c->handshaking) {
		rc = pbx_tls_handshake(c->tls);
		if (rc && rc != -EAGAIN) {
			pbx_worker_count(sw->w, C_TLS_FAILED, 1);
			c->outcome = rc == -ECONNRESET ? "client-closed" : "tls-failed";
			pbx_log_info("tls-failed client=%s reason=tls-failed error=\"%s\"",
				     c->peer_text, pbx_tls_error(c->tls));
			conn_free(c);
			return;
		}
		if (rc == 0)
			c->handshaking = false;
		else
			c->wait_w = pbx_tls_want_write(c->tls);
	}
	bool progress = false;
	while (!c->handshaking && !c->eof) {
		if (!frames(c))
			return;
		if (sizeof c->out - c->out_len < STUND_ANSWER_MAX || c->in_len == sizeof c->in)
			break; /* a client that does not read its answers */
		size_t got = 0;
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
	}
	if (c->eof && !frames(c))
		return;
	if (c->out_len && (rc = conn_write(c)) && rc != -EAGAIN) {
		fail(c, rc);
		return;
	}
	if (!c->out_len && (c->eof || pbx_worker_draining(sw->w))) {
		c->outcome = c->eof ? "client-closed" : "draining";
		conn_free(c);
		return;
	}
	/* Read when there is room for answers; wait for writability when
	 * output (or TLS) is stuck on it. */
	bool room = sizeof c->out - c->out_len >= STUND_ANSWER_MAX;
	set_event(c->ev_r, &c->r_on, !c->eof && (room || c->handshaking) && !c->wait_w);
	set_event(c->ev_w, &c->w_on, c->wait_w || c->out_len);
	if (progress || !evtimer_pending(c->timer, NULL)) {
		const struct store_snapshot *snap = pbx_worker_snapshot(sw->w);
		struct timeval tv = { snap->setting_int[STORE_SET_STUND_TCP_IDLE_S], 0 };
		evtimer_add(c->timer, &tv);
	}
	/* Decrypted bytes inside the session do not wake the socket, nor do
	 * whole messages left in the input while the output was full. */
	struct stun_frame f = { .kind = STUN_FRAME_NEEDMORE };
	if (c->in_len)
		stun_hdr_frame(c->in, c->in_len, STUND_FRAME_MAX, 0, &f);
	if (!c->handshaking && room &&
	    ((c->tls && pbx_tls_pending(c->tls)) || f.kind != STUN_FRAME_NEEDMORE))
		event_active(c->ev_r, EV_READ, 0);
}

static void accept_one(struct stund_sock *s, int fd, const struct sockaddr *sa, socklen_t len)
{
	struct stund_worker *sw = s->sw;
	struct stund_ctx *ctx = pbx_worker_ctx(sw->w);
	const struct store_snapshot *snap = pbx_worker_snapshot(sw->w);
	struct pbx_addr peer;
	struct pbx_cidr entry;
	int64_t now_ms = stund_now_ms();

	if (pbx_addr_from_sockaddr(&peer, sa, len)) {
		close(fd);
		return;
	}
	pbx_addr_unmap(&peer, &peer);
	if (store_snapshot_blacklist_entry(snap, &peer, store_now(), &entry)) {
		store_writer_hit(pbx_worker_writer(sw->w), &entry, 1);
		pbx_worker_count(sw->w, C_DROP_BLACKLISTED, 1);
		worker_drop(sw, C_DROP_BLACKLISTED, &peer, 0, NULL, 0, now_ms);
		close(fd);
		return;
	}
	if (sw->n_conns >= STUND_MAX_CONNS ||
	    !limit_conn_open(ctx->limit, &peer,
			     (unsigned)snap->setting_int[STORE_SET_STUND_TCP_PER_SOURCE])) {
		pbx_worker_count(sw->w, C_CONN_REFUSED, 1);
		worker_drop(sw, C_CONN_REFUSED, &peer, 0, NULL, 0, now_ms);
		close(fd);
		return;
	}
	struct conn *c = calloc(1, sizeof *c);
	if (!c) {
		limit_conn_close(ctx->limit, &peer);
		close(fd);
		return;
	}
	c->sw = sw;
	c->ctx = ctx;
	stund_ctx_ref(ctx);
	c->fd = fd;
	c->t = s->t;
	c->role = s->role;
	c->peer = peer;
	c->local = s->addr;
	pbx_addr_format(&peer, c->peer_text, sizeof c->peer_text);
	if (s->wildcard) {
		struct sockaddr_in6 sin6;
		socklen_t sl = sizeof sin6;
		if (getsockname(fd, (struct sockaddr *)&sin6, &sl) == 0 &&
		    pbx_addr_from_sockaddr(&c->local, (struct sockaddr *)&sin6, sl) == 0)
			pbx_addr_unmap(&c->local, &c->local);
	}
	c->next = sw->conns;
	if (sw->conns)
		sw->conns->prev = c;
	sw->conns = c;
	sw->n_conns++;
	pbx_worker_session_begin(sw->w);
	pbx_worker_count(sw->w, C_CONN_ACCEPTED, 1);

	struct event_base *base = pbx_worker_base(sw->w);
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
	if (c->t == T_TLS) {
		if (!ctx->tls.creds || pbx_tls_accept(ctx->tls.creds, fd, &c->tls)) {
			pbx_worker_count(sw->w, C_TLS_FAILED, 1);
			pbx_log_warn("tls-failed client=%s reason=tls-failed error=\"no usable "
				     "certificate (stund.tls-cert, stund.tls-key)\"", c->peer_text);
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
	struct stund_sock *s = arg;
	(void)what;
	for (int k = 0; k < ACCEPTS_PER_WAKE; k++) {
		struct sockaddr_in6 sa;
		socklen_t len = sizeof sa;
		int cfd = accept4(fd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				pbx_log_warn("accept-failed reason=out-of-descriptors "
					     "error=\"%s\"", pbx_strerror(-errno));
			return;
		}
		accept_one(s, cfd, (struct sockaddr *)&sa, len);
	}
}

int tcp_open(struct stund_sock *s)
{
	s->ev = event_new(pbx_worker_base(s->sw->w), s->fd, EV_READ | EV_PERSIST, on_accept, s);
	if (!s->ev || event_add(s->ev, NULL))
		return -ENOMEM;
	return 0;
}

void tcp_close(struct stund_sock *s)
{
	struct stund_worker *sw = s->sw;
	if (s->ev)
		event_free(s->ev);
	s->ev = NULL;
	close(s->fd);
	if (!pbx_worker_draining(sw->w))
		return;
	/* Draining: connections with nothing left to send go now; the
	 * others once their answers are out. */
	for (struct conn *c = sw->conns, *next; c; c = next) {
		next = c->next;
		if (!c->out_len && !c->handshaking) {
			c->outcome = "draining";
			conn_free(c);
		}
	}
}

void tcp_close_all(struct stund_worker *sw)
{
	while (sw->conns) {
		sw->conns->outcome = "stopping";
		conn_free(sw->conns);
	}
}
