/* diag.c - the server half of the ICE diagnosis: from the per-server
 * records of a gathering to one conclusion with a stable reason code, a
 * line naming the server and a hint (RFC 8656 6.4 and 18.13 error codes,
 * RFC 8489 14.8). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <pbxedge/ice.h>

#include "internal.h"

static const char *const diag_names[ICE_DIAG_COUNT] = {
	[ICE_DIAG_OK] = "ok",
	[ICE_DIAG_TURN_REST_EXPIRED] = "turn-rest-expired",
	[ICE_DIAG_DNS] = "dns",
	[ICE_DIAG_FAMILY_MISMATCH] = "family-mismatch",
	[ICE_DIAG_TCP_REFUSED] = "tcp-refused",
	[ICE_DIAG_TCP_TIMEOUT] = "tcp-timeout",
	[ICE_DIAG_TLS_UNTRUSTED] = "tls-untrusted",
	[ICE_DIAG_TLS_HANDSHAKE] = "tls-handshake",
	[ICE_DIAG_TURN_AUTH] = "turn-auth",
	[ICE_DIAG_TURN_NONCE_LOOP] = "turn-nonce-loop",
	[ICE_DIAG_TURN_QUOTA] = "turn-quota",
	[ICE_DIAG_TURN_CAPACITY] = "turn-capacity",
	[ICE_DIAG_TURN_FAMILY] = "turn-family",
	[ICE_DIAG_TURN_TRANSPORT] = "turn-transport",
	[ICE_DIAG_TURN_MISMATCH] = "turn-mismatch",
	[ICE_DIAG_TURN_ERROR] = "turn-error",
	[ICE_DIAG_STUN_ERROR] = "stun-error",
	[ICE_DIAG_TURN_UNREACHABLE] = "turn-unreachable",
	[ICE_DIAG_STUN_UNREACHABLE] = "stun-unreachable",
	[ICE_DIAG_TURN_TIMEOUT] = "turn-timeout",
	[ICE_DIAG_STUN_TIMEOUT] = "stun-timeout",
	[ICE_DIAG_NO_CANDIDATE] = "no-candidate",
	[ICE_DIAG_NO_LOCAL_CANDIDATES] = "no-local-candidates",
	[ICE_DIAG_NO_REMOTE_CANDIDATES] = "no-remote-candidates",
	[ICE_DIAG_NO_PAIRS] = "no-pairs",
	[ICE_DIAG_MANGLED] = "mangled",
	[ICE_DIAG_TURN_PERMISSION_DENIED] = "turn-permission-denied",
	[ICE_DIAG_TURN_ALLOCATION_LOST] = "turn-allocation-lost",
	[ICE_DIAG_ICE_AUTH_OUT] = "ice-auth-out",
	[ICE_DIAG_ICE_AUTH_IN] = "ice-auth-in",
	[ICE_DIAG_ROLE_CONFLICT] = "role-conflict",
	[ICE_DIAG_NON_SYMMETRIC] = "non-symmetric",
	[ICE_DIAG_ONE_WAY_IN] = "one-way-in",
	[ICE_DIAG_ONE_WAY_OUT] = "one-way-out",
	[ICE_DIAG_NO_RESPONSE] = "no-response",
	[ICE_DIAG_CHECKS_FAILED] = "checks-failed",
	[ICE_DIAG_CONSENT_LOST] = "consent-lost",
	[ICE_DIAG_PEER_CLOSED] = "peer-closed",
	[ICE_DIAG_INTERRUPTED] = "interrupted",
	[ICE_DIAG_TIMEOUT] = "timeout",
};

/* What to check, per code. */
static const char *const diag_hints[ICE_DIAG_COUNT] = {
	[ICE_DIAG_OK] = "",
	[ICE_DIAG_TURN_REST_EXPIRED] =
		"mint a fresh credential (the REST user name carries its expiry), and check the clock",
	[ICE_DIAG_DNS] = "check the server name and the resolver (/etc/resolv.conf)",
	[ICE_DIAG_FAMILY_MISMATCH] =
		"give the server an address of a family this host has, or use --family",
	[ICE_DIAG_TCP_REFUSED] = "check that the server listens on that TCP port",
	[ICE_DIAG_TCP_TIMEOUT] = "check firewalls on the path to the server's TCP port",
	[ICE_DIAG_TLS_UNTRUSTED] =
		"install the CA that signed the server's certificate, or check its name",
	[ICE_DIAG_TLS_HANDSHAKE] = "check the server's TLS setup (certificate, key, versions)",
	[ICE_DIAG_TURN_AUTH] = "check the user with `rpctl turn user list` or the REST secret",
	[ICE_DIAG_TURN_NONCE_LOOP] = "the server keeps rejecting its own nonces: check its clock "
				     "and that one server (not a pool) answers",
	[ICE_DIAG_TURN_QUOTA] = "the user has too many allocations: raise the quota or wait",
	[ICE_DIAG_TURN_CAPACITY] = "the server is out of relay ports or allocations: check its "
				   "port range and load",
	[ICE_DIAG_TURN_FAMILY] =
		"the server cannot relay that address family: enable it there or use --family",
	[ICE_DIAG_TURN_TRANSPORT] = "the server does not relay UDP: check its configuration",
	[ICE_DIAG_TURN_MISMATCH] =
		"an allocation from this address and port exists already: wait for it to expire",
	[ICE_DIAG_TURN_ERROR] = "see the server's log for why it refused",
	[ICE_DIAG_STUN_ERROR] = "see the server's log for why it refused",
	[ICE_DIAG_TURN_UNREACHABLE] =
		"nothing listens on that port, or a firewall rejects: check the server runs",
	[ICE_DIAG_STUN_UNREACHABLE] =
		"nothing listens on that port, or a firewall rejects: check the server runs",
	[ICE_DIAG_TURN_TIMEOUT] = "check the address, the port and firewalls dropping UDP",
	[ICE_DIAG_STUN_TIMEOUT] = "check the address, the port and firewalls dropping UDP",
	[ICE_DIAG_NO_CANDIDATE] = "configure a server that gives the candidate type asked for",
	[ICE_DIAG_NO_LOCAL_CANDIDATES] =
		"this side gathered nothing: check its addresses and the servers (servers mode)",
	[ICE_DIAG_NO_REMOTE_CANDIDATES] =
		"the peer's description has no usable UDP candidate: check what it gathered",
	[ICE_DIAG_NO_PAIRS] = "give both sides an address family in common, or a TURN server "
			      "relaying the peer's family",
	[ICE_DIAG_MANGLED] = "something on the path rewrote the SDP (a SIP ALG or SBC): turn it "
			     "off or make it keep the ICE attributes",
	[ICE_DIAG_TURN_PERMISSION_DENIED] =
		"the TURN server's peer policy refuses that address: allow it there, or give "
		"the peer an address the policy accepts",
	[ICE_DIAG_TURN_ALLOCATION_LOST] =
		"the relay went away during the checks: check the TURN server's log and its "
		"allocation lifetime",
	[ICE_DIAG_ICE_AUTH_OUT] = "the ICE password in the description we were given is wrong: "
				  "check that it reached us unchanged",
	[ICE_DIAG_ICE_AUTH_IN] = "the peer signs its checks with another password or user name "
				 "than ours: check that our description reached it unchanged",
	[ICE_DIAG_ROLE_CONFLICT] = "both sides keep claiming the same role: check the peer "
				   "follows RFC 8445 7.3.1.1 (tie-breaker)",
	[ICE_DIAG_NON_SYMMETRIC] = "answers come back from another address than the one checked: "
				   "a NAT or load balancer that is not symmetric",
	[ICE_DIAG_ONE_WAY_IN] = "our checks are dropped on the way out or their answers on the "
				"way back: check firewalls toward the peer",
	[ICE_DIAG_ONE_WAY_OUT] = "the peer cannot reach us: check the inbound firewall and NAT "
				 "for the addresses we offered",
	[ICE_DIAG_NO_RESPONSE] = "nothing gets through either way: check the addresses, "
				 "firewalls dropping UDP, or use a TURN server",
	[ICE_DIAG_CHECKS_FAILED] = "see the per-pair records for the error responses",
	[ICE_DIAG_CONSENT_LOST] = "the peer stopped answering after the call was set up: it "
				  "left, or the path changed (NAT binding expired)",
	[ICE_DIAG_PEER_CLOSED] = "the peer ended before the checks concluded: give it more time",
	[ICE_DIAG_INTERRUPTED] = "interrupted before the checks concluded",
	[ICE_DIAG_TIMEOUT] = "the checks had not concluded in time: raise the time limit",
};

