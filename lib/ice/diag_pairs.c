/* diag_pairs.c - the pair half of the ICE diagnosis: from a snapshot of a
 * run of connectivity checks (struct ice_diag_input) to success, or to one
 * failure or abort with a stable reason code, a line with addresses and
 * counts, and a hint.
 *
 * Precedence, first match wins:
 *
 *  1. Success: a selected, nominated pair whose consent holds.  Consent
 *     lost after selection (RFC 7675) fails as consent-lost: the checks
 *     worked, so no check-time evidence applies.  But when checks came
 *     from the peer and not one passed here (MESSAGE-INTEGRITY or
 *     USERNAME wrong), the selection is ours alone: the peer validates a
 *     pair only by a check of its own that we answer (RFC 8445 7.2.5.3),
 *     so it can never complete, and the path works one way.  That fails
 *     as ice-auth-in.
 *  2. Aborted, only while the local checks had not concluded (pairs still
 *     frozen, waiting or in progress, or candidates still expected): the
 *     administrator's interrupt first (a deliberate act explains the end
 *     whatever else happened), then the peer closing its side (RFC 8863:
 *     we were still waiting for it), then the time limit (the agent's or
 *     the caller's; also a run still going with no cause set: the
 *     caller stopped waiting).  The evidence so far goes in the hint.
 *     Once every pair has succeeded or failed, an abort changes nothing:
 *     the run is judged on its evidence below.  A pair whose checks can
 *     never leave counts as done: its relay refused the permission for
 *     its remote address, or the relay was lost (a certain local cause:
 *     a peer that leaves then leaves because of it, and ABORTED keeps
 *     meaning that nothing in the record explains the end).  But every
 *     pair failed with the agent still running is RFC 8863's wait for
 *     the peer's checks (the PAC timer): still not concluded, unless the
 *     evidence below is certain (ice-auth-out, ice-auth-in, or every
 *     pair's relay refused or lost), since a late check from the peer
 *     would fail the same way.
 *  3. Absence: no local candidate, no remote candidate, no pair (families
 *     with nothing in common).  Nothing could be checked, so no record
 *     can say more.
 *  4. mangled: the remote description's default address is none of its
 *     candidates, so something rewrote the SDP on the way; what the
 *     checks then saw is a consequence of that.
 *  5. TURN: a permission refused (a check through that relay never left
 *     it), then an allocation lost.  These explain silence that would
 *     otherwise read as no-response, so they blame only when no answer of
 *     any kind came back to our checks: a server refusing the peer's
 *     private addresses by policy is routine, and when another path got
 *     answers (even 401s) the refusal is not why the run failed.
 *  6. Authentication: our checks rejected with 401 (or answers failing
 *     integrity) before their checks failing here, each only when no
 *     check of that direction passed: an answer of any kind proves the
 *     path, so these beat every path pattern.
 *  7. role-conflict: 487s and no success; also an answer on the path.
 *  8. non-symmetric: answers only from other addresses than checked.
 *  9. Path patterns: one-way-in (their checks arrive, ours are
 *     unanswered), one-way-out (ours answered, theirs never arrive),
 *     no-response (nothing either way).
 * 10. checks-failed: anything else (400s, other error codes).
 *
 * Counts are summed over the pairs and over the per-address records
 * (peer-reflexive addresses have a record but perhaps no pair), taking
 * the larger of the two sums.  Nothing here reads a password: records
 * hold none. */
#include <stdio.h>
#include <string.h>

#include <pbxedge/ice.h>

#include "internal.h"

struct totals {
	uint32_t checks, sent, ok, bad_int, nonsym, timeouts, e400, e401, e487, eother;
	uint32_t in, in_ok, in_bad_int, in_bad_user, in_no_auth, icmp;
};

static void sum(struct totals *t, const struct ice_record *r)
{
	t->checks += r->checks;
	t->sent += r->req_sent;
	t->ok += r->resp_ok;
	t->bad_int += r->resp_bad_integrity;
	t->nonsym += r->nonsymmetric;
	t->timeouts += r->timeouts;
	t->e400 += r->err_400;
	t->e401 += r->err_401;
	t->e487 += r->err_487;
	t->eother += r->err_other;
	t->in += r->req_in;
	t->in_ok += r->req_in_ok;
	t->in_bad_int += r->req_in_bad_integrity;
	t->in_bad_user += r->req_in_bad_username;
	t->in_no_auth += r->req_in_no_auth;
	t->icmp += r->icmp;
}

