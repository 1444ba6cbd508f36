/* test_ice_gather.c - candidate gathering (lib/ice/gather.c) and the
 * server half of the diagnosis (lib/ice/diag.c) against scripted STUN and
 * TURN servers (answers built with the STUN codec) on a fake clock: srflx
 * from a Binding, relay and srflx from an Allocate, both families,
 * deduplication, priorities and foundations, the RFC 8489 schedule, TCP
 * and TLS streams, every server reason code from a scripted sequence, the
 * timing bounds, and the release. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/ice.h>

#define USER "alice"
#define PASS "s3cret-pw"
#define REALM "example.org"

/* ---- fixture ---- */

struct srv_spec {
	const char *uri;
	const char *addr;  /* NULL: the name did not resolve */
	const char *user;  /* NULL: USER */
	bool rest;
};

struct fx {
	struct ice_gather *g;
	uint8_t buf[2048];
	struct ice_gather_out out;  /* the last output */
	struct stun_msg req;        /* ... decoded, if bytes */
	uint8_t ans[2048];
	size_t ans_len;
	struct stun_key key;
	unsigned rnd;
	struct ice_gather_in in;
};

static void fake_random(void *arg, void *buf, size_t n)
{
	struct fx *f = arg;
	uint8_t *b = buf;
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(++f->rnd * 37u);
}

static struct pbx_addr addr(const char *text)
{
	struct pbx_addr a;
	ck_assert_int_eq(pbx_addr_parse(pbx_span_cstr(text), 3478, 0, &a, NULL), 0);
	return a;
}

struct fx_opts {
	const char *hosts[4];
	struct srv_spec servers[4];
	uint8_t family, policy;
	uint32_t timeout_ms;
	uint8_t max_sends;
	int64_t unix_now;
};

static struct fx *fx_new(const struct fx_opts *o)
{
	struct fx *f = calloc(1, sizeof *f);
	ck_assert_ptr_nonnull(f);
	struct ice_gather_host hosts[4];
	struct ice_gather_server servers[4];
	size_t nh = 0, ns = 0;
	for (; nh < 4 && o->hosts[nh]; nh++) {
		hosts[nh].addr = addr(o->hosts[nh]);
		hosts[nh].sock = 10 + (int)nh;
	}
	for (; ns < 4 && o->servers[ns].uri; ns++) {
		const struct srv_spec *s = &o->servers[ns];
		memset(&servers[ns], 0, sizeof servers[ns]);
		ck_assert_int_eq(stun_uri_parse(pbx_span_cstr(s->uri), STUN_URI_STUN,
						&servers[ns].uri, NULL),
				 0);
		servers[ns].dns_failed = !s->addr;
		if (s->addr)
			servers[ns].addr = addr(s->addr);
		servers[ns].user = pbx_span_cstr(s->user ? s->user : USER);
		servers[ns].password = pbx_span_cstr(PASS);
		servers[ns].rest = s->rest;
	}
	struct ice_gather_config cfg = {
		.hosts = hosts,
		.n_hosts = nh,
		.servers = servers,
		.n_servers = ns,
		.family = o->family,
		.policy = o->policy,
		.timeout_ms = o->timeout_ms,
		.max_sends = o->max_sends,
		.unix_now = o->unix_now,
		.random = fake_random,
		.random_arg = f,
	};
	ck_assert_int_eq(ice_gather_new(&cfg, &f->g), 0);
	ck_assert_int_eq(stun_integrity_key_long(&f->key, STUN_PWALG_MD5, pbx_span_cstr(USER),
						 pbx_span_cstr(REALM), pbx_span_cstr(PASS)),
			 0);
	return f;
}

static void fx_free(struct fx *f)
{
	ice_gather_free(f->g);
	free(f);
}

/* The next output at now into f->out (bytes decoded into f->req). */
static uint8_t step(struct fx *f, int64_t now)
{
	ck_assert_int_eq(ice_gather_poll(f->g, now, f->buf, sizeof f->buf, &f->out), 0);
	if (f->out.type == ICE_OUT_DATAGRAM || f->out.type == ICE_OUT_STREAM) {
		ck_assert_ptr_null(memmem(f->buf, f->out.len, PASS, strlen(PASS)));
		ck_assert_int_eq(stun_msg_decode(&f->req, f->buf, f->out.len), 0);
		ck_assert_int_eq(f->req.cls, STUN_REQUEST);
	}
	return f->out.type;
}

static void expect_req(struct fx *f, int64_t now, uint16_t method)
{
	uint8_t t = step(f, now);
	ck_assert_msg(t == ICE_OUT_DATAGRAM || t == ICE_OUT_STREAM, "nothing sent at %lld",
		      (long long)now);
	ck_assert_uint_eq(f->req.method, method);
}

static void nothing(struct fx *f, int64_t now)
{
	ck_assert_msg(step(f, now) == ICE_OUT_NONE, "output %u at %lld", f->out.type,
		      (long long)now);
}

/* Deliver f->ans as the answer to the last request, the way it came. */
static void deliver(struct fx *f, int64_t now)
{
	if (f->out.type == ICE_OUT_DATAGRAM) {
		ck_assert_int_eq(ice_gather_datagram(f->g, f->out.sock, &f->out.to, f->ans,
						     f->ans_len, now, &f->in),
				 0);
		ck_assert(!f->in.dropped);
		return;
	}
	ck_assert_uint_eq(f->out.type, ICE_OUT_STREAM);
	size_t off = 0;
	while (off < f->ans_len) {
		ck_assert_int_eq(ice_gather_stream_input(f->g, f->out.stream, f->ans + off,
							 f->ans_len - off, now, &f->in),
				 0);
		ck_assert_uint_gt(f->in.used, 0);
		off += f->in.used;
	}
}

static void begin(struct fx *f, struct stun_enc *e, enum stun_class cls)
{
	ck_assert_int_eq(stun_msg_init_reply(e, f->ans, sizeof f->ans, &f->req, cls), 0);
}

static void end(struct fx *f, struct stun_enc *e, bool sign, int64_t now)
{
	if (sign)
		stun_integrity_put(e, &f->key);
	ck_assert_int_eq(stun_msg_finish(e, &f->ans_len), 0);
	deliver(f, now);
}

static void ans_binding(struct fx *f, const char *mapped, int64_t now)
{
	struct stun_enc e;
	struct pbx_addr m = addr(mapped);
	begin(f, &e, STUN_SUCCESS);
	stun_attr_put_addr(&e, STUN_A_XOR_MAPPED_ADDRESS, &m);
	end(f, &e, false, now);
}

