/* fraud.h - counting suspicious requests per source and deciding when a
 * source goes on the blacklist; shared by all worker threads of a daemon. */
#ifndef PBXEDGE_FRAUD_H
#define PBXEDGE_FRAUD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pbxedge/addr.h>
#include <pbxedge/api.h>

struct fraud;

/* How long a source stays blocked locally after fraud_count decided to
 * blacklist it: long enough for the entry to reach the store and come
 * back in the next snapshot, which is authoritative from then on. */
#define FRAUD_LOCAL_BLOCK_S 10

/* fraud_new - a table for at most max_sources sources.  Returns 0 with
 * *out (freed with fraud_free), or -ENOMEM. */
PBX_API int fraud_new(size_t max_sources, struct fraud **out);

/* fraud_free - free the table (NULL is accepted). */
PBX_API void fraud_free(struct fraud *f);

/* fraud_source - the network a source is counted as: the host for IPv4,
 * the /v6prefix network for IPv6 (an attacker has a whole /64). */
PBX_API void fraud_source(const struct pbx_addr *a, unsigned v6prefix, struct pbx_cidr *out);

/* fraud_count - count one suspicious request from source at time now.
 * Requests are counted in windows of 60 seconds from the first one; when
 * a window's count exceeds threshold, returns true once (the caller puts
 * the source on the blacklist) and blocks it locally for
 * FRAUD_LOCAL_BLOCK_S seconds.  *count (may be NULL) gets the count in the
 * current window.  Thread-safe. */
PBX_API bool fraud_count(struct fraud *f, const struct pbx_cidr *source, int64_t now,
			 unsigned threshold, unsigned *count);

/* fraud_blocked - true while a source is blocked locally (see above). */
PBX_API bool fraud_blocked(struct fraud *f, const struct pbx_cidr *source, int64_t now);

#endif
