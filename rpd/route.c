/* route.c - rpd's protocol-independent routing rules: which target port
 * and encryption a request uses, and the --check view of the table. */
#include <string.h>
#include <unistd.h>

#include <pbxedge/http.h>

#include "route.h"

bool route_encryption(const struct store_target *t, bool client_tls, uint16_t *port,
		      bool *tls)
{
	if (t->plain_port && t->tls_port) {
		*tls = client_tls;
		*port = client_tls ? t->tls_port : t->plain_port;
	} else if (t->plain_port || t->tls_port) {
		*tls = t->tls_port != 0;
		*port = *tls ? t->tls_port : t->plain_port;
	} else {
		return false;
	}
	return true;
}

const char *route_rule_name(enum route_rule r)
{
	switch (r) {
	case RULE_KEPT: return "encryption-kept";
	case RULE_CONVERTED: return "encryption-converted";
	case RULE_CERT_OK: return "check-cert:verified";
	case RULE_CERT_PLAIN: return "check-cert:plain-tcp";
	case RULE_CERT_NONE: return "check-cert:no-certificate";
	case RULE_CERT_UNTRUSTED: return "check-cert:untrusted";
	case RULE_CERT_MISMATCH: return "check-cert:cn-mismatch";
	}
	return "?";
}

/* The reference's registration rule: the TLS port only for a connection
 * over TLS whose client certificate verifies and names (CN) one of the
 * aliases the endpoint registers; every other case goes to the plain
 * port, where the PBX checks the password instead. */
static enum route_rule cert_rule(const struct pbx_verdict *v, const struct route_client *cl)
{
	if (!cl->tls)
		return RULE_CERT_PLAIN;
	if (!cl->cert_sent)
		return RULE_CERT_NONE;
	if (!cl->cert_verified)
		return RULE_CERT_UNTRUSTED;
	for (size_t i = 0; i < v->n_aliases && i < PBX_VERDICT_ALIASES; i++)
		if (*cl->cert_cn && pbx_span_caseeq_cstr(v->aliases[i], cl->cert_cn))
			return RULE_CERT_OK;
	return RULE_CERT_MISMATCH;
}

enum pbx_reason route_decide(const struct store_snapshot *snap, enum store_proto proto,
			     struct pbx_span name, const struct pbx_verdict *v,
			     const struct route_client *cl, struct route *out)
{
	enum store_family f = store_proto_family(proto);
	memset(out, 0, sizeof *out);
	if (!name.len)
		return PBX_R_NO_NAME;
	const struct store_name *n = store_snapshot_name(snap, name);
	if (!n)
		return PBX_R_UNKNOWN_NAME;
	const struct store_target *t = &n->target[f];
	if (!t->host)
		return PBX_R_NO_TARGET;
	if (f == STORE_FAMILY_H323 && t->check_cert) {
		out->rule = cert_rule(v, cl);
		out->tls = out->rule == RULE_CERT_OK;
		out->port = out->tls ? t->tls_port : t->plain_port;
		if (!out->port)
			return PBX_R_NO_TARGET;
	} else {
		if (!route_encryption(t, store_proto_tls(proto), &out->port, &out->tls))
			return PBX_R_NO_TARGET;
		out->rule = t->plain_port && t->tls_port ? RULE_KEPT : RULE_CONVERTED;
	}
	if (n->n_allow[f]) {
		bool ok = false;
		for (size_t i = 0; i < n->n_allow[f] && !ok; i++)
			ok = pbx_cidr_contains(&n->allow[f][i], cl->addr);
		if (!ok)
			return PBX_R_SOURCE_DENIED;
	}
	if (f == STORE_FAMILY_HTTP && n->n_urls) {
		bool ok = false;
		for (size_t i = 0; i < n->n_urls && !ok; i++)
			ok = pbx_url_allowed(v->url, n->urls[i]);
		if (!ok)
			return PBX_R_URL_DENIED;
	}
	out->name = n;
	out->target = t;
	return PBX_R_NONE;
}

