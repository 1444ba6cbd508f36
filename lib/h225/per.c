/* per.c - BASIC-PER ALIGNED (X.691 10, 11.9 and 19) as H.225.0 uses it:
 * bit-fields, octet alignment, constrained and normally small whole
 * numbers, length determinants, open types and extension additions, read
 * over pbx_reader windows and written into a pbx_writer. */
#include "internal.h"

/* ---- reading ---- */

void per_init(struct per *d, const uint8_t *p, size_t len, size_t base)
{
	pbx_reader_init(&d->r, p, len);
	d->where = NULL;
	d->base = base;
	d->cur = 0;
	d->bits = 0;
	d->depth = 0;
	d->err = 0;
}

int per_error(const struct per *d)
{
	return d->err;
}

int per_fail(struct per *d, int err)
{
	if (!d->err) {
		d->err = err;
		if (d->where && !d->where->set) {
			d->where->set = true;
			d->where->at = per_at(d);
		}
	}
	return d->err;
}

size_t per_at(const struct per *d)
{
	size_t off = pbx_reader_offset(&d->r);
	/* The octet whose bits are being read is the one before. */
	return d->base + (d->bits && off ? off - 1 : off);
}

uint64_t per_bits_left(const struct per *d)
{
	if (d->err)
		return 0;
	return (uint64_t)pbx_reader_left(&d->r) * 8 + d->bits;
}

/* A truncated encoding inside a complete window is malformed: every
 * window the reader makes covers bytes that have all arrived. */
static int ran_out(struct per *d)
{
	return per_fail(d, PBX_E_MALFORMED);
}

int per_bits(struct per *d, unsigned n, uint32_t *v)
{
	uint32_t x = 0;
	*v = 0;
	if (d->err)
		return d->err;
	while (n--) {
		if (!d->bits) {
			if (pbx_read_u8(&d->r, &d->cur))
				return ran_out(d);
			d->bits = 8;
		}
		d->bits--;
		x = x << 1 | ((d->cur >> d->bits) & 1u);
	}
	*v = x;
	return 0;
}

int per_bool(struct per *d, bool *b)
{
	uint32_t v;
	int rc = per_bits(d, 1, &v);
	*b = v != 0;
	return rc;
}

int per_skip_bits(struct per *d, uint64_t n)
{
	if (d->err)
		return d->err;
	if (n > per_bits_left(d))
		return ran_out(d);
	uint32_t v;
	while (n && d->bits) {
		per_bits(d, 1, &v);
		n--;
	}
	if (pbx_read_skip(&d->r, (size_t)(n / 8)))
		return ran_out(d);
	return per_bits(d, (unsigned)(n % 8), &v);
}

void per_align(struct per *d)
{
	/* Padding bits should be zero; X.691 readers do not check them. */
	d->bits = 0;
}

int per_octets(struct per *d, size_t n, const uint8_t **p)
{
	*p = NULL;
	per_align(d);
	if (d->err)
		return d->err;
	if (pbx_read_ptr(&d->r, n, p))
		return ran_out(d);
	return 0;
}

int per_skip_octets(struct per *d, size_t n)
{
	const uint8_t *p;
	return per_octets(d, n, &p);
}

int per_constrained(struct per *d, uint64_t range, uint32_t *v)
{
	const uint8_t *p;
	*v = 0;
	if (range <= 1)
		return d->err;
	if (range <= 255) {
		unsigned n = 0;
		while ((1ull << n) < range)
			n++;
		if (per_bits(d, n, v))
			return d->err;
		if (*v >= range)
			return per_fail(d, PBX_E_MALFORMED);
		return 0;
	}
	if (range <= 65536) {
		if (per_octets(d, range == 256 ? 1 : 2, &p))
			return d->err;
		*v = range == 256 ? p[0] : (uint32_t)(p[0] << 8 | p[1]);
		if (*v >= range)
			return per_fail(d, PBX_E_MALFORMED);
		return 0;
	}
	/* Up to 2^32: the octet count less one in 2 bits, then the octets. */
	uint32_t k, x = 0;
	if (per_bits(d, 2, &k) || per_octets(d, k + 1, &p))
		return d->err;
	for (uint32_t i = 0; i <= k; i++)
		x = x << 8 | p[i];
	*v = x;
	return 0;
}

int per_length(struct per *d, size_t *n)
{
	const uint8_t *p;
	*n = 0;
	if (per_octets(d, 1, &p))
		return d->err;
	if (!(p[0] & 0x80)) {
		*n = p[0];
		return 0;
	}
	if ((p[0] & 0xc0) == 0xc0) {
		/* Fragments of 16K units: nothing routing needs is that
		 * long, and H.225.0 messages fit one TPKT.  Reported at the
		 * length octet. */
		d->bits = 8;
		d->cur = p[0];
		return per_fail(d, PBX_E_TOOLONG);
	}
	uint8_t hi = p[0] & 0x3f;
	if (per_octets(d, 1, &p))
		return d->err;
	*n = (size_t)hi << 8 | p[0];
	return 0;
}

