/* settings.c - the setting keys, their types and limits, validation, and
 * reading and writing them in the store. */
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <pbxedge/addr.h>

#include "internal.h"

#define DEFAULT_TLS_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

static const struct store_setting_info infos[STORE_SETTING_COUNT] = {
	[STORE_SET_RPD_SUSPICIOUS_PER_MINUTE] = {
		"rpd.suspicious-per-minute", STORE_SETTING_INT, "10", 1, 100000, NULL,
		"suspicious requests from one source within a minute that put it on the blacklist" },
	[STORE_SET_RPD_BLACKLIST_MINUTES] = {
		"rpd.blacklist-minutes", STORE_SETTING_INT, "10", 1, 525600, "minutes",
		"how long an automatic blacklist entry lasts" },
	[STORE_SET_RPD_INSPECT_TIMEOUT_MS] = {
		"rpd.inspect-timeout-ms", STORE_SETTING_INT, "5000", 100, 60000, "ms",
		"time a client has to send a request that can be routed" },
	[STORE_SET_RPD_INSPECT_MAX_BYTES] = {
		"rpd.inspect-max-bytes", STORE_SETTING_INT, "16384", 1024, 1048576, "bytes",
		"bytes rpd reads at most before it can route a request" },
	[STORE_SET_RPD_TLS_CERT] = {
		"rpd.tls-cert", STORE_SETTING_PATH, "", 0, 4095, NULL,
		"PEM certificate chain rpd presents on its TLS ports" },
	[STORE_SET_RPD_TLS_KEY] = {
		"rpd.tls-key", STORE_SETTING_PATH, "", 0, 4095, NULL,
		"PEM private key of rpd.tls-cert" },
	[STORE_SET_RPD_TLS_PRIORITY] = {
		"rpd.tls-priority", STORE_SETTING_TLS_PRIORITY, DEFAULT_TLS_PRIORITY, 0, 1024, NULL,
		"GnuTLS priority string for rpd's TLS ports (default: TLS 1.2 and 1.3 only)" },
	[STORE_SET_RPD_TRUST_CA] = {
		"rpd.trust-ca", STORE_SETTING_PATH, "", 0, 4095, NULL,
		"PEM file of CA certificates that client certificates are verified against" },
	[STORE_SET_RPD_TARGET_CA] = {
		"rpd.target-ca", STORE_SETTING_PATH, "", 0, 4095, NULL,
		"PEM file of CA certificates that TLS targets are verified against (none: not verified)" },
	[STORE_SET_RPD_IPV6_PREFIX] = {
		"rpd.ipv6-prefix", STORE_SETTING_INT, "64", 32, 128, "bits",
		"IPv6 sources are counted and blacklisted per network of this prefix length" },
	[STORE_SET_NATD_SERVERS] = {
		"natd.servers", STORE_SETTING_STUN_SERVERS, "", 0, 1024, NULL,
		"STUN servers: a[:port],b[:port] are redundant, ';' separates logical servers" },
	[STORE_SET_NATD_INTERVAL_S] = {
		"natd.interval-s", STORE_SETTING_INT, "300", 10, 86400, "seconds",
		"how often natd repeats NAT discovery" },
	[STORE_SET_STUND_PRIMARY] = {
		"stund.primary", STORE_SETTING_ADDRPORT, "", 3478, 64, NULL,
		"IP address[:port] stund answers on (port 3478 if none; empty: stund is off)" },
	[STORE_SET_STUND_ALTERNATE] = {
		"stund.alternate", STORE_SETTING_ADDRPORT, "", 0, 64, NULL,
		"second IP address[:port] for RFC 5780 NAT discovery (port: the primary's + 1 if none)" },
	[STORE_SET_STUND_TLS_PORT] = {
		"stund.tls-port", STORE_SETTING_INT, "5349", 1, 65535, NULL,
		"port of STUN over TLS on the primary address (when stund.tls-cert and -key are set)" },
	[STORE_SET_STUND_TLS_CERT] = {
		"stund.tls-cert", STORE_SETTING_PATH, "", 0, 4095, NULL,
		"PEM certificate chain stund presents on its TLS port" },
	[STORE_SET_STUND_TLS_KEY] = {
		"stund.tls-key", STORE_SETTING_PATH, "", 0, 4095, NULL,
		"PEM private key of stund.tls-cert" },
	[STORE_SET_STUND_SOFTWARE] = {
		"stund.software", STORE_SETTING_STRING, "", 0, 127, NULL,
		"SOFTWARE attribute stund puts in its answers (empty: none)" },
	[STORE_SET_STUND_RATE_PER_SECOND] = {
		"stund.rate-per-second", STORE_SETTING_INT, "50", 0, 1000000, NULL,
		"STUN messages per second stund takes from one source address (0: no limit)" },
	[STORE_SET_STUND_RATE_BURST] = {
		"stund.rate-burst", STORE_SETTING_INT, "100", 1, 1000000, NULL,
		"STUN messages one source address may send at once before stund.rate-per-second applies" },
	[STORE_SET_STUND_TCP_PER_SOURCE] = {
		"stund.tcp-per-source", STORE_SETTING_INT, "10", 1, 10000, NULL,
		"TCP and TLS connections to stund one source address may hold" },
	[STORE_SET_STUND_TCP_IDLE_S] = {
		"stund.tcp-idle-s", STORE_SETTING_INT, "30", 1, 3600, "seconds",
		"stund closes a TCP or TLS connection idle this long" },
	[STORE_SET_TURND_LISTEN] = {
		"turnd.listen", STORE_SETTING_ADDRPORTS, "0.0.0.0:3478", 3478, 1024, NULL,
		"ADDR[:PORT],... turnd serves TURN on, UDP and TCP (stund refuses these ports)" },
	[STORE_SET_TURND_TLS_LISTEN] = {
		"turnd.tls-listen", STORE_SETTING_ADDRPORTS, "", 5349, 1024, NULL,
		"ADDR[:PORT],... turnd serves TURN over TLS on (stund refuses these ports)" },
	[STORE_SET_TURND_REALM] = {
		"turnd.realm", STORE_SETTING_STRING, "pbxedge", 1, 127, NULL,
		"REALM of turnd's long-term credentials (accounts are keyed to it: re-add them after a change)" },
	[STORE_SET_TURND_MIN_PORT] = {
		"turnd.min-port", STORE_SETTING_INT, "49152", 1024, 65535, NULL,
		"lowest UDP port turnd relays on" },
	[STORE_SET_TURND_TLS_CERT] = {
		"turnd.tls-cert", STORE_SETTING_PATH, "", 0, 4095, NULL,
		"PEM certificate chain turnd presents on turnd.tls-listen" },
	[STORE_SET_TURND_TLS_KEY] = {
		"turnd.tls-key", STORE_SETTING_PATH, "", 0, 4095, NULL,
		"PEM private key of turnd.tls-cert" },
	[STORE_SET_TURND_MAX_PORT] = {
		"turnd.max-port", STORE_SETTING_INT, "65535", 1024, 65535, NULL,
		"highest UDP port turnd relays on" },
	[STORE_SET_TURND_ALLOW_PEER] = {
		"turnd.allow-peer", STORE_SETTING_CIDRS, "", 0, 2048, NULL,
		"NET,... peers turnd relays to although they are loopback, private, link-local or its own" },
	[STORE_SET_TURND_DENY_PEER] = {
		"turnd.deny-peer", STORE_SETTING_CIDRS, "", 0, 2048, NULL,
		"NET,... peers turnd never relays to (wins over turnd.allow-peer)" },
	[STORE_SET_TURND_EXTERNAL_IP] = {
		"turnd.external-ip", STORE_SETTING_ADDR_AUTO, "", 0, 64, NULL,
		"address advertised in XOR-RELAYED-ADDRESS behind a static NAT ('auto': natd's finding; empty: the relay's own)" },
	[STORE_SET_TURND_USER_QUOTA] = {
		"turnd.user-quota", STORE_SETTING_INT, "0", 0, 1000000, NULL,
		"live allocations one user may hold (0: no limit)" },
	[STORE_SET_TURND_TOTAL_QUOTA] = {
		"turnd.total-quota", STORE_SETTING_INT, "0", 0, 1000000, NULL,
		"live allocations turnd holds at most (0: no limit but the port range)" },
	[STORE_SET_TURND_BANDWIDTH] = {
		"turnd.bandwidth", STORE_SETTING_INT, "0", 0, 1000000000, "bytes/s",
		"relayed bytes per second one allocation may pass each way (0: no cap)" },
	[STORE_SET_TURND_MAX_LIFETIME] = {
		"turnd.max-lifetime", STORE_SETTING_INT, "3600", 1, 86400, "seconds",
		"longest allocation lifetime granted (RFC 8656: 3600; the default 600 is cut to it if lower)" },
	[STORE_SET_TURND_SUSPICIOUS_PER_MINUTE] = {
		"turnd.suspicious-per-minute", STORE_SETTING_INT, "10", 1, 100000, NULL,
		"wrong credentials and refused requests from one source within a minute that put it on the blacklist" },
	[STORE_SET_TURND_BLACKLIST_MINUTES] = {
		"turnd.blacklist-minutes", STORE_SETTING_INT, "10", 1, 525600, "minutes",
		"how long turnd's automatic blacklist entries last" },
};

