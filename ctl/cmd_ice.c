/* cmd_ice.c - rpctl ice-test servers: every STUN and TURN server, per
 * resolved address and family, checked the way a browser's ICE agent
 * gathers through it (lib/ice gather.c), the candidates listed, and one
 * conclusion with a stable reason code (lib/ice diag.c).  The sockets
 * and streams are ctl/ice_io.c's.  The command takes options of its own
 * (repeatable ones among them), so it parses its words itself. */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pbxedge/ice.h>
#include <pbxedge/tls.h>
#include <pbxedge/turn.h>

#include "ctl.h"
#include "ice_cmd.h"
#include "ice_io.h"

#define PASSWORD_ENV ICE_PASSWORD_ENV
#define DEFAULT_TIMEOUT_S 60
#define SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"
#define URIS_MAX ICE_URIS_MAX
#define CELL_MAX (STUN_URI_TEXT_MAX + 32)

volatile sig_atomic_t ice_stop;

static void on_signal(int sig)
{
	ice_stop = sig;
}

static struct sigaction old_int, old_term;

void ice_signals_on(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	ice_stop = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
}

void ice_signals_off(void)
{
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
}

/* ---- arguments ---- */

static int usage(const char *mode, const char *fmt, const char *arg)
{
	fprintf(stderr, "rpctl ice-test %s: ", mode);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " ('rpctl ice-test %s --help' lists the options)\n", mode);
	return -2;
}

static int seconds(const char *mode, const char *opt, const char *v, uint32_t *out)
{
	if (pbx_span_to_u32(pbx_span_cstr(v), 3600, out) || *out == 0) {
		fprintf(stderr, "rpctl ice-test %s: %s '%s' is not a number of seconds "
			"(1-3600)\n", mode, opt, v);
		return -2;
	}
	return 0;
}

static int add_word(const char *mode, const char **list, size_t *n, size_t max, const char *opt,
		    const char *v)
{
	if (*n == max)
		return usage(mode, "too many %s options", opt);
	list[(*n)++] = v;
	return 0;
}

