/* route.h - rpd's routing rules that do not depend on the protocol. */
#ifndef RPD_ROUTE_H
#define RPD_ROUTE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <pbxedge/inspect.h>
#include <pbxedge/store.h>

/* Which rule chose the target port (for the log). */
enum route_rule {
	RULE_KEPT,           /* both ports: the client's encryption is kept */
	RULE_CONVERTED,      /* one port: every request uses it */
	RULE_CERT_OK,        /* check-cert: verified certificate, CN is an alias */
	RULE_CERT_PLAIN,     /* check-cert: the client came over plain TCP */
	RULE_CERT_NONE,      /* check-cert: no client certificate */
	RULE_CERT_UNTRUSTED, /* check-cert: the certificate did not verify */
	RULE_CERT_MISMATCH,  /* check-cert: its CN is none of the aliases */
};

/* route_rule_name - "encryption-kept", "check-cert:verified" ... */
const char *route_rule_name(enum route_rule r);

/* What routing knows of the client. */
struct route_client {
	const struct pbx_addr *addr;
	bool tls;              /* it came over TLS */
	bool cert_sent;        /* it sent a certificate */
	bool cert_verified;    /* which verified against rpd.trust-ca */
	const char *cert_cn;   /* its subject CN ("" if none) */
};

/* Where a routed request goes. */
struct route {
	const struct store_name *name;     /* in the snapshot used to decide */
	const struct store_target *target;
	uint16_t port;
	bool tls;                          /* toward the target */
	enum route_rule rule;
};

/* route_encryption - the port and encryption to reach target t for a
 * request that arrived plain or over TLS (client_tls).  With both ports
 * the encryption is kept; with only one, that one is used for both.
 * Returns false if t has no port at all. */
bool route_encryption(const struct store_target *t, bool client_tls, uint16_t *port,
		      bool *tls);

/* route_decide - the routing decision for the service name (a verdict's
 * name, or its standby) of a request the inspector resolved (v: url,
 * aliases) that arrived on a proto listener from cl: the name must exist,
 * have a target for the family with a usable port, allow the source
 * network, and (HTTP) allow the URL.  For an H.323 target with check-cert
 * the port follows the certificate rule: the TLS port for a verified
 * client certificate whose CN is one of the aliases, the plain port
 * otherwise.  Returns PBX_R_NONE with *out filled, or the reason to
 * refuse. */
enum pbx_reason route_decide(const struct store_snapshot *snap, enum store_proto proto,
			     struct pbx_span name, const struct pbx_verdict *v,
			     const struct route_client *cl, struct route *out);

/* route_check - print the routing table of snap as rpd understands it
 * (names, targets per service type with the encryption used, allowed
 * networks and URLs) and return the number of problems found. */
int route_check(const struct store_snapshot *snap, FILE *out);

#endif
