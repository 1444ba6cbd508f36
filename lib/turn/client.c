/* client.c - the TURN client's requests and timers: Allocate with the
 * long-term credential exchange (RFC 8656 7, RFC 8489 9.2), Refresh and
 * release (RFC 8656 8), CreatePermission (9), ChannelBind (12), the
 * retransmissions and transaction timeouts of RFC 8489 6.2.1 and 6.2.2,
 * and the answers that settle them.  No I/O and no clock. */
#include <gnutls/crypto.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

enum tx_kind { TX_ALLOCATE, TX_REFRESH, TX_PERMISSION, TX_CHANNEL, TX_RELEASE };

static const uint16_t kind_method[] = {
	[TX_ALLOCATE] = STUN_ALLOCATE, [TX_REFRESH] = STUN_REFRESH,
	[TX_PERMISSION] = STUN_CREATE_PERMISSION, [TX_CHANNEL] = STUN_CHANNEL_BIND,
	[TX_RELEASE] = STUN_REFRESH,
};

#define NEVER INT64_MAX

/* ---- small helpers ---- */

static void rnd(struct turn_client *c, void *buf, size_t n)
{
	if (c->cfg.random)
		c->cfg.random(c->cfg.random_arg, buf, n);
	else if (gnutls_rnd(GNUTLS_RND_NONCE, buf, n) < 0)
		memset(buf, 0, n); /* GnuTLS fails only when broken beyond use */
}

static bool same_ip(const struct pbx_addr *a, const struct pbx_addr *b)
{
	struct pbx_cidr x, y;
	if (pbx_cidr_from_addr(a, &x) || pbx_cidr_from_addr(b, &y))
		return false;
	return x.family == y.family && memcmp(x.ip, y.ip, 16) == 0;
}

static bool addr_ok(const struct pbx_addr *a)
{
	int f = a ? pbx_addr_family(a) : 0;
	return f == AF_INET || f == AF_INET6;
}

static void result_start(struct turn_result *r, uint16_t method, int64_t now,
			 const struct pbx_addr *peer)
{
	memset(r, 0, sizeof *r);
	r->reason = TURN_R_PENDING;
	r->method = method;
	r->started = now;
	if (peer)
		r->peer = *peer;
}

static void push_event(struct turn_client *c, enum turn_event_type type, uint16_t channel,
		       const struct turn_result *r)
{
	if (c->ev_n == TURN_MAX_EVENTS) {
		/* Drop the oldest: the states stay readable through the getters. */
		c->ev_head = (c->ev_head + 1) % TURN_MAX_EVENTS;
		c->ev_n--;
		c->stats.events_lost++;
	}
	struct turn_event *e = &c->ev[(c->ev_head + c->ev_n) % TURN_MAX_EVENTS];
	e->type = (uint8_t)type;
	e->channel = channel;
	e->result = *r;
	c->ev_n++;
}

/* When to refresh something granted for life_s seconds at now: a minute
 * before it ends, or halfway for short lifetimes, so that a whole UDP
 * transaction (39.5 s) still fits. */
static int64_t refresh_time(int64_t now, uint32_t life_s)
{
	int64_t life = (int64_t)life_s * 1000;
	if (life_s > 2 * TURN_REFRESH_EARLY_S)
		return now + life - TURN_REFRESH_EARLY_S * 1000;
	return now + life / 2;
}

/* ---- building requests ---- */

static int put_auth(struct turn_client *c, struct stun_enc *e)
{
	stun_attr_put_text(e, STUN_A_USERNAME, c->user, strlen(c->user));
	stun_attr_put_text(e, STUN_A_REALM, c->realm, strlen(c->realm));
	stun_attr_put_text(e, STUN_A_NONCE, c->nonce, strlen(c->nonce));
	if (c->echo_pwalgs) {
		/* RFC 8489 9.2.4: echo the list, name the algorithm used. */
		struct stun_pwalg md5 = { STUN_PWALG_MD5, { NULL, 0 } };
		stun_attr_put_raw(e, STUN_A_PASSWORD_ALGORITHMS, c->pwalgs, c->pwalgs_len);
		stun_attr_put_password_algorithm(e, &md5);
	}
	return stun_integrity_put(e, &c->key);
}

