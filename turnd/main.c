/* main.c - turnd, the TURN server (RFC 8656) on the shared daemon
 * skeleton: its sockets, the shared state that outlives reloads (port
 * pool, quotas, nonce secret, fraud table), the context built from each
 * snapshot (configuration, external address), per-worker state, counters
 * and the rate-limited log of dropped messages. */
#include <errno.h>
#include <event2/event.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pbxedge/log.h>

#include "pbx-config.h"
#include "turnd.h"

#define TLS_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define FRAUD_SOURCES 65536

struct user_count {
	char *user;
	unsigned n;
};

static const char *counter_names[C_COUNT] = {
	[C_ALLOCATIONS] = "allocations",
	[C_ALLOCATIONS_ENDED] = "allocations-ended",
	[C_REFRESHES] = "refreshes",
	[C_PERMISSIONS] = "permissions",
	[C_CHANNEL_BINDS] = "channel-binds",
	[C_BINDINGS] = "bindings",
	[C_ERRORS] = "errors-sent",
	[C_UNAUTHENTICATED] = "challenged",
	[C_WRONG_CREDENTIALS] = "wrong-credentials",
	[C_STALE_NONCES] = "stale-nonces",
	[C_FORBIDDEN_PEERS] = "forbidden-peers",
	[C_QUOTA] = "quota-reached",
	[C_CAPACITY] = "insufficient-capacity",
	[C_MISMATCH] = "allocation-mismatch",
	[C_BAD_REQUEST] = "bad-requests",
	[C_UNKNOWN_ATTR] = "unknown-attributes",
	[C_SUSPICIOUS] = "suspicious",
	[C_BLACKLIST_ADDED] = "blacklist-added",
	[C_RELAYED_IN] = "relayed-to-peers",
	[C_RELAYED_OUT] = "relayed-to-clients",
	[C_RELAYED_BYTES_IN] = "relayed-bytes-to-peers",
	[C_RELAYED_BYTES_OUT] = "relayed-bytes-to-clients",
	[C_CONN_ACCEPTED] = "connections-accepted",
	[C_CONN_CLOSED] = "connections-closed",
	[C_CONN_REFUSED] = "connections-refused",
	[C_TLS_FAILED] = "tls-failed",
	[C_SEND_FAILED] = "send-failed",
	[C_RELAY_SEND_FAILED] = "relay-send-failed",
	[C_DROP_BLACKLISTED] = "dropped-blacklisted",
	[C_DROP_OVERSIZED] = "dropped-oversized",
	[C_DROP_NO_ALLOCATION] = "dropped-no-allocation",
	[C_DROP_NO_CHANNEL] = "dropped-no-channel",
	[C_DROP_NO_PERMISSION] = "dropped-no-permission",
	[C_DROP_BANDWIDTH] = "dropped-bandwidth",
	[C_DROP_NOT_REQUEST] = "dropped-not-request",
	[C_DROP_BAD_INDICATION] = "dropped-bad-indication",
	[C_DROP_BAD_SOURCE] = "dropped-bad-source",
	[C_DROP_STREAM_FULL] = "dropped-stream-full",
};

const char *worker_counter_name(enum turnd_counter c)
{
	return (unsigned)c < C_COUNT && counter_names[c] ? counter_names[c] : "unknown";
}

/* ---- listeners and --check ---- */

#define TAG(t) ((int)(t))

static size_t turnd_listeners(const struct store_snapshot *snap, struct pbx_listen_spec *specs)
{
	struct turnd_config cfg;
	if (config_load(snap, &cfg))
		return PBX_LISTEN_KEEP;
	size_t n = 0;
	for (size_t i = 0; i < cfg.n_listen && n + 2 <= PBX_MAX_LISTEN; i++) {
		/* The address is in the spec; the key only has to be stable. */
		snprintf(specs[n].key, sizeof specs[n].key, "udp-%zu", i);
		specs[n].kind = PBX_SOCK_UDP;
		specs[n].addr = cfg.listen[i];
		specs[n++].tag = TAG(T_UDP);
		snprintf(specs[n].key, sizeof specs[n].key, "tcp-%zu", i);
		specs[n].kind = PBX_SOCK_TCP;
		specs[n].addr = cfg.listen[i];
		specs[n++].tag = TAG(T_TCP);
	}
	for (size_t i = 0; cfg.tls && i < cfg.n_tls_listen && n < PBX_MAX_LISTEN; i++) {
		snprintf(specs[n].key, sizeof specs[n].key, "tls-%zu", i);
		specs[n].kind = PBX_SOCK_TCP;
		specs[n].addr = cfg.tls_listen[i];
		specs[n++].tag = TAG(T_TLS);
	}
	return n;
}

