/* names.c - the strings routing reads from H.225.0: BMPString (UTF-16BE
 * code units of the Basic Multilingual Plane, X.680 41) and IA5String
 * converted into the caller's text buffer, the gatekeeper identifier's
 * service names ([physical-location@]domain[/registration-location
 * [:standby-location]]) and the domain of a user@domain alias. */
#include "internal.h"

char *text_take(struct text *t, size_t n)
{
	if (n > t->cap - t->len)
		return NULL;
	char *q = t->p + t->len;
	t->len += n;
	return q;
}

static uint16_t unit(const uint8_t *c, size_t i)
{
	return (uint16_t)(c[2 * i] << 8 | c[2 * i + 1]);
}

int text_bmp_ascii(struct text *t, const uint8_t *c, size_t n, struct pbx_span *out)
{
	out->p = NULL;
	out->len = 0;
	for (size_t i = 0; i < n; i++)
		if (unit(c, i) < 0x20 || unit(c, i) > 0x7e)
			return PBX_E_INVALID;
	char *q = text_take(t, n);
	if (!q)
		return PBX_E_NOSPACE;
	for (size_t i = 0; i < n; i++)
		q[i] = (char)unit(c, i);
	out->p = q;
	out->len = n;
	return 0;
}

int text_bmp_utf8(struct text *t, const uint8_t *c, size_t n, struct pbx_span *out)
{
	size_t need = 0;
	out->p = NULL;
	out->len = 0;
	for (size_t i = 0; i < n; i++) {
		uint16_t u = unit(c, i);
		/* Control characters would reach logs and C strings (a NUL
		 * could end an alias early in a comparison); surrogates and
		 * the non-characters are not BMPString characters at all. */
		if (u < 0x20 || (u >= 0x7f && u <= 0x9f) || (u >= 0xd800 && u <= 0xdfff) ||
		    u >= 0xfffe)
			return PBX_E_INVALID;
		need += u < 0x80 ? 1 : u < 0x800 ? 2 : 3;
	}
	char *q = text_take(t, need);
	if (!q)
		return PBX_E_NOSPACE;
	out->p = q;
	out->len = need;
	for (size_t i = 0; i < n; i++) {
		uint16_t u = unit(c, i);
		if (u < 0x80) {
			*q++ = (char)u;
		} else if (u < 0x800) {
			*q++ = (char)(0xc0 | u >> 6);
			*q++ = (char)(0x80 | (u & 0x3f));
		} else {
			*q++ = (char)(0xe0 | u >> 12);
			*q++ = (char)(0x80 | ((u >> 6) & 0x3f));
			*q++ = (char)(0x80 | (u & 0x3f));
		}
	}
	return 0;
}

int text_ia5(struct text *t, const uint8_t *c, size_t n, struct pbx_span *out)
{
	out->p = NULL;
	out->len = 0;
	for (size_t i = 0; i < n; i++)
		if (c[i] < 0x20 || c[i] > 0x7e)
			return PBX_E_INVALID;
	char *q = text_take(t, n);
	if (!q)
		return PBX_E_NOSPACE;
	for (size_t i = 0; i < n; i++)
		q[i] = (char)c[i];
	out->p = q;
	out->len = n;
	return 0;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* A part of a gatekeeper identifier: not empty, printable ASCII without
 * space, and none of the separators ('@', '/', ':'). */
static bool part_ok(struct pbx_span s)
{
	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		char c = s.p[i];
		if (c <= 0x20 || c > 0x7e || c == '@' || c == '/' || c == ':')
			return false;
	}
	return true;
}

/* domain + ('/' + location), lowercased, into t. */
static int join(struct text *t, struct pbx_span domain, struct pbx_span loc,
		struct pbx_span *out)
{
	size_t n = domain.len + (loc.len ? 1 + loc.len : 0);
	char *q = text_take(t, n);
	if (!q)
		return PBX_E_NOSPACE;
	out->p = q;
	out->len = n;
	for (size_t i = 0; i < domain.len; i++)
		*q++ = lower(domain.p[i]);
	if (loc.len) {
		*q++ = '/';
		for (size_t i = 0; i < loc.len; i++)
			*q++ = lower(loc.p[i]);
	}
	return 0;
}

int h225_gkid_service(struct pbx_span gkid, char *buf, size_t cap, struct pbx_span *name,
		      struct pbx_span *standby)
{
	struct text t = { buf, buf ? cap : 0, 0 };
	struct pbx_span head, reg, domain, primary, backup = { NULL, 0 };
	bool has_reg, has_standby = false;

	name->p = standby->p = NULL;
	name->len = standby->len = 0;
	has_reg = pbx_span_cut(gkid, '/', &head, &reg);
	/* The physical location is anything up to the last '@': it is the
	 * PBX's business (where the phone is), not ours. */
	if (!pbx_span_rcut(head, '@', NULL, &domain))
		domain = head;
	if (!part_ok(domain))
		return PBX_E_MALFORMED;
	if (has_reg) {
		has_standby = pbx_span_cut(reg, ':', &primary, &backup);
		if (!part_ok(primary) || (has_standby && !part_ok(backup)))
			return PBX_E_MALFORMED;
	} else {
		primary.p = NULL;
		primary.len = 0;
	}
	/* The physical location itself must be sane, though ignored: it
	 * ends up in logs with the identifier. */
	struct pbx_span phys;
	if (pbx_span_rcut(head, '@', &phys, NULL)) {
		for (size_t i = 0; i < phys.len; i++)
			if (phys.p[i] <= 0x20 || phys.p[i] > 0x7e || phys.p[i] == ':')
				return PBX_E_MALFORMED;
		if (phys.len == 0)
			return PBX_E_MALFORMED;
	}
	int rc = join(&t, domain, primary, name);
	if (!rc && has_standby)
		rc = join(&t, domain, backup, standby);
	if (rc) {
		name->p = standby->p = NULL;
		name->len = standby->len = 0;
	}
	return rc;
}

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

int h225_alias_domain(struct pbx_span alias, char *buf, size_t cap, struct pbx_span *domain)
{
	struct pbx_span user, d;
	domain->p = NULL;
	domain->len = 0;
	if (!pbx_span_rcut(alias, '@', &user, &d) || user.len == 0)
		return PBX_E_MALFORMED;
	size_t n = 0;
	while (n < d.len && d.p[n] != ':' && d.p[n] != ';')
		n++;
	if (n == 0)
		return PBX_E_MALFORMED;
	for (size_t i = 0; i < n; i++)
		if (!host_char(d.p[i]))
			return PBX_E_MALFORMED;
	if (!buf || n > cap)
		return PBX_E_NOSPACE;
	for (size_t i = 0; i < n; i++)
		buf[i] = lower(d.p[i]);
	domain->p = buf;
	domain->len = n;
	return 0;
}