int ice_parse_args(int argc, char **argv, const char *mode, struct ice_args *a)
{
	memset(a, 0, sizeof *a);
	a->mode = mode;
	bool peer = strcmp(mode, "peer") == 0, loop = strcmp(mode, "loop") == 0;
	a->transport = -1;
	a->timeout_s = DEFAULT_TIMEOUT_S;
	for (int i = 0; i < argc; i++) {
		const char *o = argv[i];
		if (peer && (strcmp(o, "--controlling") == 0 || strcmp(o, "--controlled") == 0)) {
			a->controlled = strcmp(o, "--controlled") == 0;
			continue;
		}
		if (peer && strcmp(o, "--no-data") == 0) {
			a->no_data = true;
			continue;
		}
		if (peer && (strcmp(o, "--in") == 0 || strcmp(o, "--out") == 0)) {
			if (i + 1 >= argc)
				return usage(mode, "option '%s' needs a value", o);
			const char *v = argv[++i];
			if (strcmp(v, "-") == 0)
				v = NULL;
			if (o[2] == 'i')
				a->in = v;
			else
				a->out = v;
			continue;
		}
		if (loop && (strcmp(o, "--a-turn") == 0 || strcmp(o, "--b-turn") == 0)) {
			if (i + 1 >= argc)
				return usage(mode, "option '%s' needs a value", o);
			int rc = o[2] == 'a' ? add_word(mode, a->a_turn, &a->n_a_turn, URIS_MAX, o,
							argv[++i])
					     : add_word(mode, a->b_turn, &a->n_b_turn, URIS_MAX, o,
							argv[++i]);
			if (rc)
				return rc;
			continue;
		}
		if (loop && (strcmp(o, "--data") == 0 || strcmp(o, "--consent") == 0 ||
			     strcmp(o, "--consent-timeout") == 0)) {
			if (i + 1 >= argc)
				return usage(mode, "option '%s' needs a value", o);
			uint32_t *to = strcmp(o, "--data") == 0	     ? &a->data_s
				       : strcmp(o, "--consent") == 0 ? &a->consent_s
								     : &a->consent_timeout_s;
			if (seconds(mode, o, argv[++i], to))
				return -2;
			continue;
		}
		if (strcmp(o, "--rest-secret-from-store") == 0) {
			a->rest = true;
			continue;
		}
		if (strcmp(o, "--verbose") == 0) {
			a->verbose = true;
			continue;
		}
		if (strncmp(o, "--", 2) != 0)
			return usage(mode, "unexpected argument '%s'", o);
		static const char *const valued[] = {
			"--stun", "--turn", "--user", "--password-file", "--family", "--local",
			"--transport", "--ca", "--sni", "--policy", "--timeout", "--gather-timeout",
		};
		bool known = false;
		for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
			known = known || strcmp(o, valued[k]) == 0;
		if (!known)
			return usage(mode, "unknown option '%s'", o);
		if (i + 1 >= argc)
			return usage(mode, "option '%s' needs a value", o);
		const char *v = argv[++i];
		int rc = 0;
		if (strcmp(o, "--stun") == 0) {
			rc = add_word(mode, a->stun, &a->n_stun, URIS_MAX, o, v);
		} else if (strcmp(o, "--turn") == 0) {
			rc = add_word(mode, a->turn, &a->n_turn, URIS_MAX, o, v);
		} else if (strcmp(o, "--local") == 0) {
			rc = add_word(mode, a->local, &a->n_local, ICE_GATHER_HOSTS_MAX, o, v);
		} else if (strcmp(o, "--user") == 0) {
			a->user = v;
		} else if (strcmp(o, "--password-file") == 0) {
			a->password_file = v;
		} else if (strcmp(o, "--ca") == 0) {
			a->ca = v;
		} else if (strcmp(o, "--sni") == 0) {
			a->sni = v;
		} else if (strcmp(o, "--family") == 0) {
			if (strcmp(v, "4") == 0)
				a->family = ICE_GATHER_V4;
			else if (strcmp(v, "6") == 0)
				a->family = ICE_GATHER_V6;
			else if (strcmp(v, "both") == 0)
				a->family = ICE_GATHER_BOTH;
			else
				rc = usage(mode, "--family '%s' is not 4, 6 or both", v);
		} else if (strcmp(o, "--transport") == 0) {
			if (strcmp(v, "udp") == 0)
				a->transport = STUN_URI_UDP;
			else if (strcmp(v, "tcp") == 0)
				a->transport = STUN_URI_TCP;
			else if (strcmp(v, "tls") == 0)
				a->transport = STUN_URI_TLS;
			else
				rc = usage(mode, "--transport '%s' is not udp, tcp or tls", v);
		} else if (strcmp(o, "--policy") == 0) {
			if (strcmp(v, "all") == 0)
				a->policy = ICE_POLICY_ALL;
			else if (strcmp(v, "host") == 0)
				a->policy = ICE_POLICY_HOST;
			else if (strcmp(v, "srflx") == 0)
				a->policy = ICE_POLICY_SRFLX;
			else if (strcmp(v, "relay") == 0)
				a->policy = ICE_POLICY_RELAY;
			else
				rc = usage(mode, "--policy '%s' is not relay, srflx, host or all", v);
		} else if (strcmp(o, "--timeout") == 0) {
			rc = seconds(mode, o, v, &a->timeout_s);
		} else {
			rc = seconds(mode, o, v, &a->gather_timeout_s);
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- credentials ---- */

int ice_read_password(struct ctl *c, struct ice_run *r)
{
	const char *env = getenv(PASSWORD_ENV);
	if (r->a.password_file) {
		FILE *f = fopen(r->a.password_file, "re");
		if (!f)
			return ctl_fail(c, "cannot read --password-file %s: %s", r->a.password_file,
					strerror(errno));
		if (!fgets(r->password, sizeof r->password, f))
			r->password[0] = '\0';
		fclose(f);
		r->password[strcspn(r->password, "\r\n")] = '\0';
		if (!r->password[0])
			return ctl_fail(c, "--password-file %s holds no password", r->a.password_file);
		r->have_password = true;
	} else if (env && *env) {
		if (strlen(env) >= sizeof r->password)
			return ctl_fail(c, "%s is too long", PASSWORD_ENV);
		strcpy(r->password, env);
		r->have_password = true;
	}
	return 0;
}

struct newest_secret {
	char secret[512];
	bool found;
};

static int secret_row(void *arg, const struct store_col *cols, int ncols)
{
	struct newest_secret *s = arg;
	if (ncols >= 2 && cols[1].type == STORE_COL_TEXT && cols[1].s) {
		snprintf(s->secret, sizeof s->secret, "%s", cols[1].s);
		s->found = true;
	}
	return 0;
}

/* A TURN REST credential minted from the newest active secret. */
int ice_mint_rest(struct ctl *c, struct ice_run *r)
{
	if (!c->st)
		return ctl_fail(c, "--rest-secret-from-store needs the store (no store at %s)",
				c->db);
	struct newest_secret s = { .found = false };
	if (store_query(c->st, STORE_Q_TURN_SECRET_TEXT, NULL, secret_row, &s, &c->err))
		return ctl_fail_err(c);
	if (!s.found)
		return ctl_fail(c, "the store has no active TURN secret ('rpctl turn secret add')");
	const char *user = r->a.user ? r->a.user : "rpctl";
	int rc = turn_rest_mint(pbx_span_cstr(s.secret), pbx_span_cstr(user), (int64_t)time(NULL),
				TURN_REST_TTL, r->rest_user, sizeof r->rest_user, r->password,
				sizeof r->password);
	explicit_bzero(s.secret, sizeof s.secret);
	if (rc)
		return ctl_fail(c, "cannot mint a TURN REST credential for '%s'", user);
	r->have_password = true;
	return 0;
}

/* ---- servers ---- */

static int add_server(struct ctl *c, struct ice_run *r, const struct stun_uri *u,
		      const struct pbx_addr *addr, bool dns_failed)
{
	if (r->n_servers == ICE_GATHER_SERVERS_MAX)
		return ctl_fail(c, "more than %d server addresses", ICE_GATHER_SERVERS_MAX);
	struct ice_gather_server *s = &r->servers[r->n_servers++];
	memset(s, 0, sizeof *s);
	s->uri = *u;
	s->dns_failed = dns_failed;
	if (addr)
		s->addr = *addr;
	if (stun_uri_is_turn(u)) {
		const char *user = r->rest_user[0] ? r->rest_user : r->a.user;
		if (!user || !r->have_password)
			return ctl_fail(c, "TURN servers need --user with --password-file or %s, "
					"or --rest-secret-from-store", PASSWORD_ENV);
		s->user = pbx_span_cstr(user);
		s->password = pbx_span_cstr(r->password);
		int64_t expiry;
		s->rest = turn_rest_expiry(s->user, &expiry) == 0;
	}
	return 0;
}

/* Every address of u's host (of the family asked), each its own server. */
static int resolve(struct ctl *c, struct ice_run *r, struct stun_uri *u)
{
	if (r->a.transport >= 0 && stun_uri_is_turn(u)) {
		u->transport = (enum stun_uri_transport)r->a.transport;
		u->scheme = u->transport == STUN_URI_TLS ? STUN_URI_TURNS : STUN_URI_TURN;
	}
	if (u->is_ip) {
		struct pbx_addr a = u->addr;
		pbx_addr_set_port(&a, u->port);
		return add_server(c, r, u, &a, false);
	}
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_ADDRCONFIG };
	hints.ai_family = r->a.family == ICE_GATHER_V4 ? AF_INET
			  : r->a.family == ICE_GATHER_V6 ? AF_INET6 : AF_UNSPEC;
	struct addrinfo *res = NULL;
	if (getaddrinfo(u->host, NULL, &hints, &res) || !res)
		return add_server(c, r, u, NULL, true);
	int rc = 0;
	size_t first = r->n_servers;
	for (struct addrinfo *ai = res; ai && !rc; ai = ai->ai_next) {
		struct pbx_addr a;
		if (pbx_addr_from_sockaddr(&a, ai->ai_addr, ai->ai_addrlen))
			continue;
		pbx_addr_set_port(&a, u->port);
		bool dup = false;
		for (size_t i = first; i < r->n_servers; i++)
			dup = dup || pbx_addr_equal(&r->servers[i].addr, &a);
		if (!dup)
			rc = add_server(c, r, u, &a, false);
	}
	freeaddrinfo(res);
	return rc;
}

int ice_parse_uri(struct ctl *c, struct ice_run *r, const char *text, bool turn)
{
	struct stun_uri u;
	if (stun_uri_parse(pbx_span_cstr(text), turn ? STUN_URI_TURN : STUN_URI_STUN, &u,
			   &c->err))
		return ctl_fail_err(c);
	if (stun_uri_is_turn(&u) != turn)
		return ctl_fail(c, "'%s' is given with --%s but is a %s URI", text,
				turn ? "turn" : "stun", turn ? "STUN" : "TURN");
	return resolve(c, r, &u);
}

/* The address clients use to reach this appliance's daemons: turnd's
 * external IP (natd's finding for 'auto'), else the listen address. */
static void appliance_host(struct ctl *c, const char *listen, char *host, size_t n)
{
	char ext[128] = "";
	struct pbx_err e = { 0 };
	if (store_setting_get(c->st, "turnd.external-ip", ext, sizeof ext, NULL, &e) == 0 &&
	    strcmp(ext, "auto") == 0 && store_nat_external(c->st, ext, sizeof ext, &e) != 0)
		ext[0] = '\0';
	if (strcmp(ext, "auto") == 0)
		ext[0] = '\0';
	if (ext[0]) {
		snprintf(host, n, "%s", ext);
		return;
	}
	struct pbx_addr a;
	char first[128];
	snprintf(first, sizeof first, "%.*s", (int)strcspn(listen, ","), listen);
	if (pbx_addr_parse(pbx_span_cstr(first), 3478, 0, &a, &e) || pbx_addr_is_any(&a))
		snprintf(host, n, "%s", pbx_addr_family(&a) == AF_INET6 ? "::1" : "127.0.0.1");
	else
		pbx_addr_format_ip(&a, host, n);
}

static uint16_t listen_port(const char *listen, uint16_t dflt)
{
	struct pbx_addr a;
	struct pbx_err e = { 0 };
	char first[128];
	snprintf(first, sizeof first, "%.*s", (int)strcspn(listen, ","), listen);
	return pbx_addr_parse(pbx_span_cstr(first), dflt, 0, &a, &e) ? dflt : pbx_addr_port(&a);
}

/* Without --stun/--turn: the appliance's own stund (when configured) and
 * turnd (when there are credentials for it). */
int ice_default_servers(struct ctl *c, struct ice_run *r)
{
	if (!c->st)
		return ctl_fail(c, "no --stun or --turn given, and no store at %s to take the "
				"appliance's own servers from", c->db);
	char listen[256] = "", host[128], text[STUN_URI_TEXT_MAX];
	if (store_setting_get(c->st, "stund.primary", listen, sizeof listen, NULL, &c->err))
		return ctl_fail_err(c);
	bool ip6 = false;
	if (listen[0]) {
		appliance_host(c, listen, host, sizeof host);
		ip6 = strchr(host, ':') != NULL;
		snprintf(text, sizeof text, "stun:%s%s%s:%u", ip6 ? "[" : "", host, ip6 ? "]" : "",
			 listen_port(listen, 3478));
		if (ice_parse_uri(c, r, text, false))
			return 1;
	}
	if (store_setting_get(c->st, "turnd.listen", listen, sizeof listen, NULL, &c->err))
		return ctl_fail_err(c);
	if (listen[0] && (r->have_password || r->rest_user[0])) {
		appliance_host(c, listen, host, sizeof host);
		ip6 = strchr(host, ':') != NULL;
		snprintf(text, sizeof text, "turn:%s%s%s:%u", ip6 ? "[" : "", host, ip6 ? "]" : "",
			 listen_port(listen, 3478));
		if (ice_parse_uri(c, r, text, true))
			return 1;
	}
	if (r->n_servers == 0)
		return ctl_fail(c, "no server to check: neither stund.primary nor credentials for "
				"turnd (--user, --rest-secret-from-store)");
	return 0;
}

/* ---- host addresses ---- */

static bool family_wanted(const struct ice_args *a, int fam)
{
	return a->family == ICE_GATHER_BOTH || (a->family == ICE_GATHER_V4 && fam == AF_INET) ||
	       (a->family == ICE_GATHER_V6 && fam == AF_INET6);
}

static bool is_loopback(const struct pbx_addr *a)
{
	if (pbx_addr_family(a) == AF_INET)
		return (ntohl(a->u.sin.sin_addr.s_addr) >> 24) == 127;
	return pbx_addr_family(a) == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&a->u.sin6.sin6_addr);
}

static void add_host(struct ice_run *r, const struct pbx_addr *a)
{
	if (r->n_hosts == ICE_GATHER_HOSTS_MAX)
		return;
	for (size_t i = 0; i < r->n_hosts; i++)
		if (pbx_addr_equal(&r->hosts[i].addr, a))
			return;
	r->hosts[r->n_hosts].addr = *a;
	pbx_addr_set_port(&r->hosts[r->n_hosts].addr, 0);
	r->n_hosts++;
}

/* The interfaces' addresses that are up: loopback ones when every server
 * is on loopback, or when there is nothing else. */
static int interface_hosts(struct ctl *c, struct ice_run *r)
{
	bool all_loop = r->n_servers > 0;
	for (size_t i = 0; i < r->n_servers; i++)
		all_loop = all_loop && !r->servers[i].dns_failed && is_loopback(&r->servers[i].addr);
	struct ifaddrs *ifs = NULL;
	if (getifaddrs(&ifs))
		return ctl_fail(c, "cannot list the interfaces: %s", strerror(errno));
	for (int pass = 0; pass < 2 && r->n_hosts == 0; pass++) {
		bool want_loop = all_loop || pass == 1;
		for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
			struct pbx_addr a;
			if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) ||
			    pbx_addr_from_sockaddr(&a, i->ifa_addr, i->ifa_addr->sa_family ==
						   AF_INET ? sizeof(struct sockaddr_in)
							   : sizeof(struct sockaddr_in6)))
				continue;
			if (!family_wanted(&r->a, pbx_addr_family(&a)) || is_loopback(&a) != want_loop)
				continue;
			if (pbx_addr_family(&a) == AF_INET6 &&
			    IN6_IS_ADDR_LINKLOCAL(&a.u.sin6.sin6_addr))
				continue;
			add_host(r, &a);
		}
	}
	freeifaddrs(ifs);
	if (r->n_hosts == 0)
		return ctl_fail(c, "no interface address of the family asked is up");
	return 0;
}