const char *ice_diag_name(enum ice_diag_code c)
{
	return (unsigned)c < ICE_DIAG_COUNT ? diag_names[c] : "unknown";
}

const char *ice_diag_hint(enum ice_diag_code c)
{
	return (unsigned)c < ICE_DIAG_COUNT ? diag_hints[c] : "";
}

const char *ice_diag_result_name(enum ice_diag_result r)
{
	switch (r) {
	case ICE_DIAG_R_FAILED:
		return "failed";
	case ICE_DIAG_R_SUCCESS:
		return "success";
	case ICE_DIAG_R_ABORTED:
		return "aborted";
	}
	return "unknown";
}

static enum ice_diag_code turn_error_code(const struct ice_server_record *r)
{
	switch (r->turn_reason) {
	case TURN_R_AUTH:
	case TURN_R_WRONG_CREDS:
		return ICE_DIAG_TURN_AUTH;
	case TURN_R_NONCE_LOOP:
		return ICE_DIAG_TURN_NONCE_LOOP;
	case TURN_R_QUOTA:
		return ICE_DIAG_TURN_QUOTA;
	case TURN_R_CAPACITY:
		return ICE_DIAG_TURN_CAPACITY;
	case TURN_R_FAMILY:
		return ICE_DIAG_TURN_FAMILY;
	case TURN_R_TRANSPORT:
		return ICE_DIAG_TURN_TRANSPORT;
	case TURN_R_MISMATCH:
		return ICE_DIAG_TURN_MISMATCH;
	default:
		return ICE_DIAG_TURN_ERROR;
	}
}