static int turnd_check(const struct store_snapshot *snap, FILE *out)
{
	struct turnd_config cfg;
	size_t problems = config_load(snap, &cfg);
	config_print(&cfg, snap, out);
	for (size_t i = 0; i < problems; i++)
		fprintf(out, "problem: %s\n", cfg.problem[i]);
	return (int)problems;
}

/* ---- the shared state ---- */

static struct turnd_shared *shared_new(uint16_t min, uint16_t max)
{
	struct turnd_shared *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	atomic_init(&s->refs, 1);
	atomic_init(&s->next_id, 1);
	s->min_port = min;
	s->max_port = max;
	pthread_mutex_init(&s->lock, NULL);
	gnutls_rnd(GNUTLS_RND_NONCE, s->nonce_secret, sizeof s->nonce_secret);
	if (!(s->ports = ports_new(min, max)) || fraud_new(FRAUD_SOURCES, &s->fraud)) {
		ports_free(s->ports);
		free(s);
		return NULL;
	}
	return s;
}

void shared_ref(struct turnd_shared *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void shared_unref(struct turnd_shared *s)
{
	if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	ports_free(s->ports);
	fraud_free(s->fraud);
	for (size_t i = 0; i < s->n_users; i++)
		free(s->users[i].user);
	free(s->users);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

bool shared_quota_take(struct turnd_shared *s, const char *user, unsigned per_user,
		       unsigned total)
{
	bool ok = false;
	pthread_mutex_lock(&s->lock);
	size_t i;
	for (i = 0; i < s->n_users; i++)
		if (strcmp(s->users[i].user, user) == 0)
			break;
	if (total && s->total >= total)
		goto out;
	if (per_user && i < s->n_users && s->users[i].n >= per_user)
		goto out;
	if (i == s->n_users) {
		if (s->n_users == s->cap_users) {
			size_t cap = s->cap_users ? 2 * s->cap_users : 16;
			struct user_count *u = realloc(s->users, cap * sizeof *u);
			if (!u)
				goto out;
			s->users = u;
			s->cap_users = cap;
		}
		if (!(s->users[i].user = strdup(user)))
			goto out;
		s->users[i].n = 0;
		s->n_users++;
	}
	s->users[i].n++;
	s->total++;
	ok = true;
out:
	pthread_mutex_unlock(&s->lock);
	return ok;
}

void shared_quota_give(struct turnd_shared *s, const char *user)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_users; i++) {
		if (strcmp(s->users[i].user, user) != 0)
			continue;
		s->total--;
		if (--s->users[i].n == 0) {
			free(s->users[i].user);
			s->users[i] = s->users[--s->n_users];
		}
		break;
	}
	pthread_mutex_unlock(&s->lock);
}

/* ---- the context ---- */

static void log_config(const struct turnd_config *cfg, const struct store_snapshot *snap,
		       bool startup)
{
	if (cfg->n_problems) {
		for (size_t i = 0; i < cfg->n_problems; i++)
			pbx_log_error("%s reason=invalid-config detail=\"%s\"%s",
				      startup ? "start-refused" : "config-refused", cfg->problem[i],
				      startup ? "" : " (keeping the previous configuration)");
		return;
	}
	pbx_log_notice("serving listen=%s tls=%s realm=%s ports=%u-%u accounts=%zu secrets=%zu "
		       "user-quota=%lld total-quota=%lld bandwidth=%lld",
		       *snap->setting_str[STORE_SET_TURND_LISTEN]
			       ? snap->setting_str[STORE_SET_TURND_LISTEN] : "none",
		       cfg->tls && cfg->n_tls_listen ? snap->setting_str[STORE_SET_TURND_TLS_LISTEN]
						      : "off",
		       snap->setting_str[STORE_SET_TURND_REALM], cfg->min_port, cfg->max_port,
		       snap->n_turn_accounts, snap->n_turn_secrets,
		       (long long)snap->setting_int[STORE_SET_TURND_USER_QUOTA],
		       (long long)snap->setting_int[STORE_SET_TURND_TOTAL_QUOTA],
		       (long long)snap->setting_int[STORE_SET_TURND_BANDWIDTH]);
}

