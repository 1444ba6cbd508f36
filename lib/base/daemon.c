/* daemon.c - the shared daemon skeleton: arguments, logging, store and
 * snapshot reloads, listening sockets, privilege drop, signals, graceful
 * drain and sd_notify (the datagram protocol of sd_notify(3), written here
 * without libsystemd). */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <pbxedge/log.h>

#include "internal.h"
#include "pbx-config.h"

#define POLL_MS 1000
#define COUNTER_FLUSH_S 5
#define MAX_WORKERS 64

struct opts {
	const char *db;
	const char *pidfile;
	const char *user;
	const char *log_file;
	int log_level;
	int workers;
	int drain_s;
	bool foreground;
	bool check;
	char paths[3][4096]; /* absolute forms of db, pidfile, log_file */
};

/* A socket spec and whether it is bound (handed to every worker). */
struct bound {
	struct pbx_listen_spec spec;
	bool bound;
	int last_errno; /* last bind failure, to log each new failure once */
};

struct pbx_daemon {
	const struct pbx_daemon_def *def;
	struct opts o;
	struct store *st;
	struct store_snapshot *snap;
	void *ctx; /* the daemon's context (def->prepare), one reference */
	struct store_writer *writer;
	struct pbx_worker *workers[MAX_WORKERS];
	int n_workers;
	struct bound socks[PBX_MAX_LISTEN];
	size_t n_socks;
	struct event_base *base;
	struct event *ev_term, *ev_int, *ev_hup, *ev_poll, *ev_drain;
	struct timespec drain_deadline;
	bool draining;
	int64_t next_counters;
	int pidfd;
	int lockfd;   /* the instance lock socket, or -1 */
	int ready_fd; /* write end of the daemonize pipe, or -1 */
};

/* ---- sd_notify ---- */

int pbx_sd_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !*path)
		return 0;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	if (n >= sizeof sun.sun_path || (path[0] != '/' && path[0] != '@'))
		return -EINVAL;
	memcpy(sun.sun_path, path, n);
	if (path[0] == '@')
		sun.sun_path[0] = '\0'; /* abstract namespace */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	ssize_t w = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sun, len);
	int e = errno;
	close(fd);
	return w < 0 ? -e : 0;
}

/* ---- sockets ---- */

int pbx_listen_socket(enum pbx_sock_kind kind, const struct pbx_addr *addr)
{
	struct pbx_addr a = *addr;
	int type = (kind == PBX_SOCK_TCP ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
	int fd = socket(pbx_addr_family(&a), type, 0);
	if (fd < 0 && errno == EAFNOSUPPORT && pbx_addr_family(&a) == AF_INET6 &&
	    pbx_addr_is_any(&a)) {
		/* IPv6 is disabled on this host: every address is 0.0.0.0. */
		pbx_addr_parse(pbx_span_cstr("0.0.0.0"), pbx_addr_port(addr), 0, &a, NULL);
		fd = socket(AF_INET, type, 0);
	}
	if (fd < 0)
		return -errno;
	int one = 1, zero = 0;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one))
		goto fail;
	if (pbx_addr_family(&a) == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, pbx_addr_is_any(&a) ? &zero : &one,
		       sizeof one))
		goto fail;
	if (bind(fd, &a.u.sa, a.len))
		goto fail;
	if (kind == PBX_SOCK_TCP && listen(fd, SOMAXCONN))
		goto fail;
	return fd;
fail:;
	int e = errno;
	close(fd);
	return -e;
}

void pbx_listen_bound(int fd, const struct pbx_listen_spec *spec, struct pbx_addr *addr,
		      bool *wildcard)
{
	struct sockaddr_in6 sin6;
	socklen_t sl = sizeof sin6;
	*addr = spec->addr;
	if (getsockname(fd, (struct sockaddr *)&sin6, &sl) == 0)
		pbx_addr_from_sockaddr(addr, (struct sockaddr *)&sin6, sl);
	*wildcard = pbx_addr_is_any(addr);
}

static bool spec_equal(const struct pbx_listen_spec *a, const struct pbx_listen_spec *b)
{
	return strcmp(a->key, b->key) == 0 && a->kind == b->kind && a->tag == b->tag &&
	       pbx_addr_equal(&a->addr, &b->addr);
}

