/* test_daemon.c - the daemon skeleton, run for real in a child process with
 * a small echo protocol: listening sockets, readiness notification, reload
 * on store changes, SIGHUP, SIGTERM drain (sessions finish, or the drain
 * timeout ends them), pidfile locking and --check. */
#include <check.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pbxedge/daemon.h>
#include <pbxedge/log.h>
#include <pbxedge/store.h>

#include "base/internal.h"

/* ---- the echo daemon under test ---- */

struct echo_listener {
	struct pbx_worker *w;
	struct evconnlistener *l;
};

static void echo_read(struct bufferevent *bev, void *arg)
{
	(void)arg;
	bufferevent_write_buffer(bev, bufferevent_get_input(bev));
}

static void echo_event(struct bufferevent *bev, short what, void *arg)
{
	struct pbx_worker *w = arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		bufferevent_free(bev);
		pbx_worker_session_end(w);
	}
}

static void echo_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			int len, void *arg)
{
	struct echo_listener *el = arg;
	(void)l;
	(void)sa;
	(void)len;
	struct bufferevent *bev = bufferevent_socket_new(pbx_worker_base(el->w), fd,
							 BEV_OPT_CLOSE_ON_FREE);
	pbx_worker_session_begin(el->w);
	pbx_worker_count(el->w, 0, 1);
	bufferevent_setcb(bev, echo_read, NULL, echo_event, el->w);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void *echo_open(struct pbx_worker *w, const struct pbx_listen_spec *spec, int fd)
{
	(void)spec;
	struct echo_listener *el = calloc(1, sizeof *el);
	el->w = w;
	el->l = evconnlistener_new(pbx_worker_base(w), echo_accept, el, LEV_OPT_CLOSE_ON_FREE,
				   -1, fd);
	return el;
}

static void echo_close(struct pbx_worker *w, void *h)
{
	struct echo_listener *el = h;
	(void)w;
	evconnlistener_free(el->l);
	free(el);
}

static size_t echo_listeners(const struct store_snapshot *snap, struct pbx_listen_spec *specs)
{
	if (!snap->listener[STORE_PROTO_HTTP].on)
		return 0;
	snprintf(specs[0].key, sizeof specs[0].key, "echo");
	specs[0].kind = PBX_SOCK_TCP;
	specs[0].addr = snap->listener[STORE_PROTO_HTTP].addr;
	specs[0].tag = 0;
	return 1;
}

static const char *const echo_counters[] = { "echo-sessions" };

static const struct pbx_daemon_def echo_def = {
	.name = "echod",
	.summary = "test daemon",
	.counters = echo_counters,
	.n_counters = 1,
	.listeners = echo_listeners,
	.socket_open = echo_open,
	.socket_close = echo_close,
};

/* ---- harness ---- */

static char dir[64], db[256], logpath[256], pidpath[256];

static void setup(void)
{
	strcpy(dir, "/tmp/pbx-test-daemon-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(db, sizeof db, "%s/t.db", dir);
	snprintf(logpath, sizeof logpath, "%s/d.log", dir);
	snprintf(pidpath, sizeof pidpath, "%s/d.pid", dir);
}

static void teardown(void)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static uint16_t free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sin;
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static void configure_port(uint16_t port)
{
	struct store *st;
	struct pbx_err err;
	ck_assert_int_eq(store_open(db, STORE_CREATE | STORE_MIGRATE, &st, &err), 0);
	ck_assert_int_eq(store_listen_set(st, STORE_PROTO_HTTP, port, "127.0.0.1", &err), 0);
	store_close(st);
}

static pid_t spawn(int drain_s, const char *notify)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char drain[16];
		snprintf(drain, sizeof drain, "%d", drain_s);
		if (notify)
			setenv("NOTIFY_SOCKET", notify, 1);
		char *argv[] = { "echod", "--db", db, "--foreground", "--workers", "2",
				 "--drain-timeout", drain, "--log-file", logpath,
				 "--pidfile", pidpath, "--log-level", "debug", NULL };
		optind = 0;
		_exit(pbx_daemon_main(&echo_def, (int)(sizeof argv / sizeof argv[0]) - 1, argv));
	}
	return pid;
}

