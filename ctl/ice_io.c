/* ice_io.c - the I/O under rpctl ice-test: the gatherer (lib/ice) is
 * I/O-free; this file owns its host sockets and the streams it asks for,
 * feeds it datagrams, ICMP errors (IP_RECVERR), stream events and bytes,
 * sends what it gives, and runs the clock with poll(). */
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ice_io.h"

#define WBUF_MAX 65536          /* bytes queued per stream */
#define POLL_SLICE_MS 200       /* wake at least this often */

int64_t ice_io_clock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_ms(const struct ice_io *io)
{
	return ice_io_clock() - io->t0;
}

int ice_io_bind_host(struct pbx_addr *addr)
{
	int fam = pbx_addr_family(addr);
	int fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	if (fam == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof one);
	} else {
		setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof one);
	}
	socklen_t len = addr->len;
	if (bind(fd, &addr->u.sa, addr->len) || getsockname(fd, &addr->u.sa, &len)) {
		int e = -errno;
		close(fd);
		return e;
	}
	addr->len = len;
	return fd;
}

void ice_io_init(struct ice_io *io, struct ice_gather *g, const int *fds, size_t n,
		 struct pbx_tls_creds *tls, const char *sni,
		 const struct ice_gather_server *servers)
{
	memset(io, 0, sizeof *io);
	io->g = g;
	for (size_t i = 0; i < ICE_GATHER_HOSTS_MAX; i++)
		io->host_fd[i] = i < n ? fds[i] : -1;
	io->n_hosts = n;
	for (size_t i = 0; i < ICE_GATHER_RELAYS_MAX; i++)
		io->st[i].fd = -1;
	io->tls = tls;
	io->sni = sni;
	io->servers = servers;
	io->extra_fd = -1;
}

static void vlog(struct ice_io *io, const char *what, unsigned k, const char *detail)
{
	if (io->verbose)
		fprintf(io->verbose, "%6lld ms  %sstream %u %s%s%s\n", (long long)now_ms(io), io->tag, k,
			what, detail ? ": " : "", detail ? detail : "");
}

/* A connected UDP socket's ECONNREFUSED as the ICMP error behind it:
 * port unreachable (ICMP 3/3, ICMPv6 1/4). */
static void stream_refused(struct ice_io *io, unsigned k)
{
	bool v6 = io->st[k].family == AF_INET6;
	ice_gather_stream_icmp(io->g, k, v6 ? 1 : 3, v6 ? 4 : 3, now_ms(io));
}

static void stream_close(struct ice_io *io, unsigned k)
{
	struct ice_io_stream *s = &io->st[k];
	if (s->tls) {
		if (!s->connecting && !s->handshaking)
			pbx_tls_bye(s->tls);
		pbx_tls_free(s->tls);
		s->tls = NULL;
	}
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	free(s->wbuf);
	s->wbuf = NULL;
	s->wlen = 0;
	s->connecting = s->handshaking = false;
}

/* The stream failed or closed: tell the gatherer, close it. */
static void stream_lost(struct ice_io *io, unsigned k, enum ice_stream_event ev, const char *why)
{
	vlog(io, "lost", k, why);
	stream_close(io, k);
	ice_gather_stream_event(io->g, k, ev, now_ms(io));
}

static void tls_step(struct ice_io *io, unsigned k)
{
	struct ice_io_stream *s = &io->st[k];
	int rc = pbx_tls_handshake(s->tls);
	if (rc == -EAGAIN)
		return;
	bool sent = false, verified = false;
	pbx_tls_peer_cert(s->tls, &sent, &verified, NULL, 0);
	if (rc) {
		stream_lost(io, k, sent && !verified ? ICE_STREAM_TLS_UNTRUSTED
						     : ICE_STREAM_TLS_HANDSHAKE,
			    pbx_tls_error(s->tls));
		return;
	}
	if (!verified) {
		stream_lost(io, k, ICE_STREAM_TLS_UNTRUSTED, "certificate not trusted");
		return;
	}
	s->handshaking = false;
	vlog(io, "TLS established", k, pbx_tls_version(s->tls));
	ice_gather_stream_event(io->g, k, ICE_STREAM_CONNECTED, now_ms(io));
}

