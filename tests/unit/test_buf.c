/* test_buf.c - unit tests for the reader, spans and writer of lib/base/buf.c. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/buf.h>
#include <pbxedge/err.h>
#include "span_check.h"

/* A span over n bytes that may hold NULs. */
static struct pbx_span span_n(const char *p, size_t n)
{
	struct pbx_span s = { p, n };
	return s;
}


/* A heap copy of exactly n bytes, so that ASan reports any read past them. */
static uint8_t *exact_copy(const void *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);
	ck_assert_ptr_nonnull(q);
	if (n)
		memcpy(q, p, n);
	return q;
}

/* ---- reader ---- */

START_TEST(test_pbx_reader_init)
{
	struct pbx_reader r;
	uint8_t v = 0xaa;

	pbx_reader_init(&r, NULL, 5);
	ck_assert_uint_eq(pbx_reader_left(&r), 0);
	ck_assert_int_eq(pbx_reader_end(&r), 0);
	ck_assert_int_eq(pbx_read_u8(&r, &v), PBX_E_TRUNCATED);
	ck_assert_uint_eq(v, 0);

	/* Zero-length reads of a reader without bytes succeed (and, under
	 * UBSan, do no arithmetic on the NULL pointer). */
	struct pbx_reader sub;
	const uint8_t *q;
	pbx_reader_init(&r, NULL, 0);
	ck_assert_int_eq(pbx_read_bytes(&r, &v, 0), 0);
	ck_assert_int_eq(pbx_read_skip(&r, 0), 0);
	ck_assert_int_eq(pbx_read_ptr(&r, 0, &q), 0);
	ck_assert_int_eq(pbx_read_pad(&r, 4), 0);
	ck_assert_int_eq(pbx_read_sub(&r, 0, &sub), 0);
	ck_assert_int_eq(pbx_reader_end(&sub), 0);
	ck_assert_int_eq(pbx_reader_end(&r), 0);

	static const uint8_t b[3] = { 1, 2, 3 };
	pbx_reader_init(&r, b, sizeof b);
	ck_assert_uint_eq(pbx_reader_left(&r), 3);
	ck_assert_uint_eq(pbx_reader_offset(&r), 0);
	ck_assert_int_eq(pbx_reader_error(&r), 0);
	ck_assert_int_eq(pbx_reader_end(&r), PBX_E_TRAILING);
}
END_TEST

START_TEST(test_pbx_read_u8_u16_u32_u64_big_endian)
{
	static const uint8_t b[] = {
		0x01,
		0x02, 0x03,
		0x04, 0x05, 0x06, 0x07,
		0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
		0xff, 0xfe,
		0x80, 0x00, 0x00, 0x01,
		0xf0, 0xde, 0xbc, 0x9a, 0x78, 0x56, 0x34, 0x12,
	};
	struct pbx_reader r;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	pbx_reader_init(&r, b, sizeof b);
	ck_assert_int_eq(pbx_read_u8(&r, &u8), 0);
	ck_assert_uint_eq(u8, 0x01);
	ck_assert_int_eq(pbx_read_u16(&r, &u16), 0);
	ck_assert_uint_eq(u16, 0x0203);
	ck_assert_int_eq(pbx_read_u32(&r, &u32), 0);
	ck_assert_uint_eq(u32, 0x04050607);
	ck_assert_int_eq(pbx_read_u64(&r, &u64), 0);
	ck_assert_uint_eq(u64, 0x08090a0b0c0d0e0fULL);
	ck_assert_uint_eq(pbx_reader_offset(&r), 15);
	/* High bits must not sign-extend. */
	ck_assert_int_eq(pbx_read_u16(&r, &u16), 0);
	ck_assert_uint_eq(u16, 0xfffe);
	ck_assert_int_eq(pbx_read_u32(&r, &u32), 0);
	ck_assert_uint_eq(u32, 0x80000001u);
	ck_assert_int_eq(pbx_read_u64(&r, &u64), 0);
	ck_assert_uint_eq(u64, 0xf0debc9a78563412ULL);
	ck_assert_uint_eq(pbx_reader_left(&r), 0);
	ck_assert_int_eq(pbx_reader_end(&r), 0);
}
END_TEST

START_TEST(test_pbx_read_u32_truncated)
{
	static const uint8_t b[] = { 1, 2, 3 };
	uint8_t *p = exact_copy(b, sizeof b);
	struct pbx_reader r;
	uint32_t u32 = 0xdeadbeef;
	uint64_t u64 = 1;

	pbx_reader_init(&r, p, sizeof b);
	ck_assert_int_eq(pbx_read_u32(&r, &u32), PBX_E_TRUNCATED);
	ck_assert_uint_eq(u32, 0);
	ck_assert_uint_eq(pbx_reader_offset(&r), 0);
	ck_assert_uint_eq(pbx_reader_left(&r), 0);
	ck_assert_int_eq(pbx_reader_error(&r), PBX_E_TRUNCATED);

	pbx_reader_init(&r, p, sizeof b);
	ck_assert_int_eq(pbx_read_u64(&r, &u64), PBX_E_TRUNCATED);
	ck_assert_uint_eq(u64, 0);
	free(p);
}
END_TEST

