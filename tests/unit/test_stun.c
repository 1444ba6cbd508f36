/* test_stun.c - unit tests for the STUN codec (lib/stun/): the RFC 5769
 * vectors both ways, messages captured from the classic stun client,
 * turnutils_stunclient and coturn (tests/vectors/stun/), every attribute
 * through put and get, framing, integrity and fingerprints. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pbxedge/addr.h>
#include <pbxedge/err.h>
#include <pbxedge/stun.h>
#include "vectors.h"

/* ---- helpers ---- */

static const char rfc5769_password[] = "VOkJxbRl1RmTxUk/WvJxBt";
/* RFC 5769 2.4: "<U+30DE><U+30C8><U+30EA><U+30C3><U+30AF><U+30B9>". */
static const char matrix_user[] =
	"\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";
/* "The<U+00AD>M<U+00AA>tr<U+2168>" after SASLprep, as the RFC gives it. */
static const char matrix_password[] = "TheMatrIX";

static struct pbx_span S(const char *s)
{
	return pbx_span_cstr(s);
}

static struct pbx_span span_n(const void *p, size_t n)
{
	struct pbx_span s = { p, n };
	return s;
}

static struct pbx_addr addr_of(const char *text)
{
	struct pbx_addr a;
	struct pbx_err e;
	ck_assert_msg(pbx_addr_parse(S(text), 1, 0, &a, &e) == 0, "%s: %s", text, e.msg);
	return a;
}

#define ck_addr_is(a, text)                                                        \
	do {                                                                       \
		char f_[PBX_ADDRSTRLEN];                                           \
		ck_assert_int_eq(pbx_addr_format((a), f_, sizeof f_), 0);          \
		ck_assert_str_eq(f_, (text));                                      \
	} while (0)

#define ck_span_is(s, text)                                                        \
	do {                                                                       \
		struct pbx_span s_ = (s);                                          \
		ck_assert_msg(pbx_span_eq(s_, S(text)), "'%.*s' is not '%s'",      \
			      (int)s_.len, s_.p ? s_.p : "", (text));              \
	} while (0)

static struct stun_key short_key(const char *password)
{
	struct stun_key k;
	ck_assert_int_eq(stun_integrity_key_short(&k, S(password)), 0);
	return k;
}

static struct stun_key long_key(uint16_t alg, const char *user, const char *realm,
				const char *password)
{
	struct stun_key k;
	ck_assert_int_eq(stun_integrity_key_long(&k, alg, S(user), S(realm), S(password)), 0);
	return k;
}

static void hex_to(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		ck_assert(sscanf(hex + 2 * i, "%2x", &v) == 1);
		out[i] = (uint8_t)v;
	}
}

/* tests/vectors/stun (see vectors.h), opened; NULL if not found. */
static DIR *open_vectors(char *dir, size_t n)
{
	return vector_dir("stun", dir, n) ? opendir(dir) : NULL;
}

/* Blocks load() handed out, freed after each test. */
static uint8_t *held[64];
static size_t n_held;

static void free_held(void)
{
	while (n_held)
		free(held[--n_held]);
}

/* A vector as a heap block of exactly its size, so that ASan reports any
 * read past it.  It lives until the test ends. */
static uint8_t *load(const char *name, size_t *len)
{
	ck_assert_uint_lt(n_held, sizeof held / sizeof held[0]);
	uint8_t *p = vector_load("stun", name, len);
	held[n_held++] = p;
	return p;
}

static uint8_t *exact_copy(const void *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);
	ck_assert_ptr_nonnull(q);
	if (n)
		memcpy(q, p, n);
	return q;
}

static void decode_ok(struct stun_msg *m, const void *p, size_t len)
{
	int rc = stun_msg_decode(m, p, len);
	ck_assert_msg(rc == 0, "decode: %s (%s at %u)", pbx_strerror(rc),
		      stun_names_drop(m->drop), m->drop_off);
	ck_assert_int_eq(m->drop, STUN_DROP_NONE);
}

/* Decode must fail with this reason. */
static void decode_drops(const void *p, size_t len, enum stun_drop why)
{
	struct stun_msg m;
	uint8_t *q = exact_copy(p, len);
	int rc = stun_msg_decode(&m, q, len);
	ck_assert_msg(rc < 0, "decoded, expected %s", stun_names_drop(why));
	ck_assert_msg(m.drop == why, "dropped for %s, expected %s", stun_names_drop(m.drop),
		      stun_names_drop(why));
	ck_assert_uint_eq(m.n_attrs, 0);
	free(q);
}

/* Index of the only (or first) attribute of a type. */
static size_t find(const struct stun_msg *m, uint16_t type)
{
	size_t i;
	ck_assert_msg(stun_msg_find(m, type, 0, &i) == 0, "no %s", stun_names_attr(type));
	return i;
}

static struct pbx_span text_of(const struct stun_msg *m, uint16_t type)
{
	struct pbx_span v;
	ck_assert_int_eq(stun_attr_text(m, find(m, type), &v), 0);
	return v;
}

static void check_integrity(const struct stun_msg *m, const struct stun_key *k,
			    enum stun_integrity want)
{
	enum stun_integrity got;
	ck_assert_int_eq(stun_integrity_check(m, k, STUN_SHA256_FULL, &got), 0);
	ck_assert_int_eq(got, want);
}

/* A message assembled byte by byte, without the encoder's order rules:
 * for what a broken or hostile sender puts on the wire. */
struct raw {
	uint8_t b[2048];
	size_t len;
};

static void raw_begin(struct raw *r, uint16_t type, bool cookie)
{
	static const uint8_t tid[16] = { 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6,
					 7, 8, 9, 10, 11, 12 };
	memset(r, 0, sizeof *r);
	r->b[0] = (uint8_t)(type >> 8);
	r->b[1] = (uint8_t)type;
	memcpy(r->b + 4, tid, 16);
	if (!cookie)
		r->b[4] = 0x99;
	r->len = STUN_HDR_LEN;
}

static void raw_setlen(struct raw *r, size_t body)
{
	r->b[2] = (uint8_t)(body >> 8);
	r->b[3] = (uint8_t)body;
}

/* Append an attribute padded with pad (npad bytes of it; -1 for the
 * normal amount) and fix the header's length. */
static void raw_attr_pad(struct raw *r, uint16_t type, const void *v, size_t n, uint8_t pad,
			 int npad)
{
	size_t padlen = npad < 0 ? (4 - (n & 3)) & 3 : (size_t)npad;
	ck_assert_uint_le(r->len + 4 + n + padlen, sizeof r->b);
	r->b[r->len++] = (uint8_t)(type >> 8);
	r->b[r->len++] = (uint8_t)type;
	r->b[r->len++] = (uint8_t)(n >> 8);
	r->b[r->len++] = (uint8_t)n;
	if (n)
		memcpy(r->b + r->len, v, n);
	r->len += n;
	memset(r->b + r->len, pad, padlen);
	r->len += padlen;
	raw_setlen(r, r->len - STUN_HDR_LEN);
}

static void raw_attr(struct raw *r, uint16_t type, const void *v, size_t n)
{
	raw_attr_pad(r, type, v, n, 0, -1);
}

/* Append a correct FINGERPRINT. */
static void raw_fingerprint(struct raw *r)
{
	raw_setlen(r, r->len + 8 - STUN_HDR_LEN);
	uint32_t crc = stun_integrity_crc32(0, r->b, r->len) ^ 0x5354554eu;
	uint8_t v[4] = { (uint8_t)(crc >> 24), (uint8_t)(crc >> 16), (uint8_t)(crc >> 8),
			 (uint8_t)crc };
	raw_attr(r, STUN_A_FINGERPRINT, v, 4);
}

static const uint8_t tid_5769[12] = { 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
				      0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae };
static const uint8_t tid_5769_lt[12] = { 0x78, 0xad, 0x34, 0x33, 0xc6, 0xad,
					 0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e };
