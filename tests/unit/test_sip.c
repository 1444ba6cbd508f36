/* test_sip.c - unit tests for the SIP inspector (lib/inspect/sip.c): every
 * vector of tests/vectors/sip/ through request or reply, whole and split,
 * the 401/407 rule over request and reply pairs, refusals read back as
 * replies, and a long head fed one byte at a time. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/inspect.h>

#include "inspect_harness.h"
#include "vectors.h"
#include "span_check.h"

/* The head bound the vectors are run with: too-large-head.sip exceeds it. */
#define MAX_HEAD 4096

static const struct pbx_inspector *sip;

/* ---- vectors ---- */

/* tests/vectors/sip/NAME in a heap block of exactly its size (see
 * vectors.h). */
static uint8_t *load(const char *name, size_t *len)
{
	return vector_load("sip", name, len);
}


static size_t find(const uint8_t *p, size_t len, const char *what)
{
	size_t n = strlen(what);
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(p + i, what, n) == 0)
			return i;
	ck_abort_msg("'%s' not in the vector", what);
	return 0;
}


/* What request() must answer for a vector. */
struct req_case {
	const char *file;
	enum pbx_verdict_kind kind;
	enum pbx_reason reason;
	unsigned flags;
	const char *name, *user, *method;
	uint64_t body_len;
	size_t head_len;     /* 0: the file less its body */
	const char *at;      /* refusal offset: where this text starts, */
	int at_delta;        /* plus this; NULL: max_head for too-large, else unchecked */
};

#define REQ PBX_VF_REQUEST
#define CRED PBX_VF_CREDENTIALS
#define ROUTE(f, fl, n, u, m) { f, PBX_V_ROUTE, PBX_R_NONE, fl, n, u, m, 0, 0, NULL, 0 }
#define ROUTE_BODY(f, fl, n, u, m, b) { f, PBX_V_ROUTE, PBX_R_NONE, fl, n, u, m, b, 0, NULL, 0 }
#define PASS(f, b, h) { f, PBX_V_PASS, PBX_R_NONE, 0, NULL, NULL, NULL, b, h, NULL, 0 }
#define REFUSE(f, r, at, d) { f, PBX_V_REFUSE, r, 0, NULL, NULL, NULL, 0, 0, at, d }

