/* ice.h - Interactive Connectivity Establishment (RFC 8445): candidates,
 * their priorities and foundations, and their SDP form (RFC 8839).
 *
 * Everything here is I/O-free.  A candidate is a plain caller-owned
 * struct ice_cand; a description (struct ice_desc) is what one side
 * tells the other: ufrag, password, options, ice-lite, candidates and
 * whether end-of-candidates was seen.  Descriptions come from the line
 * protocol of the ICE test peers (a block of "a=" attribute lines) or
 * from a whole SDP body (struct ice_sdp, one description per m= section).
 *
 * Parsing never trusts its input: text is read through struct pbx_span
 * and pbx_read_line, never as a NUL-terminated string, and every refusal
 * returns a PBX_E_* code and fills a struct pbx_err with a reason that
 * names the line (for bodies) and the field, fit to print for an
 * administrator.  Lenient where real agents differ from the RFC (upper-
 * case "UDP" from libnice, "raddr 0.0.0.0" from Pion, extension
 * attributes from werift and libwebrtc, runs of spaces); the formatter
 * writes exactly the RFC's form with single spaces.
 *
 * The connectivity-check agent (checklists, pairs, nomination) builds on
 * these types and is declared in a later part of this header.
 */
#ifndef PBXEDGE_ICE_H
#define PBXEDGE_ICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pbxedge/addr.h>
#include <pbxedge/api.h>
#include <pbxedge/buf.h>
#include <pbxedge/err.h>

#define ICE_FOUNDATION_MAX 32   /* 1*32ice-char (RFC 8839 5.1) */
#define ICE_UFRAG_MIN 4         /* RFC 8839 5.4 */
#define ICE_UFRAG_MAX 256
#define ICE_PWD_MIN 22
#define ICE_PWD_MAX 256
#define ICE_HOSTNAME_MAX 253    /* an FQDN or mDNS name in place of an IP */
#define ICE_COMPONENT_MAX 256   /* components are 1..256 (RFC 8445 5.1.2.1) */
#define ICE_PRIORITY_MAX 0x7FFFFFFFu /* 1..2^31-1 (RFC 8839 5.1) */
#define ICE_TYPE_PREF_MAX 126
#define ICE_OPTIONS_MAX 8       /* ice-options tokens kept per description */
#define ICE_OPTION_LEN_MAX 32
#define ICE_DESC_CANDS_MAX 64   /* candidates per description; more is refused */
#define ICE_SDP_MEDIA_MAX 8     /* m= sections per SDP body; more is refused */
#define ICE_LINE_MAX 2048       /* longest line read, line end included */
/* Room for one formatted a=candidate line, NUL included. */
#define ICE_CAND_LINE_MAX (64 + ICE_FOUNDATION_MAX + ICE_HOSTNAME_MAX + 2 * INET6_ADDRSTRLEN + \
			   ICE_UFRAG_MAX + 80)
/* Room for "126|65535|256", NUL included. */
#define ICE_PRIORITY_TEXT_MAX 16

/* Candidate types (RFC 8445 5.1.1). */
enum ice_cand_type {
	ICE_HOST = 0,
	ICE_SRFLX = 1,   /* server reflexive */
	ICE_PRFLX = 2,   /* peer reflexive */
	ICE_RELAY = 3,   /* relayed (TURN) */
};
#define ICE_CAND_TYPES 4

enum ice_transport {
	ICE_UDP = 0,
	ICE_TCP = 1,     /* RFC 6544; parsed and kept, not used by the agent */
};

/* RFC 6544 tcptype, for ICE_TCP candidates. */
enum ice_tcptype {
	ICE_TCPTYPE_NONE = 0,
	ICE_TCPTYPE_ACTIVE,
	ICE_TCPTYPE_PASSIVE,
	ICE_TCPTYPE_SO,
};

/* One candidate, local or remote.  Caller-owned; no pointers inside. */
struct ice_cand {
	char foundation[ICE_FOUNDATION_MAX + 1];
	uint16_t component;            /* 1..256 */
	enum ice_transport transport;
	enum ice_tcptype tcptype;      /* ICE_TCPTYPE_NONE for UDP */
	uint32_t priority;             /* 1..2^31-1 */
	enum ice_cand_type type;
	/* The transport address.  When the SDP gave a name (an FQDN or an
	 * mDNS ".local" name) instead of an IP, unresolved is true, hostname
	 * holds the name, and addr is empty (pbx_addr_family() AF_UNSPEC)
	 * until the caller resolves it.  port is the port in either case. */
	struct pbx_addr addr;
	uint16_t port;
	bool unresolved;
	char hostname[ICE_HOSTNAME_MAX + 1];
	/* Related address and port (raddr/rport): informational only (RFC
	 * 8445 5.1.1.2), each optional.  raddr is empty when absent or given
	 * as a name (the formatter then writes 0.0.0.0, as browsers hiding
	 * their addresses do); Pion's "raddr 0.0.0.0" is kept as written. */
	bool has_raddr, has_rport;
	struct pbx_addr raddr;
	uint16_t rport;
	/* Extension attributes kept (werift, libwebrtc): others are skipped. */
	bool has_generation, has_network_id, has_network_cost;
	uint32_t generation, network_id, network_cost;
	char ufrag[ICE_UFRAG_MAX + 1]; /* "ufrag" extension; "" if absent */
};

/* Type preferences for priorities (RFC 8445 5.1.2.1), indexed by enum
 * ice_cand_type, each 0..126. */
struct ice_prefs {
	uint8_t type_pref[ICE_CAND_TYPES];
};

/* ---- priorities, foundations, pairs (lib/ice/cand.c) ---- */

/* ice_prefs_default - the RFC 8445 recommended type preferences: host 126,
 * prflx 110, srflx 100, relay 0. */
PBX_API void ice_prefs_default(struct ice_prefs *p);

/* ice_priority - the candidate priority of RFC 8445 5.1.2.1:
 * 2^24 * type_pref + 2^8 * local_pref + (256 - component).  Returns 0 with
 * *out set, or PBX_E_INVALID if type_pref > 126 or component is outside
 * 1..256. */
PBX_API int ice_priority(unsigned type_pref, uint16_t local_pref, unsigned component,
			 uint32_t *out);

/* ice_cand_priority - ice_priority for a candidate of type type with the
 * type preference from prefs (NULL: the RFC's defaults). */
PBX_API int ice_cand_priority(const struct ice_prefs *prefs, enum ice_cand_type type,
			      uint16_t local_pref, unsigned component, uint32_t *out);

/* ice_priority_split - the inverse of ice_priority: type preference (top
 * 8 bits), local preference (middle 16) and component (256 minus the low
 * 8 bits) of priority.  Meaningful for agents that follow the formula
 * (libnice, werift, Pion and libwebrtc all do). */
PBX_API void ice_priority_split(uint32_t priority, unsigned *type_pref, uint16_t *local_pref,
				unsigned *component);

/* ice_priority_format - "type|local|component" (e.g. "126|65535|1") into
 * buf (size n, ICE_PRIORITY_TEXT_MAX is enough), the decomposition shown
 * in output tables.  Returns 0 or PBX_E_NOSPACE. */
PBX_API int ice_priority_format(uint32_t priority, char *buf, size_t n);

/* ice_local_prefs - local preferences for host addresses (RFC 8421
 * section 4): addrs holds n host addresses in the caller's order of
 * preference; out[i] receives the local preference of addrs[i].  The
 * order is interleaved so that the address families alternate, starting
 * with the family of addrs[0] and keeping the caller's order within each
 * family; when one family runs out the rest follow in order.  The
 * preferences are 65535 for the first in that order, then one less each,
 * so all are distinct.  Returns 0, or PBX_E_INVALID if n > 65535 or an
 * address is neither IPv4 nor IPv6. */