static void *turnd_prepare(const struct store_snapshot *snap, void *prevp, bool reloaded)
{
	struct turnd_ctx *prev = prevp;
	struct turnd_config cfg;
	size_t problems = config_load(snap, &cfg);
	if (reloaded)
		log_config(&cfg, snap, !prev);
	if (problems)
		return prev;
	struct pbx_addr external = cfg.external;
	if (cfg.external_auto && prev) {
		struct pbx_addr found;
		memset(&found, 0, sizeof found);
		if (config_external_auto(prev->db_path, &found) == 0)
			external = found;
		else if (prev->cfg.external_auto)
			external = prev->external; /* natd's last finding stands */
	}
	/* The certificate is looked at on every poll: one replaced on disk
	 * is taken without a store change. */
	struct pbx_tls_server_conf tls = {
		.cert_file = cfg.tls ? snap->setting_str[STORE_SET_TURND_TLS_CERT] : "",
		.key_file = cfg.tls ? snap->setting_str[STORE_SET_TURND_TLS_KEY] : "",
		.priority = TLS_PRIORITY,
	};
	if (prev && !reloaded && pbx_addr_equal(&external, &prev->external) &&
	    !pbx_tls_server_files_changed(&prev->tls, &tls))
		return prev;
	struct turnd_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return prev;
	atomic_init(&c->refs, 1);
	c->cfg = cfg;
	c->external = external;
	if (prev)
		snprintf(c->db_path, sizeof c->db_path, "%s", prev->db_path);
	else
		snprintf(c->db_path, sizeof c->db_path, "%s", turnd_db_path());
	if (prev && prev->shared->min_port == cfg.min_port &&
	    prev->shared->max_port == cfg.max_port) {
		c->shared = prev->shared;
		shared_ref(c->shared);
	} else if (!(c->shared = shared_new(cfg.min_port, cfg.max_port))) {
		free(c);
		return prev;
	} else if (prev) {
		/* Allocation ids stay unique for the whole run: they key the
		 * status rows. */
		atomic_store(&c->shared->next_id, atomic_load(&prev->shared->next_id) + 1000000);
	}
	if (cfg.external_auto && !prev && config_external_auto(c->db_path, &c->external))
		memset(&c->external, 0, sizeof c->external);
	if (pbx_tls_server_files_update(&c->tls, &tls, false, prev ? &prev->tls : NULL) ==
	    -ENOMEM) {
		turnd_ctx_unref(c);
		return prev;
	}
	return c;
}