static const struct req_case req_cases[] = {
	/* Captured from real clients. */
	ROUTE("sipsak-register.sip", REQ, "localhost", "alice", "REGISTER"),
	ROUTE("sipsak-register-auth.sip", REQ | CRED, "localhost", "alice", "REGISTER"),
	ROUTE("sipsak-options.sip", REQ, "127.0.0.1", "sipsak", "OPTIONS"),
	ROUTE("sipsak-options-kamailio.sip", REQ, "127.0.0.1", "sipsak", "OPTIONS"),
	ROUTE_BODY("sipp-uac-invite.sip", REQ, "127.0.0.1", "sipp", "INVITE", 129),
	ROUTE("sipp-uac-ack.sip", REQ, "127.0.0.1", "sipp", "ACK"),
	ROUTE("sipp-uac-bye.sip", REQ, "127.0.0.1", "sipp", "BYE"),
	ROUTE("sipp-register.sip", REQ, "example.com", "alice", "REGISTER"),
	ROUTE("sipp-register-auth.sip", REQ | CRED, "example.com", "alice", "REGISTER"),
	ROUTE("sipp-register-wrong.sip", REQ, "example.com", "alice", "REGISTER"),
	ROUTE("sipp-register-wrong-auth.sip", REQ | CRED, "example.com", "alice", "REGISTER"),
	ROUTE("sipp-register-mallory.sip", REQ, "example.com", "mallory", "REGISTER"),
	ROUTE_BODY("sipp-invite.sip", REQ, "example.com", "alice", "INVITE", 113),
	ROUTE_BODY("sipp-invite-auth.sip", REQ | CRED, "example.com", "alice", "INVITE", 113),
	ROUTE("sipp-invite-ack.sip", REQ, "example.com", "alice", "ACK"),
	PASS("sipp-uas-180-ringing.sip", 0, 0),
	PASS("sipp-uas-200-sdp.sip", 129, 0),
	PASS("sipp-uas-200-bye.sip", 0, 0),
	/* From in all its shapes. */
	ROUTE("from-display-quoted.sip", REQ, "Example.COM", "bob", "REGISTER"),
	ROUTE("from-display-token.sip", REQ, "example.com", "bob", "INVITE"),
	ROUTE("from-display-utf8.sip", REQ, "example.de", "juergen", "REGISTER"),
	ROUTE("from-addr-spec-params.sip", REQ, "example.org", "carol", "REGISTER"),
	/* RFC 3261 20.10: outside brackets the URI ends at ';', so this one
	 * is sip:carol (host carol) with header parameters. */
	ROUTE("from-addr-spec-user-semicolon.sip", REQ, "carol", NULL, "REGISTER"),
	ROUTE("from-password.sip", REQ, "example.com", "frank", "REGISTER"),
	ROUTE("from-escaped-user.sip", REQ, "example.com", "gr%40ce%20h", "REGISTER"),
	ROUTE("from-ipv6.sip", REQ, "[2001:db8::1]", "eve", "REGISTER"),
	ROUTE("from-ipv4.sip", REQ, "192.0.2.7", NULL, "REGISTER"),
	ROUTE("from-uppercase-scheme.sip", REQ, "EXAMPLE.com", "Bob", "REGISTER"),
	ROUTE("from-trailing-dot.sip", REQ, "example.com", "ann", "REGISTER"),
	ROUTE("from-no-user.sip", REQ, "example.com", NULL, "OPTIONS"),
	ROUTE("from-spaces-in-brackets.sip", REQ, "example.com", "sp", "REGISTER"),
	ROUTE("from-compact.sip", REQ, "example.com", "kim", "REGISTER"),
	ROUTE("folded-headers.sip", REQ, "example.net", "dave", "REGISTER"),
	ROUTE("header-space-before-colon.sip", REQ, "example.com", "sc", "REGISTER"),
	ROUTE_BODY("message-body.sip", REQ, "example.com", "alice", "MESSAGE", 28),
	ROUTE("subscribe.sip", REQ, "example.com", "alice", "SUBSCRIBE"),
	ROUTE("proxy-authorization.sip", REQ | CRED, "example.com", "alice", "INVITE"),
	/* Nothing to route by. */
	REFUSE("from-tel.sip", PBX_R_NO_NAME, "<tel:", 0),
	REFUSE("from-http.sip", PBX_R_NO_NAME, "<http:", 0),
	REFUSE("from-missing.sip", PBX_R_NO_NAME, "\r\n\r\n", 2),
	REFUSE("from-no-host.sip", PBX_R_NO_NAME, "<sip:alice@>", 0),
	REFUSE("from-empty.sip", PBX_R_NO_NAME, "From:", 5),
	REFUSE("from-addr-spec-no-host.sip", PBX_R_NO_NAME, "sip:alice@;", 0),
	REFUSE("from-bad-port.sip", PBX_R_NO_NAME, "<sip:alice@example.com:99999>", 0),
	/* Framing a proxy and the PBX could read differently. */
	REFUSE("from-duplicate.sip", PBX_R_AMBIGUOUS, "f: ", 0),
	REFUSE("content-length-duplicate.sip", PBX_R_AMBIGUOUS, "l: 5", 0),
	REFUSE("call-id-duplicate.sip", PBX_R_AMBIGUOUS, "i: other", 0),
	REFUSE("cseq-duplicate.sip", PBX_R_AMBIGUOUS, "CSeq: 2 ", 0),
	/* Broken syntax. */
	REFUSE("content-length-missing.sip", PBX_R_MALFORMED, "\r\n\r\n", 2),
	REFUSE("content-length-not-digits.sip", PBX_R_MALFORMED, "12a", 0),
	REFUSE("content-length-overflow.sip", PBX_R_MALFORMED, "9999", 0),
	REFUSE("content-length-negative.sip", PBX_R_MALFORMED, "-1", 0),
	REFUSE("call-id-missing.sip", PBX_R_MALFORMED, "\r\n\r\n", 2),
	REFUSE("cseq-missing.sip", PBX_R_MALFORMED, "\r\n\r\n", 2),
	REFUSE("cseq-method-mismatch.sip", PBX_R_MALFORMED, "1 INVITE", 0),
	REFUSE("cseq-too-big.sip", PBX_R_MALFORMED, "2147483648", 0),
	REFUSE("from-unterminated-quote.sip", PBX_R_MALFORMED, "\"Bob", 0),
	REFUSE("from-unclosed-bracket.sip", PBX_R_MALFORMED, "<sip:bob", 0),
	REFUSE("from-two-uris.sip", PBX_R_MALFORMED, "<sip:evil", 0),
	REFUSE("from-escaped-fold.sip", PBX_R_MALFORMED, "\\\r\n", 0),
	REFUSE("from-space-in-uri.sip", PBX_R_MALFORMED, " @example", 0),
	REFUSE("bare-lf.sip", PBX_R_MALFORMED, "\n", 0),
	REFUSE("bare-lf-one-line.sip", PBX_R_MALFORMED, "\nContent-Length: 10", 0),
	REFUSE("bare-cr.sip", PBX_R_MALFORMED, "\rX: y", 0),
	REFUSE("nul-in-header.sip", PBX_R_MALFORMED, "tag=1", 5),
	REFUSE("whitespace-only-continuation.sip", PBX_R_MALFORMED, "\r\n \r\n", 2),
	REFUSE("continuation-after-start-line.sip", PBX_R_MALFORMED, " folded", 0),
	REFUSE("start-line-garbage.sip", PBX_R_MALFORMED, "\r\n", 0),
	REFUSE("start-line-version.sip", PBX_R_MALFORMED, "SIP/3.0", 0),
	REFUSE("start-line-tab.sip", PBX_R_MALFORMED, "\tsip", 0),
	REFUSE("header-no-colon.sip", PBX_R_MALFORMED, "Expires 60", 8),
	REFUSE("response-bad-status.sip", PBX_R_MALFORMED, "0 OK", 0),
	REFUSE("response-version.sip", PBX_R_MALFORMED, "1.0", 0),
	REFUSE("response-status-letters.sip", PBX_R_MALFORMED, "x0 OK", 0),
	REFUSE("response-no-content-length.sip", PBX_R_MALFORMED, "\r\n\r\n", 2),
	PASS("response-no-reason.sip", 0, 0),
	/* Keep-alives (a CRLF before a request passes alone). */
	PASS("keepalive-ping.sip", 0, 4),
	PASS("keepalive-pong-before-request.sip", 0, 2),
	REFUSE("keepalive-bad.sip", PBX_R_MALFORMED, "\r\n", 0),
	/* Bounds. */
	REFUSE("too-large-head.sip", PBX_R_TOO_LARGE, NULL, 0),
	REFUSE("too-many-lines.sip", PBX_R_TOO_LARGE, "X-L122:", 0),
};

