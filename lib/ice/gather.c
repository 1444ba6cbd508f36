/* gather.c - I/O-free ICE candidate gathering through STUN and TURN
 * servers, with a record per server and family (RFC 8445 5.1.1, 5.1.2,
 * 5.1.3; RFC 8489 6.2.1 retransmissions; RFC 8656 7.1 allocations;
 * RFC 8421 local preferences). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>

#include <pbxedge/ice.h>

enum { BT_IDLE = 0, BT_ACTIVE, BT_DONE };
enum { ST_NONE = 0, ST_WANT_OPEN, ST_OPENING, ST_OPEN, ST_WANT_CLOSE, ST_CLOSED };

struct bind_tx {               /* one Binding from one host to one server */
	uint8_t state;
	uint8_t sends;
	int rec;
	int host;
	uint8_t tid[STUN_TID_LEN];
	uint32_t rto;
	int64_t first, next_send, deadline;
};

struct relay {                 /* one TURN client: a server and a relay family */
	int rec;
	int host;                  /* the host socket (UDP) or local address */
	uint8_t stream;            /* ST_* for TCP/TLS, and UDP over its own socket */
	bool aux;                  /* UDP over a socket of its own (the host
				    * socket's 5-tuple to this server is taken
				    * by another family's allocation) */
	bool started;              /* the Allocate was started */
	int64_t first_send;        /* -1 until the first bytes went out */
	struct turn_client c;
};

struct ice_gather {
	struct ice_gather_config cfg;
	struct ice_gather_host hosts[ICE_GATHER_HOSTS_MAX];
	uint16_t local_pref[ICE_GATHER_HOSTS_MAX];
	size_t n_hosts;
	struct ice_gather_server servers[ICE_GATHER_SERVERS_MAX];
	struct ice_server_record rec[ICE_GATHER_RECORDS_MAX];
	size_t n_rec;
	struct bind_tx bind[ICE_GATHER_BINDINGS_MAX];
	size_t n_bind;
	struct relay relay[ICE_GATHER_RELAYS_MAX];
	size_t n_relay;
	struct ice_gathered cand[ICE_GATHER_CANDS_MAX];
	size_t n_cand;
	bool started, timed_out, releasing;
	int64_t start, gather_deadline, release_deadline;
};

static bool family_wanted(const struct ice_gather_config *cfg, int f)
{
	if (f == AF_INET)
		return cfg->family != ICE_GATHER_V6;
	if (f == AF_INET6)
		return cfg->family != ICE_GATHER_V4;
	return false;
}

/* The first host of family f, -1 if none. */
static int host_of(const struct ice_gather *g, int f)
{
	for (size_t i = 0; i < g->n_hosts; i++)
		if (pbx_addr_family(&g->hosts[i].addr) == f)
			return (int)i;
	return -1;
}

static void settle(struct ice_gather *g, struct ice_server_record *r, uint8_t result,
		   int64_t now)
{
	if (r->result != ICE_SR_PENDING)
		return;
	r->result = result;
	r->settled_ms = g->started ? now - g->start : 0;
}

static void record_uri(struct ice_server_record *r, const struct stun_uri *u)
{
	if (stun_uri_format(u, r->uri, sizeof r->uri) != 0)
		r->uri[0] = '\0';
	/* Show the transport of turn: always, as the tables print it. */
	if (u->scheme == STUN_URI_TURN && !strchr(r->uri, '?')) {
		size_t l = strlen(r->uri);
		const char *t = u->transport == STUN_URI_TCP ? "?transport=tcp" : "?transport=udp";
		if (l + strlen(t) < sizeof r->uri)
			memcpy(r->uri + l, t, strlen(t) + 1);
	}
}

static struct ice_server_record *new_record(struct ice_gather *g, size_t server, int family)
{
	const struct ice_gather_server *s = &g->servers[server];
	struct ice_server_record *r = &g->rec[g->n_rec++];
	memset(r, 0, sizeof *r);
	r->server = server;
	record_uri(r, &s->uri);
	r->turn = stun_uri_is_turn(&s->uri);
	r->family = family;
	r->transport = (uint8_t)s->uri.transport;
	if (!s->dns_failed)
		r->addr = s->addr;
	r->rtt_ms = -1;
	r->settled_ms = -1;
	r->relay = -1;
	return r;
}

