/* internal.h - what the TURN client's files share (not installed). */
#ifndef PBXEDGE_TURN_INTERNAL_H
#define PBXEDGE_TURN_INTERNAL_H

#include <pbxedge/turn.h>

/* turn_on_stun - a decoded STUN message m from the server at now (client.c):
 * responses settle requests, a Data indication fills in (data event).
 * Returns the drop reason (TURN_DROP_NONE if used). */
enum turn_drop turn_on_stun(struct turn_client *c, const struct stun_msg *m, int64_t now,
			    struct turn_input *in);

/* turn_fail_all - every request in flight settles with reason at now, as a
 * closed stream or an ICMP error does (client.c). */
void turn_fail_all(struct turn_client *c, enum turn_reason reason, int64_t now,
		   const struct stun_icmp *icmp);

/* turn_lost - the connection to the server is gone at now, for reason
 * (closed, stream garbage): requests fail, an allocation is lost
 * (client.c). */
void turn_lost(struct turn_client *c, enum turn_reason reason, int64_t now);

/* turn_chan_by_number - the channel entry for number ch that is bound or
 * being bound, or NULL (client.c). */
const struct turn_chan *turn_chan_by_number(const struct turn_client *c, uint16_t ch);

/* turn_chan_by_peer - the channel entry for peer, or NULL (client.c). */
const struct turn_chan *turn_chan_by_peer(const struct turn_client *c,
					  const struct pbx_addr *peer);

#endif