START_TEST(test_sip_request_vectors)
{
	const struct req_case *c = &req_cases[_i];
	size_t len, decided;
	uint8_t *p = load(c->file, &len);
	struct pbx_verdict v;

	harness_request(sip, p, len, MAX_HEAD, &v, &decided);
	ck_assert_msg(v.kind == c->kind, "%s: kind %d, want %d (reason %s)", c->file, v.kind,
		      c->kind, pbx_reason_name(v.reason));
	ck_assert_msg(v.reason == c->reason, "%s: reason %s, want %s", c->file,
		      pbx_reason_name(v.reason), pbx_reason_name(c->reason));
	if (c->kind == PBX_V_REFUSE) {
		ck_assert_uint_le(v.offset, len);
		if (c->at)
			ck_assert_msg(v.offset == find(p, len, c->at) + (size_t)c->at_delta,
				      "%s: offset %zu, want %zu", c->file, v.offset,
				      find(p, len, c->at) + (size_t)c->at_delta);
		else if (c->reason == PBX_R_TOO_LARGE)
			ck_assert_uint_eq(v.offset, MAX_HEAD);
		free(p);
		return;
	}
	/* The harness's buffers are gone: the spans are read from a run over
	 * this one. */
	void *st = harness_state(sip, MAX_HEAD);
	struct pbx_verdict again;
	sip->request(st, p, len, &again);
	free(st);
	ck_assert_int_eq(again.kind, v.kind);
	v = again;
	ck_assert_msg(v.flags == c->flags, "%s: flags %#x, want %#x", c->file, v.flags,
		      c->flags);
	ck_assert_span(v.name, c->name);
	ck_assert_span(v.user, c->user);
	ck_assert_span(v.method, c->method);
	ck_assert_uint_eq(v.body_len, c->body_len);
	ck_assert_int_eq(v.body, c->body_len ? PBX_BODY_LENGTH : PBX_BODY_NONE);
	size_t head = c->head_len ? c->head_len : len - (size_t)c->body_len;
	ck_assert_msg(v.head_len == head, "%s: head_len %zu, want %zu", c->file, v.head_len,
		      head);
	/* A message is decided exactly when its head is complete (a lone
	 * CRLF one byte later). */
	if (!c->head_len)
		ck_assert_uint_eq(decided, v.head_len);
	ck_assert_uint_eq(v.url.len, 0);
	free(p);
}
END_TEST

/* ---- replies ---- */

struct rep_case {
	const char *file;
	enum pbx_verdict_kind kind;
	enum pbx_reason reason;
	unsigned flags;
	int status;
	bool final;
	uint64_t body_len;
	size_t head_len;  /* 0: the file less its body */
};

static const struct rep_case rep_cases[] = {
	{ "reply-kamailio-401-first.sip", PBX_V_PASS, PBX_R_NONE, 0, 401, true, 0, 0 },
	{ "reply-kamailio-200-register.sip", PBX_V_PASS, PBX_R_NONE, 0, 200, true, 0, 0 },
	{ "reply-kamailio-407-first.sip", PBX_V_PASS, PBX_R_NONE, 0, 407, true, 0, 0 },
	{ "reply-kamailio-480.sip", PBX_V_PASS, PBX_R_NONE, 0, 480, true, 0, 0 },
	{ "reply-kamailio-403.sip", PBX_V_PASS, PBX_R_NONE, 0, 403, true, 0, 0 },
	{ "reply-kamailio-200-options.sip", PBX_V_PASS, PBX_R_NONE, 0, 200, true, 0, 0 },
	{ "sipp-uas-180-ringing.sip", PBX_V_PASS, PBX_R_NONE, 0, 180, false, 0, 0 },
	{ "sipp-uas-200-sdp.sip", PBX_V_PASS, PBX_R_NONE, 0, 200, true, 129, 0 },
	{ "reply-pbx-invite.sip", PBX_V_PASS, PBX_R_NONE, PBX_VF_REQUEST, -1, false, 95, 0 },
	{ "reply-pong.sip", PBX_V_PASS, PBX_R_NONE, 0, -1, false, 0, 2 },
	{ "keepalive-ping.sip", PBX_V_PASS, PBX_R_NONE, 0, -1, false, 0, 2 },
	{ "response-no-reason.sip", PBX_V_PASS, PBX_R_NONE, 0, 200, true, 0, 0 },
	{ "reply-no-content-length.sip", PBX_V_REFUSE, PBX_R_MALFORMED, 0, -1, false, 0, 0 },
	{ "reply-two-content-lengths.sip", PBX_V_REFUSE, PBX_R_AMBIGUOUS, 0, -1, false, 0, 0 },
	{ "bare-lf.sip", PBX_V_REFUSE, PBX_R_MALFORMED, 0, -1, false, 0, 0 },
	{ "start-line-garbage.sip", PBX_V_REFUSE, PBX_R_MALFORMED, 0, -1, false, 0, 0 },
	{ "keepalive-bad.sip", PBX_V_REFUSE, PBX_R_MALFORMED, 0, -1, false, 0, 0 },
	{ "too-large-head.sip", PBX_V_REFUSE, PBX_R_TOO_LARGE, 0, -1, false, 0, 0 },
};

START_TEST(test_sip_reply_vectors)
{
	const struct rep_case *c = &rep_cases[_i];
	size_t len;
	uint8_t *p = load(c->file, &len);
	struct pbx_reply r;

	harness_reply(sip, p, len, MAX_HEAD, NULL, &r);
	ck_assert_msg(r.kind == c->kind && r.reason == c->reason, "%s: kind %d reason %s",
		      c->file, r.kind, pbx_reason_name(r.reason));
	if (c->kind == PBX_V_PASS) {
		ck_assert_uint_eq(r.flags, c->flags);
		ck_assert_int_eq(r.status, c->status);
		ck_assert(r.final == c->final);
		/* Without the request it answers, only 403 rejects. */
		ck_assert(r.rejection == (c->status == 403));
		ck_assert_uint_eq(r.body_len, c->body_len);
		ck_assert_int_eq(r.body, c->body_len ? PBX_BODY_LENGTH : PBX_BODY_NONE);
		ck_assert_uint_eq(r.head_len, c->head_len ? c->head_len : len - c->body_len);
	}
	free(p);
}
END_TEST

/* ---- the 401/407 rule: requests fed first, then the reply ---- */

static const char *const *prepare_files;

static void feed(void *st, const char *file, enum pbx_verdict_kind want)
{
	size_t len;
	uint8_t *p = load(file, &len);
	struct pbx_verdict v;
	sip->request(st, p, len, &v);
	ck_assert_msg(v.kind == want, "%s: kind %d", file, v.kind);
	free(p);
}

static void prepare(void *st)
{
	for (const char *const *f = prepare_files; *f; f++)
		feed(st, *f, PBX_V_ROUTE);
}

