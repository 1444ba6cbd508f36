/* config.c - changing the configuration: listeners, service names, their
 * targets and access limits.  Every change is validated here, so rpctl,
 * import and any later tool refuse the same things with the same words. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

int store_host_validate(struct pbx_span host, struct pbx_err *err)
{
	struct pbx_addr a;
	if (host.len == 0)
		return pbx_err_set(err, PBX_E_INVALID, "empty host");
	if (memchr(host.p, ':', host.len))
		return pbx_addr_parse(host, 1, PBX_ADDR_NO_PORT, &a, err);
	if (host.len > 253)
		return pbx_err_set(err, PBX_E_INVALID, "host name longer than 253 characters");
	size_t label = 0;
	bool all_numeric = true;
	for (size_t i = 0; i < host.len; i++) {
		char c = host.p[i];
		if (c == '.') {
			if (label == 0)
				return pbx_err_set(err, PBX_E_INVALID,
						   "'%.*s': empty label in host name",
						   (int)host.len, host.p);
			label = 0;
			continue;
		}
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '-' || c == '_';
		if (!ok)
			return pbx_err_set(err, PBX_E_INVALID,
					   "'%.*s' is not a host name or IP address "
					   "(unexpected character '%c')", (int)host.len, host.p,
					   (c >= 0x20 && c < 0x7f) ? c : '?');
		if (!(c >= '0' && c <= '9'))
			all_numeric = false;
		if (++label > 63)
			return pbx_err_set(err, PBX_E_INVALID,
					   "'%.*s': label longer than 63 characters",
					   (int)host.len, host.p);
	}
	/* Digits and dots only: it was meant as an IPv4 address. */
	if (all_numeric)
		return pbx_addr_parse(host, 1, PBX_ADDR_NO_PORT, &a, err);
	return 0;
}

int store_cidr_canon(const char *text, char *out, size_t n, struct pbx_err *err)
{
	struct pbx_cidr c;
	int rc = pbx_cidr_parse(pbx_span_cstr(text), &c, err);
	if (rc)
		return rc;
	return pbx_cidr_format(&c, out, n);
}

static int check_port(const char *what, uint32_t port, struct pbx_err *err)
{
	if (port < 1 || port > 65535)
		return pbx_err_set(err, PBX_E_INVALID, "%s %u is out of range (1-65535)", what,
				   port);
	return 0;
}

int store_listen_set(struct store *st, enum store_proto proto, uint32_t port,
		     const char *addr, struct pbx_err *err)
{
	char canon[PBX_ADDRSTRLEN] = "";
	int rc = check_port("port", port, err);
	if (rc)
		return rc;
	if (addr && *addr) {
		struct pbx_addr a;
		if ((rc = pbx_addr_parse(pbx_span_cstr(addr), 1, PBX_ADDR_NO_PORT, &a, err)))
			return rc;
		pbx_addr_format_ip(&a, canon, sizeof canon);
	}
	struct store_tx tx;
	sqlite3_stmt *stmt;
	if ((rc = store_tx_begin(st, &tx, err)))
		return rc;
	rc = store_prepare(st, "INSERT INTO listener (proto, port, addr) VALUES (?1, ?2, ?3) "
			   "ON CONFLICT (proto) DO UPDATE SET port = excluded.port, "
			   "addr = excluded.addr WHERE port IS NOT excluded.port "
			   "OR addr IS NOT excluded.addr", &stmt, err);
	if (rc == 0) {
		sqlite3_bind_text(stmt, 1, store_proto_name(proto), -1, SQLITE_STATIC);
		sqlite3_bind_int(stmt, 2, (int)port);
		if (canon[0])
			sqlite3_bind_text(stmt, 3, canon, -1, SQLITE_TRANSIENT);
		rc = store_step_done(st, stmt, err, "listen");
	}
	return store_tx_end(st, &tx, rc, err);
}

/* Run a DELETE with one to three text parameters and report whether it
 * removed anything. */
static int delete_rows(struct store *st, const char *sql, const char *a, const char *b,
		       const char *c, int *changes, struct pbx_err *err)
{
	sqlite3_stmt *stmt;
	int rc = store_prepare(st, sql, &stmt, err);
	if (rc)
		return rc;
	sqlite3_bind_text(stmt, 1, a, -1, SQLITE_TRANSIENT);
	if (b)
		sqlite3_bind_text(stmt, 2, b, -1, SQLITE_TRANSIENT);
	if (c)
		sqlite3_bind_text(stmt, 3, c, -1, SQLITE_TRANSIENT);
	rc = store_step_done(st, stmt, err, "delete");
	*changes = rc ? 0 : sqlite3_changes(st->db);
	return rc;
}