/* Bind one socket per worker for spec and hand them over.  Returns 0 or
 * -errno (nothing handed over). */
static int bind_spec(struct pbx_daemon *d, const struct pbx_listen_spec *spec)
{
	int fds[MAX_WORKERS];
	for (int i = 0; i < d->n_workers; i++) {
		fds[i] = pbx_listen_socket(spec->kind, &spec->addr);
		if (fds[i] < 0) {
			int e = fds[i];
			while (i-- > 0)
				close(fds[i]);
			return e;
		}
	}
	for (int i = 0; i < d->n_workers; i++)
		worker_add_socket(d->workers[i], spec, fds[i]);
	return 0;
}

/* Make the bound sockets match what snap asks for.  At start-up a socket
 * that cannot be bound is fatal; on a reload it is logged and retried at
 * every poll. */
static int sync_sockets(struct pbx_daemon *d, bool startup)
{
	struct pbx_listen_spec want[PBX_MAX_LISTEN];
	size_t n_want = d->def->listeners ? d->def->listeners(d->snap, want) : 0;
	struct bound next[PBX_MAX_LISTEN];
	if (n_want == PBX_LISTEN_KEEP) {
		/* The daemon refused this snapshot's sockets: want what is
		 * there (and retry what failed to bind). */
		n_want = d->n_socks;
		for (size_t i = 0; i < n_want; i++)
			want[i] = d->socks[i].spec;
	}
	size_t n_next = 0;
	int failures = 0;

	/* Keep or drop what is bound now. */
	for (size_t i = 0; i < d->n_socks; i++) {
		bool keep = false;
		for (size_t j = 0; j < n_want && !keep; j++)
			keep = spec_equal(&d->socks[i].spec, &want[j]);
		if (keep) {
			next[n_next++] = d->socks[i];
		} else if (d->socks[i].bound) {
			char a[PBX_ADDRSTRLEN];
			pbx_addr_format(&d->socks[i].spec.addr, a, sizeof a);
			pbx_log_notice("listener-closed service=%s addr=%s reason=config-changed",
				       d->socks[i].spec.key, a);
			for (int w = 0; w < d->n_workers; w++)
				worker_del_socket(d->workers[w], d->socks[i].spec.key);
		}
	}
	/* Add what is new. */
	for (size_t j = 0; j < n_want; j++) {
		bool have = false;
		for (size_t i = 0; i < n_next && !have; i++)
			have = spec_equal(&next[i].spec, &want[j]);
		if (!have && n_next < PBX_MAX_LISTEN)
			next[n_next++] = (struct bound){ .spec = want[j] };
	}
	/* Bind what is not bound yet. */
	for (size_t i = 0; i < n_next; i++) {
		struct bound *b = &next[i];
		if (b->bound)
			continue;
		char a[PBX_ADDRSTRLEN];
		pbx_addr_format(&b->spec.addr, a, sizeof a);
		int rc = bind_spec(d, &b->spec);
		if (rc == 0) {
			b->bound = true;
			b->last_errno = 0;
			pbx_log_notice("listening service=%s proto=%s addr=%s workers=%d",
				       b->spec.key, b->spec.kind == PBX_SOCK_TCP ? "tcp" : "udp", a,
				       d->n_workers);
			continue;
		}
		failures++;
		if (rc != b->last_errno)
			pbx_log_error("listen-failed service=%s addr=%s reason=bind-failed "
				      "error=\"%s%s\"", b->spec.key, a, pbx_strerror(rc),
				      rc == -EACCES ? " (ports below 1024 need root or "
						      "CAP_NET_BIND_SERVICE)" : "");
		b->last_errno = rc;
		if (startup)
			break;
	}
	memcpy(d->socks, next, n_next * sizeof *next);
	d->n_socks = n_next;
	return failures;
}

/* ---- snapshot ---- */

