/* tcp.c - STUN over TCP and TLS (RFC 8489 sections 6.2.2 and 6.2.3):
 * connections accepted with a per-source limit and the blacklist, and
 * each framed message answered in order.  The stream itself (TLS, bounded
 * buffers, a client that does not read its answers is not read either,
 * the idle timeout) is lib's (stream.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pbxedge/log.h>

#include "stund.h"

struct conn {
	struct stund_worker *sw;
	struct stund_ctx *ctx;      /* reference: TLS credentials, limits */
	enum stund_transport t;
	enum stund_role role;
	unsigned answered;
};

static const char *const transport_name[] = { "udp", "tcp", "tls" };

static void *on_accept(void *arg, struct pbx_stream *st)
{
	struct stund_sock *s = arg;
	struct stund_worker *sw = s->sw;
	struct stund_ctx *ctx = pbx_worker_ctx(sw->w);
	const struct store_snapshot *snap = pbx_worker_snapshot(sw->w);
	const struct pbx_addr *peer = pbx_stream_peer(st);
	struct pbx_cidr entry;

	if (store_snapshot_blacklist_entry(snap, peer, store_now(), &entry)) {
		store_writer_hit(pbx_worker_writer(sw->w), &entry, 1);
		pbx_worker_count(sw->w, C_DROP_BLACKLISTED, 1);
		worker_drop(sw, C_DROP_BLACKLISTED, peer, 0, NULL, 0);
		return NULL;
	}
	if (sw->conns.n >= STUND_MAX_CONNS ||
	    !limit_conn_open(ctx->limit, peer,
			     (unsigned)snap->setting_int[STORE_SET_STUND_TCP_PER_SOURCE])) {
		pbx_worker_count(sw->w, C_CONN_REFUSED, 1);
		worker_drop(sw, C_CONN_REFUSED, peer, 0, NULL, 0);
		return NULL;
	}
	struct conn *c = calloc(1, sizeof *c);
	if (!c) {
		limit_conn_close(ctx->limit, peer);
		return NULL;
	}
	c->sw = sw;
	c->ctx = ctx;
	stund_ctx_ref(ctx);
	c->t = s->t;
	c->role = s->role;
	pbx_worker_session_begin(sw->w);
	pbx_worker_count(sw->w, C_CONN_ACCEPTED, 1);
	return c;
}

static struct pbx_tls_creds *on_creds(void *arg)
{
	struct stund_sock *s = arg;
	struct stund_ctx *ctx = pbx_worker_ctx(s->sw->w);
	return ctx->tls.creds;
}

/* One framed STUN message: rate limit, then the answer. */
static void on_message(void *conn, struct pbx_stream *st, enum stun_frame_kind kind,
		       const uint8_t *p, size_t len)
{
	struct conn *c = conn;
	struct stund_worker *sw = c->sw;
	const struct store_snapshot *snap = pbx_worker_snapshot(sw->w);
	const struct pbx_addr *peer = pbx_stream_peer(st);
	int64_t now_ms = stund_now_ms();
	(void)kind;

	if (!limit_take(c->ctx->limit, peer, (uint64_t)now_ms,
			(uint32_t)snap->setting_int[STORE_SET_STUND_RATE_PER_SECOND],
			(uint32_t)snap->setting_int[STORE_SET_STUND_RATE_BURST])) {
		pbx_worker_count(sw->w, C_DROP_RATE, 1);
		worker_drop(sw, C_DROP_RATE, peer, 0, p, len);
		return;
	}
	struct stund_req req = {
		.t = c->t,
		.peer = peer,
		.local = pbx_stream_local(st),
		.role = c->role,
		.software = snap->setting_str[STORE_SET_STUND_SOFTWARE],
	};
	if (c->t == T_TCP)
		for (int r = 0; r < R_COUNT; r++)
			req.from[r] = sw->tcp[r] ? &sw->tcp[r]->addr : NULL;
	req.from[c->role] = pbx_stream_local(st);
	struct stund_answer a;
	uint8_t out[STUND_ANSWER_MAX];
	answer_message(p, len, &req, out, sizeof out, &a);
	if (a.len == 0) {
		if (a.counter >= 0)
			pbx_worker_count(sw->w, (size_t)a.counter, 1);
		if (a.dropped)
			worker_drop(sw, (enum stund_counter)a.counter, peer, a.drop_off, p, len);
		return;
	}
	/* Fits: the stream takes a message only with STUND_ANSWER_MAX free. */
	if (pbx_stream_send(st, out, a.len))
		return;
	c->answered++;
	pbx_worker_count(sw->w, c->t == T_TLS ? C_ANSWERED_TLS : C_ANSWERED_TCP, 1);
	if (a.error)
		pbx_worker_count(sw->w, C_ERRORS, 1);
}

