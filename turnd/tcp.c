/* tcp.c - TURN over TCP and TLS (RFC 8656 section 3.1, "turn:" with
 * transport=tcp and "turns:"): connections accepted past the blacklist,
 * each framed STUN message or padded ChannelData (section 11.5) handled,
 * one allocation per connection that ends with it.  The stream itself
 * (TLS, framing, buffers, idle timeout) is lib's (stream.h); its output
 * buffer is bounded: relayed data that does not fit while the client is
 * slow to read is dropped and counted, as UDP would lose it. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <pbxedge/log.h>

#include "turnd.h"

#define IN_MAX (2 * (TURND_UDP_MAX + TURND_HEADROOM))
#define OUT_MAX (64 * 1024)
#define IDLE_S 60                   /* without an allocation */
#define READS_PER_WAKE 16

struct conn {
	struct turnd_worker *tw;
	struct pbx_stream *s;
	struct turnd_from from;
	struct alloc *alloc;
};

void conn_alloc_gone(struct conn *c)
{
	c->alloc = NULL;
	/* Without its allocation the connection idles out again. */
	pbx_stream_touch(c->s);
}

void conn_send(struct conn *c, const void *p, size_t len)
{
	if (pbx_stream_send(c->s, p, len) == PBX_E_NOSPACE)
		c->tw->count[C_DROP_STREAM_FULL]++;
}

static void *on_accept(void *arg, struct pbx_stream *st)
{
	struct turnd_sock *s = arg;
	struct turnd_worker *tw = s->tw;
	struct turnd_ctx *ctx = pbx_worker_ctx(tw->w);
	const struct store_snapshot *snap = pbx_worker_snapshot(tw->w);
	struct conn *c = NULL;

	if (!udp_source_ok(tw, pbx_stream_peer(st), snap, ctx, store_now()))
		tw->count[C_DROP_BLACKLISTED]++;
	else if (tw->conns.n >= TURND_MAX_CONNS || !(c = calloc(1, sizeof *c)))
		tw->count[C_CONN_REFUSED]++;
	else
		tw->count[C_CONN_ACCEPTED]++;
	if (c) {
		c->tw = tw;
		c->s = st;
		c->from.t = s->t;
		c->from.sock = s;
		c->from.conn = c;
		c->from.client = *pbx_stream_peer(st);
		c->from.local = *pbx_stream_local(st);
	}
	worker_flush_counts(tw);
	return c;
}

static struct pbx_tls_creds *on_creds(void *arg)
{
	struct turnd_sock *s = arg;
	struct turnd_ctx *ctx = pbx_worker_ctx(s->tw->w);
	return ctx->tls.creds;
}

static void on_message(void *conn, struct pbx_stream *st, enum stun_frame_kind kind,
		       const uint8_t *p, size_t len)
{
	struct conn *c = conn;
	struct turnd_worker *tw = c->tw;
	(void)st;
	if (kind == STUN_FRAME_CHANDATA) {
		struct stun_chandata cd;
		if (stun_hdr_chandata_decode(p, len, STUN_CHAN_STREAM | STUN_CHAN_RFC5766, &cd)) {
			worker_drop(tw, (enum turnd_counter)(C_DROP_BASE + cd.drop),
				    &c->from.client, 0, p, len);
			return;
		}
		if (!c->alloc) {
			tw->count[C_DROP_NO_ALLOCATION]++;
			return;
		}
		relay_chandata(c->alloc, &cd, turnd_now());
		return;
	}
	struct turnd_req r = {
		.tw = tw,
		.ctx = pbx_worker_ctx(tw->w),
		.snap = pbx_worker_snapshot(tw->w),
		.now = turnd_now(),
		.unix_now = store_now(),
		.from = &c->from,
		.alloc = c->alloc,
		.buf = client_slot(tw),
		.cap = TURND_ANSWER_MAX,
	};
	request_message(&r, p, len);
	if (r.alloc && !c->alloc) {
		c->alloc = r.alloc;
		c->alloc->conn = c;
	} else if (!r.alloc) {
		c->alloc = NULL; /* Refresh 0 ended it */
	}
	if (r.len)
		conn_send(c, r.buf, r.len);
}

/* The stream lost its framing: nothing after can be trusted. */
static const char *on_lost(void *conn, struct pbx_stream *st, const struct stun_frame *f,
			   size_t off, const uint8_t *p, size_t len)
{
	struct conn *c = conn;
	enum turnd_counter d = (enum turnd_counter)(C_DROP_BASE + f->drop);
	(void)st;
	worker_drop(c->tw, d, &c->from.client, off, p, len);
	return worker_counter_name(d);
}

static void on_handled(void *conn)
{
	struct conn *c = conn;
	out_flush(c->tw);
}

static unsigned on_idle_s(void *conn)
{
	struct conn *c = conn;
	return c->alloc ? 0 : IDLE_S; /* the allocation's lifetime rules */
}

static void on_closed(void *conn, struct pbx_stream *st, const char *outcome)
{
	struct conn *c = conn;
	struct turnd_worker *tw = c->tw;
	if (c->alloc) {
		struct alloc *a = c->alloc;
		c->alloc = NULL;
		a->conn = NULL;
		alloc_free(a, "connection-closed");
	}
	if (pbx_stream_tls_failed(st))
		tw->count[C_TLS_FAILED]++;
	pbx_log_info("connection client=%s transport=%s outcome=%s", pbx_stream_peer_text(st),
		     c->from.t == T_TLS ? "tls" : "tcp", outcome);
	tw->count[C_CONN_CLOSED]++;
	free(c);
}

static const struct pbx_stream_ops stream_ops = {
	.accept = on_accept,
	.creds = on_creds,
	.message = on_message,
	.lost = on_lost,
	.handled = on_handled,
	.idle_s = on_idle_s,
	.closed = on_closed,
};

int tcp_open(struct turnd_sock *s)
{
	const struct pbx_stream_conf conf = {
		.frame_max = TURND_UDP_MAX,
		.in_max = IN_MAX,
		.out_max = OUT_MAX,
		.frame_flags = STUN_CHAN_RFC5766,
		.chandata = true,
		.reads_per_wake = READS_PER_WAKE,
		.eof_closes = true,
		.tls = s->t == T_TLS,
		.tls_hint = "turnd.tls-cert, turnd.tls-key",
	};
	int rc = out_init(s->tw);
	if (rc)
		return rc;
	int fd = s->fd;
	s->fd = -1; /* the listener's now */
	return pbx_stream_listen(pbx_worker_base(s->tw->w), &s->tw->conns, fd, &s->addr, &conf,
				 &stream_ops, s, &s->listener);
}

void tcp_close(struct turnd_sock *s)
{
	struct turnd_worker *tw = s->tw;
	const struct pbx_stream_listener *l = s->listener;
	pbx_stream_listener_free(s->listener);
	s->listener = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	/* Connections accepted here end with their listener. */
	if (l)
		pbx_stream_group_close(&tw->conns, l, "listener-closed");
}

void tcp_close_all(struct turnd_worker *tw)
{
	pbx_stream_group_close(&tw->conns, NULL, "stopping");
}