static void log_snapshot(const struct pbx_daemon *d, const char *event)
{
	const struct store_snapshot *s = d->snap;
	char listeners[256] = "";
	size_t o = 0;
	for (int p = 0; p < STORE_PROTO_COUNT; p++) {
		if (!s->listener[p].on)
			continue;
		int w = snprintf(listeners + o, sizeof listeners - o, "%s%s:%u", o ? "," : "",
				 store_proto_name((enum store_proto)p), s->listener[p].port);
		if (w < 0 || (size_t)w >= sizeof listeners - o)
			break;
		o += (size_t)w;
	}
	pbx_log_info("%s generation=%lld names=%zu listeners=%s blacklist=%zu whitelist=%zu "
		     "problems=%zu", event, (long long)s->generation, s->n_names,
		     o ? listeners : "none", store_snapshot_access_count(s, STORE_BLACKLIST),
		     store_snapshot_access_count(s, STORE_WHITELIST), s->n_problems);
	for (size_t i = 0; i < s->n_problems; i++)
		pbx_log_warn("config-problem reason=invalid-stored-value detail=\"%s\"",
			     s->problems[i]);
}

static void install_snapshot(struct pbx_daemon *d, struct store_snapshot *snap)
{
	store_snapshot_unref(d->snap);
	d->snap = snap;
	for (int i = 0; i < d->n_workers; i++)
		worker_set_snapshot(d->workers[i], store_snapshot_ref(snap));
}

/* Let the daemon rebuild its context; hand a new one to every worker. */
static void refresh_ctx(struct pbx_daemon *d, bool reloaded)
{
	if (!d->def->prepare)
		return;
	void *ctx = d->def->prepare(d->snap, d->ctx, reloaded);
	if (ctx == d->ctx || !ctx)
		return;
	if (d->ctx)
		d->def->ctx_unref(d->ctx);
	d->ctx = ctx;
	for (int i = 0; i < d->n_workers; i++) {
		d->def->ctx_ref(ctx);
		worker_set_ctx(d->workers[i], ctx);
	}
}

static void flush_counters(struct pbx_daemon *d)
{
	for (size_t c = 0; c < d->def->n_counters; c++) {
		uint64_t total = 0;
		if (!d->def->counters[c])
			continue; /* a slot the daemon does not use */
		for (int i = 0; i < d->n_workers; i++)
			total += worker_counter(d->workers[i], c);
		store_writer_counter(d->writer, d->def->counters[c], total);
	}
	store_writer_counter(d->writer, "store-writes-dropped", store_writer_dropped(d->writer));
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct pbx_daemon *d = arg;
	struct pbx_err err;
	bool changed = false;
	(void)fd;
	(void)what;
	if (store_poll(d->st, &changed, &err)) {
		pbx_log_warn("store-poll-failed reason=store-error detail=\"%s\"",
			     pbx_err_text(&err));
	} else if (changed && !d->draining) {
		struct store_snapshot *snap;
		if (store_snapshot_load(d->st, &snap, &err)) {
			pbx_log_error("config-reload-failed reason=store-error detail=\"%s\" "
				      "(keeping the previous configuration)", pbx_err_text(&err));
		} else {
			install_snapshot(d, snap);
			log_snapshot(d, "config-reloaded");
			refresh_ctx(d, true);
			changed = true;
		}
	}
	if (!changed && !d->draining)
		refresh_ctx(d, false);
	if (!d->draining) {
		/* Sockets that failed to bind are retried every poll. */
		sync_sockets(d, false);
	}
	if (store_now() >= d->next_counters) {
		d->next_counters = store_now() + COUNTER_FLUSH_S;
		flush_counters(d);
	}
}

/* ---- signals and drain ---- */

static long total_sessions(struct pbx_daemon *d)
{
	long n = 0;
	for (int i = 0; i < d->n_workers; i++)
		n += worker_sessions(d->workers[i]);
	return n;
}

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
	struct pbx_daemon *d = arg;
	struct timespec now;
	(void)fd;
	(void)what;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long left = total_sessions(d);
	bool late = now.tv_sec > d->drain_deadline.tv_sec ||
		    (now.tv_sec == d->drain_deadline.tv_sec &&
		     now.tv_nsec >= d->drain_deadline.tv_nsec);
	if (left == 0 || late) {
		if (left)
			pbx_log_warn("drain-timeout sessions=%ld reason=drain-time-exceeded "
				     "(closing them)", left);
		event_base_loopbreak(d->base);
	}
}