const struct store_setting_info *store_setting_info(enum store_setting s)
{
	return (unsigned)s < STORE_SETTING_COUNT ? &infos[s] : NULL;
}

int store_setting_find(const char *key, enum store_setting *s, struct pbx_err *err)
{
	for (int i = 0; i < STORE_SETTING_COUNT; i++) {
		if (strcmp(key, infos[i].key) == 0) {
			*s = (enum store_setting)i;
			return 0;
		}
	}
	return pbx_err_set(err, PBX_E_NOTFOUND,
			   "unknown setting '%s' ('rpctl settings' lists them)", key);
}

static bool printable(const char *v)
{
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			return false;
	return true;
}

static int put(char *canon, size_t n, const char *v, const struct store_setting_info *in,
	       struct pbx_err *err)
{
	if ((size_t)snprintf(canon, n, "%s", v) >= n)
		return pbx_err_set(err, PBX_E_INVALID, "%s: value too long", in->key);
	return 0;
}

static int validate_int(const struct store_setting_info *in, const char *v, char *canon,
			size_t n, struct pbx_err *err)
{
	uint32_t x;
	int rc = pbx_span_to_u32(pbx_span_cstr(v), (uint32_t)in->max, &x);
	if (rc == 0 && x < in->min)
		rc = PBX_E_TOOLONG;
	if (rc == PBX_E_TOOLONG)
		return pbx_err_set(err, PBX_E_INVALID, "%s: %s is out of range (%lld-%lld%s%s)",
				   in->key, v, (long long)in->min, (long long)in->max,
				   in->unit ? " " : "", in->unit ? in->unit : "");
	if (rc)
		return pbx_err_set(err, PBX_E_INVALID, "%s: '%s' is not a whole number", in->key, v);
	char num[16];
	snprintf(num, sizeof num, "%u", x);
	return put(canon, n, num, in, err);
}

