/* turnd.h - what turnd's files share: its configuration as understood, the
 * pure parts (peer policy, port pool, per-allocation peer table,
 * nonces), the shared context, per-worker state, allocations,
 * counters and the method table. */
#ifndef TURND_H
#define TURND_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <pbxedge/addr.h>
#include <pbxedge/daemon.h>
#include <pbxedge/dgram.h>
#include <pbxedge/fraud.h>
#include <pbxedge/store.h>
#include <pbxedge/stream.h>
#include <pbxedge/stun.h>
#include <pbxedge/tls.h>

#define TURND_UDP_MAX 2048        /* largest datagram taken from a client */
#define TURND_PEER_MAX 1500       /* largest datagram relayed from a peer */
#define TURND_HEADROOM 48         /* a Data indication's header before the data */
#define TURND_ANSWER_MAX 1024     /* largest answer built */
#define TURND_BATCH 32            /* datagrams per recvmmsg/sendmmsg */
#define TURND_MAX_CONNS 4096      /* TCP and TLS connections per worker */

/* RFC 8656 timers, in seconds. */
#define TURND_LIFETIME_DEFAULT 600
#define TURND_LIFETIME_MAX 3600
#define TURND_PERMISSION_S 300
#define TURND_CHANNEL_S 600
/* After a channel binding expires, its number and its peer stay reserved
 * this long (RFC 8656 12): neither is bound to anything else meanwhile. */
#define TURND_CHANNEL_PAUSE_S 300
#define TURND_RESERVATION_S 30
#define TURND_NONCE_S 600         /* a nonce is stale after this */

enum turnd_transport { T_UDP, T_TCP, T_TLS };

/* ---- config.c: the configuration as understood ---- */

#define TURND_MAX_LISTEN 16
#define TURND_MAX_PROBLEMS 8
#define TURND_MAX_NETS 64

struct turnd_config {
	struct pbx_addr listen[TURND_MAX_LISTEN];     /* UDP and TCP */
	size_t n_listen;
	struct pbx_addr tls_listen[TURND_MAX_LISTEN];
	size_t n_tls_listen;
	bool tls;                       /* certificate and key set */
	uint16_t min_port, max_port;
	struct pbx_cidr allow[TURND_MAX_NETS], deny[TURND_MAX_NETS];
	size_t n_allow, n_deny;
	bool external_auto;             /* turnd.external-ip auto */
	struct pbx_addr external;       /* a literal turnd.external-ip, or empty */
	char problem[TURND_MAX_PROBLEMS][320];
	size_t n_problems;
};

/* config_load - understand snap's turnd settings into *cfg.  Returns the
 * number of problems (in cfg->problem); with problems, turnd refuses the
 * configuration. */
size_t config_load(const struct store_snapshot *snap, struct turnd_config *cfg);

/* config_print - the effective configuration, for --check. */
void config_print(const struct turnd_config *cfg, const struct store_snapshot *snap, FILE *out);

/* config_external_auto - the external address natd found last (nat_result
 * of the first logical server) into *out (port 0).  Returns 0 or
 * PBX_E_NOTFOUND (none yet) or an error. */
int config_external_auto(const char *db_path, struct pbx_addr *out);

/* ---- policy.c: which peers turnd relays to (pure) ---- */

/* Why a peer address is refused; POLICY_OK allows it. */
enum turnd_policy {
	POLICY_OK = 0,
	POLICY_DENIED,        /* in turnd.deny-peer */
	POLICY_LOOPBACK,
	POLICY_UNSPECIFIED,
	POLICY_LINK_LOCAL,
	POLICY_MULTICAST,
	POLICY_PRIVATE,       /* RFC 1918, RFC 6598, ULA, and other special ranges */
	POLICY_OWN,           /* one of turnd's listening addresses */
	POLICY_PORT_ZERO,
};

/* policy_check - the verdict on relaying to peer: deny-peer wins; then
 * an allow-peer network that covers it allows it; otherwise the special
 * ranges and own (n_own listening addresses, port compared unless 0) are
 * refused. */
