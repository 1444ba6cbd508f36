/* test_turn_client.c - the I/O-free TURN client (lib/turn/client.c,
 * data.c, names.c) against scripted server answers built with the STUN
 * codec, on a fake clock: turn_client_allocate (401 then the signed
 * retry, 438 retries and the nonce loop, families, every error code),
 * turn_client_poll and turn_client_deadline (the exact RFC 8489
 * retransmission times over UDP and the caps; the TCP timeout; refresh
 * times), turn_client_release, turn_client_permit, turn_client_bind,
 * turn_client_send (ChannelData or Send indication), turn_client_input
 * (data in, drops, stream framing split at every offset), and
 * turn_client_closed / turn_client_icmp. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/turn.h>

#define USER "alice"
#define PASS "s3cret-pw"
#define REALM "example.org"

/* ---- the fixture: a client, its last request, a fake clock ---- */

struct fx {
	struct turn_client c;
	uint8_t out[2048];   /* the client's last message to the server */
	size_t out_len;
	struct stun_msg req; /* ... decoded */
	uint8_t ans[2048];   /* the scripted answer */
	size_t ans_len;
	struct stun_key key; /* what the server derives */
	unsigned rnd;
	struct turn_input in;
};

static void fake_random(void *arg, void *buf, size_t n)
{
	struct fx *f = arg;
	uint8_t *b = buf;
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(++f->rnd * 37u);
}

static struct fx *fx_new(uint8_t transport, uint8_t families, uint32_t cap_ms, uint8_t rc)
{
	struct fx *f = calloc(1, sizeof *f);
	ck_assert_ptr_nonnull(f);
	struct turn_client_config cfg = {
		.transport = transport,
		.families = families,
		.user = pbx_span_cstr(USER),
		.password = pbx_span_cstr(PASS),
		.tx_cap_ms = cap_ms,
		.max_sends = rc,
		.random = fake_random,
		.random_arg = f,
	};
	ck_assert_int_eq(turn_client_init(&f->c, &cfg), 0);
	ck_assert_int_eq(stun_integrity_key_long(&f->key, STUN_PWALG_MD5, pbx_span_cstr(USER),
						 pbx_span_cstr(REALM), pbx_span_cstr(PASS)),
			 0);
	return f;
}

static void fx_free(struct fx *f)
{
	turn_client_cleanup(&f->c);
	free(f);
}

/* The next message the client sends at now, decoded into f->req; false
 * if none is due. */
static bool next(struct fx *f, int64_t now)
{
	ck_assert_int_eq(turn_client_poll(&f->c, now, f->out, sizeof f->out, &f->out_len), 0);
	if (f->out_len == 0)
		return false;
	/* The password itself never leaves the client. */
	ck_assert_ptr_null(memmem(f->out, f->out_len, PASS, strlen(PASS)));
	ck_assert_int_eq(stun_msg_decode(&f->req, f->out, f->out_len), 0);
	ck_assert_int_eq(f->req.cls, STUN_REQUEST);
	ck_assert_int_ge(f->req.fingerprint, 0);
	return true;
}

static void expect(struct fx *f, int64_t now, uint16_t method)
{
	ck_assert_msg(next(f, now), "nothing sent at %lld", (long long)now);
	ck_assert_uint_eq(f->req.method, method);
}

static void nothing(struct fx *f, int64_t now)
{
	ck_assert_msg(!next(f, now), "sent method %u at %lld", f->req.method, (long long)now);
}

static bool has(const struct stun_msg *m, uint16_t type, size_t *i)
{
	size_t k;
	return stun_msg_find(m, type, 0, i ? i : &k) == 0;
}

static void text_is(const struct stun_msg *m, uint16_t type, const char *want)
{
	size_t i;
	struct pbx_span v;
	ck_assert_msg(has(m, type, &i), "no attribute %04x", type);
	ck_assert_int_eq(stun_attr_text(m, i, &v), 0);
	ck_assert_uint_eq(v.len, strlen(want));
	ck_assert(memcmp(v.p, want, v.len) == 0);
}

/* The request is signed with the long-term key and carries the realm
 * and nonce given. */
static void signed_with(struct fx *f, const char *nonce)
{
	enum stun_integrity res;
	text_is(&f->req, STUN_A_USERNAME, USER);
	text_is(&f->req, STUN_A_REALM, REALM);
	text_is(&f->req, STUN_A_NONCE, nonce);
	ck_assert_int_eq(stun_integrity_check(&f->req, &f->key, STUN_SHA256_FULL, &res), 0);
	ck_assert_int_eq(res, STUN_INTEGRITY_OK_SHA1);
}

static void begin(struct fx *f, struct stun_enc *e, enum stun_class cls)
{
	ck_assert_int_eq(stun_msg_init_reply(e, f->ans, sizeof f->ans, &f->req, cls), 0);
}

static void end(struct fx *f, struct stun_enc *e, bool sign)
{
	if (sign)
		stun_integrity_put(e, &f->key);
	ck_assert_int_eq(stun_msg_finish(e, &f->ans_len), 0);
}

static int feed(struct fx *f, const void *p, size_t len, int64_t now)
{
	int rc = turn_client_input(&f->c, p, len, now, &f->in);
	if (f->c.cfg.transport == TURN_UDP)
		ck_assert_uint_eq(f->in.used, len);
	return rc;
}

static void answer(struct fx *f, int64_t now)
{
	ck_assert_int_eq(feed(f, f->ans, f->ans_len, now), 0);
}

static void challenge(struct fx *f, int code, const char *nonce, int64_t now)
{
	struct stun_enc e;
	begin(f, &e, STUN_ERROR);
	stun_attr_put_error(&e, code, NULL);
	stun_attr_put_text(&e, STUN_A_REALM, REALM, strlen(REALM));
	stun_attr_put_text(&e, STUN_A_NONCE, nonce, strlen(nonce));
	end(f, &e, false);
	answer(f, now);
}

static void error_answer(struct fx *f, int code, const char *phrase, bool sign, int64_t now)
{
	struct stun_enc e;
	begin(f, &e, STUN_ERROR);
	struct pbx_span ph = pbx_span_cstr(phrase ? phrase : "");
	stun_attr_put_error(&e, code, phrase ? &ph : NULL);
	end(f, &e, sign);
	answer(f, now);
}

static struct pbx_addr addr(const char *text)
{
	struct pbx_addr a;
	ck_assert_int_eq(pbx_addr_parse(pbx_span_cstr(text), 3478, 0, &a, NULL), 0);
	return a;
}

static void alloc_success(struct fx *f, uint32_t lifetime, int64_t now)
{
	struct stun_enc e;
	struct pbx_addr relayed = addr("192.0.2.1:50000"), mapped = addr("198.51.100.7:40000");
	begin(f, &e, STUN_SUCCESS);
	stun_attr_put_addr(&e, STUN_A_XOR_RELAYED_ADDRESS, &relayed);
	stun_attr_put_u32(&e, STUN_A_LIFETIME, lifetime);
	stun_attr_put_addr(&e, STUN_A_XOR_MAPPED_ADDRESS, &mapped);
	end(f, &e, true);
	answer(f, now);
}

static void ok_answer(struct fx *f, int64_t now)
{
	struct stun_enc e;
	begin(f, &e, STUN_SUCCESS);
	end(f, &e, true);
	answer(f, now);
}

static struct turn_event event(struct fx *f)
{
	struct turn_event ev;
	ck_assert_msg(turn_client_event(&f->c, &ev), "no event");
	return ev;
}

static void drain(struct fx *f)
{
	struct turn_event ev;
	while (turn_client_event(&f->c, &ev))
		;
}