int per_small(struct per *d, uint32_t *v)
{
	bool big;
	*v = 0;
	if (per_bool(d, &big))
		return d->err;
	if (!big)
		return per_bits(d, 6, v);
	/* 64 or more: a semi-constrained whole number, length and octets. */
	size_t n;
	const uint8_t *p;
	if (per_length(d, &n))
		return d->err;
	if (n < 1 || n > 4)
		return per_fail(d, PBX_E_TOOLONG);
	if (per_octets(d, n, &p))
		return d->err;
	uint32_t x = 0;
	for (size_t i = 0; i < n; i++)
		x = x << 8 | p[i];
	*v = x;
	return 0;
}

int per_open(struct per *d, struct per *sub)
{
	size_t n;
	const uint8_t *p = NULL;
	per_init(sub, NULL, 0, 0);
	if (per_length(d, &n))
		return per_fail(sub, d->err);
	size_t at = pbx_reader_offset(&d->r);
	struct pbx_reader w;
	if (pbx_read_sub(&d->r, n, &w))
		return per_fail(sub, ran_out(d));
	if (n)
		pbx_read_ptr(&w, n, &p);
	per_init(sub, p, n, d->base + at);
	sub->where = d->where;
	sub->depth = d->depth;
	return 0;
}

int per_skip_open(struct per *d)
{
	struct per sub;
	return per_open(d, &sub);
}

int per_additions(struct per *d, uint64_t *present, size_t *n_more, size_t *nbits)
{
	uint32_t len;
	bool big;
	*present = 0;
	*n_more = 0;
	*nbits = 0;
	/* A normally small length (X.691 10.9.3.4): n-1 in 6 bits up to 64. */
	if (per_bool(d, &big))
		return d->err;
	size_t n;
	if (!big) {
		if (per_bits(d, 6, &len))
			return d->err;
		n = (size_t)len + 1;
	} else if (per_length(d, &n)) {
		return d->err;
	}
	if (n == 0 || n > per_bits_left(d))
		return per_fail(d, PBX_E_MALFORMED);
	for (size_t i = 0; i < n; i++) {
		bool b;
		per_bool(d, &b);
		if (!b)
			continue;
		if (i < 64)
			*present |= 1ull << i;
		else
			(*n_more)++;
	}
	*nbits = n;
	return d->err;
}

int per_skip_additions(struct per *d)
{
	uint64_t present;
	size_t more, n;
	if (per_additions(d, &present, &more, &n))
		return d->err;
	for (; present; present &= present - 1)
		per_skip_open(d);
	while (more--)
		per_skip_open(d);
	return d->err;
}

int per_choice(struct per *d, uint32_t nroot, uint32_t *index, bool *ext)
{
	*index = 0;
	if (per_bool(d, ext))
		return d->err;
	if (*ext) {
		uint32_t i;
		if (per_small(d, &i))
			return d->err;
		if (i > UINT32_MAX - nroot)
			return per_fail(d, PBX_E_TOOLONG);
		*index = nroot + i;
		return 0;
	}
	return per_constrained(d, nroot, index);
}

/* ---- writing ---- */

void per_enc_init(struct per_enc *e, struct pbx_writer *w)
{
	e->w = w;
	e->cur = 0;
	e->bits = 0;
	e->start = pbx_writer_mark(w);
}

void per_put_bits(struct per_enc *e, unsigned n, uint32_t v)
{
	while (n--) {
		e->cur = (uint8_t)(e->cur | ((v >> n) & 1u) << (7 - e->bits));
		if (++e->bits == 8) {
			pbx_write_u8(e->w, e->cur);
			e->cur = 0;
			e->bits = 0;
		}
	}
}

void per_put_align(struct per_enc *e)
{
	if (e->bits) {
		pbx_write_u8(e->w, e->cur);
		e->cur = 0;
		e->bits = 0;
	}
}

void per_put_octets(struct per_enc *e, const void *p, size_t n)
{
	per_put_align(e);
	pbx_write_bytes(e->w, p, n);
}

void per_put_length(struct per_enc *e, size_t n)
{
	per_put_align(e);
	if (n < 128) {
		pbx_write_u8(e->w, (uint8_t)n);
	} else if (n < 16384) {
		pbx_write_u16(e->w, (uint16_t)(0x8000 | n));
	} else {
		/* Never needed for what is written here: make it fail. */
		pbx_write_bytes(e->w, NULL, SIZE_MAX);
	}
}

void per_put_small(struct per_enc *e, uint32_t v)
{
	per_put_bits(e, 7, v & 0x3f);
}

void per_put_open(struct per_enc *e, const void *p, size_t n)
{
	per_put_length(e, n);
	pbx_write_bytes(e->w, p, n);
}

int per_enc_finish(struct per_enc *e)
{
	per_put_align(e);
	if (pbx_writer_mark(e->w) == e->start)
		pbx_write_u8(e->w, 0);
	return pbx_writer_error(e->w);
}
