/* check.c - the ICE agent's STUN: connectivity checks out and their
 * answers in, the peer's checks in and our answers out (RFC 8445 7.2.2,
 * 7.2.5, 7.3, 7.3.1.1; RFC 8489 6.3, 9.1.3; RFC 7675 consent responses).
 * Every outcome lands in the pair's and the address's struct ice_record. */
#include <string.h>

#include "internal.h"

/* Comprehension-required attributes a Binding request may carry that the
 * agent understands (RFC 8445 16.1 and RFC 8489); others get a 420. */
static const uint16_t understood[] = {
	STUN_A_USERNAME, STUN_A_MESSAGE_INTEGRITY, STUN_A_MESSAGE_INTEGRITY_SHA256,
	STUN_A_PRIORITY, STUN_A_USE_CANDIDATE,      STUN_A_XOR_MAPPED_ADDRESS,
	STUN_A_ERROR_CODE, STUN_A_PADDING,
};

size_t ice_check_encode(struct ice_agent *a, const struct ice_pair_int *p,
			const struct ice_txn *t, void *buf, size_t cap)
{
	struct stun_enc e;
	char user[ICE_UFRAG_MAX * 2 + 2];
	size_t rl = strlen(a->remote_ufrag), ll = strlen(a->cfg.ufrag), len;

	/* USERNAME is "remote-ufrag:local-ufrag" (RFC 8445 7.2.2). */
	memcpy(user, a->remote_ufrag, rl);
	user[rl] = ':';
	memcpy(user + rl + 1, a->cfg.ufrag, ll);
	stun_msg_init(&e, buf, cap, stun_hdr_type(STUN_BINDING, STUN_REQUEST), t->tid,
		      STUN_KIND_RFC5389);
	stun_attr_put_text(&e, STUN_A_USERNAME, user, rl + 1 + ll);
	stun_attr_put_u32(&e, STUN_A_PRIORITY, ice_prflx_priority(a, p));
	stun_attr_put_u64(&e, t->role == ICE_CONTROLLING ? STUN_A_ICE_CONTROLLING
							  : STUN_A_ICE_CONTROLLED,
			  a->cfg.tie_breaker);
	if (t->use_cand)
		stun_attr_put_empty(&e, STUN_A_USE_CANDIDATE);
	stun_integrity_put(&e, &a->remote_key);
	stun_integrity_put_fingerprint(&e);
	if (stun_msg_finish(&e, &len))
		return 0;
	return len;
}

size_t ice_resp_encode(struct ice_agent *a, const struct ice_resp *r, void *buf, size_t cap)
{
	struct stun_enc e;
	size_t len;
	enum stun_class cls = r->code ? STUN_ERROR : STUN_SUCCESS;

	stun_msg_init(&e, buf, cap, stun_hdr_type(STUN_BINDING, cls), r->tid, STUN_KIND_RFC5389);
	if (r->code) {
		stun_attr_put_error(&e, r->code, NULL);
		if (r->n_unknown)
			stun_attr_put_unknown(&e, r->unknown, r->n_unknown);
	} else {
		stun_attr_put_addr(&e, STUN_A_XOR_MAPPED_ADDRESS, &r->to);
	}
	if (r->sign)
		stun_integrity_put(&e, &a->local_key);
	stun_integrity_put_fingerprint(&e);
	if (stun_msg_finish(&e, &len))
		return 0;
	return len;
}

void ice_resp_queue(struct ice_agent *a, int socket_id, const struct pbx_addr *to,
		    const struct stun_msg *req, uint16_t code, bool sign)
{
	if (a->resp_n == ICE_RESP_MAX) {
		a->stats.responses_dropped++;
		return;
	}
	struct ice_resp *r = &a->resp[(a->resp_head + a->resp_n++) % ICE_RESP_MAX];
	memset(r, 0, sizeof *r);
	r->socket_id = socket_id;
	r->to = *to;
	memcpy(r->tid, req->tid, STUN_TID_LEN);
	r->code = code;
	r->sign = sign;
	if (code == STUN_ERR_UNKNOWN_ATTRIBUTE) {
		size_t n = 0;
		stun_msg_unknown(req, understood, sizeof understood / sizeof understood[0],
				 r->unknown, 4, &n);
		r->n_unknown = (uint8_t)(n > 4 ? 4 : n);
	}
}

