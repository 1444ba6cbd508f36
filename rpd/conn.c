/* conn.c - one reverse-proxy connection from accept to close: blacklist
 * check, TLS with the client, inspection of every message (the inspector
 * of the listener's family, looked up once: this file names no protocol),
 * routing, the connection to the target (TLS or not), relaying with
 * continued inspection both ways, refusals, fraud counting and the log
 * line that sums the connection up. */
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <pbxedge/log.h>

#include "conn.h"

#define CONNECT_TIMEOUT_MS 5000
#define REFUSE_LINGER_MS 2000
#define DRAIN_MAX_MS 2000     /* earlier answers before a refusal */
#define IDLE_LOCKSTEP_MS (120 * 1000)  /* HTTP keep-alive */
#define IDLE_STREAM_MS (3600 * 1000)   /* SIP, LDAP: long-lived by design */
#define EXCERPT_BYTES 160
#define PUMP_ROUNDS 16

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pump(struct conn *c);

static void set_phase(struct conn *c, enum conn_phase p)
{
	c->phase = p;
	c->phase_ms = now_ms();
}

static void count(struct conn *c, size_t counter, uint64_t n)
{
	pbx_worker_count(c->w, counter, n);
}

static const struct store_snapshot *snap_of(struct conn *c)
{
	return pbx_worker_snapshot(c->w);
}

/* ---- events ---- */

static void on_io(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	/* Note which socket has bytes: the pump reads only those, rather
	 * than asking both and hearing EAGAIN twice per request. */
	if (what & EV_READ) {
		if (fd == c->c.fd)
			c->c.readable = true;
		else if (fd == c->t.fd)
			c->t.readable = true;
	}
	pump(c);
}

static void set_event(struct event *ev, bool *on, bool want)
{
	if (want && !*on)
		event_add(ev, NULL);
	else if (!want && *on)
		event_del(ev);
	*on = want;
}

static int side_events(struct conn *c, struct side *s)
{
	struct event_base *base = pbx_worker_base(c->w);
	s->rev = event_new(base, s->fd, EV_READ | EV_PERSIST, on_io, c);
	s->wev = event_new(base, s->fd, EV_WRITE | EV_PERSIST, on_io, c);
	return s->rev && s->wev ? 0 : -ENOMEM;
}

static void side_close(struct side *s)
{
	if (s->rev)
		event_free(s->rev);
	if (s->wev)
		event_free(s->wev);
	s->rev = s->wev = NULL;
	s->rev_on = s->wev_on = false;
	if (s->tls) {
		pbx_tls_bye(s->tls);
		pbx_tls_free(s->tls);
		s->tls = NULL;
	}
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->eof = s->shut = true;
}

static void socket_options(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
}

/* ---- the end of a connection ---- */

static void conn_free(struct conn *c)
{
	struct rpd_worker *rw = c->rw;
	if (c->prev)
		c->prev->next = c->next;
	else
		rw->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	side_close(&c->c);
	side_close(&c->t);
	flow_free(&c->up);
	flow_free(&c->down);
	if (c->timer)
		event_free(c->timer);
	free(c->drain.msg);
	free(c->istate);
	if (c->ctx)
		ctx_unref(c->ctx);
	pbx_worker_session_end(c->w);
	free(c);
}

static void log_connection(struct conn *c)
{
	count(c, C_BYTES_UP, c->up.bytes);
	count(c, C_BYTES_DOWN, c->down.bytes);
	const char *outcome = c->outcome == PBX_R_NONE ? "ok" : pbx_reason_name(c->outcome);
	pbx_log(c->outcome == PBX_R_NONE || c->outcome == PBX_R_CLIENT_CLOSED ||
			c->outcome == PBX_R_IDLE ? PBX_LOG_INFO : PBX_LOG_NOTICE,
		"connection client=%s service=%s name=%s family=%s target=%s port-rule=%s "
		"requests=%u up=%llu down=%llu duration-ms=%lld cert=%s %s=%s",
		c->client_text, store_proto_name(c->proto), c->name[0] ? c->name : "-",
		store_family_name(store_proto_family(c->proto)),
		c->target_text[0] ? c->target_text : "-",
		c->target_text[0] ? route_rule_name(c->rule) : "-", c->requests,
		(unsigned long long)c->up.bytes, (unsigned long long)c->down.bytes,
		(long long)(now_ms() - c->started_ms),
		!c->client_cert_sent ? "none" : c->client_cert_ok ? "verified" : "unverified",
		c->outcome == PBX_R_NONE ? "outcome" : "reason", outcome);
}

/* Close both sides now; the connection is freed when the pump returns. */
static void conn_end(struct conn *c, enum pbx_reason outcome)
{
	if (c->dead)
		return;
	if (c->outcome == PBX_R_NONE) {
		c->outcome = outcome;
		/* Refusals counted themselves; these endings count here. */
		if (outcome != PBX_R_NONE)
			count(c, C_REFUSED_BASE + outcome, 1);
	}
	log_connection(c);
	c->dead = true;
}

/* ---- fraud detection ---- */

/* What the client is to blame for.  Not: going away, idling, being
 * dropped for the blacklist (already counted), a broken service. */
static bool suspicious_reason(enum pbx_reason r)
{
	return r != PBX_R_NONE && r != PBX_R_CLIENT_CLOSED && r != PBX_R_BLACKLISTED &&
	       r != PBX_R_IDLE && r != PBX_R_SERVICE_MALFORMED;
}

