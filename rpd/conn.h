/* conn.h - one reverse-proxy connection: the client side, the target side,
 * and a flow of bytes each way that is framed and inspected as it goes. */
#ifndef RPD_CONN_H
#define RPD_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <pbxedge/addr.h>
#include <pbxedge/daemon.h>
#include <pbxedge/http.h>
#include <pbxedge/inspect.h>
#include <pbxedge/store.h>
#include <pbxedge/tls.h>

#include "ctx.h"
#include "route.h"

struct event;

/* Counters rpd reports through the store. */
enum rpd_counter {
	C_ACCEPTED,
	C_BLACKLISTED,
	C_ROUTED,        /* connections that reached a target */
	C_REQUESTS,      /* requests (messages) routed, first and later */
	C_SUSPICIOUS,
	C_BLACKLIST_ADDED,
	C_BYTES_UP,
	C_BYTES_DOWN,
	C_REFUSED_BASE,  /* one per enum pbx_reason */
	C_COUNT = C_REFUSED_BASE + PBX_R_COUNT
};

/* One end of the connection. */
struct side {
	int fd;
	struct pbx_tls *tls;
	struct event *rev, *wev;
	bool rev_on, wev_on;
	bool read_wants_write;   /* a TLS read needs the socket writable */
	bool write_wants_read;   /* a TLS write needs the socket readable */
	bool readable;           /* the socket said it has bytes (or may have) */
	bool eof;                /* nothing more will be read */
	bool shut;               /* our write side is closed */
};

enum flow_state {
	F_HEAD,      /* waiting for the next message head */
	F_LENGTH,    /* copying `left` bytes of body */
	F_CHUNKED,   /* copying a chunked body */
	F_CLOSE,     /* copying until the source closes */
	F_TUNNEL,    /* copying everything, uninspected (after an upgrade) */
};

/* Recently freed buffers of a worker, reused before asking malloc: a
 * keep-alive request takes and gives back up to four of them. */
#define POOL_KEEP 64
struct buf_pool {
	size_t size[2];
	void *free[2][POOL_KEEP];
	int n[2];
};

/* pool_get / pool_put - a buffer of size bytes (NULL if out of memory),
 * and back. */
void *pool_get(struct buf_pool *p, size_t size);
void pool_put(struct buf_pool *p, void *buf, size_t size);
/* pool_free - release every cached buffer. */
void pool_free(struct buf_pool *p);

/* Bytes going one way: read into `in`, inspected/framed, copied (or
 * rewritten) into `out`, written from `out`.  Plain-to-plain bodies and
 * tunnels bypass both through a pipe with splice(2). */
struct flow {
	struct side *src, *dst;
	struct buf_pool *pool;
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t *out;
	size_t out_off, out_len, out_cap;
	enum flow_state st;
	uint64_t left;
	struct pbx_chunks chunks;
	int pipe[2];
	size_t piped;
	uint64_t bytes;
};

enum conn_phase {
	P_HANDSHAKE,    /* TLS with the client */
	P_INSPECT,      /* waiting for the first routable message */
	P_CONNECT,      /* connecting to the target */
	P_TARGET_TLS,   /* TLS with the target */
	P_RELAY,
	P_REFUSING,     /* sending our refusal, then closing */
};

struct rpd_worker;

