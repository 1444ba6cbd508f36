/* h225_frames.h - builds H.225.0 test frames (GRQ, RRQ, lightweight RRQ
 * over H.460.17, Setup, keep-alive) for any identifier and aliases.
 *
 * Written from the layouts of the wire-format reference (its sections 4
 * to 9 and the worked frames of section 12), with its own bit writer and
 * nothing from lib/h225, so the reader is tested against an independent
 * encoder.  With the reference's values (fr_*_reference) it reproduces
 * the worked GRQ, RRQ and Setup octet for octet; the python twin
 * tests/integration/peers/h323_frames.py builds the same octets.
 *
 * Every builder returns the frame's length, or 0 if it did not fit. */
#ifndef H225_FRAMES_H
#define H225_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- a bit writer ---- */

struct fr_bits {
	uint8_t *p;
	size_t cap, len;
	unsigned bits;     /* bits used of p[len] */
	bool err;
};

static inline void fr_init(struct fr_bits *b, uint8_t *p, size_t cap)
{
	b->p = p;
	b->cap = cap;
	b->len = 0;
	b->bits = 0;
	b->err = cap == 0;
	if (cap)
		p[0] = 0;
}

static inline void fr_put(struct fr_bits *b, unsigned n, uint32_t v)
{
	while (n--) {
		if (b->err)
			return;
		if ((v >> n) & 1)
			b->p[b->len] |= (uint8_t)(0x80 >> b->bits);
		if (++b->bits == 8) {
			b->bits = 0;
			if (++b->len == b->cap) {
				b->err = true;
				return;
			}
			b->p[b->len] = 0;
		}
	}
}

static inline void fr_align(struct fr_bits *b)
{
	if (b->bits)
		fr_put(b, 8 - b->bits, 0);
}

static inline void fr_octets(struct fr_bits *b, const void *p, size_t n)
{
	const uint8_t *q = p;
	fr_align(b);
	for (size_t i = 0; i < n; i++)
		fr_put(b, 8, q[i]);
}

/* Unconstrained length determinant (0..16383). */
static inline void fr_len(struct fr_bits *b, size_t n)
{
	fr_align(b);
	if (n < 128)
		fr_put(b, 8, (uint32_t)n);
	else
		fr_put(b, 16, (uint32_t)(0x8000 | n));
}

/* The finished encoding's length: at least one octet (X.691 10.1.3). */
static inline size_t fr_end(struct fr_bits *b)
{
	fr_align(b);
	if (b->err)
		return 0;
	if (b->len == 0) {
		b->p[0] = 0;
		b->len = 1;
	}
	return b->len;
}

static inline void fr_open(struct fr_bits *b, const uint8_t *p, size_t n)
{
	fr_len(b, n);
	fr_octets(b, p, n);
}

static inline void fr_oid_h225(struct fr_bits *b)
{
	static const uint8_t oid[] = { 0x00, 0x08, 0x91, 0x4a, 0x00, 0x07 };
	fr_len(b, sizeof oid);
	fr_octets(b, oid, sizeof oid);
}

/* ---- aliases and the other pieces ---- */

enum fr_alias_kind { FR_H323_ID, FR_URL_ID, FR_EMAIL_ID, FR_DIGITS };

/* An alias: text (ASCII; an h323-ID's characters are its UTF-16 code
 * units), or for an h323-ID raw code units when units is not NULL. */
struct fr_alias {
	enum fr_alias_kind kind;
	const char *text;
	const uint16_t *units;
	size_t n_units;
};

static inline void fr_bmp_chars(struct fr_bits *b, const struct fr_alias *a, size_t n)
{
	fr_align(b);
	for (size_t i = 0; i < n; i++)
		fr_put(b, 16, a->units ? a->units[i] : (uint8_t)a->text[i]);
}

static inline size_t fr_alias_len(const struct fr_alias *a)
{
	return a->units ? a->n_units : strlen(a->text);
}

