/* fuzz_stun.c - fuzzes the STUN codec (lib/stun/) the way stund and turnd
 * drive it: datagrams, TCP streams cut by the framer as bytes trickle in,
 * ChannelData.  Every message that decodes is read through the typed
 * getters, re-encoded (same type, transaction ID, attributes in order) and
 * decoded again, which must give the same values; its integrity is checked
 * with a fixed key, and a copy protected with that key must check.
 *
 * Input: one selector byte, then the bytes.  The selector's low two bits
 * choose the mode: 0 a UDP datagram, 1 a TCP stream (bound: the largest
 * message), 2 a TCP stream bound to 576 bytes, 3 a ChannelData datagram.
 * Bit 2 accepts RFC 5766 channel numbers; the top five bits give the size
 * of the pieces a stream arrives in (1-32 bytes) and, modulo 5, the
 * truncation of the MESSAGE-INTEGRITY-SHA256 the protected copy gets
 * (16-32 bytes); bit 7 lets the check accept 16-byte ones. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/stun.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                   \
	do {                                                                       \
		if (!(x))                                                          \
			abort();                                                   \
	} while (0)

/* A decoded attribute value, whatever its kind. */
struct value {
	int rc;
	struct pbx_addr addr;
	uint32_t u32;
	uint64_t u64;
	uint8_t u8;
	bool flag;
	uint16_t u16;
	unsigned flags;
	struct pbx_span text;
	struct stun_error err;
	struct stun_icmp icmp;
	struct stun_pwalg alg;
	uint16_t *list;           /* UNKNOWN-ATTRIBUTES */
	size_t n_list;
	struct stun_pwalg *algs;  /* PASSWORD-ALGORITHMS */
	size_t n_algs;
};

/* Room for the longest lists a message can hold. */
static uint16_t lists[2][32768];
static struct stun_pwalg algs[2][16384];
static uint8_t out[STUN_MSG_MAX + 128];

static void get_value(const struct stun_msg *m, size_t i, struct value *v, int slot)
{
	memset(v, 0, sizeof *v);
	v->list = lists[slot];
	v->algs = algs[slot];
	switch (stun_attr_kind(m->attrs[i].type)) {
	case STUN_K_ADDR:
	case STUN_K_XADDR:
		v->rc = stun_attr_addr(m, i, &v->addr);
		break;
	case STUN_K_U32:
	case STUN_K_FINGERPRINT:
		v->rc = stun_attr_u32(m, i, &v->u32);
		break;
	case STUN_K_U64:
		v->rc = stun_attr_u64(m, i, &v->u64);
		break;
	case STUN_K_TEXT:
		v->rc = stun_attr_text(m, i, &v->text);
		break;
	case STUN_K_EMPTY:
		v->rc = stun_attr_empty(m, i);
		break;
	case STUN_K_ERROR:
		v->rc = stun_attr_error(m, i, &v->err);
		break;
	case STUN_K_UNKNOWN_LIST:
		v->rc = stun_attr_unknown(m, i, v->list, 32768, &v->n_list);
		break;
	case STUN_K_CHANGE:
		v->rc = stun_attr_change_request(m, i, &v->flags);
		break;
	case STUN_K_CHANNEL:
		v->rc = stun_attr_channel(m, i, &v->u16);
		break;
	case STUN_K_TRANSPORT:
		v->rc = stun_attr_transport(m, i, &v->u8);
		break;
	case STUN_K_FAMILY:
		v->rc = stun_attr_family(m, i, &v->u8);
		break;
	case STUN_K_EVEN_PORT:
		v->rc = stun_attr_even_port(m, i, &v->flag);
		break;
	case STUN_K_PORT:
		v->rc = stun_attr_response_port(m, i, &v->u16);
		break;
	case STUN_K_PWALG:
		v->rc = stun_attr_password_algorithm(m, i, &v->alg);
		break;
	case STUN_K_PWALGS:
		v->rc = stun_attr_password_algorithms(m, i, v->algs, 16384, &v->n_algs);
		break;
	case STUN_K_ADDR_ERROR:
		v->rc = stun_attr_address_error(m, i, &v->u8, &v->err);
		break;
	case STUN_K_ICMP:
		v->rc = stun_attr_icmp(m, i, &v->icmp);
		break;
	default:
		/* Unknown and integrity attributes: the raw bytes. */
		v->rc = PBX_E_INVALID;
		break;
	}
	/* A getter succeeds, refuses a malformed value, or (kinds it does
	 * not read) is invalid; nothing else. */
	CHECK(v->rc == 0 || v->rc == PBX_E_MALFORMED || v->rc == PBX_E_INVALID);
}

static bool same_span(struct pbx_span a, struct pbx_span b)
{
	return pbx_span_eq(a, b);
}

