/* stun.h - STUN message codec (RFC 8489) with the attributes of NAT
 * behaviour discovery (RFC 5780), TURN (RFC 8656), ICE (RFC 8445) and
 * classic STUN (RFC 3489), message integrity and fingerprints, and TURN
 * ChannelData framing over UDP and TCP.
 *
 * Decoding never allocates.  stun_msg_decode() checks the framing of one
 * message (a UDP datagram, or a frame that stun_hdr_frame() cut from a
 * stream) once and indexes its attributes into a caller-owned struct
 * stun_msg, which borrows the bytes; the stun_attr_* getters then read
 * single attributes on demand.  Every reason to drop a message is one
 * value of enum stun_drop, with a stable name (stun_names_drop) for logs
 * and counters.
 *
 * Encoding writes into a caller buffer through struct stun_enc (a struct
 * pbx_writer inside): stun_msg_init(), the stun_attr_put_* functions, the
 * stun_integrity_put_* functions, then stun_msg_finish().  Errors are
 * sticky, so a sequence of puts is checked once, and nothing is ever
 * written past the buffer: the size of an answer is bounded by the buffer
 * it is built in (STUN_ATTR_SPACE helps to size one).
 *
 * Messages without the magic cookie are RFC 3489 ("classic") messages
 * with a 16-byte transaction ID; struct stun_msg says which kind it
 * decoded, and replies are built in the same kind.
 */
#ifndef PBXEDGE_STUN_H
#define PBXEDGE_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pbxedge/addr.h>
#include <pbxedge/api.h>
#include <pbxedge/buf.h>
#include <pbxedge/err.h>

#define STUN_HDR_LEN 20            /* message header */
#define STUN_COOKIE 0x2112A442u    /* magic cookie (RFC 8489 section 5) */
#define STUN_TID_LEN 12            /* transaction ID with the magic cookie */
#define STUN_TID_LEN_CLASSIC 16    /* RFC 3489 transaction ID */
#define STUN_MAX_ATTRS 32          /* attributes one message may carry */
#define STUN_MSG_MAX (STUN_HDR_LEN + 65532) /* longest message */
#define STUN_CHAN_HDR_LEN 4        /* ChannelData header */
#define STUN_KEY_MAX 256           /* longest integrity key (an ICE password) */
#define STUN_SHA256_FULL 32        /* untruncated MESSAGE-INTEGRITY-SHA256 */
#define STUN_SHA256_MIN 16         /* shortest truncation RFC 8489 allows */
#define STUN_TEXT_MAX 763          /* longest USERNAME, REALM, NONCE, SOFTWARE,
				    * reason phrase (RFC 8489 14.3, 14.8-14.10) */

/* Bytes an attribute with an n-byte value takes in a message: header,
 * value and padding. */
#define STUN_ATTR_SPACE(n) (4 + (((size_t)(n) + 3) & ~(size_t)3))

/* Message classes (RFC 8489 section 5). */
enum stun_class {
	STUN_REQUEST = 0,
	STUN_INDICATION = 1,
	STUN_SUCCESS = 2,
	STUN_ERROR = 3,
};

/* Methods. */
enum stun_method {
	STUN_BINDING = 0x001,           /* RFC 8489 */
	STUN_SHARED_SECRET = 0x002,     /* RFC 3489, for names only */
	STUN_ALLOCATE = 0x003,          /* RFC 8656 */
	STUN_REFRESH = 0x004,
	STUN_SEND = 0x006,
	STUN_DATA = 0x007,
	STUN_CREATE_PERMISSION = 0x008,
	STUN_CHANNEL_BIND = 0x009,
};

/* Attribute types.  0x0000-0x7FFF are comprehension-required. */
enum stun_attr_type {
	STUN_A_MAPPED_ADDRESS = 0x0001,
	STUN_A_RESPONSE_ADDRESS = 0x0002,     /* RFC 3489; recognised, never acted on */
	STUN_A_CHANGE_REQUEST = 0x0003,       /* RFC 3489, RFC 5780 */
	STUN_A_SOURCE_ADDRESS = 0x0004,       /* RFC 3489 */
	STUN_A_CHANGED_ADDRESS = 0x0005,      /* RFC 3489 */
	STUN_A_USERNAME = 0x0006,
	STUN_A_PASSWORD = 0x0007,             /* RFC 3489 */
	STUN_A_MESSAGE_INTEGRITY = 0x0008,
	STUN_A_ERROR_CODE = 0x0009,
	STUN_A_UNKNOWN_ATTRIBUTES = 0x000A,
	STUN_A_REFLECTED_FROM = 0x000B,       /* RFC 3489 */
	STUN_A_CHANNEL_NUMBER = 0x000C,       /* RFC 8656 */
	STUN_A_LIFETIME = 0x000D,
	STUN_A_XOR_PEER_ADDRESS = 0x0012,
	STUN_A_DATA = 0x0013,
	STUN_A_REALM = 0x0014,
	STUN_A_NONCE = 0x0015,
	STUN_A_XOR_RELAYED_ADDRESS = 0x0016,
	STUN_A_REQUESTED_ADDRESS_FAMILY = 0x0017,
	STUN_A_EVEN_PORT = 0x0018,
	STUN_A_REQUESTED_TRANSPORT = 0x0019,
	STUN_A_DONT_FRAGMENT = 0x001A,
	STUN_A_MESSAGE_INTEGRITY_SHA256 = 0x001C,
	STUN_A_PASSWORD_ALGORITHM = 0x001D,
	STUN_A_USERHASH = 0x001E,
	STUN_A_XOR_MAPPED_ADDRESS = 0x0020,
	STUN_A_RESERVATION_TOKEN = 0x0022,
	STUN_A_PRIORITY = 0x0024,             /* RFC 8445 */
	STUN_A_USE_CANDIDATE = 0x0025,
	STUN_A_PADDING = 0x0026,              /* RFC 5780 */
	STUN_A_RESPONSE_PORT = 0x0027,
	STUN_A_ADDITIONAL_ADDRESS_FAMILY = 0x8000, /* RFC 8656 */
	STUN_A_ADDRESS_ERROR_CODE = 0x8001,
	STUN_A_PASSWORD_ALGORITHMS = 0x8002,
	STUN_A_ALTERNATE_DOMAIN = 0x8003,
	STUN_A_ICMP = 0x8004,
	STUN_A_SOFTWARE = 0x8022,
	STUN_A_ALTERNATE_SERVER = 0x8023,
	STUN_A_CACHE_TIMEOUT = 0x8027,        /* RFC 5780 */
	STUN_A_FINGERPRINT = 0x8028,
	STUN_A_ICE_CONTROLLED = 0x8029,       /* RFC 8445 */
	STUN_A_ICE_CONTROLLING = 0x802A,
	STUN_A_RESPONSE_ORIGIN = 0x802B,      /* RFC 5780 */
	STUN_A_OTHER_ADDRESS = 0x802C,
};

