/* test_ldap.c - unit tests for the LDAP inspector of lib/inspect/ldap.c:
 * request, reply and refuse over messages captured from ldapwhoami,
 * ldapsearch and slapd, and hand-written BER edge cases
 * (tests/vectors/ldap/, described in its README). */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pbxedge/err.h>
#include <pbxedge/inspect.h>

#include "inspect_harness.h"
#include "vectors.h"
#include "span_check.h"

#define MAX_HEAD 4096

static const struct pbx_inspector *ldap(void)
{
	const struct pbx_inspector *in = pbx_inspector_for(STORE_FAMILY_LDAP);
	ck_assert_ptr_nonnull(in);
	return in;
}

/* ---- vectors ---- */

/* tests/vectors/ldap/NAME.bin (see vectors.h). */
static uint8_t *load(const char *name, size_t *len)
{
	char file[256];
	snprintf(file, sizeof file, "%s.bin", name);
	return vector_load("ldap", file, len);
}



static bool span_inside(struct pbx_span s, const void *base, size_t n)
{
	const uint8_t *p = (const uint8_t *)s.p, *b = base;
	return s.len == 0 || (p >= b && p <= b + n && s.len <= (size_t)(b + n - p));
}

/* A small bind ("a\b", no password) with the given messageID, to have a
 * state expect the BindResponse that answers it. */
static void feed_bind(void *st, uint32_t msgid)
{
	uint8_t m[] = { 0x30, 0x12, 0x02, 0x04, (uint8_t)(msgid >> 24), (uint8_t)(msgid >> 16),
			(uint8_t)(msgid >> 8), (uint8_t)msgid, 0x60, 0x0a, 0x02, 0x01, 0x03,
			0x04, 0x03, 'a', '\\', 'b', 0x80, 0x00 };
	struct pbx_verdict v;
	memset(&v, 0, sizeof v);
	ldap()->request(st, m, sizeof m, &v);
	ck_assert_int_eq(v.kind, PBX_V_ROUTE);
}

/* The binds the captured replies answer: messageIDs 1 and 2. */
static void prepare_binds(void *st)
{
	feed_bind(st, 1);
	feed_bind(st, 2);
}

/* ---- a feeding check for names kept in the state ----
 *
 * harness_request compares spans by their offset in the input, which
 * means nothing for a name joined in the state ("DC=example,DC=com"):
 * this does the same feeding (whole, byte by byte, every split) and
 * compares such spans by content. */

static void same_span(struct pbx_span a, const uint8_t *abuf, size_t alen, const void *ast,
		      struct pbx_span b, const uint8_t *bbuf, size_t blen, const void *bst,
		      const char *how)
{
	size_t ssz = ldap()->state_size;
	ck_assert_msg(a.len == b.len, "%s: span length %zu vs %zu", how, a.len, b.len);
	if (a.len == 0)
		return;
	bool a_in = span_inside(a, abuf, alen), b_in = span_inside(b, bbuf, blen);
	ck_assert_msg(a_in || span_inside(a, ast, ssz), "%s: span outside input and state", how);
	ck_assert_msg(b_in || span_inside(b, bst, ssz), "%s: span outside input and state", how);
	ck_assert_msg(a_in == b_in, "%s: span in input in one, in state in the other", how);
	if (a_in)
		ck_assert_msg((const uint8_t *)a.p - abuf == (const uint8_t *)b.p - bbuf,
			      "%s: span position", how);
	ck_assert_msg(memcmp(a.p, b.p, a.len) == 0, "%s: span content", how);
}

static void same_verdict(const struct pbx_verdict *a, const uint8_t *abuf, size_t alen,
			 const void *ast, const struct pbx_verdict *b, const uint8_t *bbuf,
			 size_t blen, const void *bst, const char *how)
{
	ck_assert_msg(a->kind == b->kind, "%s: kind %d vs %d", how, a->kind, b->kind);
	ck_assert_msg(a->reason == b->reason, "%s: reason", how);
	ck_assert_msg(a->offset == b->offset, "%s: offset", how);
	ck_assert_msg(a->head_len == b->head_len && a->body == b->body &&
			      a->body_len == b->body_len && a->flags == b->flags,
		      "%s: framing", how);
	same_span(a->name, abuf, alen, ast, b->name, bbuf, blen, bst, how);
	same_span(a->user, abuf, alen, ast, b->user, bbuf, blen, bst, how);
}

/* Check that feeding whole, byte by byte and split gives one verdict, and
 * return the whole one in *out with the state (caller frees) it was made
 * in, and the input copy its spans point into. */
static void feed_request(const void *buf, size_t len, size_t max_head, struct pbx_verdict *out,
			 void **out_state, uint8_t **out_copy, size_t *decided_at)
{
	const struct pbx_inspector *in = ldap();
	uint8_t *whole = malloc(len);
	memcpy(whole, buf, len);
	void *wst = harness_state(in, max_head);
	memset(out, 0, sizeof *out);
	in->request(wst, whole, len, out);

	void *st = harness_state(in, max_head);
	size_t k0 = 0;
	for (size_t k = 1; k <= len && !k0; k++) {
		uint8_t *c = malloc(k);
		memcpy(c, buf, k);
		struct pbx_verdict v;
		memset(&v, 0, sizeof v);
		in->request(st, c, k, &v);
		if (v.kind != PBX_V_NEED_MORE) {
			same_verdict(&v, c, k, st, out, whole, len, wst, "byte by byte");
			k0 = k;
		}
		free(c);
	}
	free(st);
	ck_assert_msg((k0 != 0) == (out->kind != PBX_V_NEED_MORE), "byte by byte");

	for (size_t s = 1; s < len; s++) {
		st = harness_state(in, max_head);
		uint8_t *c = malloc(s);
		memcpy(c, buf, s);
		struct pbx_verdict v;
		memset(&v, 0, sizeof v);
		in->request(st, c, s, &v);
		free(c);
		if (v.kind == PBX_V_NEED_MORE) {
			uint8_t *d = malloc(len);
			memcpy(d, buf, len);
			memset(&v, 0, sizeof v);
			in->request(st, d, len, &v);
			same_verdict(&v, d, len, st, out, whole, len, wst, "split");
			free(d);
		} else {
			ck_assert_msg(s >= k0, "split at %zu decided before byte by byte", s);
		}
		free(st);
	}
	*out_state = wst;
	*out_copy = whole;
	if (decided_at)
		*decided_at = k0;
}