static inline void fr_alias(struct fr_bits *b, const struct fr_alias *a)
{
	size_t n = fr_alias_len(a);
	switch (a->kind) {
	case FR_DIGITS: {
		static const char alphabet[] = "#*,0123456789";
		fr_put(b, 1, 0);
		fr_put(b, 1, 0);
		fr_put(b, 7, (uint32_t)(n - 1));
		fr_align(b);
		for (size_t i = 0; i < n; i++)
			fr_put(b, 4, (uint32_t)(strchr(alphabet, a->text[i]) - alphabet));
		break;
	}
	case FR_H323_ID:
		fr_put(b, 1, 0);
		fr_put(b, 1, 1);
		fr_align(b);
		fr_put(b, 8, (uint32_t)(n - 1));
		fr_bmp_chars(b, a, n);
		break;
	default: {
		/* url-ID (extension 0), email-ID (2): IA5String (SIZE(1..512))
		 * in an open type. */
		uint8_t inner[600];
		struct fr_bits ib;
		fr_init(&ib, inner, sizeof inner);
		fr_put(&ib, 16, (uint32_t)(n - 1));
		fr_octets(&ib, a->text, n);
		size_t il = fr_end(&ib);
		fr_put(b, 1, 1);
		fr_put(b, 7, a->kind == FR_URL_ID ? 0 : 2);
		fr_open(b, inner, il);
		break;
	}
	}
}

static inline void fr_aliases(struct fr_bits *b, const struct fr_alias *a, size_t n)
{
	fr_len(b, n);
	for (size_t i = 0; i < n; i++)
		fr_alias(b, &a[i]);
}

/* TransportAddress ipAddress 192.0.2.10:port. */
static inline void fr_ip(struct fr_bits *b, uint16_t port)
{
	const uint8_t ip[6] = { 192, 0, 2, 10, (uint8_t)(port >> 8), (uint8_t)port };
	fr_put(b, 4, 0);
	fr_octets(b, ip, sizeof ip);
}

/* VendorIdentifier: H.221 9/0/61, productId "TestPhone", versionId "1.0". */
static inline void fr_vendor(struct fr_bits *b)
{
	const uint8_t h221[4] = { 9, 0, 0, 61 };
	fr_put(b, 3, 3);
	fr_put(b, 1, 0);
	fr_octets(b, h221, 4);
	fr_put(b, 8, 8);
	fr_octets(b, "TestPhone", 9);
	fr_put(b, 8, 2);
	fr_octets(b, "1.0", 3);
}

/* EndpointType: terminal, with the vendor if asked. */
static inline void fr_endpoint(struct fr_bits *b, bool vendor)
{
	fr_put(b, 7, vendor ? 0x11 : 0x01);
	if (vendor)
		fr_vendor(b);
	fr_put(b, 2, 0);    /* TerminalInfo: no additions, no nonStandardData */
	fr_put(b, 2, 0);    /* mc, undefinedNode */
}

/* GatekeeperIdentifier: 7-bit length, then aligned characters. */
static inline void fr_gkid(struct fr_bits *b, const struct fr_alias *g)
{
	size_t n = fr_alias_len(g);
	fr_put(b, 7, (uint32_t)(n - 1));
	fr_bmp_chars(b, g, n);
}

/* ---- RAS ---- */

struct fr_ras {
	uint16_t seq;
	const struct fr_alias *gkid;     /* NULL: absent */
	const struct fr_alias *aliases;  /* endpointAlias / terminalAlias */
	size_t n_aliases;                /* with aliases NULL: list absent */
	bool endpoint;        /* RRQ: vendor, timeToLive ... as a real endpoint
			       * (the reference's 12.2) */
	bool keep_alive;      /* RRQ: keepAlive TRUE and an endpointIdentifier */
	bool tokens;          /* a ClearToken in tokens */
};

/* tokens: SEQUENCE OF ClearToken with one token, tokenOID only. */
static inline size_t fr_tokens(uint8_t *out, size_t cap)
{
	static const uint8_t oid[] = { 0x00, 0x08, 0x81, 0x6b, 0x00, 0x03, 0x01 };
	struct fr_bits b;
	fr_init(&b, out, cap);
	fr_len(&b, 1);
	fr_put(&b, 9, 0);
	fr_len(&b, sizeof oid);
	fr_octets(&b, oid, sizeof oid);
	return fr_end(&b);
}