static int try_connect(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int connect_wait(uint16_t port)
{
	for (int i = 0; i < 100; i++) {
		int fd = try_connect(port);
		if (fd >= 0)
			return fd;
		usleep(50000);
	}
	return -1;
}

static bool echo_ok(int fd)
{
	char buf[8] = "";
	if (write(fd, "ping", 4) != 4)
		return false;
	struct pollfd p = { fd, POLLIN, 0 };
	if (poll(&p, 1, 3000) != 1)
		return false;
	return read(fd, buf, sizeof buf) == 4 && memcmp(buf, "ping", 4) == 0;
}

/* Wait for the child to exit within ms; returns its exit status or -1. */
static int wait_exit(pid_t pid, int ms)
{
	for (int i = 0; i < ms / 20; i++) {
		int status;
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(20000);
	}
	return -1;
}

static bool log_has(const char *path, const char *needle)
{
	char buf[65536];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strstr(buf, needle) != NULL;
}

static bool log_wait(const char *path, const char *needle, int ms)
{
	for (int i = 0; i < ms / 20; i++) {
		if (log_has(path, needle))
			return true;
		usleep(20000);
	}
	return false;
}

/* ---- tests ---- */

START_TEST(test_pbx_listen_socket_reuseport)
{
	struct pbx_addr a;
	uint16_t port = free_port();
	char text[32];
	snprintf(text, sizeof text, "127.0.0.1:%u", port);
	ck_assert_int_eq(pbx_addr_parse(pbx_span_cstr(text), 0, 0, &a, NULL), 0);
	int t1 = pbx_listen_socket(PBX_SOCK_TCP, &a), t2 = pbx_listen_socket(PBX_SOCK_TCP, &a);
	ck_assert_int_ge(t1, 0);
	ck_assert_int_ge(t2, 0); /* one socket per worker on the same address */
	ck_assert(fcntl(t1, F_GETFL) & O_NONBLOCK);
	ck_assert(fcntl(t1, F_GETFD) & FD_CLOEXEC);
	int u1 = pbx_listen_socket(PBX_SOCK_UDP, &a), u2 = pbx_listen_socket(PBX_SOCK_UDP, &a);
	ck_assert_int_ge(u1, 0);
	ck_assert_int_ge(u2, 0);
	close(t1);
	close(t2);
	close(u1);
	close(u2);
	/* An address not on this host gives the errno, not a crash. */
	ck_assert_int_eq(pbx_addr_parse(pbx_span_cstr("192.0.2.1:1"), 0, 0, &a, NULL), 0);
	ck_assert_int_eq(pbx_listen_socket(PBX_SOCK_TCP, &a), -EADDRNOTAVAIL);
}
END_TEST

START_TEST(test_pbx_listen_socket_dual_stack)
{
	struct pbx_addr a;
	uint16_t port = free_port();
	char text[32];
	snprintf(text, sizeof text, "[::]:%u", port);
	ck_assert_int_eq(pbx_addr_parse(pbx_span_cstr(text), 0, 0, &a, NULL), 0);
	int fd = pbx_listen_socket(PBX_SOCK_TCP, &a);
	ck_assert_int_ge(fd, 0);
	/* "::" takes IPv4 clients too (or fell back to 0.0.0.0). */
	int c = try_connect(port);
	ck_assert_int_ge(c, 0);
	close(c);
	close(fd);
}
END_TEST

START_TEST(test_pbx_sd_notify)
{
	char sock[128];
	snprintf(sock, sizeof sock, "%s/notify", dir);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	strcpy(sun.sun_path, sock);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);

	unsetenv("NOTIFY_SOCKET");
	ck_assert_int_eq(pbx_sd_notify("READY=1"), 0); /* no manager: nothing to do */
	setenv("NOTIFY_SOCKET", sock, 1);
	ck_assert_int_eq(pbx_sd_notify("READY=1"), 0);
	char buf[64] = "";
	ck_assert_int_eq(recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT), 7);
	ck_assert_str_eq(buf, "READY=1");
	close(fd);

	/* Abstract namespace, as systemd may hand out. */
	char abstract[64];
	snprintf(abstract, sizeof abstract, "@pbx-test-%d", (int)getpid());
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, abstract, strlen(abstract));
	sun.sun_path[0] = '\0';
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(abstract))), 0);
	setenv("NOTIFY_SOCKET", abstract, 1);
	ck_assert_int_eq(pbx_sd_notify("STOPPING=1"), 0);
	memset(buf, 0, sizeof buf);
	ck_assert_int_eq(recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT), 10);
	ck_assert_str_eq(buf, "STOPPING=1");
	close(fd);
	setenv("NOTIFY_SOCKET", "relative", 1);
	ck_assert_int_eq(pbx_sd_notify("READY=1"), -EINVAL);
	unsetenv("NOTIFY_SOCKET");
}
END_TEST