static void start_drain(struct pbx_daemon *d, const char *signame)
{
	if (d->draining) {
		pbx_log_notice("stopping-now signal=%s reason=second-signal", signame);
		event_base_loopbreak(d->base);
		return;
	}
	d->draining = true;
	pbx_sd_notify("STOPPING=1");
	pbx_log_notice("stopping signal=%s sessions=%ld drain-timeout-s=%d", signame,
		       total_sessions(d), d->o.drain_s);
	store_writer_state(d->writer, "draining", "");
	for (int i = 0; i < d->n_workers; i++)
		worker_drain(d->workers[i]);
	clock_gettime(CLOCK_MONOTONIC, &d->drain_deadline);
	d->drain_deadline.tv_sec += d->o.drain_s;
	struct timeval tick = { 0, 100000 };
	d->ev_drain = event_new(d->base, -1, EV_PERSIST, on_drain_tick, d);
	if (d->ev_drain)
		event_add(d->ev_drain, &tick);
	else
		event_base_loopbreak(d->base);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct pbx_daemon *d = arg;
	(void)what;
	if (sig == SIGHUP) {
		int rc = pbx_log_reopen();
		if (rc)
			pbx_log_error("log-reopen-failed reason=open-failed error=\"%s\"",
				      pbx_strerror(rc));
		else
			pbx_log_notice("logs-reopened signal=SIGHUP");
		return;
	}
	start_drain(d, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* ---- arguments ---- */

static void usage(const struct pbx_daemon_def *def, FILE *out)
{
	fprintf(out,
		"Usage: %s [OPTIONS]\n"
		"%s\n\n"
		"  -d, --db PATH          store (default $PBXEDGE_DB, else %s)\n"
		"  -f, --foreground       stay in the foreground and log to stderr\n"
		"  -l, --log-level LEVEL  err, warning, notice, info (default), debug\n"
		"                         (default $PBXEDGE_LOG_LEVEL)\n"
		"      --log-file PATH    log to PATH (reopened on SIGHUP) instead of\n"
		"                         stderr or syslog\n"
		"  -p, --pidfile PATH     write the process id to PATH (locked while running)\n"
		"  -u, --user USER        drop privileges to USER after binding ports\n"
		"  -w, --workers N        worker threads (%s)\n"
		"      --drain-timeout S  seconds to let sessions finish after SIGTERM or\n"
		"                         SIGINT (default 10)\n"
		"      --check            print the configuration as understood and exit:\n"
		"                         0 if valid, 1 if not\n"
		"  -h, --help             this text\n"
		"  -V, --version          print the version\n\n"
		"See %s(8).\n",
		def->name, def->summary, PBX_DEFAULT_DB,
		def->max_workers == 1 ? "this daemon uses one; larger values are reduced to 1"
		: def->max_workers ? "default: one per CPU, at most the daemon's limit"
				   : "default: one per CPU", def->name);
}

static int parse_int(const char *s, int lo, int hi, int *v)
{
	uint32_t x;
	if (pbx_span_to_u32(pbx_span_cstr(s), (uint32_t)hi, &x) || (int)x < lo)
		return -1;
	*v = (int)x;
	return 0;
}

/* Returns -1 to continue, else an exit status. */
static int parse_args(const struct pbx_daemon_def *def, int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "log-file", required_argument, NULL, 'L' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "user", required_argument, NULL, 'u' },
		{ "workers", required_argument, NULL, 'w' },
		{ "drain-timeout", required_argument, NULL, 'D' },
		{ "check", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env_level = getenv("PBXEDGE_LOG_LEVEL");
	bool level_given = false;
	o->db = getenv("PBXEDGE_DB");
	if (!o->db || !*o->db)
		o->db = PBX_DEFAULT_DB;
	o->log_level = PBX_LOG_INFO;
	o->drain_s = 10;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:fl:p:u:w:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': o->db = optarg; break;
		case 'f': o->foreground = true; break;
		case 'L': o->log_file = optarg; break;
		case 'p': o->pidfile = optarg; break;
		case 'u': o->user = optarg; break;
		case 'C': o->check = true; break;
		case 'l':
			if (pbx_log_level_parse(optarg, &o->log_level)) {
				fprintf(stderr, "%s: --log-level: unknown level '%s' (err, warning, "
					"notice, info, debug)\n", def->name, optarg);
				return 2;
			}
			level_given = true;
			break;
		case 'w':
			if (parse_int(optarg, 1, MAX_WORKERS, &o->workers)) {
				fprintf(stderr, "%s: --workers: '%s' is not a number 1-%d\n",
					def->name, optarg, MAX_WORKERS);
				return 2;
			}
			break;
		case 'D':
			if (parse_int(optarg, 0, 3600, &o->drain_s)) {
				fprintf(stderr, "%s: --drain-timeout: '%s' is not a number of "
					"seconds 0-3600\n", def->name, optarg);
				return 2;
			}
			break;
		case 'h':
			usage(def, stdout);
			return 0;
		case 'V':
			printf("%s %s\n", def->name, PBX_VERSION);
			return 0;
		case ':':
			fprintf(stderr, "%s: option '%s' needs a value (see --help)\n", def->name,
				argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "%s: unknown option '%s' (see --help)\n", def->name,
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", def->name,
			argv[optind]);
		return 2;
	}
	if (!level_given && env_level && *env_level &&
	    pbx_log_level_parse(env_level, &o->log_level)) {
		fprintf(stderr, "%s: PBXEDGE_LOG_LEVEL: unknown level '%s' (err, warning, notice, "
			"info, debug)\n", def->name, env_level);
		return 2;
	}
	return -1;
}

/* ---- --check ---- */

static int run_check(const struct pbx_daemon_def *def, const struct opts *o)
{
	struct store *st;
	struct store_snapshot *snap;
	struct pbx_err err;
	if (store_open(o->db, STORE_READONLY, &st, &err)) {
		fprintf(stderr, "%s: %s\n", def->name, pbx_err_text(&err));
		return 1;
	}
	int rc = store_snapshot_load(st, &snap, &err);
	store_close(st);
	if (rc) {
		fprintf(stderr, "%s: %s\n", def->name, pbx_err_text(&err));
		return 1;
	}
	printf("%s: store %s, schema %d, configuration generation %lld\n", def->name, o->db,
	       store_schema_latest(), (long long)snap->generation);
	size_t prefix = strlen(def->name);
	printf("settings:\n");
	for (int i = 0; i < STORE_SETTING_COUNT; i++) {
		const struct store_setting_info *in = store_setting_info((enum store_setting)i);
		if (strncmp(in->key, def->name, prefix) == 0 && in->key[prefix] == '.')
			printf("  %-28s %s\n", in->key,
			       *snap->setting_str[i] ? snap->setting_str[i] : "(none)");
	}
	int problems = def->check ? def->check(snap, stdout) : 0;
	for (size_t i = 0; i < snap->n_problems; i++)
		printf("problem: %s\n", snap->problems[i]);
	problems += (int)snap->n_problems;
	printf("%s\n", problems ? "configuration INVALID" : "configuration OK");
	store_snapshot_unref(snap);
	return problems ? 1 : 0;
}

/* ---- process set-up ---- */

/* Make a relative path absolute against the working directory (into buf,
 * size n), because going to the background changes directory to "/". */
static const char *absolute(const char *path, char *buf, size_t n)
{
	char cwd[4096];
	if (!path || path[0] == '/' || !getcwd(cwd, sizeof cwd))
		return path;
	if ((size_t)snprintf(buf, n, "%s/%s", cwd, path) >= n)
		return path;
	return buf;
}

/* Fork into the background; the parent exits when the child reports
 * readiness (or failure) through a pipe, so the exit status means
 * something to whoever started us. */
static int daemonize(const char *name, int *ready_fd)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		char c = '1';
		ssize_t r = read(p[0], &c, 1);
		if (r == 1 && c == '0')
			_exit(0);
		fprintf(stderr, "%s: start-up failed; its log says why\n", name);
		_exit(1);
	}
	close(p[0]);
	if (setsid() < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	if (chdir("/"))
		return -errno;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	*ready_fd = p[1];
	return 0;
}

