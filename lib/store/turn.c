/* turn.c - TURN accounts (long-term keys derived from the password, RFC
 * 8489 9.2.2; the password is never stored) and shared secrets of the
 * TURN REST convention, kept for turnd and managed by rpctl. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <pbxedge/stun.h>

#include "internal.h"

#define TURN_USER_MAX 255
#define TURN_SECRET_MAX 255

static int text_ok(const char *what, const char *s, size_t max, bool colon_ok,
		   struct pbx_err *err)
{
	size_t n = strlen(s);
	if (n == 0)
		return pbx_err_set(err, PBX_E_INVALID, "empty %s", what);
	if (n > max)
		return pbx_err_set(err, PBX_E_INVALID, "%s longer than %zu characters", what, max);
	if (!stun_integrity_prep_ok(pbx_span_cstr(s)))
		return pbx_err_set(err, PBX_E_INVALID,
				   "%s must be printable ASCII (clients differ in how they "
				   "prepare other characters)", what);
	if (!colon_ok && strchr(s, ':'))
		return pbx_err_set(err, PBX_E_INVALID,
				   "%s must not contain ':' (TURN REST user names are "
				   "EXPIRY:USER)", what);
	return 0;
}

int store_turn_user_key_set(struct store *st, const char *user, const char *realm,
			    const uint8_t key_md5[16], const uint8_t key_sha256[32],
			    struct pbx_err *err)
{
	int rc;
	if ((rc = text_ok("user name", user, TURN_USER_MAX, false, err)) ||
	    (rc = text_ok("realm", realm, STUN_TEXT_MAX, true, err)))
		return rc;
	sqlite3_stmt *stmt;
	struct store_tx tx;
	if ((rc = store_tx_begin(st, &tx, err)))
		return rc;
	rc = store_prepare(st,
			   "INSERT INTO turn_account (user, realm, key_md5, key_sha256, created) "
			   "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (user) DO UPDATE SET "
			   "realm = excluded.realm, key_md5 = excluded.key_md5, "
			   "key_sha256 = excluded.key_sha256",
			   &stmt, err);
	if (rc == 0) {
		sqlite3_bind_text(stmt, 1, user, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(stmt, 2, realm, -1, SQLITE_TRANSIENT);
		sqlite3_bind_blob(stmt, 3, key_md5, 16, SQLITE_TRANSIENT);
		sqlite3_bind_blob(stmt, 4, key_sha256, 32, SQLITE_TRANSIENT);
		sqlite3_bind_int64(stmt, 5, store_now());
		rc = store_step_done(st, stmt, err, "turn user");
	}
	return store_tx_end(st, &tx, rc, err);
}

int store_turn_user_add(struct store *st, const char *user, const char *realm,
			const char *password, struct pbx_err *err)
{
	struct stun_key md5, sha;
	int rc;
	if ((rc = text_ok("user name", user, TURN_USER_MAX, false, err)) ||
	    (rc = text_ok("realm", realm, STUN_TEXT_MAX, true, err)) ||
	    (rc = text_ok("password", password, STUN_TEXT_MAX, true, err)))
		return rc;
	if (stun_integrity_key_long(&md5, STUN_PWALG_MD5, pbx_span_cstr(user),
				    pbx_span_cstr(realm), pbx_span_cstr(password)) ||
	    stun_integrity_key_long(&sha, STUN_PWALG_SHA256, pbx_span_cstr(user),
				    pbx_span_cstr(realm), pbx_span_cstr(password)))
		return pbx_err_set(err, -EIO, "GnuTLS refused to derive the keys (FIPS mode "
				   "forbids MD5, which TURN's long-term credentials need)");
	rc = store_turn_user_key_set(st, user, realm, md5.k, sha.k, err);
	memset(&md5, 0, sizeof md5);
	memset(&sha, 0, sizeof sha);
	return rc;
}

int store_turn_user_del(struct store *st, const char *user, struct pbx_err *err)
{
	sqlite3_stmt *stmt;
	struct store_tx tx;
	int rc;
	if ((rc = store_tx_begin(st, &tx, err)))
		return rc;
	if ((rc = store_prepare(st, "DELETE FROM turn_account WHERE user = ?1", &stmt, err)) == 0) {
		sqlite3_bind_text(stmt, 1, user, -1, SQLITE_TRANSIENT);
		rc = store_step_done(st, stmt, err, "turn user");
		if (rc == 0 && sqlite3_changes(st->db) == 0)
			rc = pbx_err_set(err, PBX_E_NOTFOUND, "no TURN user '%s'", user);
	}
	return store_tx_end(st, &tx, rc, err);
}

int store_turn_secret_add(struct store *st, const char *secret, struct pbx_err *err)
{
	sqlite3_stmt *stmt;
	struct store_tx tx;
	int rc;
	if ((rc = text_ok("secret", secret, TURN_SECRET_MAX, true, err)))
		return rc;
	if ((rc = store_tx_begin(st, &tx, err)))
		return rc;
	rc = store_prepare(st, "INSERT INTO turn_secret (secret, created) VALUES (?1, ?2) "
			   "ON CONFLICT (secret) DO NOTHING", &stmt, err);
	if (rc == 0) {
		sqlite3_bind_text(stmt, 1, secret, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(stmt, 2, store_now());
		rc = store_step_done(st, stmt, err, "turn secret");
		if (rc == 0 && sqlite3_changes(st->db) == 0)
			rc = pbx_err_set(err, PBX_E_EXISTS, "that secret is already active");
	}
	return store_tx_end(st, &tx, rc, err);
}

int store_turn_secret_del(struct store *st, const char *secret_or_id, struct pbx_err *err)
{
	sqlite3_stmt *stmt;
	struct store_tx tx;
	int rc;
	uint32_t id;
	bool by_id = pbx_span_to_u32(pbx_span_cstr(secret_or_id), UINT32_MAX, &id) == 0;
	if ((rc = store_tx_begin(st, &tx, err)))
		return rc;
	/* A number is an id from 'rpctl turn secret list'; a secret that is
	 * all digits is also found by its text. */
	rc = store_prepare(st, "DELETE FROM turn_secret WHERE secret = ?1 OR id = ?2", &stmt, err);
	if (rc == 0) {
		sqlite3_bind_text(stmt, 1, secret_or_id, -1, SQLITE_TRANSIENT);
		if (by_id)
			sqlite3_bind_int64(stmt, 2, id);
		rc = store_step_done(st, stmt, err, "turn secret");
		if (rc == 0 && sqlite3_changes(st->db) == 0)
			rc = pbx_err_set(err, PBX_E_NOTFOUND, "no such TURN secret (give its id "
					 "from 'rpctl turn secret list', or the secret)");
	}
	return store_tx_end(st, &tx, rc, err);
}
