/* answer.c - the answer to one STUN message: Binding per RFC 8489 section
 * 6.3 and 14, NAT behaviour discovery per RFC 5780 sections 6.1 and 7
 * (RESPONSE-ORIGIN, OTHER-ADDRESS, CHANGE-REQUEST, RESPONSE-PORT,
 * PADDING), classic clients per RFC 3489 section 11 (MAPPED-ADDRESS,
 * SOURCE-ADDRESS, CHANGED-ADDRESS), and the amplification bound.  Pure:
 * bytes and addresses in, answer bytes and where to send them out. */
#include <string.h>

#include "stund.h"

/* Comprehension-required attributes stund understands in a Binding
 * request: the RFC 5780 ones it acts on, RESPONSE-ADDRESS (RFC 3489),
 * which it recognises and never acts on (an answer sent where a request
 * says would make stund a reflector; RFC 5389 dropped it for that), and
 * the credentials of short-term authentication, which a STUN server
 * without credentials has nothing to check against: ICE agents send them
 * in every Binding request, also to a STUN server, and coturn in
 * stun-only mode ignores them alike. */
static const uint16_t understood[] = {
	STUN_A_RESPONSE_ADDRESS,
	STUN_A_CHANGE_REQUEST,
	STUN_A_USERNAME,
	STUN_A_MESSAGE_INTEGRITY,
	STUN_A_MESSAGE_INTEGRITY_SHA256,
	STUN_A_PADDING,
	STUN_A_RESPONSE_PORT,
};

#define MAX_UNKNOWN 16

static const uint8_t zeros[STUND_ANSWER_MAX];

static size_t addr_space(const struct pbx_addr *a)
{
	return STUN_ATTR_SPACE(pbx_addr_family(a) == AF_INET ? 8 : 20);
}

static void no_answer(struct stund_answer *a, enum stund_counter c, bool dropped, uint32_t off)
{
	a->len = 0;
	a->counter = (int)c;
	a->dropped = dropped;
	a->drop_off = off;
}

/* The bytes an answer may take: over UDP a bounded multiple of the
 * request, so that a spoofed request never draws a reply much larger
 * than itself; streams prove their source address, and are bounded by
 * the buffer only. */
static size_t budget(const struct stund_req *r, size_t cap)
{
	size_t b = cap < STUND_ANSWER_MAX ? cap : STUND_ANSWER_MAX;
	if (r->t == T_UDP && r->m->len * STUND_AMP_FACTOR < b)
		b = r->m->len * STUND_AMP_FACTOR;
	return b;
}

static void finish(struct stun_enc *e, const struct stund_req *r, struct stund_answer *a)
{
	if (r->m->fingerprint >= 0)
		stun_integrity_put_fingerprint(e);
	if (stun_msg_finish(e, &a->len) || a->len == 0)
		no_answer(a, C_DROP_AMPLIFICATION, true, 0);
}

/* An error response (RFC 8489 6.3.4), from where the request arrived, to
 * where it came from. */
static void error_answer(const struct stund_req *r, int code, const char *reason,
			 const uint16_t *unknown, size_t n_unknown, uint8_t *buf, size_t cap,
			 struct stund_answer *a)
{
	struct stun_enc e;
	struct pbx_span phrase = pbx_span_cstr(reason ? reason : stun_names_error(code));
	size_t soft = strlen(r->software);
	size_t need = STUN_HDR_LEN + STUN_ATTR_SPACE(4 + phrase.len) +
		      (n_unknown ? STUN_ATTR_SPACE(2 * n_unknown) : 0) +
		      (r->m->fingerprint >= 0 ? STUN_ATTR_SPACE(4) : 0);
	size_t room = budget(r, cap);
	if (need > room) {
		no_answer(a, C_DROP_AMPLIFICATION, true, 0);
		return;
	}
	a->role = r->role;
	a->port = pbx_addr_port(r->peer);
	a->error = true;
	stun_msg_init_reply(&e, buf, cap, r->m, STUN_ERROR);
	stun_attr_put_error(&e, code, &phrase);
	if (n_unknown)
		stun_attr_put_unknown(&e, unknown, n_unknown);
	if (soft && need + STUN_ATTR_SPACE(soft) <= room)
		stun_attr_put_text(&e, STUN_A_SOFTWARE, r->software, soft);
	finish(&e, r, a);
}