static bool same_algs(const struct stun_pwalg *a, const struct stun_pwalg *b, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (a[k].alg != b[k].alg || !same_span(a[k].params, b[k].params))
			return false;
	return true;
}

static bool same_value(const struct value *a, const struct value *b)
{
	return a->rc == b->rc && pbx_addr_equal(&a->addr, &b->addr) && a->u32 == b->u32 &&
	       a->u64 == b->u64 && a->u8 == b->u8 && a->flag == b->flag && a->u16 == b->u16 &&
	       a->flags == b->flags && same_span(a->text, b->text) &&
	       a->err.code == b->err.code && same_span(a->err.reason, b->err.reason) &&
	       a->icmp.type == b->icmp.type && a->icmp.code == b->icmp.code &&
	       a->icmp.data == b->icmp.data && a->alg.alg == b->alg.alg &&
	       same_span(a->alg.params, b->alg.params) && a->n_list == b->n_list &&
	       memcmp(a->list, b->list, a->n_list * sizeof a->list[0]) == 0 &&
	       a->n_algs == b->n_algs && same_algs(a->algs, b->algs, a->n_algs);
}

/* Put a value read by get_value back with the typed put function. */
static int put_value(struct stun_enc *e, uint16_t type, const struct value *v)
{
	switch (stun_attr_kind(type)) {
	case STUN_K_ADDR:
	case STUN_K_XADDR:
		return stun_attr_put_addr(e, type, &v->addr);
	case STUN_K_U32:
		return stun_attr_put_u32(e, type, v->u32);
	case STUN_K_U64:
		return stun_attr_put_u64(e, type, v->u64);
	case STUN_K_TEXT:
		return stun_attr_put_text(e, type, v->text.p, v->text.len);
	case STUN_K_EMPTY:
		return stun_attr_put_empty(e, type);
	case STUN_K_ERROR:
		return stun_attr_put_error(e, v->err.code, &v->err.reason);
	case STUN_K_UNKNOWN_LIST:
		return stun_attr_put_unknown(e, v->list, v->n_list);
	case STUN_K_CHANGE:
		return stun_attr_put_change_request(e, v->flags);
	case STUN_K_CHANNEL:
		return stun_attr_put_channel(e, v->u16);
	case STUN_K_TRANSPORT:
		return stun_attr_put_transport(e, v->u8);
	case STUN_K_FAMILY:
		return stun_attr_put_family(e, type, v->u8);
	case STUN_K_EVEN_PORT:
		return stun_attr_put_even_port(e, v->flag);
	case STUN_K_PORT:
		return stun_attr_put_response_port(e, v->u16);
	case STUN_K_PWALG:
		return stun_attr_put_password_algorithm(e, &v->alg);
	case STUN_K_PWALGS:
		return stun_attr_put_password_algorithms(e, v->algs, v->n_algs);
	case STUN_K_ADDR_ERROR:
		return stun_attr_put_address_error(e, v->u8, v->err.code, &v->err.reason);
	case STUN_K_ICMP:
		return stun_attr_put_icmp(e, &v->icmp);
	default:
		abort();
	}
}

/* Re-encode m attribute by attribute into out: typed where its getter
 * read it, raw otherwise, FINGERPRINT computed afresh.  With key, drop
 * m's integrity attributes and FINGERPRINT and protect the copy with key
 * instead.  Returns the length, or 0 if it did not fit. */
static size_t reencode(const struct stun_msg *m, const struct stun_key *key, size_t sha256_len)
{
	struct stun_enc e;
	struct value v;
	size_t n;

	stun_msg_init(&e, out, sizeof out, m->type, m->tid, (enum stun_kind)m->kind);
	for (size_t i = 0; i < m->n_attrs; i++) {
		uint16_t type = m->attrs[i].type;
		enum stun_attr_kind kind = stun_attr_kind(type);
		if (key && (kind == STUN_K_INTEGRITY || kind == STUN_K_FINGERPRINT))
			continue;
		if (kind == STUN_K_FINGERPRINT) {
			CHECK(stun_integrity_put_fingerprint(&e) == 0);
			continue;
		}
		get_value(m, i, &v, 0);
		if (v.rc == 0) {
			CHECK(put_value(&e, type, &v) == 0);
		} else {
			struct pbx_span raw;
			CHECK(stun_attr_raw(m, i, &raw) == 0);
			CHECK(stun_attr_put_raw(&e, type, raw.p, raw.len) == 0);
		}
	}
	if (key) {
		stun_integrity_put(&e, key);
		stun_integrity_put_sha256(&e, key, sha256_len);
		stun_integrity_put_fingerprint(&e);
	}
	int rc = stun_msg_finish(&e, &n);
	if (key && rc == PBX_E_TOOLONG)
		return 0;
	CHECK(rc == 0);
	return n;
}