static bool has_attr(const struct stun_msg *m, uint16_t type, size_t *i)
{
	return stun_msg_find(m, type, 0, i) == 0;
}

/* Two records to update for one event: the pair's and the address's. */
struct recs {
	struct ice_record *r[2];
};

static struct recs recs_of(struct ice_agent *a, int socket_id, const struct pbx_addr *addr,
			   struct ice_pair_int *p)
{
	struct recs rs = {{p ? &p->pub.rec : NULL, NULL}};
	struct ice_peer *pe = ice_peer_get(a, socket_id, addr);
	rs.r[1] = pe ? &pe->rec : NULL;
	return rs;
}

#define EACH_REC(rs, r) \
	for (size_t k_ = 0; k_ < 2; k_++) \
		for (struct ice_record *r = (rs).r[k_]; r; r = NULL)

/* Role conflict on a request (RFC 8445 7.3.1.1).  Returns true if the
 * request was answered with 487 and is done. */
static bool role_conflict(struct ice_agent *a, uint64_t now, const struct stun_msg *m,
			  int socket_id, const struct pbx_addr *from, struct recs rs,
			  bool *switched)
{
	size_t i;
	uint64_t theirs = 0;
	bool conflict = false;
	if (a->role == ICE_CONTROLLING && has_attr(m, STUN_A_ICE_CONTROLLING, &i))
		conflict = stun_attr_u64(m, i, &theirs) == 0;
	else if (a->role == ICE_CONTROLLED && has_attr(m, STUN_A_ICE_CONTROLLED, &i))
		conflict = stun_attr_u64(m, i, &theirs) == 0;
	if (!conflict)
		return false;
	a->stats.role_conflicts++;
	EACH_REC(rs, r) r->req_in_conflict++;
	/* The larger tie-breaker keeps controlling. */
	bool we_win = a->cfg.tie_breaker >= theirs;
	if ((a->role == ICE_CONTROLLING) == we_win) {
		ice_resp_queue(a, socket_id, from, m, STUN_ERR_ROLE_CONFLICT, true);
		ice_ev_push(a, now, ICE_EV_ROLE_CONFLICT, 0, (int)a->role, STUN_ERR_ROLE_CONFLICT,
			    from);
		return true;
	}
	ice_ev_push(a, now, ICE_EV_ROLE_CONFLICT, 0, (int)a->role, 0, from);
	*switched = true;
	ice_set_role(a, now, a->role == ICE_CONTROLLING ? ICE_CONTROLLED : ICE_CONTROLLING);
	return false;
}

static void remember_early(struct ice_agent *a, int socket_id, const struct pbx_addr *from,
			   uint32_t priority, bool use_cand)
{
	for (size_t i = 0; i < a->n_early; i++)
		if (a->early[i].socket_id == socket_id && pbx_addr_equal(&a->early[i].from, from)) {
			a->early[i].use_cand = a->early[i].use_cand || use_cand;
			return;
		}
	if (a->n_early == ICE_AGENT_EARLY_MAX) {
		a->stats.early_dropped++;
		return;
	}
	struct ice_early *e = &a->early[a->n_early++];
	e->socket_id = socket_id;
	e->from = *from;
	e->priority = priority;
	e->use_cand = use_cand;
}