static bool rejection_after(const char *const *requests, const char *reply, int status)
{
	size_t len;
	uint8_t *p = load(reply, &len);
	struct pbx_reply r;
	prepare_files = requests;
	harness_reply(sip, p, len, MAX_HEAD, prepare, &r);
	ck_assert_int_eq(r.kind, PBX_V_PASS);
	ck_assert_int_eq(r.status, status);
	free(p);
	return r.rejection;
}

START_TEST(test_sip_reply_challenge_first)
{
	/* A registration's first challenge is normal. */
	static const char *const reg[] = { "sipp-register.sip", NULL };
	ck_assert(!rejection_after(reg, "reply-kamailio-401-first.sip", 401));
	static const char *const inv[] = { "sipp-invite.sip", NULL };
	ck_assert(!rejection_after(inv, "reply-kamailio-407-first.sip", 407));
	static const char *const both[] = { "sipp-register-wrong.sip",
					    "sipp-register-wrong-auth.sip", NULL };
	ck_assert(!rejection_after(both, "reply-kamailio-401-wrong-first.sip", 401));
}
END_TEST

START_TEST(test_sip_reply_challenge_second)
{
	/* Challenged again after sending credentials: a wrong password. */
	static const char *const both[] = { "sipp-register-wrong.sip",
					    "sipp-register-wrong-auth.sip", NULL };
	ck_assert(rejection_after(both, "reply-kamailio-401-wrong.sip", 401));
	static const char *const one[] = { "sipp-register-wrong-auth.sip", NULL };
	ck_assert(rejection_after(one, "reply-kamailio-401-wrong.sip", 401));
	/* The reply must answer the request: same Call-ID, CSeq number and
	 * method.  A 401 for CSeq 1 does not answer the credentials of 2. */
	static const char *const other[] = { "sipp-register-auth.sip", NULL };
	ck_assert(!rejection_after(other, "reply-kamailio-401-wrong.sip", 401));
}
END_TEST

START_TEST(test_sip_reply_challenge_proxy)
{
	/* 407 after Proxy-Authorization: the CSeq 2 INVITE carried it. */
	size_t len;
	uint8_t *p = load("reply-kamailio-407-first.sip", &len);
	char *text = malloc(len);
	memcpy(text, p, len);
	size_t at = find(p, len, "CSeq: 1 INVITE");
	text[at + 6] = '2';
	void *st = harness_state(sip, MAX_HEAD);
	feed(st, "sipp-invite.sip", PBX_V_ROUTE);
	feed(st, "sipp-invite-ack.sip", PBX_V_ROUTE);
	feed(st, "sipp-invite-auth.sip", PBX_V_ROUTE);
	struct pbx_reply r;
	sip->reply(st, (const uint8_t *)text, len, &r);
	ck_assert_int_eq(r.kind, PBX_V_PASS);
	ck_assert_int_eq(r.status, 407);
	ck_assert(r.rejection);
	/* The first challenge, answered after: not a rejection. */
	sip->reply(st, p, len, &r);
	ck_assert(!r.rejection);
	free(st);
	free(text);
	free(p);
}
END_TEST

START_TEST(test_sip_reply_forbidden)
{
	static const char *const reg[] = { "sipp-register-mallory.sip", NULL };
	ck_assert(rejection_after(reg, "reply-kamailio-403.sip", 403));
	static const char *const none[] = { NULL };
	ck_assert(rejection_after(none, "reply-kamailio-403.sip", 403));
	static const char *const ok[] = { "sipp-register-auth.sip", NULL };
	ck_assert(!rejection_after(ok, "reply-kamailio-200-register.sip", 200));
}
END_TEST

/* A REGISTER with credentials, CSeq n, Call-ID id. */
static size_t make_register(char *buf, size_t n, const char *call_id, unsigned cseq,
			    bool credentials)
{
	int k = snprintf(buf, n,
			 "REGISTER sip:example.com SIP/2.0\r\n"
			 "Via: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bK%u\r\n"
			 "From: <sip:alice@example.com>;tag=1\r\n"
			 "To: <sip:alice@example.com>\r\n"
			 "Call-ID: %s\r\n"
			 "CSeq: %u REGISTER\r\n"
			 "%s"
			 "Content-Length: 0\r\n\r\n",
			 cseq, call_id, cseq,
			 credentials ? "Authorization: Digest username=\"alice\"\r\n" : "");
	ck_assert(k > 0 && (size_t)k < n);
	return (size_t)k;
}

static size_t make_response(char *buf, size_t n, int status, const char *call_id,
			    unsigned cseq)
{
	int k = snprintf(buf, n,
			 "SIP/2.0 %d Whatever\r\n"
			 "Via: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bK%u\r\n"
			 "Call-ID: %s\r\n"
			 "CSeq: %u REGISTER\r\n"
			 "Content-Length: 0\r\n\r\n",
			 status, cseq, call_id, cseq);
	ck_assert(k > 0 && (size_t)k < n);
	return (size_t)k;
}

static struct pbx_reply reply_to(void *st, int status, const char *call_id, unsigned cseq)
{
	char buf[512];
	struct pbx_reply r;
	size_t n = make_response(buf, sizeof buf, status, call_id, cseq);
	sip->reply(st, (const uint8_t *)buf, n, &r);
	ck_assert_int_eq(r.kind, PBX_V_PASS);
	ck_assert_int_eq(r.status, status);
	return r;
}

static void send_register(void *st, const char *call_id, unsigned cseq, bool credentials)
{
	char buf[512];
	struct pbx_verdict v;
	size_t n = make_register(buf, sizeof buf, call_id, cseq, credentials);
	sip->request(st, (const uint8_t *)buf, n, &v);
	ck_assert_int_eq(v.kind, PBX_V_ROUTE);
	ck_assert_uint_eq(v.head_len, n);
	ck_assert(!!(v.flags & PBX_VF_CREDENTIALS) == credentials);
}