static int build(struct turn_client *c, struct turn_tx *t)
{
	struct stun_enc e;
	size_t len;
	rnd(c, t->tid, sizeof t->tid);
	stun_msg_init(&e, t->buf, sizeof t->buf, stun_hdr_type(kind_method[t->kind], STUN_REQUEST),
		      t->tid, STUN_KIND_RFC5389);
	switch (t->kind) {
	case TX_ALLOCATE:
		stun_attr_put_transport(&e, STUN_TRANSPORT_UDP);
		/* IPv4 alone is the default: no attribute, which RFC 5766
		 * servers would not know. */
		if (c->cfg.families == TURN_AF_IPV6)
			stun_attr_put_family(&e, STUN_A_REQUESTED_ADDRESS_FAMILY, STUN_FAMILY_IPV6);
		else if (c->cfg.families == (TURN_AF_IPV4 | TURN_AF_IPV6))
			stun_attr_put_family(&e, STUN_A_ADDITIONAL_ADDRESS_FAMILY,
					     STUN_FAMILY_IPV6);
		if (c->cfg.lifetime)
			stun_attr_put_u32(&e, STUN_A_LIFETIME, c->cfg.lifetime);
		break;
	case TX_REFRESH:
		if (c->cfg.lifetime)
			stun_attr_put_u32(&e, STUN_A_LIFETIME, c->cfg.lifetime);
		break;
	case TX_RELEASE:
		stun_attr_put_u32(&e, STUN_A_LIFETIME, 0);
		break;
	case TX_PERMISSION:
		stun_attr_put_addr(&e, STUN_A_XOR_PEER_ADDRESS, &c->perm[t->ref].ip);
		break;
	case TX_CHANNEL:
		stun_attr_put_channel(&e, c->chan[t->ref].number);
		stun_attr_put_addr(&e, STUN_A_XOR_PEER_ADDRESS, &c->chan[t->ref].peer);
		break;
	}
	t->authed = c->have_key;
	if (c->have_key)
		put_auth(c, &e);
	stun_integrity_put_fingerprint(&e);
	int rc = stun_msg_finish(&e, &len);
	t->len = (uint16_t)len;
	return rc;
}

static struct turn_result *result_of(struct turn_client *c, const struct turn_tx *t)
{
	switch (t->kind) {
	case TX_ALLOCATE: return &c->alloc_r;
	case TX_REFRESH: return &c->refresh_r;
	case TX_RELEASE: return &c->release_r;
	case TX_PERMISSION: return &c->perm[t->ref].r;
	default: return &c->chan[t->ref].r;
	}
}

static void settle(struct turn_client *c, struct turn_tx *t, enum turn_reason reason,
		   int64_t now);

/* (Re)start t's request at now with a fresh transaction ID: the first
 * send is due at once. */
static void tx_restart(struct turn_client *c, struct turn_tx *t, int64_t now)
{
	t->sends = 0;
	t->rto = c->cfg.rto_ms;
	t->first = now;
	t->next_send = now;
	t->deadline = NEVER;
	if (build(c, t))
		settle(c, t, TURN_R_LOCAL, now);
}

/* A new transaction of kind for entry ref at now; false if every slot is
 * busy (the caller's entry then waits for poll). */
static bool tx_start(struct turn_client *c, enum tx_kind kind, int ref, int64_t now)
{
	for (size_t i = 0; i < TURN_MAX_TX; i++) {
		struct turn_tx *t = &c->tx[i];
		if (t->used)
			continue;
		memset(t, 0, offsetof(struct turn_tx, buf));
		t->used = 1;
		t->kind = (uint8_t)kind;
		t->ref = (int16_t)ref;
		t->started = now;
		if (kind == TX_PERMISSION) {
			c->perm[ref].tx = (int8_t)i;
			c->perm[ref].state = TURN_P_PENDING;
		} else if (kind == TX_CHANNEL) {
			c->chan[ref].tx = (int8_t)i;
			c->chan[ref].state = TURN_P_PENDING;
		}
		struct turn_result *r = result_of(c, t);
		const struct pbx_addr *peer = kind == TX_PERMISSION ? &c->perm[ref].ip
					      : kind == TX_CHANNEL  ? &c->chan[ref].peer
								    : NULL;
		result_start(r, kind_method[kind], now, peer);
		tx_restart(c, t, now);
		return true;
	}
	return false;
}

static void tx_free(struct turn_client *c, struct turn_tx *t)
{
	if (t->kind == TX_PERMISSION && c->perm[t->ref].tx == t - c->tx)
		c->perm[t->ref].tx = -1;
	if (t->kind == TX_CHANNEL && c->chan[t->ref].tx == t - c->tx)
		c->chan[t->ref].tx = -1;
	t->used = 0;
}

/* ---- settling ---- */

static void perm_touch(struct turn_client *c, const struct pbx_addr *peer, int64_t now,
		       const struct turn_result *r);

static void alloc_lost(struct turn_client *c, const struct turn_result *why)
{
	c->state = TURN_S_FAILED;
	c->refresh_at = NEVER;
	push_event(c, TURN_EV_FAILED, 0, why);
}

/* The allocation failed or ended: what waits for it will never be sent,
 * and what was installed is gone with it. */
static void cancel_waiting(struct turn_client *c, int64_t now)
{
	for (size_t i = 0; i < c->n_perm; i++) {
		struct turn_perm *p = &c->perm[i];
		p->refresh_at = NEVER;
		if (p->state == TURN_P_WAITING || p->state == TURN_P_OK) {
			p->state = TURN_P_FAILED;
			p->r.reason = TURN_R_CANCELLED;
			p->r.settled = now;
		}
	}
	for (size_t i = 0; i < c->n_chan; i++) {
		struct turn_chan *h = &c->chan[i];
		h->refresh_at = NEVER;
		if (h->state == TURN_P_WAITING || h->state == TURN_P_OK) {
			h->state = TURN_P_FAILED;
			h->r.reason = TURN_R_CANCELLED;
			h->r.settled = now;
		}
	}
}