/* ---- request ---- */

struct req_case {
	const char *file;
	enum pbx_verdict_kind kind;
	enum pbx_reason reason;
	size_t offset;         /* PBX_V_REFUSE */
	size_t head_len;       /* PBX_V_PASS (PBX_V_ROUTE: the whole file) */
	unsigned flags;
	const char *name;      /* PBX_V_ROUTE */
	const char *user;
	bool joined;           /* the name is kept in the state */
};

#define ROUTE(f, fl, n, u, j) { f, PBX_V_ROUTE, PBX_R_NONE, 0, 0, fl, n, u, j }
#define PASS(f, h, fl) { f, PBX_V_PASS, PBX_R_NONE, 0, h, fl, NULL, NULL, false }
#define REFUSE(f, r, o) { f, PBX_V_REFUSE, r, o, 0, 0, NULL, NULL, false }
#define RQ PBX_VF_REQUEST
#define CRED (PBX_VF_REQUEST | PBX_VF_CREDENTIALS)

static const struct req_case req_cases[] = {
	/* Captured from ldapwhoami, ldapsearch and the ldap tools. */
	ROUTE("req-bind-domain-user", CRED, "example.com", "ckl", false),
	ROUTE("req-bind-dn", CRED, "example.com", "ckl", true),
	ROUTE("req-bind-dn-spaces", CRED, "example.com", "ckl", true),
	ROUTE("req-bind-dn-wrong-password", CRED, "example.com", "ckl", true),
	ROUTE("req-bind-upn", CRED, "example.com", "ckl", false),
	ROUTE("req-bind-admin", CRED, "example.com", "admin", true),
	REFUSE("req-bind-anonymous", PBX_R_NO_NAME, 10),
	REFUSE("req-bind-sasl-digest-start", PBX_R_NO_NAME, 10),
	REFUSE("req-bind-sasl-digest-response", PBX_R_NO_NAME, 14),
	PASS("req-whoami", 2, RQ),
	PASS("req-unbind", 2, RQ | PBX_VF_CLOSE),
	PASS("req-search", 2, RQ),
	PASS("req-search-sss-critical", 2, RQ),
	PASS("req-search-paged", 2, RQ),
	PASS("req-add", 2, RQ),
	PASS("req-modify", 2, RQ),
	PASS("req-compare", 2, RQ),
	PASS("req-moddn", 2, RQ),
	PASS("req-delete", 2, RQ),
	PASS("req-passwd-modify", 2, RQ),
	REFUSE("req-starttls", PBX_R_UNSUPPORTED, 5),
	/* Hand-written. */
	ROUTE("req-bind-long-form-84", CRED, "example.com", "ckl", true),
	ROUTE("req-bind-long-form-81", CRED, "example.com", "ckl", true),
	REFUSE("req-bind-length-5-octets", PBX_R_MALFORMED, 1),
	REFUSE("req-bind-length-indefinite", PBX_R_MALFORMED, 1),
	REFUSE("req-bind-length-2g", PBX_R_MALFORMED, 1),
	REFUSE("req-bind-length-ff", PBX_R_MALFORMED, 1),
	REFUSE("req-bind-op-overruns-message", PBX_R_MALFORMED, 5),
	REFUSE("req-bind-name-overruns-op", PBX_R_MALFORMED, 10),
	REFUSE("req-bind-password-overruns-op", PBX_R_MALFORMED, 36),
	REFUSE("req-bind-trailing-in-op", PBX_R_MALFORMED, 40),
	REFUSE("req-bind-trailing-in-message", PBX_R_MALFORMED, 40),
	REFUSE("req-bind-name-constructed", PBX_R_MALFORMED, 10),
	ROUTE("req-bind-version-2", CRED, "example.com", "ckl", true),
	REFUSE("req-bind-version-4", PBX_R_UNSUPPORTED, 5),
	REFUSE("req-bind-version-0", PBX_R_MALFORMED, 7),
	REFUSE("req-bind-kerberos-v4", PBX_R_UNSUPPORTED, 5),
	REFUSE("req-bind-sicily-negotiate", PBX_R_UNSUPPORTED, 5),
	REFUSE("req-bind-auth-universal", PBX_R_MALFORMED, 36),
	ROUTE("req-bind-msgid-max", CRED, "example.com", "ckl", true),
	REFUSE("req-bind-msgid-negative", PBX_R_MALFORMED, 2),
	REFUSE("req-bind-msgid-5-octets", PBX_R_MALFORMED, 2),
	REFUSE("req-bind-msgid-empty", PBX_R_MALFORMED, 2),
	REFUSE("req-bind-msgid-zero", PBX_R_MALFORMED, 2),
	ROUTE("req-bind-msgid-leading-zero", CRED, "example.com", "ckl", true),
	REFUSE("req-bind-dn-escape-in-dc", PBX_R_NO_NAME, 10),
	ROUTE("req-bind-dn-escape-in-cn", CRED, "example.com", "Kl\\, C", true),
	REFUSE("req-bind-dn-no-dc", PBX_R_NO_NAME, 10),
	ROUTE("req-bind-dn-one-dc", CRED, "example.com", "", false),
	REFUSE("req-bind-dn-empty-dc", PBX_R_NO_NAME, 10),
	REFUSE("req-bind-dn-trailing-comma", PBX_R_NO_NAME, 10),
	ROUTE("req-bind-dn-multivalued", CRED, "Example.COM", "ckl", true),
	REFUSE("req-bind-empty-domain", PBX_R_NO_NAME, 10),
	REFUSE("req-bind-bare-user", PBX_R_NO_NAME, 10),
	ROUTE("req-bind-domain-user-no-password", RQ, "hq.example.com", "ldap-guest", false),
	ROUTE("req-bind-sasl-plain-named", CRED, "example.com", "ckl", false),
	REFUSE("req-bind-sasl-trailing", PBX_R_MALFORMED, 39),
	ROUTE("req-bind-control", CRED, "example.com", "ckl", true),
	ROUTE("req-bind-control-false", CRED, "example.com", "ckl", true),
	REFUSE("req-bind-control-bad-boolean", PBX_R_MALFORMED, 51),
	REFUSE("req-bind-high-tag", PBX_R_MALFORMED, 5),
	REFUSE("req-op-response-from-client", PBX_R_MALFORMED, 5),
	REFUSE("req-unbind-not-empty", PBX_R_MALFORMED, 5),
	PASS("req-abandon", 2, RQ),
	REFUSE("req-starttls-with-value", PBX_R_UNSUPPORTED, 5),
	REFUSE("req-starttls-trailing", PBX_R_MALFORMED, 31),
	REFUSE("req-extended-no-name", PBX_R_MALFORMED, 7),
	PASS("req-search-long-form-84", 6, RQ),
	REFUSE("req-http", PBX_R_MALFORMED, 0),
	REFUSE("req-outer-set", PBX_R_MALFORMED, 0),
};

