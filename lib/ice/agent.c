/* agent.c - the ICE agent's candidates, checklist, pacing, timers, nomination,
 * selection and consent (RFC 8445 6.1, 7.2.5.3.3, 7.2.5.4, 8.1; RFC 8838;
 * RFC 8863; RFC 7675).  STUN in and out is in check.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void ice_agent_config_default(struct ice_agent_config *c)
{
	memset(c, 0, sizeof *c);
	c->role = ICE_CONTROLLING;
	c->component = 1;
	c->ta_ms = 50;
	c->rto_min_ms = 500;
	c->max_sends = 7;
	c->rm = 16;
	c->nominate_wait_ms = 500;
	c->consent_interval_ms = 5000;
	c->consent_timeout_ms = 30000;
	c->pac_ms = 39500;
}

/* splitmix64: transaction IDs and jitter from the caller's seed.  Not a
 * secret generator; the seed is, and integrity protects the checks. */
static uint64_t rng_next(struct ice_agent *a)
{
	uint64_t z = (a->rng += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void rng_tid(struct ice_agent *a, uint8_t tid[STUN_TID_LEN])
{
	uint64_t x = rng_next(a), y = rng_next(a);
	memcpy(tid, &x, 8);
	memcpy(tid + 8, &y, 4);
}

static bool cred_ok(const char *s, size_t min, size_t max)
{
	size_t n = strnlen(s, max + 1);
	return n >= min && n <= max;
}

int ice_agent_new(const struct ice_agent_config *c, struct ice_agent **out)
{
	*out = NULL;
	if (!cred_ok(c->ufrag, ICE_UFRAG_MIN, ICE_UFRAG_MAX) ||
	    !cred_ok(c->pwd, ICE_PWD_MIN, ICE_PWD_MAX) || c->component < 1 ||
	    c->component > ICE_COMPONENT_MAX || c->ta_ms == 0 || c->max_sends == 0 ||
	    (c->role != ICE_CONTROLLING && c->role != ICE_CONTROLLED))
		return PBX_E_INVALID;
	struct ice_agent *a = calloc(1, sizeof *a);
	if (!a)
		return -ENOMEM;
	a->cfg = *c;
	a->cfg.ufrag[ICE_UFRAG_MAX] = '\0';
	a->cfg.pwd[ICE_PWD_MAX] = '\0';
	a->role = c->role;
	a->rng = c->random_seed;
	a->selected = -1;
	a->nominating = -1;
	a->next_pair_id = 1;
	if (stun_integrity_key_short(&a->local_key, pbx_span_cstr(a->cfg.pwd))) {
		free(a);
		return PBX_E_INVALID;
	}
	*out = a;
	return 0;
}

void ice_agent_free(struct ice_agent *a)
{
	free(a);
}

/* ---- events and records ---- */

void ice_ev_push(struct ice_agent *a, uint64_t now, enum ice_event_type t, uint32_t pair_id,
		 int state, int code, const struct pbx_addr *addr)
{
	if (a->ev_n == ICE_AGENT_EVENTS_MAX) {
		a->ev_head = (a->ev_head + 1) % ICE_AGENT_EVENTS_MAX;
		a->ev_n--;
		a->stats.events_lost++;
	}
	struct ice_event *e = &a->ev[(a->ev_head + a->ev_n) % ICE_AGENT_EVENTS_MAX];
	memset(e, 0, sizeof *e);
	e->type = t;
	e->time_ms = now;
	e->pair_id = pair_id;
	e->state = state;
	e->code = code;
	if (addr)
		e->addr = *addr;
	a->ev_n++;
}

int ice_agent_next_event(struct ice_agent *a, struct ice_event *ev)
{
	if (a->ev_n == 0)
		return PBX_E_NOTFOUND;
	*ev = a->ev[a->ev_head];
	a->ev_head = (a->ev_head + 1) % ICE_AGENT_EVENTS_MAX;
	a->ev_n--;
	return 0;
}

struct ice_peer *ice_peer_get(struct ice_agent *a, int socket_id, const struct pbx_addr *addr)
{
	for (size_t i = 0; i < a->n_peers; i++)
		if (a->peers[i].socket_id == socket_id && pbx_addr_equal(&a->peers[i].addr, addr))
			return &a->peers[i];
	if (a->n_peers == ICE_AGENT_PEERS_MAX) {
		a->stats.peers_overflow++;
		return NULL;
	}
	struct ice_peer *pe = &a->peers[a->n_peers++];
	memset(pe, 0, sizeof *pe);
	pe->socket_id = socket_id;
	pe->addr = *addr;
	return pe;
}

void ice_rec_sent(struct ice_record *r, uint64_t now)
{
	if (!r)
		return;
	if (r->req_sent++ == 0)
		r->first_sent_ms = now;
	r->last_sent_ms = now;
}

void ice_rec_in(struct ice_record *r, uint64_t now)
{
	if (!r)
		return;
	if (r->req_in++ == 0)
		r->first_in_ms = now;
	r->last_in_ms = now;
}

/* ---- candidates and pairs ---- */

static bool same_foundation(const struct ice_pair *x, const struct ice_pair *y)
{
	return strcmp(x->local_foundation, y->local_foundation) == 0 &&
	       strcmp(x->remote_foundation, y->remote_foundation) == 0;
}

static uint64_t pair_prio(const struct ice_agent *a, const struct ice_pair_int *p)
{
	uint32_t l = a->local[p->li].c.priority, r = a->remote[p->ri].priority;
	return a->role == ICE_CONTROLLING ? ice_pair_priority(l, r) : ice_pair_priority(r, l);
}

/* Keep order[] sorted by priority, highest first; ties by pair id. */
static void sort_pairs(struct ice_agent *a)
{
	for (size_t i = 0; i < a->n_pairs; i++) {
		a->pairs[i].pub.priority = pair_prio(a, &a->pairs[i]);
		a->order[i] = (uint8_t)i;
	}
	for (size_t i = 1; i < a->n_pairs; i++) {
		uint8_t v = a->order[i];
		size_t j = i;
		const struct ice_pair *pv = &a->pairs[v].pub;
		while (j > 0) {
			const struct ice_pair *pj = &a->pairs[a->order[j - 1]].pub;
			if (pj->priority > pv->priority ||
			    (pj->priority == pv->priority && pj->id < pv->id))
				break;
			a->order[j] = a->order[j - 1];
			j--;
		}
		a->order[j] = v;
	}
}

static void fill_pair_view(struct ice_agent *a, struct ice_pair_int *p)
{
	const struct ice_lcand *l = &a->local[p->li];
	const struct ice_cand *r = &a->remote[p->ri];
	p->pub.component = a->cfg.component;
	p->pub.socket_id = l->socket_id;
	p->pub.local = l->base;
	/* A srflx candidate stands in for its base (RFC 8445 6.1.2.4). */
	p->pub.local_type = l->c.type == ICE_SRFLX ? ICE_HOST : l->c.type;
	p->pub.remote = r->addr;
	p->pub.remote_type = r->type;
	snprintf(p->pub.local_foundation, sizeof p->pub.local_foundation, "%s", l->c.foundation);
	snprintf(p->pub.remote_foundation, sizeof p->pub.remote_foundation, "%s",
		 r->foundation);
}

int ice_pair_find(const struct ice_agent *a, int socket_id, const struct pbx_addr *remote)
{
	for (size_t i = 0; i < a->n_pairs; i++)
		if (a->pairs[i].pub.socket_id == socket_id &&
		    pbx_addr_equal(&a->pairs[i].pub.remote, remote))
			return (int)i;
	return -1;
}

static int pair_by_id(const struct ice_agent *a, uint32_t id)
{
	for (size_t i = 0; i < a->n_pairs; i++)
		if (a->pairs[i].pub.id == id)
			return (int)i;
	return -1;
}

void ice_pair_set_state(struct ice_agent *a, uint64_t now, struct ice_pair_int *p,
			enum ice_pair_state st)
{
	if (p->pub.state == st)
		return;
	p->pub.state = st;
	ice_ev_push(a, now, ICE_EV_PAIR_STATE, p->pub.id, (int)st, 0, &p->pub.remote);
}

/* The state a pair formed after checks began starts in: Waiting unless a
 * pair of its foundation is being checked already (RFC 8838 section 10). */
static enum ice_pair_state new_pair_state(const struct ice_agent *a, const struct ice_pair *np)
{
	if (!a->started)
		return ICE_PAIR_FROZEN;
	for (size_t i = 0; i < a->n_pairs; i++) {
		const struct ice_pair *q = &a->pairs[i].pub;
		if (q != np && same_foundation(q, np) &&
		    (q->state == ICE_PAIR_WAITING || q->state == ICE_PAIR_IN_PROGRESS))
			return ICE_PAIR_FROZEN;
	}
	return ICE_PAIR_WAITING;
}

/* Form the pair (li, ri): prune a redundant one (same base and remote:
 * keep the higher priority, RFC 8445 6.1.2.4) and keep at most
 * ICE_AGENT_PAIRS_MAX, dropping the lowest-priority frozen or waiting
 * pair for a better one (6.1.2.5).  Returns the slot or -1. */
static int pair_add(struct ice_agent *a, uint64_t now, size_t li, size_t ri)
{
	struct ice_pair_int np;
	memset(&np, 0, sizeof np);
	np.li = (uint8_t)li;
	np.ri = (uint8_t)ri;
	fill_pair_view(a, &np);
	np.pub.priority = pair_prio(a, &np);
	int dup = ice_pair_find(a, np.pub.socket_id, &np.pub.remote);
	if (dup >= 0) {
		struct ice_pair_int *d = &a->pairs[dup];
		a->stats.pairs_pruned++;
		if (d->pub.priority < np.pub.priority &&
		    (d->pub.state == ICE_PAIR_FROZEN || d->pub.state == ICE_PAIR_WAITING)) {
			d->li = np.li;
			fill_pair_view(a, d);
			sort_pairs(a);
		}
		return dup;
	}
	size_t slot = a->n_pairs;
	if (a->n_pairs == ICE_AGENT_PAIRS_MAX) {
		int low = -1;
		for (size_t i = 0; i < a->n_pairs; i++) {
			const struct ice_pair_int *q = &a->pairs[i];
			if ((q->pub.state == ICE_PAIR_FROZEN || q->pub.state == ICE_PAIR_WAITING) &&
			    !q->queued && (low < 0 || q->pub.priority < a->pairs[low].pub.priority))
				low = (int)i;
		}
		a->stats.pairs_over_limit++;
		if (low < 0 || a->pairs[low].pub.priority >= np.pub.priority)
			return -1;
		slot = (size_t)low;
	} else {
		a->n_pairs++;
	}
	np.pub.id = a->next_pair_id++;
	np.pub.mapped_type = np.pub.local_type;
	a->pairs[slot] = np;
	a->pairs[slot].pub.state = ICE_PAIR_FROZEN;
	ice_pair_set_state(a, now, &a->pairs[slot], new_pair_state(a, &a->pairs[slot].pub));
	sort_pairs(a);
	return (int)slot;
}

static bool pairable_local(const struct ice_agent *a, const struct ice_lcand *l)
{
	return l->c.type != ICE_PRFLX && l->c.component == a->cfg.component;
}

static bool pairable(const struct ice_lcand *l, const struct ice_cand *r)
{
	return l->c.component == r->component &&
	       pbx_addr_family(&l->base) == pbx_addr_family(&r->addr);
}

int ice_agent_add_local(struct ice_agent *a, uint64_t now_ms, const struct ice_cand *c,
			int socket_id, const struct pbx_addr *base)
{
	int fam = pbx_addr_family(&c->addr);
	if (c->unresolved || (fam != AF_INET && fam != AF_INET6) || !base ||
	    pbx_addr_family(base) != fam || (unsigned)c->type >= ICE_CAND_TYPES)
		return PBX_E_INVALID;
	for (size_t i = 0; i < a->n_local; i++)
		if (a->local[i].socket_id == socket_id &&
		    pbx_addr_equal(&a->local[i].c.addr, &c->addr))
			return PBX_E_EXISTS;
	if (a->n_local == ICE_AGENT_LOCAL_MAX) {
		a->stats.cands_dropped++;
		return PBX_E_NOSPACE;
	}
	size_t li = a->n_local++;
	a->local[li].c = *c;
	a->local[li].socket_id = socket_id;
	a->local[li].base = c->type == ICE_SRFLX ? *base : c->addr;
	if (c->transport != ICE_UDP || !pairable_local(a, &a->local[li]))
		return 0;
	for (size_t ri = 0; ri < a->n_remote; ri++)
		if (a->remote[ri].type != ICE_PRFLX && pairable(&a->local[li], &a->remote[ri]))
			pair_add(a, now_ms, li, ri);
	return 0;
}

void ice_agent_end_of_local(struct ice_agent *a, uint64_t now_ms)
{
	(void)now_ms;
	a->local_done = true;
}

static int remote_find(const struct ice_agent *a, const struct pbx_addr *addr)
{
	for (size_t i = 0; i < a->n_remote; i++)
		if (pbx_addr_equal(&a->remote[i].addr, addr))
			return (int)i;
	return -1;
}

int ice_agent_add_remote(struct ice_agent *a, uint64_t now_ms, const struct ice_cand *c)
{
	int fam = pbx_addr_family(&c->addr);
	if (a->remote_eoc)
		return PBX_E_INVALID;
	if (c->unresolved || c->transport != ICE_UDP || c->component != a->cfg.component ||
	    (fam != AF_INET && fam != AF_INET6))
		return 0;
	a->last_remote_ms = now_ms;
	int ri = remote_find(a, &c->addr);
	if (ri >= 0) {
		if (a->remote[ri].type != ICE_PRFLX)
			return PBX_E_EXISTS;
		/* The signalled candidate replaces the peer-reflexive one
		 * learnt from its checks (RFC 8838 section 11). */
		a->remote[ri] = *c;
		for (size_t i = 0; i < a->n_pairs; i++)
			if (a->pairs[i].ri == ri)
				fill_pair_view(a, &a->pairs[i]);
		sort_pairs(a);
		/* Now it pairs with every local candidate, as signalled ones do. */
		for (size_t li = 0; li < a->n_local; li++)
			if (a->local[li].c.transport == ICE_UDP &&
			    pairable_local(a, &a->local[li]) && pairable(&a->local[li], c) &&
			    ice_pair_find(a, a->local[li].socket_id, &c->addr) < 0)
				pair_add(a, now_ms, li, (size_t)ri);
		return 0;
	}
	if (a->n_remote == ICE_AGENT_REMOTE_MAX) {
		a->stats.cands_dropped++;
		return PBX_E_NOSPACE;
	}
	ri = (int)a->n_remote++;
	a->remote[ri] = *c;
	for (size_t li = 0; li < a->n_local; li++)
		if (a->local[li].c.transport == ICE_UDP && pairable_local(a, &a->local[li]) &&
		    pairable(&a->local[li], c))
			pair_add(a, now_ms, li, (size_t)ri);
	return 0;
}

void ice_agent_end_of_remote(struct ice_agent *a, uint64_t now_ms)
{
	(void)now_ms;
	a->remote_eoc = true;
}

static void txn_cancel(struct ice_agent *a, struct ice_pair_int *p);

/* The local candidate a request arriving on socket_id is for: the host or
 * relay candidate of that socket. */
static int local_for_socket(const struct ice_agent *a, int socket_id, int family)
{
	for (size_t i = 0; i < a->n_local; i++) {
		const struct ice_lcand *l = &a->local[i];
		if (l->socket_id == socket_id &&
		    (l->c.type == ICE_HOST || l->c.type == ICE_RELAY) &&
		    pbx_addr_family(&l->base) == family)
			return (int)i;
	}
	return -1;
}

/* A request from an address no candidate has: a peer-reflexive remote
 * candidate with the request's PRIORITY (RFC 8445 7.3.1.3). */
static int remote_add_prflx(struct ice_agent *a, uint64_t now, const struct pbx_addr *from,
			    uint32_t priority)
{
	if (a->n_remote == ICE_AGENT_REMOTE_MAX) {
		a->stats.cands_dropped++;
		return -1;
	}
	struct ice_cand *c = &a->remote[a->n_remote];
	memset(c, 0, sizeof *c);
	snprintf(c->foundation, sizeof c->foundation, "prflx%u", ++a->prflx_seq);
	c->component = a->cfg.component;
	c->transport = ICE_UDP;
	c->priority = priority;
	c->type = ICE_PRFLX;
	c->addr = *from;
	c->port = pbx_addr_port(from);
	ice_ev_push(a, now, ICE_EV_PRFLX_REMOTE, 0, 0, 0, from);
	return (int)a->n_remote++;
}

void ice_trig_push(struct ice_agent *a, struct ice_pair_int *p, bool use_cand)
{
	p->queued_use_cand = p->queued_use_cand || use_cand;
	if (p->queued || a->trig_n == ICE_AGENT_PAIRS_MAX)
		return;
	p->queued = true;
	a->trig[(a->trig_head + a->trig_n++) % ICE_AGENT_PAIRS_MAX] = p->pub.id;
}

/* A valid check from the peer (RFC 8445 7.3.1.3-7.3.1.5): learn its
 * address, trigger a check back, note a nomination. */
void ice_from_request(struct ice_agent *a, uint64_t now, int socket_id,
		      const struct pbx_addr *from, uint32_t priority, bool use_cand)
{
	int slot = ice_pair_find(a, socket_id, from);
	if (slot < 0) {
		if (a->state != ICE_AGENT_RUNNING)
			return;
		int li = local_for_socket(a, socket_id, pbx_addr_family(from));
		if (li < 0)
			return;
		int ri = remote_find(a, from);
		if (ri < 0)
			ri = remote_add_prflx(a, now, from, priority);
		if (ri < 0)
			return;
		slot = pair_add(a, now, (size_t)li, (size_t)ri);
		if (slot < 0)
			return;
	}
	struct ice_pair_int *p = &a->pairs[slot];
	if (use_cand && a->role == ICE_CONTROLLED) {
		if (p->pub.state == ICE_PAIR_SUCCEEDED && p->pub.valid)
			ice_nominate(a, now, p);
		else
			p->nominate_on_success = true;
	}
	if (a->state != ICE_AGENT_RUNNING || p->pub.state == ICE_PAIR_SUCCEEDED)
		return;
	if (p->pub.state == ICE_PAIR_IN_PROGRESS && p->tx.active)
		txn_cancel(a, p);
	ice_pair_set_state(a, now, p, ICE_PAIR_WAITING);
	ice_trig_push(a, p, false);
}

void ice_set_role(struct ice_agent *a, uint64_t now, enum ice_role role)
{
	if (a->role == role)
		return;
	a->role = role;
	a->stats.role_switches++;
	ice_ev_push(a, now, ICE_EV_ROLE_SWITCH, 0, (int)role, 0, NULL);
	if (role == ICE_CONTROLLED && a->nominating >= 0)
		a->nominating = -1;
	sort_pairs(a);
}

uint32_t ice_prflx_priority(const struct ice_agent *a, const struct ice_pair_int *p)
{
	unsigned type_pref, component;
	uint16_t local_pref;
	uint32_t prio;
	ice_priority_split(a->local[p->li].c.priority, &type_pref, &local_pref, &component);
	if (ice_cand_priority(NULL, ICE_PRFLX, local_pref, a->cfg.component, &prio))
		return 1;
	return prio;
}

static void select_pair(struct ice_agent *a, uint64_t now, struct ice_pair_int *p)
{
	if (a->selected >= 0 || a->state != ICE_AGENT_RUNNING)
		return;
	a->selected = (int)(p - a->pairs);
	p->pub.selected = true;
	a->state = ICE_AGENT_COMPLETED;
	a->trig_n = 0;
	for (size_t i = 0; i < a->n_pairs; i++)
		a->pairs[i].queued = false;
	ice_ev_push(a, now, ICE_EV_SELECTED, p->pub.id, (int)p->pub.state, 0, &p->pub.remote);
	a->consent_ok_ms = now;
	a->consent_next_ms = now + a->cfg.consent_interval_ms;
}

void ice_nominate(struct ice_agent *a, uint64_t now, struct ice_pair_int *p)
{
	if (!p->pub.nominated) {
		p->pub.nominated = true;
		ice_ev_push(a, now, ICE_EV_NOMINATED, p->pub.id, (int)p->pub.state, 0,
			    &p->pub.remote);
	}
	select_pair(a, now, p);
}

/* A success response to a check of p (RFC 8445 7.2.5.3): the pair and its
 * valid pair succeed, a new mapped address is a peer-reflexive local
 * candidate, frozen pairs of the foundation thaw, and a nominating check
 * nominates. */
void ice_pair_succeeded(struct ice_agent *a, uint64_t now, struct ice_pair_int *p,
			const struct pbx_addr *mapped, bool use_cand)
{
	p->pub.mapped = *mapped;
	int known = -1;
	for (size_t i = 0; i < a->n_local; i++)
		if (pbx_addr_equal(&a->local[i].c.addr, mapped))
			known = (int)i;
	if (known >= 0) {
		p->pub.mapped_type = a->local[known].c.type;
	} else {
		p->pub.mapped_type = ICE_PRFLX;
		if (a->n_local < ICE_AGENT_LOCAL_MAX) {
			struct ice_lcand *l = &a->local[a->n_local++];
			memset(l, 0, sizeof *l);
			l->c = a->local[p->li].c;
			snprintf(l->c.foundation, sizeof l->c.foundation, "prflx%u",
				 ++a->prflx_seq);
			l->c.type = ICE_PRFLX;
			l->c.priority = ice_prflx_priority(a, p);
			l->c.addr = *mapped;
			l->c.port = pbx_addr_port(mapped);
			l->socket_id = p->pub.socket_id;
			l->base = p->pub.local;
		} else {
			a->stats.cands_dropped++;
		}
		ice_ev_push(a, now, ICE_EV_PRFLX_LOCAL, p->pub.id, 0, 0, mapped);
	}
	ice_pair_set_state(a, now, p, ICE_PAIR_SUCCEEDED);
	if (!p->pub.valid) {
		p->pub.valid = true;
		ice_ev_push(a, now, ICE_EV_PAIR_VALID, p->pub.id, (int)p->pub.state, 0,
			    &p->pub.remote);
		if (!a->have_valid) {
			a->have_valid = true;
			a->first_valid_ms = now;
		}
	}
	for (size_t i = 0; i < a->n_pairs; i++) {
		struct ice_pair_int *q = &a->pairs[i];
		if (q->pub.state == ICE_PAIR_FROZEN && same_foundation(&q->pub, &p->pub))
			ice_pair_set_state(a, now, q, ICE_PAIR_WAITING);
	}
	if ((use_cand && a->role == ICE_CONTROLLING) ||
	    (p->nominate_on_success && a->role == ICE_CONTROLLED))
		ice_nominate(a, now, p);
}

void ice_pair_failed(struct ice_agent *a, uint64_t now, struct ice_pair_int *p)
{
	if (a->nominating == (int)(p - a->pairs))
		a->nominating = -1;
	p->pub.valid = false;
	ice_pair_set_state(a, now, p, ICE_PAIR_FAILED);
}

/* ---- the remote description ---- */

int ice_agent_set_remote(struct ice_agent *a, uint64_t now_ms, struct pbx_span ufrag,
			 struct pbx_span pwd, bool lite)
{
	if (a->have_remote)
		return PBX_E_EXISTS;
	if (ufrag.len < ICE_UFRAG_MIN || ufrag.len > ICE_UFRAG_MAX || pwd.len < ICE_PWD_MIN ||
	    pwd.len > ICE_PWD_MAX || stun_integrity_key_short(&a->remote_key, pwd))
		return PBX_E_INVALID;
	memcpy(a->remote_ufrag, ufrag.p, ufrag.len);
	a->remote_ufrag[ufrag.len] = '\0';
	a->have_remote = true;
	a->remote_lite = lite;
	a->remote_set_ms = now_ms;
	if (a->last_remote_ms < now_ms)
		a->last_remote_ms = now_ms;
	if (lite)
		ice_set_role(a, now_ms, ICE_CONTROLLING);
	/* Checks that came first now get their triggered checks (7.3.1). */
	for (size_t i = 0; i < a->n_early; i++)
		ice_from_request(a, now_ms, a->early[i].socket_id, &a->early[i].from,
				 a->early[i].priority, a->early[i].use_cand);
	a->n_early = 0;
	return 0;
}

/* ---- timers and the next packet ---- */

static uint32_t rto_for_new_check(const struct ice_agent *a)
{
	/* RFC 8445 14.3: RTO = MAX(500ms, Ta * (Num-Waiting + Num-In-Progress)). */
	uint64_t n = 0;
	for (size_t i = 0; i < a->n_pairs; i++)
		if (a->pairs[i].pub.state == ICE_PAIR_WAITING ||
		    a->pairs[i].pub.state == ICE_PAIR_IN_PROGRESS)
			n++;
	uint64_t rto = (uint64_t)a->cfg.ta_ms * n;
	if (rto < a->cfg.rto_min_ms)
		rto = a->cfg.rto_min_ms;
	if (rto > 60000)
		rto = 60000;
	return (uint32_t)rto;
}

/* The wait after the k-th transmission (k from 1): RTO doubling, Rm * RTO
 * after the last (RFC 8489 6.2.1), each within the caller's cap. */
static uint64_t txn_wait(const struct ice_agent *a, const struct ice_txn *t)
{
	uint64_t w;
	if (t->sends >= a->cfg.max_sends)
		w = (uint64_t)t->rto * (a->cfg.rm ? a->cfg.rm : 1);
	else
		w = (uint64_t)t->rto << (t->sends - 1 < 20 ? t->sends - 1 : 20);
	if (a->cfg.rto_cap_ms && w > a->cfg.rto_cap_ms)
		w = a->cfg.rto_cap_ms;
	return w;
}

static void txn_schedule(const struct ice_agent *a, struct ice_txn *t, uint64_t now)
{
	t->sent_ms = now;
	t->next_ms = now + txn_wait(a, t);
	if (t->end_ms && t->next_ms > t->end_ms)
		t->next_ms = t->end_ms;
}

/* Cancel p's check (RFC 8445 7.3.1.4): no more retransmissions, but its
 * answer still counts until the transaction would have timed out. */
static void txn_cancel(struct ice_agent *a, struct ice_pair_int *p)
{
	struct ice_txn t = p->tx;
	uint64_t end = t.sent_ms;
	for (; t.sends < a->cfg.max_sends; t.sends++)
		end += txn_wait(a, &t);
	end += txn_wait(a, &t);
	if (p->tx.end_ms && end > p->tx.end_ms)
		end = p->tx.end_ms;
	p->old = p->tx;
	p->old.next_ms = end;
	p->old_active = true;
	p->tx.active = false;
}

static void txn_start(struct ice_agent *a, struct ice_txn *t, uint64_t now, bool use_cand)
{
	memset(t, 0, sizeof *t);
	t->active = true;
	t->use_cand = use_cand;
	t->role = a->role;
	rng_tid(a, t->tid);
	t->sends = 1;
	t->rto = rto_for_new_check(a);
	t->start_ms = now;
	t->end_ms = a->cfg.check_timeout_ms ? now + a->cfg.check_timeout_ms : 0;
	txn_schedule(a, t, now);
}

static void fail_agent(struct ice_agent *a, uint64_t now, enum ice_fail_reason why)
{
	if (a->state == ICE_AGENT_FAILED)
		return;
	a->state = ICE_AGENT_FAILED;
	a->reason = why;
	a->trig_n = 0;
	ice_ev_push(a, now, ICE_EV_FAILED, 0, 0, (int)why, NULL);
}

static bool checks_pending(const struct ice_agent *a)
{
	if (a->trig_n)
		return true;
	for (size_t i = 0; i < a->n_pairs; i++) {
		const struct ice_pair_int *p = &a->pairs[i];
		if (p->tx.active || p->pub.state == ICE_PAIR_FROZEN ||
		    p->pub.state == ICE_PAIR_WAITING || p->pub.state == ICE_PAIR_IN_PROGRESS)
			return true;
	}
	return false;
}

static bool any_valid(const struct ice_agent *a)
{
	for (size_t i = 0; i < a->n_pairs; i++)
		if (a->pairs[i].pub.valid)
			return true;
	return false;
}

/* Whether the peer may still send candidates (RFC 8863 section 4). */
static bool may_trickle(const struct ice_agent *a, uint64_t now)
{
	if (a->remote_eoc)
		return false;
	return !a->cfg.trickle_wait_ms || now < a->last_remote_ms + a->cfg.trickle_wait_ms;
}

/* Whether the checklist has run out (RFC 8445 8.1.2): nothing left to
 * check, no valid pair to nominate, and no candidate can come any more. */
static bool exhausted(const struct ice_agent *a, uint64_t now)
{
	return a->state == ICE_AGENT_RUNNING && a->have_remote && !checks_pending(a) &&
	       !any_valid(a) && a->local_done && !may_trickle(a, now);
}

/* RFC 8863 4: a run-out checklist still waits for the PAC timer, since a
 * peer-reflexive pair may yet come from the peer's checks; but with no
 * pair at all and the peer's candidates complete, none can (it checks
 * only from candidates it signalled, of families we lack). */
static bool pac_holds(const struct ice_agent *a, uint64_t now)
{
	return a->cfg.pac_ms && now < a->remote_set_ms + a->cfg.pac_ms &&
	       (a->n_pairs > 0 || !a->remote_eoc);
}

/* Checklist failure: run out, and no longer held by the PAC timer. */
static void check_failure(struct ice_agent *a, uint64_t now)
{
	if (a->state != ICE_AGENT_RUNNING || !a->have_remote)
		return;
	if (a->cfg.fail_timeout_ms && now >= a->remote_set_ms + a->cfg.fail_timeout_ms) {
		fail_agent(a, now, ICE_FAIL_TIMEOUT);
		return;
	}
	if (exhausted(a, now) && !pac_holds(a, now))
		fail_agent(a, now, ICE_FAIL_CHECKS);
}

bool ice_agent_awaiting_peer(const struct ice_agent *a, uint64_t now_ms)
{
	return exhausted(a, now_ms);
}

bool ice_agent_give_up(struct ice_agent *a, uint64_t now_ms)
{
	if (!exhausted(a, now_ms))
		return false;
	fail_agent(a, now_ms, ICE_FAIL_CHECKS);
	return true;
}

/* Regular nomination (RFC 8445 8.1.1): the controlling agent re-checks the
 * best valid pair with USE-CANDIDATE once no better pair can still succeed,
 * or nominate_wait_ms after the first valid pair. */
static void maybe_nominate(struct ice_agent *a, uint64_t now)
{
	if (a->role != ICE_CONTROLLING || a->state != ICE_AGENT_RUNNING || a->nominating >= 0)
		return;
	int best = -1;
	for (size_t k = 0; k < a->n_pairs; k++) {
		int i = a->order[k];
		if (a->pairs[i].pub.valid && a->pairs[i].pub.state == ICE_PAIR_SUCCEEDED) {
			best = i;
			break;
		}
	}
	if (best < 0)
		return;
	bool better_pending = false;
	for (size_t k = 0; k < a->n_pairs && a->order[k] != best; k++) {
		enum ice_pair_state st = a->pairs[a->order[k]].pub.state;
		if (st == ICE_PAIR_FROZEN || st == ICE_PAIR_WAITING || st == ICE_PAIR_IN_PROGRESS)
			better_pending = true;
	}
	if (better_pending && now < a->first_valid_ms + a->cfg.nominate_wait_ms)
		return;
	a->nominating = best;
	ice_trig_push(a, &a->pairs[best], true);
}

static void run_timers(struct ice_agent *a, uint64_t now)
{
	for (size_t i = 0; i < a->n_pairs; i++) {
		struct ice_pair_int *p = &a->pairs[i];
		if (p->old_active && now >= p->old.next_ms)
			p->old_active = false;
		if (!p->tx.active || now < p->tx.next_ms)
			continue;
		if (p->tx.sends < a->cfg.max_sends && !(p->tx.end_ms && now >= p->tx.end_ms))
			continue; /* a retransmission: ice_agent_poll sends it */
		p->tx.active = false;
		p->pub.rec.timeouts++;
		struct ice_peer *pe = ice_peer_get(a, p->pub.socket_id, &p->pub.remote);
		if (pe)
			pe->rec.timeouts++;
		if (p->pub.state == ICE_PAIR_IN_PROGRESS || p->tx.use_cand)
			ice_pair_failed(a, now, p);
	}
	if (a->consent_active && now >= a->consent.next_ms)
		a->consent_active = false;
	if (a->state == ICE_AGENT_COMPLETED && a->selected >= 0 &&
	    now >= a->consent_ok_ms + a->cfg.consent_timeout_ms) {
		struct ice_pair_int *p = &a->pairs[a->selected];
		p->pub.rec.consent_lost = true;
		ice_ev_push(a, now, ICE_EV_CONSENT_LOST, p->pub.id, 0, 0, &p->pub.remote);
		a->consent_active = false;
		fail_agent(a, now, ICE_FAIL_CONSENT);
	}
	maybe_nominate(a, now);
	check_failure(a, now);
}

/* Whether a frozen pair of p's foundation may thaw: no pair of that
 * foundation is waiting or in progress (RFC 8445 6.1.4.2). */
static bool thawable(const struct ice_agent *a, const struct ice_pair *p)
{
	for (size_t j = 0; j < a->n_pairs; j++) {
		const struct ice_pair *q = &a->pairs[j].pub;
		if (same_foundation(q, p) &&
		    (q->state == ICE_PAIR_WAITING || q->state == ICE_PAIR_IN_PROGRESS))
			return false;
	}
	return true;
}

/* Whether an ordinary check could start: a waiting pair, or a frozen one
 * that may thaw. */
static bool can_check(const struct ice_agent *a)
{
	for (size_t i = 0; i < a->n_pairs; i++) {
		const struct ice_pair *p = &a->pairs[i].pub;
		if (p->state == ICE_PAIR_WAITING ||
		    (p->state == ICE_PAIR_FROZEN && thawable(a, p)))
			return true;
	}
	return false;
}

/* Initial states (RFC 8445 6.1.2.6): per foundation, the highest-priority
 * pair waits; the rest stay frozen. */
static void unfreeze(struct ice_agent *a, uint64_t now)
{
	for (size_t k = 0; k < a->n_pairs; k++) {
		struct ice_pair_int *p = &a->pairs[a->order[k]];
		if (p->pub.state == ICE_PAIR_FROZEN && thawable(a, &p->pub))
			ice_pair_set_state(a, now, p, ICE_PAIR_WAITING);
	}
}

/* The pair for the next ordinary check (RFC 8445 6.1.4.2): the triggered
 * queue first, then the highest-priority waiting pair, then unfreeze. */
static struct ice_pair_int *next_check(struct ice_agent *a, uint64_t now, bool *use_cand)
{
	while (a->trig_n) {
		uint32_t id = a->trig[a->trig_head];
		a->trig_head = (a->trig_head + 1) % ICE_AGENT_PAIRS_MAX;
		a->trig_n--;
		int s = pair_by_id(a, id);
		if (s < 0 || !a->pairs[s].queued)
			continue;
		struct ice_pair_int *p = &a->pairs[s];
		p->queued = false;
		*use_cand = p->queued_use_cand;
		p->queued_use_cand = false;
		/* Settled meanwhile (the cancelled check's answer came): only
		 * a nomination still has to go. */
		if ((p->pub.state == ICE_PAIR_FAILED || p->pub.state == ICE_PAIR_SUCCEEDED) &&
		    !*use_cand)
			continue;
		return p;
	}
	for (int pass = 0; pass < 2; pass++) {
		for (size_t k = 0; k < a->n_pairs; k++) {
			struct ice_pair_int *p = &a->pairs[a->order[k]];
			if (p->pub.state == ICE_PAIR_WAITING) {
				*use_cand = false;
				return p;
			}
		}
		if (pass == 0)
			unfreeze(a, now);
	}
	return NULL;
}

static void count_sent(struct ice_agent *a, uint64_t now, struct ice_pair_int *p)
{
	ice_rec_sent(&p->pub.rec, now);
	struct ice_peer *pe = ice_peer_get(a, p->pub.socket_id, &p->pub.remote);
	if (pe)
		ice_rec_sent(&pe->rec, now);
}

static void route(struct ice_tx *out, const struct ice_pair_int *p, size_t len)
{
	out->socket_id = p->pub.socket_id;
	out->to = p->pub.remote;
	out->len = len;
}

static uint64_t consent_jitter(struct ice_agent *a)
{
	/* RFC 7675 5.1: uniformly 0.8 .. 1.2 times the interval. */
	uint64_t iv = a->cfg.consent_interval_ms;
	uint64_t span = iv * 2 / 5 + 1;
	return iv * 4 / 5 + rng_next(a) % span;
}

int ice_agent_poll(struct ice_agent *a, uint64_t now_ms, void *buf, size_t cap,
		   struct ice_tx *out)
{
	memset(out, 0, sizeof *out);
	if (cap < ICE_AGENT_PACKET_MAX)
		return PBX_E_NOSPACE;
	run_timers(a, now_ms);
	if (a->resp_n) {
		const struct ice_resp *r = &a->resp[a->resp_head];
		a->resp_head = (a->resp_head + 1) % ICE_RESP_MAX;
		a->resp_n--;
		out->socket_id = r->socket_id;
		out->to = r->to;
		out->len = ice_resp_encode(a, r, buf, cap);
		return 0;
	}
	if (a->state == ICE_AGENT_COMPLETED && now_ms >= a->consent_next_ms) {
		struct ice_pair_int *p = &a->pairs[a->selected];
		txn_start(a, &a->consent, now_ms, false);
		a->consent.sends = a->cfg.max_sends; /* consent checks are not retransmitted */
		a->consent_active = true;
		a->consent.next_ms = now_ms + a->cfg.consent_timeout_ms;
		a->consent_next_ms = now_ms + consent_jitter(a);
		p->pub.rec.consent_sent++;
		count_sent(a, now_ms, p);
		route(out, p, ice_check_encode(a, p, &a->consent, buf, cap));
		return 0;
	}
	for (size_t i = 0; i < a->n_pairs; i++) {
		struct ice_pair_int *p = &a->pairs[i];
		if (!p->tx.active || now_ms < p->tx.next_ms)
			continue;
		p->tx.sends++;
		txn_schedule(a, &p->tx, now_ms);
		count_sent(a, now_ms, p);
		route(out, p, ice_check_encode(a, p, &p->tx, buf, cap));
		return 0;
	}
	if (a->state != ICE_AGENT_RUNNING || !a->have_remote || now_ms < a->next_check_ms)
		return 0;
	if (!a->started) {
		a->started = true;
		unfreeze(a, now_ms);
	}
	bool use_cand = false;
	struct ice_pair_int *p = next_check(a, now_ms, &use_cand);
	if (!p)
		return 0;
	if (p->tx.active) /* a nomination on top of a running check */
		txn_cancel(a, p);
	if (p->pub.state != ICE_PAIR_SUCCEEDED)
		ice_pair_set_state(a, now_ms, p, ICE_PAIR_IN_PROGRESS);
	txn_start(a, &p->tx, now_ms, use_cand);
	p->pub.rec.checks++;
	struct ice_peer *pe = ice_peer_get(a, p->pub.socket_id, &p->pub.remote);
	if (pe)
		pe->rec.checks++;
	count_sent(a, now_ms, p);
	a->next_check_ms = now_ms + a->cfg.ta_ms;
	route(out, p, ice_check_encode(a, p, &p->tx, buf, cap));
	return 0;
}

static uint64_t min64(uint64_t x, uint64_t y)
{
	return x < y ? x : y;
}

uint64_t ice_agent_next_deadline(const struct ice_agent *a, uint64_t now_ms)
{
	uint64_t d = UINT64_MAX;
	if (a->resp_n)
		return now_ms;
	for (size_t i = 0; i < a->n_pairs; i++)
		if (a->pairs[i].tx.active)
			d = min64(d, a->pairs[i].tx.next_ms);
	if (a->state == ICE_AGENT_COMPLETED) {
		d = min64(d, a->consent_next_ms);
		d = min64(d, a->consent_ok_ms + a->cfg.consent_timeout_ms);
	}
	if (a->state == ICE_AGENT_RUNNING && a->have_remote) {
		if (a->trig_n > 0 || can_check(a))
			d = min64(d, a->next_check_ms);
		if (a->role == ICE_CONTROLLING && a->nominating < 0 && any_valid(a))
			d = min64(d, a->first_valid_ms + a->cfg.nominate_wait_ms);
		if (a->cfg.fail_timeout_ms)
			d = min64(d, a->remote_set_ms + a->cfg.fail_timeout_ms);
		if (a->cfg.pac_ms && a->remote_set_ms + a->cfg.pac_ms > now_ms)
			d = min64(d, a->remote_set_ms + a->cfg.pac_ms);
		/* Only while it lies ahead: once passed, failure waits for
		 * the checks still running, which have their own times. */
		if (!a->remote_eoc && a->cfg.trickle_wait_ms &&
		    a->last_remote_ms + a->cfg.trickle_wait_ms > now_ms)
			d = min64(d, a->last_remote_ms + a->cfg.trickle_wait_ms);
	}
	return d < now_ms ? now_ms : d;
}

/* ---- data, reports, queries ---- */

int ice_agent_send(struct ice_agent *a, uint64_t now_ms, size_t len, int *socket_id,
		   struct pbx_addr *to)
{
	(void)now_ms;
	(void)len;
	if (a->selected < 0)
		return PBX_E_NOTFOUND;
	struct ice_pair_int *p = &a->pairs[a->selected];
	if (p->pub.rec.consent_lost)
		return -EPIPE;
	*socket_id = p->pub.socket_id;
	*to = p->pub.remote;
	p->pub.rec.data_out++;
	return 0;
}

static void report_one(struct ice_record *r, enum ice_report_kind kind, int code)
{
	if (kind == ICE_REPORT_ICMP) {
		r->icmp++;
	} else {
		r->turn_errors++;
		r->last_turn_code = (uint16_t)code;
	}
}

int ice_agent_report(struct ice_agent *a, uint64_t now_ms, int socket_id,
		     const struct pbx_addr *to, enum ice_report_kind kind, int code)
{
	(void)now_ms;
	for (size_t i = 0; i < a->n_pairs; i++) {
		struct ice_pair_int *p = &a->pairs[i];
		if (p->pub.socket_id == socket_id && (!to || pbx_addr_equal(&p->pub.remote, to)))
			report_one(&p->pub.rec, kind, code);
	}
	if (to) {
		struct ice_peer *pe = ice_peer_get(a, socket_id, to);
		if (pe)
			report_one(&pe->rec, kind, code);
	}
	return 0;
}

enum ice_agent_state ice_agent_state(const struct ice_agent *a, enum ice_fail_reason *reason)
{
	if (reason)
		*reason = a->reason;
	return a->state;
}

enum ice_role ice_agent_role(const struct ice_agent *a)
{
	return a->role;
}

int ice_agent_selected(const struct ice_agent *a, const struct ice_pair **out)
{
	if (a->selected < 0)
		return PBX_E_NOTFOUND;
	*out = &a->pairs[a->selected].pub;
	return 0;
}

size_t ice_agent_pair_count(const struct ice_agent *a)
{
	return a->n_pairs;
}

int ice_agent_pair(const struct ice_agent *a, size_t i, const struct ice_pair **out)
{
	if (i >= a->n_pairs)
		return PBX_E_NOTFOUND;
	*out = &a->pairs[a->order[i]].pub;
	return 0;
}

size_t ice_agent_peer_count(const struct ice_agent *a)
{
	return a->n_peers;
}

int ice_agent_peer(const struct ice_agent *a, size_t i, const struct ice_peer **out)
{
	if (i >= a->n_peers)
		return PBX_E_NOTFOUND;
	*out = &a->peers[i];
	return 0;
}

const struct ice_agent_stats *ice_agent_stats(const struct ice_agent *a)
{
	return &a->stats;
}

const char *ice_pair_state_name(enum ice_pair_state s)
{
	static const char *const n[] = {"frozen", "waiting", "in-progress", "succeeded",
					"failed"};
	return (unsigned)s < sizeof n / sizeof n[0] ? n[s] : "?";
}

const char *ice_event_name(enum ice_event_type t)
{
	static const char *const n[] = {"pair-state",   "pair-valid",    "nominated",
					"selected",     "failed",        "prflx-remote",
					"prflx-local",  "early-check",   "role-conflict",
					"role-switch",  "non-symmetric", "auth-failed",
					"consent-lost"};
	return (unsigned)t < sizeof n / sizeof n[0] ? n[t] : "?";
}

const char *ice_fail_reason_name(enum ice_fail_reason r)
{
	static const char *const n[] = {"none", "checks", "timeout", "consent"};
	return (unsigned)r < sizeof n / sizeof n[0] ? n[r] : "?";
}

const char *ice_role_name(enum ice_role r)
{
	static const char *const n[] = {"controlling", "controlled"};
	return (unsigned)r < sizeof n / sizeof n[0] ? n[r] : "?";
}
