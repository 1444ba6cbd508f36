/* main.c - natd, NAT discovery: asks the STUN servers of natd.servers
 * what this site looks like from outside (external address, RFC 5780
 * mapping, filtering and hairpinning, the RFC 3489 class), every
 * natd.interval-s seconds and whenever rpctl asks, and stores the
 * verdicts.  "natd --once" runs one round and prints it.  The daemon runs
 * on the shared skeleton; its rounds run in a thread of their own with
 * their own store connection, so the skeleton's loop never waits on the
 * network. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pbxedge/daemon.h>
#include <pbxedge/log.h>
#include <pbxedge/store.h>

#include "pbx-config.h"
#include "round.h"

/* How often the prober thread looks for probe requests, in ms. */
#define REQUEST_POLL_MS 250

/* ---- one round: store, log, print ---- */

/* The verdict stored before, to log what changed. */
struct prev {
	bool seen;
	char server[NATD_TEXT_MAX];
	char external[64];
	char classic[32], mapping[32], filtering[32];
};

static int prev_row(void *arg, const struct store_col *cols, int ncols)
{
	struct prev *p = arg;
	(void)ncols;
	int64_t i = cols[0].i;
	if (i < 0 || i >= NATD_MAX_LOGICAL)
		return 0;
	p[i].seen = true;
	snprintf(p[i].server, sizeof p[i].server, "%s", cols[1].s ? cols[1].s : "");
	snprintf(p[i].external, sizeof p[i].external, "%s", cols[3].s ? cols[3].s : "");
	snprintf(p[i].mapping, sizeof p[i].mapping, "%s", cols[4].s ? cols[4].s : "");
	snprintf(p[i].filtering, sizeof p[i].filtering, "%s", cols[5].s ? cols[5].s : "");
	snprintf(p[i].classic, sizeof p[i].classic, "%s", cols[7].s ? cols[7].s : "");
	return 0;
}

static void log_entry(size_t i, const struct natd_entry *e, const struct prev *p)
{
	const struct natd_verdict *v = &e->probe.v;
	char ext[64], by[PBX_ADDRSTRLEN];
	const char *classic = natd_classic_name(natd_entry_classic(e));
	natd_entry_external(e, ext, sizeof ext);
	natd_entry_answered_by(e, by, sizeof by);
	if (natd_entry_answered(e))
		pbx_log_info("nat-verdict server=%s answered-by=%s external=%s mapping=%s "
			     "filtering=%s hairpinning=%s rfc3489=%s ms=%lld", e->server, by, ext,
			     natd_behaviour_name(v->mapping), natd_behaviour_name(v->filtering),
			     natd_hairpin_name(v->hairpin), classic,
			     (long long)(e->probe.end - e->probe.start));
	else
		pbx_log_warn("nat-no-answer server=%s rfc3489=%s reason=%s", e->server, classic,
			     e->probe.n_members ? (natd_entry_classic(e) == NATD_C_UDP_BLOCKED
						   ? "timeout" : "no-usable-answer")
						: "not-probed");
	bool same_server = p->seen && strcmp(p->server, e->server) == 0;
	if (!same_server) {
		pbx_log_notice("nat-changed index=%zu server=%s external=%s rfc3489=%s mapping=%s "
			       "filtering=%s reason=first-verdict", i, e->server, ext[0] ? ext : "none",
			       classic, natd_behaviour_name(v->mapping),
			       natd_behaviour_name(v->filtering));
		return;
	}
	if (strcmp(p->external, ext) != 0)
		pbx_log_notice("nat-changed index=%zu server=%s external=%s previous=%s "
			       "reason=external-changed", i, e->server, ext[0] ? ext : "none",
			       p->external[0] ? p->external : "none");
	if (strcmp(p->classic, classic) != 0 ||
	    strcmp(p->mapping, natd_behaviour_name(v->mapping)) != 0 ||
	    strcmp(p->filtering, natd_behaviour_name(v->filtering)) != 0)
		pbx_log_notice("nat-changed index=%zu server=%s rfc3489=%s mapping=%s filtering=%s "
			       "previous=%s/%s/%s reason=type-changed", i, e->server, classic,
			       natd_behaviour_name(v->mapping), natd_behaviour_name(v->filtering),
			       p->classic, p->mapping, p->filtering);
}