/* True when ip (port ignored) is an address of one of this machine's
 * interfaces. */
static bool is_local_ip(const struct pbx_addr *ip)
{
	struct ifaddrs *ifs = NULL;
	bool found = false;
	if (getifaddrs(&ifs))
		return false;
	for (struct ifaddrs *i = ifs; i && !found; i = i->ifa_next) {
		struct pbx_addr a;
		if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET &&
				     i->ifa_addr->sa_family != AF_INET6) ||
		    pbx_addr_from_sockaddr(&a, i->ifa_addr, i->ifa_addr->sa_family == AF_INET
						? sizeof(struct sockaddr_in)
						: sizeof(struct sockaddr_in6)))
			continue;
		pbx_addr_set_port(&a, pbx_addr_port(ip));
		found = pbx_addr_equal(&a, ip);
	}
	freeifaddrs(ifs);
	return found;
}

void ice_hairpin_note(struct ctl *c, const struct ice_run *r, const struct pbx_addr *extra,
		      size_t n_extra, char *buf, size_t len)
{
	buf[0] = '\0';
	if (!c->st)
		return;
	char text[128] = "";
	struct pbx_err e = { 0 };
	if (store_setting_get(c->st, "turnd.external-ip", text, sizeof text, NULL, &e) ||
	    !text[0] || strcmp(text, "auto") == 0)
		if (store_nat_external(c->st, text, sizeof text, &e))
			return;
	struct pbx_addr ext;
	if (pbx_addr_parse(pbx_span_cstr(text), 0, PBX_ADDR_NO_PORT, &ext, &e))
		return;
	/* An appliance that holds its public address itself needs no
	 * router in between. */
	if (is_local_ip(&ext))
		return;
	const struct pbx_addr *hit = NULL;
	for (size_t i = 0; i < r->n_servers + n_extra && !hit; i++) {
		const struct pbx_addr *t = i < r->n_servers ? &r->servers[i].addr
							    : &extra[i - r->n_servers];
		if (i < r->n_servers && r->servers[i].dns_failed)
			continue;
		pbx_addr_set_port(&ext, pbx_addr_port(t));
		if (pbx_addr_equal(&ext, t))
			hit = t;
	}
	if (!hit)
		return;
	char a[64];
	pbx_addr_format_ip(hit, a, sizeof a);
	snprintf(buf, len,
		 "%s is this appliance's own external address: from here the path goes out "
		 "to the router and back in, so it depends on the router's hairpinning (NAT "
		 "loopback); phones outside do not take that path",
		 a);
}

