/* test_store.c - the store: opening and migrating, settings, configuration
 * changes with their refusals, blacklist and whitelist, change polling. */
#include <check.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pbxedge/store.h>

static char dir[] = "/tmp/pbx-test-store-XXXXXX";
static char path[256];

static void setup(void)
{
	strcpy(dir, "/tmp/pbx-test-store-XXXXXX");
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

/* Run SQL on the file directly, as a hand edit or another tool would. */
static void raw_sql(const char *sql)
{
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, msg ? msg : "?");
	sqlite3_close(db);
}

START_TEST(test_store_open_creates_and_migrates)
{
	struct store *st = open_new();
	int v;
	ck_assert_int_eq(store_schema_version(st, &v, NULL), 0);
	ck_assert_int_eq(v, store_schema_latest());
	ck_assert_int_ge(v, 1);
	store_close(st);
	/* Opening again is a no-op migration. */
	st = open_new();
	store_close(st);
}
END_TEST

START_TEST(test_store_open_missing_without_create)
{
	struct store *st;
	struct pbx_err err;
	ck_assert_int_eq(store_open(path, STORE_MIGRATE, &st, &err), PBX_E_NOTFOUND);
	ck_assert_ptr_null(st);
	ck_assert_ptr_nonnull(strstr(err.msg, "no store at"));
	ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST

START_TEST(test_store_open_refuses_newer_schema)
{
	store_close(open_new());
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", store_schema_latest() + 1);
	raw_sql(sql);
	struct store *st;
	struct pbx_err err;
	ck_assert_int_eq(store_open(path, STORE_CREATE | STORE_MIGRATE, &st, &err),
			 PBX_E_SCHEMA_NEWER);
	ck_assert_ptr_nonnull(strstr(err.msg, "newer than this pbxedge"));
	ck_assert_int_eq(store_open(path, STORE_READONLY, &st, &err), PBX_E_SCHEMA_NEWER);
}
END_TEST

START_TEST(test_store_open_refuses_foreign_database)
{
	raw_sql("CREATE TABLE something (x)");
	struct store *st;
	struct pbx_err err;
	ck_assert_int_eq(store_open(path, STORE_CREATE | STORE_MIGRATE, &st, &err),
			 PBX_E_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "not a pbxedge store"));
}
END_TEST

START_TEST(test_store_open_refuses_non_database)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("this is not an SQLite file, but long enough to look like one......\n"
	      "................................................................\n", f);
	fclose(f);
	struct store *st;
	struct pbx_err err;
	ck_assert_int_ne(store_open(path, STORE_CREATE | STORE_MIGRATE, &st, &err), 0);
	ck_assert_ptr_null(st);
	ck_assert_int_gt((int)strlen(err.msg), 0);
}
END_TEST

START_TEST(test_store_open_readonly_needs_current_schema)
{
	raw_sql("CREATE TABLE IF NOT EXISTS x (y); DROP TABLE x;"); /* empty, version 0 */
	struct store *st;
	struct pbx_err err;
	ck_assert_int_eq(store_open(path, STORE_READONLY, &st, &err), PBX_E_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "rpctl init"));
	/* A read-only open never writes: the file is still at version 0. */
	sqlite3 *db;
	sqlite3_stmt *stmt;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL);
	ck_assert_int_eq(sqlite3_step(stmt), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(stmt, 0), 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
}
END_TEST

/* Several processes opening one fresh store at the same moment (boot):
 * every one must succeed, with WAL on and the schema applied once. */
START_TEST(test_store_open_concurrent_fresh)
{
	for (int round = 0; round < 20; round++) {
		unlink(path);
		char aux[300];
		snprintf(aux, sizeof aux, "%s-wal", path);
		unlink(aux);
		snprintf(aux, sizeof aux, "%s-shm", path);
		unlink(aux);
		pid_t kids[6];
		for (int k = 0; k < 6; k++) {
			kids[k] = fork();
			ck_assert_int_ge(kids[k], 0);
			if (kids[k] == 0) {
				struct store *st;
				struct pbx_err err;
				int rc = store_open(path, STORE_CREATE | STORE_MIGRATE, &st, &err);
				if (rc)
					fprintf(stderr, "round %d: %s\n", round, pbx_err_text(&err));
				else
					rc = store_name_add(st, k % 2 ? "a.example" : "b.example", &err)
						== PBX_E_STORE;
				store_close(st);
				_exit(rc ? 1 : 0);
			}
		}
		for (int k = 0; k < 6; k++) {
			int status;
			ck_assert_int_eq(waitpid(kids[k], &status, 0), kids[k]);
			ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
				      "round %d: an open failed", round);
		}
	}
}
END_TEST