enum ice_diag_code ice_diag_record(const struct ice_server_record *r)
{
	switch (r->result) {
	case ICE_SR_OK:
		return ICE_DIAG_OK;
	case ICE_SR_ERROR:
		return r->turn ? turn_error_code(r) : ICE_DIAG_STUN_ERROR;
	case ICE_SR_UNREACHABLE:
		return r->turn ? ICE_DIAG_TURN_UNREACHABLE : ICE_DIAG_STUN_UNREACHABLE;
	case ICE_SR_TCP_REFUSED:
		return ICE_DIAG_TCP_REFUSED;
	case ICE_SR_TCP_TIMEOUT:
		return ICE_DIAG_TCP_TIMEOUT;
	case ICE_SR_TLS_HANDSHAKE:
		return ICE_DIAG_TLS_HANDSHAKE;
	case ICE_SR_TLS_UNTRUSTED:
		return ICE_DIAG_TLS_UNTRUSTED;
	case ICE_SR_DNS:
		return ICE_DIAG_DNS;
	case ICE_SR_FAMILY:
		return ICE_DIAG_FAMILY_MISMATCH;
	case ICE_SR_REST_EXPIRED:
		return ICE_DIAG_TURN_REST_EXPIRED;
	case ICE_SR_CLOSED:
	case ICE_SR_UNSUPPORTED:
		return r->turn ? ICE_DIAG_TURN_ERROR : ICE_DIAG_STUN_ERROR;
	default: /* pending, timeout */
		return r->turn ? ICE_DIAG_TURN_TIMEOUT : ICE_DIAG_STUN_TIMEOUT;
	}
}

void ice_say(char *buf, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, ICE_DIAG_TEXT_MAX, fmt, ap);
	va_end(ap);
}

static const char *fam_name(int f)
{
	return f == AF_INET6 ? "IPv6" : f == AF_INET ? "IPv4" : "any";
}

/* "401 Unauthorized": the code and the server's phrase, or the code's
 * usual phrase when the server gave none. */
static void code_text(const struct ice_server_record *r, char *buf, size_t n)
{
	const char *ph = r->phrase[0] ? r->phrase : stun_names_error(r->code);
	snprintf(buf, n, "%d %s", r->code, ph ? ph : "");
}

/* The line for a failed record r blamed with code c.  The record holds
 * no password: nothing printed here can leak one. */