static void settle_alloc(struct turn_client *c, struct turn_result *r, int64_t now)
{
	if (r->reason != TURN_R_OK) {
		cancel_waiting(c, now);
		alloc_lost(c, r);
		return;
	}
	c->state = TURN_S_ALLOCATED;
	c->alloc.expires = now + (int64_t)c->alloc.lifetime * 1000;
	c->refresh_at = refresh_time(now, c->alloc.lifetime);
	push_event(c, TURN_EV_ALLOCATED, 0, r);
}

static void settle_refresh(struct turn_client *c, struct turn_result *r, int64_t now)
{
	if (r->reason == TURN_R_OK) {
		c->alloc.expires = now + (int64_t)c->alloc.lifetime * 1000;
		c->refresh_at = refresh_time(now, c->alloc.lifetime);
		push_event(c, TURN_EV_REFRESHED, 0, r);
		return;
	}
	/* No answer yet the allocation may live on: try again while it has
	 * time left; anything else, or no time, and it is lost. */
	if ((r->reason == TURN_R_TIMEOUT || r->reason == TURN_R_ICMP) && now < c->alloc.expires) {
		c->refresh_at = now;
		return;
	}
	cancel_waiting(c, now);
	alloc_lost(c, r);
}

static void settle_release(struct turn_client *c, struct turn_result *r)
{
	/* 437: no such allocation any more, which is what was wanted. */
	if (r->reason == TURN_R_MISMATCH)
		r->reason = TURN_R_OK;
	c->state = TURN_S_RELEASED;
	push_event(c, TURN_EV_RELEASED, 0, r);
}

static void settle_perm(struct turn_client *c, struct turn_perm *p, int64_t now)
{
	if (p->r.reason == TURN_R_OK) {
		p->state = TURN_P_OK;
		p->refresh_at = refresh_time(now, TURN_PERMISSION_S);
	} else {
		p->state = TURN_P_FAILED;
		p->refresh_at = NEVER;
	}
	/* A refresh that keeps a permission is no news. */
	if (!(p->refreshing && p->state == TURN_P_OK))
		push_event(c, TURN_EV_PERMISSION, 0, &p->r);
	p->refreshing = 0;
}

static void settle_chan(struct turn_client *c, struct turn_chan *h, int64_t now)
{
	if (h->r.reason == TURN_R_OK) {
		h->state = TURN_P_OK;
		h->refresh_at = refresh_time(now, TURN_CHANNEL_S);
	} else {
		h->state = TURN_P_FAILED;
		h->refresh_at = NEVER;
	}
	if (!(h->refreshing && h->state == TURN_P_OK))
		push_event(c, TURN_EV_CHANNEL, h->number, &h->r);
	h->refreshing = 0;
	/* The binding installed or refreshed the permission (RFC 8656 12.2),
	 * which expires sooner: it is refreshed on its own. */
	if (h->state == TURN_P_OK)
		perm_touch(c, &h->peer, now, &h->r);
}

static void settle(struct turn_client *c, struct turn_tx *t, enum turn_reason reason,
		   int64_t now)
{
	struct turn_result *r = result_of(c, t);
	r->reason = (uint8_t)reason;
	r->sends = t->sends;
	r->stale = t->stale;
	r->settled = now;
	enum tx_kind kind = (enum tx_kind)t->kind;
	int ref = t->ref;
	tx_free(c, t);
	switch (kind) {
	case TX_ALLOCATE: settle_alloc(c, r, now); break;
	case TX_REFRESH: settle_refresh(c, r, now); break;
	case TX_RELEASE: settle_release(c, r); break;
	case TX_PERMISSION: settle_perm(c, &c->perm[ref], now); break;
	case TX_CHANNEL: settle_chan(c, &c->chan[ref], now); break;
	}
}

/* ---- answers ---- */

static void copy_phrase(struct turn_result *r, struct pbx_span s)
{
	pbx_span_escape_ascii(s, r->phrase, sizeof r->phrase, NULL);
}

static bool take_text(const struct stun_msg *m, uint16_t type, char *out, bool *too_long)
{
	size_t i;
	struct pbx_span v;
	if (stun_msg_find(m, type, 0, &i) || stun_attr_text(m, i, &v) || v.len == 0)
		return false;
	if (v.len >= TURN_TEXT_MAX || memchr(v.p, '\0', v.len)) {
		*too_long = true;
		return false;
	}
	memcpy(out, v.p, v.len);
	out[v.len] = '\0';
	return true;
}

/* The long-term key from a 401's realm, and the password algorithms to
 * echo (RFC 8489 9.2.3-9.2.4).  Returns the reason to fail, or TURN_R_OK. */