START_TEST(test_pbx_reader_error_sticky)
{
	static const uint8_t b[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, '\n' };
	struct pbx_reader r, sub;
	uint8_t u8 = 0xaa, bytes[4];
	uint16_t u16 = 0xaaaa;
	uint32_t u32 = 0xaaaaaaaa;
	uint64_t u64 = 0xaaaaaaaaaaaaaaaaULL;
	const uint8_t *ptr = b;
	struct pbx_span line = { "x", 1 };

	pbx_reader_init(&r, b, 4);
	ck_assert_int_eq(pbx_read_u16(&r, &u16), 0);
	ck_assert_int_eq(pbx_read_u32(&r, &u32), PBX_E_TRUNCATED);
	/* Two bytes are still there, but every later read fails the same
	 * way and zero-fills its output. */
	ck_assert_int_eq(pbx_read_u8(&r, &u8), PBX_E_TRUNCATED);
	ck_assert_uint_eq(u8, 0);
	u16 = 0xaaaa;
	ck_assert_int_eq(pbx_read_u16(&r, &u16), PBX_E_TRUNCATED);
	ck_assert_uint_eq(u16, 0);
	ck_assert_int_eq(pbx_read_u64(&r, &u64), PBX_E_TRUNCATED);
	ck_assert_uint_eq(u64, 0);
	memset(bytes, 0xaa, sizeof bytes);
	ck_assert_int_eq(pbx_read_bytes(&r, bytes, 1), PBX_E_TRUNCATED);
	ck_assert_uint_eq(bytes[0], 0);
	ck_assert_uint_eq(bytes[1], 0xaa);
	ck_assert_int_eq(pbx_read_ptr(&r, 1, &ptr), PBX_E_TRUNCATED);
	ck_assert_ptr_null(ptr);
	ck_assert_int_eq(pbx_read_skip(&r, 0), PBX_E_TRUNCATED);
	ck_assert_int_eq(pbx_read_pad(&r, 3), PBX_E_TRUNCATED);
	ck_assert_int_eq(pbx_read_line(&r, 100, &line), PBX_E_TRUNCATED);
	ck_assert_uint_eq(line.len, 0);
	ck_assert_int_eq(pbx_read_sub(&r, 1, &sub), PBX_E_TRUNCATED);
	ck_assert_int_eq(pbx_reader_error(&sub), PBX_E_TRUNCATED);
	ck_assert_uint_eq(pbx_reader_left(&sub), 0);
	ck_assert_uint_eq(pbx_reader_left(&r), 0);
	ck_assert_uint_eq(pbx_reader_rest(&r).len, 0);
	ck_assert_uint_eq(pbx_reader_offset(&r), 2);
	ck_assert_int_eq(pbx_reader_end(&r), PBX_E_TRUNCATED);

	/* The first error wins over later, different ones. */
	pbx_reader_init(&r, b, sizeof b);
	ck_assert_int_eq(pbx_read_pad(&r, 3), PBX_E_MALFORMED);
	ck_assert_int_eq(pbx_read_skip(&r, 100), PBX_E_MALFORMED);
	ck_assert_int_eq(pbx_read_line(&r, 2, &line), PBX_E_MALFORMED);
	ck_assert_int_eq(pbx_reader_error(&r), PBX_E_MALFORMED);

	pbx_reader_init(&r, b, sizeof b);
	ck_assert_int_eq(pbx_read_line(&r, 3, &line), PBX_E_TOOLONG);
	ck_assert_int_eq(pbx_read_u8(&r, &u8), PBX_E_TOOLONG);
	ck_assert_uint_eq(u8, 0);
	ck_assert_int_eq(pbx_reader_end(&r), PBX_E_TOOLONG);
}
END_TEST

START_TEST(test_pbx_read_bytes)
{
	static const char text[] = "abcdef";
	uint8_t *p = exact_copy(text, 6);
	struct pbx_reader r;
	char out[8];

	pbx_reader_init(&r, p, 6);
	memset(out, 0, sizeof out);
	ck_assert_int_eq(pbx_read_bytes(&r, out, 0), 0);
	ck_assert_int_eq(pbx_read_bytes(&r, out, 4), 0);
	ck_assert_mem_eq(out, "abcd", 4);
	memset(out, 'z', sizeof out);
	ck_assert_int_eq(pbx_read_bytes(&r, out, 3), PBX_E_TRUNCATED);
	ck_assert_mem_eq(out, "\0\0\0zzzzz", 8);
	ck_assert_uint_eq(pbx_reader_offset(&r), 4);
	free(p);
}
END_TEST

START_TEST(test_pbx_read_ptr)
{
	static const uint8_t b[] = { 9, 8, 7, 6 };
	struct pbx_reader r;
	const uint8_t *q = NULL;

	pbx_reader_init(&r, b, sizeof b);
	ck_assert_int_eq(pbx_read_skip(&r, 1), 0);
	ck_assert_int_eq(pbx_read_ptr(&r, 2, &q), 0);
	ck_assert_ptr_eq(q, b + 1);
	ck_assert_uint_eq(pbx_reader_offset(&r), 3);
	ck_assert_int_eq(pbx_read_ptr(&r, 2, &q), PBX_E_TRUNCATED);
	ck_assert_ptr_null(q);
}
END_TEST

START_TEST(test_pbx_read_skip)
{
	static const uint8_t b[] = { 1, 2, 3, 4, 5 };
	struct pbx_reader r;
	uint8_t v;

	pbx_reader_init(&r, b, sizeof b);
	ck_assert_int_eq(pbx_read_skip(&r, 0), 0);
	ck_assert_int_eq(pbx_read_skip(&r, 4), 0);
	ck_assert_int_eq(pbx_read_u8(&r, &v), 0);
	ck_assert_uint_eq(v, 5);
	ck_assert_int_eq(pbx_read_skip(&r, 1), PBX_E_TRUNCATED);

	/* A huge count must not wrap the offset around. */
	pbx_reader_init(&r, b, sizeof b);
	ck_assert_int_eq(pbx_read_skip(&r, 1), 0);
	ck_assert_int_eq(pbx_read_skip(&r, SIZE_MAX), PBX_E_TRUNCATED);
	ck_assert_uint_eq(pbx_reader_offset(&r), 1);
}
END_TEST

START_TEST(test_pbx_read_sub_bounds)
{
	/* A length-prefixed "abc" followed by bytes of the outer message. */
	static const uint8_t b[] = { 0x00, 0x03, 'a', 'b', 'c', 'X', 'Y', 'Z', 0x01 };
	struct pbx_reader r, sub, inner;
	uint16_t len;
	uint8_t v;
	char out[4] = { 0 };
	uint32_t u32 = 7;

	pbx_reader_init(&r, b, sizeof b);
	ck_assert_int_eq(pbx_read_u16(&r, &len), 0);
	ck_assert_int_eq(pbx_read_sub(&r, len, &sub), 0);
	ck_assert_uint_eq(pbx_reader_offset(&r), 5);
	ck_assert_uint_eq(pbx_reader_offset(&sub), 0);
	ck_assert_uint_eq(pbx_reader_left(&sub), 3);
	/* A read wider than the sub-reader fails although the parent has
	 * the bytes. */
	ck_assert_int_eq(pbx_read_u32(&sub, &u32), PBX_E_TRUNCATED);
	ck_assert_uint_eq(u32, 0);

	pbx_reader_init(&r, b, sizeof b);
	ck_assert_int_eq(pbx_read_u16(&r, &len), 0);
	ck_assert_int_eq(pbx_read_sub(&r, len, &sub), 0);
	ck_assert_int_eq(pbx_read_bytes(&sub, out, 3), 0);
	ck_assert_mem_eq(out, "abc", 3);
	ck_assert_int_eq(pbx_reader_end(&sub), 0);
	/* Byte n+1 is 'X' in the parent: the sub-reader cannot see it. */
	ck_assert_int_eq(pbx_read_u8(&sub, &v), PBX_E_TRUNCATED);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(pbx_reader_end(&sub), PBX_E_TRUNCATED);
	/* The parent is unaffected by the sub-reader's error. */
	ck_assert_int_eq(pbx_reader_error(&r), 0);
	ck_assert_int_eq(pbx_read_u8(&r, &v), 0);
	ck_assert_uint_eq(v, 'X');

	/* Nested: a sub-reader of a sub-reader is bounded by the inner one. */
	pbx_reader_init(&r, b, sizeof b);
	ck_assert_int_eq(pbx_read_sub(&r, 5, &sub), 0);
	ck_assert_int_eq(pbx_read_skip(&sub, 2), 0);
	ck_assert_int_eq(pbx_read_sub(&sub, 4, &inner), PBX_E_TRUNCATED);
	ck_assert_int_eq(pbx_reader_error(&inner), PBX_E_TRUNCATED);
	ck_assert_uint_eq(pbx_reader_left(&inner), 0);
	ck_assert_int_eq(pbx_reader_error(&r), 0);

	/* A length beyond the parent fails in the parent and the sub. */
	pbx_reader_init(&r, b, sizeof b);
	ck_assert_int_eq(pbx_read_sub(&r, sizeof b + 1, &sub), PBX_E_TRUNCATED);
	ck_assert_int_eq(pbx_reader_error(&r), PBX_E_TRUNCATED);
	ck_assert_int_eq(pbx_reader_error(&sub), PBX_E_TRUNCATED);
	ck_assert_int_eq(pbx_read_u8(&sub, &v), PBX_E_TRUNCATED);

	/* An empty sub-reader is fine and ends at once. */
	pbx_reader_init(&r, b, sizeof b);
	ck_assert_int_eq(pbx_read_sub(&r, 0, &sub), 0);
	ck_assert_int_eq(pbx_reader_end(&sub), 0);
	ck_assert_uint_eq(pbx_reader_offset(&r), 0);
}
END_TEST