/* Store the round (and log what changed).  Returns 0 or an error. */
static int store_round(struct store *st, const struct natd_round *r, struct pbx_err *err)
{
	struct prev prev[NATD_MAX_LOGICAL];
	struct store_nat_row rows[NATD_MAX_LOGICAL];
	char ext[NATD_MAX_LOGICAL][64];
	memset(prev, 0, sizeof prev);
	int rc = store_query(st, STORE_Q_NAT, NULL, prev_row, prev, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < r->n; i++) {
		const struct natd_entry *e = &r->e[i];
		const struct natd_verdict *v = &e->probe.v;
		natd_entry_external(e, ext[i], sizeof ext[i]);
		rows[i] = (struct store_nat_row){
			.server = e->server,
			.external = ext[i],
			.mapping = natd_behaviour_name(v->mapping),
			.filtering = natd_behaviour_name(v->filtering),
			.hairpin = natd_hairpin_name(v->hairpin),
			.classic = natd_classic_name(natd_entry_classic(e)),
			.evidence = e->evidence ? e->evidence : "{}",
		};
		log_entry(i, e, &prev[i]);
	}
	return store_nat_save(st, rows, r->n, r->at, NULL, err);
}

static void print_text(FILE *out, const struct natd_round *r)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct natd_entry *e = &r->e[i];
		const struct natd_verdict *v = &e->probe.v;
		char ext[64], by[PBX_ADDRSTRLEN];
		natd_entry_external(e, ext, sizeof ext);
		natd_entry_answered_by(e, by, sizeof by);
		fprintf(out, "server %s\n", e->server);
		fprintf(out, "  answered-by  %s\n", by[0] ? by : "(none)");
		fprintf(out, "  external     %s\n", ext[0] ? ext : "(none)");
		fprintf(out, "  mapping      %s\n", natd_behaviour_name(v->mapping));
		fprintf(out, "  filtering    %s\n", natd_behaviour_name(v->filtering));
		fprintf(out, "  hairpinning  %s\n", natd_hairpin_name(v->hairpin));
		fprintf(out, "  rfc3489      %s\n", natd_classic_name(natd_entry_classic(e)));
		if (e->dns_error[0])
			fprintf(out, "  error        %s\n", e->dns_error);
	}
}

static void print_json(FILE *out, const struct natd_round *r)
{
	fputs("{\"servers\":[", out);
	for (size_t i = 0; i < r->n; i++) {
		const struct natd_entry *e = &r->e[i];
		const struct natd_verdict *v = &e->probe.v;
		char ext[64], by[PBX_ADDRSTRLEN];
		natd_entry_external(e, ext, sizeof ext);
		natd_entry_answered_by(e, by, sizeof by);
		fputs(i ? ",{\"server\":" : "{\"server\":", out);
		natd_json_str(out, e->server);
		fputs(",\"answered_by\":", out);
		if (by[0])
			natd_json_str(out, by);
		else
			fputs("null", out);
		fputs(",\"external\":", out);
		if (ext[0])
			natd_json_str(out, ext);
		else
			fputs("null", out);
		fprintf(out, ",\"mapping\":\"%s\",\"filtering\":\"%s\",\"hairpinning\":\"%s\","
			"\"rfc3489\":\"%s\",\"evidence\":%s}", natd_behaviour_name(v->mapping),
			natd_behaviour_name(v->filtering), natd_hairpin_name(v->hairpin),
			natd_classic_name(natd_entry_classic(e)), e->evidence ? e->evidence : "{}");
	}
	fputs("]}\n", out);
}

/* ---- --once ---- */