static void connected(struct ice_io *io, unsigned k)
{
	struct ice_io_stream *s = &io->st[k];
	s->connecting = false;
	if (s->transport != STUN_URI_TLS) {
		vlog(io, "connected", k, NULL);
		ice_gather_stream_event(io->g, k, ICE_STREAM_CONNECTED, now_ms(io));
		return;
	}
	const char *host = io->sni ? io->sni : io->servers[s->server].uri.host;
	if (!io->tls || pbx_tls_connect(io->tls, s->fd, host, &s->tls)) {
		stream_lost(io, k, ICE_STREAM_TLS_HANDSHAKE, "no TLS session");
		return;
	}
	s->handshaking = true;
	tls_step(io, k);
}

static void stream_open(struct ice_io *io, const struct ice_gather_out *o)
{
	unsigned k = o->stream;
	if (k >= ICE_GATHER_RELAYS_MAX)
		return;
	struct ice_io_stream *s = &io->st[k];
	stream_close(io, k);
	s->transport = o->transport;
	s->server = o->server;
	s->family = pbx_addr_family(&o->to);
	bool udp = o->transport == STUN_URI_UDP;
	s->fd = socket(pbx_addr_family(&o->to),
		       (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		stream_lost(io, k, udp ? ICE_STREAM_CLOSED : ICE_STREAM_REFUSED, strerror(errno));
		return;
	}
	if (pbx_addr_family(&o->local) == pbx_addr_family(&o->to))
		(void)bind(s->fd, &o->local.u.sa, o->local.len);
	if (connect(s->fd, &o->to.u.sa, o->to.len) == 0) {
		connected(io, k);
		return;
	}
	if (errno == EINPROGRESS) {
		s->connecting = true;
		vlog(io, "connecting", k, NULL);
		return;
	}
	stream_lost(io, k, errno == ETIMEDOUT ? ICE_STREAM_TIMEOUT : ICE_STREAM_REFUSED,
		    strerror(errno));
}

/* Write what is queued; false if the stream was lost. */
static bool stream_flush(struct ice_io *io, unsigned k)
{
	struct ice_io_stream *s = &io->st[k];
	while (s->wlen > 0 && s->fd >= 0) {
		size_t put = 0;
		if (s->tls) {
			int rc = pbx_tls_write(s->tls, s->wbuf, s->wlen, &put);
			if (rc == -EAGAIN)
				return true;
			if (rc) {
				stream_lost(io, k, ICE_STREAM_CLOSED, pbx_tls_error(s->tls));
				return false;
			}
		} else {
			ssize_t n = send(s->fd, s->wbuf, s->wlen, MSG_NOSIGNAL);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return true;
			if (n < 0) {
				stream_lost(io, k, ICE_STREAM_CLOSED, strerror(errno));
				return false;
			}
			put = (size_t)n;
		}
		memmove(s->wbuf, s->wbuf + put, s->wlen - put);
		s->wlen -= put;
	}
	return true;
}

static void stream_write(struct ice_io *io, unsigned k, const uint8_t *p, size_t len)
{
	if (k >= ICE_GATHER_RELAYS_MAX)
		return;
	struct ice_io_stream *s = &io->st[k];
	if (s->fd < 0 || s->connecting || s->handshaking)
		return;
	if (s->transport == STUN_URI_UDP) {
		if (send(s->fd, p, len, 0) < 0 && errno == ECONNREFUSED)
			stream_refused(io, k);
		return;
	}
	if (s->wlen + len > WBUF_MAX) {
		stream_lost(io, k, ICE_STREAM_CLOSED, "output queue full");
		return;
	}
	if (!s->wbuf)
		s->wbuf = malloc(WBUF_MAX);
	if (!s->wbuf) {
		stream_lost(io, k, ICE_STREAM_CLOSED, "out of memory");
		return;
	}
	memcpy(s->wbuf + s->wlen, p, len);
	s->wlen += len;
	stream_flush(io, k);
}

/* Carry out everything the gatherer asks now. */
static int drain(struct ice_io *io)
{
	for (int guard = 0; guard < 10000; guard++) {
		struct ice_gather_out o;
		int rc = ice_gather_poll(io->g, now_ms(io), io->buf, sizeof io->buf, &o);
		if (rc)
			return rc;
		switch (o.type) {
		case ICE_OUT_NONE:
			return 0;
		case ICE_OUT_DATAGRAM:
			if (o.sock >= 0 && (size_t)o.sock < io->n_hosts)
				(void)sendto(io->host_fd[o.sock], io->buf, o.len, 0, &o.to.u.sa,
					     o.to.len);
			break;
		case ICE_OUT_OPEN:
			stream_open(io, &o);
			break;
		case ICE_OUT_STREAM:
			stream_write(io, o.stream, io->buf, o.len);
			break;
		case ICE_OUT_CLOSE:
			if (o.stream < ICE_GATHER_RELAYS_MAX) {
				vlog(io, "closed", o.stream, NULL);
				stream_close(io, o.stream);
			}
			break;
		}
	}
	return 0;
}

/* ICMP errors queued on a host socket (IP_RECVERR). */
static void host_errors(struct ice_io *io, size_t i)
{
	for (int n = 0; n < 64; n++) {
		struct sockaddr_storage to;
		char ctl[512];
		uint8_t dummy[64];
		struct iovec iov = { dummy, sizeof dummy };
		struct msghdr m = { .msg_name = &to, .msg_namelen = sizeof to, .msg_iov = &iov,
				    .msg_iovlen = 1, .msg_control = ctl,
				    .msg_controllen = sizeof ctl };
		if (recvmsg(io->host_fd[i], &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR;
			bool v6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR;
			if (!v4 && !v6)
				continue;
			struct sock_extended_err ee;
			memcpy(&ee, CMSG_DATA(c), sizeof ee);
			if (ee.ee_origin != SO_EE_ORIGIN_ICMP && ee.ee_origin != SO_EE_ORIGIN_ICMP6)
				continue;
			struct pbx_addr a;
			if (pbx_addr_from_sockaddr(&a, (struct sockaddr *)&to, m.msg_namelen))
				continue;
			if (io->verbose) {
				char t[64];
				pbx_addr_format(&a, t, sizeof t);
				fprintf(io->verbose, "%6lld ms  %sICMP type %u code %u for %s\n",
					(long long)now_ms(io), io->tag, ee.ee_type, ee.ee_code, t);
			}
			ice_gather_icmp(io->g, (int)i, &a, ee.ee_type, ee.ee_code, now_ms(io));
			if (io->on_icmp)
				io->on_icmp(io->arg, (int)i, &a, ee.ee_type, ee.ee_code);
		}
	}
}

static void host_input(struct ice_io *io, size_t i)
{
	for (int n = 0; n < 64; n++) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof from;
		ssize_t r = recvfrom(io->host_fd[i], io->buf, sizeof io->buf, MSG_DONTWAIT,
				     (struct sockaddr *)&from, &fl);
		if (r < 0) {
			if (errno != EAGAIN && errno != EINTR)
				host_errors(io, i);
			return;
		}
		struct pbx_addr a;
		struct ice_gather_in in;
		if (pbx_addr_from_sockaddr(&a, (struct sockaddr *)&from, fl) != 0)
			continue;
		ice_gather_datagram(io->g, (int)i, &a, io->buf, (size_t)r, now_ms(io), &in);
		if (!io->on_packet)
			continue;
		if (in.dropped)
			io->on_packet(io->arg, (int)i, &a, io->buf, (size_t)r);
		else if (in.relay >= 0 && in.turn.data && !in.turn.icmp)
			io->on_packet(io->arg, ICE_IO_RELAY_SOCK(in.relay), &in.turn.peer, in.turn.p,
				      in.turn.len);
	}
}

static void stream_feed(struct ice_io *io, unsigned k, const uint8_t *p, size_t n)
{
	size_t off = 0;
	while (off < n && io->st[k].fd >= 0) {
		struct ice_gather_in in;
		int rc = ice_gather_stream_input(io->g, k, p + off, n - off, now_ms(io), &in);
		if (rc == PBX_E_MALFORMED) {
			stream_lost(io, k, ICE_STREAM_CLOSED, "lost framing");
			return;
		}
		if (rc || in.used == 0)
			return;
		off += in.used;
		if (io->on_packet && in.relay >= 0 && in.turn.data && !in.turn.icmp)
			io->on_packet(io->arg, ICE_IO_RELAY_SOCK(in.relay), &in.turn.peer, in.turn.p,
				      in.turn.len);
	}
}

static void stream_input(struct ice_io *io, unsigned k)
{
	struct ice_io_stream *s = &io->st[k];
	if (s->tls) {
		do {
			size_t got = 0;
			int rc = pbx_tls_read(s->tls, io->buf, sizeof io->buf, &got);
			if (rc == -EAGAIN)
				return;
			if (rc || got == 0) {
				stream_lost(io, k, ICE_STREAM_CLOSED, rc ? pbx_tls_error(s->tls)
									 : "end of stream");
				return;
			}
			stream_feed(io, k, io->buf, got);
		} while (s->tls && pbx_tls_pending(s->tls) > 0);
		return;
	}
	ssize_t r = recv(s->fd, io->buf, sizeof io->buf, MSG_DONTWAIT);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (s->transport == STUN_URI_UDP) {
		if (r < 0 && errno == ECONNREFUSED)
			stream_refused(io, k);
		else if (r > 0)
			stream_feed(io, k, io->buf, (size_t)r);
		return;
	}
	if (r <= 0) {
		stream_lost(io, k, ICE_STREAM_CLOSED, r < 0 ? strerror(errno) : "end of stream");
		return;
	}
	stream_feed(io, k, io->buf, (size_t)r);
}

static void stream_ready(struct ice_io *io, unsigned k, short rev)
{
	struct ice_io_stream *s = &io->st[k];
	if (s->connecting) {
		int err = 0;
		socklen_t len = sizeof err;
		getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err == 0 && (rev & POLLOUT))
			connected(io, k);
		else if (err)
			stream_lost(io, k, err == ETIMEDOUT ? ICE_STREAM_TIMEOUT : ICE_STREAM_REFUSED,
				    strerror(err));
		return;
	}
	if (s->handshaking) {
		tls_step(io, k);
		return;
	}
	if ((rev & POLLOUT) && !stream_flush(io, k))
		return;
	if (rev & (POLLIN | POLLERR | POLLHUP))
		stream_input(io, k);
}

