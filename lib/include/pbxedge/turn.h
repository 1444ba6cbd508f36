/* turn.h - the client side of TURN (RFC 8656) as an I/O-free state
 * machine, and the TURN REST credentials shared by turnd and rpctl.
 *
 * The client (struct turn_client, caller-owned, fixed size) opens no
 * socket, reads no clock and allocates nothing.  The caller feeds it what
 * came from the TURN server (datagrams over UDP; the byte stream over TCP
 * or TLS, which the client frames itself, RFC 8656 11.5) and the time (a
 * monotonic clock in milliseconds of the caller's choice), asks it with
 * turn_client_poll() for the bytes to send to the server, and calls it
 * again at turn_client_deadline().  Relayed data goes out through
 * turn_client_send() (ChannelData when a channel to the peer is bound, a
 * Send indication otherwise) into the caller's buffer, and comes in as
 * "data from peer P" out of turn_client_input(), without a copy over UDP.
 *
 * Every request settles into a struct turn_result: success, or why not
 * (enum turn_reason, with a stable name for diagnostics, the STUN error
 * code and the server's reason phrase, or a timeout after so many sends).
 * The allocation, each permission (per peer IP address) and each channel
 * keep their last result, and every change of state is queued as a struct
 * turn_event.  The password is kept only to derive the long-term key; it
 * is never sent, logged or put in a result.
 *
 * An ICE agent holds one client per TURN server: it asks for a permission
 * (turn_client_permit) toward each remote candidate it checks through the
 * relay, or a channel (turn_client_bind) for the pair it keeps, sends its
 * checks with turn_client_send, gets the answers back as data events, and
 * reads per-peer outcomes with turn_client_permission (a 403 names the
 * peer it was for).
 */
#ifndef PBXEDGE_TURN_H
#define PBXEDGE_TURN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pbxedge/addr.h>
#include <pbxedge/api.h>
#include <pbxedge/buf.h>
#include <pbxedge/err.h>
#include <pbxedge/stun.h>

/* ---- TURN REST credentials (rest.c) ---- */

#define TURN_REST_PASSWORD_LEN 28  /* base64 of 20 bytes */
#define TURN_REST_TTL 600          /* seconds a credential rpctl mints lasts */

/* turn_rest_password - the TURN REST password for username with secret:
 * base64(HMAC-SHA1(secret, username)) into out (size n, at least
 * TURN_REST_PASSWORD_LEN + 1; NUL-terminated).  Returns 0, PBX_E_NOSPACE
 * or -EIO. */
PBX_API int turn_rest_password(struct pbx_span secret, struct pbx_span username, char *out,
			       size_t n);

/* turn_rest_expiry - the expiry (Unix seconds) of a TURN REST user name
 * "EXPIRY:USER" (or "EXPIRY").  Returns 0 with *expiry, or
 * PBX_E_MALFORMED (not a REST user name). */
PBX_API int turn_rest_expiry(struct pbx_span username, int64_t *expiry);

/* turn_rest_expired - whether the REST user name has expired at now (Unix
 * seconds): its expiry is now or earlier, which turnd refuses.  Lets a
 * client say so before sending anything.  Returns 0 with *expired, or
 * PBX_E_MALFORMED (not a REST user name). */
PBX_API int turn_rest_expired(struct pbx_span username, int64_t now, bool *expired);

/* turn_rest_username - the REST user name "EXPIRY:USER" into out (size
 * n).  Returns 0, PBX_E_NOSPACE, or PBX_E_INVALID (user contains ':', or
 * the expiry is negative or over twelve digits). */
PBX_API int turn_rest_username(struct pbx_span user, int64_t expiry, char *out, size_t n);

/* turn_rest_mint - a credential valid for ttl seconds from now (Unix
 * seconds) for user with secret: the user name into username (size un),
 * its password into password (size pn).  Returns 0 or an error of
 * turn_rest_username / turn_rest_password; PBX_E_INVALID for ttl <= 0. */
PBX_API int turn_rest_mint(struct pbx_span secret, struct pbx_span user, int64_t now,
			   int64_t ttl, char *username, size_t un, char *password, size_t pn);