static const uint8_t tid_test[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

/* ---- header ---- */

START_TEST(test_stun_hdr_type)
{
	ck_assert_uint_eq(stun_hdr_type(STUN_BINDING, STUN_REQUEST), 0x0001);
	ck_assert_uint_eq(stun_hdr_type(STUN_BINDING, STUN_INDICATION), 0x0011);
	ck_assert_uint_eq(stun_hdr_type(STUN_BINDING, STUN_SUCCESS), 0x0101);
	ck_assert_uint_eq(stun_hdr_type(STUN_BINDING, STUN_ERROR), 0x0111);
	ck_assert_uint_eq(stun_hdr_type(STUN_ALLOCATE, STUN_ERROR), 0x0113);
	ck_assert_uint_eq(stun_hdr_type(STUN_SEND, STUN_INDICATION), 0x0016);
	ck_assert_uint_eq(stun_hdr_type(STUN_DATA, STUN_INDICATION), 0x0017);
	ck_assert_uint_eq(stun_hdr_type(STUN_CHANNEL_BIND, STUN_SUCCESS), 0x0109);
	ck_assert_uint_eq(stun_hdr_type(0xfff, STUN_ERROR), 0x3fff);
	for (unsigned method = 0; method <= 0xfff; method++) {
		for (int cls = 0; cls < 4; cls++) {
			uint16_t t = stun_hdr_type((uint16_t)method, (enum stun_class)cls);
			ck_assert_uint_eq(t & 0xc000, 0);
			ck_assert_uint_eq(stun_hdr_method(t), method);
			ck_assert_int_eq(stun_hdr_class(t), cls);
		}
	}
}
END_TEST

START_TEST(test_stun_hdr_channel_valid)
{
	ck_assert(!stun_hdr_channel_valid(0x3fff, 0));
	ck_assert(stun_hdr_channel_valid(0x4000, 0));
	ck_assert(stun_hdr_channel_valid(0x4fff, 0));
	ck_assert(!stun_hdr_channel_valid(0x5000, 0));
	ck_assert(!stun_hdr_channel_valid(0x7fff, 0));
	ck_assert(stun_hdr_channel_valid(0x5000, STUN_CHAN_RFC5766));
	ck_assert(stun_hdr_channel_valid(0x7fff, STUN_CHAN_RFC5766));
	ck_assert(!stun_hdr_channel_valid(0x8000, STUN_CHAN_RFC5766));
	ck_assert(!stun_hdr_channel_valid(0x3fff, STUN_CHAN_RFC5766));
}
END_TEST

/* ---- RFC 5769 ---- */

START_TEST(test_stun_msg_decode_rfc5769_request)
{
	size_t len, i;
	uint8_t *p = load("rfc5769-request.bin", &len);
	struct stun_msg m;
	uint32_t u32;
	uint64_t u64;

	decode_ok(&m, p, len);
	ck_assert_uint_eq(m.len, 108);
	ck_assert_uint_eq(m.type, 0x0001);
	ck_assert_uint_eq(m.method, STUN_BINDING);
	ck_assert_uint_eq(m.cls, STUN_REQUEST);
	ck_assert_uint_eq(m.kind, STUN_KIND_RFC5389);
	ck_assert_uint_eq(m.tid_len, 12);
	ck_assert_mem_eq(m.tid, tid_5769, 12);
	ck_assert_uint_eq(m.n_attrs, 6);
	ck_assert_uint_eq(m.n_ignored, 0);
	ck_assert_uint_eq(m.n_unknown, 0);
	static const uint16_t order[] = { STUN_A_SOFTWARE, STUN_A_PRIORITY,
					  STUN_A_ICE_CONTROLLED, STUN_A_USERNAME,
					  STUN_A_MESSAGE_INTEGRITY, STUN_A_FINGERPRINT };
	for (i = 0; i < 6; i++)
		ck_assert_uint_eq(m.attrs[i].type, order[i]);
	ck_assert_int_eq(m.integrity, 4);
	ck_assert_int_eq(m.integrity256, -1);
	ck_assert_int_eq(m.fingerprint, 5);

	ck_span_is(text_of(&m, STUN_A_SOFTWARE), "STUN test client");
	ck_span_is(text_of(&m, STUN_A_USERNAME), "evtj:h6vY");
	ck_assert_int_eq(stun_attr_u32(&m, find(&m, STUN_A_PRIORITY), &u32), 0);
	ck_assert_uint_eq(u32, 0x6e0001ff);
	ck_assert_int_eq(stun_attr_u64(&m, find(&m, STUN_A_ICE_CONTROLLED), &u64), 0);
	ck_assert(u64 == 0x932ff9b151263b36ull);
	ck_assert_int_eq(stun_attr_u32(&m, 5, &u32), 0);
	ck_assert_uint_eq(u32, 0xe57a3bcf);

	struct stun_key k = short_key(rfc5769_password);
	check_integrity(&m, &k, STUN_INTEGRITY_OK_SHA1);
	k = short_key("VOkJxbRl1RmTxUk/WvJxBT");
	check_integrity(&m, &k, STUN_INTEGRITY_BAD);
}
END_TEST

START_TEST(test_stun_msg_decode_rfc5769_response_ipv4)
{
	size_t len;
	uint8_t *p = load("rfc5769-response-ipv4.bin", &len);
	struct stun_msg m;
	struct pbx_addr a;

	decode_ok(&m, p, len);
	ck_assert_uint_eq(m.type, 0x0101);
	ck_assert_uint_eq(m.cls, STUN_SUCCESS);
	ck_assert_mem_eq(m.tid, tid_5769, 12);
	ck_assert_uint_eq(m.n_attrs, 4);
	ck_span_is(text_of(&m, STUN_A_SOFTWARE), "test vector");
	ck_assert_int_eq(stun_attr_addr(&m, find(&m, STUN_A_XOR_MAPPED_ADDRESS), &a), 0);
	ck_addr_is(&a, "192.0.2.1:32853");
	struct stun_key k = short_key(rfc5769_password);
	check_integrity(&m, &k, STUN_INTEGRITY_OK_SHA1);
}
END_TEST

START_TEST(test_stun_msg_decode_rfc5769_response_ipv6)
{
	size_t len;
	uint8_t *p = load("rfc5769-response-ipv6.bin", &len);
	struct stun_msg m;
	struct pbx_addr a;

	decode_ok(&m, p, len);
	ck_assert_uint_eq(m.type, 0x0101);
	ck_assert_uint_eq(m.n_attrs, 4);
	ck_span_is(text_of(&m, STUN_A_SOFTWARE), "test vector");
	ck_assert_int_eq(stun_attr_addr(&m, find(&m, STUN_A_XOR_MAPPED_ADDRESS), &a), 0);
	ck_addr_is(&a, "[2001:db8:1234:5678:11:2233:4455:6677]:32853");
	struct stun_key k = short_key(rfc5769_password);
	check_integrity(&m, &k, STUN_INTEGRITY_OK_SHA1);
}
END_TEST

START_TEST(test_stun_msg_decode_rfc5769_long_term)
{
	size_t len;
	uint8_t *p = load("rfc5769-request-long-term.bin", &len);
	struct stun_msg m;
	uint8_t want[16];

	decode_ok(&m, p, len);
	ck_assert_uint_eq(m.type, 0x0001);
	ck_assert_mem_eq(m.tid, tid_5769_lt, 12);
	ck_assert_uint_eq(m.n_attrs, 4);
	ck_assert_int_eq(m.fingerprint, -1);
	ck_span_is(text_of(&m, STUN_A_USERNAME), matrix_user);
	ck_span_is(text_of(&m, STUN_A_NONCE), "f//499k954d6OL34oL9FSTvy64sA");
	ck_span_is(text_of(&m, STUN_A_REALM), "example.org");

	struct stun_key k = long_key(STUN_PWALG_MD5, matrix_user, "example.org", matrix_password);
	hex_to("e8ca7ad59d5eb0518e312911d2dab2a9", want, 16);
	ck_assert_uint_eq(k.len, 16);
	ck_assert_mem_eq(k.k, want, 16);
	check_integrity(&m, &k, STUN_INTEGRITY_OK_SHA1);
	/* The password before SASLprep gives another key. */
	k = long_key(STUN_PWALG_MD5, matrix_user, "example.org",
		     "The\xc2\xad" "M\xc2\xaatr\xe2\x85\xa8");
	check_integrity(&m, &k, STUN_INTEGRITY_BAD);
}
END_TEST

/* Build RFC 5769 2.1 from its parts; RFC 5769 pads with spaces. */
static size_t build_5769_request(uint8_t *buf, size_t cap, uint8_t pad)
{
	struct stun_enc e;
	size_t n;
	struct stun_key k = short_key(rfc5769_password);
	stun_msg_init(&e, buf, cap, stun_hdr_type(STUN_BINDING, STUN_REQUEST), tid_5769,
		      STUN_KIND_RFC5389);
	stun_msg_set_padding(&e, pad);
	stun_attr_put_text(&e, STUN_A_SOFTWARE, "STUN test client", 16);
	stun_attr_put_u32(&e, STUN_A_PRIORITY, 0x6e0001ff);
	stun_attr_put_u64(&e, STUN_A_ICE_CONTROLLED, 0x932ff9b151263b36ull);
	stun_attr_put_text(&e, STUN_A_USERNAME, "evtj:h6vY", 9);
	stun_integrity_put(&e, &k);
	stun_integrity_put_fingerprint(&e);
	ck_assert_int_eq(stun_msg_finish(&e, &n), 0);
	return n;
}

static size_t build_5769_response(uint8_t *buf, size_t cap, const char *mapped)
{
	struct stun_enc e;
	size_t n;
	struct stun_key k = short_key(rfc5769_password);
	struct pbx_addr a = addr_of(mapped);
	stun_msg_init(&e, buf, cap, stun_hdr_type(STUN_BINDING, STUN_SUCCESS), tid_5769,
		      STUN_KIND_RFC5389);
	stun_msg_set_padding(&e, ' ');
	stun_attr_put_text(&e, STUN_A_SOFTWARE, "test vector", 11);
	stun_attr_put_addr(&e, STUN_A_XOR_MAPPED_ADDRESS, &a);
	stun_integrity_put(&e, &k);
	stun_integrity_put_fingerprint(&e);
	ck_assert_int_eq(stun_msg_finish(&e, &n), 0);
	return n;
}

START_TEST(test_stun_msg_init_rfc5769)
{
	uint8_t buf[512];
	size_t len, n;
	uint8_t *p;

	p = load("rfc5769-request.bin", &len);
	n = build_5769_request(buf, sizeof buf, ' ');
	ck_assert_uint_eq(n, len);
	ck_assert_mem_eq(buf, p, len);

	p = load("rfc5769-response-ipv4.bin", &len);
	n = build_5769_response(buf, sizeof buf, "192.0.2.1:32853");
	ck_assert_uint_eq(n, len);
	ck_assert_mem_eq(buf, p, len);

	p = load("rfc5769-response-ipv6.bin", &len);
	n = build_5769_response(buf, sizeof buf, "[2001:db8:1234:5678:11:2233:4455:6677]:32853");
	ck_assert_uint_eq(n, len);
	ck_assert_mem_eq(buf, p, len);

	/* 2.4 is deterministic too: no FINGERPRINT, zero padding. */
	struct stun_enc e;
	struct stun_key k = long_key(STUN_PWALG_MD5, matrix_user, "example.org", matrix_password);
	p = load("rfc5769-request-long-term.bin", &len);
	stun_msg_init(&e, buf, sizeof buf, 0x0001, tid_5769_lt, STUN_KIND_RFC5389);
	stun_attr_put_text(&e, STUN_A_USERNAME, matrix_user, strlen(matrix_user));
	stun_attr_put_text(&e, STUN_A_NONCE, "f//499k954d6OL34oL9FSTvy64sA", 28);
	stun_attr_put_text(&e, STUN_A_REALM, "example.org", 11);
	stun_integrity_put(&e, &k);
	ck_assert_int_eq(stun_msg_finish(&e, &n), 0);
	ck_assert_uint_eq(n, len);
	ck_assert_mem_eq(buf, p, len);
}
END_TEST

/* With the zero padding RFC 8489 asks for, the same message differs only
 * in the padding and in what covers it, and still checks. */
START_TEST(test_stun_msg_init_zero_padding)
{
	uint8_t buf[512];
	size_t len;
	uint8_t *p = load("rfc5769-request.bin", &len);
	size_t n = build_5769_request(buf, sizeof buf, 0);
	ck_assert_uint_eq(n, len);
	ck_assert_mem_eq(buf, p, 73);
	ck_assert_mem_eq(buf + 73, "\0\0\0", 3);
	ck_assert(memcmp(buf + 76, p + 76, 32) != 0);

	struct stun_msg m;
	decode_ok(&m, buf, n);
	ck_span_is(text_of(&m, STUN_A_USERNAME), "evtj:h6vY");
	struct stun_key k = short_key(rfc5769_password);
	check_integrity(&m, &k, STUN_INTEGRITY_OK_SHA1);
}
END_TEST

/* ---- integrity ---- */

START_TEST(test_stun_integrity_key_long)
{
	uint8_t want[32];
	struct stun_key k = long_key(STUN_PWALG_SHA256, matrix_user, "example.org",
				     matrix_password);
	hex_to("dd295a613b9058c3c23d6dc7165bda072304d989c9d0af3a8c7e184b4f9bb4a1", want, 32);
	ck_assert_uint_eq(k.len, 32);
	ck_assert_mem_eq(k.k, want, 32);

	k = long_key(STUN_PWALG_MD5, "alice", "example.org", "secret");
	hex_to("543e1aec5d3614f03141652d6ada51b2", want, 16);
	ck_assert_uint_eq(k.len, 16);
	ck_assert_mem_eq(k.k, want, 16);

	/* A stored key gives the same results as the derived one. */
	struct stun_key stored;
	ck_assert_int_eq(stun_integrity_key_set(&stored, want, 16), 0);
	ck_assert_uint_eq(stored.len, 16);
	ck_assert_mem_eq(stored.k, k.k, 16);

	ck_assert_int_eq(stun_integrity_key_long(&k, 3, S("a"), S("b"), S("c")), PBX_E_INVALID);
	ck_assert_int_eq(stun_integrity_key_long(&k, 0, S("a"), S("b"), S("c")), PBX_E_INVALID);
	static char huge[3000];
	memset(huge, 'x', sizeof huge - 1);
	ck_assert_int_eq(stun_integrity_key_long(&k, STUN_PWALG_MD5, S("a"), S("b"), S(huge)),
			 PBX_E_TOOLONG);
	ck_assert_int_eq(stun_integrity_key_short(&k, span_n(huge, STUN_KEY_MAX + 1)),
			 PBX_E_TOOLONG);
	ck_assert_int_eq(stun_integrity_key_short(&k, span_n(huge, STUN_KEY_MAX)), 0);
	ck_assert_int_eq(stun_integrity_key_set(&k, huge, STUN_KEY_MAX + 1), PBX_E_TOOLONG);
	ck_assert_uint_eq(k.len, 0);
}
END_TEST

START_TEST(test_stun_integrity_prep_ok)
{
	ck_assert(stun_integrity_prep_ok(S("TheMatrIX")));
	ck_assert(stun_integrity_prep_ok(S("with space and ~!")));
	ck_assert(!stun_integrity_prep_ok(S("")));
	ck_assert(!stun_integrity_prep_ok(S("tab\there")));
	ck_assert(!stun_integrity_prep_ok(S("del\x7f")));
	ck_assert(!stun_integrity_prep_ok(S("The\xc2\xadM")));
	ck_assert(!stun_integrity_prep_ok(span_n("a\0b", 3)));
}
END_TEST

START_TEST(test_stun_integrity_userhash)
{
	uint8_t got[32], want[32];
	ck_assert_int_eq(stun_integrity_userhash(S(matrix_user), S("example.org"), got), 0);
	hex_to("4a3cf38fef6992bda952c6780417da0f24819415569e60b205c46e41407f1704", want, 32);
	ck_assert_mem_eq(got, want, 32);
}
END_TEST

START_TEST(test_stun_integrity_crc32)
{
	ck_assert_uint_eq(stun_integrity_crc32(0, "123456789", 9), 0xcbf43926);
	ck_assert_uint_eq(stun_integrity_crc32(0, "", 0), 0);
	uint32_t c = stun_integrity_crc32(0, "1234", 4);
	ck_assert_uint_eq(stun_integrity_crc32(c, "56789", 5), 0xcbf43926);
	/* RFC 5769 2.1's FINGERPRINT covers the 100 bytes before it. */
	size_t len;
	uint8_t *p = load("rfc5769-request.bin", &len);
	ck_assert_uint_eq(stun_integrity_crc32(0, p, 100) ^ 0x5354554e, 0xe57a3bcf);
}
END_TEST

START_TEST(test_stun_integrity_nonce_features)
{
	char cookie[STUN_NONCE_COOKIE_LEN + 1];
	uint32_t f;

	stun_integrity_nonce_cookie(STUN_FEATURE_PASSWORD_ALGORITHMS, cookie);
	ck_assert_str_eq(cookie, "obMatJos2gAAA");
	stun_integrity_nonce_cookie(STUN_FEATURE_PASSWORD_ALGORITHMS |
				    STUN_FEATURE_USERNAME_ANONYMITY, cookie);
	ck_assert_str_eq(cookie, "obMatJos2wAAA");
	ck_assert_int_eq(stun_integrity_nonce_features(S("obMatJos2wAAAxyz123"), &f), 0);
	ck_assert_uint_eq(f, 0xc00000);
	stun_integrity_nonce_cookie(0xabcdef, cookie);
	ck_assert_int_eq(stun_integrity_nonce_features(S(cookie), &f), 0);
	ck_assert_uint_eq(f, 0xabcdef);

	ck_assert_int_eq(stun_integrity_nonce_features(S("f2fed1dc405a40ed"), &f), PBX_E_NOTFOUND);
	ck_assert_int_eq(stun_integrity_nonce_features(S(""), &f), PBX_E_NOTFOUND);
	ck_assert_int_eq(stun_integrity_nonce_features(S("obMatJos2gA"), &f), PBX_E_MALFORMED);
	ck_assert_int_eq(stun_integrity_nonce_features(S("obMatJos2g*AA"), &f), PBX_E_MALFORMED);
	ck_assert_int_eq(stun_integrity_nonce_features(span_n("obMatJos2g\0AA", 13), &f),
			 PBX_E_MALFORMED);
	ck_assert_uint_eq(f, 0);
}
END_TEST

/* A message with each integrity attribute, built by the encoder. */
static size_t build_protected(uint8_t *buf, size_t cap, const struct stun_key *k, bool sha1,
			      size_t sha256, bool fp)
{
	struct stun_enc e;
	size_t n;
	stun_msg_init(&e, buf, cap, 0x0001, tid_test, STUN_KIND_RFC5389);
	stun_attr_put_text(&e, STUN_A_USERNAME, "user:frag", 9);
	stun_attr_put_u32(&e, STUN_A_PRIORITY, 12345);
	if (sha1)
		stun_integrity_put(&e, k);
	if (sha256)
		stun_integrity_put_sha256(&e, k, sha256);
	if (fp)
		stun_integrity_put_fingerprint(&e);
	ck_assert_int_eq(stun_msg_finish(&e, &n), 0);
	return n;
}

START_TEST(test_stun_integrity_put_sha256)
{
	uint8_t buf[256];
	struct stun_msg m;
	struct stun_key k = short_key("pass"), wrong = short_key("Pass");
	enum stun_integrity res;
	bool ok;

	for (size_t t = 16; t <= 32; t += 4) {
		size_t n = build_protected(buf, sizeof buf, &k, false, t, true);
		decode_ok(&m, buf, n);
		ck_assert_int_ge(m.integrity256, 0);
		ck_assert_uint_eq(m.attrs[m.integrity256].len, t);
		ck_assert_int_eq(stun_integrity_check(&m, &k, 16, &res), 0);
		ck_assert_int_eq(res, STUN_INTEGRITY_OK_SHA256);
		enum stun_integrity full = t == 32 ? STUN_INTEGRITY_OK_SHA256 :
					   STUN_INTEGRITY_TOO_SHORT;
		ck_assert_int_eq(stun_integrity_check(&m, &k, STUN_SHA256_FULL, &res), 0);
		ck_assert_int_eq(res, full);
		ck_assert_int_eq(stun_integrity_check(&m, &k, 100, &res), 0);
		ck_assert_int_eq(res, full);
		ck_assert_int_eq(stun_integrity_check(&m, &wrong, 16, &res), 0);
		ck_assert_int_eq(res, STUN_INTEGRITY_BAD);
	}

	/* Both: MESSAGE-INTEGRITY-SHA256 is the one checked; each can be
	 * checked on its own. */
	size_t n = build_protected(buf, sizeof buf, &k, true, 32, true);
	decode_ok(&m, buf, n);
	ck_assert_uint_eq(m.n_attrs, 5);
	ck_assert_int_eq(m.integrity, 2);
	ck_assert_int_eq(m.integrity256, 3);
	ck_assert_int_eq(m.fingerprint, 4);
	check_integrity(&m, &k, STUN_INTEGRITY_OK_SHA256);
	ck_assert_int_eq(stun_integrity_check_attr(&m, 2, &k, &ok), 0);
	ck_assert(ok);
	ck_assert_int_eq(stun_integrity_check_attr(&m, 3, &k, &ok), 0);
	ck_assert(ok);
	ck_assert_int_eq(stun_integrity_check_attr(&m, 3, &wrong, &ok), 0);
	ck_assert(!ok);
	ck_assert_int_eq(stun_integrity_check_attr(&m, 0, &k, &ok), PBX_E_INVALID);
	ck_assert_int_eq(stun_integrity_check_attr(&m, 9, &k, &ok), PBX_E_INVALID);

	/* Neither. */
	n = build_protected(buf, sizeof buf, &k, false, 0, true);
	decode_ok(&m, buf, n);
	check_integrity(&m, &k, STUN_INTEGRITY_ABSENT);

	/* Lengths RFC 8489 14.6 does not allow. */
	static const size_t bad[] = { 0, 4, 12, 15, 17, 18, 30, 33, 36, 64 };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct stun_enc e;
		stun_msg_init(&e, buf, sizeof buf, 0x0001, tid_test, STUN_KIND_RFC5389);
		ck_assert_int_eq(stun_integrity_put_sha256(&e, &k, bad[i]), PBX_E_INVALID);
	}

	/* An empty short-term password is a key too. */
	struct stun_key empty = short_key("");
	n = build_protected(buf, sizeof buf, &empty, true, 32, false);
	decode_ok(&m, buf, n);
	check_integrity(&m, &empty, STUN_INTEGRITY_OK_SHA256);
	ck_assert_int_eq(stun_integrity_check_attr(&m, 2, &empty, &ok), 0);
	ck_assert(ok);
}
END_TEST