/* How an attribute's value is laid out, which says which getter and put
 * function read and write it (see stun_attr_kind). */
enum stun_attr_kind {
	STUN_K_UNKNOWN = 0,  /* not known to this codec: stun_attr_raw only */
	STUN_K_ADDR,         /* MAPPED-ADDRESS layout: stun_attr_addr */
	STUN_K_XADDR,        /* XOR-MAPPED-ADDRESS layout: stun_attr_addr */
	STUN_K_U32,          /* 32-bit number: stun_attr_u32 */
	STUN_K_U64,          /* 64-bit number: stun_attr_u64 */
	STUN_K_TEXT,         /* bounded text or bytes: stun_attr_text */
	STUN_K_EMPTY,        /* a flag without a value: stun_attr_empty */
	STUN_K_ERROR,        /* ERROR-CODE: stun_attr_error */
	STUN_K_UNKNOWN_LIST, /* UNKNOWN-ATTRIBUTES: stun_attr_unknown */
	STUN_K_CHANGE,       /* CHANGE-REQUEST: stun_attr_change_request */
	STUN_K_CHANNEL,      /* CHANNEL-NUMBER: stun_attr_channel */
	STUN_K_TRANSPORT,    /* REQUESTED-TRANSPORT: stun_attr_transport */
	STUN_K_FAMILY,       /* (REQUESTED|ADDITIONAL)-ADDRESS-FAMILY: stun_attr_family */
	STUN_K_EVEN_PORT,    /* EVEN-PORT: stun_attr_even_port */
	STUN_K_PORT,         /* RESPONSE-PORT: stun_attr_response_port */
	STUN_K_PWALG,        /* PASSWORD-ALGORITHM: stun_attr_password_algorithm */
	STUN_K_PWALGS,       /* PASSWORD-ALGORITHMS: stun_attr_password_algorithms */
	STUN_K_ADDR_ERROR,   /* ADDRESS-ERROR-CODE: stun_attr_address_error */
	STUN_K_ICMP,         /* ICMP: stun_attr_icmp */
	STUN_K_INTEGRITY,    /* MESSAGE-INTEGRITY(-SHA256): stun_integrity_* */
	STUN_K_FINGERPRINT,  /* FINGERPRINT: checked by stun_msg_decode */
};

/* Standard error codes (ERROR-CODE); stun_names_error gives their
 * reason phrases. */
enum stun_error_code {
	STUN_ERR_TRY_ALTERNATE = 300,
	STUN_ERR_BAD_REQUEST = 400,
	STUN_ERR_UNAUTHENTICATED = 401,
	STUN_ERR_FORBIDDEN = 403,
	STUN_ERR_UNKNOWN_ATTRIBUTE = 420,
	STUN_ERR_STALE_CREDENTIALS = 430,       /* RFC 3489 */
	STUN_ERR_INTEGRITY_CHECK_FAILURE = 431, /* RFC 3489 */
	STUN_ERR_MISSING_USERNAME = 432,        /* RFC 3489 */
	STUN_ERR_USE_TLS = 433,                 /* RFC 3489 */
	STUN_ERR_ALLOCATION_MISMATCH = 437,
	STUN_ERR_STALE_NONCE = 438,
	STUN_ERR_ADDRESS_FAMILY = 440,
	STUN_ERR_WRONG_CREDENTIALS = 441,
	STUN_ERR_UNSUPPORTED_TRANSPORT = 442,
	STUN_ERR_PEER_ADDRESS_FAMILY = 443,
	STUN_ERR_QUOTA_REACHED = 486,
	STUN_ERR_ROLE_CONFLICT = 487,
	STUN_ERR_SERVER = 500,
	STUN_ERR_INSUFFICIENT_CAPACITY = 508,
	STUN_ERR_GLOBAL_FAILURE = 600,          /* RFC 3489 */
};