PBX_API int ice_local_prefs(const struct pbx_addr *addrs, size_t n, uint16_t *out);

/* ice_foundation - the foundation of a local candidate (RFC 8445
 * 5.1.1.3): candidates of the same type, base IP address (port ignored),
 * STUN/TURN server (address and port; NULL for host and prflx) and
 * transport share it; any difference gives another with overwhelming
 * likelihood.  It is a stable text of 8 lower-case hex digits (a hash; no
 * state, the same inputs give the same text in every run) written to
 * out.  Returns 0, or PBX_E_INVALID for a base that is not IPv4/IPv6. */
PBX_API int ice_foundation(enum ice_cand_type type, const struct pbx_addr *base,
			   const struct pbx_addr *server, enum ice_transport transport,
			   char out[ICE_FOUNDATION_MAX + 1]);

/* ice_pair_priority - the candidate pair priority of RFC 8445 6.1.2.3,
 * 2^32*MIN(G,D) + 2*MAX(G,D) + (G>D?1:0), from the controlling agent's
 * candidate priority g and the controlled agent's d. */
PBX_API uint64_t ice_pair_priority(uint32_t g, uint32_t d);

/* ice_cand_type_name - "host", "srflx", "prflx" or "relay" ("?" for a
 * value outside the enum).  Static string. */
PBX_API const char *ice_cand_type_name(enum ice_cand_type type);

/* ---- RFC 8839 attribute lines and descriptions (lib/ice/sdp.c) ---- */

/* What one side announces.  Caller-owned (about 40 KB: keep it off small
 * stacks); initialise with ice_desc_init. */
struct ice_desc {
	char ufrag[ICE_UFRAG_MAX + 1];  /* "" until a=ice-ufrag */
	char pwd[ICE_PWD_MAX + 1];      /* "" until a=ice-pwd */
	size_t n_options;
	char options[ICE_OPTIONS_MAX][ICE_OPTION_LEN_MAX + 1]; /* "trickle", "ice2"... */
	bool lite;                      /* a=ice-lite */
	bool end_of_candidates;         /* a=end-of-candidates */
	size_t n_cands;
	struct ice_cand cands[ICE_DESC_CANDS_MAX];
	/* Candidates ignored for a transport other than UDP or TCP (RFC 8839
	 * 5.1 says to ignore them); not counted in n_cands. */
	size_t n_ignored;
	/* The SDP default destination (c= address, m= port) when the
	 * description came from an SDP body and c= held an IP. */
	bool has_default;
	struct pbx_addr default_addr;
};

/* How an SDP default destination relates to the candidates
 * (RFC 8839 section 4.2.4 / 5.1). */
enum ice_default_check {
	ICE_DEFAULT_NONE = 0,      /* no c= address (or a name) to compare */
	ICE_DEFAULT_MATCH,         /* a component-1 candidate has that address and port */
	ICE_DEFAULT_PLACEHOLDER,   /* 0.0.0.0 or :: with port 9: trickle, nothing yet */
	ICE_DEFAULT_MANGLED,       /* none matches: rewritten on the way (ALG/SBC) */
};

/* ice_cand_parse - parse one candidate: "a=candidate:...", "candidate:..."
 * or the bare attribute value, with surrounding whitespace and a line end
 * tolerated, fields separated by runs of spaces or tabs.  Fills *out (set
 * to zeros first).  An FQDN or mDNS name as connection-address is kept
 * unresolved.  Returns 0, or PBX_E_TRUNCATED (fields missing),
 * PBX_E_MALFORMED (a field breaks the syntax), PBX_E_INVALID (a value out
 * of range, unknown transport or type) or PBX_E_TOOLONG, with err (may be
 * NULL) naming the field. */
PBX_API int ice_cand_parse(struct pbx_span text, struct ice_cand *out, struct pbx_err *err);

/* ice_cand_format - c as one attribute line "a=candidate:F C udp P ADDR
 * PORT typ T [raddr A rport P] [tcptype X] [generation G] [ufrag U]
 * [network-id N] [network-cost N]", without a line end, into buf (size n;
 * ICE_CAND_LINE_MAX is enough).  Returns 0, PBX_E_NOSPACE, or
 * PBX_E_INVALID for a candidate ice_cand_parse would refuse. */
PBX_API int ice_cand_format(const struct ice_cand *c, char *buf, size_t n);

/* ice_desc_init - an empty description (no candidates, no credentials). */
PBX_API void ice_desc_init(struct ice_desc *d);

/* ice_desc_parse_line - apply one line to d: a=ice-ufrag (4..256
 * ice-chars), a=ice-pwd (22..256), a=ice-options (tokens), a=ice-lite,
 * a=candidate, a=end-of-candidates.  Blank lines and other lines are
 * ignored (returns 0).  A second ufrag or pwd, a candidate past
 * ICE_DESC_CANDS_MAX (PBX_E_TOOLONG) or after a=end-of-candidates, or any
 * refusal of ice_cand_parse is refused with err naming the field; d keeps
 * what it had. */
PBX_API int ice_desc_parse_line(struct ice_desc *d, struct pbx_span line, struct pbx_err *err);

/* ice_desc_parse - parse a block of lines (LF or CRLF; the last may lack
 * its line end) as the ICE test peers print them, into d (initialised
 * first).  Returns 0, or the first refusal with err saying "line N: ...". */
PBX_API int ice_desc_parse(struct ice_desc *d, struct pbx_span text, struct pbx_err *err);

/* ice_desc_format - d as a block: a=ice-ufrag, a=ice-pwd, a=ice-lite and
 * a=ice-options when set, the candidates, and a=end-of-candidates when
 * set; each line ended by "\r\n" if crlf, else "\n".  Writes into buf
 * (size n, NUL-terminated) and *len (may be NULL) gets the length.
 * Returns 0, PBX_E_NOSPACE, or PBX_E_INVALID if a field is unset or out of
 * range (ufrag or pwd missing, a bad candidate). */
PBX_API int ice_desc_format(const struct ice_desc *d, bool crlf, char *buf, size_t n,
			    size_t *len);

/* ice_desc_check_default - whether d's SDP default destination is one of
 * its component-1 candidates (see enum ice_default_check).  Unresolved
 * candidates never match. */
PBX_API enum ice_default_check ice_desc_check_default(const struct ice_desc *d);

/* ice_default_check_name - "none", "match", "placeholder", "mangled". */
PBX_API const char *ice_default_check_name(enum ice_default_check c);

/* One m= section of an SDP body. */
struct ice_sdp_media {
	char kind[16];          /* "audio", "video", "application"... (cut to fit) */
	uint16_t port;          /* the m= port */
	struct ice_desc ice;    /* session-level ufrag/pwd/options/ice-lite and c=
				 * apply unless the section has its own */
};

/* A parsed SDP body, allocated by ice_sdp_new (several hundred KB). */
struct ice_sdp {
	size_t n_media;
	struct ice_sdp_media media[ICE_SDP_MEDIA_MAX];
	struct ice_desc session; /* session-level attributes (no candidates) */
};

/* ice_sdp_new - allocate an empty SDP result into *out; free it with
 * ice_sdp_free.  Returns 0 or -ENOMEM. */
PBX_API int ice_sdp_new(struct ice_sdp **out);

