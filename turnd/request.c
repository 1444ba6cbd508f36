/* request.c - one STUN message from a TURN client: decoding, Binding (so a
 * box with only turnd serves STUN too), the method table, long-term
 * authentication with realm and nonce (RFC 8656 section 5, RFC 8489 9.2)
 * with static accounts and TURN REST credentials, and the answers' common
 * parts (errors, integrity, fingerprint). */
#include <string.h>

#include <pbxedge/log.h>
#include <pbxedge/turn.h>

#include "turnd.h"

static const struct turnd_method *const methods[] = {
	&method_allocate, &method_refresh, &method_permission, &method_channel_bind,
	&method_send,
};

#define MAX_UNKNOWN 16

/* Binding is answered without authentication (a STUN server has no
 * short-term credentials to check): credentials a client sends along, as
 * ICE agents do, are ignored rather than refused. */
static const uint16_t binding_understood[] = {
	STUN_A_USERNAME, STUN_A_MESSAGE_INTEGRITY, STUN_A_MESSAGE_INTEGRITY_SHA256,
	STUN_A_REALM, STUN_A_NONCE, STUN_A_PASSWORD_ALGORITHM, STUN_A_USERHASH,
	STUN_A_PRIORITY, STUN_A_USE_CANDIDATE,
};

/* Attributes of authentication, understood by every authenticated method. */
static const uint16_t auth_understood[] = {
	STUN_A_USERNAME, STUN_A_MESSAGE_INTEGRITY, STUN_A_MESSAGE_INTEGRITY_SHA256,
	STUN_A_REALM, STUN_A_NONCE, STUN_A_PASSWORD_ALGORITHM, STUN_A_USERHASH,
};

static void finish(struct turnd_req *r, struct stun_enc *e, bool sign)
{
	if (sign)
		r->sha256 ? stun_integrity_put_sha256(e, &r->key, STUN_SHA256_FULL)
			  : stun_integrity_put(e, &r->key);
	if (r->m->fingerprint >= 0)
		stun_integrity_put_fingerprint(e);
	if (stun_msg_finish(e, &r->len))
		r->len = 0;
}

void request_begin_success(struct turnd_req *r, struct stun_enc *e)
{
	stun_msg_init_reply(e, r->buf, r->cap, r->m, STUN_SUCCESS);
}

void request_end(struct turnd_req *r, struct stun_enc *e)
{
	finish(r, e, r->user[0] != '\0');
}

static enum turnd_counter error_counter(int code)
{
	switch (code) {
	case STUN_ERR_FORBIDDEN: return C_FORBIDDEN_PEERS;
	case STUN_ERR_QUOTA_REACHED: return C_QUOTA;
	case STUN_ERR_INSUFFICIENT_CAPACITY: return C_CAPACITY;
	case STUN_ERR_ALLOCATION_MISMATCH: return C_MISMATCH;
	case STUN_ERR_UNKNOWN_ATTRIBUTE: return C_UNKNOWN_ATTR;
	case STUN_ERR_STALE_NONCE: return C_STALE_NONCES;
	default: return C_BAD_REQUEST;
	}
}

/* An error answer with REALM and NONCE (401, 438): a fresh nonce. */
static void challenge(struct turnd_req *r, int code)
{
	struct stun_enc e;
	char nonce[32];
	const char *realm = r->snap->setting_str[STORE_SET_TURND_REALM];
	auth_nonce_make(r->ctx->shared->nonce_secret, &r->from->client, r->unix_now, nonce,
			sizeof nonce);
	stun_msg_init_reply(&e, r->buf, r->cap, r->m, STUN_ERROR);
	stun_attr_put_error(&e, code, NULL);
	stun_attr_put_text(&e, STUN_A_REALM, realm, strlen(realm));
	stun_attr_put_text(&e, STUN_A_NONCE, nonce, strlen(nonce));
	finish(r, &e, false);
	r->tw->count[C_ERRORS]++;
}