/* CHANGE-REQUEST flags (RFC 5780 section 7.2). */
#define STUN_CHANGE_IP 0x4u
#define STUN_CHANGE_PORT 0x2u

/* Address families as STUN writes them (RFC 8489 14.1): in
 * REQUESTED-ADDRESS-FAMILY, ADDITIONAL-ADDRESS-FAMILY, ADDRESS-ERROR-CODE. */
#define STUN_FAMILY_IPV4 0x01
#define STUN_FAMILY_IPV6 0x02

/* REQUESTED-TRANSPORT protocol for UDP, the only one RFC 8656 allows. */
#define STUN_TRANSPORT_UDP 17

/* Password algorithms (RFC 8489 section 18.5). */
#define STUN_PWALG_MD5 0x0001
#define STUN_PWALG_SHA256 0x0002

/* Security feature bits of a nonce cookie (RFC 8489 9.2). */
#define STUN_FEATURE_PASSWORD_ALGORITHMS 0x800000u
#define STUN_FEATURE_USERNAME_ANONYMITY 0x400000u
#define STUN_NONCE_COOKIE "obMatJos2"
#define STUN_NONCE_COOKIE_LEN 13  /* the cookie and 4 base64 characters */

/* Why a message (or ChannelData, or a stream frame) was dropped.  Each
 * has a stable name (stun_names_drop) for logs and counters. */
enum stun_drop {
	STUN_DROP_NONE = 0,
	STUN_DROP_NOT_STUN,          /* "not-stun": first byte not 0-3 (RTP,
				      * DTLS, ChannelData... RFC 7983) */
	STUN_DROP_TRUNCATED,         /* "truncated": under 20 bytes, or fewer
				      * than the length field (or ChannelData
				      * length) says */
	STUN_DROP_TRAILING,          /* "trailing": more bytes than the length
				      * field (or ChannelData length and its
				      * padding) says */
	STUN_DROP_BAD_LENGTH,        /* "bad-length": length field not a
				      * multiple of 4 */
	STUN_DROP_BAD_PADDING,       /* "bad-padding": the length field is not
				      * a multiple of 4 because the last
				      * attribute lacks its padding */
	STUN_DROP_ATTR_TRUNCATED,    /* "attr-truncated": an attribute runs past
				      * the end of the message */
	STUN_DROP_TOO_MANY_ATTRS,    /* "too-many-attrs": more than
				      * STUN_MAX_ATTRS attributes to index */
	STUN_DROP_BAD_INTEGRITY_ATTR,/* "bad-integrity-attr": MESSAGE-INTEGRITY
				      * not 20 bytes, or -SHA256 not 16-32 in
				      * steps of 4 */
	STUN_DROP_BAD_FINGERPRINT,   /* "bad-fingerprint": FINGERPRINT not 4
				      * bytes, or not the message's CRC */
	STUN_DROP_AFTER_FINGERPRINT, /* "after-fingerprint": an attribute
				      * follows FINGERPRINT */
	STUN_DROP_TOO_LONG,          /* "too-long": a stream frame larger than
				      * the caller's bound */
	STUN_DROP_NO_COOKIE,         /* "no-cookie": a STUN frame on a stream
				      * without the magic cookie */
	STUN_DROP_BAD_CHANNEL,       /* "bad-channel": ChannelData channel number
				      * outside 0x4000-0x4FFF */
	STUN_DROP_COUNT
};

/* Message kinds: with the magic cookie (RFC 5389/8489), or without
 * (RFC 3489). */
enum stun_kind {
	STUN_KIND_RFC5389 = 0,
	STUN_KIND_RFC3489 = 1,
};

/* One indexed attribute: type, value length (before padding) and the
 * offset of the value from the message's first byte. */
struct stun_attr_ref {
	uint16_t type;
	uint16_t len;
	uint32_t off;
};

/* A decoded message.  Caller-owned; it borrows the message bytes, which
 * must outlive it.  Fields are read-only for callers. */
struct stun_msg {
	const uint8_t *p;        /* the message */
	size_t len;              /* 20 + its length field */
	uint16_t type;           /* message type: method and class */
	uint16_t method;         /* enum stun_method or another 12-bit method */
	uint8_t cls;             /* enum stun_class */
	uint8_t kind;            /* enum stun_kind */
	uint8_t tid_len;         /* STUN_TID_LEN or STUN_TID_LEN_CLASSIC */
	uint8_t tid[STUN_TID_LEN_CLASSIC]; /* transaction ID, tid_len bytes */
	uint16_t n_attrs;        /* attributes indexed in attrs[] */
	uint16_t n_ignored;      /* attributes after MESSAGE-INTEGRITY(-SHA256)
				  * that were skipped, not indexed */
	int16_t integrity;       /* index of MESSAGE-INTEGRITY, or -1 */
	int16_t integrity256;    /* index of MESSAGE-INTEGRITY-SHA256, or -1 */
	int16_t fingerprint;     /* index of FINGERPRINT (checked), or -1 */
	uint16_t n_unknown;      /* distinct comprehension-required types this
				  * codec does not know, for a 420 answer */
	uint16_t unknown[STUN_MAX_ATTRS];
	struct stun_attr_ref attrs[STUN_MAX_ATTRS];
	uint8_t drop;            /* enum stun_drop: why decoding failed */
	uint32_t drop_off;       /* byte offset where it failed */
};

/* A message being built, caller-owned.  Only msg.c, attr.c and
 * integrity.c touch its fields. */