/* The last ice-test result: one row per mode; a store of schema 4 keeps
 * its servers row through the migration; an unknown mode is refused. */
struct ice_rows {
	int n;
	char modes[4][16];
	char selected[4][64];
};

static int ice_row(void *arg, const struct store_col *cols, int ncols)
{
	struct ice_rows *r = arg;
	ck_assert_int_eq(ncols, 9);
	ck_assert_int_lt(r->n, 4);
	snprintf(r->modes[r->n], sizeof r->modes[0], "%s", cols[0].s);
	snprintf(r->selected[r->n], sizeof r->selected[0], "%s", cols[8].s);
	r->n++;
	return 0;
}

START_TEST(test_store_ice_test_per_mode)
{
	struct store *st = open_new();
	store_close(st);
	raw_sql("DROP TABLE ice_test;"
		"CREATE TABLE ice_test (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL,"
		" result TEXT NOT NULL, code TEXT NOT NULL, reason TEXT NOT NULL,"
		" servers INTEGER NOT NULL, candidates INTEGER NOT NULL) STRICT;"
		"INSERT INTO ice_test VALUES (1, 1700000000, 'FAILED', 'turn-auth', 'r', 2, 1);"
		"PRAGMA user_version = 4;");
	st = open_new();
	struct pbx_err err;
	struct ice_rows r = { 0 };
	ck_assert_int_eq(store_query(st, STORE_Q_ICE_TEST, NULL, ice_row, &r, &err), 0);
	ck_assert_int_eq(r.n, 1);
	ck_assert_str_eq(r.modes[0], "servers");

	struct store_ice_test_row row = {
		.mode = "peer", .at = 1700000100, .result = "SUCCESS", .code = "ok",
		.reason = "fine", .pairs = 4, .selected = "relay 192.0.2.1:5 -> relay 192.0.2.2:6",
	};
	ck_assert_int_eq(store_ice_test_save(st, &row, &err), 0);
	row.selected = "host 192.0.2.3:7 -> host 192.0.2.4:8"; /* replaces the peer row */
	ck_assert_int_eq(store_ice_test_save(st, &row, &err), 0);
	memset(&r, 0, sizeof r);
	ck_assert_int_eq(store_query(st, STORE_Q_ICE_TEST, NULL, ice_row, &r, &err), 0);
	ck_assert_int_eq(r.n, 2);
	ck_assert_str_eq(r.modes[0], "peer");
	ck_assert_str_eq(r.selected[0], "host 192.0.2.3:7 -> host 192.0.2.4:8");
	ck_assert_str_eq(r.modes[1], "servers");

	row.mode = "bogus";
	ck_assert_int_eq(store_ice_test_save(st, &row, &err), PBX_E_INVALID);
	row.mode = NULL;
	ck_assert_int_eq(store_ice_test_save(st, &row, &err), PBX_E_INVALID);
	store_close(st);
}
END_TEST

START_TEST(test_store_setting_set_get_unset)
{
	struct store *st = open_new();
	struct pbx_err err;
	char v[256];
	bool def;
	ck_assert_int_eq(store_setting_get(st, "rpd.blacklist-minutes", v, sizeof v, &def, &err), 0);
	ck_assert_str_eq(v, "10");
	ck_assert(def);
	ck_assert_int_eq(store_setting_set(st, "rpd.blacklist-minutes", "30", &err), 0);
	ck_assert_int_eq(store_setting_get(st, "rpd.blacklist-minutes", v, sizeof v, &def, &err), 0);
	ck_assert_str_eq(v, "30");
	ck_assert(!def);
	ck_assert_int_eq(store_setting_unset(st, "rpd.blacklist-minutes", &err), 0);
	ck_assert_int_eq(store_setting_get(st, "rpd.blacklist-minutes", v, sizeof v, &def, &err), 0);
	ck_assert_str_eq(v, "10");
	ck_assert(def);
	store_close(st);
}
END_TEST

