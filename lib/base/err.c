/* err.c - error codes to text, and the caller-owned error record. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <pbxedge/err.h>

static const char *const own_texts[] = {
	[-PBX_E_TRUNCATED - 1000] = "input truncated",
	[-PBX_E_MALFORMED - 1000] = "malformed input",
	[-PBX_E_TOOLONG - 1000] = "input too long",
	[-PBX_E_NOSPACE - 1000] = "no space left in output buffer",
	[-PBX_E_TRAILING - 1000] = "unexpected trailing bytes",
	[-PBX_E_SCHEMA_NEWER - 1000] = "store schema is newer than this program",
	[-PBX_E_STORE - 1000] = "store error",
	[-PBX_E_NOTFOUND - 1000] = "not found",
	[-PBX_E_EXISTS - 1000] = "already exists",
	[-PBX_E_INVALID - 1000] = "invalid value",
	[-PBX_E_BUSY - 1000] = "store busy",
	[-PBX_E_NEEDMORE - 1000] = "more input needed",
};

const char *pbx_strerror(int code)
{
	if (code == 0)
		return "success";
	if (code <= -1000 && code > PBX_E_LAST)
		return own_texts[-code - 1000];
	if (code < 0 && code > -1000) {
		/* strerrordesc_np is thread-safe and never formats into a
		 * shared buffer, unlike strerror. */
		const char *s = strerrordesc_np(-code);
		if (s)
			return s;
	}
	return "unknown error";
}

int pbx_err_set(struct pbx_err *e, int code, const char *fmt, ...)
{
	if (!e)
		return code;
	e->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return code;
}

void pbx_err_clear(struct pbx_err *e)
{
	if (!e)
		return;
	e->code = 0;
	e->msg[0] = '\0';
}

const char *pbx_err_text(const struct pbx_err *e)
{
	if (!e)
		return "unknown error";
	if (e->msg[0])
		return e->msg;
	return pbx_strerror(e->code);
}
