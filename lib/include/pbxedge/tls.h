/* tls.h - GnuTLS sessions on non-blocking sockets, for an event loop.
 *
 * Credentials are immutable and reference-counted: a daemon builds new ones
 * when its certificate files change, and sessions keep the ones they
 * started with, so a replaced certificate never drops a live connection.
 * I/O calls never block: they return -EAGAIN, and pbx_tls_want_write()
 * says which readiness to wait for.
 */
#ifndef PBXEDGE_TLS_H
#define PBXEDGE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include <pbxedge/api.h>
#include <pbxedge/err.h>

struct pbx_tls_creds;
struct pbx_tls;

struct pbx_tls_server_conf {
	const char *cert_file;   /* PEM chain, leaf first */
	const char *key_file;    /* PEM private key */
	const char *priority;    /* GnuTLS priority string */
	const char *trust_file;  /* PEM CA list for client certificates, or NULL */
};

/* pbx_tls_server_creds_new - load a server certificate and key, the
 * priority string and (optionally) the CAs client certificates are checked
 * against.  Clients are asked for a certificate but need not send one.
 * Returns 0 with *out holding one reference, or an error with err naming
 * the file and what is wrong with it. */
PBX_API int pbx_tls_server_creds_new(const struct pbx_tls_server_conf *conf,
				     struct pbx_tls_creds **out, struct pbx_err *err);

/* What stat says about a file: a certificate replaced on disk (rewritten,
 * or renamed over) changes one of these. */
struct pbx_tls_file_id {
	bool exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

/* pbx_tls_file_id - stat path into *id (exists false when it cannot be
 * looked at, or path is empty or NULL). */
PBX_API void pbx_tls_file_id(const char *path, struct pbx_tls_file_id *id);

/* pbx_tls_file_id_equal - true if a and b describe the same content. */
PBX_API bool pbx_tls_file_id_equal(const struct pbx_tls_file_id *a,
				   const struct pbx_tls_file_id *b);

enum { PBX_TLS_FILE_CERT, PBX_TLS_FILE_KEY, PBX_TLS_FILE_TRUST, PBX_TLS_FILES };

/* Server credentials together with what they were built from, so that a
 * daemon notices at its store poll (about once a second) a certificate,
 * key or CA list replaced on disk as well as changed settings.  Caller-
 * owned and immutable once filled by pbx_tls_server_files_update: a
 * context that embeds one can be shared by workers.  Zeroed memory is an
 * empty set (no credentials, nothing configured). */
struct pbx_tls_server_files {
	struct pbx_tls_creds *creds;     /* a reference; NULL: no usable certificate */
	char *cert, *key, *trust, *priority; /* as configured ("" or NULL: none) */
	struct pbx_tls_file_id id[PBX_TLS_FILES];
	bool failed;                     /* the last load failed: creds are older */
};

/* pbx_tls_server_files_changed - true if conf names other files or another
 * priority than cur was built from, or one of the files changed on disk
 * since (stat: inode, size, modification time).  cur may be NULL (true). */
PBX_API bool pbx_tls_server_files_changed(const struct pbx_tls_server_files *cur,
					  const struct pbx_tls_server_conf *conf);

/* pbx_tls_server_files_update - fill next (zeroed or cleaned up) for conf:
 * prev's credentials (a new reference) if nothing changed; otherwise the
 * files loaded anew ("tls-credentials-loaded cert=..." logged), or, when
 * they do not load, prev's credentials kept ("tls-credentials-failed
 * reason=load-failed detail=..." logged, next->failed set) until the files
 * change again.  With neither certificate nor key configured and !needed,
 * next has no credentials and nothing is logged.  prev may be NULL.
 * Returns 0, PBX_E_INVALID when the files did not load, or -ENOMEM. */
PBX_API int pbx_tls_server_files_update(struct pbx_tls_server_files *next,
					const struct pbx_tls_server_conf *conf, bool needed,
					const struct pbx_tls_server_files *prev);

/* pbx_tls_server_files_cleanup - drop the credentials and names of f. */
PBX_API void pbx_tls_server_files_cleanup(struct pbx_tls_server_files *f);

/* pbx_tls_client_creds_new - credentials for connecting to services: with
 * ca_file, servers are verified against it (and their name checked);
 * without, they are not verified.  Returns 0 or an error. */
PBX_API int pbx_tls_client_creds_new(const char *ca_file, const char *priority,
				     struct pbx_tls_creds **out, struct pbx_err *err);

/* pbx_tls_creds_ref / unref - take or drop a reference (any thread). */
PBX_API struct pbx_tls_creds *pbx_tls_creds_ref(struct pbx_tls_creds *c);
PBX_API void pbx_tls_creds_unref(struct pbx_tls_creds *c);

/* pbx_tls_accept - a server session on fd (non-blocking, connected); the
 * session holds a reference to creds.  Returns 0 or an error. */
PBX_API int pbx_tls_accept(struct pbx_tls_creds *creds, int fd, struct pbx_tls **out);

/* pbx_tls_connect - a client session on fd toward host (used for SNI when a
 * DNS name, and for the name check when the credentials verify). */
PBX_API int pbx_tls_connect(struct pbx_tls_creds *creds, int fd, const char *host,
			    struct pbx_tls **out);

/* pbx_tls_handshake - advance the handshake: 0 when done, -EAGAIN to wait
 * (see pbx_tls_want_write), -ECONNRESET when the peer went away (closed or
 * reset the connection), or PBX_E_MALFORMED with pbx_tls_error() saying
 * why.  For client sessions with verifying credentials, a server that does
 * not verify fails here. */
PBX_API int pbx_tls_handshake(struct pbx_tls *t);

/* pbx_tls_read - read up to n decrypted bytes into buf: 0 with *got > 0;
 * 0 with *got == 0 at the end of the stream (close_notify or TCP EOF);
 * -EAGAIN; or an error.  Call again while pbx_tls_pending() > 0 before
 * waiting for the socket. */
PBX_API int pbx_tls_read(struct pbx_tls *t, void *buf, size_t n, size_t *got);

/* pbx_tls_write - write up to n bytes: 0 with *put > 0, -EAGAIN (call again
 * later with the same bytes), or an error. */
PBX_API int pbx_tls_write(struct pbx_tls *t, const void *buf, size_t n, size_t *put);

/* pbx_tls_pending - decrypted bytes buffered inside the session. */
PBX_API size_t pbx_tls_pending(struct pbx_tls *t);

/* pbx_tls_want_write - after -EAGAIN: true to wait for writability, false
 * for readability. */
PBX_API bool pbx_tls_want_write(struct pbx_tls *t);

/* pbx_tls_bye - send close_notify, best effort, without waiting. */
PBX_API void pbx_tls_bye(struct pbx_tls *t);

/* pbx_tls_free - end the session (the socket is the caller's). */
PBX_API void pbx_tls_free(struct pbx_tls *t);

/* pbx_tls_error - what the last failure was, for logs (static text). */
PBX_API const char *pbx_tls_error(const struct pbx_tls *t);

/* pbx_tls_peer_cert - after the handshake: whether the peer sent a
 * certificate, and whether it verified against the trust list.  *name
 * (may be NULL) gets the certificate's subject CN into a buffer of n. */
PBX_API void pbx_tls_peer_cert(struct pbx_tls *t, bool *sent, bool *verified, char *name,
			       size_t n);

/* pbx_tls_version - "TLS1.3" etc., for logs. */
PBX_API const char *pbx_tls_version(struct pbx_tls *t);

#endif