#define MAXF(f) (a.f > b.f ? a.f : b.f)
static struct totals totals_of(const struct ice_diag_input *in)
{
	struct totals a, b;
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	for (size_t i = 0; i < in->n_pairs; i++)
		sum(&a, &in->pairs[i].rec);
	for (size_t i = 0; i < in->n_peers; i++)
		sum(&b, &in->peers[i].rec);
	struct totals t = {
		MAXF(checks), MAXF(sent),   MAXF(ok),	  MAXF(bad_int),    MAXF(nonsym),
		MAXF(timeouts), MAXF(e400), MAXF(e401),	  MAXF(e487),	    MAXF(eother),
		MAXF(in),	MAXF(in_ok), MAXF(in_bad_int), MAXF(in_bad_user), MAXF(in_no_auth),
		MAXF(icmp),
	};
	return t;
}
#undef MAXF

static const char *plural(uint32_t n)
{
	return n == 1 ? "" : "s";
}

static void addr_text(const struct pbx_addr *a, char *buf)
{
	if (pbx_addr_family(a) == AF_UNSPEC)
		snprintf(buf, PBX_ADDRSTRLEN, "?");
	else
		pbx_addr_format(a, buf, PBX_ADDRSTRLEN);
}

/* "relay 198.18.1.1:49488 -> prflx 198.18.2.2:30992" */
#define PAIR_TEXT_MAX (2 * PBX_ADDRSTRLEN + 32)
static void pair_text(const struct ice_pair *p, char *buf)
{
	char l[PBX_ADDRSTRLEN], r[PBX_ADDRSTRLEN];
	addr_text(&p->local, l);
	addr_text(&p->remote, r);
	snprintf(buf, PAIR_TEXT_MAX, "%s %s -> %s %s", ice_cand_type_name(p->local_type), l,
		 ice_cand_type_name(p->remote_type), r);
}

/* The pair with the largest score, or NULL when there is none. */
static const struct ice_pair *pick(const struct ice_diag_input *in,
				   uint32_t (*score)(const struct ice_record *))
{
	const struct ice_pair *best = NULL;
	uint32_t top = 0;
	for (size_t i = 0; i < in->n_pairs; i++) {
		uint32_t s = score(&in->pairs[i].rec);
		if (!best || s > top) {
			best = &in->pairs[i];
			top = s;
		}
	}
	return best;
}

static uint32_t by_sent(const struct ice_record *r)
{
	return r->req_sent;
}
static uint32_t by_ok(const struct ice_record *r)
{
	return r->resp_ok;
}
static uint32_t by_auth_out(const struct ice_record *r)
{
	return r->err_401 + r->resp_bad_integrity;
}
static uint32_t by_487(const struct ice_record *r)
{
	return r->err_487;
}
static uint32_t by_nonsym(const struct ice_record *r)
{
	return r->nonsymmetric;
}
static uint32_t by_turn(const struct ice_record *r)
{
	return r->turn_errors;
}

/* The remote address whose checks to us failed authentication most. */
static const struct pbx_addr *auth_in_addr(const struct ice_diag_input *in)
{
	const struct pbx_addr *best = NULL;
	uint32_t top = 0;
	for (size_t i = 0; i < in->n_peers; i++) {
		const struct ice_record *r = &in->peers[i].rec;
		if (r->req_in_bad_integrity + r->req_in_bad_username > top) {
			top = r->req_in_bad_integrity + r->req_in_bad_username;
			best = &in->peers[i].addr;
		}
	}
	for (size_t i = 0; i < in->n_pairs && !best; i++) {
		const struct ice_record *r = &in->pairs[i].rec;
		if (r->req_in_bad_integrity + r->req_in_bad_username > top) {
			top = r->req_in_bad_integrity + r->req_in_bad_username;
			best = &in->pairs[i].remote;
		}
	}
	return best;
}

/* Whether no check of pair p can ever leave its relay: the TURN server
 * refused the permission for its remote address, or the relay was lost
 * (from the agent's record of the pair or from the caller's relays). */
static bool pair_blocked(const struct ice_diag_input *in, const struct ice_pair *p)
{
	if (p->local_type != ICE_RELAY)
		return false;
	if (p->rec.turn_errors)
		return true;
	for (size_t i = 0; i < in->n_relays; i++) {
		const struct ice_diag_relay *r = &in->relays[i];
		if (!pbx_addr_equal(&r->relay, &p->local))
			continue;
		struct pbx_addr peer = r->peer, remote = p->remote;
		pbx_addr_set_port(&peer, 0);
		pbx_addr_set_port(&remote, 0);
		if (r->lost || (r->code && pbx_addr_equal(&peer, &remote)))
			return true; /* permissions are per IP (RFC 8656 9) */
	}
	return false;
}

