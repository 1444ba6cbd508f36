/* internal.h - helpers shared by the files of lib/store (not installed). */
#ifndef PBX_STORE_INTERNAL_H
#define PBX_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <pbxedge/err.h>
#include <pbxedge/store.h>

struct store_migration {
	int version;
	const char *name;
	const char *sql;
};

/* Generated from schema/NNNN_*.sql by schema/embed.py. */
extern const struct store_migration store_migrations[];
extern const int store_migration_count;

struct store {
	sqlite3 *db;
	char *path;
	bool readonly;
	int64_t data_version;  /* last PRAGMA data_version seen, -1 unknown */
	int64_t generation;    /* last meta.config_generation seen, -1 unknown */
};

/* An operation's transaction: a BEGIN IMMEDIATE of its own when none is
 * open, a savepoint inside a caller's transaction (an import).  Writers
 * always take the write lock first, so SQLite's busy handler applies
 * (a deferred read-then-write transaction gets SQLITE_BUSY at once). */
struct store_tx {
	bool own;
};

int store_tx_begin(struct store *st, struct store_tx *tx, struct pbx_err *err);
/* Commit (rc == 0) or roll back; returns rc, or the commit's error. */
int store_tx_end(struct store *st, struct store_tx *tx, int rc, struct pbx_err *err);

/* Record the connection's last error in err; returns PBX_E_STORE, or
 * PBX_E_BUSY when the database stayed locked. */
int store_sql_err(struct store *st, struct pbx_err *err, const char *what);

/* Run SQL without results. */
int store_exec(struct store *st, const char *sql, struct pbx_err *err);

/* Prepare a statement; on failure err is set. */
int store_prepare(struct store *st, const char *sql, sqlite3_stmt **stmt,
		  struct pbx_err *err);

/* Step a statement that returns no rows, then finalize it. */
int store_step_done(struct store *st, sqlite3_stmt *stmt, struct pbx_err *err,
		    const char *what);

/* The id of a service name (case-insensitive), or PBX_E_NOTFOUND. */
int store_name_id(struct store *st, const char *name, int64_t *id, struct pbx_err *err);

/* A target or server host: an IP address (IPv6 without brackets) or a DNS
 * name (letters, digits, '-' and '_' in dot-separated labels of 1-63). */
int store_host_validate(struct pbx_span host, struct pbx_err *err);

/* Canonical CIDR text of a host or network. */
int store_cidr_canon(const char *text, char *out, size_t n, struct pbx_err *err);

#endif
