/* open.c - opening the store: busy timeout first, WAL with a bounded retry,
 * migrations inside BEGIN IMMEDIATE; transactions and change polling. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

int store_sql_err(struct store *st, struct pbx_err *err, const char *what)
{
	int ext = sqlite3_extended_errcode(st->db);
	int prim = ext & 0xff;
	int code = (prim == SQLITE_BUSY || prim == SQLITE_LOCKED) ? PBX_E_BUSY : PBX_E_STORE;
	if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)
		return pbx_err_set(err, code, "%s: store %s is locked by another process "
				   "(waited up to %d ms)",
				   what, st->path, STORE_BUSY_TIMEOUT_MS);
	return pbx_err_set(err, code, "%s: %s (store %s)", what, sqlite3_errmsg(st->db),
			   st->path);
}

int store_exec(struct store *st, const char *sql, struct pbx_err *err)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_sql_err(st, err, "SQL");
	return 0;
}

int store_prepare(struct store *st, const char *sql, sqlite3_stmt **stmt,
		  struct pbx_err *err)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL) != SQLITE_OK) {
		*stmt = NULL;
		return store_sql_err(st, err, "prepare");
	}
	return 0;
}

int store_step_done(struct store *st, sqlite3_stmt *stmt, struct pbx_err *err,
		    const char *what)
{
	int rc = sqlite3_step(stmt);
	int ret = 0;
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = store_sql_err(st, err, what);
	sqlite3_finalize(stmt);
	return ret;
}

int store_tx_begin(struct store *st, struct store_tx *tx, struct pbx_err *err)
{
	tx->own = sqlite3_get_autocommit(st->db) != 0;
	return store_exec(st, tx->own ? "BEGIN IMMEDIATE" : "SAVEPOINT op", err);
}

int store_tx_end(struct store *st, struct store_tx *tx, int rc, struct pbx_err *err)
{
	if (rc == 0) {
		int c = store_exec(st, tx->own ? "COMMIT" : "RELEASE op", err);
		if (c == 0)
			return 0;
		rc = c;
	}
	if (tx->own)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	else
		sqlite3_exec(st->db, "ROLLBACK TO op; RELEASE op", NULL, NULL, NULL);
	return rc;
}

int store_begin(struct store *st, struct pbx_err *err)
{
	return store_exec(st, "BEGIN IMMEDIATE", err);
}

int store_commit(struct store *st, struct pbx_err *err)
{
	return store_exec(st, "COMMIT", err);
}

void store_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

static int pragma_int(struct store *st, const char *sql, int64_t *v, struct pbx_err *err)
{
	sqlite3_stmt *stmt;
	int rc = store_prepare(st, sql, &stmt, err);
	if (rc)
		return rc;
	int s = sqlite3_step(stmt);
	if (s == SQLITE_ROW) {
		*v = sqlite3_column_int64(stmt, 0);
		rc = 0;
	} else {
		rc = store_sql_err(st, err, sql);
	}
	sqlite3_finalize(stmt);
	return rc;
}

int store_schema_version(struct store *st, int *version, struct pbx_err *err)
{
	int64_t v = 0;
	int rc = pragma_int(st, "PRAGMA user_version", &v, err);
	*version = (int)v;
	return rc;
}

int store_schema_latest(void)
{
	return store_migration_count;
}

/* A fresh database switched to WAL by several processes at once answers
 * SQLITE_BUSY immediately, without consulting the busy handler; retry
 * with a short, bounded back-off (about 5 s in all). */
static int set_wal(struct store *st, struct pbx_err *err)
{
	for (int attempt = 0;; attempt++) {
		sqlite3_stmt *stmt;
		if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode=WAL", -1, &stmt, NULL) ==
		    SQLITE_OK) {
			int s = sqlite3_step(stmt);
			if (s == SQLITE_ROW) {
				const char *mode = (const char *)sqlite3_column_text(stmt, 0);
				bool wal = mode && strcmp(mode, "wal") == 0;
				sqlite3_finalize(stmt);
				if (wal)
					return 0;
				return pbx_err_set(err, PBX_E_STORE,
						   "store %s: cannot switch to WAL mode (got '%s')",
						   st->path, mode ? mode : "?");
			}
			sqlite3_finalize(stmt);
		}
		int prim = sqlite3_errcode(st->db) & 0xff;
		if ((prim != SQLITE_BUSY && prim != SQLITE_LOCKED) || attempt >= 100)
			return store_sql_err(st, err, "switching to WAL");
		struct timespec ts = { 0, (10 + (attempt % 5) * 10) * 1000000L };
		nanosleep(&ts, NULL);
	}
}

