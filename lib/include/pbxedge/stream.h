/* stream.h - STUN and TURN over TCP and TLS for a worker's event loop.
 *
 * A listener accepts connections (the daemon decides about each one); a
 * stream owns the connection's socket and GnuTLS session, a bounded input
 * buffer cut into STUN messages and ChannelData by stun_hdr_frame()
 * (RFC 8489 section 6.2.2, RFC 8656 section 11.5: ChannelData padded to 4
 * bytes over streams), a bounded output buffer with back-pressure, and an
 * idle timer that also bounds the TLS handshake.  The daemon gives each
 * stream callbacks for one framed message, for a stream that lost its
 * framing and for the end of the stream.  Everything runs in the thread of
 * the event base; nothing here is shared between threads.
 */
#ifndef PBXEDGE_STREAM_H
#define PBXEDGE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pbxedge/addr.h>
#include <pbxedge/api.h>
#include <pbxedge/stun.h>
#include <pbxedge/tls.h>

struct event_base;
struct pbx_stream;
struct pbx_stream_listener;

/* The streams of one worker.  Caller-owned (pbx_stream_group_init); the
 * fields are the module's, n may be read. */
struct pbx_stream_group {
	struct pbx_stream *head;
	size_t n;              /* live streams */
};

/* How the streams of a listener behave. */
struct pbx_stream_conf {
	size_t frame_max;      /* longest frame taken; longer: "too-long" */
	size_t in_max;         /* input buffer (at least frame_max) */
	size_t out_max;        /* output buffer */
	size_t out_reserve;    /* frames are taken, and the socket read, only
				* while this much output room is free (a
				* client that does not read its answers is not
				* read either); 0: always, and what does not
				* fit is refused by pbx_stream_send */
	unsigned frame_flags;  /* for stun_hdr_frame: STUN_CHAN_RFC5766 */
	bool chandata;         /* ChannelData is a message (else: lost framing) */
	unsigned reads_per_wake; /* 0: read until the socket is empty */
	bool eof_closes;       /* the client's end of stream closes at once;
				* otherwise once the answers are written */
	bool tls;              /* the listener's connections speak TLS */
	const char *tls_hint;  /* the settings to name when there is no
				* certificate: "turnd.tls-cert, turnd.tls-key" */
};

/* The daemon's callbacks.  conn is what accept returned. */
struct pbx_stream_ops {
	/* A new connection s from its peer (pbx_stream_peer, _local): return
	 * the daemon's state for it, or NULL to refuse it (the socket is then
	 * closed and nothing else is called). */
	void *(*accept)(void *listener_arg, struct pbx_stream *s);
	/* TLS listeners: the credentials for a new connection (borrowed; the
	 * session takes its own reference), NULL when there are none. */
	struct pbx_tls_creds *(*creds)(void *listener_arg);
	/* One framed message of len bytes at p: kind STUN_FRAME_STUN, or
	 * STUN_FRAME_CHANDATA (with conf.chandata; len includes the padding).
	 * Answers go out with pbx_stream_send. */
	void (*message)(void *conn, struct pbx_stream *s, enum stun_frame_kind kind,
			const uint8_t *p, size_t len);
	/* The stream lost its framing at byte off of the input (p, len are
	 * the bytes from there): f says why.  Return the outcome to close
	 * with (static text). */
	const char *(*lost)(void *conn, struct pbx_stream *s, const struct stun_frame *f,
			    size_t off, const uint8_t *p, size_t len);
	/* After the messages of one read were handled (may be NULL). */
	void (*handled)(void *conn);
	/* The idle timeout in seconds; 0: none now (asked when the timer is
	 * armed and when it fires). */
	unsigned (*idle_s)(void *conn);
	/* The stream ends with outcome ("client-closed", "idle", "tls-failed",
	 * "io-error", "draining", or what pbx_stream_close or lost gave):
	 * free conn.  s is still valid during the call. */
	void (*closed)(void *conn, struct pbx_stream *s, const char *outcome);
};

/* pbx_stream_group_init - an empty group. */
PBX_API void pbx_stream_group_init(struct pbx_stream_group *g);

/* pbx_stream_group_close - close every stream of g (only those accepted on
 * l unless l is NULL) with outcome. */
PBX_API void pbx_stream_group_close(struct pbx_stream_group *g,
				    const struct pbx_stream_listener *l, const char *outcome);

/* pbx_stream_group_drain - streams with nothing left to send and no
 * handshake under way close now ("draining"), the others once their
 * answers are written. */
PBX_API void pbx_stream_group_drain(struct pbx_stream_group *g);

/* pbx_stream_listen - accept connections on fd (listening, non-blocking,
 * bound to bound) in base, into g, with conf (copied; tls_hint must
 * outlive the listener) and ops (kept).  The listener owns fd from now
 * on, also on failure.  Returns 0 with *out, or -ENOMEM. */
PBX_API int pbx_stream_listen(struct event_base *base, struct pbx_stream_group *g, int fd,
			      const struct pbx_addr *bound, const struct pbx_stream_conf *conf,
			      const struct pbx_stream_ops *ops, void *listener_arg,
			      struct pbx_stream_listener **out);

/* pbx_stream_listener_free - stop accepting and close the socket; the
 * streams accepted on it stay (see pbx_stream_group_close). */
PBX_API void pbx_stream_listener_free(struct pbx_stream_listener *l);

/* pbx_stream_send - queue len bytes at p for the client.  Returns 0, or
 * PBX_E_NOSPACE when they do not fit (nothing queued), or -EPIPE after
 * the stream ended. */
PBX_API int pbx_stream_send(struct pbx_stream *s, const void *p, size_t len);

/* pbx_stream_close - end s with outcome (static text); inside a callback
 * of s it ends when the callback returns. */
PBX_API void pbx_stream_close(struct pbx_stream *s, const char *outcome);

/* pbx_stream_touch - re-arm the idle timer (after idle_s changed). */
PBX_API void pbx_stream_touch(struct pbx_stream *s);

/* pbx_stream_peer / pbx_stream_local - the client's address (unmapped)
 * and the address it reached (for a listener bound to every address, the
 * connection's own).  pbx_stream_peer_text - the client as text. */
PBX_API const struct pbx_addr *pbx_stream_peer(const struct pbx_stream *s);
PBX_API const struct pbx_addr *pbx_stream_local(const struct pbx_stream *s);
PBX_API const char *pbx_stream_peer_text(const struct pbx_stream *s);

/* pbx_stream_listener_of - the listener s was accepted on (it may be
 * freed already: compare, do not use). */
PBX_API const struct pbx_stream_listener *pbx_stream_listener_of(const struct pbx_stream *s);

/* pbx_stream_tls_failed - true if s ended because TLS failed (no
 * certificate, or the handshake), for counting in closed. */
PBX_API bool pbx_stream_tls_failed(const struct pbx_stream *s);

#endif
