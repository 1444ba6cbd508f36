/* natd.h - natd's parts: the server list (servers.c), the probe engine of
 * one logical server (probe.c, no I/O: datagrams and time in, datagrams and
 * a verdict out), the evidence and report texts (report.c), one round over
 * real sockets (round.c) and the daemon (main.c). */
#ifndef NATD_H
#define NATD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <pbxedge/addr.h>
#include <pbxedge/err.h>
#include <pbxedge/stun.h>

#define NATD_MAX_MEMBERS 8    /* servers (or addresses of one name) per logical server */
#define NATD_MAX_LOGICAL 16   /* logical servers in natd.servers */
#define NATD_HOST_MAX 254     /* a DNS name, NUL included */
#define NATD_TEXT_MAX 1025    /* natd.servers is at most 1024 characters */

/* Retransmission (RFC 8489 6.2.1): the first RTO, doubled after every
 * send, at most NATD_RC sends, and NATD_RM times the first RTO waited
 * after the last one; natd ends a transaction after NATD_TX_LIMIT_MS all
 * the same (sends at 0, 0.5, 1.5 and 3.5 s), so that a round is bounded. */
#define NATD_RTO_MS 500
#define NATD_RC 7
#define NATD_RM 16
#define NATD_TX_LIMIT_MS 4000
/* A round of one logical server: three phases of transactions run in
 * parallel within each phase. */
#define NATD_ROUND_LIMIT_MS (3 * NATD_TX_LIMIT_MS)

/* ---- the server list (servers.c) ---- */

struct natd_member {
	char host[NATD_HOST_MAX]; /* the address or DNS name as written */
	uint16_t port;
	bool is_name;
	struct pbx_addr addr;     /* when !is_name */
};

struct natd_logical {
	char text[NATD_TEXT_MAX]; /* this logical server as written (canonical) */
	struct natd_member m[NATD_MAX_MEMBERS];
	size_t n;
};

struct natd_list {
	struct natd_logical l[NATD_MAX_LOGICAL];
	size_t n;
};

/* natd_servers_parse - parse a natd.servers value: validated as rpctl
 * validates it, then split into logical servers and their members.
 * Returns 0, or PBX_E_INVALID with err naming the offending part. */
int natd_servers_parse(const char *text, struct natd_list *out, struct pbx_err *err);

/* ---- verdicts ---- */

enum natd_behaviour {
	NATD_B_UNKNOWN = 0,
	NATD_B_EI,   /* endpoint-independent */
	NATD_B_AD,   /* address-dependent */
	NATD_B_APD,  /* address-and-port-dependent */
};

enum natd_hairpin { NATD_HP_UNKNOWN = 0, NATD_HP_TRUE, NATD_HP_FALSE };

enum natd_classic {
	NATD_C_UNKNOWN = 0,
	NATD_C_OPEN,
	NATD_C_FULL_CONE,
	NATD_C_RESTRICTED_CONE,
	NATD_C_PORT_RESTRICTED_CONE,
	NATD_C_SYMMETRIC,
	NATD_C_SYMMETRIC_FIREWALL,
	NATD_C_UDP_BLOCKED,
};

const char *natd_behaviour_name(enum natd_behaviour b);
const char *natd_hairpin_name(enum natd_hairpin h);
const char *natd_classic_name(enum natd_classic c);

/* ---- the probe engine (probe.c) ---- */

/* The probes: test I to every member, then the filtering tests (RFC 5780
 * 4.4) and hairpinning (4.5) on the fresh mapping, then the mapping tests
 * (4.3).  The RFC 3489 sequence (10.1) uses the same requests.  Test I goes
 * out twice, with the magic cookie and without: a server that only speaks
 * RFC 3489 may answer the second alone, and the rest of the round then
 * speaks its language. */
enum natd_test {
	NATD_T_BINDING,      /* test I: plain Binding to a member */
	NATD_T_BINDING_3489, /* test I as an RFC 3489 request (no magic cookie) */
	NATD_T_FILTER_II,    /* CHANGE-REQUEST ip+port */
	NATD_T_FILTER_III,   /* CHANGE-REQUEST port */
	NATD_T_MAP_II,       /* to the other address, primary port */
	NATD_T_MAP_III,      /* to the other address and port */
	NATD_T_HAIRPIN,      /* from a second socket to the mapped address */
	NATD_T_COUNT
};

const char *natd_test_name(enum natd_test t);

enum natd_tx_state {
	NATD_TX_IDLE = 0,    /* not started */
	NATD_TX_PENDING,     /* sent, waiting */
	NATD_TX_ANSWERED,    /* a success answer (or, hairpinning: our own request) */
	NATD_TX_ERROR,       /* an error answer */
	NATD_TX_TIMEOUT,     /* nothing within the limit */
	NATD_TX_CANCELLED,   /* no longer needed */
};

const char *natd_tx_state_name(enum natd_tx_state s);