static void ans_challenge(struct fx *f, int code, const char *nonce, bool sign, int64_t now)
{
	struct stun_enc e;
	begin(f, &e, STUN_ERROR);
	stun_attr_put_error(&e, code, NULL);
	stun_attr_put_text(&e, STUN_A_REALM, REALM, strlen(REALM));
	stun_attr_put_text(&e, STUN_A_NONCE, nonce, strlen(nonce));
	end(f, &e, sign, now);
}

static void ans_error(struct fx *f, int code, const char *phrase, bool sign, int64_t now)
{
	struct stun_enc e;
	begin(f, &e, STUN_ERROR);
	struct pbx_span ph = pbx_span_cstr(phrase ? phrase : "");
	stun_attr_put_error(&e, code, phrase ? &ph : NULL);
	end(f, &e, sign, now);
}

static void ans_alloc(struct fx *f, const char *relayed, const char *mapped, int64_t now)
{
	struct stun_enc e;
	struct pbx_addr r = addr(relayed), m = addr(mapped);
	begin(f, &e, STUN_SUCCESS);
	stun_attr_put_addr(&e, STUN_A_XOR_RELAYED_ADDRESS, &r);
	stun_attr_put_u32(&e, STUN_A_LIFETIME, 600);
	stun_attr_put_addr(&e, STUN_A_XOR_MAPPED_ADDRESS, &m);
	end(f, &e, true, now);
}

static void ans_ok(struct fx *f, int64_t now)
{
	struct stun_enc e;
	begin(f, &e, STUN_SUCCESS);
	end(f, &e, true, now);
}

/* The Allocate through its 401 challenge; the signed retry is f->req. */
static void alloc_challenged(struct fx *f, int64_t now)
{
	expect_req(f, now, STUN_ALLOCATE);
	ans_challenge(f, 401, "nonce-1", false, now);
	expect_req(f, now, STUN_ALLOCATE);
	size_t i;
	ck_assert_int_eq(stun_msg_find(&f->req, STUN_A_USERNAME, 0, &i), 0);
}

static const struct ice_server_record *rec(struct fx *f, size_t i)
{
	const struct ice_server_record *r = ice_gather_record(f->g, i);
	ck_assert_ptr_nonnull(r);
	return r;
}

static const struct ice_gathered *cand_of(struct fx *f, enum ice_cand_type t, size_t nth)
{
	for (size_t i = 0; i < ice_gather_n_cands(f->g); i++) {
		const struct ice_gathered *c = ice_gather_cand(f->g, i);
		if (c->cand.type == t && nth-- == 0)
			return c;
	}
	return NULL;
}

static size_t count_of(struct fx *f, enum ice_cand_type t)
{
	size_t n = 0;
	for (size_t i = 0; i < ice_gather_n_cands(f->g); i++)
		n += ice_gather_cand(f->g, i)->cand.type == t;
	return n;
}

static struct ice_diag diagnose(struct fx *f, uint8_t policy)
{
	struct ice_diag d;
	size_t nc = ice_gather_n_cands(f->g);
	struct ice_gathered *c = calloc(nc + 1, sizeof *c);
	for (size_t i = 0; i < nc; i++)
		c[i] = *ice_gather_cand(f->g, i);
	ck_assert_int_eq(ice_diag_servers(ice_gather_record(f->g, 0), ice_gather_n_records(f->g),
					  policy, c, nc, &d),
			 0);
	free(c);
	ck_assert_ptr_null(strstr(d.reason, PASS));
	ck_assert_ptr_null(strstr(d.hint, PASS));
	return d;
}

/* ---- srflx from a Binding ---- */

START_TEST(test_stun_srflx)
{
	struct fx_opts o = { .hosts = { "10.0.0.1:5000" },
			     .servers = { { .uri = "stun:192.0.2.10", .addr = "192.0.2.10:3478" } } };
	struct fx *f = fx_new(&o);
	ck_assert(!ice_gather_done(f->g));
	ck_assert_int_eq(ice_gather_start(f->g, 1000), 0);
	ck_assert_int_eq(ice_gather_start(f->g, 1000), PBX_E_INVALID);
	expect_req(f, 1000, STUN_BINDING);
	ck_assert_int_eq(f->out.sock, 10);
	struct pbx_addr stun_server = addr("192.0.2.10:3478");
	ck_assert(pbx_addr_equal(&f->out.to, &stun_server));
	ck_assert_int_eq(ice_gather_deadline(f->g), 1500);
	ans_binding(f, "198.51.100.7:40000", 1030);
	nothing(f, 1030);
	ck_assert(f->in.binding);
	ck_assert(ice_gather_done(f->g));

	const struct ice_server_record *r = rec(f, 0);
	ck_assert_int_eq(r->result, ICE_SR_OK);
	ck_assert_int_eq(r->rtt_ms, 30);
	ck_assert_int_eq(r->settled_ms, 30);
	ck_assert_uint_eq(r->sent, 1);
	ck_assert_uint_eq(r->responses, 1);
	struct pbx_addr want = addr("198.51.100.7:40000");
	ck_assert(pbx_addr_equal(&r->mapped, &want));
	ck_assert_str_eq(r->uri, "stun:192.0.2.10:3478");

	ck_assert_uint_eq(ice_gather_n_cands(f->g), 2);
	const struct ice_gathered *h = cand_of(f, ICE_HOST, 0), *s = cand_of(f, ICE_SRFLX, 0);
	ck_assert_ptr_nonnull(h);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(h->at_ms, 0);
	ck_assert_int_eq(s->at_ms, 30);
	ck_assert_int_eq(s->server, 0);
	ck_assert_int_eq(h->server, -1);
	ck_assert_uint_eq(h->cand.priority, (126u << 24) + (65535u << 8) + 255);
	ck_assert_uint_eq(s->cand.priority, (100u << 24) + (65535u << 8) + 255);
	ck_assert(pbx_addr_equal(&s->cand.addr, &want));
	ck_assert_uint_eq(s->cand.port, 40000);
	struct pbx_addr base = addr("10.0.0.1:5000"), server = addr("192.0.2.10:3478");
	ck_assert(s->cand.has_raddr && pbx_addr_equal(&s->cand.raddr, &base));
	ck_assert_uint_eq(s->cand.rport, 5000);
	char fd[ICE_FOUNDATION_MAX + 1];
	ck_assert_int_eq(ice_foundation(ICE_SRFLX, &base, &server, ICE_UDP, fd), 0);
	ck_assert_str_eq(s->cand.foundation, fd);
	ck_assert_int_eq(ice_foundation(ICE_HOST, &base, NULL, ICE_UDP, fd), 0);
	ck_assert_str_eq(h->cand.foundation, fd);
	/* Formats as a valid a=candidate line. */
	char line[ICE_CAND_LINE_MAX];
	ck_assert_int_eq(ice_cand_format(&s->cand, line, sizeof line), 0);
	ck_assert_ptr_nonnull(strstr(line, "typ srflx raddr 10.0.0.1 rport 5000"));

	struct ice_diag d = diagnose(f, ICE_POLICY_ALL);
	ck_assert(d.success);
	ck_assert_int_eq(d.result, ICE_DIAG_R_SUCCESS);
	ck_assert_str_eq(ice_diag_name(d.code), "ok");
	fx_free(f);
}
END_TEST