static void check_invariants(const struct stun_msg *m, const uint8_t *p, size_t len)
{
	CHECK(m->p == p && m->len == len && m->drop == STUN_DROP_NONE);
	CHECK(m->n_attrs <= STUN_MAX_ATTRS && m->n_unknown <= m->n_attrs);
	CHECK(m->tid_len == (m->kind == STUN_KIND_RFC5389 ? STUN_TID_LEN : STUN_TID_LEN_CLASSIC));
	CHECK(stun_hdr_type(m->method, (enum stun_class)m->cls) == m->type);
	for (size_t i = 0; i < m->n_attrs; i++) {
		CHECK(m->attrs[i].off >= STUN_HDR_LEN + 4);
		CHECK((size_t)m->attrs[i].off + m->attrs[i].len <= len);
		CHECK(i == 0 || m->attrs[i].off > m->attrs[i - 1].off);
	}
	if (m->fingerprint >= 0)
		CHECK((size_t)m->fingerprint == m->n_attrs - 1u);
	for (size_t k = 0; k < m->n_unknown; k++)
		CHECK(m->unknown[k] < 0x8000 && stun_attr_kind(m->unknown[k]) == STUN_K_UNKNOWN);
}

static void check_msg(const struct stun_msg *m, const uint8_t *p, size_t len, uint8_t sel)
{
	struct stun_msg again;
	struct value a, b;
	struct stun_key key;
	enum stun_integrity res;
	uint16_t unknown[STUN_MAX_ATTRS];
	size_t n;

	check_invariants(m, p, len);
	CHECK(stun_msg_unknown(m, NULL, 0, unknown, STUN_MAX_ATTRS, &n) == 0);
	CHECK(n >= m->n_unknown);
	stun_names_method(m->method);
	for (size_t i = 0; i < m->n_attrs; i++)
		stun_names_attr(m->attrs[i].type);

	/* The round trip is stable. */
	n = reencode(m, NULL, 0);
	CHECK(stun_msg_decode(&again, out, n) == 0);
	CHECK(again.type == m->type && again.kind == m->kind && again.n_attrs == m->n_attrs);
	CHECK(memcmp(again.tid, m->tid, m->tid_len) == 0 && again.n_ignored == 0);
	CHECK(again.n_unknown == m->n_unknown);
	CHECK(memcmp(again.unknown, m->unknown, m->n_unknown * sizeof m->unknown[0]) == 0);
	CHECK(again.integrity == m->integrity && again.integrity256 == m->integrity256);
	CHECK(again.fingerprint == m->fingerprint);
	for (size_t i = 0; i < m->n_attrs; i++) {
		CHECK(again.attrs[i].type == m->attrs[i].type);
		CHECK(again.attrs[i].len == m->attrs[i].len);
		get_value(m, i, &a, 0);
		get_value(&again, i, &b, 1);
		CHECK(a.rc == b.rc);
		if (a.rc == 0) {
			/* FINGERPRINT was computed afresh: padding bytes differ. */
			if (stun_attr_kind(m->attrs[i].type) != STUN_K_FINGERPRINT)
				CHECK(same_value(&a, &b));
		} else {
			struct pbx_span ra, rb;
			CHECK(stun_attr_raw(m, i, &ra) == 0 && stun_attr_raw(&again, i, &rb) == 0);
			CHECK(same_span(ra, rb));
		}
	}

	/* Integrity with a fixed key: whatever the answer, a clean one. */
	CHECK(stun_integrity_key_short(&key, pbx_span_cstr("fuzz-password")) == 0);
	CHECK(stun_integrity_check(m, &key, sel & 0x80 ? 16 : STUN_SHA256_FULL, &res) == 0);
	CHECK(res <= STUN_INTEGRITY_TOO_SHORT);

	/* A copy protected with the key checks with it. */
	if (m->n_attrs > STUN_MAX_ATTRS - 3)
		return;
	n = reencode(m, &key, 16 + 4 * (size_t)((sel >> 3) % 5));
	if (n == 0)
		return;
	CHECK(stun_msg_decode(&again, out, n) == 0);
	CHECK(stun_integrity_check(&again, &key, 16, &res) == 0 && res == STUN_INTEGRITY_OK_SHA256);
	bool ok = false;
	CHECK(again.integrity >= 0);
	CHECK(stun_integrity_check_attr(&again, (size_t)again.integrity, &key, &ok) == 0 && ok);
}

static void fuzz_datagram(const uint8_t *p, size_t len, uint8_t sel)
{
	struct stun_msg m;
	int rc = stun_msg_decode(&m, p, len);
	if (rc) {
		CHECK(m.drop != STUN_DROP_NONE && m.drop < STUN_DROP_COUNT && m.n_attrs == 0);
		CHECK(rc == PBX_E_TRUNCATED || rc == PBX_E_TRAILING || rc == PBX_E_TOOLONG ||
		      rc == PBX_E_MALFORMED);
		CHECK(m.drop_off <= len);
		return;
	}
	check_msg(&m, p, len, sel);
}

