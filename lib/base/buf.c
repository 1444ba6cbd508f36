/* buf.c - the one reader of untrusted bytes, text spans and the bounded
 * writer (the shape of OpenBSD's ibuf, Knot's wire_ctx and BoringSSL's CBS). */
#include <string.h>

#include <pbxedge/buf.h>
#include <pbxedge/err.h>

void pbx_reader_init(struct pbx_reader *r, const void *p, size_t len)
{
	r->p = p;
	r->len = p ? len : 0;
	r->off = 0;
	r->err = 0;
}

/* Take n bytes or fail stickily; returns a pointer to them or NULL. */
static const uint8_t *take(struct pbx_reader *r, size_t n)
{
	if (r->err)
		return NULL;
	if (n > r->len - r->off) {
		r->err = PBX_E_TRUNCATED;
		return NULL;
	}
	/* A reader over (NULL, 0) is allowed: no arithmetic on NULL (UB). */
	const uint8_t *q = r->p ? r->p + r->off : NULL;
	r->off += n;
	return q;
}

int pbx_read_u8(struct pbx_reader *r, uint8_t *v)
{
	const uint8_t *q = take(r, 1);
	*v = q ? q[0] : 0;
	return r->err;
}

int pbx_read_u16(struct pbx_reader *r, uint16_t *v)
{
	const uint8_t *q = take(r, 2);
	*v = q ? (uint16_t)((q[0] << 8) | q[1]) : 0;
	return r->err;
}