static bool pair_done(const struct ice_diag_input *in, const struct ice_pair *p)
{
	return p->state == ICE_PAIR_SUCCEEDED || p->state == ICE_PAIR_FAILED ||
	       pair_blocked(in, p);
}

/* Whether the failure code c leaves nothing to wait for, a late check
 * from the peer being bound to fail the same way: the peer refuses our
 * checks (ice-auth-out) or we refuse its own (ice-auth-in), or every
 * pair's relay refused its permission or was lost.  A rewritten
 * description (mangled) explains much but not that: the peer's checks
 * may still come. */
static bool certain(const struct ice_diag_input *in, enum ice_diag_code c)
{
	switch (c) {
	case ICE_DIAG_ICE_AUTH_OUT:
	case ICE_DIAG_ICE_AUTH_IN:
		return true;
	case ICE_DIAG_TURN_PERMISSION_DENIED:
	case ICE_DIAG_TURN_ALLOCATION_LOST:
		for (size_t i = 0; i < in->n_pairs; i++)
			if (!pair_blocked(in, &in->pairs[i]))
				return false;
		return true;
	default:
		return false;
	}
}

/* Whether the local checks concluded, c being the failure the evidence
 * calls for: the agent failed its checklist, or every pair is done (or
 * blocked for good), or no pair will ever be formed.  Every pair failed
 * and the agent still running is the wait of RFC 8863 (the PAC timer): a
 * check from the peer may still make a peer-reflexive pair, so the run
 * concluded only if the evidence is certain. */
static bool concluded(const struct ice_diag_input *in, enum ice_diag_code c)
{
	if (in->state == ICE_AGENT_FAILED && in->fail == ICE_FAIL_CHECKS)
		return true;
	if (in->n_pairs == 0)
		return in->end_of_remote || in->local_v4 + in->local_v6 == 0;
	bool worked = false;
	for (size_t i = 0; i < in->n_pairs; i++) {
		const struct ice_pair *p = &in->pairs[i];
		if (!pair_done(in, p))
			return false;
		worked |= p->state == ICE_PAIR_SUCCEEDED || p->valid;
	}
	return worked || in->state != ICE_AGENT_RUNNING || certain(in, c);
}

static const struct ice_pair *selected(const struct ice_diag_input *in)
{
	for (size_t i = 0; i < in->n_pairs; i++)
		if (in->pairs[i].selected)
			return &in->pairs[i];
	return NULL;
}

static void fail(struct ice_diag *out, enum ice_diag_code c)
{
	out->success = false;
	out->result = ICE_DIAG_R_FAILED;
	out->code = (uint8_t)c;
	ice_say(out->hint, "%s", ice_diag_hint(c));
}

/* "12 checks sent to R from T L (3 pairs, 30 checks in all)" for the pair
 * p, total the checks of every pair. */
static void sent_text(const struct ice_diag_input *in, const struct ice_pair *p, uint32_t total,
		      char *buf, size_t n)
{
	char l[PBX_ADDRSTRLEN], r[PBX_ADDRSTRLEN];
	addr_text(&p->local, l);
	addr_text(&p->remote, r);
	size_t k = (size_t)snprintf(buf, n, "%u check%s sent to %s from %s %s", p->rec.req_sent,
				    plural(p->rec.req_sent), r, ice_cand_type_name(p->local_type), l);
	if (in->n_pairs > 1 && k < n)
		snprintf(buf + k, n - k, " (%zu pairs, %u checks in all)", in->n_pairs, total);
}

static const char *fam_list(uint32_t v4, uint32_t v6, char *buf, size_t n)
{
	if (v4 && v6)
		snprintf(buf, n, "%u IPv4 and %u IPv6", v4, v6);
	else if (v6)
		snprintf(buf, n, "IPv6 only (%u)", v6);
	else
		snprintf(buf, n, "IPv4 only (%u)", v4);
	return buf;
}

