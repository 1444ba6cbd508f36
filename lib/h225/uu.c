/* uu.c - H323-UserInformation (H.225.0 7.2, ASN.1 H323-UU-PDU of
 * H323-MESSAGES version 7) walked to what routing needs: the message body
 * (Setup-UUIE read to its destinationAddress, the other root bodies
 * stepped over) and the genericData addition, where H.460.17 (section 6)
 * carries RAS messages as the raw content of parameter 1 of feature 17;
 * and the H.460.17 wrapper written around a RAS message. */
#include <string.h>

#include "internal.h"

/* H.460.17's feature and the parameter that holds one RasMessage. */
#define H46017_FEATURE 17
#define H46017_RAS_PARAM 1
/* genericData is the ninth addition of H323-UU-PDU; h245Tunnelling the
 * second. */
#define PDU_ADD_H245_TUNNELLING 1
#define PDU_ADD_GENERIC_DATA 8

const uint8_t h225_protocol_id[6] = { 0x00, 0x08, 0x91, 0x4a, 0x00, 0x07 };

/* ---- Setup ---- */

/* One destination alias as text, if it is an h323-ID, url-ID or email-ID
 * of the form user@domain with a usable domain: then it is kept in m.
 * Other aliases, and those with characters that are not text, are
 * passed over. */
static int take_dest(struct per *d, const struct alias_ref *a, struct text *t, struct h225_msg *m)
{
	struct pbx_span s, dom;
	size_t mark = t->len;
	int rc;

	if (a->kind == ALIAS_H323_ID)
		rc = text_bmp_utf8(t, a->chars, a->n, &s);
	else if (a->kind == ALIAS_URL_ID || a->kind == ALIAS_EMAIL_ID)
		rc = text_ia5(t, a->chars, a->n, &s);
	else
		return 0;
	if (rc == PBX_E_NOSPACE)
		return per_fail(d, rc);
	if (rc == 0) {
		rc = h225_alias_domain(s, t->p + t->len, t->cap - t->len, &dom);
		if (rc == PBX_E_NOSPACE)
			return per_fail(d, rc);
	}
	if (rc) {
		t->len = mark;
		return 0;
	}
	t->len += dom.len;
	m->dest = s;
	m->dest_domain = dom;
	return 0;
}

static int read_dest(struct per *d, struct text *t, struct h225_msg *m)
{
	size_t n;
	if (per_length(d, &n))
		return d->err;
	if (n > per_bits_left(d))
		return per_fail(d, PBX_E_MALFORMED);
	m->have_dest_list = true;
	while (n-- && !d->err) {
		struct alias_ref a;
		/* Every alias is walked: what follows must be reached. */
		if (read_alias(d, &a) == 0 && m->dest.len == 0)
			take_dest(d, &a, t, m);
	}
	return d->err;
}

/* Setup-UUIE: 7 optional root components (h245Address, sourceAddress,
 * destinationAddress, destCallSignalAddress, destExtraCallInfo,
 * destExtraCRV, callServices). */
static int read_setup(struct per *d, struct text *t, struct h225_msg *m)
{
	bool ext, opt[7], b;
	size_t n;
	per_bool(d, &ext);
	for (int i = 0; i < 7; i++)
		per_bool(d, &opt[i]);
	walk_oid(d);                    /* protocolIdentifier */
	if (opt[0])
		walk_transport(d);
	if (opt[1])
		walk_aliases(d);
	walk_endpoint_type(d);          /* sourceInfo */
	if (opt[2])
		read_dest(d, t, m);
	if (opt[3])
		walk_transport(d);
	if (opt[4])
		walk_aliases(d);
	if (opt[5] && !per_length(d, &n)) {
		/* destExtraCRV: SEQUENCE OF CallReferenceValue, two aligned
		 * octets each. */
		if (n > SIZE_MAX / 2)
			return per_fail(d, PBX_E_MALFORMED);
		per_skip_octets(d, n * 2);
	}
	per_bool(d, &b);                /* activeMC */
	per_skip_octets(d, 16);         /* conferenceID */
	walk_null_choice(d, 3);         /* conferenceGoal */
	if (opt[6])
		walk_qseries(d);        /* callServices */
	walk_null_choice(d, 4);         /* callType */
	if (ext)
		per_skip_additions(d);
	return d->err;
}

/* ---- the other root bodies, stepped over ---- */

/* CallProceeding-UUIE and Alerting-UUIE { protocolIdentifier,
 * destinationInfo, h245Address OPTIONAL, ... } */
static int walk_proceeding(struct per *d)
{
	bool ext, h245;
	per_bool(d, &ext);
	per_bool(d, &h245);
	walk_oid(d);
	walk_endpoint_type(d);
	if (h245)
		walk_transport(d);
	if (ext)
		per_skip_additions(d);
	return d->err;
}

/* Connect-UUIE { protocolIdentifier, h245Address OPTIONAL,
 * destinationInfo, conferenceID, ... } */
