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

#endif