static void report_ready(struct pbx_daemon *d, bool ok)
{
	if (d->ready_fd < 0)
		return;
	char c = ok ? '0' : '1';
	ssize_t w = write(d->ready_fd, &c, 1);
	(void)w;
	close(d->ready_fd);
	d->ready_fd = -1;
}

static int write_pidfile(struct pbx_daemon *d)
{
	int fd = open(d->o.pidfile, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		char buf[32] = "";
		ssize_t r = pread(fd, buf, sizeof buf - 1, 0);
		buf[r > 0 ? r : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		pbx_log_error("pidfile-locked path=%s pid=%s reason=already-running", d->o.pidfile,
			      buf[0] ? buf : "?");
		close(fd);
		return -EEXIST;
	}
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, buf, (size_t)n, 0) != n) {
		int e = errno;
		close(fd);
		return -e;
	}
	d->pidfd = fd;
	return 0;
}

/* One daemon of each kind per store: SO_REUSEPORT would otherwise let a
 * second rpd bind the same ports and silently take half the clients.  The
 * lock is an abstract AF_UNIX socket named after the daemon and the store's
 * real path: the kernel releases it when the process dies, and it leaves
 * no file behind. */
static int instance_lock(struct pbx_daemon *d)
{
	char dirbuf[4096], real[4096], name[512];
	snprintf(dirbuf, sizeof dirbuf, "%s", d->o.db);
	char *slash = strrchr(dirbuf, '/');
	const char *base = slash ? slash + 1 : dirbuf;
	const char *dir = slash ? (slash == dirbuf ? "/" : dirbuf) : ".";
	if (slash)
		*slash = '\0';
	if (!realpath(dir, real))
		return -errno;
	int n = snprintf(name, sizeof name, "pbxedge/%s/%s/%s", d->def->name, real, base);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len = (size_t)n < sizeof sun.sun_path - 1 ? (size_t)n : sizeof sun.sun_path - 1;
	if ((size_t)n > len) {
		/* Too long for the socket name: keep the tail, which differs. */
		memcpy(sun.sun_path + 1, name + ((size_t)n - len), len);
	} else {
		memcpy(sun.sun_path + 1, name, len);
	}
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sun,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len))) {
		int e = errno;
		close(fd);
		return -e;
	}
	d->lockfd = fd;
	return 0;
}