START_TEST(test_ldap_request_vectors)
{
	const struct req_case *c = &req_cases[_i];
	size_t len;
	uint8_t *b = load(c->file, &len);
	struct pbx_verdict v;
	void *st;
	uint8_t *copy;
	size_t at;

	feed_request(b, len, MAX_HEAD, &v, &st, &copy, &at);
	ck_assert_msg(v.kind == c->kind, "%s: kind %d, reason %s at %zu", c->file, v.kind,
		      pbx_reason_name(v.reason), v.offset);
	if (!c->joined) {
		/* The shared harness as well, where every span is in the input. */
		struct pbx_verdict hv;
		harness_request(ldap(), b, len, MAX_HEAD, &hv, NULL);
		ck_assert_int_eq(hv.kind, c->kind);
	}
	switch (c->kind) {
	case PBX_V_REFUSE:
		ck_assert_msg(v.reason == c->reason, "%s: reason %s", c->file,
			      pbx_reason_name(v.reason));
		ck_assert_msg(v.offset == c->offset, "%s: offset %zu", c->file, v.offset);
		break;
	case PBX_V_ROUTE:
		/* A bind is held whole: need more until its last byte. */
		ck_assert_uint_eq(at, len);
		ck_assert_uint_eq(v.head_len, len);
		ck_assert_int_eq(v.body, PBX_BODY_NONE);
		ck_assert_uint_eq(v.flags, c->flags);
		ck_assert_span(v.name, c->name);
		ck_assert_span(v.user, c->user);
		ck_assert_msg(span_inside(v.name, st, ldap()->state_size) == c->joined &&
				      span_inside(v.name, copy, len) == !c->joined,
			      "%s: name in the %s", c->file, c->joined ? "input" : "state");
		ck_assert(span_inside(v.user, copy, len));
		break;
	case PBX_V_PASS:
		ck_assert_uint_eq(v.head_len, c->head_len);
		ck_assert_int_eq(v.body, PBX_BODY_LENGTH);
		ck_assert_uint_eq(v.head_len + v.body_len, len);
		ck_assert_uint_eq(v.flags, c->flags);
		ck_assert_uint_eq(v.name.len, 0);
		break;
	default:
		ck_abort_msg("%s: unexpected kind", c->file);
	}
	free(st);
	free(copy);
	free(b);
}
END_TEST

/* A bind cut short at every byte, its outer length set to what is left:
 * an element then runs past its parent, which pbx_read_sub refuses. */
START_TEST(test_ldap_request_bind_truncated)
{
	static const char *const files[] = { "req-bind-domain-user", "req-bind-dn",
					     "req-bind-sasl-plain-named" };
	for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
		size_t len;
		uint8_t *b = load(files[f], &len);
		ck_assert_uint_eq(b[0], 0x30);
		ck_assert_uint_lt(b[1], 0x80);
		for (size_t k = 2; k < len; k++) {
			uint8_t *c = malloc(k);
			memcpy(c, b, k);
			c[1] = (uint8_t)(k - 2);
			struct pbx_verdict v;
			harness_request(ldap(), c, k, MAX_HEAD, &v, NULL);
			ck_assert_msg(v.kind == PBX_V_REFUSE && v.reason == PBX_R_MALFORMED,
				      "%s cut at %zu: kind %d reason %s", files[f], k, v.kind,
				      pbx_reason_name(v.reason));
			ck_assert_uint_le(v.offset, k);
			free(c);
		}
		free(b);
	}
}
END_TEST

/* A bind over max_head is refused from its length alone; a message not
 * decided within max_head bytes is too large at max_head. */
