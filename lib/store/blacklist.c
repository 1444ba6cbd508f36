/* blacklist.c - blacklist and whitelist entries in the store: add,
 * delete, promote, prune.  Expiry is a stored timestamp, so it survives
 * restarts; the whitelist always wins. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const char *table_of(enum store_list_kind list)
{
	return list == STORE_BLACKLIST ? "blacklist" : "whitelist";
}

static int check_reason(const char *reason, struct pbx_err *err)
{
	size_t n = strlen(reason);
	if (n > 200)
		return pbx_err_set(err, PBX_E_INVALID, "reason longer than 200 characters");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)reason[i] < 0x20 || reason[i] == 0x7f)
			return pbx_err_set(err, PBX_E_INVALID,
					   "reason holds a control character");
	return 0;
}

/* Is all of net covered by one whitelist entry (so that a blacklist entry
 * for it could never take effect)?  The whitelist is short, so it is read
 * and matched here rather than in SQL. */
static int whitelist_covers(struct store *st, const struct pbx_cidr *net, char *hit,
			    size_t n, bool *covered, struct pbx_err *err)
{
	sqlite3_stmt *stmt;
	*covered = false;
	int rc = store_prepare(st, "SELECT network FROM whitelist", &stmt, err);
	if (rc)
		return rc;
	int step;
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(stmt, 0);
		struct pbx_cidr w;
		if (!text || pbx_cidr_parse(pbx_span_cstr(text), &w, NULL))
			continue;
		if (w.prefix <= net->prefix && pbx_cidr_overlaps(&w, net)) {
			*covered = true;
			snprintf(hit, n, "%s", text);
			break;
		}
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = store_sql_err(st, err, "whitelist");
	sqlite3_finalize(stmt);
	return rc;
}

int store_access_add(struct store *st, enum store_list_kind list, const char *cidr,
		     int64_t expires, bool automatic, const char *reason,
		     struct pbx_err *err)
{
	char canon[PBX_CIDRSTRLEN];
	struct pbx_cidr net;
	int rc = pbx_cidr_parse(pbx_span_cstr(cidr), &net, err);
	if (rc || (rc = check_reason(reason ? reason : "", err)))
		return rc;
	pbx_cidr_format(&net, canon, sizeof canon);
	int64_t now = store_now();
	if (list == STORE_BLACKLIST && expires && expires <= now)
		return pbx_err_set(err, PBX_E_INVALID, "the expiry time is in the past");

	struct store_tx tx;
	sqlite3_stmt *stmt;
	if ((rc = store_tx_begin(st, &tx, err)))
		return rc;
	if (list == STORE_BLACKLIST) {
		char hit[PBX_CIDRSTRLEN];
		bool covered;
		if ((rc = whitelist_covers(st, &net, hit, sizeof hit, &covered, err)))
			goto out;
		if (covered) {
			rc = pbx_err_set(err, PBX_E_INVALID,
					 "%s is whitelisted (entry %s): delete the whitelist "
					 "entry first", canon, hit);
			goto out;
		}
		/* A re-add replaces the entry, but an automatic entry never
		 * overrides a manual one. */
		rc = store_prepare(st,
				   "INSERT INTO blacklist (network, origin, reason, created, expires) "
				   "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (network) DO UPDATE SET "
				   "origin = excluded.origin, reason = excluded.reason, "
				   "expires = excluded.expires "
				   "WHERE blacklist.origin = 'auto' OR excluded.origin = 'manual'",
				   &stmt, err);
		if (rc)
			goto out;
		sqlite3_bind_text(stmt, 2, automatic ? "auto" : "manual", -1, SQLITE_STATIC);
		if (expires)
			sqlite3_bind_int64(stmt, 5, expires);
	} else {
		rc = store_prepare(st,
				   "INSERT OR IGNORE INTO whitelist (network, origin, reason, created) "
				   "VALUES (?1, 'manual', ?3, ?4)", &stmt, err);
		if (rc)
			goto out;
	}
	sqlite3_bind_text(stmt, 1, canon, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 3, reason ? reason : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 4, now);
	rc = store_step_done(st, stmt, err, table_of(list));
	if (rc == 0 && list == STORE_WHITELIST && sqlite3_changes(st->db) == 0)
		rc = pbx_err_set(err, PBX_E_EXISTS, "%s is already on the whitelist", canon);
out:
	return store_tx_end(st, &tx, rc, err);
}

int store_access_del(struct store *st, enum store_list_kind list, const char *cidr,
		     struct pbx_err *err)
{
	char canon[PBX_CIDRSTRLEN], sql[64];
	int rc = store_cidr_canon(cidr, canon, sizeof canon, err);
	if (rc)
		return rc;
	snprintf(sql, sizeof sql, "DELETE FROM %s WHERE network = ?1", table_of(list));
	struct store_tx tx;
	sqlite3_stmt *stmt;
	if ((rc = store_tx_begin(st, &tx, err)))
		return rc;
	if ((rc = store_prepare(st, sql, &stmt, err)) == 0) {
		sqlite3_bind_text(stmt, 1, canon, -1, SQLITE_TRANSIENT);
		rc = store_step_done(st, stmt, err, "delete");
		if (rc == 0 && sqlite3_changes(st->db) == 0)
			rc = pbx_err_set(err, PBX_E_NOTFOUND, "%s is not on the %s", canon,
					 table_of(list));
	}
	return store_tx_end(st, &tx, rc, err);
}

int store_blacklist_promote(struct store *st, const char *cidr, struct pbx_err *err)
{
	char canon[PBX_CIDRSTRLEN];
	int rc = store_cidr_canon(cidr, canon, sizeof canon, err);
	if (rc)
		return rc;
	struct store_tx tx;
	sqlite3_stmt *stmt;
	if ((rc = store_tx_begin(st, &tx, err)))
		return rc;
	rc = store_prepare(st,
			   "INSERT INTO whitelist (network, origin, reason, created) "
			   "SELECT network, 'promoted', reason, ?2 FROM blacklist WHERE network = ?1 "
			   "AND (expires IS NULL OR expires > ?2) ON CONFLICT (network) DO NOTHING",
			   &stmt, err);
	if (rc)
		goto out;
	sqlite3_bind_text(stmt, 1, canon, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, store_now());
	if ((rc = store_step_done(st, stmt, err, "promote")))
		goto out;
	if ((rc = store_prepare(st, "DELETE FROM blacklist WHERE network = ?1 "
				"AND (expires IS NULL OR expires > ?2)", &stmt, err)))
		goto out;
	sqlite3_bind_text(stmt, 1, canon, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, store_now());
	rc = store_step_done(st, stmt, err, "promote");
	if (rc == 0 && sqlite3_changes(st->db) == 0)
		rc = pbx_err_set(err, PBX_E_NOTFOUND, "%s is not on the blacklist", canon);
out:
	return store_tx_end(st, &tx, rc, err);
}

int store_blacklist_prune(struct store *st, int64_t now, int *removed, struct pbx_err *err)
{
	struct store_tx tx;
	sqlite3_stmt *stmt;
	int rc = store_tx_begin(st, &tx, err);
	if (rc)
		return rc;
	rc = store_prepare(st, "DELETE FROM blacklist WHERE expires IS NOT NULL AND expires <= ?1",
			   &stmt, err);
	if (rc == 0) {
		sqlite3_bind_int64(stmt, 1, now);
		rc = store_step_done(st, stmt, err, "prune");
	}
	if (removed)
		*removed = rc ? 0 : sqlite3_changes(st->db);
	return store_tx_end(st, &tx, rc, err);
}
