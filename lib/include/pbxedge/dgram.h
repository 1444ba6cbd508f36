/* dgram.h - UDP sockets bound to every address (0.0.0.0, "::"): where a
 * datagram arrived (IP_PKTINFO, IPV6_PKTINFO) and answering from that
 * address, so that routing does not pick another source for the answer.
 * Shared by stund and turnd.  Needs _GNU_SOURCE (struct in6_pktinfo). */
#ifndef PBXEDGE_DGRAM_H
#define PBXEDGE_DGRAM_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <pbxedge/addr.h>
#include <pbxedge/api.h>

/* Room for the control data of one IP(V6)_PKTINFO. */
#define PBX_DGRAM_CTL_LEN 64

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
