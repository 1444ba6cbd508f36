/* inspect.h - protocol inspectors: what rpd learns from the bytes of a
 * connection, one protocol per file, all of one shape.
 *
 * An inspector is pure: bytes in, verdict out.  For bytes from the client
 * it answers "need more", "this message goes to service NAME (with user,
 * URL ...)", "this message continues the conversation" or "refuse for
 * REASON at byte OFFSET", and gives the message's framing so that rpd can
 * forward exactly one message and inspect the next.  For bytes from the
 * service it frames and classifies replies (a rejection is suspicious).
 * It writes the protocol's own refusal.  rpd's connection code names no
 * protocol: it looks the inspector up by the listener's family.
 */
#ifndef PBXEDGE_INSPECT_H
#define PBXEDGE_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pbxedge/api.h>
#include <pbxedge/buf.h>
#include <pbxedge/store.h>

/* Why something was refused or counted as suspicious.  The names are
 * stable: logs, counters, `rpctl status` and tests use them. */
enum pbx_reason {
	PBX_R_NONE,
	PBX_R_MALFORMED,        /* "malformed": breaks the protocol's syntax */
	PBX_R_TOO_LARGE,        /* "too-large": head or message over the bound */
	PBX_R_AMBIGUOUS,        /* "ambiguous-framing": smuggling-shaped framing */
	PBX_R_UNSUPPORTED,      /* "unsupported": valid, but not relayable */
	PBX_R_NO_NAME,          /* "no-name": nothing to route by */
	PBX_R_UNKNOWN_NAME,     /* "unknown-name": no such service name */
	PBX_R_NO_TARGET,        /* "no-target": the name has no target for this */
	PBX_R_SOURCE_DENIED,    /* "source-denied": not from an allowed network */
	PBX_R_URL_DENIED,       /* "url-denied": not an allowed URL */
	PBX_R_OTHER_SERVICE,    /* "other-service": a later request resolves elsewhere */
	PBX_R_TIMEOUT,          /* "inspect-timeout": too slow to send a request */
	PBX_R_BLACKLISTED,      /* "blacklisted": dropped at accept */
	PBX_R_TLS_FAILED,       /* "tls-failed": the TLS handshake failed */
	PBX_R_BAD_CERT,         /* "bad-certificate": a client certificate did not verify */
	PBX_R_TARGET_FAILED,    /* "target-failed": the service could not be reached */
	PBX_R_REJECTED,         /* "service-rejected": the service refused the request */
	PBX_R_CLIENT_CLOSED,    /* "client-closed": closed before a whole request */
	PBX_R_IDLE,             /* "idle-timeout": nothing moved for too long */
	PBX_R_SERVICE_MALFORMED,/* "service-malformed": the service broke the protocol */
	PBX_R_COUNT
};

/* pbx_reason_name - the stable name of r ("unknown-name"). */
PBX_API const char *pbx_reason_name(enum pbx_reason r);

enum pbx_verdict_kind {
	PBX_V_NEED_MORE, /* not enough bytes yet to decide */
	PBX_V_ROUTE,     /* a message that routes by name (first, or re-checked) */
	PBX_V_PASS,      /* a message that belongs to the conversation (SIP
			  * response, LDAP search, TPKT keep-alive ...) */
	PBX_V_REFUSE,    /* refuse: reason and offset say why */
};

/* How the rest of a message after its head is delimited. */
enum pbx_body {
	PBX_BODY_NONE,     /* the head is the whole message */
	PBX_BODY_LENGTH,   /* body_len more bytes */
	PBX_BODY_CHUNKED,  /* HTTP chunked: run pbx_http_chunks over it */
	PBX_BODY_CLOSE,    /* everything until the sender closes (HTTP/1.0-style
			    * responses without a length) */
};

enum pbx_verdict_flags {
	PBX_VF_UPGRADE = 1,      /* asks to switch protocols (WebSocket) */
	PBX_VF_CREDENTIALS = 2,  /* carries credentials (SIP Authorization,
				  * a non-anonymous LDAP bind) */
	PBX_VF_CLOSE = 4,        /* the client will close after this message */
	PBX_VF_REQUEST = 8,      /* a request (not a response) */
};

