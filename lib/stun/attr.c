/* attr.c - STUN attribute values: typed getters and put functions for the
 * attributes of RFC 8489 section 14, RFC 5780 section 7, RFC 8656 section
 * 18, RFC 8445 section 16.1 and RFC 3489 section 11.2. */
#include <arpa/inet.h>
#include <string.h>

#include <pbxedge/stun.h>

#include "internal.h"

#define ADDR_MIN 8   /* family 0x01 */
#define ADDR_MAX 20  /* family 0x02 */
#define ANY 0xffff

/* Every attribute type the codec knows, sorted by type, with the bounds
 * of its value's length. */
static const struct stun_attr_rule rules[] = {
	{ STUN_A_MAPPED_ADDRESS, STUN_K_ADDR, ADDR_MIN, ADDR_MAX },
	/* RFC 3489 asked the server to send its answer there.  We recognise
	 * it (so it is not an unknown attribute) and never act on it: an
	 * answer sent where a request says would make stund a reflector
	 * for attacks, which is why RFC 5389 dropped it. */
	{ STUN_A_RESPONSE_ADDRESS, STUN_K_ADDR, ADDR_MIN, ADDR_MAX },
	{ STUN_A_CHANGE_REQUEST, STUN_K_CHANGE, 4, 4 },
	{ STUN_A_SOURCE_ADDRESS, STUN_K_ADDR, ADDR_MIN, ADDR_MAX },
	{ STUN_A_CHANGED_ADDRESS, STUN_K_ADDR, ADDR_MIN, ADDR_MAX },
	{ STUN_A_USERNAME, STUN_K_TEXT, 0, STUN_TEXT_MAX },
	{ STUN_A_PASSWORD, STUN_K_TEXT, 0, STUN_TEXT_MAX },
	{ STUN_A_MESSAGE_INTEGRITY, STUN_K_INTEGRITY, 20, 20 },
	{ STUN_A_ERROR_CODE, STUN_K_ERROR, 4, 4 + STUN_TEXT_MAX },
	{ STUN_A_UNKNOWN_ATTRIBUTES, STUN_K_UNKNOWN_LIST, 0, ANY },
	{ STUN_A_REFLECTED_FROM, STUN_K_ADDR, ADDR_MIN, ADDR_MAX },
	{ STUN_A_CHANNEL_NUMBER, STUN_K_CHANNEL, 4, 4 },
	{ STUN_A_LIFETIME, STUN_K_U32, 4, 4 },
	{ STUN_A_XOR_PEER_ADDRESS, STUN_K_XADDR, ADDR_MIN, ADDR_MAX },
	{ STUN_A_DATA, STUN_K_TEXT, 0, ANY },
	{ STUN_A_REALM, STUN_K_TEXT, 0, STUN_TEXT_MAX },
	{ STUN_A_NONCE, STUN_K_TEXT, 0, STUN_TEXT_MAX },
	{ STUN_A_XOR_RELAYED_ADDRESS, STUN_K_XADDR, ADDR_MIN, ADDR_MAX },
	{ STUN_A_REQUESTED_ADDRESS_FAMILY, STUN_K_FAMILY, 4, 4 },
	{ STUN_A_EVEN_PORT, STUN_K_EVEN_PORT, 1, 1 },
	{ STUN_A_REQUESTED_TRANSPORT, STUN_K_TRANSPORT, 4, 4 },
	{ STUN_A_DONT_FRAGMENT, STUN_K_EMPTY, 0, 0 },
	{ STUN_A_MESSAGE_INTEGRITY_SHA256, STUN_K_INTEGRITY, STUN_SHA256_MIN, STUN_SHA256_FULL },
	{ STUN_A_PASSWORD_ALGORITHM, STUN_K_PWALG, 4, ANY },
	{ STUN_A_USERHASH, STUN_K_TEXT, 32, 32 },
	{ STUN_A_XOR_MAPPED_ADDRESS, STUN_K_XADDR, ADDR_MIN, ADDR_MAX },
	{ STUN_A_RESERVATION_TOKEN, STUN_K_U64, 8, 8 },
	{ STUN_A_PRIORITY, STUN_K_U32, 4, 4 },
	{ STUN_A_USE_CANDIDATE, STUN_K_EMPTY, 0, 0 },
	{ STUN_A_PADDING, STUN_K_TEXT, 0, ANY },
	{ STUN_A_RESPONSE_PORT, STUN_K_PORT, 4, 4 },
	{ STUN_A_ADDITIONAL_ADDRESS_FAMILY, STUN_K_FAMILY, 4, 4 },
	{ STUN_A_ADDRESS_ERROR_CODE, STUN_K_ADDR_ERROR, 4, 4 + STUN_TEXT_MAX },
	{ STUN_A_PASSWORD_ALGORITHMS, STUN_K_PWALGS, 0, ANY },
	{ STUN_A_ALTERNATE_DOMAIN, STUN_K_TEXT, 0, 255 },
	{ STUN_A_ICMP, STUN_K_ICMP, 8, 8 },
	{ STUN_A_SOFTWARE, STUN_K_TEXT, 0, STUN_TEXT_MAX },
	{ STUN_A_ALTERNATE_SERVER, STUN_K_ADDR, ADDR_MIN, ADDR_MAX },
	{ STUN_A_CACHE_TIMEOUT, STUN_K_U32, 4, 4 },
	{ STUN_A_FINGERPRINT, STUN_K_FINGERPRINT, 4, 4 },
	{ STUN_A_ICE_CONTROLLED, STUN_K_U64, 8, 8 },
	{ STUN_A_ICE_CONTROLLING, STUN_K_U64, 8, 8 },
	{ STUN_A_RESPONSE_ORIGIN, STUN_K_ADDR, ADDR_MIN, ADDR_MAX },
	{ STUN_A_OTHER_ADDRESS, STUN_K_ADDR, ADDR_MIN, ADDR_MAX },
};

