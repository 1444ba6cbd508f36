/* dgram.h - UDP sockets of a worker, shared by stund and turnd: set up for
 * the event loop (receive buffer, read event), datagrams received in
 * batches (recvmmsg), and, for sockets bound to every address (0.0.0.0,
 * "::"), where a datagram arrived (IP_PKTINFO, IPV6_PKTINFO) and answering
 * from that address, so that routing does not pick another source for the
 * answer.  Needs _GNU_SOURCE (struct in6_pktinfo, recvmmsg). */
#ifndef PBXEDGE_DGRAM_H
#define PBXEDGE_DGRAM_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <pbxedge/addr.h>
#include <pbxedge/api.h>

struct event;
struct event_base;

/* Room for the control data of one IP(V6)_PKTINFO. */
#define PBX_DGRAM_CTL_LEN 64

/* Control data of one message, aligned for struct cmsghdr. */
union pbx_dgram_ctl {
	char buf[PBX_DGRAM_CTL_LEN];
	struct cmsghdr align;
};

/* The receive side of a batch: caller-owned arrays of n entries each, and
 * n buffers of slot bytes one after the other at buf. */
struct pbx_dgram_rx {
	struct mmsghdr *msg;
	struct iovec *iov;
	struct sockaddr_in6 *name;
	union pbx_dgram_ctl *ctl;
	uint8_t *buf;
	size_t slot;
	unsigned n;
};

/* pbx_dgram_watch - make a bound UDP socket ready for a worker's event
 * loop: a large receive buffer (bursts wait in the kernel, not dropped),
 * pktinfo when bound to every address (wildcard), and a persistent read
 * event in base that calls cb(fd, what, arg).  Returns 0 with *ev, or
 * -errno (*ev NULL).  The descriptor stays the caller's. */
PBX_API int pbx_dgram_watch(struct event_base *base, int fd, const struct pbx_addr *bound,
			    bool wildcard, void (*cb)(int fd, short what, void *arg), void *arg,
			    struct event **ev);

/* pbx_dgram_unwatch - free *ev (may be NULL) and close fd. */
PBX_API void pbx_dgram_unwatch(struct event **ev, int fd);

/* pbx_dgram_recv - point the headers of rx at its buffers (with room for
 * pktinfo when want_ctl) and receive up to rx->n datagrams on fd with one
 * recvmmsg, without waiting.  Returns 0 with *got (0: none waiting), or
 * -errno. */
PBX_API int pbx_dgram_recv(const struct pbx_dgram_rx *rx, int fd, bool want_ctl,
			   unsigned *got);

/* Where one datagram arrived.  Caller-owned. */
struct pbx_dgram_arrival {
	bool have;              /* the datagram carried pktinfo */
	int level;              /* IPPROTO_IP or IPPROTO_IPV6 */
	struct in_pktinfo v4;
	struct in6_pktinfo v6;
	struct pbx_addr local;  /* the address reached, unmapped; the port is
				 * the socket's */
};

/* pbx_dgram_pktinfo_on - ask the kernel for pktinfo on fd, a UDP socket
 * of family (AF_INET or AF_INET6).  Returns 0 or -errno. */
PBX_API int pbx_dgram_pktinfo_on(int fd, int family);

/* pbx_dgram_send - send the n messages at msg on fd with as few sendmmsg
 * calls as it takes, without waiting.  A message the kernel refuses (full
 * buffer, unreachable destination) is lost and counted in *failed; the
 * rest are still sent, as UDP would lose them anyway.  Returns 0. */
PBX_API int pbx_dgram_send(int fd, struct mmsghdr *msg, unsigned n, unsigned *failed);

/* pbx_dgram_arrival - read the pktinfo of a received message h (of a
 * socket bound to bound) into *ar; without pktinfo, ar->have is false and
 * ar->local is bound. */
PBX_API void pbx_dgram_arrival(struct msghdr *h, const struct pbx_addr *bound,
			       struct pbx_dgram_arrival *ar);

/* pbx_dgram_put_pktinfo - write the control data that sends a message
 * from the address ar arrived at into ctl (cap bytes, at least
 * PBX_DGRAM_CTL_LEN, aligned for struct cmsghdr).  Returns the length for
 * msg_controllen, or 0 if ar has no pktinfo or ctl is too small. */
PBX_API socklen_t pbx_dgram_put_pktinfo(const struct pbx_dgram_arrival *ar, void *ctl,
					size_t cap);

#endif