/* The RFC 8489 schedule: 0, 500, 1500, 3500, 7500, 15500, 31500, then
 * Rm * RTO = 8 s more; and the caller's cap on sends. */
START_TEST(test_stun_schedule)
{
	struct fx_opts o = { .hosts = { "10.0.0.1:5000" },
			     .servers = { { .uri = "stun:192.0.2.10", .addr = "192.0.2.10:3478" } },
			     .timeout_ms = 60000 };
	struct fx *f = fx_new(&o);
	ice_gather_start(f->g, 0);
	const int64_t at[] = { 0, 500, 1500, 3500, 7500, 15500, 31500 };
	uint8_t tid[STUN_TID_LEN];
	for (size_t k = 0; k < 7; k++) {
		if (k)
			nothing(f, at[k] - 1);
		expect_req(f, at[k], STUN_BINDING);
		if (k == 0)
			memcpy(tid, f->req.tid, sizeof tid);
		ck_assert(memcmp(tid, f->req.tid, sizeof tid) == 0);
	}
	ck_assert_int_eq(ice_gather_deadline(f->g), 39500);
	nothing(f, 39499);
	ck_assert(!ice_gather_done(f->g));
	nothing(f, 39500);
	ck_assert(ice_gather_done(f->g));
	ck_assert_int_eq(rec(f, 0)->result, ICE_SR_TIMEOUT);
	ck_assert_uint_eq(rec(f, 0)->sent, 7);
	ck_assert_uint_eq(rec(f, 0)->retransmitted, 6);
	fx_free(f);

	o.max_sends = 3;
	f = fx_new(&o);
	ice_gather_start(f->g, 0);
	expect_req(f, 0, STUN_BINDING);
	expect_req(f, 500, STUN_BINDING);
	expect_req(f, 1500, STUN_BINDING);
	ck_assert_int_eq(ice_gather_deadline(f->g), 9500);
	nothing(f, 9500);
	ck_assert(ice_gather_done(f->g));
	ck_assert_uint_eq(rec(f, 0)->sent, 3);
	fx_free(f);

	/* Capped by the gather timeout. */
	o.max_sends = 0;
	o.timeout_ms = 2000;
	f = fx_new(&o);
	ice_gather_start(f->g, 0);
	expect_req(f, 0, STUN_BINDING);
	expect_req(f, 500, STUN_BINDING);
	expect_req(f, 1500, STUN_BINDING);
	ck_assert_int_eq(ice_gather_deadline(f->g), 2000);
	nothing(f, 1999);
	ck_assert(!ice_gather_done(f->g));
	nothing(f, 2000);
	ck_assert(ice_gather_done(f->g));
	struct ice_diag d = diagnose(f, ICE_POLICY_ALL);
	ck_assert(!d.success);
	ck_assert_int_eq(d.result, ICE_DIAG_R_FAILED);
	ck_assert_str_eq(ice_diag_name(d.code), "stun-timeout");
	ck_assert_ptr_nonnull(strstr(d.reason, "stun:192.0.2.10:3478"));
	fx_free(f);
}
END_TEST

/* Two servers mapping to the same address give one srflx; a mapping
 * equal to the host address gives none (RFC 8445 5.1.3). */
START_TEST(test_dedup)
{
	struct fx_opts o = { .hosts = { "10.0.0.1:5000", "203.0.113.5:5002" },
			     .servers = { { .uri = "stun:192.0.2.10", .addr = "192.0.2.10:3478" },
					  { .uri = "stun:192.0.2.11", .addr = "192.0.2.11:3478" } } };
	struct fx *f = fx_new(&o);
	ice_gather_start(f->g, 0);
	for (int k = 0; k < 4; k++) {
		expect_req(f, 0, STUN_BINDING);
		bool public = f->out.sock == 11;
		ans_binding(f, public ? "203.0.113.5:5002" : "198.51.100.7:40000", 10 + k);
	}
	nothing(f, 20);
	ck_assert(ice_gather_done(f->g));
	ck_assert_uint_eq(count_of(f, ICE_HOST), 2);
	ck_assert_uint_eq(count_of(f, ICE_SRFLX), 1);
	const struct ice_gathered *s = cand_of(f, ICE_SRFLX, 0);
	ck_assert_int_eq(s->server, 0);
	/* Its priority carries the local preference of its base. */
	const struct ice_gathered *h0 = cand_of(f, ICE_HOST, 0), *h1 = cand_of(f, ICE_HOST, 1);
	ck_assert_uint_eq(h0->cand.priority >> 8 & 0xffff, 65535);
	ck_assert_uint_eq(h1->cand.priority >> 8 & 0xffff, 65534);
	ck_assert_uint_eq(s->cand.priority >> 8 & 0xffff, 65535);
	ck_assert_int_eq(rec(f, 1)->result, ICE_SR_OK);
	fx_free(f);
}
END_TEST

/* ---- relay and srflx from an Allocate ---- */