/* Start, notify READY, serve, reload on a store change, SIGHUP, and on
 * SIGTERM stop accepting while a live session finishes. */
START_TEST(test_pbx_daemon_main_lifecycle)
{
	uint16_t port = free_port(), port2 = free_port();
	configure_port(port);
	char sock[128];
	snprintf(sock, sizeof sock, "%s/notify", dir);
	int nfd = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	strcpy(sun.sun_path, sock);
	ck_assert_int_eq(bind(nfd, (struct sockaddr *)&sun, sizeof sun), 0);

	pid_t pid = spawn(10, sock);
	struct pollfd p = { nfd, POLLIN, 0 };
	ck_assert_msg(poll(&p, 1, 10000) == 1, "no READY=1 within 10 s");
	char buf[64] = "";
	ck_assert_int_gt(recv(nfd, buf, sizeof buf - 1, 0), 0);
	ck_assert_str_eq(buf, "READY=1");

	int a = connect_wait(port);
	ck_assert_int_ge(a, 0);
	ck_assert(echo_ok(a));
	ck_assert(log_has(logpath, "listening service=echo"));

	/* The pidfile holds our child's pid. */
	FILE *pf = fopen(pidpath, "r");
	ck_assert_ptr_nonnull(pf);
	int filepid = 0;
	ck_assert_int_eq(fscanf(pf, "%d", &filepid), 1);
	fclose(pf);
	ck_assert_int_eq(filepid, pid);

	/* Reload: move the listener; the old port closes, the new opens,
	 * and the established session is untouched. */
	configure_port(port2);
	int b = connect_wait(port2);
	ck_assert_msg(b >= 0, "new port not served after reload");
	ck_assert(log_wait(logpath, "config-reloaded", 3000));
	ck_assert(log_wait(logpath, "listener-closed service=echo", 3000));
	usleep(100000);
	ck_assert_int_lt(try_connect(port), 0);
	ck_assert(echo_ok(a));
	ck_assert(echo_ok(b));
	close(b);

	/* SIGHUP reopens the log file after rotation. */
	char rotated[300];
	snprintf(rotated, sizeof rotated, "%s.1", logpath);
	ck_assert_int_eq(rename(logpath, rotated), 0);
	kill(pid, SIGHUP);
	ck_assert(log_wait(logpath, "logs-reopened", 3000));

	/* SIGTERM: STOPPING=1, no new connections, the session goes on. */
	kill(pid, SIGTERM);
	p.revents = 0;
	ck_assert_int_eq(poll(&p, 1, 5000), 1);
	memset(buf, 0, sizeof buf);
	ck_assert_int_gt(recv(nfd, buf, sizeof buf - 1, 0), 0);
	ck_assert_str_eq(buf, "STOPPING=1");
	ck_assert(log_wait(logpath, "stopping signal=SIGTERM sessions=1", 3000));
	usleep(200000);
	ck_assert_int_lt(try_connect(port2), 0);
	ck_assert_int_eq(wait_exit(pid, 300), -1); /* still draining */
	ck_assert(echo_ok(a));
	close(a);
	ck_assert_int_eq(wait_exit(pid, 5000), 0);
	ck_assert(log_has(logpath, "stopped reason=signal"));
	ck_assert_int_ne(access(pidpath, F_OK), 0); /* pidfile removed */
	close(nfd);

	/* The status row says stopped, and the counter was written. */
	struct store *st;
	ck_assert_int_eq(store_open(db, STORE_READONLY, &st, NULL), 0);
	store_close(st);
}
END_TEST