/* Count a suspicious request from the client; blacklist the source when it
 * went over the threshold within a minute. */
static void suspicious(struct conn *c, enum pbx_reason r, const char *detail)
{
	const struct store_snapshot *s = snap_of(c);
	if (store_snapshot_whitelisted(s, &c->client)) {
		pbx_log_info("suspicious client=%s service=%s reason=%s whitelisted=yes",
			     c->client_text, store_proto_name(c->proto), pbx_reason_name(r));
		return;
	}
	int64_t now = store_now();
	unsigned n = 0;
	unsigned threshold = (unsigned)s->setting_int[STORE_SET_RPD_SUSPICIOUS_PER_MINUTE];
	count(c, C_SUSPICIOUS, 1);
	store_writer_event(pbx_worker_writer(c->w), &c->client, store_proto_name(c->proto),
			   pbx_reason_name(r), detail);
	if (!fraud_count(c->ctx->fraud->table, &c->source, now, threshold, &n))
		return;
	int64_t minutes = s->setting_int[STORE_SET_RPD_BLACKLIST_MINUTES];
	char net[PBX_CIDRSTRLEN], why[128];
	pbx_cidr_format(&c->source, net, sizeof net);
	snprintf(why, sizeof why, "%u suspicious requests within a minute (last: %s)", n,
		 pbx_reason_name(r));
	store_writer_blacklist(pbx_worker_writer(c->w), &c->source, now + minutes * 60, why);
	count(c, C_BLACKLIST_ADDED, 1);
	pbx_log_notice("blacklisted source=%s count=%u minutes=%lld reason=too-many-suspicious "
		       "last=%s", net, n, (long long)minutes, pbx_reason_name(r));
}

/* ---- refusing ---- */

/* Log, count and keep an excerpt of a refusal of the message in p (len
 * bytes; the client's, as received), and count it as suspicious when the
 * client is to blame. */
static void refusal_note(struct conn *c, enum pbx_reason r, size_t offset, const uint8_t *p,
			 size_t len)
{
	c->outcome = r;
	count(c, C_REFUSED_BASE + r, 1);
	pbx_log_info("refused client=%s service=%s name=%s%s%s reason=%s offset=%zu",
		     c->client_text, store_proto_name(c->proto), c->name[0] ? c->name : "-",
		     c->asked[0] ? " asked=" : "", c->asked, pbx_reason_name(r), offset);
	if (p && len)
		store_writer_refused(pbx_worker_writer(c->w), store_proto_name(c->proto),
				     &c->client, pbx_reason_name(r), offset, p,
				     len < EXCERPT_BYTES ? len : EXCERPT_BYTES);
	if (suspicious_reason(r))
		suspicious(c, r, c->name);
}

/* Close the target side, send the protocol's own refusal of p where it
 * has one and the stream is at a message boundary, then linger. */
static void refusal_send(struct conn *c, enum pbx_reason r, const uint8_t *p, size_t len)
{
	if (c->t.fd >= 0)
		side_close(&c->t);
	c->up.in_len = 0;
	c->down.in_len = 0;
	/* Our refusal only where the client can read it (not in the middle of
	 * a TLS handshake) and it cannot land inside a reply. */
	if (c->down.st == F_HEAD && p && c->c.fd >= 0 && c->phase != P_HANDSHAKE) {
		struct pbx_writer wr;
		pbx_writer_init(&wr, c->rw->scratch, sizeof c->rw->scratch);
		c->in->refuse(c->istate, p, len, r, &wr);
		if (!pbx_writer_error(&wr) && pbx_writer_len(&wr))
			flow_emit(&c->down, pbx_writer_data(&wr), pbx_writer_len(&wr));
	}
	/* What the client sends from now on is read and dropped, so that
	 * closing does not reset the connection before it read the refusal. */
	set_phase(c, P_REFUSING);
}

/* The deferred refusal goes out now: the earlier answers came, the
 * target failed or closed, or DRAIN_MAX_MS passed. */
static void drain_finish(struct conn *c)
{
	if (!c->drain.on)
		return;
	c->drain.on = false;
	refusal_send(c, c->drain.reason, c->drain.msg, c->drain.len);
	free(c->drain.msg);
	c->drain.msg = NULL;
	c->drain.len = 0;
}

/* Refuse the message in p outright: log, count, refuse, close. */
static void refuse(struct conn *c, enum pbx_reason r, size_t offset, const uint8_t *p,
		   size_t len)
{
	if (c->phase == P_REFUSING || c->dead)
		return;
	if (c->drain.on) {
		/* The target failed (or timed out) while earlier answers were
		 * awaited: the refusal already noted goes out now. */
		drain_finish(c);
		return;
	}
	refusal_note(c, r, offset, p, len);
	refusal_send(c, r, p, len);
}

/* Refuse a later request on a relaying connection.  Requests before it
 * (pipelined SIP, LDAP or H.225, not lockstep) may still be on their way
 * to the target, or their answers on the way back: the client gets those
 * first, within DRAIN_MAX_MS, and the refusal after them.  Meanwhile the
 * client's further bytes are dropped. */
