/* test_log.c - unit tests for the log sink: levels, escaping, bounds, rotation, threads. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pbxedge/err.h>
#include <pbxedge/log.h>

static char dir[64];
static char path[128];

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/pbxlog-XXXXXX",
		 tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/test.log", dir);
}

static void teardown(void)
{
	char p[160];
	pbx_log_close();
	unlink(path);
	snprintf(p, sizeof p, "%s.1", path);
	unlink(p);
	rmdir(dir);
}

/* The whole file as a NUL-terminated string (caller frees). */
static char *slurp(const char *p)
{
	FILE *f = fopen(p, "rb");
	ck_assert_msg(f != NULL, "cannot open %s: %s", p, strerror(errno));
	size_t cap = 4096, len = 0;
	char *s = malloc(cap);
	ck_assert_ptr_nonnull(s);
	size_t n;
	while ((n = fread(s + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len - 1 == 0) {
			cap *= 2;
			s = realloc(s, cap);
			ck_assert_ptr_nonnull(s);
		}
	}
	fclose(f);
	s[len] = '\0';
	return s;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Line i (0-based) of s without its LF, copied into buf; every line must
 * end in a LF. */
static const char *line_at(const char *s, size_t i, char *buf, size_t n)
{
	for (; i; i--) {
		s = strchr(s, '\n');
		ck_assert_ptr_nonnull(s);
		s++;
	}
	const char *end = strchr(s, '\n');
	ck_assert_msg(end != NULL, "line without LF: '%s'", s);
	size_t len = (size_t)(end - s);
	ck_assert_uint_lt(len, n);
	memcpy(buf, s, len);
	buf[len] = '\0';
	return buf;
}

/* The text after the "TIMESTAMP ident[pid]: " prefix; checks the prefix. */
static const char *after_prefix(const char *line)
{
	char want[64];
	/* 2024-01-31T12:34:56.789Z */
	ck_assert_msg(strlen(line) > 25 && line[4] == '-' && line[10] == 'T' &&
			      line[19] == '.' && line[23] == 'Z' && line[24] == ' ',
		      "bad timestamp in '%s'", line);
	snprintf(want, sizeof want, "tlog[%d]: ", (int)getpid());
	ck_assert_msg(strncmp(line + 25, want, strlen(want)) == 0, "bad ident in '%s'", line);
	return line + 25 + strlen(want);
}

static void open_file(int level)
{
	ck_assert_int_eq(pbx_log_open("tlog", PBX_LOG_FILE, path, level), 0);
}

START_TEST(test_pbx_log_file_one_line)
{
	char buf[256];

	open_file(PBX_LOG_INFO);
	pbx_log_info("hello %s %d", "world", 42);
	pbx_log_close();

	char *s = slurp(path);
	ck_assert_uint_eq(count_lines(s), 1);
	ck_assert_str_eq(after_prefix(line_at(s, 0, buf, sizeof buf)), "info hello world 42");
	free(s);
}
END_TEST

START_TEST(test_pbx_log_level_filter)
{
	char buf[256];

	open_file(PBX_LOG_NOTICE);
	pbx_log_debug("d%d", 1);
	pbx_log_info("i%d", 1);
	pbx_log_notice("n%d", 1);
	pbx_log_warn("w%d", 1);
	pbx_log_error("e%d", 1);
	pbx_log_set_level(PBX_LOG_DEBUG);
	pbx_log_debug("d%d", 2);
	pbx_log_set_level(PBX_LOG_ERR);
	pbx_log_warn("w%d", 2);
	pbx_log(PBX_LOG_ERR, "e%d", 2);
	pbx_log_close();

	char *s = slurp(path);
	ck_assert_uint_eq(count_lines(s), 5);
	ck_assert_str_eq(after_prefix(line_at(s, 0, buf, sizeof buf)), "notice n1");
	ck_assert_str_eq(after_prefix(line_at(s, 1, buf, sizeof buf)), "warning w1");
	ck_assert_str_eq(after_prefix(line_at(s, 2, buf, sizeof buf)), "err e1");
	ck_assert_str_eq(after_prefix(line_at(s, 3, buf, sizeof buf)), "debug d2");
	ck_assert_str_eq(after_prefix(line_at(s, 4, buf, sizeof buf)), "err e2");
	free(s);
}
END_TEST

START_TEST(test_pbx_log_escape)
{
	char buf[512];

	open_file(PBX_LOG_INFO);
	pbx_log_info("a\nb\rc\td%s", "\x1b[31m\x7f" "end");
	pbx_log_info("user=%s", "evil\ninfo forged line");
	pbx_log_info("path=%s", "C:\\dir\\x41");
	pbx_log_info("utf8=%s", "caf\xc3\xa9");
	pbx_log_info("%s", "\x01");
	pbx_log_close();

	char *s = slurp(path);
	ck_assert_uint_eq(count_lines(s), 5);
	ck_assert_str_eq(after_prefix(line_at(s, 0, buf, sizeof buf)),
			 "info a\\x0ab\\x0dc\\x09d\\x1b[31m\\x7fend");
	ck_assert_str_eq(after_prefix(line_at(s, 1, buf, sizeof buf)),
			 "info user=evil\\x0ainfo forged line");
	/* A backslash is escaped too, so "\x41" in the input cannot pass for
	 * an escaped byte. */
	ck_assert_str_eq(after_prefix(line_at(s, 2, buf, sizeof buf)),
			 "info path=C:\\\\dir\\\\x41");
	ck_assert_str_eq(after_prefix(line_at(s, 3, buf, sizeof buf)), "info utf8=caf\xc3\xa9");
	ck_assert_str_eq(after_prefix(line_at(s, 4, buf, sizeof buf)), "info \\x01");
	free(s);
}
END_TEST

START_TEST(test_pbx_log_long_message)
{
	static char big[10000], line[16384];

	open_file(PBX_LOG_INFO);
	memset(big, 'x', sizeof big - 1);
	pbx_log_info("%s", big);
	/* The longest message kept whole. */
	pbx_log_info("%.2047s", big);
	/* Every byte escaped to four: the line's bound must hold, and the cut
	 * must be marked although the message itself was not too long. */
	memset(big, '\x01', 1500);
	big[1500] = '\0';
	pbx_log_info("%s", big);
	/* Escaped to twice its length, and still whole. */
	memset(big, '\\', 2047);
	big[2047] = '\0';
	pbx_log_info("%s", big);
	pbx_log_info("short");
	pbx_log_close();

	char *s = slurp(path);
	ck_assert_uint_eq(count_lines(s), 5);

	const char *m = after_prefix(line_at(s, 0, line, sizeof line));
	size_t len = strlen(m);
	ck_assert_uint_lt(len, 8192);
	ck_assert_uint_gt(len, 1000);
	ck_assert_str_eq(m + len - 3, "...");
	ck_assert_uint_eq(strspn(m + 5, "x"), len - 5 - 3);

	m = after_prefix(line_at(s, 1, line, sizeof line));
	ck_assert_uint_eq(strlen(m), 5 + 2047);
	ck_assert_uint_eq(strspn(m + 5, "x"), 2047);

	m = after_prefix(line_at(s, 2, line, sizeof line));
	len = strlen(m);
	ck_assert_uint_lt(len, 8192);
	ck_assert_uint_gt(len, 1000);
	ck_assert_uint_lt(len, 5 + 4 * 1500);
	ck_assert_msg(strcmp(m + len - 3, "...") == 0,
		      "escaped message cut without '...': '%s'", m + len - 16);
	/* Cut between escapes, never inside one. */
	ck_assert_uint_eq((len - 5 - 3) % 4, 0);
	for (size_t i = 5; i + 3 < len; i += 4)
		ck_assert_msg(strncmp(m + i, "\\x01", 4) == 0, "broken escape at %zu", i);

	m = after_prefix(line_at(s, 3, line, sizeof line));
	ck_assert_uint_eq(strlen(m), 5 + 2 * 2047);
	ck_assert_uint_eq(strspn(m + 5, "\\"), 2 * 2047);

	ck_assert_str_eq(after_prefix(line_at(s, 4, line, sizeof line)), "info short");
	free(s);
}
END_TEST

START_TEST(test_pbx_log_keeps_errno)
{
	open_file(PBX_LOG_INFO);
	errno = EAGAIN;
	pbx_log_info("x");
	ck_assert_int_eq(errno, EAGAIN);
	errno = ENOENT;
	pbx_log_debug("filtered");
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(test_pbx_log_reopen)
{
	char buf[256], rotated[160];

	snprintf(rotated, sizeof rotated, "%s.1", path);
	open_file(PBX_LOG_INFO);
	pbx_log_info("one");
	ck_assert_int_eq(rename(path, rotated), 0);
	/* Until reopened, lines follow the renamed file. */
	pbx_log_info("two");
	ck_assert_int_eq(pbx_log_reopen(), 0);
	pbx_log_info("three");
	pbx_log_close();

	char *s = slurp(rotated);
	ck_assert_uint_eq(count_lines(s), 2);
	ck_assert_str_eq(after_prefix(line_at(s, 0, buf, sizeof buf)), "info one");
	ck_assert_str_eq(after_prefix(line_at(s, 1, buf, sizeof buf)), "info two");
	free(s);
	s = slurp(path);
	ck_assert_uint_eq(count_lines(s), 1);
	ck_assert_str_eq(after_prefix(line_at(s, 0, buf, sizeof buf)), "info three");
	free(s);
}
END_TEST

START_TEST(test_pbx_log_reopen_appends)
{
	char buf[256];

	/* Reopening an existing file appends; nothing is truncated. */
	open_file(PBX_LOG_INFO);
	pbx_log_info("a");
	ck_assert_int_eq(pbx_log_reopen(), 0);
	ck_assert_int_eq(pbx_log_reopen(), 0);
	pbx_log_info("b");
	pbx_log_close();
	open_file(PBX_LOG_INFO);
	pbx_log_info("c");
	pbx_log_close();

	char *s = slurp(path);
	ck_assert_uint_eq(count_lines(s), 3);
	ck_assert_str_eq(after_prefix(line_at(s, 2, buf, sizeof buf)), "info c");
	free(s);
}
END_TEST

START_TEST(test_pbx_log_reopen_fails)
{
	char moved[96], p[192], buf[256];

	open_file(PBX_LOG_INFO);
	pbx_log_info("before");
	/* The directory disappears: reopening fails, logging goes on to
	 * the file still open. */
	snprintf(moved, sizeof moved, "%s.moved", dir);
	ck_assert_int_eq(rename(dir, moved), 0);
	ck_assert_int_eq(pbx_log_reopen(), -ENOENT);
	pbx_log_info("after");
	pbx_log_close();
	ck_assert_int_eq(rename(moved, dir), 0);

	snprintf(p, sizeof p, "%s", path);
	char *s = slurp(p);
	ck_assert_uint_eq(count_lines(s), 2);
	ck_assert_str_eq(after_prefix(line_at(s, 1, buf, sizeof buf)), "info after");
	free(s);
}
END_TEST

START_TEST(test_pbx_log_open_fails)
{
	char p[192];

	snprintf(p, sizeof p, "%s/missing/test.log", dir);
	ck_assert_int_eq(pbx_log_open("tlog", PBX_LOG_FILE, p, PBX_LOG_INFO), -ENOENT);
	ck_assert_int_lt(pbx_log_open("tlog", PBX_LOG_FILE, NULL, PBX_LOG_INFO), 0);
}
END_TEST

START_TEST(test_pbx_log_stderr_journal)
{
	char buf[256];
	struct stat st;
	char js[64];

	/* stderr goes to our file; JOURNAL_STREAM names that file, as
	 * systemd does for a service's stderr. */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	int saved = dup(STDERR_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	snprintf(js, sizeof js, "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	ck_assert_int_eq(pbx_log_open("tlog", PBX_LOG_STDERR, NULL, PBX_LOG_INFO), 0);
	pbx_log_warn("to the journal\n");

	/* Another stream: a plain, time-stamped line. */
	setenv("JOURNAL_STREAM", "1:2", 1);
	ck_assert_int_eq(pbx_log_open("tlog", PBX_LOG_STDERR, NULL, PBX_LOG_INFO), 0);
	pbx_log_info("plain");
	unsetenv("JOURNAL_STREAM");
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);

	char *s = slurp(path);
	ck_assert_uint_eq(count_lines(s), 2);
	ck_assert_str_eq(line_at(s, 0, buf, sizeof buf), "<4>warning to the journal\\x0a");
	ck_assert_str_eq(after_prefix(line_at(s, 1, buf, sizeof buf)), "info plain");
	free(s);
}
END_TEST

START_TEST(test_pbx_log_level_parse)
{
	static const struct { const char *name; int level; } ok[] = {
		{ "err", PBX_LOG_ERR }, { "error", PBX_LOG_ERR },
		{ "warning", PBX_LOG_WARNING }, { "warn", PBX_LOG_WARNING },
		{ "notice", PBX_LOG_NOTICE }, { "info", PBX_LOG_INFO },
		{ "debug", PBX_LOG_DEBUG },
	};
	static const char *const bad[] = {
		"", "verbose", "info ", " info", "inf", "debug2", "7", "crit",
	};
	int level;

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		level = -1;
		ck_assert_int_eq(pbx_log_level_parse(ok[i].name, &level), 0);
		ck_assert_int_eq(level, ok[i].level);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		level = -1;
		ck_assert_msg(pbx_log_level_parse(bad[i], &level) == PBX_E_INVALID,
			      "'%s' accepted", bad[i]);
		ck_assert_int_eq(level, -1);
	}
}
END_TEST

START_TEST(test_pbx_log_level_name)
{
	ck_assert_str_eq(pbx_log_level_name(PBX_LOG_ERR), "err");
	ck_assert_str_eq(pbx_log_level_name(PBX_LOG_WARNING), "warning");
	ck_assert_str_eq(pbx_log_level_name(PBX_LOG_NOTICE), "notice");
	ck_assert_str_eq(pbx_log_level_name(PBX_LOG_INFO), "info");
	ck_assert_str_eq(pbx_log_level_name(PBX_LOG_DEBUG), "debug");
	ck_assert_str_eq(pbx_log_level_name(8), "unknown");
	ck_assert_str_eq(pbx_log_level_name(-1), "unknown");
	/* Every name parses back to its level. */
	for (int l = PBX_LOG_ERR; l <= PBX_LOG_DEBUG; l++) {
		int back;
		ck_assert_int_eq(pbx_log_level_parse(pbx_log_level_name(l), &back), 0);
		ck_assert_int_eq(back, l);
	}
}
END_TEST

START_TEST(test_pbx_log_enabled)
{
	pbx_log_set_level(PBX_LOG_WARNING);
	ck_assert(pbx_log_enabled(PBX_LOG_ERR));
	ck_assert(pbx_log_enabled(PBX_LOG_WARNING));
	ck_assert(!pbx_log_enabled(PBX_LOG_NOTICE));
	ck_assert(!pbx_log_enabled(PBX_LOG_DEBUG));
	pbx_log_set_level(PBX_LOG_DEBUG);
	ck_assert(pbx_log_enabled(PBX_LOG_DEBUG));
	open_file(PBX_LOG_ERR);
	ck_assert(!pbx_log_enabled(PBX_LOG_WARNING));
	ck_assert(pbx_log_enabled(PBX_LOG_ERR));
}
END_TEST

/* ---- concurrency ---- */

#define THREADS 4
#define LINES_PER_THREAD 3000

static atomic_bool writers_done;
static atomic_int reopen_failures;

static void *writer(void *arg)
{
	int t = (int)(intptr_t)arg;
	char payload[301];

	/* Long enough that a line is far from atomic for a buffered stream. */
	memset(payload, 'a' + t, sizeof payload - 1);
	payload[sizeof payload - 1] = '\0';
	for (int i = 0; i < LINES_PER_THREAD; i++)
		pbx_log_info("thread=%d seq=%d payload=%s end", t, i, payload);
	return NULL;
}

static void *reopener(void *arg)
{
	(void)arg;
	/* Reopening the same path while others log must lose no line. */
	while (!atomic_load(&writers_done))
		if (pbx_log_reopen() != 0)
			atomic_fetch_add(&reopen_failures, 1);
	return NULL;
}

START_TEST(test_pbx_log_threads)
{
	pthread_t th[THREADS], ro;
	char line[1024], want[400];
	int next[THREADS] = { 0 };

	open_file(PBX_LOG_INFO);
	atomic_store(&writers_done, false);
	ck_assert_int_eq(pthread_create(&ro, NULL, reopener, NULL), 0);
	for (int t = 0; t < THREADS; t++)
		ck_assert_int_eq(pthread_create(&th[t], NULL, writer, (void *)(intptr_t)t), 0);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	atomic_store(&writers_done, true);
	pthread_join(ro, NULL);
	pbx_log_close();
	ck_assert_int_eq(atomic_load(&reopen_failures), 0);

	char *s = slurp(path);
	ck_assert_uint_eq(count_lines(s), THREADS * LINES_PER_THREAD);
	const char *p = s;
	for (size_t i = 0; i < THREADS * LINES_PER_THREAD; i++) {
		const char *end = strchr(p, '\n');
		ck_assert_ptr_nonnull(end);
		size_t len = (size_t)(end - p);
		ck_assert_uint_lt(len, sizeof line);
		memcpy(line, p, len);
		line[len] = '\0';
		p = end + 1;

		int t, seq;
		const char *m = after_prefix(line);
		ck_assert_msg(sscanf(m, "info thread=%d seq=%d ", &t, &seq) == 2,
			      "torn line '%s'", line);
		ck_assert_int_ge(t, 0);
		ck_assert_int_lt(t, THREADS);
		/* Each thread's lines arrive whole and in order. */
		ck_assert_int_eq(seq, next[t]);
		next[t]++;
		char payload[301];
		memset(payload, 'a' + t, sizeof payload - 1);
		payload[sizeof payload - 1] = '\0';
		snprintf(want, sizeof want, "info thread=%d seq=%d payload=%s end", t, seq,
			 payload);
		ck_assert_str_eq(m, want);
	}
	ck_assert_int_eq(*p, '\0');
	for (int t = 0; t < THREADS; t++)
		ck_assert_int_eq(next[t], LINES_PER_THREAD);
	free(s);
}
END_TEST

static Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pbx_log_file_one_line);
	tcase_add_test(tc, test_pbx_log_level_filter);
	tcase_add_test(tc, test_pbx_log_escape);
	tcase_add_test(tc, test_pbx_log_long_message);
	tcase_add_test(tc, test_pbx_log_keeps_errno);
	tcase_add_test(tc, test_pbx_log_reopen);
	tcase_add_test(tc, test_pbx_log_reopen_appends);
	tcase_add_test(tc, test_pbx_log_reopen_fails);
	tcase_add_test(tc, test_pbx_log_open_fails);
	tcase_add_test(tc, test_pbx_log_stderr_journal);
	tcase_add_test(tc, test_pbx_log_level_parse);
	tcase_add_test(tc, test_pbx_log_level_name);
	tcase_add_test(tc, test_pbx_log_enabled);
	tcase_add_test(tc, test_pbx_log_threads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(log_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
