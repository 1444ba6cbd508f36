/* test_fraud.c - counting suspicious requests per source: the threshold is
 * exceeded once per window, windows restart, IPv6 sources are whole
 * networks, the local block lasts its while, the table stays bounded, and
 * workers counting at once lose nothing. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <pbxedge/fraud.h>

static struct pbx_cidr source(const char *text, unsigned v6prefix)
{
	struct pbx_addr a;
	struct pbx_cidr c;
	ck_assert_int_eq(pbx_addr_parse(pbx_span_cstr(text), 1, 0, &a, NULL), 0);
	fraud_source(&a, v6prefix, &c);
	return c;
}

START_TEST(test_fraud_count_threshold)
{
	struct fraud *f;
	ck_assert_int_eq(fraud_new(100, &f), 0);
	struct pbx_cidr s = source("192.0.2.1", 64);
	unsigned n = 0;
	/* "More than 5 per minute": the sixth request goes over. */
	for (int i = 1; i <= 5; i++) {
		ck_assert(!fraud_count(f, &s, 1000, 5, &n));
		ck_assert_uint_eq(n, (unsigned)i);
	}
	ck_assert(!fraud_blocked(f, &s, 1000));
	ck_assert(fraud_count(f, &s, 1010, 5, &n));
	ck_assert_uint_eq(n, 6);
	ck_assert(fraud_blocked(f, &s, 1010));
	/* Once: more requests while blocked do not ask to blacklist again. */
	ck_assert(!fraud_count(f, &s, 1011, 5, &n));
	/* The local block is short: the store's entry takes over. */
	ck_assert(fraud_blocked(f, &s, 1010 + FRAUD_LOCAL_BLOCK_S - 1));
	ck_assert(!fraud_blocked(f, &s, 1010 + FRAUD_LOCAL_BLOCK_S));
	/* Another source is counted apart. */
	struct pbx_cidr t = source("192.0.2.2", 64);
	ck_assert(!fraud_count(f, &t, 1010, 5, &n));
	ck_assert_uint_eq(n, 1);
	fraud_free(f);
}
END_TEST

START_TEST(test_fraud_count_window)
{
	struct fraud *f;
	ck_assert_int_eq(fraud_new(100, &f), 0);
	struct pbx_cidr s = source("198.51.100.7", 64);
	unsigned n;
	for (int i = 0; i < 5; i++)
		ck_assert(!fraud_count(f, &s, 2000 + i * 10, 5, &n));
	/* Sixty seconds after the window began, counting starts over. */
	ck_assert(!fraud_count(f, &s, 2060, 5, &n));
	ck_assert_uint_eq(n, 1);
	fraud_free(f);
}
END_TEST

START_TEST(test_fraud_source)
{
	struct pbx_cidr a = source("2001:db8:1:2:aaaa::1", 64);
	struct pbx_cidr b = source("[2001:db8:1:2:bbbb::9]:5061", 64);
	struct pbx_cidr c = source("2001:db8:1:3::1", 64);
	char text[PBX_CIDRSTRLEN];
	pbx_cidr_format(&a, text, sizeof text);
	ck_assert_str_eq(text, "2001:db8:1:2::/64");
	ck_assert(pbx_cidr_equal(&a, &b));
	ck_assert(!pbx_cidr_equal(&a, &c));
	struct pbx_cidr d = source("2001:db8:1:2:aaaa::1", 48);
	pbx_cidr_format(&d, text, sizeof text);
	ck_assert_str_eq(text, "2001:db8:1::/48");
	struct pbx_cidr e = source("2001:db8::5", 128);
	pbx_cidr_format(&e, text, sizeof text);
	ck_assert_str_eq(text, "2001:db8::5");
	/* IPv4 (also mapped) is always the host. */
	struct pbx_cidr g = source("::ffff:192.0.2.44", 64);
	pbx_cidr_format(&g, text, sizeof text);
	ck_assert_str_eq(text, "192.0.2.44");

	/* Two addresses of one /64 share one count. */
	struct fraud *f;
	unsigned n;
	ck_assert_int_eq(fraud_new(10, &f), 0);
	ck_assert(!fraud_count(f, &a, 1, 1, &n));
	ck_assert(fraud_count(f, &b, 1, 1, &n));
	ck_assert_uint_eq(n, 2);
	fraud_free(f);
}
END_TEST

START_TEST(test_fraud_count_bounded)
{
	struct fraud *f;
	ck_assert_int_eq(fraud_new(50, &f), 0);
	char ip[32];
	unsigned n;
	/* A flood of distinct sources: the table never grows past its
	 * bound; a full table of live sources leaves new ones uncounted. */
	for (int i = 0; i < 200; i++) {
		snprintf(ip, sizeof ip, "10.0.%d.%d", i / 250, i % 250);
		struct pbx_cidr s = source(ip, 64);
		fraud_count(f, &s, 5000, 3, &n);
		ck_assert_uint_le(n, 1);
	}
	/* Once the windows are over, the table makes room again. */
	struct pbx_cidr late = source("10.9.9.9", 64);
	ck_assert(!fraud_count(f, &late, 5100, 3, &n));
	ck_assert_uint_eq(n, 1);
	fraud_free(f);
}
END_TEST

struct worker_arg {
	struct fraud *f;
	int decided;
};

static void *worker(void *p)
{
	struct worker_arg *w = p;
	struct pbx_cidr s = source("203.0.113.9", 64);
	for (int i = 0; i < 10000; i++)
		w->decided += fraud_count(w->f, &s, 7000, 39999, NULL);
	return NULL;
}

START_TEST(test_fraud_count_threads)
{
	struct fraud *f;
	ck_assert_int_eq(fraud_new(10, &f), 0);
	pthread_t t[4];
	struct worker_arg args[4] = { { f, 0 }, { f, 0 }, { f, 0 }, { f, 0 } };
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, worker, &args[i]);
	int decided = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		decided += args[i].decided;
	}
	/* 40000 requests, threshold 39999: exactly one decision, at the
	 * last one, whichever worker counted it. */
	ck_assert_int_eq(decided, 1);
	fraud_free(f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fraud");
	TCase *tc = tcase_create("fraud");
	tcase_add_test(tc, test_fraud_count_threshold);
	tcase_add_test(tc, test_fraud_count_window);
	tcase_add_test(tc, test_fraud_source);
	tcase_add_test(tc, test_fraud_count_bounded);
	tcase_add_test(tc, test_fraud_count_threads);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
