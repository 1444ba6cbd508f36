/* nat.c - natd's results in the store: the latest verdict per logical
 * server (nat_result), the verdicts that changed (nat_history), the
 * external address other daemons advertise, and the probe requests rpctl
 * makes (nat_probe).  None of it is configuration: no generation bump. */
#include <string.h>

#include "internal.h"

/* Append row i to the history unless nat_result already holds the same
 * verdict for it; *changed says which. */
static int history(struct store *st, int64_t i, const struct store_nat_row *r, int64_t at,
		   bool *changed, struct pbx_err *err)
{
	sqlite3_stmt *stmt;
	int rc = store_prepare(st,
			       "INSERT INTO nat_history (at, server_index, server, external, "
			       "mapping, filtering, hairpin, classic) "
			       "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE NOT EXISTS ("
			       "SELECT 1 FROM nat_result WHERE server_index = ?2 AND server = ?3 "
			       "AND external IS ?4 AND mapping = ?5 AND filtering = ?6 "
			       "AND hairpin = ?7 AND classic = ?8)",
			       &stmt, err);
	if (rc)
		return rc;
	sqlite3_bind_int64(stmt, 1, at);
	sqlite3_bind_int64(stmt, 2, i);
	sqlite3_bind_text(stmt, 3, r->server, -1, SQLITE_TRANSIENT);
	if (r->external && r->external[0])
		sqlite3_bind_text(stmt, 4, r->external, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(stmt, 4);
	sqlite3_bind_text(stmt, 5, r->mapping, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 6, r->filtering, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 7, r->hairpin, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 8, r->classic, -1, SQLITE_TRANSIENT);
	rc = store_step_done(st, stmt, err, "nat history");
	if (rc == 0 && changed)
		*changed = sqlite3_changes(st->db) > 0;
	return rc;
}

static int result(struct store *st, int64_t i, const struct store_nat_row *r, int64_t at,
		  struct pbx_err *err)
{
	sqlite3_stmt *stmt;
	int rc = store_prepare(st,
			       "INSERT OR REPLACE INTO nat_result (server_index, server, at, "
			       "external, mapping, filtering, hairpin, classic, evidence) "
			       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
			       &stmt, err);
	if (rc)
		return rc;
	sqlite3_bind_int64(stmt, 1, i);
	sqlite3_bind_text(stmt, 2, r->server, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 3, at);
	if (r->external && r->external[0])
		sqlite3_bind_text(stmt, 4, r->external, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(stmt, 4);
	sqlite3_bind_text(stmt, 5, r->mapping, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 6, r->filtering, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 7, r->hairpin, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 8, r->classic, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 9, r->evidence ? r->evidence : "{}", -1, SQLITE_TRANSIENT);
	return store_step_done(st, stmt, err, "nat result");
}

int store_nat_save(struct store *st, const struct store_nat_row *rows, size_t n, int64_t at,
		   bool *changed, struct pbx_err *err)
{
	struct store_tx tx;
	sqlite3_stmt *stmt;
	int rc = store_tx_begin(st, &tx, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = history(st, (int64_t)i, &rows[i], at, changed ? &changed[i] : NULL, err);
		if (rc == 0)
			rc = result(st, (int64_t)i, &rows[i], at, err);
	}
	/* Logical servers no longer configured have no latest verdict. */
	if (rc == 0 && (rc = store_prepare(st, "DELETE FROM nat_result WHERE server_index >= ?1",
					   &stmt, err)) == 0) {
		sqlite3_bind_int64(stmt, 1, (int64_t)n);
		rc = store_step_done(st, stmt, err, "nat result");
	}
	return store_tx_end(st, &tx, rc, err);
}

int store_nat_external(struct store *st, char *buf, size_t len, struct pbx_err *err)
{
	sqlite3_stmt *stmt;
	if (len == 0)
		return pbx_err_set(err, PBX_E_NOSPACE, "no room for an address");
	buf[0] = '\0';
	int rc = store_prepare(st, "SELECT external FROM nat_result WHERE server_index = 0 "
				   "AND external IS NOT NULL", &stmt, err);
	if (rc)
		return rc;
	int step = sqlite3_step(stmt);
	if (step == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(stmt, 0);
		if (!text || strlen(text) >= len)
			rc = pbx_err_set(err, PBX_E_NOSPACE, "the external address does not fit");
		else
			memcpy(buf, text, strlen(text) + 1);
	} else if (step == SQLITE_DONE) {
		rc = pbx_err_set(err, PBX_E_NOTFOUND, "natd has found no external address yet");
	} else {
		rc = store_sql_err(st, err, "nat external");
	}
	sqlite3_finalize(stmt);
	return rc;
}

int store_nat_probe_request(struct store *st, int64_t *id, struct pbx_err *err)
{
	sqlite3_stmt *stmt;
	int rc = store_prepare(st, "INSERT INTO nat_probe (requested) VALUES (?1)", &stmt, err);
	if (rc)
		return rc;
	sqlite3_bind_int64(stmt, 1, store_now());
	if ((rc = store_step_done(st, stmt, err, "nat probe")) == 0)
		*id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

/* One integer from a query with one integer parameter; *v is 0 for no row
 * or NULL. */
static int one_int(struct store *st, const char *sql, int64_t p, int64_t *v,
		   struct pbx_err *err)
{
	sqlite3_stmt *stmt;
	*v = 0;
	int rc = store_prepare(st, sql, &stmt, err);
	if (rc)
		return rc;
	sqlite3_bind_int64(stmt, 1, p);
	int step = sqlite3_step(stmt);
	if (step == SQLITE_ROW)
		*v = sqlite3_column_int64(stmt, 0);
	else if (step != SQLITE_DONE)
		rc = store_sql_err(st, err, "nat probe");
	sqlite3_finalize(stmt);
	return rc;
}

int store_nat_probe_done(struct store *st, int64_t id, int64_t *done, struct pbx_err *err)
{
	return one_int(st, "SELECT done FROM nat_probe WHERE id = ?1", id, done, err);
}

int store_nat_probe_pending(struct store *st, int64_t *last, struct pbx_err *err)
{
	return one_int(st, "SELECT max(id) FROM nat_probe WHERE done IS NULL AND ?1 = ?1", 0,
		       last, err);
}

int store_nat_probe_finish(struct store *st, int64_t last, struct pbx_err *err)
{
	sqlite3_stmt *stmt;
	int rc = store_prepare(st, "UPDATE nat_probe SET done = ?2 WHERE done IS NULL AND id <= ?1",
			       &stmt, err);
	if (rc)
		return rc;
	sqlite3_bind_int64(stmt, 1, last);
	sqlite3_bind_int64(stmt, 2, store_now());
	if ((rc = store_step_done(st, stmt, err, "nat probe")) == 0) {
		/* Answered requests are kept for a day, then dropped. */
		rc = store_prepare(st, "DELETE FROM nat_probe WHERE done IS NOT NULL AND done < ?1",
				   &stmt, err);
		if (rc == 0) {
			sqlite3_bind_int64(stmt, 1, store_now() - 86400);
			rc = store_step_done(st, stmt, err, "nat probe");
		}
	}
	return rc;
}
