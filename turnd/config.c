/* config.c - turnd's settings as understood: listening addresses (UDP and
 * TCP, TLS), the relay port range, the peer policy's networks, the
 * external address advertised behind a static NAT, and --check. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "turnd.h"

static void problem(struct turnd_config *cfg, const char *fmt, ...) PBX_PRINTF(2, 3);

static void problem(struct turnd_config *cfg, const char *fmt, ...)
{
	if (cfg->n_problems >= TURND_MAX_PROBLEMS)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cfg->problem[cfg->n_problems++], sizeof cfg->problem[0], fmt, ap);
	va_end(ap);
}

static size_t addr_list(struct turnd_config *cfg, const char *key, const char *v,
			struct pbx_addr *out)
{
	struct pbx_span rest = pbx_span_cstr(v), member;
	size_t n = 0;
	bool more = rest.len > 0;
	while (more) {
		more = pbx_span_cut(rest, ',', &member, &rest);
		if (n == TURND_MAX_LISTEN) {
			problem(cfg, "%s lists more than %d addresses", key, TURND_MAX_LISTEN);
			break;
		}
		if (pbx_addr_parse(member, 3478, 0, &out[n], NULL)) {
			problem(cfg, "%s: '%.*s' is not an address", key, (int)member.len, member.p);
			continue;
		}
		n++;
	}
	return n;
}

static size_t net_list(struct turnd_config *cfg, const char *key, const char *v,
		       struct pbx_cidr *out)
{
	struct pbx_span rest = pbx_span_cstr(v), member;
	size_t n = 0;
	bool more = rest.len > 0;
	while (more) {
		more = pbx_span_cut(rest, ',', &member, &rest);
		if (n == TURND_MAX_NETS) {
			problem(cfg, "%s lists more than %d networks", key, TURND_MAX_NETS);
			break;
		}
		if (pbx_cidr_parse(member, &out[n], NULL) == 0)
			n++;
	}
	return n;
}

size_t config_load(const struct store_snapshot *snap, struct turnd_config *cfg)
{
	const char *ext = snap->setting_str[STORE_SET_TURND_EXTERNAL_IP];

	memset(cfg, 0, sizeof *cfg);
	cfg->n_listen = addr_list(cfg, "turnd.listen", snap->setting_str[STORE_SET_TURND_LISTEN],
				  cfg->listen);
	cfg->n_tls_listen = addr_list(cfg, "turnd.tls-listen",
				      snap->setting_str[STORE_SET_TURND_TLS_LISTEN],
				      cfg->tls_listen);
	const char *cert = snap->setting_str[STORE_SET_TURND_TLS_CERT];
	const char *key = snap->setting_str[STORE_SET_TURND_TLS_KEY];
	if (*cert && !*key)
		problem(cfg, "turnd.tls-cert is set but turnd.tls-key is not: TLS needs both");
	if (*key && !*cert)
		problem(cfg, "turnd.tls-key is set but turnd.tls-cert is not: TLS needs both");
	cfg->tls = *cert && *key;
	if (cfg->n_tls_listen && !cfg->tls)
		problem(cfg, "turnd.tls-listen is set but turnd.tls-cert and turnd.tls-key are "
			"not: TURN over TLS needs a certificate");
	for (size_t i = 0; i < cfg->n_tls_listen; i++)
		for (size_t j = 0; j < cfg->n_listen; j++)
			if (pbx_addr_equal(&cfg->tls_listen[i], &cfg->listen[j]))
				problem(cfg, "turnd.tls-listen and turnd.listen both name %s port "
					"%u: TCP and TLS need ports of their own",
					"the same address and", pbx_addr_port(&cfg->listen[j]));
	cfg->min_port = (uint16_t)snap->setting_int[STORE_SET_TURND_MIN_PORT];
	cfg->max_port = (uint16_t)snap->setting_int[STORE_SET_TURND_MAX_PORT];
	if (cfg->min_port > cfg->max_port)
		problem(cfg, "turnd.min-port %u is above turnd.max-port %u", cfg->min_port,
			cfg->max_port);
	for (size_t j = 0; j < cfg->n_listen; j++) {
		uint16_t p = pbx_addr_port(&cfg->listen[j]);
		if (p >= cfg->min_port && p <= cfg->max_port)
			problem(cfg, "turnd.listen port %u lies in the relay range turnd.min-port.."
				"turnd.max-port (%u-%u): move one of them", p, cfg->min_port,
				cfg->max_port);
	}
	if (!*snap->setting_str[STORE_SET_TURND_REALM])
		problem(cfg, "turnd.realm is empty: long-term credentials need a realm");
	cfg->n_allow = net_list(cfg, "turnd.allow-peer", snap->setting_str[STORE_SET_TURND_ALLOW_PEER],
				cfg->allow);
	cfg->n_deny = net_list(cfg, "turnd.deny-peer", snap->setting_str[STORE_SET_TURND_DENY_PEER],
			       cfg->deny);
	if (strcmp(ext, "auto") == 0)
		cfg->external_auto = true;
	else if (*ext && pbx_addr_parse(pbx_span_cstr(ext), 1, PBX_ADDR_NO_PORT, &cfg->external,
					NULL))
		problem(cfg, "turnd.external-ip '%s' is not an address", ext);
	return cfg->n_problems;
}

/* The one place turnd reads natd's findings: the external address of the
 * first logical STUN server (store_nat_external). */