/* The failure the evidence calls for (precedence 3 to 10 above). */
static void failure(const struct ice_diag_input *in, struct ice_diag *out)
{
	struct totals t = totals_of(in);
	uint32_t local = in->local_v4 + in->local_v6, remote = in->remote_v4 + in->remote_v6;
	char a[PBX_ADDRSTRLEN], b[PBX_ADDRSTRLEN], line[ICE_DIAG_TEXT_MAX];
	char f1[48], f2[48];
	const struct ice_pair *p;

	if (in->n_pairs == 0 && local == 0) {
		fail(out, ICE_DIAG_NO_LOCAL_CANDIDATES);
		ice_say(out->reason,
			"no local candidate: nothing to check from (%u remote candidate%s)", remote,
			plural(remote));
		return;
	}
	if (in->n_pairs == 0 && remote == 0) {
		fail(out, ICE_DIAG_NO_REMOTE_CANDIDATES);
		ice_say(out->reason, "the peer gave no remote candidate%s",
			in->end_of_remote ? " before end-of-candidates"
					  : " (and no end-of-candidates)");
		return;
	}
	if (in->n_pairs == 0) {
		fail(out, ICE_DIAG_NO_PAIRS);
		bool common = (in->local_v4 && in->remote_v4) || (in->local_v6 && in->remote_v6);
		ice_say(out->reason, "no pair: the remote candidates are %s, the local ones %s%s",
			fam_list(in->remote_v4, in->remote_v6, f1, sizeof f1),
			fam_list(in->local_v4, in->local_v6, f2, sizeof f2),
			common ? " (no candidate of the agent's component and transport pairs)"
			       : ": no address family in common");
		return;
	}
	bool answered = t.ok || t.bad_int || t.nonsym || t.e400 || t.e401 || t.e487 || t.eother;
	if (in->default_check == ICE_DEFAULT_MANGLED) {
		fail(out, ICE_DIAG_MANGLED);
		ice_say(out->reason,
			"the remote description's default address (c= and m= port) is none "
			"of its %u candidate%s: rewritten on the way; %u check%s answered",
			remote, plural(remote), t.ok, plural(t.ok));
		return;
	}
	for (size_t i = 0; i < in->n_relays && !answered; i++) {
		const struct ice_diag_relay *r = &in->relays[i];
		if (r->lost || !r->code)
			continue;
		fail(out, ICE_DIAG_TURN_PERMISSION_DENIED);
		char ip[PBX_ADDRSTRLEN] = "?";
		if (pbx_addr_family(&r->peer) != AF_UNSPEC)
			pbx_addr_format_ip(&r->peer, ip, sizeof ip);
		addr_text(&r->relay, a);
		ice_say(out->reason,
			"the TURN server refused a permission for %s (%d%s) on relay %s: "
			"no check reaches that peer through it",
			ip, r->code, r->code == 403 ? " Forbidden, its peer policy" : "", a);
		return;
	}
	p = answered ? NULL : pick(in, by_turn);
	if (p && p->rec.turn_errors && p->rec.last_turn_code) {
		out->record = (int)(p - in->pairs);
		fail(out, ICE_DIAG_TURN_PERMISSION_DENIED);
		pbx_addr_format_ip(&p->remote, a, sizeof a);
		addr_text(&p->local, b);
		ice_say(out->reason, "the TURN server refused a permission for %s (%u) on relay %s",
			a, p->rec.last_turn_code, b);
		return;
	}
	for (size_t i = 0; i < in->n_relays && !answered; i++) {
		if (!in->relays[i].lost)
			continue;
		fail(out, ICE_DIAG_TURN_ALLOCATION_LOST);
		addr_text(&in->relays[i].relay, a);
		ice_say(out->reason, "the TURN allocation of relay %s was lost during the checks",
			a);
		return;
	}
	if (p && p->rec.turn_errors) {
		out->record = (int)(p - in->pairs);
		fail(out, ICE_DIAG_TURN_ALLOCATION_LOST);
		addr_text(&p->local, a);
		ice_say(out->reason, "the TURN allocation of relay %s was lost during the checks",
			a);
		return;
	}
	if ((t.e401 || t.bad_int) && !t.ok) {
		fail(out, ICE_DIAG_ICE_AUTH_OUT);
		p = pick(in, by_auth_out);
		out->record = (int)(p - in->pairs);
		addr_text(&p->remote, a);
		if (t.e401)
			ice_say(out->reason,
				"the peer %s answered 401 Unauthorized to %u check%s "
				"of ours (%u sent): it does not accept the password we sign with",
				a, t.e401, plural(t.e401), t.sent);
		else
			ice_say(out->reason,
				"%u answer%s from %s failed MESSAGE-INTEGRITY with the "
				"password in its description",
				t.bad_int, plural(t.bad_int), a);
		return;
	}
	if (t.in_bad_int + t.in_bad_user && !t.in_ok) {
		fail(out, ICE_DIAG_ICE_AUTH_IN);
		const struct pbx_addr *from = auth_in_addr(in);
		if (from)
			addr_text(from, a);
		else
			snprintf(a, sizeof a, "the peer");
		ice_say(out->reason,
			"%u check%s from %s failed here: %u MESSAGE-INTEGRITY, %u wrong "
			"USERNAME; none passed",
			t.in, plural(t.in), a, t.in_bad_int, t.in_bad_user);
		return;
	}
	if (t.e487 && !t.ok) {
		fail(out, ICE_DIAG_ROLE_CONFLICT);
		p = pick(in, by_487);
		out->record = (int)(p - in->pairs);
		addr_text(&p->remote, a);
		ice_say(out->reason,
			"%u 487 Role Conflict answer%s from %s and no success (we are %s, "
			"%u conflict%s seen)",
			t.e487, plural(t.e487), a, ice_role_name(in->role), in->role_conflicts,
			plural(in->role_conflicts));
		return;
	}
	if (t.nonsym && !t.ok) {
		fail(out, ICE_DIAG_NON_SYMMETRIC);
		p = pick(in, by_nonsym);
		out->record = (int)(p - in->pairs);
		addr_text(&p->remote, a);
		ice_say(out->reason,
			"%u answer%s to checks sent to %s came from another address or "
			"socket; none from the address checked",
			t.nonsym, plural(t.nonsym), a);
		return;
	}
	if (t.in && !t.ok) {
		fail(out, ICE_DIAG_ONE_WAY_IN);
		p = pick(in, by_sent);
		out->record = (int)(p - in->pairs);
		sent_text(in, p, t.sent, line, sizeof line);
		ice_say(out->reason, "%s, none answered; %u check%s arrived from the peer", line,
			t.in, plural(t.in));
		return;
	}
	if (t.ok && !t.in) {
		fail(out, ICE_DIAG_ONE_WAY_OUT);
		p = pick(in, by_ok);
		out->record = (int)(p - in->pairs);
		addr_text(&p->remote, a);
		addr_text(&p->local, b);
		ice_say(out->reason,
			"%u check%s of ours answered (by %s to %s %s), but no check "
			"arrived from the peer",
			t.ok, plural(t.ok), a, ice_cand_type_name(p->local_type), b);
		return;
	}
	if (!t.ok && !t.in) {
		fail(out, ICE_DIAG_NO_RESPONSE);
		if (!t.sent) {
			ice_say(out->reason, "no check was sent (%zu pair%s) and none arrived",
				in->n_pairs, in->n_pairs == 1 ? "" : "s");
			return;
		}
		p = pick(in, by_sent);
		out->record = (int)(p - in->pairs);
		sent_text(in, p, t.sent, line, sizeof line);
		if (t.icmp)
			ice_say(out->reason,
				"%s, none answered; no check arrived from the peer; %u "
				"ICMP error%s came back (unreachable)",
				line, t.icmp, plural(t.icmp));
		else
			ice_say(out->reason, "%s, none answered; no check arrived from the peer",
				line);
		return;
	}
	fail(out, ICE_DIAG_CHECKS_FAILED);
	ice_say(out->reason,
		"every pair failed: %u answered, %u timed out, errors 400: %u, other: %u; "
		"%u of %u peer check%s passed",
		t.ok, t.timeouts, t.e400, t.eother, t.in_ok, t.in, plural(t.in));
}