static void reason_line(const struct ice_server_record *r, enum ice_diag_code c, char *out)
{
	char addr[PBX_ADDRSTRLEN] = "?", code[TURN_PHRASE_MAX + 16];
	if (pbx_addr_family(&r->addr) != AF_UNSPEC)
		pbx_addr_format(&r->addr, addr, sizeof addr);
	code_text(r, code, sizeof code);
	const char *u = r->uri;
	switch (c) {
	case ICE_DIAG_TURN_REST_EXPIRED:
		ice_say(out, "%s: the TURN REST user name has expired; nothing was sent", u);
		break;
	case ICE_DIAG_DNS:
		ice_say(out, "%s: the server name did not resolve", u);
		break;
	case ICE_DIAG_FAMILY_MISMATCH:
		ice_say(out,
			"%s resolved to %s, an %s address, and this host has no %s address to "
			"reach it from",
			u, addr, fam_name(pbx_addr_family(&r->addr)),
			fam_name(pbx_addr_family(&r->addr)));
		break;
	case ICE_DIAG_TCP_REFUSED:
		ice_say(out, "%s (%s) refused the TCP connection", u, addr);
		break;
	case ICE_DIAG_TCP_TIMEOUT:
		ice_say(out, "%s (%s): the TCP connection timed out", u, addr);
		break;
	case ICE_DIAG_TLS_UNTRUSTED:
		ice_say(out, "%s (%s): the server's TLS certificate is not trusted", u, addr);
		break;
	case ICE_DIAG_TLS_HANDSHAKE:
		ice_say(out, "%s (%s): the TLS handshake failed", u, addr);
		break;
	case ICE_DIAG_TURN_AUTH:
		ice_say(out, "%s answered %s to our credentials: wrong user name or password", u,
			code);
		break;
	case ICE_DIAG_TURN_NONCE_LOOP:
		ice_say(out, "%s answered 438 Stale Nonce again and again to fresh nonces", u);
		break;
	case ICE_DIAG_TURN_QUOTA:
	case ICE_DIAG_TURN_CAPACITY:
	case ICE_DIAG_TURN_TRANSPORT:
	case ICE_DIAG_TURN_MISMATCH:
		ice_say(out, "%s answered %s to the %s Allocate", u, code, fam_name(r->family));
		break;
	case ICE_DIAG_TURN_FAMILY:
		ice_say(out, "%s answered %s: it will not relay %s", u, code, fam_name(r->family));
		break;
	case ICE_DIAG_TURN_ERROR:
	case ICE_DIAG_STUN_ERROR:
		if (r->result == ICE_SR_CLOSED)
			ice_say(out, "%s (%s) closed the connection before answering", u, addr);
		else if (r->result == ICE_SR_UNSUPPORTED)
			ice_say(out,
				"%s: Binding over TLS is not checked: ICE agents gather "
				"server-reflexive candidates over UDP",
				u);
		else if (r->code)
			ice_say(out, "%s answered %s", u, code);
		else
			ice_say(out, "%s failed: %s", u, turn_reason_name(r->turn_reason));
		break;
	case ICE_DIAG_TURN_UNREACHABLE:
	case ICE_DIAG_STUN_UNREACHABLE:
		ice_say(out, "%s (%s) is unreachable: ICMP type %u code %u%s", u, addr,
			r->icmp.type, r->icmp.code,
			(r->icmp.type == 3 && r->icmp.code == 3) ||
					(r->icmp.type == 1 && r->icmp.code == 4)
				? " (port unreachable)"
				: "");
		break;
	case ICE_DIAG_TURN_TIMEOUT:
	case ICE_DIAG_STUN_TIMEOUT:
		ice_say(out, "%s (%s) did not answer %u request%s", u, addr, r->sent,
			r->sent == 1 ? "" : "s");
		break;
	default:
		ice_say(out, "%s", u);
		break;
	}
}

/* Whether another record of record i's server, in the other family,
 * succeeded. */
static bool other_family_ok(const struct ice_server_record *r, size_t n, size_t i)
{
	for (size_t j = 0; j < n; j++)
		if (j != i && r[j].server == r[i].server && r[j].family != r[i].family &&
		    r[j].result == ICE_SR_OK)
			return true;
	return false;
}

