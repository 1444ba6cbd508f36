/* ldap.c - the LDAPv3 inspector: LDAPMessage framing (RFC 4511 4.1.1, BER as
 * restricted by 5.1), BindRequest routing by the domain in its name (4.2),
 * BindResponse classification (4.2.2), StartTLS refusal (4.14), and LDAP's
 * own refusals: BindResponse, ExtendedResponse (4.12) and the Notice of
 * Disconnection (4.4.1). */
#include <string.h>

#include <pbxedge/err.h>

#include "internal.h"

/* Identifier octets used here (RFC 4511 4.1 to 4.14). */
enum {
	T_BOOLEAN = 0x01,
	T_INTEGER = 0x02,
	T_OCTETS = 0x04,
	T_ENUMERATED = 0x0a,
	T_SEQUENCE = 0x30,
	T_CONTROLS = 0xa0,       /* [0] controls of LDAPMessage */
	T_AUTH_SIMPLE = 0x80,    /* [0] simple of AuthenticationChoice */
	T_AUTH_SASL = 0xa3,      /* [3] sasl of AuthenticationChoice */
	T_REFERRAL = 0xa3,       /* [3] referral of LDAPResult */
	T_SASL_CREDS = 0x87,     /* [7] serverSaslCreds of BindResponse */
	T_REQUEST_NAME = 0x80,   /* [0] requestName of ExtendedRequest */
	T_REQUEST_VALUE = 0x81,  /* [1] requestValue of ExtendedRequest */
	T_RESPONSE_NAME = 0x8a,  /* [10] responseName of ExtendedResponse */
};

/* protocolOp: [APPLICATION n], constructed except where noted. */
enum {
	OP_BIND = 0x60,
	OP_BIND_RESP = 0x61,
	OP_UNBIND = 0x42,        /* primitive: NULL */
	OP_SEARCH = 0x63,
	OP_SEARCH_ENTRY = 0x64,
	OP_SEARCH_DONE = 0x65,
	OP_MODIFY = 0x66,
	OP_MODIFY_RESP = 0x67,
	OP_ADD = 0x68,
	OP_ADD_RESP = 0x69,
	OP_DEL = 0x4a,           /* primitive: LDAPDN */
	OP_DEL_RESP = 0x6b,
	OP_MODDN = 0x6c,
	OP_MODDN_RESP = 0x6d,
	OP_COMPARE = 0x6e,
	OP_COMPARE_RESP = 0x6f,
	OP_ABANDON = 0x50,       /* primitive: MessageID */
	OP_SEARCH_REF = 0x73,
	OP_EXTENDED = 0x77,
	OP_EXTENDED_RESP = 0x78,
	OP_INTERMEDIATE = 0x79,
};

/* resultCode values (RFC 4511 4.1.9 and appendix A). */
enum {
	RC_PROTOCOL_ERROR = 2,
	RC_INVALID_CREDENTIALS = 49,
	RC_INSUFFICIENT_ACCESS = 50,
	RC_UNAVAILABLE = 52,
	RC_UNWILLING = 53,
};

static const char oid_starttls[] = "1.3.6.1.4.1.1466.20037";
static const char oid_notice_of_disconnection[] = "1.3.6.1.4.1.1466.20036";

/* RFC 4511 4.2.1 allows one bind at a time; a few more are tolerated. */
#define LDAP_BINDS_MAX 4
/* The longest DNS name, and of a service name in the store. */
#define LDAP_NAME_MAX 253

struct ldap_state {
	size_t max_head;
	/* messageIDs of the binds passed on whose BindResponse has not come
	 * back: a BindResponse must answer one of them (reply). */
	uint32_t binds[LDAP_BINDS_MAX];
	size_t nbinds;
	/* A bind name's DC values joined with '.', when there are several
	 * and so no run of the input spells the name: the verdict's name
	 * then points here, valid until the next call of request. */
	char name[LDAP_NAME_MAX];
};

/* ---- BER over bytes that may still be arriving ----
 *
 * A struct win holds what has arrived of one value's content: r reads the
 * bytes at hand, base is where they start in the message, and missing
 * counts the declared bytes not received yet (WIN_OPEN for the stream
 * itself, which declares no end).  Running out of bytes inside a window
 * with bytes missing means "need more"; running out inside a complete one
 * means the value overran its parent, which is malformed.  A message whose
 * whole declared length has arrived is parsed in complete windows only, so
 * there every nested length is bounded by pbx_read_sub. */