void request_error(struct turnd_req *r, int code)
{
	struct stun_enc e;
	stun_msg_init_reply(&e, r->buf, r->cap, r->m, STUN_ERROR);
	stun_attr_put_error(&e, code, NULL);
	finish(r, &e, r->user[0] != '\0');
	r->tw->count[C_ERRORS]++;
	if (code != STUN_ERR_UNAUTHENTICATED)
		r->tw->count[error_counter(code)]++;
}

static void unknown_attributes(struct turnd_req *r, const uint16_t *types, size_t n)
{
	struct stun_enc e;
	stun_msg_init_reply(&e, r->buf, r->cap, r->m, STUN_ERROR);
	stun_attr_put_error(&e, STUN_ERR_UNKNOWN_ATTRIBUTE, NULL);
	stun_attr_put_unknown(&e, types, n);
	finish(r, &e, false);
	r->tw->count[C_ERRORS]++;
	r->tw->count[C_UNKNOWN_ATTR]++;
}

/* The comprehension-required attributes m carries that the method does
 * not understand; true if an answer (420) was made. */
static bool unknown_check(struct turnd_req *r, const struct turnd_method *md)
{
	uint16_t understood[64], out[MAX_UNKNOWN];
	size_t n = 0, found = 0;
	for (size_t i = 0; i < sizeof auth_understood / sizeof auth_understood[0]; i++)
		understood[n++] = auth_understood[i];
	for (size_t i = 0; i < md->n_understood && n < 64; i++)
		understood[n++] = md->understood[i];
	stun_msg_unknown(r->m, understood, n, out, MAX_UNKNOWN, &found);
	if (!found)
		return false;
	if (r->m->cls == STUN_REQUEST)
		unknown_attributes(r, out, found);
	return true;
}

static void binding(struct turnd_req *r)
{
	uint16_t out[MAX_UNKNOWN];
	size_t found = 0;
	stun_msg_unknown(r->m, binding_understood,
			 sizeof binding_understood / sizeof binding_understood[0], out, MAX_UNKNOWN,
			 &found);
	if (found) {
		unknown_attributes(r, out, found);
		return;
	}
	struct stun_enc e;
	request_begin_success(r, &e);
	stun_attr_put_addr(&e, STUN_A_XOR_MAPPED_ADDRESS, &r->from->client);
	finish(r, &e, false);
	r->tw->count[C_BINDINGS]++;
}

static bool text_attr(const struct stun_msg *m, uint16_t type, struct pbx_span *v)
{
	size_t i;
	return stun_msg_find(m, type, 0, &i) == 0 && stun_attr_text(m, i, v) == 0;
}

/* Check one candidate key; true if the message's integrity matches. */
static bool key_matches(struct turnd_req *r, const struct stun_key *key)
{
	enum stun_integrity res;
	if (stun_integrity_check(r->m, key, STUN_SHA256_FULL, &res))
		return false;
	if (res == STUN_INTEGRITY_OK_SHA1 || res == STUN_INTEGRITY_OK_SHA256) {
		r->key = *key;
		r->sha256 = res == STUN_INTEGRITY_OK_SHA256;
		return true;
	}
	return false;
}

/* Long-term authentication (RFC 8489 9.2.4).  Returns true when the
 * request may go on; otherwise the answer (or nothing) is made. */