static int walk_connect(struct per *d)
{
	bool ext, h245;
	per_bool(d, &ext);
	per_bool(d, &h245);
	walk_oid(d);
	if (h245)
		walk_transport(d);
	walk_endpoint_type(d);
	per_skip_octets(d, 16);
	if (ext)
		per_skip_additions(d);
	return d->err;
}

/* Information-UUIE { protocolIdentifier, ... } and ReleaseComplete-UUIE
 * { protocolIdentifier, reason ReleaseCompleteReason OPTIONAL, ... }
 * (12 root alternatives, all NULL). */
static int walk_info_or_release(struct per *d, bool release)
{
	bool ext, reason = false;
	per_bool(d, &ext);
	if (release)
		per_bool(d, &reason);
	walk_oid(d);
	if (reason)
		walk_null_choice(d, 12);
	if (ext)
		per_skip_additions(d);
	return d->err;
}

/* Facility-UUIE { protocolIdentifier, alternativeAddress OPTIONAL,
 * alternativeAliasAddress OPTIONAL, conferenceID OPTIONAL, reason
 * FacilityReason (4 root alternatives), ... } */
static int walk_facility(struct per *d)
{
	bool ext, opt[3];
	per_bool(d, &ext);
	for (int i = 0; i < 3; i++)
		per_bool(d, &opt[i]);
	walk_oid(d);
	if (opt[0])
		walk_transport(d);
	if (opt[1])
		walk_aliases(d);
	if (opt[2])
		per_skip_octets(d, 16);
	walk_null_choice(d, 4);
	if (ext)
		per_skip_additions(d);
	return d->err;
}

static int walk_body(struct per *d, uint32_t i, struct text *t, struct h225_msg *m)
{
	switch (i) {
	case H225_BODY_SETUP:
		return read_setup(d, t, m);
	case H225_BODY_CALL_PROCEEDING:
	case H225_BODY_ALERTING:
		return walk_proceeding(d);
	case H225_BODY_CONNECT:
		return walk_connect(d);
	case H225_BODY_INFORMATION:
		return walk_info_or_release(d, false);
	case H225_BODY_RELEASE_COMPLETE:
		return walk_info_or_release(d, true);
	default:
		return walk_facility(d);
	}
}

/* ---- genericData and H.460.17 ---- */

/* An EnumeratedParameter of feature 17: parameter 1 must be raw octets,
 * one complete RasMessage encoding of its own (alignment restarts there). */
static int read_h46017_param(struct per *d, struct text *t, struct h225_msg *m)
{
	bool ext, has_content, std, cext;
	uint32_t id, i;
	size_t n;
	const uint8_t *p;

	per_bool(d, &ext);
	per_bool(d, &has_content);
	if (walk_generic_id(d, &std, &id))
		return d->err;
	if (has_content && std && id == H46017_RAS_PARAM) {
		if (per_choice(d, 12, &i, &cext))
			return d->err;
		if (cext || i != 0)
			return per_fail(d, PBX_E_MALFORMED);
		if (per_length(d, &n))
			return d->err;
		size_t at = per_at(d);
		if (per_octets(d, n, &p))
			return d->err;
		if (m->n_ras == H225_RAS_MAX)
			return per_fail(d, PBX_E_TOOLONG);
		int rc = ras_read(p, n, at, t, &m->ras[m->n_ras], d->where);
		if (rc)
			return per_fail(d, rc);
		m->n_ras++;
	} else if (has_content) {
		walk_content(d);
	}
	if (ext)
		per_skip_additions(d);
	return d->err;
}

/* GenericData: feature 17's parameters are read, the others walked.
 * Every parameter 1 is taken: GnuGk accepts several in one GenericData
 * ("bundled" RAS messages), so each must be seen. */
static int read_generic_data(struct per *d, struct text *t, struct h225_msg *m)
{
	bool ext, has_params, std;
	uint32_t id, k;
	per_bool(d, &ext);
	per_bool(d, &has_params);
	if (walk_generic_id(d, &std, &id))
		return d->err;
	bool h46017 = std && id == H46017_FEATURE;
	if (has_params && !per_constrained(d, 512, &k)) {
		if ((uint64_t)k + 1 > per_bits_left(d))
			return per_fail(d, PBX_E_MALFORMED);
		for (uint32_t j = 0; j <= k && !d->err; j++) {
			if (h46017)
				read_h46017_param(d, t, m);
			else
				walk_enum_param(d);
		}
	}
	if (ext)
		per_skip_additions(d);
	return d->err;
}

/* The additions of H323-UU-PDU: genericData is read, the others are
 * skipped by their lengths, including those a newer sender adds after
 * it.  A bitmap shorter than nine bits (an older sender) has no
 * genericData. */