/* Run f as the service user's effective ids so that files it creates
 * (the store, its -wal and -shm) belong to that user. */
static int as_user(const struct passwd *pw, int (*f)(struct pbx_daemon *, struct pbx_err *),
		   struct pbx_daemon *d, struct pbx_err *err)
{
	if (!pw)
		return f(d, err);
	if (setegid(pw->pw_gid) || seteuid(pw->pw_uid))
		return pbx_err_set(err, -errno, "cannot switch to user %s: %s", pw->pw_name,
				   pbx_strerror(-errno));
	int rc = f(d, err);
	if (seteuid(0) || setegid(0))
		return pbx_err_set(err, -errno, "cannot switch back to root: %s",
				   pbx_strerror(-errno));
	return rc;
}

static int open_store(struct pbx_daemon *d, struct pbx_err *err)
{
	int rc = store_open(d->o.db, STORE_CREATE | STORE_MIGRATE, &d->st, err);
	if (rc == 0)
		rc = store_snapshot_load(d->st, &d->snap, err);
	return rc;
}

static int drop_privileges(const struct passwd *pw)
{
	if (initgroups(pw->pw_name, pw->pw_gid) || setgid(pw->pw_gid) || setuid(pw->pw_uid))
		return -errno;
	if (setuid(0) == 0)
		return -EPERM; /* the drop did not stick */
	return 0;
}

static int default_workers(const struct pbx_daemon_def *def)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > MAX_WORKERS)
		n = MAX_WORKERS;
	if (def->max_workers && n > def->max_workers)
		n = def->max_workers;
	return (int)n;
}

