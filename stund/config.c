/* config.c - stund's settings as understood: the primary and alternate
 * address and port and the four combinations they make (RFC 5780 section
 * 3 and 6), the TLS port, and the check that none of them is a port turnd
 * is configured to use. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "stund.h"

static void problem(struct stund_config *cfg, const char *fmt, ...) PBX_PRINTF(2, 3);

static void problem(struct stund_config *cfg, const char *fmt, ...)
{
	if (cfg->n_problems >= STUND_MAX_PROBLEMS)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cfg->problem[cfg->n_problems++], sizeof cfg->problem[0], fmt, ap);
	va_end(ap);
}

/* The names of the settings a combination comes from, for messages. */
static const char *const role_source[R_COUNT] = {
	[R_A1P1] = "stund.primary",
	[R_A1P2] = "stund.primary with stund.alternate's port",
	[R_A2P1] = "stund.alternate with stund.primary's port",
	[R_A2P2] = "stund.alternate",
};

/* Whether two listening addresses take the same port: the same port and
 * the same address, or either one every address of the other's family.
 * "::" takes IPv4 too, as the skeleton binds it dual-stack. */
static bool overlap(const struct pbx_addr *a, const struct pbx_addr *b)
{
	if (pbx_addr_port(a) != pbx_addr_port(b))
		return false;
	int fa = pbx_addr_family(a), fb = pbx_addr_family(b);
	if ((fa == AF_INET6 && pbx_addr_is_any(a)) || (fb == AF_INET6 && pbx_addr_is_any(b)))
		return true;
	if (fa != fb)
		return false;
	return pbx_addr_is_any(a) || pbx_addr_is_any(b) || pbx_addr_equal(a, b);
}

/* Check one of stund's addresses against the ports of a turnd setting
 * (a canonical ADDR:PORT list).  Both daemons run as the same user and
 * bind with SO_REUSEPORT, so the kernel would let both have the port and
 * split the clients between them: refuse it here instead. */
static void against_turnd(struct stund_config *cfg, const struct store_snapshot *snap,
			  enum store_setting turnd, const char *what, const struct pbx_addr *a)
{
	const char *key = store_setting_info(turnd)->key;
	struct pbx_span rest = pbx_span_cstr(snap->setting_str[turnd]), member;
	bool more = rest.len > 0;
	while (more) {
		struct pbx_addr t;
		more = pbx_span_cut(rest, ',', &member, &rest);
		if (pbx_addr_parse(member, 1, PBX_ADDR_NEED_PORT, &t, NULL) || !overlap(a, &t))
			continue;
		char at[PBX_ADDRSTRLEN], tt[PBX_ADDRSTRLEN];
		pbx_addr_format(a, at, sizeof at);
		pbx_addr_format(&t, tt, sizeof tt);
		problem(cfg, "%s %s is a port turnd is configured to use (%s %s): both would "
			"bind it and split the clients; change %s or %s", what, at, key, tt,
			strncmp(what, "stund.tls", 9) == 0 ? "stund.tls-port" :
			strstr(what, "alternate") ? "stund.alternate" : "stund.primary", key);
		return;
	}
}