static enum turn_reason take_challenge(struct turn_client *c, const struct stun_msg *m)
{
	bool too_long = false;
	char realm[TURN_TEXT_MAX];
	if (!take_text(m, STUN_A_REALM, realm, &too_long) ||
	    !take_text(m, STUN_A_NONCE, c->nonce, &too_long))
		return too_long ? TURN_R_BAD_RESPONSE : TURN_R_AUTH;
	memcpy(c->realm, realm, sizeof realm);
	c->echo_pwalgs = false;
	uint32_t features;
	size_t i;
	if (stun_integrity_nonce_features(pbx_span_cstr(c->nonce), &features) == 0 &&
	    (features & STUN_FEATURE_PASSWORD_ALGORITHMS) &&
	    stun_msg_find(m, STUN_A_PASSWORD_ALGORITHMS, 0, &i) == 0) {
		struct stun_pwalg algs[8];
		size_t n;
		struct pbx_span raw;
		bool md5 = false;
		if (stun_attr_password_algorithms(m, i, algs, 8, &n) == 0)
			for (size_t k = 0; k < n; k++)
				md5 |= algs[k].alg == STUN_PWALG_MD5;
		if (!md5 || stun_attr_raw(m, i, &raw) || raw.len > sizeof c->pwalgs)
			return TURN_R_AUTH;
		memcpy(c->pwalgs, raw.p, raw.len);
		c->pwalgs_len = (uint16_t)raw.len;
		c->echo_pwalgs = true;
	}
	if (stun_integrity_key_long(&c->key, STUN_PWALG_MD5, pbx_span_cstr(c->user),
				    pbx_span_cstr(c->realm), pbx_span_cstr(c->password)))
		return TURN_R_LOCAL;
	c->have_key = true;
	return TURN_R_OK;
}

static enum turn_reason take_allocation(struct turn_client *c, const struct stun_msg *m)
{
	struct turn_allocation a;
	size_t i = 0;
	memset(&a, 0, sizeof a);
	while (a.n_relayed < 2 && stun_msg_find(m, STUN_A_XOR_RELAYED_ADDRESS, i, &i) == 0) {
		if (stun_attr_addr(m, i, &a.relayed[a.n_relayed]) == 0)
			a.n_relayed++;
		i++;
	}
	if (a.n_relayed == 0)
		return TURN_R_BAD_RESPONSE;
	if (stun_msg_find(m, STUN_A_XOR_MAPPED_ADDRESS, 0, &i) == 0)
		stun_attr_addr(m, i, &a.mapped);
	/* RFC 8656 7.3 requires LIFETIME; without one, the default. */
	a.lifetime = 600;
	uint32_t life;
	if (stun_msg_find(m, STUN_A_LIFETIME, 0, &i) == 0 && stun_attr_u32(m, i, &life) == 0)
		a.lifetime = life;
	if (a.lifetime == 0)
		return TURN_R_BAD_RESPONSE;
	struct stun_error err;
	uint8_t fam;
	if (stun_msg_find(m, STUN_A_ADDRESS_ERROR_CODE, 0, &i) == 0 &&
	    stun_attr_address_error(m, i, &fam, &err) == 0) {
		a.family_error = fam;
		a.family_code = err.code;
	}
	c->alloc = a;
	return TURN_R_OK;
}

static enum turn_reason take_success(struct turn_client *c, struct turn_tx *t,
				     const struct stun_msg *m)
{
	size_t i;
	uint32_t life;
	switch (t->kind) {
	case TX_ALLOCATE:
		return take_allocation(c, m);
	case TX_REFRESH:
		if (stun_msg_find(m, STUN_A_LIFETIME, 0, &i) == 0 &&
		    stun_attr_u32(m, i, &life) == 0 && life > 0)
			c->alloc.lifetime = life;
		return TURN_R_OK;
	default:
		return TURN_R_OK;
	}
}

/* An error answer to t: retried (401 with a challenge, 438), or settled. */
static void on_error(struct turn_client *c, struct turn_tx *t, const struct stun_msg *m,
		     int64_t now)
{
	struct turn_result *r = result_of(c, t);
	struct stun_error err = { 0, { NULL, 0 } };
	size_t i;
	if (stun_msg_find(m, STUN_A_ERROR_CODE, 0, &i) || stun_attr_error(m, i, &err)) {
		settle(c, t, TURN_R_BAD_RESPONSE, now);
		return;
	}
	r->code = err.code;
	copy_phrase(r, err.reason);
	if (err.code == STUN_ERR_UNAUTHENTICATED && !t->authed) {
		enum turn_reason why = take_challenge(c, m);
		if (why != TURN_R_OK) {
			settle(c, t, why, now);
			return;
		}
		r->code = 0;
		r->phrase[0] = '\0';
		tx_restart(c, t, now);
		return;
	}
	if (err.code == STUN_ERR_STALE_NONCE) {
		bool too_long = false;
		char nonce[TURN_TEXT_MAX];
		if (!take_text(m, STUN_A_NONCE, nonce, &too_long)) {
			settle(c, t, TURN_R_BAD_RESPONSE, now);
			return;
		}
		if (t->stale >= TURN_STALE_MAX) {
			t->stale++;
			settle(c, t, TURN_R_NONCE_LOOP, now);
			return;
		}
		memcpy(c->nonce, nonce, sizeof nonce);
		/* A new realm comes with a new key (RFC 8489 9.2.5). */
		char realm[TURN_TEXT_MAX];
		if (take_text(m, STUN_A_REALM, realm, &too_long) && strcmp(realm, c->realm) != 0) {
			memcpy(c->realm, realm, sizeof realm);
			if (stun_integrity_key_long(&c->key, STUN_PWALG_MD5, pbx_span_cstr(c->user),
						    pbx_span_cstr(c->realm),
						    pbx_span_cstr(c->password))) {
				settle(c, t, TURN_R_LOCAL, now);
				return;
			}
		}
		t->stale++;
		tx_restart(c, t, now);
		return;
	}
	if (err.code == STUN_ERR_TRY_ALTERNATE &&
	    stun_msg_find(m, STUN_A_ALTERNATE_SERVER, 0, &i) == 0)
		stun_attr_addr(m, i, &r->alternate);
	settle(c, t, turn_reason_of_code(err.code), now);
}