const struct stun_attr_rule *stun_attr_rule(uint16_t type)
{
	size_t lo = 0, hi = sizeof rules / sizeof rules[0];
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (rules[mid].type == type)
			return &rules[mid];
		if (rules[mid].type < type)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

enum stun_attr_kind stun_attr_kind(uint16_t type)
{
	const struct stun_attr_rule *rule = stun_attr_rule(type);
	return rule ? (enum stun_attr_kind)rule->kind : STUN_K_UNKNOWN;
}

/* ---- getters ---- */

/* A reader over the value of attribute i if it is of kind k (or k2) and
 * within its length bounds.  Returns 0, PBX_E_INVALID or PBX_E_MALFORMED. */
static int value_of(const struct stun_msg *m, size_t i, enum stun_attr_kind k,
		    enum stun_attr_kind k2, struct pbx_reader *r)
{
	pbx_reader_init(r, NULL, 0);
	if (i >= m->n_attrs)
		return PBX_E_INVALID;
	const struct stun_attr_ref *a = &m->attrs[i];
	const struct stun_attr_rule *rule = stun_attr_rule(a->type);
	if (!rule || (rule->kind != k && rule->kind != k2))
		return PBX_E_INVALID;
	if (a->len < rule->min || a->len > rule->max)
		return PBX_E_MALFORMED;
	pbx_reader_init(r, m->p + a->off, a->len);
	return 0;
}

/* A value read field by field must be used up exactly. */
static int value_end(const struct pbx_reader *r)
{
	return pbx_reader_end(r) ? PBX_E_MALFORMED : 0;
}

int stun_attr_raw(const struct stun_msg *m, size_t i, struct pbx_span *v)
{
	v->p = NULL;
	v->len = 0;
	if (i >= m->n_attrs)
		return PBX_E_INVALID;
	struct pbx_reader r;
	pbx_reader_init(&r, m->p + m->attrs[i].off, m->attrs[i].len);
	*v = pbx_reader_rest(&r);
	return 0;
}

/* The 16 bytes an XOR address is XORed with: magic cookie and
 * transaction ID (RFC 8489 14.2). */
static void xor_key_of(const struct stun_msg *m, uint8_t key[16])
{
	key[0] = STUN_COOKIE >> 24;
	key[1] = STUN_COOKIE >> 16 & 0xff;
	key[2] = STUN_COOKIE >> 8 & 0xff;
	key[3] = STUN_COOKIE & 0xff;
	memcpy(key + 4, m->tid, STUN_TID_LEN);
}

static void addr_set(struct pbx_addr *out, uint8_t family, const uint8_t *ip, uint16_t port)
{
	memset(out, 0, sizeof *out);
	if (family == STUN_FAMILY_IPV4) {
		out->u.sin.sin_family = AF_INET;
		out->u.sin.sin_port = htons(port);
		memcpy(&out->u.sin.sin_addr, ip, 4);
		out->len = sizeof out->u.sin;
	} else {
		out->u.sin6.sin6_family = AF_INET6;
		out->u.sin6.sin6_port = htons(port);
		memcpy(&out->u.sin6.sin6_addr, ip, 16);
		out->len = sizeof out->u.sin6;
	}
}

int stun_attr_addr(const struct stun_msg *m, size_t i, struct pbx_addr *out)
{
	struct pbx_reader r;
	uint8_t reserved, family, ip[16], key[16];
	uint16_t port;

	memset(out, 0, sizeof *out);
	int rc = value_of(m, i, STUN_K_ADDR, STUN_K_XADDR, &r);
	if (rc)
		return rc;
	bool xor = stun_attr_kind(m->attrs[i].type) == STUN_K_XADDR;
	if (xor && m->kind != STUN_KIND_RFC5389)
		return PBX_E_MALFORMED;
	/* The first byte is reserved and ignored (RFC 8489 14.1). */
	pbx_read_u8(&r, &reserved);
	pbx_read_u8(&r, &family);
	pbx_read_u16(&r, &port);
	size_t n = family == STUN_FAMILY_IPV4 ? 4 : family == STUN_FAMILY_IPV6 ? 16 : 0;
	if (n == 0 || pbx_read_bytes(&r, ip, n) || value_end(&r))
		return PBX_E_MALFORMED;
	if (xor) {
		xor_key_of(m, key);
		port ^= (uint16_t)(STUN_COOKIE >> 16);
		for (size_t k = 0; k < n; k++)
			ip[k] ^= key[k];
	}
	addr_set(out, family, ip, port);
	return 0;
}

int stun_attr_u32(const struct stun_msg *m, size_t i, uint32_t *v)
{
	struct pbx_reader r;
	*v = 0;
	int rc = value_of(m, i, STUN_K_U32, STUN_K_FINGERPRINT, &r);
	if (rc)
		return rc;
	pbx_read_u32(&r, v);
	return value_end(&r);
}

int stun_attr_u64(const struct stun_msg *m, size_t i, uint64_t *v)
{
	struct pbx_reader r;
	*v = 0;
	int rc = value_of(m, i, STUN_K_U64, STUN_K_U64, &r);
	if (rc)
		return rc;
	pbx_read_u64(&r, v);
	return value_end(&r);
}

int stun_attr_text(const struct stun_msg *m, size_t i, struct pbx_span *v)
{
	struct pbx_reader r;
	v->p = NULL;
	v->len = 0;
	int rc = value_of(m, i, STUN_K_TEXT, STUN_K_TEXT, &r);
	if (rc)
		return rc;
	*v = pbx_reader_rest(&r);
	return 0;
}

int stun_attr_empty(const struct stun_msg *m, size_t i)
{
	struct pbx_reader r;
	return value_of(m, i, STUN_K_EMPTY, STUN_K_EMPTY, &r);
}

/* Class and number as RFC 8489 14.8 encodes them; the class must be 3-6,
 * the number 0-99. */
static int error_code_of(uint8_t cls, uint8_t number, int *code)
{
	*code = 0;
	if (cls < 3 || cls > 6 || number > 99)
		return PBX_E_MALFORMED;
	*code = cls * 100 + number;
	return 0;
}

int stun_attr_error(const struct stun_msg *m, size_t i, struct stun_error *out)
{
	struct pbx_reader r;
	uint16_t reserved;
	uint8_t cls, number;

	memset(out, 0, sizeof *out);
	int rc = value_of(m, i, STUN_K_ERROR, STUN_K_ERROR, &r);
	if (rc)
		return rc;
	/* The reserved bits are ignored (RFC 8489 14.8). */
	pbx_read_u16(&r, &reserved);
	pbx_read_u8(&r, &cls);
	pbx_read_u8(&r, &number);
	rc = error_code_of(cls & 7, number, &out->code);
	if (rc)
		return rc;
	out->reason = pbx_reader_rest(&r);
	return 0;
}

int stun_attr_unknown(const struct stun_msg *m, size_t i, uint16_t *out, size_t cap,
		      size_t *n)
{
	struct pbx_reader r;
	*n = 0;
	int rc = value_of(m, i, STUN_K_UNKNOWN_LIST, STUN_K_UNKNOWN_LIST, &r);
	if (rc)
		return rc;
	/* RFC 3489 clients repeat a type to fill 4 bytes; the list is kept
	 * as sent. */
	if (pbx_reader_left(&r) & 1)
		return PBX_E_MALFORMED;
	while (pbx_reader_left(&r) > 0) {
		uint16_t type;
		pbx_read_u16(&r, &type);
		if (*n >= cap)
			return PBX_E_NOSPACE;
		out[(*n)++] = type;
	}
	return 0;
}

int stun_attr_change_request(const struct stun_msg *m, size_t i, unsigned *flags)
{
	struct pbx_reader r;
	uint32_t v;
	*flags = 0;
	int rc = value_of(m, i, STUN_K_CHANGE, STUN_K_CHANGE, &r);
	if (rc)
		return rc;
	pbx_read_u32(&r, &v);
	*flags = v & (STUN_CHANGE_IP | STUN_CHANGE_PORT);
	return value_end(&r);
}

/* The common shape of CHANNEL-NUMBER, RESPONSE-PORT: 16 bits and 16
 * reserved bits that are ignored. */
static int read_u16_rffu(const struct stun_msg *m, size_t i, enum stun_attr_kind k,
			 uint16_t *v)
{
	struct pbx_reader r;
	uint16_t rffu;
	*v = 0;
	int rc = value_of(m, i, k, k, &r);
	if (rc)
		return rc;
	pbx_read_u16(&r, v);
	pbx_read_u16(&r, &rffu);
	return value_end(&r);
}

/* The common shape of REQUESTED-TRANSPORT, the address family attributes
 * and EVEN-PORT: one byte, then reserved bytes that are ignored. */
static int read_u8_rffu(const struct stun_msg *m, size_t i, enum stun_attr_kind k,
			uint8_t *v)
{
	struct pbx_reader r;
	*v = 0;
	int rc = value_of(m, i, k, k, &r);
	if (rc)
		return rc;
	pbx_read_u8(&r, v);
	pbx_read_skip(&r, pbx_reader_left(&r));
	return value_end(&r);
}

int stun_attr_channel(const struct stun_msg *m, size_t i, uint16_t *ch)
{
	return read_u16_rffu(m, i, STUN_K_CHANNEL, ch);
}

int stun_attr_response_port(const struct stun_msg *m, size_t i, uint16_t *port)
{
	return read_u16_rffu(m, i, STUN_K_PORT, port);
}

int stun_attr_transport(const struct stun_msg *m, size_t i, uint8_t *proto)
{
	return read_u8_rffu(m, i, STUN_K_TRANSPORT, proto);
}

int stun_attr_family(const struct stun_msg *m, size_t i, uint8_t *family)
{
	return read_u8_rffu(m, i, STUN_K_FAMILY, family);
}

int stun_attr_even_port(const struct stun_msg *m, size_t i, bool *reserve)
{
	uint8_t v;
	int rc = read_u8_rffu(m, i, STUN_K_EVEN_PORT, &v);
	*reserve = rc == 0 && (v & 0x80);
	return rc;
}

/* One algorithm entry: number, parameter length, parameters padded to 4
 * like an attribute (RFC 8489 14.11, 14.12). */
static int read_pwalg(struct pbx_reader *r, struct stun_pwalg *out)
{
	struct pbx_reader params;
	uint16_t n;
	pbx_read_u16(r, &out->alg);
	pbx_read_u16(r, &n);
	pbx_read_sub(r, n, &params);
	if (pbx_read_pad(r, 4))
		return PBX_E_MALFORMED;
	out->params = pbx_reader_rest(&params);
	return 0;
}

int stun_attr_password_algorithm(const struct stun_msg *m, size_t i, struct stun_pwalg *out)
{
	struct pbx_reader r;
	memset(out, 0, sizeof *out);
	int rc = value_of(m, i, STUN_K_PWALG, STUN_K_PWALG, &r);
	if (rc)
		return rc;
	rc = read_pwalg(&r, out);
	if (!rc)
		rc = value_end(&r);
	if (rc)
		memset(out, 0, sizeof *out);
	return rc;
}

int stun_attr_password_algorithms(const struct stun_msg *m, size_t i, struct stun_pwalg *out,
				  size_t cap, size_t *n)
{
	struct pbx_reader r;
	*n = 0;
	int rc = value_of(m, i, STUN_K_PWALGS, STUN_K_PWALGS, &r);
	if (rc)
		return rc;
	while (pbx_reader_left(&r) > 0) {
		struct stun_pwalg alg;
		if (read_pwalg(&r, &alg))
			return PBX_E_MALFORMED;
		if (*n >= cap)
			return PBX_E_NOSPACE;
		out[(*n)++] = alg;
	}
	return 0;
}

int stun_attr_address_error(const struct stun_msg *m, size_t i, uint8_t *family,
			    struct stun_error *out)
{
	struct pbx_reader r;
	uint16_t cls;
	uint8_t number;

	*family = 0;
	memset(out, 0, sizeof *out);
	int rc = value_of(m, i, STUN_K_ADDR_ERROR, STUN_K_ADDR_ERROR, &r);
	if (rc)
		return rc;
	/* Family, 13 reserved bits that are ignored, class, number
	 * (RFC 8656 18.12). */
	pbx_read_u8(&r, family);
	pbx_read_u16(&r, &cls);
	pbx_read_u8(&r, &number);
	rc = error_code_of(cls & 7, number, &out->code);
	if (rc) {
		*family = 0;
		return rc;
	}
	out->reason = pbx_reader_rest(&r);
	return 0;
}

int stun_attr_icmp(const struct stun_msg *m, size_t i, struct stun_icmp *out)
{
	struct pbx_reader r;
	uint16_t reserved;
	memset(out, 0, sizeof *out);
	int rc = value_of(m, i, STUN_K_ICMP, STUN_K_ICMP, &r);
	if (rc)
		return rc;
	pbx_read_u16(&r, &reserved);
	pbx_read_u8(&r, &out->type);
	pbx_read_u8(&r, &out->code);
	pbx_read_u32(&r, &out->data);
	return value_end(&r);
}

/* ---- put functions ---- */

/* Check that type is of kind k (or k2) and n within its bounds, then
 * begin the attribute. */
static int put_begin(struct stun_enc *e, uint16_t type, enum stun_attr_kind k,
		     enum stun_attr_kind k2, size_t n)
{
	if (e->err)
		return e->err;
	const struct stun_attr_rule *rule = stun_attr_rule(type);
	if (!rule || (rule->kind != k && rule->kind != k2) || n < rule->min || n > rule->max)
		return stun_enc_fail(e, PBX_E_INVALID);
	return stun_enc_begin(e, type, n);
}

int stun_attr_put_raw(struct stun_enc *e, uint16_t type, const void *v, size_t n)
{
	if (stun_enc_begin(e, type, n))
		return e->err;
	pbx_write_bytes(&e->w, v, n);
	return stun_enc_end(e, n);
}

int stun_attr_put_addr(struct stun_enc *e, uint16_t type, const struct pbx_addr *a)
{
	uint8_t ip[16], family;
	size_t n;
	int af = pbx_addr_family(a);

	if (af == AF_INET) {
		family = STUN_FAMILY_IPV4;
		n = 4;
		memcpy(ip, &a->u.sin.sin_addr, 4);
	} else if (af == AF_INET6) {
		family = STUN_FAMILY_IPV6;
		n = 16;
		memcpy(ip, &a->u.sin6.sin6_addr, 16);
	} else {
		return stun_enc_fail(e, PBX_E_INVALID);
	}
	uint16_t port = pbx_addr_port(a);
	bool xor = stun_attr_kind(type) == STUN_K_XADDR;
	/* No XOR attributes towards an RFC 3489 client: it has no cookie to
	 * undo them with, and would drop an answer carrying a
	 * comprehension-required attribute it does not know. */
	if (xor && e->kind != STUN_KIND_RFC5389)
		return stun_enc_fail(e, PBX_E_INVALID);
	if (put_begin(e, type, STUN_K_ADDR, STUN_K_XADDR, 4 + n))
		return e->err;
	if (xor) {
		port ^= (uint16_t)(STUN_COOKIE >> 16);
		for (size_t k = 0; k < n; k++)
			ip[k] ^= e->xor_key[k];
	}
	pbx_write_u8(&e->w, 0);
	pbx_write_u8(&e->w, family);
	pbx_write_u16(&e->w, port);
	pbx_write_bytes(&e->w, ip, n);
	return stun_enc_end(e, 4 + n);
}

int stun_attr_put_u32(struct stun_enc *e, uint16_t type, uint32_t v)
{
	if (put_begin(e, type, STUN_K_U32, STUN_K_U32, 4))
		return e->err;
	pbx_write_u32(&e->w, v);
	return stun_enc_end(e, 4);
}

int stun_attr_put_u64(struct stun_enc *e, uint16_t type, uint64_t v)
{
	if (put_begin(e, type, STUN_K_U64, STUN_K_U64, 8))
		return e->err;
	pbx_write_u64(&e->w, v);
	return stun_enc_end(e, 8);
}

int stun_attr_put_text(struct stun_enc *e, uint16_t type, const void *v, size_t n)
{
	if (put_begin(e, type, STUN_K_TEXT, STUN_K_TEXT, n))
		return e->err;
	pbx_write_bytes(&e->w, v, n);
	return stun_enc_end(e, n);
}

int stun_attr_put_empty(struct stun_enc *e, uint16_t type)
{
	if (put_begin(e, type, STUN_K_EMPTY, STUN_K_EMPTY, 0))
		return e->err;
	return stun_enc_end(e, 0);
}

/* The reason to send: the caller's, or the standard phrase. */
static struct pbx_span reason_of(int code, const struct pbx_span *reason)
{
	if (reason)
		return *reason;
	return pbx_span_cstr(stun_names_error(code));
}

int stun_attr_put_error(struct stun_enc *e, int code, const struct pbx_span *reason)
{
	struct pbx_span text = reason_of(code, reason);
	if (code < 300 || code > 699)
		return stun_enc_fail(e, PBX_E_INVALID);
	if (put_begin(e, STUN_A_ERROR_CODE, STUN_K_ERROR, STUN_K_ERROR, 4 + text.len))
		return e->err;
	pbx_write_u16(&e->w, 0);
	pbx_write_u8(&e->w, (uint8_t)(code / 100));
	pbx_write_u8(&e->w, (uint8_t)(code % 100));
	pbx_write_bytes(&e->w, text.p, text.len);
	return stun_enc_end(e, 4 + text.len);
}

int stun_attr_put_unknown(struct stun_enc *e, const uint16_t *types, size_t n)
{
	if (n > ANY / 2)
		return stun_enc_fail(e, PBX_E_INVALID);
	if (put_begin(e, STUN_A_UNKNOWN_ATTRIBUTES, STUN_K_UNKNOWN_LIST, STUN_K_UNKNOWN_LIST,
		      2 * n))
		return e->err;
	for (size_t k = 0; k < n; k++)
		pbx_write_u16(&e->w, types[k]);
	return stun_enc_end(e, 2 * n);
}

int stun_attr_put_change_request(struct stun_enc *e, unsigned flags)
{
	if (flags & ~(STUN_CHANGE_IP | STUN_CHANGE_PORT))
		return stun_enc_fail(e, PBX_E_INVALID);
	if (put_begin(e, STUN_A_CHANGE_REQUEST, STUN_K_CHANGE, STUN_K_CHANGE, 4))
		return e->err;
	pbx_write_u32(&e->w, flags);
	return stun_enc_end(e, 4);
}

static int put_u16_rffu(struct stun_enc *e, uint16_t type, enum stun_attr_kind k, uint16_t v)
{
	if (put_begin(e, type, k, k, 4))
		return e->err;
	pbx_write_u16(&e->w, v);
	pbx_write_u16(&e->w, 0);
	return stun_enc_end(e, 4);
}

static int put_u8_rffu(struct stun_enc *e, uint16_t type, enum stun_attr_kind k, uint8_t v,
		       size_t n)
{
	if (put_begin(e, type, k, k, n))
		return e->err;
	pbx_write_u8(&e->w, v);
	pbx_write_zero(&e->w, n - 1);
	return stun_enc_end(e, n);
}

int stun_attr_put_channel(struct stun_enc *e, uint16_t ch)
{
	return put_u16_rffu(e, STUN_A_CHANNEL_NUMBER, STUN_K_CHANNEL, ch);
}

int stun_attr_put_response_port(struct stun_enc *e, uint16_t port)
{
	return put_u16_rffu(e, STUN_A_RESPONSE_PORT, STUN_K_PORT, port);
}

int stun_attr_put_transport(struct stun_enc *e, uint8_t proto)
{
	return put_u8_rffu(e, STUN_A_REQUESTED_TRANSPORT, STUN_K_TRANSPORT, proto, 4);
}

int stun_attr_put_family(struct stun_enc *e, uint16_t type, uint8_t family)
{
	return put_u8_rffu(e, type, STUN_K_FAMILY, family, 4);
}

int stun_attr_put_even_port(struct stun_enc *e, bool reserve)
{
	return put_u8_rffu(e, STUN_A_EVEN_PORT, STUN_K_EVEN_PORT, reserve ? 0x80 : 0, 1);
}

static size_t pwalg_space(const struct stun_pwalg *alg)
{
	return STUN_ATTR_SPACE(alg->params.len);
}

static void write_pwalg(struct stun_enc *e, const struct stun_pwalg *alg)
{
	pbx_write_u16(&e->w, alg->alg);
	pbx_write_u16(&e->w, (uint16_t)alg->params.len);
	pbx_write_bytes(&e->w, alg->params.p, alg->params.len);
	pbx_write_zero(&e->w, pwalg_space(alg) - 4 - alg->params.len);
}

int stun_attr_put_password_algorithm(struct stun_enc *e, const struct stun_pwalg *alg)
{
	if (alg->params.len > ANY - 4)
		return stun_enc_fail(e, PBX_E_INVALID);
	size_t n = pwalg_space(alg);
	if (put_begin(e, STUN_A_PASSWORD_ALGORITHM, STUN_K_PWALG, STUN_K_PWALG, n))
		return e->err;
	write_pwalg(e, alg);
	return stun_enc_end(e, n);
}

int stun_attr_put_password_algorithms(struct stun_enc *e, const struct stun_pwalg *algs,
				      size_t n)
{
	size_t total = 0;
	for (size_t k = 0; k < n; k++) {
		if (algs[k].params.len > ANY - 4)
			return stun_enc_fail(e, PBX_E_INVALID);
		total += pwalg_space(&algs[k]);
		if (total > ANY)
			return stun_enc_fail(e, PBX_E_INVALID);
	}
	if (put_begin(e, STUN_A_PASSWORD_ALGORITHMS, STUN_K_PWALGS, STUN_K_PWALGS, total))
		return e->err;
	for (size_t k = 0; k < n; k++)
		write_pwalg(e, &algs[k]);
	return stun_enc_end(e, total);
}

int stun_attr_put_address_error(struct stun_enc *e, uint8_t family, int code,
				const struct pbx_span *reason)
{
	struct pbx_span text = reason_of(code, reason);
	if (code < 300 || code > 699)
		return stun_enc_fail(e, PBX_E_INVALID);
	if (put_begin(e, STUN_A_ADDRESS_ERROR_CODE, STUN_K_ADDR_ERROR, STUN_K_ADDR_ERROR,
		      4 + text.len))
		return e->err;
	pbx_write_u8(&e->w, family);
	pbx_write_u16(&e->w, (uint16_t)(code / 100));
	pbx_write_u8(&e->w, (uint8_t)(code % 100));
	pbx_write_bytes(&e->w, text.p, text.len);
	return stun_enc_end(e, 4 + text.len);
}

int stun_attr_put_icmp(struct stun_enc *e, const struct stun_icmp *icmp)
{
	if (put_begin(e, STUN_A_ICMP, STUN_K_ICMP, STUN_K_ICMP, 8))
		return e->err;
	pbx_write_u16(&e->w, 0);
	pbx_write_u8(&e->w, icmp->type);
	pbx_write_u8(&e->w, icmp->code);
	pbx_write_u32(&e->w, icmp->data);
	return stun_enc_end(e, 8);
}