/* ---- the client (client.c, data.c, names.c) ---- */

/* Transport to the TURN server.  TLS is framed like TCP; the TLS session
 * itself is the caller's. */
enum turn_transport {
	TURN_UDP = 0,
	TURN_TCP = 1,
	TURN_TLS = 2,
};

/* Families of relayed addresses to ask for (RFC 8656 7.1). */
#define TURN_AF_IPV4 1u
#define TURN_AF_IPV6 2u

/* Timers (RFC 8489 6.2.1, RFC 8656). */
#define TURN_RTO_MS 500            /* first UDP retransmission timeout */
#define TURN_RC 7                  /* UDP sends of one request */
#define TURN_RM 16                 /* last UDP wait: Rm times the RTO */
#define TURN_TI_MS 39500           /* transaction timeout over TCP/TLS */
#define TURN_PERMISSION_S 300      /* a permission's lifetime */
#define TURN_CHANNEL_S 600         /* a channel binding's lifetime */
#define TURN_REFRESH_EARLY_S 60    /* refresh this long before expiry */
#define TURN_STALE_MAX 3           /* 438s in a row for one request before
				    * it counts as a nonce loop */

/* Sizes of the fixed tables. */
#define TURN_MAX_TX 16             /* transactions in flight */
#define TURN_MAX_PERMS 64          /* peer IP addresses with a permission */
#define TURN_MAX_CHANNELS 64       /* channel bindings */
#define TURN_MAX_EVENTS 32         /* queued events */
#define TURN_REQ_MAX 1024          /* one request */
#define TURN_TEXT_MAX 256          /* user name, realm, nonce */
#define TURN_PHRASE_MAX 128        /* a reason phrase, escaped */
#define TURN_STREAM_MAX 8192       /* the longest frame kept from a stream;
				    * longer ones are skipped */
#define TURN_CHANNEL_FIRST 0x4000
#define TURN_CHANNEL_LAST 0x4fff

/* How a request (or the allocation, a permission, a channel) ended.  Each
 * has a stable name (turn_reason_name), for the ICE diagnosis, logs and
 * tests. */
enum turn_reason {
	TURN_R_NONE = 0,      /* "none": nothing asked yet */
	TURN_R_PENDING,       /* "pending": in flight */
	TURN_R_OK,            /* "ok" */
	TURN_R_AUTH,          /* "auth": 401 after credentials, or a 401
			       * without realm and nonce */
	TURN_R_NONCE_LOOP,    /* "nonce-loop": 438 TURN_STALE_MAX + 1 times */
	TURN_R_QUOTA,         /* "quota": 486 */
	TURN_R_CAPACITY,      /* "capacity": 508 */
	TURN_R_FAMILY,        /* "address-family": 440 */
	TURN_R_TRANSPORT,     /* "transport": 442 */
	TURN_R_MISMATCH,      /* "allocation-mismatch": 437 */
	TURN_R_FORBIDDEN,     /* "forbidden": 403 (result.peer says for whom) */
	TURN_R_PEER_FAMILY,   /* "peer-address-family": 443 */
	TURN_R_WRONG_CREDS,   /* "wrong-credentials": 441 */
	TURN_R_ALTERNATE,     /* "try-alternate": 300 (result.alternate) */
	TURN_R_UNKNOWN_ATTR,  /* "unknown-attribute": 420 */
	TURN_R_ERROR,         /* "error": another error code */
	TURN_R_TIMEOUT,       /* "timeout": no answer within the timers or the cap */
	TURN_R_ICMP,          /* "icmp": the caller reported an ICMP error */
	TURN_R_CLOSED,        /* "closed": the stream to the server closed */
	TURN_R_STREAM,        /* "stream-garbage": the stream lost its framing */
	TURN_R_BAD_RESPONSE,  /* "bad-response": a success that lacks what it
			       * must carry, or a realm or nonce too long */
	TURN_R_LOCAL,         /* "local": the request could not be built */
	TURN_R_CANCELLED,     /* "cancelled": given up by a release, or a
			       * permission or channel whose allocation ended */
	TURN_R_COUNT
};

