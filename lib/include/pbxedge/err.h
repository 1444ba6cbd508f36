/* err.h - pbxedge's return-code convention and error texts.
 *
 * Every function returns 0 or a negative code: a plain -errno, or one of
 * pbxedge's own codes below (from -1000 down).  Results come back through
 * out-parameters.  Functions that validate administrator input also fill a
 * struct pbx_err with a one-line message naming what is wrong.
 */
#ifndef PBXEDGE_ERR_H
#define PBXEDGE_ERR_H

#include <stddef.h>
#include <pbxedge/api.h>

enum pbx_errcode {
	PBX_E_TRUNCATED = -1000,  /* input ends before the thing being read */
	PBX_E_MALFORMED = -1001,  /* input breaks the format's rules */
	PBX_E_TOOLONG = -1002,    /* input exceeds a configured or format bound */
	PBX_E_NOSPACE = -1003,    /* output does not fit the caller's buffer */
	PBX_E_TRAILING = -1004,   /* bytes are left where the format ends */
	PBX_E_SCHEMA_NEWER = -1005, /* the store was written by a newer pbxedge */
	PBX_E_STORE = -1006,      /* the SQLite store failed; see the message */
	PBX_E_NOTFOUND = -1007,   /* the named thing does not exist */
	PBX_E_EXISTS = -1008,     /* the named thing exists already */
	PBX_E_INVALID = -1009,    /* a value is out of range or of the wrong type */
	PBX_E_BUSY = -1010,       /* the store stayed locked past the timeout */
	PBX_E_NEEDMORE = -1011,   /* not an error of the input: more bytes needed */
	PBX_E_LAST = -1012
};

/* Room for one error message line. */
#define PBX_ERR_MSG_MAX 256

/* An error code with its one-line message, owned by the caller. */
struct pbx_err {
	int code;
	char msg[PBX_ERR_MSG_MAX];
};

/* pbx_strerror - the text for a code returned by any pbxedge function:
 * pbxedge's own codes and -errno values alike.  Returns a static string;
 * thread-safe. */
PBX_API const char *pbx_strerror(int code);

/* pbx_err_set - record code and a printf-formatted message in e (which may
 * be NULL).  Returns code, so it can end a function: return pbx_err_set(...) */
PBX_API int pbx_err_set(struct pbx_err *e, int code, const char *fmt, ...)
	PBX_PRINTF(3, 4);

/* pbx_err_clear - reset e to "no error". */
PBX_API void pbx_err_clear(struct pbx_err *e);

/* pbx_err_text - e's message, or the generic text of its code when no
 * message was recorded.  The string lives as long as e. */
PBX_API const char *pbx_err_text(const struct pbx_err *e);

#endif