static void refuse_later(struct conn *c, enum pbx_reason r, size_t offset, const uint8_t *p,
			 size_t len)
{
	bool pending = c->t.fd >= 0 && !c->drain.on &&
		       (c->phase == P_CONNECT || c->phase == P_TARGET_TLS ||
			(c->phase == P_RELAY && (flow_pending_out(&c->up) || c->unanswered)));
	if (!pending || c->phase == P_REFUSING || c->dead) {
		refuse(c, r, offset, p, len);
		return;
	}
	refusal_note(c, r, offset, p, len);
	c->drain.msg = p && len ? malloc(len) : NULL;
	if (c->drain.msg)
		memcpy(c->drain.msg, p, len);
	c->drain.len = c->drain.msg ? len : 0;
	c->drain.reason = r;
	c->drain.start_ms = now_ms();
	c->drain.on = true;
	c->up.in_len = 0;
	pbx_log_debug("refusal-deferred client=%s reason=%s unanswered=%u pending-bytes=%zu",
		      c->client_text, pbx_reason_name(r), c->unanswered,
		      flow_pending_out(&c->up));
}

/* Draining is over when every earlier request went out and its final
 * answer came back, whole, to the client's buffer (or the target ended). */
static bool drain_done(const struct conn *c)
{
	if (c->phase != P_RELAY)
		return false;
	if (c->t.eof && !c->down.in_len)
		return true;
	return !flow_pending_out(&c->up) && !c->unanswered && c->down.st == F_HEAD &&
	       !c->down.in_len;
}

/* ---- the target ---- */

static void target_failed(struct conn *c, int err)
{
	pbx_log_warn("target-failed client=%s name=%s target=%s reason=target-failed "
		     "error=\"%s\"", c->client_text, c->name, c->target_text,
		     pbx_strerror(err));
	/* The refusal answers the first request, still waiting unsent in the
	 * target's buffer. */
	refuse(c, PBX_R_TARGET_FAILED, 0, c->up.out_len ? c->up.out + c->up.out_off : NULL,
	       c->up.out_len);
}

/* Aim at a route's target: the next connects go to its addresses. */
static void aim(struct conn *c, const char *name, const char *host, uint16_t port, bool tls,
		enum route_rule rule)
{
	snprintf(c->name, sizeof c->name, "%s", name);
	snprintf(c->target_host, sizeof c->target_host, "%s", host);
	c->target_port = port;
	c->target_tls = tls;
	c->rule = rule;
	c->addrs = ctx_host(c->ctx, host);
	c->addr_next = 0;
}

/* Connect to the next address of the target; when the target has none
 * left, to its standby (H.323), once.  Returns 0 (connecting) or why not. */