int ice_bind_hosts(struct ctl *c, struct ice_run *r)
{
	if (r->a.n_local) {
		for (size_t i = 0; i < r->a.n_local; i++) {
			struct pbx_addr a;
			if (pbx_addr_parse(pbx_span_cstr(r->a.local[i]), 0, PBX_ADDR_NO_PORT, &a,
					   &c->err))
				return ctl_fail_err(c);
			add_host(r, &a);
		}
	} else if (interface_hosts(c, r)) {
		return 1;
	}
	for (size_t i = 0; i < r->n_hosts; i++) {
		int fd = ice_io_bind_host(&r->hosts[i].addr);
		if (fd < 0) {
			char t[64];
			pbx_addr_format_ip(&r->hosts[i].addr, t, sizeof t);
			for (size_t k = 0; k < i; k++)
				close(r->host_fds[k]);
			return ctl_fail(c, "cannot bind a UDP socket to %s: %s", t, strerror(-fd));
		}
		r->host_fds[i] = fd;
		r->hosts[i].sock = (int)i;
	}
	return 0;
}

/* ---- output ---- */

static const char *transport_name(uint8_t t)
{
	return t == STUN_URI_TCP ? "tcp" : t == STUN_URI_TLS ? "tls" : "udp";
}

void ice_addr_text(const struct pbx_addr *a, char *buf, size_t n)
{
	if (!a->len || pbx_addr_format(a, buf, n))
		snprintf(buf, n, "-");
}

