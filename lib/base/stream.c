/* stream.c - STUN and TURN over TCP and TLS (RFC 8489 sections 6.2.2 and
 * 6.2.3, RFC 8656 sections 3.1 and 11.5): accepting, the TLS handshake,
 * bounded input framed into STUN messages and padded ChannelData, bounded
 * output with back-pressure, and the idle timeout, for stund and turnd. */
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pbxedge/log.h>
#include <pbxedge/stream.h>

#define ACCEPTS_PER_WAKE 64

struct pbx_stream_listener {
	struct pbx_stream_group *g;
	int fd;
	struct event *ev;
	struct pbx_addr bound;
	bool wildcard;
	struct pbx_stream_conf conf;
	const struct pbx_stream_ops *ops;
	void *arg;
};

struct pbx_stream {
	struct pbx_stream *prev, *next;
	struct pbx_stream_group *g;
	const struct pbx_stream_listener *l;
	struct pbx_stream_conf conf;        /* the listener's, copied */
	const struct pbx_stream_ops *ops;
	void *conn;                         /* the daemon's */
	int fd;
	struct pbx_tls *tls;
	bool handshaking, eof, wait_w, draining, tls_failed, linked;
	int busy;                           /* inside a callback: close later */
	const char *closing;                /* pbx_stream_close while busy */
	struct event *ev_r, *ev_w, *timer;
	bool r_on, w_on;
	struct pbx_addr peer, local;
	char peer_text[PBX_ADDRSTRLEN];
	size_t in_len, out_off, out_len;
	uint8_t *in, *out;
};

void pbx_stream_group_init(struct pbx_stream_group *g)
{
	g->head = NULL;
	g->n = 0;
}

static void stream_free(struct pbx_stream *s, const char *outcome)
{
	if (s->linked) {
		s->ops->closed(s->conn, s, outcome);
		if (s->prev)
			s->prev->next = s->next;
		else
			s->g->head = s->next;
		if (s->next)
			s->next->prev = s->prev;
		s->g->n--;
	}
	if (s->ev_r)
		event_free(s->ev_r);
	if (s->ev_w)
		event_free(s->ev_w);
	if (s->timer)
		event_free(s->timer);
	if (s->tls) {
		pbx_tls_bye(s->tls);
		pbx_tls_free(s->tls);
	}
	close(s->fd);
	free(s->in);
	free(s->out);
	free(s);
}

void pbx_stream_close(struct pbx_stream *s, const char *outcome)
{
	if (s->busy) {
		if (!s->closing)
			s->closing = outcome;
		return;
	}
	stream_free(s, outcome);
}

static void set_event(struct event *ev, bool *on, bool want)
{
	if (want && !*on)
		event_add(ev, NULL);
	else if (!want && *on)
		event_del(ev);
	*on = want;
}

static size_t out_room(const struct pbx_stream *s)
{
	return s->conf.out_max - s->out_len;
}

static bool may_take(const struct pbx_stream *s)
{
	return !s->conf.out_reserve || out_room(s) >= s->conf.out_reserve;
}

int pbx_stream_send(struct pbx_stream *s, const void *p, size_t len)
{
	if (s->closing || !s->out)
		return -EPIPE;
	if (s->out_off && s->out_off + s->out_len + len > s->conf.out_max) {
		memmove(s->out, s->out + s->out_off, s->out_len);
		s->out_off = 0;
	}
	if (s->out_off + s->out_len + len > s->conf.out_max)
		return PBX_E_NOSPACE;
	memcpy(s->out + s->out_off + s->out_len, p, len);
	s->out_len += len;
	/* Written when the socket is writable, once per turn of the loop. */
	if (!s->busy)
		set_event(s->ev_w, &s->w_on, true);
	return 0;
}

static void arm_idle(struct pbx_stream *s)
{
	unsigned idle = s->ops->idle_s(s->conn);
	if (!idle)
		return;
	struct timeval tv = { (time_t)idle, 0 };
	evtimer_add(s->timer, &tv);
}

void pbx_stream_touch(struct pbx_stream *s)
{
	if (s->timer)
		arm_idle(s);
}

static int stream_read(struct pbx_stream *s, size_t *got)
{
	uint8_t *p = s->in + s->in_len;
	size_t n = s->conf.in_max - s->in_len;
	if (s->tls) {
		int rc = pbx_tls_read(s->tls, p, n, got);
		if (rc == -EAGAIN)
			s->wait_w = pbx_tls_want_write(s->tls);
		return rc;
	}
	ssize_t r = read(s->fd, p, n);
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
	*got = (size_t)r;
	return 0;
}

static int stream_write(struct pbx_stream *s)
{
	while (s->out_len) {
		size_t put;
		const uint8_t *p = s->out + s->out_off;
		if (s->tls) {
			int rc = pbx_tls_write(s->tls, p, s->out_len, &put);
			if (rc == -EAGAIN)
				s->wait_w = pbx_tls_want_write(s->tls);
			if (rc)
				return rc;
		} else {
			ssize_t w = send(s->fd, p, s->out_len, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK) {
					s->wait_w = true;
					return -EAGAIN;
				}
				return -errno;
			}
			put = (size_t)w;
		}
		s->out_off += put;
		s->out_len -= put;
	}
	s->out_off = 0;
	return 0;
}