START_TEST(test_store_setting_validate_refusals)
{
	struct store *st = open_new();
	struct pbx_err err;
	char v[64];
	ck_assert_int_eq(store_setting_set(st, "no.such-key", "1", &err), PBX_E_NOTFOUND);
	ck_assert_ptr_nonnull(strstr(err.msg, "no.such-key"));
	ck_assert_int_eq(store_setting_set(st, "rpd.inspect-timeout-ms", "99", &err), PBX_E_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "out of range"));
	ck_assert_int_eq(store_setting_set(st, "rpd.inspect-timeout-ms", "60001", &err),
			 PBX_E_INVALID);
	ck_assert_int_eq(store_setting_set(st, "rpd.inspect-timeout-ms", "-5", &err), PBX_E_INVALID);
	ck_assert_int_eq(store_setting_set(st, "rpd.inspect-timeout-ms", "5s", &err), PBX_E_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "not a whole number"));
	ck_assert_int_eq(store_setting_set(st, "rpd.tls-cert", "relative/cert.pem", &err),
			 PBX_E_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "absolute"));
	ck_assert_int_eq(store_setting_set(st, "rpd.tls-cert", "/etc/x\ty", &err), PBX_E_INVALID);
	ck_assert_int_eq(store_setting_set(st, "rpd.tls-priority", "NORMAL:+NOPE", &err),
			 PBX_E_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "GnuTLS"));
	ck_assert_int_eq(store_setting_set(st, "rpd.tls-priority", "SECURE256:-VERS-TLS1.2", &err), 0);
	/* Nothing refused was stored. */
	ck_assert_int_eq(store_setting_get(st, "rpd.inspect-timeout-ms", v, sizeof v, NULL, &err), 0);
	ck_assert_str_eq(v, "5000");
	ck_assert_int_eq(store_setting_get(st, "rpd.tls-cert", v, sizeof v, NULL, &err), 0);
	ck_assert_str_eq(v, "");
	store_close(st);
}
END_TEST

START_TEST(test_store_setting_validate_stun_servers)
{
	char c[256];
	struct pbx_err err;
	enum store_setting s;
	ck_assert_int_eq(store_setting_find("natd.servers", &s, NULL), 0);
	static const struct { const char *in, *canon; } ok[] = {
		{ "", "" },
		{ "stun.example.com", "stun.example.com" },
		{ "172.16.13.1:1234,172.16.13.2", "172.16.13.1:1234,172.16.13.2" },
		{ "172.16.13.1:1234, 172.16.13.2 ; stun.provider.net",
		  "172.16.13.1:1234,172.16.13.2;stun.provider.net" },
		{ "[2001:db8::1]:3479;2001:db8::2", "[2001:db8::1]:3479;2001:db8::2" },
		{ "stun.example.com:3479", "stun.example.com:3479" },
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		ck_assert_msg(store_setting_validate(s, ok[i].in, c, sizeof c, &err) == 0, "%s: %s",
			      ok[i].in, err.msg);
		ck_assert_str_eq(c, ok[i].canon);
	}
	static const char *const bad[] = {
		"a.example.com,b.example.com", "1.2.3.4,stun.example.com", "1.2.3.4:0",
		"1.2.3.4:65536", "1.2.3", ";", "1.2.3.4;", ",1.2.3.4", "[::1", "bad_host!",
		"stun.example.com:x",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		pbx_err_clear(&err);
		ck_assert_msg(store_setting_validate(s, bad[i], c, sizeof c, &err) == PBX_E_INVALID,
			      "accepted '%s'", bad[i]);
		ck_assert_ptr_nonnull(strstr(err.msg, "natd.servers"));
	}
}
END_TEST