START_TEST(test_sip_reply_table)
{
	void *st = harness_state(sip, MAX_HEAD);

	/* A final answer settles its request: a second 401 for the same
	 * CSeq answers nothing remembered. */
	send_register(st, "t1", 2, true);
	ck_assert(reply_to(st, 401, "t1", 2).rejection);
	ck_assert(!reply_to(st, 401, "t1", 2).rejection);

	/* Provisional answers do not: the final one still matches. */
	send_register(st, "t2", 5, true);
	ck_assert(!reply_to(st, 100, "t2", 5).rejection);
	ck_assert(!reply_to(st, 100, "t2", 5).final);
	ck_assert(reply_to(st, 401, "t2", 5).rejection);

	/* The same request twice, without and then with credentials: the
	 * oldest is answered first. */
	send_register(st, "t3", 1, false);
	send_register(st, "t3", 1, true);
	ck_assert(!reply_to(st, 401, "t3", 1).rejection);
	ck_assert(reply_to(st, 401, "t3", 1).rejection);
	free(st);
}
END_TEST

START_TEST(test_sip_reply_table_overflow)
{
	void *st = harness_state(sip, MAX_HEAD);
	char id[32];

	/* 40 credentialed requests before any answer: the 8 oldest are
	 * pushed out, and 8 unmatched challenges still count. */
	for (unsigned i = 0; i < 40; i++) {
		snprintf(id, sizeof id, "p%u", i);
		send_register(st, id, 1, true);
	}
	for (unsigned i = 0; i < 8; i++) {
		snprintf(id, sizeof id, "p%u", i);
		ck_assert(reply_to(st, 401, id, 1).rejection);
	}
	ck_assert(!reply_to(st, 401, "p0", 1).rejection);
	for (unsigned i = 8; i < 40; i++) {
		snprintf(id, sizeof id, "p%u", i);
		ck_assert(reply_to(st, 401, id, 1).rejection);
	}
	free(st);

	/* Without credentials, overflowing loses nothing that counts. */
	st = harness_state(sip, MAX_HEAD);
	for (unsigned i = 0; i < 40; i++) {
		snprintf(id, sizeof id, "q%u", i);
		send_register(st, id, 1, false);
	}
	for (unsigned i = 0; i < 40; i++) {
		snprintf(id, sizeof id, "q%u", i);
		ck_assert(!reply_to(st, 401, id, 1).rejection);
	}
	free(st);
}
END_TEST

START_TEST(test_sip_reply_ack_not_remembered)
{
	/* ACKs get no answer: 40 of them must not push out the REGISTER. */
	void *st = harness_state(sip, MAX_HEAD);
	send_register(st, "a1", 3, true);
	for (int i = 0; i < 40; i++)
		feed(st, "sipp-invite-ack.sip", PBX_V_ROUTE);
	ck_assert(reply_to(st, 401, "a1", 3).rejection);
	ck_assert(!reply_to(st, 401, "zz", 3).rejection);
	free(st);
}
END_TEST

/* ---- request: streams of messages ---- */

START_TEST(test_sip_request_pipeline)
{
	/* Several messages back to back, as rpd reads them: each call starts
	 * at the next message. */
	static const char *const files[] = { "keepalive-ping.sip", "sipp-uac-invite.sip",
					     "sipp-uas-200-bye.sip", "sipp-uac-ack.sip",
					     "message-body.sip", "keepalive-ping.sip",
					     "sipp-uac-bye.sip" };
	static const enum pbx_verdict_kind kinds[] = { PBX_V_PASS, PBX_V_ROUTE, PBX_V_PASS,
						       PBX_V_ROUTE, PBX_V_ROUTE, PBX_V_PASS,
						       PBX_V_ROUTE };
	const size_t n = sizeof files / sizeof files[0];
	uint8_t *all = NULL;
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		size_t len;
		uint8_t *p = load(files[i], &len);
		all = realloc(all, total + len);
		memcpy(all + total, p, len);
		total += len;
		free(p);
	}
	void *st = harness_state(sip, MAX_HEAD);
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		struct pbx_verdict v;
		sip->request(st, all + at, total - at, &v);
		ck_assert_msg(v.kind == kinds[i], "message %zu: kind %d", i, v.kind);
		at += v.head_len + v.body_len;
	}
	ck_assert_uint_eq(at, total);
	free(st);
	free(all);
}
END_TEST

START_TEST(test_sip_request_keepalive)
{
	void *st = harness_state(sip, MAX_HEAD);
	struct pbx_verdict v;

	/* A lone CRLF waits for the next byte: it may be half a ping. */
	sip->request(st, (const uint8_t *)"\r\n", 2, &v);
	ck_assert_int_eq(v.kind, PBX_V_NEED_MORE);
	sip->request(st, (const uint8_t *)"\r\n\r", 3, &v);
	ck_assert_int_eq(v.kind, PBX_V_NEED_MORE);
	sip->request(st, (const uint8_t *)"\r\n\r\n", 4, &v);
	ck_assert_int_eq(v.kind, PBX_V_PASS);
	ck_assert_uint_eq(v.head_len, 4);
	ck_assert_int_eq(v.body, PBX_BODY_NONE);
	ck_assert_uint_eq(v.flags, 0);
	sip->request(st, (const uint8_t *)"\r\nO", 3, &v);
	ck_assert_int_eq(v.kind, PBX_V_PASS);
	ck_assert_uint_eq(v.head_len, 2);
	/* Three CRLFs: a ping, then a lone CRLF. */
	sip->request(st, (const uint8_t *)"\r\n\r\n\r\n", 6, &v);
	ck_assert_uint_eq(v.head_len, 4);
	sip->request(st, (const uint8_t *)"\r\n\r\r", 4, &v);
	ck_assert_int_eq(v.kind, PBX_V_PASS);
	ck_assert_uint_eq(v.head_len, 2);
	sip->request(st, (const uint8_t *)"\r\r", 2, &v);
	ck_assert_int_eq(v.kind, PBX_V_REFUSE);
	ck_assert_int_eq(v.reason, PBX_R_MALFORMED);
	ck_assert_uint_eq(v.offset, 1);
	free(st);

	/* A tiny bound still decides once it is reached. */
	st = harness_state(sip, 3);
	sip->request(st, (const uint8_t *)"\r\n\r", 3, &v);
	ck_assert_int_eq(v.kind, PBX_V_REFUSE);
	ck_assert_int_eq(v.reason, PBX_R_TOO_LARGE);
	ck_assert_uint_eq(v.offset, 3);
	free(st);
}
END_TEST