enum turnd_policy policy_check(const struct pbx_addr *peer, const struct pbx_cidr *allow,
			       size_t n_allow, const struct pbx_cidr *deny, size_t n_deny,
			       const struct pbx_addr *own, size_t n_own);

/* policy_relayed - whether peer may be one of turnd's relayed addresses:
 * its address is one of own (the addresses turnd listens and relays on,
 * wildcards skipped) and its port is none of their listening ports.  With
 * a relay port in use there, the peer is another allocation of this turnd,
 * allowed in the private ranges and on own addresses, not on loopback. */
bool policy_relayed(const struct pbx_addr *peer, const struct pbx_addr *own, size_t n_own);

/* policy_name - the stable name of a verdict ("loopback"). */
const char *policy_name(enum turnd_policy p);

/* ---- ports.c: the relay port pool, shared by the workers ---- */

struct turnd_ports;

/* ports_new - a pool of the ports min..max.  NULL without memory. */
struct turnd_ports *ports_new(uint16_t min, uint16_t max);
void ports_free(struct turnd_ports *p);

/* ports_take - take a free port into *port; with even, an even one, and
 * with reserve also keep port+1 for RESERVATION-TOKEN *token (random)
 * until now_s + TURND_RESERVATION_S.  Returns 0 or PBX_E_NOSPACE. */
int ports_take(struct turnd_ports *p, bool even, bool reserve, int64_t now_s, uint16_t *port,
	       uint64_t *token);

/* ports_take_reserved - the port kept for token.  Returns 0 or
 * PBX_E_NOTFOUND (unknown or expired token). */
int ports_take_reserved(struct turnd_ports *p, uint64_t token, int64_t now_s, uint16_t *port);

/* ports_give - return a port to the pool. */
void ports_give(struct turnd_ports *p, uint16_t port);

/* ports_held - whether port is taken by an allocation now. */
bool ports_held(struct turnd_ports *p, uint16_t port);

/* ports_in_use - ports taken or reserved now. */
size_t ports_in_use(struct turnd_ports *p);

/* ---- peers.c: one allocation's permissions and channels (pure) ---- */

/* An open-addressing table with three kinds of entries: permissions by
 * IP address, channels by peer address and channels by number. */
struct peer_ent;
struct peer_table {
	struct peer_ent *e;
	uint32_t cap, used;   /* used: live and dead slots */
	uint32_t n_perm, n_chan;
	uint32_t n_cooling;   /* expired channel bindings still reserved */
};

#define PEERS_MAX_PERM 128
#define PEERS_MAX_CHAN 128

void peers_init(struct peer_table *t);
void peers_cleanup(struct peer_table *t);

/* peers_permit - install or refresh a permission for peer's IP address
 * until expires.  Returns 0, PBX_E_NOSPACE (PEERS_MAX_PERM) or -ENOMEM. */
int peers_permit(struct peer_table *t, const struct pbx_addr *peer, int64_t expires,
		 int64_t now);

/* peers_permitted - true if peer's IP address holds a live permission. */
bool peers_permitted(const struct peer_table *t, const struct pbx_addr *peer, int64_t now);

/* peers_bind - bind channel ch to peer until expires, or refresh the
 * binding.  Returns 0; PBX_E_EXISTS if ch is bound to another peer or
 * peer to another channel (RFC 8656 11.2: 400); PBX_E_NOSPACE; -ENOMEM. */
int peers_bind(struct peer_table *t, uint16_t ch, const struct pbx_addr *peer, int64_t expires,
	       int64_t now);

/* peers_channel_peer - the peer of live channel ch into *peer.  Returns
 * 0 or PBX_E_NOTFOUND. */
int peers_channel_peer(const struct peer_table *t, uint16_t ch, int64_t now,
		       struct pbx_addr *peer);

/* peers_peer_channel - the live channel bound to peer into *ch.  Returns
 * 0 or PBX_E_NOTFOUND. */