/* ice_sdp_free - release s (NULL is fine). */
PBX_API void ice_sdp_free(struct ice_sdp *s);

/* ice_sdp_parse - parse a whole SDP body (session part, then one or more
 * m= sections; CRLF or LF) into s (reset first): per section its kind,
 * port, c= (media or session level) as the default destination, ICE
 * attributes and candidates.  Lines that are not about ICE are skipped;
 * a=candidate before the first m= line, more than ICE_SDP_MEDIA_MAX
 * sections, a malformed m= or c= line and every refusal of
 * ice_desc_parse_line are refused with err saying "line N: ...".
 * Returns 0 or the refusal's code. */
PBX_API int ice_sdp_parse(struct ice_sdp *s, struct pbx_span body, struct pbx_err *err);

/* ==== connectivity-check agent (lib/ice/agent.c, check.c) ==================
 * An RFC 8445 full agent for one data stream, I/O-free: the caller owns the
 * sockets (and any TURN relays) and the clock.  It feeds every received
 * datagram to ice_agent_recv, sends whatever ice_agent_poll hands back, and
 * calls ice_agent_poll again at ice_agent_next_deadline.  Local candidates
 * carry an opaque socket id, the caller's name for the socket (or TURN
 * relay) they are sent from.  Nothing inside draws randomness: transaction
 * IDs and the consent jitter come from a generator seeded by the caller.
 *
 * Besides the RFC's state, the agent keeps a record per pair and per remote
 * address (struct ice_record): what was sent, what came back and how, and
 * what the peer sent us, so that a diagnostic can say why checks failed
 * (wrong password one way, no answers, non-symmetric NAT, role conflict,
 * consent lost...) and not only that they did. */

#define ICE_AGENT_LOCAL_MAX 16     /* local candidates (prflx learned included) */
#define ICE_AGENT_REMOTE_MAX 96    /* remote candidates (prflx learned included) */
#define ICE_AGENT_PAIRS_MAX 100    /* RFC 8445 6.1.2.5's recommended limit */
#define ICE_AGENT_PEERS_MAX 128    /* remote addresses with a record */
#define ICE_AGENT_EVENTS_MAX 64    /* events queued before the oldest is lost */
#define ICE_AGENT_EARLY_MAX 8      /* checks remembered before the remote credentials */
#define ICE_AGENT_PACKET_MAX 1024  /* buffer size ice_agent_poll needs */

enum ice_role {
	ICE_CONTROLLING = 0,
	ICE_CONTROLLED = 1,
};

/* Candidate pair states (RFC 8445 6.1.2.6). */
enum ice_pair_state {
	ICE_PAIR_FROZEN = 0,
	ICE_PAIR_WAITING,
	ICE_PAIR_IN_PROGRESS,
	ICE_PAIR_SUCCEEDED,
	ICE_PAIR_FAILED,
};

/* The agent's overall state. */
enum ice_agent_state {
	ICE_AGENT_RUNNING = 0,   /* checking, or waiting for candidates */
	ICE_AGENT_COMPLETED,     /* a pair is selected (consent may still be lost) */
	ICE_AGENT_FAILED,        /* the checklist failed, the overall timeout
				  * passed, or consent was lost */
};

/* Configuration, caller-owned, copied by ice_agent_new.  Start from
 * ice_agent_config_default.  Times are in milliseconds. */
struct ice_agent_config {
	enum ice_role role;
	uint64_t tie_breaker;          /* random, from the caller */
	uint64_t random_seed;          /* seeds transaction IDs and jitter */
	char ufrag[ICE_UFRAG_MAX + 1]; /* local credentials (RFC 8445 5.3) */
	char pwd[ICE_PWD_MAX + 1];
	uint16_t component;            /* 1 (RTP) */
	uint32_t ta_ms;                /* pacing, 50 (RFC 8445 14.2) */
	uint32_t rto_min_ms;           /* 500: RTO = MAX(500, Ta * N) (14.3) */
	uint32_t max_sends;            /* Rc, 7: transmissions per check (RFC 8489 6.2.1) */
	uint32_t rm;                   /* Rm, 16: the last wait is Rm * RTO */
	uint32_t rto_cap_ms;           /* 0, or a cap on every single wait */
	uint32_t check_timeout_ms;     /* 0, or a cap on one check's whole life */
	uint32_t nominate_wait_ms;     /* controlling: how long after the first
					* valid pair to wait for better ones, 500 */
	uint32_t trickle_wait_ms;      /* without end-of-candidates, the checklist
					* fails this long after the last remote
					* candidate; 0: wait for end-of-candidates
					* (RFC 8863) */
	uint32_t fail_timeout_ms;      /* 0, or the whole run's limit from the
					* remote credentials to selection */
	uint32_t pac_ms;               /* RFC 8863 PAC timer, 39500: no checklist
					* failure this long after the remote
					* credentials, unless no check can ever
					* come (no pair, remote families apart)
					* or the caller gives up; 0: none */
	uint32_t consent_interval_ms;  /* 5000, jittered 0.8..1.2 (RFC 7675 5.1) */
	uint32_t consent_timeout_ms;   /* 30000 */
};

/* What happened with one pair or one remote address.  Every time field is
 * meaningful only when its count is non-zero. */
struct ice_record {
	/* our checks */
	uint32_t checks;               /* transactions started (consent excluded) */
	uint32_t req_sent;             /* requests sent, retransmissions included */
	uint32_t resp_ok;              /* success responses accepted */
	uint32_t resp_bad_integrity;   /* responses failing MESSAGE-INTEGRITY with
					* the remote password (dropped) */
	uint32_t nonsymmetric;         /* responses from another address than the
					* one checked, or on another socket */
	uint32_t timeouts;             /* transactions that got no answer */
	uint32_t err_400, err_401, err_487, err_other;
	uint16_t last_err;             /* code of the last error response */
	uint32_t rtt_last_ms, rtt_min_ms, rtt_max_ms;
	uint64_t first_sent_ms, last_sent_ms;   /* req_sent */
	uint64_t first_resp_ms, last_resp_ms;   /* resp_ok */
	uint64_t first_err_ms, last_err_ms;     /* error responses */
	/* their checks */
	uint32_t req_in;               /* Binding requests received */
	uint32_t req_in_ok;            /* ... that passed USERNAME and integrity */
	uint32_t req_in_bad_integrity; /* ... MESSAGE-INTEGRITY failed: 401 */
	uint32_t req_in_bad_username;  /* ... USERNAME not "our-ufrag:...": 401 */
	uint32_t req_in_no_auth;       /* ... no USERNAME or integrity: 400 */
	uint32_t req_in_wrong_remote;  /* ... accepted, but the right part of
					* USERNAME is not the remote ufrag */
	uint32_t req_in_early;         /* ... before the remote credentials */
	uint32_t req_in_conflict;      /* ... with a role conflict */
	uint32_t use_cand_in;          /* ... with USE-CANDIDATE */
	uint64_t first_in_ms, last_in_ms;       /* req_in */
	/* reported by the caller, application data, consent */
	uint32_t icmp;                 /* ICMP errors (ice_agent_report) */
	uint32_t turn_errors;          /* TURN refusals or losses (ice_agent_report) */
	uint16_t last_turn_code;
	uint32_t data_in, data_out;    /* application datagrams */
	uint32_t consent_sent, consent_ok;
	bool consent_lost;
};