#define WIN_OPEN SIZE_MAX

struct win {
	struct pbx_reader r;
	size_t base;
	size_t missing;
};

struct tlv {
	uint8_t tag;     /* 0 until read */
	size_t at;       /* offset of the identifier octet */
	uint32_t len;
	struct win v;    /* the content */
};

static size_t win_at(const struct win *w)
{
	return w->base + pbx_reader_offset(&w->r);
}

static int malformed(size_t where, size_t *at)
{
	*at = where;
	return PBX_E_MALFORMED;
}

/* The bytes ran out inside w while reading what started at where. */
static int ran_out(const struct win *w, size_t where, size_t *at)
{
	return w->missing ? PBX_E_NEEDMORE : malformed(where, at);
}

/* get_hdr - the identifier and length octets of the next value in w, which
 * must carry tag expect (0: any).  Returns 0, PBX_E_NEEDMORE, or
 * PBX_E_MALFORMED with *at where the rule broke.
 *
 * Lengths are definite (RFC 4511 5.1).  The long form may use up to four
 * octets, leading zeros included: Microsoft's LDAP libraries, client and
 * server, write most lengths as 0x84 and four octets, so a fixed-width
 * length is ordinary, not a sign of smuggling.  The indefinite form, five
 * or more length octets and lengths of 2^31 or more are malformed. */
static int get_hdr(struct win *w, uint8_t expect, struct tlv *t, size_t *at)
{
	uint8_t b;

	t->at = win_at(w);
	if (pbx_read_u8(&w->r, &t->tag))
		return ran_out(w, t->at, at);
	/* Every LDAP tag is below 31: no high-tag-number form. */
	if ((expect && t->tag != expect) || (t->tag & 0x1f) == 0x1f)
		return malformed(t->at, at);
	if (pbx_read_u8(&w->r, &b))
		return ran_out(w, t->at, at);
	if (b < 0x80) {
		t->len = b;
		return 0;
	}
	unsigned n = b & 0x7f;
	if (n == 0 || n > 4)
		return malformed(t->at + 1, at);
	uint32_t len = 0;
	for (unsigned i = 0; i < n; i++) {
		if (pbx_read_u8(&w->r, &b))
			return ran_out(w, t->at, at);
		len = len << 8 | b;
	}
	if (len > INT32_MAX)
		return malformed(t->at + 1, at);
	t->len = len;
	return 0;
}

/* get - the next value of w (tag expect, 0: any), its content in t->v. */
static int get(struct win *w, uint8_t expect, struct tlv *t, size_t *at)
{
	int rc = get_hdr(w, expect, t, at);
	if (rc)
		return rc;
	size_t left = pbx_reader_left(&w->r);
	t->v.base = win_at(w);
	if (t->len <= left || w->missing == 0) {
		/* All of w is here: pbx_read_sub refuses a value that would
		 * run past its parent. */
		t->v.missing = 0;
		if (pbx_read_sub(&w->r, t->len, &t->v.r))
			return malformed(t->at, at);
		return 0;
	}
	size_t short_by = t->len - left;
	if (w->missing != WIN_OPEN && short_by > w->missing)
		return malformed(t->at, at);
	pbx_read_sub(&w->r, left, &t->v.r);
	t->v.missing = short_by;
	if (w->missing != WIN_OPEN)
		w->missing -= short_by;
	return 0;
}

/* get_whole - as get, and the whole content has arrived. */
static int get_whole(struct win *w, uint8_t expect, struct tlv *t, size_t *at)
{
	int rc = get(w, expect, t, at);
	if (rc == 0 && t->v.missing)
		rc = PBX_E_NEEDMORE;
	return rc;
}

/* get_uint31 - an INTEGER or ENUMERATED of 1 to 4 content octets whose
 * value is in 0 .. 2^31-1: messageIDs, versions and result codes never
 * need more, nor a negative value.  Redundant leading zero octets are
 * tolerated (as BER allows) within the four. */
static int get_uint31(struct win *w, uint8_t tag, uint32_t *v, size_t *at)
{
	struct tlv t;
	int rc = get(w, tag, &t, at);
	if (rc)
		return rc;
	if (t.len < 1 || t.len > 4)
		return malformed(t.at, at);
	if (t.v.missing)
		return PBX_E_NEEDMORE;
	uint32_t x = 0;
	for (uint32_t i = 0; i < t.len; i++) {
		uint8_t b;
		pbx_read_u8(&t.v.r, &b);
		if (i == 0 && (b & 0x80))
			return malformed(t.at, at);
		x = x << 8 | b;
	}
	*v = x;
	return 0;
}