START_TEST(test_turn_relay)
{
	struct fx_opts o = { .hosts = { "10.0.0.1:5000" },
			     .servers = { { .uri = "turn:192.0.2.20", .addr = "192.0.2.20:3478" } },
			     .family = ICE_GATHER_V4 };
	struct fx *f = fx_new(&o);
	ck_assert_uint_eq(ice_gather_n_records(f->g), 1);
	ice_gather_start(f->g, 0);
	alloc_challenged(f, 0);
	ck_assert_int_eq(f->out.sock, 10);
	ans_alloc(f, "192.0.2.20:50000", "198.51.100.7:40000", 42);
	ck_assert_int_eq(f->in.relay, 0);
	ck_assert(ice_gather_done(f->g));
	const struct ice_server_record *r = rec(f, 0);
	ck_assert_int_eq(r->result, ICE_SR_OK);
	ck_assert(r->turn);
	ck_assert_str_eq(r->uri, "turn:192.0.2.20:3478?transport=udp");
	ck_assert_uint_eq(r->sent, 2);
	ck_assert_uint_eq(r->responses, 2);
	ck_assert_uint_eq(r->retransmitted, 0);
	ck_assert_int_eq(r->rtt_ms, 0);
	ck_assert_uint_eq(r->lifetime, 600);
	ck_assert_uint_eq(r->n_relayed, 1);
	ck_assert_int_eq(r->relay, 0);

	const struct ice_gathered *rl = cand_of(f, ICE_RELAY, 0), *s = cand_of(f, ICE_SRFLX, 0);
	ck_assert_ptr_nonnull(rl);
	ck_assert_ptr_nonnull(s);
	struct pbx_addr relayed = addr("192.0.2.20:50000"), mapped = addr("198.51.100.7:40000");
	ck_assert(pbx_addr_equal(&rl->cand.addr, &relayed));
	ck_assert(pbx_addr_equal(&rl->cand.raddr, &mapped));
	ck_assert_uint_eq(rl->cand.priority >> 24, 0);
	ck_assert_uint_eq(rl->cand.priority >> 22 & 3, 2); /* UDP relay */
	ck_assert_int_eq(rl->relay, 0);
	ck_assert_int_eq(rl->relay_transport, STUN_URI_UDP);
	ck_assert_int_eq(rl->at_ms, 42);
	ck_assert(pbx_addr_equal(&s->cand.addr, &mapped));
	struct turn_client *c = ice_gather_relay(f->g, rl->relay);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(turn_client_state(c), TURN_S_ALLOCATED);
	ck_assert_ptr_null(ice_gather_relay(f->g, 1));
	ck_assert_ptr_null(ice_gather_relay(f->g, -1));

	/* Relayed data comes back through the gatherer's input. */
	struct ice_gather_in in;
	uint8_t dg[64];
	struct pbx_addr peer = addr("203.0.113.9:7000");
	ck_assert_int_eq(turn_client_bind(c, &peer, 50), 0);
	nothing(f, 49);
	expect_req(f, 50, STUN_CHANNEL_BIND);
	ans_ok(f, 60);
	uint16_t ch = 0;
	ck_assert_int_eq(turn_client_channel(c, &peer, &ch, NULL), TURN_P_OK);
	dg[0] = (uint8_t)(ch >> 8);
	dg[1] = (uint8_t)ch;
	dg[2] = 0;
	dg[3] = 4;
	memcpy(dg + 4, "ping", 4);
	struct pbx_addr server = addr("192.0.2.20:3478");
	ck_assert_int_eq(ice_gather_datagram(f->g, 10, &server, dg, 8, 70, &in), 0);
	ck_assert(in.turn.data);
	ck_assert_int_eq(in.relay, 0);
	ck_assert_uint_eq(in.turn.len, 4);
	/* From elsewhere: dropped. */
	ck_assert_int_eq(ice_gather_datagram(f->g, 10, &peer, dg, 8, 70, &in), 0);
	ck_assert(in.dropped);

	struct ice_diag d = diagnose(f, ICE_POLICY_RELAY);
	ck_assert(d.success);
	fx_free(f);

	/* --policy relay reports the relay alone; srflx the srflx alone. */
	for (uint8_t pol = ICE_POLICY_HOST; pol <= ICE_POLICY_RELAY; pol++) {
		o.policy = pol;
		f = fx_new(&o);
		ice_gather_start(f->g, 0);
		alloc_challenged(f, 0);
		ans_alloc(f, "192.0.2.20:50000", "198.51.100.7:40000", 10);
		ck_assert_uint_eq(ice_gather_n_cands(f->g), 1);
		enum ice_cand_type want = pol == ICE_POLICY_HOST    ? ICE_HOST
					  : pol == ICE_POLICY_SRFLX ? ICE_SRFLX
								    : ICE_RELAY;
		ck_assert_int_eq(ice_gather_cand(f->g, 0)->cand.type, want);
		ck_assert(diagnose(f, pol).success);
		fx_free(f);
	}
}
END_TEST

/* --family both: one TURN client per relay family, IPv6 asked with
 * REQUESTED-ADDRESS-FAMILY; host preferences interleave the families. */
START_TEST(test_both_families)
{
	struct fx_opts o = { .hosts = { "10.0.0.1:5000", "10.0.0.2:5001", "2001:db8::1:5002" },
			     .servers = { { .uri = "turn:192.0.2.20", .addr = "192.0.2.20:3478" } } };
	struct fx *f = fx_new(&o);
	ck_assert_uint_eq(ice_gather_n_records(f->g), 2);
	ck_assert_int_eq(rec(f, 0)->family, AF_INET);
	ck_assert_int_eq(rec(f, 1)->family, AF_INET6);
	ice_gather_start(f->g, 0);
	ck_assert_uint_eq(count_of(f, ICE_HOST), 3);
	ck_assert_uint_eq(cand_of(f, ICE_HOST, 0)->cand.priority >> 8 & 0xffff, 65535);
	ck_assert_uint_eq(cand_of(f, ICE_HOST, 1)->cand.priority >> 8 & 0xffff, 65533);
	ck_assert_uint_eq(cand_of(f, ICE_HOST, 2)->cand.priority >> 8 & 0xffff, 65534);
	/* One client per family, both from the IPv4 socket; each answer
	 * settles its own. */
	size_t i;
	uint8_t fam;
	expect_req(f, 0, STUN_ALLOCATE);
	ck_assert_int_ne(stun_msg_find(&f->req, STUN_A_REQUESTED_ADDRESS_FAMILY, 0, &i), 0);
	ans_challenge(f, 401, "n4", false, 5);
	expect_req(f, 5, STUN_ALLOCATE);
	ans_alloc(f, "192.0.2.20:50000", "198.51.100.7:40000", 7);
	ck_assert(!ice_gather_done(f->g));
	/* The IPv4 host socket's 5-tuple to the server is taken: the IPv6
	 * relay asks for a UDP socket of its own, from the same address. */
	ck_assert_int_eq(step(f, 7), ICE_OUT_OPEN);
	ck_assert_uint_eq(f->out.stream, 1);
	ck_assert_int_eq(f->out.transport, STUN_URI_UDP);
	struct pbx_addr local = addr("10.0.0.1:5000");
	pbx_addr_set_port(&local, 0);
	ck_assert(pbx_addr_equal(&f->out.local, &local));
	nothing(f, 7);
	ck_assert_int_eq(ice_gather_stream_event(f->g, 1, ICE_STREAM_CONNECTED, 7), 0);
	expect_req(f, 7, STUN_ALLOCATE);
	ck_assert_int_eq(f->out.type, ICE_OUT_STREAM);
	ck_assert_int_eq(stun_msg_find(&f->req, STUN_A_REQUESTED_ADDRESS_FAMILY, 0, &i), 0);
	ck_assert_int_eq(stun_attr_family(&f->req, i, &fam), 0);
	ck_assert_uint_eq(fam, STUN_FAMILY_IPV6);
	ans_challenge(f, 401, "n6", false, 7);
	expect_req(f, 7, STUN_ALLOCATE);
	ans_alloc(f, "[2001:db8::20]:50002", "198.51.100.7:40000", 8);
	ck_assert(ice_gather_done(f->g));
	ck_assert_uint_eq(count_of(f, ICE_RELAY), 2);
	ck_assert_uint_eq(count_of(f, ICE_SRFLX), 1); /* the same mapping twice */
	const struct ice_gathered *r4 = cand_of(f, ICE_RELAY, 0), *r6 = cand_of(f, ICE_RELAY, 1);
	ck_assert_int_eq(pbx_addr_family(&r4->cand.addr), AF_INET);
	ck_assert_int_eq(pbx_addr_family(&r6->cand.addr), AF_INET6);
	ck_assert_uint_ne(r4->cand.priority, r6->cand.priority);
	ck_assert_str_ne(r4->cand.foundation, r6->cand.foundation);
	ck_assert_int_eq(r4->sock, 10);
	ck_assert_int_eq(r6->sock, -1);
	ck_assert_int_eq(r6->relay, 1);
	ck_assert_int_eq(rec(f, 1)->result, ICE_SR_OK);
	ck_assert_uint_eq(rec(f, 1)->n_relayed, 1);
	ck_assert_uint_eq(rec(f, 1)->responses, 2);
	ck_assert_int_eq(ice_gather_stream_icmp(f->g, 0, 3, 3, 9), PBX_E_INVALID);
	ck_assert_int_eq(ice_gather_stream_icmp(f->g, 1, 3, 3, 9), 0);
	fx_free(f);
}
END_TEST