static int setup_turn(struct ice_gather *g, size_t si, int family)
{
	const struct ice_gather_server *s = &g->servers[si];
	if (g->n_rec >= ICE_GATHER_RECORDS_MAX)
		return PBX_E_TOOLONG;
	struct ice_server_record *r = new_record(g, si, family);
	int rec = (int)(g->n_rec - 1);
	bool expired = false;
	if (s->dns_failed) {
		settle(g, r, ICE_SR_DNS, 0);
		return 0;
	}
	int host = host_of(g, pbx_addr_family(&s->addr));
	if (host < 0) {
		settle(g, r, ICE_SR_FAMILY, 0);
		return 0;
	}
	if (s->rest && turn_rest_expired(s->user, g->cfg.unix_now, &expired) == 0 && expired) {
		settle(g, r, ICE_SR_REST_EXPIRED, 0);
		return 0;
	}
	if (g->n_relay >= ICE_GATHER_RELAYS_MAX)
		return PBX_E_TOOLONG;
	struct relay *rl = &g->relay[g->n_relay];
	memset(rl, 0, sizeof *rl);
	rl->rec = rec;
	rl->host = host;
	rl->first_send = -1;
	struct turn_client_config tc = {
		.transport = s->uri.transport == STUN_URI_UDP   ? TURN_UDP
			     : s->uri.transport == STUN_URI_TCP ? TURN_TCP
								: TURN_TLS,
		.families = family == AF_INET6 ? TURN_AF_IPV6 : TURN_AF_IPV4,
		.user = s->user,
		.password = s->password,
		.max_sends = g->cfg.max_sends,
		.tx_cap_ms = g->cfg.timeout_ms,
		.random = g->cfg.random,
		.random_arg = g->cfg.random_arg,
	};
	int rc = turn_client_init(&rl->c, &tc);
	if (rc != 0)
		return rc;
	/* An allocation is one 5-tuple (RFC 8656 2.2): a second family's
	 * allocation at the same server needs another local port, a UDP
	 * socket the caller opens on request like a stream. */
	for (size_t i = 0; i < g->n_relay && tc.transport == TURN_UDP; i++) {
		const struct relay *o = &g->relay[i];
		if (!o->aux && o->c.cfg.transport == TURN_UDP && o->host == host &&
		    pbx_addr_equal(&g->rec[o->rec].addr, &s->addr))
			rl->aux = true;
	}
	rl->stream = tc.transport == TURN_UDP && !rl->aux ? ST_NONE : ST_WANT_OPEN;
	r->relay = (int)g->n_relay++;
	return 0;
}

static int setup_stun(struct ice_gather *g, size_t si)
{
	const struct ice_gather_server *s = &g->servers[si];
	if (g->n_rec >= ICE_GATHER_RECORDS_MAX)
		return PBX_E_TOOLONG;
	int f = s->dns_failed ? AF_UNSPEC : pbx_addr_family(&s->addr);
	struct ice_server_record *r = new_record(g, si, f);
	if (s->dns_failed) {
		settle(g, r, ICE_SR_DNS, 0);
		return 0;
	}
	if (s->uri.transport != STUN_URI_UDP) {
		settle(g, r, ICE_SR_UNSUPPORTED, 0);
		return 0;
	}
	if (host_of(g, f) < 0) {
		settle(g, r, ICE_SR_FAMILY, 0);
		return 0;
	}
	for (size_t h = 0; h < g->n_hosts; h++) {
		if (pbx_addr_family(&g->hosts[h].addr) != f)
			continue;
		if (g->n_bind >= ICE_GATHER_BINDINGS_MAX)
			return PBX_E_TOOLONG;
		struct bind_tx *b = &g->bind[g->n_bind++];
		memset(b, 0, sizeof *b);
		b->rec = (int)(g->n_rec - 1);
		b->host = (int)h;
	}
	return 0;
}

static int setup(struct ice_gather *g, const struct ice_gather_config *cfg)
{
	g->cfg = *cfg;
	g->cfg.hosts = NULL;
	g->cfg.servers = NULL;
	if (!g->cfg.timeout_ms)
		g->cfg.timeout_ms = ICE_GATHER_TIMEOUT_MS;
	if (!g->cfg.component)
		g->cfg.component = 1;
	if (g->cfg.family > ICE_GATHER_V6 || g->cfg.policy > ICE_POLICY_RELAY ||
	    g->cfg.component > ICE_COMPONENT_MAX)
		return PBX_E_INVALID;
	if (cfg->n_hosts > ICE_GATHER_HOSTS_MAX || cfg->n_servers > ICE_GATHER_SERVERS_MAX)
		return PBX_E_TOOLONG;
	struct pbx_addr addrs[ICE_GATHER_HOSTS_MAX];
	for (size_t i = 0; i < cfg->n_hosts; i++) {
		int f = pbx_addr_family(&cfg->hosts[i].addr);
		if (f != AF_INET && f != AF_INET6)
			return PBX_E_INVALID;
		if (!family_wanted(&g->cfg, f))
			continue;
		addrs[g->n_hosts] = cfg->hosts[i].addr;
		g->hosts[g->n_hosts++] = cfg->hosts[i];
	}
	int rc = ice_local_prefs(addrs, g->n_hosts, g->local_pref);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < cfg->n_servers; i++) {
		struct ice_gather_server *s = &g->servers[i];
		*s = cfg->servers[i];
		int f = pbx_addr_family(&s->addr);
		if (!s->dns_failed && f != AF_INET && f != AF_INET6)
			return PBX_E_INVALID;
		if (stun_uri_is_turn(&s->uri)) {
			if (!s->user.len)
				return PBX_E_INVALID;
			for (int fam = AF_INET; fam; fam = fam == AF_INET ? AF_INET6 : 0) {
				if (!family_wanted(&g->cfg, fam))
					continue;
				rc = setup_turn(g, i, fam);
				if (rc != 0)
					return rc;
			}
		} else {
			rc = setup_stun(g, i);
		}
		/* The TURN clients copied the credentials: keep no pointer
		 * to the caller's (the password least of all). */
		s->password = (struct pbx_span){ NULL, 0 };
		s->user = (struct pbx_span){ NULL, 0 };
		if (rc != 0)
			return rc;
	}
	return 0;
}