/* at_end - w has been read to its end; bytes left over are malformed. */
static int at_end(const struct win *w, size_t *at)
{
	if (pbx_reader_end(&w->r) || w->missing)
		return malformed(win_at(w), at);
	return 0;
}

static struct pbx_span content(const struct tlv *t)
{
	return pbx_reader_rest(&t->v.r);
}

/* get_controls - the optional Controls that end an LDAPMessage (4.1.11),
 * then the end of the message. */
static int get_controls(struct win *msg, size_t *at)
{
	struct tlv ctls, c, e;
	int rc;

	if (pbx_reader_left(&msg->r) == 0)
		return at_end(msg, at);
	if ((rc = get(msg, T_CONTROLS, &ctls, at)))
		return rc;
	while (pbx_reader_left(&ctls.v.r)) {
		if ((rc = get(&ctls.v, T_SEQUENCE, &c, at)) ||
		    (rc = get(&c.v, T_OCTETS, &e, at)))
			return rc;
		if (pbx_reader_left(&c.v.r)) {
			if ((rc = get(&c.v, 0, &e, at)))
				return rc;
			/* criticality: RFC 4511 5.1 wants 0xff for TRUE and
			 * FALSE absent, but BER readers take any octet and
			 * some clients send FALSE explicitly; so do we. */
			if (e.tag == T_BOOLEAN) {
				if (e.len != 1)
					return malformed(e.at, at);
				if (pbx_reader_left(&c.v.r) &&
				    (rc = get(&c.v, T_OCTETS, &e, at)))
					return rc;
			} else if (e.tag != T_OCTETS) {
				return malformed(e.at, at);
			}
		}
		if ((rc = at_end(&c.v, at)))
			return rc;
	}
	if ((rc = at_end(&ctls.v, at)))
		return rc;
	return at_end(msg, at);
}

/* The start of an LDAPMessage: what is needed to frame and classify it. */
struct head {
	size_t hdr_len;        /* the SEQUENCE's identifier and length octets */
	uint32_t content_len;
	bool have_id;
	uint32_t msgid;
	bool have_op;          /* op's identifier and length octets were read */
	struct tlv op;         /* protocolOp; op.tag is set once its octet is read */
	struct win rest;       /* the message content after protocolOp */
};

/* read_head - the SEQUENCE header, the messageID and the protocolOp
 * header of the message at p (len bytes, perhaps fewer than the message).
 * Returns 0, PBX_E_NEEDMORE or PBX_E_MALFORMED with *at set; h holds what
 * could be read either way. */
static int read_head(const uint8_t *p, size_t len, struct head *h, size_t *at)
{
	struct win stream = { .base = 0, .missing = WIN_OPEN };
	struct tlv msg;
	int rc;

	memset(h, 0, sizeof *h);
	pbx_reader_init(&stream.r, p, len);
	if ((rc = get(&stream, T_SEQUENCE, &msg, at)))
		return rc;
	h->hdr_len = msg.v.base;
	h->content_len = msg.len;
	if ((rc = get_uint31(&msg.v, T_INTEGER, &h->msgid, at)))
		return rc;
	h->have_id = true;
	if ((rc = get(&msg.v, 0, &h->op, at)))
		return rc;
	h->have_op = true;
	h->rest = msg.v;
	return 0;
}

/* ---- the bind name ---- */

static bool is_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

/* dn_name - the DC values of a DN joined with '.' as the name, and the
 * first CN value as the user.  Attribute types are case-insensitive and
 * spaces around ',' and '=' are tolerated ("CN=ckl, DC=innovaphone,
 * DC=com").  A DC value must be a plain host-name label: escapes, quotes
 * and the #hex form are refused rather than decoded, as no service name
 * needs them.  Returns false when there is nothing to route by. */
static bool dn_name(struct ldap_state *st, struct pbx_span dn, struct pbx_span *name,
		    struct pbx_span *user)
{
	struct pbx_span first = { NULL, 0 };
	size_t pos = 0, joined = 0, ndc = 0;
	bool have_user = false;