#define POLL_MAX (ICE_GATHER_HOSTS_MAX + ICE_GATHER_RELAYS_MAX + 1)

/* io's descriptors into p and who (from *n on); *wait becomes 0 when a
 * TLS session holds bytes already read. */
static void poll_fill(struct ice_io *io, struct pollfd *p, int *who, nfds_t *n, int *wait)
{
	if (io->extra_fd >= 0) {
		p[*n] = (struct pollfd){ io->extra_fd, POLLIN, 0 };
		who[(*n)++] = INT32_MIN;
	}
	for (size_t i = 0; i < io->n_hosts; i++) {
		p[*n] = (struct pollfd){ io->host_fd[i], POLLIN, 0 };
		who[(*n)++] = -1 - (int)i;
	}
	for (unsigned k = 0; k < ICE_GATHER_RELAYS_MAX; k++) {
		struct ice_io_stream *s = &io->st[k];
		if (s->fd < 0)
			continue;
		short ev = POLLIN;
		if (s->connecting)
			ev = POLLOUT;
		else if (s->handshaking)
			ev = pbx_tls_want_write(s->tls) ? POLLOUT : POLLIN;
		else if (s->wlen > 0)
			ev |= POLLOUT;
		if (s->tls && !s->handshaking && pbx_tls_pending(s->tls) > 0)
			*wait = 0;
		p[*n] = (struct pollfd){ s->fd, ev, 0 };
		who[(*n)++] = (int)k;
	}
}