/* Aliases a verdict can carry. */
#define PBX_VERDICT_ALIASES 8

/* Spans point into the bytes given to request(), or, where the protocol
 * encodes a name in a way that must be converted or joined (LDAP DC
 * components, H.323 BMPStrings), into the inspector's state; either way
 * they are valid until the next call. */
struct pbx_verdict {
	enum pbx_verdict_kind kind;
	enum pbx_reason reason;   /* PBX_V_REFUSE */
	size_t offset;            /* PBX_V_REFUSE: where the input broke a rule */
	size_t head_len;          /* bytes of the message head (or the whole
				   * message for PBX_BODY_NONE) */
	enum pbx_body body;
	uint64_t body_len;        /* PBX_BODY_LENGTH */
	unsigned flags;           /* enum pbx_verdict_flags */
	struct pbx_span name;     /* routing name (Host, From domain, bind domain) */
	struct pbx_span user;     /* user part, where the protocol has one */
	struct pbx_span url;      /* HTTP request target (path and query) */
	struct pbx_span method;   /* HTTP/SIP method */
	/* H.323: the standby service name (domain/standby-location), tried
	 * when the target of name cannot be connected; empty when none. */
	struct pbx_span standby;
	/* The aliases the endpoint registers under (H.323 h323-IDs), for the
	 * certificate check of registrations. */
	struct pbx_span aliases[PBX_VERDICT_ALIASES];
	size_t n_aliases;
	/* HTTP: where the forwarded head gets X-Forwarded-For.  xff_at is the
	 * offset at which ", CLIENT" is inserted into the last existing
	 * header's value; 0 when there is none, and then a new header line is
	 * inserted at xff_end_of_head (the start of the empty line). */
	size_t xff_at;
	size_t xff_end_of_head;
};

/* A reply from the service, framed and classified. */
struct pbx_reply {
	enum pbx_verdict_kind kind; /* NEED_MORE, PASS, or REFUSE (malformed reply) */
	enum pbx_reason reason;
	size_t head_len;
	enum pbx_body body;
	uint64_t body_len;
	unsigned flags;             /* PBX_VF_REQUEST: a request from the service
				     * (SIP); PBX_VF_UPGRADE: switching protocols
				     * (HTTP 101) */
	int status;                 /* HTTP/SIP status, LDAP resultCode, or -1 */
	bool final;                 /* answers a request (not 1xx/interim) */
	bool rejection;             /* the service rejected the client: suspicious */
};

/* One row per protocol.  state points to state_size bytes owned by the
 * connection, zeroed and then given to init.
 *
 * Calling convention, the same for request and reply: p holds the bytes
 * received so far from the start of the next message (len of them).  While
 * the answer is NEED_MORE the caller calls again with the same bytes and
 * more after them (p may have moved); the inspector may keep in state how
 * far it has scanned, so that a client sending one byte at a time costs
 * linear, not quadratic, time.  Any other answer ends the message's head:
 * the next call starts a new message.  Neither direction's state depends on
 * the other's except through what the protocol says (a reply answers a
 * request). */
struct pbx_inspector {
	const char *name;
	enum store_family family;
	size_t state_size;
	/* The client sends its next request only after the reply to the
	 * previous one (HTTP/1.1): rpd does not read a new request head while
	 * a reply is pending. */
	bool lockstep;
	/* max_head bounds one message head: larger ones are refused too-large. */
	void (*init)(void *state, size_t max_head);
	/* Inspect the bytes from the client that start the next message. */
	void (*request)(void *state, const uint8_t *p, size_t len, struct pbx_verdict *v);
	/* Inspect the bytes from the service that start the next reply. */
	void (*reply)(void *state, const uint8_t *p, size_t len, struct pbx_reply *r);
	/* Write the protocol's own refusal of the message in p (the bytes that
	 * request saw, len of them, possibly incomplete) for reason into w;
	 * write nothing where the protocol has no refusal to send. */
	void (*refuse)(void *state, const uint8_t *p, size_t len, enum pbx_reason reason,
		       struct pbx_writer *w);
};

/* pbx_inspector_for - the inspector of a protocol family, or NULL. */
PBX_API const struct pbx_inspector *pbx_inspector_for(enum store_family f);

#endif