/* A GatekeeperRequest, the whole RasMessage encoding. */
static inline size_t fr_ras_grq(uint8_t *out, size_t cap, const struct fr_ras *o)
{
	struct fr_bits b;
	uint8_t add[64];
	fr_init(&b, out, cap);
	fr_put(&b, 6, 0);                     /* root, gatekeeperRequest */
	fr_put(&b, 1, o->tokens);             /* additions */
	fr_put(&b, 1, 0);                     /* nonStandardData */
	fr_put(&b, 1, o->gkid != NULL);
	fr_put(&b, 1, 0);                     /* callServices */
	fr_put(&b, 1, o->aliases != NULL);
	fr_align(&b);
	fr_put(&b, 16, o->seq - 1u);
	fr_oid_h225(&b);
	fr_ip(&b, 1719);
	fr_endpoint(&b, false);
	if (o->gkid)
		fr_gkid(&b, o->gkid);
	if (o->aliases)
		fr_aliases(&b, o->aliases, o->n_aliases);
	if (o->tokens) {
		/* 2 additions: alternateEndpoints absent, tokens present. */
		fr_put(&b, 7, 1);
		fr_put(&b, 2, 1);
		fr_open(&b, add, fr_tokens(add, sizeof add));
	}
	return fr_end(&b);
}

/* A RegistrationRequest, the whole RasMessage encoding. */
static inline size_t fr_ras_rrq(uint8_t *out, size_t cap, const struct fr_ras *o)
{
	struct fr_bits b;
	uint8_t add[64];
	bool additions = o->endpoint || o->keep_alive || o->tokens;
	fr_init(&b, out, cap);
	fr_put(&b, 6, 3);                     /* root, registrationRequest */
	fr_put(&b, 1, additions);
	fr_put(&b, 1, 0);                     /* nonStandardData */
	fr_put(&b, 1, o->aliases != NULL);
	fr_put(&b, 1, o->gkid != NULL);
	fr_align(&b);
	fr_put(&b, 16, o->seq - 1u);
	fr_oid_h225(&b);
	fr_put(&b, 1, 0);                     /* discoveryComplete */
	fr_len(&b, 1);
	fr_ip(&b, 1720);                      /* callSignalAddress */
	fr_len(&b, 1);
	fr_ip(&b, 1719);                      /* rasAddress */
	fr_endpoint(&b, o->endpoint);
	if (o->aliases)
		fr_aliases(&b, o->aliases, o->n_aliases);
	if (o->gkid)
		fr_gkid(&b, o->gkid);
	fr_vendor(&b);                        /* endpointVendor */
	if (!additions)
		return fr_end(&b);
	/* 27 additions (H.225.0 v7): timeToLive 1, tokens 2, keepAlive 5,
	 * endpointIdentifier 6, willSupplyUUIEs 7, maintainConnection 8,
	 * supportsAltGK 12, featureSet 19, supportsAssignedGK 23. */
	uint32_t map = 1u << (26 - 5);
	if (o->endpoint)
		map |= 1u << (26 - 1) | 1u << (26 - 7) | 1u << (26 - 8) | 1u << (26 - 12) |
		       1u << (26 - 19) | 1u << (26 - 23);
	if (o->tokens)
		map |= 1u << (26 - 2);
	if (o->keep_alive)
		map |= 1u << (26 - 6);
	fr_put(&b, 7, 26);
	fr_put(&b, 27, map);
	if (o->endpoint) {
		static const uint8_t ttl[] = { 0x40, 0x01, 0x2b };  /* 300 s */
		fr_open(&b, ttl, sizeof ttl);
	}
	if (o->tokens)
		fr_open(&b, add, fr_tokens(add, sizeof add));
	uint8_t flag = o->keep_alive ? 0x80 : 0x00;
	fr_open(&b, &flag, 1);                /* keepAlive */
	if (o->keep_alive) {
		/* endpointIdentifier "ep1": BMPString (SIZE(1..128)). */
		static const uint8_t ep[] = { 0x04, 0x00, 'e', 0x00, 'p', 0x00, '1' };
		fr_open(&b, ep, sizeof ep);
	}
	if (o->endpoint) {
		static const uint8_t f = 0x00, t = 0x80;
		static const uint8_t features[] = { 0x10, 0x01, 0x00, 0x00, 0x11 };
		fr_open(&b, &f, 1);           /* willSupplyUUIEs FALSE */
		fr_open(&b, &t, 1);           /* maintainConnection TRUE */
		fr_open(&b, &f, 1);           /* supportsAltGK NULL */
		fr_open(&b, features, sizeof features);
		fr_open(&b, &f, 1);           /* supportsAssignedGK FALSE */
	}
	return fr_end(&b);
}