/* TURN over TCP: the caller opens the stream; the relay ranks below UDP. */
START_TEST(test_turn_tcp)
{
	struct fx_opts o = { .hosts = { "10.0.0.1:5000" },
			     .servers = { { .uri = "turn:192.0.2.20?transport=tcp", .addr = "192.0.2.20:3478" },
					  { .uri = "turns:192.0.2.21", .addr = "192.0.2.21:5349" } },
			     .family = ICE_GATHER_V4 };
	struct fx *f = fx_new(&o);
	ice_gather_start(f->g, 0);
	ck_assert_int_eq(ice_gather_deadline(f->g), 0);
	ck_assert_int_eq(step(f, 0), ICE_OUT_OPEN);
	ck_assert_uint_eq(f->out.stream, 0);
	ck_assert_int_eq(f->out.transport, STUN_URI_TCP);
	struct pbx_addr want = addr("192.0.2.20:3478");
	ck_assert(pbx_addr_equal(&f->out.to, &want));
	ck_assert_int_eq(step(f, 0), ICE_OUT_OPEN);
	ck_assert_uint_eq(f->out.stream, 1);
	ck_assert_int_eq(f->out.transport, STUN_URI_TLS);
	ck_assert_uint_eq(f->out.server, 1);
	nothing(f, 0);
	ck_assert_int_eq(ice_gather_stream_event(f->g, 0, ICE_STREAM_CONNECTED, 10), 0);
	ck_assert_int_eq(ice_gather_stream_event(f->g, 1, ICE_STREAM_CONNECTED, 12), 0);
	ck_assert_int_eq(ice_gather_stream_event(f->g, 5, ICE_STREAM_CONNECTED, 12),
			 PBX_E_INVALID);
	for (int k = 0; k < 2; k++) {
		alloc_challenged(f, 20);
		ck_assert_int_eq(f->out.type, ICE_OUT_STREAM);
		ans_alloc(f, k ? "192.0.2.21:50001" : "192.0.2.20:50000", "198.51.100.7:40000",
			  30);
	}
	ck_assert(ice_gather_done(f->g));
	ck_assert_uint_eq(count_of(f, ICE_SRFLX), 0); /* a TCP mapping is no UDP srflx */
	const struct ice_gathered *t = cand_of(f, ICE_RELAY, 0), *s = cand_of(f, ICE_RELAY, 1);
	ck_assert_int_eq(t->relay_transport, STUN_URI_TCP);
	ck_assert_int_eq(s->relay_transport, STUN_URI_TLS);
	ck_assert_uint_eq(t->cand.priority >> 22 & 3, 1);
	ck_assert_uint_eq(s->cand.priority >> 22 & 3, 0);
	ck_assert_uint_gt(t->cand.priority, s->cand.priority);
	ck_assert_uint_eq(rec(f, 0)->responses, 2);
	ck_assert_str_eq(rec(f, 0)->uri, "turn:192.0.2.20:3478?transport=tcp");

	/* Release: Refresh 0 over each stream, then the streams close. */
	ck_assert_int_eq(ice_gather_release(f->g, 100), 0);
	ck_assert_int_eq(ice_gather_release(f->g, 100), PBX_E_INVALID);
	for (int k = 0; k < 2; k++) {
		expect_req(f, 100, STUN_REFRESH);
		ans_ok(f, 110);
	}
	ck_assert_int_eq(step(f, 110), ICE_OUT_CLOSE);
	ck_assert_int_eq(step(f, 110), ICE_OUT_CLOSE);
	nothing(f, 110);
	ck_assert(ice_gather_released(f->g));
	fx_free(f);
}
END_TEST

/* A silent release ends within ICE_GATHER_RELEASE_MS. */
START_TEST(test_release_bounded)
{
	struct fx_opts o = { .hosts = { "10.0.0.1:5000" },
			     .servers = { { .uri = "turn:192.0.2.20", .addr = "192.0.2.20:3478" } },
			     .family = ICE_GATHER_V4 };
	struct fx *f = fx_new(&o);
	ice_gather_start(f->g, 0);
	alloc_challenged(f, 0);
	ans_alloc(f, "192.0.2.20:50000", "198.51.100.7:40000", 10);
	ck_assert(!ice_gather_released(f->g));
	ck_assert_int_eq(ice_gather_release(f->g, 1000), 0);
	expect_req(f, 1000, STUN_REFRESH);
	size_t i;
	uint32_t life = 1;
	ck_assert_int_eq(stun_msg_find(&f->req, STUN_A_LIFETIME, 0, &i), 0);
	ck_assert_int_eq(stun_attr_u32(&f->req, i, &life), 0);
	ck_assert_uint_eq(life, 0);
	int64_t now = 1000;
	while (!ice_gather_released(f->g)) {
		int64_t d = ice_gather_deadline(f->g);
		ck_assert_int_ge(d, now);
		now = d;
		ck_assert_int_le(now, 1000 + ICE_GATHER_RELEASE_MS);
		while (step(f, now) != ICE_OUT_NONE)
			;
	}
	ck_assert_int_eq(turn_client_state(ice_gather_relay(f->g, 0)), TURN_S_RELEASED);
	fx_free(f);
}
END_TEST