/* A long-term SHA-256 key with both integrity attributes, as an RFC 8489
 * client sends after PASSWORD-ALGORITHM SHA-256. */
START_TEST(test_stun_integrity_put_long_term_sha256)
{
	uint8_t buf[256];
	struct stun_msg m;
	struct stun_enc e;
	size_t n;
	struct stun_key k = long_key(STUN_PWALG_SHA256, "alice", "example.org", "secret");
	struct stun_pwalg alg = { STUN_PWALG_SHA256, { NULL, 0 } };

	stun_msg_init(&e, buf, sizeof buf, stun_hdr_type(STUN_ALLOCATE, STUN_REQUEST), tid_test,
		      STUN_KIND_RFC5389);
	stun_attr_put_transport(&e, STUN_TRANSPORT_UDP);
	stun_attr_put_text(&e, STUN_A_USERNAME, "alice", 5);
	stun_attr_put_text(&e, STUN_A_REALM, "example.org", 11);
	stun_attr_put_text(&e, STUN_A_NONCE, "obMatJos2gAAAnonce", 18);
	stun_attr_put_password_algorithm(&e, &alg);
	stun_integrity_put(&e, &k);
	stun_integrity_put_sha256(&e, &k, 32);
	stun_integrity_put_fingerprint(&e);
	ck_assert_int_eq(stun_msg_finish(&e, &n), 0);
	decode_ok(&m, buf, n);
	check_integrity(&m, &k, STUN_INTEGRITY_OK_SHA256);
	struct stun_pwalg got;
	ck_assert_int_eq(stun_attr_password_algorithm(&m, find(&m, STUN_A_PASSWORD_ALGORITHM),
						      &got), 0);
	ck_assert_uint_eq(got.alg, STUN_PWALG_SHA256);
	ck_assert_uint_eq(got.params.len, 0);
	struct stun_key md5 = long_key(STUN_PWALG_MD5, "alice", "example.org", "secret");
	check_integrity(&m, &md5, STUN_INTEGRITY_BAD);
}
END_TEST

/* Changing any byte a protected message's integrity covers fails its
 * decoding, its FINGERPRINT or its integrity check.  The FINGERPRINT after
 * it is not covered: renamed, it becomes an attribute after
 * MESSAGE-INTEGRITY, ignored, and the message has no FINGERPRINT. */
static void tamper_all(const char *name, const struct stun_key *k)
{
	size_t len;
	uint8_t *p = load(name, &len);
	static const uint8_t masks[] = { 0x01, 0x80, 0xff };
	struct stun_msg m;

	decode_ok(&m, p, len);
	int last = m.integrity256 >= 0 ? m.integrity256 : m.integrity;
	size_t covered = m.attrs[last].off + m.attrs[last].len;
	check_integrity(&m, k, m.integrity256 >= 0 ? STUN_INTEGRITY_OK_SHA256 :
			STUN_INTEGRITY_OK_SHA1);
	for (size_t at = 0; at < len; at++) {
		for (size_t j = 0; j < sizeof masks; j++) {
			uint8_t *q = exact_copy(p, len);
			q[at] ^= masks[j];
			enum stun_integrity res = STUN_INTEGRITY_ABSENT;
			if (stun_msg_decode(&m, q, len) == 0) {
				int rc = stun_integrity_check(&m, k, STUN_SHA256_FULL, &res);
				ck_assert_int_eq(rc, 0);
			}
			if (res == STUN_INTEGRITY_OK_SHA1 || res == STUN_INTEGRITY_OK_SHA256)
				ck_assert_msg(at >= covered && m.fingerprint < 0,
					      "%s: byte %zu ^ %#x checks", name, at, masks[j]);
			free(q);
		}
	}
}

START_TEST(test_stun_integrity_check_tamper)
{
	struct stun_key st = short_key(rfc5769_password);
	struct stun_key lt = long_key(STUN_PWALG_MD5, matrix_user, "example.org", matrix_password);
	struct stun_key alice = long_key(STUN_PWALG_MD5, "alice", "example.org", "secret");
	tamper_all("rfc5769-request.bin", &st);
	tamper_all("rfc5769-response-ipv4.bin", &st);
	tamper_all("rfc5769-response-ipv6.bin", &st);
	tamper_all("rfc5769-request-long-term.bin", &lt);
	tamper_all("coturn-allocate-request-auth.bin", &alice);
	tamper_all("coturn-allocate-success.bin", &alice);
	tamper_all("coturn-channelbind-request.bin", &alice);

	/* And a message with both integrity attributes and no
	 * FINGERPRINT, so that only the HMACs guard it.  Renaming
	 * MESSAGE-INTEGRITY-SHA256 makes it an attribute after
	 * MESSAGE-INTEGRITY, ignored (RFC 8489 14.5): then the HMAC-SHA1
	 * that covers everything before it still holds, and that is all. */
	uint8_t buf[256];
	struct stun_msg m;
	size_t n = build_protected(buf, sizeof buf, &st, true, 32, false);
	decode_ok(&m, buf, n);
	size_t type256 = m.attrs[m.integrity256].off - 4;
	for (size_t at = 0; at < n; at++) {
		uint8_t *q = exact_copy(buf, n);
		q[at] ^= 0x20;
		enum stun_integrity res = STUN_INTEGRITY_ABSENT;
		if (stun_msg_decode(&m, q, n) == 0)
			stun_integrity_check(&m, &st, STUN_SHA256_FULL, &res);
		ck_assert_msg(res != STUN_INTEGRITY_OK_SHA256, "byte %zu", at);
		if (res == STUN_INTEGRITY_OK_SHA1) {
			ck_assert_msg(at >= type256 && at < type256 + 2, "byte %zu", at);
			ck_assert_int_eq(m.integrity256, -1);
			ck_assert_uint_eq(m.n_ignored, 1);
		}
		free(q);
	}
}
END_TEST

/* ---- attributes ---- */

/* Sample values, one per kind (and a second for some, v6). */
static const uint16_t sample_unknown[] = { 0x7001, 0x0031, 0x0099 };
static const struct stun_pwalg sample_algs[] = {
	{ STUN_PWALG_MD5, { NULL, 0 } },
	{ STUN_PWALG_SHA256, { NULL, 0 } },
	{ 0x1234, { "xyz12", 5 } },
};
static const struct stun_icmp sample_icmp = { 3, 4, 1400 };
static const char sample_hash[] = "0123456789abcdef0123456789ABCDEF";

static const char *sample_addr(bool v6)
{
	return v6 ? "[2001:db8::7]:5349" : "198.51.100.7:3478";
}

/* Put one attribute of type with its kind's sample value.  Returns false
 * for the kinds that are not written through a put function. */
static bool put_sample(struct stun_enc *e, uint16_t type, bool v6)
{
	struct pbx_addr a = addr_of(sample_addr(v6));
	struct pbx_span reason = S("Try again later");

	switch (stun_attr_kind(type)) {
	case STUN_K_ADDR:
	case STUN_K_XADDR:
		return stun_attr_put_addr(e, type, &a) == 0;
	case STUN_K_U32:
		return stun_attr_put_u32(e, type, 0xdeadbeef) == 0;
	case STUN_K_U64:
		return stun_attr_put_u64(e, type, 0x0123456789abcdefull) == 0;
	case STUN_K_TEXT:
		if (type == STUN_A_USERHASH)
			return stun_attr_put_text(e, type, sample_hash, 32) == 0;
		return stun_attr_put_text(e, type, "sample text", 11) == 0;
	case STUN_K_EMPTY:
		return stun_attr_put_empty(e, type) == 0;
	case STUN_K_ERROR:
		return stun_attr_put_error(e, v6 ? 438 : 599, v6 ? NULL : &reason) == 0;
	case STUN_K_UNKNOWN_LIST:
		return stun_attr_put_unknown(e, sample_unknown, 3) == 0;
	case STUN_K_CHANGE:
		return stun_attr_put_change_request(e, v6 ? STUN_CHANGE_IP | STUN_CHANGE_PORT :
						    0) == 0;
	case STUN_K_CHANNEL:
		return stun_attr_put_channel(e, 0x4001) == 0;
	case STUN_K_TRANSPORT:
		return stun_attr_put_transport(e, STUN_TRANSPORT_UDP) == 0;
	case STUN_K_FAMILY:
		return stun_attr_put_family(e, type, STUN_FAMILY_IPV6) == 0;
	case STUN_K_EVEN_PORT:
		return stun_attr_put_even_port(e, v6) == 0;
	case STUN_K_PORT:
		return stun_attr_put_response_port(e, 40961) == 0;
	case STUN_K_PWALG:
		return stun_attr_put_password_algorithm(e, &sample_algs[2]) == 0;
	case STUN_K_PWALGS:
		return stun_attr_put_password_algorithms(e, sample_algs, 3) == 0;
	case STUN_K_ADDR_ERROR:
		return stun_attr_put_address_error(e, STUN_FAMILY_IPV6, 440, NULL) == 0;
	case STUN_K_ICMP:
		return stun_attr_put_icmp(e, &sample_icmp) == 0;
	default:
		return false;
	}
}

static void check_sample_addr(const struct stun_msg *m, bool xor, bool v6)
{
	struct pbx_addr want = addr_of(sample_addr(v6)), got;
	struct pbx_span v;
	ck_assert_int_eq(stun_attr_addr(m, 0, &got), 0);
	ck_assert(pbx_addr_equal(&got, &want));
	/* The XOR really happened: the raw bytes differ. */
	ck_assert_int_eq(stun_attr_raw(m, 0, &v), 0);
	ck_assert_uint_eq(v.len, v6 ? 20 : 8);
	const void *ip = v6 ? (const void *)&want.u.sin6.sin6_addr :
			      (const void *)&want.u.sin.sin_addr;
	ck_assert_int_eq(memcmp(v.p + 4, ip, v6 ? 16 : 4) != 0, xor);
}

/* Read back what put_sample wrote, and check that the getters of other
 * kinds refuse it. */
static void check_sample(const struct stun_msg *m, uint16_t type, bool v6)
{
	enum stun_attr_kind kind = stun_attr_kind(type);
	struct pbx_span v;
	struct stun_error err;
	struct stun_pwalg pa[4];
	struct stun_icmp icmp;
	struct pbx_addr a;
	uint16_t list[8], u16;
	uint32_t u32;
	uint64_t u64;
	uint8_t u8;
	unsigned flags;
	size_t n;
	bool b;

	if (kind != STUN_K_U32)
		ck_assert_int_eq(stun_attr_u32(m, 0, &u32), PBX_E_INVALID);
	if (kind != STUN_K_U64)
		ck_assert_int_eq(stun_attr_u64(m, 0, &u64), PBX_E_INVALID);
	if (kind != STUN_K_ADDR && kind != STUN_K_XADDR)
		ck_assert_int_eq(stun_attr_addr(m, 0, &a), PBX_E_INVALID);
	switch (kind) {
	case STUN_K_ADDR:
	case STUN_K_XADDR:
		check_sample_addr(m, kind == STUN_K_XADDR, v6);
		break;
	case STUN_K_U32:
		ck_assert_int_eq(stun_attr_u32(m, 0, &u32), 0);
		ck_assert_uint_eq(u32, 0xdeadbeef);
		break;
	case STUN_K_U64:
		ck_assert_int_eq(stun_attr_u64(m, 0, &u64), 0);
		ck_assert(u64 == 0x0123456789abcdefull);
		break;
	case STUN_K_TEXT:
		ck_assert_int_eq(stun_attr_text(m, 0, &v), 0);
		ck_span_is(v, type == STUN_A_USERHASH ? sample_hash : "sample text");
		break;
	case STUN_K_EMPTY:
		ck_assert_int_eq(stun_attr_empty(m, 0), 0);
		break;
	case STUN_K_ERROR:
		ck_assert_int_eq(stun_attr_error(m, 0, &err), 0);
		ck_assert_int_eq(err.code, v6 ? 438 : 599);
		ck_span_is(err.reason, v6 ? "Stale Nonce" : "Try again later");
		break;
	case STUN_K_UNKNOWN_LIST:
		ck_assert_int_eq(stun_attr_unknown(m, 0, list, 8, &n), 0);
		ck_assert_uint_eq(n, 3);
		ck_assert_mem_eq(list, sample_unknown, sizeof sample_unknown);
		ck_assert_int_eq(stun_attr_unknown(m, 0, list, 2, &n), PBX_E_NOSPACE);
		break;
	case STUN_K_CHANGE:
		ck_assert_int_eq(stun_attr_change_request(m, 0, &flags), 0);
		ck_assert_uint_eq(flags, v6 ? STUN_CHANGE_IP | STUN_CHANGE_PORT : 0);
		break;
	case STUN_K_CHANNEL:
	case STUN_K_PORT:
		ck_assert_int_eq(kind == STUN_K_PORT ? stun_attr_response_port(m, 0, &u16) :
				 stun_attr_channel(m, 0, &u16), 0);
		ck_assert_uint_eq(u16, kind == STUN_K_PORT ? 40961 : 0x4001);
		break;
	case STUN_K_TRANSPORT:
	case STUN_K_FAMILY:
		ck_assert_int_eq(kind == STUN_K_FAMILY ? stun_attr_family(m, 0, &u8) :
				 stun_attr_transport(m, 0, &u8), 0);
		ck_assert_uint_eq(u8, kind == STUN_K_FAMILY ? STUN_FAMILY_IPV6 : 17);
		break;
	case STUN_K_EVEN_PORT:
		ck_assert_int_eq(stun_attr_even_port(m, 0, &b), 0);
		ck_assert(b == v6);
		break;
	case STUN_K_PWALG:
		ck_assert_int_eq(stun_attr_password_algorithm(m, 0, &pa[0]), 0);
		ck_assert_uint_eq(pa[0].alg, 0x1234);
		ck_span_is(pa[0].params, "xyz12");
		break;
	case STUN_K_PWALGS:
		ck_assert_int_eq(stun_attr_password_algorithms(m, 0, pa, 4, &n), 0);
		ck_assert_uint_eq(n, 3);
		for (size_t k = 0; k < 3; k++) {
			ck_assert_uint_eq(pa[k].alg, sample_algs[k].alg);
			ck_assert(pbx_span_eq(pa[k].params, sample_algs[k].params));
		}
		ck_assert_int_eq(stun_attr_password_algorithms(m, 0, pa, 2, &n), PBX_E_NOSPACE);
		break;
	case STUN_K_ADDR_ERROR:
		ck_assert_int_eq(stun_attr_address_error(m, 0, &u8, &err), 0);
		ck_assert_uint_eq(u8, STUN_FAMILY_IPV6);
		ck_assert_int_eq(err.code, 440);
		ck_span_is(err.reason, "Address Family not Supported");
		break;
	case STUN_K_ICMP:
		ck_assert_int_eq(stun_attr_icmp(m, 0, &icmp), 0);
		ck_assert(icmp.type == 3 && icmp.code == 4 && icmp.data == 1400);
		break;
	default:
		ck_abort_msg("%s: no getter", stun_names_attr(type));
	}
}