static int check_file(FILE *out, const struct store_snapshot *snap, enum store_setting s,
		      const char *why)
{
	const char *path = snap->setting_str[s];
	const char *key = store_setting_info(s)->key;
	if (!*path) {
		fprintf(out, "problem: %s is not set (%s)\n", key, why);
		return 1;
	}
	if (access(path, R_OK)) {
		fprintf(out, "problem: %s: %s is not readable\n", key, path);
		return 1;
	}
	return 0;
}

int route_check(const struct store_snapshot *snap, FILE *out)
{
	int problems = 0;
	bool any_tls = false;

	fprintf(out, "listeners:\n");
	for (int p = 0; p < STORE_PROTO_COUNT; p++) {
		const struct store_listener *l = &snap->listener[p];
		if (!l->on)
			continue;
		char a[PBX_ADDRSTRLEN];
		pbx_addr_format(&l->addr, a, sizeof a);
		fprintf(out, "  %-6s %s%s\n", store_proto_name((enum store_proto)p), a,
			pbx_inspector_for(store_proto_family((enum store_proto)p))
				? "" : "  (not served by this version)");
		any_tls |= store_proto_tls((enum store_proto)p);
	}
	if (any_tls) {
		problems += check_file(out, snap, STORE_SET_RPD_TLS_CERT, "a TLS port is served");
		problems += check_file(out, snap, STORE_SET_RPD_TLS_KEY, "a TLS port is served");
	}
	if (*snap->setting_str[STORE_SET_RPD_TRUST_CA])
		problems += check_file(out, snap, STORE_SET_RPD_TRUST_CA, "");
	if (*snap->setting_str[STORE_SET_RPD_TARGET_CA])
		problems += check_file(out, snap, STORE_SET_RPD_TARGET_CA, "");

	fprintf(out, "names:%s\n", snap->n_names ? "" : " none");
	for (size_t i = 0; i < snap->n_names; i++) {
		const struct store_name *n = &snap->names[i];
		fprintf(out, "  %s\n", n->name);
		for (int f = 0; f < STORE_FAMILY_COUNT; f++) {
			const struct store_target *t = &n->target[f];
			for (int p = 0; p < STORE_PROTO_COUNT && t->host; p++) {
				enum store_proto proto = (enum store_proto)p;
				if (store_proto_family(proto) != (enum store_family)f)
					continue;
				uint16_t port = 0;
				bool tls = false;
				const char *served = snap->listener[p].on ? ""
						     : "  (service type not served)";
				if (f == STORE_FAMILY_H323 && t->check_cert) {
					/* The certificate decides, per registration. */
					fprintf(out, "    %-6s -> %s", store_proto_name(proto), t->host);
					if (store_proto_tls(proto) && t->tls_port)
						fprintf(out, " port %u tls if the client certificate "
							"verifies and names an alias, else",
							t->tls_port);
					if (t->plain_port)
						fprintf(out, " port %u plain", t->plain_port);
					else
						fprintf(out, " refused (no plain port)");
					fprintf(out, "%s\n", served);
					continue;
				}
				route_encryption(t, store_proto_tls(proto), &port, &tls);
				fprintf(out, "    %-6s -> %s port %u %s%s\n", store_proto_name(proto),
					t->host, port, tls ? "tls" : "plain", served);
			}
			if (n->n_allow[f]) {
				fprintf(out, "    %-6s allowed from", store_family_name((enum store_family)f));
				for (size_t k = 0; k < n->n_allow[f]; k++) {
					char c[PBX_CIDRSTRLEN];
					pbx_cidr_format(&n->allow[f][k], c, sizeof c);
					fprintf(out, " %s", c);
				}
				fprintf(out, "%s\n", t->host ? "" : "  (no target)");
			}
		}
		if (n->n_urls) {
			fprintf(out, "    urls  ");
			for (size_t k = 0; k < n->n_urls; k++)
				fprintf(out, " %s", n->urls[k]);
			fprintf(out, "%s\n", n->target[STORE_FAMILY_HTTP].host ? ""
					     : "  (no http target)");
		}
	}
	return problems;
}