/* ---- the reason table: every server code from a scripted sequence ---- */

enum script {
	S_NONE,          /* nothing happens before now: silence */
	S_ICMP,          /* ICMP port unreachable for the first send */
	S_AUTH,          /* 401, then 401 again to the signed retry */
	S_CODE,          /* 401, then `code` (signed) to the signed retry */
	S_NONCE_LOOP,    /* 401, then 438 with a new nonce every time */
	S_STREAM,        /* the stream event `code` */
	S_BIND_ERROR,    /* the Binding answered with error `code` */
};

struct reason_case {
	const char *name;     /* expected code */
	const char *uri, *server_addr;
	const char *host;
	enum script script;
	int code;
	int64_t at;           /* when it must be concluded, ms */
	bool rest;
	uint8_t policy;
	const char *in_reason; /* text the reason line must contain */
};

static const struct reason_case reason_cases[] = {
	{ "dns", "turn:turn.invalid", NULL, "10.0.0.1:5000", S_NONE, 0, 0, false, 0,
	  "did not resolve" },
	{ "family-mismatch", "turn:[2001:db8::20]", "[2001:db8::20]:3478", "10.0.0.1:5000", S_NONE,
	  0, 0, false, 0, "no IPv6 address" },
	{ "turn-rest-expired", "turn:192.0.2.20", "192.0.2.20:3478", "10.0.0.1:5000", S_NONE, 0, 0,
	  true, 0, "nothing was sent" },
	{ "stun-error", "stuns:192.0.2.10", "192.0.2.10:5349", "10.0.0.1:5000", S_NONE, 0, 0, false,
	  0, "Binding over TLS is not checked" },
	{ "stun-unreachable", "stun:127.0.0.1:3479", "127.0.0.1:3479", "127.0.0.1:5000", S_ICMP, 0,
	  3, false, 0, "port unreachable" },
	{ "turn-unreachable", "turn:127.0.0.1:3479", "127.0.0.1:3479", "127.0.0.1:5000", S_ICMP, 0,
	  3, false, 0, "port unreachable" },
	{ "stun-timeout", "stun:192.0.2.10", "192.0.2.10:3478", "10.0.0.1:5000", S_NONE, 0, 5000,
	  false, 0, "did not answer" },
	{ "turn-timeout", "turn:192.0.2.20", "192.0.2.20:3478", "10.0.0.1:5000", S_NONE, 0, 5000,
	  false, 0, "did not answer" },
	{ "tcp-refused", "turn:192.0.2.20?transport=tcp", "192.0.2.20:3478", "10.0.0.1:5000",
	  S_STREAM, ICE_STREAM_REFUSED, 2, false, 0, "refused" },
	{ "tcp-timeout", "turn:192.0.2.20?transport=tcp", "192.0.2.20:3478", "10.0.0.1:5000",
	  S_STREAM, ICE_STREAM_TIMEOUT, 2, false, 0, "timed out" },
	{ "tcp-timeout", "turn:192.0.2.20?transport=tcp", "192.0.2.20:3478", "10.0.0.1:5000",
	  S_NONE, 0, 5000, false, 0, "timed out" },
	{ "tls-handshake", "turns:192.0.2.20", "192.0.2.20:5349", "10.0.0.1:5000", S_STREAM,
	  ICE_STREAM_TLS_HANDSHAKE, 2, false, 0, "handshake" },
	{ "tls-untrusted", "turns:192.0.2.20", "192.0.2.20:5349", "10.0.0.1:5000", S_STREAM,
	  ICE_STREAM_TLS_UNTRUSTED, 2, false, 0, "not trusted" },
	{ "turn-auth", "turn:127.0.0.1:3478", "127.0.0.1:3478", "127.0.0.1:5000", S_AUTH, 401, 3,
	  false, 0,
	  "turn:127.0.0.1:3478?transport=udp answered 401 Unauthorized to our credentials: wrong "
	  "user name or password" },
	{ "turn-quota", "turn:192.0.2.20", "192.0.2.20:3478", "10.0.0.1:5000", S_CODE, 486, 3,
	  false, 0, "486" },
	{ "turn-capacity", "turn:192.0.2.20", "192.0.2.20:3478", "10.0.0.1:5000", S_CODE, 508, 3,
	  false, 0, "508" },
	{ "turn-family", "turn:192.0.2.20", "192.0.2.20:3478", "10.0.0.1:5000", S_CODE, 440, 3,
	  false, 0, "440" },
	{ "turn-transport", "turn:192.0.2.20", "192.0.2.20:3478", "10.0.0.1:5000", S_CODE, 442, 3,
	  false, 0, "442" },
	{ "turn-mismatch", "turn:192.0.2.20", "192.0.2.20:3478", "10.0.0.1:5000", S_CODE, 437, 3,
	  false, 0, "437" },
	{ "turn-error", "turn:192.0.2.20", "192.0.2.20:3478", "10.0.0.1:5000", S_CODE, 403, 3,
	  false, 0, "403" },
	{ "turn-nonce-loop", "turn:192.0.2.20", "192.0.2.20:3478", "10.0.0.1:5000", S_NONCE_LOOP,
	  438, 3, false, 0, "438" },
	{ "stun-error", "stun:192.0.2.10", "192.0.2.10:3478", "10.0.0.1:5000", S_BIND_ERROR, 400,
	  3, false, 0, "400" },
	{ "no-candidate", "stun:192.0.2.10", "192.0.2.10:3478", "10.0.0.1:5000", S_BIND_ERROR, 0,
	  3, false, ICE_POLICY_RELAY, "no relay candidate" },
};