/* A session that does not finish is cut after the drain timeout, and the
 * exit is still clean. */
START_TEST(test_pbx_daemon_main_drain_timeout)
{
	uint16_t port = free_port();
	configure_port(port);
	pid_t pid = spawn(1, NULL);
	int a = connect_wait(port);
	ck_assert_int_ge(a, 0);
	ck_assert(echo_ok(a));
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	kill(pid, SIGTERM);
	int rc = wait_exit(pid, 5000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_eq(rc, 0);
	double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(took >= 0.9, "exited after %.2f s, before the drain timeout", took);
	ck_assert(log_has(logpath, "drain-timeout sessions=1"));
	close(a);
}
END_TEST

START_TEST(test_pbx_daemon_main_second_signal_stops_at_once)
{
	uint16_t port = free_port();
	configure_port(port);
	pid_t pid = spawn(60, NULL);
	int a = connect_wait(port);
	ck_assert_int_ge(a, 0);
	ck_assert(echo_ok(a));
	kill(pid, SIGTERM);
	ck_assert(log_wait(logpath, "stopping signal=SIGTERM", 3000));
	kill(pid, SIGINT);
	ck_assert_int_eq(wait_exit(pid, 3000), 0);
	ck_assert(log_has(logpath, "stopping-now signal=SIGINT"));
	close(a);
}
END_TEST

START_TEST(test_pbx_daemon_main_pidfile_lock)
{
	uint16_t port = free_port();
	configure_port(port);
	pid_t first = spawn(5, NULL);
	int a = connect_wait(port);
	ck_assert_int_ge(a, 0);
	close(a);
	pid_t second = spawn(5, NULL);
	ck_assert_int_eq(wait_exit(second, 5000), 1);
	ck_assert(log_has(logpath, "reason=already-running"));
	kill(first, SIGTERM);
	ck_assert_int_eq(wait_exit(first, 5000), 0);
}
END_TEST

START_TEST(test_pbx_daemon_main_bind_failure_is_fatal)
{
	uint16_t port = free_port();
	configure_port(port);
	/* Someone else (not SO_REUSEPORT) holds the port. */
	int blocker = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_eq(bind(blocker, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(listen(blocker, 1), 0);
	pid_t pid = spawn(5, NULL);
	ck_assert_int_eq(wait_exit(pid, 5000), 1);
	ck_assert(log_has(logpath, "listen-failed service=echo"));
	ck_assert(log_has(logpath, "reason=bind-failed error=\"Address already in use\""));
	close(blocker);
}
END_TEST

static int run_argv(char **argv, int argc)
{
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		optind = 0;
		_exit(pbx_daemon_main(&echo_def, argc, argv));
	}
	return wait_exit(pid, 5000);
}

START_TEST(test_pbx_daemon_main_arguments)
{
	char *bad_level[] = { "echod", "--log-level", "loud", NULL };
	ck_assert_int_eq(run_argv(bad_level, 3), 2);
	char *bad_workers[] = { "echod", "--workers", "0", NULL };
	ck_assert_int_eq(run_argv(bad_workers, 3), 2);
	char *unknown[] = { "echod", "--frobnicate", NULL };
	ck_assert_int_eq(run_argv(unknown, 2), 2);
	char *missing[] = { "echod", "--db", NULL };
	ck_assert_int_eq(run_argv(missing, 2), 2);
	char *extra[] = { "echod", "stray", NULL };
	ck_assert_int_eq(run_argv(extra, 2), 2);
	char *help[] = { "echod", "--help", NULL };
	ck_assert_int_eq(run_argv(help, 2), 0);
	char *version[] = { "echod", "--version", NULL };
	ck_assert_int_eq(run_argv(version, 2), 0);
	char *nouser[] = { "echod", "-f", "--db", db, "--user", "no-such-user-pbx", "--log-file",
			   logpath, NULL };
	ck_assert_int_eq(run_argv(nouser, 8), 1);
}
END_TEST

START_TEST(test_pbx_daemon_main_check)
{
	char *check[] = { "echod", "--db", db, "--check", NULL };
	ck_assert_int_eq(run_argv(check, 4), 1); /* no store yet */
	configure_port(free_port());
	ck_assert_int_eq(run_argv(check, 4), 0);
	struct store *st;
	struct pbx_err err;
	ck_assert_int_eq(store_open(db, STORE_MIGRATE, &st, &err), 0);
	store_close(st);
	/* A value the code would refuse, written behind its back. */
	sqlite3 *sdb;
	ck_assert_int_eq(sqlite3_open(db, &sdb), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(sdb, "INSERT INTO setting VALUES "
				       "('rpd.blacklist-minutes', 'x', 0)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(sdb);
	ck_assert_int_eq(run_argv(check, 4), 1);
}
END_TEST

/* Dropped messages: one line a second per counter, then how many went
 * unlogged. */
START_TEST(test_pbx_worker_drop_rate_limited)
{
	static const char *const counters[] = { "dropped-garbage", "answered" };
	static const struct pbx_daemon_def def = { .name = "t", .counters = counters,
						   .n_counters = 2 };
	struct pbx_worker *w = worker_new(NULL, &def, 0);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(pbx_log_open("t", PBX_LOG_FILE, logpath, PBX_LOG_INFO), 0);
	struct pbx_addr src;
	ck_assert_int_eq(pbx_addr_parse(pbx_span_cstr("192.0.2.7:5000"), 0, 0, &src, NULL), 0);
	for (int i = 0; i < 3; i++)
		pbx_worker_drop(w, 0, "stun", &src, 4, NULL, 20);
	pbx_worker_drop(w, 1, "stun", &src, 0, NULL, 1);  /* its own limit */
	pbx_worker_drop(w, 7, "stun", &src, 0, NULL, 1);  /* no such counter */
	usleep(1100 * 1000);
	pbx_worker_drop(w, 0, "stun", &src, 8, NULL, 30);
	pbx_log_close();
	ck_assert(log_has(logpath, "dropped source=192.0.2.7:5000 reason=garbage offset=4 bytes=20 "
				   "unlogged=0"));
	ck_assert(log_has(logpath, "dropped source=192.0.2.7:5000 reason=answered offset=0 "
				   "bytes=1 unlogged=0"));
	ck_assert(log_has(logpath, "dropped source=192.0.2.7:5000 reason=garbage offset=8 bytes=30 "
				   "unlogged=2"));
	char buf[4096];
	int fd = open(logpath, O_RDONLY);
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	int lines = 0;
	for (char *p = buf; (p = strstr(p, "dropped source=")); p++)
		lines++;
	ck_assert_int_eq(lines, 3);
	worker_free(w);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("daemon");
	TCase *tc = tcase_create("daemon");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pbx_listen_socket_reuseport);
	tcase_add_test(tc, test_pbx_listen_socket_dual_stack);
	tcase_add_test(tc, test_pbx_sd_notify);
	tcase_add_test(tc, test_pbx_worker_drop_rate_limited);
	tcase_add_test(tc, test_pbx_daemon_main_lifecycle);
	tcase_add_test(tc, test_pbx_daemon_main_drain_timeout);
	tcase_add_test(tc, test_pbx_daemon_main_second_signal_stops_at_once);
	tcase_add_test(tc, test_pbx_daemon_main_pidfile_lock);
	tcase_add_test(tc, test_pbx_daemon_main_bind_failure_is_fatal);
	tcase_add_test(tc, test_pbx_daemon_main_arguments);
	tcase_add_test(tc, test_pbx_daemon_main_check);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