START_TEST(test_pbx_read_sub_heap)
{
	/* The same bound checked by ASan: the sub-reader sits at the very
	 * end of a heap block. */
	static const uint8_t b[] = { 0, 2, 'h', 'i' };
	uint8_t *p = exact_copy(b, sizeof b);
	struct pbx_reader r, sub;
	uint16_t len;
	uint8_t v;
	const uint8_t *q;

	pbx_reader_init(&r, p, sizeof b);
	ck_assert_int_eq(pbx_read_u16(&r, &len), 0);
	ck_assert_int_eq(pbx_read_sub(&r, len, &sub), 0);
	ck_assert_int_eq(pbx_read_ptr(&sub, 2, &q), 0);
	ck_assert_mem_eq(q, "hi", 2);
	ck_assert_int_eq(pbx_read_u8(&sub, &v), PBX_E_TRUNCATED);
	ck_assert_int_eq(pbx_reader_end(&r), 0);
	free(p);
}
END_TEST

START_TEST(test_pbx_read_pad)
{
	static const uint8_t b[12] = { 0 };
	struct pbx_reader r, sub;
	uint8_t v;

	pbx_reader_init(&r, b, 8);
	ck_assert_int_eq(pbx_read_u8(&r, &v), 0);
	ck_assert_int_eq(pbx_read_pad(&r, 4), 0);
	ck_assert_uint_eq(pbx_reader_offset(&r), 4);
	/* Already aligned: nothing to skip. */
	ck_assert_int_eq(pbx_read_pad(&r, 4), 0);
	ck_assert_uint_eq(pbx_reader_offset(&r), 4);
	ck_assert_int_eq(pbx_read_pad(&r, 1), 0);
	ck_assert_uint_eq(pbx_reader_offset(&r), 4);
	ck_assert_int_eq(pbx_read_u8(&r, &v), 0);
	ck_assert_int_eq(pbx_read_pad(&r, 8), 0);
	ck_assert_uint_eq(pbx_reader_offset(&r), 8);
	ck_assert_int_eq(pbx_reader_end(&r), 0);

	/* Missing padding bytes. */
	pbx_reader_init(&r, b, 6);
	ck_assert_int_eq(pbx_read_skip(&r, 5), 0);
	ck_assert_int_eq(pbx_read_pad(&r, 8), PBX_E_TRUNCATED);
	ck_assert_int_eq(pbx_reader_error(&r), PBX_E_TRUNCATED);

	/* Alignment that is not a power of two. */
	pbx_reader_init(&r, b, 8);
	ck_assert_int_eq(pbx_read_pad(&r, 3), PBX_E_MALFORMED);
	pbx_reader_init(&r, b, 8);
	ck_assert_int_eq(pbx_read_pad(&r, 0), PBX_E_MALFORMED);
	pbx_reader_init(&r, b, 8);
	ck_assert_int_eq(pbx_read_pad(&r, 12), PBX_E_MALFORMED);

	/* Padding counts from the sub-reader's own start. */
	pbx_reader_init(&r, b, sizeof b);
	ck_assert_int_eq(pbx_read_skip(&r, 1), 0);
	ck_assert_int_eq(pbx_read_sub(&r, 8, &sub), 0);
	ck_assert_int_eq(pbx_read_u8(&sub, &v), 0);
	ck_assert_int_eq(pbx_read_pad(&sub, 4), 0);
	ck_assert_uint_eq(pbx_reader_offset(&sub), 4);
	ck_assert_uint_eq(pbx_reader_left(&sub), 4);
}
END_TEST

START_TEST(test_pbx_reader_end)
{
	static const uint8_t b[] = { 1, 2, 3 };
	struct pbx_reader r;
	uint16_t v;

	pbx_reader_init(&r, b, sizeof b);
	ck_assert_int_eq(pbx_read_u16(&r, &v), 0);
	ck_assert_int_eq(pbx_reader_end(&r), PBX_E_TRAILING);
	/* Trailing bytes are not a sticky error: reading on is fine. */
	ck_assert_int_eq(pbx_reader_error(&r), 0);
	ck_assert_int_eq(pbx_read_skip(&r, 1), 0);
	ck_assert_int_eq(pbx_reader_end(&r), 0);

	pbx_reader_init(&r, NULL, 0);
	ck_assert_int_eq(pbx_reader_end(&r), 0);
}
END_TEST

START_TEST(test_pbx_reader_rest)
{
	static const char text[] = "head:tail";
	struct pbx_reader r;

	pbx_reader_init(&r, text, 9);
	ck_assert_int_eq(pbx_read_skip(&r, 5), 0);
	ck_assert_span(pbx_reader_rest(&r), "tail");
	ck_assert_uint_eq(pbx_reader_left(&r), 4);
	ck_assert_int_eq(pbx_read_skip(&r, 4), 0);
	ck_assert_uint_eq(pbx_reader_rest(&r).len, 0);
}
END_TEST

