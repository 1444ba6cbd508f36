/* test_stream.c - STUN and TURN streams over loopback TCP, driven by a
 * real event loop and a plain client socket: framing of STUN messages and
 * padded ChannelData however the bytes are split (pbx_stream_listen and
 * the message callback), a stream that loses its framing, ChannelData
 * where it is not a message, a refused connection, output that does not
 * fit (pbx_stream_send), the end of stream with answers still queued, the
 * idle timeout, a TLS listener without credentials, and closing or
 * draining a group (pbx_stream_group_close, pbx_stream_group_drain). */
#include <check.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <pbxedge/daemon.h>
#include <pbxedge/stream.h>

struct state {
	struct event_base *base;
	struct pbx_stream_group g;
	struct pbx_stream_listener *l;
	struct pbx_stream *s;     /* the last accepted */
	bool refuse;
	bool echo;
	unsigned idle;
	int n_msg, n_stun, n_chan, n_lost, n_closed, n_accept;
	size_t last_len, lost_off;
	uint8_t lost_kind, lost_drop;
	char outcome[64];
	bool tls_failed;
	int send_rc;
	uint16_t port;
};

static void *on_accept(void *arg, struct pbx_stream *s)
{
	struct state *st = arg;
	st->n_accept++;
	if (st->refuse)
		return NULL;
	st->s = s;
	/* The peer is the client on loopback, the local end the listener. */
	ck_assert_int_eq(pbx_addr_family(pbx_stream_peer(s)), AF_INET);
	ck_assert_int_eq(strncmp(pbx_stream_peer_text(s), "127.0.0.1:", 10), 0);
	ck_assert_uint_eq(pbx_addr_port(pbx_stream_local(s)), st->port);
	ck_assert_ptr_eq(pbx_stream_listener_of(s), st->l);
	return st;
}

static struct pbx_tls_creds *on_creds(void *arg)
{
	(void)arg;
	return NULL;
}

static void on_message(void *conn, struct pbx_stream *s, enum stun_frame_kind kind,
		       const uint8_t *p, size_t len)
{
	struct state *st = conn;
	st->n_msg++;
	st->n_stun += kind == STUN_FRAME_STUN;
	st->n_chan += kind == STUN_FRAME_CHANDATA;
	st->last_len = len;
	if (st->echo)
		st->send_rc = pbx_stream_send(s, p, len);
}

static const char *on_lost(void *conn, struct pbx_stream *s, const struct stun_frame *f,
			   size_t off, const uint8_t *p, size_t len)
{
	struct state *st = conn;
	(void)s;
	(void)p;
	(void)len;
	st->n_lost++;
	st->lost_kind = f->kind;
	st->lost_drop = f->drop;
	st->lost_off = off;
	return "lost-framing";
}

static unsigned on_idle_s(void *conn)
{
	struct state *st = conn;
	return st->idle;
}

static void on_closed(void *conn, struct pbx_stream *s, const char *outcome)
{
	struct state *st = conn;
	st->n_closed++;
	snprintf(st->outcome, sizeof st->outcome, "%s", outcome);
	st->tls_failed = pbx_stream_tls_failed(s);
	if (st->s == s)
		st->s = NULL;
}

static const struct pbx_stream_ops ops = {
	.accept = on_accept,
	.creds = on_creds,
	.message = on_message,
	.lost = on_lost,
	.idle_s = on_idle_s,
	.closed = on_closed,
};

static struct pbx_stream_conf conf_default(void)
{
	struct pbx_stream_conf c = {
		.frame_max = 512,
		.in_max = 1024,
		.out_max = 1024,
		.frame_flags = 0,
		.chandata = true,
	};
	return c;
}

static uint16_t listen_on(struct state *st, const struct pbx_stream_conf *conf)
{
	struct pbx_listen_spec spec = { .key = "tcp", .kind = PBX_SOCK_TCP };
	struct pbx_addr bound;
	bool wildcard;
	ck_assert_int_eq(pbx_addr_parse(pbx_span_cstr("127.0.0.1"), 1, 0, &spec.addr, NULL), 0);
	pbx_addr_set_port(&spec.addr, 0);
	int fd = pbx_listen_socket(PBX_SOCK_TCP, &spec.addr);
	ck_assert_int_ge(fd, 0);
	pbx_listen_bound(fd, &spec, &bound, &wildcard);
	st->base = event_base_new();
	pbx_stream_group_init(&st->g);
	ck_assert_int_eq(pbx_stream_listen(st->base, &st->g, fd, &bound, conf, &ops, st, &st->l), 0);
	st->port = pbx_addr_port(&bound);
	return st->port;
}

