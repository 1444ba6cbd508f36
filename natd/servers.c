/* servers.c - natd.servers: "a[:port],b[:port];x[:port]".  ',' joins
 * redundant servers of one logical server, ';' separates logical servers
 * (separate NATed networks), the default port is 3478.  The text is first
 * validated by the store's own rule, so natd and rpctl refuse the same
 * values with the same words; the canonical text it returns is then
 * split here. */
#include <string.h>

#include <pbxedge/store.h>

#include "natd.h"

static int member(struct pbx_span m, struct natd_member *out, struct pbx_err *err)
{
	struct pbx_span host = m, port = { NULL, 0 };
	memset(out, 0, sizeof *out);
	if (pbx_addr_parse(m, 3478, 0, &out->addr, NULL) == 0) {
		pbx_addr_format_ip(&out->addr, out->host, sizeof out->host);
		out->port = pbx_addr_port(&out->addr);
		return 0;
	}
	/* A DNS name with an optional port (the validation said so). */
	out->is_name = true;
	out->port = 3478;
	if (pbx_span_rcut(m, ':', &host, &port)) {
		uint32_t v;
		if (pbx_span_to_u32(port, 65535, &v) || v == 0)
			return pbx_err_set(err, PBX_E_INVALID, "natd.servers: '%.*s': bad port",
					   (int)m.len, m.p);
		out->port = (uint16_t)v;
	} else {
		host = m;
	}
	if (pbx_span_copy(host, out->host, sizeof out->host))
		return pbx_err_set(err, PBX_E_INVALID, "natd.servers: '%.*s': name too long",
				   (int)m.len, m.p);
	return 0;
}

int natd_servers_parse(const char *text, struct natd_list *out, struct pbx_err *err)
{
	char canon[NATD_TEXT_MAX];
	int rc = store_setting_validate(STORE_SET_NATD_SERVERS, text, canon, sizeof canon, err);
	memset(out, 0, sizeof *out);
	if (rc)
		return rc;
	if (!canon[0])
		return 0;
	struct pbx_span rest = pbx_span_cstr(canon), logical;
	bool more = true;
	while (more) {
		more = pbx_span_cut(rest, ';', &logical, &rest);
		if (out->n == NATD_MAX_LOGICAL)
			return pbx_err_set(err, PBX_E_INVALID,
					   "natd.servers: more than %d logical servers",
					   NATD_MAX_LOGICAL);
		struct natd_logical *l = &out->l[out->n++];
		pbx_span_copy(logical, l->text, sizeof l->text);
		struct pbx_span lrest = logical, m;
		bool lmore = true;
		while (lmore) {
			lmore = pbx_span_cut(lrest, ',', &m, &lrest);
			if (l->n == NATD_MAX_MEMBERS)
				return pbx_err_set(err, PBX_E_INVALID,
						   "natd.servers: '%s': more than %d redundant servers",
						   l->text, NATD_MAX_MEMBERS);
			if ((rc = member(m, &l->m[l->n], err)))
				return rc;
			l->n++;
		}
	}
	return 0;
}