/* RFC 8489 9.2.5: responses to signed requests are checked with the key;
 * one that fails is dropped as if never received.  401 and 438 carry no
 * integrity.  Leniency: an error answer without any integrity attribute
 * is taken (servers answer some errors before they authenticate), a
 * success answer is not. */
static bool integrity_ok(struct turn_client *c, const struct turn_tx *t, const struct stun_msg *m)
{
	if (!t->authed)
		return true;
	if (m->cls == STUN_ERROR) {
		struct stun_error err;
		size_t i;
		if (stun_msg_find(m, STUN_A_ERROR_CODE, 0, &i) == 0 &&
		    stun_attr_error(m, i, &err) == 0 &&
		    (err.code == STUN_ERR_UNAUTHENTICATED || err.code == STUN_ERR_STALE_NONCE))
			return true;
		if (m->integrity < 0 && m->integrity256 < 0)
			return true;
	}
	enum stun_integrity res;
	if (stun_integrity_check(m, &c->key, STUN_SHA256_FULL, &res))
		return false;
	return res == STUN_INTEGRITY_OK_SHA1 || res == STUN_INTEGRITY_OK_SHA256;
}

static enum turn_drop on_data(const struct stun_msg *m, struct turn_input *in)
{
	size_t i;
	struct pbx_span v;
	if (stun_msg_find(m, STUN_A_XOR_PEER_ADDRESS, 0, &i) ||
	    stun_attr_addr(m, i, &in->peer))
		return TURN_DROP_INDICATION;
	if (stun_msg_find(m, STUN_A_ICMP, 0, &i) == 0 && stun_attr_icmp(m, i, &in->icmp_v) == 0) {
		in->icmp = true;
		in->data = true;
		return TURN_DROP_NONE;
	}
	if (stun_msg_find(m, STUN_A_DATA, 0, &i) || stun_attr_text(m, i, &v))
		return TURN_DROP_INDICATION;
	in->data = true;
	in->channel = 0;
	in->p = (const uint8_t *)v.p;
	in->len = v.len;
	return TURN_DROP_NONE;
}

enum turn_drop turn_on_stun(struct turn_client *c, const struct stun_msg *m, int64_t now,
			    struct turn_input *in)
{
	if (m->cls == STUN_REQUEST)
		return TURN_DROP_REQUEST;
	if (m->cls == STUN_INDICATION) {
		if (m->method != STUN_DATA || m->kind != STUN_KIND_RFC5389)
			return TURN_DROP_INDICATION;
		if (c->state != TURN_S_ALLOCATED && c->state != TURN_S_RELEASING)
			return TURN_DROP_STATE;
		enum turn_drop d = on_data(m, in);
		if (d == TURN_DROP_NONE && !in->icmp)
			c->stats.data_in_data++;
		return d;
	}
	if (m->kind != STUN_KIND_RFC5389)
		return TURN_DROP_UNMATCHED;
	struct turn_tx *t = NULL;
	for (size_t i = 0; i < TURN_MAX_TX; i++)
		if (c->tx[i].used && c->tx[i].sends && memcmp(c->tx[i].tid, m->tid, STUN_TID_LEN) == 0 &&
		    kind_method[c->tx[i].kind] == m->method)
			t = &c->tx[i];
	if (!t)
		return TURN_DROP_UNMATCHED;
	if (!integrity_ok(c, t, m))
		return TURN_DROP_INTEGRITY;
	if (m->cls == STUN_ERROR) {
		on_error(c, t, m, now);
		return TURN_DROP_NONE;
	}
	settle(c, t, take_success(c, t, m), now);
	return TURN_DROP_NONE;
}

void turn_fail_all(struct turn_client *c, enum turn_reason reason, int64_t now,
		   const struct stun_icmp *icmp)
{
	for (size_t i = 0; i < TURN_MAX_TX; i++) {
		struct turn_tx *t = &c->tx[i];
		if (!t->used)
			continue;
		if (icmp)
			result_of(c, t)->icmp = *icmp;
		settle(c, t, reason, now);
	}
}

/* ---- the caller's side ---- */