START_TEST(test_pbx_read_line_crlf_lf)
{
	static const char text[] = "GET / HTTP/1.1\r\nHost: x\n\r\n\na\rb\nrest";
	struct pbx_reader r;
	struct pbx_span line;

	pbx_reader_init(&r, text, strlen(text));
	ck_assert_int_eq(pbx_read_line(&r, 100, &line), 0);
	ck_assert_span(line, "GET / HTTP/1.1");
	ck_assert_uint_eq(pbx_reader_offset(&r), 16);
	ck_assert_int_eq(pbx_read_line(&r, 100, &line), 0);
	ck_assert_span(line, "Host: x");
	/* Empty lines, CRLF and LF. */
	ck_assert_int_eq(pbx_read_line(&r, 100, &line), 0);
	ck_assert_span(line, "");
	ck_assert_int_eq(pbx_read_line(&r, 100, &line), 0);
	ck_assert_span(line, "");
	/* Only a CR right before the LF is dropped. */
	ck_assert_int_eq(pbx_read_line(&r, 100, &line), 0);
	ck_assert_span(line, "a\rb");
	ck_assert_int_eq(pbx_read_line(&r, 100, &line), PBX_E_NEEDMORE);
	ck_assert_span(pbx_reader_rest(&r), "rest");
}
END_TEST

START_TEST(test_pbx_read_line_needmore)
{
	static const char text[] = "abc\r";
	uint8_t *p = exact_copy(text, 4);
	struct pbx_reader r;
	struct pbx_span line = { "x", 1 };
	char out[4];

	/* No LF yet, fewer than max bytes: need more; the reader neither
	 * moves nor fails (and nothing past the 4 bytes is looked at). */
	pbx_reader_init(&r, p, 4);
	ck_assert_int_eq(pbx_read_line(&r, 1000, &line), PBX_E_NEEDMORE);
	ck_assert_uint_eq(line.len, 0);
	ck_assert_uint_eq(pbx_reader_offset(&r), 0);
	ck_assert_int_eq(pbx_reader_error(&r), 0);
	ck_assert_uint_eq(pbx_reader_left(&r), 4);
	ck_assert_int_eq(pbx_read_line(&r, 5, &line), PBX_E_NEEDMORE);
	ck_assert_int_eq(pbx_read_bytes(&r, out, 4), 0);
	ck_assert_mem_eq(out, "abc\r", 4);

	pbx_reader_init(&r, NULL, 0);
	ck_assert_int_eq(pbx_read_line(&r, 10, &line), PBX_E_NEEDMORE);
	ck_assert_int_eq(pbx_reader_error(&r), 0);
	free(p);
}
END_TEST

START_TEST(test_pbx_read_line_toolong)
{
	struct pbx_reader r;
	struct pbx_span line;

	/* Exactly max bytes without a LF: too long, and sticky. */
	pbx_reader_init(&r, "abcd", 4);
	ck_assert_int_eq(pbx_read_line(&r, 4, &line), PBX_E_TOOLONG);
	ck_assert_int_eq(pbx_reader_error(&r), PBX_E_TOOLONG);
	ck_assert_int_eq(pbx_read_line(&r, 100, &line), PBX_E_TOOLONG);

	/* One byte fewer: it may still come. */
	pbx_reader_init(&r, "abc", 3);
	ck_assert_int_eq(pbx_read_line(&r, 4, &line), PBX_E_NEEDMORE);

	/* max counts the line end. */
	pbx_reader_init(&r, "abc\n", 4);
	ck_assert_int_eq(pbx_read_line(&r, 4, &line), 0);
	ck_assert_span(line, "abc");
	pbx_reader_init(&r, "abc\r\n", 5);
	ck_assert_int_eq(pbx_read_line(&r, 4, &line), PBX_E_TOOLONG);
	pbx_reader_init(&r, "abcdef\n", 7);
	ck_assert_int_eq(pbx_read_line(&r, 4, &line), PBX_E_TOOLONG);
	ck_assert_uint_eq(line.len, 0);

	/* The bound applies per line, from the reader's position. */
	pbx_reader_init(&r, "ab\ncd\n", 6);
	ck_assert_int_eq(pbx_read_line(&r, 3, &line), 0);
	ck_assert_int_eq(pbx_read_line(&r, 3, &line), 0);
	ck_assert_span(line, "cd");
	ck_assert_int_eq(pbx_reader_end(&r), 0);
}
END_TEST

/* ---- spans ---- */

START_TEST(test_pbx_span_cstr)
{
	struct pbx_span s = pbx_span_cstr("abc");
	ck_assert_uint_eq(s.len, 3);
	s = pbx_span_cstr(NULL);
	ck_assert_uint_eq(s.len, 0);
	s = pbx_span_cstr("");
	ck_assert_uint_eq(s.len, 0);
}
END_TEST

START_TEST(test_pbx_span_trim)
{
	ck_assert_span(pbx_span_trim(pbx_span_cstr("  a b\t ")), "a b");
	ck_assert_span(pbx_span_trim(pbx_span_cstr("\ta")), "a");
	ck_assert_span(pbx_span_trim(pbx_span_cstr("a")), "a");
	ck_assert_span(pbx_span_trim(pbx_span_cstr(" \t  ")), "");
	ck_assert_span(pbx_span_trim(pbx_span_cstr("")), "");
	/* Only spaces and tabs: CR and LF are data. */
	ck_assert_span(pbx_span_trim(pbx_span_cstr("\r x\n")), "\r x\n");
	/* Bounded by the span, not by a NUL. */
	ck_assert_span(pbx_span_trim(span_n(" ab  cd", 4)), "ab");
}
END_TEST

START_TEST(test_pbx_span_cut)
{
	struct pbx_span b, a;

	ck_assert(pbx_span_cut(pbx_span_cstr("key=value=x"), '=', &b, &a));
	ck_assert_span(b, "key");
	ck_assert_span(a, "value=x");

	ck_assert(!pbx_span_cut(pbx_span_cstr("novalue"), '=', &b, &a));
	ck_assert_span(b, "novalue");
	ck_assert_span(a, "");

	ck_assert(pbx_span_cut(pbx_span_cstr("=v"), '=', &b, &a));
	ck_assert_span(b, "");
	ck_assert_span(a, "v");
	ck_assert(pbx_span_cut(pbx_span_cstr("k="), '=', &b, &a));
	ck_assert_span(b, "k");
	ck_assert_span(a, "");

	ck_assert(!pbx_span_cut(pbx_span_cstr(""), '=', &b, &a));
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(a.len, 0);
	ck_assert(!pbx_span_cut(span_n(NULL, 0), '=', &b, &a));

	/* The separator beyond the span's end is not seen. */
	ck_assert(!pbx_span_cut(span_n("ab=c", 2), '=', &b, &a));
	ck_assert_span(b, "ab");

	ck_assert(pbx_span_cut(pbx_span_cstr("x:y"), ':', NULL, &a));
	ck_assert_span(a, "y");
	ck_assert(pbx_span_cut(pbx_span_cstr("x:y"), ':', &b, NULL));
	ck_assert_span(b, "x");
}
END_TEST

