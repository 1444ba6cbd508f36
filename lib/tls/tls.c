/* tls.c - GnuTLS server and client sessions on non-blocking sockets
 * (RFC 8446, RFC 5246), with reference-counted credentials so that a
 * replaced certificate applies to new connections only, and the files
 * they came from watched for replacement. */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <pbxedge/addr.h>
#include <pbxedge/log.h>
#include <pbxedge/tls.h>

struct pbx_tls_creds {
	_Atomic unsigned refs;
	bool server;
	bool verify;          /* client: verify the server */
	gnutls_certificate_credentials_t cert;
	gnutls_priority_t prio;
	gnutls_datum_t ticket_key; /* server: session ticket key (RFC 8446 2.2) */
};

struct pbx_tls {
	gnutls_session_t s;
	struct pbx_tls_creds *creds;
	const char *error;
	bool handshaken;
};

static int creds_alloc(struct pbx_tls_creds **out, bool server, const char *priority,
		       struct pbx_err *err)
{
	struct pbx_tls_creds *c = calloc(1, sizeof *c);
	if (!c)
		return pbx_err_set(err, -ENOMEM, "out of memory");
	atomic_init(&c->refs, 1);
	c->server = server;
	if (gnutls_certificate_allocate_credentials(&c->cert) != GNUTLS_E_SUCCESS) {
		free(c);
		return pbx_err_set(err, -ENOMEM, "out of memory");
	}
	const char *errpos = NULL;
	int rc = gnutls_priority_init(&c->prio, priority && *priority ? priority : "NORMAL",
				      &errpos);
	if (rc != GNUTLS_E_SUCCESS) {
		gnutls_certificate_free_credentials(c->cert);
		free(c);
		return pbx_err_set(err, PBX_E_INVALID, "TLS priority string refused at '%.40s': %s",
				   errpos ? errpos : "", gnutls_strerror(rc));
	}
	*out = c;
	return 0;
}

int pbx_tls_server_creds_new(const struct pbx_tls_server_conf *conf, struct pbx_tls_creds **out,
			     struct pbx_err *err)
{
	struct pbx_tls_creds *c = NULL;
	*out = NULL;
	if (!conf->cert_file || !*conf->cert_file || !conf->key_file || !*conf->key_file)
		return pbx_err_set(err, PBX_E_INVALID, "no certificate and key configured");
	int rc = creds_alloc(&c, true, conf->priority, err);
	if (rc)
		return rc;
	rc = gnutls_certificate_set_x509_key_file2(c->cert, conf->cert_file, conf->key_file,
						   GNUTLS_X509_FMT_PEM, NULL, 0);
	if (rc < 0) {
		pbx_err_set(err, PBX_E_INVALID, "cannot load certificate %s with key %s: %s",
			    conf->cert_file, conf->key_file, gnutls_strerror(rc));
		goto fail;
	}
	if (conf->trust_file && *conf->trust_file) {
		rc = gnutls_certificate_set_x509_trust_file(c->cert, conf->trust_file,
							    GNUTLS_X509_FMT_PEM);
		if (rc <= 0) {
			pbx_err_set(err, PBX_E_INVALID, "cannot load trusted CAs from %s: %s",
				    conf->trust_file, rc == 0 ? "no certificate in it"
							      : gnutls_strerror(rc));
			goto fail;
		}
	}
	if (gnutls_session_ticket_key_generate(&c->ticket_key) != GNUTLS_E_SUCCESS) {
		pbx_err_set(err, -ENOMEM, "cannot make a session ticket key");
		goto fail;
	}
	*out = c;
	return 0;
fail:
	pbx_tls_creds_unref(c);
	return PBX_E_INVALID;
}

