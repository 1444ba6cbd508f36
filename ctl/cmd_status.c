/* cmd_status.c - rpctl status: the store, the configuration as the daemons
 * load it, each daemon's state and counters, the access lists and the
 * latest suspicious events. */
#include <string.h>

#include "ctl.h"

/* A daemon whose heartbeat is older than this is reported as not
 * responding (the writer beats every 5 s). */
#define STALE_S 15

static const char *const daemons[] = { "rpd", "turnd", "stund", "natd" };
#define N_DAEMONS (sizeof daemons / sizeof daemons[0])

struct daemon_row {
	bool seen;
	int64_t pid, started, heartbeat;
	char version[32], state[16], detail[200];
};

static int daemon_row(void *arg, const struct store_col *cols, int ncols)
{
	struct daemon_row *rows = arg;
	(void)ncols;
	for (size_t i = 0; i < N_DAEMONS; i++) {
		if (strcmp(cols[0].s, daemons[i]) != 0)
			continue;
		struct daemon_row *r = &rows[i];
		r->seen = true;
		r->pid = cols[1].i;
		snprintf(r->version, sizeof r->version, "%s", cols[2].s);
		r->started = cols[3].i;
		r->heartbeat = cols[4].i;
		snprintf(r->state, sizeof r->state, "%s", cols[5].s);
		snprintf(r->detail, sizeof r->detail, "%s", cols[6].s);
	}
	return 0;
}

/* The state to show: the recorded one, unless the heartbeat went stale. */
static const char *liveness(const struct daemon_row *r, int64_t now)
{
	if (!r->seen)
		return "never-started";
	if (strcmp(r->state, "stopped") == 0)
		return "stopped";
	if (now - r->heartbeat > STALE_S)
		return "not-responding";
	return r->state;
}

struct lines {
	struct ctl *c;
	struct json *j;
	size_t n;          /* rows seen */
};

static int counter_row(void *arg, const struct store_col *cols, int ncols)
{
	struct lines *l = arg;
	(void)ncols;
	if (l->c->json) {
		json_obj(l->j);
		json_key(l->j, "daemon");
		json_str(l->j, cols[0].s);
		json_key(l->j, "name");
		json_str(l->j, cols[1].s);
		json_key(l->j, "value");
		json_int(l->j, cols[2].i);
		json_end_obj(l->j);
	} else if (cols[2].i) {
		fprintf(l->c->out, "  %-6s %-32s %lld\n", cols[0].s, cols[1].s,
			(long long)cols[2].i);
	}
	return 0;
}

static int refused_row(void *arg, const struct store_col *cols, int ncols)
{
	struct lines *l = arg;
	if (l->c->json) {
		json_row(l->j, cols, ncols);
	} else {
		char t[32];
		ctl_time(cols[0].i, t, sizeof t);
		fprintf(l->c->out, "  %s %-6s %-40s %s at byte %lld\n    %s\n", t, cols[2].s,
			cols[3].s, cols[4].s, (long long)cols[5].i, cols[6].s);
	}
	return 0;
}

static int event_row(void *arg, const struct store_col *cols, int ncols)
{
	struct lines *l = arg;
	if (l->c->json) {
		json_row(l->j, cols, ncols);
	} else {
		char t[32];
		ctl_time(cols[0].i, t, sizeof t);
		fprintf(l->c->out, "  %s %-6s %-40s %-6s %s%s%s\n", t, cols[1].s, cols[2].s,
			*cols[3].s ? cols[3].s : "-", cols[4].s, *cols[5].s ? " " : "", cols[5].s);
	}
	return 0;
}

/* The last result of each rpctl ice-test mode: mode, at, result, code,
 * reason, servers, candidates, pairs, selected. */
static int ice_test_row(void *arg, const struct store_col *cols, int ncols)
{
	struct lines *l = arg;
	l->n++;
	if (l->c->json) {
		json_row(l->j, cols, ncols);
		return 0;
	}
	char t[32];
	ctl_time(cols[1].i, t, sizeof t);
	fprintf(l->c->out, "ice-test   %-7s %s (%s: %s) at %s, ", cols[0].s, cols[2].s,
		cols[3].s, cols[4].s, t);
	if (strcmp(cols[0].s, "servers") == 0)
		fprintf(l->c->out, "%lld server rows, %lld candidates\n", (long long)cols[5].i,
			(long long)cols[6].i);
	else
		fprintf(l->c->out, "%lld pairs, selected %s\n", (long long)cols[7].i,
			*cols[8].s ? cols[8].s : "none");
	return 0;
}