/* ---- the H.460.17 wrapper ---- */

struct fr_wrap {
	bool facility_ie;     /* an empty Facility IE before User-user (H323Plus, GnuGk) */
	bool no_tunnelling;   /* leave h245Tunnelling out (innovaphone) */
	bool other_first;     /* an H.460.18 GenericData (with a parameter) first:
			       * the H.460.17 one then starts mid-octet */
	bool long_bitmap;     /* 12 additions: 3 unknown ones after genericData */
	bool bundle;          /* all RAS as parameters of one GenericData, not
			       * one GenericData each */
};

/* H323-UserInformation: FACILITY body `empty`, genericData with the RAS. */
static inline size_t fr_uu_h46017(uint8_t *out, size_t cap, const uint8_t *const *ras,
				  const size_t *ras_len, size_t n, const struct fr_wrap *w)
{
	uint8_t gd[2048];
	struct fr_bits g, b;
	fr_init(&g, gd, sizeof gd);
	fr_len(&g, (w->bundle ? 1 : n) + (w->other_first ? 1 : 0));
	if (w->other_first) {
		/* H.460.18: id 18, one parameter id 1 with a bool.  A
		 * GenericData's and an EnumeratedParameter's preamble: no
		 * additions, parameters (content) present, id a root choice
		 * (standard), within its root range: 010000. */
		fr_put(&g, 6, 0x10);
		fr_align(&g);
		fr_put(&g, 16, 18);
		fr_put(&g, 16, 0);
		fr_put(&g, 6, 0x10);
		fr_align(&g);
		fr_put(&g, 16, 1);
		fr_put(&g, 5, 3);             /* content: bool */
		fr_put(&g, 1, 1);
	}
	for (size_t i = 0; i < n; i++) {
		if (!w->bundle || i == 0) {
			fr_put(&g, 6, 0x10);
			fr_align(&g);
			fr_put(&g, 16, 17);
			fr_put(&g, 16, (uint32_t)(w->bundle ? n - 1 : 0));
		}
		fr_put(&g, 6, 0x10);
		fr_align(&g);
		fr_put(&g, 16, 1);
		fr_put(&g, 5, 0);             /* raw */
		fr_open(&g, ras[i], ras_len[i]);
	}
	size_t gl = fr_end(&g);

	fr_init(&b, out, cap);
	fr_put(&b, 5, 0x05);                  /* UU-PDU additions; body extension */
	fr_put(&b, 7, 1);                     /* empty */
	fr_open(&b, (const uint8_t *)"", 1);
	if (w->long_bitmap) {
		fr_put(&b, 7, 11);
		fr_put(&b, 12, w->no_tunnelling ? 0x00f : 0x40f);
	} else {
		fr_put(&b, 7, 8);
		fr_put(&b, 9, w->no_tunnelling ? 0x001 : 0x081);
	}
	if (!w->no_tunnelling)
		fr_open(&b, (const uint8_t *)"\x80", 1);
	fr_open(&b, gd, gl);
	if (w->long_bitmap)
		for (int i = 0; i < 3; i++)
			fr_open(&b, (const uint8_t *)"\x01\x02\x03", 3);
	return fr_end(&b);
}

/* ---- Q.931 and TPKT ---- */

/* A TPKT frame with a Q.931 message: ies (already encoded) before a
 * User-user IE holding uu (none when uu is NULL). */