struct conn {
	struct rpd_worker *rw;
	struct pbx_worker *w;
	struct conn *prev, *next;   /* the worker's list, for shutdown */
	enum store_proto proto;
	const struct pbx_inspector *in;
	void *istate;
	struct rpd_ctx *ctx;        /* reference */
	struct pbx_addr client;
	struct pbx_cidr source;     /* as fraud detection counts it */
	char client_text[PBX_ADDRSTRLEN];
	struct side c, t;
	struct flow up, down;       /* client to target, target to client */
	enum conn_phase phase;
	struct event *timer;
	int64_t started_ms;         /* accept */
	int64_t phase_ms;           /* when the current phase began */
	int64_t active_ms;          /* the last time bytes moved */
	int64_t head_ms;            /* when the pending request head began */
	unsigned messages;          /* client messages inspected so far */
	unsigned head_msg;          /* the message head_ms belongs to */
	/* Routing. */
	char name[256];             /* the service name, as configured */
	char asked[256];            /* a later request's name, when refused */
	char target_host[256];
	uint16_t target_port;
	bool target_tls;
	char target_text[PBX_ADDRSTRLEN + 8];
	enum route_rule rule;       /* what chose the target port */
	struct {                    /* H.323: the standby location's target */
		bool have;
		char name[256];
		char host[256];
		uint16_t port;
		bool tls;
		enum route_rule rule;
	} standby;
	const struct rpd_host *addrs; /* in ctx */
	int addr_next;
	/* Conversation. */
	unsigned requests;
	bool awaiting_reply;        /* lockstep: a request is out, no reply yet */
	bool reply_final;           /* lockstep: its final reply head went out */
	bool upgrade_asked;         /* the pending request asked to switch protocols */
	unsigned unanswered;        /* not lockstep: requests routed, no final reply */
	/* A later request refused while earlier ones still had their
	 * answers on the way: they are delivered first (bounded), then the
	 * refusal, which is already logged and counted. */
	struct {
		bool on;
		enum pbx_reason reason;
		uint8_t *msg;           /* the refused message (for the refusal) */
		size_t len;
		int64_t start_ms;
	} drain;
	bool client_cert_sent, client_cert_ok;
	char cert_cn[256];          /* the client certificate's subject CN */
	enum pbx_reason outcome;
	bool in_pump;
	bool dead;
};

/* Per-worker state of rpd. */
struct rpd_worker {
	struct pbx_worker *w;
	struct conn *conns;
	struct buf_pool pool;
	uint8_t scratch[65536];     /* one head rewritten at a time */
};

/* conn_accept - take over an accepted client socket of a proto listener. */
void conn_accept(struct rpd_worker *rw, enum store_proto proto, int fd,
		 const struct pbx_addr *client);

/* conn_close_all - close every connection of the worker (it is stopping). */
void conn_close_all(struct rpd_worker *rw);

/* ---- relay.c: moving bytes ---- */

/* flow_init - set up a flow from src to dst with buffers of the given size
 * (allocated when bytes come, freed when empty). */
void flow_init(struct flow *f, struct buf_pool *pool, struct side *src, struct side *dst,
	       size_t in_cap, size_t out_cap);
/* flow_release - free the buffers that are empty (they come back when
 * needed). */
void flow_release(struct flow *f);
/* flow_free - release buffers and the pipe. */
void flow_free(struct flow *f);
/* flow_read - read what src has into in (up to in_cap).  Returns 0 (maybe
 * nothing new), or an error; sets src->eof at the end of the stream. */
int flow_read(struct flow *f);
/* flow_write - write out (and the pipe) to dst.  Returns 0 or an error. */
int flow_write(struct flow *f);
/* flow_splice - move body or tunnel bytes from src to dst through the
 * kernel when both ends are plain sockets and nothing is buffered.
 * Returns 0 or an error. */
int flow_splice(struct flow *f);
/* flow_pending_out - bytes still to be written (buffer and pipe). */
size_t flow_pending_out(const struct flow *f);
/* flow_emit - append bytes to out; false if they do not fit. */
bool flow_emit(struct flow *f, const void *p, size_t n);
/* flow_consume - drop n bytes from the front of in. */
void flow_consume(struct flow *f, size_t n);
/* flow_can_splice - both ends plain and nothing buffered either way. */
bool flow_can_splice(const struct flow *f);
/* side_tls_pending - decrypted bytes waiting inside the side's session. */
size_t side_tls_pending(const struct side *s);

#endif