static int cmd_status(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	struct store_snapshot *snap;
	struct daemon_row rows[N_DAEMONS] = { 0 };
	int64_t now = store_now();
	if (store_snapshot_load(c->st, &snap, &c->err) ||
	    store_query(c->st, STORE_Q_DAEMONS, NULL, daemon_row, rows, &c->err))
		return ctl_fail_err(c);
	size_t listeners = 0;
	for (int p = 0; p < STORE_PROTO_COUNT; p++)
		listeners += snap->listener[p].on;

	struct json j;
	struct lines l = { .c = c, .j = &j };
	json_init(&j, c->out);
	int rc = 0;
	if (c->json) {
		json_obj(&j);
		json_key(&j, "store");
		json_obj(&j);
		json_key(&j, "path");
		json_str(&j, c->db);
		json_key(&j, "schema");
		json_int(&j, store_schema_latest());
		json_key(&j, "generation");
		json_int(&j, snap->generation);
		json_end_obj(&j);
		json_key(&j, "config");
		json_obj(&j);
		json_key(&j, "names");
		json_int(&j, (int64_t)snap->n_names);
		json_key(&j, "listeners");
		json_arr(&j);
		for (int p = 0; p < STORE_PROTO_COUNT; p++) {
			if (!snap->listener[p].on)
				continue;
			json_obj(&j);
			json_key(&j, "proto");
			json_str(&j, store_proto_name((enum store_proto)p));
			json_key(&j, "port");
			json_int(&j, snap->listener[p].port);
			json_end_obj(&j);
		}
		json_end_arr(&j);
		json_key(&j, "problems");
		json_arr(&j);
		for (size_t i = 0; i < snap->n_problems; i++)
			json_str(&j, snap->problems[i]);
		json_end_arr(&j);
		json_end_obj(&j);
		json_key(&j, "blacklist_active");
		json_int(&j, (int64_t)store_snapshot_access_count(snap, STORE_BLACKLIST));
		json_key(&j, "whitelist");
		json_int(&j, (int64_t)store_snapshot_access_count(snap, STORE_WHITELIST));
		json_key(&j, "ice_test");
		json_arr(&j);
		rc = store_query(c->st, STORE_Q_ICE_TEST, NULL, ice_test_row, &l, &c->err);
		json_end_arr(&j);
		json_key(&j, "daemons");
		json_arr(&j);
		for (size_t i = 0; i < N_DAEMONS; i++) {
			json_obj(&j);
			json_key(&j, "daemon");
			json_str(&j, daemons[i]);
			json_key(&j, "state");
			json_str(&j, liveness(&rows[i], now));
			if (rows[i].seen) {
				json_key(&j, "pid");
				json_int(&j, rows[i].pid);
				json_key(&j, "version");
				json_str(&j, rows[i].version);
				json_key(&j, "started");
				json_int(&j, rows[i].started);
				json_key(&j, "heartbeat");
				json_int(&j, rows[i].heartbeat);
				json_key(&j, "detail");
				json_str(&j, rows[i].detail);
			}
			json_end_obj(&j);
		}
		json_end_arr(&j);
		json_key(&j, "counters");
		json_arr(&j);
		if (rc == 0)
			rc = store_query(c->st, STORE_Q_COUNTERS, NULL, counter_row, &l, &c->err);
		json_end_arr(&j);
		json_key(&j, "events");
		json_arr(&j);
		if (rc == 0)
			rc = store_query(c->st, STORE_Q_EVENTS, NULL, event_row, &l, &c->err);
		json_end_arr(&j);
		json_key(&j, "refused");
		json_arr(&j);
		if (rc == 0)
			rc = store_query(c->st, STORE_Q_REFUSED, NULL, refused_row, &l, &c->err);
		json_end_arr(&j);
		json_end_obj(&j);
		json_done(&j);
	} else {
		fprintf(c->out, "store      %s (schema %d, configuration generation %lld)\n", c->db,
			store_schema_latest(), (long long)snap->generation);
		fprintf(c->out, "config     %zu service names, %zu service types served, "
			"%zu problems\n", snap->n_names, listeners, snap->n_problems);
		for (size_t i = 0; i < snap->n_problems; i++)
			fprintf(c->out, "  problem: %s\n", snap->problems[i]);
		fprintf(c->out, "blacklist  %zu active entries; whitelist %zu entries\n",
			store_snapshot_access_count(snap, STORE_BLACKLIST),
			store_snapshot_access_count(snap, STORE_WHITELIST));
		l.n = 0;
		rc = store_query(c->st, STORE_Q_ICE_TEST, NULL, ice_test_row, &l, &c->err);
		if (rc == 0 && l.n == 0)
			fprintf(c->out, "ice-test   never run with this store\n");
		fprintf(c->out, "\ndaemons:\n");
		for (size_t i = 0; i < N_DAEMONS; i++) {
			const struct daemon_row *r = &rows[i];
			fprintf(c->out, "  %-6s %-15s", daemons[i], liveness(r, now));
			if (r->seen) {
				char t[32];
				ctl_time(r->started, t, sizeof t);
				fprintf(c->out, " pid %-7lld version %-8s started %s heartbeat %llds ago",
					(long long)r->pid, r->version, t,
					(long long)(now - r->heartbeat));
				if (*r->detail)
					fprintf(c->out, " (%s)", r->detail);
			}
			fprintf(c->out, "\n");
		}
		fprintf(c->out, "\ncounters (since each daemon started; zeros left out):\n");
		rc = store_query(c->st, STORE_Q_COUNTERS, NULL, counter_row, &l, &c->err);
		fprintf(c->out, "\nrecent suspicious events:\n");
		if (rc == 0)
			rc = store_query(c->st, STORE_Q_EVENTS, NULL, event_row, &l, &c->err);
		fprintf(c->out, "\nlast refused messages per service, as received:\n");
		if (rc == 0)
			rc = store_query(c->st, STORE_Q_REFUSED, NULL, refused_row, &l, &c->err);
	}
	store_snapshot_unref(snap);
	return rc ? ctl_fail_err(c) : 0;
}

static const struct ctl_cmd cmds[] = {
	{ "status", NULL, 0, 0, 0, CTL_READ, cmd_status,
	  "show the store, configuration problems, daemons, counters, recent "
	  "suspicious events and the last refused messages per service" },
};

const struct ctl_group ctl_group_status = { "Status", cmds, sizeof cmds / sizeof cmds[0] };
