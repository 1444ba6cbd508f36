/* report.c - the evidence behind a verdict as JSON: every probe, where it
 * went from and to, how often it was sent, and what came back. */
#include <errno.h>
#include <string.h>

#include "natd.h"

void natd_json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\')
			fprintf(out, "\\%c", *c);
		else if (*c < 0x20 || *c >= 0x7f)
			fprintf(out, "\\u%04x", *c);
		else
			fputc(*c, out);
	}
	fputc('"', out);
}

static void addr_field(FILE *out, const char *key, const struct pbx_addr *a)
{
	char text[PBX_ADDRSTRLEN];
	if (!a->len || pbx_addr_format(a, text, sizeof text))
		return;
	fprintf(out, ",\"%s\":", key);
	natd_json_str(out, text);
}

static const char *change_name(unsigned change)
{
	if ((change & STUN_CHANGE_IP) && (change & STUN_CHANGE_PORT))
		return "ip+port";
	if (change & STUN_CHANGE_IP)
		return "ip";
	return "port";
}

int natd_evidence_json(const struct natd_probe *p, FILE *out)
{
	const struct natd_verdict *v = &p->v;
	const char *const whys[][2] = {
		{ "mapping", v->why_mapping },
		{ "filtering", v->why_filtering },
		{ "hairpinning", v->why_hairpin },
		{ "rfc3489", v->why_classic },
	};
	fputc('{', out);
	for (size_t i = 0; i < sizeof whys / sizeof whys[0]; i++) {
		fprintf(out, "\"%s\":", whys[i][0]);
		natd_json_str(out, whys[i][1]);
		fputc(',', out);
	}
	fprintf(out, "\"ms\":%lld,\"ignored\":%zu,\"probes\":[",
		(long long)(p->end - p->start), p->ignored);
	for (size_t i = 0; i < p->n_tx; i++) {
		const struct natd_tx *t = &p->tx[i];
		if (i)
			fputc(',', out);
		fprintf(out, "{\"probe\":\"%s\"", natd_test_name((enum natd_test)t->test));
		addr_field(out, "from", &p->local[t->sock]);
		addr_field(out, "to", &t->to);
		if (t->change)
			fprintf(out, ",\"change\":\"%s\"", change_name(t->change));
		if (t->kind == STUN_KIND_RFC3489)
			fputs(",\"request\":\"rfc3489\"", out);
		fprintf(out, ",\"sent\":%u,\"result\":\"%s\"", t->sends,
			natd_tx_state_name((enum natd_tx_state)t->state));
		if (t->state != NATD_TX_PENDING && t->state != NATD_TX_IDLE)
			fprintf(out, ",\"ms\":%lld", (long long)(t->done_at - t->started));
		if (t->state == NATD_TX_ANSWERED || t->state == NATD_TX_ERROR) {
			addr_field(out, t->test == NATD_T_HAIRPIN ? "arrived_from" : "answer_from",
				   &t->from);
			addr_field(out, "mapped", &t->mapped);
			addr_field(out, "other", &t->other);
			addr_field(out, "origin", &t->origin);
			if (t->test != NATD_T_HAIRPIN && t->state == NATD_TX_ANSWERED)
				fprintf(out, ",\"style\":\"%s\"", t->classic ? "rfc3489" : "rfc5389");
			if (t->error_code)
				fprintf(out, ",\"error\":%d", t->error_code);
		}
		if (t->note[0]) {
			fputs(",\"note\":", out);
			natd_json_str(out, t->note);
		}
		fputc('}', out);
	}
	fputs("]}", out);
	return ferror(out) ? -EIO : 0;
}