int pbx_tls_client_creds_new(const char *ca_file, const char *priority,
			     struct pbx_tls_creds **out, struct pbx_err *err)
{
	struct pbx_tls_creds *c = NULL;
	*out = NULL;
	int rc = creds_alloc(&c, false, priority, err);
	if (rc)
		return rc;
	if (ca_file && *ca_file) {
		rc = gnutls_certificate_set_x509_trust_file(c->cert, ca_file, GNUTLS_X509_FMT_PEM);
		if (rc <= 0) {
			pbx_err_set(err, PBX_E_INVALID, "cannot load trusted CAs from %s: %s",
				    ca_file, rc == 0 ? "no certificate in it" : gnutls_strerror(rc));
			pbx_tls_creds_unref(c);
			return PBX_E_INVALID;
		}
		c->verify = true;
	}
	*out = c;
	return 0;
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

void pbx_tls_file_id(const char *path, struct pbx_tls_file_id *id)
{
	struct stat st;
	memset(id, 0, sizeof *id);
	if (!*nz(path) || stat(path, &st))
		return;
	id->exists = true;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	id->size = st.st_size;
	id->mtime = st.st_mtim;
}

bool pbx_tls_file_id_equal(const struct pbx_tls_file_id *a, const struct pbx_tls_file_id *b)
{
	return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static void conf_ids(const struct pbx_tls_server_conf *conf,
		     struct pbx_tls_file_id id[PBX_TLS_FILES])
{
	pbx_tls_file_id(conf->cert_file, &id[PBX_TLS_FILE_CERT]);
	pbx_tls_file_id(conf->key_file, &id[PBX_TLS_FILE_KEY]);
	pbx_tls_file_id(conf->trust_file, &id[PBX_TLS_FILE_TRUST]);
}

static bool names_eq(const struct pbx_tls_server_files *f, const struct pbx_tls_server_conf *conf)
{
	return strcmp(nz(f->cert), nz(conf->cert_file)) == 0 &&
	       strcmp(nz(f->key), nz(conf->key_file)) == 0 &&
	       strcmp(nz(f->trust), nz(conf->trust_file)) == 0 &&
	       strcmp(nz(f->priority), nz(conf->priority)) == 0;
}

bool pbx_tls_server_files_changed(const struct pbx_tls_server_files *cur,
				  const struct pbx_tls_server_conf *conf)
{
	struct pbx_tls_file_id id[PBX_TLS_FILES];
	if (!cur || !names_eq(cur, conf))
		return true;
	conf_ids(conf, id);
	for (int i = 0; i < PBX_TLS_FILES; i++)
		if (!pbx_tls_file_id_equal(&cur->id[i], &id[i]))
			return true;
	return false;
}

void pbx_tls_server_files_cleanup(struct pbx_tls_server_files *f)
{
	pbx_tls_creds_unref(f->creds);
	free(f->cert);
	free(f->key);
	free(f->trust);
	free(f->priority);
	memset(f, 0, sizeof *f);
}

int pbx_tls_server_files_update(struct pbx_tls_server_files *next,
				const struct pbx_tls_server_conf *conf, bool needed,
				const struct pbx_tls_server_files *prev)
{
	memset(next, 0, sizeof *next);
	/* The files are looked at before they are read: one replaced in
	 * between is loaded again at the next look. */
	conf_ids(conf, next->id);
	if (!(next->cert = strdup(nz(conf->cert_file))) || !(next->key = strdup(nz(conf->key_file))) ||
	    !(next->trust = strdup(nz(conf->trust_file))) ||
	    !(next->priority = strdup(nz(conf->priority)))) {
		pbx_tls_server_files_cleanup(next);
		return -ENOMEM;
	}
	if (prev && !pbx_tls_server_files_changed(prev, conf)) {
		next->creds = prev->creds ? pbx_tls_creds_ref(prev->creds) : NULL;
		next->failed = prev->failed;
		return 0;
	}
	if (!*next->cert && !*next->key && !needed)
		return 0;
	struct pbx_err err;
	if (pbx_tls_server_creds_new(conf, &next->creds, &err) == 0) {
		pbx_log_notice("tls-credentials-loaded cert=%s", next->cert);
		return 0;
	}
	/* A set that fails to load leaves the previous one in service. */
	next->failed = true;
	next->creds = prev && prev->creds ? pbx_tls_creds_ref(prev->creds) : NULL;
	pbx_log_error("tls-credentials-failed reason=load-failed detail=\"%s\"%s",
		      pbx_err_text(&err),
		      next->creds ? " (keeping the previous certificate)"
				  : " (TLS ports refuse connections)");
	return PBX_E_INVALID;
}

struct pbx_tls_creds *pbx_tls_creds_ref(struct pbx_tls_creds *c)
{
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	return c;
}

void pbx_tls_creds_unref(struct pbx_tls_creds *c)
{
	if (!c || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
		return;
	gnutls_priority_deinit(c->prio);
	gnutls_certificate_free_credentials(c->cert);
	if (c->ticket_key.data) {
		gnutls_memset(c->ticket_key.data, 0, c->ticket_key.size);
		gnutls_free(c->ticket_key.data);
	}
	free(c);
}

static int session_new(struct pbx_tls_creds *creds, int fd, unsigned flags, struct pbx_tls **out)
{
	struct pbx_tls *t = calloc(1, sizeof *t);
	*out = NULL;
	if (!t)
		return -ENOMEM;
	if (gnutls_init(&t->s, flags | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL) != GNUTLS_E_SUCCESS) {
		free(t);
		return -ENOMEM;
	}
	if (gnutls_priority_set(t->s, creds->prio) != GNUTLS_E_SUCCESS ||
	    gnutls_credentials_set(t->s, GNUTLS_CRD_CERTIFICATE, creds->cert) != GNUTLS_E_SUCCESS) {
		gnutls_deinit(t->s);
		free(t);
		return PBX_E_INVALID;
	}
	gnutls_transport_set_int(t->s, fd);
	/* Handshakes are bounded by the caller's timers, not GnuTLS's. */
	gnutls_handshake_set_timeout(t->s, 0);
	t->creds = pbx_tls_creds_ref(creds);
	*out = t;
	return 0;
}

int pbx_tls_accept(struct pbx_tls_creds *creds, int fd, struct pbx_tls **out)
{
	int rc = session_new(creds, fd, GNUTLS_SERVER, out);
	if (rc)
		return rc;
	/* Ask for a client certificate, do not insist: later rules decide
	 * what an unverified client may do. */
	gnutls_certificate_server_set_request((*out)->s, GNUTLS_CERT_REQUEST);
	gnutls_session_ticket_enable_server((*out)->s, &creds->ticket_key);
	return 0;
}

int pbx_tls_connect(struct pbx_tls_creds *creds, int fd, const char *host, struct pbx_tls **out)
{
	int rc = session_new(creds, fd, GNUTLS_CLIENT, out);
	if (rc)
		return rc;
	struct pbx_addr a;
	bool is_ip = host && pbx_addr_parse(pbx_span_cstr(host), 1, PBX_ADDR_NO_PORT, &a, NULL) == 0;
	if (host && !is_ip)
		gnutls_server_name_set((*out)->s, GNUTLS_NAME_DNS, host, strlen(host));
	if (creds->verify)
		gnutls_session_set_verify_cert((*out)->s, host, 0);
	return 0;
}

static int fail(struct pbx_tls *t, int rc)
{
	t->error = gnutls_strerror(rc);
	return PBX_E_MALFORMED;
}

int pbx_tls_handshake(struct pbx_tls *t)
{
	int rc;
	do {
		rc = gnutls_handshake(t->s);
	} while (rc == GNUTLS_E_INTERRUPTED ||
		 (rc < 0 && !gnutls_error_is_fatal(rc) && rc != GNUTLS_E_AGAIN));
	if (rc == GNUTLS_E_AGAIN)
		return -EAGAIN;
	if (rc == GNUTLS_E_PREMATURE_TERMINATION || rc == GNUTLS_E_PULL_ERROR ||
	    rc == GNUTLS_E_PUSH_ERROR) {
		t->error = gnutls_strerror(rc);
		return -ECONNRESET;
	}
	if (rc < 0)
		return fail(t, rc);
	t->handshaken = true;
	return 0;
}

int pbx_tls_read(struct pbx_tls *t, void *buf, size_t n, size_t *got)
{
	*got = 0;
	for (;;) {
		ssize_t r = gnutls_record_recv(t->s, buf, n);
		if (r > 0) {
			*got = (size_t)r;
			return 0;
		}
		if (r == 0 || r == GNUTLS_E_PREMATURE_TERMINATION)
			return 0; /* end of stream: close_notify or EOF */
		if (r == GNUTLS_E_AGAIN)
			return -EAGAIN;
		if (r == GNUTLS_E_INTERRUPTED || r == GNUTLS_E_REHANDSHAKE ||
		    r == GNUTLS_E_WARNING_ALERT_RECEIVED)
			continue;
		return fail(t, (int)r);
	}
}

int pbx_tls_write(struct pbx_tls *t, const void *buf, size_t n, size_t *put)
{
	*put = 0;
	for (;;) {
		ssize_t r = gnutls_record_send(t->s, buf, n);
		if (r >= 0) {
			*put = (size_t)r;
			return 0;
		}
		if (r == GNUTLS_E_AGAIN)
			return -EAGAIN;
		if (r == GNUTLS_E_INTERRUPTED)
			continue;
		return fail(t, (int)r);
	}
}

size_t pbx_tls_pending(struct pbx_tls *t)
{
	return gnutls_record_check_pending(t->s);
}

bool pbx_tls_want_write(struct pbx_tls *t)
{
	return gnutls_record_get_direction(t->s) == 1;
}

void pbx_tls_bye(struct pbx_tls *t)
{
	if (t->handshaken)
		gnutls_bye(t->s, GNUTLS_SHUT_WR);
}

void pbx_tls_free(struct pbx_tls *t)
{
	if (!t)
		return;
	gnutls_deinit(t->s);
	pbx_tls_creds_unref(t->creds);
	free(t);
}

const char *pbx_tls_error(const struct pbx_tls *t)
{
	return t->error ? t->error : "no error";
}

void pbx_tls_peer_cert(struct pbx_tls *t, bool *sent, bool *verified, char *name, size_t n)
{
	unsigned count = 0, status = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(t->s, &count);
	*sent = certs && count > 0;
	*verified = false;
	if (name && n)
		name[0] = '\0';
	if (!*sent)
		return;
	*verified = gnutls_certificate_verify_peers2(t->s, &status) == GNUTLS_E_SUCCESS &&
		    status == 0;
	if (!name || !n)
		return;
	gnutls_x509_crt_t crt;
	if (gnutls_x509_crt_init(&crt) != GNUTLS_E_SUCCESS)
		return;
	size_t len = n;
	if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) != GNUTLS_E_SUCCESS ||
	    gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, name, &len) < 0)
		name[0] = '\0';
	gnutls_x509_crt_deinit(crt);
}

const char *pbx_tls_version(struct pbx_tls *t)
{
	const char *v = gnutls_protocol_get_name(gnutls_protocol_get_version(t->s));
	return v ? v : "?";
}