static inline size_t fr_frame(uint8_t *out, size_t cap, uint16_t cref, bool flag, uint8_t type,
			      const uint8_t *ies, size_t ies_len, const uint8_t *uu, size_t uu_len)
{
	size_t n = 4 + 5 + ies_len + (uu ? 4 + uu_len : 0);
	if (n > cap || n > 65535)
		return 0;
	uint8_t *q = out;
	*q++ = 3;
	*q++ = 0;
	*q++ = (uint8_t)(n >> 8);
	*q++ = (uint8_t)n;
	*q++ = 0x08;
	*q++ = 2;
	*q++ = (uint8_t)((cref >> 8) | (flag ? 0x80 : 0));
	*q++ = (uint8_t)cref;
	*q++ = type;
	if (ies_len)
		memcpy(q, ies, ies_len);
	q += ies_len;
	if (uu) {
		*q++ = 0x7e;
		*q++ = (uint8_t)((uu_len + 1) >> 8);
		*q++ = (uint8_t)(uu_len + 1);
		*q++ = 0x05;
		memcpy(q, uu, uu_len);
	}
	return n;
}

/* A FACILITY carrying RAS messages the H.460.17 way. */
static inline size_t fr_h46017(uint8_t *out, size_t cap, const uint8_t *const *ras,
			       const size_t *ras_len, size_t n, const struct fr_wrap *w)
{
	uint8_t uu[4096];
	size_t ul = fr_uu_h46017(uu, sizeof uu, ras, ras_len, n, w);
	if (!ul)
		return 0;
	return fr_frame(out, cap, 0, false, 0x62, (const uint8_t *)"\x1c\x00",
			w->facility_ie ? 2 : 0, uu, ul);
}

static inline size_t fr_grq(uint8_t *out, size_t cap, const struct fr_ras *o)
{
	uint8_t ras[2048];
	size_t rl = fr_ras_grq(ras, sizeof ras, o);
	const uint8_t *r = ras;
	const struct fr_wrap w = { 0 };
	return rl ? fr_h46017(out, cap, &r, &rl, 1, &w) : 0;
}

static inline size_t fr_rrq(uint8_t *out, size_t cap, const struct fr_ras *o)
{
	uint8_t ras[2048];
	size_t rl = fr_ras_rrq(ras, sizeof ras, o);
	const uint8_t *r = ras;
	/* Real endpoints send the empty Facility IE. */
	const struct fr_wrap w = { .facility_ie = o->endpoint };
	return rl ? fr_h46017(out, cap, &r, &rl, 1, &w) : 0;
}

static inline size_t fr_keepalive(uint8_t *out, size_t cap)
{
	if (cap < 4)
		return 0;
	memcpy(out, "\x03\x00\x00\x04", 4);
	return 4;
}

/* ---- Setup ---- */

struct fr_setup {
	uint16_t cref;
	const struct fr_alias *src;      /* sourceAddress; NULL: absent */
	size_t n_src;
	const struct fr_alias *dest;     /* destinationAddress; NULL: absent */
	size_t n_dest;
	const char *display;             /* a Display IE, and Bearer capability */
};

/* A SETUP as the reference's 12.7: conferenceID and callIdentifier made
 * from the call reference, the same additions. */