START_TEST(test_ldap_request_too_large)
{
	size_t len;
	uint8_t *b = load("req-bind-dn", &len);
	struct pbx_verdict v;
	size_t at;

	harness_request(ldap(), b, len, len - 1, &v, &at);
	ck_assert_int_eq(v.kind, PBX_V_REFUSE);
	ck_assert_int_eq(v.reason, PBX_R_TOO_LARGE);
	ck_assert_uint_eq(v.offset, 1);
	ck_assert_uint_eq(at, 7); /* as soon as the op's tag shows a bind */
	void *st;
	uint8_t *copy;
	feed_request(b, len, len, &v, &st, &copy, NULL);
	ck_assert_int_eq(v.kind, PBX_V_ROUTE);
	free(st);
	free(copy);
	/* Not even the head fits. */
	harness_request(ldap(), b, len, 4, &v, &at);
	ck_assert_int_eq(v.reason, PBX_R_TOO_LARGE);
	ck_assert_uint_eq(v.offset, 4);
	ck_assert_uint_eq(at, 4);
	free(b);

	/* A search is framed from its first bytes, however long it is. */
	b = load("req-search-paged", &len);
	harness_request(ldap(), b, len, 8, &v, &at);
	ck_assert_int_eq(v.kind, PBX_V_PASS);
	ck_assert_uint_eq(at, 7);
	free(b);

	/* So is an extended operation, once its requestName is in. */
	b = load("req-whoami", &len);
	harness_request(ldap(), b, len, 16, &v, NULL);
	ck_assert_int_eq(v.kind, PBX_V_REFUSE);
	ck_assert_int_eq(v.reason, PBX_R_TOO_LARGE);
	harness_request(ldap(), b, len, 32, &v, &at);
	ck_assert_int_eq(v.kind, PBX_V_PASS);
	ck_assert_uint_eq(at, 32);
	free(b);
}
END_TEST

/* The head of a long message: a search declared 2 GiB - 1 long needs 7
 * bytes to be framed; its messageID or op overrunning the declared
 * length is caught before the rest arrives. */
START_TEST(test_ldap_request_long_declared)
{
	static const uint8_t big[] = { 0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02, 0x01, 0x09,
				       0x63, 0x84, 0x7f, 0xff, 0xff, 0xf6 };
	static const uint8_t op_over[] = { 0x30, 0x0a, 0x02, 0x01, 0x09, 0x63, 0x06, 0x04 };
	static const uint8_t id_over[] = { 0x30, 0x02, 0x02, 0x04, 0x00 };
	struct pbx_verdict v;

	harness_request(ldap(), big, sizeof big, MAX_HEAD, &v, NULL);
	ck_assert_int_eq(v.kind, PBX_V_PASS);
	ck_assert_uint_eq(v.head_len, 6);
	ck_assert_uint_eq(v.body_len, 0x7fffffff);
	harness_request(ldap(), op_over, sizeof op_over, MAX_HEAD, &v, NULL);
	ck_assert_int_eq(v.kind, PBX_V_REFUSE);
	ck_assert_uint_eq(v.offset, 5);
	harness_request(ldap(), id_over, sizeof id_over, MAX_HEAD, &v, NULL);
	ck_assert_int_eq(v.kind, PBX_V_REFUSE);
	ck_assert_uint_eq(v.offset, 2);
}
END_TEST

/* A connection's requests one after another, as rpd advances past each:
 * ldapsearch's bind, search and unbind as one TCP stream. */
START_TEST(test_ldap_request_stream)
{
	static const char *const parts[] = { "req-bind-dn", "req-search", "req-unbind" };
	static const enum pbx_verdict_kind kinds[] = { PBX_V_ROUTE, PBX_V_PASS, PBX_V_PASS };
	uint8_t stream[512];
	size_t n = 0;
	for (size_t i = 0; i < 3; i++) {
		size_t len;
		uint8_t *b = load(parts[i], &len);
		ck_assert_uint_le(n + len, sizeof stream);
		memcpy(stream + n, b, len);
		n += len;
		free(b);
	}
	void *st = harness_state(ldap(), MAX_HEAD);
	size_t off = 0;
	for (size_t i = 0; i < 3; i++) {
		/* Everything that has arrived is given, not one message. */
		struct pbx_verdict v;
		memset(&v, 0, sizeof v);
		ldap()->request(st, stream + off, n - off, &v);
		ck_assert_int_eq(v.kind, kinds[i]);
		off += v.head_len + (v.body == PBX_BODY_LENGTH ? v.body_len : 0);
	}
	ck_assert_uint_eq(off, n);
	free(st);
}
END_TEST

/* One bind outstanding is the rule (RFC 4511 4.2.1); four are
 * tolerated, a fifth or a repeated messageID is not.  Answers free them. */
START_TEST(test_ldap_request_outstanding_binds)
{
	void *st = harness_state(ldap(), MAX_HEAD);
	for (uint32_t id = 1; id <= 4; id++)
		feed_bind(st, id);
	uint8_t m[] = { 0x30, 0x0f, 0x02, 0x01, 0x05, 0x60, 0x0a, 0x02, 0x01, 0x03,
			0x04, 0x03, 'a', '\\', 'b', 0x80, 0x00 };
	struct pbx_verdict v;
	ldap()->request(st, m, sizeof m, &v);
	ck_assert_int_eq(v.kind, PBX_V_REFUSE);
	ck_assert_int_eq(v.reason, PBX_R_MALFORMED);
	ck_assert_uint_eq(v.name.len, 0);

	static const uint8_t ok3[] = { 0x30, 0x0c, 0x02, 0x01, 0x03, 0x61, 0x07,
				       0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00 };
	struct pbx_reply r;
	ldap()->reply(st, ok3, sizeof ok3, &r);
	ck_assert_int_eq(r.kind, PBX_V_PASS);
	ldap()->request(st, m, sizeof m, &v);
	ck_assert_int_eq(v.kind, PBX_V_ROUTE);
	m[4] = 2; /* still outstanding */
	ldap()->request(st, m, sizeof m, &v);
	ck_assert_int_eq(v.kind, PBX_V_REFUSE);
	/* Each answer is taken once. */
	ldap()->reply(st, ok3, sizeof ok3, &r);
	ck_assert_int_eq(r.kind, PBX_V_REFUSE);
	free(st);
}
END_TEST