static int migrate(struct store *st, int flags, struct pbx_err *err)
{
	int v, latest = store_schema_latest();
	int rc = store_schema_version(st, &v, err);
	if (rc)
		return rc;
	if (v > latest)
		goto newer;
	if (v == latest)
		return 0;
	if (!(flags & STORE_MIGRATE))
		return pbx_err_set(err, PBX_E_INVALID,
				   "store %s has schema version %d, older than this pbxedge's %d; "
				   "'rpctl init' migrates it", st->path, v, latest);
	if ((rc = store_exec(st, "BEGIN IMMEDIATE", err)))
		return rc;
	/* Another process may have migrated while we waited for the lock. */
	if ((rc = store_schema_version(st, &v, err)))
		goto fail;
	if (v > latest) {
		store_rollback(st);
		goto newer;
	}
	if (v == 0) {
		int64_t n = 0;
		if ((rc = pragma_int(st, "SELECT count(*) FROM sqlite_schema", &n, err)))
			goto fail;
		if (n) {
			rc = pbx_err_set(err, PBX_E_INVALID,
					 "%s is an SQLite database but not a pbxedge store", st->path);
			goto fail;
		}
	}
	for (int i = v; i < latest; i++) {
		if (sqlite3_exec(st->db, store_migrations[i].sql, NULL, NULL, NULL) != SQLITE_OK) {
			char what[128];
			snprintf(what, sizeof what, "migration %s", store_migrations[i].name);
			rc = store_sql_err(st, err, what);
			goto fail;
		}
	}
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", latest);
	if ((rc = store_exec(st, sql, err)))
		goto fail;
	return store_exec(st, "COMMIT", err);
fail:
	store_rollback(st);
	return rc;
newer:
	return pbx_err_set(err, PBX_E_SCHEMA_NEWER,
			   "store %s has schema version %d, newer than this pbxedge understands "
			   "(%d); upgrade pbxedge or use another store", st->path, v, latest);
}

int store_open(const char *path, int flags, struct store **out, struct pbx_err *err)
{
	*out = NULL;
	if (!path || !*path)
		return pbx_err_set(err, PBX_E_INVALID, "no store path given");
	struct store *st = calloc(1, sizeof *st);
	if (!st || !(st->path = strdup(path))) {
		free(st);
		return pbx_err_set(err, -ENOMEM, "out of memory");
	}
	st->readonly = flags & STORE_READONLY;
	st->data_version = -1;
	st->generation = -1;

	int oflags = st->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
	if ((flags & STORE_CREATE) && !st->readonly)
		oflags |= SQLITE_OPEN_CREATE;
	struct stat sb;
	int rc;
	if (!(oflags & SQLITE_OPEN_CREATE) && stat(path, &sb) != 0) {
		rc = pbx_err_set(err, PBX_E_NOTFOUND, "no store at %s ('rpctl init' creates one)",
				 path);
		goto fail;
	}
	if (sqlite3_open_v2(path, &st->db, oflags | SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK) {
		rc = pbx_err_set(err, PBX_E_STORE, "cannot open store %s: %s", path,
				 st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto fail;
	}
	/* The busy timeout must be in place before the first statement. */
	sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(st->db, 1);

	if (!st->readonly && (rc = set_wal(st, err)))
		goto fail;
	/* FULL: a committed blacklist entry survives a power cut too. */
	if ((rc = store_exec(st, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL", err)))
		goto fail;
	/* Read-only handles never migrate: they need the current schema. */
	if ((rc = migrate(st, st->readonly ? 0 : flags, err)))
		goto fail;
	*out = st;
	return 0;
fail:
	store_close(st);
	return rc;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	if (st->db)
		sqlite3_close_v2(st->db);
	free(st->path);
	free(st);
}

const char *store_path(const struct store *st)
{
	return st->path;
}

int store_poll(struct store *st, bool *changed, struct pbx_err *err)
{
	int64_t dv = 0, gen = 0;
	*changed = false;
	int rc = pragma_int(st, "PRAGMA data_version", &dv, err);
	if (rc)
		return rc;
	if (dv == st->data_version)
		return 0;
	st->data_version = dv;
	rc = pragma_int(st, "SELECT value FROM meta WHERE key = 'config_generation'", &gen, err);
	if (rc)
		return rc;
	if (gen != st->generation) {
		st->generation = gen;
		*changed = true;
	}
	return 0;
}

int64_t store_now(void)
{
	return (int64_t)time(NULL);
}
