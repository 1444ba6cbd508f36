/* query.c - read-only listings of the store for rpctl and export, each a
 * fixed query with stable column names and order. */
#include <stdlib.h>

#include "internal.h"

static const char *const queries[] = {
	[STORE_Q_LISTENERS] =
		"SELECT proto, port, addr FROM listener ORDER BY CASE proto "
		"WHEN 'http' THEN 0 WHEN 'https' THEN 1 WHEN 'sip' THEN 2 WHEN 'sips' THEN 3 "
		"WHEN 'h323' THEN 4 WHEN 'h323s' THEN 5 WHEN 'ldap' THEN 6 ELSE 7 END",
	[STORE_Q_NAMES] =
		"SELECT n.name, "
		"(SELECT count(*) FROM target t WHERE t.name_id = n.id) AS targets, "
		"(SELECT count(*) FROM allow_ip a WHERE a.name_id = n.id) AS allow_ip, "
		"(SELECT count(*) FROM allow_url u WHERE u.name_id = n.id) AS allow_url "
		"FROM service_name n WHERE ?1 IS NULL OR n.name = ?1 "
		"ORDER BY n.name COLLATE NOCASE",
	[STORE_Q_TARGETS] =
		"SELECT n.name, t.family, t.host, t.plain_port, t.tls_port, t.check_cert "
		"FROM target t JOIN service_name n ON n.id = t.name_id "
		"WHERE ?1 IS NULL OR n.name = ?1 ORDER BY n.name COLLATE NOCASE, CASE t.family "
		"WHEN 'http' THEN 0 WHEN 'sip' THEN 1 WHEN 'h323' THEN 2 ELSE 3 END",
	[STORE_Q_ALLOW_IP] =
		"SELECT n.name, a.family, a.network FROM allow_ip a "
		"JOIN service_name n ON n.id = a.name_id WHERE ?1 IS NULL OR n.name = ?1 "
		"ORDER BY n.name COLLATE NOCASE, a.family, a.network",
	[STORE_Q_ALLOW_URL] =
		"SELECT n.name, u.url FROM allow_url u JOIN service_name n ON n.id = u.name_id "
		"WHERE ?1 IS NULL OR n.name = ?1 ORDER BY n.name COLLATE NOCASE, u.url",
	[STORE_Q_BLACKLIST] =
		"SELECT network, origin, reason, created, expires, hits FROM blacklist "
		"WHERE expires IS NULL OR expires > ?2 ORDER BY created, network",
	[STORE_Q_WHITELIST] =
		"SELECT network, origin, reason, created, hits FROM whitelist "
		"ORDER BY created, network",
	[STORE_Q_DAEMONS] =
		"SELECT daemon, pid, version, started, heartbeat, state, detail "
		"FROM daemon_status ORDER BY daemon",
	[STORE_Q_COUNTERS] =
		"SELECT daemon, name, value, updated FROM counter ORDER BY daemon, name",
	[STORE_Q_EVENTS] =
		"SELECT at, daemon, source, service, reason, detail FROM suspicious_event "
		"ORDER BY id DESC LIMIT 20",
	[STORE_Q_NAT] =
		"SELECT server_index, server, at, external, mapping, filtering, hairpin, "
		"classic, evidence FROM nat_result ORDER BY server_index",
	[STORE_Q_NAT_HISTORY] =
		"SELECT at, server_index, server, external, mapping, filtering, hairpin, classic "
		"FROM nat_history ORDER BY id DESC LIMIT 100",
	[STORE_Q_TURN_ACCOUNTS] =
		"SELECT user, realm, created FROM turn_account ORDER BY user",
	[STORE_Q_TURN_SECRETS] =
		"SELECT id, created FROM turn_secret ORDER BY id",
	[STORE_Q_TURN_KEYS] =
		"SELECT user, realm, lower(hex(key_md5)) AS key_md5, "
		"lower(hex(key_sha256)) AS key_sha256 FROM turn_account ORDER BY user",
	[STORE_Q_TURN_SECRET_TEXT] =
		"SELECT id, secret FROM turn_secret ORDER BY id",
	[STORE_Q_TURN_ALLOCATIONS] =
		"SELECT daemon, user, client, transport, relayed, started, expires, permissions, "
		"channels, bytes_in, bytes_out, packets_in, packets_out, updated "
		"FROM turn_allocation ORDER BY started, id",
	[STORE_Q_REFUSED] =
		"SELECT at, daemon, service, source, reason, offset, excerpt FROM refused_message "
		"ORDER BY service, id DESC",
	[STORE_Q_ICE_TEST] =
		"SELECT mode, at, result, code, reason, servers, candidates, pairs, selected "
		"FROM ice_test ORDER BY mode",
};

#define MAX_COLS 16

int store_query(struct store *st, enum store_query q, const char *filter,
		store_row_fn fn, void *arg, struct pbx_err *err)
{
	if ((unsigned)q >= sizeof queries / sizeof queries[0] || !queries[q])
		return pbx_err_set(err, PBX_E_INVALID, "unknown query");
	sqlite3_stmt *stmt;
	int rc = store_prepare(st, queries[q], &stmt, err);
	if (rc)
		return rc;
	if (sqlite3_bind_parameter_count(stmt) >= 1 && filter)
		sqlite3_bind_text(stmt, 1, filter, -1, SQLITE_TRANSIENT);
	if (sqlite3_bind_parameter_count(stmt) >= 2)
		sqlite3_bind_int64(stmt, 2, store_now());
	int ncols = sqlite3_column_count(stmt);
	if (ncols > MAX_COLS)
		ncols = MAX_COLS;
	struct store_col cols[MAX_COLS];
	int step;
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		for (int i = 0; i < ncols; i++) {
			cols[i].name = sqlite3_column_name(stmt, i);
			cols[i].i = 0;
			cols[i].s = NULL;
			switch (sqlite3_column_type(stmt, i)) {
			case SQLITE_NULL:
				cols[i].type = STORE_COL_NULL;
				break;
			case SQLITE_INTEGER:
				cols[i].type = STORE_COL_INT;
				cols[i].i = sqlite3_column_int64(stmt, i);
				break;
			default:
				cols[i].type = STORE_COL_TEXT;
				cols[i].s = (const char *)sqlite3_column_text(stmt, i);
				break;
			}
		}
		if ((rc = fn(arg, cols, ncols)))
			break;
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = store_sql_err(st, err, "query");
	sqlite3_finalize(stmt);
	return rc;
}
