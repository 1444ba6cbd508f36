/* dgram.c - a worker's UDP sockets: set-up for the event loop, batched
 * receive (recvmmsg), and pktinfo for sockets bound to every address (RFC
 * 3542 section 6 for IPv6; IP_PKTINFO for IPv4): where a datagram arrived,
 * and answering from there. */
#include <errno.h>
#include <event2/event.h>
#include <string.h>
#include <unistd.h>

#include <pbxedge/dgram.h>

#define RCVBUF (1 << 20)

int pbx_dgram_watch(struct event_base *base, int fd, const struct pbx_addr *bound,
		    bool wildcard, void (*cb)(int fd, short what, void *arg), void *arg,
		    struct event **ev)
{
	int rcvbuf = RCVBUF;
	*ev = NULL;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	if (wildcard) {
		int rc = pbx_dgram_pktinfo_on(fd, pbx_addr_family(bound));
		if (rc)
			return rc;
	}
	*ev = event_new(base, fd, EV_READ | EV_PERSIST, cb, arg);
	if (!*ev || event_add(*ev, NULL)) {
		pbx_dgram_unwatch(ev, -1);
		return -ENOMEM;
	}
	return 0;
}

void pbx_dgram_unwatch(struct event **ev, int fd)
{
	if (*ev)
		event_free(*ev);
	*ev = NULL;
	if (fd >= 0)
		close(fd);
}

int pbx_dgram_recv(const struct pbx_dgram_rx *rx, int fd, bool want_ctl, unsigned *got)
{
	*got = 0;
	for (unsigned i = 0; i < rx->n; i++) {
		struct msghdr *h = &rx->msg[i].msg_hdr;
		rx->iov[i].iov_base = rx->buf + (size_t)i * rx->slot;
		rx->iov[i].iov_len = rx->slot;
		h->msg_name = &rx->name[i];
		h->msg_namelen = sizeof rx->name[i];
		h->msg_iov = &rx->iov[i];
		h->msg_iovlen = 1;
		h->msg_control = want_ctl ? rx->ctl[i].buf : NULL;
		h->msg_controllen = want_ctl ? sizeof rx->ctl[i].buf : 0;
		h->msg_flags = 0;
	}
	int n;
	do
		n = recvmmsg(fd, rx->msg, rx->n, MSG_DONTWAIT, NULL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	*got = (unsigned)n;
	return 0;
}

int pbx_dgram_pktinfo_on(int fd, int family)
{
	int one = 1;
	int rc = family == AF_INET
			 ? setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one)
			 : setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
	return rc ? -errno : 0;
}

int pbx_dgram_send(int fd, struct mmsghdr *msg, unsigned n, unsigned *failed)
{
	unsigned sent = 0;
	*failed = 0;
	while (sent < n) {
		int k = sendmmsg(fd, msg + sent, n - sent, MSG_DONTWAIT);
		if (k > 0) {
			sent += (unsigned)k;
		} else if (k < 0 && errno == EINTR) {
			continue;
		} else {
			/* The first one failed: lose it, try the rest. */
			(*failed)++;
			sent++;
		}
	}
	return 0;
}

void pbx_dgram_arrival(struct msghdr *h, const struct pbx_addr *bound,
		       struct pbx_dgram_arrival *ar)
{
	ar->have = false;
	ar->local = *bound;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			memcpy(&ar->v4, CMSG_DATA(c), sizeof ar->v4);
			struct sockaddr_in sin = { .sin_family = AF_INET,
						   .sin_port = htons(pbx_addr_port(bound)),
						   .sin_addr = ar->v4.ipi_addr };
			pbx_addr_from_sockaddr(&ar->local, (struct sockaddr *)&sin, sizeof sin);
			ar->level = IPPROTO_IP;
			ar->have = true;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			memcpy(&ar->v6, CMSG_DATA(c), sizeof ar->v6);
			struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
						     .sin6_port = htons(pbx_addr_port(bound)),
						     .sin6_addr = ar->v6.ipi6_addr };
			pbx_addr_from_sockaddr(&ar->local, (struct sockaddr *)&sin6, sizeof sin6);
			pbx_addr_unmap(&ar->local, &ar->local);
			ar->level = IPPROTO_IPV6;
			ar->have = true;
		}
	}
}

socklen_t pbx_dgram_put_pktinfo(const struct pbx_dgram_arrival *ar, void *ctl, size_t cap)
{
	if (!ar->have || cap < PBX_DGRAM_CTL_LEN)
		return 0;
	struct msghdr h = { .msg_control = ctl, .msg_controllen = cap };
	struct cmsghdr *c = CMSG_FIRSTHDR(&h);
	memset(ctl, 0, cap);
	if (ar->level == IPPROTO_IP) {
		struct in_pktinfo pi = { .ipi_ifindex = 0, .ipi_spec_dst = ar->v4.ipi_addr };
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof pi);
		memcpy(CMSG_DATA(c), &pi, sizeof pi);
		return (socklen_t)CMSG_SPACE(sizeof pi);
	}
	struct in6_pktinfo pi = { .ipi6_addr = ar->v6.ipi6_addr,
				  .ipi6_ifindex = ar->v6.ipi6_ifindex };
	c->cmsg_level = IPPROTO_IPV6;
	c->cmsg_type = IPV6_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof pi);
	memcpy(CMSG_DATA(c), &pi, sizeof pi);
	return (socklen_t)CMSG_SPACE(sizeof pi);
}
