/* h225.h - reading H.225.0 call signalling as far as routing needs it,
 * and writing the few frames rpd sends itself.
 *
 * The reader takes one whole TPKT frame (RFC 1006), the Q.931 message in
 * it down to the User-user information element (Q.931 4.5, with H.225.0's
 * two-octet User-user length), and walks the ALIGNED PER encoding (X.691)
 * of H323-UserInformation (H.225.0 version 7) to what routes it: the RAS
 * messages that H.460.17 carries in the H323-UU-PDU's genericData
 * (GatekeeperRequest, RegistrationRequest and their answers) and a Setup's
 * destinationAddress.  It walks and skips: nothing is decoded that routing
 * does not use, every length-prefixed part is read through its own
 * pbx_read_sub window, nesting and counts are bounded, and nothing is ever
 * re-encoded (rpd forwards the octets it received).  Decoding never
 * allocates: the strings it returns (gatekeeper identifier, service names,
 * aliases) are converted into a text buffer the caller owns, and the
 * struct h225_msg it fills borrows that buffer.
 *
 * The writers build the refusals rpd answers a first message with: a
 * GatekeeperReject or RegistrationReject wrapped the H.460.17 way, and a
 * RELEASE COMPLETE for a Setup.  They write whole TPKT frames or nothing.
 *
 * Every function returns 0 or a negative code from err.h.
 */
#ifndef PBXEDGE_H225_H
#define PBXEDGE_H225_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pbxedge/api.h>
#include <pbxedge/buf.h>

#define H225_TPKT_HDR 4        /* TPKT header; a frame of just this is a keep-alive */
#define H225_TPKT_MAX 65535    /* longest TPKT frame */
#define H225_GKID_MAX 128      /* characters of a GatekeeperIdentifier */
#define H225_ALIASES_MAX 8     /* h323-ID aliases kept per RAS message */
#define H225_RAS_MAX 4         /* RAS messages read per frame ("bundled" H.460.17) */
#define H225_DEPTH_MAX 8       /* nesting of GenericData / Content walked */
#define H225_TEXT_MAX 8192     /* a text buffer that any accepted frame fits */

/* Q.931 message types used by H.225.0 (Q.931 table 4-2). */
enum h225_q931_type {
	H225_Q931_ALERTING = 0x01,
	H225_Q931_CALL_PROCEEDING = 0x02,
	H225_Q931_PROGRESS = 0x03,
	H225_Q931_SETUP = 0x05,
	H225_Q931_CONNECT = 0x07,
	H225_Q931_RELEASE_COMPLETE = 0x5a,
	H225_Q931_FACILITY = 0x62,
	H225_Q931_NOTIFY = 0x6e,
	H225_Q931_STATUS_ENQUIRY = 0x75,
	H225_Q931_INFORMATION = 0x7b,
	H225_Q931_STATUS = 0x7d,
};

/* h323-message-body alternatives, numbered as tshark's
 * h225.h323_message_body shows them: the 7 root alternatives, then the
 * extension alternatives from 7 on. */
enum h225_body {
	H225_BODY_NONE = -1,   /* no User-user IE */
	H225_BODY_SETUP = 0,
	H225_BODY_CALL_PROCEEDING = 1,
	H225_BODY_CONNECT = 2,
	H225_BODY_ALERTING = 3,
	H225_BODY_INFORMATION = 4,
	H225_BODY_RELEASE_COMPLETE = 5,
	H225_BODY_FACILITY = 6,
	H225_BODY_PROGRESS = 7,
	H225_BODY_EMPTY = 8,
	H225_BODY_STATUS = 9,
	H225_BODY_STATUS_INQUIRY = 10,
	H225_BODY_SETUP_ACK = 11,
	H225_BODY_NOTIFY = 12,
};

/* RasMessage alternatives, numbered as tshark's h225.RasMessage: the 25
 * root alternatives, then extension alternatives from 25 on.  Only these
 * are read; the others are recognised by number and passed over. */
enum h225_ras_type {
	H225_RAS_GRQ = 0,
	H225_RAS_GCF = 1,
	H225_RAS_GRJ = 2,
	H225_RAS_RRQ = 3,
	H225_RAS_RCF = 4,
	H225_RAS_RRJ = 5,
	H225_RAS_ROOT_COUNT = 25,
};

/* Reject reasons, numbered as tshark's h225.rejectReason (extension
 * alternatives after the root ones).  Those named here are the NULL
 * alternatives the writer can encode. */