static int validate_bool(const struct store_setting_info *in, const char *v, char *canon,
			 size_t n, struct pbx_err *err)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return put(canon, n, "true", in, err);
		if (strcasecmp(v, no[i]) == 0)
			return put(canon, n, "false", in, err);
	}
	return pbx_err_set(err, PBX_E_INVALID, "%s: '%s' is not a boolean (true or false)",
			   in->key, v);
}

static int validate_tls_priority(const struct store_setting_info *in, const char *v,
				 char *canon, size_t n, struct pbx_err *err)
{
	gnutls_priority_t prio;
	const char *errpos = NULL;
	if (!*v)
		return pbx_err_set(err, PBX_E_INVALID, "%s: empty priority string", in->key);
	int rc = gnutls_priority_init(&prio, v, &errpos);
	if (rc != GNUTLS_E_SUCCESS)
		return pbx_err_set(err, PBX_E_INVALID, "%s: GnuTLS rejects the priority string "
				   "at '%.40s': %s", in->key, errpos ? errpos : v,
				   gnutls_strerror(rc));
	gnutls_priority_deinit(prio);
	return put(canon, n, v, in, err);
}

/* One member of a logical STUN server: IPv4[:port], [IPv6][:port], a bare
 * IPv6 address, or a DNS name[:port].  *is_name tells DNS names apart. */