/* "DC=a,DC=b" is joined in the state and stays put until the next call;
 * a name that is one run of the input is pointed at there. */
START_TEST(test_ldap_request_joined_name)
{
	size_t len;
	uint8_t *b = load("req-bind-dn", &len);
	void *st = harness_state(ldap(), MAX_HEAD);
	struct pbx_verdict v;
	ldap()->request(st, b, len, &v);
	ck_assert_int_eq(v.kind, PBX_V_ROUTE);
	ck_assert(span_inside(v.name, st, ldap()->state_size));
	ck_assert_span(v.name, "example.com");
	ck_assert_ptr_eq(v.user.p, (const char *)b + 15);
	free(b);

	/* 127 labels of one letter: 253 bytes joined, the most there is. */
	uint8_t m[1024];
	size_t n = 0, dn_len = 127 * 5 - 1;
	const uint8_t hdr[] = { 0x30, 0x82, 0, 0, 0x02, 0x01, 0x07, 0x60, 0x82, 0, 0,
				0x02, 0x01, 0x03, 0x04, 0x82, (uint8_t)(dn_len >> 8),
				(uint8_t)dn_len };
	memcpy(m, hdr, sizeof hdr);
	n = sizeof hdr;
	for (int i = 0; i < 127; i++) {
		memcpy(m + n, i ? ",DC=x" : "DC=x", i ? 5 : 4);
		n += i ? 5 : 4;
	}
	m[n++] = 0x80;
	m[n++] = 0x00;
	m[2] = (uint8_t)((n - 4) >> 8);
	m[3] = (uint8_t)(n - 4);
	m[9] = (uint8_t)((n - 11) >> 8);
	m[10] = (uint8_t)(n - 11);
	ldap()->request(st, m, n, &v);
	ck_assert_int_eq(v.kind, PBX_V_ROUTE);
	ck_assert_uint_eq(v.name.len, 253);
	ck_assert(span_inside(v.name, st, ldap()->state_size));
	/* One more label is longer than any service name. */
	n -= 2;
	memcpy(m + n, ",DC=x", 5);
	n += 5;
	m[n++] = 0x80;
	m[n++] = 0x00;
	m[2] = (uint8_t)((n - 4) >> 8);
	m[3] = (uint8_t)(n - 4);
	m[9] = (uint8_t)((n - 11) >> 8);
	m[10] = (uint8_t)(n - 11);
	m[16] = (uint8_t)((dn_len + 5) >> 8);
	m[17] = (uint8_t)(dn_len + 5);
	m[6] = 0x08;
	ldap()->request(st, m, n, &v);
	ck_assert_msg(v.kind == PBX_V_REFUSE && v.reason == PBX_R_NO_NAME, "kind %d %s at %zu",
		      v.kind, pbx_reason_name(v.reason), v.offset);
	free(st);
}
END_TEST

/* ---- reply ---- */

struct reply_case {
	const char *file;
	enum pbx_verdict_kind kind;
	enum pbx_reason reason;
	int status;
	bool final;
	bool rejection;
	bool whole;            /* head_len is the whole message */
};

#define R_BIND(f, s, rej) { f, PBX_V_PASS, PBX_R_NONE, s, true, rej, true }
#define R_PASS(f, fin) { f, PBX_V_PASS, PBX_R_NONE, -1, fin, false, false }
#define R_BAD(f) { f, PBX_V_REFUSE, PBX_R_MALFORMED, -1, false, false, false }

static const struct reply_case reply_cases[] = {
	/* Captured from slapd. */
	R_BIND("resp-bind-success", 0, false),
	R_BIND("resp-bind-invalid-credentials", 49, true),
	R_BIND("resp-bind-invalid-dn-syntax", 34, false),
	R_BIND("resp-bind-sasl-in-progress", 14, false),
	R_BIND("resp-bind-sasl-invalid-credentials", 49, true),
	R_PASS("resp-whoami", true),
	R_PASS("resp-search-entry", false),
	R_PASS("resp-search-done", true),
	R_PASS("resp-search-done-critical-extension", true),
	R_PASS("resp-search-done-paged", true),
	R_PASS("resp-starttls-protocol-error", true),
	R_PASS("resp-add", true),
	R_PASS("resp-modify", true),
	R_PASS("resp-compare-true", true),
	R_PASS("resp-moddn", true),
	R_PASS("resp-delete", true),
	R_PASS("resp-passwd-modify", true),
	/* Hand-written. */
	R_BIND("resp-bind-long-form-84", 0, false),
	R_BIND("resp-bind-referral", 10, false),
	R_BAD("resp-bind-referral-empty"),
	R_BAD("resp-bind-creds-before-referral"),
	R_BAD("resp-bind-trailing"),
	R_BAD("resp-bind-code-negative"),
	R_BAD("resp-bind-msgid-unknown"),
	R_PASS("resp-notice-of-disconnection", false),
	R_BAD("resp-msgid-zero-bind"),
	R_BAD("resp-request-op-from-service"),
	R_PASS("resp-intermediate", false),
	R_PASS("resp-search-reference", false),
};