/* Whether c has a candidate of the type the policy asks for. */
static bool has_wanted(enum ice_gather_policy policy, const struct ice_gathered *c, size_t nc,
		       bool servers)
{
	for (size_t i = 0; i < nc; i++) {
		enum ice_cand_type t = c[i].cand.type;
		switch (policy) {
		case ICE_POLICY_HOST:
			if (t == ICE_HOST)
				return true;
			break;
		case ICE_POLICY_SRFLX:
			if (t == ICE_SRFLX)
				return true;
			break;
		case ICE_POLICY_RELAY:
			if (t == ICE_RELAY)
				return true;
			break;
		default:
			if (!servers || t != ICE_HOST)
				return true;
			break;
		}
	}
	return false;
}

/* The first record whose mapped address is a host candidate itself (no
 * NAT between this host and that server), -1 if none. */
static int mapped_to_host(const struct ice_server_record *r, size_t n,
			  const struct ice_gathered *c, size_t nc)
{
	for (size_t i = 0; i < n; i++) {
		if (r[i].result != ICE_SR_OK || !r[i].mapped.len)
			continue;
		for (size_t k = 0; k < nc; k++)
			if (c[k].cand.type == ICE_HOST && pbx_addr_equal(&c[k].cand.addr, &r[i].mapped))
				return (int)i;
	}
	return -1;
}

int ice_diag_servers(const struct ice_server_record *r, size_t n, enum ice_gather_policy policy,
		     const struct ice_gathered *c, size_t nc, struct ice_diag *out)
{
	memset(out, 0, sizeof *out);
	out->record = -1;
	enum ice_diag_code best = ICE_DIAG_COUNT;
	int skipped = -1;
	for (size_t i = 0; i < n; i++) {
		enum ice_diag_code k = ice_diag_record(&r[i]);
		/* A family the server or this host lacks does not block when
		 * the same server answered in the other family: asking for
		 * both (the default) must not fail an IPv4-only server. */
		if ((k == ICE_DIAG_TURN_FAMILY || k == ICE_DIAG_FAMILY_MISMATCH) &&
		    other_family_ok(r, n, i)) {
			if (skipped < 0)
				skipped = (int)i;
			continue;
		}
		if (k != ICE_DIAG_OK && k < best) {
			best = k;
			out->record = (int)i;
		}
	}
	if (best != ICE_DIAG_COUNT) {
		out->code = (uint8_t)best;
		reason_line(&r[out->record], best, out->reason);
		if (r[out->record].result == ICE_SR_UNSUPPORTED)
			ice_say(out->hint,
				"check the server as stun: (UDP); a TURN server's TLS port "
				"as turns:");
		else
			ice_say(out->hint, "%s", diag_hints[best]);
		return 0;
	}
	/* A server that sees this host's own address: there is no NAT in
	 * between, and the srflx candidate, equal to the host one, is
	 * dropped (RFC 8445 5.1.3); the host candidate is what peers use. */
	int direct = policy == ICE_POLICY_ALL && !has_wanted(policy, c, nc, n > 0)
			     ? mapped_to_host(r, n, c, nc)
			     : -1;
	if (direct < 0 && !has_wanted(policy, c, nc, n > 0)) {
		static const char *const want[] = { "server-derived", "host", "srflx", "relay" };
		out->code = ICE_DIAG_NO_CANDIDATE;
		ice_say(out->reason, "every server answered, but no %s candidate was gathered",
			want[(unsigned)policy < 4 ? policy : 0]);
		ice_say(out->hint, "%s", diag_hints[ICE_DIAG_NO_CANDIDATE]);
		return 0;
	}
	out->success = true;
	out->result = ICE_DIAG_R_SUCCESS;
	out->code = ICE_DIAG_OK;
	ice_say(out->reason, "every server answered (%zu record%s), %zu candidate%s", n,
		n == 1 ? "" : "s", nc, nc == 1 ? "" : "s");
	if (direct >= 0) {
		char a[64];
		pbx_addr_format(&r[direct].mapped, a, sizeof a);
		ice_say(out->hint,
			"no NAT between this host and %s: it saw the host's own address "
			"%s, so the host candidate is the one peers reach",
			r[direct].uri, a);
	} else if (skipped >= 0) {
		/* Say which family went without, as the hint of a success. */
		char line[ICE_DIAG_TEXT_MAX];
		reason_line(&r[skipped], ice_diag_record(&r[skipped]), line);
		ice_say(out->hint, "not in every family: %s", line);
	}
	return 0;
}
