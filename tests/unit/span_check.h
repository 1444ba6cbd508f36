/* span_check.h - ck_assert_span, the unit tests' check of a pbx_span's
 * text.  Included by one test file each. */
#ifndef PBXEDGE_TEST_SPAN_CHECK_H
#define PBXEDGE_TEST_SPAN_CHECK_H

#include <check.h>
#include <string.h>

#include <pbxedge/buf.h>

static inline const char *span_check_text(const char *want)
{
	return want ? want : "";
}

/* ck_assert_span - the span sp holds exactly the text want (NULL: empty). */
#define ck_assert_span(sp, want)                                                   \
	do {                                                                       \
		struct pbx_span got_ = (sp);                                       \
		const char *want_ = span_check_text(want);                          \
		ck_assert_msg(got_.len == strlen(want_) &&                         \
				      (got_.len == 0 || memcmp(got_.p, want_, got_.len) == 0), \
			      "span '%.*s' (len %zu) is not '%s'", (int)got_.len,   \
			      got_.len ? got_.p : "", got_.len, want_);             \
	} while (0)

#endif