START_TEST(test_ldap_reply_vectors)
{
	const struct reply_case c = reply_cases[_i];
	size_t len;
	uint8_t *b = load(c.file, &len);
	struct pbx_reply r;

	harness_reply(ldap(), b, len, MAX_HEAD, prepare_binds, &r);
	ck_assert_msg(r.kind == c.kind, "%s: kind %d reason %s", c.file, r.kind,
		      pbx_reason_name(r.reason));
	ck_assert_int_eq(r.reason, c.reason);
	ck_assert_msg(r.status == c.status, "%s: status %d", c.file, r.status);
	if (c.kind == PBX_V_PASS) {
		ck_assert_msg(r.final == c.final, "%s: final", c.file);
		ck_assert_msg(r.rejection == c.rejection, "%s: rejection", c.file);
		ck_assert_uint_eq(r.flags, 0);
		if (c.whole) {
			ck_assert_uint_eq(r.head_len, len);
			ck_assert_int_eq(r.body, PBX_BODY_NONE);
		} else {
			ck_assert_int_eq(r.body, PBX_BODY_LENGTH);
			ck_assert_uint_eq(r.head_len + r.body_len, len);
		}
	}
	free(b);
}
END_TEST

/* A BindResponse answers a bind the client sent, not any messageID. */
START_TEST(test_ldap_reply_bind_without_bind)
{
	size_t len;
	uint8_t *b = load("resp-bind-success", &len);
	struct pbx_reply r;
	harness_reply(ldap(), b, len, MAX_HEAD, NULL, &r);
	ck_assert_int_eq(r.kind, PBX_V_REFUSE);
	ck_assert_int_eq(r.reason, PBX_R_MALFORMED);
	free(b);
}
END_TEST

/* A BindResponse over max_head cannot be classified: too large. */
START_TEST(test_ldap_reply_too_large)
{
	size_t len;
	uint8_t *b = load("resp-bind-sasl-in-progress", &len);
	struct pbx_reply r;
	harness_reply(ldap(), b, len, len - 1, prepare_binds, &r);
	ck_assert_int_eq(r.kind, PBX_V_REFUSE);
	ck_assert_int_eq(r.reason, PBX_R_TOO_LARGE);
	harness_reply(ldap(), b, len, 4, NULL, &r);
	ck_assert_int_eq(r.reason, PBX_R_TOO_LARGE);
	free(b);
	b = load("resp-search-entry", &len);
	harness_reply(ldap(), b, len, 16, NULL, &r);
	ck_assert_int_eq(r.kind, PBX_V_PASS);
	free(b);
}
END_TEST

/* ---- refuse ---- */

static size_t refuse_into(const void *p, size_t len, enum pbx_reason reason, uint8_t *out,
			  size_t cap)
{
	void *st = harness_state(ldap(), MAX_HEAD);
	struct pbx_writer w;
	pbx_writer_init(&w, out, cap);
	ldap()->refuse(st, p, len, reason, &w);
	free(st);
	return pbx_writer_len(&w);
}

/* The resultCode and diagnosticMessage of an LDAPResult-carrying
 * refusal, read with the reader (independently of the encoder). */
static void result_of(const uint8_t *m, size_t n, uint32_t *msgid, uint8_t *op, int *code,
		      struct pbx_span *diag, struct pbx_span *response_name)
{
	struct pbx_reader r, c, o, e;
	uint8_t t, l, b;
	pbx_reader_init(&r, m, n);
	pbx_read_u8(&r, &t);
	pbx_read_u8(&r, &l);
	ck_assert_uint_eq(t, 0x30);
	ck_assert_int_eq(pbx_read_sub(&r, l, &c), 0);
	ck_assert_int_eq(pbx_reader_end(&r), 0);
	pbx_read_u8(&c, &t);
	pbx_read_u8(&c, &l);
	ck_assert_uint_eq(t, 0x02);
	*msgid = 0;
	for (uint8_t i = 0; i < l; i++) {
		pbx_read_u8(&c, &b);
		*msgid = *msgid << 8 | b;
	}
	pbx_read_u8(&c, op);
	pbx_read_u8(&c, &l);
	ck_assert_int_eq(pbx_read_sub(&c, l, &o), 0);
	ck_assert_int_eq(pbx_reader_end(&c), 0);
	pbx_read_u8(&o, &t);
	pbx_read_u8(&o, &l);
	ck_assert_uint_eq(t, 0x0a);
	ck_assert_uint_eq(l, 1);
	pbx_read_u8(&o, &b);
	*code = b;
	pbx_read_u8(&o, &t);
	pbx_read_u8(&o, &l);
	ck_assert_uint_eq(t, 0x04);
	ck_assert_uint_eq(l, 0);
	pbx_read_u8(&o, &t);
	pbx_read_u8(&o, &l);
	ck_assert_uint_eq(t, 0x04);
	ck_assert_int_eq(pbx_read_sub(&o, l, &e), 0);
	*diag = pbx_reader_rest(&e);
	response_name->p = NULL;
	response_name->len = 0;
	if (pbx_reader_left(&o)) {
		pbx_read_u8(&o, &t);
		pbx_read_u8(&o, &l);
		ck_assert_uint_eq(t, 0x8a);
		ck_assert_int_eq(pbx_read_sub(&o, l, &e), 0);
		*response_name = pbx_reader_rest(&e);
	}
	ck_assert_int_eq(pbx_reader_end(&o), 0);
	ck_assert_int_eq(pbx_reader_error(&c), 0);
}

struct refuse_case {
	enum pbx_reason reason;
	int bind_code;     /* -1: nothing is written */
	int notice_code;
};