int ice_gather_new(const struct ice_gather_config *cfg, struct ice_gather **out)
{
	*out = NULL;
	struct ice_gather *g = calloc(1, sizeof *g);
	if (!g)
		return -ENOMEM;
	int rc = setup(g, cfg);
	if (rc != 0) {
		ice_gather_free(g);
		return rc;
	}
	*out = g;
	return 0;
}

void ice_gather_free(struct ice_gather *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n_relay; i++)
		turn_client_cleanup(&g->relay[i].c);
	free(g);
}

/* ---- candidates ---- */

static struct ice_gathered *find_cand(struct ice_gather *g, const struct pbx_addr *addr,
				      const struct pbx_addr *base)
{
	for (size_t i = 0; i < g->n_cand; i++) {
		struct ice_gathered *c = &g->cand[i];
		const struct pbx_addr *cb = c->cand.type == ICE_HOST ? &c->cand.addr : &c->cand.raddr;
		if (c->cand.type != ICE_RELAY && pbx_addr_equal(&c->cand.addr, addr) &&
		    pbx_addr_equal(cb, base))
			return c;
	}
	return NULL;
}

static bool type_wanted(const struct ice_gather *g, enum ice_cand_type t)
{
	switch (g->cfg.policy) {
	case ICE_POLICY_HOST:
		return t == ICE_HOST;
	case ICE_POLICY_SRFLX:
		return t == ICE_SRFLX;
	case ICE_POLICY_RELAY:
		return t == ICE_RELAY;
	default:
		return true;
	}
}

/* Add a candidate of type t at addr with base (host, srflx) or related
 * address raddr (relay), learnt from server (NULL: host). */
static void add_cand(struct ice_gather *g, enum ice_cand_type t, const struct pbx_addr *addr,
		     const struct pbx_addr *base, const struct pbx_addr *server, int si,
		     uint16_t local_pref, int sock, int relay, int64_t now)
{
	if (!type_wanted(g, t) || g->n_cand >= ICE_GATHER_CANDS_MAX)
		return;
	/* RFC 8445 5.1.3: same transport address and base is redundant. */
	if (t != ICE_RELAY && find_cand(g, addr, base))
		return;
	struct ice_gathered *o = &g->cand[g->n_cand];
	memset(o, 0, sizeof *o);
	struct ice_cand *c = &o->cand;
	c->component = g->cfg.component;
	c->transport = ICE_UDP;
	c->type = t;
	c->addr = *addr; /* with the port, as ice_cand_parse leaves it */
	c->port = pbx_addr_port(addr);
	if (t != ICE_HOST) {
		c->has_raddr = c->has_rport = true;
		c->raddr = *base;
		c->rport = pbx_addr_port(base);
	}
	if (ice_cand_priority(NULL, t, local_pref, c->component, &c->priority) != 0)
		return;
	const struct pbx_addr *fbase = t == ICE_RELAY ? addr : base;
	if (ice_foundation(t, fbase, server, ICE_UDP, c->foundation) != 0)
		return;
	o->at_ms = now - g->start;
	o->server = si;
	o->relay = relay;
	o->relay_transport = relay >= 0 ? g->rec[g->relay[relay].rec].transport : 0;
	o->sock = sock;
	g->n_cand++;
}

/* ---- STUN Binding ---- */

static void make_tid(struct ice_gather *g, uint8_t *tid)
{
	/* RFC 8489 6: uniformly random, so that no one off the path can
	 * answer in the server's place with a mapped address of theirs. */
	if (g->cfg.random)
		g->cfg.random(g->cfg.random_arg, tid, STUN_TID_LEN);
	else if (gnutls_rnd(GNUTLS_RND_NONCE, tid, STUN_TID_LEN) < 0)
		memset(tid, 0, STUN_TID_LEN); /* GnuTLS fails only when broken beyond use */
}

/* Whether any Binding of record rec is still active. */
static bool rec_active(const struct ice_gather *g, int rec)
{
	for (size_t i = 0; i < g->n_bind; i++)
		if (g->bind[i].rec == rec && g->bind[i].state == BT_ACTIVE)
			return true;
	return false;
}

/* Binding b ended without an answer (result: timeout or unreachable). */
static void bind_failed(struct ice_gather *g, struct bind_tx *b, uint8_t result, int64_t now)
{
	b->state = BT_DONE;
	if (!rec_active(g, b->rec))
		settle(g, &g->rec[b->rec], result, now);
}