static int stun_member(const struct store_setting_info *in, struct pbx_span m, bool *is_name,
		       struct pbx_err *err)
{
	struct pbx_addr a;
	struct pbx_err e2;
	struct pbx_span host = m, port = { NULL, 0 };

	*is_name = false;
	if (m.len == 0)
		return pbx_err_set(err, PBX_E_INVALID, "%s: empty server in the list", in->key);
	if (pbx_addr_parse(m, 3478, 0, &a, &e2) == 0)
		return 0;
	/* Not an address: a DNS name with an optional port. */
	bool has_port = pbx_span_rcut(m, ':', &host, &port);
	if (m.p[0] == '[' || (has_port && memchr(host.p, ':', host.len)))
		return pbx_err_set(err, PBX_E_INVALID, "%s: '%.*s': %s", in->key, (int)m.len, m.p,
				   pbx_err_text(&e2));
	if (!has_port)
		port.p = NULL;
	if (port.p) {
		uint32_t pv;
		if (pbx_span_to_u32(port, 65535, &pv) || pv == 0)
			return pbx_err_set(err, PBX_E_INVALID,
					   "%s: '%.*s': port must be a number 1-65535", in->key,
					   (int)m.len, m.p);
	}
	bool digits_and_dots = true;
	for (size_t i = 0; i < host.len; i++)
		if (!((host.p[i] >= '0' && host.p[i] <= '9') || host.p[i] == '.'))
			digits_and_dots = false;
	if (digits_and_dots)
		return pbx_err_set(err, PBX_E_INVALID, "%s: '%.*s': %s", in->key, (int)m.len, m.p,
				   pbx_err_text(&e2));
	if (store_host_validate(host, &e2))
		return pbx_err_set(err, PBX_E_INVALID, "%s: '%.*s': %s", in->key, (int)m.len, m.p,
				   pbx_err_text(&e2));
	*is_name = true;
	return 0;
}

/* a[:port],b[:port];x[:port]: ',' separates redundant servers of one
 * logical server, ';' logical servers.  Redundancy is by IP addresses or
 * by one DNS name that resolves to several: two DNS names in one logical
 * server are refused, as the reference behaviour has it. */
static int validate_stun_servers(const struct store_setting_info *in, const char *v,
				 char *canon, size_t n, struct pbx_err *err)
{
	struct pbx_span rest = pbx_span_cstr(v), logical;
	size_t o = 0;
	if (n == 0)
		return pbx_err_set(err, PBX_E_INVALID, "%s: value too long", in->key);
	canon[0] = '\0';
	if (pbx_span_trim(rest).len == 0)
		return 0;
	bool more = true;
	while (more) {
		more = pbx_span_cut(rest, ';', &logical, &rest);
		struct pbx_span lrest = logical, member;
		int members = 0, names = 0;
		bool lmore = true;
		if (o && o + 1 < n)
			canon[o++] = ';';
		while (lmore) {
			lmore = pbx_span_cut(lrest, ',', &member, &lrest);
			member = pbx_span_trim(member);
			bool is_name;
			/* Name the part with the hole in it. */
			if (member.len == 0 && pbx_span_trim(logical).len == 0)
				return pbx_err_set(err, PBX_E_INVALID,
						   "%s: '%s': empty logical server (a ';' at the "
						   "start or end, or two in a row)", in->key, v);
			if (member.len == 0)
				return pbx_err_set(err, PBX_E_INVALID,
						   "%s: '%.*s': empty server (a ',' at the start or "
						   "end, or two in a row)", in->key, (int)logical.len,
						   logical.p);
			if (stun_member(in, member, &is_name, err))
				return PBX_E_INVALID;
			members++;
			names += is_name;
			/* Room for a ',' before all but the first, and the NUL. */
			if (o + (members > 1) + member.len >= n)
				return pbx_err_set(err, PBX_E_INVALID, "%s: value too long", in->key);
			if (members > 1)
				canon[o++] = ',';
			memcpy(canon + o, member.p, member.len);
			o += member.len;
			canon[o] = '\0';
		}
		if (names && members > 1)
			return pbx_err_set(err, PBX_E_INVALID,
					   "%s: '%.*s': a DNS name must stand alone in a logical "
					   "server (redundant servers are IP addresses, or one name "
					   "with several addresses)", in->key, (int)logical.len,
					   logical.p);
	}
	return 0;
}