struct stun_enc {
	struct pbx_writer w;      /* private */
	uint8_t xor_key[16];      /* private: magic cookie and transaction ID */
	uint8_t kind;             /* private: enum stun_kind */
	uint8_t state;            /* private: integrity attributes written */
	uint8_t pad_byte;         /* private */
	int err;                  /* private: first error, sticky */
};

/* An ERROR-CODE or ADDRESS-ERROR-CODE value.  The reason points into the
 * message (not NUL-terminated, not checked to be UTF-8). */
struct stun_error {
	int code;                 /* 300-699 */
	struct pbx_span reason;
};

/* A PASSWORD-ALGORITHM(S) entry; params point into the message. */
struct stun_pwalg {
	uint16_t alg;             /* STUN_PWALG_* or another number */
	struct pbx_span params;
};

/* An ICMP attribute (RFC 8656 18.13). */
struct stun_icmp {
	uint8_t type;
	uint8_t code;
	uint32_t data;
};

/* An integrity key: the short-term password, or a long-term key derived
 * from user, realm and password (16 bytes MD5, 32 bytes SHA-256).
 * Caller-owned. */
struct stun_key {
	size_t len;
	uint8_t k[STUN_KEY_MAX];
};

/* Outcome of stun_integrity_check. */
enum stun_integrity {
	STUN_INTEGRITY_ABSENT = 0,   /* neither integrity attribute */
	STUN_INTEGRITY_OK_SHA1,      /* MESSAGE-INTEGRITY matches */
	STUN_INTEGRITY_OK_SHA256,    /* MESSAGE-INTEGRITY-SHA256 matches */
	STUN_INTEGRITY_BAD,          /* the checked attribute does not match */
	STUN_INTEGRITY_TOO_SHORT,    /* -SHA256 truncated below the minimum */
};

/* ---- header and framing (hdr.c) ---- */

/* Flags for the ChannelData functions and stun_hdr_frame. */
enum stun_chan_flags {
	STUN_CHAN_STREAM = 1,   /* over TCP/TLS: padded to 4 bytes */
	STUN_CHAN_RFC5766 = 2,  /* accept channels 0x5000-0x7FFF too, as
				 * RFC 5766 did (coturn's turnutils_uclient
				 * picks them) */
};

/* What the next bytes of a stream hold. */
enum stun_frame_kind {
	STUN_FRAME_NEEDMORE = 0,  /* cannot tell yet: read more */
	STUN_FRAME_STUN,          /* a STUN message of len bytes */
	STUN_FRAME_CHANDATA,      /* a ChannelData message, len with padding */
	STUN_FRAME_GARBAGE,       /* neither: drop says why; close the stream */
};

/* The verdict of stun_hdr_frame. */
struct stun_frame {
	uint8_t kind;   /* enum stun_frame_kind */
	uint8_t drop;   /* enum stun_drop, for STUN_FRAME_GARBAGE */
	size_t len;     /* frame length; for NEEDMORE the bytes needed before
			 * asking again (more than were given) */
};

/* A decoded ChannelData message; data points into the caller's bytes. */
struct stun_chandata {
	uint16_t channel;
	const uint8_t *data;
	size_t len;
	uint8_t drop;   /* enum stun_drop: why decoding failed */
};

/* stun_hdr_type - the message type of a method (12 bits) and class. */
PBX_API uint16_t stun_hdr_type(uint16_t method, enum stun_class cls);

/* stun_hdr_method - the method bits of a message type. */
PBX_API uint16_t stun_hdr_method(uint16_t type);

/* stun_hdr_class - the class bits of a message type. */
PBX_API enum stun_class stun_hdr_class(uint16_t type);

/* stun_hdr_channel_valid - true if ch is a channel number ChannelBind and
 * ChannelData may use: 0x4000-0x4FFF (RFC 8656 section 12), or up to
 * 0x7FFF with STUN_CHAN_RFC5766 in flags. */
PBX_API bool stun_hdr_channel_valid(uint16_t ch, unsigned flags);

/* stun_hdr_frame - look at the first len bytes of a stream (TCP or TLS)
 * and say whether the next frame is a STUN message or ChannelData, and
 * how long it is, or that more bytes are needed, or that the stream is
 * garbage.  Frames longer than max bytes are garbage (STUN_DROP_TOO_LONG).
 * flags: STUN_CHAN_RFC5766 widens the channel range.  Always fills *out;
 * the bytes are the caller's and are only read. */
PBX_API void stun_hdr_frame(const void *p, size_t len, size_t max, unsigned flags,
			    struct stun_frame *out);

/* stun_hdr_chandata_decode - decode one ChannelData message in p (len
 * bytes: the whole datagram, or the frame stun_hdr_frame found).  Over UDP
 * the padding is optional (RFC 8656 12.5), so a datagram may end after
 * the data or after its padding; with STUN_CHAN_STREAM the padding must be
 * there.  Returns 0 with *out filled (out->data points into p), or
 * PBX_E_TRUNCATED / PBX_E_TRAILING / PBX_E_MALFORMED with out->drop
 * saying why. */
PBX_API int stun_hdr_chandata_decode(const void *p, size_t len, unsigned flags,
				     struct stun_chandata *out);

/* stun_hdr_chandata_encode - append a ChannelData message (header, data
 * and, with STUN_CHAN_STREAM, zero padding) to w.  Returns 0, the
 * writer's sticky error (PBX_E_NOSPACE), or PBX_E_INVALID for a channel
 * stun_hdr_channel_valid refuses or data over 65535 bytes. */