static void cleanup(struct pbx_daemon *d)
{
	for (int i = 0; i < d->n_workers; i++)
		worker_stop(d->workers[i]);
	/* The final counts, now that no worker adds to them. */
	if (d->writer) {
		flush_counters(d);
		store_writer_stop(d->writer);
	}
	for (int i = 0; i < d->n_workers; i++)
		worker_free(d->workers[i]);
	d->n_workers = 0;
	if (d->ctx)
		d->def->ctx_unref(d->ctx);
	store_snapshot_unref(d->snap);
	store_close(d->st);
	struct event **evs[] = { &d->ev_term, &d->ev_int, &d->ev_hup, &d->ev_poll, &d->ev_drain };
	for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
		if (*evs[i])
			event_free(*evs[i]);
	if (d->base)
		event_base_free(d->base);
	if (d->lockfd >= 0)
		close(d->lockfd);
	if (d->pidfd >= 0) {
		/* After --user the directory may not be ours to change; the
		 * stale file is harmless, as the lock on it is what counts. */
		if (unlink(d->o.pidfile) && errno != ENOENT)
			pbx_log_notice("pidfile-not-removed path=%s reason=unlink-failed "
				       "error=\"%s\"", d->o.pidfile, pbx_strerror(-errno));
		close(d->pidfd);
	}
}

static int start(struct pbx_daemon *d)
{
	struct pbx_err err;
	struct passwd *pw = NULL;
	pbx_err_clear(&err);

	if (d->o.user) {
		if (geteuid() != 0) {
			pbx_log_error("start-failed reason=needs-root detail=\"--user needs root "
				      "(running as uid %d)\"", (int)geteuid());
			return 1;
		}
		errno = 0;
		if (!(pw = getpwnam(d->o.user))) {
			pbx_log_error("start-failed reason=unknown-user user=%s", d->o.user);
			return 1;
		}
	}
	if (d->o.pidfile) {
		int rc = write_pidfile(d);
		if (rc) {
			if (rc != -EEXIST)
				pbx_log_error("start-failed path=%s reason=pidfile-failed "
					      "error=\"%s\"", d->o.pidfile, pbx_strerror(rc));
			return 1;
		}
	}
	int lrc = instance_lock(d);
	if (lrc == -EADDRINUSE) {
		pbx_log_error("start-failed db=%s reason=already-running detail=\"another %s "
			      "uses this store\"", d->o.db, d->def->name);
		return 1;
	} else if (lrc) {
		pbx_log_error("start-failed db=%s reason=instance-lock-failed error=\"%s\"",
			      d->o.db, pbx_strerror(lrc));
		return 1;
	}
	if (as_user(pw, open_store, d, &err)) {
		pbx_log_error("start-failed reason=store-error detail=\"%s\"",
			      pbx_err_text(&err));
		return 1;
	}
	log_snapshot(d, "config-loaded");

	d->n_workers = d->o.workers ? d->o.workers : default_workers(d->def);
	if (d->def->max_workers && d->n_workers > d->def->max_workers)
		d->n_workers = d->def->max_workers;
	d->base = event_base_new();
	if (!d->base) {
		pbx_log_error("start-failed reason=event-loop-failed");
		return 1;
	}
	for (int i = 0; i < d->n_workers; i++) {
		/* The writer starts after the privilege drop; workers get it
		 * before their threads start. */
		if (!(d->workers[i] = worker_new(d, d->def, i))) {
			d->n_workers = i;
			pbx_log_error("start-failed reason=worker-failed worker=%d", i);
			return 1;
		}
		worker_set_snapshot(d->workers[i], store_snapshot_ref(d->snap));
	}
	if (sync_sockets(d, true)) {
		pbx_log_error("start-failed reason=listen-failed detail=\"cannot listen on every "
			      "configured address\"");
		return 1;
	}
	if (pw) {
		int rc = drop_privileges(pw);
		if (rc) {
			pbx_log_error("start-failed reason=privilege-drop-failed user=%s "
				      "error=\"%s\"", pw->pw_name, pbx_strerror(rc));
			return 1;
		}
		pbx_log_info("privileges-dropped user=%s uid=%d", pw->pw_name, (int)pw->pw_uid);
	}
	if (d->def->prepare) {
		/* After the privilege drop: what the context reads (keys,
		 * certificates) must be readable as the service user, as it
		 * will be on every reload. */
		if (!(d->ctx = d->def->prepare(d->snap, NULL, true))) {
			pbx_log_error("start-failed reason=prepare-failed");
			return 1;
		}
		for (int i = 0; i < d->n_workers; i++) {
			d->def->ctx_ref(d->ctx);
			worker_set_ctx(d->workers[i], d->ctx);
		}
	}
	if (store_writer_start(d->o.db, d->def->name, &d->writer, &err)) {
		pbx_log_error("start-failed reason=store-error detail=\"%s\"",
			      pbx_err_text(&err));
		return 1;
	}
	return 0;
}

