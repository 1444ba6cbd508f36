/* fuzz_setting.c - fuzzes store_setting_validate (first byte: the setting; the rest: its value). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/err.h>
#include <pbxedge/store.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Values longer than any setting allows are cut here: longer inputs only
 * slow the fuzzer down. */
#define VALUE_MAX 4096

/* Validate into a heap block of exactly n bytes, so that ASan catches a
 * write past it (no block at all for n == 0: any write faults).  Returns
 * the result; the text is copied to out. */
static int validate_exact(enum store_setting s, const char *value, size_t n, char *out)
{
	char *canon = n ? malloc(n) : NULL;
	struct pbx_err err;

	if (!canon && n)
		abort();
	pbx_err_clear(&err);
	int rc = store_setting_validate(s, value, canon, n, &err);
	if (rc == 0)
		memcpy(out, canon, n);
	else if (rc != PBX_E_INVALID || err.code != rc || err.msg[0] == '\0')
		abort();
	free(canon);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char value[VALUE_MAX + 1];
	static char canon[2 * VALUE_MAX], again[2 * VALUE_MAX], exact[2 * VALUE_MAX];
	struct pbx_err err;

	if (size == 0)
		return 0;
	enum store_setting s = (enum store_setting)(data[0] % STORE_SETTING_COUNT);
	size_t n = size - 1 < VALUE_MAX ? size - 1 : VALUE_MAX;
	memcpy(value, data + 1, n);
	value[n] = '\0';

	pbx_err_clear(&err);
	int rc = store_setting_validate(s, value, canon, sizeof canon, &err);
	if (rc) {
		/* A refusal says why. */
		if (rc != PBX_E_INVALID || err.code != rc || err.msg[0] == '\0' ||
		    !memchr(err.msg, '\0', sizeof err.msg))
			abort();
		return 0;
	}
	size_t len = strnlen(canon, sizeof canon);
	if (len == sizeof canon)
		abort();

	/* The canonical text is valid and its own canonical form. */
	pbx_err_clear(&err);
	if (store_setting_validate(s, canon, again, sizeof again, &err))
		abort();
	if (strcmp(canon, again) != 0)
		abort();

	/* It fits a buffer of exactly its size; one byte less must be
	 * refused rather than cut short. */
	if (validate_exact(s, value, len + 1, exact) || strcmp(exact, canon) != 0)
		abort();
	if (validate_exact(s, value, len, exact) == 0)
		abort();
	return 0;
}