PBX_API int stun_hdr_chandata_encode(struct pbx_writer *w, uint16_t channel, const void *data,
				     size_t len, unsigned flags);

/* ---- messages (msg.c) ---- */

/* stun_msg_decode - decode the STUN message in p (exactly len bytes: a
 * UDP datagram, or a frame cut by stun_hdr_frame) into *m, which then
 * borrows p.  Checks the header, the length field, every attribute's
 * framing, the integrity attributes' lengths and the FINGERPRINT, and
 * indexes up to STUN_MAX_ATTRS attributes.  Attributes after
 * MESSAGE-INTEGRITY other than MESSAGE-INTEGRITY-SHA256 and FINGERPRINT,
 * and after MESSAGE-INTEGRITY-SHA256 other than FINGERPRINT, are skipped
 * (RFC 8489 14.5, 14.6) and counted in n_ignored.  Returns 0; or
 * PBX_E_TRUNCATED, PBX_E_TRAILING, PBX_E_TOOLONG (too many attributes) or
 * PBX_E_MALFORMED, with m->drop and m->drop_off saying why and where.
 * Never allocates. */
PBX_API int stun_msg_decode(struct stun_msg *m, const void *p, size_t len);

/* stun_msg_find - the index of the first indexed attribute of the given
 * type at index from or later, into *i.  Returns 0 or PBX_E_NOTFOUND. */
PBX_API int stun_msg_find(const struct stun_msg *m, uint16_t type, size_t from, size_t *i);

/* stun_msg_unknown - the distinct comprehension-required attribute types
 * of m (below 0x8000) not among the n types in understood, for the
 * UNKNOWN-ATTRIBUTES of a 420 answer; a usage that implements less than
 * this codec (stund answers Binding only) passes what it implements.
 * Writes at most cap types to out and their count to *n.  Returns 0, or
 * PBX_E_NOSPACE if more than cap were found. */
PBX_API int stun_msg_unknown(const struct stun_msg *m, const uint16_t *understood,
			     size_t n_understood, uint16_t *out, size_t cap, size_t *n);

/* stun_msg_init - start a message of the given type in buf (capacity cap,
 * the caller's) with transaction ID tid: 12 bytes after the magic cookie
 * for STUN_KIND_RFC5389, 16 bytes for STUN_KIND_RFC3489.  Returns 0,
 * PBX_E_NOSPACE, or PBX_E_INVALID for a type whose first byte is not 0-3
 * (methods from 0x100 are reserved, RFC 7983); the error is sticky in e,
 * like every later one. */
PBX_API int stun_msg_init(struct stun_enc *e, void *buf, size_t cap, uint16_t type,
			  const uint8_t *tid, enum stun_kind kind);

/* stun_msg_init_reply - start the answer to req of class cls: same method,
 * transaction ID and kind. */
PBX_API int stun_msg_init_reply(struct stun_enc *e, void *buf, size_t cap,
				const struct stun_msg *req, enum stun_class cls);

/* stun_msg_set_padding - the byte that pads attributes written from now
 * on.  RFC 8489 says zero, the default; RFC 5389 allowed any, and RFC
 * 5769's samples pad with spaces: this reproduces them, and tests that
 * receivers ignore padding. */
PBX_API void stun_msg_set_padding(struct stun_enc *e, uint8_t byte);

/* stun_msg_finish - end the message: *len gets its size in bytes (at the
 * start of the caller's buffer).  Returns 0 or the first error of any
 * earlier call (then *len is 0). */
PBX_API int stun_msg_finish(struct stun_enc *e, size_t *len);

/* ---- attributes (attr.c) ---- */

/* stun_attr_kind - the layout of an attribute type's value;
 * STUN_K_UNKNOWN for types this codec does not know. */
PBX_API enum stun_attr_kind stun_attr_kind(uint16_t type);

/* The getters below read the attribute at index i of m (see
 * stun_msg_find).  They return 0 with the result; PBX_E_INVALID if i is
 * out of range or the attribute is not of the getter's kind; or
 * PBX_E_MALFORMED if its value breaks its format (its length, a family,
 * an error class...).  Spans point into the message. */

/* stun_attr_raw - the value bytes of any attribute. */
PBX_API int stun_attr_raw(const struct stun_msg *m, size_t i, struct pbx_span *v);

/* stun_attr_addr - an address attribute (STUN_K_ADDR, STUN_K_XADDR),
 * un-XORed as needed.  A classic message has no magic cookie to XOR with:
 * XOR attributes in one are PBX_E_MALFORMED. */
PBX_API int stun_attr_addr(const struct stun_msg *m, size_t i, struct pbx_addr *out);

/* stun_attr_u32 - a 32-bit value (LIFETIME, PRIORITY, CACHE-TIMEOUT,
 * FINGERPRINT). */
PBX_API int stun_attr_u32(const struct stun_msg *m, size_t i, uint32_t *v);

/* stun_attr_u64 - a 64-bit value (ICE-CONTROLLED, ICE-CONTROLLING,
 * RESERVATION-TOKEN). */
PBX_API int stun_attr_u64(const struct stun_msg *m, size_t i, uint64_t *v);

/* stun_attr_text - a text or byte-string attribute (USERNAME, REALM,
 * NONCE, SOFTWARE, ALTERNATE-DOMAIN, USERHASH, DATA, PADDING, PASSWORD)
 * within its length bounds.  The text is not checked to be UTF-8. */
