/* cmd_nat.c - rpctl nat: natd's latest verdicts, their history, and a
 * round on demand (a nat_probe row that natd answers). */
#include <string.h>
#include <time.h>

#include "ctl.h"

/* natd's heartbeat is refreshed every 5 s; older than this, it is gone. */
#define NATD_STALE_S 15
/* A round is bounded (natd(8)): 12 s of probes, plus name resolution and
 * up to a quarter second until natd sees the request. */
#define PROBE_WAIT_S 30

struct nat_rows {
	struct ctl *c;
	struct json j;
	size_t n;
};

static void json_raw(struct json *j, const char *text)
{
	/* The evidence is JSON natd wrote; anything else is shown as text. */
	size_t n = text ? strlen(text) : 0;
	if (n >= 2 && ((text[0] == '{' && text[n - 1] == '}') ||
		       (text[0] == '[' && text[n - 1] == ']'))) {
		if (!j->first[j->depth])
			fputc(',', j->out);
		j->first[j->depth] = false;
		fputs(text, j->out);
	} else {
		json_str(j, text);
	}
}

static const char *text_or(const struct store_col *col, const char *none)
{
	return col->type == STORE_COL_TEXT && col->s && *col->s ? col->s : none;
}

/* Columns of STORE_Q_NAT: server_index, server, at, external, mapping,
 * filtering, hairpin, classic, evidence. */
static int nat_row(void *arg, const struct store_col *cols, int ncols)
{
	struct nat_rows *r = arg;
	struct ctl *c = r->c;
	(void)ncols;
	r->n++;
	if (c->json) {
		struct json *j = &r->j;
		json_obj(j);
		json_key(j, "server");
		json_str(j, text_or(&cols[1], ""));
		json_key(j, "at");
		json_int(j, cols[2].i);
		json_key(j, "external");
		if (cols[3].type == STORE_COL_TEXT)
			json_str(j, cols[3].s);
		else
			json_null(j);
		json_key(j, "mapping");
		json_str(j, text_or(&cols[4], "unknown"));
		json_key(j, "filtering");
		json_str(j, text_or(&cols[5], "unknown"));
		json_key(j, "hairpinning");
		json_str(j, text_or(&cols[6], "unknown"));
		json_key(j, "rfc3489");
		json_str(j, text_or(&cols[7], "unknown"));
		json_key(j, "evidence");
		json_raw(j, text_or(&cols[8], "{}"));
		json_end_obj(j);
		return 0;
	}
	char at[32];
	ctl_time(cols[2].i, at, sizeof at);
	fprintf(c->out, "server %s (as of %s)\n", text_or(&cols[1], "-"), at);
	fprintf(c->out, "  external     %s\n", text_or(&cols[3], "(none)"));
	fprintf(c->out, "  mapping      %s\n", text_or(&cols[4], "unknown"));
	fprintf(c->out, "  filtering    %s\n", text_or(&cols[5], "unknown"));
	fprintf(c->out, "  hairpinning  %s\n", text_or(&cols[6], "unknown"));
	fprintf(c->out, "  rfc3489      %s\n", text_or(&cols[7], "unknown"));
	return 0;
}

static int print_status(struct ctl *c)
{
	struct nat_rows r = { .c = c };
	json_init(&r.j, c->out);
	if (c->json) {
		json_obj(&r.j);
		json_key(&r.j, "servers");
		json_arr(&r.j);
	}
	int rc = store_query(c->st, STORE_Q_NAT, NULL, nat_row, &r, &c->err);
	if (rc)
		return ctl_fail_err(c);
	if (c->json) {
		json_end_arr(&r.j);
		json_end_obj(&r.j);
		json_done(&r.j);
	} else if (r.n == 0) {
		fprintf(c->out, "no verdicts yet (natd has not finished a round; "
				"'rpctl nat probe' asks for one)\n");
	} else {
		fprintf(c->out, "('rpctl --json nat status' shows the evidence of each verdict)\n");
	}
	return 0;
}

static int cmd_status(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return print_status(c);
}

static int cmd_history(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return ctl_print_query(c, STORE_Q_NAT_HISTORY, NULL);
}

struct natd_alive {
	bool seen;
	int64_t heartbeat;
	char state[16];
};

static int daemon_row(void *arg, const struct store_col *cols, int ncols)
{
	struct natd_alive *a = arg;
	(void)ncols;
	if (!cols[0].s || strcmp(cols[0].s, "natd") != 0)
		return 0;
	a->seen = true;
	a->heartbeat = cols[4].i;
	snprintf(a->state, sizeof a->state, "%s", text_or(&cols[5], ""));
	return 0;
}

static int cmd_probe(struct ctl *c, int argc, char **argv)
{
	struct natd_alive a = { 0 };
	char servers[2048];
	int64_t id, done = 0;
	(void)argc;
	(void)argv;
	if (store_query(c->st, STORE_Q_DAEMONS, NULL, daemon_row, &a, &c->err))
		return ctl_fail_err(c);
	if (!a.seen)
		return ctl_fail(c, "no natd is running (natd has never started on this store)");
	/* A natd that is still starting takes the request once it runs. */
	bool up = strcmp(a.state, "running") == 0 || strcmp(a.state, "starting") == 0;
	if (!up || store_now() - a.heartbeat > NATD_STALE_S)
		return ctl_fail(c, "no natd is running (natd is %s, last heartbeat %llds ago)",
				up ? "not responding" : a.state,
				(long long)(store_now() - a.heartbeat));
	if (store_setting_get(c->st, "natd.servers", servers, sizeof servers, NULL, &c->err))
		return ctl_fail_err(c);
	if (!servers[0])
		return ctl_fail(c, "natd.servers is empty: natd has no STUN server to ask "
				   "('rpctl set natd.servers ...')");
	if (store_nat_probe_request(c->st, &id, &c->err))
		return ctl_fail_err(c);
	for (int i = 0; i < PROBE_WAIT_S * 5 && !done; i++) {
		struct timespec ts = { 0, 200 * 1000000L };
		nanosleep(&ts, NULL);
		if (store_nat_probe_done(c->st, id, &done, &c->err))
			return ctl_fail_err(c);
	}
	if (!done)
		return ctl_fail(c, "natd did not finish the round within %d s (its log says why)",
				PROBE_WAIT_S);
	return print_status(c);
}

static const struct ctl_cmd cmds[] = {
	{ "nat status", NULL, 0, 0, 0, CTL_READ, cmd_status,
	  "natd's latest verdict per logical STUN server: external address, mapping, "
	  "filtering, hairpinning, RFC 3489 class (--json: with the evidence)" },
	{ "nat history", NULL, 0, 0, 0, CTL_READ, cmd_history,
	  "the verdicts that changed, newest first (the last 100)" },
	{ "nat probe", NULL, 0, 0, 0, 0, cmd_probe,
	  "ask the running natd for a round now, wait for it (at most 30 s) and show the verdicts" },
};

const struct ctl_group ctl_group_nat = { "NAT discovery", cmds, sizeof cmds / sizeof cmds[0] };