	for (;;) {
		/* One attribute=value, up to ',' or '+' (a multi-valued
		 * RDN); an escaped character never ends it. */
		size_t end = pos;
		while (end < dn.len && dn.p[end] != ',' && dn.p[end] != '+') {
			if (dn.p[end] == '\\' && end + 1 < dn.len)
				end++;
			end++;
		}
		struct pbx_span ava = { dn.p + pos, end - pos }, type, value;
		if (!pbx_span_cut(pbx_span_trim(ava), '=', &type, &value))
			return false;
		type = pbx_span_trim(type);
		value = pbx_span_trim(value);
		if (type.len == 0)
			return false;
		if (pbx_span_caseeq_cstr(type, "dc")) {
			if (value.len == 0)
				return false;
			for (size_t i = 0; i < value.len; i++)
				if (!is_host_char(value.p[i]))
					return false;
			if ((ndc ? 1 : 0) + value.len > LDAP_NAME_MAX - joined)
				return false;
			if (ndc)
				st->name[joined++] = '.';
			memcpy(st->name + joined, value.p, value.len);
			joined += value.len;
			if (ndc++ == 0)
				first = value;
		} else if (!have_user && pbx_span_caseeq_cstr(type, "cn")) {
			*user = value;
			have_user = true;
		}
		if (end >= dn.len)
			break;
		pos = end + 1;
	}
	if (ndc == 0)
		return false;
	if (ndc == 1) {
		*name = first;
	} else {
		name->p = st->name;
		name->len = joined;
	}
	return true;
}

/* bind_name - the routing name and user of a BindRequest's name, in one of
 * the forms the PBX's own proxy accepts: "domain\user", or a DN with DC
 * components.  "user@domain" (a userPrincipalName, how Active Directory
 * users often bind) is taken too when there is no '='.  Whichever of '='
 * and '\' comes first tells a DN (which may hold escapes) from
 * domain\user.  Returns false for an anonymous bind, a name without a
 * domain, or a domain too long to be a service name. */
static bool bind_name(struct ldap_state *st, struct pbx_span dn, struct pbx_span *name,
		      struct pbx_span *user)
{
	size_t i = 0;
	while (i < dn.len && dn.p[i] != '=' && dn.p[i] != '\\')
		i++;
	if (i < dn.len && dn.p[i] == '=') {
		if (!dn_name(st, dn, name, user))
			return false;
	} else if (i < dn.len) {
		pbx_span_cut(dn, '\\', name, user);
	} else if (!pbx_span_rcut(dn, '@', user, name)) {
		return false;
	}
	return name->len > 0 && name->len <= LDAP_NAME_MAX;
}

/* ---- requests ---- */

static void refuse_at(struct pbx_verdict *v, enum pbx_reason reason, size_t at)
{
	v->kind = PBX_V_REFUSE;
	v->reason = reason;
	v->offset = at;
}

/* Frame a message without holding it: rpd forwards the head, then
 * content_len more bytes. */
static void pass(struct pbx_verdict *v, const struct head *h, unsigned flags)
{
	v->kind = PBX_V_PASS;
	v->head_len = h->hdr_len;
	v->body = PBX_BODY_LENGTH;
	v->body_len = h->content_len;
	v->flags = flags;
}

/* bind_request - route a whole BindRequest (4.2): structure first
 * (malformed), then what rpd cannot relay (unsupported), then the name. */