PBX_API int stun_attr_text(const struct stun_msg *m, size_t i, struct pbx_span *v);

/* stun_attr_empty - 0 if the flag attribute (USE-CANDIDATE,
 * DONT-FRAGMENT) has the empty value it must have. */
PBX_API int stun_attr_empty(const struct stun_msg *m, size_t i);

/* stun_attr_error - ERROR-CODE: class 3-6, number 0-99. */
PBX_API int stun_attr_error(const struct stun_msg *m, size_t i, struct stun_error *out);

/* stun_attr_unknown - UNKNOWN-ATTRIBUTES: up to cap types into out, their
 * count into *n.  PBX_E_NOSPACE if the list is longer than cap. */
PBX_API int stun_attr_unknown(const struct stun_msg *m, size_t i, uint16_t *out, size_t cap,
			      size_t *n);

/* stun_attr_change_request - CHANGE-REQUEST: STUN_CHANGE_IP and
 * STUN_CHANGE_PORT; the other bits are ignored. */
PBX_API int stun_attr_change_request(const struct stun_msg *m, size_t i, unsigned *flags);

/* stun_attr_channel - CHANNEL-NUMBER, whatever its value (check it with
 * stun_hdr_channel_valid). */
PBX_API int stun_attr_channel(const struct stun_msg *m, size_t i, uint16_t *ch);

/* stun_attr_transport - REQUESTED-TRANSPORT's protocol number. */
PBX_API int stun_attr_transport(const struct stun_msg *m, size_t i, uint8_t *proto);

/* stun_attr_family - REQUESTED-ADDRESS-FAMILY or ADDITIONAL-ADDRESS-FAMILY:
 * the family byte as sent (STUN_FAMILY_IPV4/IPV6 or another value, which
 * a TURN server answers with 440). */
PBX_API int stun_attr_family(const struct stun_msg *m, size_t i, uint8_t *family);

/* stun_attr_even_port - EVEN-PORT: whether the next port is to be
 * reserved. */
PBX_API int stun_attr_even_port(const struct stun_msg *m, size_t i, bool *reserve);

/* stun_attr_response_port - RESPONSE-PORT. */
PBX_API int stun_attr_response_port(const struct stun_msg *m, size_t i, uint16_t *port);

/* stun_attr_password_algorithm - PASSWORD-ALGORITHM. */
PBX_API int stun_attr_password_algorithm(const struct stun_msg *m, size_t i,
					 struct stun_pwalg *out);

/* stun_attr_password_algorithms - PASSWORD-ALGORITHMS: up to cap entries
 * into out, their count into *n.  PBX_E_NOSPACE if there are more. */
PBX_API int stun_attr_password_algorithms(const struct stun_msg *m, size_t i,
					  struct stun_pwalg *out, size_t cap, size_t *n);

/* stun_attr_address_error - ADDRESS-ERROR-CODE: the family byte as sent
 * and the error. */
PBX_API int stun_attr_address_error(const struct stun_msg *m, size_t i, uint8_t *family,
				    struct stun_error *out);

/* stun_attr_icmp - ICMP. */
PBX_API int stun_attr_icmp(const struct stun_msg *m, size_t i, struct stun_icmp *out);

/* The put functions append one attribute to e.  They return 0 or the
 * sticky error: PBX_E_NOSPACE (buffer full), PBX_E_TOOLONG (the message
 * would pass 65535 bytes), or PBX_E_INVALID (a type of another kind, a
 * value out of range, an XOR attribute in a classic message, or any
 * attribute after FINGERPRINT, or after MESSAGE-INTEGRITY other than
 * MESSAGE-INTEGRITY-SHA256 and FINGERPRINT). */

/* stun_attr_put_raw - any type with the value bytes as given (relaying,
 * tests); the encoder's order rules still apply. */
PBX_API int stun_attr_put_raw(struct stun_enc *e, uint16_t type, const void *v, size_t n);

/* stun_attr_put_addr - an address attribute of kind STUN_K_ADDR or
 * STUN_K_XADDR (XORed as its type requires); a must be IPv4 or IPv6. */
PBX_API int stun_attr_put_addr(struct stun_enc *e, uint16_t type, const struct pbx_addr *a);

/* stun_attr_put_u32, stun_attr_put_u64 - a number of kind STUN_K_U32 or
 * STUN_K_U64. */
PBX_API int stun_attr_put_u32(struct stun_enc *e, uint16_t type, uint32_t v);
PBX_API int stun_attr_put_u64(struct stun_enc *e, uint16_t type, uint64_t v);

/* stun_attr_put_text - text or bytes of kind STUN_K_TEXT within the
 * type's length bounds. */
PBX_API int stun_attr_put_text(struct stun_enc *e, uint16_t type, const void *v, size_t n);

/* stun_attr_put_empty - a flag of kind STUN_K_EMPTY. */
PBX_API int stun_attr_put_empty(struct stun_enc *e, uint16_t type);

/* stun_attr_put_error - ERROR-CODE with code 300-699 and reason, or the
 * standard reason phrase (stun_names_error; empty if none) if reason is
 * NULL. */
PBX_API int stun_attr_put_error(struct stun_enc *e, int code, const struct pbx_span *reason);