START_TEST(test_store_setting_validate_addrport)
{
	char c[256];
	struct pbx_err err;
	enum store_setting s;
	ck_assert_int_eq(store_setting_find("stund.primary", &s, NULL), 0);
	ck_assert_int_eq(s, STORE_SET_STUND_PRIMARY);
#define primary STORE_SET_STUND_PRIMARY
#define alternate STORE_SET_STUND_ALTERNATE
#define listen STORE_SET_TURND_LISTEN
	static const struct { enum store_setting s; const char *in, *canon; } ok[] = {
		{ primary, "", "" },
		{ primary, "192.0.2.1", "192.0.2.1:3478" },
		{ primary, " 192.0.2.1:3480 ", "192.0.2.1:3480" },
		{ primary, "2001:db8::1", "[2001:db8::1]:3478" },
		{ primary, "[2001:db8::1]:5000", "[2001:db8::1]:5000" },
		{ primary, "0.0.0.0", "0.0.0.0:3478" },
		/* The alternate's port stays optional: stund takes the
		 * primary's + 1. */
		{ alternate, "192.0.2.2", "192.0.2.2" },
		{ alternate, "[2001:db8::2]", "2001:db8::2" },
		{ alternate, "192.0.2.2:3490", "192.0.2.2:3490" },
		{ listen, "", "" },
		{ listen, "0.0.0.0", "0.0.0.0:3478" },
		{ listen, "192.0.2.1:3480, [2001:db8::1]", "192.0.2.1:3480,[2001:db8::1]:3478" },
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		ck_assert_msg(store_setting_validate(ok[i].s, ok[i].in, c, sizeof c, &err) == 0,
			      "%s: %s", ok[i].in, err.msg);
		ck_assert_str_eq(c, ok[i].canon);
	}
	static const struct { enum store_setting s; const char *in; } bad[] = {
		{ primary, "stun.example.com" }, { primary, "192.0.2.1:0" },
		{ primary, "192.0.2.1:65536" }, { primary, "192.0.2.1,192.0.2.2" },
		{ primary, "[::1" }, { alternate, "192.0.2" },
		{ listen, "192.0.2.1:3478,192.0.2.1" }, { listen, "192.0.2.1," },
		{ listen, ",192.0.2.1" }, { listen, "host.example:3478" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		pbx_err_clear(&err);
		ck_assert_msg(store_setting_validate(bad[i].s, bad[i].in, c, sizeof c, &err) ==
			      PBX_E_INVALID, "accepted '%s'", bad[i].in);
		ck_assert_ptr_nonnull(strstr(err.msg, store_setting_info(bad[i].s)->key));
	}
#undef primary
#undef alternate
#undef listen
}
END_TEST

START_TEST(test_store_setting_table_bounds)
{
	/* Every key: its default validates to itself, and INT keys accept
	 * their bounds and refuse one beyond, so a new key cannot ship with
	 * a table entry that contradicts itself. */
	for (int i = 0; i < STORE_SETTING_COUNT; i++) {
		const struct store_setting_info *in = store_setting_info((enum store_setting)i);
		char c[4096], v[32];
		ck_assert_ptr_nonnull(in->key);
		ck_assert_ptr_nonnull(strchr(in->key, '.'));
		ck_assert_msg(store_setting_validate((enum store_setting)i, in->def, c, sizeof c,
						     NULL) == 0, "default of %s invalid", in->key);
		ck_assert_str_eq(c, in->def);
		if (in->type != STORE_SETTING_INT)
			continue;
		snprintf(v, sizeof v, "%lld", (long long)in->min);
		ck_assert_int_eq(store_setting_validate((enum store_setting)i, v, c, sizeof c, NULL), 0);
		snprintf(v, sizeof v, "%lld", (long long)in->max);
		ck_assert_int_eq(store_setting_validate((enum store_setting)i, v, c, sizeof c, NULL), 0);
		snprintf(v, sizeof v, "%lld", (long long)in->max + 1);
		ck_assert_int_eq(store_setting_validate((enum store_setting)i, v, c, sizeof c, NULL),
				 PBX_E_INVALID);
		if (in->min > 0) {
			snprintf(v, sizeof v, "%lld", (long long)in->min - 1);
			ck_assert_int_eq(store_setting_validate((enum store_setting)i, v, c, sizeof c,
								NULL), PBX_E_INVALID);
		}
	}
}
END_TEST

START_TEST(test_store_listen_set_off)
{
	struct store *st = open_new();
	struct pbx_err err;
	ck_assert_int_eq(store_listen_set(st, STORE_PROTO_HTTPS, 8443, NULL, &err), 0);
	ck_assert_int_eq(store_listen_set(st, STORE_PROTO_HTTPS, 8443, "::1", &err), 0);
	ck_assert_int_eq(store_listen_set(st, STORE_PROTO_HTTPS, 0, NULL, &err), PBX_E_INVALID);
	ck_assert_int_eq(store_listen_set(st, STORE_PROTO_HTTPS, 65536, NULL, &err), PBX_E_INVALID);
	ck_assert_int_eq(store_listen_set(st, STORE_PROTO_HTTPS, 443, "example.com", &err),
			 PBX_E_INVALID);
	ck_assert_int_eq(store_listen_set(st, STORE_PROTO_HTTPS, 443, "1.2.3.4:80", &err),
			 PBX_E_INVALID);
	ck_assert_int_eq(store_listen_off(st, STORE_PROTO_HTTPS, &err), 0);
	ck_assert_int_eq(store_listen_off(st, STORE_PROTO_HTTPS, &err), PBX_E_NOTFOUND);
	ck_assert_ptr_nonnull(strstr(err.msg, "https"));
	store_close(st);
}
END_TEST

START_TEST(test_store_name_validate)
{
	static const char *const ok[] = { "example.com", "innovaphone.com/branch", "pbx",
					  "hq.example.com", "a-b_c.example", "example.com/hq-standby",
					  "Example.COM" };
	static const char *const bad[] = { "", "example com", "example.com/", "/branch",
					   "example.com/a/b", "example.com/a:b", "a..b", ".example",
					   "del", "LIST", "user@example.com", "ex\x01mple" };
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		ck_assert_msg(store_name_validate(ok[i], NULL) == 0, "refused '%s'", ok[i]);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct pbx_err err;
		pbx_err_clear(&err);
		ck_assert_msg(store_name_validate(bad[i], &err) == PBX_E_INVALID, "accepted '%s'",
			      bad[i]);
		ck_assert_int_gt((int)strlen(err.msg), 0);
	}
	char longname[300];
	memset(longname, 'a', 254);
	longname[254] = '\0';
	ck_assert_int_eq(store_name_validate(longname, NULL), PBX_E_INVALID);
}
END_TEST