/* One attribute with a sample value through put, decode and get. */
static bool roundtrip_one(uint16_t type, bool v6)
{
	uint8_t buf[1024];
	struct stun_enc e;
	struct stun_msg m;
	size_t n;

	stun_msg_init(&e, buf, sizeof buf, stun_hdr_type(STUN_ALLOCATE, STUN_REQUEST), tid_test,
		      STUN_KIND_RFC5389);
	if (!put_sample(&e, type, v6)) {
		enum stun_attr_kind k = stun_attr_kind(type);
		ck_assert_msg(k == STUN_K_INTEGRITY || k == STUN_K_FINGERPRINT, "%s: put failed",
			      stun_names_attr(type));
		return false;
	}
	ck_assert_int_eq(stun_msg_finish(&e, &n), 0);
	ck_assert_uint_eq(n % 4, 0);
	decode_ok(&m, buf, n);
	ck_assert_uint_eq(m.n_attrs, 1);
	ck_assert_uint_eq(m.attrs[0].type, type);
	ck_assert_uint_eq(m.n_unknown, 0);
	check_sample(&m, type, v6);
	return true;
}

START_TEST(test_stun_attr_roundtrip)
{
	unsigned known = 0, tested = 0;
	for (unsigned t = 0; t <= 0xffff; t++) {
		if (stun_attr_kind((uint16_t)t) == STUN_K_UNKNOWN)
			continue;
		known++;
		if (roundtrip_one((uint16_t)t, false)) {
			ck_assert(roundtrip_one((uint16_t)t, true));
			tested++;
		}
	}
	/* All but MESSAGE-INTEGRITY, -SHA256 and FINGERPRINT, which the
	 * integrity tests cover. */
	ck_assert_uint_eq(known, 44);
	ck_assert_uint_eq(tested, known - 3);
}
END_TEST

/* The length bounds of text attributes, both ways. */
START_TEST(test_stun_attr_put_text_bounds)
{
	static uint8_t big[70000];
	uint8_t buf[2048];
	struct stun_enc e;
	struct stun_msg m;
	struct pbx_span v;
	size_t n;
	static const struct { uint16_t type; size_t max; } bounded[] = {
		{ STUN_A_USERNAME, 763 }, { STUN_A_REALM, 763 }, { STUN_A_NONCE, 763 },
		{ STUN_A_SOFTWARE, 763 }, { STUN_A_ALTERNATE_DOMAIN, 255 },
	};
	memset(big, 'a', sizeof big);
	for (size_t i = 0; i < sizeof bounded / sizeof bounded[0]; i++) {
		stun_msg_init(&e, buf, sizeof buf, 0x0001, tid_test, STUN_KIND_RFC5389);
		ck_assert_int_eq(stun_attr_put_text(&e, bounded[i].type, big, bounded[i].max), 0);
		ck_assert_int_eq(stun_msg_finish(&e, &n), 0);
		decode_ok(&m, buf, n);
		ck_assert_int_eq(stun_attr_text(&m, 0, &v), 0);
		ck_assert_uint_eq(v.len, bounded[i].max);

		stun_msg_init(&e, buf, sizeof buf, 0x0001, tid_test, STUN_KIND_RFC5389);
		ck_assert_int_eq(stun_attr_put_text(&e, bounded[i].type, big, bounded[i].max + 1),
				 PBX_E_INVALID);
		/* Received anyway: the getter refuses it. */
		struct raw r;
		raw_begin(&r, 0x0001, true);
		raw_attr(&r, bounded[i].type, big, bounded[i].max + 1);
		decode_ok(&m, r.b, r.len);
		ck_assert_int_eq(stun_attr_text(&m, 0, &v), PBX_E_MALFORMED);
		ck_assert_int_eq(stun_attr_raw(&m, 0, &v), 0);
		ck_assert_uint_eq(v.len, bounded[i].max + 1);
	}
	/* USERHASH is 32 bytes exactly. */
	stun_msg_init(&e, buf, sizeof buf, 0x0001, tid_test, STUN_KIND_RFC5389);
	ck_assert_int_eq(stun_attr_put_text(&e, STUN_A_USERHASH, big, 31), PBX_E_INVALID);

	/* DATA up to what a message holds. */
	static uint8_t huge[STUN_MSG_MAX + 16];
	stun_msg_init(&e, huge, sizeof huge, stun_hdr_type(STUN_SEND, STUN_INDICATION),
		      tid_test, STUN_KIND_RFC5389);
	ck_assert_int_eq(stun_attr_put_text(&e, STUN_A_DATA, big, 65528), 0);
	ck_assert_int_eq(stun_msg_finish(&e, &n), 0);
	ck_assert_uint_eq(n, STUN_MSG_MAX);
	decode_ok(&m, huge, n);
	ck_assert_int_eq(stun_attr_text(&m, 0, &v), 0);
	ck_assert_uint_eq(v.len, 65528);
	stun_msg_init(&e, huge, sizeof huge, stun_hdr_type(STUN_SEND, STUN_INDICATION),
		      tid_test, STUN_KIND_RFC5389);
	ck_assert_int_eq(stun_attr_put_text(&e, STUN_A_DATA, big, 65529), PBX_E_TOOLONG);
	ck_assert_int_eq(stun_msg_finish(&e, &n), PBX_E_TOOLONG);
	ck_assert_uint_eq(n, 0);
}
END_TEST

/* Values that break their attribute's format. */
START_TEST(test_stun_attr_malformed)
{
	struct raw r;
	struct stun_msg m;
	struct pbx_addr a;
	struct stun_error err;
	struct stun_pwalg alg[4];
	uint16_t list[4], u16;
	uint8_t u8;
	bool b;
	size_t n;

	raw_begin(&r, 0x0101, true);
	raw_attr(&r, STUN_A_XOR_MAPPED_ADDRESS, "\0\3\1\2\1\2\3\4", 8);       /* family 3 */
	raw_attr(&r, STUN_A_MAPPED_ADDRESS, "\0\1\1\2\1\2\3\4\5\6\7\x8", 12); /* v4, 12 bytes */
	raw_attr(&r, STUN_A_MAPPED_ADDRESS, "\0\2\1\2\1\2\3\4", 8);           /* v6, 8 bytes */
	raw_attr(&r, STUN_A_ERROR_CODE, "\0\0\2\1", 4);                       /* class 2 */
	raw_attr(&r, STUN_A_ERROR_CODE, "\0\0\4\144", 4);                     /* number 100 */
	raw_attr(&r, STUN_A_ERROR_CODE, "\0\0\4", 3);                         /* short */
	raw_attr(&r, STUN_A_UNKNOWN_ATTRIBUTES, "\0\1\0", 3);                 /* odd */
	raw_attr(&r, STUN_A_PASSWORD_ALGORITHMS, "\0\1\0\1x", 5);             /* no padding */
	raw_attr(&r, STUN_A_PASSWORD_ALGORITHM, "\0\1\0\0\0\2\0\0", 8);       /* two */
	raw_attr(&r, STUN_A_EVEN_PORT, "\x80\0\0\0", 4);                      /* 4 bytes */
	raw_attr(&r, STUN_A_CHANNEL_NUMBER, "\x40\0", 2);                     /* 2 bytes */
	raw_attr(&r, STUN_A_USE_CANDIDATE, "x", 1);                           /* not empty */
	raw_attr(&r, STUN_A_LIFETIME, "\0\0\0\0\0", 5);                       /* 5 bytes */
	decode_ok(&m, r.b, r.len);
	ck_assert_uint_eq(m.n_attrs, 13);
	ck_assert_int_eq(stun_attr_addr(&m, 0, &a), PBX_E_MALFORMED);
	ck_assert_int_eq(pbx_addr_family(&a), AF_UNSPEC);
	ck_assert_int_eq(stun_attr_addr(&m, 1, &a), PBX_E_MALFORMED);
	ck_assert_int_eq(stun_attr_addr(&m, 2, &a), PBX_E_MALFORMED);
	ck_assert_int_eq(stun_attr_error(&m, 3, &err), PBX_E_MALFORMED);
	ck_assert_int_eq(err.code, 0);
	ck_assert_int_eq(stun_attr_error(&m, 4, &err), PBX_E_MALFORMED);
	ck_assert_int_eq(stun_attr_error(&m, 5, &err), PBX_E_MALFORMED);
	ck_assert_int_eq(stun_attr_unknown(&m, 6, list, 4, &n), PBX_E_MALFORMED);
	ck_assert_int_eq(stun_attr_password_algorithms(&m, 7, alg, 4, &n), PBX_E_MALFORMED);
	ck_assert_int_eq(stun_attr_password_algorithm(&m, 8, alg), PBX_E_MALFORMED);
	ck_assert_int_eq(stun_attr_even_port(&m, 9, &b), PBX_E_MALFORMED);
	ck_assert_int_eq(stun_attr_channel(&m, 10, &u16), PBX_E_MALFORMED);
	ck_assert_int_eq(stun_attr_empty(&m, 11), PBX_E_MALFORMED);
	uint32_t u32;
	ck_assert_int_eq(stun_attr_u32(&m, 12, &u32), PBX_E_MALFORMED);
	/* Out of range. */
	ck_assert_int_eq(stun_attr_addr(&m, 13, &a), PBX_E_INVALID);
	ck_assert_int_eq(stun_attr_family(&m, 99, &u8), PBX_E_INVALID);
	struct pbx_span v;
	ck_assert_int_eq(stun_attr_raw(&m, 13, &v), PBX_E_INVALID);

	/* Reserved bits are ignored: the first byte of an address, the
	 * RFFU of CHANNEL-NUMBER, the 21 bits before an error class. */
	raw_begin(&r, 0x0101, true);
	raw_attr(&r, STUN_A_MAPPED_ADDRESS, "\xff\1\x0d\x96\xc0\0\2\1", 8);
	raw_attr(&r, STUN_A_CHANNEL_NUMBER, "\x40\1\xff\xff", 4);
	raw_attr(&r, STUN_A_ERROR_CODE, "\xff\xff\xfc\x01", 4);
	raw_attr(&r, STUN_A_CHANGE_REQUEST, "\xff\xff\xff\xff", 4);
	decode_ok(&m, r.b, r.len);
	ck_assert_int_eq(stun_attr_addr(&m, 0, &a), 0);
	ck_addr_is(&a, "192.0.2.1:3478");
	ck_assert_int_eq(stun_attr_channel(&m, 1, &u16), 0);
	ck_assert_uint_eq(u16, 0x4001);
	ck_assert_int_eq(stun_attr_error(&m, 2, &err), 0);
	ck_assert_int_eq(err.code, 401);
	unsigned flags;
	ck_assert_int_eq(stun_attr_change_request(&m, 3, &flags), 0);
	ck_assert_uint_eq(flags, STUN_CHANGE_IP | STUN_CHANGE_PORT);
}
END_TEST

/* ---- decoding: framing, padding, limits ---- */

START_TEST(test_stun_msg_decode_padding)
{
	struct raw r;
	struct stun_msg m;

	/* Padding bytes are ignored, whatever they hold. */
	raw_begin(&r, 0x0001, true);
	raw_attr_pad(&r, STUN_A_SOFTWARE, "abcde", 5, 0xff, -1);
	raw_attr_pad(&r, STUN_A_USERNAME, "u", 1, 0x20, -1);
	raw_attr(&r, STUN_A_USE_CANDIDATE, NULL, 0);
	decode_ok(&m, r.b, r.len);
	ck_assert_uint_eq(m.n_attrs, 3);
	ck_span_is(text_of(&m, STUN_A_SOFTWARE), "abcde");
	ck_span_is(text_of(&m, STUN_A_USERNAME), "u");
	ck_assert_int_eq(stun_attr_empty(&m, 2), 0);
	ck_assert_uint_eq(m.attrs[1].off, 36);

	/* The last attribute without its padding: the length field is not
	 * a multiple of 4 because of it. */
	raw_begin(&r, 0x0001, true);
	raw_attr(&r, STUN_A_PRIORITY, "\0\0\0\1", 4);
	raw_attr_pad(&r, STUN_A_SOFTWARE, "abcde", 5, 0, 0);
	decode_drops(r.b, r.len, STUN_DROP_BAD_PADDING);

	/* An inner attribute without padding shifts all that follows. */
	raw_begin(&r, 0x0001, true);
	raw_attr_pad(&r, STUN_A_SOFTWARE, "abcde", 5, 0, 0);
	raw_attr(&r, STUN_A_PRIORITY, "\0\0\0\1", 4);
	decode_drops(r.b, r.len, STUN_DROP_BAD_LENGTH);

	/* A length field that is not a multiple of 4 with whole attributes
	 * and stray bytes. */
	raw_begin(&r, 0x0001, true);
	raw_attr(&r, STUN_A_PRIORITY, "\0\0\0\1", 4);
	r.b[r.len++] = 0;
	r.b[r.len++] = 0;
	raw_setlen(&r, r.len - STUN_HDR_LEN);
	decode_drops(r.b, r.len, STUN_DROP_BAD_LENGTH);

	/* An attribute longer than the message. */
	raw_begin(&r, 0x0001, true);
	raw_attr(&r, STUN_A_SOFTWARE, "abcd", 4);
	r.b[23] = 100;
	decode_drops(r.b, r.len, STUN_DROP_ATTR_TRUNCATED);
	r.b[23] = 5;
	decode_drops(r.b, r.len, STUN_DROP_ATTR_TRUNCATED);
	r.b[22] = 0xff;
	r.b[23] = 0xff;
	decode_drops(r.b, r.len, STUN_DROP_ATTR_TRUNCATED);

	/* An empty message. */
	raw_begin(&r, 0x0001, true);
	decode_ok(&m, r.b, r.len);
	ck_assert_uint_eq(m.n_attrs, 0);
	ck_assert_uint_eq(m.len, 20);

	/* The encoder pads with zeros. */
	uint8_t buf[64];
	struct stun_enc e;
	size_t n;
	stun_msg_init(&e, buf, sizeof buf, 0x0001, tid_test, STUN_KIND_RFC5389);
	stun_attr_put_text(&e, STUN_A_SOFTWARE, "abcde", 5);
	stun_attr_put_even_port(&e, true);
	ck_assert_int_eq(stun_msg_finish(&e, &n), 0);
	ck_assert_uint_eq(n, 20 + 12 + 8);
	ck_assert_mem_eq(buf + 20, "\x80\x22\0\5" "abcde\0\0\0" "\0\x18\0\1\x80\0\0\0", 20);
	ck_assert_uint_eq(buf[2] << 8 | buf[3], 20);
}
END_TEST