/* The outcome of one request. */
struct turn_result {
	uint8_t reason;               /* enum turn_reason */
	uint16_t method;              /* STUN method of the last request */
	int code;                     /* STUN error code, 0 if none */
	char phrase[TURN_PHRASE_MAX]; /* the server's reason phrase, escaped */
	uint8_t sends;                /* sends of the last request */
	uint8_t stale;                /* 438s met on the way */
	int64_t started, settled;     /* ms, caller's clock */
	struct pbx_addr peer;         /* permission, channel: the peer */
	struct pbx_addr alternate;    /* 300: ALTERNATE-SERVER */
	struct stun_icmp icmp;        /* TURN_R_ICMP: type and code reported */
};

/* The allocation as granted. */
struct turn_allocation {
	struct pbx_addr relayed[2];   /* XOR-RELAYED-ADDRESS, one per family */
	size_t n_relayed;
	struct pbx_addr mapped;       /* XOR-MAPPED-ADDRESS (none: len 0) */
	uint32_t lifetime;            /* s, as last granted */
	int64_t expires;              /* ms, caller's clock */
	uint8_t family_error;         /* ADDRESS-ERROR-CODE: the family refused
				       * (STUN_FAMILY_*), or 0 */
	int family_code;              /* ... and its error code */
};

/* The client's state. */
enum turn_state {
	TURN_S_IDLE = 0,     /* "idle": nothing sent */
	TURN_S_ALLOCATING,   /* "allocating" */
	TURN_S_ALLOCATED,    /* "allocated" */
	TURN_S_FAILED,       /* "failed": never allocated, or lost */
	TURN_S_RELEASING,    /* "releasing": Refresh LIFETIME=0 in flight */
	TURN_S_RELEASED,     /* "released": done, or given up (result says) */
};

/* State of a permission or a channel. */
enum turn_peer_state {
	TURN_P_NONE = 0,     /* not asked for */
	TURN_P_WAITING,      /* asked for, not sent yet (no allocation yet, or
			      * every transaction slot busy) */
	TURN_P_PENDING,      /* request in flight */
	TURN_P_OK,           /* installed (refreshes go on by themselves) */
	TURN_P_FAILED,       /* refused or lost: the result says why */
};

enum turn_event_type {
	TURN_EV_ALLOCATED = 1, /* the allocation succeeded */
	TURN_EV_FAILED,        /* the allocation failed, or was lost */
	TURN_EV_REFRESHED,     /* the allocation was refreshed */
	TURN_EV_PERMISSION,    /* a permission was installed or failed */
	TURN_EV_CHANNEL,       /* a channel was bound or failed */
	TURN_EV_RELEASED,      /* the release ended (result: ok or why not) */
};

/* One change of state, with the result behind it. */
struct turn_event {
	uint8_t type;                /* enum turn_event_type */
	uint16_t channel;            /* TURN_EV_CHANNEL */
	struct turn_result result;   /* result.peer for permissions, channels */
};

/* Why received bytes were not used (counted in struct turn_stats). */
enum turn_drop {
	TURN_DROP_NONE = 0,
	TURN_DROP_MALFORMED,     /* neither STUN nor ChannelData that decodes */
	TURN_DROP_UNMATCHED,     /* a response to no request in flight */
	TURN_DROP_INTEGRITY,     /* a response whose integrity does not check */
	TURN_DROP_CHANNEL,       /* ChannelData on a channel not bound */
	TURN_DROP_INDICATION,    /* an indication other than a good Data */
	TURN_DROP_REQUEST,       /* a request from the server */
	TURN_DROP_TOO_LONG,      /* a stream frame over TURN_STREAM_MAX */
	TURN_DROP_STATE,         /* data after the allocation ended */
	TURN_DROP_COUNT
};