static void once_usage(FILE *out)
{
	fprintf(out, "Usage: natd --once [--json] [-d PATH] [-l LEVEL]\n"
		     "Run one round of NAT discovery, store it, print it and exit:\n"
		     "0 when every logical server answered.  See natd(8).\n");
}

static int run_once(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "once", no_argument, NULL, 'O' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *db = getenv("PBXEDGE_DB");
	const char *level_text = getenv("PBXEDGE_LOG_LEVEL");
	bool json = false;
	int c, level = PBX_LOG_INFO;
	if (!db || !*db)
		db = PBX_DEFAULT_DB;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:l:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'l': level_text = optarg; break;
		case 'O': break;
		case 'J': json = true; break;
		case 'h': once_usage(stdout); return 0;
		default:
			fprintf(stderr, "natd: with --once only --json, --db and --log-level are "
					"accepted ('%s')\n", argv[optind - 1]);
			once_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "natd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (level_text && *level_text && pbx_log_level_parse(level_text, &level)) {
		fprintf(stderr, "natd: unknown log level '%s'\n", level_text);
		return 2;
	}
	pbx_log_open("natd", PBX_LOG_STDERR, NULL, level);

	struct store *st;
	struct store_snapshot *snap;
	struct pbx_err err;
	struct natd_list *list = calloc(1, sizeof *list);
	if (!list || store_open(db, STORE_CREATE | STORE_MIGRATE, &st, &err)) {
		fprintf(stderr, "natd: %s\n", list ? pbx_err_text(&err) : "out of memory");
		free(list);
		return 1;
	}
	int rc = store_snapshot_load(st, &snap, &err);
	if (rc == 0) {
		rc = natd_servers_parse(snap->setting_str[STORE_SET_NATD_SERVERS], list, &err);
		store_snapshot_unref(snap);
	}
	if (rc) {
		fprintf(stderr, "natd: %s\n", pbx_err_text(&err));
		store_close(st);
		free(list);
		return 1;
	}
	if (list->n == 0) {
		fprintf(stderr, "natd: natd.servers is empty: no STUN server to ask "
				"('rpctl set natd.servers ...')\n");
		store_close(st);
		free(list);
		return 1;
	}
	struct natd_round r;
	int status = 0;
	rc = natd_round_run(list, NULL, &r);
	if (rc) {
		fprintf(stderr, "natd: the round failed: %s\n", pbx_strerror(rc));
		status = 1;
	} else {
		if (store_round(st, &r, &err)) {
			fprintf(stderr, "natd: cannot store the results: %s\n", pbx_err_text(&err));
			status = 1;
		}
		if (json)
			print_json(stdout, &r);
		else
			print_text(stdout, &r);
		for (size_t i = 0; i < r.n; i++)
			if (!natd_entry_answered(&r.e[i]))
				status = 1;
	}
	natd_round_free(&r);
	store_close(st);
	free(list);
	pbx_log_close();
	return status;
}

/* ---- the daemon ---- */

/* The daemon's context: the prober thread and the settings it follows.
 * One context for the daemon's life; reloads update its settings. */
struct natd_ctx {
	atomic_int refs;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_bool stop;             /* set under mu; a round reads it too */
	bool changed;                 /* settings changed since the last round */
	char servers[NATD_TEXT_MAX];
	int64_t interval_s;
};

/* The store's path, as the skeleton will use it: --db, else $PBXEDGE_DB,
 * else the compiled-in default; absolute, since the daemon changes to /
 * when it goes to the background. */
static char db_path[4096];

static void find_db(int argc, char **argv)
{
	const char *db = getenv("PBXEDGE_DB");
	if (!db || !*db)
		db = PBX_DEFAULT_DB;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if ((strcmp(argv[i], "-d") == 0 || strcmp(argv[i], "--db") == 0) && i + 1 < argc)
			db = argv[++i];
		else if (strncmp(argv[i], "--db=", 5) == 0)
			db = argv[i] + 5;
		else if (strncmp(argv[i], "-d", 2) == 0 && argv[i][2])
			db = argv[i] + 2;
	}
	char cwd[4096];
	if (db[0] != '/' && getcwd(cwd, sizeof cwd) &&
	    (size_t)snprintf(db_path, sizeof db_path, "%s/%s", cwd, db) < sizeof db_path)
		return;
	snprintf(db_path, sizeof db_path, "%s", db);
}