static int bind_send(struct ice_gather *g, struct bind_tx *b, int64_t now, void *buf,
		     size_t cap, struct ice_gather_out *out)
{
	struct stun_enc e;
	size_t len;
	stun_msg_init(&e, buf, cap, stun_hdr_type(STUN_BINDING, STUN_REQUEST), b->tid,
		      STUN_KIND_RFC5389);
	stun_integrity_put_fingerprint(&e);
	int rc = stun_msg_finish(&e, &len);
	if (rc != 0)
		return rc;
	struct ice_server_record *r = &g->rec[b->rec];
	r->sent++;
	if (b->sends)
		r->retransmitted++;
	b->sends++;
	unsigned max = g->cfg.max_sends ? g->cfg.max_sends : TURN_RC;
	if (b->sends < max) {
		b->next_send = now + b->rto;
		b->rto *= 2;
	} else {
		b->next_send = INT64_MAX;
		b->deadline = now + (int64_t)TURN_RM * TURN_RTO_MS;
	}
	if (b->deadline > g->gather_deadline)
		b->deadline = g->gather_deadline;
	out->type = ICE_OUT_DATAGRAM;
	out->sock = g->hosts[b->host].sock;
	out->to = r->addr;
	out->len = len;
	return 0;
}

/* A datagram that may answer one of our Bindings; true if it did. */
static bool bind_input(struct ice_gather *g, int sock, const struct pbx_addr *from,
		       const uint8_t *p, size_t len, int64_t now)
{
	struct stun_msg m;
	if (stun_msg_decode(&m, p, len) != 0 || m.method != STUN_BINDING ||
	    (m.cls != STUN_SUCCESS && m.cls != STUN_ERROR) || m.tid_len != STUN_TID_LEN)
		return false;
	struct bind_tx *b = NULL;
	for (size_t i = 0; i < g->n_bind && !b; i++) {
		struct bind_tx *t = &g->bind[i];
		if (t->state == BT_ACTIVE && memcmp(t->tid, m.tid, STUN_TID_LEN) == 0 &&
		    g->hosts[t->host].sock == sock && pbx_addr_equal(&g->rec[t->rec].addr, from))
			b = t;
	}
	if (!b)
		return false;
	struct ice_server_record *r = &g->rec[b->rec];
	size_t i;
	struct pbx_addr mapped = { 0 };
	if (m.cls == STUN_SUCCESS &&
	    ((stun_msg_find(&m, STUN_A_XOR_MAPPED_ADDRESS, 0, &i) == 0 &&
	      stun_attr_addr(&m, i, &mapped) == 0) ||
	     (stun_msg_find(&m, STUN_A_MAPPED_ADDRESS, 0, &i) == 0 &&
	      stun_attr_addr(&m, i, &mapped) == 0))) {
		int f = pbx_addr_family(&mapped);
		if (f != AF_INET && f != AF_INET6)
			return false; /* unusable: keep waiting */
		b->state = BT_DONE;
		r->responses++;
		if (r->rtt_ms < 0)
			r->rtt_ms = now - b->first;
		if (!pbx_addr_family(&r->mapped))
			r->mapped = mapped;
		settle(g, r, ICE_SR_OK, now);
		const struct ice_gather_host *h = &g->hosts[b->host];
		add_cand(g, ICE_SRFLX, &mapped, &h->addr, &r->addr, (int)r->server,
			 g->local_pref[b->host], h->sock, -1, now);
		return true;
	}
	if (m.cls == STUN_SUCCESS)
		return false; /* a success without an address: keep waiting */
	struct stun_error err = { 0 };
	if (stun_msg_find(&m, STUN_A_ERROR_CODE, 0, &i) != 0 || stun_attr_error(&m, i, &err) != 0)
		return false;
	b->state = BT_DONE;
	r->responses++;
	if (r->rtt_ms < 0)
		r->rtt_ms = now - b->first;
	if (r->result == ICE_SR_PENDING && !rec_active(g, b->rec)) {
		r->code = err.code;
		pbx_span_escape_ascii(err.reason, r->phrase, sizeof r->phrase, NULL);
		settle(g, r, ICE_SR_ERROR, now);
	}
	return true;
}

/* ---- TURN ---- */