static int try_connect(struct conn *c)
{
	for (;;) {
		int rc = 0;
		while (c->addr_next < (c->addrs ? c->addrs->n : 0)) {
			struct pbx_addr a = c->addrs->addrs[c->addr_next++];
			pbx_addr_set_port(&a, c->target_port);
			pbx_addr_format(&a, c->target_text, sizeof c->target_text);
			size_t l = strlen(c->target_text);
			snprintf(c->target_text + l, sizeof c->target_text - l, "/%s",
				 c->target_tls ? "tls" : "plain");
			int fd = socket(pbx_addr_family(&a),
					SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (fd < 0)
				return -errno;
			socket_options(fd);
			if (connect(fd, &a.u.sa, a.len) && errno != EINPROGRESS) {
				int e = errno;
				close(fd);
				pbx_log_debug("target-connect-failed target=%s error=\"%s\"",
					      c->target_text, strerror(e));
				rc = -e;
				continue;
			}
			c->t.fd = fd;
			c->t.eof = c->t.shut = false;
			if (side_events(c, &c->t))
				return -ENOMEM;
			set_phase(c, P_CONNECT);
			return 0;
		}
		if (!c->standby.have) {
			if (rc)
				return rc;
			return c->addrs && c->addrs->error ? -EHOSTUNREACH : -ECONNREFUSED;
		}
		/* The primary PBX cannot be reached: its standby takes over. */
		c->standby.have = false;
		pbx_log_notice("standby-used client=%s name=%s standby=%s reason=target-failed",
			       c->client_text, c->name, c->standby.name);
		aim(c, c->standby.name, c->standby.host, c->standby.port, c->standby.tls,
		    c->standby.rule);
	}
}

/* The connect finished (writable): check it, start TLS if the target
 * wants it. */
static bool connect_done(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof err;
	if (getsockopt(c->t.fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
		side_close(&c->t);
		int rc = try_connect(c);
		if (rc)
			target_failed(c, -(err ? err : ECONNREFUSED));
		return true;
	}
	count(c, C_ROUTED, 1);
	if (!c->target_tls) {
		set_phase(c, P_RELAY);
		return true;
	}
	if (!c->ctx->client ||
	    pbx_tls_connect(c->ctx->client, c->t.fd, c->target_host, &c->t.tls)) {
		target_failed(c, -EPROTO);
		return true;
	}
	set_phase(c, P_TARGET_TLS);
	return true;
}

static bool target_handshake(struct conn *c)
{
	int rc = pbx_tls_handshake(c->t.tls);
	if (rc == -EAGAIN) {
		c->t.read_wants_write = pbx_tls_want_write(c->t.tls);
		return false;
	}
	if (rc) {
		pbx_log_warn("target-tls-failed target=%s reason=tls-failed error=\"%s\"",
			     c->target_text, pbx_tls_error(c->t.tls));
		target_failed(c, -EPROTO);
		return true;
	}
	c->t.read_wants_write = false;
	set_phase(c, P_RELAY);
	return true;
}

/* ---- inspecting the client's messages ---- */

static void addr_text_ip(const struct pbx_addr *a, char *buf, size_t n)
{
	pbx_addr_format_ip(a, buf, n);
}

/* Copy a request head into the target's buffer, with X-Forwarded-For
 * (HTTP: appended to the last existing header's value, or a new header). */
static bool emit_head(struct conn *c, const struct pbx_verdict *v)
{
	struct flow *f = &c->up;
	if (v->kind != PBX_V_ROUTE || !v->xff_end_of_head)
		return flow_emit(f, f->in, v->head_len);
	char ip[INET6_ADDRSTRLEN], add[INET6_ADDRSTRLEN + 24];
	addr_text_ip(&c->client, ip, sizeof ip);
	size_t at, n;
	if (v->xff_at) {
		at = v->xff_at;
		n = (size_t)snprintf(add, sizeof add, ", %s", ip);
	} else {
		at = v->xff_end_of_head;
		n = (size_t)snprintf(add, sizeof add, "X-Forwarded-For: %s\r\n", ip);
	}
	if (at > v->head_len || f->out_cap - f->out_len - f->out_off < v->head_len + n)
		return false;
	return flow_emit(f, f->in, at) && flow_emit(f, add, n) &&
	       flow_emit(f, f->in + at, v->head_len - at);
}

static void route_client(const struct conn *c, struct route_client *cl)
{
	cl->addr = &c->client;
	cl->tls = c->c.tls != NULL;
	cl->cert_sent = c->client_cert_sent;
	cl->cert_verified = c->client_cert_ok;
	cl->cert_cn = c->cert_cn;
}

/* Route the first message: decide, and start connecting. */
static bool route_first(struct conn *c, const struct pbx_verdict *v)
{
	struct route rt;
	struct route_client cl;
	route_client(c, &cl);
	enum pbx_reason r = route_decide(snap_of(c), c->proto, v->name, v, &cl, &rt);
	if (v->name.len)
		pbx_span_escape(v->name.len < sizeof c->name ? v->name : (struct pbx_span){ "?", 1 },
				c->name, sizeof c->name, NULL);
	if (r != PBX_R_NONE) {
		refuse(c, r, 0, c->up.in, c->up.in_len);
		return false;
	}
	aim(c, rt.name->name, rt.target->host, rt.port, rt.tls, rt.rule);
	/* A standby location (H.323) is decided now, used if the primary
	 * cannot be connected. */
	struct route st;
	if (v->standby.len &&
	    route_decide(snap_of(c), c->proto, v->standby, v, &cl, &st) == PBX_R_NONE) {
		c->standby.have = true;
		snprintf(c->standby.name, sizeof c->standby.name, "%s", st.name->name);
		snprintf(c->standby.host, sizeof c->standby.host, "%s", st.target->host);
		c->standby.port = st.port;
		c->standby.tls = st.tls;
		c->standby.rule = st.rule;
	}
	int rc = try_connect(c);
	if (rc) {
		pbx_log_warn("target-failed client=%s name=%s target=%s:%u reason=target-failed "
			     "error=\"%s\"", c->client_text, c->name, c->target_host, c->target_port,
			     c->addrs && c->addrs->error ? c->addrs->error : pbx_strerror(rc));
		refuse(c, PBX_R_TARGET_FAILED, 0, c->up.in, c->up.in_len);
		return false;
	}
	return true;
}

/* A later message that routes: it must resolve to the same service, and
 * pass the source and URL checks of the current configuration. */
static bool route_again(struct conn *c, const struct pbx_verdict *v)
{
	struct route rt;
	struct route_client cl;
	route_client(c, &cl);
	/* On a connection that went to the standby, the endpoint still names
	 * its primary first. */
	struct pbx_span name = v->name;
	if (v->standby.len && pbx_span_caseeq_cstr(v->standby, c->name))
		name = v->standby;
	enum pbx_reason r = route_decide(snap_of(c), c->proto, name, v, &cl, &rt);
	if (r == PBX_R_NONE && strcasecmp(rt.name->name, c->name) != 0)
		r = PBX_R_OTHER_SERVICE;
	if (r == PBX_R_UNKNOWN_NAME || r == PBX_R_NO_TARGET)
		r = PBX_R_OTHER_SERVICE;
	if (r != PBX_R_NONE) {
		/* Say what the refused request asked for, beside the service
		 * the connection belongs to. */
		struct pbx_span asked = v->name.len < sizeof c->asked ? v->name
								       : (struct pbx_span){ "?", 1 };
		pbx_span_escape(asked, c->asked, sizeof c->asked, NULL);
		refuse_later(c, r, 0, c->up.in, c->up.in_len);
		return false;
	}
	return true;
}

static void body_state(struct flow *f, enum pbx_body body, uint64_t len)
{
	switch (body) {
	case PBX_BODY_LENGTH:
		f->st = len ? F_LENGTH : F_HEAD;
		f->left = len;
		break;
	case PBX_BODY_CHUNKED:
		f->st = F_CHUNKED;
		memset(&f->chunks, 0, sizeof f->chunks);
		break;
	case PBX_BODY_CLOSE:
		f->st = F_CLOSE;
		break;
	default:
		f->st = F_HEAD;
	}
}

static bool up_head(struct conn *c)
{
	struct flow *f = &c->up;
	if (c->in->lockstep && c->awaiting_reply)
		return false;
	/* Room for the whole head (and X-Forwarded-For) before asking: once
	 * the inspector answered, the message is spoken for. */
	if (f->out_cap - f->out_len - f->out_off < f->in_len + 128)
		return false;
	struct pbx_verdict v;
	memset(&v, 0, sizeof v);
	c->in->request(c->istate, f->in, f->in_len, &v);
	switch (v.kind) {
	case PBX_V_NEED_MORE:
		return false;
	case PBX_V_REFUSE:
		if (v.reason == PBX_R_NONE)
			v.reason = PBX_R_MALFORMED;
		refuse_later(c, v.reason, v.offset, f->in, f->in_len);
		return true;
	case PBX_V_PASS:
		if (c->phase == P_INSPECT) {
			/* Nothing to route by yet.  A keep-alive before the
			 * first request is absorbed; anything else is refused. */
			if (v.body == PBX_BODY_NONE && v.head_len <= 4 &&
			    !(v.flags & PBX_VF_REQUEST)) {
				flow_consume(f, v.head_len);
				c->messages++;
				return true;
			}
			refuse(c, PBX_R_NO_NAME, 0, f->in, f->in_len);
			return true;
		}
		break;
	case PBX_V_ROUTE:
		if (c->phase == P_INSPECT ? !route_first(c, &v) : !route_again(c, &v))
			return true;
		c->requests++;
		count(c, C_REQUESTS, 1);
		if (c->in->lockstep) {
			c->awaiting_reply = true;
			c->upgrade_asked = v.flags & PBX_VF_UPGRADE;
		}
		break;
	}
	if (!emit_head(c, &v)) {
		refuse_later(c, PBX_R_TOO_LARGE, v.head_len, f->in, f->in_len);
		return true;
	}
	if (v.kind == PBX_V_ROUTE && !c->in->lockstep)
		c->unanswered++;
	flow_consume(f, v.head_len);
	body_state(f, v.body, v.body_len);
	c->messages++;
	return true;
}

/* Copy body bytes of the current message; false when nothing moved. */
static bool flow_body(struct conn *c, struct flow *f)
{
	size_t room = f->out_cap - f->out_len - f->out_off;
	size_t n = f->in_len < room ? f->in_len : room;
	if (f->out_off && room < f->in_len) {
		memmove(f->out, f->out + f->out_off, f->out_len);
		f->out_off = 0;
		room = f->out_cap - f->out_len;
		n = f->in_len < room ? f->in_len : room;
	}
	if (!n)
		return false;
	switch (f->st) {
	case F_LENGTH:
		if (n > f->left)
			n = (size_t)f->left;
		flow_emit(f, f->in, n);
		flow_consume(f, n);
		f->left -= n;
		if (!f->left)
			f->st = F_HEAD;
		return true;
	case F_CHUNKED: {
		size_t used = 0;
		int rc = pbx_http_chunks(&f->chunks, f->in, n, &used);
		if (rc < 0) {
			if (f == &c->up) {
				refuse(c, PBX_R_MALFORMED, used, f->in, f->in_len);
			} else {
				pbx_log_warn("reply-malformed client=%s target=%s reason=malformed "
					     "detail=\"chunked body\"", c->client_text, c->target_text);
				conn_end(c, PBX_R_SERVICE_MALFORMED);
			}
			return true;
		}
		flow_emit(f, f->in, used);
		flow_consume(f, used);
		if (rc == 1)
			f->st = F_HEAD;
		return used > 0 || rc == 1;
	}
	case F_CLOSE:
	case F_TUNNEL:
		flow_emit(f, f->in, n);
		flow_consume(f, n);
		return true;
	default:
		return false;
	}
}

/* ---- replies ---- */

static bool down_head(struct conn *c)
{
	struct flow *f = &c->down;
	if (f->out_cap - f->out_len - f->out_off < f->in_len)
		return false;
	if (c->in->lockstep && !c->awaiting_reply) {
		pbx_log_warn("reply-unexpected client=%s target=%s reason=malformed "
			     "detail=\"the service sent a reply nobody asked for\"",
			     c->client_text, c->target_text);
		conn_end(c, PBX_R_SERVICE_MALFORMED);
		return true;
	}
	struct pbx_reply r;
	memset(&r, 0, sizeof r);
	c->in->reply(c->istate, f->in, f->in_len, &r);
	if (r.kind == PBX_V_NEED_MORE)
		return false;
	if (r.kind == PBX_V_REFUSE) {
		pbx_log_warn("reply-malformed client=%s target=%s reason=%s", c->client_text,
			     c->target_text, pbx_reason_name(r.reason ? r.reason : PBX_R_MALFORMED));
		conn_end(c, PBX_R_SERVICE_MALFORMED);
		return true;
	}
	if (r.rejection) {
		char detail[300];
		snprintf(detail, sizeof detail, "%s status %d", c->name, r.status);
		pbx_log_info("service-rejected client=%s name=%s status=%d", c->client_text,
			     c->name, r.status);
		count(c, C_REFUSED_BASE + PBX_R_REJECTED, 1);
		suspicious(c, PBX_R_REJECTED, detail);
	}
	flow_emit(f, f->in, r.head_len);
	flow_consume(f, r.head_len);
	body_state(f, r.body, r.body_len);
	if ((r.flags & PBX_VF_UPGRADE) && c->upgrade_asked) {
		/* 101 Switching Protocols: from now on both ways are opaque. */
		c->down.st = F_TUNNEL;
		c->up.st = F_TUNNEL;
		c->awaiting_reply = false;
	} else if (c->in->lockstep && r.final) {
		c->reply_final = true;
	} else if (r.final && c->unanswered) {
		c->unanswered--;
	}
	return true;
}

/* A lockstep reply is complete once its body is: the next request may go. */
static void check_reply_complete(struct conn *c)
{
	if (c->reply_final && c->down.st == F_HEAD) {
		c->reply_final = false;
		c->awaiting_reply = false;
	}
}

/* ---- the pump ---- */

static bool step_flows(struct conn *c)
{
	bool progress = false;
	int rc;
	/* Client to target. */
	if (flow_can_splice(&c->up) && c->phase == P_RELAY && !c->drain.on) {
		size_t before = c->up.bytes + c->up.piped;
		if ((rc = flow_splice(&c->up)))
			goto failed;
		progress |= c->up.bytes + c->up.piped != before;
		if (c->up.st == F_LENGTH && !c->up.left)
			c->up.st = F_HEAD;
	} else if (c->phase == P_REFUSING || c->drain.on) {
		if (!c->c.eof && !c->c.read_wants_write) {
			if ((rc = flow_read(&c->up)))
				goto failed;
			progress |= c->up.in_len != 0;
			c->up.in_len = 0;
		}
	} else {
		size_t before = c->up.in_len;
		if (c->up.in_len < c->up.in_cap && (rc = flow_read(&c->up)))
			goto failed;
		progress |= c->up.in_len != before;
	}
	while (c->up.in_len && !c->dead && c->phase != P_REFUSING && !c->drain.on) {
		bool moved = c->up.st == F_HEAD ? up_head(c) : flow_body(c, &c->up);
		if (!moved)
			break;
		progress = true;
	}
	/* Target to client. */
	if (c->phase == P_RELAY && c->t.fd >= 0) {
		if (flow_can_splice(&c->down)) {
			size_t before = c->down.bytes + c->down.piped;
			if ((rc = flow_splice(&c->down)))
				goto failed;
			progress |= c->down.bytes + c->down.piped != before;
			if (c->down.st == F_LENGTH && !c->down.left)
				c->down.st = F_HEAD;
		} else {
			size_t before = c->down.in_len;
			if (c->down.in_len < c->down.in_cap && (rc = flow_read(&c->down)))
				goto failed;
			progress |= c->down.in_len != before;
		}
		while (c->down.in_len && !c->dead) {
			bool moved = c->down.st == F_HEAD ? down_head(c) : flow_body(c, &c->down);
			check_reply_complete(c);
			if (!moved)
				break;
			progress = true;
		}
		check_reply_complete(c);
	}
	/* Writes. */
	if (c->phase == P_RELAY && flow_pending_out(&c->up)) {
		size_t before = flow_pending_out(&c->up);
		if ((rc = flow_write(&c->up)))
			goto failed;
		progress |= flow_pending_out(&c->up) != before;
	}
	if (flow_pending_out(&c->down)) {
		size_t before = flow_pending_out(&c->down);
		if ((rc = flow_write(&c->down)))
			goto failed;
		progress |= flow_pending_out(&c->down) != before;
	}
	return progress;
failed:
	pbx_log_debug("io-failed client=%s error=\"%s\"", c->client_text, pbx_strerror(rc));
	conn_end(c, PBX_R_NONE);
	return false;
}

/* Ends of streams: half-close toward the other side once its data is
 * out; close when nothing more can happen. */
static void step_ends(struct conn *c)
{
	if (c->phase == P_REFUSING) {
		if (flow_pending_out(&c->down))
			return;
		if (!c->c.shut) {
			if (c->c.tls)
				pbx_tls_bye(c->c.tls);
			else
				shutdown(c->c.fd, SHUT_WR);
			c->c.shut = true;
		}
		if (c->c.eof)
			conn_end(c, c->outcome);
		return;
	}
	if (c->drain.on) {
		if (drain_done(c) || c->c.eof)
			drain_finish(c);
		return;
	}
	if (c->c.eof && c->phase == P_INSPECT) {
		conn_end(c, PBX_R_CLIENT_CLOSED);
		return;
	}
	if (c->phase != P_RELAY)
		return;
	if (c->down.st == F_CLOSE && c->t.eof && !c->down.in_len)
		c->down.st = F_HEAD;
	if (c->t.eof && !c->down.in_len && !flow_pending_out(&c->down)) {
		conn_end(c, PBX_R_NONE);
		return;
	}
	if (c->c.eof && !c->up.in_len && !flow_pending_out(&c->up) && !c->t.shut) {
		if (c->t.tls)
			pbx_tls_bye(c->t.tls);
		else
			shutdown(c->t.fd, SHUT_WR);
		c->t.shut = true;
	}
}

static void step_handshake(struct conn *c)
{
	int rc = pbx_tls_handshake(c->c.tls);
	if (rc == -EAGAIN) {
		c->c.read_wants_write = pbx_tls_want_write(c->c.tls);
		return;
	}
	c->c.read_wants_write = false;
	if (rc == -ECONNRESET) {
		/* Gone before the handshake ended: a port check, not an attack. */
		conn_end(c, PBX_R_CLIENT_CLOSED);
		return;
	}
	if (rc) {
		pbx_log_info("tls-failed client=%s service=%s reason=tls-failed error=\"%s\"",
			     c->client_text, store_proto_name(c->proto), pbx_tls_error(c->c.tls));
		c->outcome = PBX_R_TLS_FAILED;
		count(c, C_REFUSED_BASE + PBX_R_TLS_FAILED, 1);
		suspicious(c, PBX_R_TLS_FAILED, pbx_tls_error(c->c.tls));
		conn_end(c, PBX_R_TLS_FAILED);
		return;
	}
	pbx_tls_peer_cert(c->c.tls, &c->client_cert_sent, &c->client_cert_ok, c->cert_cn,
			  sizeof c->cert_cn);
	set_phase(c, P_INSPECT);
}

static void update_events(struct conn *c)
{
	bool cr = false, cw = false, tr = false, tw = false;
	switch (c->phase) {
	case P_HANDSHAKE:
		cr = !c->c.read_wants_write;
		cw = c->c.read_wants_write;
		break;
	case P_INSPECT:
	case P_CONNECT:
	case P_TARGET_TLS:
	case P_RELAY:
		cr = !c->c.eof && c->up.in_len < c->up.in_cap && !c->c.read_wants_write;
		cw = flow_pending_out(&c->down) > 0 || c->c.read_wants_write;
		if (c->phase == P_CONNECT)
			tw = true;
		if (c->phase == P_TARGET_TLS) {
			tr = !c->t.read_wants_write;
			tw = c->t.read_wants_write;
		}
		if (c->phase == P_RELAY) {
			tr = !c->t.eof && c->down.in_len < c->down.in_cap && !c->t.read_wants_write;
			tw = flow_pending_out(&c->up) > 0 || c->t.read_wants_write;
			tr |= c->t.write_wants_read;
			cr |= c->c.write_wants_read;
		}
		/* Lockstep: a new request waits for the pending reply; do not
		 * read more than the buffer holds meanwhile. */
		break;
	case P_REFUSING:
		cw = flow_pending_out(&c->down) > 0 || c->c.read_wants_write;
		cr = !c->c.eof && !c->c.read_wants_write;
		break;
	}
	if (c->c.rev) {
		set_event(c->c.rev, &c->c.rev_on, cr);
		set_event(c->c.wev, &c->c.wev_on, cw);
	}
	if (c->t.rev) {
		set_event(c->t.rev, &c->t.rev_on, tr);
		set_event(c->t.wev, &c->t.wev_on, tw);
	}
}

/* The timer covers what may not take forever, each measured from when it
 * began (activity does not extend it): the TLS handshake and the first
 * request (rpd.inspect-timeout-ms from accept), a later request head once
 * its first byte arrived, connecting to the target, delivering a refusal;
 * and idleness, measured from the last byte moved. */
static void on_timer(evutil_socket_t fd, short what, void *arg);

/* A later request head is being received (and the inspector, not a
 * pending reply, is what it waits for). */
static bool head_pending(const struct conn *c)
{
	return c->up.st == F_HEAD && c->up.in_len && !(c->in->lockstep && c->awaiting_reply);
}

static int64_t phase_deadline(const struct conn *c);

static int64_t deadline(const struct conn *c)
{
	int64_t d = phase_deadline(c);
	if (c->drain.on && c->drain.start_ms + DRAIN_MAX_MS < d)
		d = c->drain.start_ms + DRAIN_MAX_MS;
	return d;
}

static int64_t phase_deadline(const struct conn *c)
{
	int64_t inspect_ms = pbx_worker_snapshot(c->w)->setting_int[STORE_SET_RPD_INSPECT_TIMEOUT_MS];
	switch (c->phase) {
	case P_HANDSHAKE:
	case P_INSPECT:
		return c->started_ms + inspect_ms;
	case P_CONNECT:
	case P_TARGET_TLS:
		return c->phase_ms + CONNECT_TIMEOUT_MS;
	case P_REFUSING:
		return c->phase_ms + REFUSE_LINGER_MS;
	default:
		if (head_pending(c))
			return c->head_ms + inspect_ms;
		return c->active_ms + (c->in->lockstep && c->up.st != F_TUNNEL ? IDLE_LOCKSTEP_MS
										 : IDLE_STREAM_MS);
	}
}

static void arm_timer(struct conn *c)
{
	int64_t ms = deadline(c) - now_ms();
	if (ms < 0)
		ms = 0;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	evtimer_add(c->timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	if (now_ms() < deadline(c)) {
		arm_timer(c);
		return;
	}
	if (c->drain.on && now_ms() >= c->drain.start_ms + DRAIN_MAX_MS) {
		pbx_log_debug("refusal-drained client=%s detail=\"earlier answers not complete "
			      "within %d ms\"", c->client_text, DRAIN_MAX_MS);
		drain_finish(c);
		pump(c);
		return;
	}
	switch (c->phase) {
	case P_HANDSHAKE:
	case P_INSPECT:
		refuse(c, PBX_R_TIMEOUT, c->up.in_len, c->up.in, c->up.in_len);
		break;
	case P_CONNECT:
	case P_TARGET_TLS:
		side_close(&c->t);
		if (try_connect(c))
			target_failed(c, -ETIMEDOUT);
		break;
	case P_REFUSING:
		conn_end(c, c->outcome);
		break;
	default:
		if (head_pending(c))
			refuse_later(c, PBX_R_TIMEOUT, c->up.in_len, c->up.in, c->up.in_len);
		else
			conn_end(c, PBX_R_IDLE);
	}
	pump(c);
}

static void pump(struct conn *c)
{
	if (c->in_pump)
		return;
	c->in_pump = true;
	for (int round = 0; round < PUMP_ROUNDS && !c->dead; round++) {
		bool progress = false;
		enum conn_phase before = c->phase;
		if (c->phase == P_HANDSHAKE)
			step_handshake(c);
		if (c->phase == P_CONNECT && !c->dead) {
			/* Writable means the connect finished, one way or other. */
			struct pollfd pf = { c->t.fd, POLLOUT, 0 };
			if (poll(&pf, 1, 0) == 1)
				connect_done(c);
		}
		if (c->phase == P_TARGET_TLS && !c->dead)
			target_handshake(c);
		if (!c->dead && c->phase != P_HANDSHAKE)
			progress = step_flows(c);
		if (progress)
			c->active_ms = now_ms();
		if (!c->dead)
			step_ends(c);
		if (!progress && c->phase == before)
			break;
	}
	c->in_pump = false;
	if (c->dead) {
		conn_free(c);
		return;
	}
	flow_release(&c->up);
	flow_release(&c->down);
	/* A new head's clock starts with its first byte. */
	if (!head_pending(c))
		c->head_msg = (unsigned)-1;
	else if (c->head_msg != c->messages) {
		c->head_msg = c->messages;
		c->head_ms = now_ms();
	}
	update_events(c);
	arm_timer(c);
	/* Decrypted bytes already inside a TLS session do not wake the socket
	 * up again: come back for them. */
	if ((side_tls_pending(&c->c) && c->up.in_len < c->up.in_cap && c->phase != P_REFUSING) ||
	    (side_tls_pending(&c->t) && c->down.in_len < c->down.in_cap && c->phase == P_RELAY))
		event_active(c->c.rev, EV_READ, 0);
}

/* ---- accepting ---- */

void conn_accept(struct rpd_worker *rw, enum store_proto proto, int fd,
		 const struct pbx_addr *client)
{
	struct pbx_worker *w = rw->w;
	const struct store_snapshot *s = pbx_worker_snapshot(w);
	struct rpd_ctx *ctx = pbx_worker_ctx(w);
	unsigned v6prefix = (unsigned)s->setting_int[STORE_SET_RPD_IPV6_PREFIX];
	struct pbx_cidr source, entry;
	fraud_source(client, v6prefix, &source);
	pbx_worker_count(w, C_ACCEPTED, 1);

	/* Blacklisted sources are closed before any TLS work. */
	int64_t now = store_now();
	bool listed = store_snapshot_blacklist_entry(s, client, now, &entry);
	if (!listed && fraud_blocked(ctx->fraud->table, &source, now) &&
	    !store_snapshot_whitelisted(s, client)) {
		listed = true;
		entry = source;
	}
	if (listed) {
		char text[PBX_ADDRSTRLEN];
		pbx_addr_format(client, text, sizeof text);
		pbx_worker_count(w, C_BLACKLISTED, 1);
		pbx_worker_count(w, C_REFUSED_BASE + PBX_R_BLACKLISTED, 1);
		store_writer_hit(pbx_worker_writer(w), &entry, 1);
		pbx_log_debug("connection-dropped service=%s client=%s reason=blacklisted",
			      store_proto_name(proto), text);
		close(fd);
		return;
	}

	struct conn *c = calloc(1, sizeof *c);
	const struct pbx_inspector *in = pbx_inspector_for(store_proto_family(proto));
	size_t max_head = (size_t)s->setting_int[STORE_SET_RPD_INSPECT_MAX_BYTES];
	size_t in_cap = max_head > 16384 ? max_head : 16384;
	if (!c || !in) {
		free(c);
		close(fd);
		return;
	}
	c->rw = rw;
	c->w = w;
	c->proto = proto;
	c->in = in;
	c->client = *client;
	c->source = source;
	pbx_addr_format(client, c->client_text, sizeof c->client_text);
	c->c.fd = fd;
	c->c.readable = true; /* a client usually speaks at once */
	c->t.fd = -1;
	c->started_ms = c->active_ms = now_ms();
	c->head_msg = (unsigned)-1;
	c->ctx = ctx;
	ctx_ref(ctx);
	pbx_worker_session_begin(w);
	c->next = rw->conns;
	if (rw->conns)
		rw->conns->prev = c;
	rw->conns = c;

	c->istate = calloc(1, in->state_size ? in->state_size : 1);
	c->timer = evtimer_new(pbx_worker_base(w), on_timer, c);
	flow_init(&c->up, &rw->pool, &c->c, &c->t, in_cap, in_cap + 1024);
	flow_init(&c->down, &rw->pool, &c->t, &c->c, in_cap, in_cap + 1024);
	if (!c->istate || !c->timer || side_events(c, &c->c)) {
		pbx_log_error("connection-failed client=%s reason=out-of-memory", c->client_text);
		conn_free(c);
		return;
	}
	in->init(c->istate, max_head);
	socket_options(fd);
	set_phase(c, P_INSPECT);
	if (store_proto_tls(proto)) {
		if (!ctx->tls.creds || pbx_tls_accept(ctx->tls.creds, fd, &c->c.tls)) {
			pbx_log_warn("tls-failed client=%s service=%s reason=tls-failed "
				     "error=\"no usable certificate (rpd.tls-cert, rpd.tls-key)\"",
				     c->client_text, store_proto_name(proto));
			c->outcome = PBX_R_TLS_FAILED;
			count(c, C_REFUSED_BASE + PBX_R_TLS_FAILED, 1);
			log_connection(c);
			conn_free(c);
			return;
		}
		set_phase(c, P_HANDSHAKE);
	}
	pump(c);
}

void conn_close_all(struct rpd_worker *rw)
{
	while (rw->conns) {
		struct conn *c = rw->conns;
		if (!c->dead)
			conn_end(c, PBX_R_NONE);
		conn_free(c);
	}
}
