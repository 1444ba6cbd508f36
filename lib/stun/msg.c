/* msg.c - STUN message decoding into an attribute index and encoding into
 * a caller buffer (RFC 8489 sections 5, 6.3, 14; RFC 3489 section 11 for
 * messages without the magic cookie). */
#include <string.h>

#include <pbxedge/stun.h>

#include "internal.h"

/* ---- decoding ---- */

static int drop(struct stun_msg *m, enum stun_drop why, size_t off)
{
	m->drop = (uint8_t)why;
	m->drop_off = (uint32_t)off;
	m->n_attrs = 0;
	m->n_unknown = 0;
	m->n_ignored = 0;
	m->integrity = m->integrity256 = m->fingerprint = -1;
	switch (why) {
	case STUN_DROP_TRUNCATED:
	case STUN_DROP_ATTR_TRUNCATED:
		return PBX_E_TRUNCATED;
	case STUN_DROP_TRAILING:
		return PBX_E_TRAILING;
	case STUN_DROP_TOO_MANY_ATTRS:
		return PBX_E_TOOLONG;
	default:
		return PBX_E_MALFORMED;
	}
}

/* With a length field that is not a multiple of 4, tell a sender that
 * forgot to pad its last attribute (every attribute before it framed
 * right, and its value ends exactly at the end) from a plain bad length. */
static enum stun_drop odd_length_reason(const uint8_t *p, size_t len)
{
	struct pbx_reader r, value;
	pbx_reader_init(&r, p, len);
	pbx_read_skip(&r, STUN_HDR_LEN);
	while (pbx_reader_left(&r) >= 4) {
		uint16_t type, n;
		pbx_read_u16(&r, &type);
		pbx_read_u16(&r, &n);
		if (pbx_read_sub(&r, n, &value))
			return STUN_DROP_BAD_LENGTH;
		if (pbx_reader_left(&r) == 0)
			return (n & 3) ? STUN_DROP_BAD_PADDING : STUN_DROP_BAD_LENGTH;
		if (pbx_read_pad(&r, 4))
			return STUN_DROP_BAD_LENGTH;
	}
	return STUN_DROP_BAD_LENGTH;
}

static int read_header(struct stun_msg *m, const uint8_t *p, size_t len)
{
	struct pbx_reader r;
	uint16_t body;
	uint32_t cookie;
	uint8_t first;

	/* The first byte of STUN is 0-3 (RFC 7983 section 7): others are
	 * RTP, DTLS, ZRTP or ChannelData sharing the port. */
	pbx_reader_init(&r, p, len);
	if (pbx_read_u8(&r, &first) == 0 && first > 3)
		return drop(m, STUN_DROP_NOT_STUN, 0);

	pbx_reader_init(&r, p, len);
	pbx_read_u16(&r, &m->type);
	pbx_read_u16(&r, &body);
	pbx_read_u32(&r, &cookie);
	if (pbx_read_bytes(&r, m->tid, STUN_TID_LEN))
		return drop(m, STUN_DROP_TRUNCATED, len);

	if ((size_t)body > pbx_reader_left(&r))
		return drop(m, STUN_DROP_TRUNCATED, len);
	if ((size_t)body < pbx_reader_left(&r))
		return drop(m, STUN_DROP_TRAILING, STUN_HDR_LEN + (size_t)body);
	if (body & 3)
		return drop(m, odd_length_reason(p, len), 2);

	m->method = stun_hdr_method(m->type);
	m->cls = (uint8_t)stun_hdr_class(m->type);
	if (cookie == STUN_COOKIE) {
		/* RFC 5389/8489: 96 bits of transaction ID after the cookie. */
		m->kind = STUN_KIND_RFC5389;
		m->tid_len = STUN_TID_LEN;
	} else {
		/* RFC 3489: 128 bits of transaction ID where the cookie
		 * would be (RFC 8489 section 12). */
		m->kind = STUN_KIND_RFC3489;
		m->tid_len = STUN_TID_LEN_CLASSIC;
		memmove(m->tid + 4, m->tid, STUN_TID_LEN);
		m->tid[0] = (uint8_t)(cookie >> 24);
		m->tid[1] = (uint8_t)(cookie >> 16);
		m->tid[2] = (uint8_t)(cookie >> 8);
		m->tid[3] = (uint8_t)cookie;
	}
	return 0;
}

static bool sha256_len_ok(size_t n)
{
	return n >= STUN_SHA256_MIN && n <= STUN_SHA256_FULL && (n & 3) == 0;
}

static void note_unknown(struct stun_msg *m, uint16_t type)
{
	if (type >= 0x8000 || stun_attr_kind(type) != STUN_K_UNKNOWN)
		return;
	for (size_t k = 0; k < m->n_unknown; k++)
		if (m->unknown[k] == type)
			return;
	/* At most one per indexed attribute, so it always fits. */
	m->unknown[m->n_unknown++] = type;
}