static void bind_request(struct ldap_state *st, struct head *h, struct pbx_verdict *v)
{
	struct win *op = &h->op.v;
	struct tlv name, auth, e;
	uint32_t version;
	size_t at = 0;
	bool credentials = false, unsupported = false;
	int rc;

	if ((rc = get_uint31(op, T_INTEGER, &version, &at)) ||
	    (rc = get(op, T_OCTETS, &name, &at)) || (rc = get(op, 0, &auth, &at)))
		goto bad;
	if (version < 1 || version > 127) {
		rc = malformed(h->op.v.base, &at);
		goto bad;
	}
	/* LDAPv2 binds are encoded alike; old embedded clients still send
	 * version 2, and the service decides whether it speaks it. */
	if (version != 2 && version != 3)
		unsupported = true;
	switch (auth.tag) {
	case T_AUTH_SIMPLE:
		credentials = auth.len > 0;
		break;
	case T_AUTH_SASL:
		if ((rc = get(&auth.v, T_OCTETS, &e, &at)))
			goto bad;
		if (pbx_reader_left(&auth.v.r)) {
			if ((rc = get(&auth.v, T_OCTETS, &e, &at)))
				goto bad;
			credentials = true;
		}
		if ((rc = at_end(&auth.v, &at)))
			goto bad;
		break;
	default:
		/* The CHOICE is extensible: [1] and [2] are LDAPv2's
		 * Kerberos binds, Microsoft's NTLM binds use [9] to [11].
		 * None can be relayed by name.  Anything not context-specific
		 * is no choice at all, and [0] or [3] in the other form
		 * (a constructed password, a primitive SEQUENCE) is broken. */
		if ((auth.tag & 0xc0) != 0x80 || (auth.tag & 0x1f) == 0 ||
		    (auth.tag & 0x1f) == 3) {
			rc = malformed(auth.at, &at);
			goto bad;
		}
		unsupported = true;
		break;
	}
	if ((rc = at_end(op, &at)) || (rc = get_controls(&h->rest, &at)))
		goto bad;
	if (unsupported) {
		refuse_at(v, PBX_R_UNSUPPORTED, h->op.at);
		return;
	}
	if (!bind_name(st, content(&name), &v->name, &v->user)) {
		v->name.p = v->user.p = NULL;
		v->name.len = v->user.len = 0;
		refuse_at(v, PBX_R_NO_NAME, name.at);
		return;
	}
	/* Only one bind may be outstanding (4.2.1) and messageIDs of
	 * outstanding requests are unique (4.1.1.1). */
	bool dup = false;
	for (size_t i = 0; i < st->nbinds; i++)
		dup |= st->binds[i] == h->msgid;
	if (dup || st->nbinds == LDAP_BINDS_MAX) {
		v->name.p = v->user.p = NULL;
		v->name.len = v->user.len = 0;
		refuse_at(v, PBX_R_MALFORMED, h->hdr_len);
		return;
	}
	st->binds[st->nbinds++] = h->msgid;
	v->kind = PBX_V_ROUTE;
	v->head_len = h->hdr_len + h->content_len;
	v->body = PBX_BODY_NONE;
	v->flags = PBX_VF_REQUEST | (credentials ? PBX_VF_CREDENTIALS : 0);
	return;
bad:
	refuse_at(v, PBX_R_MALFORMED, at);
}

/* starttls_request - a whole StartTLS request (4.14.1): requestValue is
 * always absent by the RFC, but its presence changes nothing here. */
static void starttls_request(struct head *h, struct pbx_verdict *v)
{
	struct tlv e;
	size_t at = 0;
	int rc = 0;

	if (pbx_reader_left(&h->op.v.r))
		rc = get(&h->op.v, T_REQUEST_VALUE, &e, &at);
	if (rc || (rc = at_end(&h->op.v, &at)) || (rc = get_controls(&h->rest, &at))) {
		refuse_at(v, PBX_R_MALFORMED, at);
		return;
	}
	/* rpd cannot put TLS under a relayed stream: LDAPS is the way. */
	refuse_at(v, PBX_R_UNSUPPORTED, h->op.at);
}

/* Decide on the first seen bytes of a message; PBX_E_NEEDMORE if they do
 * not suffice.  The whole message is needed only for a bind or StartTLS,
 * and only if it fits max_head. */