/* "lifetime 600s", "401 Unauthorized", "ICMP 3/3", or "-". */
static void detail_text(const struct ice_server_record *s, char *buf, size_t n)
{
	if (s->result == ICE_SR_OK && s->turn)
		snprintf(buf, n, "lifetime %us", (unsigned)s->lifetime);
	else if (s->result == ICE_SR_ERROR)
		snprintf(buf, n, "%d %s", s->code, s->phrase);
	else if (s->result == ICE_SR_UNREACHABLE)
		snprintf(buf, n, "ICMP %u/%u", s->icmp.type, s->icmp.code);
	else
		snprintf(buf, n, "-");
}

static void print_servers_text(struct ctl *c, struct ice_gather *g)
{
	static const char *const names[] = { "SERVER", "ADDRESS", "FAMILY", "RESULT", "RTT-MS",
					     "MAPPED", "RELAYED", "LIFETIME/ERROR" };
	enum { NC = 8 };
	size_t n = ice_gather_n_records(g);
	char **cells = calloc(n * NC + 1, sizeof *cells);
	if (!cells)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct ice_server_record *s = ice_gather_record(g, i);
		char buf[NC][ICE_DIAG_TEXT_MAX];
		snprintf(buf[0], sizeof buf[0], "%s", s->uri);
		ice_addr_text(&s->addr, buf[1], sizeof buf[1]);
		snprintf(buf[2], sizeof buf[2], "%s", s->family == AF_INET6 ? "ipv6" : "ipv4");
		snprintf(buf[3], sizeof buf[3], "%s", ice_server_result_name(s->result));
		if (s->rtt_ms >= 0)
			snprintf(buf[4], sizeof buf[4], "%lld", (long long)s->rtt_ms);
		else
			snprintf(buf[4], sizeof buf[4], "-");
		ice_addr_text(&s->mapped, buf[5], sizeof buf[5]);
		ice_addr_text(&s->relayed[0], buf[6], sizeof buf[6]);
		detail_text(s, buf[7], sizeof buf[7]);
		for (int k = 0; k < NC; k++)
			cells[i * NC + (size_t)k] = strdup(buf[k]);
	}
	fprintf(c->out, "Servers:\n");
	ctl_print_table(c->out, names, NC, cells, n);
	for (size_t i = 0; i < n * NC; i++)
		free(cells[i]);
	free(cells);
}

static void cand_cells(struct ice_gather *g, const struct ice_gathered *x, char buf[][CELL_MAX])
{
	const struct ice_cand *k = &x->cand;
	snprintf(buf[0], CELL_MAX, "%lld", (long long)x->at_ms);
	snprintf(buf[1], CELL_MAX, "%u", k->component);
	snprintf(buf[2], CELL_MAX, "%s", ice_cand_type_name(k->type));
	snprintf(buf[3], CELL_MAX, "%s", k->foundation);
	snprintf(buf[4], CELL_MAX, "%s", k->transport == ICE_TCP ? "tcp" : "udp");
	if (pbx_addr_format_ip(&k->addr, buf[5], CELL_MAX))
		snprintf(buf[5], CELL_MAX, "-");
	snprintf(buf[6], CELL_MAX, "%u", k->port);
	ice_priority_format(k->priority, buf[7], CELL_MAX);
	buf[8][0] = '\0';
	if (x->server >= 0) {
		for (size_t i = 0; i < ice_gather_n_records(g); i++) {
			const struct ice_server_record *s = ice_gather_record(g, i);
			if (s->server == (size_t)x->server) {
				snprintf(buf[8], CELL_MAX, "%s", s->uri);
				break;
			}
		}
	}
	if (!buf[8][0])
		snprintf(buf[8], CELL_MAX, "-");
	snprintf(buf[9], CELL_MAX, "%s", k->type == ICE_RELAY ? transport_name(x->relay_transport)
							 : "-");
}