/* stun_attr_put_unknown - UNKNOWN-ATTRIBUTES listing n types. */
PBX_API int stun_attr_put_unknown(struct stun_enc *e, const uint16_t *types, size_t n);

/* stun_attr_put_change_request - CHANGE-REQUEST with STUN_CHANGE_* flags. */
PBX_API int stun_attr_put_change_request(struct stun_enc *e, unsigned flags);

/* stun_attr_put_channel - CHANNEL-NUMBER (any value: a client testing a
 * server may send a bad one). */
PBX_API int stun_attr_put_channel(struct stun_enc *e, uint16_t ch);

/* stun_attr_put_transport - REQUESTED-TRANSPORT. */
PBX_API int stun_attr_put_transport(struct stun_enc *e, uint8_t proto);

/* stun_attr_put_family - REQUESTED-ADDRESS-FAMILY or
 * ADDITIONAL-ADDRESS-FAMILY with the family byte given. */
PBX_API int stun_attr_put_family(struct stun_enc *e, uint16_t type, uint8_t family);

/* stun_attr_put_even_port - EVEN-PORT. */
PBX_API int stun_attr_put_even_port(struct stun_enc *e, bool reserve);

/* stun_attr_put_response_port - RESPONSE-PORT. */
PBX_API int stun_attr_put_response_port(struct stun_enc *e, uint16_t port);

/* stun_attr_put_password_algorithm - PASSWORD-ALGORITHM. */
PBX_API int stun_attr_put_password_algorithm(struct stun_enc *e, const struct stun_pwalg *alg);

/* stun_attr_put_password_algorithms - PASSWORD-ALGORITHMS with n entries. */
PBX_API int stun_attr_put_password_algorithms(struct stun_enc *e, const struct stun_pwalg *algs,
					      size_t n);

/* stun_attr_put_address_error - ADDRESS-ERROR-CODE; reason NULL for the
 * standard phrase. */
PBX_API int stun_attr_put_address_error(struct stun_enc *e, uint8_t family, int code,
					const struct pbx_span *reason);

/* stun_attr_put_icmp - ICMP. */
PBX_API int stun_attr_put_icmp(struct stun_enc *e, const struct stun_icmp *icmp);

/* ---- integrity (integrity.c) ---- */

/* stun_integrity_key_short - the short-term key (RFC 8489 9.1.1): the
 * password bytes as given.  OpaqueString is not applied: for printable
 * ASCII, which ICE passwords always are, it changes nothing (see
 * stun_integrity_prep_ok).  Returns 0 or PBX_E_TOOLONG (over
 * STUN_KEY_MAX bytes). */
PBX_API int stun_integrity_key_short(struct stun_key *key, struct pbx_span password);

/* stun_integrity_key_long - the long-term key (RFC 8489 9.2.2):
 * MD5(user ":" realm ":" password) for STUN_PWALG_MD5, SHA-256 of the same
 * for STUN_PWALG_SHA256.  The texts are used as given, without
 * SASLprep/OpaqueString: pass them prepared (RFC 5769's 2.4 sample gives
 * its password after SASLprep), or keep to printable ASCII, which both
 * profiles leave unchanged.  rpctl stores only this key, never the
 * password.  Returns 0, PBX_E_INVALID (another algorithm) or -EIO (GnuTLS
 * refused the hash, as in FIPS mode for MD5). */
PBX_API int stun_integrity_key_long(struct stun_key *key, uint16_t alg, struct pbx_span user,
				    struct pbx_span realm, struct pbx_span password);

/* stun_integrity_key_set - a key from stored bytes (a derived long-term
 * key).  Returns 0 or PBX_E_TOOLONG. */
PBX_API int stun_integrity_key_set(struct stun_key *key, const void *p, size_t n);

/* stun_integrity_prep_ok - true if s is printable ASCII (0x20-0x7E), which
 * SASLprep and OpaqueString leave unchanged, so keys derived from it are
 * the same whichever profile a client applied. */
PBX_API bool stun_integrity_prep_ok(struct pbx_span s);

/* stun_integrity_userhash - USERHASH (RFC 8489 14.4):
 * SHA-256(user ":" realm), texts as given.  Returns 0 or -EIO. */
PBX_API int stun_integrity_userhash(struct pbx_span user, struct pbx_span realm,
				    uint8_t out[32]);

/* stun_integrity_put - MESSAGE-INTEGRITY (HMAC-SHA1 with key) over the
 * message so far.  Returns 0 or the sticky error (-EIO if GnuTLS
 * failed). */
PBX_API int stun_integrity_put(struct stun_enc *e, const struct stun_key *key);

/* stun_integrity_put_sha256 - MESSAGE-INTEGRITY-SHA256 (HMAC-SHA256 with
 * key), truncated to len bytes: 16 to 32 in steps of 4 (RFC 8489 14.6;
 * only truncate where the usage allows it).  PBX_E_INVALID for another
 * length. */
PBX_API int stun_integrity_put_sha256(struct stun_enc *e, const struct stun_key *key,
				      size_t len);

/* stun_integrity_put_fingerprint - FINGERPRINT over the message so far;
 * nothing may follow it. */
PBX_API int stun_integrity_put_fingerprint(struct stun_enc *e);