static inline size_t fr_setup(uint8_t *out, size_t cap, const struct fr_setup *o)
{
	uint8_t uu[4096], ies[160];
	struct fr_bits b;
	size_t il = 0;
	uint16_t cid = (uint16_t)(o->cref + 1000);
	const uint8_t conf[16] = { 0, 0, (uint8_t)(o->cref >> 8), (uint8_t)o->cref,
				   0x5a, 0x5a, 0x5a, 0x5a, 0xa5, 0xa5, 0xa5, 0xa5,
				   0, 0, (uint8_t)(o->cref >> 8), (uint8_t)o->cref };
	const uint8_t call[16] = { 0, 0, (uint8_t)(cid >> 8), (uint8_t)cid,
				   0x5a, 0x5a, 0x5a, 0x5a, 0xa5, 0xa5, 0xa5, 0xa5,
				   0, 0, (uint8_t)(cid >> 8), (uint8_t)cid };
	if (o->display) {
		size_t dl = strlen(o->display);
		if (dl > 100)
			return 0;
		memcpy(ies, "\x04\x03\x80\x90\xa3\x28", 6);
		ies[6] = (uint8_t)dl;
		memcpy(ies + 7, o->display, dl);
		il = 7 + dl;
	}
	fr_init(&b, uu, sizeof uu);
	fr_put(&b, 5, 0x04);                  /* UU-PDU additions; root body */
	fr_put(&b, 3, 0);                     /* setup */
	fr_put(&b, 1, 1);                     /* Setup-UUIE additions */
	fr_put(&b, 7, (o->src ? 0x20u : 0) | (o->dest ? 0x10u : 0));
	fr_oid_h225(&b);
	if (o->src)
		fr_aliases(&b, o->src, o->n_src);
	fr_endpoint(&b, false);               /* sourceInfo */
	if (o->dest)
		fr_aliases(&b, o->dest, o->n_dest);
	fr_put(&b, 1, 0);                     /* activeMC */
	fr_octets(&b, conf, 16);
	fr_put(&b, 3, 0);                     /* conferenceGoal create */
	fr_put(&b, 3, 0);                     /* callType pointToPoint */
	/* 28 additions: callIdentifier 2, mediaWaitForConnect 7,
	 * canOverlapSend 8, multipleCalls 10, maintainConnection 11. */
	fr_put(&b, 7, 27);
	fr_put(&b, 28, 1u << 25 | 1u << 20 | 1u << 19 | 1u << 17 | 1u << 16);
	uint8_t ci[17];
	ci[0] = 0;
	memcpy(ci + 1, call, 16);
	fr_open(&b, ci, sizeof ci);
	for (int i = 0; i < 4; i++)
		fr_open(&b, (const uint8_t *)"", 1);
	fr_put(&b, 7, 8);                     /* UU-PDU: 9 additions */
	fr_put(&b, 9, 0x080);                 /* h245Tunnelling */
	fr_open(&b, (const uint8_t *)"\x80", 1);
	size_t ul = fr_end(&b);
	return ul ? fr_frame(out, cap, o->cref, false, 0x05, ies, il, uu, ul) : 0;
}

/* ---- the reference's worked frames ---- */

static const struct fr_alias fr_alice = { FR_H323_ID, "alice", NULL, 0 };

static inline size_t fr_grq_reference(uint8_t *out, size_t cap)
{
	const struct fr_alias gk = { FR_H323_ID, "innovaphone.com", NULL, 0 };
	const struct fr_ras o = { .seq = 1, .gkid = &gk, .aliases = &fr_alice, .n_aliases = 1 };
	return fr_grq(out, cap, &o);
}

static inline size_t fr_rrq_reference(uint8_t *out, size_t cap)
{
	const struct fr_alias gk = { FR_H323_ID, "hq@innovaphone.com/branch", NULL, 0 };
	const struct fr_ras o = { .seq = 2, .gkid = &gk, .aliases = &fr_alice, .n_aliases = 1,
				  .endpoint = true };
	return fr_rrq(out, cap, &o);
}

static inline size_t fr_setup_reference(uint8_t *out, size_t cap)
{
	const struct fr_alias bob = { FR_H323_ID, "bob@example.org", NULL, 0 };
	const struct fr_setup o = { .cref = 257, .src = &fr_alice, .n_src = 1, .dest = &bob,
				    .n_dest = 1, .display = "alice" };
	return fr_setup(out, cap, &o);
}

/* ---- the generated vectors of tests/vectors/h225 ---- */

static const struct fr_alias fr_digits = { FR_DIGITS, "1234", NULL, 0 };

static inline size_t fr_v_grq_standby(uint8_t *out, size_t cap)
{
	const struct fr_alias gk = { FR_H323_ID, "Vienna@InnovaPhone.COM/HQ:HQ-Standby", NULL, 0 };
	const struct fr_alias al[] = { fr_digits, fr_alice };
	const struct fr_ras o = { .seq = 7, .gkid = &gk, .aliases = al, .n_aliases = 2 };
	return fr_grq(out, cap, &o);
}

static inline size_t fr_v_grq_no_gkid(uint8_t *out, size_t cap)
{
	const struct fr_ras o = { .seq = 3, .aliases = &fr_alice, .n_aliases = 1 };
	return fr_grq(out, cap, &o);
}