struct turn_stats {
	uint64_t sent[5];        /* requests sent, retransmissions included:
				  * Allocate, Refresh, CreatePermission,
				  * ChannelBind, release */
	uint64_t data_out_channel, data_out_send; /* turn_client_send */
	uint64_t data_in_channel, data_in_data;   /* data from peers */
	uint64_t dropped[TURN_DROP_COUNT];
	uint64_t events_lost;    /* events over TURN_MAX_EVENTS, unread */
};

/* What one turn_client_input call did. */
struct turn_input {
	size_t used;             /* bytes of the input consumed */
	bool data;               /* data from a peer (or an ICMP report) */
	struct pbx_addr peer;    /* ... from this peer */
	uint16_t channel;        /* ... on this channel; 0: a Data indication */
	const uint8_t *p;        /* ... the data, into the caller's bytes or the
				  * client's stream buffer: valid until the
				  * next call on the client */
	size_t len;
	bool icmp;               /* a Data indication with ICMP (RFC 8656 11.6) */
	struct stun_icmp icmp_v;
	uint8_t drop;            /* enum turn_drop: bytes dropped, and why */
};

/* How to reach and talk to one TURN server. */
struct turn_client_config {
	uint8_t transport;        /* enum turn_transport */
	uint8_t families;         /* TURN_AF_IPV4 and/or TURN_AF_IPV6; 0: IPv4 */
	struct pbx_span user;     /* copied; at most TURN_TEXT_MAX - 1 bytes */
	struct pbx_span password; /* copied, wiped by turn_client_cleanup */
	uint32_t lifetime;        /* s to ask for; 0: the server's default */
	uint32_t rto_ms;          /* UDP: first RTO; 0: TURN_RTO_MS */
	uint8_t max_sends;        /* UDP: sends of one request (Rc); 0: TURN_RC */
	uint32_t tx_cap_ms;       /* a transaction's time bound; 0: the RFC's
				   * (39.5 s with the defaults) */
	/* Random bytes for transaction IDs; NULL: GnuTLS's nonce generator. */
	void (*random)(void *arg, void *buf, size_t n);
	void *random_arg;
};

struct turn_tx;   /* private: one request in flight (client.c) */

struct turn_perm {            /* private: a permission (client.c) */
	struct pbx_addr ip;   /* port 0 */
	uint8_t state;        /* enum turn_peer_state */
	uint8_t refreshing;   /* the request in flight is a refresh */
	int8_t tx;            /* transaction in flight, -1 */
	int64_t refresh_at;   /* ms; INT64_MAX: none */
	struct turn_result r;
};

struct turn_chan {            /* private: a channel binding (client.c) */
	struct pbx_addr peer;
	uint16_t number;
	uint8_t state;        /* enum turn_peer_state */
	uint8_t refreshing;
	int8_t tx;
	int64_t refresh_at;
	struct turn_result r;
};

struct turn_tx {
	uint8_t used;
	uint8_t kind;          /* which request */
	uint8_t sends;
	uint8_t stale;
	uint8_t authed;        /* sent with credentials */
	int16_t ref;           /* permission or channel index */
	uint8_t tid[STUN_TID_LEN];
	uint32_t rto;
	int64_t started, first, next_send, deadline;
	uint16_t len;
	uint8_t buf[TURN_REQ_MAX];
};

/* One client of one TURN server.  Caller-owned (turn_client_init /
 * turn_client_cleanup); every field is private: read it through the
 * functions below. */
struct turn_client {
	struct turn_client_config cfg;
	char user[TURN_TEXT_MAX];
	char password[TURN_TEXT_MAX];
	char realm[TURN_TEXT_MAX];
	char nonce[TURN_TEXT_MAX];
	uint8_t pwalgs[64];       /* PASSWORD-ALGORITHMS to echo */
	uint16_t pwalgs_len;
	bool have_key, echo_pwalgs;
	struct stun_key key;
	uint8_t state;            /* enum turn_state */
	struct turn_allocation alloc;
	struct turn_result alloc_r, refresh_r, release_r;
	int64_t refresh_at;       /* ms; INT64_MAX: none */
	struct turn_tx tx[TURN_MAX_TX];
	struct turn_perm perm[TURN_MAX_PERMS];
	size_t n_perm;
	struct turn_chan chan[TURN_MAX_CHANNELS];
	size_t n_chan;
	uint16_t next_channel;
	struct turn_event ev[TURN_MAX_EVENTS];
	size_t ev_head, ev_n;
	uint8_t ind_tid[STUN_TID_LEN]; /* Send indications: a counter */
	/* Stream framing (data.c). */
	uint8_t sbuf[TURN_STREAM_MAX];
	size_t shave, sskip;
	bool broken;
	struct turn_stats stats;
};