static void no_event(struct fx *f)
{
	struct turn_event ev;
	ck_assert_msg(!turn_client_event(&f->c, &ev), "unexpected event %u", ev.type);
}

/* Allocate at time 0 through the 401 challenge; allocated at now. */
static struct fx *allocated_at(uint8_t transport, int64_t now)
{
	struct fx *f = fx_new(transport, 0, 0, 0);
	ck_assert_int_eq(turn_client_allocate(&f->c, 0), 0);
	expect(f, 0, STUN_ALLOCATE);
	challenge(f, 401, "nonce-1", 0);
	expect(f, 0, STUN_ALLOCATE);
	alloc_success(f, 600, now);
	ck_assert_int_eq(event(f).type, TURN_EV_ALLOCATED);
	ck_assert_int_eq(turn_client_state(&f->c), TURN_S_ALLOCATED);
	return f;
}

/* ---- Allocate and authentication ---- */

START_TEST(test_turn_client_allocate_401)
{
	struct fx *f = fx_new(TURN_UDP, 0, 0, 0);
	ck_assert_int_eq(turn_client_state(&f->c), TURN_S_IDLE);
	ck_assert_int_eq(turn_client_deadline(&f->c), -1);
	ck_assert_int_eq(turn_client_allocate(&f->c, 0), 0);
	ck_assert_int_eq(turn_client_allocate(&f->c, 0), PBX_E_INVALID);
	ck_assert_int_eq(turn_client_deadline(&f->c), 0);
	expect(f, 0, STUN_ALLOCATE);
	/* Unauthenticated first: REQUESTED-TRANSPORT UDP, IPv4 by default. */
	size_t i;
	uint8_t proto;
	ck_assert(has(&f->req, STUN_A_REQUESTED_TRANSPORT, &i));
	ck_assert_int_eq(stun_attr_transport(&f->req, i, &proto), 0);
	ck_assert_uint_eq(proto, STUN_TRANSPORT_UDP);
	ck_assert(!has(&f->req, STUN_A_USERNAME, NULL));
	ck_assert(!has(&f->req, STUN_A_MESSAGE_INTEGRITY, NULL));
	ck_assert(!has(&f->req, STUN_A_REQUESTED_ADDRESS_FAMILY, NULL));
	ck_assert(!has(&f->req, STUN_A_ADDITIONAL_ADDRESS_FAMILY, NULL));
	uint8_t tid1[STUN_TID_LEN];
	memcpy(tid1, f->req.tid, sizeof tid1);
	challenge(f, 401, "nonce-1", 20);
	/* The signed retry at once, a new transaction. */
	expect(f, 20, STUN_ALLOCATE);
	ck_assert(memcmp(tid1, f->req.tid, sizeof tid1) != 0);
	signed_with(f, "nonce-1");
	ck_assert(has(&f->req, STUN_A_REQUESTED_TRANSPORT, NULL));
	nothing(f, 20);
	/* A success that is not signed, or signed with another key, is
	 * dropped as if never received. */
	struct stun_enc e;
	struct pbx_addr relayed = addr("192.0.2.1:50000");
	begin(f, &e, STUN_SUCCESS);
	stun_attr_put_addr(&e, STUN_A_XOR_RELAYED_ADDRESS, &relayed);
	stun_attr_put_u32(&e, STUN_A_LIFETIME, 600);
	end(f, &e, false);
	answer(f, 30);
	ck_assert_int_eq(f->in.drop, TURN_DROP_INTEGRITY);
	struct stun_key wrong;
	stun_integrity_key_long(&wrong, STUN_PWALG_MD5, pbx_span_cstr(USER), pbx_span_cstr(REALM),
				pbx_span_cstr("guess"));
	begin(f, &e, STUN_SUCCESS);
	stun_attr_put_addr(&e, STUN_A_XOR_RELAYED_ADDRESS, &relayed);
	stun_integrity_put(&e, &wrong);
	ck_assert_int_eq(stun_msg_finish(&e, &f->ans_len), 0);
	answer(f, 30);
	ck_assert_int_eq(f->in.drop, TURN_DROP_INTEGRITY);
	ck_assert_int_eq(turn_client_state(&f->c), TURN_S_ALLOCATING);
	no_event(f);
	alloc_success(f, 600, 40);
	struct turn_event ev = event(f);
	ck_assert_int_eq(ev.type, TURN_EV_ALLOCATED);
	ck_assert_int_eq(ev.result.reason, TURN_R_OK);
	ck_assert_int_eq(ev.result.started, 0);
	ck_assert_int_eq(ev.result.settled, 40);
	struct turn_allocation a;
	struct turn_result r;
	turn_client_allocation(&f->c, &a, &r);
	ck_assert_uint_eq(a.n_relayed, 1);
	ck_assert(pbx_addr_equal(&a.relayed[0], &relayed));
	struct pbx_addr mapped = addr("198.51.100.7:40000");
	ck_assert(pbx_addr_equal(&a.mapped, &mapped));
	ck_assert_uint_eq(a.lifetime, 600);
	ck_assert_int_eq(a.expires, 40 + 600000);
	ck_assert_int_eq(r.reason, TURN_R_OK);
	/* A late copy of an answer matches nothing. */
	answer(f, 50);
	ck_assert_int_eq(f->in.drop, TURN_DROP_UNMATCHED);
	ck_assert_uint_eq(turn_client_stats(&f->c)->dropped[TURN_DROP_UNMATCHED], 1);
	ck_assert_uint_eq(turn_client_stats(&f->c)->sent[0], 2);
	fx_free(f);
}
END_TEST

START_TEST(test_turn_client_allocate_auth_failures)
{
	/* 401 after credentials: auth. */
	struct fx *f = fx_new(TURN_UDP, 0, 0, 0);
	turn_client_allocate(&f->c, 0);
	expect(f, 0, STUN_ALLOCATE);
	challenge(f, 401, "nonce-1", 0);
	expect(f, 0, STUN_ALLOCATE);
	challenge(f, 401, "nonce-2", 10);
	struct turn_event ev = event(f);
	ck_assert_int_eq(ev.type, TURN_EV_FAILED);
	ck_assert_int_eq(ev.result.reason, TURN_R_AUTH);
	ck_assert_int_eq(ev.result.code, 401);
	ck_assert_str_eq(ev.result.phrase, "Unauthenticated");
	ck_assert_str_eq(turn_reason_name(ev.result.reason), "auth");
	ck_assert_int_eq(turn_client_state(&f->c), TURN_S_FAILED);
	nothing(f, 100000);
	ck_assert_int_eq(turn_client_deadline(&f->c), -1);
	fx_free(f);

	/* A 401 without realm and nonce: auth, nothing retried. */
	f = fx_new(TURN_UDP, 0, 0, 0);
	turn_client_allocate(&f->c, 0);
	expect(f, 0, STUN_ALLOCATE);
	error_answer(f, 401, NULL, false, 5);
	ev = event(f);
	ck_assert_int_eq(ev.result.reason, TURN_R_AUTH);
	nothing(f, 5);
	fx_free(f);
}
END_TEST

/* RFC 8489 9.2.4: a nonce with the password-algorithms feature and a
 * PASSWORD-ALGORITHMS list: the list echoed, MD5 named. */
