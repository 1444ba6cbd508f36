/* ice.c - the last result of each mode of rpctl ice-test (ice_test), for
 * rpctl status.  State, not configuration: no generation bump. */
#include <string.h>

#include "internal.h"

int store_ice_test_save(struct store *st, const struct store_ice_test_row *r,
			struct pbx_err *err)
{
	if (!r->mode || (strcmp(r->mode, "servers") && strcmp(r->mode, "loop") &&
			 strcmp(r->mode, "peer")))
		return pbx_err_set(err, PBX_E_INVALID, "ice test mode must be servers, loop or peer");
	sqlite3_stmt *stmt;
	int rc = store_prepare(st,
			       "INSERT OR REPLACE INTO ice_test (mode, at, result, code, reason, "
			       "servers, candidates, pairs, selected) "
			       "VALUES (?7, ?1, ?2, ?3, ?4, ?5, ?6, ?8, ?9)",
			       &stmt, err);
	if (rc)
		return rc;
	sqlite3_bind_int64(stmt, 1, r->at);
	sqlite3_bind_text(stmt, 2, r->result, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 3, r->code, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 4, r->reason, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 5, r->servers);
	sqlite3_bind_int64(stmt, 6, r->candidates);
	sqlite3_bind_text(stmt, 7, r->mode, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 8, r->pairs);
	sqlite3_bind_text(stmt, 9, r->selected ? r->selected : "", -1, SQLITE_TRANSIENT);
	return store_step_done(st, stmt, err, "ice test");
}
