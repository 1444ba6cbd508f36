/* test_snapshot.c - the daemons' in-memory snapshot: what it holds, name
 * lookup, blacklist and whitelist matching, problems, references. */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pbxedge/store.h>

static char dir[64];
static char path[256];
static struct store *st;

static void setup(void)
{
	struct pbx_err err;
	strcpy(dir, "/tmp/pbx-test-snap-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/t.db", dir);
	ck_assert_int_eq(store_open(path, STORE_CREATE | STORE_MIGRATE, &st, &err), 0);
}

static void teardown(void)
{
	char cmd[300];
	store_close(st);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct store_snapshot *load(void)
{
	struct store_snapshot *snap;
	struct pbx_err err;
	int rc = store_snapshot_load(st, &snap, &err);
	ck_assert_msg(rc == 0, "load: %s", pbx_err_text(&err));
	return snap;
}

static struct pbx_addr addr(const char *text)
{
	struct pbx_addr a;
	struct pbx_err err;
	ck_assert_msg(pbx_addr_parse(pbx_span_cstr(text), 40000, 0, &a, &err) == 0, "%s", err.msg);
	return a;
}

START_TEST(test_store_snapshot_load_empty)
{
	struct store_snapshot *s = load();
	ck_assert_uint_eq(s->n_names, 0);
	ck_assert_uint_eq(s->n_problems, 0);
	for (int p = 0; p < STORE_PROTO_COUNT; p++)
		ck_assert(!s->listener[p].on);
	ck_assert_int_eq(s->setting_int[STORE_SET_RPD_INSPECT_TIMEOUT_MS], 5000);
	ck_assert_str_eq(s->setting_str[STORE_SET_RPD_TLS_CERT], "");
	store_snapshot_unref(s);
}
END_TEST

START_TEST(test_store_snapshot_config)
{
	struct pbx_err err;
	struct store_target_spec http = { .host = "172.16.0.20", .plain_port = 80 };
	struct store_target_spec h323 = { .host = "172.16.0.10", .plain_port = 1720,
					  .tls_port = 1300, .check_cert = true };
	ck_assert_int_eq(store_setting_set(st, "rpd.inspect-timeout-ms", "1500", &err), 0);
	ck_assert_int_eq(store_listen_set(st, STORE_PROTO_HTTPS, 8443, "127.0.0.1", &err), 0);
	ck_assert_int_eq(store_listen_set(st, STORE_PROTO_H323S, 1300, NULL, &err), 0);
	ck_assert_int_eq(store_name_add(st, "innovaphone.com", &err), 0);
	ck_assert_int_eq(store_name_add(st, "hq.innovaphone.com", &err), 0);
	ck_assert_int_eq(store_name_add(st, "Innovaphone.com/Branch", &err), 0);
	ck_assert_int_eq(store_target_set(st, "innovaphone.com", STORE_FAMILY_H323, &h323, &err), 0);
	ck_assert_int_eq(store_target_set(st, "hq.innovaphone.com", STORE_FAMILY_HTTP, &http, &err), 0);
	ck_assert_int_eq(store_allow_ip_add(st, "hq.innovaphone.com", STORE_FAMILY_HTTP,
					    "192.0.2.0/24", &err), 0);
	ck_assert_int_eq(store_allow_ip_add(st, "hq.innovaphone.com", STORE_FAMILY_HTTP,
					    "2001:db8::/32", &err), 0);
	ck_assert_int_eq(store_allow_url_add(st, "hq.innovaphone.com", "/PBX0/MY", &err), 0);
	ck_assert_int_eq(store_allow_url_add(st, "hq.innovaphone.com", "/PBX0/WEBSOCKET", &err), 0);

	struct store_snapshot *s = load();
	ck_assert_uint_eq(s->n_problems, 0);
	ck_assert_int_eq(s->setting_int[STORE_SET_RPD_INSPECT_TIMEOUT_MS], 1500);
	ck_assert(s->listener[STORE_PROTO_HTTPS].on);
	ck_assert_uint_eq(s->listener[STORE_PROTO_HTTPS].port, 8443);
	char a[PBX_ADDRSTRLEN];
	pbx_addr_format(&s->listener[STORE_PROTO_HTTPS].addr, a, sizeof a);
	ck_assert_str_eq(a, "127.0.0.1:8443");
	pbx_addr_format(&s->listener[STORE_PROTO_H323S].addr, a, sizeof a);
	ck_assert_str_eq(a, "[::]:1300");
	ck_assert(!s->listener[STORE_PROTO_HTTP].on);

	ck_assert_uint_eq(s->n_names, 3);
	const struct store_name *n = store_snapshot_name(s, pbx_span_cstr("INNOVAPHONE.COM"));
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(n->name, "innovaphone.com");
	ck_assert_str_eq(n->target[STORE_FAMILY_H323].host, "172.16.0.10");
	ck_assert_uint_eq(n->target[STORE_FAMILY_H323].plain_port, 1720);
	ck_assert_uint_eq(n->target[STORE_FAMILY_H323].tls_port, 1300);
	ck_assert(n->target[STORE_FAMILY_H323].check_cert);
	ck_assert_ptr_null(n->target[STORE_FAMILY_HTTP].host);
	ck_assert_ptr_nonnull(store_snapshot_name(s, pbx_span_cstr("innovaphone.com/branch")));
	ck_assert_ptr_null(store_snapshot_name(s, pbx_span_cstr("innovaphone.co")));
	ck_assert_ptr_null(store_snapshot_name(s, pbx_span_cstr("innovaphone.com.")));
	ck_assert_ptr_null(store_snapshot_name(s, pbx_span_cstr("")));
	/* A span that is not NUL-terminated is compared by its length. */
	struct pbx_span cut = { "hq.innovaphone.comXYZ", 18 };
	n = store_snapshot_name(s, cut);
	ck_assert_ptr_nonnull(n);
	ck_assert_uint_eq(n->n_allow[STORE_FAMILY_HTTP], 2);
	ck_assert_uint_eq(n->n_allow[STORE_FAMILY_SIP], 0);
	struct pbx_addr in = addr("192.0.2.77"), out = addr("198.51.100.1"),
			mapped = addr("::ffff:192.0.2.5"), v6 = addr("2001:db8:1::1");
	bool hit_in = false, hit_out = false, hit_mapped = false, hit_v6 = false;
	for (size_t i = 0; i < n->n_allow[STORE_FAMILY_HTTP]; i++) {
		hit_in |= pbx_cidr_contains(&n->allow[STORE_FAMILY_HTTP][i], &in);
		hit_out |= pbx_cidr_contains(&n->allow[STORE_FAMILY_HTTP][i], &out);
		hit_mapped |= pbx_cidr_contains(&n->allow[STORE_FAMILY_HTTP][i], &mapped);
		hit_v6 |= pbx_cidr_contains(&n->allow[STORE_FAMILY_HTTP][i], &v6);
	}
	ck_assert(hit_in && !hit_out && hit_mapped && hit_v6);
	ck_assert_uint_eq(n->n_urls, 2);
	ck_assert_str_eq(n->urls[0], "/PBX0/MY");
	ck_assert_str_eq(n->urls[1], "/PBX0/WEBSOCKET");
	store_snapshot_unref(s);
}
END_TEST

START_TEST(test_store_snapshot_blacklisted)
{
	struct pbx_err err;
	int64_t now = store_now();
	ck_assert_int_eq(store_access_add(st, STORE_BLACKLIST, "192.0.2.1", now + 60, true, "",
					  &err), 0);
	ck_assert_int_eq(store_access_add(st, STORE_BLACKLIST, "198.51.100.0/24", 0, false, "",
					  &err), 0);
	ck_assert_int_eq(store_access_add(st, STORE_BLACKLIST, "2001:db8:bad::/48", 0, false, "",
					  &err), 0);
	ck_assert_int_eq(store_access_add(st, STORE_WHITELIST, "198.51.100.7", 0, false, "", &err), 0);
	struct store_snapshot *s = load();
	struct pbx_addr a = addr("192.0.2.1"), b = addr("192.0.2.2"), c = addr("198.51.100.9"),
			w = addr("198.51.100.7"), m = addr("::ffff:192.0.2.1"),
			v6 = addr("2001:db8:bad:1::9"), v6ok = addr("2001:db8:bae::1");
	ck_assert(store_snapshot_blacklisted(s, &a, now));
	ck_assert(store_snapshot_blacklisted(s, &m, now));
	ck_assert(!store_snapshot_blacklisted(s, &a, now + 60)); /* expired by time */
	ck_assert(!store_snapshot_blacklisted(s, &b, now));
	ck_assert(store_snapshot_blacklisted(s, &c, now));
	ck_assert(store_snapshot_blacklisted(s, &c, now + 100000)); /* permanent */
	ck_assert(!store_snapshot_blacklisted(s, &w, now));          /* whitelist wins */
	ck_assert(store_snapshot_whitelisted(s, &w));
	ck_assert(store_snapshot_blacklisted(s, &v6, now));
	ck_assert(!store_snapshot_blacklisted(s, &v6ok, now));
	ck_assert_uint_eq(store_snapshot_access_count(s, STORE_BLACKLIST), 3);
	ck_assert_uint_eq(store_snapshot_access_count(s, STORE_WHITELIST), 1);
	store_snapshot_unref(s);
}
END_TEST

/* Many host entries: the open-addressing table must find every one and
 * nothing else. */
START_TEST(test_store_snapshot_blacklist_many)
{
	struct pbx_err err;
	ck_assert_int_eq(store_begin(st, &err), 0);
	for (int i = 0; i < 3000; i++) {
		char ip[32];
		snprintf(ip, sizeof ip, "10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255, i & 255);
		ck_assert_int_eq(store_access_add(st, STORE_BLACKLIST, ip, 0, true, "", &err), 0);
	}
	ck_assert_int_eq(store_commit(st, &err), 0);
	struct store_snapshot *s = load();
	ck_assert_uint_eq(store_snapshot_access_count(s, STORE_BLACKLIST), 3000);
	for (int i = 0; i < 4000; i++) {
		char ip[32];
		snprintf(ip, sizeof ip, "10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255, i & 255);
		struct pbx_addr a = addr(ip);
		ck_assert_int_eq(store_snapshot_blacklisted(s, &a, store_now()), i < 3000);
	}
	store_snapshot_unref(s);
}
END_TEST

/* Rows edited by hand that the code would have refused: the snapshot
 * falls back and says so, rather than failing or using garbage. */
START_TEST(test_store_snapshot_problems)
{
	struct pbx_err err;
	ck_assert_int_eq(store_name_add(st, "example.com", &err), 0);
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db,
		"INSERT INTO setting VALUES ('rpd.inspect-timeout-ms', 'soon', 0);"
		"INSERT INTO setting VALUES ('rpd.unknown-thing', '1', 0);"
		"INSERT INTO blacklist (network, origin, created) VALUES ('300.1.1.1', 'manual', 0);"
		"INSERT INTO allow_ip VALUES (1, 'http', '10.0.0.1/8');"
		"INSERT INTO listener VALUES ('http', 80, 'not-an-ip');",
		NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	struct store_snapshot *s = load();
	ck_assert_uint_eq(s->n_problems, 5);
	ck_assert_int_eq(s->setting_int[STORE_SET_RPD_INSPECT_TIMEOUT_MS], 5000);
	ck_assert(!s->listener[STORE_PROTO_HTTP].on);
	ck_assert_uint_eq(store_snapshot_access_count(s, STORE_BLACKLIST), 0);
	const struct store_name *n = store_snapshot_name(s, pbx_span_cstr("example.com"));
	ck_assert_uint_eq(n->n_allow[STORE_FAMILY_HTTP], 0);
	bool named = false;
	for (size_t i = 0; i < s->n_problems; i++)
		named |= strstr(s->problems[i], "rpd.inspect-timeout-ms") != NULL;
	ck_assert(named);
	store_snapshot_unref(s);
}
END_TEST

START_TEST(test_store_snapshot_ref_unref)
{
	struct store_snapshot *s = load();
	struct store_snapshot *t = store_snapshot_ref(s);
	ck_assert_ptr_eq(s, t);
	store_snapshot_unref(s);
	/* Still alive through the second reference. */
	ck_assert_int_eq(t->setting_int[STORE_SET_NATD_INTERVAL_S], 300);
	store_snapshot_unref(t);
	store_snapshot_unref(NULL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("snapshot");
	TCase *tc = tcase_create("snapshot");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_store_snapshot_load_empty);
	tcase_add_test(tc, test_store_snapshot_config);
	tcase_add_test(tc, test_store_snapshot_blacklisted);
	tcase_add_test(tc, test_store_snapshot_blacklist_many);
	tcase_add_test(tc, test_store_snapshot_problems);
	tcase_add_test(tc, test_store_snapshot_ref_unref);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