START_TEST(test_pbx_span_rcut)
{
	struct pbx_span b, a;

	ck_assert(pbx_span_rcut(pbx_span_cstr("a:b:c"), ':', &b, &a));
	ck_assert_span(b, "a:b");
	ck_assert_span(a, "c");

	ck_assert(!pbx_span_rcut(pbx_span_cstr("abc"), ':', &b, &a));
	ck_assert_span(b, "abc");
	ck_assert_span(a, "");

	ck_assert(pbx_span_rcut(pbx_span_cstr("abc:"), ':', &b, &a));
	ck_assert_span(b, "abc");
	ck_assert_span(a, "");
	ck_assert(pbx_span_rcut(pbx_span_cstr(":abc"), ':', &b, &a));
	ck_assert_span(b, "");
	ck_assert_span(a, "abc");

	ck_assert(!pbx_span_rcut(span_n(NULL, 0), ':', &b, &a));
	ck_assert(!pbx_span_rcut(span_n("ab:", 2), ':', &b, &a));
	ck_assert(pbx_span_rcut(span_n("a:b:", 3), ':', &b, NULL));
	ck_assert_span(b, "a");
}
END_TEST

START_TEST(test_pbx_span_eq)
{
	ck_assert(pbx_span_eq(pbx_span_cstr("abc"), span_n("abcd", 3)));
	ck_assert(!pbx_span_eq(pbx_span_cstr("abc"), pbx_span_cstr("abd")));
	ck_assert(!pbx_span_eq(pbx_span_cstr("abc"), pbx_span_cstr("ab")));
	ck_assert(!pbx_span_eq(pbx_span_cstr("abc"), pbx_span_cstr("ABC")));
	ck_assert(pbx_span_eq(span_n(NULL, 0), pbx_span_cstr("")));
	ck_assert(pbx_span_eq(span_n("a\0b", 3), span_n("a\0b", 3)));
	ck_assert(!pbx_span_eq(span_n("a\0b", 3), span_n("a\0c", 3)));
}
END_TEST

START_TEST(test_pbx_span_caseeq)
{
	ck_assert(pbx_span_caseeq(pbx_span_cstr("Content-Length"),
				  pbx_span_cstr("content-LENGTH")));
	ck_assert(!pbx_span_caseeq(pbx_span_cstr("Content-Length"),
				   pbx_span_cstr("Content-Lengt")));
	ck_assert(!pbx_span_caseeq(pbx_span_cstr("abc"), pbx_span_cstr("abd")));
	ck_assert(pbx_span_caseeq(span_n(NULL, 0), pbx_span_cstr("")));
	/* Not "compare with bit 0x20 cleared": these differ only there. */
	ck_assert(!pbx_span_caseeq(pbx_span_cstr("["), pbx_span_cstr("{")));
	ck_assert(!pbx_span_caseeq(pbx_span_cstr("@"), pbx_span_cstr("`")));
	ck_assert(!pbx_span_caseeq(pbx_span_cstr("1"), pbx_span_cstr("\x11")));
	/* ASCII only, whatever the locale. */
	ck_assert(!pbx_span_caseeq(pbx_span_cstr("\xc4"), pbx_span_cstr("\xe4")));
	ck_assert(pbx_span_caseeq(pbx_span_cstr("\xc4"), pbx_span_cstr("\xc4")));

	ck_assert(pbx_span_caseeq_cstr(span_n("REGISTERx", 8), "register"));
	ck_assert(!pbx_span_caseeq_cstr(pbx_span_cstr("REGISTERx"), "register"));
	ck_assert(!pbx_span_caseeq_cstr(pbx_span_cstr("regist"), "register"));
}
END_TEST

START_TEST(test_pbx_span_starts)
{
	struct pbx_span s = pbx_span_cstr("Authorization: Digest");

	ck_assert(pbx_span_starts(s, pbx_span_cstr("Authorization")));
	ck_assert(pbx_span_starts(s, pbx_span_cstr("")));
	ck_assert(pbx_span_starts(s, s));
	ck_assert(!pbx_span_starts(s, pbx_span_cstr("authorization")));
	ck_assert(!pbx_span_starts(s, pbx_span_cstr("Authorization: Digest ")));
	ck_assert(!pbx_span_starts(span_n("Auth", 4), pbx_span_cstr("Authorization")));
	ck_assert(pbx_span_starts(span_n(NULL, 0), span_n(NULL, 0)));
}
END_TEST