START_TEST(test_store_name_target_acl)
{
	struct store *st = open_new();
	struct pbx_err err;
	struct store_target_spec spec = { .host = "172.16.0.10", .plain_port = 1720,
					  .tls_port = 1300, .check_cert = true };
	ck_assert_int_eq(store_name_add(st, "innovaphone.com", &err), 0);
	ck_assert_int_eq(store_name_add(st, "INNOVAPHONE.com", &err), PBX_E_EXISTS);
	ck_assert_int_eq(store_target_set(st, "innovaphone.com", STORE_FAMILY_H323, &spec, &err), 0);
	/* Names resolve case-insensitively in every command. */
	ck_assert_int_eq(store_target_set(st, "Innovaphone.Com", STORE_FAMILY_LDAP, &spec, &err), 0);
	ck_assert_int_eq(store_target_set(st, "nosuch.com", STORE_FAMILY_HTTP, &spec, &err),
			 PBX_E_NOTFOUND);
	ck_assert_ptr_nonnull(strstr(err.msg, "nosuch.com"));
	struct store_target_spec noport = { .host = "10.0.0.1" };
	ck_assert_int_eq(store_target_set(st, "innovaphone.com", STORE_FAMILY_HTTP, &noport, &err),
			 PBX_E_INVALID);
	struct store_target_spec badhost = { .host = "10.0.0.1:80", .plain_port = 80 };
	ck_assert_int_eq(store_target_set(st, "innovaphone.com", STORE_FAMILY_HTTP, &badhost, &err),
			 PBX_E_INVALID);
	struct store_target_spec badport = { .host = "pbx.local", .plain_port = 70000 };
	ck_assert_int_eq(store_target_set(st, "innovaphone.com", STORE_FAMILY_HTTP, &badport, &err),
			 PBX_E_INVALID);
	struct store_target_spec v6 = { .host = "2001:db8::10", .tls_port = 443 };
	ck_assert_int_eq(store_target_set(st, "innovaphone.com", STORE_FAMILY_HTTP, &v6, &err), 0);

	ck_assert_int_eq(store_allow_ip_add(st, "innovaphone.com", STORE_FAMILY_H323, "10.0.0.0/8",
					    &err), 0);
	ck_assert_int_eq(store_allow_ip_add(st, "innovaphone.com", STORE_FAMILY_H323, "10.0.0.0/8",
					    &err), PBX_E_EXISTS);
	ck_assert_int_eq(store_allow_ip_add(st, "innovaphone.com", STORE_FAMILY_H323, "10.0.0.1/8",
					    &err), PBX_E_INVALID);
	ck_assert_int_eq(store_allow_ip_del(st, "innovaphone.com", STORE_FAMILY_SIP, "10.0.0.0/8",
					    &err), PBX_E_NOTFOUND);
	ck_assert_int_eq(store_allow_url_add(st, "innovaphone.com", "/PBX0/MY", &err), 0);
	ck_assert_int_eq(store_allow_url_add(st, "innovaphone.com", "PBX0", &err), PBX_E_INVALID);
	ck_assert_int_eq(store_allow_url_add(st, "innovaphone.com", "/a b", &err), PBX_E_INVALID);
	ck_assert_int_eq(store_allow_url_del(st, "innovaphone.com", "/PBX0/MY", &err), 0);
	ck_assert_int_eq(store_allow_url_del(st, "innovaphone.com", "/PBX0/MY", &err),
			 PBX_E_NOTFOUND);
	ck_assert_int_eq(store_target_del(st, "innovaphone.com", STORE_FAMILY_SIP, &err),
			 PBX_E_NOTFOUND);
	ck_assert_int_eq(store_target_del(st, "innovaphone.com", STORE_FAMILY_LDAP, &err), 0);

	/* Deleting the name takes its targets and limits with it. */
	ck_assert_int_eq(store_name_del(st, "innovaphone.com", &err), 0);
	ck_assert_int_eq(store_name_del(st, "innovaphone.com", &err), PBX_E_NOTFOUND);
	sqlite3 *db;
	sqlite3_stmt *stmt;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM target) + (SELECT count(*) FROM "
			   "allow_ip) + (SELECT count(*) FROM allow_url)", -1, &stmt, NULL);
	ck_assert_int_eq(sqlite3_step(stmt), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(stmt, 0), 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	store_close(st);
}
END_TEST