START_TEST(test_sip_request_shrunk)
{
	/* Fewer bytes than the call before breaks the calling convention;
	 * the inspector starts the head over instead of trusting its scan
	 * position. */
	size_t len;
	uint8_t *p = load("sipp-register.sip", &len);
	void *st = harness_state(sip, MAX_HEAD);
	struct pbx_verdict v;
	sip->request(st, p, len - 10, &v);
	ck_assert_int_eq(v.kind, PBX_V_NEED_MORE);
	sip->request(st, p, 20, &v);
	ck_assert_int_eq(v.kind, PBX_V_NEED_MORE);
	sip->request(st, p, len, &v);
	ck_assert_int_eq(v.kind, PBX_V_ROUTE);
	ck_assert_uint_eq(v.head_len, len);
	free(st);
	free(p);
}
END_TEST

START_TEST(test_sip_reply_keepalive)
{
	struct pbx_reply r;
	void *st = harness_state(sip, MAX_HEAD);
	sip->reply(st, (const uint8_t *)"\r", 1, &r);
	ck_assert_int_eq(r.kind, PBX_V_NEED_MORE);
	sip->reply(st, (const uint8_t *)"\r\n", 2, &r);
	ck_assert_int_eq(r.kind, PBX_V_PASS);
	ck_assert_uint_eq(r.head_len, 2);
	ck_assert_int_eq(r.status, -1);
	ck_assert(!r.final && !r.rejection);
	free(st);
	st = harness_state(sip, 1);
	sip->reply(st, (const uint8_t *)"\r\n", 2, &r);
	ck_assert_int_eq(r.kind, PBX_V_REFUSE);
	ck_assert_int_eq(r.reason, PBX_R_TOO_LARGE);
	free(st);
}
END_TEST

START_TEST(test_sip_request_max_head)
{
	/* A head of exactly max_head bytes passes; one byte less of bound
	 * refuses it at that bound. */
	size_t len;
	uint8_t *p = load("sipp-register.sip", &len);
	struct pbx_verdict v;
	harness_request(sip, p, len, len, &v, NULL);
	ck_assert_int_eq(v.kind, PBX_V_ROUTE);
	harness_request(sip, p, len, len - 1, &v, NULL);
	ck_assert_int_eq(v.kind, PBX_V_REFUSE);
	ck_assert_int_eq(v.reason, PBX_R_TOO_LARGE);
	ck_assert_uint_eq(v.offset, len - 1);
	free(p);
}
END_TEST

START_TEST(test_sip_request_linear)
{
	/* An 8 MB head, one byte more per call, in one buffer: rescanning
	 * from the start of the head (or of its long line) each call would
	 * take some 3 * 10^13 steps, far past the test's timeout even at
	 * memchr speed; a kept scan position takes a few tens of millions
	 * (under a second here).  No clock is read: the size decides. */
	const size_t pad = 8u << 20;
	const char *start = "REGISTER sip:example.com SIP/2.0\r\n"
			    "Via: SIP/2.0/TCP 192.0.2.10;branch=z9hG4bKl\r\n"
			    "From: <sip:long@example.com>;tag=1\r\n"
			    "To: <sip:long@example.com>\r\n"
			    "Call-ID: long@192.0.2.10\r\nCSeq: 1 REGISTER\r\n"
			    "X-Long: ";
	const char *end = "\r\nContent-Length: 0\r\n\r\n";
	size_t n = strlen(start) + pad + strlen(end);
	uint8_t *p = malloc(n);
	memcpy(p, start, strlen(start));
	memset(p + strlen(start), 'a', pad);
	memcpy(p + strlen(start) + pad, end, strlen(end));

	void *st = harness_state(sip, 16u << 20);
	struct pbx_verdict v;
	size_t decided = 0;
	for (size_t k = 1; k < n; k++) {
		sip->request(st, p, k, &v);
		if (v.kind != PBX_V_NEED_MORE && !decided)
			decided = k;
	}
	ck_assert_uint_eq(decided, 0);
	sip->request(st, p, n, &v);
	ck_assert_int_eq(v.kind, PBX_V_ROUTE);
	ck_assert_uint_eq(v.head_len, n);
	ck_assert_span(v.user, "long");
	free(st);
	free(p);
}
END_TEST

/* ---- refuse ---- */

static const struct {
	enum pbx_reason reason;
	int status;  /* 0: nothing written */
} refusals[] = {
	{ PBX_R_NONE, 0 },
	{ PBX_R_MALFORMED, 400 },
	{ PBX_R_TOO_LARGE, 513 },
	{ PBX_R_AMBIGUOUS, 400 },
	{ PBX_R_UNSUPPORTED, 501 },
	{ PBX_R_NO_NAME, 400 },
	{ PBX_R_UNKNOWN_NAME, 404 },
	{ PBX_R_NO_TARGET, 404 },
	{ PBX_R_SOURCE_DENIED, 403 },
	{ PBX_R_URL_DENIED, 403 },
	{ PBX_R_OTHER_SERVICE, 403 },
	{ PBX_R_TIMEOUT, 408 },
	{ PBX_R_BLACKLISTED, 0 },
	{ PBX_R_TLS_FAILED, 0 },
	{ PBX_R_BAD_CERT, 403 },
	{ PBX_R_TARGET_FAILED, 503 },
	{ PBX_R_REJECTED, 0 },
	{ PBX_R_CLIENT_CLOSED, 0 },
};