/* A candidate pair, as the agent shows it.  Read-only for callers. */
struct ice_pair {
	uint32_t id;                   /* stable, from 1 */
	uint16_t component;
	enum ice_pair_state state;
	uint64_t priority;             /* RFC 8445 6.1.2.3, for the current role */
	int socket_id;                 /* where checks and data go from */
	struct pbx_addr local;         /* the local candidate (a base) */
	struct pbx_addr remote;        /* the remote candidate */
	enum ice_cand_type local_type, remote_type;
	char local_foundation[ICE_FOUNDATION_MAX + 1];
	char remote_foundation[ICE_FOUNDATION_MAX + 1];
	bool valid;                    /* in the valid list */
	struct pbx_addr mapped;        /* XOR-MAPPED-ADDRESS of the success */
	enum ice_cand_type mapped_type;/* the local candidate it matched, or
					* ICE_PRFLX when one was learned */
	bool nominated, selected;
	struct ice_record rec;
};

/* A remote address the agent heard from or sent to, with its record. */
struct ice_peer {
	int socket_id;
	struct pbx_addr addr;
	struct ice_record rec;
};

/* Counters of what belongs to no pair. */
struct ice_agent_stats {
	uint32_t early_checks;         /* checks before the remote credentials */
	uint32_t early_dropped;        /* ... not remembered: table full */
	uint32_t role_conflicts;       /* 7.3.1.1 and 487 answers */
	uint32_t role_switches;
	uint32_t unmatched_responses;  /* no transaction of ours */
	uint32_t malformed;            /* STUN that failed to decode */
	uint32_t not_ours;             /* STUN we do not handle (other methods) */
	uint32_t data_unpaired;        /* data from an address of no pair */
	uint32_t pairs_pruned;         /* redundant pairs not kept */
	uint32_t pairs_over_limit;     /* pairs past ICE_AGENT_PAIRS_MAX dropped */
	uint32_t cands_dropped;        /* candidates past the tables' sizes */
	uint32_t responses_dropped;    /* answers not queued: queue full */
	uint32_t events_lost;          /* oldest events overwritten */
	uint32_t peers_overflow;       /* remote addresses without a record */
};

enum ice_event_type {
	ICE_EV_PAIR_STATE = 0,   /* pair_id changed to state */
	ICE_EV_PAIR_VALID,       /* pair_id entered the valid list */
	ICE_EV_NOMINATED,        /* pair_id nominated (sent or received) */
	ICE_EV_SELECTED,         /* pair_id selected; the agent is completed */
	ICE_EV_FAILED,           /* the agent failed (code: enum ice_fail_reason) */
	ICE_EV_PRFLX_REMOTE,     /* a peer-reflexive remote candidate (7.3.1.3) */
	ICE_EV_PRFLX_LOCAL,      /* a peer-reflexive local candidate (7.2.5.3.1) */
	ICE_EV_EARLY_CHECK,      /* a check before the remote credentials (7.3.1) */
	ICE_EV_ROLE_CONFLICT,    /* code 487: we answered 487 or got one;
				  * code 0: we switched role on a request */
	ICE_EV_ROLE_SWITCH,      /* role now state (enum ice_role) */
	ICE_EV_NONSYMMETRIC,     /* a response came from another address */
	ICE_EV_AUTH_FAILED,      /* code 401: the peer refused our check;
				  * code 0: a check to us failed integrity */
	ICE_EV_CONSENT_LOST,     /* pair_id lost consent (RFC 7675) */
};

/* Why the agent failed. */
enum ice_fail_reason {
	ICE_FAIL_NONE = 0,
	ICE_FAIL_CHECKS,         /* every pair failed (or there were none) */
	ICE_FAIL_TIMEOUT,        /* fail_timeout_ms passed */
	ICE_FAIL_CONSENT,        /* consent lost on the selected pair */
};

struct ice_event {
	enum ice_event_type type;
	uint64_t time_ms;
	uint32_t pair_id;        /* 0 if none */
	int state;               /* new pair state, or role */
	int code;                /* STUN error code or reason, as above */
	struct pbx_addr addr;    /* the remote address concerned, if any */
};

/* A packet to send: from socket_id to `to`, len bytes in the caller's
 * buffer (0: nothing to send now). */
struct ice_tx {
	int socket_id;
	struct pbx_addr to;
	size_t len;
};

/* What ice_agent_recv made of a datagram. */
enum ice_recv_kind {
	ICE_RECV_STUN = 0,       /* consumed by the agent */
	ICE_RECV_DATA,           /* not STUN: application data for the caller */
	ICE_RECV_DROPPED,        /* broken or unwanted STUN, dropped */
};

struct ice_agent;

/* ice_agent_config_default - fill c with the defaults above; the caller
 * then sets role, tie_breaker, random_seed, ufrag and pwd. */
PBX_API void ice_agent_config_default(struct ice_agent_config *c);

/* ice_agent_new - allocate an agent (about 170 KB, once: nothing is
 * allocated later) with a copy of c into *out.  Returns 0, PBX_E_INVALID
 * (ufrag or pwd outside RFC 8839's lengths, component 0 or over 256, Ta 0,
 * max_sends 0) or -ENOMEM.  Free it with ice_agent_free. */
PBX_API int ice_agent_new(const struct ice_agent_config *c, struct ice_agent **out);

/* ice_agent_free - release a (NULL is fine). */
PBX_API void ice_agent_free(struct ice_agent *a);

/* ice_agent_add_local - add a local candidate c sent from socket_id, with
 * its base (the host address for srflx; the candidate itself for host and
 * relay).  Only UDP candidates of the agent's component pair; a srflx
 * candidate pairs through its base (RFC 8445 6.1.2.4), so it adds no pair
 * of its own.  Pairs with the remote candidates known so far are formed at
 * once.  Returns 0, PBX_E_INVALID (unresolved, not IPv4/IPv6, base of
 * another family), PBX_E_EXISTS (same address and socket) or
 * PBX_E_NOSPACE (table full). */
PBX_API int ice_agent_add_local(struct ice_agent *a, uint64_t now_ms, const struct ice_cand *c,
				int socket_id, const struct pbx_addr *base);

/* ice_agent_end_of_local - the caller has added every local candidate. */
PBX_API void ice_agent_end_of_local(struct ice_agent *a, uint64_t now_ms);

/* ice_agent_set_remote - the peer's credentials (once) and whether it is
 * an ice-lite agent (then we are controlling, RFC 8445 6.1.1).  Checks
 * that arrived before are now answered with triggered checks.  Returns 0,
 * PBX_E_EXISTS (already set) or PBX_E_INVALID (lengths). */
PBX_API int ice_agent_set_remote(struct ice_agent *a, uint64_t now_ms, struct pbx_span ufrag,
				 struct pbx_span pwd, bool lite);

/* ice_agent_add_remote - add one remote candidate (trickled or from the
 * description).  Candidates of other components, transports, or left
 * unresolved are ignored (returns 0).  One with the address of a learned
 * peer-reflexive candidate replaces it in place (RFC 8838 section 11).
 * Returns 0, PBX_E_INVALID (after end-of-candidates), PBX_E_EXISTS (a
 * duplicate) or PBX_E_NOSPACE. */
PBX_API int ice_agent_add_remote(struct ice_agent *a, uint64_t now_ms, const struct ice_cand *c);

/* ice_agent_end_of_remote - the peer signalled end-of-candidates. */
PBX_API void ice_agent_end_of_remote(struct ice_agent *a, uint64_t now_ms);

/* ice_agent_recv - consume one datagram that arrived on socket_id from
 * `from` (for a TURN relay: the peer address the relay reported).  *kind
 * says whether it was STUN for the agent or application data, which the
 * caller handles.  Returns 0 (every outcome of the input is data in
 * *kind and in the records), or PBX_E_INVALID for a from that is not
 * IPv4/IPv6. */
