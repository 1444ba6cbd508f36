/* route.h - rpd's routing rules that do not depend on the protocol. */
#ifndef RPD_ROUTE_H
#define RPD_ROUTE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <pbxedge/inspect.h>
#include <pbxedge/store.h>

/* Where a routed request goes. */
struct route {
	const struct store_name *name;     /* in the snapshot used to decide */
	const struct store_target *target;
	uint16_t port;
	bool tls;                          /* toward the target */
};

/* route_encryption - the port and encryption to reach target t for a
 * request that arrived plain or over TLS (client_tls).  With both ports
 * the encryption is kept; with only one, that one is used for both.
 * Returns false if t has no port at all. */
bool route_encryption(const struct store_target *t, bool client_tls, uint16_t *port,
		      bool *tls);

/* route_decide - the routing decision for a request the inspector
 * resolved (v: name, url) that arrived on a proto listener from client:
 * the name must exist, have a target for the family with a usable port,
 * allow the source network, and (HTTP) allow the URL.  Returns
 * PBX_R_NONE with *out filled, or the reason to refuse. */
enum pbx_reason route_decide(const struct store_snapshot *snap, enum store_proto proto,
			     const struct pbx_verdict *v, const struct pbx_addr *client,
			     struct route *out);

/* route_check - print the routing table of snap as rpd understands it
 * (names, targets per service type with the encryption used, allowed
 * networks and URLs) and return the number of problems found. */
int route_check(const struct store_snapshot *snap, FILE *out);

#endif