static const struct refuse_case refuse_cases[] = {
	{ PBX_R_NONE, -1, -1 },
	{ PBX_R_MALFORMED, 2, 2 },
	{ PBX_R_TOO_LARGE, 2, 2 },
	{ PBX_R_AMBIGUOUS, 2, 2 },
	{ PBX_R_UNSUPPORTED, 2, 2 },
	{ PBX_R_NO_NAME, 53, 52 },
	{ PBX_R_UNKNOWN_NAME, 53, 52 },
	{ PBX_R_NO_TARGET, 53, 52 },
	{ PBX_R_SOURCE_DENIED, 53, 52 },
	{ PBX_R_URL_DENIED, 53, 52 },
	{ PBX_R_OTHER_SERVICE, 53, 52 },
	{ PBX_R_TIMEOUT, 52, 52 },
	{ PBX_R_BLACKLISTED, -1, -1 },
	{ PBX_R_TLS_FAILED, -1, -1 },
	{ PBX_R_BAD_CERT, 50, 52 },
	{ PBX_R_TARGET_FAILED, 52, 52 },
	{ PBX_R_REJECTED, -1, -1 },
	{ PBX_R_CLIENT_CLOSED, -1, -1 },
};

static void check_diag(struct pbx_span diag, enum pbx_reason reason)
{
	char want[64];
	snprintf(want, sizeof want, "pbxedge: %s", pbx_reason_name(reason));
	ck_assert_span(diag, want);
}

/* Every reason, for a bind: a BindResponse with the bind's messageID that
 * our own reply() takes as the answer to that bind. */
START_TEST(test_ldap_refuse_bind)
{
	const struct refuse_case c = refuse_cases[_i];
	size_t len;
	uint8_t *b = load("req-bind-sasl-plain-named", &len); /* messageID 3 */
	uint8_t out[4096];
	size_t n = refuse_into(b, len, c.reason, out, sizeof out);
	free(b);
	if (c.bind_code < 0) {
		ck_assert_uint_eq(n, 0);
		return;
	}
	uint32_t msgid;
	uint8_t op;
	int code;
	struct pbx_span diag, rn;
	result_of(out, n, &msgid, &op, &code, &diag, &rn);
	ck_assert_uint_eq(msgid, 3);
	ck_assert_uint_eq(op, 0x61);
	ck_assert_int_eq(code, c.bind_code);
	check_diag(diag, c.reason);
	ck_assert_uint_eq(rn.len, 0);

	void *st = harness_state(ldap(), MAX_HEAD);
	feed_bind(st, 3);
	struct pbx_reply r;
	ldap()->reply(st, out, n, &r);
	ck_assert_int_eq(r.kind, PBX_V_PASS);
	ck_assert_int_eq(r.status, c.bind_code);
	ck_assert(r.final);
	ck_assert_uint_eq(r.head_len, n);
	free(st);
}
END_TEST

/* Every reason, for a search (or anything but a bind or StartTLS): a
 * Notice of Disconnection, messageID 0. */
START_TEST(test_ldap_refuse_notice)
{
	const struct refuse_case c = refuse_cases[_i];
	size_t len;
	uint8_t *b = load("req-search", &len);
	uint8_t out[4096];
	size_t n = refuse_into(b, len, c.reason, out, sizeof out);
	free(b);
	if (c.notice_code < 0) {
		ck_assert_uint_eq(n, 0);
		return;
	}
	uint32_t msgid;
	uint8_t op;
	int code;
	struct pbx_span diag, rn;
	result_of(out, n, &msgid, &op, &code, &diag, &rn);
	ck_assert_uint_eq(msgid, 0);
	ck_assert_uint_eq(op, 0x78);
	ck_assert_int_eq(code, c.notice_code);
	check_diag(diag, c.reason);
	ck_assert_span(rn, "1.3.6.1.4.1.1466.20036");

	struct pbx_reply r;
	harness_reply(ldap(), out, n, MAX_HEAD, NULL, &r);
	ck_assert_int_eq(r.kind, PBX_V_PASS);
	ck_assert(!r.final);
}
END_TEST

/* Exact bytes, the ones decoded by tshark when this was written. */
START_TEST(test_ldap_refuse_bytes)
{
	static const uint8_t bind_unknown[] =
		"\x30\x21\x02\x01\x01\x61\x1c\x0a\x01\x35\x04\x00\x04\x15"
		"pbxedge: unknown-name";
	static const uint8_t starttls[] =
		"\x30\x38\x02\x01\x01\x78\x33\x0a\x01\x02\x04\x00\x04\x14"
		"pbxedge: unsupported"
		"\x8a\x16" "1.3.6.1.4.1.1466.20037";
	static const uint8_t notice[] =
		"\x30\x34\x02\x01\x00\x78\x2f\x0a\x01\x34\x04\x00\x04\x10"
		"pbxedge: no-name"
		"\x8a\x16" "1.3.6.1.4.1.1466.20036";
	uint8_t out[256];
	size_t len, n;
	uint8_t *b;

	b = load("req-bind-domain-user", &len);
	n = refuse_into(b, len, PBX_R_UNKNOWN_NAME, out, sizeof out);
	ck_assert_uint_eq(n, sizeof bind_unknown - 1);
	ck_assert_mem_eq(out, bind_unknown, n);
	free(b);

	b = load("req-starttls", &len);
	n = refuse_into(b, len, PBX_R_UNSUPPORTED, out, sizeof out);
	ck_assert_uint_eq(n, sizeof starttls - 1);
	ck_assert_mem_eq(out, starttls, n);
	free(b);

	b = load("req-search", &len);
	n = refuse_into(b, len, PBX_R_NO_NAME, out, sizeof out);
	ck_assert_uint_eq(n, sizeof notice - 1);
	ck_assert_mem_eq(out, notice, n);
	free(b);

	/* A large messageID is echoed in its fewest octets. */
	b = load("req-bind-msgid-max", &len);
	n = refuse_into(b, len, PBX_R_UNKNOWN_NAME, out, sizeof out);
	ck_assert_mem_eq(out, "\x30\x24\x02\x04\x7f\xff\xff\xff\x61\x1c", 10);
	free(b);
	b = load("req-bind-msgid-leading-zero", &len);
	n = refuse_into(b, len, PBX_R_UNKNOWN_NAME, out, sizeof out);
	ck_assert_mem_eq(out, "\x30\x21\x02\x01\x07\x61\x1c", 7);
	free(b);
}
END_TEST

