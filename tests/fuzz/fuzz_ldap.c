/* fuzz_ldap.c - fuzzes the LDAP inspector (lib/inspect/ldap.c, RFC 4511):
 * request and reply fed as rpd feeds them, refuse for every reason, and
 * the invariants rpd relies on.
 *
 * Input: one selector byte, then the bytes of a connection.  The
 * selector's low six bits give how many bytes arrive per read (1 to 64),
 * its top two bits max_head (4096, 512, 64 or 8). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/inspect.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                     \
	do {                         \
		if (!(x))            \
			abort();     \
	} while (0)

static const size_t max_heads[4] = { 4096, 512, 64, 8 };

static const struct pbx_inspector *ldap(void)
{
	const struct pbx_inspector *in = pbx_inspector_for(STORE_FAMILY_LDAP);
	CHECK(in && in->state_size > 0);
	return in;
}

static void *new_state(size_t max_head)
{
	void *st = calloc(1, ldap()->state_size);
	CHECK(st);
	ldap()->init(st, max_head);
	return st;
}

static bool inside(struct pbx_span s, const void *base, size_t n)
{
	const uint8_t *p = (const uint8_t *)s.p, *b = base;
	return s.len == 0 || (p && p >= b && p <= b + n && s.len <= (size_t)(b + n - p));
}

/* Have state expect the BindResponse to messageID id (a 20-byte bind:
 * refused too-large, and so not expected, when max_head is smaller). */
static bool feed_bind(void *st, uint32_t id)
{
	uint8_t m[] = { 0x30, 0x12, 0x02, 0x04, (uint8_t)(id >> 24), (uint8_t)(id >> 16),
			(uint8_t)(id >> 8), (uint8_t)id, 0x60, 0x0a, 0x02, 0x01, 0x03,
			0x04, 0x03, 'a', '\\', 'b', 0x80, 0x00 };
	struct pbx_verdict v;
	ldap()->request(st, m, sizeof m, &v);
	return v.kind == PBX_V_ROUTE;
}

/* A refusal is one whole LDAPMessage: a BindResponse or an
 * ExtendedResponse carrying "pbxedge: REASON", that reply() takes. */
static void check_refusal(const uint8_t *m, size_t n, enum pbx_reason reason)
{
	CHECK(n >= 2 && m[0] == 0x30 && m[1] < 0x80 && (size_t)m[1] + 2 == n);
	CHECK(m[2] == 0x02 && m[3] >= 1 && m[3] <= 4);
	size_t i = 4;
	uint32_t id = 0;
	for (unsigned k = 0; k < m[3]; k++)
		id = id << 8 | m[i++];
	CHECK(id <= INT32_MAX);
	uint8_t op = m[i];
	CHECK(op == 0x61 || op == 0x78);
	CHECK((size_t)m[i + 1] + i + 2 == n);
	CHECK(m[i + 2] == 0x0a && m[i + 3] == 1);
	int code = m[i + 4];
	CHECK(m[i + 5] == 0x04 && m[i + 6] == 0 && m[i + 7] == 0x04);
	const char *rn = pbx_reason_name(reason);
	size_t dl = m[i + 8];
	CHECK(dl == 9 + strlen(rn) && i + 9 + dl <= n);
	CHECK(memcmp(m + i + 9, "pbxedge: ", 9) == 0 && memcmp(m + i + 18, rn, strlen(rn)) == 0);
	size_t end = i + 9 + dl;
	if (op == 0x78) {
		CHECK(end + 2 + 22 == n && m[end] == 0x8a && m[end + 1] == 22);
		CHECK(memcmp(m + end + 2, id ? "1.3.6.1.4.1.1466.20037" : "1.3.6.1.4.1.1466.20036",
			     22) == 0);
	} else {
		CHECK(end == n && id != 0);
	}

	void *st = new_state(4096);
	if (op == 0x61)
		CHECK(feed_bind(st, id));
	struct pbx_reply r;
	ldap()->reply(st, m, n, &r);
	CHECK(r.kind == PBX_V_PASS);
	CHECK(op == 0x61 ? r.status == code && r.head_len == n : r.status == -1);
	CHECK(r.final == (id != 0));
	free(st);
}

/* refuse for every reason (and one past the last): with room, a checked
 * refusal or nothing; with a small writer, the same or nothing at all. */
static void refusals(void *st, const uint8_t *p, size_t n, size_t small)
{
	static uint8_t out[4096], tight[64];
	for (int reason = 0; reason <= PBX_R_COUNT; reason++) {
		struct pbx_writer w;
		pbx_writer_init(&w, out, sizeof out);
		ldap()->refuse(st, p, n, (enum pbx_reason)reason, &w);
		size_t len = pbx_writer_len(&w);
		bool silent = reason == PBX_R_NONE || reason == PBX_R_BLACKLISTED ||
			      reason == PBX_R_TLS_FAILED || reason == PBX_R_REJECTED ||
			      reason == PBX_R_CLIENT_CLOSED || reason == PBX_R_IDLE ||
			      reason == PBX_R_SERVICE_MALFORMED || reason == PBX_R_COUNT;
		CHECK(silent == (len == 0));
		if (len)
			check_refusal(out, len, (enum pbx_reason)reason);

		pbx_writer_init(&w, tight, small < sizeof tight ? small : sizeof tight);
		ldap()->refuse(st, p, n, (enum pbx_reason)reason, &w);
		size_t tl = pbx_writer_len(&w);
		CHECK(tl == 0 || (tl == len && memcmp(tight, out, len) == 0));
	}
}