static inline size_t fr_v_grq_utf8_alias(uint8_t *out, size_t cap)
{
	static const uint16_t juergen[] = { 'J', 0xfc, 'r', 'g', 'e', 'n', 0x20ac };
	const struct fr_alias gk = { FR_H323_ID, "example.com", NULL, 0 };
	const struct fr_alias al = { FR_H323_ID, NULL, juergen, 7 };
	const struct fr_ras o = { .seq = 9, .gkid = &gk, .aliases = &al, .n_aliases = 1 };
	return fr_grq(out, cap, &o);
}

static inline size_t fr_v_rrq_lightweight(uint8_t *out, size_t cap)
{
	const struct fr_ras o = { .seq = 12, .keep_alive = true, .tokens = true };
	return fr_rrq(out, cap, &o);
}

static inline size_t fr_v_rrq_lightweight_gkid(uint8_t *out, size_t cap)
{
	const struct fr_alias gk = { FR_H323_ID, "innovaphone.com", NULL, 0 };
	const struct fr_ras o = { .seq = 13, .gkid = &gk, .keep_alive = true };
	return fr_rrq(out, cap, &o);
}

static inline size_t fr_v_rrq_tokens(uint8_t *out, size_t cap)
{
	const struct fr_alias gk = { FR_H323_ID, "innovaphone.com/hq:hq-standby", NULL, 0 };
	const struct fr_alias al[] = { fr_alice, { FR_H323_ID, "Alice Smith", NULL, 0 } };
	const struct fr_ras o = { .seq = 65535, .gkid = &gk, .aliases = al, .n_aliases = 2,
				  .endpoint = true, .tokens = true };
	return fr_rrq(out, cap, &o);
}

static inline size_t fr_v_rrq_many_aliases(uint8_t *out, size_t cap)
{
	static const char *const names[] = { "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7",
					     "a8", "a9" };
	struct fr_alias al[10];
	for (int i = 0; i < 10; i++)
		al[i] = (struct fr_alias){ FR_H323_ID, names[i], NULL, 0 };
	const struct fr_alias gk = { FR_H323_ID, "gw.example.com", NULL, 0 };
	const struct fr_ras o = { .seq = 4, .gkid = &gk, .aliases = al, .n_aliases = 10 };
	return fr_rrq(out, cap, &o);
}

/* Two RAS messages in one frame; w chooses the wrapper. */
static inline size_t fr_two(uint8_t *out, size_t cap, const struct fr_ras *a, bool a_rrq,
			    const struct fr_ras *b, bool b_rrq, const struct fr_wrap *w)
{
	uint8_t r1[1024], r2[1024];
	size_t l[2] = { a_rrq ? fr_ras_rrq(r1, sizeof r1, a) : fr_ras_grq(r1, sizeof r1, a),
			b_rrq ? fr_ras_rrq(r2, sizeof r2, b) : fr_ras_grq(r2, sizeof r2, b) };
	const uint8_t *r[2] = { r1, r2 };
	return l[0] && l[1] ? fr_h46017(out, cap, r, l, 2, w) : 0;
}

static inline size_t fr_v_rrq_bundled(uint8_t *out, size_t cap)
{
	const struct fr_alias gk1 = { FR_H323_ID, "innovaphone.com/branch", NULL, 0 };
	const struct fr_alias gk2 = { FR_H323_ID, "hq@INNOVAPHONE.com/Branch", NULL, 0 };
	const struct fr_alias bob = { FR_H323_ID, "bob", NULL, 0 };
	const struct fr_ras a = { .seq = 20, .gkid = &gk1, .aliases = &fr_alice, .n_aliases = 1 };
	const struct fr_ras b = { .seq = 21, .gkid = &gk2, .aliases = &bob, .n_aliases = 1 };
	const struct fr_wrap w = { .facility_ie = true, .bundle = true };
	return fr_two(out, cap, &a, true, &b, true, &w);
}

static inline size_t fr_v_rrq_bundled_other(uint8_t *out, size_t cap)
{
	const struct fr_alias gk1 = { FR_H323_ID, "innovaphone.com", NULL, 0 };
	const struct fr_alias gk2 = { FR_H323_ID, "evil.example.com", NULL, 0 };
	const struct fr_ras a = { .seq = 30, .gkid = &gk1, .aliases = &fr_alice, .n_aliases = 1 };
	const struct fr_ras b = { .seq = 31, .gkid = &gk2, .aliases = &fr_alice, .n_aliases = 1 };
	const struct fr_wrap w = { 0 };
	return fr_two(out, cap, &a, true, &b, true, &w);
}