static int request_verdict(struct ldap_state *st, const uint8_t *p, size_t len, size_t seen,
			   struct pbx_verdict *v)
{
	struct head h;
	struct tlv e;
	size_t at = 0;
	int rc = read_head(p, seen, &h, &at);
	if (rc == PBX_E_NEEDMORE)
		return rc;
	if (rc) {
		refuse_at(v, PBX_R_MALFORMED, at);
		return 0;
	}
	/* messageID 0 is the server's, for unsolicited notifications
	 * (4.1.1.1): an answer to it could not be told from one. */
	if (h.msgid == 0) {
		refuse_at(v, PBX_R_MALFORMED, h.hdr_len);
		return 0;
	}
	size_t total = h.hdr_len + h.content_len;
	switch (h.op.tag) {
	case OP_BIND:
		if (total > st->max_head) {
			refuse_at(v, PBX_R_TOO_LARGE, 1);
			return 0;
		}
		if (len < total)
			return PBX_E_NEEDMORE;
		bind_request(st, &h, v);
		return 0;
	case OP_EXTENDED:
		rc = get_whole(&h.op.v, T_REQUEST_NAME, &e, &at);
		if (rc == PBX_E_NEEDMORE)
			return rc;
		if (rc) {
			refuse_at(v, PBX_R_MALFORMED, at);
			return 0;
		}
		if (pbx_span_eq(content(&e), pbx_span_cstr(oid_starttls))) {
			if (total > st->max_head) {
				refuse_at(v, PBX_R_TOO_LARGE, 1);
				return 0;
			}
			if (len < total)
				return PBX_E_NEEDMORE;
			starttls_request(&h, v);
			return 0;
		}
		pass(v, &h, PBX_VF_REQUEST);
		return 0;
	case OP_UNBIND:
		if (h.op.len != 0)
			refuse_at(v, PBX_R_MALFORMED, h.op.at);
		else
			pass(v, &h, PBX_VF_REQUEST | PBX_VF_CLOSE);
		return 0;
	case OP_ABANDON:
		if (h.op.len < 1 || h.op.len > 4)
			refuse_at(v, PBX_R_MALFORMED, h.op.at);
		else
			pass(v, &h, PBX_VF_REQUEST);
		return 0;
	case OP_SEARCH:
	case OP_MODIFY:
	case OP_ADD:
	case OP_DEL:
	case OP_MODDN:
	case OP_COMPARE:
		pass(v, &h, PBX_VF_REQUEST);
		return 0;
	default:
		/* A response, or an operation RFC 4511 does not define (new
		 * operations come as ExtendedRequests). */
		refuse_at(v, PBX_R_MALFORMED, h.op.at);
		return 0;
	}
}

static void ldap_init(void *state, size_t max_head)
{
	struct ldap_state *st = state;
	st->max_head = max_head;
}

/* Only the first max_head bytes are ever looked at, so a verdict reached
 * there is the verdict for any longer input, and a message that has not
 * been decided within them is too large. */
static void ldap_request(void *state, const uint8_t *p, size_t len, struct pbx_verdict *v)
{
	struct ldap_state *st = state;
	size_t seen = len < st->max_head ? len : st->max_head;

	memset(v, 0, sizeof *v);
	if (request_verdict(st, p, len, seen, v) == 0)
		return;
	memset(v, 0, sizeof *v);
	if (len >= st->max_head)
		refuse_at(v, PBX_R_TOO_LARGE, seen);
	else
		v->kind = PBX_V_NEED_MORE;
}

/* ---- replies ---- */

/* bind_response - classify a whole BindResponse (4.2.2). */
static int bind_response(struct ldap_state *st, struct head *h, struct pbx_reply *r)
{
	struct win *op = &h->op.v;
	struct tlv e;
	uint32_t code;
	size_t at;
	int rc;

	if ((rc = get_uint31(op, T_ENUMERATED, &code, &at)) ||
	    (rc = get(op, T_OCTETS, &e, &at)) || (rc = get(op, T_OCTETS, &e, &at)))
		return rc;
	/* referral [3] and serverSaslCreds [7], each optional, in this
	 * order; a referral holds one URI or more. */
	int stage = 0;
	while (pbx_reader_left(&op->r)) {
		if ((rc = get(op, 0, &e, &at)))
			return rc;
		if (e.tag == T_REFERRAL && stage < 1) {
			struct tlv uri;
			if (pbx_reader_left(&e.v.r) == 0)
				return PBX_E_MALFORMED;
			while (pbx_reader_left(&e.v.r))
				if ((rc = get(&e.v, T_OCTETS, &uri, &at)))
					return rc;
			stage = 1;
		} else if (e.tag == T_SASL_CREDS && stage < 2) {
			stage = 2;
		} else {
			return PBX_E_MALFORMED;
		}
	}
	if ((rc = at_end(op, &at)) || (rc = get_controls(&h->rest, &at)))
		return rc;
	/* It must answer a bind the client sent: a service out of step
	 * would otherwise get the client counted as suspicious. */
	size_t i = 0;
	while (i < st->nbinds && st->binds[i] != h->msgid)
		i++;
	if (i == st->nbinds)
		return PBX_E_MALFORMED;
	st->binds[i] = st->binds[--st->nbinds];
	r->kind = PBX_V_PASS;
	r->head_len = h->hdr_len + h->content_len;
	r->body = PBX_BODY_NONE;
	r->status = (int)code;
	r->final = true;
	r->rejection = code == RC_INVALID_CREDENTIALS;
	return 0;
}