static void relay_result(struct ice_gather *g, struct relay *rl, int64_t now)
{
	struct ice_server_record *r = &g->rec[rl->rec];
	struct turn_allocation a;
	struct turn_result res;
	turn_client_allocation(&rl->c, &a, &res);
	r->sent = (uint32_t)turn_client_stats(&rl->c)->sent[0];
	r->stale = res.stale;
	if (r->result != ICE_SR_PENDING)
		return;
	enum turn_state st = turn_client_state(&rl->c);
	if (st == TURN_S_ALLOCATED) {
		r->mapped = a.mapped;
		r->n_relayed = a.n_relayed;
		for (size_t i = 0; i < a.n_relayed && i < 2; i++)
			r->relayed[i] = a.relayed[i];
		r->lifetime = a.lifetime;
		settle(g, r, ICE_SR_OK, now);
		const struct ice_gather_host *h = &g->hosts[rl->host];
		int ri = (int)(rl - g->relay);
		/* Relay local preference: UDP above TCP above TLS (RFC 8445
		 * 5.1.2.1), then one per TURN client so all differ. */
		unsigned rank = r->transport == STUN_URI_UDP ? 2 : r->transport == STUN_URI_TCP ? 1 : 0;
		uint16_t lp = (uint16_t)((rank << 14) | (0x3fffu - (unsigned)ri));
		bool have_mapped = pbx_addr_family(&a.mapped) != AF_UNSPEC;
		for (size_t i = 0; i < a.n_relayed && i < 2; i++)
			add_cand(g, ICE_RELAY, &a.relayed[i], have_mapped ? &a.mapped : &h->addr,
				 &r->addr, (int)r->server, lp, rl->stream == ST_NONE ? h->sock : -1, ri,
				 now);
		/* A UDP allocation's mapped address is the host socket's
		 * server-reflexive address, like a Binding's. */
		if (have_mapped && r->transport == STUN_URI_UDP && !rl->aux)
			add_cand(g, ICE_SRFLX, &a.mapped, &h->addr, &r->addr, (int)r->server,
				 g->local_pref[rl->host], h->sock, -1, now);
		return;
	}
	if (st != TURN_S_FAILED && st != TURN_S_RELEASED)
		return;
	r->turn_reason = res.reason;
	r->code = res.code;
	memcpy(r->phrase, res.phrase, sizeof r->phrase);
	switch (res.reason) {
	case TURN_R_TIMEOUT:
		settle(g, r, ICE_SR_TIMEOUT, now);
		break;
	case TURN_R_ICMP:
		r->icmp = res.icmp;
		settle(g, r, ICE_SR_UNREACHABLE, now);
		break;
	case TURN_R_CLOSED:
	case TURN_R_STREAM:
	case TURN_R_CANCELLED:
		settle(g, r, ICE_SR_CLOSED, now);
		break;
	default:
		settle(g, r, ICE_SR_ERROR, now);
		break;
	}
}

/* Read the client's events and bring its record up to date. */
static void relay_events(struct ice_gather *g, struct relay *rl, int64_t now)
{
	struct turn_event ev;
	bool any = false;
	while (turn_client_event(&rl->c, &ev))
		any = true;
	if (any || g->rec[rl->rec].result == ICE_SR_PENDING)
		relay_result(g, rl, now);
	/* Every send answered or not: a request unanswered at the end
	 * (pending, timed out, unreachable, closed) was one transaction;
	 * the other unanswered sends were retransmissions. */
	struct ice_server_record *r = &g->rec[rl->rec];
	bool open_end = r->result != ICE_SR_OK && r->result != ICE_SR_ERROR;
	if (r->transport != STUN_URI_UDP) /* no retransmissions over TCP */
		r->responses = r->sent - (open_end && r->sent ? 1u : 0u);
	else if (r->sent > r->responses)
		r->retransmitted = r->sent - r->responses - (open_end ? 1u : 0u);
	else
		r->retransmitted = 0;
}

static void relay_start(struct relay *rl, int64_t now)
{
	if (rl->started)
		return;
	rl->started = true;
	turn_client_allocate(&rl->c, now);
}

/* ---- timers and the gather timeout ---- */

static void gather_timeout(struct ice_gather *g, int64_t now)
{
	g->timed_out = true;
	for (size_t i = 0; i < g->n_bind; i++)
		if (g->bind[i].state == BT_ACTIVE)
			bind_failed(g, &g->bind[i], ICE_SR_TIMEOUT, now);
	for (size_t i = 0; i < g->n_relay; i++) {
		struct relay *rl = &g->relay[i];
		struct ice_server_record *r = &g->rec[rl->rec];
		if (r->result != ICE_SR_PENDING)
			continue;
		if (rl->stream == ST_WANT_OPEN || rl->stream == ST_OPENING) {
			settle(g, r, rl->aux ? ICE_SR_TIMEOUT : ICE_SR_TCP_TIMEOUT, now);
			rl->stream = rl->stream == ST_OPENING ? ST_WANT_CLOSE : ST_CLOSED;
		} else {
			settle(g, r, ICE_SR_TIMEOUT, now);
			turn_client_closed(&rl->c, now);
			if (rl->stream == ST_OPEN)
				rl->stream = ST_WANT_CLOSE;
		}
		relay_events(g, rl, now);
	}
}