static void print_cands_text(struct ctl *c, struct ice_gather *g)
{
	static const char *const names[] = { "TIME-MS", "COMPONENT", "TYPE", "FOUNDATION",
					     "PROTOCOL", "ADDRESS", "PORT", "PRIORITY", "SERVER",
					     "RELAY-PROTOCOL" };
	enum { NC = 10 };
	size_t n = ice_gather_n_cands(g);
	char **cells = calloc(n * NC + 1, sizeof *cells);
	if (!cells)
		return;
	for (size_t i = 0; i < n; i++) {
		char buf[NC][CELL_MAX];
		cand_cells(g, ice_gather_cand(g, i), buf);
		for (int k = 0; k < NC; k++)
			cells[i * NC + (size_t)k] = strdup(buf[k]);
	}
	fprintf(c->out, "\nCandidates:\n");
	ctl_print_table(c->out, names, NC, cells, n);
	for (size_t i = 0; i < n * NC; i++)
		free(cells[i]);
	free(cells);
}

void ice_json_addr(struct json *j, const struct pbx_addr *a)
{
	char t[64];
	if (!a->len || pbx_addr_format(a, t, sizeof t))
		json_null(j);
	else
		json_str(j, t);
}

void ice_json_server(struct json *j, const struct ice_server_record *s)
{
	json_obj(j);
	json_key(j, "uri");
	json_str(j, s->uri);
	json_key(j, "turn");
	json_bool(j, s->turn);
	json_key(j, "address");
	ice_json_addr(j, &s->addr);
	json_key(j, "family");
	json_str(j, s->family == AF_INET6 ? "ipv6" : "ipv4");
	json_key(j, "transport");
	json_str(j, transport_name(s->transport));
	json_key(j, "result");
	json_str(j, ice_server_result_name(s->result));
	json_key(j, "reason_code");
	json_str(j, ice_diag_name(ice_diag_record(s)));
	json_key(j, "sent");
	json_int(j, s->sent);
	json_key(j, "retransmitted");
	json_int(j, s->retransmitted);
	json_key(j, "responses");
	json_int(j, s->responses);
	json_key(j, "rtt_ms");
	if (s->rtt_ms >= 0)
		json_int(j, s->rtt_ms);
	else
		json_null(j);
	json_key(j, "mapped");
	ice_json_addr(j, &s->mapped);
	json_key(j, "relayed");
	json_arr(j);
	for (size_t i = 0; i < s->n_relayed && i < 2; i++)
		ice_json_addr(j, &s->relayed[i]);
	json_end_arr(j);
	json_key(j, "lifetime");
	json_int(j, s->lifetime);
	json_key(j, "error_code");
	if (s->result == ICE_SR_ERROR)
		json_int(j, s->code);
	else
		json_null(j);
	json_key(j, "error_text");
	if (s->result == ICE_SR_ERROR)
		json_str(j, s->phrase);
	else
		json_null(j);
	json_end_obj(j);
}

void ice_json_cand(struct json *j, struct ice_gather *g, const struct ice_gathered *x)
{
	static const char *const keys[] = { "time_ms", "component", "type", "foundation",
					    "protocol", "address", "port", "priority", "server",
					    "relay_protocol" };
	char buf[10][CELL_MAX];
	cand_cells(g, x, buf);
	json_obj(j);
	for (int k = 0; k < 10; k++) {
		json_key(j, keys[k]);
		if (k == 0 || k == 1 || k == 6)
			json_int(j, strtoll(buf[k], NULL, 10));
		else if ((k == 8 || k == 9) && strcmp(buf[k], "-") == 0)
			json_null(j);
		else
			json_str(j, buf[k]);
	}
	json_key(j, "priority_value");
	json_int(j, x->cand.priority);
	json_end_obj(j);
}

static void print_json(struct ctl *c, struct ice_gather *g, const char *result,
		       const char *code, const char *reason, const char *hint, const char *note)
{
	struct json j;
	json_init(&j, c->out);
	json_obj(&j);
	json_key(&j, "servers");
	json_arr(&j);
	for (size_t i = 0; i < ice_gather_n_records(g); i++)
		ice_json_server(&j, ice_gather_record(g, i));
	json_end_arr(&j);
	json_key(&j, "candidates");
	json_arr(&j);
	for (size_t i = 0; i < ice_gather_n_cands(g); i++)
		ice_json_cand(&j, g, ice_gather_cand(g, i));
	json_end_arr(&j);
	json_key(&j, "conclusion");
	ice_json_conclusion(&j, result, code, reason, hint, note);
	json_end_obj(&j);
	json_done(&j);
}

/* ---- the command ---- */

