/* stund.h - what stund's files share: its configuration as understood,
 * the shared context, per-worker state, counters, and the answer builder. */
#ifndef STUND_H
#define STUND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <pbxedge/addr.h>
#include <pbxedge/daemon.h>
#include <pbxedge/store.h>
#include <pbxedge/stream.h>
#include <pbxedge/stun.h>
#include <pbxedge/tls.h>

#define STUND_UDP_MAX 2048        /* largest datagram taken; longer: "oversized" */
#define STUND_FRAME_MAX 2048      /* largest STUN message taken on a stream */
#define STUND_ANSWER_MAX 2048     /* largest answer built */
#define STUND_AMP_FACTOR 4        /* an answer over UDP is at most this many
				   * times as long as its request */
#define STUND_PADDING_TARGET 1500 /* PADDING asked for: up to the Ethernet MTU */
#define STUND_BATCH 64            /* datagrams per recvmmsg/sendmmsg */
#define STUND_MAX_CONNS 1024      /* TCP and TLS connections per worker */

/* The four address and port combinations of RFC 5780 (section 3): bit 1
 * is the alternate address, bit 0 the alternate port.  A1:P1 is the
 * primary, A2:P2 the alternate; CHANGE-REQUEST flips the bits. */
enum stund_role { R_A1P1 = 0, R_A1P2 = 1, R_A2P1 = 2, R_A2P2 = 3, R_COUNT = 4 };
#define R_IP 2
#define R_PORT 1

enum stund_transport { T_UDP, T_TCP, T_TLS };

/* A listen spec's tag: role and transport. */
#define STUND_TAG(role, t) ((int)(role) | (int)(t) << 2)
#define STUND_TAG_ROLE(tag) ((enum stund_role)((tag) & 3))
#define STUND_TAG_T(tag) ((enum stund_transport)((tag) >> 2))

/* ---- config.c: the configuration as understood ---- */

#define STUND_MAX_PROBLEMS 8

struct stund_config {
	bool on;                        /* stund.primary set */
	bool alternate;                 /* stund.alternate set: four combinations */
	struct pbx_addr addr[R_COUNT];  /* by role; [R_A1P1] only without alternate */
	bool tls;                       /* certificate and key set */
	struct pbx_addr tls_addr;       /* primary address, stund.tls-port */
	char problem[STUND_MAX_PROBLEMS][320];
	size_t n_problems;
};

/* config_load - understand snap's stund settings into *cfg and check them
 * against each other and against turnd's ports.  Returns the number of
 * problems (in cfg->problem); with problems, stund refuses the
 * configuration. */
size_t config_load(const struct store_snapshot *snap, struct stund_config *cfg);

/* config_print - the effective listeners of cfg, for --check. */
void config_print(const struct stund_config *cfg, FILE *out);

/* ---- limit.c: per-source limits, shared by the workers ---- */

struct stund_limit;

/* limit_new - the shared tables (about 1.2 MiB), one reference.  Returns
 * NULL without memory.  limit_ref / limit_unref take and drop references
 * (any thread); the last one frees them. */
struct stund_limit *limit_new(void);
struct stund_limit *limit_ref(struct stund_limit *l);
void limit_unref(struct stund_limit *l);

/* limit_take - take one message's token from src's bucket (rate tokens
 * per second, at most burst kept) at now_ms.  False: over the limit. */
bool limit_take(struct stund_limit *l, const struct pbx_addr *src, uint64_t now_ms,
		uint32_t rate, uint32_t burst);

/* limit_conn_open - count a connection from src unless it already holds
 * max; false if refused.  limit_conn_close undoes an accepted one. */
bool limit_conn_open(struct stund_limit *l, const struct pbx_addr *src, unsigned max);
void limit_conn_close(struct stund_limit *l, const struct pbx_addr *src);

/* ---- main.c: the shared context and the workers ---- */

struct stund_ctx {
	_Atomic unsigned refs;
	struct pbx_tls_server_files tls; /* tls.creds NULL: no usable certificate */
	struct stund_limit *limit;      /* reference, handed from one context to
					 * the next */
};

/* stund_ctx_ref / stund_ctx_unref - the skeleton's ctx_ref and ctx_unref. */
void stund_ctx_ref(void *ctx);
void stund_ctx_unref(void *ctx);