static int read_pdu_additions(struct per *d, struct text *t, struct h225_msg *m)
{
	uint64_t present;
	size_t more, nbits, n;
	if (per_additions(d, &present, &more, &nbits))
		return d->err;
	for (unsigned i = 0; i < 64 && !d->err; i++) {
		if (!(present & 1ull << i))
			continue;
		if (i != PDU_ADD_GENERIC_DATA) {
			per_skip_open(d);
			continue;
		}
		struct per g;
		if (per_open(d, &g))
			return d->err;
		if (!per_length(&g, &n) && n > per_bits_left(&g))
			per_fail(&g, PBX_E_MALFORMED);
		while (!g.err && n--)
			read_generic_data(&g, t, m);
		if (g.err)
			per_fail(d, g.err);
	}
	while (more-- && !d->err)
		per_skip_open(d);
	return d->err;
}

/* H323-UserInformation's user-data { protocol-discriminator
 * INTEGER (0..255), user-information OCTET STRING (SIZE(1..131)), ... } */
static int walk_user_data(struct per *d)
{
	bool ext;
	uint32_t k;
	per_bool(d, &ext);
	per_skip_octets(d, 1);
	if (!per_constrained(d, 131, &k))
		per_skip_octets(d, (size_t)k + 1);
	if (ext)
		per_skip_additions(d);
	return d->err;
}

int uu_read(const uint8_t *p, size_t len, size_t base, struct text *t, struct h225_msg *m,
	    struct per_where *where)
{
	struct per d;
	bool ui_ext, user_data, pdu_ext, ns, ext;
	uint32_t i;

	per_init(&d, p, len, base);
	d.where = where;
	/* H323-UserInformation: its extension bit and user-data's presence
	 * come before the PDU, user-data and additions after it. */
	per_bool(&d, &ui_ext);
	per_bool(&d, &user_data);
	per_bool(&d, &pdu_ext);
	per_bool(&d, &ns);
	if (per_choice(&d, 7, &i, &ext))
		return d.err;
	if (i > INT32_MAX)
		return per_fail(&d, PBX_E_TOOLONG);
	m->body = (int)i;
	if (ext)
		per_skip_open(&d);      /* empty, progress, status ...: their value */
	else
		walk_body(&d, i, t, m);
	if (ns)
		walk_nonstandard(&d);
	if (pdu_ext)
		read_pdu_additions(&d, t, m);
	/* The rest is walked too, so that a frame cut short anywhere in
	 * its H323-UserInformation is malformed. */
	if (user_data)
		walk_user_data(&d);
	if (ui_ext)
		per_skip_additions(&d);
	return d.err;
}

/* ---- writing the H.460.17 wrapper ---- */

int uu_write_h46017(struct pbx_writer *w, const uint8_t *ras, size_t n)
{
	static const uint8_t feature[2] = { 0, H46017_FEATURE }, param[2] = { 0, H46017_RAS_PARAM };
	static const uint8_t one_param[2] = { 0, 0 }, null_value = 0, tunnelling = 0x80;
	uint8_t gbuf[256];
	struct pbx_writer gw;
	struct per_enc e;

	/* genericData: SEQUENCE OF one GenericData { id standard 17,
	 * parameters { { id standard 1, content raw RAS } } }. */
	pbx_writer_init(&gw, gbuf, sizeof gbuf);
	per_enc_init(&e, &gw);
	per_put_length(&e, 1);
	per_put_bits(&e, 2, 1);         /* no additions; parameters present */
	per_put_bits(&e, 4, 0);         /* id: root choice standard, in root range */
	per_put_octets(&e, feature, 2);
	per_put_octets(&e, one_param, 2); /* SIZE(1..512): count-1 */
	per_put_bits(&e, 2, 1);         /* no additions; content present */
	per_put_bits(&e, 4, 0);
	per_put_octets(&e, param, 2);
	per_put_bits(&e, 5, 0);         /* content: root choice raw */
	per_put_open(&e, ras, n);       /* an OCTET STRING is laid out alike */
	if (per_enc_finish(&e))
		return pbx_writer_error(&gw);

	per_enc_init(&e, w);
	per_put_bits(&e, 2, 0);         /* H323-UserInformation: no additions, no user-data */
	per_put_bits(&e, 2, 2);         /* H323-UU-PDU: additions, no nonStandardData */
	per_put_bits(&e, 1, 1);         /* h323-message-body: extension */
	per_put_small(&e, H225_BODY_EMPTY - 7);
	per_put_open(&e, &null_value, 1);
	/* The additions: 9 bits, h245Tunnelling and genericData present. */
	per_put_bits(&e, 7, 8);
	per_put_bits(&e, 9, 1u << (8 - PDU_ADD_H245_TUNNELLING) | 1u << (8 - PDU_ADD_GENERIC_DATA));
	per_put_open(&e, &tunnelling, 1);
	per_put_open(&e, gbuf, pbx_writer_len(&gw));
	return per_enc_finish(&e);
}