START_TEST(test_turn_client_password_algorithms)
{
	for (int with_md5 = 1; with_md5 >= 0; with_md5--) {
		struct fx *f = fx_new(TURN_UDP, 0, 0, 0);
		char nonce[64];
		stun_integrity_nonce_cookie(STUN_FEATURE_PASSWORD_ALGORITHMS, nonce);
		strcat(nonce, "abcdef");
		turn_client_allocate(&f->c, 0);
		expect(f, 0, STUN_ALLOCATE);
		struct stun_enc e;
		struct stun_pwalg algs[2] = { { STUN_PWALG_SHA256, { NULL, 0 } },
					      { STUN_PWALG_MD5, { NULL, 0 } } };
		begin(f, &e, STUN_ERROR);
		stun_attr_put_error(&e, 401, NULL);
		stun_attr_put_text(&e, STUN_A_REALM, REALM, strlen(REALM));
		stun_attr_put_text(&e, STUN_A_NONCE, nonce, strlen(nonce));
		stun_attr_put_password_algorithms(&e, algs, with_md5 ? 2 : 1);
		end(f, &e, false);
		struct stun_msg chal;
		ck_assert_int_eq(stun_msg_decode(&chal, f->ans, f->ans_len), 0);
		size_t ci, ri;
		ck_assert(has(&chal, STUN_A_PASSWORD_ALGORITHMS, &ci));
		answer(f, 1);
		if (!with_md5) {
			ck_assert_int_eq(event(f).result.reason, TURN_R_AUTH);
			nothing(f, 1);
			fx_free(f);
			continue;
		}
		expect(f, 1, STUN_ALLOCATE);
		signed_with(f, nonce);
		struct pbx_span a, b;
		ck_assert(has(&f->req, STUN_A_PASSWORD_ALGORITHMS, &ri));
		stun_attr_raw(&chal, ci, &a);
		stun_attr_raw(&f->req, ri, &b);
		ck_assert_uint_eq(a.len, b.len);
		ck_assert_mem_eq(a.p, b.p, a.len);
		struct stun_pwalg used;
		ck_assert(has(&f->req, STUN_A_PASSWORD_ALGORITHM, &ri));
		ck_assert_int_eq(stun_attr_password_algorithm(&f->req, ri, &used), 0);
		ck_assert_uint_eq(used.alg, STUN_PWALG_MD5);
		fx_free(f);
	}
}
END_TEST

START_TEST(test_turn_client_stale_nonce)
{
	struct fx *f = fx_new(TURN_UDP, 0, 0, 0);
	turn_client_allocate(&f->c, 0);
	expect(f, 0, STUN_ALLOCATE);
	challenge(f, 401, "nonce-1", 0);
	expect(f, 0, STUN_ALLOCATE);
	signed_with(f, "nonce-1");
	challenge(f, 438, "nonce-2", 10);
	expect(f, 10, STUN_ALLOCATE);
	signed_with(f, "nonce-2");
	alloc_success(f, 600, 20);
	struct turn_event ev = event(f);
	ck_assert_int_eq(ev.result.reason, TURN_R_OK);
	ck_assert_uint_eq(ev.result.stale, 1);
	fx_free(f);

	/* A server that answers 438 every time: TURN_STALE_MAX retries, then
	 * a nonce loop. */
	f = fx_new(TURN_UDP, 0, 0, 0);
	turn_client_allocate(&f->c, 0);
	expect(f, 0, STUN_ALLOCATE);
	challenge(f, 401, "nonce-1", 0);
	char nonce[32];
	for (int k = 0; k <= TURN_STALE_MAX; k++) {
		expect(f, 10 * k, STUN_ALLOCATE);
		snprintf(nonce, sizeof nonce, "nonce-%d", k + 1);
		signed_with(f, nonce);
		snprintf(nonce, sizeof nonce, "nonce-%d", k + 2);
		challenge(f, 438, nonce, 10 * k + 5);
	}
	nothing(f, 1000);
	ev = event(f);
	ck_assert_int_eq(ev.type, TURN_EV_FAILED);
	ck_assert_int_eq(ev.result.reason, TURN_R_NONCE_LOOP);
	ck_assert_int_eq(ev.result.code, 438);
	ck_assert_uint_eq(ev.result.stale, TURN_STALE_MAX + 1);
	ck_assert_str_eq(turn_reason_name(ev.result.reason), "nonce-loop");
	fx_free(f);
}
END_TEST

START_TEST(test_turn_client_families)
{
	struct fx *f = fx_new(TURN_UDP, TURN_AF_IPV6, 0, 0);
	size_t i;
	uint8_t fam;
	turn_client_allocate(&f->c, 0);
	expect(f, 0, STUN_ALLOCATE);
	ck_assert(has(&f->req, STUN_A_REQUESTED_ADDRESS_FAMILY, &i));
	ck_assert_int_eq(stun_attr_family(&f->req, i, &fam), 0);
	ck_assert_uint_eq(fam, STUN_FAMILY_IPV6);
	ck_assert(!has(&f->req, STUN_A_ADDITIONAL_ADDRESS_FAMILY, NULL));
	fx_free(f);

	f = fx_new(TURN_UDP, TURN_AF_IPV4 | TURN_AF_IPV6, 0, 0);
	turn_client_allocate(&f->c, 0);
	expect(f, 0, STUN_ALLOCATE);
	ck_assert(!has(&f->req, STUN_A_REQUESTED_ADDRESS_FAMILY, NULL));
	ck_assert(has(&f->req, STUN_A_ADDITIONAL_ADDRESS_FAMILY, &i));
	ck_assert_int_eq(stun_attr_family(&f->req, i, &fam), 0);
	ck_assert_uint_eq(fam, STUN_FAMILY_IPV6);
	challenge(f, 401, "n", 0);
	expect(f, 0, STUN_ALLOCATE);
	ck_assert(has(&f->req, STUN_A_ADDITIONAL_ADDRESS_FAMILY, NULL));
	/* Both granted; then the same with IPv6 refused by ADDRESS-ERROR-CODE. */
	struct stun_enc e;
	struct pbx_addr r4 = addr("192.0.2.1:50000"), r6 = addr("[2001:db8::1]:50002");
	begin(f, &e, STUN_SUCCESS);
	stun_attr_put_addr(&e, STUN_A_XOR_RELAYED_ADDRESS, &r4);
	stun_attr_put_addr(&e, STUN_A_XOR_RELAYED_ADDRESS, &r6);
	stun_attr_put_u32(&e, STUN_A_LIFETIME, 600);
	end(f, &e, true);
	answer(f, 1);
	struct turn_allocation a;
	turn_client_allocation(&f->c, &a, NULL);
	ck_assert_uint_eq(a.n_relayed, 2);
	ck_assert(pbx_addr_equal(&a.relayed[1], &r6));
	ck_assert_uint_eq(a.family_error, 0);
	fx_free(f);

	f = fx_new(TURN_UDP, TURN_AF_IPV4 | TURN_AF_IPV6, 0, 0);
	turn_client_allocate(&f->c, 0);
	expect(f, 0, STUN_ALLOCATE);
	challenge(f, 401, "n", 0);
	expect(f, 0, STUN_ALLOCATE);
	begin(f, &e, STUN_SUCCESS);
	stun_attr_put_addr(&e, STUN_A_XOR_RELAYED_ADDRESS, &r4);
	stun_attr_put_address_error(&e, STUN_FAMILY_IPV6, 440, NULL);
	stun_attr_put_u32(&e, STUN_A_LIFETIME, 600);
	end(f, &e, true);
	answer(f, 1);
	turn_client_allocation(&f->c, &a, NULL);
	ck_assert_uint_eq(a.n_relayed, 1);
	ck_assert_uint_eq(a.family_error, STUN_FAMILY_IPV6);
	ck_assert_int_eq(a.family_code, 440);
	ck_assert_int_eq(turn_client_state(&f->c), TURN_S_ALLOCATED);
	fx_free(f);
}
END_TEST

/* Each error code of an authenticated Allocate is recorded with its
 * reason, code and phrase. */
