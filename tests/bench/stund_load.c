/* stund_load.c - the load generator of tests/bench/stund_vs_coturn.sh, and
 * the UDP echo that stands for the ceiling of what the kernel allows.
 *
 *   stund_load load HOST PORT SECONDS [SOCKETS [WINDOW [--echo]]]
 *       Binding requests (RFC 8489, 20 bytes) from SOCKETS sockets, each
 *       keeping WINDOW requests in flight, sent and received in batches
 *       with sendmmsg/recvmmsg; counts the valid answers (a success
 *       response with the transaction ID of one of our requests; with
 *       --echo the request itself echoed) and prints "answers/s N".
 *   stund_load echo HOST PORT
 *       echo every datagram back with recvmmsg/sendmmsg until killed.
 *
 * Built with the tests (tests/bench/meson.build); never run as a test. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "load_util.h"

#define BATCH LOAD_BATCH
#define MAX_SOCKS 64
#define MAGIC 0x5042584cu /* "PBXL" */

/* A tuned UDP socket bound to bind_to (with SO_REUSEADDR), or -1. */
static int udp_socket(const struct sockaddr_in *bind_to)
{
	int fd = load_udp_socket(AF_INET), one = 1;
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind_to && bind(fd, (const struct sockaddr *)bind_to, sizeof *bind_to)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int echo(const char *host, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, host, &a.sin_addr);
	int fd = udp_socket(&a);
	if (fd < 0) {
		perror("echo: bind");
		return 1;
	}
	load_echo(fd);
	return 0;
}

struct sock {
	int fd;
	uint32_t seq;           /* next sequence number */
	int inflight;
	double last_answer;
};

static int load(const char *host, int port, double seconds, int nsocks, int window, bool is_echo)
{
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct sockaddr_in src = { .sin_family = AF_INET };
	static struct sock socks[MAX_SOCKS];
	static struct pollfd pf[MAX_SOCKS];
	static uint8_t out[BATCH][20], in[BATCH][2048];
	static struct mmsghdr om[BATCH], im[BATCH];
	static struct iovec oiov[BATCH], iiov[BATCH];
	uint64_t answers = 0, invalid = 0, counted = 0;

	inet_pton(AF_INET, host, &dst.sin_addr);
	inet_pton(AF_INET, host, &src.sin_addr);
	if (nsocks > MAX_SOCKS)
		nsocks = MAX_SOCKS;
	if (window > BATCH)
		window = BATCH;
	for (int s = 0; s < nsocks; s++) {
		if ((socks[s].fd = udp_socket(&src)) < 0 ||
		    connect(socks[s].fd, (struct sockaddr *)&dst, sizeof dst)) {
			perror("load: socket");
			return 1;
		}
		pf[s] = (struct pollfd){ socks[s].fd, POLLIN, 0 };
	}
	double start = load_now(), warm = start + 1.0, end = warm + seconds, t = start;
	for (int s = 0; s < nsocks; s++)
		socks[s].last_answer = start - 1;
	while (t < end) {
		/* Keep every socket's window full; a window that saw no answer
		 * for 50 ms lost its datagrams: start it again. */
		for (int s = 0; s < nsocks; s++) {
			struct sock *k = &socks[s];
			if (k->inflight && t - k->last_answer > 0.05)
				k->inflight = 0;
			int n = window - k->inflight;
			if (n <= 0)
				continue;
			for (int i = 0; i < n; i++) {
				uint8_t *p = out[i];
				p[0] = 0x00, p[1] = 0x01, p[2] = 0, p[3] = 0;
				load_put32(p + 4, 0x2112A442u);
				load_put32(p + 8, MAGIC);
				load_put32(p + 12, (uint32_t)s);
				load_put32(p + 16, k->seq++);
				oiov[i] = (struct iovec){ p, 20 };
				om[i].msg_hdr = (struct msghdr){ .msg_iov = &oiov[i], .msg_iovlen = 1 };
			}
			int sent = sendmmsg(k->fd, om, (unsigned)n, MSG_DONTWAIT);
			if (sent > 0)
				k->inflight += sent;
			k->last_answer = k->inflight == sent ? t : k->last_answer;
		}
		if (poll(pf, (nfds_t)nsocks, 10) <= 0) {
			t = load_now();
			continue;
		}
		t = load_now();
		for (int s = 0; s < nsocks; s++) {
			if (!(pf[s].revents & POLLIN))
				continue;
			struct sock *k = &socks[s];
			for (int i = 0; i < BATCH; i++) {
				iiov[i] = (struct iovec){ in[i], sizeof in[i] };
				im[i].msg_hdr = (struct msghdr){ .msg_iov = &iiov[i], .msg_iovlen = 1 };
			}
			int n = recvmmsg(k->fd, im, BATCH, MSG_DONTWAIT, NULL);
			for (int i = 0; i < n; i++) {
				const uint8_t *p = in[i];
				uint16_t type = (uint16_t)(p[0] << 8 | p[1]);
				bool ok = im[i].msg_len >= 20 && load_get32(p + 4) == 0x2112A442u &&
					  load_get32(p + 8) == MAGIC && load_get32(p + 12) == (uint32_t)s &&
					  load_get32(p + 16) < k->seq &&
					  type == (is_echo ? 0x0001 : 0x0101);
				if (!ok) {
					invalid++;
					continue;
				}
				answers++;
				if (t >= warm)
					counted++;
				if (k->inflight)
					k->inflight--;
				k->last_answer = t;
			}
		}
	}
	printf("answers/s %.0f\n", (double)counted / seconds);
	fprintf(stderr, "stund_load: %llu answers, %llu invalid, %d sockets, window %d\n",
		(unsigned long long)answers, (unsigned long long)invalid, nsocks, window);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "echo") == 0)
		return echo(argv[2], atoi(argv[3]));
	if (argc >= 5 && strcmp(argv[1], "load") == 0)
		return load(argv[2], atoi(argv[3]), atof(argv[4]), argc > 5 ? atoi(argv[5]) : 8,
			    argc > 6 ? atoi(argv[6]) : 32,
			    argc > 7 && strcmp(argv[7], "--echo") == 0);
	fprintf(stderr, "usage: stund_load load HOST PORT SECONDS [SOCKETS [WINDOW [--echo]]]\n"
			"       stund_load echo HOST PORT\n");
	return 2;
}