enum h225_grj_reason {
	H225_GRJ_RESOURCE_UNAVAILABLE = 0,
	H225_GRJ_TERMINAL_EXCLUDED = 1,
	H225_GRJ_INVALID_REVISION = 2,
	H225_GRJ_UNDEFINED = 3,
	H225_GRJ_SECURITY_DENIAL = 4,       /* extension 0 */
};

enum h225_rrj_reason {
	H225_RRJ_DISCOVERY_REQUIRED = 0,
	H225_RRJ_UNDEFINED = 6,
	H225_RRJ_RESOURCE_UNAVAILABLE = 9,  /* extension 1 */
	H225_RRJ_INVALID_ALIAS = 10,        /* extension 2 */
	H225_RRJ_SECURITY_DENIAL = 11,      /* extension 3 */
	H225_RRJ_FULL_REGISTRATION_REQUIRED = 12, /* extension 4 */
};

/* Q.931 cause 3 (Q.850): no route to destination. */
#define H225_CAUSE_NO_ROUTE 3

/* The Q.931 message in a TPKT frame. */
struct h225_q931 {
	uint8_t type;          /* message type (enum h225_q931_type or another) */
	uint16_t cref;         /* call reference value (15 bits); 0: global */
	bool cref_flag;        /* flag bit: set when sent towards the side that
				* allocated the call reference */
	bool have_cause;
	uint8_t cause;         /* Cause IE value (7 bits) */
	bool have_uu;          /* a User-user IE with discriminator 0x05 */
	const uint8_t *uu;     /* its contents after 0x05: the PER encoding of
				* H323-UserInformation, borrowed from the input */
	size_t uu_len;
	size_t uu_at;          /* offset of uu in the Q.931 message */
};

/* What became of a GatekeeperIdentifier. */
enum h225_gkid {
	H225_GKID_ABSENT,      /* the optional field is not there */
	H225_GKID_BAD,         /* there, but not printable ASCII or not of the
				* form [location@]domain[/reg[:standby]] */
	H225_GKID_OK,          /* gkid, name and standby are set */
};

/* One RasMessage found in the frame's H.460.17 genericData.  Spans point
 * into the caller's text buffer. */
struct h225_ras {
	int type;              /* enum h225_ras_type numbering */
	size_t at;             /* offset of its first octet in the frame */
	uint16_t seq;          /* requestSeqNum (GRQ, RRQ, GRJ, RRJ): 1..65535 */
	/* GRQ and RRQ: */
	enum h225_gkid gkid_state;
	struct pbx_span gkid;  /* the identifier, printable ASCII */
	struct pbx_span name;  /* its service name: domain[/registration-location],
				* lowercased */
	struct pbx_span standby; /* domain/standby-location, or empty */
	struct pbx_span aliases[H225_ALIASES_MAX]; /* h323-IDs of endpointAlias
						    * (GRQ) or terminalAlias
						    * (RRQ), UTF-8 */
	size_t n_aliases;
	size_t more_aliases;   /* h323-IDs past H225_ALIASES_MAX, not kept */
	bool keep_alive;       /* RRQ keepAlive TRUE: a lightweight re-registration */
	bool tokens;           /* tokens or cryptoTokens present (credentials) */
	/* GRJ and RRJ: */
	int reject_reason;     /* enum h225_grj_reason / h225_rrj_reason
				* numbering; -1 for other messages */
};

/* One frame, read. */
struct h225_msg {
	size_t frame_len;      /* the whole TPKT frame */
	bool keep_alive;       /* a TPKT of length 4: nothing below is set */
	struct h225_q931 q931;
	int body;              /* enum h225_body */
	/* Setup: the first destinationAddress alias (h323-ID, url-ID or
	 * email-ID) of the form user@domain with a usable domain. */
	bool have_dest_list;   /* destinationAddress present */
	struct pbx_span dest;  /* that alias, as text; empty when none */
	struct pbx_span dest_domain; /* its domain, lowercased */
	/* RAS messages carried as H.460.17 (any Q.931 message type: the
	 * caller decides where it accepts them). */
	size_t n_ras;
	struct h225_ras ras[H225_RAS_MAX];
};

/* ---- TPKT (tpkt.c) ---- */

/* h225_tpkt_frame - the length of the TPKT frame that starts at p (len
 * bytes received so far, perhaps fewer than the frame).  Returns 0 with
 * *frame_len set (4 for a keep-alive, which has no payload);
 * PBX_E_NEEDMORE before the 4-octet header is complete; PBX_E_MALFORMED
 * as soon as the version octet is not 3 or the length below 4.  The
 * reserved octet is not checked: some old gateways do not send 0. */