int ice_diag_pairs(const struct ice_diag_input *in, struct ice_diag *out)
{
	memset(out, 0, sizeof *out);
	out->record = -1;
	if (in->n_pairs > ICE_AGENT_PAIRS_MAX || in->n_peers > ICE_AGENT_PEERS_MAX ||
	    in->n_relays > ICE_DIAG_RELAYS_MAX)
		return PBX_E_INVALID;
	char pt[PAIR_TEXT_MAX];
	const struct ice_pair *sel = selected(in);
	if (sel) {
		out->record = (int)(sel - in->pairs);
		pair_text(sel, pt);
		if ((in->state == ICE_AGENT_FAILED && in->fail == ICE_FAIL_CONSENT) ||
		    sel->rec.consent_lost) {
			fail(out, ICE_DIAG_CONSENT_LOST);
			ice_say(out->reason,
				"consent lost on the selected pair %s: %u of %u consent "
				"check%s answered, then none for the consent timeout",
				pt, sel->rec.consent_ok, sel->rec.consent_sent,
				plural(sel->rec.consent_sent));
			return 0;
		}
		struct totals t = totals_of(in);
		if (sel->nominated && in->state == ICE_AGENT_COMPLETED &&
		    t.in_bad_int + t.in_bad_user && !t.in_ok) {
			fail(out, ICE_DIAG_ICE_AUTH_IN);
			const struct pbx_addr *from = auth_in_addr(in);
			char a[PBX_ADDRSTRLEN] = "the peer";
			if (from)
				addr_text(from, a);
			ice_say(out->reason,
				"our checks passed (selected %s), but none of the %u check%s "
				"from %s passed here (%u MESSAGE-INTEGRITY, %u wrong USERNAME): "
				"the peer cannot complete, the path works one way only",
				pt, t.in, plural(t.in), a, t.in_bad_int, t.in_bad_user);
			return 0;
		}
		if (sel->nominated && in->state == ICE_AGENT_COMPLETED) {
			out->success = true;
			out->result = ICE_DIAG_R_SUCCESS;
			out->code = ICE_DIAG_OK;
			ice_say(out->reason,
				"selected %s (nominated, rtt %u ms, %u check%s answered)", pt,
				sel->rec.rtt_min_ms, sel->rec.resp_ok, plural(sel->rec.resp_ok));
			return 0;
		}
	}
	failure(in, out);
	if (concluded(in, out->code))
		return 0;
	/* Aborted: keep the evidence so far for the hint. */
	char so_far[ICE_DIAG_TEXT_MAX];
	enum ice_diag_code ev = out->code;
	struct totals t = totals_of(in);
	snprintf(so_far, sizeof so_far, "%s", out->reason);
	enum ice_diag_code c;
	if (in->interrupted) {
		c = ICE_DIAG_INTERRUPTED;
		ice_say(out->reason,
			"interrupted before the checks concluded: %u check%s sent, %u "
			"answered; %u arrived from the peer",
			t.sent, plural(t.sent), t.ok, t.in);
	} else if (in->peer_closed) {
		c = ICE_DIAG_PEER_CLOSED;
		if (t.in)
			ice_say(out->reason,
				"the peer closed its side before the checks concluded; %u of "
				"its check%s had arrived (%u of ours answered)",
				t.in, plural(t.in), t.ok);
		else
			ice_say(out->reason,
				"the peer closed its side before the checks concluded; no "
				"check from it had arrived: we were still waiting (RFC 8863)");
	} else {
		c = ICE_DIAG_TIMEOUT;
		ice_say(out->reason,
			"the time limit passed before the checks concluded: %u check%s "
			"sent, %u answered; %u arrived from the peer",
			t.sent, plural(t.sent), t.ok, t.in);
	}
	out->result = ICE_DIAG_R_ABORTED;
	out->code = (uint8_t)c;
	ice_say(out->hint, "%s; evidence so far: %s (%s)", ice_diag_hint(c), ice_diag_name(ev),
		so_far);
	return 0;
}