/* Counters stund reports through the store. */
enum stund_counter {
	C_ANSWERED_UDP,
	C_ANSWERED_TCP,
	C_ANSWERED_TLS,
	C_ANSWERED_CHANGED,   /* sent from another address or port */
	C_ERRORS,             /* error responses sent */
	C_TRIMMED,            /* answers cut to the amplification bound */
	C_INDICATIONS,        /* Binding indications (keep-alives, no answer) */
	C_CONN_ACCEPTED,
	C_CONN_REFUSED,       /* over stund.tcp-per-source or the worker's limit */
	C_CONN_IDLE,          /* closed for idleness */
	C_TLS_FAILED,
	C_SEND_FAILED,
	C_DROP_BASE,          /* dropped-<codec reason>, enum stun_drop */
	C_DROP_RATE = C_DROP_BASE + STUN_DROP_COUNT,
	C_DROP_BLACKLISTED,
	C_DROP_AMPLIFICATION,
	C_DROP_OVERSIZED,
	C_DROP_NOT_REQUEST,
	C_DROP_BAD_SOURCE,
	C_DROP_NO_SOCKET,
	C_COUNT
};

struct stund_worker;

/* A socket stund was handed (listening, or bound UDP). */
struct stund_sock {
	struct stund_worker *sw;
	int fd;
	enum stund_role role;
	enum stund_transport t;
	struct pbx_addr addr;  /* as bound */
	bool wildcard;         /* bound to 0.0.0.0 or ::: answers need pktinfo */
	struct event *ev;      /* UDP */
	struct pbx_stream_listener *listener; /* TCP, TLS */
};

struct udp_batch;

/* Per-worker state. */
struct stund_worker {
	struct pbx_worker *w;
	struct stund_sock *udp[R_COUNT];
	struct stund_sock *tcp[R_COUNT];
	struct stund_sock *tls;
	struct udp_batch *batch;
	struct pbx_stream_group conns;  /* TCP and TLS (tcp.c) */
};

/* worker_drop - log a dropped message (the caller counts it), at most
 * once a second per reason (pbx_worker_drop); bytes/len (may be NULL)
 * are kept as an excerpt for rpctl status unless the drop was for the
 * source (blacklisted, rate-limited), not for what it sent. */
void worker_drop(struct stund_worker *sw, enum stund_counter c, const struct pbx_addr *src,
		 size_t offset, const void *bytes, size_t len);

/* worker_counter_name - the name of counter c ("dropped-truncated"). */
const char *worker_counter_name(enum stund_counter c);

/* ---- answer.c: the answer to one message ---- */

/* One message as received. */
struct stund_req {
	const struct stun_msg *m;
	enum stund_transport t;
	const struct pbx_addr *peer;    /* the source, unmapped */
	const struct pbx_addr *local;   /* where it arrived (address and port) */
	enum stund_role role;           /* the combination it arrived at */
	/* The addresses the answer may come from, by role (NULL: not held):
	 * [role] is local; the others exist with an alternate only. */
	const struct pbx_addr *from[R_COUNT];
	const char *software;           /* "" for none */
};

/* What to do with it. */
struct stund_answer {
	size_t len;             /* answer bytes at the start of the buffer; 0: none */
	enum stund_role role;   /* the combination to send from */
	uint16_t port;          /* destination port: the source's or RESPONSE-PORT */
	bool error;             /* an error response */
	bool trimmed;           /* optional attributes left out for the bound */
	int counter;            /* len 0: the counter to add one to (-1: none) */
	bool dropped;           /* ... and the message was dropped */
	uint32_t drop_off;      /* byte offset where decoding failed */
};

/* answer_message - decode the len bytes at p as one STUN message and build
 * the answer into buf (cap bytes); over UDP the answer is at most
 * STUND_AMP_FACTOR times len.  Fills *a. */
void answer_message(const uint8_t *p, size_t len, struct stund_req *r, uint8_t *buf,
		    size_t cap, struct stund_answer *a);

/* ---- udp.c ---- */

/* udp_open - start reading the UDP socket s.  Returns 0 or -errno. */
int udp_open(struct stund_sock *s);
/* udp_close - stop reading it and close it. */
void udp_close(struct stund_sock *s);
/* udp_batch_free - the worker's buffers. */
void udp_batch_free(struct udp_batch *b);

/* ---- tcp.c ---- */

/* tcp_open - start accepting on the listening socket s (TCP or TLS). */
int tcp_open(struct stund_sock *s);
/* tcp_close - stop accepting and close it; when draining, also close
 * the connections with nothing left to send. */
void tcp_close(struct stund_sock *s);
/* tcp_close_all - close every connection of the worker. */
void tcp_close_all(struct stund_worker *sw);

/* ---- helpers ---- */

/* now_ms - a monotonic clock in milliseconds (no system call). */
int64_t stund_now_ms(void);

#endif