START_TEST(test_store_access_add_del_promote)
{
	struct store *st = open_new();
	struct pbx_err err;
	int64_t now = store_now();
	ck_assert_int_eq(store_access_add(st, STORE_BLACKLIST, "192.0.2.1", now + 60, true,
					  "too many 401", &err), 0);
	ck_assert_int_eq(store_access_add(st, STORE_BLACKLIST, "192.0.2.0/24", 0, false, "", &err), 0);
	ck_assert_int_eq(store_access_add(st, STORE_BLACKLIST, "192.0.2.1/24", 0, false, "", &err),
			 PBX_E_INVALID);
	ck_assert_int_eq(store_access_add(st, STORE_BLACKLIST, "198.51.100.1", now - 1, false, "",
					  &err), PBX_E_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "past"));
	ck_assert_int_eq(store_access_add(st, STORE_BLACKLIST, "198.51.100.1", 0, false, "a\nb",
					  &err), PBX_E_INVALID);

	/* A manual entry is not downgraded by an automatic one. */
	ck_assert_int_eq(store_access_add(st, STORE_BLACKLIST, "203.0.113.5", 0, false, "manual",
					  &err), 0);
	ck_assert_int_eq(store_access_add(st, STORE_BLACKLIST, "203.0.113.5", now + 60, true,
					  "auto", &err), 0);
	struct store_snapshot *snap;
	ck_assert_int_eq(store_snapshot_load(st, &snap, &err), 0);
	struct pbx_addr a;
	pbx_addr_parse(pbx_span_cstr("203.0.113.5"), 1, 0, &a, NULL);
	ck_assert(store_snapshot_blacklisted(snap, &a, now + 3600));
	store_snapshot_unref(snap);

	/* Whitelist: duplicates refused; a fully covered blacklist entry too. */
	ck_assert_int_eq(store_access_add(st, STORE_WHITELIST, "10.0.0.0/8", 0, false, "lan", &err), 0);
	ck_assert_int_eq(store_access_add(st, STORE_WHITELIST, "10.0.0.0/8", 0, false, "", &err),
			 PBX_E_EXISTS);
	ck_assert_int_eq(store_access_add(st, STORE_BLACKLIST, "10.1.2.3", 0, false, "", &err),
			 PBX_E_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "whitelisted"));
	/* A wider blacklist entry with a whitelisted hole is allowed. */
	ck_assert_int_eq(store_access_add(st, STORE_BLACKLIST, "0.0.0.0/0", 0, false, "", &err), 0);

	ck_assert_int_eq(store_blacklist_promote(st, "192.0.2.1", &err), 0);
	ck_assert_int_eq(store_blacklist_promote(st, "192.0.2.1", &err), PBX_E_NOTFOUND);
	/* An entry that has expired (but was not pruned yet) is not promoted. */
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO blacklist (network, origin, created, expires) "
				      "VALUES ('192.0.2.200', 'auto', 0, 1)", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_eq(store_blacklist_promote(st, "192.0.2.200", &err), PBX_E_NOTFOUND);
	ck_assert_int_eq(store_access_del(st, STORE_WHITELIST, "192.0.2.1", &err), 0);
	ck_assert_int_eq(store_access_del(st, STORE_WHITELIST, "192.0.2.1", &err), PBX_E_NOTFOUND);
	ck_assert_int_eq(store_access_del(st, STORE_BLACKLIST, "192.0.2.0/24", &err), 0);
	ck_assert_int_eq(store_access_del(st, STORE_BLACKLIST, "not-an-address", &err),
			 PBX_E_INVALID);
	store_close(st);
}
END_TEST

START_TEST(test_store_blacklist_prune)
{
	struct store *st = open_new();
	struct pbx_err err;
	int64_t now = store_now();
	int removed = -1;
	ck_assert_int_eq(store_access_add(st, STORE_BLACKLIST, "192.0.2.1", now + 10, true, "",
					  &err), 0);
	ck_assert_int_eq(store_access_add(st, STORE_BLACKLIST, "192.0.2.2", 0, false, "", &err), 0);
	ck_assert_int_eq(store_blacklist_prune(st, now, &removed, &err), 0);
	ck_assert_int_eq(removed, 0);
	ck_assert_int_eq(store_blacklist_prune(st, now + 10, &removed, &err), 0);
	ck_assert_int_eq(removed, 1);
	struct store_snapshot *snap;
	ck_assert_int_eq(store_snapshot_load(st, &snap, &err), 0);
	ck_assert_uint_eq(store_snapshot_access_count(snap, STORE_BLACKLIST), 1);
	store_snapshot_unref(snap);
	store_close(st);
}
END_TEST