/* What poll() found on io's descriptors (n of them from p). */
static void poll_dispatch(struct ice_io *io, const struct pollfd *p, const int *who, nfds_t n)
{
	for (nfds_t i = 0; i < n; i++) {
		if (who[i] == INT32_MIN) {
			if (p[i].revents)
				io->extra_ready = true;
			continue;
		}
		if (who[i] < 0) {
			size_t h = (size_t)(-1 - who[i]);
			if (p[i].revents & POLLERR)
				host_errors(io, h);
			if (p[i].revents & POLLIN)
				host_input(io, h);
			continue;
		}
		unsigned k = (unsigned)who[i];
		struct ice_io_stream *s = &io->st[k];
		if (s->fd != p[i].fd)
			continue;
		short rev = p[i].revents;
		if (s->tls && !s->handshaking && pbx_tls_pending(s->tls) > 0)
			rev |= POLLIN;
		if (rev)
			stream_ready(io, k, rev);
	}
}

/* One poll() of at most wait ms, and what came. */
static void wait_once(struct ice_io *io, int wait)
{
	struct pollfd p[POLL_MAX];
	int who[POLL_MAX];
	nfds_t n = 0;
	poll_fill(io, p, who, &n, &wait);
	if (poll(p, n, wait) < 0)
		return;
	poll_dispatch(io, p, who, n);
}