PBX_API int ice_agent_recv(struct ice_agent *a, uint64_t now_ms, int socket_id,
			   const struct pbx_addr *from, const void *p, size_t len,
			   enum ice_recv_kind *kind);

/* ice_agent_poll - run the timers due at now_ms and put the next packet to
 * send in buf (cap at least ICE_AGENT_PACKET_MAX) with its route in *out;
 * out->len is 0 when nothing is due.  Call it until it gives nothing, then
 * again at ice_agent_next_deadline.  Returns 0 or PBX_E_NOSPACE (cap too
 * small; nothing was consumed). */
PBX_API int ice_agent_poll(struct ice_agent *a, uint64_t now_ms, void *buf, size_t cap,
			   struct ice_tx *out);

/* ice_agent_next_deadline - when ice_agent_poll next has work: now_ms if
 * something is due already, UINT64_MAX if nothing is scheduled. */
PBX_API uint64_t ice_agent_next_deadline(const struct ice_agent *a, uint64_t now_ms);

/* ice_agent_send - route one application datagram of len bytes on the
 * selected pair: *socket_id and *to get where to send it.  Returns 0,
 * PBX_E_NOTFOUND (no selected pair) or -EPIPE (consent lost: RFC 7675
 * forbids sending). */
PBX_API int ice_agent_send(struct ice_agent *a, uint64_t now_ms, size_t len, int *socket_id,
			   struct pbx_addr *to);

/* Kinds of ice_agent_report. */
enum ice_report_kind {
	ICE_REPORT_ICMP = 0,       /* an ICMP error for a datagram sent to `to` */
	ICE_REPORT_TURN_REFUSED,   /* the TURN server refused a permission or
				    * channel for `to` (code: its error code) */
	ICE_REPORT_TURN_LOST,      /* the relay on socket_id is gone (to: NULL) */
};

/* ice_agent_report - record what the caller learnt about a path: on the
 * pairs from socket_id to `to` (every pair of socket_id when to is NULL)
 * and on the address's record.  It changes no pair state.  Returns 0. */
PBX_API int ice_agent_report(struct ice_agent *a, uint64_t now_ms, int socket_id,
			     const struct pbx_addr *to, enum ice_report_kind kind, int code);

/* ice_agent_state - the overall state; *reason (may be NULL) says why it
 * failed. */
PBX_API enum ice_agent_state ice_agent_state(const struct ice_agent *a,
					     enum ice_fail_reason *reason);

/* ice_agent_awaiting_peer - whether the checklist has run out (every pair
 * failed, no candidate to come) and only the RFC 8863 PAC timer keeps the
 * agent running, waiting for a check from the peer that would make a
 * peer-reflexive pair. */
PBX_API bool ice_agent_awaiting_peer(const struct ice_agent *a, uint64_t now_ms);

/* ice_agent_give_up - the caller knows no check from the peer can come
 * any more (the peer failed, or is waiting as well): an agent awaiting
 * the peer fails now (ICE_FAIL_CHECKS), as at the PAC timer's expiry.
 * Returns whether it did. */
PBX_API bool ice_agent_give_up(struct ice_agent *a, uint64_t now_ms);

/* ice_agent_role - the current role (it changes on role conflicts). */
PBX_API enum ice_role ice_agent_role(const struct ice_agent *a);

/* ice_agent_selected - the selected pair into *out (a pointer into the
 * agent, valid until it is freed).  Returns 0 or PBX_E_NOTFOUND. */
PBX_API int ice_agent_selected(const struct ice_agent *a, const struct ice_pair **out);

/* ice_agent_pair_count - the number of pairs in the checklist. */
PBX_API size_t ice_agent_pair_count(const struct ice_agent *a);

/* ice_agent_pair - the i-th pair in priority order (highest first) into
 * *out (a pointer into the agent: the order changes when pairs are added
 * or roles switch).  Returns 0 or PBX_E_NOTFOUND. */
PBX_API int ice_agent_pair(const struct ice_agent *a, size_t i, const struct ice_pair **out);

/* ice_agent_peer_count, ice_agent_peer - the remote addresses with a
 * record, in order of first contact. */
PBX_API size_t ice_agent_peer_count(const struct ice_agent *a);
PBX_API int ice_agent_peer(const struct ice_agent *a, size_t i, const struct ice_peer **out);

/* ice_agent_stats - the counters of what belongs to no pair. */
PBX_API const struct ice_agent_stats *ice_agent_stats(const struct ice_agent *a);

/* ice_agent_next_event - the oldest queued event into *ev.  Returns 0 or
 * PBX_E_NOTFOUND when the queue is empty. */
PBX_API int ice_agent_next_event(struct ice_agent *a, struct ice_event *ev);

/* ice_pair_state_name, ice_event_name, ice_fail_reason_name,
 * ice_role_name - stable names for logs ("in-progress", "prflx-remote",
 * "consent", "controlling"...); "?" outside the enums. */
PBX_API const char *ice_pair_state_name(enum ice_pair_state s);
PBX_API const char *ice_event_name(enum ice_event_type t);
PBX_API const char *ice_fail_reason_name(enum ice_fail_reason r);
PBX_API const char *ice_role_name(enum ice_role r);

/* ==== candidate gathering through STUN and TURN servers, and the
 * server half of the ICE diagnosis (lib/ice/gather.c, lib/ice/diag.c) ====
 *
 * struct ice_gather gathers host, server-reflexive and relayed candidates
 * like a browser's ICE agent, I/O-free like struct turn_client: the caller
 * owns the sockets, resolves the servers' names (and reports a failure per
 * server), opens TCP/TLS streams when asked, feeds what arrives (datagrams
 * per socket id, ICMP errors from IP_RECVERR, stream events and bytes) and
 * the clock, and sends what ice_gather_poll gives.  STUN servers get
 * Binding requests from every host socket of their family (RFC 8489
 * retransmissions); TURN servers get one struct turn_client per relay
 * family asked (REQUESTED-ADDRESS-FAMILY), whose XOR-MAPPED-ADDRESS gives
 * the srflx candidate.  Each server and family keeps a record (struct
 * ice_server_record) of what was sent and how it ended, and
 * ice_diag_servers turns the records into one conclusion with a stable
 * reason code.  Passwords are handed to the TURN clients at
 * ice_gather_new and kept nowhere else; no output carries them. */

#include <pbxedge/stun.h>
#include <pbxedge/turn.h>

#define ICE_GATHER_HOSTS_MAX 8      /* host addresses (sockets) */
#define ICE_GATHER_SERVERS_MAX 8    /* STUN and TURN servers */
#define ICE_GATHER_RELAYS_MAX 8     /* TURN clients: TURN servers x relay families */
#define ICE_GATHER_RECORDS_MAX 16   /* records: servers x families */
#define ICE_GATHER_BINDINGS_MAX 32  /* STUN Binding transactions: servers x hosts */
#define ICE_GATHER_CANDS_MAX 64     /* candidates kept */
#define ICE_GATHER_TIMEOUT_MS 10000 /* default gather timeout */
#define ICE_GATHER_RELEASE_MS 3000  /* a release's time bound */
#define ICE_GATHER_PACKET_MAX TURN_REQ_MAX /* buffer ice_gather_poll needs */
#define ICE_DIAG_TEXT_MAX 512       /* a reason or hint, NUL included */

/* Families to gather (--family 4|6|both). */
enum ice_gather_family {
	ICE_GATHER_BOTH = 0,
	ICE_GATHER_V4,
	ICE_GATHER_V6,
};