int config_external_auto(const char *db_path, struct pbx_addr *out)
{
	struct store *st;
	struct pbx_err err;
	char text[PBX_ADDRSTRLEN];
	struct pbx_addr a;

	int rc = store_open(db_path, STORE_READONLY, &st, &err);
	if (rc)
		return rc;
	rc = store_nat_external(st, text, sizeof text, &err);
	store_close(st);
	if (rc)
		return rc;
	if (pbx_addr_parse(pbx_span_cstr(text), 1, 0, &a, NULL))
		return PBX_E_MALFORMED;
	pbx_addr_set_port(&a, 0);
	*out = a;
	return 0;
}

void config_print(const struct turnd_config *cfg, const struct store_snapshot *snap, FILE *out)
{
	char a[PBX_ADDRSTRLEN];
	fprintf(out, "listeners:\n");
	for (size_t i = 0; i < cfg->n_listen; i++) {
		pbx_addr_format(&cfg->listen[i], a, sizeof a);
		fprintf(out, "  udp+tcp %s\n", a);
	}
	if (!cfg->n_listen)
		fprintf(out, "  none (turnd.listen is empty)\n");
	for (size_t i = 0; i < cfg->n_tls_listen; i++) {
		pbx_addr_format(&cfg->tls_listen[i], a, sizeof a);
		fprintf(out, "  tls     %s\n", a);
	}
	if (!cfg->n_tls_listen)
		fprintf(out, "  tls     off (turnd.tls-listen not set)\n");
	fprintf(out, "realm: %s\n", snap->setting_str[STORE_SET_TURND_REALM]);
	fprintf(out, "relay ports: %u-%u\n", cfg->min_port, cfg->max_port);
	fprintf(out, "accounts: %zu, REST secrets: %zu\n", snap->n_turn_accounts,
		snap->n_turn_secrets);
	fprintf(out, "allow-peer: %s\n", cfg->n_allow ? snap->setting_str[STORE_SET_TURND_ALLOW_PEER]
						      : "none");
	fprintf(out, "deny-peer: %s\n", cfg->n_deny ? snap->setting_str[STORE_SET_TURND_DENY_PEER]
						    : "none");
	if (cfg->external_auto)
		fprintf(out, "external-ip: auto (natd's external address)\n");
	else if (pbx_addr_family(&cfg->external) != AF_UNSPEC)
		fprintf(out, "external-ip: %s\n", snap->setting_str[STORE_SET_TURND_EXTERNAL_IP]);
	else
		fprintf(out, "external-ip: none (the relay's own address is advertised)\n");
	fprintf(out, "quotas: per user %lld, total %lld, bandwidth %lld bytes/s (0: none)\n",
		(long long)snap->setting_int[STORE_SET_TURND_USER_QUOTA],
		(long long)snap->setting_int[STORE_SET_TURND_TOTAL_QUOTA],
		(long long)snap->setting_int[STORE_SET_TURND_BANDWIDTH]);
}
