/* main.c - stund, the STUN server (RFC 8489 Binding, RFC 5780 NAT
 * behaviour discovery, RFC 3489 classic clients) on the shared daemon
 * skeleton: the sockets its configuration asks for, its shared context
 * (TLS credentials, the per-source limits), per-worker state, counters
 * and the rate-limited log of dropped messages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pbxedge/log.h>

#include "stund.h"

#define TLS_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* Counter names: fixed ones, then one per codec drop reason (filled in by
 * main before the skeleton starts, read-only afterwards). */
static const char *counter_names[C_COUNT] = {
	[C_ANSWERED_UDP] = "answered-udp",
	[C_ANSWERED_TCP] = "answered-tcp",
	[C_ANSWERED_TLS] = "answered-tls",
	[C_ANSWERED_CHANGED] = "answered-changed",
	[C_ERRORS] = "errors-sent",
	[C_TRIMMED] = "answers-trimmed",
	[C_INDICATIONS] = "indications",
	[C_CONN_ACCEPTED] = "connections-accepted",
	[C_CONN_REFUSED] = "connections-refused",
	[C_CONN_IDLE] = "connections-idle",
	[C_TLS_FAILED] = "tls-failed",
	[C_SEND_FAILED] = "send-failed",
	[C_DROP_RATE] = "dropped-rate-limited",
	[C_DROP_BLACKLISTED] = "dropped-blacklisted",
	[C_DROP_AMPLIFICATION] = "dropped-amplification",
	[C_DROP_OVERSIZED] = "dropped-oversized",
	[C_DROP_NOT_REQUEST] = "dropped-not-request",
	[C_DROP_BAD_SOURCE] = "dropped-bad-source",
	[C_DROP_NO_SOCKET] = "dropped-no-socket",
};

const char *worker_counter_name(enum stund_counter c)
{
	return (unsigned)c < C_COUNT && counter_names[c] ? counter_names[c] : "unknown";
}

/* ---- listeners and --check ---- */

static const char *const role_key[R_COUNT] = { "a1p1", "a1p2", "a2p1", "a2p2" };

static size_t stund_listeners(const struct store_snapshot *snap, struct pbx_listen_spec *specs)
{
	struct stund_config cfg;
	if (config_load(snap, &cfg))
		return PBX_LISTEN_KEEP; /* refused: prepare said why */
	if (!cfg.on)
		return 0;
	size_t n = 0;
	for (int r = 0; r < (cfg.alternate ? R_COUNT : 1); r++) {
		for (int t = T_UDP; t <= T_TCP; t++) {
			struct pbx_listen_spec *s = &specs[n++];
			snprintf(s->key, sizeof s->key, "%s-%s", t == T_UDP ? "udp" : "tcp",
				 role_key[r]);
			s->kind = t == T_UDP ? PBX_SOCK_UDP : PBX_SOCK_TCP;
			s->addr = cfg.addr[r];
			s->tag = STUND_TAG(r, t);
		}
	}
	if (cfg.tls) {
		struct pbx_listen_spec *s = &specs[n++];
		snprintf(s->key, sizeof s->key, "tls");
		s->kind = PBX_SOCK_TCP;
		s->addr = cfg.tls_addr;
		s->tag = STUND_TAG(R_A1P1, T_TLS);
	}
	return n;
}

static int stund_check(const struct store_snapshot *snap, FILE *out)
{
	struct stund_config cfg;
	size_t problems = config_load(snap, &cfg);
	config_print(&cfg, out);
	for (size_t i = 0; i < problems; i++)
		fprintf(out, "problem: %s\n", cfg.problem[i]);
	return (int)problems;
}

/* ---- the shared context ---- */

static void log_config(const struct stund_config *cfg, bool startup)
{
	if (cfg->n_problems) {
		for (size_t i = 0; i < cfg->n_problems; i++)
			pbx_log_error("%s reason=invalid-config detail=\"%s\"%s",
				      startup ? "start-refused" : "config-refused", cfg->problem[i],
				      startup ? "" : " (keeping the previous listeners)");
		return;
	}
	if (!cfg->on) {
		pbx_log_notice("idle reason=not-configured detail=\"stund.primary is empty: "
			       "stund answers nothing until it is set (rpctl set stund.primary "
			       "ADDR[:PORT])\"");
		return;
	}
	char p[PBX_ADDRSTRLEN], a[PBX_ADDRSTRLEN] = "none", t[PBX_ADDRSTRLEN] = "off";
	pbx_addr_format(&cfg->addr[R_A1P1], p, sizeof p);
	if (cfg->alternate)
		pbx_addr_format(&cfg->addr[R_A2P2], a, sizeof a);
	if (cfg->tls)
		pbx_addr_format(&cfg->tls_addr, t, sizeof t);
	pbx_log_notice("serving primary=%s alternate=%s tls=%s rfc5780=%s", p, a, t,
		       cfg->alternate ? "on" : "off");
}