/* turn_client_init - set c up for one server with cfg (copied; the texts
 * too).  Sends nothing yet.  Returns 0, PBX_E_INVALID (a transport or
 * family outside the enums, no user name) or PBX_E_TOOLONG (user name or
 * password of TURN_TEXT_MAX bytes or more). */
PBX_API int turn_client_init(struct turn_client *c, const struct turn_client_config *cfg);

/* turn_client_cleanup - wipe the password and the key from c.  c may be
 * set up again with turn_client_init. */
PBX_API void turn_client_cleanup(struct turn_client *c);

/* turn_client_allocate - start the Allocate at now: REQUESTED-TRANSPORT
 * UDP, the families of the configuration, then the long-term credential
 * exchange (401 with realm and nonce, the signed retry; 438 retried with
 * the new nonce).  Returns 0, or PBX_E_INVALID if c is not idle. */
PBX_API int turn_client_allocate(struct turn_client *c, int64_t now);

/* turn_client_release - delete the allocation at now: Refresh with
 * LIFETIME 0, after which the state is TURN_S_RELEASED and a
 * TURN_EV_RELEASED says whether the server confirmed (ok; a 437, since
 * the allocation is gone either way, is ok too) or why not.  Requests in
 * flight are cancelled.  Without an allocation (idle, allocating,
 * failed) the client is released at once.  Returns 0, or PBX_E_INVALID if
 * c is releasing or released already. */
PBX_API int turn_client_release(struct turn_client *c, int64_t now);

/* turn_client_permit - ask for a permission toward peer's IP address
 * (the port is ignored, RFC 8656 9), kept refreshed before
 * TURN_PERMISSION_S runs out until the client is released.  Sent once
 * allocated.  Asking again for an address that failed asks anew; for one
 * installed or in flight it changes nothing.  Returns 0, PBX_E_NOSPACE
 * (TURN_MAX_PERMS addresses), or PBX_E_INVALID (no IPv4 or IPv6 address;
 * the client released or failed). */
PBX_API int turn_client_permit(struct turn_client *c, const struct pbx_addr *peer, int64_t now);

/* turn_client_bind - ask for a channel to peer (address and port), the
 * next free number from TURN_CHANNEL_FIRST, kept refreshed before
 * TURN_CHANNEL_S runs out.  A bound channel also installs the permission
 * for the peer's address, which the client then refreshes too.  Until the
 * server confirms the binding, turn_client_send sends Send indications.
 * Same rules and returns as turn_client_permit (PBX_E_NOSPACE:
 * TURN_MAX_CHANNELS). */
PBX_API int turn_client_bind(struct turn_client *c, const struct pbx_addr *peer, int64_t now);

/* turn_client_poll - the next bytes to send to the server at now, into
 * buf (capacity cap, at least TURN_REQ_MAX), *len their length (0: none
 * now).  Also runs the timers: retransmissions, timeouts, refreshes.
 * Call it until *len is 0 after every other call on c and at
 * turn_client_deadline().  Returns 0, or PBX_E_NOSPACE if buf is too
 * small for the next message. */
PBX_API int turn_client_poll(struct turn_client *c, int64_t now, void *buf, size_t cap,
			     size_t *len);

/* turn_client_deadline - when turn_client_poll is next due (ms), or -1 if
 * nothing is scheduled. */
PBX_API int64_t turn_client_deadline(const struct turn_client *c);

