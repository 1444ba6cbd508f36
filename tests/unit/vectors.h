/* vectors.h - the unit tests' way to the files under tests/vectors/.
 *
 * meson compiles a test from the build directory, with this header's path
 * relative to it (../tests/unit/vectors.h), and runs the test there, so
 * the vectors are found beside this header's folder.  Run from elsewhere,
 * the build directory is the one the program sits in, three folders up
 * (BUILD/tests/unit/test_x).  Included by one test file each. */
#ifndef PBXEDGE_TEST_VECTORS_H
#define PBXEDGE_TEST_VECTORS_H

#include <check.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* vector_dir - the path of tests/vectors/SUB into dir; false when it
 * cannot be found (dir then holds the last path tried). */
static inline bool vector_dir(const char *sub, char *dir, size_t n)
{
	const char *src = __FILE__;
	const char *cut = strstr(src, "unit/vectors.h");
	int k = cut ? (int)(cut - src) : 0;
	int w = snprintf(dir, n, "%.*svectors/%s", k, src, sub);
	if (w < 0 || (size_t)w >= n)
		return false;
	if (access(dir, R_OK) == 0)
		return true;
	if (src[0] == '/')
		return false;
	char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (len <= 0)
		return false;
	exe[len] = '\0';
	for (int up = 0; up < 3; up++) {
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
	}
	w = snprintf(dir, n, "%s/%.*svectors/%s", exe, k, src, sub);
	return w >= 0 && (size_t)w < n && access(dir, R_OK) == 0;
}

/* vector_load - tests/vectors/SUB/FILE in a heap block of exactly its size
 * (one byte for an empty file), so that ASan reports any read past it.
 * The caller frees it.  A file that cannot be read fails the test. */
static inline uint8_t *vector_load(const char *sub, const char *file, size_t *len)
{
	char dir[PATH_MAX], path[PATH_MAX + 256];
	ck_assert_msg(vector_dir(sub, dir, sizeof dir), "no vector folder at %s", dir);
	snprintf(path, sizeof path, "%s/%s", dir, file);
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	long size = ftell(f);
	ck_assert_int_ge(size, 0);
	rewind(f);
	uint8_t *p = malloc(size ? (size_t)size : 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(fread(p, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	*len = (size_t)size;
	return p;
}

#endif
