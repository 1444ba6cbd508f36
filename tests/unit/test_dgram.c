/* test_dgram.c - a worker's UDP sockets over loopback: what a socket bound
 * to every address is bound to (pbx_listen_bound), batched receive
 * (pbx_dgram_recv) with the arrival address (pbx_dgram_arrival), the
 * answer's pktinfo (pbx_dgram_put_pktinfo), batched sending that loses
 * only what the kernel refuses (pbx_dgram_send) and the event-loop set-up
 * (pbx_dgram_watch). */
#include <check.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pbxedge/daemon.h>
#include <pbxedge/dgram.h>

#define N 4
#define SLOT 64

struct rx_bufs {
	struct mmsghdr msg[N];
	struct iovec iov[N];
	struct sockaddr_in6 name[N];
	union pbx_dgram_ctl ctl[N];
	uint8_t buf[N][SLOT];
};

static struct pbx_dgram_rx rx_of(struct rx_bufs *b)
{
	struct pbx_dgram_rx rx = { b->msg, b->iov, b->name, b->ctl, &b->buf[0][0], SLOT, N };
	return rx;
}

/* A UDP socket on 0.0.0.0 (an ephemeral port) as the skeleton hands it. */
static int wildcard_socket(struct pbx_addr *bound, bool *wildcard)
{
	struct pbx_listen_spec spec = { .key = "udp", .kind = PBX_SOCK_UDP };
	ck_assert_int_eq(pbx_addr_parse(pbx_span_cstr("0.0.0.0"), 1, 0, &spec.addr, NULL), 0);
	pbx_addr_set_port(&spec.addr, 0);
	int fd = pbx_listen_socket(PBX_SOCK_UDP, &spec.addr);
	ck_assert_int_ge(fd, 0);
	pbx_listen_bound(fd, &spec, bound, wildcard);
	return fd;
}

static void send_to(uint16_t port, const char *text)
{
	int c = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_ge(c, 0);
	ck_assert_int_eq(sendto(c, text, strlen(text), 0, (struct sockaddr *)&to, sizeof to),
			 (ssize_t)strlen(text));
	close(c);
}

START_TEST(test_pbx_listen_bound_wildcard)
{
	struct pbx_addr bound;
	bool wildcard = false;
	int fd = wildcard_socket(&bound, &wildcard);
	ck_assert(wildcard);
	/* The kernel's port, not the spec's 0. */
	ck_assert_uint_ne(pbx_addr_port(&bound), 0);
	close(fd);

	struct pbx_listen_spec spec = { .key = "udp", .kind = PBX_SOCK_UDP };
	ck_assert_int_eq(pbx_addr_parse(pbx_span_cstr("127.0.0.1"), 1, 0, &spec.addr, NULL), 0);
	pbx_addr_set_port(&spec.addr, 0);
	fd = pbx_listen_socket(PBX_SOCK_UDP, &spec.addr);
	ck_assert_int_ge(fd, 0);
	pbx_listen_bound(fd, &spec, &bound, &wildcard);
	ck_assert(!wildcard);
	ck_assert_uint_ne(pbx_addr_port(&bound), 0);
	close(fd);
}
END_TEST

START_TEST(test_pbx_dgram_recv_batch_and_arrival)
{
	struct pbx_addr bound;
	bool wildcard;
	int fd = wildcard_socket(&bound, &wildcard);
	ck_assert_int_eq(pbx_dgram_pktinfo_on(fd, pbx_addr_family(&bound)), 0);
	struct rx_bufs *b = calloc(1, sizeof *b);
	struct pbx_dgram_rx rx = rx_of(b);
	unsigned got = 99;

	/* Nothing waiting: 0, not an error. */
	ck_assert_int_eq(pbx_dgram_recv(&rx, fd, true, &got), 0);
	ck_assert_uint_eq(got, 0);

	/* More than a batch waiting: one batch, then the rest. */
	const char *texts[] = { "one", "two", "three", "four", "five" };
	for (int i = 0; i < 5; i++)
		send_to(pbx_addr_port(&bound), texts[i]);
	ck_assert_int_eq(pbx_dgram_recv(&rx, fd, true, &got), 0);
	ck_assert_uint_eq(got, N);
	for (unsigned i = 0; i < got; i++) {
		ck_assert_uint_eq(b->msg[i].msg_len, strlen(texts[i]));
		ck_assert_mem_eq(b->buf[i], texts[i], strlen(texts[i]));
		/* Where it arrived: 127.0.0.1 at the socket's port. */
		struct pbx_dgram_arrival ar;
		char text[PBX_ADDRSTRLEN];
		pbx_dgram_arrival(&b->msg[i].msg_hdr, &bound, &ar);
		ck_assert(ar.have);
		pbx_addr_format(&ar.local, text, sizeof text);
		char want[PBX_ADDRSTRLEN];
		snprintf(want, sizeof want, "127.0.0.1:%u", pbx_addr_port(&bound));
		ck_assert_str_eq(text, want);
		union pbx_dgram_ctl ctl;
		ck_assert_uint_gt(pbx_dgram_put_pktinfo(&ar, ctl.buf, sizeof ctl.buf), 0);
	}
	ck_assert_int_eq(pbx_dgram_recv(&rx, fd, false, &got), 0);
	ck_assert_uint_eq(got, 1);
	ck_assert_mem_eq(b->buf[0], "five", 4);
	/* Without control room there is no pktinfo. */
	ck_assert_uint_eq(b->msg[0].msg_hdr.msg_controllen, 0);

	/* A datagram longer than a slot is cut and says so. */
	char big[SLOT + 10];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	send_to(pbx_addr_port(&bound), big);
	ck_assert_int_eq(pbx_dgram_recv(&rx, fd, true, &got), 0);
	ck_assert_uint_eq(got, 1);
	ck_assert(b->msg[0].msg_hdr.msg_flags & MSG_TRUNC);

	/* A closed descriptor is an error, not a count. */
	close(fd);
	ck_assert_int_eq(pbx_dgram_recv(&rx, fd, true, &got), -EBADF);
	ck_assert_uint_eq(got, 0);
	free(b);
}
END_TEST