START_TEST(test_turn_client_error_codes)
{
	static const struct {
		int code;
		enum turn_reason reason;
		const char *name;
	} cases[] = {
		{ 486, TURN_R_QUOTA, "quota" },
		{ 508, TURN_R_CAPACITY, "capacity" },
		{ 440, TURN_R_FAMILY, "address-family" },
		{ 442, TURN_R_TRANSPORT, "transport" },
		{ 437, TURN_R_MISMATCH, "allocation-mismatch" },
		{ 403, TURN_R_FORBIDDEN, "forbidden" },
		{ 441, TURN_R_WRONG_CREDS, "wrong-credentials" },
		{ 420, TURN_R_UNKNOWN_ATTR, "unknown-attribute" },
		{ 500, TURN_R_ERROR, "error" },
		{ 300, TURN_R_ALTERNATE, "try-alternate" },
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		struct fx *f = fx_new(TURN_UDP, 0, 0, 0);
		turn_client_allocate(&f->c, 0);
		expect(f, 0, STUN_ALLOCATE);
		challenge(f, 401, "n", 0);
		expect(f, 0, STUN_ALLOCATE);
		struct stun_enc e;
		struct pbx_span ph = pbx_span_cstr("Phrase\x01 here");
		struct pbx_addr alt = addr("203.0.113.9:3478");
		begin(f, &e, STUN_ERROR);
		stun_attr_put_error(&e, cases[k].code, &ph);
		if (cases[k].code == 300)
			stun_attr_put_addr(&e, STUN_A_ALTERNATE_SERVER, &alt);
		end(f, &e, k % 2 == 0); /* signed or not: both taken */
		answer(f, 7);
		struct turn_event ev = event(f);
		ck_assert_int_eq(ev.type, TURN_EV_FAILED);
		ck_assert_int_eq(ev.result.reason, cases[k].reason);
		ck_assert_int_eq(ev.result.code, cases[k].code);
		ck_assert_str_eq(ev.result.phrase, "Phrase\\x01 here");
		ck_assert_str_eq(turn_reason_name(ev.result.reason), cases[k].name);
		ck_assert_int_eq(turn_reason_of_code(cases[k].code), cases[k].reason);
		if (cases[k].code == 300)
			ck_assert(pbx_addr_equal(&ev.result.alternate, &alt));
		struct turn_result r;
		turn_client_allocation(&f->c, NULL, &r);
		ck_assert_int_eq(r.code, cases[k].code);
		ck_assert_int_eq(turn_client_state(&f->c), TURN_S_FAILED);
		fx_free(f);
	}
	/* A signed error that does not check is dropped. */
	struct fx *f = fx_new(TURN_UDP, 0, 0, 0);
	turn_client_allocate(&f->c, 0);
	expect(f, 0, STUN_ALLOCATE);
	challenge(f, 401, "n", 0);
	expect(f, 0, STUN_ALLOCATE);
	struct stun_enc e;
	struct stun_key wrong = f->key;
	wrong.k[0] ^= 1;
	begin(f, &e, STUN_ERROR);
	stun_attr_put_error(&e, 486, NULL);
	stun_integrity_put(&e, &wrong);
	stun_msg_finish(&e, &f->ans_len);
	answer(f, 1);
	ck_assert_int_eq(f->in.drop, TURN_DROP_INTEGRITY);
	ck_assert_int_eq(turn_client_state(&f->c), TURN_S_ALLOCATING);
	fx_free(f);
}
END_TEST

/* ---- timers ---- */

START_TEST(test_turn_client_retransmit_udp)
{
	static const int64_t at[] = { 0, 500, 1500, 3500, 7500, 15500, 31500 };
	struct fx *f = fx_new(TURN_UDP, 0, 0, 0);
	turn_client_allocate(&f->c, 0);
	uint8_t tid[STUN_TID_LEN];
	for (size_t k = 0; k < 7; k++) {
		if (k > 0) {
			ck_assert_int_eq(turn_client_deadline(&f->c), at[k]);
			nothing(f, at[k] - 1);
		}
		expect(f, at[k], STUN_ALLOCATE);
		if (k == 0)
			memcpy(tid, f->req.tid, sizeof tid);
		/* Retransmissions are the same request. */
		ck_assert(memcmp(tid, f->req.tid, sizeof tid) == 0);
		nothing(f, at[k]);
	}
	ck_assert_int_eq(turn_client_deadline(&f->c), 39500);
	nothing(f, 39499);
	no_event(f);
	nothing(f, 39500);
	struct turn_event ev = event(f);
	ck_assert_int_eq(ev.type, TURN_EV_FAILED);
	ck_assert_int_eq(ev.result.reason, TURN_R_TIMEOUT);
	ck_assert_uint_eq(ev.result.sends, 7);
	ck_assert_int_eq(ev.result.settled, 39500);
	ck_assert_int_eq(turn_client_deadline(&f->c), -1);
	fx_free(f);
}
END_TEST

START_TEST(test_turn_client_retransmit_caps)
{
	/* A time cap: sends at 0, 500, 1500, timeout at 2000. */
	struct fx *f = fx_new(TURN_UDP, 0, 2000, 0);
	turn_client_allocate(&f->c, 0);
	expect(f, 0, STUN_ALLOCATE);
	expect(f, 500, STUN_ALLOCATE);
	expect(f, 1500, STUN_ALLOCATE);
	ck_assert_int_eq(turn_client_deadline(&f->c), 2000);
	nothing(f, 1999);
	nothing(f, 2000);
	struct turn_event ev = event(f);
	ck_assert_int_eq(ev.result.reason, TURN_R_TIMEOUT);
	ck_assert_uint_eq(ev.result.sends, 3);
	ck_assert_int_eq(ev.result.settled, 2000);
	fx_free(f);

	/* A cap on sends: three, then Rm * RTO after the last. */
	f = fx_new(TURN_UDP, 0, 0, 3);
	turn_client_allocate(&f->c, 0);
	expect(f, 0, STUN_ALLOCATE);
	expect(f, 500, STUN_ALLOCATE);
	expect(f, 1500, STUN_ALLOCATE);
	ck_assert_int_eq(turn_client_deadline(&f->c), 1500 + 16 * 500);
	nothing(f, 9499);
	nothing(f, 9500);
	ev = event(f);
	ck_assert_int_eq(ev.result.reason, TURN_R_TIMEOUT);
	ck_assert_uint_eq(ev.result.sends, 3);
	fx_free(f);

	/* TCP: one send, 39.5 s; capped by the caller. */
	f = fx_new(TURN_TCP, 0, 0, 0);
	turn_client_allocate(&f->c, 0);
	expect(f, 0, STUN_ALLOCATE);
	ck_assert_int_eq(turn_client_deadline(&f->c), TURN_TI_MS);
	nothing(f, 39499);
	no_event(f);
	nothing(f, 39500);
	ev = event(f);
	ck_assert_int_eq(ev.result.reason, TURN_R_TIMEOUT);
	ck_assert_uint_eq(ev.result.sends, 1);
	fx_free(f);
	f = fx_new(TURN_TLS, 0, 3000, 0);
	turn_client_allocate(&f->c, 0);
	expect(f, 0, STUN_ALLOCATE);
	ck_assert_int_eq(turn_client_deadline(&f->c), 3000);
	nothing(f, 3000);
	ck_assert_int_eq(event(f).result.reason, TURN_R_TIMEOUT);
	fx_free(f);
}
END_TEST