/* The optional parts of a success response, in the order they give way
 * to the amplification bound: PADDING shrinks first, then SOFTWARE,
 * MAPPED-ADDRESS (beside XOR-MAPPED-ADDRESS it is for RFC 3489 clients
 * only), OTHER-ADDRESS / CHANGED-ADDRESS and last RESPONSE-ORIGIN /
 * SOURCE-ADDRESS. */
struct parts {
	bool padding;
	size_t pad_len;
	bool software, mapped, other, origin;
};

static void success_answer(const struct stund_req *r, enum stund_role send, bool padding,
			   uint8_t *buf, size_t cap, struct stund_answer *a)
{
	bool classic = r->m->kind == STUN_KIND_RFC3489;
	const struct pbx_addr *origin = r->from[send];
	const struct pbx_addr *other = r->from[r->role ^ (R_IP | R_PORT)];
	size_t soft = strlen(r->software);
	struct parts p = {
		.padding = padding,
		.pad_len = STUND_PADDING_TARGET,
		.software = soft > 0,
		.mapped = !classic,
		.other = other != NULL,
		.origin = true,
	};
	size_t room = budget(r, cap);
	size_t fixed = STUN_HDR_LEN + addr_space(r->peer) +
		       (r->m->fingerprint >= 0 ? STUN_ATTR_SPACE(4) : 0);
	if (fixed > room) {
		no_answer(a, C_DROP_AMPLIFICATION, true, 0);
		return;
	}
	for (;;) {
		size_t n = fixed + (p.software ? STUN_ATTR_SPACE(soft) : 0) +
			   (p.mapped ? addr_space(r->peer) : 0) +
			   (p.other ? addr_space(other) : 0) +
			   (p.origin ? addr_space(origin) : 0);
		if (p.padding) {
			size_t left = n + 4 <= room ? (room - n - 4) & ~(size_t)3 : 0;
			if (n + 4 <= room) {
				if (p.pad_len > left) {
					p.pad_len = left;
					a->trimmed = true;
				}
				break;
			}
		} else if (n <= room) {
			break;
		}
		a->trimmed = true;
		if (p.software)
			p.software = false;
		else if (p.mapped)
			p.mapped = false;
		else if (p.other)
			p.other = false;
		else if (p.origin)
			p.origin = false;
		else if (p.padding)
			p.padding = false;
	}

	struct stun_enc e;
	a->role = send;
	a->error = false;
	stun_msg_init_reply(&e, buf, cap, r->m, STUN_SUCCESS);
	if (classic) {
		/* RFC 3489 11.2: never the XOR forms, which it predates. */
		stun_attr_put_addr(&e, STUN_A_MAPPED_ADDRESS, r->peer);
		if (p.origin)
			stun_attr_put_addr(&e, STUN_A_SOURCE_ADDRESS, origin);
		if (p.other)
			stun_attr_put_addr(&e, STUN_A_CHANGED_ADDRESS, other);
	} else {
		stun_attr_put_addr(&e, STUN_A_XOR_MAPPED_ADDRESS, r->peer);
		if (p.mapped)
			stun_attr_put_addr(&e, STUN_A_MAPPED_ADDRESS, r->peer);
		if (p.origin)
			stun_attr_put_addr(&e, STUN_A_RESPONSE_ORIGIN, origin);
		if (p.other)
			stun_attr_put_addr(&e, STUN_A_OTHER_ADDRESS, other);
	}
	if (p.software)
		stun_attr_put_text(&e, STUN_A_SOFTWARE, r->software, soft);
	if (p.padding)
		stun_attr_put_text(&e, STUN_A_PADDING, zeros, p.pad_len);
	finish(&e, r, a);
}

/* A Binding request: the checks of RFC 8489 6.3.1 and RFC 5780 6.1, then
 * the answer. */
static void binding_request(const struct stund_req *r, uint8_t *buf, size_t cap,
			    struct stund_answer *a)
{
	const struct stun_msg *m = r->m;
	uint16_t unknown[MAX_UNKNOWN];
	size_t n_unknown, i;
	stun_msg_unknown(m, understood, sizeof understood / sizeof understood[0], unknown,
			 MAX_UNKNOWN, &n_unknown);
	if (n_unknown) {
		error_answer(r, STUN_ERR_UNKNOWN_ATTRIBUTE, NULL, unknown, n_unknown, buf, cap, a);
		return;
	}

