/* fuzz_ice_sdp.c - fuzzes the RFC 8839 candidate parser, the attribute-line
 * block parser and the SDP body parser, with format/parse round trips.
 * Every input goes to all of them (no selector byte), so the files under
 * tests/vectors/ice/ are seeds as they are. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/err.h>
#include <pbxedge/ice.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BLOCK_MAX (128 * 1024)

/* A refusal carries its code and a one-line message. */
static void check_refusal(int rc, const struct pbx_err *err)
{
	if (rc != PBX_E_TRUNCATED && rc != PBX_E_MALFORMED && rc != PBX_E_INVALID &&
	    rc != PBX_E_TOOLONG)
		abort();
	if (err->code != rc || err->msg[0] == '\0' || !memchr(err->msg, '\0', sizeof err->msg) ||
	    strchr(err->msg, '\n') || strchr(err->msg, '\r'))
		abort();
}

static void check_cand_text(struct pbx_span text)
{
	struct ice_cand c, again;
	struct pbx_err err;
	char one[ICE_CAND_LINE_MAX], two[ICE_CAND_LINE_MAX];

	pbx_err_clear(&err);
	int rc = ice_cand_parse(text, &c, &err);
	if (rc) {
		check_refusal(rc, &err);
		if (c.priority != 0 || c.foundation[0] != '\0')
			abort();
		return;
	}
	if (c.component < 1 || c.component > ICE_COMPONENT_MAX || c.priority < 1 ||
	    c.priority > ICE_PRIORITY_MAX || (unsigned)c.type >= ICE_CAND_TYPES)
		abort();
	if (!c.unresolved && pbx_addr_port(&c.addr) != c.port)
		abort();
	/* What we accept we can write, and what we write reads back the same
	 * and is a fixed point of format + parse. */
	if (ice_cand_format(&c, one, sizeof one))
		abort();
	if (ice_cand_parse(pbx_span_cstr(one), &again, &err))
		abort();
	if (ice_cand_format(&again, two, sizeof two) || strcmp(one, two) != 0)
		abort();
	if (again.priority != c.priority || again.port != c.port || again.type != c.type ||
	    again.component != c.component || strcmp(again.foundation, c.foundation) != 0)
		abort();
	char prio[ICE_PRIORITY_TEXT_MAX];
	if (ice_priority_format(c.priority, prio, sizeof prio))
		abort();
}

static void check_desc(struct pbx_span text, char *buf)
{
	struct ice_desc *d = malloc(sizeof *d), *again = malloc(sizeof *again);
	struct pbx_err err;
	size_t len;

	if (!d || !again)
		abort();
	pbx_err_clear(&err);
	int rc = ice_desc_parse(d, text, &err);
	if (rc) {
		check_refusal(rc, &err);
		if (strncmp(err.msg, "line ", 5) != 0)
			abort();
	} else if (d->ufrag[0] && d->pwd[0]) {
		if (d->n_cands > ICE_DESC_CANDS_MAX || d->n_options > ICE_OPTIONS_MAX)
			abort();
		if (ice_desc_format(d, false, buf, BLOCK_MAX, &len) || len != strlen(buf))
			abort();
		if (ice_desc_parse(again, (struct pbx_span){ buf, len }, &err))
			abort();
		if (again->n_cands != d->n_cands || strcmp(again->pwd, d->pwd) != 0 ||
		    again->lite != d->lite || again->end_of_candidates != d->end_of_candidates)
			abort();
	}
	(void)ice_desc_check_default(d);
	free(d);
	free(again);
}

static void check_sdp(struct pbx_span text)
{
	struct ice_sdp *s;
	struct pbx_err err;

	if (ice_sdp_new(&s))
		abort();
	pbx_err_clear(&err);
	int rc = ice_sdp_parse(s, text, &err);
	if (rc) {
		check_refusal(rc, &err);
	} else {
		if (s->n_media < 1 || s->n_media > ICE_SDP_MEDIA_MAX)
			abort();
		for (size_t i = 0; i < s->n_media; i++) {
			const struct ice_desc *d = &s->media[i].ice;
			enum ice_default_check c = ice_desc_check_default(d);
			if (d->has_default && pbx_addr_port(&d->default_addr) != s->media[i].port)
				abort();
			if (c == ICE_DEFAULT_MATCH && d->n_cands == 0)
				abort();
		}
	}
	ice_sdp_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *buf;
	/* Spans point into the fuzzer's own buffer: a read past size is
	 * caught by ASan. */
	struct pbx_span text = { (const char *)data, size };

	if (!buf && !(buf = malloc(BLOCK_MAX)))
		abort();
	check_cand_text(text);
	/* Each line alone, as a candidate. */
	struct pbx_span rest = text, line;
	while (rest.len) {
		pbx_span_cut(rest, '\n', &line, &rest);
		check_cand_text(line);
	}
	check_desc(text, buf);
	check_sdp(text);
	return 0;
}