/* Whether the attribute is skipped: RFC 8489 14.5 and 14.6 say to ignore
 * what follows MESSAGE-INTEGRITY except -SHA256 and FINGERPRINT, and what
 * follows -SHA256 except FINGERPRINT (a second MESSAGE-INTEGRITY too). */
static bool ignored(const struct stun_msg *m, uint16_t type)
{
	if (type == STUN_A_FINGERPRINT)
		return false;
	if (m->integrity256 >= 0)
		return true;
	if (m->integrity >= 0)
		return type != STUN_A_MESSAGE_INTEGRITY_SHA256;
	return false;
}

/* Index one attribute (its framing is checked already); value reads its
 * value. */
static int index_attr(struct stun_msg *m, uint16_t type, struct pbx_reader *value, size_t off)
{
	uint16_t n = (uint16_t)pbx_reader_left(value);

	if (m->n_attrs >= STUN_MAX_ATTRS)
		return drop(m, STUN_DROP_TOO_MANY_ATTRS, off - 4);
	if (type == STUN_A_MESSAGE_INTEGRITY && n != 20)
		return drop(m, STUN_DROP_BAD_INTEGRITY_ATTR, off - 4);
	if (type == STUN_A_MESSAGE_INTEGRITY_SHA256 && !sha256_len_ok(n))
		return drop(m, STUN_DROP_BAD_INTEGRITY_ATTR, off - 4);
	if (type == STUN_A_FINGERPRINT) {
		uint32_t v;
		pbx_read_u32(value, &v);
		if (pbx_reader_end(value) || !stun_fingerprint_ok(m->p, off - 4, v))
			return drop(m, STUN_DROP_BAD_FINGERPRINT, off - 4);
	}

	int16_t idx = (int16_t)m->n_attrs;
	struct stun_attr_ref *a = &m->attrs[m->n_attrs++];
	a->type = type;
	a->len = n;
	a->off = (uint32_t)off;
	if (type == STUN_A_MESSAGE_INTEGRITY)
		m->integrity = idx;
	else if (type == STUN_A_MESSAGE_INTEGRITY_SHA256)
		m->integrity256 = idx;
	else if (type == STUN_A_FINGERPRINT)
		m->fingerprint = idx;
	note_unknown(m, type);
	return 0;
}

/* Walk the attributes: the length field is a multiple of 4 and matches
 * the datagram, so every attribute header is there; a value (with its
 * padding) may still run past the end. */
static int read_attrs(struct stun_msg *m)
{
	struct pbx_reader r, value;
	pbx_reader_init(&r, m->p, m->len);
	pbx_read_skip(&r, STUN_HDR_LEN);

	while (pbx_reader_left(&r) > 0) {
		size_t at = pbx_reader_offset(&r);
		uint16_t type, n;
		pbx_read_u16(&r, &type);
		if (pbx_read_u16(&r, &n))
			return drop(m, STUN_DROP_ATTR_TRUNCATED, at);
		if (pbx_read_sub(&r, n, &value))
			return drop(m, STUN_DROP_ATTR_TRUNCATED, at);
		/* Padding values are ignored (RFC 8489 section 14): only its
		 * presence is checked, which an aligned length field implies. */
		if (pbx_read_pad(&r, 4))
			return drop(m, STUN_DROP_BAD_PADDING, at);
		/* FINGERPRINT is last (RFC 8489 14.7), whatever its value. */
		if (type == STUN_A_FINGERPRINT && pbx_reader_left(&r) > 0)
			return drop(m, STUN_DROP_AFTER_FINGERPRINT, pbx_reader_offset(&r));
		if (ignored(m, type)) {
			m->n_ignored++;
			continue;
		}
		int rc = index_attr(m, type, &value, at + 4);
		if (rc)
			return rc;
	}
	return 0;
}

int stun_msg_decode(struct stun_msg *m, const void *p, size_t len)
{
	memset(m, 0, offsetof(struct stun_msg, unknown));
	m->integrity = m->integrity256 = m->fingerprint = -1;
	m->drop = STUN_DROP_NONE;
	m->drop_off = 0;
	m->p = p;
	int rc = read_header(m, p, len);
	if (rc)
		return rc;
	m->len = len;
	return read_attrs(m);
}

int stun_msg_find(const struct stun_msg *m, uint16_t type, size_t from, size_t *i)
{
	for (size_t k = from; k < m->n_attrs; k++) {
		if (m->attrs[k].type == type) {
			*i = k;
			return 0;
		}
	}
	*i = m->n_attrs;
	return PBX_E_NOTFOUND;
}

static bool listed(uint16_t type, const uint16_t *list, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (list[k] == type)
			return true;
	return false;
}