/* stun_integrity_check - check m's integrity with key: its
 * MESSAGE-INTEGRITY-SHA256 if it has one (a value shorter than min_sha256
 * bytes is STUN_INTEGRITY_TOO_SHORT; pass STUN_SHA256_FULL unless the
 * usage allows truncation), else its MESSAGE-INTEGRITY.  Returns 0 with
 * the outcome in *result, or -EIO if GnuTLS failed.  The HMAC runs over
 * the message with its length field adjusted, as the sender computed it;
 * this takes one small GnuTLS context, since the received bytes are not
 * ours to patch. */
PBX_API int stun_integrity_check(const struct stun_msg *m, const struct stun_key *key,
				 size_t min_sha256, enum stun_integrity *result);

/* stun_integrity_check_attr - check the integrity attribute at index i
 * (MESSAGE-INTEGRITY or -SHA256, whatever its length) and set *ok.
 * Returns 0, PBX_E_INVALID (not an integrity attribute) or -EIO. */
PBX_API int stun_integrity_check_attr(const struct stun_msg *m, size_t i,
				      const struct stun_key *key, bool *ok);

/* stun_integrity_crc32 - the CRC-32 (IEEE 802.3, as zlib's) of n bytes,
 * continuing from crc (0 to start). */
PBX_API uint32_t stun_integrity_crc32(uint32_t crc, const void *p, size_t n);

/* stun_integrity_nonce_cookie - the nonce cookie announcing the security
 * features (STUN_FEATURE_*) into out (STUN_NONCE_COOKIE_LEN bytes plus a
 * NUL): a server starts its NONCE with it (RFC 8489 9.2). */
PBX_API void stun_integrity_nonce_cookie(uint32_t features, char out[STUN_NONCE_COOKIE_LEN + 1]);

/* stun_integrity_nonce_features - the security features in a NONCE that
 * starts with the nonce cookie.  Returns 0 with *features, PBX_E_NOTFOUND
 * (no cookie: an RFC 5389 server) or PBX_E_MALFORMED (bad base64). */
PBX_API int stun_integrity_nonce_features(struct pbx_span nonce, uint32_t *features);

/* ---- names (names.c) ---- */

/* stun_names_method - "Binding", "Allocate"...; NULL for other methods. */
PBX_API const char *stun_names_method(uint16_t method);

/* stun_names_class - "request", "indication", "success response",
 * "error response". */
PBX_API const char *stun_names_class(enum stun_class cls);

/* stun_names_attr - "XOR-MAPPED-ADDRESS"...; NULL for types this codec
 * does not know. */
PBX_API const char *stun_names_attr(uint16_t type);

/* stun_names_error - the RFCs' reason phrase for an error code ("Bad
 * Request"); NULL for codes without one. */
PBX_API const char *stun_names_error(int code);

/* stun_names_drop - the stable name of a drop reason ("truncated"), for
 * logs and counters; "unknown" outside the enum. */
PBX_API const char *stun_names_drop(enum stun_drop drop);

/* ---- server URIs (uri.c) ---- */

/* URI schemes of STUN (RFC 7064) and TURN (RFC 7065) servers. */
enum stun_uri_scheme {
	STUN_URI_STUN = 0,   /* stun:  */
	STUN_URI_STUNS,      /* stuns: (STUN over TLS) */
	STUN_URI_TURN,       /* turn:  */
	STUN_URI_TURNS,      /* turns: (TURN over TLS) */
};

/* The transport a URI asks for: its scheme and ?transport= together. */
enum stun_uri_transport {
	STUN_URI_UDP = 0,
	STUN_URI_TCP,
	STUN_URI_TLS,        /* TLS over TCP */
};

#define STUN_URI_HOST_MAX 253   /* longest DNS name */
#define STUN_URI_TEXT_MAX (STUN_URI_HOST_MAX + 40)

/* A parsed server URI.  host is the name or the IP literal (no brackets);
 * when it is an IP literal, is_ip is true and addr holds it with the
 * port. */
struct stun_uri {
	enum stun_uri_scheme scheme;
	enum stun_uri_transport transport;
	char host[STUN_URI_HOST_MAX + 1];
	bool is_ip;
	struct pbx_addr addr;
	uint16_t port;               /* given, or the scheme's default */
	bool port_given;
};

/* stun_uri_parse - parse a STUN or TURN server URI (RFC 7064, RFC 7065):
 * "stun:HOST[:PORT]", "stuns:...", "turn:HOST[:PORT][?transport=udp|tcp]",
 * "turns:...", HOST a DNS name, an IPv4 address or a bracketed IPv6
 * address; schemes and the transport are case-insensitive.  Text without
 * a scheme ("HOST[:PORT]", as administrators often write it) takes
 * default_scheme.  Default ports are 3478 (stun, turn) and 5349 (stuns,
 * turns).  Returns 0 with *out, or PBX_E_INVALID with err naming what is
 * wrong (turns with transport=udp is DTLS, which is refused as
 * unsupported). */
PBX_API int stun_uri_parse(struct pbx_span text, enum stun_uri_scheme default_scheme,
			   struct stun_uri *out, struct pbx_err *err);

/* stun_uri_format - the canonical text of u into buf (n bytes,
 * STUN_URI_TEXT_MAX is enough): scheme, host (IPv6 in brackets), the port
 * always, and "?transport=tcp" where it is not the scheme's default.
 * Returns 0 or PBX_E_NOSPACE. */
PBX_API int stun_uri_format(const struct stun_uri *u, char *buf, size_t n);

/* stun_uri_is_turn - whether u names a TURN server (turn: or turns:). */
PBX_API bool stun_uri_is_turn(const struct stun_uri *u);

#endif