START_TEST(test_turn_client_refresh)
{
	struct fx *f = allocated_at(TURN_UDP, 1000);
	/* Lifetime 600 s: refreshed a minute before its end. */
	int64_t due = 1000 + 540000;
	ck_assert_int_eq(turn_client_deadline(&f->c), due);
	nothing(f, due - 1);
	expect(f, due, STUN_REFRESH);
	signed_with(f, "nonce-1");
	ck_assert(!has(&f->req, STUN_A_LIFETIME, NULL));
	/* Granted 100 s this time: half of it to the next refresh. */
	struct stun_enc e;
	begin(f, &e, STUN_SUCCESS);
	stun_attr_put_u32(&e, STUN_A_LIFETIME, 100);
	end(f, &e, true);
	answer(f, due + 10);
	ck_assert_int_eq(event(f).type, TURN_EV_REFRESHED);
	ck_assert_int_eq(turn_client_deadline(&f->c), due + 10 + 50000);
	expect(f, due + 10 + 50000, STUN_REFRESH);
	/* A stale nonce is retried on a Refresh too. */
	challenge(f, 438, "nonce-2", due + 50020);
	expect(f, due + 50020, STUN_REFRESH);
	signed_with(f, "nonce-2");
	/* 437: the allocation is gone. */
	error_answer(f, 437, NULL, true, due + 50030);
	struct turn_event ev = event(f);
	ck_assert_int_eq(ev.type, TURN_EV_FAILED);
	ck_assert_int_eq(ev.result.reason, TURN_R_MISMATCH);
	ck_assert_uint_eq(ev.result.method, STUN_REFRESH);
	struct turn_result r;
	turn_client_refresh_result(&f->c, &r);
	ck_assert_int_eq(r.code, 437);
	ck_assert_int_eq(turn_client_state(&f->c), TURN_S_FAILED);
	fx_free(f);

	/* Refreshes that time out are retried until the allocation ends. */
	f = allocated_at(TURN_UDP, 0);
	expect(f, 540000, STUN_REFRESH);
	int64_t t;
	while ((t = turn_client_deadline(&f->c)) < 540000 + 31500)
		expect(f, t, STUN_REFRESH);
	expect(f, 540000 + 31500, STUN_REFRESH);
	t = turn_client_deadline(&f->c);
	ck_assert_int_eq(t, 540000 + 39500);
	/* The timeout, and a new Refresh at once. */
	expect(f, t, STUN_REFRESH);
	ck_assert_int_eq(turn_client_deadline(&f->c), t + 500);
	no_event(f);
	nothing(f, 600000);
	ck_assert_int_eq(turn_client_state(&f->c), TURN_S_FAILED);
	ck_assert_int_eq(event(f).result.reason, TURN_R_TIMEOUT);
	fx_free(f);
}
END_TEST

START_TEST(test_turn_client_release)
{
	struct fx *f = allocated_at(TURN_UDP, 0);
	ck_assert_int_eq(turn_client_release(&f->c, 100), 0);
	ck_assert_int_eq(turn_client_release(&f->c, 100), PBX_E_INVALID);
	ck_assert_int_eq(turn_client_state(&f->c), TURN_S_RELEASING);
	expect(f, 100, STUN_REFRESH);
	signed_with(f, "nonce-1");
	size_t i;
	uint32_t life = 1;
	ck_assert(has(&f->req, STUN_A_LIFETIME, &i));
	ck_assert_int_eq(stun_attr_u32(&f->req, i, &life), 0);
	ck_assert_uint_eq(life, 0);
	ok_answer(f, 150);
	struct turn_event ev = event(f);
	ck_assert_int_eq(ev.type, TURN_EV_RELEASED);
	ck_assert_int_eq(ev.result.reason, TURN_R_OK);
	ck_assert_int_eq(turn_client_state(&f->c), TURN_S_RELEASED);
	ck_assert_int_eq(turn_client_deadline(&f->c), -1);
	ck_assert_int_eq(turn_client_permit(&f->c, &(struct pbx_addr){ 0 }, 0), PBX_E_INVALID);
	fx_free(f);

	/* What the allocation held goes with it. */
	f = allocated_at(TURN_UDP, 0);
	struct pbx_addr peer = addr("203.0.113.5:7000");
	turn_client_permit(&f->c, &peer, 0);
	turn_client_bind(&f->c, &peer, 0);
	expect(f, 0, STUN_CREATE_PERMISSION);
	ok_answer(f, 1);
	ck_assert_int_eq(turn_client_permission(&f->c, &peer, NULL), TURN_P_OK);
	ck_assert_int_eq(turn_client_channel(&f->c, &peer, NULL, NULL), TURN_P_PENDING);
	drain(f);
	turn_client_release(&f->c, 5);
	struct turn_result r;
	ck_assert_int_eq(turn_client_permission(&f->c, &peer, &r), TURN_P_FAILED);
	ck_assert_int_eq(r.reason, TURN_R_CANCELLED);
	ck_assert_int_eq(turn_client_channel(&f->c, &peer, NULL, &r), TURN_P_FAILED);
	ck_assert_int_eq(r.reason, TURN_R_CANCELLED);
	ev = event(f);
	ck_assert_int_eq(ev.type, TURN_EV_CHANNEL);
	ck_assert_int_eq(ev.result.reason, TURN_R_CANCELLED);
	expect(f, 5, STUN_REFRESH);
	nothing(f, 6);
	fx_free(f);

	/* 437 on release: gone already, which is fine. */
	f = allocated_at(TURN_UDP, 0);
	turn_client_release(&f->c, 100);
	expect(f, 100, STUN_REFRESH);
	error_answer(f, 437, NULL, true, 120);
	ev = event(f);
	ck_assert_int_eq(ev.type, TURN_EV_RELEASED);
	ck_assert_int_eq(ev.result.reason, TURN_R_OK);
	fx_free(f);

	/* No answer: given up at the cap, and said so. */
	f = fx_new(TURN_UDP, 0, 1000, 0);
	turn_client_allocate(&f->c, 0);
	expect(f, 0, STUN_ALLOCATE);
	challenge(f, 401, "n", 0);
	expect(f, 0, STUN_ALLOCATE);
	alloc_success(f, 600, 0);
	event(f);
	turn_client_release(&f->c, 10);
	expect(f, 10, STUN_REFRESH);
	expect(f, 510, STUN_REFRESH);
	nothing(f, 1010);
	ev = event(f);
	ck_assert_int_eq(ev.type, TURN_EV_RELEASED);
	ck_assert_int_eq(ev.result.reason, TURN_R_TIMEOUT);
	ck_assert_int_eq(turn_client_state(&f->c), TURN_S_RELEASED);
	fx_free(f);

	/* Nothing allocated: released at once, nothing sent. */
	f = fx_new(TURN_UDP, 0, 0, 0);
	ck_assert_int_eq(turn_client_release(&f->c, 0), 0);
	ck_assert_int_eq(event(f).type, TURN_EV_RELEASED);
	nothing(f, 0);
	fx_free(f);
}
END_TEST

/* ---- permissions and channels ---- */

static void peer_is(const struct stun_msg *m, const struct pbx_addr *want)
{
	size_t i;
	struct pbx_addr got;
	ck_assert(has(m, STUN_A_XOR_PEER_ADDRESS, &i));
	ck_assert_int_eq(stun_attr_addr(m, i, &got), 0);
	ck_assert(pbx_addr_equal(&got, want));
}