int ice_io_start(struct ice_io *io)
{
	io->t0 = ice_io_clock();
	return ice_gather_start(io->g, 0);
}

int64_t ice_io_now(const struct ice_io *io)
{
	return now_ms(io);
}

int ice_io_step(struct ice_io *io, int64_t until_ms)
{
	int rc = drain(io);
	if (rc)
		return rc;
	int64_t now = now_ms(io);
	int64_t until = now + POLL_SLICE_MS;
	int64_t dl = ice_gather_deadline(io->g);
	if (dl >= 0 && dl < until)
		until = dl;
	if (until_ms < until)
		until = until_ms;
	wait_once(io, until > now ? (int)(until - now) : 0);
	return drain(io);
}

int ice_io_step_many(struct ice_io *const *ios, size_t n, int64_t until_ms)
{
	if (n == 0 || n > ICE_IO_MANY_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int rc = drain(ios[i]);
		if (rc)
			return rc;
	}
	int64_t now = now_ms(ios[0]);
	int64_t until = now + POLL_SLICE_MS;
	for (size_t i = 0; i < n; i++) {
		int64_t dl = ice_gather_deadline(ios[i]->g);
		if (dl >= 0) { /* on ios[0]'s clock */
			dl += ios[i]->t0 - ios[0]->t0;
			if (dl < until)
				until = dl;
		}
	}
	if (until_ms < until)
		until = until_ms;
	int wait = until > now ? (int)(until - now) : 0;
	struct pollfd p[ICE_IO_MANY_MAX * POLL_MAX];
	int who[ICE_IO_MANY_MAX * POLL_MAX];
	nfds_t first[ICE_IO_MANY_MAX + 1], k = 0;
	for (size_t i = 0; i < n; i++) {
		first[i] = k;
		poll_fill(ios[i], p, who, &k, &wait);
	}
	first[n] = k;
	if (poll(p, k, wait) >= 0)
		for (size_t i = 0; i < n; i++)
			poll_dispatch(ios[i], p + first[i], who + first[i], first[i + 1] - first[i]);
	for (size_t i = 0; i < n; i++) {
		int rc = drain(ios[i]);
		if (rc)
			return rc;
	}
	return 0;
}

/* The relay's path to its server: a host socket (*sock >= 0) and the
 * server's address, or its stream (*sock -1). */