/* A Binding request from the peer (RFC 8445 7.3, RFC 8489 9.1.3). */
static void on_request(struct ice_agent *a, uint64_t now, int socket_id,
		       const struct pbx_addr *from, const struct stun_msg *m)
{
	int slot = ice_pair_find(a, socket_id, from);
	struct ice_pair_int *p = slot >= 0 ? &a->pairs[slot] : NULL;
	struct recs rs = recs_of(a, socket_id, from, p);
	size_t iu, ip;
	struct pbx_span user, left, right;
	uint32_t priority = 0;

	EACH_REC(rs, r) ice_rec_in(r, now);
	if (m->n_unknown) {
		ice_resp_queue(a, socket_id, from, m, STUN_ERR_UNKNOWN_ATTRIBUTE, false);
		return;
	}
	if (!has_attr(m, STUN_A_USERNAME, &iu) || (m->integrity < 0 && m->integrity256 < 0) ||
	    stun_attr_text(m, iu, &user) != 0) {
		EACH_REC(rs, r) r->req_in_no_auth++;
		ice_resp_queue(a, socket_id, from, m, STUN_ERR_BAD_REQUEST, false);
		return;
	}
	/* USERNAME is "our-ufrag:their-ufrag"; only the left part decides
	 * (RFC 8445 7.3). */
	if (!pbx_span_cut(user, ':', &left, &right) ||
	    !pbx_span_eq(left, pbx_span_cstr(a->cfg.ufrag))) {
		EACH_REC(rs, r) r->req_in_bad_username++;
		ice_resp_queue(a, socket_id, from, m, STUN_ERR_UNAUTHENTICATED, false);
		ice_ev_push(a, now, ICE_EV_AUTH_FAILED, p ? p->pub.id : 0, 0, 0, from);
		return;
	}
	enum stun_integrity res = STUN_INTEGRITY_BAD;
	if (stun_integrity_check(m, &a->local_key, STUN_SHA256_FULL, &res) != 0 ||
	    (res != STUN_INTEGRITY_OK_SHA1 && res != STUN_INTEGRITY_OK_SHA256)) {
		EACH_REC(rs, r) r->req_in_bad_integrity++;
		ice_resp_queue(a, socket_id, from, m, STUN_ERR_UNAUTHENTICATED, false);
		ice_ev_push(a, now, ICE_EV_AUTH_FAILED, p ? p->pub.id : 0, 0, 0, from);
		return;
	}
	if (!has_attr(m, STUN_A_PRIORITY, &ip) || stun_attr_u32(m, ip, &priority) != 0 ||
	    priority == 0) {
		EACH_REC(rs, r) r->req_in_no_auth++;
		ice_resp_queue(a, socket_id, from, m, STUN_ERR_BAD_REQUEST, true);
		return;
	}
	EACH_REC(rs, r) r->req_in_ok++;
	if (a->have_remote && !pbx_span_eq(right, pbx_span_cstr(a->remote_ufrag)))
		EACH_REC(rs, r) r->req_in_wrong_remote++;
	bool switched = false;
	if (role_conflict(a, now, m, socket_id, from, rs, &switched))
		return;
	size_t iuc;
	bool use_cand = has_attr(m, STUN_A_USE_CANDIDATE, &iuc);
	if (use_cand)
		EACH_REC(rs, r) r->use_cand_in++;
	ice_resp_queue(a, socket_id, from, m, 0, true);
	if (!a->have_remote) {
		/* Before the description: answered, remembered, and checked
		 * back once the credentials come (RFC 8445 7.3.1). */
		a->stats.early_checks++;
		EACH_REC(rs, r) r->req_in_early++;
		ice_ev_push(a, now, ICE_EV_EARLY_CHECK, 0, 0, 0, from);
		remember_early(a, socket_id, from, priority, use_cand);
		return;
	}
	ice_from_request(a, now, socket_id, from, priority, use_cand);
	if (!p && (slot = ice_pair_find(a, socket_id, from)) >= 0) {
		/* The pair this request made: it starts with the request. */
		struct ice_record *r = &a->pairs[slot].pub.rec;
		ice_rec_in(r, now);
		r->req_in_ok++;
		r->use_cand_in += use_cand;
		r->req_in_conflict += switched;
	}
}