START_TEST(test_turn_client_permission)
{
	struct fx *f = fx_new(TURN_UDP, 0, 0, 0);
	struct pbx_addr p1 = addr("203.0.113.5:7000"), p1b = addr("203.0.113.5:9000"),
			p2 = addr("203.0.113.6:7000");
	/* Asked before the allocation: waits for it. */
	ck_assert_int_eq(turn_client_permit(&f->c, &p1, 0), 0);
	ck_assert_int_eq(turn_client_permission(&f->c, &p1b, NULL), TURN_P_WAITING);
	ck_assert_int_eq(turn_client_permission(&f->c, &p2, NULL), TURN_P_NONE);
	turn_client_allocate(&f->c, 0);
	expect(f, 0, STUN_ALLOCATE);
	nothing(f, 0);
	challenge(f, 401, "nonce-1", 0);
	expect(f, 0, STUN_ALLOCATE);
	alloc_success(f, 600, 100);
	event(f);
	expect(f, 100, STUN_CREATE_PERMISSION);
	signed_with(f, "nonce-1");
	peer_is(&f->req, &p1);
	ck_assert_int_eq(turn_client_permission(&f->c, &p1, NULL), TURN_P_PENDING);
	/* Another port of the same address shares the permission. */
	ck_assert_int_eq(turn_client_permit(&f->c, &p1b, 100), 0);
	ck_assert_int_eq(turn_client_permit(&f->c, &p2, 100), 0);
	ok_answer(f, 110);
	struct turn_event ev = event(f);
	ck_assert_int_eq(ev.type, TURN_EV_PERMISSION);
	ck_assert_int_eq(ev.result.reason, TURN_R_OK);
	ck_assert(pbx_addr_equal(&ev.result.peer, &p1));
	ck_assert_int_eq(turn_client_permission(&f->c, &p1b, NULL), TURN_P_OK);
	expect(f, 110, STUN_CREATE_PERMISSION);
	peer_is(&f->req, &p2);
	/* 403 for this one, with the peer in the result. */
	error_answer(f, 403, "Forbidden IP", true, 120);
	ev = event(f);
	ck_assert_int_eq(ev.type, TURN_EV_PERMISSION);
	ck_assert_int_eq(ev.result.reason, TURN_R_FORBIDDEN);
	ck_assert(pbx_addr_equal(&ev.result.peer, &p2));
	struct turn_result r;
	ck_assert_int_eq(turn_client_permission(&f->c, &p2, &r), TURN_P_FAILED);
	ck_assert_int_eq(r.code, 403);
	ck_assert_str_eq(r.phrase, "Forbidden IP");
	nothing(f, 120);
	/* Refreshed 60 s before the 300 s run out, without news. */
	ck_assert_int_eq(turn_client_deadline(&f->c), 110 + 240000);
	nothing(f, 110 + 239999);
	expect(f, 110 + 240000, STUN_CREATE_PERMISSION);
	peer_is(&f->req, &p1);
	ck_assert_int_eq(turn_client_permission(&f->c, &p1, NULL), TURN_P_OK);
	ok_answer(f, 110 + 240005);
	no_event(f);
	ck_assert_int_eq(turn_client_deadline(&f->c), 110 + 240005 + 240000);
	/* A refresh refused: the permission failed, and that is news. */
	expect(f, 110 + 240005 + 240000, STUN_CREATE_PERMISSION);
	error_answer(f, 508, NULL, true, 110 + 480010);
	ev = event(f);
	ck_assert_int_eq(ev.result.reason, TURN_R_CAPACITY);
	ck_assert_int_eq(turn_client_permission(&f->c, &p1, NULL), TURN_P_FAILED);
	/* Asked again after a failure: asked anew. */
	ck_assert_int_eq(turn_client_permit(&f->c, &p2, 490000), 0);
	expect(f, 490000, STUN_CREATE_PERMISSION);
	peer_is(&f->req, &p2);
	fx_free(f);
}
END_TEST

START_TEST(test_turn_client_channel)
{
	struct fx *f = allocated_at(TURN_UDP, 0);
	struct pbx_addr p1 = addr("203.0.113.5:7000"), p2 = addr("203.0.113.5:7002");
	uint8_t buf[256];
	size_t len;
	ck_assert_int_eq(turn_client_bind(&f->c, &p1, 0), 0);
	ck_assert_int_eq(turn_client_bind(&f->c, &p2, 0), 0);
	expect(f, 0, STUN_CHANNEL_BIND);
	signed_with(f, "nonce-1");
	peer_is(&f->req, &p1);
	size_t i;
	uint16_t ch;
	ck_assert(has(&f->req, STUN_A_CHANNEL_NUMBER, &i));
	ck_assert_int_eq(stun_attr_channel(&f->req, i, &ch), 0);
	ck_assert_uint_eq(ch, 0x4000);
	/* Not bound yet: a Send indication. */
	ck_assert_int_eq(turn_client_send(&f->c, &p1, "hello", 5, buf, sizeof buf, &len), 0);
	struct stun_msg m;
	ck_assert_int_eq(stun_msg_decode(&m, buf, len), 0);
	ck_assert_int_eq(m.cls, STUN_INDICATION);
	ck_assert_uint_eq(m.method, STUN_SEND);
	peer_is(&m, &p1);
	text_is(&m, STUN_A_DATA, "hello");
	ok_answer(f, 10);
	struct turn_event ev = event(f);
	ck_assert_int_eq(ev.type, TURN_EV_CHANNEL);
	ck_assert_uint_eq(ev.channel, 0x4000);
	ck_assert_int_eq(ev.result.reason, TURN_R_OK);
	/* The binding installed the permission too. */
	ev = event(f);
	ck_assert_int_eq(ev.type, TURN_EV_PERMISSION);
	ck_assert_int_eq(turn_client_permission(&f->c, &p1, NULL), TURN_P_OK);
	ck_assert_int_eq(turn_client_channel(&f->c, &p1, &ch, NULL), TURN_P_OK);
	ck_assert_uint_eq(ch, 0x4000);
	/* Bound: ChannelData, unpadded over UDP. */
	ck_assert_int_eq(turn_client_send(&f->c, &p1, "hello", 5, buf, sizeof buf, &len), 0);
	ck_assert_uint_eq(len, 9);
	ck_assert_mem_eq(buf, "\x40\x00\x00\x05hello", 9);
	/* The other peer (same address, other port) has its own channel. */
	expect(f, 10, STUN_CHANNEL_BIND);
	peer_is(&f->req, &p2);
	ck_assert(has(&f->req, STUN_A_CHANNEL_NUMBER, &i));
	stun_attr_channel(&f->req, i, &ch);
	ck_assert_uint_eq(ch, 0x4001);
	error_answer(f, 400, NULL, true, 20);
	ev = event(f);
	ck_assert_int_eq(ev.type, TURN_EV_CHANNEL);
	ck_assert_int_eq(ev.result.reason, TURN_R_ERROR);
	ck_assert_int_eq(turn_client_channel(&f->c, &p2, NULL, NULL), TURN_P_FAILED);
	ck_assert_int_eq(turn_client_send(&f->c, &p2, "x", 1, buf, sizeof buf, &len), 0);
	ck_assert_int_eq(buf[0], 0x00); /* a Send indication */

	/* Data in: ChannelData and Data indications; unknown channels are
	 * dropped. */
	ck_assert_int_eq(feed(f, "\x40\x00\x00\x03" "abc", 7, 30), 0);
	ck_assert(f->in.data);
	ck_assert(pbx_addr_equal(&f->in.peer, &p1));
	ck_assert_uint_eq(f->in.channel, 0x4000);
	ck_assert_uint_eq(f->in.len, 3);
	ck_assert_mem_eq(f->in.p, "abc", 3);
	ck_assert_int_eq(feed(f, "\x40\x01\x00\x01" "z", 5, 30), 0);
	ck_assert(!f->in.data);
	ck_assert_int_eq(f->in.drop, TURN_DROP_CHANNEL);
	struct stun_enc e;
	uint8_t tid[STUN_TID_LEN] = { 9 };
	stun_msg_init(&e, f->ans, sizeof f->ans, stun_hdr_type(STUN_DATA, STUN_INDICATION), tid,
		      STUN_KIND_RFC5389);
	stun_attr_put_addr(&e, STUN_A_XOR_PEER_ADDRESS, &p2);
	stun_attr_put_raw(&e, STUN_A_DATA, "from-p2", 7);
	stun_msg_finish(&e, &f->ans_len);
	answer(f, 30);
	ck_assert(f->in.data);
	ck_assert(pbx_addr_equal(&f->in.peer, &p2));
	ck_assert_uint_eq(f->in.channel, 0);
	ck_assert_mem_eq(f->in.p, "from-p2", 7);
	/* A Data indication with ICMP (RFC 8656 11.6). */
	struct stun_icmp icmp = { 3, 3, 0 };
	stun_msg_init(&e, f->ans, sizeof f->ans, stun_hdr_type(STUN_DATA, STUN_INDICATION), tid,
		      STUN_KIND_RFC5389);
	stun_attr_put_addr(&e, STUN_A_XOR_PEER_ADDRESS, &p2);
	stun_attr_put_icmp(&e, &icmp);
	stun_msg_finish(&e, &f->ans_len);
	answer(f, 30);
	ck_assert(f->in.icmp);
	ck_assert_uint_eq(f->in.icmp_v.type, 3);
	/* A Data indication without a peer is dropped. */
	stun_msg_init(&e, f->ans, sizeof f->ans, stun_hdr_type(STUN_DATA, STUN_INDICATION), tid,
		      STUN_KIND_RFC5389);
	stun_attr_put_raw(&e, STUN_A_DATA, "x", 1);
	stun_msg_finish(&e, &f->ans_len);
	answer(f, 30);
	ck_assert_int_eq(f->in.drop, TURN_DROP_INDICATION);
	ck_assert_uint_eq(turn_client_stats(&f->c)->data_in_channel, 1);
	ck_assert_uint_eq(turn_client_stats(&f->c)->data_in_data, 1);

	/* Channel refreshed before 600 s (at 540 s), permission before 300 s
	 * (at 240 s), each on its own. */
	ck_assert_int_eq(turn_client_deadline(&f->c), 10 + 240000);
	expect(f, 10 + 240000, STUN_CREATE_PERMISSION);
	peer_is(&f->req, &p1);
	ok_answer(f, 10 + 240000);
	ck_assert_int_eq(turn_client_deadline(&f->c), 10 + 480000);
	expect(f, 10 + 480000, STUN_CREATE_PERMISSION);
	ok_answer(f, 10 + 480000);
	expect(f, 540000, STUN_REFRESH);
	ok_answer(f, 540000);
	event(f); /* refreshed */
	ck_assert_int_eq(turn_client_deadline(&f->c), 10 + 540000);
	expect(f, 10 + 540000, STUN_CHANNEL_BIND);
	peer_is(&f->req, &p1);
	ck_assert_int_eq(turn_client_channel(&f->c, &p1, NULL, NULL), TURN_P_OK);
	ok_answer(f, 10 + 540000);
	no_event(f);
	fx_free(f);
}
END_TEST