static int reply_verdict(struct ldap_state *st, const uint8_t *p, size_t len, size_t seen,
			 struct pbx_reply *r)
{
	struct head h;
	size_t at;
	bool final = true;
	int rc = read_head(p, seen, &h, &at);
	if (rc)
		return rc;
	/* messageID 0: an unsolicited notification, always an
	 * ExtendedResponse (4.4); it answers nothing. */
	if (h.msgid == 0 && h.op.tag != OP_EXTENDED_RESP)
		return PBX_E_MALFORMED;
	switch (h.op.tag) {
	case OP_BIND_RESP: {
		size_t total = h.hdr_len + h.content_len;
		if (total > st->max_head)
			return PBX_E_TOOLONG;
		if (len < total)
			return PBX_E_NEEDMORE;
		return bind_response(st, &h, r);
	}
	case OP_SEARCH_ENTRY:
	case OP_SEARCH_REF:
	case OP_INTERMEDIATE:
		final = false;
		break;
	case OP_EXTENDED_RESP:
		final = h.msgid != 0;
		break;
	case OP_SEARCH_DONE:
	case OP_MODIFY_RESP:
	case OP_ADD_RESP:
	case OP_DEL_RESP:
	case OP_MODDN_RESP:
	case OP_COMPARE_RESP:
		break;
	default:
		return PBX_E_MALFORMED;
	}
	r->kind = PBX_V_PASS;
	r->head_len = h.hdr_len;
	r->body = PBX_BODY_LENGTH;
	r->body_len = h.content_len;
	r->final = final;
	return 0;
}

static void ldap_reply(void *state, const uint8_t *p, size_t len, struct pbx_reply *r)
{
	struct ldap_state *st = state;
	size_t seen = len < st->max_head ? len : st->max_head;

	memset(r, 0, sizeof *r);
	r->status = -1;
	int rc = reply_verdict(st, p, len, seen, r);
	if (rc == 0)
		return;
	memset(r, 0, sizeof *r);
	r->status = -1;
	if (rc == PBX_E_NEEDMORE && len < st->max_head) {
		r->kind = PBX_V_NEED_MORE;
		return;
	}
	r->kind = PBX_V_REFUSE;
	r->reason = rc == PBX_E_MALFORMED ? PBX_R_MALFORMED : PBX_R_TOO_LARGE;
}

/* ---- refusals ---- */

/* The resultCode that tells a client why its bind was refused; -1 where
 * nothing is sent: a blacklisted client is dropped unanswered, after a
 * failed TLS handshake there is no channel, the service's own rejection
 * has gone through, and a closed client hears nothing.  A timed-out
 * request gets unavailable rather than busy: busy invites the client to
 * retry at once, which will not make its bytes come faster. */
static int refusal_code(enum pbx_reason reason)
{
	switch (reason) {
	case PBX_R_UNKNOWN_NAME:
	case PBX_R_NO_TARGET:
	case PBX_R_SOURCE_DENIED:
	case PBX_R_URL_DENIED:
	case PBX_R_OTHER_SERVICE:
	case PBX_R_NO_NAME:
		return RC_UNWILLING;
	case PBX_R_MALFORMED:
	case PBX_R_AMBIGUOUS:
	case PBX_R_TOO_LARGE:
	case PBX_R_UNSUPPORTED:
		return RC_PROTOCOL_ERROR;
	case PBX_R_TARGET_FAILED:
	case PBX_R_TIMEOUT:
		return RC_UNAVAILABLE;
	case PBX_R_BAD_CERT:
		return RC_INSUFFICIENT_ACCESS;
	default:
		return -1;
	}
}

/* Every refusal is shorter than 128 octets, so each length is one octet,
 * written as 0 and patched, with the identifier, when the value ends. */
#define REFUSAL_MAX 128

struct enc {
	struct pbx_writer w;
	bool bad;
};

static size_t put_open(struct enc *e, uint8_t tag)
{
	size_t mark = pbx_writer_mark(&e->w);
	pbx_write_u8(&e->w, tag);
	pbx_write_u8(&e->w, 0);
	return mark;
}

static void put_close(struct enc *e, size_t mark)
{
	if (pbx_writer_error(&e->w))
		return;
	size_t n = pbx_writer_len(&e->w) - mark - 2;
	if (n > 127) {
		e->bad = true;
		return;
	}
	uint8_t tag = pbx_writer_data(&e->w)[mark];
	pbx_writer_patch_u16(&e->w, mark, (uint16_t)(tag << 8 | n));
}

