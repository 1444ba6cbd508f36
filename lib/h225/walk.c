/* walk.c - stepping over the H.225.0 (version 7, ASN.1 module
 * H323-MESSAGES) structures that lie in root positions before the fields
 * routing needs (NonStandardParameter, TransportAddress, EndpointType,
 * AliasAddress, QseriesOptions, GenericData and Content), by walking their
 * ALIGNED PER encoding (X.691): root components have no length, so each
 * one's preamble, choices and lengths are read; extension additions and
 * extension alternatives are open types and skipped by their lengths. */
#include "internal.h"

/* Bit-field lengths of the SIZE-constrained strings met here. */
#define GUID_OCTETS 16

static int check_count(struct per *d, size_t count)
{
	/* Every element takes at least one bit. */
	if (count > per_bits_left(d))
		return per_fail(d, PBX_E_MALFORMED);
	return d->err;
}

int walk_oid(struct per *d)
{
	size_t n;
	if (per_length(d, &n))
		return d->err;
	return per_skip_octets(d, n);
}

/* H221NonStandard: extensible; t35CountryCode and t35Extension
 * INTEGER(0..255), one aligned octet each; manufacturerCode
 * INTEGER(0..65535), two. */
int walk_h221(struct per *d)
{
	bool ext;
	per_bool(d, &ext);
	per_skip_octets(d, 4);
	if (ext)
		per_skip_additions(d);
	return d->err;
}

/* NonStandardParameter (not extensible): NonStandardIdentifier CHOICE
 * { object OID, h221NonStandard, ... }, then data OCTET STRING. */
int walk_nonstandard(struct per *d)
{
	uint32_t i;
	bool ext;
	if (per_choice(d, 2, &i, &ext))
		return d->err;
	if (ext)
		per_skip_open(d);
	else if (i == 0)
		walk_oid(d);
	else
		walk_h221(d);
	size_t n;
	if (per_length(d, &n))
		return d->err;
	return per_skip_octets(d, n);
}

/* TransportAddress CHOICE over 7 root alternatives. */
int walk_transport(struct per *d)
{
	uint32_t i, k;
	bool ext, sext;
	size_t n;
	if (per_choice(d, 7, &i, &ext))
		return d->err;
	if (ext)
		return per_skip_open(d);
	switch (i) {
	case 0: /* ipAddress { ip OCTET STRING (SIZE(4)), port } */
		return per_skip_octets(d, 6);
	case 1: /* ipSourceRoute: ext; ip; port; route SEQUENCE OF
		 * OCTET STRING (SIZE(4)); routing CHOICE { strict, loose, ... } */
		per_bool(d, &sext);
		per_skip_octets(d, 6);
		if (per_length(d, &n))
			return d->err;
		if (n > SIZE_MAX / 4)
			return per_fail(d, PBX_E_MALFORMED);
		per_skip_octets(d, n * 4);
		walk_null_choice(d, 2);
		if (sext)
			per_skip_additions(d);
		return d->err;
	case 2: /* ipxAddress { node 6, netnum 4, port 2 } */
		return per_skip_octets(d, 12);
	case 3: /* ip6Address: ext; ip 16; port */
		per_bool(d, &sext);
		per_skip_octets(d, 18);
		if (sext)
			per_skip_additions(d);
		return d->err;
	case 4: /* netBios OCTET STRING (SIZE(16)) */
		return per_skip_octets(d, 16);
	case 5: /* nsap OCTET STRING (SIZE(1..20)): 5-bit length */
		if (per_constrained(d, 20, &k))
			return d->err;
		return per_skip_octets(d, (size_t)k + 1);
	default: /* nonStandardAddress */
		return walk_nonstandard(d);
	}
}

int walk_transports(struct per *d)
{
	size_t n;
	if (per_length(d, &n) || check_count(d, n))
		return d->err;
	while (n-- && !d->err)
		walk_transport(d);
	return d->err;
}

/* A SEQUENCE of the shape { nonStandardData NonStandardParameter
 * OPTIONAL, ... }: GatekeeperInfo, TerminalInfo, McuInfo, and the root
 * of every SupportedProtocols alternative but the first. */
static int walk_nonstd_only(struct per *d)
{
	bool ext, ns;
	per_bool(d, &ext);
	per_bool(d, &ns);
	if (ns)
		walk_nonstandard(d);
	if (ext)
		per_skip_additions(d);
	return d->err;
}

/* SupportedProtocols CHOICE: nonStandardData, then 8 capability
 * SEQUENCEs (h310 ... t120-only); extension alternatives as open types. */
static int walk_supported_protocols(struct per *d)
{
	uint32_t i;
	bool ext;
	if (per_choice(d, 9, &i, &ext))
		return d->err;
	if (ext)
		return per_skip_open(d);
	if (i == 0)
		return walk_nonstandard(d);
	return walk_nonstd_only(d);
}

