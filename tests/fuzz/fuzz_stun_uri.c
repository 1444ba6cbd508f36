/* fuzz_stun_uri.c - fuzzes stun_uri_parse and stun_uri_format (first
 * byte: the default scheme; the rest: the URI text).  What parses formats
 * to a canonical text that parses to the same URI; what is refused says
 * why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/stun.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	enum stun_uri_scheme def = (enum stun_uri_scheme)(data[0] & 3);
	/* The text in a heap block of exactly its size: ASan sees a read past. */
	char *text = malloc(size - 1 ? size - 1 : 1);
	if (!text)
		abort();
	memcpy(text, data + 1, size - 1);
	struct pbx_span span = { text, size - 1 };

	struct stun_uri u, v;
	struct pbx_err err;
	pbx_err_clear(&err);
	int rc = stun_uri_parse(span, def, &u, &err);
	free(text);
	if (rc) {
		if (rc != PBX_E_INVALID || err.code != rc || !err.msg[0])
			abort();
		return 0;
	}
	if (!u.host[0] || strlen(u.host) > STUN_URI_HOST_MAX || !u.port)
		abort();
	if ((u.scheme == STUN_URI_STUNS || u.scheme == STUN_URI_TURNS) != (u.transport == STUN_URI_TLS))
		abort();
	if (u.scheme == STUN_URI_STUN && u.transport != STUN_URI_UDP)
		abort();

	char canon[STUN_URI_TEXT_MAX];
	if (stun_uri_format(&u, canon, sizeof canon))
		abort();
	pbx_err_clear(&err);
	if (stun_uri_parse(pbx_span_cstr(canon), STUN_URI_STUN, &v, &err))
		abort();
	if (v.scheme != u.scheme || v.transport != u.transport || v.port != u.port ||
	    v.is_ip != u.is_ip || strcmp(v.host, u.host) != 0 || !v.port_given)
		abort();
	if (u.is_ip && !pbx_addr_equal(&u.addr, &v.addr))
		abort();
	return 0;
}