/* turn_client_input - bytes from the server at now: one whole datagram
 * over UDP; over TCP/TLS the next bytes of the stream, any number.  Uses
 * up to len bytes (in->used) and stops after one data event (in->data):
 * over a stream, call again with the rest until all is used.  Responses
 * settle their requests (see turn_client_event); unusable bytes are
 * dropped and counted (in->drop).  Untrusted input: decoded through the
 * STUN codec.  Returns 0, or PBX_E_MALFORMED when a stream lost its
 * framing (every request fails with TURN_R_STREAM: close the connection),
 * and then for every later call. */
PBX_API int turn_client_input(struct turn_client *c, const void *p, size_t len, int64_t now,
			      struct turn_input *in);

/* turn_client_send - data for peer, framed for the server into buf
 * (capacity cap; *len its length): ChannelData if a channel to peer is
 * bound (padded over TCP/TLS), else a Send indication.  The server drops
 * it without a permission for the peer's address.  Returns 0,
 * PBX_E_INVALID (not allocated, or no IPv4/IPv6 peer), PBX_E_TOOLONG
 * (data over 65535 bytes) or PBX_E_NOSPACE. */
PBX_API int turn_client_send(struct turn_client *c, const struct pbx_addr *peer, const void *data,
			     size_t n, void *buf, size_t cap, size_t *len);

/* turn_client_closed - the stream to the server closed (or the caller
 * gives up on the server) at now: every request fails with TURN_R_CLOSED,
 * an allocation is lost (over TCP/TLS the server deletes it too), a
 * release ends. */
PBX_API void turn_client_closed(struct turn_client *c, int64_t now);

/* turn_client_icmp - the caller saw an ICMP error (type, code) for the
 * path to the server at now (ECONNREFUSED on a connected UDP socket is
 * port unreachable, type 3 code 3): every request in flight fails with
 * TURN_R_ICMP. */
PBX_API void turn_client_icmp(struct turn_client *c, uint8_t type, uint8_t code, int64_t now);

/* turn_client_event - the oldest unread event into *ev.  Returns true if
 * there was one. */
PBX_API bool turn_client_event(struct turn_client *c, struct turn_event *ev);

/* turn_client_state - the client's state. */
PBX_API enum turn_state turn_client_state(const struct turn_client *c);

/* turn_client_allocation - the allocation as granted (valid once
 * allocated) into *a, and the result of the Allocate into *r (either may
 * be NULL): while failed, why. */
PBX_API void turn_client_allocation(const struct turn_client *c, struct turn_allocation *a,
				    struct turn_result *r);

/* turn_client_refresh_result - the last Refresh's result (for a lost
 * allocation: why), and turn_client_release_result the release's. */
PBX_API void turn_client_refresh_result(const struct turn_client *c, struct turn_result *r);
PBX_API void turn_client_release_result(const struct turn_client *c, struct turn_result *r);

/* turn_client_permission - the state of the permission for peer's IP
 * address, and its last result into *r (may be NULL).  TURN_P_NONE if
 * never asked. */
PBX_API enum turn_peer_state turn_client_permission(const struct turn_client *c,
						    const struct pbx_addr *peer,
						    struct turn_result *r);

/* turn_client_channel - the state of the channel to peer, its number
 * into *ch and its last result into *r (either may be NULL). */
PBX_API enum turn_peer_state turn_client_channel(const struct turn_client *c,
						 const struct pbx_addr *peer, uint16_t *ch,
						 struct turn_result *r);

/* turn_client_stats - the client's counters. */
PBX_API const struct turn_stats *turn_client_stats(const struct turn_client *c);

/* turn_reason_name - the stable name of a reason ("nonce-loop");
 * "unknown" outside the enum. */
PBX_API const char *turn_reason_name(enum turn_reason r);

/* turn_reason_of_code - the reason a STUN error code maps to (486 ->
 * TURN_R_QUOTA; codes without their own reason -> TURN_R_ERROR). */
PBX_API enum turn_reason turn_reason_of_code(int code);

/* turn_state_name - "idle", "allocating"...; "unknown" outside the enum. */
PBX_API const char *turn_state_name(enum turn_state s);

/* turn_drop_name - "malformed", "unmatched"...; "unknown" outside. */
PBX_API const char *turn_drop_name(enum turn_drop d);

#endif