/* The pair and transaction an answer belongs to. */
static struct ice_pair_int *find_txn(struct ice_agent *a, const struct stun_msg *m,
				     struct ice_txn **t, bool *consent)
{
	*consent = false;
	if (a->consent_active && memcmp(a->consent.tid, m->tid, STUN_TID_LEN) == 0 &&
	    a->selected >= 0) {
		*consent = true;
		*t = &a->consent;
		return &a->pairs[a->selected];
	}
	for (size_t i = 0; i < a->n_pairs; i++) {
		struct ice_pair_int *p = &a->pairs[i];
		if (p->tx.active && memcmp(p->tx.tid, m->tid, STUN_TID_LEN) == 0) {
			*t = &p->tx;
			return p;
		}
		if (p->old_active && memcmp(p->old.tid, m->tid, STUN_TID_LEN) == 0) {
			*t = &p->old;
			return p;
		}
	}
	return NULL;
}

static void on_error_response(struct ice_agent *a, uint64_t now, struct ice_pair_int *p,
			      struct ice_txn *t, bool consent, const struct stun_msg *m,
			      struct recs rs)
{
	size_t ie;
	struct stun_error err = {0};
	if (!has_attr(m, STUN_A_ERROR_CODE, &ie) || stun_attr_error(m, ie, &err) != 0)
		err.code = 0;
	EACH_REC(rs, r)
	{
		if (err.code == STUN_ERR_BAD_REQUEST)
			r->err_400++;
		else if (err.code == STUN_ERR_UNAUTHENTICATED)
			r->err_401++;
		else if (err.code == STUN_ERR_ROLE_CONFLICT)
			r->err_487++;
		else
			r->err_other++;
		r->last_err = (uint16_t)err.code;
		if (r->err_400 + r->err_401 + r->err_487 + r->err_other == 1)
			r->first_err_ms = now;
		r->last_err_ms = now;
	}
	bool use_cand = t->use_cand;
	enum ice_role sent_role = t->role;
	t->active = false;
	if (consent)
		return; /* only a success refreshes consent */
	if (err.code == STUN_ERR_ROLE_CONFLICT) {
		/* RFC 8445 7.2.5.1: take the other role than the one the check
		 * claimed, and check the pair again. */
		a->stats.role_conflicts++;
		ice_ev_push(a, now, ICE_EV_ROLE_CONFLICT, p->pub.id, (int)sent_role,
			    STUN_ERR_ROLE_CONFLICT, &p->pub.remote);
		if (a->role == sent_role)
			ice_set_role(a, now, sent_role == ICE_CONTROLLING ? ICE_CONTROLLED
									  : ICE_CONTROLLING);
		if (a->state == ICE_AGENT_RUNNING) {
			if (p->pub.state != ICE_PAIR_SUCCEEDED)
				ice_pair_set_state(a, now, p, ICE_PAIR_WAITING);
			ice_trig_push(a, p, use_cand && a->role == ICE_CONTROLLING);
		}
		return;
	}
	if (err.code == STUN_ERR_UNAUTHENTICATED)
		ice_ev_push(a, now, ICE_EV_AUTH_FAILED, p->pub.id, 0, STUN_ERR_UNAUTHENTICATED,
			    &p->pub.remote);
	ice_pair_failed(a, now, p);
}