int turn_client_init(struct turn_client *c, const struct turn_client_config *cfg)
{
	memset(c, 0, sizeof *c);
	if (cfg->transport > TURN_TLS || (cfg->families & ~(TURN_AF_IPV4 | TURN_AF_IPV6)) ||
	    cfg->user.len == 0)
		return PBX_E_INVALID;
	if (cfg->user.len >= TURN_TEXT_MAX || cfg->password.len >= TURN_TEXT_MAX)
		return PBX_E_TOOLONG;
	c->cfg = *cfg;
	c->cfg.user = (struct pbx_span){ NULL, 0 };
	c->cfg.password = (struct pbx_span){ NULL, 0 };
	if (!c->cfg.families)
		c->cfg.families = TURN_AF_IPV4;
	if (!c->cfg.rto_ms)
		c->cfg.rto_ms = TURN_RTO_MS;
	if (!c->cfg.max_sends)
		c->cfg.max_sends = TURN_RC;
	memcpy(c->user, cfg->user.p, cfg->user.len);
	if (cfg->password.len)
		memcpy(c->password, cfg->password.p, cfg->password.len);
	c->refresh_at = NEVER;
	c->next_channel = TURN_CHANNEL_FIRST;
	rnd(c, c->ind_tid, sizeof c->ind_tid);
	return 0;
}

void turn_client_cleanup(struct turn_client *c)
{
	explicit_bzero(c->password, sizeof c->password);
	explicit_bzero(&c->key, sizeof c->key);
	c->have_key = false;
}

int turn_client_allocate(struct turn_client *c, int64_t now)
{
	if (c->state != TURN_S_IDLE)
		return PBX_E_INVALID;
	c->state = TURN_S_ALLOCATING;
	if (!tx_start(c, TX_ALLOCATE, -1, now)) {
		result_start(&c->alloc_r, STUN_ALLOCATE, now, NULL);
		settle_alloc(c, &c->alloc_r, now); /* cannot happen: all slots free */
	}
	return 0;
}

int turn_client_release(struct turn_client *c, int64_t now)
{
	if (c->state == TURN_S_RELEASING || c->state == TURN_S_RELEASED)
		return PBX_E_INVALID;
	/* A signed Allocate may have made an allocation already: delete it
	 * too (a 437 then says there was none). */
	bool had = c->state == TURN_S_ALLOCATED || (c->state == TURN_S_ALLOCATING && c->have_key);
	for (size_t i = 0; i < TURN_MAX_TX; i++) {
		struct turn_tx *t = &c->tx[i];
		if (!t->used)
			continue;
		if (t->kind == TX_PERMISSION || t->kind == TX_CHANNEL) {
			settle(c, t, TURN_R_CANCELLED, now);
			continue;
		}
		struct turn_result *r = result_of(c, t);
		r->reason = TURN_R_CANCELLED;
		r->settled = now;
		tx_free(c, t);
	}
	cancel_waiting(c, now);
	c->refresh_at = NEVER;
	result_start(&c->release_r, STUN_REFRESH, now, NULL);
	if (!had) {
		c->release_r.reason = TURN_R_OK;
		c->release_r.settled = now;
		c->state = TURN_S_RELEASED;
		push_event(c, TURN_EV_RELEASED, 0, &c->release_r);
		return 0;
	}
	c->state = TURN_S_RELEASING;
	tx_start(c, TX_RELEASE, -1, now);
	return 0;
}

static bool may_ask(const struct turn_client *c)
{
	return c->state == TURN_S_IDLE || c->state == TURN_S_ALLOCATING ||
	       c->state == TURN_S_ALLOCATED;
}

static int perm_find(const struct turn_client *c, const struct pbx_addr *peer)
{
	for (size_t i = 0; i < c->n_perm; i++)
		if (same_ip(&c->perm[i].ip, peer))
			return (int)i;
	return -1;
}

static int perm_add(struct turn_client *c, const struct pbx_addr *peer)
{
	if (c->n_perm == TURN_MAX_PERMS)
		return -1;
	struct turn_perm *p = &c->perm[c->n_perm];
	memset(p, 0, sizeof *p);
	p->ip = *peer;
	p->tx = -1;
	p->refresh_at = NEVER;
	return (int)c->n_perm++;
}

/* A channel binding installed the permission for peer's address too. */
static void perm_touch(struct turn_client *c, const struct pbx_addr *peer, int64_t now,
		       const struct turn_result *r)
{
	int k = perm_find(c, peer);
	if (k < 0) {
		k = perm_add(c, peer);
		if (k < 0)
			return; /* table full: the channel's refreshes keep it for 10 min */
		c->perm[k].r = *r;
		c->perm[k].r.method = STUN_CHANNEL_BIND;
	}
	struct turn_perm *p = &c->perm[k];
	if (p->state == TURN_P_PENDING)
		return; /* its own request settles it */
	if (p->state != TURN_P_OK) {
		p->r = *r;
		p->r.method = STUN_CHANNEL_BIND;
		p->state = TURN_P_OK;
		push_event(c, TURN_EV_PERMISSION, 0, &p->r);
	}
	p->refresh_at = refresh_time(now, TURN_PERMISSION_S);
}

int turn_client_permit(struct turn_client *c, const struct pbx_addr *peer, int64_t now)
{
	if (!addr_ok(peer) || !may_ask(c))
		return PBX_E_INVALID;
	int k = perm_find(c, peer);
	if (k < 0 && (k = perm_add(c, peer)) < 0)
		return PBX_E_NOSPACE;
	struct turn_perm *p = &c->perm[k];
	if (p->state == TURN_P_NONE || p->state == TURN_P_FAILED) {
		p->ip = *peer;
		p->state = TURN_P_WAITING;
		result_start(&p->r, STUN_CREATE_PERMISSION, now, peer);
		p->refresh_at = now;
	}
	return 0;
}