static int start_workers(struct pbx_daemon *d, struct store_writer *writer)
{
	/* Workers inherit a mask that blocks the signals, so that they are
	 * delivered to the main thread's event loop only. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = 0;
	for (int i = 0; i < d->n_workers && rc == 0; i++) {
		worker_set_writer(d->workers[i], writer);
		rc = worker_start(d->workers[i]);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

int pbx_daemon_main(const struct pbx_daemon_def *def, int argc, char **argv)
{
	struct pbx_daemon d = { .def = def, .pidfd = -1, .lockfd = -1, .ready_fd = -1 };
	int rc = parse_args(def, argc, argv, &d.o);
	if (rc >= 0)
		return rc;
	if (d.o.check)
		return run_check(def, &d.o);
	d.o.db = absolute(d.o.db, d.o.paths[0], sizeof d.o.paths[0]);
	d.o.pidfile = absolute(d.o.pidfile, d.o.paths[1], sizeof d.o.paths[1]);
	d.o.log_file = absolute(d.o.log_file, d.o.paths[2], sizeof d.o.paths[2]);

	if (!d.o.foreground && (rc = daemonize(def->name, &d.ready_fd))) {
		fprintf(stderr, "%s: cannot go to the background: %s\n", def->name,
			pbx_strerror(rc));
		return 1;
	}
	enum pbx_log_sink sink = d.o.log_file ? PBX_LOG_FILE
				 : d.o.foreground ? PBX_LOG_STDERR : PBX_LOG_SYSLOG;
	if ((rc = pbx_log_open(def->name, sink, d.o.log_file, d.o.log_level))) {
		fprintf(stderr, "%s: cannot open log file %s: %s\n", def->name, d.o.log_file,
			pbx_strerror(rc));
		report_ready(&d, false);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	pbx_log_notice("starting version=%s db=%s pid=%d", PBX_VERSION, d.o.db, (int)getpid());

	if (start(&d) || start_workers(&d, d.writer)) {
		cleanup(&d);
		report_ready(&d, false);
		pbx_log_close();
		return 1;
	}
	d.ev_term = evsignal_new(d.base, SIGTERM, on_signal, &d);
	d.ev_int = evsignal_new(d.base, SIGINT, on_signal, &d);
	d.ev_hup = evsignal_new(d.base, SIGHUP, on_signal, &d);
	d.ev_poll = event_new(d.base, -1, EV_PERSIST, on_poll, &d);
	struct timeval poll = { POLL_MS / 1000, (POLL_MS % 1000) * 1000 };
	if (!d.ev_term || !d.ev_int || !d.ev_hup || !d.ev_poll ||
	    event_add(d.ev_term, NULL) || event_add(d.ev_int, NULL) ||
	    event_add(d.ev_hup, NULL) || event_add(d.ev_poll, &poll)) {
		pbx_log_error("start-failed reason=signal-setup-failed");
		cleanup(&d);
		report_ready(&d, false);
		return 1;
	}
	d.next_counters = store_now() + COUNTER_FLUSH_S;
	store_writer_state(d.writer, "running", "");
	pbx_sd_notify("READY=1");
	report_ready(&d, true);
	pbx_log_notice("ready workers=%d", d.n_workers);

	event_base_dispatch(d.base);

	cleanup(&d);
	pbx_log_notice("stopped reason=signal");
	pbx_log_close();
	return 0;
}