/* Candidate types asked for (--policy all|host|srflx|relay): which
 * candidates are reported, and what success needs at least one of.  Every
 * server is contacted whatever the policy. */
enum ice_gather_policy {
	ICE_POLICY_ALL = 0,
	ICE_POLICY_HOST,
	ICE_POLICY_SRFLX,
	ICE_POLICY_RELAY,
};

/* One host address: the caller's socket, bound to addr (IP and port). */
struct ice_gather_host {
	struct pbx_addr addr;
	int sock;                 /* the caller's socket id */
};

/* One server, resolved by the caller to one address. */
struct ice_gather_server {
	struct stun_uri uri;      /* stun:, stuns:, turn:, turns: */
	bool dns_failed;          /* the caller could not resolve uri.host */
	struct pbx_addr addr;     /* the resolved address with the port */
	struct pbx_span user;     /* TURN: user name (copied) */
	struct pbx_span password; /* TURN: password (given to the TURN clients
				   * only, never kept by the gatherer) */
	bool rest;                /* user is a TURN REST name "EXPIRY:USER":
				   * an expired one is reported before anything
				   * is sent */
};

struct ice_gather_config {
	const struct ice_gather_host *hosts;
	size_t n_hosts;           /* at most ICE_GATHER_HOSTS_MAX */
	const struct ice_gather_server *servers;
	size_t n_servers;         /* at most ICE_GATHER_SERVERS_MAX */
	uint8_t family;           /* enum ice_gather_family */
	uint8_t policy;           /* enum ice_gather_policy */
	uint32_t timeout_ms;      /* gather timeout; 0: ICE_GATHER_TIMEOUT_MS */
	uint8_t max_sends;        /* cap on sends of one UDP request; 0: Rc = 7 */
	uint16_t component;       /* 0: 1 */
	int64_t unix_now;         /* wall clock (s) for TURN REST expiry */
	/* Random bytes for transaction IDs; NULL: GnuTLS's nonce generator. */
	void (*random)(void *arg, void *buf, size_t n);
	void *random_arg;
};

/* How one server (for one family) answered. */
enum ice_server_result {
	ICE_SR_PENDING = 0,   /* "pending" */
	ICE_SR_OK,            /* "ok" */
	ICE_SR_ERROR,         /* "error": an error response (code, phrase) */
	ICE_SR_TIMEOUT,       /* "timeout": no answer */
	ICE_SR_UNREACHABLE,   /* "unreachable": ICMP error (icmp) */
	ICE_SR_TCP_REFUSED,   /* "tcp-refused" */
	ICE_SR_TCP_TIMEOUT,   /* "tcp-timeout" */
	ICE_SR_TLS_HANDSHAKE, /* "tls-handshake" */
	ICE_SR_TLS_UNTRUSTED, /* "tls-untrusted" */
	ICE_SR_DNS,           /* "dns": the caller could not resolve the name */
	ICE_SR_FAMILY,        /* "family-mismatch": no host address of the
			       * server's family */
	ICE_SR_REST_EXPIRED,  /* "rest-expired": nothing sent */
	ICE_SR_CLOSED,        /* "closed": the stream closed, or lost framing */
	ICE_SR_UNSUPPORTED,   /* "unsupported": stuns: (Binding over TLS) */
	ICE_SR_COUNT
};

/* The record of one server for one family: for TURN the relay family
 * asked for, for STUN the server's own. */
struct ice_server_record {
	size_t server;            /* index in the configuration */
	char uri[STUN_URI_TEXT_MAX + 16]; /* the server's URI, transport shown */
	bool turn;
	int family;               /* AF_INET or AF_INET6 */
	uint8_t transport;        /* enum stun_uri_transport */
	struct pbx_addr addr;     /* resolved address (empty on DNS failure) */
	uint32_t sent;            /* requests sent, retransmissions included */
	uint32_t retransmitted;   /* ... of which retransmissions */
	uint8_t stale;            /* TURN: 438 (stale nonce) answers retried */
	uint32_t responses;       /* responses received */
	int64_t rtt_ms;           /* first response after the first send; -1 */
	int64_t settled_ms;       /* when the result came (ms since start); -1 */
	uint8_t result;           /* enum ice_server_result */
	uint8_t turn_reason;      /* enum turn_reason behind an error */
	int code;                 /* STUN error code (ICE_SR_ERROR) */
	char phrase[TURN_PHRASE_MAX]; /* reason phrase, escaped */
	struct stun_icmp icmp;    /* ICE_SR_UNREACHABLE */
	struct pbx_addr mapped;   /* XOR-MAPPED-ADDRESS (empty if none) */
	struct pbx_addr relayed[2]; /* XOR-RELAYED-ADDRESS(es) */
	size_t n_relayed;
	uint32_t lifetime;        /* s granted */
	int relay;                /* TURN client index (ice_gather_relay), -1 */
};

/* A gathered candidate. */
struct ice_gathered {
	struct ice_cand cand;     /* raddr/rport: the base (srflx), the mapped
				   * address (relay) */
	int64_t at_ms;            /* gathered, ms since start */
	int server;               /* the server's index, -1 for host */
	int relay;                /* relay: TURN client index, else -1 */
	uint8_t relay_transport;  /* relay: enum stun_uri_transport to the server */
	int sock;                 /* host socket it goes out of; -1 for a relay
				   * whose client talks over a stream or socket
				   * the caller opened on request (stream
				   * number = relay) */
};

/* What ice_gather_poll asks of the caller. */
enum ice_gather_out_type {
	ICE_OUT_NONE = 0,
	ICE_OUT_DATAGRAM,         /* send buf[0..len) from sock to to */
	ICE_OUT_OPEN,             /* open stream (TCP, TLS, or a UDP socket of
				   * its own, per transport) to `to`, from
				   * local (the host address of that family,
				   * port 0) for server.  UDP is asked when
				   * the host socket's 5-tuple to that server
				   * carries another family's allocation
				   * already (RFC 8656 2.2) */
	ICE_OUT_STREAM,           /* write buf[0..len) to stream (a UDP one:
				   * send it as one datagram) */
	ICE_OUT_CLOSE,            /* close stream */
};

struct ice_gather_out {
	uint8_t type;             /* enum ice_gather_out_type */
	int sock;                 /* DATAGRAM */
	unsigned stream;          /* OPEN, STREAM, CLOSE */
	uint8_t transport;        /* OPEN: enum stun_uri_transport */
	size_t server;            /* OPEN: the server (uri.host for TLS SNI) */
	struct pbx_addr to;       /* DATAGRAM, OPEN */
	struct pbx_addr local;    /* OPEN */
	size_t len;               /* DATAGRAM, STREAM: bytes in buf */
};

/* What the caller reports about a stream it was asked to open. */
enum ice_stream_event {
	ICE_STREAM_CONNECTED = 1, /* TCP connected (TLS: handshake done; UDP:
				   * the socket is open) */
	ICE_STREAM_REFUSED,       /* TCP RST */
	ICE_STREAM_TIMEOUT,       /* TCP connect timed out */
	ICE_STREAM_TLS_HANDSHAKE, /* the TLS handshake failed */
	ICE_STREAM_TLS_UNTRUSTED, /* the server's certificate is not trusted */
	ICE_STREAM_CLOSED,        /* the connection closed */
};

/* What one input call did. */
struct ice_gather_in {
	size_t used;              /* bytes consumed */
	int relay;                /* the TURN client it went to, or -1 */
	struct turn_input turn;   /* ... what it did (data from a peer) */
	bool binding;             /* a Binding response of ours */
	bool dropped;             /* not for anything of ours */
};