int ice_diag_input_from_agent(const struct ice_agent *a, struct ice_diag_input *in)
{
	memset(in, 0, sizeof *in);
	in->state = a->state;
	in->fail = a->reason;
	in->role = a->role;
	in->role_conflicts = a->stats.role_conflicts;
	in->n_pairs = a->n_pairs;
	for (size_t i = 0; i < a->n_pairs; i++)
		in->pairs[i] = a->pairs[a->order[i]].pub;
	in->n_peers = a->n_peers;
	memcpy(in->peers, a->peers, a->n_peers * sizeof a->peers[0]);
	for (size_t i = 0; i < a->n_local; i++) {
		int f = pbx_addr_family(&a->local[i].c.addr);
		if (a->local[i].c.type == ICE_PRFLX)
			continue;
		if (f == AF_INET)
			in->local_v4++;
		else if (f == AF_INET6)
			in->local_v6++;
	}
	for (size_t i = 0; i < a->n_remote; i++) {
		int f = pbx_addr_family(&a->remote[i].addr);
		if (a->remote[i].type == ICE_PRFLX)
			continue;
		if (f == AF_INET)
			in->remote_v4++;
		else if (f == AF_INET6)
			in->remote_v6++;
	}
	in->end_of_remote = a->remote_eoc;
	in->default_check = ICE_DEFAULT_NONE;
	return 0;
}