START_TEST(test_turn_client_send_limits)
{
	struct fx *f = fx_new(TURN_UDP, 0, 0, 0);
	struct pbx_addr p = addr("203.0.113.5:7000");
	uint8_t buf[64];
	size_t len;
	/* Not allocated. */
	ck_assert_int_eq(turn_client_send(&f->c, &p, "x", 1, buf, sizeof buf, &len),
			 PBX_E_INVALID);
	fx_free(f);
	f = allocated_at(TURN_TCP, 0);
	ck_assert_int_eq(turn_client_send(&f->c, &p, "x", 70000, buf, sizeof buf, &len),
			 PBX_E_TOOLONG);
	ck_assert_int_eq(turn_client_send(&f->c, &p, buf, 60, buf, sizeof buf, &len),
			 PBX_E_NOSPACE);
	ck_assert_int_eq(turn_client_send(&f->c, &(struct pbx_addr){ 0 }, "x", 1, buf, sizeof buf,
					  &len),
			 PBX_E_INVALID);
	/* Over TCP ChannelData is padded. */
	turn_client_bind(&f->c, &p, 0);
	expect(f, 0, STUN_CHANNEL_BIND);
	ok_answer(f, 0);
	ck_assert_int_eq(turn_client_send(&f->c, &p, "hello", 5, buf, sizeof buf, &len), 0);
	ck_assert_uint_eq(len, 12);
	ck_assert_mem_eq(buf, "\x40\x00\x00\x05hello\0\0\0", 12);
	ck_assert_int_eq(turn_client_permit(&f->c, &(struct pbx_addr){ 0 }, 0), PBX_E_INVALID);
	fx_free(f);
}
END_TEST

/* ---- streams ---- */

START_TEST(test_turn_client_stream_split)
{
	struct fx *f = allocated_at(TURN_TCP, 0);
	struct pbx_addr p1 = addr("203.0.113.5:7000"), p2 = addr("[2001:db8::5]:7002");
	turn_client_bind(&f->c, &p1, 0);
	expect(f, 0, STUN_CHANNEL_BIND);
	ok_answer(f, 0);
	/* The stream: a Data indication, padded ChannelData, a Data
	 * indication, ChannelData of 8 bytes (no padding). */
	uint8_t stream[512];
	size_t n = 0, len;
	struct stun_enc e;
	uint8_t tid[STUN_TID_LEN] = { 1 };
	stun_msg_init(&e, stream, sizeof stream, stun_hdr_type(STUN_DATA, STUN_INDICATION), tid,
		      STUN_KIND_RFC5389);
	stun_attr_put_addr(&e, STUN_A_XOR_PEER_ADDRESS, &p2);
	stun_attr_put_raw(&e, STUN_A_DATA, "first", 5);
	stun_msg_finish(&e, &len);
	n += len;
	memcpy(stream + n, "\x40\x00\x00\x05" "secnd\0\0\0", 12);
	n += 12;
	stun_msg_init(&e, stream + n, sizeof stream - n,
		      stun_hdr_type(STUN_DATA, STUN_INDICATION), tid, STUN_KIND_RFC5389);
	stun_attr_put_addr(&e, STUN_A_XOR_PEER_ADDRESS, &p1);
	stun_attr_put_raw(&e, STUN_A_DATA, "third!", 6);
	stun_msg_finish(&e, &len);
	n += len;
	memcpy(stream + n, "\x40\x00\x00\x08" "fourth!!", 12);
	n += 12;
	static const char *const want[] = { "first", "secnd", "third!", "fourth!!" };
	for (size_t cut = 0; cut <= n; cut++) {
		size_t got = 0;
		const uint8_t *part[2] = { stream, stream + cut };
		size_t plen[2] = { cut, n - cut };
		for (int k = 0; k < 2; k++) {
			size_t off = 0;
			do {
				ck_assert_int_eq(feed(f, part[k] + off, plen[k] - off, 1), 0);
				ck_assert_int_eq(f->in.drop, TURN_DROP_NONE);
				off += f->in.used;
				if (f->in.data) {
					ck_assert_uint_lt(got, 4);
					ck_assert_uint_eq(f->in.len, strlen(want[got]));
					ck_assert_mem_eq(f->in.p, want[got], f->in.len);
					const struct pbx_addr *who = got == 0 ? &p2 : &p1;
					ck_assert(pbx_addr_equal(&f->in.peer, who));
					got++;
				}
			} while (off < plen[k]);
		}
		ck_assert_msg(got == 4, "cut at %zu: %zu frames", cut, got);
	}
	/* Byte by byte. */
	size_t got = 0;
	for (size_t k = 0; k < n; k++) {
		ck_assert_int_eq(feed(f, stream + k, 1, 2), 0);
		ck_assert_uint_eq(f->in.used, 1);
		got += f->in.data;
	}
	ck_assert_uint_eq(got, 4);
	fx_free(f);
}
END_TEST