/* A refusal of whatever part of a bind arrived: a BindResponse once the
 * messageID and the op's tag are in, a Notice of Disconnection before. */
START_TEST(test_ldap_refuse_partial)
{
	size_t len;
	uint8_t *b = load("req-bind-dn", &len);
	uint8_t out[256];
	for (size_t k = 0; k <= len; k++) {
		uint8_t *c = malloc(k ? k : 1);
		memcpy(c, b, k);
		size_t n = refuse_into(k ? c : NULL, k, PBX_R_TIMEOUT, out, sizeof out);
		free(c);
		uint32_t msgid;
		uint8_t op;
		int code;
		struct pbx_span diag, rn;
		result_of(out, n, &msgid, &op, &code, &diag, &rn);
		ck_assert_int_eq(code, 52);
		if (k >= 6) {
			ck_assert_uint_eq(op, 0x61);
			ck_assert_uint_eq(msgid, 1);
		} else {
			ck_assert_uint_eq(op, 0x78);
			ck_assert_uint_eq(msgid, 0);
		}
	}
	free(b);

	/* A broken message: nothing can be trusted, a notice. */
	b = load("req-bind-length-indefinite", &len);
	size_t n = refuse_into(b, len, PBX_R_MALFORMED, out, sizeof out);
	ck_assert_uint_eq(out[4], 0x00);
	ck_assert_uint_eq(out[5], 0x78);
	ck_assert_uint_eq(out[9], 2);
	ck_assert_uint_gt(n, 0);
	free(b);
	/* messageID 0 is not echoed: the answer would read as a notice. */
	b = load("req-bind-msgid-zero", &len);
	refuse_into(b, len, PBX_R_MALFORMED, out, sizeof out);
	ck_assert_uint_eq(out[5], 0x78);
	free(b);
	/* A StartTLS cut before its requestName is complete: a notice. */
	b = load("req-starttls", &len);
	refuse_into(b, 20, PBX_R_TIMEOUT, out, sizeof out);
	ck_assert_uint_eq(out[4], 0x00);
	free(b);
}
END_TEST

/* A writer too small for the refusal gets nothing at all. */
START_TEST(test_ldap_refuse_small_writer)
{
	static const char *const files[] = { "req-bind-dn", "req-starttls", "req-search" };
	for (size_t f = 0; f < 3; f++) {
		size_t len;
		uint8_t *b = load(files[f], &len);
		uint8_t full[256], out[256];
		size_t n = refuse_into(b, len, PBX_R_AMBIGUOUS, full, sizeof full);
		ck_assert_uint_gt(n, 0);
		for (size_t cap = 0; cap < n; cap++) {
			uint8_t *small = malloc(cap ? cap : 1);
			ck_assert_uint_eq(refuse_into(b, len, PBX_R_AMBIGUOUS, small, cap), 0);
			free(small);
		}
		ck_assert_uint_eq(refuse_into(b, len, PBX_R_AMBIGUOUS, out, n), n);
		ck_assert_mem_eq(out, full, n);
		free(b);
	}
}
END_TEST

/* ---- the row ---- */

START_TEST(test_ldap_inspector_row)
{
	const struct pbx_inspector *in = ldap();
	ck_assert_str_eq(in->name, "ldap");
	ck_assert_int_eq(in->family, STORE_FAMILY_LDAP);
	ck_assert(!in->lockstep);
	ck_assert_uint_gt(in->state_size, 253);
	ck_assert_ptr_nonnull(in->init);
	ck_assert_ptr_nonnull(in->request);
	ck_assert_ptr_nonnull(in->reply);
	ck_assert_ptr_nonnull(in->refuse);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *ldap_suite(void)
{
	Suite *s = suite_create("ldap");
	TCase *tc = tcase_create("request");
	tcase_add_loop_test(tc, test_ldap_request_vectors, 0, N(req_cases));
	tcase_add_test(tc, test_ldap_request_bind_truncated);
	tcase_add_test(tc, test_ldap_request_too_large);
	tcase_add_test(tc, test_ldap_request_long_declared);
	tcase_add_test(tc, test_ldap_request_stream);
	tcase_add_test(tc, test_ldap_request_outstanding_binds);
	tcase_add_test(tc, test_ldap_request_joined_name);
	suite_add_tcase(s, tc);

	tc = tcase_create("reply");
	tcase_add_loop_test(tc, test_ldap_reply_vectors, 0, N(reply_cases));
	tcase_add_test(tc, test_ldap_reply_bind_without_bind);
	tcase_add_test(tc, test_ldap_reply_too_large);
	suite_add_tcase(s, tc);

	tc = tcase_create("refuse");
	tcase_add_loop_test(tc, test_ldap_refuse_bind, 0, N(refuse_cases));
	tcase_add_loop_test(tc, test_ldap_refuse_notice, 0, N(refuse_cases));
	tcase_add_test(tc, test_ldap_refuse_bytes);
	tcase_add_test(tc, test_ldap_refuse_partial);
	tcase_add_test(tc, test_ldap_refuse_small_writer);
	tcase_add_test(tc, test_ldap_inspector_row);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ldap_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