static bool authenticate(struct turnd_req *r)
{
	const struct stun_msg *m = r->m;
	struct pbx_span user, realm, nonce;
	if (m->integrity < 0 && m->integrity256 < 0) {
		/* The first round of every client: no credentials yet. */
		r->tw->count[C_UNAUTHENTICATED]++;
		challenge(r, STUN_ERR_UNAUTHENTICATED);
		return false;
	}
	if (!text_attr(m, STUN_A_USERNAME, &user) || !text_attr(m, STUN_A_REALM, &realm) ||
	    !text_attr(m, STUN_A_NONCE, &nonce) || user.len == 0) {
		request_error(r, STUN_ERR_BAD_REQUEST);
		return false;
	}
	int nc = auth_nonce_check(r->ctx->shared->nonce_secret, &r->from->client, r->unix_now,
				  nonce);
	if (nc) {
		challenge(r, STUN_ERR_STALE_NONCE);
		r->tw->count[C_STALE_NONCES]++;
		return false;
	}
	bool ok = false;
	const char *why = "wrong-credentials";
	const struct store_turn_account *acc = store_snapshot_turn_account(r->snap, user);
	size_t i;
	bool want_sha256 = false;
	struct stun_pwalg alg;
	if (stun_msg_find(m, STUN_A_PASSWORD_ALGORITHM, 0, &i) == 0 &&
	    stun_attr_password_algorithm(m, i, &alg) == 0 && alg.alg == STUN_PWALG_SHA256)
		want_sha256 = true;
	if (acc) {
		struct stun_key key;
		if (want_sha256)
			stun_integrity_key_set(&key, acc->key_sha256, 32);
		else
			stun_integrity_key_set(&key, acc->key_md5, 16);
		ok = pbx_span_eq(realm, pbx_span_cstr(acc->realm)) && key_matches(r, &key);
	} else if (r->snap->n_turn_secrets) {
		int64_t expiry;
		if (turn_rest_expiry(user, &expiry)) {
			why = "unknown-user";
		} else if (expiry <= r->unix_now) {
			why = "rest-expired";
		} else {
			for (size_t s = 0; !ok && s < r->snap->n_turn_secrets; s++) {
				char pw[32];
				struct stun_key key;
				if (turn_rest_password(pbx_span_cstr(r->snap->turn_secrets[s]), user,
						       pw, sizeof pw) ||
				    stun_integrity_key_long(&key, want_sha256 ? STUN_PWALG_SHA256
									      : STUN_PWALG_MD5,
							    user, realm, pbx_span_cstr(pw)))
					continue;
				ok = key_matches(r, &key);
			}
		}
	} else {
		why = "unknown-user";
	}
	if (!ok) {
		char u[96];
		pbx_span_escape(user, u, sizeof u, NULL);
		r->tw->count[C_WRONG_CREDENTIALS]++;
		worker_suspicious(r->tw, &r->from->client, why);
		char c[PBX_ADDRSTRLEN];
		pbx_addr_format(&r->from->client, c, sizeof c);
		pbx_log_info("refused client=%s method=%s user=\"%s\" reason=%s", c,
			     stun_names_method(m->method), u, why);
		challenge(r, STUN_ERR_UNAUTHENTICATED);
		return false;
	}
	pbx_span_copy(user, r->user, sizeof r->user);
	if (r->alloc && strcmp(r->alloc->user, r->user) != 0) {
		/* RFC 8656 5: the allocation's credentials only. */
		request_error(r, STUN_ERR_WRONG_CREDENTIALS);
		worker_suspicious(r->tw, &r->from->client, "other-users-allocation");
		return false;
	}
	return true;
}