/* Refuse p for reason into a buffer of cap bytes; returns the length. */
static size_t refuse(const void *p, size_t len, enum pbx_reason reason, uint8_t *out,
		     size_t cap, size_t max_head)
{
	void *st = harness_state(sip, max_head);
	struct pbx_writer w;
	pbx_writer_init(&w, out, cap);
	sip->refuse(st, p, len, reason, &w);
	free(st);
	return pbx_writer_len(&w);
}

/* The value of the i-th header called name in a refusal. */
static struct pbx_span header(const uint8_t *p, size_t len, const char *name, int i)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\r\n%s: ", name);
	struct pbx_span rest = { (const char *)p, len }, s = { NULL, 0 };
	for (int k = 0; k <= i; k++) {
		const char *at = memmem(rest.p, rest.len, pat, strlen(pat));
		if (!at)
			return s;
		rest.len -= (size_t)(at - rest.p) + strlen(pat);
		rest.p = at + strlen(pat);
	}
	const char *eol = memmem(rest.p, rest.len, "\r\n", 2);
	s.p = rest.p;
	s.len = eol ? (size_t)(eol - rest.p) : 0;
	return s;
}

START_TEST(test_sip_refuse_reasons)
{
	size_t len;
	uint8_t *p = load("sipp-register.sip", &len);
	uint8_t out[4096];

	for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
		size_t n = refuse(p, len, refusals[i].reason, out, sizeof out, MAX_HEAD);
		if (!refusals[i].status) {
			ck_assert_msg(n == 0, "%s: wrote a refusal",
				      pbx_reason_name(refusals[i].reason));
			continue;
		}
		/* Read back as the client would: a whole response. */
		struct pbx_reply r;
		harness_reply(sip, out, n, MAX_HEAD, NULL, &r);
		ck_assert_int_eq(r.kind, PBX_V_PASS);
		ck_assert_int_eq(r.status, refusals[i].status);
		ck_assert(r.final);
		ck_assert_uint_eq(r.head_len, n);
		ck_assert_int_eq(r.body, PBX_BODY_NONE);
		ck_assert_span(header(out, n, "Via", 0),
			       "SIP/2.0/TCP 127.0.0.1:5094;branch=z9hG4bK-7910-1-0");
		ck_assert_span(header(out, n, "From", 0),
			       "\"Alice\" <sip:alice@example.com>;tag=7910SIPpTag001");
		ck_assert_span(header(out, n, "To", 0),
			       "\"Alice\" <sip:alice@example.com>;tag=pbxedge");
		ck_assert_span(header(out, n, "Call-ID", 0), "1-7910@127.0.0.1");
		ck_assert_span(header(out, n, "CSeq", 0), "1 REGISTER");
		ck_assert_span(header(out, n, "Server", 0), "pbxedge");
	}
	free(p);
}
END_TEST

START_TEST(test_sip_refuse_copies)
{
	uint8_t out[4096];
	size_t n;

	/* Two Vias in order, folded values unfolded, compact names written
	 * long, a To that has a tag kept as it is. */
	const char *req = "BYE sip:bob@192.0.2.4 SIP/2.0\r\n"
			  "v: SIP/2.0/TCP 192.0.2.10:5060\r\n ;branch=z9hG4bKa\r\n"
			  "Via: SIP/2.0/TCP 10.0.0.1;branch=z9hG4bKb, SIP/2.0/UDP 10.0.0.2\r\n"
			  "f: \"Bob\"\r\n\t<sip:bob@example.com>;tag=f1\r\n"
			  "t: <sip:carol@example.com>;tag=t1\r\n"
			  "i: c1@192.0.2.10\r\n"
			  "CSeq:   9   BYE\r\n"
			  "l: 0\r\n\r\n";
	n = refuse(req, strlen(req), PBX_R_UNKNOWN_NAME, out, sizeof out, MAX_HEAD);
	ck_assert_uint_gt(n, 0);
	ck_assert_mem_eq(out, "SIP/2.0 404 Not Found\r\n", 23);
	ck_assert_span(header(out, n, "Via", 0), "SIP/2.0/TCP 192.0.2.10:5060 ;branch=z9hG4bKa");
	ck_assert_span(header(out, n, "Via", 1),
		       "SIP/2.0/TCP 10.0.0.1;branch=z9hG4bKb, SIP/2.0/UDP 10.0.0.2");
	ck_assert_span(header(out, n, "Via", 2), "");
	ck_assert_span(header(out, n, "From", 0), "\"Bob\"\t<sip:bob@example.com>;tag=f1");
	ck_assert_span(header(out, n, "To", 0), "<sip:carol@example.com>;tag=t1");
	ck_assert_span(header(out, n, "CSeq", 0), "9   BYE");

	/* A tag inside the To URI is a URI parameter, not the header's. */
	const char *uri_tag = "OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n"
			      "From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com;tag=u>\r\n"
			      "Call-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n";
	n = refuse(uri_tag, strlen(uri_tag), PBX_R_NO_TARGET, out, sizeof out, MAX_HEAD);
	ck_assert_span(header(out, n, "To", 0), "<sip:b@example.com;tag=u>;tag=pbxedge");
	/* An addr-spec To's parameters are the header's. */
	const char *spec_tag = "OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n"
			       "From: <sip:a@example.com>;tag=1\r\nTo: sip:b@example.com ; TAG = \"q;x\"\r\n"
			       "Call-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n";
	n = refuse(spec_tag, strlen(spec_tag), PBX_R_NO_TARGET, out, sizeof out, MAX_HEAD);
	ck_assert_span(header(out, n, "To", 0), "sip:b@example.com ; TAG = \"q;x\"");
	/* A quoted parameter value with an escaped quote hides no tag. */
	const char *quoted = "OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n"
			     "From: <sip:a@example.com>;tag=1\r\n"
			     "To: <sip:b@example.com>;x=\"a\\\";tag=b\"\r\n"
			     "Call-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n";
	n = refuse(quoted, strlen(quoted), PBX_R_NO_TARGET, out, sizeof out, MAX_HEAD);
	ck_assert_span(header(out, n, "To", 0),
		       "<sip:b@example.com>;x=\"a\\\";tag=b\";tag=pbxedge");
	/* An unterminated one cannot be answered. */
	const char *open_quote = "OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n"
				 "From: <sip:a@example.com>;tag=1\r\n"
				 "To: <sip:b@example.com>;x=\"a\r\n"
				 "Call-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n";
	ck_assert_uint_eq(refuse(open_quote, strlen(open_quote), PBX_R_NO_TARGET, out,
				 sizeof out, MAX_HEAD), 0);
}
END_TEST

