/* http.h - HTTP/1.1 pieces rpd uses beyond the inspector row: the chunked
 * body scanner and the allowed-URL rule. */
#ifndef PBXEDGE_HTTP_H
#define PBXEDGE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pbxedge/api.h>
#include <pbxedge/buf.h>

/* State of a chunked body scan (RFC 9112 section 7.1), zeroed to start. */
struct pbx_chunks {
	int state;
	uint64_t left;   /* bytes left in the current chunk's data */
	size_t line;     /* bytes seen of the current size or trailer line */
};

/* Longest chunk-size line (with extensions) or trailer line accepted. */
#define PBX_HTTP_CHUNK_LINE_MAX 4096

/* pbx_http_chunks - scan the next len bytes of a chunked body.  *used gets
 * how many belong to the body: all of them, unless the body ends inside p.
 * Returns 1 when the body (last chunk and trailers) ended at *used, 0 when
 * more is needed, or PBX_E_MALFORMED / PBX_E_TOOLONG (a size or trailer
 * line over PBX_HTTP_CHUNK_LINE_MAX, or a chunk size over 2^63) with *used
 * at the offending byte. */
PBX_API int pbx_http_chunks(struct pbx_chunks *c, const uint8_t *p, size_t len, size_t *used);

/* pbx_url_allowed - the reference's allowed-URL rule: allowed must match
 * the start of url's path, case-sensitively; when allowed ends with '/',
 * the rest of the path after the match holds no further '/'.  The query
 * (from the first '?') is not part of the path. */
PBX_API bool pbx_url_allowed(struct pbx_span url, const char *allowed);

#endif