START_TEST(test_turn_client_stream_limits)
{
	struct fx *f = allocated_at(TURN_TCP, 0);
	struct pbx_addr p1 = addr("203.0.113.5:7000");
	turn_client_bind(&f->c, &p1, 0);
	expect(f, 0, STUN_CHANNEL_BIND);
	ok_answer(f, 0);
	/* A frame over TURN_STREAM_MAX arriving in pieces is skipped whole;
	 * the next one is read. */
	size_t big = TURN_STREAM_MAX + 100;
	uint8_t *s = calloc(1, big + 4 + 16);
	s[0] = 0x40;
	s[2] = (uint8_t)(big >> 8);
	s[3] = (uint8_t)big;
	memcpy(s + 4 + big, "\x40\x00\x00\x02ok\0\0", 8);
	size_t total = 4 + big + 8, off = 0, drops = 0, data = 0;
	while (off < total) {
		size_t chunk = total - off < 1000 ? total - off : 1000;
		size_t used = 0;
		while (used < chunk) {
			ck_assert_int_eq(feed(f, s + off + used, chunk - used, 1), 0);
			used += f->in.used;
			drops += f->in.drop == TURN_DROP_TOO_LONG;
			if (f->in.data) {
				data++;
				ck_assert_mem_eq(f->in.p, "ok", 2);
			}
		}
		off += chunk;
	}
	ck_assert_uint_eq(drops, 1);
	ck_assert_uint_eq(data, 1);
	free(s);
	drain(f);
	/* Garbage: the framing is lost, the allocation with it. */
	ck_assert_int_eq(feed(f, "\xff\xff\xff\xff", 4, 5), PBX_E_MALFORMED);
	ck_assert_int_eq(turn_client_state(&f->c), TURN_S_FAILED);
	struct turn_event ev = event(f);
	ck_assert_int_eq(ev.type, TURN_EV_FAILED);
	ck_assert_int_eq(ev.result.reason, TURN_R_STREAM);
	ck_assert_int_eq(feed(f, "\x40\x00\x00\x00", 4, 6), PBX_E_MALFORMED);
	fx_free(f);
}
END_TEST

START_TEST(test_turn_client_closed_icmp)
{
	/* ICMP reported by the caller while allocating. */
	struct fx *f = fx_new(TURN_UDP, 0, 0, 0);
	turn_client_allocate(&f->c, 0);
	expect(f, 0, STUN_ALLOCATE);
	turn_client_icmp(&f->c, 3, 3, 40);
	struct turn_event ev = event(f);
	ck_assert_int_eq(ev.type, TURN_EV_FAILED);
	ck_assert_int_eq(ev.result.reason, TURN_R_ICMP);
	ck_assert_uint_eq(ev.result.icmp.type, 3);
	ck_assert_uint_eq(ev.result.icmp.code, 3);
	ck_assert_int_eq(ev.result.settled, 40);
	nothing(f, 500);
	fx_free(f);

	/* The stream closes under an allocation with a pending permission. */
	f = allocated_at(TURN_TCP, 0);
	struct pbx_addr p1 = addr("203.0.113.5:7000");
	turn_client_permit(&f->c, &p1, 0);
	expect(f, 0, STUN_CREATE_PERMISSION);
	turn_client_closed(&f->c, 50);
	ev = event(f);
	ck_assert_int_eq(ev.type, TURN_EV_PERMISSION);
	ck_assert_int_eq(ev.result.reason, TURN_R_CLOSED);
	ev = event(f);
	ck_assert_int_eq(ev.type, TURN_EV_FAILED);
	ck_assert_int_eq(ev.result.reason, TURN_R_CLOSED);
	ck_assert_int_eq(turn_client_state(&f->c), TURN_S_FAILED);
	ck_assert_int_eq(turn_client_deadline(&f->c), -1);
	fx_free(f);
}
END_TEST

START_TEST(test_turn_client_names_init)
{
	ck_assert_str_eq(turn_reason_name(TURN_R_TIMEOUT), "timeout");
	ck_assert_str_eq(turn_reason_name(TURN_R_COUNT), "unknown");
	for (int r = 0; r < TURN_R_COUNT; r++)
		ck_assert_str_ne(turn_reason_name((enum turn_reason)r), "unknown");
	ck_assert_str_eq(turn_state_name(TURN_S_RELEASED), "released");
	ck_assert_str_eq(turn_drop_name(TURN_DROP_TOO_LONG), "too-long");
	ck_assert_str_eq(turn_drop_name(TURN_DROP_COUNT), "unknown");
	struct turn_client *c = malloc(sizeof *c);
	struct turn_client_config cfg = { .user = pbx_span_cstr("u") };
	ck_assert_int_eq(turn_client_init(c, &cfg), 0);
	cfg.transport = 3;
	ck_assert_int_eq(turn_client_init(c, &cfg), PBX_E_INVALID);
	cfg.transport = TURN_UDP;
	cfg.families = 4;
	ck_assert_int_eq(turn_client_init(c, &cfg), PBX_E_INVALID);
	cfg.families = 0;
	cfg.user = pbx_span_cstr("");
	ck_assert_int_eq(turn_client_init(c, &cfg), PBX_E_INVALID);
	char long_user[TURN_TEXT_MAX + 1];
	memset(long_user, 'u', TURN_TEXT_MAX);
	long_user[TURN_TEXT_MAX] = '\0';
	cfg.user = pbx_span_cstr(long_user);
	ck_assert_int_eq(turn_client_init(c, &cfg), PBX_E_TOOLONG);
	/* The default random source works. */
	cfg.user = pbx_span_cstr("u");
	ck_assert_int_eq(turn_client_init(c, &cfg), 0);
	ck_assert_int_eq(turn_client_allocate(c, 0), 0);
	uint8_t buf[TURN_REQ_MAX];
	size_t len;
	ck_assert_int_eq(turn_client_poll(c, 0, buf, 10, &len), PBX_E_NOSPACE);
	ck_assert_int_eq(turn_client_poll(c, 0, buf, sizeof buf, &len), 0);
	ck_assert_uint_gt(len, 20);
	turn_client_cleanup(c);
	free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("turn_client");
	TCase *tc = tcase_create("turn_client");
	tcase_add_test(tc, test_turn_client_allocate_401);
	tcase_add_test(tc, test_turn_client_allocate_auth_failures);
	tcase_add_test(tc, test_turn_client_password_algorithms);
	tcase_add_test(tc, test_turn_client_stale_nonce);
	tcase_add_test(tc, test_turn_client_families);
	tcase_add_test(tc, test_turn_client_error_codes);
	tcase_add_test(tc, test_turn_client_retransmit_udp);
	tcase_add_test(tc, test_turn_client_retransmit_caps);
	tcase_add_test(tc, test_turn_client_refresh);
	tcase_add_test(tc, test_turn_client_release);
	tcase_add_test(tc, test_turn_client_permission);
	tcase_add_test(tc, test_turn_client_channel);
	tcase_add_test(tc, test_turn_client_send_limits);
	tcase_add_test(tc, test_turn_client_stream_split);
	tcase_add_test(tc, test_turn_client_stream_limits);
	tcase_add_test(tc, test_turn_client_closed_icmp);
	tcase_add_test(tc, test_turn_client_names_init);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
