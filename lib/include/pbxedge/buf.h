/* buf.h - bounded reading of untrusted bytes, text spans, bounded writing.
 *
 * Every parser of network or file input reads through struct pbx_reader.
 * A reader owns nothing: it walks (p, len) supplied by the caller.  The
 * first failed read is sticky: later reads fail with the same code and
 * zero-fill their outputs, so a group of reads can be checked once.
 * Length-prefixed things are read through pbx_read_sub(), so nothing inside
 * them can run past their end.  Multi-byte integers are big-endian (network
 * order).  Only buf.c touches the fields of these structs.
 */
#ifndef PBXEDGE_BUF_H
#define PBXEDGE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pbxedge/api.h>

struct pbx_reader {
	const uint8_t *p;  /* private */
	size_t len;        /* private */
	size_t off;        /* private */
	int err;           /* private: first error, sticky */
};

/* A run of text (or bytes) that the span does not own.  Never assumed to be
 * NUL-terminated. */
struct pbx_span {
	const char *p;
	size_t len;
};

struct pbx_writer {
	uint8_t *p;   /* private */
	size_t cap;   /* private */
	size_t len;   /* private */
	int err;      /* private: first error, sticky */
};

/* ---- reader ---- */

/* pbx_reader_init - start reading len bytes at p (p may be NULL if len is
 * 0).  The bytes must outlive the reader. */
PBX_API void pbx_reader_init(struct pbx_reader *r, const void *p, size_t len);

/* pbx_read_u8/u16/u32/u64 - read a big-endian integer into *v.  Return 0, or
 * PBX_E_TRUNCATED (or an earlier sticky error) with *v set to 0. */
PBX_API int pbx_read_u8(struct pbx_reader *r, uint8_t *v);
PBX_API int pbx_read_u16(struct pbx_reader *r, uint16_t *v);
PBX_API int pbx_read_u32(struct pbx_reader *r, uint32_t *v);
PBX_API int pbx_read_u64(struct pbx_reader *r, uint64_t *v);

/* pbx_read_bytes - copy n bytes into dst.  On failure dst is zero-filled. */
PBX_API int pbx_read_bytes(struct pbx_reader *r, void *dst, size_t n);

/* pbx_read_ptr - point *p at the next n bytes without copying and step
 * over them.  On failure *p is NULL. */
PBX_API int pbx_read_ptr(struct pbx_reader *r, size_t n, const uint8_t **p);

/* pbx_read_skip - step over n bytes. */
PBX_API int pbx_read_skip(struct pbx_reader *r, size_t n);

/* pbx_read_pad - step over the padding that brings the offset (from the
 * reader's start) to a multiple of align (a power of two).  The padding
 * bytes must be present. */
PBX_API int pbx_read_pad(struct pbx_reader *r, size_t align);

/* pbx_read_sub - carve a reader over exactly the next n bytes into *sub and
 * step over them in r.  On failure *sub is an empty reader carrying r's
 * error. */
PBX_API int pbx_read_sub(struct pbx_reader *r, size_t n, struct pbx_reader *sub);

/* pbx_read_line - take one line (up to LF; a CR before it is dropped from
 * the line) of at most max bytes including the line end.  Returns 0 with
 * *line set and the reader past the LF; PBX_E_NEEDMORE if no LF arrived yet
 * within max bytes (the reader is not moved and not put in error); or
 * PBX_E_TOOLONG if max bytes hold no LF (sticky). */
PBX_API int pbx_read_line(struct pbx_reader *r, size_t max, struct pbx_span *line);

/* pbx_reader_left - bytes not yet read (0 after an error). */
PBX_API size_t pbx_reader_left(const struct pbx_reader *r);

/* pbx_reader_offset - bytes read so far from the reader's start. */
PBX_API size_t pbx_reader_offset(const struct pbx_reader *r);

/* pbx_reader_error - the sticky error, or 0. */
PBX_API int pbx_reader_error(const struct pbx_reader *r);

/* pbx_reader_end - 0 if every byte was read without error; the sticky
 * error, or PBX_E_TRAILING if bytes are left. */
PBX_API int pbx_reader_end(const struct pbx_reader *r);

/* pbx_reader_rest - a span over the unread bytes (empty after an error). */
PBX_API struct pbx_span pbx_reader_rest(const struct pbx_reader *r);

/* ---- spans ---- */

/* pbx_span_cstr - a span over a NUL-terminated string of our own (never
 * one from the wire). */
PBX_API struct pbx_span pbx_span_cstr(const char *s);

/* pbx_span_trim - s without leading and trailing spaces and tabs. */
PBX_API struct pbx_span pbx_span_trim(struct pbx_span s);