	enum stund_role send = r->role;
	bool padding = stun_msg_find(m, STUN_A_PADDING, 0, &i) == 0;
	if (stun_msg_find(m, STUN_A_CHANGE_REQUEST, 0, &i) == 0) {
		unsigned flags;
		if (stun_attr_change_request(m, i, &flags)) {
			error_answer(r, STUN_ERR_BAD_REQUEST, "malformed CHANGE-REQUEST", NULL, 0,
				     buf, cap, a);
			return;
		}
		flags &= STUN_CHANGE_IP | STUN_CHANGE_PORT;
		if (!r->from[r->role ^ (R_IP | R_PORT)] && flags) {
			/* RFC 5780 6.1: a server without an alternate address
			 * and port answers a CHANGE-REQUEST with 420.  One
			 * with neither flag asks for nothing we cannot do:
			 * STUNTMAN's client sends it to every server (coturn
			 * answers it for that reason), so answer it too. */
			static const uint16_t change[] = { STUN_A_CHANGE_REQUEST };
			error_answer(r, STUN_ERR_UNKNOWN_ATTRIBUTE, NULL, change, 1, buf, cap, a);
			return;
		}
		if (flags && r->t != T_UDP) {
			/* An answer on a stream goes back on that stream, from
			 * where it was accepted. */
			error_answer(r, STUN_ERR_BAD_REQUEST, "CHANGE-REQUEST needs UDP", NULL, 0,
				     buf, cap, a);
			return;
		}
		if (flags & STUN_CHANGE_IP)
			send ^= R_IP;
		if (flags & STUN_CHANGE_PORT)
			send ^= R_PORT;
		if (!r->from[send]) {
			/* The socket is being replaced by a reload. */
			no_answer(a, C_DROP_NO_SOCKET, true, 0);
			return;
		}
	}
	uint16_t port = pbx_addr_port(r->peer);
	if (stun_msg_find(m, STUN_A_RESPONSE_PORT, 0, &i) == 0) {
		uint16_t rp;
		const char *why = NULL;
		if (stun_attr_response_port(m, i, &rp) || rp == 0)
			why = "malformed RESPONSE-PORT";
		else if (r->t != T_UDP)
			why = "RESPONSE-PORT needs UDP";
		else if (padding)
			/* RFC 5780 6.1: with PADDING it would send a large
			 * answer to a port that did not ask for it. */
			why = "RESPONSE-PORT with PADDING";
		else if (rp < 1024)
			/* Stricter than RFC 5780: well-known ports belong to
			 * services, never to a STUN client's socket. */
			why = "RESPONSE-PORT below 1024";
		if (why) {
			error_answer(r, STUN_ERR_BAD_REQUEST, why, NULL, 0, buf, cap, a);
			return;
		}
		/* RFC 5780 7.5: only the port changes, never the address. */
		port = rp;
	}
	success_answer(r, send, padding, buf, cap, a);
	a->port = port;
}

void answer_message(const uint8_t *p, size_t len, struct stund_req *r, uint8_t *buf,
		    size_t cap, struct stund_answer *a)
{
	struct stun_msg m;
	memset(a, 0, sizeof *a);
	a->counter = -1;
	if (stun_msg_decode(&m, p, len)) {
		no_answer(a, (enum stund_counter)(C_DROP_BASE + m.drop), true, m.drop_off);
		return;
	}
	r->m = &m;
	if (m.cls == STUN_INDICATION && m.method == STUN_BINDING) {
		/* A keep-alive (RFC 8489 6.3.2): nothing to answer. */
		no_answer(a, C_INDICATIONS, false, 0);
	} else if (m.cls != STUN_REQUEST) {
		no_answer(a, C_DROP_NOT_REQUEST, true, 0);
	} else if (m.method != STUN_BINDING) {
		error_answer(r, STUN_ERR_BAD_REQUEST, "stund answers Binding only", NULL, 0, buf,
			     cap, a);
	} else {
		binding_request(r, buf, cap, a);
	}
	r->m = NULL;
}