START_TEST(test_pbx_dgram_send_skips_refused)
{
	struct pbx_addr bound;
	bool wildcard;
	int fd = wildcard_socket(&bound, &wildcard);
	int out = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(out, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(pbx_addr_port(&bound)),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	const char *texts[] = { "a", "bad", "c" };
	struct mmsghdr msg[3];
	struct iovec iov[3];
	memset(msg, 0, sizeof msg);
	for (int i = 0; i < 3; i++) {
		iov[i].iov_base = (void *)texts[i];
		iov[i].iov_len = strlen(texts[i]);
		msg[i].msg_hdr.msg_name = &to;
		msg[i].msg_hdr.msg_namelen = sizeof to;
		msg[i].msg_hdr.msg_iov = &iov[i];
		msg[i].msg_hdr.msg_iovlen = 1;
	}
	msg[1].msg_hdr.msg_namelen = 1; /* the kernel refuses this one */
	unsigned failed = 99;
	ck_assert_int_eq(pbx_dgram_send(out, msg, 3, &failed), 0);
	ck_assert_uint_eq(failed, 1);
	struct rx_bufs *b = calloc(1, sizeof *b);
	struct pbx_dgram_rx rx = rx_of(b);
	unsigned got = 0;
	ck_assert_int_eq(pbx_dgram_recv(&rx, fd, false, &got), 0);
	ck_assert_uint_eq(got, 2);
	ck_assert_mem_eq(b->buf[0], "a", 1);
	ck_assert_mem_eq(b->buf[1], "c", 1);
	free(b);
	close(out);
	close(fd);
}
END_TEST

static int reads;

static void on_read(int fd, short what, void *arg)
{
	char buf[16];
	(void)what;
	while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
		reads++;
	event_base_loopbreak(arg);
}

START_TEST(test_pbx_dgram_watch)
{
	struct pbx_addr bound;
	bool wildcard;
	int fd = wildcard_socket(&bound, &wildcard);
	struct event_base *base = event_base_new();
	struct event *ev = NULL;
	ck_assert_int_eq(pbx_dgram_watch(base, fd, &bound, wildcard, on_read, base, &ev), 0);
	ck_assert_ptr_nonnull(ev);
	int rcvbuf = 0;
	socklen_t len = sizeof rcvbuf;
	ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len), 0);
	ck_assert_int_gt(rcvbuf, 64 * 1024);
	int on = 0;
	len = sizeof on;
	ck_assert_int_eq(getsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, &len), 0);
	ck_assert_int_ne(on, 0); /* bound to every address: pktinfo on */
	send_to(pbx_addr_port(&bound), "ping");
	reads = 0;
	struct timeval tv = { 5, 0 };
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	ck_assert_int_eq(reads, 1);
	pbx_dgram_unwatch(&ev, fd);
	ck_assert_ptr_null(ev);
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1); /* closed */
	event_base_free(base);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dgram");
	TCase *tc = tcase_create("dgram");
	tcase_add_test(tc, test_pbx_listen_bound_wildcard);
	tcase_add_test(tc, test_pbx_dgram_recv_batch_and_arrival);
	tcase_add_test(tc, test_pbx_dgram_send_skips_refused);
	tcase_add_test(tc, test_pbx_dgram_watch);
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