START_TEST(test_sip_refuse_nothing)
{
	uint8_t out[4096];
	size_t len;
	uint8_t *p;

	/* Responses and keep-alives are not answered. */
	static const char *const silent[] = { "sipp-uas-200-sdp.sip", "keepalive-ping.sip",
					      "keepalive-pong-before-request.sip",
					      "start-line-garbage.sip", "call-id-missing.sip",
					      "cseq-missing.sip", "from-missing.sip" };
	for (size_t i = 0; i < sizeof silent / sizeof silent[0]; i++) {
		p = load(silent[i], &len);
		ck_assert_msg(refuse(p, len, PBX_R_MALFORMED, out, sizeof out, MAX_HEAD) == 0,
			      "%s answered", silent[i]);
		free(p);
	}

	/* A request cut before its CSeq cannot be answered; cut after the
	 * line after it, it can (a timeout on a slow client). */
	p = load("sipp-register.sip", &len);
	size_t cseq = find(p, len, "CSeq:");
	ck_assert_uint_eq(refuse(p, cseq + 5, PBX_R_TIMEOUT, out, sizeof out, MAX_HEAD), 0);
	size_t next = find(p, len, "Contact:");
	ck_assert_uint_eq(refuse(p, next, PBX_R_TIMEOUT, out, sizeof out, MAX_HEAD), 0);
	ck_assert_uint_gt(refuse(p, next + 1, PBX_R_TIMEOUT, out, sizeof out, MAX_HEAD), 0);

	/* A writer one byte too small gets nothing; the exact size, all. */
	size_t n = refuse(p, len, PBX_R_TIMEOUT, out, sizeof out, MAX_HEAD);
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_eq(refuse(p, len, PBX_R_TIMEOUT, out, n - 1, MAX_HEAD), 0);
	ck_assert_uint_eq(refuse(p, len, PBX_R_TIMEOUT, out, n, MAX_HEAD), n);
	free(p);
}
END_TEST

START_TEST(test_sip_refuse_too_large)
{
	/* An oversized head is still answered from the lines before the
	 * bound. */
	uint8_t out[4096];
	size_t len;
	uint8_t *p = load("too-large-head.sip", &len);
	size_t n = refuse(p, len, PBX_R_TOO_LARGE, out, sizeof out, MAX_HEAD);
	ck_assert_uint_gt(n, 0);
	struct pbx_reply r;
	harness_reply(sip, out, n, MAX_HEAD, NULL, &r);
	ck_assert_int_eq(r.status, 513);
	ck_assert_span(header(out, n, "Call-ID", 0), "a84b4c76e66710@pc33.example.com");
	free(p);

	/* The Via of the folded vector, unfolded. */
	p = load("folded-headers.sip", &len);
	n = refuse(p, len, PBX_R_SOURCE_DENIED, out, sizeof out, MAX_HEAD);
	ck_assert_span(header(out, n, "Via", 0), "SIP/2.0/TCP 192.0.2.10:5060 ;branch=z9hG4bKfold");
	ck_assert_span(header(out, n, "From", 0), "\"Dave\tDoe\" <sip:dave@example.net> ;tag=9");
	ck_assert_span(header(out, n, "CSeq", 0), "7 REGISTER");
	free(p);
}
END_TEST

START_TEST(test_sip_inspector_row)
{
	ck_assert_ptr_eq(pbx_inspector_for(STORE_FAMILY_SIP), sip);
	ck_assert_str_eq(sip->name, "sip");
	ck_assert(!sip->lockstep);
	ck_assert_ptr_nonnull(sip->refuse);
}
END_TEST

int main(void)
{
	sip = pbx_inspector_for(STORE_FAMILY_SIP);
	if (!sip) {
		fprintf(stderr, "no sip inspector\n");
		return EXIT_FAILURE;
	}
	Suite *s = suite_create("sip");
	TCase *tc = tcase_create("sip");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_sip_request_vectors, 0,
			    (int)(sizeof req_cases / sizeof req_cases[0]));
	tcase_add_loop_test(tc, test_sip_reply_vectors, 0,
			    (int)(sizeof rep_cases / sizeof rep_cases[0]));
	tcase_add_test(tc, test_sip_reply_challenge_first);
	tcase_add_test(tc, test_sip_reply_challenge_second);
	tcase_add_test(tc, test_sip_reply_challenge_proxy);
	tcase_add_test(tc, test_sip_reply_forbidden);
	tcase_add_test(tc, test_sip_reply_table);
	tcase_add_test(tc, test_sip_reply_table_overflow);
	tcase_add_test(tc, test_sip_reply_ack_not_remembered);
	tcase_add_test(tc, test_sip_request_pipeline);
	tcase_add_test(tc, test_sip_request_keepalive);
	tcase_add_test(tc, test_sip_request_max_head);
	tcase_add_test(tc, test_sip_request_shrunk);
	tcase_add_test(tc, test_sip_reply_keepalive);
	tcase_add_test(tc, test_sip_request_linear);
	tcase_add_test(tc, test_sip_refuse_reasons);
	tcase_add_test(tc, test_sip_refuse_copies);
	tcase_add_test(tc, test_sip_refuse_nothing);
	tcase_add_test(tc, test_sip_refuse_too_large);
	tcase_add_test(tc, test_sip_inspector_row);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
