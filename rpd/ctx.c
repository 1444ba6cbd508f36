/* ctx.c - rpd's shared context, rebuilt in the main thread: server and
 * client TLS credentials (reloaded when the files change, the old ones kept
 * if the new ones do not load), target host names resolved off the hot
 * path, and the fraud table handed from one context to the next. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/log.h>

#include "ctx.h"

#define RESOLVE_EVERY_S 60
#define FRAUD_SOURCES 65536

static bool any_tls_listener(const struct store_snapshot *snap)
{
	for (int p = 0; p < STORE_PROTO_COUNT; p++)
		if (snap->listener[p].on && store_proto_tls((enum store_proto)p))
			return true;
	return false;
}

static bool any_tls_target(const struct store_snapshot *snap)
{
	for (size_t i = 0; i < snap->n_names; i++)
		for (int f = 0; f < STORE_FAMILY_COUNT; f++)
			if (snap->names[i].target[f].host && snap->names[i].target[f].tls_port)
				return true;
	return false;
}

static void resolve(struct rpd_host *h)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res = NULL;
	struct pbx_addr a;
	h->n = 0;
	h->error = NULL;
	if (pbx_addr_parse(pbx_span_cstr(h->host), 1, PBX_ADDR_NO_PORT, &a, NULL) == 0) {
		h->addrs[h->n++] = a;
		return;
	}
	int rc = getaddrinfo(h->host, NULL, &hints, &res);
	if (rc) {
		h->error = gai_strerror(rc);
		return;
	}
	for (struct addrinfo *ai = res; ai && h->n < RPD_MAX_ADDRS; ai = ai->ai_next)
		if (pbx_addr_from_sockaddr(&h->addrs[h->n], ai->ai_addr, ai->ai_addrlen) == 0)
			h->n++;
	freeaddrinfo(res);
	if (!h->n)
		h->error = "no usable address";
}

/* Resolve every target host of snap, reusing prev's answers unless they are
 * stale.  The main thread blocks here, never a worker. */
static void resolve_hosts(struct rpd_ctx *c, const struct store_snapshot *snap,
			  const struct rpd_ctx *prev, bool fresh)
{
	size_t cap = 0;
	for (size_t i = 0; i < snap->n_names; i++)
		for (int f = 0; f < STORE_FAMILY_COUNT; f++)
			cap += snap->names[i].target[f].host != NULL;
	c->hosts = calloc(cap ? cap : 1, sizeof *c->hosts);
	if (!c->hosts)
		return;
	for (size_t i = 0; i < snap->n_names; i++) {
		for (int f = 0; f < STORE_FAMILY_COUNT; f++) {
			const char *host = snap->names[i].target[f].host;
			if (!host || ctx_host(c, host))
				continue;
			struct rpd_host *h = &c->hosts[c->n_hosts];
			if (!(h->host = strdup(host)))
				continue;
			c->n_hosts++;
			const struct rpd_host *old = prev && !fresh ? ctx_host(prev, host) : NULL;
			if (old) {
				memcpy(h->addrs, old->addrs, sizeof h->addrs);
				h->n = old->n;
				h->error = old->error;
				continue;
			}
			resolve(h);
			if (h->error)
				pbx_log_warn("target-unresolved host=%s reason=resolve-failed "
					     "error=\"%s\"", host, h->error);
		}
	}
}

const struct rpd_host *ctx_host(const struct rpd_ctx *ctx, const char *host)
{
	for (size_t i = 0; i < ctx->n_hosts; i++)
		if (strcmp(ctx->hosts[i].host, host) == 0)
			return &ctx->hosts[i];
	return NULL;
}

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

void *ctx_prepare(const struct store_snapshot *snap, void *prevp, bool reloaded)
{
	struct rpd_ctx *prev = prevp;
	const char *cert = snap->setting_str[STORE_SET_RPD_TLS_CERT];
	const char *key = snap->setting_str[STORE_SET_RPD_TLS_KEY];
	const char *trust = snap->setting_str[STORE_SET_RPD_TRUST_CA];
	const char *target_ca = snap->setting_str[STORE_SET_RPD_TARGET_CA];
	const char *priority = snap->setting_str[STORE_SET_RPD_TLS_PRIORITY];
	struct pbx_tls_server_conf server = { cert, key, priority, trust };
	struct pbx_tls_file_id ca_id;
	pbx_tls_file_id(target_ca, &ca_id);
	int64_t now = store_now();

	/* The files are looked at on every poll: a certificate replaced on
	 * disk is taken without a store change. */
	bool server_same = prev && !pbx_tls_server_files_changed(&prev->tls, &server);
	bool client_same = prev && strcmp(prev->target_ca, target_ca) == 0 &&
			   strcmp(prev->priority, priority) == 0 &&
			   pbx_tls_file_id_equal(&prev->target_ca_id, &ca_id);
	bool stale = !prev || now - prev->resolved_at >= RESOLVE_EVERY_S;
	if (prev && server_same && client_same && !reloaded && !stale)
		return prev;

	struct rpd_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return prev;
	atomic_init(&c->refs, 1);
	copy(c->target_ca, sizeof c->target_ca, target_ca);
	copy(c->priority, sizeof c->priority, priority);
	c->target_ca_id = ca_id;

	/* Server credentials: rebuilt when their inputs changed; a set that
	 * fails to load leaves the previous one in service. */
	if (pbx_tls_server_files_update(&c->tls, &server, any_tls_listener(snap),
					prev ? &prev->tls : NULL) == -ENOMEM) {
		free(c);
		return prev;
	}
	struct pbx_err err;
	if (client_same && prev->client) {
		c->client = pbx_tls_creds_ref(prev->client);
	} else if (*target_ca || any_tls_target(snap) || !prev) {
		if (pbx_tls_client_creds_new(target_ca, priority, &c->client, &err)) {
			pbx_log_error("tls-client-credentials-failed reason=load-failed detail=\"%s\"",
				      pbx_err_text(&err));
			c->client = prev && prev->client ? pbx_tls_creds_ref(prev->client) : NULL;
		}
	}

	resolve_hosts(c, snap, prev, stale);
	c->resolved_at = stale ? now : prev->resolved_at;

	if (prev) {
		c->fraud = prev->fraud;
		atomic_fetch_add(&c->fraud->refs, 1);
	} else {
		c->fraud = calloc(1, sizeof *c->fraud);
		if (!c->fraud || fraud_new(FRAUD_SOURCES, &c->fraud->table)) {
			free(c->fraud);
			c->fraud = NULL;
			ctx_unref(c);
			return NULL;
		}
		atomic_init(&c->fraud->refs, 1);
	}
	return c;
}

void ctx_ref(void *ctx)
{
	struct rpd_ctx *c = ctx;
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

void ctx_unref(void *ctx)
{
	struct rpd_ctx *c = ctx;
	if (!c || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
		return;
	pbx_tls_server_files_cleanup(&c->tls);
	pbx_tls_creds_unref(c->client);
	for (size_t i = 0; i < c->n_hosts; i++)
		free(c->hosts[i].host);
	free(c->hosts);
	if (c->fraud && atomic_fetch_sub(&c->fraud->refs, 1) == 1) {
		fraud_free(c->fraud->table);
		free(c->fraud);
	}
	free(c);
}