/* One transaction: a request, its retransmissions and what came back. */
struct natd_tx {
	uint8_t test;         /* enum natd_test */
	uint8_t state;        /* enum natd_tx_state */
	uint8_t sock;         /* socket index it is sent from */
	uint8_t member;       /* member the round is about (test I: its target) */
	uint8_t sends;
	uint8_t kind;         /* enum stun_kind of the request */
	unsigned change;      /* STUN_CHANGE_* flags */
	struct pbx_addr to;
	uint8_t tid[STUN_TID_LEN_CLASSIC]; /* STUN_TID_LEN bytes with the cookie */
	int64_t started, next_send, deadline, done_at; /* ms */
	int64_t rto;
	/* The answer. */
	struct pbx_addr from;     /* where it came from */
	struct pbx_addr mapped;   /* XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS */
	struct pbx_addr other;    /* OTHER-ADDRESS, else CHANGED-ADDRESS */
	struct pbx_addr origin;   /* RESPONSE-ORIGIN, else SOURCE-ADDRESS */
	bool classic;             /* answered the RFC 3489 way (no XOR-MAPPED-ADDRESS) */
	int error_code;
	char note[120];           /* what the answer meant, or why it was not used */
};

#define NATD_MAX_TX (2 * NATD_MAX_MEMBERS + 5)
#define NATD_MAX_SOCKS (NATD_MAX_MEMBERS + 1) /* one per member, one for hairpinning */
#define NATD_REQ_MAX 64

/* A datagram the engine wants sent. */
struct natd_send {
	uint8_t sock;
	struct pbx_addr to;
	size_t len;
	uint8_t buf[NATD_REQ_MAX];
};

/* The verdict of a logical server. */
struct natd_verdict {
	bool answered;            /* a member answered test I with a mapped address */
	int answered_by;          /* member index, -1 */
	struct pbx_addr mapped;   /* test I's mapped address */
	struct pbx_addr other;    /* the server's other address, if it gave one */
	bool nat;                 /* mapped differs from the local address */
	bool rfc3489;             /* the server answered the RFC 3489 way */
	uint8_t kind;             /* enum stun_kind the round goes on in */
	enum natd_behaviour mapping, filtering;
	enum natd_hairpin hairpin;
	enum natd_classic classic;
	char why_mapping[96], why_filtering[96], why_hairpin[96], why_classic[96];
};

/* The engine of one logical server's round.  Caller-owned; no I/O, no
 * clock: the caller feeds the time in milliseconds. */
struct natd_probe {
	size_t n_members;
	struct pbx_addr member[NATD_MAX_MEMBERS];
	struct pbx_addr local[NATD_MAX_SOCKS]; /* socket i's local address */
	uint8_t tids[NATD_MAX_TX][STUN_TID_LEN_CLASSIC];
	struct natd_tx tx[NATD_MAX_TX];
	size_t n_tx;
	int phase;                /* 1 test I, 2 filtering + hairpinning, 3 mapping, 4 done */
	int64_t start, end;
	size_t ignored;           /* datagrams that matched no transaction */
	struct natd_verdict v;
};

/* natd_probe_init - start a round of the logical server with n members
 * (1..NATD_MAX_MEMBERS) at now.  Socket i (0..n-1) sends to member i;
 * socket n is the second socket of the hairpinning test; local[i] is
 * socket i's local address.  tids gives the transaction IDs (random: an
 * answer must guess one to count; requests with the magic cookie use the
 * first STUN_TID_LEN bytes).  Returns 0 or PBX_E_INVALID. */
int natd_probe_init(struct natd_probe *p, const struct pbx_addr *members, size_t n,
		    const struct pbx_addr *local,
		    const uint8_t tids[NATD_MAX_TX][STUN_TID_LEN_CLASSIC], int64_t now);

/* natd_probe_next - the next datagram to send at now, into *out.  Returns
 * true while there is one; call until false after every init, input and
 * wakeup.  Transactions that timed out are settled here too. */
bool natd_probe_next(struct natd_probe *p, int64_t now, struct natd_send *out);

/* natd_probe_wakeup - when the engine next needs natd_probe_next (ms),
 * or -1 when the round is done. */
int64_t natd_probe_wakeup(const struct natd_probe *p);

/* natd_probe_input - a datagram of len bytes from `from` arrived on
 * socket sock at now.  Untrusted: decoded through the STUN codec, and
 * counted as ignored unless it answers a pending transaction. */
void natd_probe_input(struct natd_probe *p, size_t sock, const struct pbx_addr *from,
		      const void *data, size_t len, int64_t now);

/* natd_probe_done - true once the verdict is final (p->v). */
bool natd_probe_done(const struct natd_probe *p);

/* ---- texts (report.c) ---- */

/* natd_evidence_json - the evidence of p's verdict as a JSON object: why
 * each verdict is what it is, the round's duration, datagrams ignored, and
 * "probes", one object per transaction (probe, from, to, change, sent,
 * result, ms, and what came back), to out.  Returns 0 or -EIO. */
int natd_evidence_json(const struct natd_probe *p, FILE *out);

/* natd_json_str - s as a JSON string (escaped) to out. */
void natd_json_str(FILE *out, const char *s);

#endif