/* GatewayInfo { protocol SEQUENCE OF SupportedProtocols OPTIONAL,
 * nonStandardData OPTIONAL, ... } */
static int walk_gateway(struct per *d)
{
	bool ext, proto, ns;
	size_t n;
	per_bool(d, &ext);
	per_bool(d, &proto);
	per_bool(d, &ns);
	if (proto) {
		if (per_length(d, &n) || check_count(d, n))
			return d->err;
		while (n-- && !d->err)
			walk_supported_protocols(d);
	}
	if (ns)
		walk_nonstandard(d);
	if (ext)
		per_skip_additions(d);
	return d->err;
}

/* VendorIdentifier { vendor H221NonStandard, productId and versionId
 * OCTET STRING (SIZE(1..256)) OPTIONAL, ... } */
int walk_vendor(struct per *d)
{
	bool ext, product, version;
	uint32_t k;
	per_bool(d, &ext);
	per_bool(d, &product);
	per_bool(d, &version);
	walk_h221(d);
	if (product && !per_constrained(d, 256, &k))
		per_skip_octets(d, (size_t)k + 1);
	if (version && !per_constrained(d, 256, &k))
		per_skip_octets(d, (size_t)k + 1);
	if (ext)
		per_skip_additions(d);
	return d->err;
}

/* EndpointType: 6 optional components, then mc and undefinedNode. */
int walk_endpoint_type(struct per *d)
{
	bool ext, opt[6], b;
	per_bool(d, &ext);
	for (int i = 0; i < 6; i++)
		per_bool(d, &opt[i]);
	if (opt[0])
		walk_nonstandard(d);
	if (opt[1])
		walk_vendor(d);
	if (opt[2])
		walk_nonstd_only(d);    /* gatekeeper */
	if (opt[3])
		walk_gateway(d);
	if (opt[4])
		walk_nonstd_only(d);    /* mcu: its protocol list is an addition */
	if (opt[5])
		walk_nonstd_only(d);    /* terminal */
	per_bool(d, &b);                /* mc */
	per_bool(d, &b);                /* undefinedNode */
	if (ext)
		per_skip_additions(d);
	return d->err;
}

/* QseriesOptions { 7 BOOLEANs, q954Info Q954Details { 2 BOOLEANs, ... },
 * ... } */
int walk_qseries(struct per *d)
{
	bool ext, qext;
	per_bool(d, &ext);
	per_skip_bits(d, 7);
	per_bool(d, &qext);
	per_skip_bits(d, 2);
	if (qext)
		per_skip_additions(d);
	if (ext)
		per_skip_additions(d);
	return d->err;
}

int walk_null_choice(struct per *d, uint32_t nroot)
{
	uint32_t i;
	bool ext;
	if (per_choice(d, nroot, &i, &ext))
		return d->err;
	if (ext)
		per_skip_open(d);
	return d->err;
}

/* AliasAddress CHOICE { dialledDigits, h323-ID, ..., url-ID, transportID,
 * email-ID, partyNumber, mobileUIM, isupNumber }. */
int read_alias(struct per *d, struct alias_ref *a)
{
	uint32_t i, k;
	bool ext;
	const uint8_t *p;
	a->kind = ALIAS_OTHER;
	a->chars = NULL;
	a->n = 0;
	a->at = 0;
	if (per_choice(d, 2, &i, &ext))
		return d->err;
	if (!ext && i == 0) {
		/* IA5String (SIZE(1..128)) FROM ("0123456789#*,"): a 7-bit
		 * length, then 4 bits a character, the first aligned. */
		if (per_constrained(d, 128, &k))
			return d->err;
		per_align(d);
		return per_skip_bits(d, ((uint64_t)k + 1) * 4);
	}
	if (!ext) {
		/* h323-ID BMPString (SIZE(1..256)): one aligned octet n-1. */
		if (per_constrained(d, 256, &k))
			return d->err;
		per_align(d);
		a->at = per_at(d);
		if (per_octets(d, ((size_t)k + 1) * 2, &p))
			return d->err;
		a->kind = ALIAS_H323_ID;
		a->chars = p;
		a->n = (size_t)k + 1;
		return 0;
	}
	struct per sub;
	if (per_open(d, &sub))
		return d->err;
	if (i - 2 != 0 && i - 2 != 2)
		return 0;    /* transportID, partyNumber, ...: not read */
	/* url-ID, email-ID: IA5String (SIZE(1..512)) in the open type: two
	 * aligned octets n-1, then a character an octet. */
	if (per_constrained(&sub, 512, &k))
		return per_fail(d, sub.err);
	a->at = per_at(&sub);
	if (per_octets(&sub, (size_t)k + 1, &p))
		return per_fail(d, sub.err);
	a->kind = i - 2 == 0 ? ALIAS_URL_ID : ALIAS_EMAIL_ID;
	a->chars = p;
	a->n = (size_t)k + 1;
	return 0;
}

