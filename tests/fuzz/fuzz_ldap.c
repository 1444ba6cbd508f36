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

#include "inspect_feed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const size_t max_heads[4] = { 4096, 512, 64, 8 };

static const struct pbx_inspector *ldap(void)
{
	const struct pbx_inspector *in = pbx_inspector_for(STORE_FAMILY_LDAP);
	CHECK(in && in->state_size > 0);
	return in;
}

/* Have state expect the BindResponse to messageID id (a 20-byte bind:
 * refused too-large, and so not expected, when max_head is smaller). */
static bool send_bind(void *st, uint32_t id)
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
static void check_refusal(const struct feed *f, enum pbx_reason reason, const uint8_t *m,
			  size_t n, const uint8_t *p, size_t len)
{
	(void)f;
	(void)p;
	(void)len;
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

	void *st = feed_state(ldap(), 4096);
	if (op == 0x61)
		CHECK(send_bind(st, id));
	struct pbx_reply r;
	ldap()->reply(st, m, n, &r);
	CHECK(r.kind == PBX_V_PASS);
	CHECK(op == 0x61 ? r.status == code && r.head_len == n : r.status == -1);
	CHECK(r.final == (id != 0));
	free(st);
}

static void check_request(const struct feed *f, void *st, const struct pbx_verdict *v,
			  const uint8_t *c, size_t have)
{
	size_t sn = f->in->state_size;

	switch (v->kind) {
	case PBX_V_ROUTE:
		CHECK(v->head_len >= 2 && v->head_len <= f->max_head);
		CHECK(v->body == PBX_BODY_NONE && (v->flags & PBX_VF_REQUEST));
		CHECK(v->name.len > 0 && v->name.len <= 253);
		CHECK(feed_inside(v->name, c, have) || feed_inside(v->name, st, sn));
		CHECK(feed_inside(v->user, c, have) || feed_inside(v->user, st, sn));
		CHECK(feed_inside(v->name, c, v->head_len) || !feed_inside(v->name, c, have));
		CHECK(feed_inside(v->user, c, v->head_len));
		break;
	case PBX_V_PASS:
		CHECK(v->head_len >= 2 && v->head_len <= 6);
		CHECK(v->body == PBX_BODY_LENGTH && v->body_len <= INT32_MAX);
		CHECK(v->flags & PBX_VF_REQUEST);
		CHECK(v->name.len == 0 && v->user.len == 0);
		break;
	case PBX_V_REFUSE:
		CHECK(v->reason == PBX_R_MALFORMED || v->reason == PBX_R_TOO_LARGE ||
		      v->reason == PBX_R_UNSUPPORTED || v->reason == PBX_R_NO_NAME);
		break;
	default:
		break;
	}
}

static void check_reply(const struct feed *f, void *st, const struct pbx_reply *r,
			const uint8_t *c, size_t have)
{
	(void)st;
	(void)c;
	(void)have;
	switch (r->kind) {
	case PBX_V_NEED_MORE:
		CHECK(r->status == -1);
		break;
	case PBX_V_REFUSE:
		CHECK(r->reason == PBX_R_MALFORMED || r->reason == PBX_R_TOO_LARGE);
		break;
	case PBX_V_PASS:
		CHECK(r->head_len >= 2 && r->flags == 0);
		CHECK(!r->rejection || r->status == 49);
		if (r->body == PBX_BODY_NONE) {
			/* A BindResponse, held whole and classified. */
			CHECK(r->status >= 0 && r->final && r->head_len <= f->max_head);
		} else {
			CHECK(r->body == PBX_BODY_LENGTH && r->head_len <= 6 && r->status == -1);
			CHECK(r->body_len <= INT32_MAX && !r->rejection);
		}
		break;
	default:
		break;
	}
}

static const struct feed_ops ldap_ops = {
	.request = check_request,
	/* rpd may still refuse a routed bind: unknown name, no target ... */
	.decided = feed_refuse_decided,
	.reply = check_reply,
	.refusal = check_refusal,
	/* A Notice of Disconnection answers what cannot be read. */
	.answers_all = true,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct feed f = {
		.in = ldap(),
		.ops = &ldap_ops,
		.step = (size_t)(data[0] & 0x3f) + 1,
		.max_head = max_heads[data[0] >> 6],
	};
	const uint8_t *p = data + 1;
	size_t n = size - 1;

	void *st = feed_state(f.in, f.max_head);
	feed_requests(&f, st, p, n);
	free(st);

	/* Replies to a state that expects the BindResponses to messageIDs 1
	 * and 2 (what ldapwhoami and ldapsearch use). */
	st = feed_state(f.in, f.max_head);
	CHECK(send_bind(st, 1) == (f.max_head >= 20));
	CHECK(send_bind(st, 2) == (f.max_head >= 20));
	feed_replies(&f, st, p, n);
	free(st);

	/* Whatever arrived, refused at any point. */
	feed_refuse_fresh(&f, p, n);
	return 0;
}