START_TEST(test_stun_msg_decode_length)
{
	struct raw r;
	struct stun_msg m;
	uint8_t big[128];

	raw_begin(&r, 0x0001, true);
	raw_attr(&r, STUN_A_PRIORITY, "\0\0\0\1", 4);

	/* Fewer bytes than the length field says, more, and under a header. */
	decode_drops(r.b, r.len - 4, STUN_DROP_TRUNCATED);
	decode_drops(r.b, r.len - 1, STUN_DROP_TRUNCATED);
	decode_drops(r.b, 19, STUN_DROP_TRUNCATED);
	decode_drops(r.b, 1, STUN_DROP_TRUNCATED);
	decode_drops(r.b, 0, STUN_DROP_TRUNCATED);
	memcpy(big, r.b, r.len);
	memset(big + r.len, 0, 8);
	decode_drops(big, r.len + 1, STUN_DROP_TRAILING);
	decode_drops(big, r.len + 4, STUN_DROP_TRAILING);
	ck_assert_int_eq(stun_msg_decode(&m, big, r.len + 4), PBX_E_TRAILING);
	ck_assert_uint_eq(m.drop_off, r.len);
	ck_assert_int_eq(stun_msg_decode(&m, big, r.len - 4), PBX_E_TRUNCATED);

	/* Not STUN: RTP, DTLS, ChannelData have other first bits. */
	r.b[0] = 0x80;
	decode_drops(r.b, r.len, STUN_DROP_NOT_STUN);
	decode_drops(r.b, 1, STUN_DROP_NOT_STUN);
	r.b[0] = 0x40;
	decode_drops(r.b, r.len, STUN_DROP_NOT_STUN);
	r.b[0] = 0x16;
	decode_drops(r.b, r.len, STUN_DROP_NOT_STUN);
	r.b[0] = 0x00;
	ck_assert_int_eq(stun_msg_decode(&m, r.b, r.len), 0);
	ck_assert_int_eq(stun_msg_decode(&m, NULL, 0), PBX_E_TRUNCATED);
}
END_TEST

START_TEST(test_stun_msg_decode_too_many_attrs)
{
	struct raw r;
	struct stun_msg m;

	raw_begin(&r, 0x0001, true);
	for (int i = 0; i < STUN_MAX_ATTRS; i++)
		raw_attr(&r, STUN_A_PRIORITY, "\0\0\0\1", 4);
	decode_ok(&m, r.b, r.len);
	ck_assert_uint_eq(m.n_attrs, STUN_MAX_ATTRS);
	for (size_t i = 0, k = 0; i < STUN_MAX_ATTRS; i++, k++)
		ck_assert_int_eq(stun_msg_find(&m, STUN_A_PRIORITY, k, &k), 0);

	raw_attr(&r, STUN_A_PRIORITY, "\0\0\0\1", 4);
	decode_drops(r.b, r.len, STUN_DROP_TOO_MANY_ATTRS);
	ck_assert_int_eq(stun_msg_decode(&m, r.b, r.len), PBX_E_TOOLONG);
	ck_assert_uint_eq(m.drop_off, 20 + 8 * STUN_MAX_ATTRS);

	/* What follows MESSAGE-INTEGRITY is skipped, not indexed: it does
	 * not count. */
	raw_begin(&r, 0x0001, true);
	for (int i = 0; i < STUN_MAX_ATTRS - 1; i++)
		raw_attr(&r, STUN_A_PRIORITY, "\0\0\0\1", 4);
	raw_attr(&r, STUN_A_MESSAGE_INTEGRITY, "01234567890123456789", 20);
	for (int i = 0; i < 40; i++)
		raw_attr(&r, STUN_A_PRIORITY, "\0\0\0\1", 4);
	decode_ok(&m, r.b, r.len);
	ck_assert_uint_eq(m.n_attrs, STUN_MAX_ATTRS);
	ck_assert_uint_eq(m.n_ignored, 40);
}
END_TEST