int turn_client_bind(struct turn_client *c, const struct pbx_addr *peer, int64_t now)
{
	if (!addr_ok(peer) || !may_ask(c))
		return PBX_E_INVALID;
	int k = -1;
	for (size_t i = 0; i < c->n_chan; i++)
		if (pbx_addr_equal(&c->chan[i].peer, peer))
			k = (int)i;
	if (k < 0) {
		if (c->n_chan == TURN_MAX_CHANNELS)
			return PBX_E_NOSPACE;
		k = (int)c->n_chan++;
		struct turn_chan *h = &c->chan[k];
		memset(h, 0, sizeof *h);
		h->peer = *peer;
		h->tx = -1;
		/* Numbers are never reused: a binding cannot move to another
		 * peer while it lives, nor for 5 minutes after (RFC 8656 12). */
		h->number = c->next_channel++;
	}
	struct turn_chan *h = &c->chan[k];
	if (h->state == TURN_P_NONE || h->state == TURN_P_FAILED) {
		h->state = TURN_P_WAITING;
		result_start(&h->r, STUN_CHANNEL_BIND, now, peer);
		h->refresh_at = now;
	}
	return 0;
}

const struct turn_chan *turn_chan_by_number(const struct turn_client *c, uint16_t ch)
{
	for (size_t i = 0; i < c->n_chan; i++)
		if (c->chan[i].number == ch &&
		    (c->chan[i].state == TURN_P_OK || c->chan[i].state == TURN_P_PENDING))
			return &c->chan[i];
	return NULL;
}

const struct turn_chan *turn_chan_by_peer(const struct turn_client *c,
					  const struct pbx_addr *peer)
{
	for (size_t i = 0; i < c->n_chan; i++)
		if (pbx_addr_equal(&c->chan[i].peer, peer))
			return &c->chan[i];
	return NULL;
}

/* ---- timers ---- */

static void run_timeouts(struct turn_client *c, int64_t now)
{
	for (size_t i = 0; i < TURN_MAX_TX; i++) {
		struct turn_tx *t = &c->tx[i];
		if (t->used && t->deadline <= now)
			settle(c, t, TURN_R_TIMEOUT, now);
	}
	if (c->state == TURN_S_ALLOCATED && now >= c->alloc.expires) {
		/* Refreshes never got through: the server has let it go. */
		for (size_t i = 0; i < TURN_MAX_TX; i++)
			if (c->tx[i].used && c->tx[i].kind == TX_REFRESH)
				tx_free(c, &c->tx[i]);
		c->refresh_r.reason = TURN_R_TIMEOUT;
		c->refresh_r.settled = now;
		cancel_waiting(c, now);
		alloc_lost(c, &c->refresh_r);
	}
}

static bool refresh_busy(const struct turn_client *c)
{
	for (size_t i = 0; i < TURN_MAX_TX; i++)
		if (c->tx[i].used && c->tx[i].kind == TX_REFRESH)
			return true;
	return false;
}

/* Start what is due: the allocation's refresh, permissions and channels
 * waiting or due for a refresh.  A refresh keeps its entry's state OK. */
static void run_schedule(struct turn_client *c, int64_t now)
{
	if (c->state != TURN_S_ALLOCATED)
		return;
	if (c->refresh_at <= now && !refresh_busy(c) && tx_start(c, TX_REFRESH, -1, now))
		c->refresh_at = NEVER;
	for (size_t i = 0; i < c->n_perm; i++) {
		struct turn_perm *p = &c->perm[i];
		if (p->tx >= 0 || p->refresh_at > now)
			continue;
		bool refresh = p->state == TURN_P_OK;
		if (!tx_start(c, TX_PERMISSION, (int)i, now))
			return;
		if (refresh && p->tx >= 0) {
			/* Still installed meanwhile; news only if it fails. */
			p->state = TURN_P_OK;
			p->refreshing = 1;
		}
	}
	for (size_t i = 0; i < c->n_chan; i++) {
		struct turn_chan *h = &c->chan[i];
		if (h->tx >= 0 || h->refresh_at > now)
			continue;
		bool refresh = h->state == TURN_P_OK;
		if (!tx_start(c, TX_CHANNEL, (int)i, now))
			return;
		if (refresh && h->tx >= 0) {
			h->state = TURN_P_OK;
			h->refreshing = 1;
		}
	}
}

static void sent(struct turn_client *c, struct turn_tx *t, int64_t now)
{
	static const int slot[] = { [TX_ALLOCATE] = 0, [TX_REFRESH] = 1, [TX_PERMISSION] = 2,
				    [TX_CHANNEL] = 3, [TX_RELEASE] = 4 };
	c->stats.sent[slot[t->kind]]++;
	t->sends++;
	if (t->sends == 1) {
		t->first = now;
		int64_t cap = c->cfg.transport == TURN_UDP ? NEVER : TURN_TI_MS;
		if (c->cfg.tx_cap_ms && c->cfg.tx_cap_ms < cap)
			cap = c->cfg.tx_cap_ms;
		t->deadline = cap == NEVER ? NEVER : now + cap;
	}
	if (c->cfg.transport != TURN_UDP) {
		t->next_send = NEVER; /* the stream retransmits (RFC 8489 6.2.2) */
		return;
	}
	/* RFC 8489 6.2.1: RTO doubling after each send; after the last (Rc),
	 * Rm times the first RTO. */
	if (t->sends < c->cfg.max_sends) {
		t->next_send = now + t->rto;
		t->rto *= 2;
	} else {
		t->next_send = NEVER;
		int64_t end = now + (int64_t)TURN_RM * c->cfg.rto_ms;
		if (end < t->deadline)
			t->deadline = end;
	}
	if (t->next_send >= t->deadline)
		t->next_send = NEVER;
}

