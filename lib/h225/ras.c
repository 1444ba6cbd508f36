/* ras.c - the RAS messages (H.225.0 7.6, ASN.1 RasMessage) that H.460.17
 * carries over the call signalling connection: GatekeeperRequest and
 * RegistrationRequest read down to their gatekeeperIdentifier and aliases,
 * GatekeeperReject and RegistrationReject down to their rejectReason; the
 * others are told apart by their choice index only. */
#include <string.h>

#include "internal.h"

/* Extension additions of RRQ and GRQ that are read (H.225.0 v7 order). */
enum {
	GRQ_ADD_TOKENS = 1,
	GRQ_ADD_CRYPTO_TOKENS = 2,
	RRQ_ADD_TOKENS = 2,
	RRQ_ADD_CRYPTO_TOKENS = 3,
	RRQ_ADD_KEEP_ALIVE = 5,
};

static int seq_and_protocol(struct per *d, struct h225_ras *ras)
{
	uint32_t v;
	/* RequestSeqNum INTEGER (1..65535): value-1 in two aligned octets. */
	if (per_constrained(d, 65535, &v))
		return d->err;
	ras->seq = (uint16_t)(v + 1);
	return walk_oid(d);
}

/* GatekeeperIdentifier BMPString (SIZE(1..128)): a 7-bit length n-1 (not
 * aligned), then the characters, aligned.  Kept as printable ASCII and
 * turned into service names; anything else leaves it BAD, which the
 * caller refuses rather than guesses at. */
static int read_gkid(struct per *d, struct text *t, struct h225_ras *ras)
{
	uint32_t k;
	const uint8_t *c;
	if (per_constrained(d, 128, &k) || per_octets(d, ((size_t)k + 1) * 2, &c))
		return d->err;
	ras->gkid_state = H225_GKID_BAD;
	int rc = text_bmp_ascii(t, c, (size_t)k + 1, &ras->gkid);
	if (rc == PBX_E_NOSPACE)
		return per_fail(d, rc);
	if (rc)
		return 0;
	/* The names go right after the identifier in the same buffer. */
	rc = h225_gkid_service(ras->gkid, t->p + t->len, t->cap - t->len, &ras->name,
			       &ras->standby);
	if (rc == PBX_E_NOSPACE)
		return per_fail(d, rc);
	if (rc == 0) {
		t->len += ras->name.len + ras->standby.len;
		ras->gkid_state = H225_GKID_OK;
	}
	return 0;
}

static int skip_gkid(struct per *d)
{
	uint32_t k;
	if (per_constrained(d, 128, &k))
		return d->err;
	return per_skip_octets(d, ((size_t)k + 1) * 2);
}

/* SEQUENCE OF AliasAddress, keeping the h323-IDs as UTF-8. */
static int read_h323_ids(struct per *d, struct text *t, struct h225_ras *ras)
{
	size_t n;
	if (per_length(d, &n))
		return d->err;
	if (n > per_bits_left(d))
		return per_fail(d, PBX_E_MALFORMED);
	while (n-- && !d->err) {
		struct alias_ref a;
		if (read_alias(d, &a) || a.kind != ALIAS_H323_ID)
			continue;
		/* Gateways may register many aliases.  Those past the first
		 * H225_ALIASES_MAX are counted, not kept: the certificate rule
		 * looks for the certificate's name among the aliases, so one
		 * left out can only send a registration to the plain port,
		 * where the PBX checks its password. */
		if (ras->n_aliases == H225_ALIASES_MAX) {
			ras->more_aliases++;
			continue;
		}
		int rc = text_bmp_utf8(t, a.chars, a.n, &ras->aliases[ras->n_aliases]);
		if (rc)
			return per_fail(d, rc);
		ras->n_aliases++;
	}
	return d->err;
}

/* GatekeeperRequest: 4 optional root components (nonStandardData,
 * gatekeeperIdentifier, callServices, endpointAlias). */
static int read_grq(struct per *d, struct text *t, struct h225_ras *ras)
{
	bool ext, opt[4];
	per_bool(d, &ext);
	for (int i = 0; i < 4; i++)
		per_bool(d, &opt[i]);
	seq_and_protocol(d, ras);
	if (opt[0])
		walk_nonstandard(d);
	walk_transport(d);           /* rasAddress */
	walk_endpoint_type(d);
	if (opt[1])
		read_gkid(d, t, ras);
	if (opt[2])
		walk_qseries(d);
	if (opt[3])
		read_h323_ids(d, t, ras);
	if (ext && !d->err) {
		uint64_t present;
		size_t more, nbits;
		per_additions(d, &present, &more, &nbits);
		ras->tokens = present & (1u << GRQ_ADD_TOKENS | 1u << GRQ_ADD_CRYPTO_TOKENS);
	}
	return d->err;
}

/* The keepAlive addition of an RRQ (the sixth): the open types before it
 * are skipped by their lengths. */
static int read_keep_alive(struct per *d, struct h225_ras *ras)
{
	uint64_t present;
	size_t more, nbits;
	if (per_additions(d, &present, &more, &nbits))
		return d->err;
	ras->tokens = present & (1u << RRQ_ADD_TOKENS | 1u << RRQ_ADD_CRYPTO_TOKENS);
	if (!(present & 1u << RRQ_ADD_KEEP_ALIVE))
		return 0;
	for (unsigned i = 0; i < RRQ_ADD_KEEP_ALIVE; i++)
		if (present & 1ull << i)
			per_skip_open(d);
	struct per sub;
	if (per_open(d, &sub) || per_bool(&sub, &ras->keep_alive))
		return per_fail(d, sub.err);
	return 0;
}