/* One IP address with an optional port into canon (size n): the port of
 * in->min added when there is none, or, with min 0, the bare address. */
static int addrport(const struct store_setting_info *in, struct pbx_span v, char *canon,
		    size_t n, struct pbx_err *err)
{
	struct pbx_addr a;
	struct pbx_err e2;
	char text[PBX_ADDRSTRLEN];
	bool has_port = pbx_addr_parse(v, 1, PBX_ADDR_NO_PORT, &a, NULL) != 0;
	if (has_port && pbx_addr_parse(v, 1, PBX_ADDR_NEED_PORT, &a, &e2))
		return pbx_err_set(err, PBX_E_INVALID, "%s: '%.*s' is not an IP address with an "
				   "optional port (192.0.2.1, 192.0.2.1:%lld, [2001:db8::1]:%lld): %s",
				   in->key, (int)v.len, v.p, (long long)(in->min ? in->min : 3478),
				   (long long)(in->min ? in->min : 3478), pbx_err_text(&e2));
	if (!has_port && in->min)
		pbx_addr_set_port(&a, (uint16_t)in->min);
	if (has_port || in->min)
		pbx_addr_format(&a, text, sizeof text);
	else
		pbx_addr_format_ip(&a, text, sizeof text);
	if ((size_t)snprintf(canon, n, "%s", text) >= n)
		return pbx_err_set(err, PBX_E_INVALID, "%s: value too long", in->key);
	return 0;
}

static int validate_addrport(const struct store_setting_info *in, const char *v, char *canon,
			     size_t n, struct pbx_err *err)
{
	struct pbx_span s = pbx_span_trim(pbx_span_cstr(v));
	if (s.len == 0)
		return put(canon, n, "", in, err);
	return addrport(in, s, canon, n, err);
}

/* ADDR[:PORT],ADDR[:PORT]...: each member canonical, no member twice. */
static int validate_addrports(const struct store_setting_info *in, const char *v, char *canon,
			      size_t n, struct pbx_err *err)
{
	char out[8192], one[PBX_ADDRSTRLEN];
	size_t o = 0;
	struct pbx_span rest = pbx_span_trim(pbx_span_cstr(v)), member;
	out[0] = '\0';
	bool more = rest.len > 0;
	while (more) {
		more = pbx_span_cut(rest, ',', &member, &rest);
		member = pbx_span_trim(member);
		if (member.len == 0)
			return pbx_err_set(err, PBX_E_INVALID, "%s: empty address in the list",
					   in->key);
		if (addrport(in, member, one, sizeof one, err))
			return PBX_E_INVALID;
		/* The same address twice is a typo, not a wish. */
		struct pbx_span seen = { out, o }, prev;
		bool smore = o > 0;
		while (smore) {
			smore = pbx_span_cut(seen, ',', &prev, &seen);
			if (pbx_span_eq(prev, pbx_span_cstr(one)))
				return pbx_err_set(err, PBX_E_INVALID, "%s: %s is listed twice",
						   in->key, one);
		}
		int w = snprintf(out + o, sizeof out - o, "%s%s", o ? "," : "", one);
		if (w < 0 || (size_t)w >= sizeof out - o)
			return pbx_err_set(err, PBX_E_INVALID, "%s: value too long", in->key);
		o += (size_t)w;
	}
	/* The canonical text must pass the length check again. */
	if (o > (size_t)in->max)
		return pbx_err_set(err, PBX_E_INVALID, "%s: longer than %lld characters once "
				   "the ports are written out", in->key, (long long)in->max);
	return put(canon, n, out, in, err);
}