/* An INTEGER or ENUMERATED in the fewest octets (value below 2^31). */
static void put_uint31(struct enc *e, uint8_t tag, uint32_t v)
{
	unsigned n = v < 0x80 ? 1 : v < 0x8000 ? 2 : v < 0x800000 ? 3 : 4;
	pbx_write_u8(&e->w, tag);
	pbx_write_u8(&e->w, (uint8_t)n);
	while (n--)
		pbx_write_u8(&e->w, (uint8_t)(v >> (8 * n)));
}

static void put_octets(struct enc *e, uint8_t tag, struct pbx_span s)
{
	size_t mark = put_open(e, tag);
	pbx_write_bytes(&e->w, s.p, s.len);
	put_close(e, mark);
}

/* LDAPMessage { messageID, op { LDAPResult [, responseName] } } with an
 * empty matchedDN and "pbxedge: REASON" as the diagnosticMessage. */
static void put_result(struct enc *e, uint32_t msgid, uint8_t op, int code,
		       enum pbx_reason reason, const char *response_name)
{
	static const char prefix[] = "pbxedge: ";
	size_t msg = put_open(e, T_SEQUENCE);
	put_uint31(e, T_INTEGER, msgid);
	size_t res = put_open(e, op);
	put_uint31(e, T_ENUMERATED, (uint32_t)code);
	put_octets(e, T_OCTETS, pbx_span_cstr(""));
	size_t diag = put_open(e, T_OCTETS);
	pbx_write_bytes(&e->w, prefix, sizeof prefix - 1);
	const char *rn = pbx_reason_name(reason);
	pbx_write_bytes(&e->w, rn, strlen(rn));
	put_close(e, diag);
	if (response_name)
		put_octets(e, T_RESPONSE_NAME, pbx_span_cstr(response_name));
	put_close(e, res);
	put_close(e, msg);
}

/* A BindRequest is answered by a BindResponse, a StartTLS request by its
 * ExtendedResponse with protocolError ("If the server does not support
 * TLS (whether by design or by current configuration), it returns with
 * the resultCode set to protocolError", 4.14.1) and the StartTLS
 * responseName (4.14.2), anything else, or a message whose messageID
 * cannot be read, by a Notice of Disconnection (4.4.1), with protocolError
 * for what could not be parsed (4.1.1) and unavailable otherwise.  The
 * refusal is built aside and copied whole, so a writer too small for it
 * gets nothing. */
static void ldap_refuse(void *state, const uint8_t *p, size_t len, enum pbx_reason reason,
			struct pbx_writer *w)
{
	(void)state;
	int code = refusal_code(reason);
	if (code < 0)
		return;

	struct head h;
	struct tlv name;
	size_t at;
	read_head(p, len, &h, &at); /* what could be read is in h either way */
	bool known = h.have_id && h.msgid != 0;
	uint8_t buf[REFUSAL_MAX];
	struct enc e = { .bad = false };
	pbx_writer_init(&e.w, buf, sizeof buf);

	if (known && h.op.tag == OP_BIND) {
		put_result(&e, h.msgid, OP_BIND_RESP, code, reason, NULL);
	} else if (known && h.have_op && h.op.tag == OP_EXTENDED &&
		   get_whole(&h.op.v, T_REQUEST_NAME, &name, &at) == 0 &&
		   pbx_span_eq(content(&name), pbx_span_cstr(oid_starttls))) {
		put_result(&e, h.msgid, OP_EXTENDED_RESP, code, reason, oid_starttls);
	} else {
		code = code == RC_PROTOCOL_ERROR ? code : RC_UNAVAILABLE;
		put_result(&e, 0, OP_EXTENDED_RESP, code, reason, oid_notice_of_disconnection);
	}
	if (!e.bad && !pbx_writer_error(&e.w))
		pbx_write_bytes(w, buf, pbx_writer_len(&e.w));
}

const struct pbx_inspector pbx_inspector_ldap = {
	.name = "ldap",
	.family = STORE_FAMILY_LDAP,
	.state_size = sizeof(struct ldap_state),
	/* Clients may have several operations outstanding (4.1.1.1). */
	.lockstep = false,
	.init = ldap_init,
	.request = ldap_request,
	.reply = ldap_reply,
	.refuse = ldap_refuse,
};