static void run_script(struct fx *f, const struct reason_case *c)
{
	const int64_t t = c->at;
	switch (c->script) {
	case S_NONE:
		for (int64_t now = 0; now < t;) {
			while (step(f, now) != ICE_OUT_NONE)
				;
			ck_assert_msg(!ice_gather_done(f->g), "done at %lld", (long long)now);
			int64_t d = ice_gather_deadline(f->g);
			ck_assert_int_gt(d, now);
			now = d;
		}
		while (step(f, t) != ICE_OUT_NONE)
			;
		break;
	case S_ICMP:
		step(f, 0);
		ck_assert_uint_eq(f->out.type, ICE_OUT_DATAGRAM);
		ice_gather_icmp(f->g, f->out.sock, &f->out.to, 3, 3, t);
		break;
	case S_STREAM:
		ck_assert_int_eq(step(f, 0), ICE_OUT_OPEN);
		ck_assert_int_eq(ice_gather_stream_event(f->g, f->out.stream,
							 (enum ice_stream_event)c->code, t),
				 0);
		break;
	case S_AUTH:
	case S_CODE:
		alloc_challenged(f, 0);
		if (c->script == S_AUTH) {
			/* As coturn words it. */
			struct stun_enc e;
			struct pbx_span ph = pbx_span_cstr("Unauthorized");
			begin(f, &e, STUN_ERROR);
			stun_attr_put_error(&e, 401, &ph);
			stun_attr_put_text(&e, STUN_A_REALM, REALM, strlen(REALM));
			stun_attr_put_text(&e, STUN_A_NONCE, "nonce-2", 7);
			end(f, &e, false, t);
		} else
			ans_error(f, c->code, NULL, true, t);
		break;
	case S_NONCE_LOOP:
		alloc_challenged(f, 0);
		for (int k = 0; k < TURN_STALE_MAX + 1; k++) {
			char nonce[16];
			snprintf(nonce, sizeof nonce, "stale-%d", k);
			ans_challenge(f, 438, nonce, true, t);
			if (k < TURN_STALE_MAX)
				expect_req(f, t, STUN_ALLOCATE);
		}
		break;
	case S_BIND_ERROR:
		expect_req(f, 0, STUN_BINDING);
		if (c->code)
			ans_error(f, c->code, NULL, false, t);
		else
			ans_binding(f, "198.51.100.7:40000", t);
		break;
	}
}

START_TEST(test_reason_table)
{
	const struct reason_case *c = &reason_cases[_i];
	struct fx_opts o = { .hosts = { c->host },
			     .servers = { { c->uri, c->server_addr,
					    c->rest ? "1000:alice" : NULL, c->rest } },
			     .family = ICE_GATHER_V4,
			     .policy = c->policy,
			     .timeout_ms = 5000,
			     .unix_now = 2000 };
	struct fx *f = fx_new(&o);
	ice_gather_start(f->g, 0);
	if (c->at == 0) {
		/* Settled before anything is sent. */
		ck_assert(ice_gather_done(f->g));
		nothing(f, 0);
		ck_assert_uint_eq(rec(f, 0)->sent, 0);
	} else {
		run_script(f, c);
	}
	ck_assert_msg(ice_gather_done(f->g), "%s: not done at %lld", c->name, (long long)c->at);
	ck_assert_int_eq(rec(f, 0)->settled_ms, c->at);
	/* The 438s met are counted for --verbose; nothing else is one. */
	if (c->script == S_NONCE_LOOP)
		ck_assert_uint_gt(rec(f, 0)->stale, TURN_STALE_MAX);
	else
		ck_assert_uint_eq(rec(f, 0)->stale, 0);
	struct ice_diag d = diagnose(f, c->policy);
	ck_assert(!d.success);
	ck_assert_str_eq(ice_diag_name(d.code), c->name);
	ck_assert_msg(strstr(d.reason, c->in_reason), "%s: reason \"%s\"", c->name, d.reason);
	ck_assert(d.hint[0]);
	/* stuns: says what to check instead, not to read the server's log. */
	if (strncmp(c->uri, "stuns:", 6) == 0)
		ck_assert_msg(strstr(d.hint, "as stun: (UDP)"), "%s: hint \"%s\"", c->name, d.hint);
	if (d.code != ICE_DIAG_NO_CANDIDATE) /* every other line names the server */
		ck_assert_ptr_nonnull(strstr(d.reason, rec(f, 0)->uri));
	fx_free(f);
}
END_TEST

/* The order of precedence, and names. */
START_TEST(test_diag_order)
{
	struct ice_server_record r[3];
	memset(r, 0, sizeof r);
	for (int i = 0; i < 3; i++) {
		snprintf(r[i].uri, sizeof r[i].uri, "turn:192.0.2.%d:3478?transport=udp", i + 1);
		r[i].turn = true;
		r[i].rtt_ms = -1;
	}
	r[0].result = ICE_SR_TIMEOUT;
	r[1].result = ICE_SR_ERROR;
	r[1].code = 486;
	r[1].turn_reason = TURN_R_QUOTA;
	r[2].result = ICE_SR_ERROR;
	r[2].code = 401;
	r[2].turn_reason = TURN_R_AUTH;
	struct ice_diag d;
	ck_assert_int_eq(ice_diag_servers(r, 3, ICE_POLICY_ALL, NULL, 0, &d), 0);
	ck_assert_str_eq(ice_diag_name(d.code), "turn-auth");
	ck_assert_int_eq(d.record, 2);
	ck_assert_ptr_nonnull(strstr(d.reason, "192.0.2.3"));
	ck_assert_ptr_nonnull(strstr(d.hint, "rpctl turn user list"));
	r[2].result = ICE_SR_OK;
	ck_assert_int_eq(ice_diag_servers(r, 3, ICE_POLICY_ALL, NULL, 0, &d), 0);
	ck_assert_str_eq(ice_diag_name(d.code), "turn-quota");
	r[1].result = ICE_SR_PENDING;
	ck_assert_int_eq(ice_diag_servers(r, 3, ICE_POLICY_ALL, NULL, 0, &d), 0);
	ck_assert_str_eq(ice_diag_name(d.code), "turn-timeout");
	ck_assert_int_eq(d.record, 0);
	ck_assert_str_eq(ice_diag_name(ICE_DIAG_COUNT), "unknown");
	for (int k = 0; k < ICE_DIAG_COUNT; k++)
		ck_assert_str_ne(ice_diag_name((enum ice_diag_code)k), "unknown");
	ck_assert_str_eq(ice_server_result_name(ICE_SR_TLS_UNTRUSTED), "tls-untrusted");
	ck_assert_str_eq(ice_server_result_name(ICE_SR_COUNT), "unknown");
}
END_TEST

/* Asking for both families: a server that relays only one of them, or
 * an address of a family this host lacks, does not fail the check when
 * the same server answered in the other family; alone, it does. */
