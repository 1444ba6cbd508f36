/* test_store_nat.c - natd's results in the store (lib/store/nat.c):
 * store_nat_save with its history of changes, store_nat_external for the
 * other daemons, and the probe requests of rpctl nat probe. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pbxedge/store.h>

static char dir[] = "/tmp/pbx-test-store-nat-XXXXXX";
static char path[256];

static void setup(void)
{
	strcpy(dir, "/tmp/pbx-test-store-nat-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/t.db", dir);
}

static void teardown(void)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct store *open_new(void)
{
	struct store *st;
	struct pbx_err err;
	int rc = store_open(path, STORE_CREATE | STORE_MIGRATE, &st, &err);
	ck_assert_msg(rc == 0, "store_open: %s", pbx_err_text(&err));
	return st;
}

static int count_row(void *arg, const struct store_col *cols, int ncols)
{
	(void)cols;
	(void)ncols;
	(*(int *)arg)++;
	return 0;
}

static int rows(struct store *st, enum store_query q)
{
	int n = 0;
	struct pbx_err err;
	ck_assert_int_eq(store_query(st, q, NULL, count_row, &n, &err), 0);
	return n;
}

static const struct store_nat_row open_row = {
	"192.0.2.1:3478", "198.51.100.7", "endpoint-independent", "endpoint-independent",
	"true", "open", "{\"probes\":[]}",
};
static const struct store_nat_row prc_row = {
	"192.0.2.1:3478", "203.0.113.1", "endpoint-independent", "address-and-port-dependent",
	"false", "port-restricted-cone", "{\"probes\":[]}",
};
static const struct store_nat_row blocked_row = {
	"192.0.2.9:3478", NULL, "unknown", "unknown", "unknown", "udp-blocked", "{}",
};

START_TEST(test_store_nat_save)
{
	struct store *st = open_new();
	struct pbx_err err;
	char ext[64];
	bool changed[2];

	ck_assert_int_eq(store_nat_external(st, ext, sizeof ext, &err), PBX_E_NOTFOUND);
	struct store_nat_row two[2] = { open_row, blocked_row };
	ck_assert_int_eq(store_nat_save(st, two, 2, 1000, changed, &err), 0);
	ck_assert(changed[0] && changed[1]);
	ck_assert_int_eq(rows(st, STORE_Q_NAT), 2);
	ck_assert_int_eq(rows(st, STORE_Q_NAT_HISTORY), 2);
	ck_assert_int_eq(store_nat_external(st, ext, sizeof ext, &err), 0);
	ck_assert_str_eq(ext, "198.51.100.7");
	/* Too small a buffer is refused, not cut. */
	ck_assert_int_eq(store_nat_external(st, ext, 5, &err), PBX_E_NOSPACE);

	/* The same verdicts again: no history. */
	ck_assert_int_eq(store_nat_save(st, two, 2, 1300, changed, &err), 0);
	ck_assert(!changed[0] && !changed[1]);
	ck_assert_int_eq(rows(st, STORE_Q_NAT_HISTORY), 2);

	/* The NAT changed: one history row; the other server dropped. */
	ck_assert_int_eq(store_nat_save(st, &prc_row, 1, 1600, changed, &err), 0);
	ck_assert(changed[0]);
	ck_assert_int_eq(rows(st, STORE_Q_NAT), 1);
	ck_assert_int_eq(rows(st, STORE_Q_NAT_HISTORY), 3);
	ck_assert_int_eq(store_nat_external(st, ext, sizeof ext, &err), 0);
	ck_assert_str_eq(ext, "203.0.113.1");

	/* No external address through the first server: none to advertise. */
	ck_assert_int_eq(store_nat_save(st, &blocked_row, 1, 1900, NULL, &err), 0);
	ck_assert_int_eq(store_nat_external(st, ext, sizeof ext, &err), PBX_E_NOTFOUND);
	ck_assert_str_eq(ext, "");

	/* A verdict the table does not allow is refused whole. */
	struct store_nat_row bad = open_row;
	bad.classic = "cone-ish";
	ck_assert_int_ne(store_nat_save(st, &bad, 1, 2000, NULL, &err), 0);
	ck_assert_int_eq(rows(st, STORE_Q_NAT_HISTORY), 4);
	store_close(st);
}
END_TEST

START_TEST(test_store_nat_probe)
{
	struct store *st = open_new();
	struct pbx_err err;
	int64_t a, b, last, done;

	ck_assert_int_eq(store_nat_probe_pending(st, &last, &err), 0);
	ck_assert_int_eq(last, 0);
	ck_assert_int_eq(store_nat_probe_request(st, &a, &err), 0);
	ck_assert_int_eq(store_nat_probe_request(st, &b, &err), 0);
	ck_assert_int_gt(b, a);
	ck_assert_int_eq(store_nat_probe_pending(st, &last, &err), 0);
	ck_assert_int_eq(last, b);
	ck_assert_int_eq(store_nat_probe_done(st, a, &done, &err), 0);
	ck_assert_int_eq(done, 0);

	/* A round that began after a's request answers a only. */
	ck_assert_int_eq(store_nat_probe_finish(st, a, &err), 0);
	ck_assert_int_eq(store_nat_probe_done(st, a, &done, &err), 0);
	ck_assert_int_gt(done, 0);
	ck_assert_int_eq(store_nat_probe_done(st, b, &done, &err), 0);
	ck_assert_int_eq(done, 0);
	ck_assert_int_eq(store_nat_probe_pending(st, &last, &err), 0);
	ck_assert_int_eq(last, b);
	ck_assert_int_eq(store_nat_probe_finish(st, b, &err), 0);
	ck_assert_int_eq(store_nat_probe_pending(st, &last, &err), 0);
	ck_assert_int_eq(last, 0);

	/* A read-only handle (rpctl nat status) sees none of it change. */
	struct store *ro;
	ck_assert_int_eq(store_open(path, STORE_READONLY, &ro, &err), 0);
	ck_assert_int_ne(store_nat_probe_request(ro, &a, &err), 0);
	store_close(ro);
	store_close(st);
}
END_TEST

static Suite *store_nat_suite(void)
{
	Suite *s = suite_create("store_nat");
	TCase *tc = tcase_create("nat");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_store_nat_save);
	tcase_add_test(tc, test_store_nat_probe);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(store_nat_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