/* Hand every whole frame of the input to the daemon while there is room
 * for answers.  Returns false if the stream is to close (s->closing). */
static bool frames(struct pbx_stream *s)
{
	size_t off = 0;
	bool any = false;
	s->busy++;
	while (off < s->in_len && may_take(s) && !s->closing) {
		struct stun_frame f;
		const uint8_t *p = s->in + off;
		stun_hdr_frame(p, s->in_len - off, s->conf.frame_max, s->conf.frame_flags, &f);
		if (f.kind == STUN_FRAME_NEEDMORE)
			break;
		if (f.kind == STUN_FRAME_GARBAGE ||
		    (f.kind == STUN_FRAME_CHANDATA && !s->conf.chandata)) {
			/* The stream lost its framing: nothing after can be
			 * trusted. */
			const char *why = s->ops->lost(s->conn, s, &f, off, p, s->in_len - off);
			if (!s->closing)
				s->closing = why;
			break;
		}
		off += f.len;
		any = true;
		s->ops->message(s->conn, s, (enum stun_frame_kind)f.kind, p, f.len);
	}
	if (off) {
		memmove(s->in, s->in + off, s->in_len - off);
		s->in_len -= off;
	}
	if (any && s->ops->handled)
		s->ops->handled(s->conn);
	s->busy--;
	return !s->closing;
}

static void fail(struct pbx_stream *s, int rc)
{
	stream_free(s, rc == -ECONNRESET || rc == -EPIPE ? "client-closed" : "io-error");
}

static bool handshake(struct pbx_stream *s)
{
	int rc = pbx_tls_handshake(s->tls);
	if (rc && rc != -EAGAIN) {
		s->tls_failed = true;
		pbx_log_info("tls-failed client=%s reason=tls-failed error=\"%s\"", s->peer_text,
			     pbx_tls_error(s->tls));
		stream_free(s, rc == -ECONNRESET ? "client-closed" : "tls-failed");
		return false;
	}
	if (rc == 0)
		s->handshaking = false;
	else
		s->wait_w = pbx_tls_want_write(s->tls);
	return true;
}

static void pump(struct pbx_stream *s)
{
	int rc;
	s->wait_w = false;
	if (s->handshaking && !handshake(s))
		return;
	bool progress = false;
	for (unsigned k = 0; !s->handshaking && !s->eof; k++) {
		if (!frames(s))
			goto closing;
		if (s->conf.reads_per_wake && k == s->conf.reads_per_wake)
			break;
		if (!may_take(s) || s->in_len == s->conf.in_max)
			break; /* a client that does not read its answers */
		size_t got = 0;
		rc = stream_read(s, &got);
		if (rc == -EAGAIN)
			break;
		if (rc) {
			fail(s, rc);
			return;
		}
		if (got == 0)
			s->eof = true;
		s->in_len += got;
		progress = true;
	}
	if (!s->handshaking && !frames(s))
		goto closing;
	if (s->out_len && (rc = stream_write(s)) && rc != -EAGAIN) {
		fail(s, rc);
		return;
	}
	if (s->eof && (s->conf.eof_closes || !s->out_len)) {
		stream_free(s, "client-closed");
		return;
	}
	if (s->draining && !s->out_len && !s->handshaking) {
		stream_free(s, "draining");
		return;
	}
	/* Read when there is room for answers; wait for writability when
	 * output (or TLS) is stuck on it. */
	bool room = may_take(s);
	set_event(s->ev_r, &s->r_on, !s->eof && (room || s->handshaking) && !s->wait_w);
	set_event(s->ev_w, &s->w_on, s->wait_w || s->out_len);
	if (progress)
		arm_idle(s);
	/* Decrypted bytes inside the session do not wake the socket, nor do
	 * whole messages left in the input while the output was full. */
	struct stun_frame f = { .kind = STUN_FRAME_NEEDMORE };
	if (s->in_len)
		stun_hdr_frame(s->in, s->in_len, s->conf.frame_max, s->conf.frame_flags, &f);
	if (!s->handshaking && room &&
	    ((s->tls && pbx_tls_pending(s->tls)) || f.kind != STUN_FRAME_NEEDMORE))
		event_active(s->ev_r, EV_READ, 0);
	return;
closing:
	stream_free(s, s->closing);
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pump(arg);
}

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct pbx_stream *s = arg;
	(void)fd;
	(void)what;
	if (!s->ops->idle_s(s->conn))
		return; /* no timeout now (e.g. an allocation's lifetime rules) */
	stream_free(s, "idle");
}