/* An answer to one of our checks (RFC 8445 7.2.5). */
static void on_response(struct ice_agent *a, uint64_t now, int socket_id,
			const struct pbx_addr *from, const struct stun_msg *m)
{
	struct ice_txn *t;
	bool consent;
	struct ice_pair_int *p = find_txn(a, m, &t, &consent);
	if (!p) {
		a->stats.unmatched_responses++;
		return;
	}
	struct recs rs = recs_of(a, p->pub.socket_id, &p->pub.remote, p);
	enum stun_integrity res = STUN_INTEGRITY_ABSENT;
	if (stun_integrity_check(m, &a->remote_key, STUN_SHA256_FULL, &res) != 0)
		res = STUN_INTEGRITY_BAD;
	bool ok = res == STUN_INTEGRITY_OK_SHA1 || res == STUN_INTEGRITY_OK_SHA256;
	/* Errors like 400 and 401 come unsigned (RFC 8489 9.1.3); a signed
	 * answer must verify, and a success must be signed. */
	if (!ok && (m->cls == STUN_SUCCESS || res != STUN_INTEGRITY_ABSENT)) {
		EACH_REC(rs, r) r->resp_bad_integrity++;
		return;
	}
	/* The symmetric rule (RFC 8445 7.2.5.2.1): from where we sent it, to
	 * where we sent it from. */
	if (socket_id != p->pub.socket_id || !pbx_addr_equal(from, &p->pub.remote)) {
		EACH_REC(rs, r) r->nonsymmetric++;
		struct ice_peer *pe = ice_peer_get(a, socket_id, from);
		if (pe)
			pe->rec.nonsymmetric++;
		ice_ev_push(a, now, ICE_EV_NONSYMMETRIC, p->pub.id, 0, 0, from);
		t->active = false;
		if (!consent)
			ice_pair_failed(a, now, p);
		return;
	}
	if (m->cls == STUN_ERROR) {
		on_error_response(a, now, p, t, consent, m, rs);
		return;
	}
	size_t ix;
	struct pbx_addr mapped;
	if (!has_attr(m, STUN_A_XOR_MAPPED_ADDRESS, &ix) || stun_attr_addr(m, ix, &mapped) != 0) {
		a->stats.malformed++;
		return;
	}
	uint32_t rtt = (uint32_t)(now - t->sent_ms < UINT32_MAX ? now - t->sent_ms : UINT32_MAX);
	EACH_REC(rs, r)
	{
		if (r->resp_ok++ == 0) {
			r->first_resp_ms = now;
			r->rtt_min_ms = rtt;
		}
		r->last_resp_ms = now;
		r->rtt_last_ms = rtt;
		if (rtt < r->rtt_min_ms)
			r->rtt_min_ms = rtt;
		if (rtt > r->rtt_max_ms)
			r->rtt_max_ms = rtt;
	}
	bool use_cand = t->use_cand;
	t->active = false;
	if (consent) {
		p->pub.rec.consent_ok++;
		a->consent_ok_ms = now;
		return;
	}
	ice_pair_succeeded(a, now, p, &mapped, use_cand);
}

void ice_check_recv_stun(struct ice_agent *a, uint64_t now, int socket_id,
			 const struct pbx_addr *from, const struct stun_msg *m)
{
	if (m->method != STUN_BINDING || m->kind != STUN_KIND_RFC5389) {
		a->stats.not_ours++;
		return;
	}
	if (m->cls == STUN_REQUEST)
		on_request(a, now, socket_id, from, m);
	else if (m->cls == STUN_SUCCESS || m->cls == STUN_ERROR)
		on_response(a, now, socket_id, from, m);
	/* Binding indications are keepalives (RFC 8445 11): nothing to do. */
}

int ice_agent_recv(struct ice_agent *a, uint64_t now_ms, int socket_id,
		   const struct pbx_addr *from, const void *p, size_t len,
		   enum ice_recv_kind *kind)
{
	struct stun_msg m;
	int fam = pbx_addr_family(from);

	*kind = ICE_RECV_DROPPED;
	if (fam != AF_INET && fam != AF_INET6)
		return PBX_E_INVALID;
	/* RFC 7983: a first byte of 0-3 is STUN; anything else is the
	 * application's (DTLS, RTP, or plain test data). */
	if (len == 0 || ((const uint8_t *)p)[0] > 3) {
		*kind = ICE_RECV_DATA;
		int s = ice_pair_find(a, socket_id, from);
		if (s >= 0)
			a->pairs[s].pub.rec.data_in++;
		else
			a->stats.data_unpaired++;
		struct ice_peer *pe = ice_peer_get(a, socket_id, from);
		if (pe)
			pe->rec.data_in++;
		return 0;
	}
	if (stun_msg_decode(&m, p, len) != 0) {
		a->stats.malformed++;
		return 0;
	}
	*kind = ICE_RECV_STUN;
	ice_check_recv_stun(a, now_ms, socket_id, from, &m);
	return 0;
}