void turnd_ctx_ref(void *ctx)
{
	struct turnd_ctx *c = ctx;
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

void turnd_ctx_unref(void *ctx)
{
	struct turnd_ctx *c = ctx;
	if (!c || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
		return;
	pbx_tls_server_files_cleanup(&c->tls);
	shared_unref(c->shared);
	free(c);
}

/* ---- workers ---- */

static struct turnd_worker *worker_state(struct pbx_worker *w)
{
	struct turnd_worker *tw = pbx_worker_data(w);
	if (!tw && (tw = calloc(1, sizeof *tw))) {
		tw->w = w;
		pbx_stream_group_init(&tw->conns);
		pbx_worker_set_data(w, tw);
		if (alloc_tick_start(tw)) {
			free(tw);
			pbx_worker_set_data(w, NULL);
			return NULL;
		}
	}
	return tw;
}

static void *turnd_socket_open(struct pbx_worker *w, const struct pbx_listen_spec *spec, int fd)
{
	struct turnd_worker *tw = worker_state(w);
	struct turnd_sock *s = tw && tw->n_socks < sizeof tw->socks / sizeof tw->socks[0]
				       ? calloc(1, sizeof *s) : NULL;
	if (!s) {
		close(fd);
		return NULL;
	}
	s->tw = tw;
	s->fd = fd;
	s->t = (enum turnd_transport)spec->tag;
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
	tw->socks[tw->n_socks++] = s;
	return s;
}

static void turnd_socket_close(struct pbx_worker *w, void *handle)
{
	struct turnd_sock *s = handle;
	struct turnd_worker *tw = s->tw;
	(void)w;
	/* Allocations made through this socket end with it. */
	for (struct alloc *a = tw->all, *next; a; a = next) {
		next = a->next;
		if (a->sock == s)
			alloc_free(a, "listener-closed");
	}
	for (size_t i = 0; i < tw->n_socks; i++) {
		if (tw->socks[i] == s) {
			tw->socks[i] = tw->socks[--tw->n_socks];
			break;
		}
	}
	if (s->t == T_UDP)
		udp_close(s);
	else
		tcp_close(s);
	free(s);
}

static void turnd_worker_stop(struct pbx_worker *w)
{
	struct turnd_worker *tw = pbx_worker_data(w);
	if (!tw)
		return;
	tcp_close_all(tw);
	while (tw->all)
		alloc_free(tw->all, "stopping");
	worker_flush_counts(tw);
	if (tw->tick)
		event_free(tw->tick);
	udp_free(tw);
	relay_free(tw);
	free(tw);
	pbx_worker_set_data(w, NULL);
}

void worker_flush_counts(struct turnd_worker *tw)
{
	for (int c = 0; c < C_COUNT; c++) {
		if (tw->count[c]) {
			pbx_worker_count(tw->w, (size_t)c, tw->count[c]);
			tw->count[c] = 0;
		}
	}
}

void worker_drop(struct turnd_worker *tw, enum turnd_counter c, const struct pbx_addr *src,
		 size_t offset, const void *bytes, size_t len)
{
	if ((unsigned)c >= C_COUNT)
		return;
	tw->count[c]++;
	pbx_worker_drop(tw->w, c, "turn", src, offset, bytes, len);
}

void worker_suspicious(struct turnd_worker *tw, const struct pbx_addr *src, const char *reason)
{
	const struct store_snapshot *s = pbx_worker_snapshot(tw->w);
	struct turnd_ctx *ctx = pbx_worker_ctx(tw->w);
	char text[PBX_ADDRSTRLEN];
	pbx_addr_format(src, text, sizeof text);
	if (store_snapshot_whitelisted(s, src)) {
		pbx_log_info("suspicious client=%s service=turn reason=%s whitelisted=yes", text,
			     reason);
		return;
	}
	int64_t now = store_now();
	unsigned n = 0;
	struct pbx_cidr net;
	fraud_source(src, (unsigned)s->setting_int[STORE_SET_RPD_IPV6_PREFIX], &net);
	tw->count[C_SUSPICIOUS]++;
	store_writer_event(pbx_worker_writer(tw->w), src, "turn", reason, "");
	if (!fraud_count(ctx->shared->fraud, &net, now,
			 (unsigned)s->setting_int[STORE_SET_TURND_SUSPICIOUS_PER_MINUTE], &n))
		return;
	int64_t minutes = s->setting_int[STORE_SET_TURND_BLACKLIST_MINUTES];
	char cidr[PBX_CIDRSTRLEN], why[128];
	pbx_cidr_format(&net, cidr, sizeof cidr);
	snprintf(why, sizeof why, "%u suspicious TURN requests within a minute (last: %s)", n,
		 reason);
	store_writer_blacklist(pbx_worker_writer(tw->w), &net, now + minutes * 60, why);
	tw->count[C_BLACKLIST_ADDED]++;
	pbx_log_notice("blacklisted source=%s count=%u minutes=%lld reason=too-many-suspicious "
		       "last=%s", cidr, n, (long long)minutes, reason);
}

static char db_path[4096];

const char *turnd_db_path(void)
{
	return db_path;
}

int main(int argc, char **argv)
{
	static char drop_names[STUN_DROP_COUNT][48];
	for (int d = STUN_DROP_NONE + 1; d < STUN_DROP_COUNT; d++) {
		snprintf(drop_names[d], sizeof drop_names[d], "dropped-%s",
			 stun_names_drop((enum stun_drop)d));
		counter_names[C_DROP_BASE + d] = drop_names[d];
	}
	/* The store's path, as the skeleton resolves it, for the one query
	 * turnd makes itself (natd's external address). */
	const char *env = getenv("PBXEDGE_DB");
	snprintf(db_path, sizeof db_path, "%s", env && *env ? env : PBX_DEFAULT_DB);
	for (int i = 1; i < argc; i++) {
		if ((strcmp(argv[i], "--db") == 0 || strcmp(argv[i], "-d") == 0) && i + 1 < argc)
			snprintf(db_path, sizeof db_path, "%s", argv[i + 1]);
		else if (strncmp(argv[i], "--db=", 5) == 0)
			snprintf(db_path, sizeof db_path, "%s", argv[i] + 5);
	}
	static const struct pbx_daemon_def turnd_def = {
		.name = "turnd",
		.summary = "pbxedge TURN server (RFC 8656) for phones and browsers.",
		.counters = counter_names,
		.n_counters = C_COUNT,
		.listeners = turnd_listeners,
		.check = turnd_check,
		.socket_open = turnd_socket_open,
		.socket_close = turnd_socket_close,
		.prepare = turnd_prepare,
		.ctx_ref = turnd_ctx_ref,
		.ctx_unref = turnd_ctx_unref,
		.worker_stop = turnd_worker_stop,
	};
	return pbx_daemon_main(&turnd_def, argc, argv);
}