static void run_timers(struct ice_gather *g, int64_t now)
{
	if (!g->started)
		return;
	for (size_t i = 0; i < g->n_bind; i++) {
		struct bind_tx *b = &g->bind[i];
		if (b->state == BT_ACTIVE && b->next_send == INT64_MAX && now >= b->deadline)
			bind_failed(g, b, ICE_SR_TIMEOUT, now);
	}
	if (!g->timed_out && now >= g->gather_deadline)
		gather_timeout(g, now);
	if (g->releasing && now >= g->release_deadline) {
		for (size_t i = 0; i < g->n_relay; i++) {
			struct relay *rl = &g->relay[i];
			if (turn_client_state(&rl->c) == TURN_S_RELEASING)
				turn_client_closed(&rl->c, now);
		}
	}
}

int ice_gather_start(struct ice_gather *g, int64_t now)
{
	if (g->started)
		return PBX_E_INVALID;
	g->started = true;
	g->start = now;
	g->gather_deadline = now + g->cfg.timeout_ms;
	for (size_t i = 0; i < g->n_hosts; i++)
		add_cand(g, ICE_HOST, &g->hosts[i].addr, &g->hosts[i].addr, NULL, -1,
			 g->local_pref[i], g->hosts[i].sock, -1, now);
	for (size_t i = 0; i < g->n_bind; i++) {
		struct bind_tx *b = &g->bind[i];
		b->state = BT_ACTIVE;
		make_tid(g, b->tid);
		b->rto = TURN_RTO_MS;
		b->first = now;
		b->next_send = now;
		b->deadline = g->gather_deadline;
	}
	for (size_t i = 0; i < g->n_relay; i++)
		if (g->relay[i].stream == ST_NONE)
			relay_start(&g->relay[i], now);
	for (size_t i = 0; i < g->n_rec; i++)
		if (g->rec[i].settled_ms >= 0)
			g->rec[i].settled_ms = 0;
	return 0;
}

/* The next thing a relay wants done, into *out; false if none. */
static int relay_poll(struct ice_gather *g, struct relay *rl, int64_t now, void *buf,
		      size_t cap, struct ice_gather_out *out)
{
	unsigned k = (unsigned)(rl - g->relay);
	const struct ice_server_record *r = &g->rec[rl->rec];
	if (rl->stream == ST_WANT_OPEN && !g->releasing) {
		rl->stream = ST_OPENING;
		out->type = ICE_OUT_OPEN;
		out->stream = k;
		out->transport = r->transport;
		out->server = r->server;
		out->to = r->addr;
		out->local = g->hosts[rl->host].addr;
		pbx_addr_set_port(&out->local, 0);
		return 0;
	}
	if (rl->stream == ST_WANT_CLOSE) {
		rl->stream = ST_CLOSED;
		out->type = ICE_OUT_CLOSE;
		out->stream = k;
		return 0;
	}
	if (!rl->started || (rl->stream != ST_NONE && rl->stream != ST_OPEN))
		return 0;
	size_t len = 0;
	int rc = turn_client_poll(&rl->c, now, buf, cap, &len);
	relay_events(g, rl, now);
	if (rc != 0 || len == 0)
		return rc;
	if (rl->first_send < 0)
		rl->first_send = now;
	out->len = len;
	if (rl->stream == ST_NONE) {
		out->type = ICE_OUT_DATAGRAM;
		out->sock = g->hosts[rl->host].sock;
		out->to = r->addr;
	} else {
		out->type = ICE_OUT_STREAM;
		out->stream = k;
	}
	return 0;
}

int ice_gather_poll(struct ice_gather *g, int64_t now, void *buf, size_t cap,
		    struct ice_gather_out *out)
{
	memset(out, 0, sizeof *out);
	out->type = ICE_OUT_NONE;
	if (!g->started)
		return 0;
	run_timers(g, now);
	for (size_t i = 0; i < g->n_bind; i++) {
		struct bind_tx *b = &g->bind[i];
		if (b->state == BT_ACTIVE && now >= b->next_send && !g->timed_out)
			return bind_send(g, b, now, buf, cap, out);
	}
	for (size_t i = 0; i < g->n_relay; i++) {
		int rc = relay_poll(g, &g->relay[i], now, buf, cap, out);
		if (rc != 0 || out->type != ICE_OUT_NONE)
			return rc;
	}
	/* A release over: close the streams. */
	for (size_t i = 0; i < g->n_relay && g->releasing; i++) {
		struct relay *rl = &g->relay[i];
		if (rl->stream == ST_OPEN && turn_client_state(&rl->c) == TURN_S_RELEASED) {
			rl->stream = ST_CLOSED;
			out->type = ICE_OUT_CLOSE;
			out->stream = (unsigned)i;
			return 0;
		}
	}
	return 0;
}