/* RegistrationRequest: 3 optional root components (nonStandardData,
 * terminalAlias, gatekeeperIdentifier); the root is walked to the end
 * (endpointVendor) to reach the additions, where keepAlive is. */
static int read_rrq(struct per *d, struct text *t, struct h225_ras *ras)
{
	bool ext, opt[3], b;
	per_bool(d, &ext);
	for (int i = 0; i < 3; i++)
		per_bool(d, &opt[i]);
	seq_and_protocol(d, ras);
	if (opt[0])
		walk_nonstandard(d);
	per_bool(d, &b);             /* discoveryComplete */
	walk_transports(d);          /* callSignalAddress */
	walk_transports(d);          /* rasAddress */
	walk_endpoint_type(d);       /* terminalType */
	if (opt[1])
		read_h323_ids(d, t, ras);
	if (opt[2])
		read_gkid(d, t, ras);
	walk_vendor(d);              /* endpointVendor */
	if (ext && !d->err)
		read_keep_alive(d, ras);
	return d->err;
}

/* A reject reason: the root index, or nroot + the extension index. */
static int read_reason(struct per *d, uint32_t nroot, struct h225_ras *ras)
{
	uint32_t i;
	bool ext;
	if (per_choice(d, nroot, &i, &ext))
		return d->err;
	if (i > INT32_MAX)
		return per_fail(d, PBX_E_TOOLONG);
	ras->reject_reason = (int)i;
	/* The value (a NULL mostly) is not needed. */
	return 0;
}

/* GatekeeperReject: nonStandardData, gatekeeperIdentifier optional, then
 * rejectReason (4 root alternatives). */
static int read_grj(struct per *d, struct h225_ras *ras)
{
	bool ext, ns, gk;
	per_bool(d, &ext);
	per_bool(d, &ns);
	per_bool(d, &gk);
	seq_and_protocol(d, ras);
	if (ns)
		walk_nonstandard(d);
	if (gk)
		skip_gkid(d);
	return read_reason(d, 4, ras);
}

/* RegistrationReject: nonStandardData optional, rejectReason (8 root
 * alternatives), then gatekeeperIdentifier. */
static int read_rrj(struct per *d, struct h225_ras *ras)
{
	bool ext, ns, gk;
	per_bool(d, &ext);
	per_bool(d, &ns);
	per_bool(d, &gk);
	seq_and_protocol(d, ras);
	if (ns)
		walk_nonstandard(d);
	return read_reason(d, 8, ras);
}

int ras_read(const uint8_t *p, size_t len, size_t base, struct text *t, struct h225_ras *ras,
	     struct per_where *where)
{
	struct per d;
	uint32_t i;
	bool ext;

	memset(ras, 0, sizeof *ras);
	ras->type = -1;
	ras->reject_reason = -1;
	ras->at = base;
	per_init(&d, p, len, base);
	d.where = where;
	if (per_choice(&d, H225_RAS_ROOT_COUNT, &i, &ext))
		return d.err;
	if (i > INT32_MAX)
		return per_fail(&d, PBX_E_TOOLONG);
	ras->type = (int)i;
	switch (i) {
	case H225_RAS_GRQ:
		read_grq(&d, t, ras);
		break;
	case H225_RAS_RRQ:
		read_rrq(&d, t, ras);
		break;
	case H225_RAS_GRJ:
		read_grj(&d, ras);
		break;
	case H225_RAS_RRJ:
		read_rrj(&d, ras);
		break;
	default:
		break;
	}
	return d.err;
}

/* ---- writing ---- */

/* The NULL alternatives of the reject reasons, which are all that is
 * written: the root ones as an index, the extension ones as an index and
 * an open type holding the empty encoding (one zero octet). */
static bool grj_null(int reason)
{
	return reason >= 0 && reason <= 6;
}

static bool rrj_null(int reason)
{
	/* 4 duplicateAlias, 14 invalidTerminalAliases and 17 securityError
	 * carry values. */
	return reason >= 0 && reason <= 18 && reason != 4 && reason != 14 && reason != 17;
}

int ras_write_reject(struct pbx_writer *w, int request, uint16_t seq, int reason)
{
	struct per_enc e;
	uint32_t nroot;
	uint8_t seq_octets[2] = { (uint8_t)((seq - 1) >> 8), (uint8_t)(seq - 1) };
	static const uint8_t null_value = 0;

	if (seq == 0)
		return PBX_E_INVALID;
	if (request == H225_RAS_GRQ && grj_null(reason))
		nroot = 4;
	else if (request == H225_RAS_RRQ && rrj_null(reason))
		nroot = 8;
	else
		return PBX_E_INVALID;
	per_enc_init(&e, w);
	per_put_bits(&e, 1, 0);         /* RasMessage: a root alternative */
	per_put_bits(&e, 5, request == H225_RAS_GRQ ? H225_RAS_GRJ : H225_RAS_RRJ);
	per_put_bits(&e, 1, 0);         /* no extension additions */
	per_put_bits(&e, 2, 0);         /* nonStandardData, gatekeeperIdentifier */
	per_put_octets(&e, seq_octets, 2);
	per_put_length(&e, sizeof h225_protocol_id);
	per_put_octets(&e, h225_protocol_id, sizeof h225_protocol_id);
	if ((uint32_t)reason < nroot) {
		per_put_bits(&e, 1, 0);
		per_put_bits(&e, nroot == 4 ? 2 : 3, (uint32_t)reason);
	} else {
		per_put_bits(&e, 1, 1);
		per_put_small(&e, (uint32_t)reason - nroot);
		per_put_open(&e, &null_value, 1);
	}
	return per_enc_finish(&e);
}