int peers_peer_channel(const struct peer_table *t, const struct pbx_addr *peer, int64_t now,
		       uint16_t *ch);

/* peers_expire - drop what expired at now, except channel bindings, which
 * are dropped TURND_CHANNEL_PAUSE_S after they expired; the live counts
 * stay in n_perm and n_chan, the reserved bindings in n_cooling.
 * PEERS_MAX_CHAN bounds live and reserved bindings together. */
void peers_expire(struct peer_table *t, int64_t now);

/* ---- auth.c: nonces (TURN REST credentials: pbxedge/turn.h) ---- */

/* auth_nonce_make - a nonce for client valid until now + TURND_NONCE_S,
 * bound to it by an HMAC with secret (16 bytes), into out (size n). */
void auth_nonce_make(const uint8_t secret[16], const struct pbx_addr *client, int64_t now,
		     char *out, size_t n);

/* auth_nonce_check - 0 for a nonce made for client that is still fresh,
 * PBX_E_TOOLONG for one that went stale (438), PBX_E_MALFORMED for one
 * turnd never made (401). */
int auth_nonce_check(const uint8_t secret[16], const struct pbx_addr *client, int64_t now,
		     struct pbx_span nonce);

/* ---- the shared context (main.c) ---- */

struct turnd_shared {
	_Atomic unsigned refs;
	struct turnd_ports *ports;
	uint16_t min_port, max_port;
	pthread_mutex_t lock;          /* quotas below */
	struct user_count *users;      /* allocations per user */
	size_t n_users, cap_users;
	size_t total;                  /* live allocations */
	uint8_t nonce_secret[16];
	struct fraud *fraud;
	_Atomic uint64_t next_id;
};

struct turnd_ctx {
	_Atomic unsigned refs;
	struct turnd_shared *shared;
	struct turnd_config cfg;
	struct pbx_tls_server_files tls; /* tls.creds NULL: no usable certificate */
	struct pbx_addr external;      /* advertised address, or empty */
	char db_path[4096];
};

void turnd_ctx_ref(void *ctx);
void turnd_ctx_unref(void *ctx);

/* shared_ref / shared_unref - references to the shared state; the last
 * one frees it. */
void shared_ref(struct turnd_shared *s);
void shared_unref(struct turnd_shared *s);

/* shared_quota_take - count an allocation of user against the quotas
 * (per user, total; 0: none).  False: over one of them. */
bool shared_quota_take(struct turnd_shared *s, const char *user, unsigned per_user,
		       unsigned total);
/* shared_quota_give - undo shared_quota_take. */
void shared_quota_give(struct turnd_shared *s, const char *user);

/* ---- counters ---- */

enum turnd_counter {
	C_ALLOCATIONS,        /* made */
	C_ALLOCATIONS_ENDED,
	C_REFRESHES,
	C_PERMISSIONS,
	C_CHANNEL_BINDS,
	C_BINDINGS,
	C_ERRORS,             /* error responses sent */
	C_UNAUTHENTICATED,    /* 401 without credentials: the first round */
	C_WRONG_CREDENTIALS,  /* 401 after credentials */
	C_STALE_NONCES,
	C_FORBIDDEN_PEERS,
	C_QUOTA,              /* 486 */
	C_CAPACITY,           /* 508 */
	C_MISMATCH,           /* 437 */
	C_BAD_REQUEST,        /* 400 */
	C_UNKNOWN_ATTR,       /* 420 */
	C_SUSPICIOUS,
	C_BLACKLIST_ADDED,
	C_RELAYED_IN,         /* datagrams client to peer */
	C_RELAYED_OUT,        /* datagrams peer to client */
	C_RELAYED_BYTES_IN,
	C_RELAYED_BYTES_OUT,
	C_CONN_ACCEPTED,
	C_CONN_CLOSED,
	C_CONN_REFUSED,
	C_TLS_FAILED,
	C_SEND_FAILED,        /* to clients */
	C_RELAY_SEND_FAILED,  /* to peers: unreachable, filtered; dropped */
	C_DROP_BASE,          /* dropped-<codec reason> */
	C_DROP_BLACKLISTED = C_DROP_BASE + STUN_DROP_COUNT,
	C_DROP_OVERSIZED,
	C_DROP_NO_ALLOCATION, /* ChannelData or Send without an allocation */
	C_DROP_NO_CHANNEL,    /* ChannelData on a channel not bound */
	C_DROP_NO_PERMISSION, /* Send to or data from a peer without permission */
	C_DROP_BANDWIDTH,     /* over turnd.bandwidth */
	C_DROP_NOT_REQUEST,   /* responses, unknown indications */
	C_DROP_BAD_INDICATION,/* a Send indication without peer or data */
	C_DROP_BAD_SOURCE,
	C_DROP_STREAM_FULL,   /* relayed data a slow stream client had no room for */
	C_COUNT
};