int64_t ice_gather_deadline(const struct ice_gather *g)
{
	if (!g->started)
		return -1;
	int64_t d = INT64_MAX;
	for (size_t i = 0; i < g->n_bind; i++) {
		const struct bind_tx *b = &g->bind[i];
		if (b->state != BT_ACTIVE)
			continue;
		int64_t t = b->next_send != INT64_MAX ? b->next_send : b->deadline;
		if (t < d)
			d = t;
	}
	for (size_t i = 0; i < g->n_relay; i++) {
		const struct relay *rl = &g->relay[i];
		if (rl->stream == ST_WANT_OPEN || rl->stream == ST_WANT_CLOSE)
			return g->start; /* due now */
		if (!rl->started || (rl->stream != ST_NONE && rl->stream != ST_OPEN))
			continue;
		int64_t t = turn_client_deadline(&rl->c);
		if (t >= 0 && t < d)
			d = t;
	}
	if (!ice_gather_done(g) && g->gather_deadline < d)
		d = g->gather_deadline;
	if (g->releasing && !ice_gather_released(g) && g->release_deadline < d)
		d = g->release_deadline;
	return d == INT64_MAX ? -1 : d;
}

/* ---- input ---- */

/* Bytes from relay rl's server: one datagram, or the next of a stream. */
static int relay_input(struct ice_gather *g, struct relay *rl, const void *p, size_t len,
		       int64_t now, struct ice_gather_in *in)
{
	struct ice_server_record *r = &g->rec[rl->rec];
	int rc = turn_client_input(&rl->c, p, len, now, &in->turn);
	in->used = in->turn.used;
	in->relay = (int)(rl - g->relay);
	if (!in->turn.drop && !in->turn.data && in->used) {
		if (rl->c.cfg.transport == TURN_UDP)
			r->responses++; /* over a stream: counted from the sends */
		if (r->rtt_ms < 0 && rl->first_send >= 0)
			r->rtt_ms = now - rl->first_send;
	}
	relay_events(g, rl, now);
	return rc;
}

int ice_gather_datagram(struct ice_gather *g, int sock, const struct pbx_addr *from,
			const void *p, size_t len, int64_t now, struct ice_gather_in *in)
{
	memset(in, 0, sizeof *in);
	in->relay = -1;
	in->used = len;
	if (!g->started) {
		in->dropped = true;
		return 0;
	}
	if (bind_input(g, sock, from, p, len, now)) {
		in->binding = true;
		return 0;
	}
	for (size_t i = 0; i < g->n_relay; i++) {
		struct relay *rl = &g->relay[i];
		struct ice_server_record *r = &g->rec[rl->rec];
		if (rl->stream != ST_NONE || !rl->started || g->hosts[rl->host].sock != sock ||
		    !pbx_addr_equal(&r->addr, from))
			continue;
		relay_input(g, rl, p, len, now, in);
		in->used = len;
		return 0;
	}
	in->dropped = true;
	return 0;
}

void ice_gather_icmp(struct ice_gather *g, int sock, const struct pbx_addr *to, uint8_t type,
		     uint8_t code, int64_t now)
{
	if (!g->started)
		return;
	for (size_t i = 0; i < g->n_bind; i++) {
		struct bind_tx *b = &g->bind[i];
		struct ice_server_record *r = &g->rec[b->rec];
		if (b->state != BT_ACTIVE || g->hosts[b->host].sock != sock ||
		    !pbx_addr_equal(&r->addr, to))
			continue;
		r->icmp.type = type;
		r->icmp.code = code;
		bind_failed(g, b, ICE_SR_UNREACHABLE, now);
	}
	for (size_t i = 0; i < g->n_relay; i++) {
		struct relay *rl = &g->relay[i];
		if (rl->stream != ST_NONE || !rl->started || g->hosts[rl->host].sock != sock ||
		    !pbx_addr_equal(&g->rec[rl->rec].addr, to))
			continue;
		turn_client_icmp(&rl->c, type, code, now);
		relay_events(g, rl, now);
	}
}

static struct relay *stream_relay(struct ice_gather *g, unsigned stream)
{
	if (stream >= g->n_relay || g->relay[stream].stream == ST_NONE)
		return NULL;
	return &g->relay[stream];
}

int ice_gather_stream_event(struct ice_gather *g, unsigned stream, enum ice_stream_event ev,
			    int64_t now)
{
	struct relay *rl = stream_relay(g, stream);
	if (!rl)
		return PBX_E_INVALID;
	struct ice_server_record *r = &g->rec[rl->rec];
	if (ev == ICE_STREAM_CONNECTED) {
		if (rl->stream != ST_OPENING)
			return PBX_E_INVALID;
		rl->stream = ST_OPEN;
		if (g->releasing || g->timed_out)
			rl->stream = ST_WANT_CLOSE;
		else
			relay_start(rl, now);
		return 0;
	}
	uint8_t result = ev == ICE_STREAM_REFUSED	 ? ICE_SR_TCP_REFUSED
			 : ev == ICE_STREAM_TIMEOUT	 ? ICE_SR_TCP_TIMEOUT
			 : ev == ICE_STREAM_TLS_HANDSHAKE ? ICE_SR_TLS_HANDSHAKE
			 : ev == ICE_STREAM_TLS_UNTRUSTED ? ICE_SR_TLS_UNTRUSTED
							  : ICE_SR_CLOSED;
	if (ev < ICE_STREAM_CONNECTED || ev > ICE_STREAM_CLOSED)
		return PBX_E_INVALID;
	if (rl->stream == ST_OPEN)
		turn_client_closed(&rl->c, now);
	rl->stream = ST_CLOSED;
	settle(g, r, result, now);
	relay_events(g, rl, now);
	return 0;
}