int stun_msg_unknown(const struct stun_msg *m, const uint16_t *understood,
		     size_t n_understood, uint16_t *out, size_t cap, size_t *n)
{
	size_t found = 0;
	int rc = 0;
	for (size_t k = 0; k < m->n_attrs; k++) {
		uint16_t type = m->attrs[k].type;
		if (type >= 0x8000 || listed(type, understood, n_understood))
			continue;
		if (listed(type, out, found < cap ? found : cap))
			continue;
		if (found >= cap) {
			rc = PBX_E_NOSPACE;
			continue;
		}
		out[found++] = type;
	}
	*n = found;
	return rc;
}

/* ---- encoding ---- */

int stun_enc_fail(struct stun_enc *e, int err)
{
	if (!e->err)
		e->err = err;
	return e->err;
}

static int enc_sync(struct stun_enc *e)
{
	return e->err ? e->err : stun_enc_fail(e, pbx_writer_error(&e->w));
}

static int enc_start(struct stun_enc *e, void *buf, size_t cap, uint16_t type,
		     const uint8_t *tid, enum stun_kind kind)
{
	memset(e, 0, sizeof *e);
	pbx_writer_init(&e->w, buf, cap);
	e->kind = (uint8_t)kind;
	e->state = ENC_OPEN;
	if (type > 0x3ff || (kind != STUN_KIND_RFC5389 && kind != STUN_KIND_RFC3489))
		return stun_enc_fail(e, PBX_E_INVALID);

	pbx_write_u16(&e->w, type);
	pbx_write_u16(&e->w, 0);
	if (kind == STUN_KIND_RFC5389) {
		e->xor_key[0] = STUN_COOKIE >> 24;
		e->xor_key[1] = STUN_COOKIE >> 16 & 0xff;
		e->xor_key[2] = STUN_COOKIE >> 8 & 0xff;
		e->xor_key[3] = STUN_COOKIE & 0xff;
		memcpy(e->xor_key + 4, tid, STUN_TID_LEN);
	} else {
		memcpy(e->xor_key, tid, STUN_TID_LEN_CLASSIC);
	}
	pbx_write_bytes(&e->w, e->xor_key, sizeof e->xor_key);
	return enc_sync(e);
}

int stun_msg_init(struct stun_enc *e, void *buf, size_t cap, uint16_t type,
		  const uint8_t *tid, enum stun_kind kind)
{
	return enc_start(e, buf, cap, type, tid, kind);
}

int stun_msg_init_reply(struct stun_enc *e, void *buf, size_t cap,
			const struct stun_msg *req, enum stun_class cls)
{
	return enc_start(e, buf, cap, stun_hdr_type(req->method, cls), req->tid,
			 (enum stun_kind)req->kind);
}

void stun_msg_set_padding(struct stun_enc *e, uint8_t byte)
{
	e->pad_byte = byte;
}

int stun_msg_finish(struct stun_enc *e, size_t *len)
{
	*len = 0;
	if (enc_sync(e))
		return e->err;
	*len = pbx_writer_len(&e->w);
	return 0;
}

/* The order rules of RFC 8489 14.5-14.7, as a sender keeps them. */
static bool order_ok(const struct stun_enc *e, uint16_t type)
{
	switch (e->state) {
	case ENC_OPEN:
		return true;
	case ENC_AFTER_MI:
		return type == STUN_A_MESSAGE_INTEGRITY_SHA256 || type == STUN_A_FINGERPRINT;
	case ENC_AFTER_MI256:
		return type == STUN_A_FINGERPRINT;
	default:
		return false;
	}
}

int stun_enc_begin(struct stun_enc *e, uint16_t type, size_t n)
{
	if (e->err)
		return e->err;
	if (!order_ok(e, type) || n > 0xffff)
		return stun_enc_fail(e, PBX_E_INVALID);
	if (pbx_writer_len(&e->w) - STUN_HDR_LEN + STUN_ATTR_SPACE(n) > STUN_MSG_MAX - STUN_HDR_LEN)
		return stun_enc_fail(e, PBX_E_TOOLONG);
	pbx_write_u16(&e->w, type);
	pbx_write_u16(&e->w, (uint16_t)n);
	if (type == STUN_A_MESSAGE_INTEGRITY && e->state < ENC_AFTER_MI)
		e->state = ENC_AFTER_MI;
	else if (type == STUN_A_MESSAGE_INTEGRITY_SHA256)
		e->state = ENC_AFTER_MI256;
	else if (type == STUN_A_FINGERPRINT)
		e->state = ENC_CLOSED;
	return enc_sync(e);
}

int stun_enc_end(struct stun_enc *e, size_t n)
{
	for (size_t k = n; k & 3; k++)
		pbx_write_u8(&e->w, e->pad_byte);
	if (enc_sync(e))
		return e->err;
	/* Kept current after every attribute: the integrity attributes hash
	 * the header as it stands. */
	size_t body = pbx_writer_len(&e->w) - STUN_HDR_LEN;
	return stun_enc_fail(e, pbx_writer_patch_u16(&e->w, 2, (uint16_t)body));
}