START_TEST(test_diag_other_family)
{
	struct ice_server_record r[2];
	memset(r, 0, sizeof r);
	for (int i = 0; i < 2; i++) {
		snprintf(r[i].uri, sizeof r[i].uri, "turn:192.0.2.1:3478?transport=udp");
		r[i].turn = true;
		r[i].rtt_ms = -1;
		r[i].server = 0;
	}
	r[0].family = AF_INET;
	r[0].result = ICE_SR_OK;
	r[1].family = AF_INET6;
	r[1].result = ICE_SR_ERROR;
	r[1].code = 440;
	r[1].turn_reason = TURN_R_FAMILY;
	struct ice_gathered c;
	memset(&c, 0, sizeof c);
	c.cand.type = ICE_RELAY;
	struct ice_diag d;
	ck_assert_int_eq(ice_diag_servers(r, 2, ICE_POLICY_ALL, &c, 1, &d), 0);
	ck_assert(d.success);
	ck_assert_int_eq(d.code, ICE_DIAG_OK);
	ck_assert_ptr_nonnull(strstr(d.hint, "not in every family"));
	ck_assert_ptr_nonnull(strstr(d.hint, "440"));

	/* The IPv4 record failing too: the family error is no longer
	 * excused, and the first blocking reason is reported. */
	r[0].result = ICE_SR_TIMEOUT;
	ck_assert_int_eq(ice_diag_servers(r, 2, ICE_POLICY_ALL, &c, 1, &d), 0);
	ck_assert(!d.success);
	ck_assert_str_eq(ice_diag_name(d.code), "turn-family");

	/* Another server's success does not excuse it. */
	r[0].result = ICE_SR_OK;
	r[0].server = 1;
	ck_assert_int_eq(ice_diag_servers(r, 2, ICE_POLICY_ALL, &c, 1, &d), 0);
	ck_assert(!d.success);
	ck_assert_str_eq(ice_diag_name(d.code), "turn-family");

	/* Only the asked family (--family 6): it blocks. */
	ck_assert_int_eq(ice_diag_servers(&r[1], 1, ICE_POLICY_ALL, &c, 1, &d), 0);
	ck_assert(!d.success);
	ck_assert_str_eq(ice_diag_name(d.code), "turn-family");
}
END_TEST

/* A STUN server that sees the host's own address (no NAT in between):
 * the srflx candidate equals the host one and is not kept, yet every
 * server answered and peers reach the host candidate: a success whose
 * hint says so.  Under --policy srflx there is still nothing to offer. */
START_TEST(test_diag_no_nat)
{
	struct ice_server_record r;
	memset(&r, 0, sizeof r);
	snprintf(r.uri, sizeof r.uri, "stun:192.0.2.1:3478");
	r.family = AF_INET;
	r.result = ICE_SR_OK;
	r.rtt_ms = 1;
	struct pbx_err e = { 0 };
	ck_assert_int_eq(pbx_addr_parse(pbx_span_cstr("198.51.100.7:40000"), 0, 0, &r.mapped, &e),
			 0);
	struct ice_gathered c;
	memset(&c, 0, sizeof c);
	c.cand.type = ICE_HOST;
	c.server = -1;
	c.relay = -1;
	c.cand.addr = r.mapped;
	struct ice_diag d;
	ck_assert_int_eq(ice_diag_servers(&r, 1, ICE_POLICY_ALL, &c, 1, &d), 0);
	ck_assert(d.success);
	ck_assert_ptr_nonnull(strstr(d.hint, "no NAT between this host and stun:192.0.2.1:3478"));
	ck_assert_ptr_nonnull(strstr(d.hint, "198.51.100.7:40000"));

	ck_assert_int_eq(ice_diag_servers(&r, 1, ICE_POLICY_SRFLX, &c, 1, &d), 0);
	ck_assert(!d.success);
	ck_assert_str_eq(ice_diag_name(d.code), "no-candidate");

	/* Mapped elsewhere (a NAT) but no srflx kept: still no-candidate. */
	pbx_addr_set_port(&r.mapped, 40001);
	ck_assert_int_eq(ice_diag_servers(&r, 1, ICE_POLICY_ALL, &c, 1, &d), 0);
	ck_assert(!d.success);
	ck_assert_str_eq(ice_diag_name(d.code), "no-candidate");
}
END_TEST

/* Configuration checks. */
START_TEST(test_config)
{
	struct ice_gather *g;
	struct ice_gather_host h = { .sock = 1 };
	struct ice_gather_config cfg = { .hosts = &h, .n_hosts = 1 };
	ck_assert_int_eq(ice_gather_new(&cfg, &g), PBX_E_INVALID);
	ck_assert_ptr_null(g);
	h.addr = addr("10.0.0.1:5000");
	cfg.n_hosts = ICE_GATHER_HOSTS_MAX + 1;
	ck_assert_int_eq(ice_gather_new(&cfg, &g), PBX_E_TOOLONG);
	cfg.n_hosts = 1;
	struct ice_gather_server s = { 0 };
	ck_assert_int_eq(stun_uri_parse(pbx_span_cstr("turn:192.0.2.1"), STUN_URI_STUN, &s.uri,
					NULL),
			 0);
	s.addr = addr("192.0.2.1:3478");
	cfg.servers = &s;
	cfg.n_servers = 1;
	ck_assert_int_eq(ice_gather_new(&cfg, &g), PBX_E_INVALID); /* no user */
	s.user = pbx_span_cstr(USER);
	s.password = pbx_span_cstr(PASS);
	ck_assert_int_eq(ice_gather_new(&cfg, &g), 0);
	/* --family 6 with only IPv4 hosts: no host, family mismatch. */
	ice_gather_free(g);
	cfg.family = ICE_GATHER_V6;
	ck_assert_int_eq(ice_gather_new(&cfg, &g), 0);
	ice_gather_start(g, 0);
	ck_assert_uint_eq(ice_gather_n_cands(g), 0);
	ck_assert(ice_gather_done(g));
	ck_assert_int_eq(ice_gather_record(g, 0)->result, ICE_SR_FAMILY);
	ck_assert_int_eq(ice_gather_record(g, 0)->family, AF_INET6);
	ck_assert_ptr_null(ice_gather_record(g, 1));
	ck_assert_ptr_null(ice_gather_cand(g, 0));
	ice_gather_free(g);
	ice_gather_free(NULL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ice_gather");
	TCase *tc = tcase_create("gather");
	tcase_add_test(tc, test_stun_srflx);
	tcase_add_test(tc, test_stun_schedule);
	tcase_add_test(tc, test_dedup);
	tcase_add_test(tc, test_turn_relay);
	tcase_add_test(tc, test_both_families);
	tcase_add_test(tc, test_turn_tcp);
	tcase_add_test(tc, test_release_bounded);
	tcase_add_loop_test(tc, test_reason_table, 0,
			    (int)(sizeof reason_cases / sizeof reason_cases[0]));
	tcase_add_test(tc, test_diag_order);
	tcase_add_test(tc, test_diag_other_family);
	tcase_add_test(tc, test_diag_no_nat);
	tcase_add_test(tc, test_config);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