/* pbx_span_cut - split s at the first c: *before gets what precedes it and
 * *after what follows.  Returns true if c was found; otherwise *before is s
 * and *after is empty.  Either out-pointer may be NULL. */
PBX_API bool pbx_span_cut(struct pbx_span s, char c, struct pbx_span *before,
			  struct pbx_span *after);

/* pbx_span_rcut - as pbx_span_cut, at the last c. */
PBX_API bool pbx_span_rcut(struct pbx_span s, char c, struct pbx_span *before,
			   struct pbx_span *after);

/* pbx_span_eq - byte-wise equality. */
PBX_API bool pbx_span_eq(struct pbx_span a, struct pbx_span b);

/* pbx_span_caseeq - ASCII case-insensitive equality (locale-independent). */
PBX_API bool pbx_span_caseeq(struct pbx_span a, struct pbx_span b);

/* pbx_span_caseeq_cstr - pbx_span_caseeq against a string of our own. */
PBX_API bool pbx_span_caseeq_cstr(struct pbx_span a, const char *s);

/* pbx_span_starts - true if s begins with prefix (byte-wise). */
PBX_API bool pbx_span_starts(struct pbx_span s, struct pbx_span prefix);

/* pbx_span_to_u32 - parse s as a decimal number of at most max.  Only
 * digits are accepted: no sign, no spaces, no empty span.  Returns 0 with
 * *v set, PBX_E_MALFORMED or PBX_E_TOOLONG (above max). */
PBX_API int pbx_span_to_u32(struct pbx_span s, uint32_t max, uint32_t *v);

/* pbx_span_copy - copy s into dst (size n, NUL-terminated).  Returns 0, or
 * PBX_E_NOSPACE if s does not fit (dst then holds an empty string). */
PBX_API int pbx_span_copy(struct pbx_span s, char *dst, size_t n);

/* pbx_span_escape - copy s into dst (capacity cap, NUL-terminated) with
 * control characters and DEL written as \xNN and '\' as "\\", so that
 * text from the network stays on one line and cannot drive a terminal.
 * Stops early (at a whole escape) if dst is full, and then sets *cut (if
 * cut is not NULL; it is left alone otherwise).  Returns the length
 * written, without the NUL. */
PBX_API size_t pbx_span_escape(struct pbx_span s, char *dst, size_t cap, bool *cut);

/* pbx_span_escape_ascii - as pbx_span_escape, and bytes from 0x80 up are
 * written as \xNN too: for bytes that need not be text at all (an LDAP
 * message), so that the result is plain ASCII. */
PBX_API size_t pbx_span_escape_ascii(struct pbx_span s, char *dst, size_t cap, bool *cut);

/* ---- writer ---- */

/* pbx_writer_init - write into buf (capacity cap) from its start. */
PBX_API void pbx_writer_init(struct pbx_writer *w, void *buf, size_t cap);

/* pbx_write_u8/u16/u32/u64/bytes/zero - append big-endian integers, n bytes,
 * or n zero bytes.  Return 0, or PBX_E_NOSPACE (sticky: nothing more is
 * written after the first failure). */
PBX_API int pbx_write_u8(struct pbx_writer *w, uint8_t v);
PBX_API int pbx_write_u16(struct pbx_writer *w, uint16_t v);
PBX_API int pbx_write_u32(struct pbx_writer *w, uint32_t v);
PBX_API int pbx_write_u64(struct pbx_writer *w, uint64_t v);
PBX_API int pbx_write_bytes(struct pbx_writer *w, const void *p, size_t n);
PBX_API int pbx_write_zero(struct pbx_writer *w, size_t n);

/* pbx_write_pad - append zero bytes up to a multiple of align (a power of
 * two) from the writer's start. */
PBX_API int pbx_write_pad(struct pbx_writer *w, size_t align);

/* pbx_writer_mark - the current length, to patch a field written earlier. */
PBX_API size_t pbx_writer_mark(const struct pbx_writer *w);

/* pbx_writer_patch_u16/u32 - overwrite a big-endian integer at offset mark
 * (which must have been written already). */
PBX_API int pbx_writer_patch_u16(struct pbx_writer *w, size_t mark, uint16_t v);
PBX_API int pbx_writer_patch_u32(struct pbx_writer *w, size_t mark, uint32_t v);

/* pbx_writer_data - the bytes written so far (the caller's buffer). */
PBX_API const uint8_t *pbx_writer_data(const struct pbx_writer *w);

/* pbx_writer_len - number of bytes written. */
PBX_API size_t pbx_writer_len(const struct pbx_writer *w);

/* pbx_writer_error - the sticky error, or 0. */
PBX_API int pbx_writer_error(const struct pbx_writer *w);

#endif
