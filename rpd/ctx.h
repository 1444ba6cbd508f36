/* ctx.h - what rpd's workers share beyond the snapshot: TLS credentials,
 * the resolved target addresses and the fraud-detection table. */
#ifndef RPD_CTX_H
#define RPD_CTX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <pbxedge/addr.h>
#include <pbxedge/fraud.h>
#include <pbxedge/store.h>
#include <pbxedge/tls.h>

#define RPD_MAX_ADDRS 8

/* A target host and the addresses it resolved to. */
struct rpd_host {
	char *host;
	struct pbx_addr addrs[RPD_MAX_ADDRS];
	int n;
	const char *error; /* resolver failure, static text */
};

/* The fraud table outlives every context: it is handed from one to the
 * next. */
struct rpd_fraud {
	_Atomic unsigned refs;
	struct fraud *table;
};

struct rpd_ctx {
	_Atomic unsigned refs;
	struct pbx_tls_server_files tls; /* tls.creds NULL: no usable certificate */
	struct pbx_tls_creds *client;
	/* Inputs the client credentials were built from, to notice changes. */
	char target_ca[4096], priority[1024];
	struct pbx_tls_file_id target_ca_id;
	struct rpd_host *hosts;
	size_t n_hosts;
	int64_t resolved_at;
	struct rpd_fraud *fraud;
};

/* ctx_prepare - the skeleton's prepare callback (see daemon.h). */
void *ctx_prepare(const struct store_snapshot *snap, void *prev, bool reloaded);
void ctx_ref(void *ctx);
void ctx_unref(void *ctx);

/* ctx_host - the addresses of a target host, or NULL if it was not
 * resolved (yet); *error then may say why. */
const struct rpd_host *ctx_host(const struct rpd_ctx *ctx, const char *host);

#endif