size_t config_load(const struct store_snapshot *snap, struct stund_config *cfg)
{
	const char *primary = snap->setting_str[STORE_SET_STUND_PRIMARY];
	const char *alternate = snap->setting_str[STORE_SET_STUND_ALTERNATE];
	const char *cert = snap->setting_str[STORE_SET_STUND_TLS_CERT];
	const char *key = snap->setting_str[STORE_SET_STUND_TLS_KEY];
	struct pbx_addr p, a;

	memset(cfg, 0, sizeof *cfg);
	if (*cert && !*key)
		problem(cfg, "stund.tls-cert is set but stund.tls-key is not: TLS needs both");
	if (*key && !*cert)
		problem(cfg, "stund.tls-key is set but stund.tls-cert is not: TLS needs both");
	if (!*primary) {
		if (*alternate)
			problem(cfg, "stund.alternate is set but stund.primary is not: the "
				"alternate is the second address of a primary one");
		return cfg->n_problems;
	}
	/* Stored values passed validation: primary has a port, alternate may
	 * lack one. */
	if (pbx_addr_parse(pbx_span_cstr(primary), 3478, 0, &p, NULL)) {
		problem(cfg, "stund.primary '%s' is not an address", primary);
		return cfg->n_problems;
	}
	cfg->on = true;
	cfg->addr[R_A1P1] = p;
	if (*alternate) {
		bool bare = pbx_addr_parse(pbx_span_cstr(alternate), 1, PBX_ADDR_NO_PORT, &a,
					   NULL) == 0;
		if (!bare && pbx_addr_parse(pbx_span_cstr(alternate), 1, 0, &a, NULL)) {
			problem(cfg, "stund.alternate '%s' is not an address", alternate);
			return cfg->n_problems;
		}
		if (bare) {
			/* As coturn does: the alternate port is the next one. */
			if (pbx_addr_port(&p) == 65535)
				problem(cfg, "stund.alternate has no port and stund.primary's "
					"port 65535 has no next one: give the alternate a port");
			pbx_addr_set_port(&a, (uint16_t)(pbx_addr_port(&p) + 1));
		}
		struct pbx_addr pa = p, pp = a;
		pbx_addr_set_port(&pa, pbx_addr_port(&a));
		pbx_addr_set_port(&pp, pbx_addr_port(&p));
		if (pbx_addr_family(&a) != pbx_addr_family(&p))
			problem(cfg, "stund.alternate '%s' and stund.primary '%s' are of different "
				"address families: NAT discovery compares addresses of one family",
				alternate, primary);
		else if (pbx_addr_equal(&pp, &p))
			problem(cfg, "stund.alternate '%s' has the same address as stund.primary "
				"'%s': RFC 5780 needs a second address", alternate, primary);
		if (pbx_addr_port(&a) == pbx_addr_port(&p))
			problem(cfg, "stund.alternate '%s' has the same port as stund.primary '%s': "
				"RFC 5780 needs a second port", alternate, primary);
		if (pbx_addr_is_any(&p) || pbx_addr_is_any(&a))
			problem(cfg, "with stund.alternate, stund.primary and stund.alternate must "
				"be addresses of this host, not 0.0.0.0 or :: (answers name them in "
				"OTHER-ADDRESS and RESPONSE-ORIGIN)");
		cfg->alternate = true;
		cfg->addr[R_A1P2] = pa;
		cfg->addr[R_A2P1] = pp;
		cfg->addr[R_A2P2] = a;
	}
	if (*cert && *key) {
		cfg->tls = true;
		cfg->tls_addr = p;
		pbx_addr_set_port(&cfg->tls_addr,
				  (uint16_t)snap->setting_int[STORE_SET_STUND_TLS_PORT]);
		for (int r = 0; r < (cfg->alternate ? R_COUNT : 1); r++)
			if (pbx_addr_equal(&cfg->tls_addr, &cfg->addr[r]))
				problem(cfg, "stund.tls-port %u is also the port of %s: STUN over "
					"TCP and over TLS need ports of their own",
					pbx_addr_port(&cfg->tls_addr), role_source[r]);
	}
	for (int r = 0; r < (cfg->alternate ? R_COUNT : 1); r++) {
		against_turnd(cfg, snap, STORE_SET_TURND_LISTEN, role_source[r], &cfg->addr[r]);
		against_turnd(cfg, snap, STORE_SET_TURND_TLS_LISTEN, role_source[r], &cfg->addr[r]);
	}
	if (cfg->tls) {
		against_turnd(cfg, snap, STORE_SET_TURND_LISTEN, "stund.tls-port", &cfg->tls_addr);
		against_turnd(cfg, snap, STORE_SET_TURND_TLS_LISTEN, "stund.tls-port",
			      &cfg->tls_addr);
	}
	return cfg->n_problems;
}

void config_print(const struct stund_config *cfg, FILE *out)
{
	static const char *const names[R_COUNT] = { "A1:P1", "A1:P2", "A2:P1", "A2:P2" };
	char a[PBX_ADDRSTRLEN];
	if (!cfg->on) {
		fprintf(out, "listeners: none (stund.primary is empty: stund is off)\n");
		return;
	}
	fprintf(out, "listeners:\n");
	for (int r = 0; r < (cfg->alternate ? R_COUNT : 1); r++) {
		pbx_addr_format(&cfg->addr[r], a, sizeof a);
		fprintf(out, "  %-6s udp+tcp %-24s %s\n", names[r], a, role_source[r]);
	}
	if (cfg->tls) {
		pbx_addr_format(&cfg->tls_addr, a, sizeof a);
		fprintf(out, "  tls    tcp     %-24s stund.primary, stund.tls-port\n", a);
	} else {
		fprintf(out, "  tls    off (stund.tls-cert and stund.tls-key not set)\n");
	}
	if (!cfg->alternate)
		fprintf(out, "rfc5780: off (no stund.alternate): CHANGE-REQUEST is answered "
			"420\n");
}
