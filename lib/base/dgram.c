/* dgram.c - pktinfo for UDP sockets bound to every address (RFC 3542
 * section 6 for IPv6; IP_PKTINFO for IPv4): where a datagram arrived, and
 * answering from there. */
#include <errno.h>
#include <string.h>

#include <pbxedge/dgram.h>

int pbx_dgram_pktinfo_on(int fd, int family)
{
	int one = 1;
	int rc = family == AF_INET
			 ? setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one)
			 : setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
	return rc ? -errno : 0;
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
