/* relay.c - moving bytes between the client and the target: bounded
 * buffers read from one side and written to the other (through TLS where a
 * side has it), and splice(2) through a pipe when both sides are plain, so
 * that bulk bodies and tunnels never pass through user space. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"

#define SPLICE_CHUNK (256 * 1024)

void *pool_get(struct buf_pool *p, size_t size)
{
	for (int k = 0; k < 2; k++)
		if (p->size[k] == size && p->n[k])
			return p->free[k][--p->n[k]];
	return malloc(size);
}

void pool_put(struct buf_pool *p, void *buf, size_t size)
{
	if (!buf)
		return;
	for (int k = 0; k < 2; k++) {
		/* A class takes the first size it sees; a new size (the
		 * setting changed) replaces the class that is empty. */
		if (p->size[k] != size && p->n[k] == 0)
			p->size[k] = size;
		if (p->size[k] == size) {
			if (p->n[k] < POOL_KEEP) {
				p->free[k][p->n[k]++] = buf;
				return;
			}
			break;
		}
	}
	free(buf);
}

void pool_free(struct buf_pool *p)
{
	for (int k = 0; k < 2; k++)
		while (p->n[k])
			free(p->free[k][--p->n[k]]);
}

void flow_init(struct flow *f, struct buf_pool *pool, struct side *src, struct side *dst,
	       size_t in_cap, size_t out_cap)
{
	memset(f, 0, sizeof *f);
	f->pool = pool;
	f->src = src;
	f->dst = dst;
	f->pipe[0] = f->pipe[1] = -1;
	f->in_cap = in_cap;
	f->out_cap = out_cap;
}

/* Buffers exist only while they hold bytes: a phone's SIP connection is
 * idle most of its life, and thousands of them should not each keep
 * their buffers allocated. */
static bool flow_have_in(struct flow *f)
{
	return f->in || (f->in = pool_get(f->pool, f->in_cap));
}

static bool flow_have_out(struct flow *f)
{
	return f->out || (f->out = pool_get(f->pool, f->out_cap));
}

void flow_release(struct flow *f)
{
	if (f->in && !f->in_len) {
		pool_put(f->pool, f->in, f->in_cap);
		f->in = NULL;
	}
	if (f->out && !f->out_len) {
		pool_put(f->pool, f->out, f->out_cap);
		f->out = NULL;
		f->out_off = 0;
	}
}

void flow_free(struct flow *f)
{
	pool_put(f->pool, f->in, f->in_cap);
	pool_put(f->pool, f->out, f->out_cap);
	f->in = f->out = NULL;
	if (f->pipe[0] >= 0)
		close(f->pipe[0]);
	if (f->pipe[1] >= 0)
		close(f->pipe[1]);
	f->pipe[0] = f->pipe[1] = -1;
}

size_t side_tls_pending(const struct side *s)
{
	return s->tls ? pbx_tls_pending(s->tls) : 0;
}

int flow_read(struct flow *f)
{
	struct side *s = f->src;
	/* Nothing to ask the socket for: it has not said it is readable
	 * since it last ran dry, and the session holds nothing decrypted. */
	if (!s->readable && !(s->tls && (s->read_wants_write || pbx_tls_pending(s->tls))))
		return 0;
	s->read_wants_write = false;
	if (!flow_have_in(f))
		return -ENOMEM;
	while (!s->eof && f->in_len < f->in_cap) {
		size_t got = 0;
		if (s->tls) {
			int rc = pbx_tls_read(s->tls, f->in + f->in_len, f->in_cap - f->in_len, &got);
			if (rc == -EAGAIN) {
				s->read_wants_write = pbx_tls_want_write(s->tls);
				s->readable = false;
				return 0;
			}
			if (rc)
				return rc;
		} else {
			ssize_t r = recv(s->fd, f->in + f->in_len, f->in_cap - f->in_len, 0);
			if (r < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK) {
					s->readable = false;
					return 0;
				}
				if (errno == EINTR)
					continue;
				return -errno;
			}
			got = (size_t)r;
		}
		if (got == 0) {
			s->eof = true;
			return 0;
		}
		f->in_len += got;
		/* One read per wake-up for plain sockets keeps the loop fair;
		 * a short read means the socket ran dry (level-triggered
		 * events bring us back if it did not).  TLS may hold more
		 * records decrypted. */
		if (!s->tls) {
			if (f->in_len < f->in_cap)
				s->readable = false;
			return 0;
		}
	}
	return 0;
}