/* The stream lost its framing (or carries ChannelData, which needs a
 * TURN server). */
static const char *on_lost(void *conn, struct pbx_stream *st, const struct stun_frame *f,
			   size_t off, const uint8_t *p, size_t len)
{
	struct conn *c = conn;
	enum stund_counter d = C_DROP_BASE + (f->kind == STUN_FRAME_GARBAGE ? f->drop
									: STUN_DROP_NOT_STUN);
	pbx_worker_count(c->sw->w, d, 1);
	worker_drop(c->sw, d, pbx_stream_peer(st), off, p, len);
	return worker_counter_name(d);
}

static unsigned on_idle_s(void *conn)
{
	struct conn *c = conn;
	const struct store_snapshot *snap = pbx_worker_snapshot(c->sw->w);
	return (unsigned)snap->setting_int[STORE_SET_STUND_TCP_IDLE_S];
}

static void on_closed(void *conn, struct pbx_stream *st, const char *outcome)
{
	struct conn *c = conn;
	struct stund_worker *sw = c->sw;
	if (pbx_stream_tls_failed(st))
		pbx_worker_count(sw->w, C_TLS_FAILED, 1);
	else if (strcmp(outcome, "idle") == 0)
		pbx_worker_count(sw->w, C_CONN_IDLE, 1);
	pbx_log_info("connection client=%s transport=%s answered=%u outcome=%s",
		     pbx_stream_peer_text(st), transport_name[c->t], c->answered, outcome);
	limit_conn_close(c->ctx->limit, pbx_stream_peer(st));
	stund_ctx_unref(c->ctx);
	pbx_worker_session_end(sw->w);
	free(c);
}

static const struct pbx_stream_ops stream_ops = {
	.accept = on_accept,
	.creds = on_creds,
	.message = on_message,
	.lost = on_lost,
	.idle_s = on_idle_s,
	.closed = on_closed,
};

int tcp_open(struct stund_sock *s)
{
	const struct pbx_stream_conf conf = {
		.frame_max = STUND_FRAME_MAX,
		.in_max = 2 * STUND_FRAME_MAX,
		.out_max = 2 * STUND_ANSWER_MAX,
		.out_reserve = STUND_ANSWER_MAX,
		.tls = s->t == T_TLS,
		.tls_hint = "stund.tls-cert, stund.tls-key",
	};
	int fd = s->fd;
	s->fd = -1; /* the listener's now */
	return pbx_stream_listen(pbx_worker_base(s->sw->w), &s->sw->conns, fd, &s->addr, &conf,
				 &stream_ops, s, &s->listener);
}

void tcp_close(struct stund_sock *s)
{
	struct stund_worker *sw = s->sw;
	pbx_stream_listener_free(s->listener);
	s->listener = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	/* Draining: connections with nothing left to send go now; the
	 * others once their answers are out. */
	if (pbx_worker_draining(sw->w))
		pbx_stream_group_drain(&sw->conns);
}

void tcp_close_all(struct stund_worker *sw)
{
	pbx_stream_group_close(&sw->conns, NULL, "stopping");
}