int turn_client_poll(struct turn_client *c, int64_t now, void *buf, size_t cap, size_t *len)
{
	*len = 0;
	run_timeouts(c, now);
	run_schedule(c, now);
	struct turn_tx *due = NULL;
	for (size_t i = 0; i < TURN_MAX_TX; i++) {
		struct turn_tx *t = &c->tx[i];
		if (t->used && t->next_send <= now && (!due || t->next_send < due->next_send))
			due = t;
	}
	if (!due)
		return 0;
	if (cap < due->len)
		return PBX_E_NOSPACE;
	memcpy(buf, due->buf, due->len);
	*len = due->len;
	sent(c, due, now);
	return 0;
}

int64_t turn_client_deadline(const struct turn_client *c)
{
	int64_t d = NEVER;
	for (size_t i = 0; i < TURN_MAX_TX; i++) {
		const struct turn_tx *t = &c->tx[i];
		if (!t->used)
			continue;
		if (t->next_send < d)
			d = t->next_send;
		if (t->deadline < d)
			d = t->deadline;
	}
	if (c->state == TURN_S_ALLOCATED) {
		if (c->refresh_at < d)
			d = c->refresh_at;
		if (c->alloc.expires < d)
			d = c->alloc.expires;
		/* With every slot busy, waiting entries wait for a slot, not a
		 * time. */
		bool free_slot = false;
		for (size_t i = 0; i < TURN_MAX_TX; i++)
			free_slot |= !c->tx[i].used;
		for (size_t i = 0; free_slot && i < c->n_perm; i++)
			if (c->perm[i].tx < 0 && c->perm[i].refresh_at < d)
				d = c->perm[i].refresh_at;
		for (size_t i = 0; free_slot && i < c->n_chan; i++)
			if (c->chan[i].tx < 0 && c->chan[i].refresh_at < d)
				d = c->chan[i].refresh_at;
	}
	return d == NEVER ? -1 : d;
}

void turn_lost(struct turn_client *c, enum turn_reason reason, int64_t now)
{
	turn_fail_all(c, reason, now, NULL);
	if (c->state == TURN_S_ALLOCATED) {
		struct turn_result r;
		result_start(&r, STUN_REFRESH, now, NULL);
		r.reason = (uint8_t)reason;
		r.settled = now;
		c->refresh_r = r;
		cancel_waiting(c, now);
		alloc_lost(c, &r);
	}
}

void turn_client_closed(struct turn_client *c, int64_t now)
{
	turn_lost(c, TURN_R_CLOSED, now);
}

void turn_client_icmp(struct turn_client *c, uint8_t type, uint8_t code, int64_t now)
{
	struct stun_icmp icmp = { type, code, 0 };
	turn_fail_all(c, TURN_R_ICMP, now, &icmp);
}

bool turn_client_event(struct turn_client *c, struct turn_event *ev)
{
	if (!c->ev_n)
		return false;
	*ev = c->ev[c->ev_head];
	c->ev_head = (c->ev_head + 1) % TURN_MAX_EVENTS;
	c->ev_n--;
	return true;
}

enum turn_state turn_client_state(const struct turn_client *c)
{
	return (enum turn_state)c->state;
}

void turn_client_allocation(const struct turn_client *c, struct turn_allocation *a,
			    struct turn_result *r)
{
	if (a)
		*a = c->alloc;
	if (r)
		*r = c->alloc_r;
}

void turn_client_refresh_result(const struct turn_client *c, struct turn_result *r)
{
	*r = c->refresh_r;
}

void turn_client_release_result(const struct turn_client *c, struct turn_result *r)
{
	*r = c->release_r;
}

enum turn_peer_state turn_client_permission(const struct turn_client *c,
					    const struct pbx_addr *peer, struct turn_result *r)
{
	int k = perm_find(c, peer);
	if (k < 0)
		return TURN_P_NONE;
	if (r)
		*r = c->perm[k].r;
	return (enum turn_peer_state)c->perm[k].state;
}

enum turn_peer_state turn_client_channel(const struct turn_client *c, const struct pbx_addr *peer,
					 uint16_t *ch, struct turn_result *r)
{
	const struct turn_chan *h = turn_chan_by_peer(c, peer);
	if (!h)
		return TURN_P_NONE;
	if (ch)
		*ch = h->number;
	if (r)
		*r = h->r;
	return (enum turn_peer_state)h->state;
}

const struct turn_stats *turn_client_stats(const struct turn_client *c)
{
	return &c->stats;
}
