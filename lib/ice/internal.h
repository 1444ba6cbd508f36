/* internal.h - the ICE agent's private state, shared by agent.c and check.c,
 * and what the two halves of the diagnosis (diag.c, diag_pairs.c) share. */
#ifndef PBXEDGE_ICE_INTERNAL_H
#define PBXEDGE_ICE_INTERNAL_H

#include <pbxedge/ice.h>
#include <pbxedge/stun.h>

#define ICE_RESP_MAX 16   /* answers queued for ice_agent_poll */

struct ice_lcand {
	struct ice_cand c;
	int socket_id;
	struct pbx_addr base;
};

/* One STUN transaction of ours. */
struct ice_txn {
	bool active;
	bool use_cand;
	enum ice_role role;     /* the role attribute it carried */
	uint8_t tid[STUN_TID_LEN];
	uint32_t sends;
	uint32_t rto;
	uint64_t start_ms, sent_ms, next_ms, end_ms;
};

struct ice_pair_int {
	struct ice_pair pub;
	uint8_t li, ri;              /* local[] and remote[] indexes */
	struct ice_txn tx;
	bool old_active;             /* a cancelled check still answerable (7.3.1.4) */
	struct ice_txn old;
	bool queued;                 /* in the triggered-check queue */
	bool queued_use_cand;
	bool nominate_on_success;    /* controlled: USE-CANDIDATE came first */
};

/* An answer waiting for ice_agent_poll. */
struct ice_resp {
	int socket_id;
	struct pbx_addr to;
	uint8_t tid[STUN_TID_LEN];
	uint16_t code;               /* 0: success */
	bool sign;
	uint8_t n_unknown;
	uint16_t unknown[4];
};

/* A check that came before the remote credentials. */
struct ice_early {
	int socket_id;
	struct pbx_addr from;
	uint32_t priority;
	bool use_cand;
};

struct ice_agent {
	struct ice_agent_config cfg;
	enum ice_role role;
	enum ice_agent_state state;
	enum ice_fail_reason reason;
	uint64_t rng;
	struct stun_key local_key, remote_key;
	bool have_remote, remote_lite, remote_eoc, local_done, started;
	char remote_ufrag[ICE_UFRAG_MAX + 1];
	uint64_t remote_set_ms, last_remote_ms, next_check_ms;

	size_t n_local;
	struct ice_lcand local[ICE_AGENT_LOCAL_MAX];
	size_t n_remote;
	struct ice_cand remote[ICE_AGENT_REMOTE_MAX];
	uint32_t prflx_seq;

	size_t n_pairs;
	struct ice_pair_int pairs[ICE_AGENT_PAIRS_MAX];
	uint8_t order[ICE_AGENT_PAIRS_MAX];   /* slots by priority, highest first */
	uint32_t next_pair_id;
	uint32_t trig[ICE_AGENT_PAIRS_MAX];   /* pair ids, FIFO */
	size_t trig_head, trig_n;

	int selected;                /* slot or -1 */
	int nominating;              /* slot or -1: controlling's USE-CANDIDATE check */
	bool have_valid;
	uint64_t first_valid_ms;

	bool consent_active;
	struct ice_txn consent;
	uint64_t consent_next_ms, consent_ok_ms;

	struct ice_resp resp[ICE_RESP_MAX];
	size_t resp_head, resp_n;
	struct ice_early early[ICE_AGENT_EARLY_MAX];
	size_t n_early;
	size_t n_peers;
	struct ice_peer peers[ICE_AGENT_PEERS_MAX];
	struct ice_event ev[ICE_AGENT_EVENTS_MAX];
	size_t ev_head, ev_n;
	struct ice_agent_stats stats;
};

/* agent.c */
void ice_ev_push(struct ice_agent *a, uint64_t now, enum ice_event_type t, uint32_t pair_id,
		 int state, int code, const struct pbx_addr *addr);
struct ice_peer *ice_peer_get(struct ice_agent *a, int socket_id, const struct pbx_addr *addr);
int ice_pair_find(const struct ice_agent *a, int socket_id, const struct pbx_addr *remote);
void ice_pair_set_state(struct ice_agent *a, uint64_t now, struct ice_pair_int *p,
			enum ice_pair_state st);
void ice_trig_push(struct ice_agent *a, struct ice_pair_int *p, bool use_cand);
void ice_set_role(struct ice_agent *a, uint64_t now, enum ice_role role);
void ice_pair_succeeded(struct ice_agent *a, uint64_t now, struct ice_pair_int *p,
			const struct pbx_addr *mapped, bool use_cand);
void ice_nominate(struct ice_agent *a, uint64_t now, struct ice_pair_int *p);
void ice_pair_failed(struct ice_agent *a, uint64_t now, struct ice_pair_int *p);
void ice_from_request(struct ice_agent *a, uint64_t now, int socket_id,
		      const struct pbx_addr *from, uint32_t priority, bool use_cand);
uint32_t ice_prflx_priority(const struct ice_agent *a, const struct ice_pair_int *p);
void ice_rec_sent(struct ice_record *r, uint64_t now);
void ice_rec_in(struct ice_record *r, uint64_t now);

/* check.c */
void ice_check_recv_stun(struct ice_agent *a, uint64_t now, int socket_id,
			 const struct pbx_addr *from, const struct stun_msg *m);
size_t ice_check_encode(struct ice_agent *a, const struct ice_pair_int *p,
			const struct ice_txn *t, void *buf, size_t cap);
size_t ice_resp_encode(struct ice_agent *a, const struct ice_resp *r, void *buf, size_t cap);
void ice_resp_queue(struct ice_agent *a, int socket_id, const struct pbx_addr *to,
		    const struct stun_msg *req, uint16_t code, bool sign);

/* ice_say - printf into a reason or hint buffer of ICE_DIAG_TEXT_MAX bytes
 * (diag.c). */
void ice_say(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