const char *worker_counter_name(enum turnd_counter c);

/* ---- per worker ---- */

struct turnd_worker;
struct alloc;
struct conn;

/* A listening socket turnd was handed. */
struct turnd_sock {
	struct turnd_worker *tw;
	int fd;
	enum turnd_transport t;
	struct pbx_addr addr;  /* as bound */
	bool wildcard;
	struct event *ev;      /* UDP */
	struct pbx_stream_listener *listener; /* TCP, TLS */
};

/* Where a request came from and how to answer it. */
struct turnd_from {
	enum turnd_transport t;
	struct turnd_sock *sock;        /* the listening socket */
	struct conn *conn;              /* the connection (TCP, TLS) */
	struct pbx_addr client;         /* unmapped */
	struct pbx_addr local;          /* where it arrived */
	struct pbx_dgram_arrival arrival; /* UDP: answers leave from there */
};

#define ALLOC_BUCKETS 4096

struct udp_out;
struct relay_in;

struct turnd_worker {
	struct pbx_worker *w;
	struct turnd_sock *socks[2 * TURND_MAX_LISTEN + TURND_MAX_LISTEN];
	size_t n_socks;
	struct alloc *buckets[ALLOC_BUCKETS];  /* UDP allocations by 5-tuple */
	struct alloc *all;                      /* every allocation, for the timer */
	size_t n_allocs;
	struct event *tick;
	int64_t last_status;
	struct pbx_stream_group conns;          /* TCP and TLS (tcp.c) */
	struct udp_out *out;                    /* batches (udp.c) */
	struct relay_in *relay_in;              /* relay reads (relay.c) */
	uint64_t seq;                           /* Data indication IDs */
	uint32_t count[C_COUNT];                /* batched counters */
	int64_t relay_fail_logged_ms;           /* relay_send_failed's last line */
	uint64_t relay_fail_unlogged;
};

/* worker_flush_counts - add the batched counters to the daemon's. */
void worker_flush_counts(struct turnd_worker *tw);

/* worker_drop - count a dropped message and log it (at most once a second
 * per reason). */
void worker_drop(struct turnd_worker *tw, enum turnd_counter c, const struct pbx_addr *src,
		 size_t offset, const void *bytes, size_t len);

/* worker_suspicious - count a suspicious request (wrong credentials, a
 * refused peer ...) from src in the shared fraud table; blacklist the
 * source past turnd.suspicious-per-minute. */
void worker_suspicious(struct turnd_worker *tw, const struct pbx_addr *src, const char *reason);

/* ---- alloc.c: allocations ---- */