/* NET,NET...: each a host or network, canonical, none twice. */
static int validate_cidrs(const struct store_setting_info *in, const char *v, char *canon,
			  size_t n, struct pbx_err *err)
{
	char out[4096], one[PBX_CIDRSTRLEN];
	size_t o = 0;
	struct pbx_span rest = pbx_span_trim(pbx_span_cstr(v)), member;
	out[0] = '\0';
	bool more = rest.len > 0;
	while (more) {
		struct pbx_cidr c;
		struct pbx_err e2;
		more = pbx_span_cut(rest, ',', &member, &rest);
		member = pbx_span_trim(member);
		if (member.len == 0)
			return pbx_err_set(err, PBX_E_INVALID, "%s: empty network in the list",
					   in->key);
		if (pbx_cidr_parse(member, &c, &e2))
			return pbx_err_set(err, PBX_E_INVALID, "%s: '%.*s': %s", in->key,
					   (int)member.len, member.p, pbx_err_text(&e2));
		pbx_cidr_format(&c, one, sizeof one);
		struct pbx_span seen = { out, o }, prev;
		bool smore = o > 0;
		while (smore) {
			smore = pbx_span_cut(seen, ',', &prev, &seen);
			if (pbx_span_eq(prev, pbx_span_cstr(one)))
				return pbx_err_set(err, PBX_E_INVALID, "%s: %s is listed twice",
						   in->key, one);
		}
		int w = snprintf(out + o, sizeof out - o, "%s%s", o ? "," : "", one);
		if (w < 0 || (size_t)w >= sizeof out - o || o + (size_t)w > (size_t)in->max)
			return pbx_err_set(err, PBX_E_INVALID, "%s: value too long", in->key);
		o += (size_t)w;
	}
	return put(canon, n, out, in, err);
}

/* One IP address without a port, "auto", or empty. */
static int validate_addr_auto(const struct store_setting_info *in, const char *v, char *canon,
			      size_t n, struct pbx_err *err)
{
	struct pbx_span s = pbx_span_trim(pbx_span_cstr(v));
	struct pbx_addr a;
	struct pbx_err e2;
	char text[PBX_ADDRSTRLEN];
	if (s.len == 0)
		return put(canon, n, "", in, err);
	if (pbx_span_caseeq_cstr(s, "auto"))
		return put(canon, n, "auto", in, err);
	if (pbx_addr_parse(s, 1, PBX_ADDR_NO_PORT, &a, &e2) || pbx_addr_is_any(&a))
		return pbx_err_set(err, PBX_E_INVALID, "%s: '%.*s' is not 'auto' nor an IP "
				   "address of a host without a port (192.0.2.1, 2001:db8::1)",
				   in->key, (int)s.len, s.p);
	pbx_addr_format_ip(&a, text, sizeof text);
	return put(canon, n, text, in, err);
}