/* Expiry is a timestamp: an entry committed before a "restart" (a new
 * handle) is still there and still expires at its time. */
START_TEST(test_store_blacklist_survives_reopen)
{
	struct store *st = open_new();
	struct pbx_err err;
	int64_t now = store_now();
	ck_assert_int_eq(store_access_add(st, STORE_BLACKLIST, "2001:db8::7", now + 120, true,
					  "brute force", &err), 0);
	store_close(st);
	st = open_new();
	struct store_snapshot *snap;
	ck_assert_int_eq(store_snapshot_load(st, &snap, &err), 0);
	struct pbx_addr a;
	pbx_addr_parse(pbx_span_cstr("2001:db8::7"), 1, 0, &a, NULL);
	ck_assert(store_snapshot_blacklisted(snap, &a, now + 119));
	ck_assert(!store_snapshot_blacklisted(snap, &a, now + 120));
	store_snapshot_unref(snap);
	store_close(st);
}
END_TEST

START_TEST(test_store_poll_sees_config_changes_only)
{
	struct store *reader = open_new(), *writer = open_new();
	struct pbx_err err;
	struct store_snapshot *snap;
	bool changed = true;
	ck_assert_int_eq(store_snapshot_load(reader, &snap, &err), 0);
	store_snapshot_unref(snap);
	ck_assert_int_eq(store_poll(reader, &changed, &err), 0);
	ck_assert(!changed);

	ck_assert_int_eq(store_name_add(writer, "example.com", &err), 0);
	ck_assert_int_eq(store_poll(reader, &changed, &err), 0);
	ck_assert(changed);
	ck_assert_int_eq(store_poll(reader, &changed, &err), 0);
	ck_assert(!changed);

	/* Status and counters are not configuration. */
	struct store_writer *w;
	ck_assert_int_eq(store_writer_start(path, "testd", &w, &err), 0);
	store_writer_counter(w, "x", 5);
	store_writer_state(w, "running", "");
	store_writer_stop(w);
	ck_assert_int_eq(store_poll(reader, &changed, &err), 0);
	ck_assert(!changed);

	/* A setting written with the same value changes nothing either. */
	ck_assert_int_eq(store_setting_set(writer, "natd.interval-s", "60", &err), 0);
	ck_assert_int_eq(store_poll(reader, &changed, &err), 0);
	ck_assert(changed);
	ck_assert_int_eq(store_setting_set(writer, "natd.interval-s", "60", &err), 0);
	ck_assert_int_eq(store_poll(reader, &changed, &err), 0);
	ck_assert(!changed);

	/* Blacklist additions are seen by every daemon. */
	ck_assert_int_eq(store_access_add(writer, STORE_BLACKLIST, "192.0.2.9", 0, true, "", &err), 0);
	ck_assert_int_eq(store_poll(reader, &changed, &err), 0);
	ck_assert(changed);
	store_close(writer);
	store_close(reader);
}
END_TEST

START_TEST(test_store_writer_records_status_events)
{
	struct store *st = open_new();
	struct pbx_err err;
	struct store_writer *w;
	ck_assert_int_eq(store_writer_start(path, "testd", &w, &err), 0);
	struct pbx_addr a;
	pbx_addr_parse(pbx_span_cstr("[::ffff:192.0.2.4]:5060"), 1, 0, &a, NULL);
	store_writer_event(w, &a, "sips", "bad-certificate", "CN mismatch");
	store_writer_counter(w, "connections", 42);
	store_writer_state(w, "running", "all good");
	store_writer_stop(w);

	sqlite3 *db;
	sqlite3_stmt *stmt;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_prepare_v2(db, "SELECT source, service, reason, detail FROM suspicious_event", -1,
			   &stmt, NULL);
	ck_assert_int_eq(sqlite3_step(stmt), SQLITE_ROW);
	/* IPv4-mapped sources are recorded as IPv4. */
	ck_assert_str_eq((const char *)sqlite3_column_text(stmt, 0), "192.0.2.4");
	ck_assert_str_eq((const char *)sqlite3_column_text(stmt, 2), "bad-certificate");
	sqlite3_finalize(stmt);
	sqlite3_prepare_v2(db, "SELECT value FROM counter WHERE daemon = 'testd' AND "
			   "name = 'connections'", -1, &stmt, NULL);
	ck_assert_int_eq(sqlite3_step(stmt), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(stmt, 0), 42);
	sqlite3_finalize(stmt);
	sqlite3_prepare_v2(db, "SELECT state, pid FROM daemon_status WHERE daemon = 'testd'", -1,
			   &stmt, NULL);
	ck_assert_int_eq(sqlite3_step(stmt), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(stmt, 0), "stopped");
	ck_assert_int_eq(sqlite3_column_int(stmt, 1), (int)getpid());
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	store_close(st);
}
END_TEST