/* After an H.460.18 entry (the H.460.17 one starts mid-octet), with a
 * bitmap longer than H.225.0 v7 knows and no h245Tunnelling. */
static inline size_t fr_v_grq_after_h46018(uint8_t *out, size_t cap)
{
	uint8_t r1[1024];
	const struct fr_alias gk = { FR_H323_ID, "innovaphone.com", NULL, 0 };
	const struct fr_ras a = { .seq = 40, .gkid = &gk, .aliases = &fr_alice, .n_aliases = 1 };
	size_t l = fr_ras_grq(r1, sizeof r1, &a);
	const uint8_t *r = r1;
	const struct fr_wrap w = { .other_first = true, .long_bitmap = true, .no_tunnelling = true };
	return l ? fr_h46017(out, cap, &r, &l, 1, &w) : 0;
}

static inline size_t fr_v_setup_url(uint8_t *out, size_t cap)
{
	const struct fr_alias dest[] = { fr_digits, { FR_H323_ID, "bob", NULL, 0 },
					 { FR_URL_ID, "h323:bob@Example.ORG:1720", NULL, 0 },
					 { FR_H323_ID, "carol@other.example", NULL, 0 } };
	const struct fr_setup o = { .cref = 4660, .src = &fr_alice, .n_src = 1, .dest = dest,
				    .n_dest = 4 };
	return fr_setup(out, cap, &o);
}

static inline size_t fr_v_setup_email(uint8_t *out, size_t cap)
{
	const struct fr_alias dest = { FR_EMAIL_ID, "bob@mail.example.net", NULL, 0 };
	const struct fr_setup o = { .cref = 32767, .dest = &dest, .n_dest = 1, .display = "A" };
	return fr_setup(out, cap, &o);
}

static inline size_t fr_v_setup_digits(uint8_t *out, size_t cap)
{
	const struct fr_alias dest[] = { fr_digits, { FR_H323_ID, "bob@", NULL, 0 } };
	const struct fr_setup o = { .cref = 2, .src = &fr_alice, .n_src = 1, .dest = dest,
				    .n_dest = 2 };
	return fr_setup(out, cap, &o);
}

static inline size_t fr_v_setup_no_dest(uint8_t *out, size_t cap)
{
	const struct fr_setup o = { .cref = 3, .src = &fr_alice, .n_src = 1 };
	return fr_setup(out, cap, &o);
}

struct fr_vector {
	const char *name;
	size_t (*build)(uint8_t *out, size_t cap);
};

/* Frames of tests/vectors/h225 that this encoder makes (the reference's
 * three are made too: their files are the reference's own octets). */
static const struct fr_vector fr_vectors[] = {
	{ "grq", fr_grq_reference },
	{ "rrq", fr_rrq_reference },
	{ "setup", fr_setup_reference },
	{ "gen-grq-standby", fr_v_grq_standby },
	{ "gen-grq-no-gkid", fr_v_grq_no_gkid },
	{ "gen-grq-utf8-alias", fr_v_grq_utf8_alias },
	{ "gen-grq-after-h46018", fr_v_grq_after_h46018 },
	{ "gen-rrq-lightweight", fr_v_rrq_lightweight },
	{ "gen-rrq-lightweight-gkid", fr_v_rrq_lightweight_gkid },
	{ "gen-rrq-tokens", fr_v_rrq_tokens },
	{ "gen-rrq-many-aliases", fr_v_rrq_many_aliases },
	{ "gen-rrq-bundled", fr_v_rrq_bundled },
	{ "gen-rrq-bundled-other", fr_v_rrq_bundled_other },
	{ "gen-setup-url", fr_v_setup_url },
	{ "gen-setup-email", fr_v_setup_email },
	{ "gen-setup-digits", fr_v_setup_digits },
	{ "gen-setup-no-dest", fr_v_setup_no_dest },
};

#endif