/* Requests as rpd reads them: growing prefixes, step bytes at a time,
 * each call given its own exact-size copy; past each framed message to
 * the next; a refusal ends the connection. */
static void requests(const uint8_t *p, size_t n, size_t step, size_t max_head)
{
	const struct pbx_inspector *in = ldap();
	void *st = new_state(max_head);
	size_t off = 0, have = 0;

	while (off < n) {
		have = have + step < n - off ? have + step : n - off;
		uint8_t *c = malloc(have);
		CHECK(c);
		memcpy(c, p + off, have);
		struct pbx_verdict v;
		memset(&v, 0xa5, sizeof v);
		in->request(st, c, have, &v);
		bool stop = false;
		switch (v.kind) {
		case PBX_V_NEED_MORE:
			/* Once max_head bytes are in, there is a verdict. */
			CHECK(have < max_head);
			stop = have == n - off;
			break;
		case PBX_V_ROUTE:
			CHECK(v.head_len >= 2 && v.head_len <= have && v.head_len <= max_head);
			CHECK(v.body == PBX_BODY_NONE && (v.flags & PBX_VF_REQUEST));
			CHECK(v.name.len > 0 && v.name.len <= 253);
			CHECK(inside(v.name, c, have) || inside(v.name, st, in->state_size));
			CHECK(inside(v.user, c, have) || inside(v.user, st, in->state_size));
			CHECK(inside(v.name, c, v.head_len) || !inside(v.name, c, have));
			CHECK(inside(v.user, c, v.head_len));
			/* rpd may still refuse it: unknown name, no target ... */
			refusals(st, c, v.head_len, step);
			break;
		case PBX_V_PASS:
			CHECK(v.head_len >= 2 && v.head_len <= 6 && v.head_len <= have);
			CHECK(v.body == PBX_BODY_LENGTH && v.body_len <= INT32_MAX);
			CHECK(v.flags & PBX_VF_REQUEST);
			CHECK(v.name.len == 0 && v.user.len == 0);
			break;
		case PBX_V_REFUSE:
			CHECK(v.offset <= have);
			CHECK(v.reason == PBX_R_MALFORMED || v.reason == PBX_R_TOO_LARGE ||
			      v.reason == PBX_R_UNSUPPORTED || v.reason == PBX_R_NO_NAME);
			refusals(st, c, have, step);
			stop = true;
			break;
		default:
			abort();
		}
		free(c);
		if (stop)
			break;
		if (v.kind == PBX_V_NEED_MORE)
			continue;
		uint64_t next = v.head_len + (v.body == PBX_BODY_LENGTH ? v.body_len : 0);
		if (next > n - off)
			break;
		off += (size_t)next;
		have = 0;
	}
	free(st);
}

/* Replies the same way, to a state that expects the BindResponses to
 * messageIDs 1 and 2 (what ldapwhoami and ldapsearch use). */
static void replies(const uint8_t *p, size_t n, size_t step, size_t max_head)
{
	const struct pbx_inspector *in = ldap();
	void *st = new_state(max_head);
	size_t off = 0, have = 0;

	CHECK(feed_bind(st, 1) == (max_head >= 20));
	CHECK(feed_bind(st, 2) == (max_head >= 20));
	while (off < n) {
		have = have + step < n - off ? have + step : n - off;
		uint8_t *c = malloc(have);
		CHECK(c);
		memcpy(c, p + off, have);
		struct pbx_reply r;
		memset(&r, 0xa5, sizeof r);
		in->reply(st, c, have, &r);
		free(c);
		if (r.kind == PBX_V_NEED_MORE) {
			CHECK(have < max_head && r.status == -1);
			if (have == n - off)
				break;
			continue;
		}
		if (r.kind == PBX_V_REFUSE) {
			CHECK(r.reason == PBX_R_MALFORMED || r.reason == PBX_R_TOO_LARGE);
			break;
		}
		CHECK(r.kind == PBX_V_PASS && r.head_len >= 2 && r.head_len <= have);
		CHECK(r.flags == 0);
		CHECK(!r.rejection || r.status == 49);
		if (r.body == PBX_BODY_NONE) {
			/* A BindResponse, held whole and classified. */
			CHECK(r.status >= 0 && r.final && r.head_len <= max_head);
		} else {
			CHECK(r.body == PBX_BODY_LENGTH && r.head_len <= 6 && r.status == -1);
			CHECK(r.body_len <= INT32_MAX && !r.rejection);
		}
		uint64_t next = r.head_len + (r.body == PBX_BODY_LENGTH ? r.body_len : 0);
		if (next > n - off)
			break;
		off += (size_t)next;
		have = 0;
	}
	free(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = (size_t)(data[0] & 0x3f) + 1;
	size_t max_head = max_heads[data[0] >> 6];
	const uint8_t *p = data + 1;
	size_t n = size - 1;

	requests(p, n, step, max_head);
	replies(p, n, step, max_head);

	/* Whatever arrived, refused at any point. */
	uint8_t *c = malloc(n ? n : 1);
	CHECK(c);
	memcpy(c, p, n);
	void *st = new_state(max_head);
	refusals(st, n ? c : NULL, n, step);
	free(st);
	free(c);
	return 0;
}