static int write_some(struct side *s, const uint8_t *p, size_t n, size_t *put)
{
	*put = 0;
	s->write_wants_read = false;
	if (s->tls) {
		int rc = pbx_tls_write(s->tls, p, n, put);
		if (rc == -EAGAIN) {
			s->write_wants_read = !pbx_tls_want_write(s->tls);
			return 0;
		}
		return rc;
	}
	for (;;) {
		ssize_t w = send(s->fd, p, n, MSG_NOSIGNAL);
		if (w >= 0) {
			*put = (size_t)w;
			return 0;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

int flow_write(struct flow *f)
{
	struct side *d = f->dst;
	if (d->shut || d->fd < 0)
		return 0;
	/* The pipe first: splicing starts only with the buffer empty, so
	 * what the pipe holds is older than anything emitted since (the
	 * next message's head, a refusal). */
	while (f->piped) {
		ssize_t w = splice(f->pipe[0], NULL, d->fd, NULL, f->piped,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (w < 0) {
			if (errno == EAGAIN)
				return 0;
			if (errno == EINTR)
				continue;
			return -errno;
		}
		f->piped -= (size_t)w;
		f->bytes += (size_t)w;
	}
	while (f->out_len) {
		size_t put;
		int rc = write_some(d, f->out + f->out_off, f->out_len, &put);
		if (rc)
			return rc;
		if (!put)
			return 0;
		f->out_off += put;
		f->out_len -= put;
		f->bytes += put;
	}
	f->out_off = 0;
	return 0;
}

size_t flow_pending_out(const struct flow *f)
{
	return f->out_len + f->piped;
}

bool flow_emit(struct flow *f, const void *p, size_t n)
{
	if (!n)
		return true;
	if (!flow_have_out(f))
		return false;
	if (f->out_off && f->out_cap - f->out_off - f->out_len < n) {
		memmove(f->out, f->out + f->out_off, f->out_len);
		f->out_off = 0;
	}
	if (f->out_cap - f->out_off - f->out_len < n)
		return false;
	memcpy(f->out + f->out_off + f->out_len, p, n);
	f->out_len += n;
	return true;
}

void flow_consume(struct flow *f, size_t n)
{
	if (n >= f->in_len) {
		f->in_len = 0;
		return;
	}
	memmove(f->in, f->in + n, f->in_len - n);
	f->in_len -= n;
}

bool flow_can_splice(const struct flow *f)
{
	return !f->src->tls && !f->dst->tls && f->in_len == 0 && f->out_len == 0 &&
	       f->dst->fd >= 0 && !f->dst->shut &&
	       (f->st == F_LENGTH || f->st == F_CLOSE || f->st == F_TUNNEL);
}

int flow_splice(struct flow *f)
{
	if (!flow_can_splice(f) || f->src->eof || !f->src->readable)
		return 0;
	if (f->pipe[0] < 0 && pipe2(f->pipe, O_NONBLOCK | O_CLOEXEC))
		return 0; /* out of descriptors: fall back to copying */
	size_t want = SPLICE_CHUNK;
	if (f->st == F_LENGTH && f->left < want)
		want = (size_t)f->left;
	if (want == 0 || f->piped)
		return 0;
	for (;;) {
		ssize_t r = splice(f->src->fd, NULL, f->pipe[1], NULL, want,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (r < 0) {
			if (errno == EAGAIN) {
				f->src->readable = false;
				return 0;
			}
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0) {
			f->src->eof = true;
			return 0;
		}
		f->piped += (size_t)r;
		/* The caller sees left reach 0 and ends the message. */
		if (f->st == F_LENGTH)
			f->left -= (uint64_t)r;
		return flow_write(f);
	}
}