int store_listen_off(struct store *st, enum store_proto proto, struct pbx_err *err)
{
	struct store_tx tx;
	int changes = 0;
	int rc = store_tx_begin(st, &tx, err);
	if (rc)
		return rc;
	rc = delete_rows(st, "DELETE FROM listener WHERE proto = ?1", store_proto_name(proto),
			 NULL, NULL, &changes, err);
	if (rc == 0 && changes == 0)
		rc = pbx_err_set(err, PBX_E_NOTFOUND, "%s is not being served",
				 store_proto_name(proto));
	return store_tx_end(st, &tx, rc, err);
}

/* Words of rpctl's grammar that cannot be names without ambiguity. */
static const char *const reserved_names[] = { "add", "del", "list", "show" };

int store_name_validate(const char *name, struct pbx_err *err)
{
	struct pbx_span s = pbx_span_cstr(name), domain, location;
	if (s.len == 0)
		return pbx_err_set(err, PBX_E_INVALID, "empty service name");
	if (s.len > 253)
		return pbx_err_set(err, PBX_E_INVALID, "service name longer than 253 characters");
	for (size_t i = 0; i < sizeof reserved_names / sizeof reserved_names[0]; i++)
		if (pbx_span_caseeq_cstr(s, reserved_names[i]))
			return pbx_err_set(err, PBX_E_INVALID,
					   "'%s' is a command word and cannot be a service name",
					   name);
	bool has_location = pbx_span_cut(s, '/', &domain, &location);
	struct pbx_err e2;
	if (store_host_validate(domain, &e2) || memchr(domain.p, ':', domain.len))
		return pbx_err_set(err, PBX_E_INVALID,
				   "service name '%s': the domain part must be a DNS name "
				   "(letters, digits, '-', '_' and dots)", name);
	if (has_location) {
		if (location.len == 0)
			return pbx_err_set(err, PBX_E_INVALID,
					   "service name '%s': empty registration location", name);
		for (size_t i = 0; i < location.len; i++) {
			char c = location.p[i];
			bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				  (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
			if (!ok)
				return pbx_err_set(err, PBX_E_INVALID,
						   "service name '%s': registration location may "
						   "hold letters, digits, '-', '_' and '.' only "
						   "(a standby location is a separate name)", name);
		}
	}
	return 0;
}

int store_name_id(struct store *st, const char *name, int64_t *id, struct pbx_err *err)
{
	sqlite3_stmt *stmt;
	int rc = store_prepare(st, "SELECT id FROM service_name WHERE name = ?1", &stmt, err);
	if (rc)
		return rc;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	int step = sqlite3_step(stmt);
	if (step == SQLITE_ROW)
		*id = sqlite3_column_int64(stmt, 0);
	else if (step == SQLITE_DONE)
		rc = pbx_err_set(err, PBX_E_NOTFOUND,
				 "unknown service name '%s' ('rpctl name list' shows them)", name);
	else
		rc = store_sql_err(st, err, "name lookup");
	sqlite3_finalize(stmt);
	return rc;
}

int store_name_exists(struct store *st, const char *name, struct pbx_err *err)
{
	int64_t id;
	return store_name_id(st, name, &id, err);
}

int store_name_add(struct store *st, const char *name, struct pbx_err *err)
{
	int rc = store_name_validate(name, err);
	if (rc)
		return rc;
	struct store_tx tx;
	int64_t id;
	if ((rc = store_tx_begin(st, &tx, err)))
		return rc;
	struct pbx_err e2;
	rc = store_name_id(st, name, &id, &e2);
	if (rc == 0) {
		rc = pbx_err_set(err, PBX_E_EXISTS, "service name '%s' exists already", name);
	} else if (rc == PBX_E_NOTFOUND) {
		sqlite3_stmt *stmt;
		rc = store_prepare(st, "INSERT INTO service_name (name, created) VALUES (?1, ?2)",
				   &stmt, err);
		if (rc == 0) {
			sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(stmt, 2, store_now());
			rc = store_step_done(st, stmt, err, "name add");
		}
	} else {
		*err = e2;
	}
	return store_tx_end(st, &tx, rc, err);
}

int store_name_del(struct store *st, const char *name, struct pbx_err *err)
{
	struct store_tx tx;
	int changes = 0;
	int rc = store_tx_begin(st, &tx, err);
	if (rc)
		return rc;
	rc = delete_rows(st, "DELETE FROM service_name WHERE name = ?1", name, NULL, NULL,
			 &changes, err);
	if (rc == 0 && changes == 0)
		rc = pbx_err_set(err, PBX_E_NOTFOUND, "unknown service name '%s'", name);
	return store_tx_end(st, &tx, rc, err);
}

int store_target_set(struct store *st, const char *name, enum store_family f,
		     const struct store_target_spec *spec, struct pbx_err *err)
{
	int rc = store_host_validate(pbx_span_cstr(spec->host), err);
	if (rc)
		return pbx_err_set(err, PBX_E_INVALID, "target host: %s", pbx_err_text(err));
	if (!spec->plain_port && !spec->tls_port)
		return pbx_err_set(err, PBX_E_INVALID,
				   "target %s %s: give a plain port (--plain), a TLS port (--tls) "
				   "or both", name, store_family_name(f));
	if ((spec->plain_port && (rc = check_port("plain port", spec->plain_port, err))) ||
	    (spec->tls_port && (rc = check_port("TLS port", spec->tls_port, err))))
		return rc;
	struct store_tx tx;
	int64_t id;
	if ((rc = store_tx_begin(st, &tx, err)))
		return rc;
	if ((rc = store_name_id(st, name, &id, err)) == 0) {
		sqlite3_stmt *stmt;
		rc = store_prepare(st,
				   "INSERT INTO target (name_id, family, host, plain_port, tls_port, "
				   "check_cert) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
				   "ON CONFLICT (name_id, family) DO UPDATE SET host = excluded.host, "
				   "plain_port = excluded.plain_port, tls_port = excluded.tls_port, "
				   "check_cert = excluded.check_cert", &stmt, err);
		if (rc == 0) {
			sqlite3_bind_int64(stmt, 1, id);
			sqlite3_bind_text(stmt, 2, store_family_name(f), -1, SQLITE_STATIC);
			sqlite3_bind_text(stmt, 3, spec->host, -1, SQLITE_TRANSIENT);
			if (spec->plain_port)
				sqlite3_bind_int(stmt, 4, (int)spec->plain_port);
			if (spec->tls_port)
				sqlite3_bind_int(stmt, 5, (int)spec->tls_port);
			sqlite3_bind_int(stmt, 6, spec->check_cert);
			rc = store_step_done(st, stmt, err, "target");
		}
	}
	return store_tx_end(st, &tx, rc, err);
}

/* Delete a row of a per-name table: the name must exist and the row too. */
static int name_row_del(struct store *st, const char *name, const char *sql,
			const char *b, const char *c, const char *missing,
			struct pbx_err *err)
{
	struct store_tx tx;
	int64_t id;
	int changes = 0;
	int rc = store_tx_begin(st, &tx, err);
	if (rc)
		return rc;
	if ((rc = store_name_id(st, name, &id, err)) == 0) {
		sqlite3_stmt *stmt;
		if ((rc = store_prepare(st, sql, &stmt, err)) == 0) {
			sqlite3_bind_int64(stmt, 1, id);
			sqlite3_bind_text(stmt, 2, b, -1, SQLITE_TRANSIENT);
			if (c)
				sqlite3_bind_text(stmt, 3, c, -1, SQLITE_TRANSIENT);
			rc = store_step_done(st, stmt, err, "delete");
			changes = rc ? 0 : sqlite3_changes(st->db);
		}
		if (rc == 0 && changes == 0)
			rc = pbx_err_set(err, PBX_E_NOTFOUND, "%s", missing);
	}
	return store_tx_end(st, &tx, rc, err);
}

int store_target_del(struct store *st, const char *name, enum store_family f,
		     struct pbx_err *err)
{
	char missing[PBX_ERR_MSG_MAX];
	snprintf(missing, sizeof missing, "service name '%s' has no %s target", name,
		 store_family_name(f));
	return name_row_del(st, name, "DELETE FROM target WHERE name_id = ?1 AND family = ?2",
			    store_family_name(f), NULL, missing, err);
}

/* Insert a row of a per-name table; an identical row is an error. */
static int name_row_add(struct store *st, const char *name, const char *sql,
			const char *b, const char *c, const char *dup, struct pbx_err *err)
{
	struct store_tx tx;
	int64_t id;
	int rc = store_tx_begin(st, &tx, err);
	if (rc)
		return rc;
	if ((rc = store_name_id(st, name, &id, err)) == 0) {
		sqlite3_stmt *stmt;
		if ((rc = store_prepare(st, sql, &stmt, err)) == 0) {
			sqlite3_bind_int64(stmt, 1, id);
			sqlite3_bind_text(stmt, 2, b, -1, SQLITE_TRANSIENT);
			if (c)
				sqlite3_bind_text(stmt, 3, c, -1, SQLITE_TRANSIENT);
			rc = store_step_done(st, stmt, err, "add");
			if (rc == 0 && sqlite3_changes(st->db) == 0)
				rc = pbx_err_set(err, PBX_E_EXISTS, "%s", dup);
		}
	}
	return store_tx_end(st, &tx, rc, err);
}

int store_allow_ip_add(struct store *st, const char *name, enum store_family f,
		       const char *cidr, struct pbx_err *err)
{
	char canon[PBX_CIDRSTRLEN], dup[PBX_ERR_MSG_MAX];
	int rc = store_cidr_canon(cidr, canon, sizeof canon, err);
	if (rc)
		return rc;
	snprintf(dup, sizeof dup, "%s is already allowed for %s %s", canon, name,
		 store_family_name(f));
	return name_row_add(st, name,
			    "INSERT OR IGNORE INTO allow_ip (name_id, family, network) "
			    "VALUES (?1, ?2, ?3)", store_family_name(f), canon, dup, err);
}

int store_allow_ip_del(struct store *st, const char *name, enum store_family f,
		       const char *cidr, struct pbx_err *err)
{
	char canon[PBX_CIDRSTRLEN], missing[PBX_ERR_MSG_MAX];
	int rc = store_cidr_canon(cidr, canon, sizeof canon, err);
	if (rc)
		return rc;
	snprintf(missing, sizeof missing, "%s is not in the allowed networks of %s %s", canon,
		 name, store_family_name(f));
	return name_row_del(st, name,
			    "DELETE FROM allow_ip WHERE name_id = ?1 AND family = ?2 "
			    "AND network = ?3", store_family_name(f), canon, missing, err);
}

int store_url_validate(const char *url, struct pbx_err *err)
{
	size_t n = strlen(url);
	if (url[0] != '/')
		return pbx_err_set(err, PBX_E_INVALID, "URL '%s' must start with '/'", url);
	if (n > 1024)
		return pbx_err_set(err, PBX_E_INVALID, "URL longer than 1024 characters");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
			return pbx_err_set(err, PBX_E_INVALID,
					   "URL '%s' holds a space or a non-ASCII character "
					   "(write it percent-encoded, as clients send it)", url);
	return 0;
}

int store_allow_url_add(struct store *st, const char *name, const char *url,
			struct pbx_err *err)
{
	char dup[PBX_ERR_MSG_MAX];
	int rc = store_url_validate(url, err);
	if (rc)
		return rc;
	snprintf(dup, sizeof dup, "URL %.200s is already allowed for %s", url, name);
	return name_row_add(st, name,
			    "INSERT OR IGNORE INTO allow_url (name_id, url) VALUES (?1, ?2)",
			    url, NULL, dup, err);
}

int store_allow_url_del(struct store *st, const char *name, const char *url,
			struct pbx_err *err)
{
	char missing[PBX_ERR_MSG_MAX];
	snprintf(missing, sizeof missing, "URL %.200s is not allowed for %s", url, name);
	return name_row_del(st, name, "DELETE FROM allow_url WHERE name_id = ?1 AND url = ?2",
			    url, NULL, missing, err);
}

int store_config_clear(struct store *st, struct pbx_err *err)
{
	struct store_tx tx;
	int rc = store_tx_begin(st, &tx, err);
	if (rc)
		return rc;
	rc = store_exec(st,
			"DELETE FROM setting; DELETE FROM listener; DELETE FROM service_name; "
			"DELETE FROM blacklist WHERE origin = 'manual'; DELETE FROM whitelist;",
			err);
	return store_tx_end(st, &tx, rc, err);
}