static void finish(struct state *st)
{
	pbx_stream_group_close(&st->g, NULL, "stopping");
	pbx_stream_listener_free(st->l);
	event_base_free(st->base);
}

static void spin(struct state *st, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	event_base_loopexit(st->base, &tv);
	event_base_dispatch(st->base);
}

/* Run the loop in short turns until cond holds (at most 5 s): the tests
 * do not depend on how fast a loaded machine is. */
#define SPIN_UNTIL(st, cond)                                                     \
	do {                                                                     \
		for (int spin_i_ = 0; spin_i_ < 500 && !(cond); spin_i_++)       \
			spin(st, 10);                                            \
		ck_assert_msg(cond, "not within 5 s: %s", #cond);                \
	} while (0)

static int client(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	struct timeval tv = { 2, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

static void put(int fd, const void *p, size_t len)
{
	ck_assert_int_eq(write(fd, p, len), (ssize_t)len);
}

/* A Binding request with attr_len bytes of attributes (zeros: a
 * comprehension-optional 0x0000 attribute is fine for framing). */
static size_t binding(uint8_t *p, uint16_t attr_len)
{
	static const uint8_t hdr[20] = { 0x00, 0x01, 0, 0, 0x21, 0x12, 0xa4, 0x42,
					 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	memcpy(p, hdr, sizeof hdr);
	p[2] = (uint8_t)(attr_len >> 8);
	p[3] = (uint8_t)attr_len;
	memset(p + 20, 0, attr_len);
	return 20u + attr_len;
}

/* ChannelData on 0x4000 with n bytes, padded to 4 as streams carry it. */
static size_t chandata(uint8_t *p, uint16_t n)
{
	p[0] = 0x40;
	p[1] = 0x00;
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
	memset(p + 4, 'd', n);
	size_t len = 4u + n;
	while (len % 4)
		p[len++] = 0;
	return len;
}

static size_t read_all(int fd, uint8_t *buf, size_t want)
{
	size_t got = 0;
	while (got < want) {
		ssize_t r = read(fd, buf + got, want - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

/* Read want bytes from the client socket while the loop runs. */
static size_t read_spin(struct state *st, int fd, uint8_t *buf, size_t want)
{
	size_t got = 0;
	for (int i = 0; i < 500 && got < want; i++) {
		ssize_t r = recv(fd, buf + got, want - got, MSG_DONTWAIT);
		if (r > 0)
			got += (size_t)r;
		else if (r == 0)
			break;
		else
			spin(st, 10);
	}
	return got;
}

static bool at_eof(int fd)
{
	uint8_t b;
	ssize_t r = read(fd, &b, 1);
	return r == 0 || (r < 0 && errno == ECONNRESET);
}

START_TEST(test_pbx_stream_frames_split_anywhere)
{
	struct state st = { .echo = true, .idle = 30 };
	struct pbx_stream_conf conf = conf_default();
	uint16_t port = listen_on(&st, &conf);
	uint8_t msgs[256];
	size_t n = binding(msgs, 8);
	n += chandata(msgs + n, 5);
	n += binding(msgs + n, 0);
	n += chandata(msgs + n, 8);
	/* Every split of the stream gives the same four messages. */
	for (size_t cut = 1; cut < n; cut += 7) {
		int fd = client(port);
		int before = st.n_msg, closed = st.n_closed;
		put(fd, msgs, cut);
		spin(&st, 10);
		put(fd, msgs + cut, n - cut);
		SPIN_UNTIL(&st, st.n_msg - before == 4);
		uint8_t back[256];
		ck_assert_uint_eq(read_spin(&st, fd, back, n), n);
		ck_assert_mem_eq(back, msgs, n);
		close(fd);
		SPIN_UNTIL(&st, st.n_closed == closed + 1);
		ck_assert_str_eq(st.outcome, "client-closed");
		ck_assert_int_eq(st.n_msg - before, 4);
	}
	ck_assert_int_gt(st.n_chan, 0);
	ck_assert_int_eq(st.n_chan, st.n_stun);
	ck_assert_int_eq(st.n_lost, 0);
	ck_assert_uint_eq(st.g.n, 0);
	finish(&st);
}
END_TEST

START_TEST(test_pbx_stream_lost_framing_closes)
{
	struct state st = { .echo = true, .idle = 30 };
	struct pbx_stream_conf conf = conf_default();
	uint16_t port = listen_on(&st, &conf);
	uint8_t msgs[128];
	size_t n = binding(msgs, 4);
	memset(msgs + n, 0xff, 24); /* neither STUN nor ChannelData */
	int fd = client(port);
	put(fd, msgs, n + 24);
	SPIN_UNTIL(&st, st.n_closed == 1);
	ck_assert_int_eq(st.n_msg, 1);
	ck_assert_int_eq(st.n_lost, 1);
	ck_assert_uint_eq(st.lost_kind, STUN_FRAME_GARBAGE);
	ck_assert_uint_eq(st.lost_off, n);
	ck_assert_int_eq(st.n_closed, 1);
	ck_assert_str_eq(st.outcome, "lost-framing");
	uint8_t back[64];
	/* The answer to the good message may or may not have left; then EOF. */
	read_all(fd, back, n);
	ck_assert(at_eof(fd));
	close(fd);
	finish(&st);

	/* A frame longer than frame_max loses the framing too. */
	n = binding(msgs, 100);
	conf.frame_max = 64;

	struct state st2 = { .echo = true, .idle = 30 };
	port = listen_on(&st2, &conf);
	fd = client(port);
	put(fd, msgs, n);
	SPIN_UNTIL(&st2, st2.n_closed == 1);
	ck_assert_int_eq(st2.n_msg, 0);
	ck_assert_int_eq(st2.n_lost, 1);
	ck_assert_uint_eq(st2.lost_drop, STUN_DROP_TOO_LONG);
	close(fd);
	finish(&st2);
}
END_TEST

START_TEST(test_pbx_stream_chandata_not_wanted)
{
	struct state st = { .echo = true, .idle = 30 };
	struct pbx_stream_conf conf = conf_default();
	conf.chandata = false; /* a STUN server */
	uint16_t port = listen_on(&st, &conf);
	uint8_t msgs[64];
	size_t n = chandata(msgs, 3);
	int fd = client(port);
	put(fd, msgs, n);
	SPIN_UNTIL(&st, st.n_closed == 1);
	ck_assert_int_eq(st.n_msg, 0);
	ck_assert_int_eq(st.n_lost, 1);
	ck_assert_uint_eq(st.lost_kind, STUN_FRAME_CHANDATA);
	ck_assert_str_eq(st.outcome, "lost-framing");
	ck_assert(at_eof(fd));
	close(fd);
	finish(&st);
}
END_TEST

START_TEST(test_pbx_stream_refused)
{
	struct state st = { .refuse = true, .idle = 30 };
	struct pbx_stream_conf conf = conf_default();
	uint16_t port = listen_on(&st, &conf);
	int fd = client(port);
	SPIN_UNTIL(&st, st.n_accept == 1);
	ck_assert_int_eq(st.n_closed, 0);
	ck_assert_uint_eq(st.g.n, 0);
	ck_assert(at_eof(fd));
	close(fd);
	finish(&st);
}
END_TEST

START_TEST(test_pbx_stream_send_full)
{
	struct state st = { .idle = 30 };
	struct pbx_stream_conf conf = conf_default();
	conf.out_max = 100;
	uint16_t port = listen_on(&st, &conf);
	int fd = client(port);
	SPIN_UNTIL(&st, st.s != NULL);
	uint8_t data[60] = { 0 };
	ck_assert_int_eq(pbx_stream_send(st.s, data, sizeof data), 0);
	/* Not written yet (once per turn of the loop): no room for more. */
	ck_assert_int_eq(pbx_stream_send(st.s, data, sizeof data), PBX_E_NOSPACE);
	uint8_t back[120];
	ck_assert_uint_eq(read_spin(&st, fd, back, 60), 60);
	/* Written: room again. */
	ck_assert_int_eq(pbx_stream_send(st.s, data, sizeof data), 0);
	ck_assert_uint_eq(read_spin(&st, fd, back, 60), 60);
	close(fd);
	finish(&st);
}
END_TEST

START_TEST(test_pbx_stream_eof_after_answers)
{
	struct state st = { .echo = true, .idle = 30 };
	struct pbx_stream_conf conf = conf_default();
	conf.out_reserve = 64;
	uint16_t port = listen_on(&st, &conf);
	uint8_t msgs[64];
	size_t n = binding(msgs, 16);
	int fd = client(port);
	put(fd, msgs, n);
	shutdown(fd, SHUT_WR);
	SPIN_UNTIL(&st, st.n_closed == 1);
	uint8_t back[64];
	ck_assert_uint_eq(read_all(fd, back, n), n);
	ck_assert_mem_eq(back, msgs, n);
	ck_assert(at_eof(fd));
	ck_assert_str_eq(st.outcome, "client-closed");
	close(fd);
	finish(&st);

	/* eof_closes: the end of stream closes without waiting. */
	struct state st2 = { .echo = true, .idle = 30 };
	conf.eof_closes = true;
	port = listen_on(&st2, &conf);
	fd = client(port);
	shutdown(fd, SHUT_WR);
	SPIN_UNTIL(&st2, st2.n_closed == 1);
	ck_assert_str_eq(st2.outcome, "client-closed");
	close(fd);
	finish(&st2);
}
END_TEST

START_TEST(test_pbx_stream_idle)
{
	struct state st = { .idle = 1 };
	struct pbx_stream_conf conf = conf_default();
	uint16_t port = listen_on(&st, &conf);
	int fd = client(port);
	spin(&st, 300);
	ck_assert_int_eq(st.n_closed, 0);
	SPIN_UNTIL(&st, st.n_closed == 1);
	ck_assert_str_eq(st.outcome, "idle");
	close(fd);
	finish(&st);

	/* idle_s 0 when the timer fires: no timeout now. */
	struct state st2 = { .idle = 1 };
	port = listen_on(&st2, &conf);
	fd = client(port);
	SPIN_UNTIL(&st2, st2.s != NULL);
	st2.idle = 0;
	spin(&st2, 1300);
	ck_assert_int_eq(st2.n_closed, 0);
	/* ... until it is armed again. */
	st2.idle = 1;
	pbx_stream_touch(st2.s);
	SPIN_UNTIL(&st2, st2.n_closed == 1);
	ck_assert_str_eq(st2.outcome, "idle");
	close(fd);
	finish(&st2);
}
END_TEST

START_TEST(test_pbx_stream_tls_without_credentials)
{
	struct state st = { .idle = 30 };
	struct pbx_stream_conf conf = conf_default();
	conf.tls = true;
	conf.tls_hint = "x.tls-cert, x.tls-key";
	uint16_t port = listen_on(&st, &conf);
	int fd = client(port);
	SPIN_UNTIL(&st, st.n_closed == 1);
	ck_assert_str_eq(st.outcome, "tls-failed");
	ck_assert(st.tls_failed);
	ck_assert(at_eof(fd));
	close(fd);
	finish(&st);
}
END_TEST

START_TEST(test_pbx_stream_group_close_and_drain)
{
	struct state st = { .idle = 30 };
	struct pbx_stream_conf conf = conf_default();
	uint16_t port = listen_on(&st, &conf);
	int a = client(port);
	SPIN_UNTIL(&st, st.g.n == 1);
	int b = client(port);
	SPIN_UNTIL(&st, st.g.n == 2);
	/* Draining: a stream with an answer queued stays until it is out. */
	uint8_t data[8] = "answer!";
	ck_assert_int_eq(pbx_stream_send(st.s, data, sizeof data), 0);
	pbx_stream_group_drain(&st.g);
	ck_assert_uint_eq(st.g.n, 1);
	ck_assert_str_eq(st.outcome, "draining");
	SPIN_UNTIL(&st, st.g.n == 0);
	/* The last accepted (b) had the answer; a was closed at once. */
	uint8_t back[8];
	ck_assert_uint_eq(read_all(b, back, 8), 8);
	ck_assert_mem_eq(back, data, 8);
	ck_assert(at_eof(b));
	ck_assert(at_eof(a));
	close(a);
	close(b);

	/* Closing by listener. */
	a = client(port);
	SPIN_UNTIL(&st, st.g.n == 1);
	pbx_stream_group_close(&st.g, st.l, "listener-closed");
	ck_assert_uint_eq(st.g.n, 0);
	ck_assert_str_eq(st.outcome, "listener-closed");
	ck_assert(at_eof(a));
	close(a);
	finish(&st);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("stream");
	TCase *tc = tcase_create("stream");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pbx_stream_frames_split_anywhere);
	tcase_add_test(tc, test_pbx_stream_lost_framing_closes);
	tcase_add_test(tc, test_pbx_stream_chandata_not_wanted);
	tcase_add_test(tc, test_pbx_stream_refused);
	tcase_add_test(tc, test_pbx_stream_send_full);
	tcase_add_test(tc, test_pbx_stream_eof_after_answers);
	tcase_add_test(tc, test_pbx_stream_idle);
	tcase_add_test(tc, test_pbx_stream_tls_without_credentials);
	tcase_add_test(tc, test_pbx_stream_group_close_and_drain);
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