/* The stream of a connection the daemon took: buffers, events, TLS. */
static void start(struct pbx_stream *s, struct event_base *base)
{
	const struct pbx_stream_listener *l = s->l;
	s->in = malloc(s->conf.in_max);
	s->out = malloc(s->conf.out_max);
	s->ev_r = event_new(base, s->fd, EV_READ | EV_PERSIST, on_io, s);
	s->ev_w = event_new(base, s->fd, EV_WRITE | EV_PERSIST, on_io, s);
	s->timer = evtimer_new(base, on_idle, s);
	if (!s->in || !s->out || !s->ev_r || !s->ev_w || !s->timer) {
		stream_free(s, "out-of-memory");
		return;
	}
	arm_idle(s);
	int one = 1;
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (s->conf.tls) {
		struct pbx_tls_creds *creds = l->ops->creds ? l->ops->creds(l->arg) : NULL;
		if (!creds || pbx_tls_accept(creds, s->fd, &s->tls)) {
			s->tls_failed = true;
			pbx_log_warn("tls-failed client=%s reason=tls-failed error=\"no usable "
				     "certificate (%s)\"", s->peer_text,
				     s->conf.tls_hint ? s->conf.tls_hint : "tls-cert, tls-key");
			stream_free(s, "tls-failed");
			return;
		}
		s->handshaking = true;
	}
	pump(s);
}

static void accept_one(struct pbx_stream_listener *l, int fd, const struct sockaddr *sa,
		       socklen_t len)
{
	struct pbx_stream *s = calloc(1, sizeof *s);
	if (!s) {
		close(fd);
		return;
	}
	s->fd = fd;
	s->l = l;
	s->g = l->g;
	s->conf = l->conf;
	s->ops = l->ops;
	if (pbx_addr_from_sockaddr(&s->peer, sa, len)) {
		stream_free(s, NULL);
		return;
	}
	pbx_addr_unmap(&s->peer, &s->peer);
	pbx_addr_format(&s->peer, s->peer_text, sizeof s->peer_text);
	s->local = l->bound;
	if (l->wildcard) {
		struct sockaddr_in6 sin6;
		socklen_t sl = sizeof sin6;
		if (getsockname(fd, (struct sockaddr *)&sin6, &sl) == 0 &&
		    pbx_addr_from_sockaddr(&s->local, (struct sockaddr *)&sin6, sl) == 0)
			pbx_addr_unmap(&s->local, &s->local);
	}
	if (!(s->conn = l->ops->accept(l->arg, s))) {
		stream_free(s, NULL);
		return;
	}
	s->linked = true;
	s->next = l->g->head;
	if (l->g->head)
		l->g->head->prev = s;
	l->g->head = s;
	l->g->n++;
	start(s, event_get_base(l->ev));
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct pbx_stream_listener *l = arg;
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
		accept_one(l, cfd, (struct sockaddr *)&sa, len);
	}
}

int pbx_stream_listen(struct event_base *base, struct pbx_stream_group *g, int fd,
		      const struct pbx_addr *bound, const struct pbx_stream_conf *conf,
		      const struct pbx_stream_ops *ops, void *listener_arg,
		      struct pbx_stream_listener **out)
{
	struct pbx_stream_listener *l = calloc(1, sizeof *l);
	*out = NULL;
	if (!l) {
		close(fd);
		return -ENOMEM;
	}
	l->g = g;
	l->fd = fd;
	l->bound = *bound;
	l->wildcard = pbx_addr_is_any(bound);
	l->conf = *conf;
	if (l->conf.in_max < l->conf.frame_max)
		l->conf.in_max = l->conf.frame_max;
	l->ops = ops;
	l->arg = listener_arg;
	l->ev = event_new(base, fd, EV_READ | EV_PERSIST, on_accept, l);
	if (!l->ev || event_add(l->ev, NULL)) {
		pbx_stream_listener_free(l);
		return -ENOMEM;
	}
	*out = l;
	return 0;
}

void pbx_stream_listener_free(struct pbx_stream_listener *l)
{
	if (!l)
		return;
	if (l->ev)
		event_free(l->ev);
	close(l->fd);
	free(l);
}

void pbx_stream_group_close(struct pbx_stream_group *g, const struct pbx_stream_listener *l,
			    const char *outcome)
{
	for (struct pbx_stream *s = g->head, *next; s; s = next) {
		next = s->next;
		if (!l || s->l == l)
			pbx_stream_close(s, outcome);
	}
}

void pbx_stream_group_drain(struct pbx_stream_group *g)
{
	for (struct pbx_stream *s = g->head, *next; s; s = next) {
		next = s->next;
		s->draining = true;
		if (!s->out_len && !s->handshaking)
			pbx_stream_close(s, "draining");
	}
}

const struct pbx_addr *pbx_stream_peer(const struct pbx_stream *s)
{
	return &s->peer;
}

const struct pbx_addr *pbx_stream_local(const struct pbx_stream *s)
{
	return &s->local;
}

const char *pbx_stream_peer_text(const struct pbx_stream *s)
{
	return s->peer_text;
}

const struct pbx_stream_listener *pbx_stream_listener_of(const struct pbx_stream *s)
{
	return s->l;
}

bool pbx_stream_tls_failed(const struct pbx_stream *s)
{
	return s->tls_failed;
}