struct ice_gather;  /* opaque; ice_gather_new */

/* ice_gather_new - a gatherer for cfg (copied; passwords go only into
 * the TURN clients), allocated once into *out: checks the hosts and
 * servers and settles at once what needs no packet (dns, family
 * mismatch, an expired REST name).  Returns 0, -ENOMEM, PBX_E_TOOLONG
 * (over a table's size) or PBX_E_INVALID (a host that is not IPv4/IPv6,
 * a server without an address, a TURN server without a user name). */
PBX_API int ice_gather_new(const struct ice_gather_config *cfg, struct ice_gather **out);

/* ice_gather_free - wipe the TURN clients' keys and free g (NULL is
 * fine). */
PBX_API void ice_gather_free(struct ice_gather *g);

/* ice_gather_start - start at now (the time base of every *_ms field):
 * host candidates, the first Bindings, the UDP Allocates, the requests
 * to open streams.  Returns 0 or PBX_E_INVALID if started already. */
PBX_API int ice_gather_start(struct ice_gather *g, int64_t now);

/* ice_gather_poll - the next thing to do at now into *out (ICE_OUT_NONE:
 * nothing now), bytes into buf (capacity cap, at least
 * ICE_GATHER_PACKET_MAX).  Runs the timers.  Call it until ICE_OUT_NONE
 * after every other call and at ice_gather_deadline().  Returns 0 or
 * PBX_E_NOSPACE. */
PBX_API int ice_gather_poll(struct ice_gather *g, int64_t now, void *buf, size_t cap,
			    struct ice_gather_out *out);

/* ice_gather_deadline - when ice_gather_poll is next due, -1 if never. */
PBX_API int64_t ice_gather_deadline(const struct ice_gather *g);

/* ice_gather_datagram - a datagram from `from` on socket sock at now:
 * a Binding response of ours, or bytes from a TURN server over UDP
 * (including data relayed from peers once allocated, in->turn).  Other
 * datagrams are dropped (in->dropped).  Untrusted input.  Returns 0. */
PBX_API int ice_gather_datagram(struct ice_gather *g, int sock, const struct pbx_addr *from,
				const void *p, size_t len, int64_t now,
				struct ice_gather_in *in);

/* ice_gather_icmp - an ICMP error (type, code) for a packet socket sock
 * sent to `to`, at now: the Bindings and the TURN client on that path
 * fail as unreachable. */
PBX_API void ice_gather_icmp(struct ice_gather *g, int sock, const struct pbx_addr *to,
			     uint8_t type, uint8_t code, int64_t now);

/* ice_gather_stream_event - what became of stream at now.  Returns 0 or
 * PBX_E_INVALID (no such stream). */
PBX_API int ice_gather_stream_event(struct ice_gather *g, unsigned stream,
				    enum ice_stream_event ev, int64_t now);

/* ice_gather_stream_input - bytes read from stream at now (a UDP one:
 * one whole datagram from the server); uses up to len (in->used) and
 * stops after data from a peer: call again with the rest.  Returns 0, PBX_E_INVALID (no such stream, not connected) or
 * PBX_E_MALFORMED (the stream lost its framing: close it). */
PBX_API int ice_gather_stream_input(struct ice_gather *g, unsigned stream, const void *p,
				    size_t len, int64_t now, struct ice_gather_in *in);

/* ice_gather_stream_icmp - an ICMP error (or ECONNREFUSED) on a UDP
 * stream at now.  Returns 0 or PBX_E_INVALID (no such open UDP stream). */
PBX_API int ice_gather_stream_icmp(struct ice_gather *g, unsigned stream, uint8_t type,
				   uint8_t code, int64_t now);

/* ice_gather_done - every server has a result (or the timeout passed). */
PBX_API bool ice_gather_done(const struct ice_gather *g);

/* ice_gather_n_cands, ice_gather_cand - the candidates, in the order
 * gathered (NULL past the end). */
PBX_API size_t ice_gather_n_cands(const struct ice_gather *g);
PBX_API const struct ice_gathered *ice_gather_cand(const struct ice_gather *g, size_t i);

/* ice_gather_n_records, ice_gather_record - the per-server records, in
 * the order of the servers then families (IPv4 first). */
PBX_API size_t ice_gather_n_records(const struct ice_gather *g);
PBX_API const struct ice_server_record *ice_gather_record(const struct ice_gather *g, size_t i);

/* ice_gather_relay - TURN client i (a relay candidate's `relay`), for
 * the ICE agent to send through; NULL outside. */
PBX_API struct turn_client *ice_gather_relay(struct ice_gather *g, int i);

/* ice_gather_release - release every allocation at now (Refresh with
 * LIFETIME 0), within ICE_GATHER_RELEASE_MS; then streams are closed.
 * Returns 0 or PBX_E_INVALID if releasing already. */
PBX_API int ice_gather_release(struct ice_gather *g, int64_t now);

/* ice_gather_released - the release is over (every TURN client released
 * or given up, every stream closed). */
PBX_API bool ice_gather_released(const struct ice_gather *g);

/* ice_server_result_name - "ok", "timeout"...; "unknown" outside. */
PBX_API const char *ice_server_result_name(enum ice_server_result r);

/* ---- the conclusion of servers mode (lib/ice/diag.c) ---- */

/* Reason codes, each with a stable name (ice_diag_name).  The order here
 * is the order of precedence: the first that applies is reported. */
enum ice_diag_code {
	ICE_DIAG_OK = 0,            /* "ok" */
	ICE_DIAG_TURN_REST_EXPIRED, /* "turn-rest-expired" */
	ICE_DIAG_DNS,               /* "dns" */
	ICE_DIAG_FAMILY_MISMATCH,   /* "family-mismatch" */
	ICE_DIAG_TCP_REFUSED,       /* "tcp-refused" */
	ICE_DIAG_TCP_TIMEOUT,       /* "tcp-timeout" */
	ICE_DIAG_TLS_UNTRUSTED,     /* "tls-untrusted" */
	ICE_DIAG_TLS_HANDSHAKE,     /* "tls-handshake" */
	ICE_DIAG_TURN_AUTH,         /* "turn-auth": 401 after credentials */
	ICE_DIAG_TURN_NONCE_LOOP,   /* "turn-nonce-loop": 438 again and again */
	ICE_DIAG_TURN_QUOTA,        /* "turn-quota": 486 */
	ICE_DIAG_TURN_CAPACITY,     /* "turn-capacity": 508 */
	ICE_DIAG_TURN_FAMILY,       /* "turn-family": 440 */
	ICE_DIAG_TURN_TRANSPORT,    /* "turn-transport": 442 */
	ICE_DIAG_TURN_MISMATCH,     /* "turn-mismatch": 437 */
	ICE_DIAG_TURN_ERROR,        /* "turn-error": another TURN failure */
	ICE_DIAG_STUN_ERROR,        /* "stun-error": a Binding error response */
	ICE_DIAG_TURN_UNREACHABLE,  /* "turn-unreachable": ICMP */
	ICE_DIAG_STUN_UNREACHABLE,  /* "stun-unreachable": ICMP */
	ICE_DIAG_TURN_TIMEOUT,      /* "turn-timeout" */
	ICE_DIAG_STUN_TIMEOUT,      /* "stun-timeout" */
	ICE_DIAG_NO_CANDIDATE,      /* "no-candidate": all answered, but no
				     * candidate of the type asked for */
	/* The pair half (ice_diag_pairs): appended, so the values above stay;
	 * their precedence is the order in lib/ice/diag_pairs.c. */
	ICE_DIAG_NO_LOCAL_CANDIDATES,  /* "no-local-candidates" */
	ICE_DIAG_NO_REMOTE_CANDIDATES, /* "no-remote-candidates" */
	ICE_DIAG_NO_PAIRS,          /* "no-pairs": no family in common */
	ICE_DIAG_MANGLED,           /* "mangled": the SDP default address is
				     * not a candidate (ALG/SBC rewrite) */
	ICE_DIAG_TURN_PERMISSION_DENIED, /* "turn-permission-denied" */
	ICE_DIAG_TURN_ALLOCATION_LOST,   /* "turn-allocation-lost" */
	ICE_DIAG_ICE_AUTH_OUT,      /* "ice-auth-out": the peer rejects our checks */
	ICE_DIAG_ICE_AUTH_IN,       /* "ice-auth-in": their checks fail here */
	ICE_DIAG_ROLE_CONFLICT,     /* "role-conflict": unresolved 487s */
	ICE_DIAG_NON_SYMMETRIC,     /* "non-symmetric" */
	ICE_DIAG_ONE_WAY_IN,        /* "one-way-in": theirs arrive, ours unanswered */
	ICE_DIAG_ONE_WAY_OUT,       /* "one-way-out": ours answered, theirs never came */
	ICE_DIAG_NO_RESPONSE,       /* "no-response": nothing either way */
	ICE_DIAG_CHECKS_FAILED,     /* "checks-failed": failed, no pattern above */
	ICE_DIAG_CONSENT_LOST,      /* "consent-lost": RFC 7675, after selection */
	ICE_DIAG_PEER_CLOSED,       /* "peer-closed": aborted, the peer left */
	ICE_DIAG_INTERRUPTED,       /* "interrupted": aborted by the administrator */
	ICE_DIAG_TIMEOUT,           /* "timeout": aborted, the time limit passed */
	ICE_DIAG_COUNT
};