int pbx_read_u32(struct pbx_reader *r, uint32_t *v)
{
	const uint8_t *q = take(r, 4);
	*v = q ? ((uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 |
		  (uint32_t)q[2] << 8 | q[3]) : 0;
	return r->err;
}

int pbx_read_u64(struct pbx_reader *r, uint64_t *v)
{
	const uint8_t *q = take(r, 8);
	uint64_t x = 0;
	if (q)
		for (int i = 0; i < 8; i++)
			x = x << 8 | q[i];
	*v = x;
	return r->err;
}

int pbx_read_bytes(struct pbx_reader *r, void *dst, size_t n)
{
	const uint8_t *q = take(r, n);
	if (q)
		memcpy(dst, q, n);
	else if (n)
		memset(dst, 0, n);
	return r->err;
}

int pbx_read_ptr(struct pbx_reader *r, size_t n, const uint8_t **p)
{
	*p = take(r, n);
	return r->err;
}

int pbx_read_skip(struct pbx_reader *r, size_t n)
{
	take(r, n);
	return r->err;
}

int pbx_read_pad(struct pbx_reader *r, size_t align)
{
	if (align == 0 || (align & (align - 1))) {
		if (!r->err)
			r->err = PBX_E_MALFORMED;
		return r->err;
	}
	take(r, (align - (r->off & (align - 1))) & (align - 1));
	return r->err;
}

int pbx_read_sub(struct pbx_reader *r, size_t n, struct pbx_reader *sub)
{
	const uint8_t *q = take(r, n);
	pbx_reader_init(sub, q, q ? n : 0);
	sub->err = r->err;
	return r->err;
}

int pbx_read_line(struct pbx_reader *r, size_t max, struct pbx_span *line)
{
	line->p = NULL;
	line->len = 0;
	if (r->err)
		return r->err;
	size_t left = r->len - r->off;
	size_t look = left < max ? left : max;
	const uint8_t *start = r->p ? r->p + r->off : NULL;
	const uint8_t *lf = look ? memchr(start, '\n', look) : NULL;
	if (!lf) {
		if (left >= max) {
			r->err = PBX_E_TOOLONG;
			return r->err;
		}
		return PBX_E_NEEDMORE;
	}
	size_t n = (size_t)(lf - start);
	r->off += n + 1;
	if (n && start[n - 1] == '\r')
		n--;
	line->p = (const char *)start;
	line->len = n;
	return 0;
}

size_t pbx_reader_left(const struct pbx_reader *r)
{
	return r->err ? 0 : r->len - r->off;
}

size_t pbx_reader_offset(const struct pbx_reader *r)
{
	return r->off;
}

int pbx_reader_error(const struct pbx_reader *r)
{
	return r->err;
}

int pbx_reader_end(const struct pbx_reader *r)
{
	if (r->err)
		return r->err;
	return r->off == r->len ? 0 : PBX_E_TRAILING;
}

struct pbx_span pbx_reader_rest(const struct pbx_reader *r)
{
	struct pbx_span s = { NULL, 0 };
	if (!r->err && r->off < r->len) {
		s.p = (const char *)r->p + r->off;
		s.len = r->len - r->off;
	}
	return s;
}

/* ---- spans ---- */

struct pbx_span pbx_span_cstr(const char *s)
{
	struct pbx_span sp = { s, s ? strlen(s) : 0 };
	return sp;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

struct pbx_span pbx_span_trim(struct pbx_span s)
{
	while (s.len && is_blank(s.p[0])) {
		s.p++;
		s.len--;
	}
	while (s.len && is_blank(s.p[s.len - 1]))
		s.len--;
	return s;
}

static void split_at(struct pbx_span s, const char *at, struct pbx_span *before,
		     struct pbx_span *after)
{
	if (before) {
		before->p = s.p;
		before->len = (size_t)(at - s.p);
	}
	if (after) {
		after->p = at + 1;
		after->len = s.len - (size_t)(at - s.p) - 1;
	}
}

static void no_split(struct pbx_span s, struct pbx_span *before, struct pbx_span *after)
{
	if (before)
		*before = s;
	if (after) {
		after->p = s.p ? s.p + s.len : NULL;
		after->len = 0;
	}
}

bool pbx_span_cut(struct pbx_span s, char c, struct pbx_span *before,
		  struct pbx_span *after)
{
	const char *at = s.len ? memchr(s.p, c, s.len) : NULL;
	if (!at) {
		no_split(s, before, after);
		return false;
	}
	split_at(s, at, before, after);
	return true;
}

bool pbx_span_rcut(struct pbx_span s, char c, struct pbx_span *before,
		   struct pbx_span *after)
{
	const char *at = s.len ? memrchr(s.p, c, s.len) : NULL;
	if (!at) {
		no_split(s, before, after);
		return false;
	}
	split_at(s, at, before, after);
	return true;
}

bool pbx_span_eq(struct pbx_span a, struct pbx_span b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

bool pbx_span_caseeq(struct pbx_span a, struct pbx_span b)
{
	if (a.len != b.len)
		return false;
	for (size_t i = 0; i < a.len; i++)
		if (ascii_lower(a.p[i]) != ascii_lower(b.p[i]))
			return false;
	return true;
}

bool pbx_span_caseeq_cstr(struct pbx_span a, const char *s)
{
	return pbx_span_caseeq(a, pbx_span_cstr(s));
}

bool pbx_span_starts(struct pbx_span s, struct pbx_span prefix)
{
	return s.len >= prefix.len &&
	       (prefix.len == 0 || memcmp(s.p, prefix.p, prefix.len) == 0);
}

int pbx_span_to_u32(struct pbx_span s, uint32_t max, uint32_t *v)
{
	*v = 0;
	if (s.len == 0)
		return PBX_E_MALFORMED;
	uint64_t x = 0;
	for (size_t i = 0; i < s.len; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return PBX_E_MALFORMED;
		x = x * 10 + (uint64_t)(s.p[i] - '0');
		if (x > max)
			return PBX_E_TOOLONG;
	}
	*v = (uint32_t)x;
	return 0;
}

int pbx_span_copy(struct pbx_span s, char *dst, size_t n)
{
	if (n == 0)
		return PBX_E_NOSPACE;
	if (s.len >= n) {
		dst[0] = '\0';
		return PBX_E_NOSPACE;
	}
	if (s.len)
		memcpy(dst, s.p, s.len);
	dst[s.len] = '\0';
	return 0;
}

static size_t escape(struct pbx_span s, char *dst, size_t cap, bool *cut, bool ascii)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;
	if (cap == 0) {
		if (cut && s.len)
			*cut = true;
		return 0;
	}
	for (i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c >= 0x20 && c != 0x7f && c != '\\' && !(ascii && c >= 0x80)) {
			if (o + 1 >= cap)
				break;
			dst[o++] = (char)c;
		} else if (c == '\\') {
			if (o + 2 >= cap)
				break;
			dst[o++] = '\\';
			dst[o++] = '\\';
		} else {
			if (o + 4 >= cap)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	if (cut && i < s.len)
		*cut = true;
	dst[o] = '\0';
	return o;
}

size_t pbx_span_escape(struct pbx_span s, char *dst, size_t cap, bool *cut)
{
	return escape(s, dst, cap, cut, false);
}

size_t pbx_span_escape_ascii(struct pbx_span s, char *dst, size_t cap, bool *cut)
{
	return escape(s, dst, cap, cut, true);
}

/* ---- writer ---- */

void pbx_writer_init(struct pbx_writer *w, void *buf, size_t cap)
{
	w->p = buf;
	w->cap = buf ? cap : 0;
	w->len = 0;
	w->err = 0;
}

static uint8_t *reserve(struct pbx_writer *w, size_t n)
{
	if (w->err)
		return NULL;
	if (n > w->cap - w->len) {
		w->err = PBX_E_NOSPACE;
		return NULL;
	}
	uint8_t *q = w->p ? w->p + w->len : NULL;
	w->len += n;
	return q;
}

static void put_be(uint8_t *q, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		q[i] = (uint8_t)v;
		v >>= 8;
	}
}

int pbx_write_u8(struct pbx_writer *w, uint8_t v)
{
	uint8_t *q = reserve(w, 1);
	if (q)
		q[0] = v;
	return w->err;
}

int pbx_write_u16(struct pbx_writer *w, uint16_t v)
{
	uint8_t *q = reserve(w, 2);
	if (q)
		put_be(q, v, 2);
	return w->err;
}

int pbx_write_u32(struct pbx_writer *w, uint32_t v)
{
	uint8_t *q = reserve(w, 4);
	if (q)
		put_be(q, v, 4);
	return w->err;
}

int pbx_write_u64(struct pbx_writer *w, uint64_t v)
{
	uint8_t *q = reserve(w, 8);
	if (q)
		put_be(q, v, 8);
	return w->err;
}

int pbx_write_bytes(struct pbx_writer *w, const void *p, size_t n)
{
	uint8_t *q = reserve(w, n);
	if (q && n)
		memcpy(q, p, n);
	return w->err;
}

int pbx_write_zero(struct pbx_writer *w, size_t n)
{
	uint8_t *q = reserve(w, n);
	if (q && n)
		memset(q, 0, n);
	return w->err;
}

int pbx_write_pad(struct pbx_writer *w, size_t align)
{
	if (align == 0 || (align & (align - 1))) {
		if (!w->err)
			w->err = PBX_E_INVALID;
		return w->err;
	}
	return pbx_write_zero(w, (align - (w->len & (align - 1))) & (align - 1));
}

size_t pbx_writer_mark(const struct pbx_writer *w)
{
	return w->len;
}

static int patch(struct pbx_writer *w, size_t mark, uint32_t v, int n)
{
	if (w->err)
		return w->err;
	if (mark > w->len || (size_t)n > w->len - mark)
		return PBX_E_INVALID;
	put_be(w->p + mark, v, n);
	return 0;
}

int pbx_writer_patch_u16(struct pbx_writer *w, size_t mark, uint16_t v)
{
	return patch(w, mark, v, 2);
}

int pbx_writer_patch_u32(struct pbx_writer *w, size_t mark, uint32_t v)
{
	return patch(w, mark, v, 4);
}

const uint8_t *pbx_writer_data(const struct pbx_writer *w)
{
	return w->p;
}

size_t pbx_writer_len(const struct pbx_writer *w)
{
	return w->len;
}

int pbx_writer_error(const struct pbx_writer *w)
{
	return w->err;
}