START_TEST(test_pbx_span_to_u32)
{
	uint32_t v;

	ck_assert_int_eq(pbx_span_to_u32(pbx_span_cstr("0"), 10, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(pbx_span_to_u32(pbx_span_cstr("42"), 100, &v), 0);
	ck_assert_uint_eq(v, 42);
	ck_assert_int_eq(pbx_span_to_u32(pbx_span_cstr("100"), 100, &v), 0);
	ck_assert_uint_eq(v, 100);
	ck_assert_int_eq(pbx_span_to_u32(pbx_span_cstr("4294967295"), UINT32_MAX, &v), 0);
	ck_assert_uint_eq(v, UINT32_MAX);
	/* Bounded by the span. */
	ck_assert_int_eq(pbx_span_to_u32(span_n("123456", 2), 1000, &v), 0);
	ck_assert_uint_eq(v, 12);
}
END_TEST

START_TEST(test_pbx_span_to_u32_max)
{
	uint32_t v = 5;

	ck_assert_int_eq(pbx_span_to_u32(pbx_span_cstr("101"), 100, &v), PBX_E_TOOLONG);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(pbx_span_to_u32(pbx_span_cstr("65536"), 65535, &v), PBX_E_TOOLONG);
	ck_assert_int_eq(pbx_span_to_u32(pbx_span_cstr("1"), 0, &v), PBX_E_TOOLONG);
	/* Beyond 2^32: a 32-bit accumulator would wrap to a small number. */
	ck_assert_int_eq(pbx_span_to_u32(pbx_span_cstr("4294967296"), UINT32_MAX, &v),
			 PBX_E_TOOLONG);
	ck_assert_int_eq(pbx_span_to_u32(pbx_span_cstr("4294967301"), UINT32_MAX, &v),
			 PBX_E_TOOLONG);
	ck_assert_uint_eq(v, 0);
	/* Beyond 2^64 too. */
	ck_assert_int_eq(pbx_span_to_u32(pbx_span_cstr("18446744073709551621"), UINT32_MAX, &v),
			 PBX_E_TOOLONG);
	ck_assert_int_eq(pbx_span_to_u32(pbx_span_cstr("99999999999999999999999999999"),
					 UINT32_MAX, &v),
			 PBX_E_TOOLONG);
	ck_assert_uint_eq(v, 0);
}
END_TEST

START_TEST(test_pbx_span_to_u32_refused)
{
	static const char *const bad[] = {
		"", "+1", "-1", " 1", "1 ", "\t1", "1a", "0x10", "1.0", "1,000", "1e3",
	};
	uint32_t v;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		v = 99;
		ck_assert_msg(pbx_span_to_u32(pbx_span_cstr(bad[i]), UINT32_MAX, &v) ==
				      PBX_E_MALFORMED,
			      "'%s' was not refused as malformed", bad[i]);
		ck_assert_uint_eq(v, 0);
	}
	ck_assert_int_eq(pbx_span_to_u32(span_n("1\0", 2), 100, &v), PBX_E_MALFORMED);
	ck_assert_int_eq(pbx_span_to_u32(span_n(NULL, 0), 100, &v), PBX_E_MALFORMED);
}
END_TEST

START_TEST(test_pbx_span_copy)
{
	char dst[6];

	ck_assert_int_eq(pbx_span_copy(pbx_span_cstr("abc"), dst, sizeof dst), 0);
	ck_assert_str_eq(dst, "abc");
	/* Exactly n - 1 bytes fit. */
	ck_assert_int_eq(pbx_span_copy(pbx_span_cstr("abcde"), dst, sizeof dst), 0);
	ck_assert_str_eq(dst, "abcde");
	ck_assert_int_eq(pbx_span_copy(pbx_span_cstr("abcdef"), dst, sizeof dst),
			 PBX_E_NOSPACE);
	ck_assert_str_eq(dst, "");
	ck_assert_int_eq(pbx_span_copy(span_n(NULL, 0), dst, sizeof dst), 0);
	ck_assert_str_eq(dst, "");
	ck_assert_int_eq(pbx_span_copy(span_n("xyz", 2), dst, sizeof dst), 0);
	ck_assert_str_eq(dst, "xy");
	/* n == 0: dst is not touched at all. */
	dst[0] = 'q';
	ck_assert_int_eq(pbx_span_copy(pbx_span_cstr(""), dst, 0), PBX_E_NOSPACE);
	ck_assert_int_eq(dst[0], 'q');

	char *heap = malloc(3);
	ck_assert_ptr_nonnull(heap);
	ck_assert_int_eq(pbx_span_copy(pbx_span_cstr("ab"), heap, 3), 0);
	ck_assert_str_eq(heap, "ab");
	ck_assert_int_eq(pbx_span_copy(pbx_span_cstr("abc"), heap, 3), PBX_E_NOSPACE);
	free(heap);
}
END_TEST

START_TEST(test_pbx_span_escape_ascii)
{
	char dst[64];
	bool cut = false;
	/* Like pbx_span_escape, and UTF-8 or binary bytes come out as \xNN. */
	ck_assert_uint_eq(pbx_span_escape_ascii(pbx_span_cstr("caf\xc3\xa9\n\x30\x81\x84"),
						dst, sizeof dst, &cut), 24);
	ck_assert_str_eq(dst, "caf\\xc3\\xa9\\x0a0\\x81\\x84");
	ck_assert(!cut);
	/* Never half an escape. */
	ck_assert_uint_eq(pbx_span_escape_ascii(pbx_span_cstr("a\xff"), dst, 4, &cut), 1);
	ck_assert_str_eq(dst, "a");
	ck_assert(cut);
}
END_TEST

START_TEST(test_pbx_span_escape)
{
	char dst[64];
	bool cut = false;

	ck_assert_uint_eq(pbx_span_escape(pbx_span_cstr("a\nb\\c\x7f\x01\x1b[0m caf\xc3\xa9"),
					  dst, sizeof dst, &cut), 30);
	ck_assert_str_eq(dst, "a\\x0ab\\\\c\\x7f\\x01\\x1b[0m caf\xc3\xa9");
	ck_assert(!cut);
	/* A NUL inside the span is a byte to escape, not an end. */
	ck_assert_uint_eq(pbx_span_escape(span_n("a\0b", 3), dst, sizeof dst, &cut), 6);
	ck_assert_str_eq(dst, "a\\x00b");
	ck_assert_uint_eq(pbx_span_escape(span_n(NULL, 0), dst, 1, &cut), 0);
	ck_assert_str_eq(dst, "");
	ck_assert(!cut);

	/* cap counts the NUL: "abc" needs 4. */
	ck_assert_uint_eq(pbx_span_escape(pbx_span_cstr("abc"), dst, 4, &cut), 3);
	ck_assert_str_eq(dst, "abc");
	ck_assert(!cut);
	ck_assert_uint_eq(pbx_span_escape(pbx_span_cstr("abc"), dst, 3, &cut), 2);
	ck_assert_str_eq(dst, "ab");
	ck_assert(cut);
	/* *cut is only ever set, never cleared. */
	ck_assert_uint_eq(pbx_span_escape(pbx_span_cstr("abc"), dst, 4, &cut), 3);
	ck_assert(cut);

	/* Cut at a whole escape, never inside one. */
	cut = false;
	ck_assert_uint_eq(pbx_span_escape(pbx_span_cstr("a\n"), dst, 5, &cut), 1);
	ck_assert_str_eq(dst, "a");
	ck_assert(cut);
	cut = false;
	ck_assert_uint_eq(pbx_span_escape(pbx_span_cstr("a\n"), dst, 6, &cut), 5);
	ck_assert_str_eq(dst, "a\\x0a");
	ck_assert(!cut);
	ck_assert_uint_eq(pbx_span_escape(pbx_span_cstr("\\"), dst, 2, &cut), 0);
	ck_assert_str_eq(dst, "");
	ck_assert(cut);
	cut = false;
	ck_assert_uint_eq(pbx_span_escape(pbx_span_cstr("\\"), dst, 3, &cut), 2);
	ck_assert_str_eq(dst, "\\\\");
	ck_assert(!cut);

	/* No room at all: nothing is written. */
	ck_assert_uint_eq(pbx_span_escape(pbx_span_cstr("x"), NULL, 0, &cut), 0);
	ck_assert(cut);
	cut = false;
	ck_assert_uint_eq(pbx_span_escape(span_n(NULL, 0), NULL, 0, &cut), 0);
	ck_assert(!cut);
	ck_assert_uint_eq(pbx_span_escape(pbx_span_cstr("\x01\x02"), dst, 5, NULL), 4);
	ck_assert_str_eq(dst, "\\x01");

	/* At the end of a heap block, for ASan. */
	char *heap = malloc(9);
	ck_assert_ptr_nonnull(heap);
	cut = false;
	ck_assert_uint_eq(pbx_span_escape(pbx_span_cstr("\x01\x02\x03"), heap, 9, &cut), 8);
	ck_assert_str_eq(heap, "\\x01\\x02");
	ck_assert(cut);
	free(heap);
}
END_TEST

/* ---- writer ---- */

START_TEST(test_pbx_write_u8_u16_u32_u64)
{
	static const uint8_t want[] = {
		0x01, 0x02, 0x03, 0x80, 0x00, 0x00, 0x01,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0xf8,
	};
	uint8_t buf[sizeof want];
	struct pbx_writer w;

	pbx_writer_init(&w, buf, sizeof buf);
	ck_assert_int_eq(pbx_write_u8(&w, 0x01), 0);
	ck_assert_int_eq(pbx_write_u16(&w, 0x0203), 0);
	ck_assert_int_eq(pbx_write_u32(&w, 0x80000001u), 0);
	ck_assert_int_eq(pbx_write_u64(&w, 0x01020304050607f8ULL), 0);
	ck_assert_uint_eq(pbx_writer_len(&w), sizeof want);
	ck_assert_ptr_eq(pbx_writer_data(&w), buf);
	ck_assert_mem_eq(buf, want, sizeof want);
	ck_assert_int_eq(pbx_writer_error(&w), 0);

	/* Read back through the reader. */
	struct pbx_reader r;
	uint64_t u64;
	pbx_reader_init(&r, buf, sizeof buf);
	ck_assert_int_eq(pbx_read_skip(&r, 7), 0);
	ck_assert_int_eq(pbx_read_u64(&r, &u64), 0);
	ck_assert_uint_eq(u64, 0x01020304050607f8ULL);
}
END_TEST

START_TEST(test_pbx_writer_nospace_sticky)
{
	uint8_t buf[8];
	struct pbx_writer w;

	memset(buf, 0xee, sizeof buf);
	pbx_writer_init(&w, buf, 5);
	ck_assert_int_eq(pbx_write_u32(&w, 0x01020304), 0);
	ck_assert_int_eq(pbx_write_u16(&w, 0x0506), PBX_E_NOSPACE);
	ck_assert_uint_eq(pbx_writer_len(&w), 4);
	/* One byte would fit, but nothing is written after the failure. */
	ck_assert_int_eq(pbx_write_u8(&w, 0x07), PBX_E_NOSPACE);
	ck_assert_int_eq(pbx_write_bytes(&w, "x", 1), PBX_E_NOSPACE);
	ck_assert_int_eq(pbx_write_zero(&w, 1), PBX_E_NOSPACE);
	ck_assert_int_eq(pbx_write_u64(&w, 1), PBX_E_NOSPACE);
	ck_assert_int_eq(pbx_write_pad(&w, 8), PBX_E_NOSPACE);
	ck_assert_int_eq(pbx_write_pad(&w, 3), PBX_E_NOSPACE);
	ck_assert_uint_eq(pbx_writer_len(&w), 4);
	ck_assert_uint_eq(buf[4], 0xee);
	ck_assert_uint_eq(buf[5], 0xee);
	ck_assert_int_eq(pbx_writer_error(&w), PBX_E_NOSPACE);
	ck_assert_mem_eq(buf, "\x01\x02\x03\x04", 4);

	/* A huge count must not wrap the length around. */
	pbx_writer_init(&w, buf, sizeof buf);
	ck_assert_int_eq(pbx_write_u8(&w, 1), 0);
	ck_assert_int_eq(pbx_write_zero(&w, SIZE_MAX), PBX_E_NOSPACE);
	ck_assert_uint_eq(pbx_writer_len(&w), 1);

	/* No buffer: no capacity, but zero-length writes succeed. */
	pbx_writer_init(&w, NULL, 100);
	ck_assert_int_eq(pbx_write_bytes(&w, "", 0), 0);
	ck_assert_int_eq(pbx_write_zero(&w, 0), 0);
	ck_assert_int_eq(pbx_write_pad(&w, 4), 0);
	ck_assert_uint_eq(pbx_writer_len(&w), 0);
	ck_assert_int_eq(pbx_write_u8(&w, 1), PBX_E_NOSPACE);
}
END_TEST

START_TEST(test_pbx_write_bytes_zero)
{
	uint8_t *buf = malloc(6);
	struct pbx_writer w;

	ck_assert_ptr_nonnull(buf);
	memset(buf, 0xee, 6);
	pbx_writer_init(&w, buf, 6);
	ck_assert_int_eq(pbx_write_bytes(&w, "abc", 3), 0);
	ck_assert_int_eq(pbx_write_bytes(&w, "", 0), 0);
	ck_assert_int_eq(pbx_write_zero(&w, 0), 0);
	ck_assert_int_eq(pbx_write_zero(&w, 3), 0);
	ck_assert_mem_eq(buf, "abc\0\0\0", 6);
	ck_assert_uint_eq(pbx_writer_len(&w), 6);
	ck_assert_int_eq(pbx_write_bytes(&w, "", 0), 0);
	ck_assert_int_eq(pbx_write_bytes(&w, "d", 1), PBX_E_NOSPACE);
	free(buf);
}
END_TEST

START_TEST(test_pbx_write_pad)
{
	uint8_t buf[16];
	struct pbx_writer w;

	memset(buf, 0xee, sizeof buf);
	pbx_writer_init(&w, buf, sizeof buf);
	ck_assert_int_eq(pbx_write_u8(&w, 0xaa), 0);
	ck_assert_int_eq(pbx_write_pad(&w, 4), 0);
	ck_assert_uint_eq(pbx_writer_len(&w), 4);
	ck_assert_mem_eq(buf, "\xaa\0\0\0", 4);
	ck_assert_int_eq(pbx_write_pad(&w, 4), 0);
	ck_assert_uint_eq(pbx_writer_len(&w), 4);
	ck_assert_int_eq(pbx_write_pad(&w, 1), 0);
	ck_assert_uint_eq(pbx_writer_len(&w), 4);
	ck_assert_int_eq(pbx_write_u8(&w, 0xbb), 0);
	ck_assert_int_eq(pbx_write_pad(&w, 8), 0);
	ck_assert_uint_eq(pbx_writer_len(&w), 8);
	ck_assert_mem_eq(buf + 4, "\xbb\0\0\0", 4);
	ck_assert_uint_eq(buf[8], 0xee);

	/* Not a power of two: refused, and sticky. */
	ck_assert_int_eq(pbx_write_pad(&w, 3), PBX_E_INVALID);
	ck_assert_int_eq(pbx_write_u8(&w, 1), PBX_E_INVALID);
	ck_assert_uint_eq(pbx_writer_len(&w), 8);
	pbx_writer_init(&w, buf, sizeof buf);
	ck_assert_int_eq(pbx_write_pad(&w, 0), PBX_E_INVALID);

	/* Padding that does not fit. */
	pbx_writer_init(&w, buf, 6);
	ck_assert_int_eq(pbx_write_u8(&w, 1), 0);
	ck_assert_int_eq(pbx_write_pad(&w, 8), PBX_E_NOSPACE);
	ck_assert_uint_eq(pbx_writer_len(&w), 1);
}
END_TEST

START_TEST(test_pbx_writer_mark_patch)
{
	uint8_t buf[16];
	struct pbx_writer w;

	pbx_writer_init(&w, buf, sizeof buf);
	ck_assert_int_eq(pbx_write_u8(&w, 0x01), 0);
	size_t m16 = pbx_writer_mark(&w);
	ck_assert_uint_eq(m16, 1);
	ck_assert_int_eq(pbx_write_u16(&w, 0), 0);
	size_t m32 = pbx_writer_mark(&w);
	ck_assert_int_eq(pbx_write_u32(&w, 0), 0);
	ck_assert_int_eq(pbx_write_bytes(&w, "body", 4), 0);
	ck_assert_int_eq(pbx_writer_patch_u16(&w, m16, (uint16_t)(pbx_writer_len(&w) - 3)), 0);
	ck_assert_int_eq(pbx_writer_patch_u32(&w, m32, 0xa1b2c3d4u), 0);
	ck_assert_uint_eq(pbx_writer_len(&w), 11);
	ck_assert_mem_eq(buf, "\x01\x00\x08\xa1\xb2\xc3\xd4" "body", 11);
	/* Patching the last bytes written is fine. */
	ck_assert_int_eq(pbx_writer_patch_u16(&w, 9, 0x4142), 0);
	ck_assert_mem_eq(buf + 7, "boAB", 4);
	ck_assert_int_eq(pbx_writer_error(&w), 0);
}
END_TEST

START_TEST(test_pbx_writer_patch_out_of_range)
{
	uint8_t buf[8];
	struct pbx_writer w;

	memset(buf, 0xee, sizeof buf);
	pbx_writer_init(&w, buf, sizeof buf);
	ck_assert_int_eq(pbx_write_u32(&w, 0x01020304), 0);
	/* Not written yet, though inside the capacity. */
	ck_assert_int_eq(pbx_writer_patch_u16(&w, 4, 0xffff), PBX_E_INVALID);
	ck_assert_int_eq(pbx_writer_patch_u16(&w, 3, 0xffff), PBX_E_INVALID);
	ck_assert_int_eq(pbx_writer_patch_u32(&w, 1, 0xffffffffu), PBX_E_INVALID);
	ck_assert_int_eq(pbx_writer_patch_u32(&w, SIZE_MAX, 0xffffffffu), PBX_E_INVALID);
	ck_assert_int_eq(pbx_writer_patch_u16(&w, SIZE_MAX - 1, 0xffff), PBX_E_INVALID);
	ck_assert_mem_eq(buf, "\x01\x02\x03\x04\xee\xee", 6);
	ck_assert_int_eq(pbx_writer_patch_u32(&w, 0, 0x05060708), 0);
	ck_assert_mem_eq(buf, "\x05\x06\x07\x08\xee", 5);
	/* A refused patch is the caller's bug, not a sticky output error. */
	ck_assert_int_eq(pbx_writer_error(&w), 0);

	/* After the writer failed, patches are refused too. */
	ck_assert_int_eq(pbx_write_u64(&w, 0), PBX_E_NOSPACE);
	ck_assert_int_eq(pbx_writer_patch_u16(&w, 0, 0), PBX_E_NOSPACE);
	ck_assert_mem_eq(buf, "\x05\x06\x07\x08", 4);
}
END_TEST

static Suite *buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("reader");
	tcase_add_test(tc, test_pbx_reader_init);
	tcase_add_test(tc, test_pbx_read_u8_u16_u32_u64_big_endian);
	tcase_add_test(tc, test_pbx_read_u32_truncated);
	tcase_add_test(tc, test_pbx_reader_error_sticky);
	tcase_add_test(tc, test_pbx_read_bytes);
	tcase_add_test(tc, test_pbx_read_ptr);
	tcase_add_test(tc, test_pbx_read_skip);
	tcase_add_test(tc, test_pbx_read_sub_bounds);
	tcase_add_test(tc, test_pbx_read_sub_heap);
	tcase_add_test(tc, test_pbx_read_pad);
	tcase_add_test(tc, test_pbx_reader_end);
	tcase_add_test(tc, test_pbx_reader_rest);
	tcase_add_test(tc, test_pbx_read_line_crlf_lf);
	tcase_add_test(tc, test_pbx_read_line_needmore);
	tcase_add_test(tc, test_pbx_read_line_toolong);
	suite_add_tcase(s, tc);

	tc = tcase_create("span");
	tcase_add_test(tc, test_pbx_span_cstr);
	tcase_add_test(tc, test_pbx_span_trim);
	tcase_add_test(tc, test_pbx_span_cut);
	tcase_add_test(tc, test_pbx_span_rcut);
	tcase_add_test(tc, test_pbx_span_eq);
	tcase_add_test(tc, test_pbx_span_caseeq);
	tcase_add_test(tc, test_pbx_span_starts);
	tcase_add_test(tc, test_pbx_span_to_u32);
	tcase_add_test(tc, test_pbx_span_to_u32_max);
	tcase_add_test(tc, test_pbx_span_to_u32_refused);
	tcase_add_test(tc, test_pbx_span_copy);
	tcase_add_test(tc, test_pbx_span_escape);
	tcase_add_test(tc, test_pbx_span_escape_ascii);
	suite_add_tcase(s, tc);

	tc = tcase_create("writer");
	tcase_add_test(tc, test_pbx_write_u8_u16_u32_u64);
	tcase_add_test(tc, test_pbx_writer_nospace_sticky);
	tcase_add_test(tc, test_pbx_write_bytes_zero);
	tcase_add_test(tc, test_pbx_write_pad);
	tcase_add_test(tc, test_pbx_writer_mark_patch);
	tcase_add_test(tc, test_pbx_writer_patch_out_of_range);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(buf_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