START_TEST(test_stun_msg_decode_unknown)
{
	struct raw r;
	struct stun_msg m, ans;
	uint16_t out[8];
	size_t n;

	raw_begin(&r, 0x0001, true);
	raw_attr(&r, 0x7001, "abc", 3);
	raw_attr(&r, STUN_A_USERNAME, "u", 1);
	raw_attr(&r, 0x8999, "optional", 8);
	raw_attr(&r, 0x0031, NULL, 0);
	raw_attr(&r, 0x7001, "again", 5);
	raw_attr(&r, 0x0000, NULL, 0);
	raw_attr(&r, STUN_A_RESPONSE_ADDRESS, "\0\1\0\1\1\2\3\4", 8);
	decode_ok(&m, r.b, r.len);
	ck_assert_uint_eq(m.n_attrs, 7);
	ck_assert_uint_eq(m.n_unknown, 3);
	ck_assert_uint_eq(m.unknown[0], 0x7001);
	ck_assert_uint_eq(m.unknown[1], 0x0031);
	ck_assert_uint_eq(m.unknown[2], 0x0000);

	/* A usage that understands less: a Binding-only server. */
	static const uint16_t binding[] = { STUN_A_USERNAME, STUN_A_MESSAGE_INTEGRITY,
					    STUN_A_FINGERPRINT };
	ck_assert_int_eq(stun_msg_unknown(&m, binding, 3, out, 8, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(out[3], STUN_A_RESPONSE_ADDRESS);
	ck_assert_int_eq(stun_msg_unknown(&m, NULL, 0, out, 8, &n), 0);
	ck_assert_uint_eq(n, 5);
	ck_assert_uint_eq(out[1], STUN_A_USERNAME);
	ck_assert_int_eq(stun_msg_unknown(&m, NULL, 0, out, 2, &n), PBX_E_NOSPACE);
	ck_assert_uint_eq(n, 2);

	/* The 420 answer. */
	uint8_t buf[256];
	struct stun_enc e;
	ck_assert_int_eq(stun_msg_init_reply(&e, buf, sizeof buf, &m, STUN_ERROR), 0);
	stun_attr_put_error(&e, STUN_ERR_UNKNOWN_ATTRIBUTE, NULL);
	stun_attr_put_unknown(&e, m.unknown, m.n_unknown);
	stun_integrity_put_fingerprint(&e);
	ck_assert_int_eq(stun_msg_finish(&e, &n), 0);
	decode_ok(&ans, buf, n);
	ck_assert_uint_eq(ans.type, 0x0111);
	ck_assert_mem_eq(ans.tid, m.tid, 12);
	struct stun_error err;
	ck_assert_int_eq(stun_attr_error(&ans, 0, &err), 0);
	ck_assert_int_eq(err.code, 420);
	ck_span_is(err.reason, "Unknown Attribute");
	ck_assert_int_eq(stun_attr_unknown(&ans, 1, out, 8, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_mem_eq(out, m.unknown, 3 * sizeof out[0]);
	ck_assert_uint_eq(ans.n_unknown, 0);
}
END_TEST

START_TEST(test_stun_msg_decode_after_integrity)
{
	uint8_t buf[256];
	struct stun_enc e;
	struct stun_msg m;
	struct raw r;
	size_t n;
	struct stun_key k = short_key("pw");

	/* USERNAME, MESSAGE-INTEGRITY, then SOFTWARE and an unknown
	 * comprehension-required attribute a sender should not have put
	 * there, then FINGERPRINT: the two are ignored (neither indexed
	 * nor unknown) and the integrity still holds. */
	stun_msg_init(&e, buf, sizeof buf, 0x0001, tid_test, STUN_KIND_RFC5389);
	stun_attr_put_text(&e, STUN_A_USERNAME, "user", 4);
	stun_integrity_put(&e, &k);
	ck_assert_int_eq(stun_msg_finish(&e, &n), 0);
	memcpy(r.b, buf, n);
	r.len = n;
	raw_attr(&r, STUN_A_SOFTWARE, "late", 4);
	raw_attr(&r, 0x7777, "x", 1);
	raw_fingerprint(&r);
	decode_ok(&m, r.b, r.len);
	ck_assert_uint_eq(m.n_attrs, 3);
	ck_assert_uint_eq(m.n_ignored, 2);
	ck_assert_uint_eq(m.n_unknown, 0);
	ck_assert_int_eq(m.integrity, 1);
	ck_assert_int_eq(m.fingerprint, 2);
	size_t i;
	ck_assert_int_eq(stun_msg_find(&m, STUN_A_SOFTWARE, 0, &i), PBX_E_NOTFOUND);
	check_integrity(&m, &k, STUN_INTEGRITY_OK_SHA1);

	/* After MESSAGE-INTEGRITY-SHA256 only FINGERPRINT counts; a
	 * MESSAGE-INTEGRITY there is ignored, and so is a second one. */
	stun_msg_init(&e, buf, sizeof buf, 0x0001, tid_test, STUN_KIND_RFC5389);
	stun_integrity_put_sha256(&e, &k, 32);
	ck_assert_int_eq(stun_msg_finish(&e, &n), 0);
	memcpy(r.b, buf, n);
	r.len = n;
	raw_attr(&r, STUN_A_MESSAGE_INTEGRITY, "01234567890123456789", 20);
	raw_attr(&r, STUN_A_MESSAGE_INTEGRITY_SHA256, "0123456789abcdef", 16);
	decode_ok(&m, r.b, r.len);
	ck_assert_uint_eq(m.n_attrs, 1);
	ck_assert_uint_eq(m.n_ignored, 2);
	ck_assert_int_eq(m.integrity, -1);
	ck_assert_int_eq(m.integrity256, 0);
	check_integrity(&m, &k, STUN_INTEGRITY_OK_SHA256);

	raw_begin(&r, 0x0001, true);
	raw_attr(&r, STUN_A_MESSAGE_INTEGRITY, "01234567890123456789", 20);
	raw_attr(&r, STUN_A_MESSAGE_INTEGRITY, "98765432109876543210", 20);
	decode_ok(&m, r.b, r.len);
	ck_assert_uint_eq(m.n_attrs, 1);
	ck_assert_uint_eq(m.n_ignored, 1);

	/* Nothing after FINGERPRINT. */
	raw_begin(&r, 0x0001, true);
	raw_fingerprint(&r);
	raw_attr(&r, STUN_A_SOFTWARE, "late", 4);
	decode_drops(r.b, r.len, STUN_DROP_AFTER_FINGERPRINT);
	raw_begin(&r, 0x0001, true);
	raw_fingerprint(&r);
	raw_fingerprint(&r);
	decode_drops(r.b, r.len, STUN_DROP_AFTER_FINGERPRINT);

	/* A wrong FINGERPRINT, or one of the wrong length. */
	raw_begin(&r, 0x0001, true);
	raw_fingerprint(&r);
	r.b[r.len - 1] ^= 1;
	decode_drops(r.b, r.len, STUN_DROP_BAD_FINGERPRINT);
	raw_begin(&r, 0x0001, true);
	raw_attr(&r, STUN_A_FINGERPRINT, "\0\0\0\0\0\0\0\0", 8);
	decode_drops(r.b, r.len, STUN_DROP_BAD_FINGERPRINT);

	/* Integrity attributes of lengths RFC 8489 does not allow. */
	raw_begin(&r, 0x0001, true);
	raw_attr(&r, STUN_A_MESSAGE_INTEGRITY, "0123456789012345", 16);
	decode_drops(r.b, r.len, STUN_DROP_BAD_INTEGRITY_ATTR);
	raw_begin(&r, 0x0001, true);
	raw_attr(&r, STUN_A_MESSAGE_INTEGRITY_SHA256, "0123456789ab", 12);
	decode_drops(r.b, r.len, STUN_DROP_BAD_INTEGRITY_ATTR);
	raw_begin(&r, 0x0001, true);
	raw_attr(&r, STUN_A_MESSAGE_INTEGRITY_SHA256, "0123456789abcdefg", 17);
	decode_drops(r.b, r.len, STUN_DROP_BAD_INTEGRITY_ATTR);
	/* ...but an ignored one is not looked at. */
	raw_begin(&r, 0x0001, true);
	raw_attr(&r, STUN_A_MESSAGE_INTEGRITY, "01234567890123456789", 20);
	raw_attr(&r, STUN_A_MESSAGE_INTEGRITY, "short", 5);
	decode_ok(&m, r.b, r.len);
}
END_TEST

/* ---- RFC 3489 and RFC 5780 clients ---- */

/* The classic stun client (stun-client 0.97) sends RFC 3489 Binding
 * requests: no magic cookie, a 128-bit transaction ID, CHANGE-REQUEST. */
START_TEST(test_stun_msg_decode_classic)
{
	static const struct { const char *file; unsigned flags; } tests[] = {
		{ "classic-stun-test1.bin", 0 },
		{ "classic-stun-test2-change-ip.bin", STUN_CHANGE_IP },
		{ "classic-stun-test3-change-port.bin", STUN_CHANGE_PORT },
	};
	for (size_t t = 0; t < sizeof tests / sizeof tests[0]; t++) {
		size_t len, n;
		uint8_t *p = load(tests[t].file, &len);
		struct stun_msg m;
		unsigned flags;
		uint8_t buf[64];
		struct stun_enc e;

		decode_ok(&m, p, len);
		ck_assert_uint_eq(m.kind, STUN_KIND_RFC3489);
		ck_assert_uint_eq(m.tid_len, 16);
		ck_assert_mem_eq(m.tid, p + 4, 16);
		ck_assert_uint_eq(m.type, 0x0001);
		ck_assert_uint_eq(m.n_attrs, 1);
		ck_assert_int_eq(stun_attr_change_request(&m, 0, &flags), 0);
		ck_assert_uint_eq(flags, tests[t].flags);

		/* The same request, built as the classic client does. */
		ck_assert_int_eq(stun_msg_init(&e, buf, sizeof buf, 0x0001, p + 4,
					       STUN_KIND_RFC3489), 0);
		stun_attr_put_change_request(&e, tests[t].flags);
		ck_assert_int_eq(stun_msg_finish(&e, &n), 0);
		ck_assert_uint_eq(n, len);
		ck_assert_mem_eq(buf, p, len);

		/* The answer an RFC 3489 server gives: same kind and ID,
		 * MAPPED-, SOURCE- and CHANGED-ADDRESS, and no XOR
		 * attribute, which such a client does not know. */
		uint8_t out[128];
		struct stun_msg ans;
		struct pbx_addr mapped = addr_of("203.0.113.5:40000");
		struct pbx_addr source = addr_of("198.51.100.1:3478");
		struct pbx_addr changed = addr_of("198.51.100.2:3479");
		struct pbx_addr a;
		ck_assert_int_eq(stun_msg_init_reply(&e, out, sizeof out, &m, STUN_SUCCESS), 0);
		stun_attr_put_addr(&e, STUN_A_MAPPED_ADDRESS, &mapped);
		stun_attr_put_addr(&e, STUN_A_SOURCE_ADDRESS, &source);
		stun_attr_put_addr(&e, STUN_A_CHANGED_ADDRESS, &changed);
		ck_assert_int_eq(stun_msg_finish(&e, &n), 0);
		ck_assert_uint_eq(n, 20 + 3 * 12);
		decode_ok(&ans, out, n);
		ck_assert_uint_eq(ans.type, 0x0101);
		ck_assert_uint_eq(ans.kind, STUN_KIND_RFC3489);
		ck_assert_mem_eq(out + 4, p + 4, 16);
		ck_assert_int_eq(stun_attr_addr(&ans, 0, &a), 0);
		ck_assert(pbx_addr_equal(&a, &mapped));
		ck_assert_int_eq(stun_attr_addr(&ans, 2, &a), 0);
		ck_assert(pbx_addr_equal(&a, &changed));

		ck_assert_int_eq(stun_msg_init_reply(&e, out, sizeof out, &m, STUN_SUCCESS), 0);
		ck_assert_int_eq(stun_attr_put_addr(&e, STUN_A_XOR_MAPPED_ADDRESS, &mapped),
				 PBX_E_INVALID);
	}

	/* An XOR attribute in a classic message cannot be undone. */
	struct raw r;
	struct stun_msg m;
	struct pbx_addr a;
	raw_begin(&r, 0x0101, false);
	raw_attr(&r, STUN_A_XOR_MAPPED_ADDRESS, "\0\1\1\2\1\2\3\4", 8);
	raw_attr(&r, STUN_A_MAPPED_ADDRESS, "\0\1\1\2\1\2\3\4", 8);
	decode_ok(&m, r.b, r.len);
	ck_assert_uint_eq(m.kind, STUN_KIND_RFC3489);
	ck_assert_int_eq(stun_attr_addr(&m, 0, &a), PBX_E_MALFORMED);
	ck_assert_int_eq(stun_attr_addr(&m, 1, &a), 0);
	ck_addr_is(&a, "1.2.3.4:258");
}
END_TEST

/* turnutils_stunclient (coturn 4.6.1): a plain RFC 5389 Binding request,
 * and with -f the RFC 5780 one with RESPONSE-PORT and CHANGE-REQUEST. */
START_TEST(test_stun_msg_decode_stunclient)
{
	size_t len, n;
	uint8_t *p = load("stunclient-binding.bin", &len);
	struct stun_msg m;
	struct stun_enc e;
	uint8_t buf[64];

	decode_ok(&m, p, len);
	ck_assert_uint_eq(m.kind, STUN_KIND_RFC5389);
	ck_assert_uint_eq(m.n_attrs, 0);
	stun_msg_init(&e, buf, sizeof buf, 0x0001, m.tid, STUN_KIND_RFC5389);
	ck_assert_int_eq(stun_msg_finish(&e, &n), 0);
	ck_assert_uint_eq(n, len);
	ck_assert_mem_eq(buf, p, len);

	p = load("stunclient-rfc5780-change-request.bin", &len);
	decode_ok(&m, p, len);
	uint16_t port;
	unsigned flags;
	ck_assert_int_eq(stun_attr_response_port(&m, find(&m, STUN_A_RESPONSE_PORT), &port), 0);
	ck_assert_uint_eq(port, 0xa019);
	ck_assert_int_eq(stun_attr_change_request(&m, find(&m, STUN_A_CHANGE_REQUEST), &flags), 0);
	ck_assert_uint_eq(flags, STUN_CHANGE_IP | STUN_CHANGE_PORT);
	stun_msg_init(&e, buf, sizeof buf, 0x0001, m.tid, STUN_KIND_RFC5389);
	stun_attr_put_response_port(&e, port);
	stun_attr_put_change_request(&e, flags);
	ck_assert_int_eq(stun_msg_finish(&e, &n), 0);
	ck_assert_uint_eq(n, len);
	ck_assert_mem_eq(buf, p, len);
}
END_TEST

/* ---- TURN, as coturn 4.6.1 and turnutils_uclient speak it ---- */

START_TEST(test_stun_msg_decode_coturn)
{
	size_t len;
	uint8_t *p;
	struct stun_msg m;
	struct stun_error err;
	struct pbx_addr a;
	uint32_t u32;
	uint64_t u64;
	uint16_t u16;
	uint8_t u8;
	bool b;
	struct stun_key k = long_key(STUN_PWALG_MD5, "alice", "example.org", "secret");

	p = load("coturn-allocate-401.bin", &len);
	decode_ok(&m, p, len);
	ck_assert_uint_eq(m.method, STUN_ALLOCATE);
	ck_assert_uint_eq(m.cls, STUN_ERROR);
	ck_assert_int_eq(stun_attr_error(&m, find(&m, STUN_A_ERROR_CODE), &err), 0);
	ck_assert_int_eq(err.code, 401);
	ck_span_is(err.reason, "Unauthorized");
	ck_span_is(text_of(&m, STUN_A_NONCE), "f2fed1dc405a40ed");
	ck_span_is(text_of(&m, STUN_A_REALM), "example.org");
	ck_span_is(text_of(&m, STUN_A_SOFTWARE), "Coturn-4.6.1 'Gorst'");
	ck_assert_int_ge(m.fingerprint, 0);
	check_integrity(&m, &k, STUN_INTEGRITY_ABSENT);

	p = load("coturn-allocate-request-auth.bin", &len);
	decode_ok(&m, p, len);
	ck_assert_uint_eq(m.type, 0x0003);
	ck_assert_int_eq(stun_attr_transport(&m, find(&m, STUN_A_REQUESTED_TRANSPORT), &u8), 0);
	ck_assert_uint_eq(u8, STUN_TRANSPORT_UDP);
	ck_assert_int_eq(stun_attr_u32(&m, find(&m, STUN_A_LIFETIME), &u32), 0);
	ck_assert_uint_eq(u32, 777);
	ck_assert_int_eq(stun_attr_even_port(&m, find(&m, STUN_A_EVEN_PORT), &b), 0);
	ck_assert(b);
	ck_assert_int_eq(stun_attr_family(&m, find(&m, STUN_A_REQUESTED_ADDRESS_FAMILY), &u8), 0);
	ck_assert_uint_eq(u8, STUN_FAMILY_IPV4);
	ck_span_is(text_of(&m, STUN_A_USERNAME), "alice");
	check_integrity(&m, &k, STUN_INTEGRITY_OK_SHA1);

	p = load("coturn-allocate-success.bin", &len);
	decode_ok(&m, p, len);
	ck_assert_uint_eq(m.type, 0x0103);
	ck_assert_int_eq(stun_attr_addr(&m, find(&m, STUN_A_XOR_RELAYED_ADDRESS), &a), 0);
	ck_addr_is(&a, "127.0.0.1:40062");
	ck_assert_int_eq(stun_attr_addr(&m, find(&m, STUN_A_XOR_MAPPED_ADDRESS), &a), 0);
	ck_addr_is(&a, "127.0.0.1:42222");
	ck_assert_int_eq(stun_attr_u64(&m, find(&m, STUN_A_RESERVATION_TOKEN), &u64), 0);
	ck_assert(u64 == 0x98bfd4a79ca59c68ull);
	check_integrity(&m, &k, STUN_INTEGRITY_OK_SHA1);

	/* turnutils_uclient binds channels above 0x4FFF, as RFC 5766 let it. */
	p = load("coturn-channelbind-request.bin", &len);
	decode_ok(&m, p, len);
	ck_assert_int_eq(stun_attr_channel(&m, find(&m, STUN_A_CHANNEL_NUMBER), &u16), 0);
	ck_assert_uint_eq(u16, 0x5eee);
	ck_assert(!stun_hdr_channel_valid(u16, 0));
	ck_assert(stun_hdr_channel_valid(u16, STUN_CHAN_RFC5766));
	ck_assert_int_eq(stun_attr_addr(&m, find(&m, STUN_A_XOR_PEER_ADDRESS), &a), 0);
	ck_addr_is(&a, "127.0.0.1:34801");
	check_integrity(&m, &k, STUN_INTEGRITY_OK_SHA1);

	static const char *const protected[] = {
		"coturn-refresh-request.bin", "coturn-refresh-success.bin",
		"coturn-channelbind-success.bin", "coturn-createpermission-request.bin",
		"coturn-createpermission-success.bin",
	};
	for (size_t i = 0; i < sizeof protected / sizeof protected[0]; i++) {
		p = load(protected[i], &len);
		decode_ok(&m, p, len);
		check_integrity(&m, &k, STUN_INTEGRITY_OK_SHA1);
	}

	/* Send and Data indications carry DATA and XOR-PEER-ADDRESS. */
	static const char *const indications[] = { "coturn-send-indication.bin",
						   "coturn-data-indication.bin" };
	for (size_t i = 0; i < 2; i++) {
		struct pbx_span v;
		p = load(indications[i], &len);
		decode_ok(&m, p, len);
		ck_assert_uint_eq(m.cls, STUN_INDICATION);
		ck_assert_uint_eq(m.method, i ? STUN_DATA : STUN_SEND);
		ck_assert_int_eq(stun_attr_text(&m, find(&m, STUN_A_DATA), &v), 0);
		ck_assert_uint_eq(v.len, 50);
		ck_assert_int_eq(stun_attr_addr(&m, find(&m, STUN_A_XOR_PEER_ADDRESS), &a), 0);
		ck_addr_is(&a, "127.0.0.1:34800");
	}
}
END_TEST

/* Our encoder rebuilds coturn's messages byte for byte from their parts. */
START_TEST(test_stun_msg_init_coturn)
{
	size_t len, n;
	uint8_t buf[256];
	struct stun_enc e;
	struct stun_msg m;
	struct stun_key k = long_key(STUN_PWALG_MD5, "alice", "example.org", "secret");

	uint8_t *p = load("coturn-allocate-request-auth.bin", &len);
	decode_ok(&m, p, len);
	stun_msg_init(&e, buf, sizeof buf, 0x0003, m.tid, STUN_KIND_RFC5389);
	stun_attr_put_transport(&e, STUN_TRANSPORT_UDP);
	stun_attr_put_u32(&e, STUN_A_LIFETIME, 777);
	stun_attr_put_even_port(&e, true);
	stun_attr_put_family(&e, STUN_A_REQUESTED_ADDRESS_FAMILY, STUN_FAMILY_IPV4);
	stun_attr_put_text(&e, STUN_A_USERNAME, "alice", 5);
	stun_attr_put_text(&e, STUN_A_NONCE, "f2fed1dc405a40ed", 16);
	stun_attr_put_text(&e, STUN_A_REALM, "example.org", 11);
	stun_integrity_put(&e, &k);
	stun_integrity_put_fingerprint(&e);
	ck_assert_int_eq(stun_msg_finish(&e, &n), 0);
	ck_assert_uint_eq(n, len);
	ck_assert_mem_eq(buf, p, len);

	p = load("coturn-allocate-401.bin", &len);
	decode_ok(&m, p, len);
	struct pbx_span reason = S("Unauthorized");
	stun_msg_init(&e, buf, sizeof buf, 0x0113, m.tid, STUN_KIND_RFC5389);
	stun_attr_put_error(&e, 401, &reason);
	stun_attr_put_text(&e, STUN_A_NONCE, "f2fed1dc405a40ed", 16);
	stun_attr_put_text(&e, STUN_A_REALM, "example.org", 11);
	stun_attr_put_text(&e, STUN_A_SOFTWARE, "Coturn-4.6.1 'Gorst'", 20);
	stun_integrity_put_fingerprint(&e);
	ck_assert_int_eq(stun_msg_finish(&e, &n), 0);
	ck_assert_uint_eq(n, len);
	ck_assert_mem_eq(buf, p, len);

	p = load("coturn-allocate-success.bin", &len);
	decode_ok(&m, p, len);
	struct pbx_addr relayed = addr_of("127.0.0.1:40062"), mapped = addr_of("127.0.0.1:42222");
	stun_msg_init(&e, buf, sizeof buf, 0x0103, m.tid, STUN_KIND_RFC5389);
	stun_attr_put_addr(&e, STUN_A_XOR_RELAYED_ADDRESS, &relayed);
	stun_attr_put_addr(&e, STUN_A_XOR_MAPPED_ADDRESS, &mapped);
	stun_attr_put_u64(&e, STUN_A_RESERVATION_TOKEN, 0x98bfd4a79ca59c68ull);
	stun_attr_put_u32(&e, STUN_A_LIFETIME, 777);
	stun_attr_put_text(&e, STUN_A_SOFTWARE, "Coturn-4.6.1 'Gorst'", 20);
	stun_integrity_put(&e, &k);
	stun_integrity_put_fingerprint(&e);
	ck_assert_int_eq(stun_msg_finish(&e, &n), 0);
	ck_assert_uint_eq(n, len);
	ck_assert_mem_eq(buf, p, len);
}
END_TEST

/* CreatePermission may name several peers: find them all. */
START_TEST(test_stun_msg_find)
{
	uint8_t buf[256];
	struct stun_enc e;
	struct stun_msg m;
	struct pbx_addr a;
	size_t n, i;
	static const char *const peers[] = { "192.0.2.10:1000", "[2001:db8::10]:2000",
					     "192.0.2.11:3000" };

	stun_msg_init(&e, buf, sizeof buf, stun_hdr_type(STUN_CREATE_PERMISSION, STUN_REQUEST),
		      tid_test, STUN_KIND_RFC5389);
	for (size_t k = 0; k < 3; k++) {
		a = addr_of(peers[k]);
		stun_attr_put_addr(&e, STUN_A_XOR_PEER_ADDRESS, &a);
		if (k == 0)
			stun_attr_put_text(&e, STUN_A_USERNAME, "u", 1);
	}
	ck_assert_int_eq(stun_msg_finish(&e, &n), 0);
	decode_ok(&m, buf, n);
	size_t k = 0;
	for (i = 0; stun_msg_find(&m, STUN_A_XOR_PEER_ADDRESS, i, &i) == 0; i++) {
		ck_assert_int_eq(stun_attr_addr(&m, i, &a), 0);
		ck_addr_is(&a, peers[k]);
		k++;
	}
	ck_assert_uint_eq(k, 3);
	ck_assert_uint_eq(i, m.n_attrs);
	ck_assert_int_eq(stun_msg_find(&m, STUN_A_USERNAME, 2, &i), PBX_E_NOTFOUND);
	ck_assert_int_eq(stun_msg_find(&m, STUN_A_USERNAME, 0, &i), 0);
	ck_assert_uint_eq(i, 1);
	ck_assert_int_eq(stun_msg_find(&m, STUN_A_USERNAME, 99, &i), PBX_E_NOTFOUND);
}
END_TEST

/* ---- streams and ChannelData ---- */

struct frame_list {
	uint8_t kind[64];
	size_t len[64];
	size_t n;
};

/* Cut a whole stream into frames; every STUN frame decodes and every
 * ChannelData frame too. */
static void cut_stream(const uint8_t *p, size_t len, unsigned flags, struct frame_list *fl)
{
	struct stun_frame f;
	size_t off = 0;
	fl->n = 0;
	while (off < len) {
		stun_hdr_frame(p + off, len - off, STUN_MSG_MAX, flags, &f);
		ck_assert_msg(f.kind == STUN_FRAME_STUN || f.kind == STUN_FRAME_CHANDATA,
			      "frame %zu at %zu: kind %d (%s)", fl->n, off, f.kind,
			      stun_names_drop(f.drop));
		ck_assert_uint_lt(fl->n, 64);
		fl->kind[fl->n] = f.kind;
		fl->len[fl->n++] = f.len;
		if (f.kind == STUN_FRAME_STUN) {
			struct stun_msg m;
			decode_ok(&m, p + off, f.len);
			ck_assert_int_ge(m.fingerprint, 0);
		} else {
			struct stun_chandata cd;
			unsigned sflags = flags | STUN_CHAN_STREAM;
			ck_assert_int_eq(stun_hdr_chandata_decode(p + off, f.len, sflags, &cd), 0);
			ck_assert_uint_eq(cd.len, 49);
			ck_assert_uint_eq(f.len, 4 + 52);
		}
		off += f.len;
	}
}

/* The framer over every prefix of the stream, as bytes trickle in: need
 * more until a frame is whole, then the frame; and a receive buffer split
 * in two at every offset gives the same frames. */
static void trickle(const uint8_t *p, size_t len, unsigned flags, const struct frame_list *want)
{
	struct stun_frame f;
	size_t off = 0;
	for (size_t i = 0; i < want->n; i++) {
		for (size_t k = 0; k < want->len[i]; k++) {
			uint8_t *q = exact_copy(p + off, k);
			stun_hdr_frame(q, k, STUN_MSG_MAX, flags, &f);
			ck_assert_msg(f.kind == STUN_FRAME_NEEDMORE, "frame %zu, %zu bytes: %d", i,
				      k, f.kind);
			ck_assert_uint_gt(f.len, k);
			ck_assert_uint_le(f.len, want->len[i]);
			free(q);
		}
		stun_hdr_frame(p + off, want->len[i], STUN_MSG_MAX, flags, &f);
		ck_assert_uint_eq(f.kind, want->kind[i]);
		ck_assert_uint_eq(f.len, want->len[i]);
		off += want->len[i];
	}
	for (size_t split = 0; split <= len; split++) {
		uint8_t buf[2048];
		size_t have = 0, used = 0, n = 0;
		for (int step = 0; step < 2; step++) {
			size_t add = step ? len - split : split;
			memcpy(buf + have, p + (step ? split : 0), add);
			have += add;
			for (;;) {
				stun_hdr_frame(buf + used, have - used, STUN_MSG_MAX, flags, &f);
				if (f.kind == STUN_FRAME_NEEDMORE)
					break;
				ck_assert_uint_eq(f.kind, want->kind[n]);
				ck_assert_uint_eq(f.len, want->len[n]);
				used += f.len;
				n++;
			}
		}
		ck_assert_uint_eq(n, want->n);
		ck_assert_uint_eq(used, len);
	}
}

static void ck_frame(const char *p, size_t len, size_t max, unsigned flags,
		     enum stun_frame_kind kind, enum stun_drop drop, size_t flen)
{
	struct stun_frame f;
	uint8_t *q = exact_copy(p, len);
	stun_hdr_frame(q, len, max, flags, &f);
	ck_assert_msg(f.kind == kind && f.drop == drop && f.len == flen,
		      "frame %d/%s/%zu, expected %d/%s/%zu", f.kind, stun_names_drop(f.drop),
		      f.len, kind, stun_names_drop(drop), flen);
	free(q);
}

START_TEST(test_stun_hdr_frame)
{
	static const char *const streams[] = { "coturn-tcp-stream-c2s.bin",
					       "coturn-tcp-stream-s2c.bin" };
	static const size_t frames[] = { 14, 13 };
	struct frame_list fl;
	struct stun_frame f;

	for (size_t s = 0; s < 2; s++) {
		size_t len;
		uint8_t *p = load(streams[s], &len);
		cut_stream(p, len, STUN_CHAN_RFC5766, &fl);
		ck_assert_uint_eq(fl.n, frames[s]);
		ck_assert_uint_eq(fl.kind[10], STUN_FRAME_CHANDATA);
		trickle(p, len, STUN_CHAN_RFC5766, &fl);
		/* turnutils_uclient's channel 0x705a is not an RFC 8656 one. */
		size_t at = 0;
		for (size_t i = 0; i < 10; i++)
			at += fl.len[i];
		stun_hdr_frame(p + at, len - at, STUN_MSG_MAX, 0, &f);
		ck_assert_uint_eq(f.kind, STUN_FRAME_GARBAGE);
		ck_assert_uint_eq(f.drop, STUN_DROP_BAD_CHANNEL);
	}

	/* Garbage: other first bytes, no cookie, a length not a multiple of
	 * 4, frames over the bound, reserved channels. */
	ck_frame("", 0, 100, 0, STUN_FRAME_NEEDMORE, STUN_DROP_NONE, 4);
	ck_frame("\x80", 1, 100, 0, STUN_FRAME_GARBAGE, STUN_DROP_NOT_STUN, 0);
	ck_frame("\x16\xfe\xfd\0", 4, 100, 0, STUN_FRAME_GARBAGE, STUN_DROP_NOT_STUN, 0);
	ck_frame("\0\1\0\0\x21\x12\xa4", 7, 100, 0, STUN_FRAME_NEEDMORE, STUN_DROP_NONE, 8);
	ck_frame("\0\1\0\0\x21\x12\xa4\x43", 8, 100, 0, STUN_FRAME_GARBAGE, STUN_DROP_NO_COOKIE, 0);
	ck_frame("\0\1\0\6", 4, 100, 0, STUN_FRAME_GARBAGE, STUN_DROP_BAD_LENGTH, 0);
	ck_frame("\0\1\0\x54", 4, 100, 0, STUN_FRAME_GARBAGE, STUN_DROP_TOO_LONG, 0);
	ck_frame("\0\1\0\x54\x21\x12\xa4\x42", 8, 104, 0, STUN_FRAME_NEEDMORE, STUN_DROP_NONE, 104);
	ck_frame("\x50\0\0\1", 4, 100, 0, STUN_FRAME_GARBAGE, STUN_DROP_BAD_CHANNEL, 0);
	ck_frame("\x50\0\0\1", 4, 100, STUN_CHAN_RFC5766, STUN_FRAME_NEEDMORE, STUN_DROP_NONE, 8);
	ck_frame("\x40\0\0\x61", 4, 100, 0, STUN_FRAME_GARBAGE, STUN_DROP_TOO_LONG, 0);
	ck_frame("\x40\0\0\0", 4, 100, 0, STUN_FRAME_CHANDATA, STUN_DROP_NONE, 4);
}
END_TEST

START_TEST(test_stun_hdr_chandata_decode)
{
	size_t len;
	uint8_t *p = load("coturn-channeldata-udp-c2s.bin", &len);
	uint8_t buf[128];
	struct stun_chandata cd;

	/* Over UDP coturn sends no padding; it may be there, nothing more. */
	ck_assert_uint_eq(len, 54);
	ck_assert_int_eq(stun_hdr_chandata_decode(p, len, 0, &cd), 0);
	ck_assert_uint_eq(cd.channel, 0x4cc3);
	ck_assert_uint_eq(cd.len, 50);
	ck_assert_ptr_eq(cd.data, p + 4);
	memcpy(buf, p, len);
	memset(buf + len, 0, 8);
	ck_assert_int_eq(stun_hdr_chandata_decode(buf, 56, 0, &cd), 0);
	ck_assert_uint_eq(cd.len, 50);
	ck_assert_int_eq(stun_hdr_chandata_decode(buf, 57, 0, &cd), PBX_E_TRAILING);
	ck_assert_uint_eq(cd.drop, STUN_DROP_TRAILING);
	ck_assert_int_eq(stun_hdr_chandata_decode(buf, 53, 0, &cd), PBX_E_TRUNCATED);
	ck_assert_uint_eq(cd.drop, STUN_DROP_TRUNCATED);
	ck_assert_int_eq(stun_hdr_chandata_decode(buf, 3, 0, &cd), PBX_E_TRUNCATED);
	/* On a stream the padding must be there. */
	ck_assert_int_eq(stun_hdr_chandata_decode(buf, 54, STUN_CHAN_STREAM, &cd), PBX_E_TRUNCATED);
	ck_assert_int_eq(stun_hdr_chandata_decode(buf, 56, STUN_CHAN_STREAM, &cd), 0);

	p = load("coturn-channeldata-udp-s2c.bin", &len);
	ck_assert_int_eq(stun_hdr_chandata_decode(p, len, 0, &cd), PBX_E_MALFORMED);
	ck_assert_uint_eq(cd.drop, STUN_DROP_BAD_CHANNEL);
	ck_assert_int_eq(stun_hdr_chandata_decode(p, len, STUN_CHAN_RFC5766, &cd), 0);
	ck_assert_uint_eq(cd.channel, 0x7ab4);

	ck_assert_int_eq(stun_hdr_chandata_decode("\x3f\xff\0\0", 4, 0, &cd), PBX_E_MALFORMED);
	ck_assert_int_eq(stun_hdr_chandata_decode("\x40\0\0\0", 4, STUN_CHAN_STREAM, &cd), 0);
	ck_assert_uint_eq(cd.len, 0);

	/* Encoding, both ways. */
	struct pbx_writer w;
	pbx_writer_init(&w, buf, sizeof buf);
	ck_assert_int_eq(stun_hdr_chandata_encode(&w, 0x4001, "hello", 5, 0), 0);
	ck_assert_uint_eq(pbx_writer_len(&w), 9);
	ck_assert_mem_eq(buf, "\x40\x01\0\5hello", 9);
	pbx_writer_init(&w, buf, sizeof buf);
	ck_assert_int_eq(stun_hdr_chandata_encode(&w, 0x4001, "hello", 5, STUN_CHAN_STREAM), 0);
	ck_assert_uint_eq(pbx_writer_len(&w), 12);
	ck_assert_mem_eq(buf, "\x40\x01\0\5hello\0\0\0", 12);
	ck_assert_int_eq(stun_hdr_chandata_decode(buf, 12, STUN_CHAN_STREAM, &cd), 0);
	ck_assert_uint_eq(cd.len, 5);
	ck_assert_int_eq(stun_hdr_chandata_encode(&w, 0x5000, "x", 1, 0), PBX_E_INVALID);
	ck_assert_int_eq(stun_hdr_chandata_encode(&w, 0x5000, "x", 1, STUN_CHAN_RFC5766), 0);
	pbx_writer_init(&w, buf, 8);
	ck_assert_int_eq(stun_hdr_chandata_encode(&w, 0x4001, "hello", 5, 0), PBX_E_NOSPACE);
}
END_TEST

/* Every vector cut short at every byte is a clean error, and so is any
 * byte added. */
START_TEST(test_stun_msg_decode_truncated)
{
	char dir[PATH_MAX];
	DIR *d = open_vectors(dir, sizeof dir);
	struct dirent *de;
	unsigned files = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name), len;
		if (n < 4 || strcmp(de->d_name + n - 4, ".bin") != 0)
			continue;
		files++;
		uint8_t *p = load(de->d_name, &len);
		bool chan = strstr(de->d_name, "channeldata") != NULL;
		bool stream = strstr(de->d_name, "stream") != NULL;
		bool classic = strstr(de->d_name, "classic") != NULL;
		for (size_t k = 0; k < len; k++) {
			struct stun_msg m;
			struct stun_chandata cd;
			struct stun_frame f;
			uint8_t *q = exact_copy(p, k);
			if (chan) {
				int rc = stun_hdr_chandata_decode(q, k, STUN_CHAN_RFC5766, &cd);
				ck_assert_int_eq(rc, PBX_E_TRUNCATED);
			} else if (!stream) {
				ck_assert_int_eq(stun_msg_decode(&m, q, k), PBX_E_TRUNCATED);
				ck_assert_uint_eq(m.drop, STUN_DROP_TRUNCATED);
				stun_hdr_frame(q, k, STUN_MSG_MAX, 0, &f);
				ck_assert_uint_eq(f.kind, classic && k >= 8 ?
						  STUN_FRAME_GARBAGE : STUN_FRAME_NEEDMORE);
			}
			free(q);
		}
		if (!chan && !stream) {
			uint8_t *q = malloc(len + 4);
			memcpy(q, p, len);
			memset(q + len, 0, 4);
			for (size_t k = 1; k <= 4; k++) {
				struct stun_msg m;
				ck_assert_int_eq(stun_msg_decode(&m, q, len + k), PBX_E_TRAILING);
			}
			free(q);
		}
	}
	closedir(d);
	ck_assert_uint_ge(files, 25);
}
END_TEST

/* ---- encoder errors ---- */

START_TEST(test_stun_msg_init_errors)
{
	uint8_t buf[64];
	struct stun_enc e;
	struct stun_key k = short_key("pw");
	struct pbx_addr none;
	size_t n;

	ck_assert_int_eq(stun_msg_init(&e, buf, 19, 0x0001, tid_test, STUN_KIND_RFC5389),
			 PBX_E_NOSPACE);
	ck_assert_int_eq(stun_msg_finish(&e, &n), PBX_E_NOSPACE);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(stun_msg_init(&e, buf, 64, 0x4001, tid_test, STUN_KIND_RFC5389),
			 PBX_E_INVALID);
	ck_assert_int_eq(stun_msg_init(&e, buf, 64, 0x0401, tid_test, STUN_KIND_RFC5389),
			 PBX_E_INVALID);

	/* The buffer fills: sticky, and nothing past it. */
	memset(buf, 0xee, sizeof buf);
	stun_msg_init(&e, buf, 40, 0x0001, tid_test, STUN_KIND_RFC5389);
	ck_assert_int_eq(stun_attr_put_text(&e, STUN_A_SOFTWARE, "0123456789ab", 12), 0);
	ck_assert_int_eq(stun_attr_put_u32(&e, STUN_A_PRIORITY, 1), PBX_E_NOSPACE);
	ck_assert_int_eq(stun_attr_put_empty(&e, STUN_A_USE_CANDIDATE), PBX_E_NOSPACE);
	ck_assert_int_eq(stun_msg_finish(&e, &n), PBX_E_NOSPACE);
	ck_assert_uint_eq(buf[40], 0xee);

	/* Order: only -SHA256 and FINGERPRINT after MESSAGE-INTEGRITY,
	 * nothing after FINGERPRINT. */
	stun_msg_init(&e, buf, 64, 0x0001, tid_test, STUN_KIND_RFC5389);
	stun_integrity_put(&e, &k);
	ck_assert_int_eq(stun_attr_put_u32(&e, STUN_A_PRIORITY, 1), PBX_E_INVALID);
	stun_msg_init(&e, buf, 64, 0x0001, tid_test, STUN_KIND_RFC5389);
	stun_integrity_put(&e, &k);
	ck_assert_int_eq(stun_integrity_put(&e, &k), PBX_E_INVALID);
	stun_msg_init(&e, buf, 64, 0x0001, tid_test, STUN_KIND_RFC5389);
	stun_integrity_put_fingerprint(&e);
	ck_assert_int_eq(stun_integrity_put_fingerprint(&e), PBX_E_INVALID);
	stun_msg_init(&e, buf, 64, 0x0001, tid_test, STUN_KIND_RFC5389);
	stun_integrity_put_fingerprint(&e);
	ck_assert_int_eq(stun_attr_put_raw(&e, 0x8888, "x", 1), PBX_E_INVALID);

	/* Kinds and values. */
#define ck_fresh_invalid(call)                                                     \
	do {                                                                       \
		stun_msg_init(&e, buf, 64, 0x0001, tid_test, STUN_KIND_RFC5389);   \
		ck_assert_int_eq((call), PBX_E_INVALID);                           \
	} while (0)
	memset(&none, 0, sizeof none);
	ck_fresh_invalid(stun_attr_put_u32(&e, STUN_A_USERNAME, 1));
	ck_fresh_invalid(stun_attr_put_text(&e, STUN_A_PRIORITY, "abcd", 4));
	ck_fresh_invalid(stun_attr_put_text(&e, 0x7001, "abcd", 4));
	ck_fresh_invalid(stun_attr_put_error(&e, 299, NULL));
	ck_fresh_invalid(stun_attr_put_error(&e, 700, NULL));
	ck_fresh_invalid(stun_attr_put_change_request(&e, 1));
	ck_fresh_invalid(stun_attr_put_addr(&e, STUN_A_MAPPED_ADDRESS, &none));
	ck_fresh_invalid(stun_attr_put_family(&e, STUN_A_LIFETIME, 1));
	ck_fresh_invalid(stun_attr_put_empty(&e, STUN_A_DATA));
	ck_fresh_invalid(stun_integrity_put_sha256(&e, &k, 20 + 1));
#undef ck_fresh_invalid
	static const struct stun_pwalg alg = { 1, { NULL, 0 } };
	stun_msg_init(&e, buf, 64, 0x0001, tid_test, STUN_KIND_RFC5389);
	ck_assert_int_eq(stun_attr_put_password_algorithm(&e, &alg), 0);
	ck_assert_int_eq(stun_msg_finish(&e, &n), 0);
	ck_assert_uint_eq(n, 28);

	/* An unknown error code gets an empty reason. */
	stun_msg_init(&e, buf, 64, 0x0111, tid_test, STUN_KIND_RFC5389);
	ck_assert_int_eq(stun_attr_put_error(&e, 499, NULL), 0);
	ck_assert_int_eq(stun_msg_finish(&e, &n), 0);
	ck_assert_uint_eq(n, 28);
}
END_TEST

/* ---- names ---- */

START_TEST(test_stun_names)
{
	ck_assert_str_eq(stun_names_method(STUN_BINDING), "Binding");
	ck_assert_str_eq(stun_names_method(STUN_CHANNEL_BIND), "ChannelBind");
	ck_assert_str_eq(stun_names_method(STUN_CREATE_PERMISSION), "CreatePermission");
	ck_assert_ptr_null(stun_names_method(0x005));
	ck_assert_str_eq(stun_names_class(STUN_ERROR), "error response");
	ck_assert_str_eq(stun_names_class(STUN_INDICATION), "indication");
	ck_assert_str_eq(stun_names_attr(STUN_A_XOR_RELAYED_ADDRESS), "XOR-RELAYED-ADDRESS");
	ck_assert_str_eq(stun_names_attr(STUN_A_MESSAGE_INTEGRITY_SHA256),
			 "MESSAGE-INTEGRITY-SHA256");
	ck_assert_ptr_null(stun_names_attr(0x7001));
	/* Every type the codec reads has a name, and only those. */
	for (unsigned t = 0; t <= 0xffff; t++)
		ck_assert_msg((stun_attr_kind((uint16_t)t) != STUN_K_UNKNOWN) ==
			      (stun_names_attr((uint16_t)t) != NULL), "type %#x", t);

	ck_assert_str_eq(stun_names_error(400), "Bad Request");
	ck_assert_str_eq(stun_names_error(401), "Unauthenticated");
	ck_assert_str_eq(stun_names_error(420), "Unknown Attribute");
	ck_assert_str_eq(stun_names_error(438), "Stale Nonce");
	ck_assert_str_eq(stun_names_error(441), "Wrong Credentials");
	ck_assert_str_eq(stun_names_error(487), "Role Conflict");
	ck_assert_str_eq(stun_names_error(508), "Insufficient Capacity");
	ck_assert_ptr_null(stun_names_error(499));

	for (int i = 0; i < STUN_DROP_COUNT; i++) {
		const char *a = stun_names_drop((enum stun_drop)i);
		ck_assert_str_ne(a, "unknown");
		for (int j = 0; j < i; j++)
			ck_assert_str_ne(a, stun_names_drop((enum stun_drop)j));
	}
	ck_assert_str_eq(stun_names_drop(STUN_DROP_TRUNCATED), "truncated");
	ck_assert_str_eq(stun_names_drop(STUN_DROP_COUNT), "unknown");
}
END_TEST

/* ---- server URIs ---- */

static struct stun_uri uri_ok(const char *text, enum stun_uri_scheme def)
{
	struct stun_uri u;
	struct pbx_err err;
	pbx_err_clear(&err);
	int rc = stun_uri_parse(pbx_span_cstr(text), def, &u, &err);
	ck_assert_msg(rc == 0, "%s: %s", text, pbx_err_text(&err));
	return u;
}

static void uri_refused(const char *text, const char *why)
{
	struct stun_uri u;
	struct pbx_err err;
	pbx_err_clear(&err);
	ck_assert_int_eq(stun_uri_parse(pbx_span_cstr(text), STUN_URI_STUN, &u, &err),
			 PBX_E_INVALID);
	ck_assert_msg(strstr(err.msg, why), "%s: '%s' lacks '%s'", text, err.msg, why);
}

static void uri_canon(const char *text, enum stun_uri_scheme def, const char *want)
{
	struct stun_uri u = uri_ok(text, def), v;
	char buf[STUN_URI_TEXT_MAX];
	ck_assert_int_eq(stun_uri_format(&u, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, want);
	/* The canonical form parses to the same URI. */
	v = uri_ok(buf, STUN_URI_STUN);
	ck_assert_int_eq(v.scheme, u.scheme);
	ck_assert_int_eq(v.transport, u.transport);
	ck_assert_int_eq(v.port, u.port);
	ck_assert_str_eq(v.host, u.host);
	ck_assert_int_eq(v.is_ip, u.is_ip);
	if (u.is_ip)
		ck_assert(pbx_addr_equal(&u.addr, &v.addr));
	/* One byte short is refused, not cut. */
	ck_assert_int_eq(stun_uri_format(&u, buf, strlen(want)), PBX_E_NOSPACE);
}

START_TEST(test_stun_uri_parse)
{
	/* RFC 7064 and RFC 7065 examples and defaults. */
	struct stun_uri u = uri_ok("stun:example.org", STUN_URI_TURN);
	ck_assert_int_eq(u.scheme, STUN_URI_STUN);
	ck_assert_int_eq(u.transport, STUN_URI_UDP);
	ck_assert_int_eq(u.port, 3478);
	ck_assert(!u.port_given && !u.is_ip);
	ck_assert_str_eq(u.host, "example.org");

	u = uri_ok("stuns:example.org", STUN_URI_STUN);
	ck_assert_int_eq(u.transport, STUN_URI_TLS);
	ck_assert_int_eq(u.port, 5349);

	u = uri_ok("turn:example.org?transport=tcp", STUN_URI_STUN);
	ck_assert_int_eq(u.scheme, STUN_URI_TURN);
	ck_assert_int_eq(u.transport, STUN_URI_TCP);
	ck_assert(stun_uri_is_turn(&u));

	u = uri_ok("TURNS:127.0.0.1:5350?Transport=TCP", STUN_URI_STUN);
	ck_assert_int_eq(u.scheme, STUN_URI_TURNS);
	ck_assert_int_eq(u.transport, STUN_URI_TLS);
	ck_assert(u.is_ip && u.port_given);
	ck_assert_int_eq(pbx_addr_port(&u.addr), 5350);

	u = uri_ok("turn:[::1]:3479?transport=udp", STUN_URI_STUN);
	ck_assert(u.is_ip);
	ck_assert_int_eq(pbx_addr_family(&u.addr), AF_INET6);
	ck_assert_int_eq(pbx_addr_port(&u.addr), 3479);
	ck_assert_str_eq(u.host, "::1");

	/* Without a scheme, the caller's default. */
	u = uri_ok("198.18.1.1:3490", STUN_URI_TURN);
	ck_assert_int_eq(u.scheme, STUN_URI_TURN);
	ck_assert_int_eq(u.port, 3490);
	u = uri_ok("  turn.example.org  ", STUN_URI_TURNS);
	ck_assert_int_eq(u.port, 5349);
	ck_assert_int_eq(u.transport, STUN_URI_TLS);
	u = uri_ok("[2001:db8::1]", STUN_URI_STUN);
	ck_assert(!stun_uri_is_turn(&u));
}
END_TEST

START_TEST(test_stun_uri_format)
{
	uri_canon("stun:example.org", STUN_URI_STUN, "stun:example.org:3478");
	uri_canon("turn:127.0.0.1?transport=tcp", STUN_URI_STUN,
		  "turn:127.0.0.1:3478?transport=tcp");
	uri_canon("turn:127.0.0.1?transport=udp", STUN_URI_STUN, "turn:127.0.0.1:3478");
	uri_canon("turns:[2001:db8::1]?transport=tcp", STUN_URI_STUN,
		  "turns:[2001:db8::1]:5349");
	uri_canon("[::1]:3479", STUN_URI_TURN, "turn:[::1]:3479");
	uri_canon("stuns:a-b_c.example", STUN_URI_STUN, "stuns:a-b_c.example:5349");
}
END_TEST

START_TEST(test_stun_uri_refused)
{
	uri_refused("", "empty");
	uri_refused("   ", "empty");
	uri_refused("stun:", "no host");
	uri_refused("turn:host:0", "1-65535");
	uri_refused("turn:host:65536", "1-65535");
	uri_refused("turn:host:", "1-65535");
	uri_refused("turn:host:3x", "1-65535");
	uri_refused("stun:host?transport=tcp", "no '?' query");
	uri_refused("turn:host?transport=sctp", "unknown transport");
	uri_refused("turn:host?proto=tcp", "only query");
	uri_refused("turns:host?transport=udp", "DTLS");
	uri_refused("turn://host", "no '//'");
	uri_refused("turn:::1", "brackets");
	uri_refused("turn:[::1", "without ']'");
	uri_refused("turn:[::1]x", "after ']'");
	uri_refused("turn:[1.2.3.4]", "not an IPv6");
	uri_refused("turn:host name", "character");
	uri_refused("turn:h%41st", "character");
	uri_refused("turn:1.2.3.400", "not an IPv4");
	char longname[300];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	uri_refused(longname, "longer than");
}
END_TEST

static Suite *stun_suite(void)
{
	Suite *s = suite_create("stun");
	TCase *tc = tcase_create("stun");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, NULL, free_held);
	tcase_add_test(tc, test_stun_hdr_type);
	tcase_add_test(tc, test_stun_hdr_channel_valid);
	tcase_add_test(tc, test_stun_msg_decode_rfc5769_request);
	tcase_add_test(tc, test_stun_msg_decode_rfc5769_response_ipv4);
	tcase_add_test(tc, test_stun_msg_decode_rfc5769_response_ipv6);
	tcase_add_test(tc, test_stun_msg_decode_rfc5769_long_term);
	tcase_add_test(tc, test_stun_msg_init_rfc5769);
	tcase_add_test(tc, test_stun_msg_init_zero_padding);
	tcase_add_test(tc, test_stun_integrity_key_long);
	tcase_add_test(tc, test_stun_integrity_prep_ok);
	tcase_add_test(tc, test_stun_integrity_userhash);
	tcase_add_test(tc, test_stun_integrity_crc32);
	tcase_add_test(tc, test_stun_integrity_nonce_features);
	tcase_add_test(tc, test_stun_integrity_put_sha256);
	tcase_add_test(tc, test_stun_integrity_put_long_term_sha256);
	tcase_add_test(tc, test_stun_integrity_check_tamper);
	tcase_add_test(tc, test_stun_attr_roundtrip);
	tcase_add_test(tc, test_stun_attr_put_text_bounds);
	tcase_add_test(tc, test_stun_attr_malformed);
	tcase_add_test(tc, test_stun_msg_decode_padding);
	tcase_add_test(tc, test_stun_msg_decode_length);
	tcase_add_test(tc, test_stun_msg_decode_too_many_attrs);
	tcase_add_test(tc, test_stun_msg_decode_unknown);
	tcase_add_test(tc, test_stun_msg_decode_after_integrity);
	tcase_add_test(tc, test_stun_msg_decode_classic);
	tcase_add_test(tc, test_stun_msg_decode_stunclient);
	tcase_add_test(tc, test_stun_msg_decode_coturn);
	tcase_add_test(tc, test_stun_msg_init_coturn);
	tcase_add_test(tc, test_stun_msg_find);
	tcase_add_test(tc, test_stun_hdr_frame);
	tcase_add_test(tc, test_stun_hdr_chandata_decode);
	tcase_add_test(tc, test_stun_msg_decode_truncated);
	tcase_add_test(tc, test_stun_msg_init_errors);
	tcase_add_test(tc, test_stun_names);
	tcase_add_test(tc, test_stun_uri_parse);
	tcase_add_test(tc, test_stun_uri_format);
	tcase_add_test(tc, test_stun_uri_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(stun_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