/* One round with the settings of now; answers the requests up to last. */
static void daemon_round(struct natd_ctx *x, struct store *st, const char *servers,
			 int64_t last)
{
	struct natd_list *list = calloc(1, sizeof *list);
	struct pbx_err err;
	struct natd_round r;
	if (!list) {
		pbx_log_error("nat-round-failed reason=out-of-memory");
		return;
	}
	if (natd_servers_parse(servers, list, &err)) {
		/* rpctl checked it: only a hand-edited store gets here. */
		pbx_log_warn("nat-round-skipped reason=invalid-servers detail=\"%s\"",
			     pbx_err_text(&err));
	} else if (list->n == 0) {
		pbx_log_debug("nat-round-skipped reason=no-servers");
	} else {
		int rc = natd_round_run(list, &x->stop, &r);
		if (rc == 0 && store_round(st, &r, &err))
			pbx_log_warn("store-write-failed reason=store-error detail=\"%s\"",
				     pbx_err_text(&err));
		else if (rc && rc != -EINTR)
			pbx_log_warn("nat-round-failed reason=system-error error=\"%s\"",
				     pbx_strerror(rc));
		natd_round_free(&r);
	}
	free(list);
	if (last && !atomic_load(&x->stop) && store_nat_probe_finish(st, last, &err))
		pbx_log_warn("store-write-failed reason=store-error detail=\"%s\"",
			     pbx_err_text(&err));
}

static void *prober(void *arg)
{
	struct natd_ctx *x = arg;
	struct store *st;
	struct pbx_err err;
	if (store_open(db_path, 0, &st, &err)) {
		pbx_log_error("nat-prober-failed reason=store-error detail=\"%s\"",
			      pbx_err_text(&err));
		return NULL;
	}
	int64_t next = natd_now_ms(); /* the first round at once */
	char servers[NATD_TEXT_MAX];
	pthread_mutex_lock(&x->mu);
	while (!atomic_load(&x->stop)) {
		int64_t now = natd_now_ms(), last = 0;
		if (x->changed) {
			x->changed = false;
			next = now;
		}
		snprintf(servers, sizeof servers, "%s", x->servers);
		int64_t interval = x->interval_s;
		pthread_mutex_unlock(&x->mu);
		if (store_nat_probe_pending(st, &last, &err))
			pbx_log_warn("store-poll-failed reason=store-error detail=\"%s\"",
				     pbx_err_text(&err));
		if (last || now >= next) {
			pbx_log_debug("nat-round reason=%s", last ? "requested" : "interval");
			/* The list as stored now: a probe asked for right after
			 * "rpctl set natd.servers" must not run on the list the
			 * snapshot held a moment before. */
			if (store_setting_get(st, "natd.servers", servers, sizeof servers, NULL, &err))
				pbx_log_warn("store-poll-failed reason=store-error detail=\"%s\"",
					     pbx_err_text(&err));
			daemon_round(x, st, servers, last);
			next = natd_now_ms() + interval * 1000;
		}
		pthread_mutex_lock(&x->mu);
		if (atomic_load(&x->stop))
			break;
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)REQUEST_POLL_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&x->cv, &x->mu, &until);
	}
	pthread_mutex_unlock(&x->mu);
	store_close(st);
	return NULL;
}

static void ctx_ref(void *ctx)
{
	struct natd_ctx *x = ctx;
	atomic_fetch_add(&x->refs, 1);
}