static void fuzz_chandata(const uint8_t *p, size_t len, unsigned flags)
{
	struct stun_chandata cd, again;
	uint8_t buf[70000];
	struct pbx_writer w;

	for (unsigned stream = 0; stream < 2; stream++) {
		unsigned f = flags | (stream ? STUN_CHAN_STREAM : 0);
		if (stun_hdr_chandata_decode(p, len, f, &cd)) {
			CHECK(cd.drop != STUN_DROP_NONE && cd.len == 0);
			continue;
		}
		CHECK(stun_hdr_channel_valid(cd.channel, f));
		CHECK(cd.len == 0 || (cd.data == p + 4 && cd.len <= len - 4));
		pbx_writer_init(&w, buf, sizeof buf);
		CHECK(stun_hdr_chandata_encode(&w, cd.channel, cd.data, cd.len, f) == 0);
		CHECK(stun_hdr_chandata_decode(buf, pbx_writer_len(&w), f, &again) == 0);
		CHECK(again.channel == cd.channel && again.len == cd.len);
		CHECK(cd.len == 0 || memcmp(again.data, cd.data, cd.len) == 0);
	}
}

/* A frame's verdict on every prefix, as its bytes trickle in, agrees
 * with the verdict on the whole. */
static void check_prefixes(const uint8_t *p, size_t len, size_t max, unsigned flags,
			   size_t piece, const struct stun_frame *whole)
{
	struct stun_frame f;
	size_t upto = whole->kind == STUN_FRAME_GARBAGE ? len : whole->len;
	for (size_t k = 0; k < upto && k < len; k += piece) {
		stun_hdr_frame(p, k, max, flags, &f);
		if (f.kind == STUN_FRAME_NEEDMORE) {
			CHECK(f.len > k);
			if (whole->kind != STUN_FRAME_GARBAGE)
				CHECK(f.len <= whole->len);
			continue;
		}
		CHECK(f.kind == whole->kind && f.drop == whole->drop && f.len == whole->len);
	}
}

/* The reasons left once the framer has checked the header. */
static bool attr_level(enum stun_drop drop)
{
	switch (drop) {
	case STUN_DROP_ATTR_TRUNCATED:
	case STUN_DROP_TOO_MANY_ATTRS:
	case STUN_DROP_BAD_INTEGRITY_ATTR:
	case STUN_DROP_BAD_FINGERPRINT:
	case STUN_DROP_AFTER_FINGERPRINT:
		return true;
	default:
		return false;
	}
}

static void fuzz_stream(const uint8_t *p, size_t len, size_t max, unsigned flags, size_t piece,
			uint8_t sel)
{
	struct stun_frame f;
	size_t off = 0;
	while (off < len) {
		stun_hdr_frame(p + off, len - off, max, flags, &f);
		check_prefixes(p + off, len - off, max, flags, piece, &f);
		if (f.kind == STUN_FRAME_NEEDMORE) {
			CHECK(f.len > len - off);
			return;
		}
		if (f.kind == STUN_FRAME_GARBAGE) {
			CHECK(f.drop != STUN_DROP_NONE);
			return;
		}
		CHECK(f.len <= max && f.len <= len - off && f.len >= 4);
		if (f.kind == STUN_FRAME_STUN) {
			struct stun_msg m;
			if (stun_msg_decode(&m, p + off, f.len) == 0) {
				CHECK(m.kind == STUN_KIND_RFC5389);
				check_msg(&m, p + off, f.len, sel);
			} else {
				CHECK(attr_level(m.drop));
			}
		} else {
			struct stun_chandata cd;
			CHECK(stun_hdr_chandata_decode(p + off, f.len, flags | STUN_CHAN_STREAM,
						       &cd) == 0);
			CHECK(STUN_CHAN_HDR_LEN + ((cd.len + 3) & ~(size_t)3) == f.len);
		}
		off += f.len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t sel = data[0];
	/* The bytes point into the fuzzer's buffer itself: a read past size
	 * is caught by ASan. */
	const uint8_t *p = data + 1;
	size_t len = size - 1;
	unsigned flags = sel & 4 ? STUN_CHAN_RFC5766 : 0;
	size_t piece = (size_t)(sel >> 3) + 1;

	switch (sel & 3) {
	case 0:
		fuzz_datagram(p, len, sel);
		break;
	case 1:
		fuzz_stream(p, len, STUN_MSG_MAX, flags, piece, sel);
		break;
	case 2:
		fuzz_stream(p, len, 576, flags, piece, sel);
		break;
	default:
		fuzz_chandata(p, len, flags);
		fuzz_datagram(p, len, sel);
		break;
	}
	return 0;
}