struct alloc {
	struct alloc *hnext;            /* bucket chain (UDP) */
	struct alloc *prev, *next;      /* the worker's list */
	struct turnd_worker *tw;
	struct turnd_shared *shared;    /* reference: the pool the port is from */
	uint64_t id;
	enum turnd_transport t;
	struct turnd_sock *sock;        /* the socket clients reach */
	struct conn *conn;              /* TCP, TLS: the connection it ends with */
	struct pbx_addr client;
	struct turnd_from from;         /* how to reach the client */
	int fd;                         /* relay socket */
	struct event *ev;
	struct pbx_addr relay;          /* bound */
	struct pbx_addr advertised;     /* in XOR-RELAYED-ADDRESS */
	uint16_t port;
	bool dont_fragment;
	int64_t started;                /* Unix seconds */
	int64_t expires;                /* monotonic seconds */
	uint8_t tid[STUN_TID_LEN];      /* of the Allocate that made it */
	uint32_t lifetime;              /* granted by that Allocate */
	uint64_t token;                 /* RESERVATION-TOKEN handed out, or 0 */
	char *user;
	struct peer_table peers;
	uint64_t bytes_in, bytes_out, packets_in, packets_out;
	uint64_t reported;              /* packets when last reported */
	int64_t reported_at;
	bool report;                    /* something changed since */
	/* bandwidth: tokens (bytes) per direction, refilled per second */
	int64_t bw_at;
	uint64_t bw_in, bw_out;
};

/* alloc_find - the UDP allocation of a client 5-tuple, or NULL. */
struct alloc *alloc_find(struct turnd_worker *tw, const struct turnd_sock *s,
			 const struct pbx_addr *client);

/* alloc_new - make an allocation for from with the relay port taken from
 * the pool (even / reserve / token as asked).  Returns 0 with *out, or the
 * STUN error code to answer (508, 486, 500). */
int alloc_new(struct turnd_worker *tw, const struct turnd_from *from, const char *user,
	      int family, bool even, bool reserve, uint64_t token, uint32_t lifetime,
	      struct alloc **out);

/* alloc_free - end an allocation: log its line, release the port, the
 * quota and the status row.  reason: "expired", "refresh-0", ... */
void alloc_free(struct alloc *a, const char *reason);

/* alloc_tick_start - the worker's one-second timer (expiry, status). */
int alloc_tick_start(struct turnd_worker *tw);

/* alloc_status - report a to the store. */
void alloc_status(struct alloc *a);

/* alloc_bandwidth - true if n more bytes fit this second's budget for the
 * direction (in: from the client). */
bool alloc_bandwidth(struct alloc *a, bool in, size_t n, int64_t now_s, uint64_t cap);

/* ---- request.c: requests and the method table ---- */

/* One message in from a client. */
struct turnd_req {
	struct turnd_worker *tw;
	struct turnd_ctx *ctx;
	const struct store_snapshot *snap;
	const struct stun_msg *m;
	const struct turnd_from *from;
	struct alloc *alloc;            /* of this 5-tuple, or NULL */
	int64_t now;                    /* monotonic seconds */
	int64_t unix_now;
	/* authenticated: */
	char user[STUN_TEXT_MAX + 1];
	struct stun_key key;
	bool sha256;                    /* answer with MESSAGE-INTEGRITY-SHA256 */
	/* the answer */
	uint8_t *buf;
	size_t cap, len;
};

/* A method handler: build the answer into r->buf (r->len), or nothing
 * (indications). */
struct turnd_method {
	uint16_t method;
	bool auth;                      /* needs long-term credentials */
	bool needs_alloc;               /* 437 without an allocation */
	const uint16_t *understood;     /* comprehension-required attributes */
	size_t n_understood;
	void (*request)(struct turnd_req *r);
	void (*indication)(struct turnd_req *r);
};

extern const struct turnd_method method_allocate, method_refresh, method_permission,
	method_channel_bind, method_send;

/* allocate_lifetime - the lifetime granted for m's LIFETIME (RFC 8656
 * 7.2, 7.3; m NULL: none asked): the default if absent or less, at most
 * max (turnd.max-lifetime), which also caps the default; 0 stays 0
 * (Refresh deletes). */
uint32_t allocate_lifetime(const struct stun_msg *m, uint32_t max);

/* request_message - handle one STUN message from a client (len bytes at
 * p); any answer is in r->buf, r->len bytes. */
void request_message(struct turnd_req *r, const uint8_t *p, size_t len);