static void ctx_unref(void *ctx)
{
	struct natd_ctx *x = ctx;
	if (!x || atomic_fetch_sub(&x->refs, 1) != 1)
		return;
	if (x->started) {
		pthread_mutex_lock(&x->mu);
		atomic_store(&x->stop, true);
		pthread_cond_signal(&x->cv);
		pthread_mutex_unlock(&x->mu);
		pthread_join(x->thread, NULL);
	}
	pthread_cond_destroy(&x->cv);
	pthread_mutex_destroy(&x->mu);
	free(x);
}

static void *natd_prepare(const struct store_snapshot *snap, void *prev, bool reloaded)
{
	struct natd_ctx *x = prev;
	if (x && !reloaded)
		return x;
	if (!x) {
		if (!(x = calloc(1, sizeof *x)))
			return NULL;
		atomic_init(&x->refs, 1);
		atomic_init(&x->stop, false);
		pthread_mutex_init(&x->mu, NULL);
		pthread_cond_init(&x->cv, NULL);
	}
	pthread_mutex_lock(&x->mu);
	const char *servers = snap->setting_str[STORE_SET_NATD_SERVERS];
	if (strcmp(servers, x->servers) != 0 || x->interval_s != snap->setting_int[STORE_SET_NATD_INTERVAL_S]) {
		if (x->started)
			pbx_log_info("nat-settings servers=%s interval-s=%lld reason=config-changed",
				     servers[0] ? servers : "(none)",
				     (long long)snap->setting_int[STORE_SET_NATD_INTERVAL_S]);
		x->changed = x->started;
	}
	snprintf(x->servers, sizeof x->servers, "%s", servers);
	x->interval_s = snap->setting_int[STORE_SET_NATD_INTERVAL_S];
	pthread_cond_signal(&x->cv);
	pthread_mutex_unlock(&x->mu);
	if (!x->started) {
		sigset_t all, old;
		/* Signals go to the skeleton's loop, never to this thread. */
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		int rc = pthread_create(&x->thread, NULL, prober, x);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (rc) {
			pbx_log_error("nat-prober-failed reason=system-error error=\"%s\"",
				      strerror(rc));
			ctx_unref(x);
			return NULL;
		}
		x->started = true;
	}
	return x;
}

static int natd_check(const struct store_snapshot *snap, FILE *out)
{
	struct natd_list *list = calloc(1, sizeof *list);
	struct pbx_err err;
	int problems = 0;
	if (!list)
		return 1;
	if (natd_servers_parse(snap->setting_str[STORE_SET_NATD_SERVERS], list, &err)) {
		fprintf(out, "problem: %s\n", pbx_err_text(&err));
		problems++;
	} else if (list->n == 0) {
		fprintf(out, "logical servers: none (natd asks nobody until natd.servers is set)\n");
	} else {
		fprintf(out, "logical servers:\n");
		for (size_t i = 0; i < list->n; i++) {
			fprintf(out, "  %zu:", i);
			for (size_t k = 0; k < list->l[i].n; k++) {
				const struct natd_member *m = &list->l[i].m[k];
				bool v6 = strchr(m->host, ':') != NULL;
				fprintf(out, " %s%s%s:%u%s", v6 ? "[" : "", m->host, v6 ? "]" : "",
					m->port, m->is_name ? " (DNS name: every address)" : "");
				fprintf(out, "%s", k + 1 < list->l[i].n ? "," : "");
			}
			fprintf(out, "\n");
		}
	}
	free(list);
	return problems;
}

static const struct pbx_daemon_def natd_def = {
	.name = "natd",
	.summary = "pbxedge NAT discovery: this site's external address and NAT type\n"
		   "(natd --once [--json] [-d PATH]: one round, stored and printed).",
	.max_workers = 1,
	.check = natd_check,
	.prepare = natd_prepare,
	.ctx_ref = ctx_ref,
	.ctx_unref = ctx_unref,
};

int main(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--once") == 0)
			return run_once(argc, argv);
	find_db(argc, argv);
	return pbx_daemon_main(&natd_def, argc, argv);
}