static bool relay_route(struct ice_io *io, int r, int *sock, struct pbx_addr *to)
{
	for (size_t i = 0; i < ice_gather_n_cands(io->g); i++) {
		const struct ice_gathered *x = ice_gather_cand(io->g, i);
		if (x->cand.type != ICE_RELAY || x->relay != r || x->server < 0)
			continue;
		*sock = x->sock;
		*to = io->servers[x->server].addr;
		return true;
	}
	return false;
}

int ice_io_send(struct ice_io *io, int sock, const struct pbx_addr *to, const void *p,
		size_t len)
{
	if (sock >= 0 && (size_t)sock < io->n_hosts) {
		if (io->host_fd[sock] < 0)
			return -EBADF;
		if (sendto(io->host_fd[sock], p, len, 0, &to->u.sa, to->len) < 0)
			return -errno;
		return 0;
	}
	int r = sock - ICE_IO_RELAY_BASE;
	struct turn_client *tc = ice_gather_relay(io->g, r);
	int hs;
	struct pbx_addr server;
	if (!tc || !relay_route(io, r, &hs, &server))
		return -ENOENT;
	int64_t now = now_ms(io);
	enum turn_peer_state ps = turn_client_permission(tc, to, NULL);
	if (ps == TURN_P_NONE || ps == TURN_P_FAILED)
		(void)turn_client_permit(tc, to, now);
	uint8_t out[ICE_GATHER_PACKET_MAX + 128];
	size_t n = 0;
	int rc = turn_client_send(tc, to, p, len, out, sizeof out, &n);
	if (rc)
		return rc;
	if (hs >= 0 && (size_t)hs < io->n_hosts && io->host_fd[hs] >= 0)
		(void)sendto(io->host_fd[hs], out, n, 0, &server.u.sa, server.len);
	else if (hs < 0)
		stream_write(io, (unsigned)r, out, n);
	return 0;
}

void ice_io_release(struct ice_io *io)
{
	int64_t now = now_ms(io);
	if (!io->releasing) {
		if (io->verbose)
			fprintf(io->verbose, "%6lld ms  %sreleasing\n", (long long)now, io->tag);
		ice_gather_release(io->g, now);
		io->releasing = true;
		io->release_end = now + ICE_GATHER_RELEASE_MS + 500;
	}
	io->extra_fd = -1;
	for (;;) {
		if (drain(io))
			break;
		now = now_ms(io);
		if (ice_gather_released(io->g) || now >= io->release_end)
			break;
		int64_t until = now + POLL_SLICE_MS;
		int64_t dl = ice_gather_deadline(io->g);
		if (dl >= 0 && dl < until)
			until = dl;
		if (io->release_end < until)
			until = io->release_end;
		wait_once(io, until > now ? (int)(until - now) : 0);
	}
	ice_io_close(io);
}

int ice_io_run(struct ice_io *io, volatile sig_atomic_t *stop, int64_t limit_ms,
	       bool *aborted)
{
	*aborted = false;
	int rc = ice_io_start(io);
	if (rc)
		return rc;
	for (;;) {
		rc = drain(io);
		if (rc)
			break;
		int64_t now = now_ms(io);
		bool over = (stop && *stop) || (limit_ms >= 0 && now >= limit_ms);
		if (ice_gather_done(io->g) || over) {
			*aborted = over && !ice_gather_done(io->g);
			if (*aborted && io->verbose)
				fprintf(io->verbose, "%6lld ms  %saborted\n", (long long)now, io->tag);
			break;
		}
		rc = ice_io_step(io, limit_ms >= 0 ? limit_ms : now + POLL_SLICE_MS);
		if (rc)
			break;
	}
	ice_io_release(io);
	return rc;
}

void ice_io_close(struct ice_io *io)
{
	for (unsigned k = 0; k < ICE_GATHER_RELAYS_MAX; k++)
		stream_close(io, k);
	for (size_t i = 0; i < io->n_hosts; i++) {
		if (io->host_fd[i] >= 0)
			close(io->host_fd[i]);
		io->host_fd[i] = -1;
	}
	io->n_hosts = 0;
}