/* How a diagnosis ended (struct ice_diag.result). */
enum ice_diag_result {
	ICE_DIAG_R_FAILED = 0,
	ICE_DIAG_R_SUCCESS,
	ICE_DIAG_R_ABORTED,         /* stopped before the checks concluded */
};

/* A conclusion. */
struct ice_diag {
	bool success;
	uint8_t code;               /* enum ice_diag_code; ICE_DIAG_OK on success */
	int record;                 /* the record blamed, -1 */
	char reason[ICE_DIAG_TEXT_MAX]; /* one line naming the server */
	char hint[ICE_DIAG_TEXT_MAX];   /* what to check */
	uint8_t result;             /* enum ice_diag_result (success: R_SUCCESS) */
};

/* ice_diag_servers - the conclusion of servers mode from n records and
 * nc candidates under policy (a pure function): success when every
 * server answered and there is a candidate of the type asked (any
 * server-derived one for ICE_POLICY_ALL with servers configured, or a
 * STUN answer that maps to a host candidate: no NAT in between), else
 * the first blocking reason in the order of enum ice_diag_code (records
 * in order for ties).  A pending record counts as a timeout.  Returns 0
 * with *out. */
PBX_API int ice_diag_servers(const struct ice_server_record *r, size_t n,
			     enum ice_gather_policy policy, const struct ice_gathered *c,
			     size_t nc, struct ice_diag *out);

/* ice_gather_diag - ice_diag_servers over g's records and candidates
 * as they stand.  Returns 0 with *out. */
PBX_API int ice_gather_diag(const struct ice_gather *g, enum ice_gather_policy policy,
			    struct ice_diag *out);

/* ice_diag_record - the reason code one record alone calls for
 * (ICE_DIAG_OK for a success). */
PBX_API enum ice_diag_code ice_diag_record(const struct ice_server_record *r);

/* ice_diag_name - the stable name of a code ("turn-auth"); "unknown"
 * outside the enum. */
PBX_API const char *ice_diag_name(enum ice_diag_code c);

/* ice_diag_hint - the hint of a code ("" outside the enum). */
PBX_API const char *ice_diag_hint(enum ice_diag_code c);

/* ice_diag_result_name - "success", "failed", "aborted"; "unknown"
 * outside the enum. */
PBX_API const char *ice_diag_result_name(enum ice_diag_result r);

/* ---- the conclusion of the checks (lib/ice/diag_pairs.c) ---- */

#define ICE_DIAG_RELAYS_MAX 16      /* TURN permission and allocation results */

/* One TURN result the caller learnt from its relay clients: a permission
 * toward peer refused with code (403: the server's peer policy), or the
 * allocation of relay lost (lost true; peer unused). */
struct ice_diag_relay {
	struct pbx_addr relay;      /* the relayed address (may be empty) */
	struct pbx_addr peer;       /* the peer the permission was for */
	int code;                   /* the error code; 0 with lost */
	bool lost;
};

/* A snapshot of one run, plain data with no pointers: filled from an
 * agent (ice_diag_input_from_agent) and the caller's own knowledge, or
 * built by hand from a recorded sequence of events. */
struct ice_diag_input {
	enum ice_agent_state state;
	enum ice_fail_reason fail;
	enum ice_role role;
	uint32_t role_conflicts;    /* ice_agent_stats's */
	size_t n_pairs;
	struct ice_pair pairs[ICE_AGENT_PAIRS_MAX];
	size_t n_peers;
	struct ice_peer peers[ICE_AGENT_PEERS_MAX];
	uint32_t local_v4, local_v6;   /* local candidates by family */
	uint32_t remote_v4, remote_v6; /* remote candidates (peer-reflexive
					* learned ones excluded) */
	bool end_of_remote;         /* the peer signalled end-of-candidates */
	bool peer_closed;           /* the peer closed its side */
	bool interrupted;           /* the administrator interrupted */
	bool time_limit;            /* the caller's time limit expired */
	enum ice_default_check default_check; /* of the remote description */
	size_t n_relays;
	struct ice_diag_relay relays[ICE_DIAG_RELAYS_MAX];
};

/* ice_diag_input_from_agent - fill in (cleared first) with what the agent
 * a knows: state, fail reason, role, role conflicts, pairs, peers,
 * candidate counts by family and end-of-candidates.  The caller adds the
 * rest (peer_closed, interrupted, time_limit, default_check, relays).
 * Returns 0. */
PBX_API int ice_diag_input_from_agent(const struct ice_agent *a, struct ice_diag_input *in);

/* ice_diag_pairs - the conclusion of a run of checks from the snapshot in
 * (a pure function): success (a selected, nominated pair, named with its
 * candidate types, unless no check of the peer's ever passed here:
 * ice-auth-in), or failed or aborted with one reason code, a line naming
 * addresses and counts, and a hint.  A run whose checks had not concluded
 * (a pair whose relay refused its permission or was lost counts as
 * concluded; every pair failed with the agent still running, the wait of
 * RFC 8863, does not, unless a late check would fail the same way) is
 * aborted (interrupted, peer-closed, else timeout), with the evidence so
 * far in the hint.  Precedence is documented in
 * lib/ice/diag_pairs.c.  out->record is the index in in->pairs of the
 * selected pair (success, consent-lost) or of the pair whose record the
 * reason quotes, else -1.  No password is ever
 * printed.  Returns 0 with *out, or PBX_E_INVALID (counts over the
 * arrays' sizes). */
PBX_API int ice_diag_pairs(const struct ice_diag_input *in, struct ice_diag *out);

/* ==== end of candidate gathering ==== */

#endif