/* request_error - answer r with error code (and its attributes). */
void request_error(struct turnd_req *r, int code);

/* request_begin_success / request_end - start the success answer, and
 * sign and finish it. */
void request_begin_success(struct turnd_req *r, struct stun_enc *e);
void request_end(struct turnd_req *r, struct stun_enc *e);

/* request_peer_policy - the peer policy's verdict on peer for this
 * request's client: policy_check over turnd's own addresses, with the
 * exception for a relay port in use on an address turnd relays on (relay
 * to relay).  The exception holds for that transport address only: a
 * permission is per IP, so what goes to a peer on turnd's own addresses
 * is checked again per destination. */
enum turnd_policy request_peer_policy(struct turnd_req *r, const struct pbx_addr *peer);

/* request_peer - read XOR-PEER-ADDRESS at index i and check it against
 * the policy and the allocation's family.  Returns 0 or the error code
 * already answered. */
int request_peer(struct turnd_req *r, size_t i, struct pbx_addr *peer);

/* ---- relay.c: the data path ---- */

/* relay_chandata - ChannelData from the client of a. */
void relay_chandata(struct alloc *a, const struct stun_chandata *cd, int64_t now);

/* relay_to_peer - send len bytes at p to peer from a's relay socket; now
 * is the caller's turnd_now(), read once per batch. */
void relay_to_peer(struct alloc *a, const struct pbx_addr *peer, const void *p, size_t len,
		   int64_t now);

/* relay_open - start reading a's relay socket.  Returns 0 or -errno. */
int relay_open(struct alloc *a);

/* relay_close - stop reading it. */
void relay_close(struct alloc *a);

/* relay_free - the worker's relay buffers. */
void relay_free(struct turnd_worker *tw);

/* ---- udp.c, tcp.c: client transports ---- */

/* out_init - the worker's batch buffers.  Returns 0 or -ENOMEM. */
int out_init(struct turnd_worker *tw);

int udp_open(struct turnd_sock *s);
void udp_close(struct turnd_sock *s);
void udp_free(struct turnd_worker *tw);

/* udp_source_ok - whether a source may be served: not on the blacklist
 * (a hit is counted for its entry), not blocked locally by the fraud table
 * while its entry is on its way to the store. */
bool udp_source_ok(struct turnd_worker *tw, const struct pbx_addr *src,
		   const struct store_snapshot *snap, struct turnd_ctx *ctx, int64_t unix_now);

/* client_slot - a buffer of TURND_UDP_MAX + TURND_HEADROOM bytes for the
 * next message to a client; client_commit sends its first len bytes to
 * the client of from (UDP: queued for the batch; streams: appended to
 * the connection). */
uint8_t *client_slot(struct turnd_worker *tw);
void client_commit(struct turnd_worker *tw, const struct turnd_from *from, size_t len);

/* peer_queue - queue len bytes at p (valid until the flush) to peer from
 * the relay socket fd. */
void peer_queue(struct turnd_worker *tw, int fd, const struct pbx_addr *peer, const void *p,
		size_t len);

/* relay_send_failed - count n datagrams to peers from relay socket fd
 * that the kernel refused (the last with error err), and log them at most
 * once a second: they are dropped, the allocation lives on (peers
 * routinely check private addresses that no route leads to). */
void relay_send_failed(struct turnd_worker *tw, int fd, unsigned n, int err);

/* out_flush - send what is queued for clients and peers. */
void out_flush(struct turnd_worker *tw);

int tcp_open(struct turnd_sock *s);
void tcp_close(struct turnd_sock *s);
void tcp_close_all(struct turnd_worker *tw);
/* conn_send - queue len bytes for the client of c (dropped if no room). */
void conn_send(struct conn *c, const void *p, size_t len);
/* conn_alloc_gone - c's allocation ended (expired). */
void conn_alloc_gone(struct conn *c);

/* turnd_db_path - the store's path (main.c). */
const char *turnd_db_path(void);

int64_t turnd_now(void);

#endif