int store_setting_validate(enum store_setting s, const char *value, char *canon, size_t n,
			   struct pbx_err *err)
{
	const struct store_setting_info *in = store_setting_info(s);
	if (!in)
		return pbx_err_set(err, PBX_E_INVALID, "no such setting");
	if (!printable(value))
		return pbx_err_set(err, PBX_E_INVALID,
				   "%s: only printable ASCII characters are allowed", in->key);
	if (in->type != STORE_SETTING_INT && strlen(value) > (size_t)in->max)
		return pbx_err_set(err, PBX_E_INVALID, "%s: longer than %lld characters", in->key,
				   (long long)in->max);
	switch (in->type) {
	case STORE_SETTING_INT:
		return validate_int(in, value, canon, n, err);
	case STORE_SETTING_BOOL:
		return validate_bool(in, value, canon, n, err);
	case STORE_SETTING_PATH:
		if (*value && value[0] != '/')
			return pbx_err_set(err, PBX_E_INVALID,
					   "%s: '%s' is not an absolute path", in->key, value);
		return put(canon, n, value, in, err);
	case STORE_SETTING_TLS_PRIORITY:
		return validate_tls_priority(in, value, canon, n, err);
	case STORE_SETTING_STUN_SERVERS:
		return validate_stun_servers(in, value, canon, n, err);
	case STORE_SETTING_STRING:
		return put(canon, n, value, in, err);
	case STORE_SETTING_ADDRPORT:
		return validate_addrport(in, value, canon, n, err);
	case STORE_SETTING_ADDRPORTS:
		return validate_addrports(in, value, canon, n, err);
	case STORE_SETTING_CIDRS:
		return validate_cidrs(in, value, canon, n, err);
	case STORE_SETTING_ADDR_AUTO:
		return validate_addr_auto(in, value, canon, n, err);
	}
	return pbx_err_set(err, PBX_E_INVALID, "%s: unknown type", in->key);
}

int store_setting_set(struct store *st, const char *key, const char *value,
		      struct pbx_err *err)
{
	enum store_setting s;
	char canon[4096];
	int rc = store_setting_find(key, &s, err);
	if (rc || (rc = store_setting_validate(s, value, canon, sizeof canon, err)))
		return rc;
	sqlite3_stmt *stmt;
	struct store_tx tx;
	if ((rc = store_tx_begin(st, &tx, err)))
		return rc;
	rc = store_prepare(st,
			   "INSERT INTO setting (key, value, updated) VALUES (?1, ?2, ?3) "
			   "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
			   "updated = excluded.updated WHERE value IS NOT excluded.value",
			   &stmt, err);
	if (rc == 0) {
		sqlite3_bind_text(stmt, 1, key, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(stmt, 2, canon, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(stmt, 3, store_now());
		rc = store_step_done(st, stmt, err, "set");
	}
	return store_tx_end(st, &tx, rc, err);
}

int store_setting_unset(struct store *st, const char *key, struct pbx_err *err)
{
	enum store_setting s;
	int rc = store_setting_find(key, &s, err);
	if (rc)
		return rc;
	sqlite3_stmt *stmt;
	struct store_tx tx;
	if ((rc = store_tx_begin(st, &tx, err)))
		return rc;
	if ((rc = store_prepare(st, "DELETE FROM setting WHERE key = ?1", &stmt, err)) == 0) {
		sqlite3_bind_text(stmt, 1, key, -1, SQLITE_TRANSIENT);
		rc = store_step_done(st, stmt, err, "unset");
	}
	return store_tx_end(st, &tx, rc, err);
}

int store_setting_get(struct store *st, const char *key, char *buf, size_t n,
		      bool *is_default, struct pbx_err *err)
{
	enum store_setting s;
	int rc = store_setting_find(key, &s, err);
	if (rc)
		return rc;
	sqlite3_stmt *stmt;
	if ((rc = store_prepare(st, "SELECT value FROM setting WHERE key = ?1", &stmt, err)))
		return rc;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_TRANSIENT);
	int step = sqlite3_step(stmt);
	const char *v = infos[s].def;
	bool def = true;
	if (step == SQLITE_ROW) {
		v = (const char *)sqlite3_column_text(stmt, 0);
		def = false;
	} else if (step != SQLITE_DONE) {
		rc = store_sql_err(st, err, "get");
	}
	if (rc == 0 && (size_t)snprintf(buf, n, "%s", v ? v : "") >= n)
		rc = pbx_err_set(err, PBX_E_NOSPACE, "%s: value too long for the buffer", key);
	sqlite3_finalize(stmt);
	if (is_default)
		*is_default = def;
	return rc;
}