int ice_tls_creds(struct ctl *c, struct ice_run *r, struct pbx_tls_creds **out)
{
	*out = NULL;
	bool want_tls = false;
	for (size_t i = 0; i < r->n_servers; i++)
		want_tls = want_tls || r->servers[i].uri.transport == STUN_URI_TLS;
	if (!want_tls)
		return 0;
	const char *ca = r->a.ca;
	if (!ca && access(SYSTEM_CA, R_OK) == 0)
		ca = SYSTEM_CA;
	if (pbx_tls_client_creds_new(ca, NULL, out, &c->err))
		return ctl_fail_err(c);
	return 0;
}

int ice_new_gather(const struct ice_run *r, struct ice_gather **gp)
{
	struct ice_gather_config cfg = {
		.hosts = r->hosts, .n_hosts = r->n_hosts,
		.servers = r->servers, .n_servers = r->n_servers,
		.family = r->a.family, .policy = r->a.policy,
		.timeout_ms = r->a.gather_timeout_s * 1000u,
		.unix_now = (int64_t)time(NULL),
	};
	return ice_gather_new(&cfg, gp);
}

static int gather(struct ctl *c, struct ice_run *r, struct ice_gather **gp, bool *aborted)
{
	int rc = ice_new_gather(r, gp);
	if (rc) {
		for (size_t i = 0; i < r->n_hosts; i++)
			close(r->host_fds[i]);
		return ctl_fail(c, "cannot set up the gathering (%s)",
				rc == PBX_E_TOOLONG ? "too many servers or addresses" : "bad input");
	}
	struct pbx_tls_creds *creds = NULL;
	if (ice_tls_creds(c, r, &creds)) {
		for (size_t i = 0; i < r->n_hosts; i++)
			close(r->host_fds[i]);
		return 1;
	}
	static struct ice_io io;
	ice_io_init(&io, *gp, r->host_fds, r->n_hosts, creds, r->a.sni, r->servers);
	io.verbose = r->a.verbose ? stderr : NULL;
	ice_signals_on();
	rc = ice_io_run(&io, &ice_stop, (int64_t)r->a.timeout_s * 1000, aborted);
	ice_io_close(&io);
	ice_signals_off();
	if (creds)
		pbx_tls_creds_unref(creds);
	if (ice_stop)
		*aborted = true;
	if (rc)
		return ctl_fail(c, "gathering failed (error %d)", rc);
	return 0;
}

/* The store opened when one exists (never created): an explicit --db
 * must exist, the default may be missing. */
int ice_open_store(struct ctl *c)
{
	struct stat sb;
	if (stat(c->db, &sb) != 0) {
		if (c->db_given)
			return ctl_fail(c, "no store at %s ('rpctl init' creates one)", c->db);
		return 0;
	}
	if (store_open(c->db, STORE_MIGRATE, &c->st, &c->err) &&
	    store_open(c->db, STORE_READONLY, &c->st, &c->err))
		return ctl_fail_err(c);
	return 0;
}

void ice_save_result(struct ctl *c, struct store_ice_test_row *row)
{
	if (!c->st)
		return;
	row->at = (int64_t)time(NULL);
	struct pbx_err e = { 0 };
	if (store_ice_test_save(c->st, row, &e))
		fprintf(stderr, "rpctl ice-test %s: the result is not stored: %s\n", row->mode,
			pbx_err_text(&e));
}

static int conclude(struct ctl *c, struct ice_run *r, struct ice_gather *g, bool aborted)
{
	struct ice_diag d;
	size_t nrec = ice_gather_n_records(g), nc = ice_gather_n_cands(g);
	ice_gather_diag(g, (enum ice_gather_policy)r->a.policy, &d);
	if (r->a.verbose)
		ice_print_stale(stderr, g, 0);
	const char *result = aborted ? "ABORTED" : d.success ? "SUCCESS" : "FAILED";
	char code[32], reason[ICE_DIAG_TEXT_MAX];
	snprintf(code, sizeof code, "%s", aborted ? (ice_stop ? "interrupted" : "timeout")
						  : ice_diag_name(d.code));
	if (aborted)
		snprintf(reason, sizeof reason, "%s", ice_stop ? "interrupted by a signal"
				 : "the overall --timeout expired before every server answered");
	else
		snprintf(reason, sizeof reason, "%s", d.reason);
	const char *hint = aborted ? "" : d.hint;
	char note[ICE_DIAG_TEXT_MAX];
	ice_hairpin_note(c, r, NULL, 0, note, sizeof note);
	if (c->json) {
		print_json(c, g, result, code, reason, hint, note);
	} else {
		print_servers_text(c, g);
		print_cands_text(c, g);
		fprintf(c->out, "\nICE: Conclusion %s (%s: %s)\n", result, code, reason);
		if (*hint)
			fprintf(c->out, "ICE: Hint: %s\n", hint);
		if (*note)
			fprintf(c->out, "ICE: Note: %s\n", note);
	}
	fflush(c->out);
	struct store_ice_test_row row = {
		.mode = "servers", .result = result, .code = code, .reason = reason,
		.servers = (int64_t)nrec, .candidates = (int64_t)nc,
	};
	ice_save_result(c, &row);
	return aborted ? ICE_EXIT_ABORTED : d.success ? ICE_EXIT_SUCCESS : ICE_EXIT_FAILED;
}