void request_message(struct turnd_req *r, const uint8_t *p, size_t len)
{
	struct stun_msg m;
	r->len = 0;
	r->user[0] = '\0';
	r->sha256 = false;
	r->m = &m;
	if (stun_msg_decode(&m, p, len)) {
		worker_drop(r->tw, (enum turnd_counter)(C_DROP_BASE + m.drop), &r->from->client,
			    m.drop_off, p, len);
		return;
	}
	if (m.kind != STUN_KIND_RFC5389 || m.cls == STUN_SUCCESS || m.cls == STUN_ERROR) {
		worker_drop(r->tw, C_DROP_NOT_REQUEST, &r->from->client, 0, p, len);
		return;
	}
	if (m.method == STUN_BINDING) {
		if (m.cls == STUN_REQUEST)
			binding(r);
		return; /* Binding indications are keep-alives */
	}
	const struct turnd_method *md = NULL;
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (methods[i]->method == m.method)
			md = methods[i];
	if (!md || (m.cls == STUN_REQUEST && !md->request) ||
	    (m.cls == STUN_INDICATION && !md->indication)) {
		if (m.cls == STUN_REQUEST)
			request_error(r, STUN_ERR_BAD_REQUEST);
		else
			worker_drop(r->tw, C_DROP_NOT_REQUEST, &r->from->client, 0, p, len);
		return;
	}
	if (unknown_check(r, md))
		return;
	if (m.cls == STUN_INDICATION) {
		if (!r->alloc) {
			r->tw->count[C_DROP_NO_ALLOCATION]++;
			return;
		}
		md->indication(r);
		return;
	}
	if (md->auth && !authenticate(r))
		return;
	if (md->needs_alloc && !r->alloc) {
		request_error(r, STUN_ERR_ALLOCATION_MISMATCH);
		return;
	}
	md->request(r);
}

enum turnd_policy request_peer_policy(struct turnd_req *r, const struct pbx_addr *peer)
{
	struct pbx_addr own[2 * TURND_MAX_LISTEN];
	const struct turnd_config *cfg = &r->ctx->cfg;
	size_t n = 0;
	for (size_t k = 0; k < cfg->n_listen; k++)
		own[n++] = cfg->listen[k];
	for (size_t k = 0; k < cfg->n_tls_listen; k++)
		own[n++] = cfg->tls_listen[k];
	if (n < 2 * TURND_MAX_LISTEN)
		own[n++] = r->from->local; /* the address reached, behind a wildcard */
	enum turnd_policy v = policy_check(peer, cfg->allow, cfg->n_allow, cfg->deny, cfg->n_deny,
					   own, n);
	/* Another allocation of ours: a relay port in use on an address we
	 * relay on (the listening ports stay refused as own-address). */
	if (v == POLICY_PRIVATE || v == POLICY_LINK_LOCAL || v == POLICY_OWN) {
		if (n < 2 * TURND_MAX_LISTEN && pbx_addr_family(&r->ctx->external))
			own[n++] = r->ctx->external;
		if (policy_relayed(peer, own, n) &&
		    ports_held(r->ctx->shared->ports, pbx_addr_port(peer)))
			v = POLICY_OK;
	}
	return v;
}

int request_peer(struct turnd_req *r, size_t i, struct pbx_addr *peer)
{
	if (stun_attr_addr(r->m, i, peer)) {
		request_error(r, STUN_ERR_BAD_REQUEST);
		return STUN_ERR_BAD_REQUEST;
	}
	if (pbx_addr_family(peer) != pbx_addr_family(&r->alloc->relay)) {
		request_error(r, STUN_ERR_PEER_ADDRESS_FAMILY);
		return STUN_ERR_PEER_ADDRESS_FAMILY;
	}
	enum turnd_policy v = request_peer_policy(r, peer);
	if (v != POLICY_OK) {
		char c[PBX_ADDRSTRLEN], pa[PBX_ADDRSTRLEN];
		pbx_addr_format(&r->from->client, c, sizeof c);
		pbx_addr_format(peer, pa, sizeof pa);
		pbx_log_info("refused client=%s user=%s method=%s peer=%s reason=peer-%s", c,
			     r->user, stun_names_method(r->m->method), pa, policy_name(v));
		/* ICE agents ask for their peers' private host candidates in
		 * every call: refused, but no sign of abuse.  Counting them
		 * blacklisted a NAT's address after a few calls. */
		if (v != POLICY_PRIVATE && v != POLICY_LINK_LOCAL)
			worker_suspicious(r->tw, &r->from->client, "forbidden-peer");
		request_error(r, STUN_ERR_FORBIDDEN);
		return STUN_ERR_FORBIDDEN;
	}
	return 0;
}