int ice_gather_stream_input(struct ice_gather *g, unsigned stream, const void *p, size_t len,
			    int64_t now, struct ice_gather_in *in)
{
	memset(in, 0, sizeof *in);
	in->relay = -1;
	struct relay *rl = stream_relay(g, stream);
	if (!rl || rl->stream != ST_OPEN || !rl->started)
		return PBX_E_INVALID;
	return relay_input(g, rl, p, len, now, in);
}

int ice_gather_stream_icmp(struct ice_gather *g, unsigned stream, uint8_t type, uint8_t code,
			   int64_t now)
{
	struct relay *rl = stream_relay(g, stream);
	if (!rl || !rl->aux || rl->stream != ST_OPEN)
		return PBX_E_INVALID;
	turn_client_icmp(&rl->c, type, code, now);
	relay_events(g, rl, now);
	return 0;
}

/* ---- results and release ---- */

bool ice_gather_done(const struct ice_gather *g)
{
	if (!g->started)
		return false;
	if (g->timed_out)
		return true;
	for (size_t i = 0; i < g->n_rec; i++)
		if (g->rec[i].result == ICE_SR_PENDING)
			return false;
	return true;
}

size_t ice_gather_n_cands(const struct ice_gather *g)
{
	return g->n_cand;
}

const struct ice_gathered *ice_gather_cand(const struct ice_gather *g, size_t i)
{
	return i < g->n_cand ? &g->cand[i] : NULL;
}

size_t ice_gather_n_records(const struct ice_gather *g)
{
	return g->n_rec;
}

const struct ice_server_record *ice_gather_record(const struct ice_gather *g, size_t i)
{
	return i < g->n_rec ? &g->rec[i] : NULL;
}

int ice_gather_diag(const struct ice_gather *g, enum ice_gather_policy policy,
		    struct ice_diag *out)
{
	return ice_diag_servers(g->rec, g->n_rec, policy, g->cand, g->n_cand, out);
}

struct turn_client *ice_gather_relay(struct ice_gather *g, int i)
{
	return i >= 0 && (size_t)i < g->n_relay ? &g->relay[i].c : NULL;
}

int ice_gather_release(struct ice_gather *g, int64_t now)
{
	if (g->releasing)
		return PBX_E_INVALID;
	g->releasing = true;
	g->release_deadline = now + ICE_GATHER_RELEASE_MS;
	for (size_t i = 0; i < g->n_bind; i++)
		if (g->bind[i].state == BT_ACTIVE)
			bind_failed(g, &g->bind[i], ICE_SR_TIMEOUT, now);
	for (size_t i = 0; i < g->n_relay; i++) {
		struct relay *rl = &g->relay[i];
		enum turn_state st = turn_client_state(&rl->c);
		if (st != TURN_S_RELEASING && st != TURN_S_RELEASED)
			turn_client_release(&rl->c, now);
		if (rl->stream == ST_WANT_OPEN)
			rl->stream = ST_CLOSED;
		else if (rl->stream == ST_OPENING)
			rl->stream = ST_WANT_CLOSE;
		relay_events(g, rl, now);
	}
	return 0;
}

bool ice_gather_released(const struct ice_gather *g)
{
	if (!g->releasing)
		return false;
	for (size_t i = 0; i < g->n_relay; i++) {
		const struct relay *rl = &g->relay[i];
		if (turn_client_state(&rl->c) == TURN_S_RELEASING || rl->stream == ST_WANT_CLOSE ||
		    rl->stream == ST_OPEN)
			return false;
	}
	return true;
}

const char *ice_server_result_name(enum ice_server_result r)
{
	static const char *const names[ICE_SR_COUNT] = {
		[ICE_SR_PENDING] = "pending",
		[ICE_SR_OK] = "ok",
		[ICE_SR_ERROR] = "error",
		[ICE_SR_TIMEOUT] = "timeout",
		[ICE_SR_UNREACHABLE] = "unreachable",
		[ICE_SR_TCP_REFUSED] = "tcp-refused",
		[ICE_SR_TCP_TIMEOUT] = "tcp-timeout",
		[ICE_SR_TLS_HANDSHAKE] = "tls-handshake",
		[ICE_SR_TLS_UNTRUSTED] = "tls-untrusted",
		[ICE_SR_DNS] = "dns",
		[ICE_SR_FAMILY] = "family-mismatch",
		[ICE_SR_REST_EXPIRED] = "rest-expired",
		[ICE_SR_CLOSED] = "closed",
		[ICE_SR_UNSUPPORTED] = "unsupported",
	};
	return (unsigned)r < ICE_SR_COUNT ? names[r] : "unknown";
}
