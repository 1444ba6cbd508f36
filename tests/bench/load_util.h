/* load_util.h - what the load generators of tests/bench share: a clock,
 * big-endian words, UDP sockets with large buffers, and the batched UDP
 * echo that stands for the ceiling of what the kernel allows. */
#ifndef PBX_BENCH_LOAD_UTIL_H
#define PBX_BENCH_LOAD_UTIL_H

#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#define LOAD_BATCH 64
#define LOAD_PKT_MAX 2048

static inline double load_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void load_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t load_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A non-blocking UDP socket of family with 4 MB buffers each way, or -1. */
static inline int load_udp_socket(int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	int big = 4 << 20;
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	return fd;
}

/* Echo every datagram on the bound socket fd back to its sender, in
 * batches (recvmmsg/sendmmsg), until killed. */
static inline void load_echo(int fd)
{
	static uint8_t buf[LOAD_BATCH][LOAD_PKT_MAX];
	static struct mmsghdr m[LOAD_BATCH];
	static struct iovec iov[LOAD_BATCH];
	static struct sockaddr_in6 names[LOAD_BATCH];
	for (;;) {
		for (int i = 0; i < LOAD_BATCH; i++) {
			iov[i] = (struct iovec){ buf[i], sizeof buf[i] };
			m[i].msg_hdr = (struct msghdr){ .msg_name = &names[i],
							.msg_namelen = sizeof names[i],
							.msg_iov = &iov[i], .msg_iovlen = 1 };
		}
		int n = recvmmsg(fd, m, LOAD_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0) {
			struct pollfd pf = { fd, POLLIN, 0 };
			poll(&pf, 1, -1);
			continue;
		}
		for (int i = 0; i < n; i++)
			iov[i].iov_len = m[i].msg_len;
		for (int sent = 0; sent < n;) {
			int k = sendmmsg(fd, m + sent, (unsigned)(n - sent), 0);
			sent += k > 0 ? k : 1;
		}
	}
}

#endif