static void *stund_prepare(const struct store_snapshot *snap, void *prevp, bool reloaded)
{
	struct stund_ctx *prev = prevp;
	struct stund_config cfg;
	size_t problems = config_load(snap, &cfg);
	if (reloaded)
		log_config(&cfg, !prev);
	if (problems)
		return prev; /* NULL at start-up: the start fails */

	/* The certificate is looked at on every poll: one replaced on disk
	 * is taken without a store change. */
	struct pbx_tls_server_conf tls = {
		.cert_file = cfg.tls ? snap->setting_str[STORE_SET_STUND_TLS_CERT] : "",
		.key_file = cfg.tls ? snap->setting_str[STORE_SET_STUND_TLS_KEY] : "",
		.priority = TLS_PRIORITY,
	};
	if (prev && !pbx_tls_server_files_changed(&prev->tls, &tls))
		return prev;

	struct stund_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return prev;
	atomic_init(&c->refs, 1);
	c->limit = prev ? limit_ref(prev->limit) : limit_new();
	if (!c->limit || pbx_tls_server_files_update(&c->tls, &tls, false,
						     prev ? &prev->tls : NULL) == -ENOMEM) {
		limit_unref(c->limit);
		free(c);
		return prev;
	}
	return c;
}

void stund_ctx_ref(void *ctx)
{
	struct stund_ctx *c = ctx;
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

void stund_ctx_unref(void *ctx)
{
	struct stund_ctx *c = ctx;
	if (!c || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
		return;
	pbx_tls_server_files_cleanup(&c->tls);
	limit_unref(c->limit);
	free(c);
}

/* ---- workers and their sockets ---- */

static struct stund_worker *worker_state(struct pbx_worker *w)
{
	struct stund_worker *sw = pbx_worker_data(w);
	if (!sw && (sw = calloc(1, sizeof *sw))) {
		sw->w = w;
		pbx_stream_group_init(&sw->conns);
		pbx_worker_set_data(w, sw);
	}
	return sw;
}

static void *stund_socket_open(struct pbx_worker *w, const struct pbx_listen_spec *spec, int fd)
{
	struct stund_worker *sw = worker_state(w);
	struct stund_sock *s = sw ? calloc(1, sizeof *s) : NULL;
	if (!s) {
		close(fd);
		return NULL;
	}
	s->sw = sw;
	s->fd = fd;
	s->role = STUND_TAG_ROLE(spec->tag);
	s->t = STUND_TAG_T(spec->tag);
	pbx_listen_bound(fd, spec, &s->addr, &s->wildcard);
	int rc = s->t == T_UDP ? udp_open(s) : tcp_open(s);
	if (rc) {
		pbx_log_error("listener-failed service=%s reason=event-setup-failed error=\"%s\"",
			      spec->key, pbx_strerror(rc));
		if (s->t == T_UDP)
			udp_close(s);
		else
			tcp_close(s);
		free(s);
		return NULL;
	}
	if (s->t == T_UDP)
		sw->udp[s->role] = s;
	else if (s->t == T_TCP)
		sw->tcp[s->role] = s;
	else
		sw->tls = s;
	return s;
}

static void stund_socket_close(struct pbx_worker *w, void *handle)
{
	struct stund_sock *s = handle;
	struct stund_worker *sw = s->sw;
	(void)w;
	if (s->t == T_UDP) {
		if (sw->udp[s->role] == s)
			sw->udp[s->role] = NULL;
		udp_close(s);
	} else {
		if (s->t == T_TCP && sw->tcp[s->role] == s)
			sw->tcp[s->role] = NULL;
		if (s->t == T_TLS && sw->tls == s)
			sw->tls = NULL;
		tcp_close(s);
	}
	free(s);
}

static void stund_worker_stop(struct pbx_worker *w)
{
	struct stund_worker *sw = pbx_worker_data(w);
	if (!sw)
		return;
	tcp_close_all(sw);
	udp_batch_free(sw->batch);
	free(sw);
	pbx_worker_set_data(w, NULL);
}

/* Dropped messages are counted by the caller and logged by the skeleton
 * (at most once a second per reason and worker); rpctl status keeps an
 * excerpt of what broke the protocol, not of good messages from a source
 * that is blocked or too fast. */
void worker_drop(struct stund_worker *sw, enum stund_counter c, const struct pbx_addr *src,
		 size_t offset, const void *bytes, size_t len)
{
	if ((unsigned)c >= C_COUNT)
		return;
	pbx_worker_drop(sw->w, c, "stun", src, offset,
			c != C_DROP_RATE && c != C_DROP_BLACKLISTED ? bytes : NULL, len);
}

int main(int argc, char **argv)
{
	static char drop_names[STUN_DROP_COUNT][48];
	for (int d = STUN_DROP_NONE + 1; d < STUN_DROP_COUNT; d++) {
		snprintf(drop_names[d], sizeof drop_names[d], "dropped-%s",
			 stun_names_drop((enum stun_drop)d));
		counter_names[C_DROP_BASE + d] = drop_names[d];
	}
	static const struct pbx_daemon_def stund_def = {
		.name = "stund",
		.summary = "pbxedge STUN server (RFC 8489, RFC 5780 NAT behaviour discovery, "
			   "RFC 3489 classic clients).",
		.counters = counter_names,
		.n_counters = C_COUNT,
		.listeners = stund_listeners,
		.check = stund_check,
		.socket_open = stund_socket_open,
		.socket_close = stund_socket_close,
		.prepare = stund_prepare,
		.ctx_ref = stund_ctx_ref,
		.ctx_unref = stund_ctx_unref,
		.worker_stop = stund_worker_stop,
	};
	return pbx_daemon_main(&stund_def, argc, argv);
}