int walk_alias(struct per *d)
{
	struct alias_ref a;
	return read_alias(d, &a);
}

int walk_aliases(struct per *d)
{
	size_t n;
	if (per_length(d, &n) || check_count(d, n))
		return d->err;
	while (n-- && !d->err)
		walk_alias(d);
	return d->err;
}

/* GenericIdentifier CHOICE { standard INTEGER (0..16383, ...), oid,
 * nonStandard GloballyUniqueID, ... }.  *standard is true, with *value,
 * only for a standard value within the root range. */
int walk_generic_id(struct per *d, bool *standard, uint32_t *value)
{
	uint32_t i;
	bool ext, vext;
	size_t n;
	*standard = false;
	*value = 0;
	if (per_choice(d, 3, &i, &ext))
		return d->err;
	if (ext)
		return per_skip_open(d);
	switch (i) {
	case 0:
		if (per_bool(d, &vext))
			return d->err;
		if (vext) {
			/* Outside the root: an unconstrained integer. */
			if (per_length(d, &n))
				return d->err;
			return per_skip_octets(d, n);
		}
		if (per_constrained(d, 16384, value))
			return d->err;
		*standard = true;
		return 0;
	case 1:
		return walk_oid(d);
	default:
		return per_skip_octets(d, GUID_OCTETS);
	}
}

static int enter(struct per *d)
{
	if (++d->depth > H225_DEPTH_MAX)
		return per_fail(d, PBX_E_TOOLONG);
	return d->err;
}

/* Content CHOICE over 12 root alternatives (H.225.0 v7); compound
 * and nested recurse, bounded by H225_DEPTH_MAX. */
int walk_content(struct per *d)
{
	uint32_t i, k;
	bool ext, id_std;
	size_t n;
	if (per_choice(d, 12, &i, &ext))
		return d->err;
	if (ext)
		return per_skip_open(d);
	switch (i) {
	case 0: /* raw OCTET STRING */
	case 1: /* text IA5String: 8 bits a character in ALIGNED PER */
		if (per_length(d, &n))
			return d->err;
		return per_skip_octets(d, n);
	case 2: /* unicode BMPString */
		if (per_length(d, &n))
			return d->err;
		if (n > SIZE_MAX / 2)
			return per_fail(d, PBX_E_MALFORMED);
		return per_skip_octets(d, n * 2);
	case 3: /* bool */
		return per_skip_bits(d, 1);
	case 4: /* number8 */
		return per_skip_octets(d, 1);
	case 5: /* number16 */
		return per_skip_octets(d, 2);
	case 6: /* number32 INTEGER (0..4294967295) */
		return per_constrained(d, 1ull << 32, &k);
	case 7: /* id */
		return walk_generic_id(d, &id_std, &k);
	case 8: /* alias */
		return walk_alias(d);
	case 9: /* transport */
		return walk_transport(d);
	case 10: /* compound SEQUENCE (SIZE(1..512)) OF EnumeratedParameter */
		if (enter(d) || per_constrained(d, 512, &k) || check_count(d, (size_t)k + 1))
			return d->err;
		for (uint32_t j = 0; j <= k && !d->err; j++)
			walk_enum_param(d);
		d->depth--;
		return d->err;
	default: /* nested SEQUENCE (SIZE(1..16)) OF GenericData */
		if (enter(d) || per_constrained(d, 16, &k))
			return d->err;
		for (uint32_t j = 0; j <= k && !d->err; j++)
			walk_generic_data(d);
		d->depth--;
		return d->err;
	}
}

/* EnumeratedParameter { id GenericIdentifier, content Content OPTIONAL,
 * ... } */
int walk_enum_param(struct per *d)
{
	bool ext, has_content, std;
	uint32_t v;
	per_bool(d, &ext);
	per_bool(d, &has_content);
	walk_generic_id(d, &std, &v);
	if (has_content)
		walk_content(d);
	if (ext)
		per_skip_additions(d);
	return d->err;
}

/* GenericData { id, parameters SEQUENCE (SIZE(1..512)) OF
 * EnumeratedParameter OPTIONAL, ... } */
int walk_generic_data(struct per *d)
{
	bool ext, has_params, std;
	uint32_t v, k;
	per_bool(d, &ext);
	per_bool(d, &has_params);
	walk_generic_id(d, &std, &v);
	if (has_params && !per_constrained(d, 512, &k) && !check_count(d, (size_t)k + 1))
		for (uint32_t j = 0; j <= k && !d->err; j++)
			walk_enum_param(d);
	if (ext)
		per_skip_additions(d);
	return d->err;
}