PBX_API int h225_tpkt_frame(const uint8_t *p, size_t len, size_t *frame_len);

/* ---- Q.931 (q931.c) ---- */

/* h225_q931_read - the Q.931 message of n octets at p (a TPKT payload):
 * protocol discriminator 0x08, a 2-octet call reference, the message type
 * and its information elements, each checked against the message's end.
 * Returns 0 with *q filled (uu borrows p), or PBX_E_MALFORMED with *at the
 * offset in p where a rule broke (another discriminator or call reference
 * length, a length past the end, a second User-user IE). */
PBX_API int h225_q931_read(const uint8_t *p, size_t n, struct h225_q931 *q, size_t *at);

/* ---- the whole frame (msg.c) ---- */

/* h225_msg_read - read the TPKT frame at p, exactly len octets (the length
 * h225_tpkt_frame gave).  Strings are converted into text (cap octets;
 * H225_TEXT_MAX suffices for any frame this accepts), which *m then
 * borrows, as it borrows p.  Returns 0, or with *at set to the offset in
 * the frame where reading stopped:
 *  PBX_E_MALFORMED  the frame breaks TPKT, Q.931 or PER rules;
 *  PBX_E_TOOLONG    a bound of this reader: a fragmented PER length,
 *                   nesting past H225_DEPTH_MAX, more than H225_RAS_MAX
 *                   RAS messages;
 *  PBX_E_INVALID    a GRQ's or RRQ's h323-ID alias holds control
 *                   characters or code units that are not characters;
 *  PBX_E_NOSPACE    text is too small.
 * A frame without a User-user IE is not an error (body H225_BODY_NONE). */
PBX_API int h225_msg_read(const uint8_t *p, size_t len, struct h225_msg *m, char *text,
			  size_t cap, size_t *at);

/* ---- names (names.c) ---- */

/* h225_gkid_service - the service names of a gatekeeper identifier
 * "[physical-location@]domain[/registration-location[:standby-location]]":
 * *name is domain or domain/registration-location, *standby
 * domain/standby-location (empty when there is none), both lowercased
 * into buf (cap octets), which they then point into.  The physical
 * location (everything before the last '@' ahead of the first '/') is
 * ignored.  Every part present must be non-empty, and none may hold a
 * space, a control character or a second separator.  Returns 0,
 * PBX_E_MALFORMED, or PBX_E_NOSPACE. */
PBX_API int h225_gkid_service(struct pbx_span gkid, char *buf, size_t cap,
			      struct pbx_span *name, struct pbx_span *standby);

/* h225_alias_domain - the domain of an alias of the form user@domain: what
 * follows the last '@', cut at the first ':' (a port) or ';' (URL
 * parameters), lowercased into buf (cap octets).  A url-ID's scheme
 * ("h323:bob@example.org") does not matter.  The user part must not be
 * empty, and the domain must be letters, digits, '-', '_' and '.' only.
 * Returns 0 with *domain pointing into buf, PBX_E_MALFORMED, or
 * PBX_E_NOSPACE. */
PBX_API int h225_alias_domain(struct pbx_span alias, char *buf, size_t cap,
			      struct pbx_span *domain);

/* ---- writing (msg.c) ---- */

/* h225_write_ras_reject - append to w one TPKT frame answering a
 * GatekeeperRequest (request H225_RAS_GRQ) with a GatekeeperReject, or a
 * RegistrationRequest (H225_RAS_RRQ) with a RegistrationReject: requestSeqNum
 * seq, protocolIdentifier 0.0.8.2250.0.7, rejectReason reason (a NULL
 * alternative of enum h225_grj_reason or h225_rrj_reason), as the raw
 * parameter 1 of a genericData H.460.17 entry in a Q.931 FACILITY with the
 * global call reference and an `empty` body, h245Tunnelling TRUE.  Returns
 * 0; PBX_E_INVALID for another request or reason; PBX_E_NOSPACE, and then
 * nothing is written. */
PBX_API int h225_write_ras_reject(struct pbx_writer *w, int request, uint16_t seq, int reason);

/* h225_write_release_complete - append to w one TPKT frame with a Q.931
 * RELEASE COMPLETE for call reference cref (flag as given), a Cause IE
 * (ITU-T coding, location user) with cause, and a User-user IE whose body
 * is releaseComplete with just the protocolIdentifier.  Returns 0;
 * PBX_E_INVALID for a cref or cause out of range; PBX_E_NOSPACE, and then
 * nothing is written. */
PBX_API int h225_write_release_complete(struct pbx_writer *w, uint16_t cref, bool flag,
					uint8_t cause);

#endif
