/* ice.c - the last result of rpctl ice-test servers (ice_test), for
 * rpctl status.  State, not configuration: no generation bump. */
#include "internal.h"

int store_ice_test_save(struct store *st, const struct store_ice_test_row *r,
			struct pbx_err *err)
{
	sqlite3_stmt *stmt;
	int rc = store_prepare(st,
			       "INSERT OR REPLACE INTO ice_test (id, at, result, code, reason, "
			       "servers, candidates) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)",
			       &stmt, err);
	if (rc)
		return rc;
	sqlite3_bind_int64(stmt, 1, r->at);
	sqlite3_bind_text(stmt, 2, r->result, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 3, r->code, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 4, r->reason, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 5, r->servers);
	sqlite3_bind_int64(stmt, 6, r->candidates);
	return store_step_done(st, stmt, err, "ice test");
}