START_TEST(test_store_event_log_is_bounded)
{
	store_close(open_new());
	raw_sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10050) "
		"INSERT INTO suspicious_event (at, daemon, source, reason) "
		"SELECT i, 'rpd', '192.0.2.1', 'test' FROM n");
	sqlite3 *db;
	sqlite3_stmt *stmt;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_prepare_v2(db, "SELECT count(*), min(at) FROM suspicious_event", -1, &stmt, NULL);
	ck_assert_int_eq(sqlite3_step(stmt), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(stmt, 0), 10000);
	ck_assert_int_eq(sqlite3_column_int(stmt, 1), 51);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
}
END_TEST

START_TEST(test_store_config_clear_keeps_state)
{
	struct store *st = open_new();
	struct pbx_err err;
	ck_assert_int_eq(store_name_add(st, "example.com", &err), 0);
	ck_assert_int_eq(store_listen_set(st, STORE_PROTO_HTTP, 80, NULL, &err), 0);
	ck_assert_int_eq(store_setting_set(st, "natd.interval-s", "60", &err), 0);
	ck_assert_int_eq(store_access_add(st, STORE_BLACKLIST, "192.0.2.1", 0, false, "", &err), 0);
	ck_assert_int_eq(store_access_add(st, STORE_BLACKLIST, "192.0.2.2", store_now() + 60, true,
					  "", &err), 0);
	ck_assert_int_eq(store_access_add(st, STORE_WHITELIST, "10.0.0.1", 0, false, "", &err), 0);
	ck_assert_int_eq(store_config_clear(st, &err), 0);
	struct store_snapshot *snap;
	ck_assert_int_eq(store_snapshot_load(st, &snap, &err), 0);
	ck_assert_uint_eq(snap->n_names, 0);
	ck_assert(!snap->listener[STORE_PROTO_HTTP].on);
	ck_assert_int_eq(snap->setting_int[STORE_SET_NATD_INTERVAL_S], 300);
	ck_assert_uint_eq(store_snapshot_access_count(snap, STORE_WHITELIST), 0);
	/* Only the automatic entry remains. */
	ck_assert_uint_eq(store_snapshot_access_count(snap, STORE_BLACKLIST), 1);
	struct pbx_addr a;
	pbx_addr_parse(pbx_span_cstr("192.0.2.2"), 1, 0, &a, NULL);
	ck_assert(store_snapshot_blacklisted(snap, &a, store_now()));
	store_snapshot_unref(snap);
	store_close(st);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_store_open_creates_and_migrates);
	tcase_add_test(tc, test_store_open_missing_without_create);
	tcase_add_test(tc, test_store_open_refuses_newer_schema);
	tcase_add_test(tc, test_store_open_refuses_foreign_database);
	tcase_add_test(tc, test_store_open_refuses_non_database);
	tcase_add_test(tc, test_store_open_readonly_needs_current_schema);
	tcase_add_test(tc, test_store_open_concurrent_fresh);
	tcase_add_test(tc, test_store_setting_set_get_unset);
	tcase_add_test(tc, test_store_setting_validate_refusals);
	tcase_add_test(tc, test_store_setting_validate_stun_servers);
	tcase_add_test(tc, test_store_setting_validate_addrport);
	tcase_add_test(tc, test_store_setting_table_bounds);
	tcase_add_test(tc, test_store_listen_set_off);
	tcase_add_test(tc, test_store_name_validate);
	tcase_add_test(tc, test_store_name_target_acl);
	tcase_add_test(tc, test_store_access_add_del_promote);
	tcase_add_test(tc, test_store_blacklist_prune);
	tcase_add_test(tc, test_store_blacklist_survives_reopen);
	tcase_add_test(tc, test_store_poll_sees_config_changes_only);
	tcase_add_test(tc, test_store_writer_records_status_events);
	tcase_add_test(tc, test_store_event_log_is_bounded);
	tcase_add_test(tc, test_store_config_clear_keeps_state);
	tcase_add_test(tc, test_store_ice_test_per_mode);
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