static int cmd_servers(struct ctl *c, int argc, char **argv)
{
	static struct ice_run r;
	memset(&r, 0, sizeof r);
	if (ice_parse_args(argc, argv, "servers", &r.a))
		return 2;
	int rc = 1;
	if (ice_open_store(c) || ice_read_password(c, &r))
		goto out;
	if (r.a.rest && ice_mint_rest(c, &r))
		goto out;
	for (size_t i = 0; i < r.a.n_stun; i++)
		if (ice_parse_uri(c, &r, r.a.stun[i], false))
			goto out;
	for (size_t i = 0; i < r.a.n_turn; i++)
		if (ice_parse_uri(c, &r, r.a.turn[i], true))
			goto out;
	if (r.n_servers == 0 && ice_default_servers(c, &r))
		goto out;
	if (ice_bind_hosts(c, &r))
		goto out;
	struct ice_gather *g = NULL;
	bool aborted = false;
	if (gather(c, &r, &g, &aborted) == 0)
		rc = conclude(c, &r, g, aborted);
	ice_gather_free(g);
out:
	explicit_bzero(r.password, sizeof r.password);
	if (c->st) {
		store_close(c->st);
		c->st = NULL;
	}
	return rc;
}

static const struct ctl_cmd cmds[] = {
	{ "ice-test servers",
	  "[--stun URI]... [--turn URI]... [--user NAME] [--password-file FILE] "
	  "[--rest-secret-from-store] [--family 4|6|both] [--local ADDR]... "
	  "[--transport udp|tcp|tls] [--ca FILE] [--sni NAME] [--policy relay|srflx|host|all] "
	  "[--timeout SEC] [--gather-timeout SEC] [--verbose]",
	  0, 0, 0, CTL_NO_STORE | CTL_OWN_OPTS, cmd_servers,
	  "check every STUN/TURN server per resolved address and family like a browser "
	  "gathering candidates: a servers table, a candidates table and 'ICE: Conclusion "
	  "SUCCESS|FAILED (code: reason)'; exit 0 success, 1 failed, 2 aborted.  The TURN "
	  "password comes from --password-file or $" PASSWORD_ENV "; without --stun/--turn, "
	  "the appliance's own stund and turnd from the store; a note when a server is the "
	  "appliance's own external address (the path then depends on the router's "
	  "hairpinning); with a store, the result shows in rpctl status" },
	{ "ice-test peer",
	  "[--controlling|--controlled] [--stun URI]... [--turn URI]... [--user NAME] "
	  "[--password-file FILE] [--rest-secret-from-store] [--family 4|6|both] [--local ADDR]... "
	  "[--transport udp|tcp|tls] [--ca FILE] [--sni NAME] [--policy relay|srflx|host|all] "
	  "[--in FILE] [--out FILE] [--no-data] "
	  "[--timeout SEC] [--gather-timeout SEC] [--verbose]",
	  0, 0, 0, CTL_NO_STORE | CTL_OWN_OPTS, ice_cmd_peer,
	  "run our ICE agent against another one over the ICE test peers' line protocol: "
	  "gather, print our a=ice-ufrag/a=ice-pwd/a=candidate lines and a=end-of-candidates "
	  "on --out (stdout), read the peer's block (or a whole SDP body) from --in (stdin), "
	  "run the checks, prove the selected pair with 'hello over ICE' and its echo (with "
	  "--no-data, for a peer that speaks DTLS next, such as a browser: with a consent check "
	  "on the selected, nominated pair answered, and no data); then a "
	  "pairs table and 'ICE: Conclusion SUCCESS|FAILED|ABORTED (code: reason)'; exit 0 "
	  "success, 1 failed, 2 aborted (peer-closed, interrupted, timeout); when every pair "
	  "failed it still waits for a check from the peer until 39.5 s after the peer's "
	  "description (RFC 8863), unless the record shows a late check would fail too; --timeout "
	  "(default 60 s) bounds the whole run; with a store, the result shows in rpctl status" },
	{ "ice-test loop",
	  "[--stun URI]... [--turn URI]... [--a-turn URI]... [--b-turn URI]... [--user NAME] "
	  "[--password-file FILE] [--rest-secret-from-store] [--family 4|6|both] [--local ADDR]... "
	  "[--transport udp|tcp|tls] [--ca FILE] [--sni NAME] [--policy relay|srflx|host|all] "
	  "[--data SEC] [--consent SEC] [--consent-timeout SEC] "
	  "[--timeout SEC] [--gather-timeout SEC] [--verbose]",
	  0, 0, 0, CTL_NO_STORE | CTL_OWN_OPTS, ice_cmd_loop,
	  "run two local ICE agents through the servers, A controlling and B controlled, "
	  "their candidates trickled to each other, and conclude as two phones would: "
	  "--policy relay tests relay to relay through one TURN server, --a-turn/--b-turn give "
	  "each agent its own (a test between two servers); the selected pair is proved with "
	  "'hello over ICE' and its echo; --data SEC sends a numbered datagram every 20 ms "
	  "through it and reports loss and RTT; --consent SEC keeps consent freshness running "
	  "(lost after --consent-timeout, 30 s); a pairs table per agent and 'ICE: Conclusion "
	  "SUCCESS|FAILED|ABORTED (code: reason)'; exit 0 success, 1 failed, 2 aborted; with "
	  "a store, the result shows in rpctl status" },
};

const struct ctl_group ctl_group_ice = { "ICE diagnostics", cmds, sizeof cmds / sizeof cmds[0] };
