#!/usr/bin/env bash
# rpd_sip - SIP over TCP and TLS through rpd to two real kamailio
# registrars, with sipsak as the client and crafted requests from a script
# where no client would send them: REGISTERs routed by the From domain to
# the right registrar and answered 200 (TLS terminated at rpd, forwarded
# plain), a registrar's 403 passed to the client and counted as suspicious,
# a first 401 challenge not counted while a second one to a request with
# (wrong) credentials is, an unknown domain refused with rpd's own 404 that
# echoes the request's Via/From/To/Call-ID/CSeq, a later request on the
# same connection for another service refused before it reaches anything,
# and a compact-form From ("f:") routed too.
# Peers: kamailio (in-memory registrar), sipsak, certtool, python3.
. "$(dirname "$0")/lib.sh"
need kamailio sipsak setsid certtool python3 ss

TALK="$PBX_SRC/tests/integration/peers/sip_talk.py"

# ---- two kamailio registrars: alpha for example.com, beta for other.org ----
#
# Each is its own kamailio, in a session of its own (kamailio signals its
# process group when it stops), run in the foreground and stopped by the
# test.  Both log every request they see with xlog and answer with a
# Server header naming them.  On alpha, mallory is refused with 403 and bob
# must authenticate (password "secret").
KAM=()
stop_kamailio() {
	local pid i
	for pid in "${KAM[@]:-}"; do
		[ -n "$pid" ] && kill -TERM -- "-$pid" 2>/dev/null || true
	done
	for pid in "${KAM[@]:-}"; do
		for ((i = 0; i < 50; i++)); do
			[ -n "$pid" ] && kill -0 -- "-$pid" 2>/dev/null || break
			sleep 0.1
		done
		[ -n "$pid" ] && kill -KILL -- "-$pid" 2>/dev/null || true
	done
}
at_exit stop_kamailio

kamailio_modules=$(dirname "$(find /usr/lib -path '*kamailio/modules/registrar.so' -print -quit 2>/dev/null \
	|| true)")
[ -f "$kamailio_modules/registrar.so" ] || fail "kamailio's registrar module not found"

# start_kamailio LABEL: a registrar on a free port; sets PORT_LABEL.
start_kamailio() {
	local label=$1 port
	port=$(free_port)
	mkdir -p "$T/kam_$label.run"
	cat >"$T/kam_$label.cfg" <<CFG
#!KAMAILIO
debug=2
log_stderror=yes
log_prefix="{$label} "
children=2
tcp_children=2
listen=tcp:127.0.0.1:$port
auto_aliases=no
dns=no
rev_dns=no
server_header="Server: kamailio-$label"
mpath="$kamailio_modules/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "pv.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
modparam("usrloc", "db_mode", 0)

request_route {
	xlog("L_NOTICE", "seen label=$label method=\$rm from=\$fu call-id=\$ci auth-user=\$au\n");
	if (!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
	if (!is_method("REGISTER")) {
		sl_send_reply("405", "Method Not Allowed");
		exit;
	}
	if (\$fU == "mallory") {
		xlog("L_NOTICE", "forbidden label=$label call-id=\$ci\n");
		sl_send_reply("403", "Forbidden");
		exit;
	}
	if (\$fU == "bob" && !pv_www_authenticate("\$fd", "secret", "0")) {
		xlog("L_NOTICE", "challenge label=$label call-id=\$ci\n");
		www_challenge("\$fd", "0");
		exit;
	}
	if (!save("location")) {
		sl_reply_error();
		exit;
	}
	xlog("L_NOTICE", "registered label=$label aor=\$tu call-id=\$ci\n");
}
CFG
	kamailio -c -f "$T/kam_$label.cfg" >"$T/kam_$label.check" 2>&1 \
		|| fail "kamailio config $label: $(tail -5 "$T/kam_$label.check")"
	start "kam_$label" setsid kamailio -f "$T/kam_$label.cfg" -P "$T/kam_$label.pid" \
		-Y "$T/kam_$label.run" -m 32 -M 8 -DD -E
	local pid
	eval "pid=\$PID_kam_$label"
	KAM+=("$pid")
	[ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ] || fail "kamailio $label not in a session of its own"
	wait_listening "$port"
	eval "PORT_$label=$port"
}
start_kamailio alpha
start_kamailio beta

# ---- rpd: sip and sips, one name per registrar ----
ok R init >/dev/null
# rpd presents one certificate for every name it serves over TLS.
make_certs "$T/pki" example.com other.org localhost 127.0.0.1
sp=$(free_port)
ssp=$(free_port)
ok R listen sip "$sp" --addr 127.0.0.1
ok R listen sips "$ssp" --addr 127.0.0.1
ok R set rpd.tls-cert "$T/pki/server.pem"
ok R set rpd.tls-key "$T/pki/server.key"
# sipsak (GnuTLS) only completes TLS 1.2 handshakes.
ok R set rpd.tls-priority 'NORMAL:-VERS-ALL:+VERS-TLS1.2'
ok R set rpd.suspicious-per-minute 1000
ok R name add example.com
ok R target example.com sip 127.0.0.1 --plain "$PORT_alpha"
ok R name add other.org
ok R target other.org sip 127.0.0.1 --plain "$PORT_beta"
start rpd "$RPD" --foreground --workers 2
wait_log "$T/rpd.log" "ready workers=2"

# reg NAME TRANSPORT PORT USER@DOMAIN [sipsak args...]: a sipsak
# registration (usrloc mode) through rpd; its verbose output in
# $T/NAME.out, its exit status in REG_RC, the client's address as rpd saw
# it (sipsak's Via names its TCP source port) in REG_CLIENT.
reg() {
	local name=$1 transport=$2 port=$3 aor=$4
	shift 4
	set +e
	timeout 20 sipsak -p "127.0.0.1:$port" -E "$transport" -U -i -x 60 \
		-C "sip:${aor%@*}@127.0.0.1:5099" -s "sip:$aor" -vvv "$@" \
		>"$T/$name.out" 2>&1
	REG_RC=$?
	set -e
	REG_CLIENT=$(sed -n 's/^Via: SIP\/2.0\/[A-Z]* \(127\.0\.0\.1:[0-9]*\);.*/\1/p' "$T/$name.out" | head -1)
	[ -n "$REG_CLIENT" ] || fail "$name: no Via in sipsak's output: $(tail -20 "$T/$name.out")"
}
# has NAME PATTERN: sipsak's output for NAME has a line matching PATTERN.
has() { grep -Eq -- "$2" "$T/$1.out" || fail "$1: no /$2/ in sipsak's output: $(tail -30 "$T/$1.out")"; }
lines() { grep -Ec -- "$2" "$1" || true; }

# (1) REGISTER over TCP, routed by the From domain to alpha, answered 200.
reg alice tcp "$sp" alice@example.com
[ "$REG_RC" = 0 ] || fail "alice over TCP: sipsak exit $REG_RC: $(tail -20 "$T/alice.out")"
has alice "^SIP/2.0 200 OK"
has alice "^Server: kamailio-alpha"
has alice "^Contact: <sip:alice@127.0.0.1:5099>;expires=60"
wait_log "$T/kam_alpha.log" "registered label=alpha aor=sip:alice@example.com"
wait_log "$T/rpd.log" "connection client=$REG_CLIENT service=sip name=example.com family=sip target=127.0.0.1:$PORT_alpha/plain port-rule=encryption-converted requests=1 .* outcome=ok"

# (2) The same over TLS: rpd terminates SIPS and forwards plain TCP.
reg alice_tls tls "$ssp" alice@example.com --tls-ca-cert "$T/pki/ca.pem"
[ "$REG_RC" = 0 ] || fail "alice over TLS: sipsak exit $REG_RC: $(tail -20 "$T/alice_tls.out")"
has alice_tls "^SIP/2.0 200 OK"
has alice_tls "^Server: kamailio-alpha"
wait_count "$T/kam_alpha.log" "registered label=alpha aor=sip:alice@example.com" 2
wait_log "$T/rpd.log" "connection client=$REG_CLIENT service=sips name=example.com family=sip target=127.0.0.1:$PORT_alpha/plain port-rule=encryption-converted requests=1 .* outcome=ok"

# (3) Two domains, two registrars: other.org lands at beta, over TCP and TLS.
reg carol tcp "$sp" carol@other.org
[ "$REG_RC" = 0 ] || fail "carol over TCP: sipsak exit $REG_RC: $(tail -20 "$T/carol.out")"
has carol "^SIP/2.0 200 OK"
has carol "^Server: kamailio-beta"
wait_log "$T/rpd.log" "connection client=$REG_CLIENT service=sip name=other.org family=sip target=127.0.0.1:$PORT_beta/plain port-rule=encryption-converted requests=1 .* outcome=ok"
reg carol_tls tls "$ssp" carol@other.org --tls-ca-cert "$T/pki/ca.pem"
[ "$REG_RC" = 0 ] || fail "carol over TLS: sipsak exit $REG_RC: $(tail -20 "$T/carol_tls.out")"
has carol_tls "^Server: kamailio-beta"
wait_count "$T/kam_beta.log" "registered label=beta aor=sip:carol@other.org" 2
# Neither registrar saw the other's domain.
grep -q "other.org" "$T/kam_alpha.log" && fail "alpha saw other.org: $(grep other.org "$T/kam_alpha.log")"
grep -q "example.com" "$T/kam_beta.log" && fail "beta saw example.com: $(grep example.com "$T/kam_beta.log")"

# (4) The registrar's refusals.  A 403 reaches the client and is counted.
reg mallory tcp "$sp" mallory@example.com
[ "$REG_RC" != 0 ] || fail "mallory was registered"
has mallory "^SIP/2.0 403 Forbidden"
has mallory "^Server: kamailio-alpha"
wait_log "$T/kam_alpha.log" "forbidden label=alpha"
wait_log "$T/rpd.log" "service-rejected client=$REG_CLIENT name=example.com status=403"
# bob with the right password: the first 401 is the normal challenge, not
# counted; the REGISTER with credentials is answered 200.
reg bob_good tcp "$sp" bob@example.com -u bob -a secret
[ "$REG_RC" = 0 ] || fail "bob with the right password: sipsak exit $REG_RC: $(tail -30 "$T/bob_good.out")"
has bob_good "^SIP/2.0 401 Unauthorized"
has bob_good "^SIP/2.0 200 OK"
wait_log "$T/kam_alpha.log" "registered label=alpha aor=sip:bob@example.com"
bob_good_client=$REG_CLIENT
# bob with a wrong password: challenged (not counted), then his REGISTER
# with credentials is challenged again (counted).
reg bob_bad tcp "$sp" bob@example.com -u bob -a wrong
[ "$REG_RC" != 0 ] || fail "bob with a wrong password was registered"
[ "$(lines "$T/bob_bad.out" "^SIP/2.0 401 Unauthorized")" -ge 2 ] \
	|| fail "bob with a wrong password: no second 401: $(tail -30 "$T/bob_bad.out")"
grep -q "^Authorization: Digest username=\"bob\"" "$T/bob_bad.out" \
	|| fail "sipsak sent no credentials: $(tail -30 "$T/bob_bad.out")"
wait_log "$T/rpd.log" "service-rejected client=$REG_CLIENT name=example.com status=401"
wait_log "$T/rpd.log" "connection client=$REG_CLIENT service=sip name=example.com "
wait_log "$T/rpd.log" "connection client=$bob_good_client service=sip name=example.com "
# Three challenges were sent by alpha; only the one to credentials counted.
[ "$(lines "$T/kam_alpha.log" "challenge label=alpha")" = 3 ] \
	|| fail "alpha's challenges: $(grep challenge "$T/kam_alpha.log")"
[ "$(lines "$T/rpd.log" "service-rejected .* status=401")" = 1 ] \
	|| fail "401s counted: $(grep service-rejected "$T/rpd.log")"
grep -q "service-rejected client=$bob_good_client " "$T/rpd.log" \
	&& fail "the first challenge was counted: $(grep service-rejected "$T/rpd.log")"

# (5) An unknown domain: rpd's own 404, the request's fields echoed.
cat >"$T/unknown.sip" <<'SIP'
REGISTER sip:nosuch.net SIP/2.0
Via: SIP/2.0/TCP 127.0.0.1:5099;branch=z9hG4bK-unknown-1;rport
Via: SIP/2.0/TCP 192.0.2.9:5060;branch=z9hG4bK-unknown-0
Max-Forwards: 70
From: "Eve" <sip:eve@nosuch.net>;tag=eve-1
To: <sip:eve@nosuch.net>
Call-ID: unknown-1@127.0.0.1
CSeq: 7 REGISTER
Contact: <sip:eve@127.0.0.1:5099;transport=tcp>
Expires: 60
Content-Length: 0

SIP
python3 "$TALK" "$sp" "$T/unknown.sip" >"$T/unknown.out" || fail "sip_talk unknown"
client=$(sed -n 's/^== local //p' "$T/unknown.out")
python3 - "$T/unknown.out" <<'PY' || fail "unknown name: $(cat "$T/unknown.out")"
import sys
text = open(sys.argv[1]).read()
reply = text.split("== reply 1\n", 1)[1].split("\n== ", 1)[0].split("\n")
want = [
    "SIP/2.0 404 Not Found",
    "Via: SIP/2.0/TCP 127.0.0.1:5099;branch=z9hG4bK-unknown-1;rport",
    "Via: SIP/2.0/TCP 192.0.2.9:5060;branch=z9hG4bK-unknown-0",
    'From: "Eve" <sip:eve@nosuch.net>;tag=eve-1',
    "To: <sip:eve@nosuch.net>;tag=pbxedge",
    "Call-ID: unknown-1@127.0.0.1",
    "CSeq: 7 REGISTER",
    "Server: pbxedge",
    "Content-Length: 0",
]
assert reply == want, reply
assert text.rstrip().endswith("== closed"), "connection left open"
PY
wait_log "$T/rpd.log" "refused client=$client service=sip name=nosuch.net reason=unknown-name"
grep -q "unknown-1@127.0.0.1" "$T/kam_alpha.log" "$T/kam_beta.log" && fail "the unknown name reached a registrar"

# (6) One connection: a REGISTER for example.com goes to alpha; a later one
# whose From is at other.org is refused (other-service) and reaches nobody.
cat >"$T/first.sip" <<'SIP'
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/TCP 127.0.0.1:5099;branch=z9hG4bK-reroute-1;rport
Max-Forwards: 70
From: <sip:dave@example.com>;tag=dave-1
To: <sip:dave@example.com>
Call-ID: reroute-1@127.0.0.1
CSeq: 1 REGISTER
Contact: <sip:dave@127.0.0.1:5099;transport=tcp>
Expires: 60
Content-Length: 0

SIP
cat >"$T/second.sip" <<'SIP'
REGISTER sip:other.org SIP/2.0
Via: SIP/2.0/TCP 127.0.0.1:5099;branch=z9hG4bK-reroute-2;rport
Max-Forwards: 70
From: <sip:dave@other.org>;tag=dave-2
To: <sip:dave@other.org>
Call-ID: reroute-2@127.0.0.1
CSeq: 2 REGISTER
Contact: <sip:dave@127.0.0.1:5099;transport=tcp>
Expires: 60
Content-Length: 0

SIP
python3 "$TALK" "$sp" "$T/first.sip" "$T/second.sip" >"$T/reroute.out" || fail "sip_talk reroute"
client=$(sed -n 's/^== local //p' "$T/reroute.out")
# alpha_then_refused OUT ID: in sip_talk's output OUT, alpha's 200 for
# ID-1 came first, then pbxedge's 403 for ID-2, and the connection closed.
alpha_then_refused() {
	python3 - "$1" "$2" <<'PY'
import sys
text = open(sys.argv[1]).read()
cid = sys.argv[2]
def reply(n):
    return text.split("== reply %d\n" % n, 1)[1].split("\n== ", 1)[0].split("\n")
r1, r2 = reply(1), reply(2)
assert r1[0] == "SIP/2.0 200 OK" and "Server: kamailio-alpha" in r1, r1
assert "Call-ID: %s-1@127.0.0.1" % cid in r1, r1
assert r2[0] == "SIP/2.0 403 Forbidden", r2
assert "Server: pbxedge" in r2 and "Call-ID: %s-2@127.0.0.1" % cid in r2, r2
assert "CSeq: 2 REGISTER" in r2, r2
assert text.rstrip().endswith("== closed"), "connection left open"
PY
}
alpha_then_refused "$T/reroute.out" reroute ||
	fail "re-route on one connection: $(cat "$T/reroute.out")"
wait_log "$T/rpd.log" "refused client=$client service=sip name=example.com asked=other.org reason=other-service"
wait_log "$T/rpd.log" "connection client=$client service=sip name=example.com family=sip target=127.0.0.1:$PORT_alpha/plain port-rule=encryption-converted requests=1 .* reason=other-service"
grep -q "call-id=reroute-1@127.0.0.1" "$T/kam_alpha.log" || fail "the first request did not reach alpha"
grep -q "reroute-2@127.0.0.1" "$T/kam_alpha.log" "$T/kam_beta.log" \
	&& fail "the second request reached a registrar: $(grep -h reroute-2 "$T"/kam_*.log)"

# (6b) The same two requests pipelined in one write, before rpd has even
# connected to alpha: the first still reaches alpha and its 200 comes back,
# then rpd's 403 for the second, in that order; the refusal waits for the
# answer the client is owed.
sed 's/reroute-1/pipe-1/; s/dave-1/dave-p1/' "$T/first.sip" >"$T/pipe1.sip"
sed 's/reroute-2/pipe-2/; s/dave-2/dave-p2/' "$T/second.sip" >"$T/pipe2.sip"
python3 "$TALK" --pipeline "$sp" "$T/pipe1.sip" "$T/pipe2.sip" >"$T/pipe.out" || fail "sip_talk pipeline"
client=$(sed -n 's/^== local //p' "$T/pipe.out")
alpha_then_refused "$T/pipe.out" pipe || fail "pipelined: $(cat "$T/pipe.out")"
wait_log "$T/rpd.log" "refused client=$client service=sip name=example.com asked=other.org reason=other-service"
grep -q "call-id=pipe-1@127.0.0.1" "$T/kam_alpha.log" || fail "the pipelined first request did not reach alpha"
grep -q "pipe-2@127.0.0.1" "$T/kam_alpha.log" "$T/kam_beta.log" \
	&& fail "the pipelined second request reached a registrar"

# (7) Compact forms: "f:" (and v:, t:, i:, m:, l:) route like the long ones.
cat >"$T/compact.sip" <<'SIP'
REGISTER sip:other.org SIP/2.0
v: SIP/2.0/TCP 127.0.0.1:5099;branch=z9hG4bK-compact-1;rport
Max-Forwards: 70
f: <sip:erin@other.org>;tag=erin-1
t: <sip:erin@other.org>
i: compact-1@127.0.0.1
CSeq: 1 REGISTER
m: <sip:erin@127.0.0.1:5099;transport=tcp>
Expires: 60
l: 0

SIP
python3 "$TALK" "$sp" "$T/compact.sip" >"$T/compact.out" || fail "sip_talk compact"
client=$(sed -n 's/^== local //p' "$T/compact.out")
grep -qx "SIP/2.0 200 OK" "$T/compact.out" || fail "compact form: $(cat "$T/compact.out")"
grep -qx "Server: kamailio-beta" "$T/compact.out" || fail "compact form: $(cat "$T/compact.out")"
# A SIP connection stays open after the answer: the phone keeps it.
[ "$(tail -1 "$T/compact.out")" = "== open" ] || fail "compact form: $(cat "$T/compact.out")"
wait_log "$T/kam_beta.log" "registered label=beta aor=sip:erin@other.org call-id=compact-1@127.0.0.1"
wait_log "$T/rpd.log" "connection client=$client service=sip name=other.org family=sip target=127.0.0.1:$PORT_beta/plain port-rule=encryption-converted requests=1 .* outcome=ok"

# ---- counters and events after rpd stops ----
kill -TERM "$PID_rpd"
wait_exit "$PID_rpd"
[ "$EXIT_STATUS" = 0 ] || fail "rpd exit $EXIT_STATUS"
R status >"$T/status.out"
grep -Eq "^  rpd +suspicious +[1-9]" "$T/status.out" || fail "status: $(cat "$T/status.out")"
grep -Eq "^  rpd +refused-unknown-name +[1-9]" "$T/status.out" || fail "status: $(cat "$T/status.out")"
grep -Eq "^  rpd +refused-other-service +[1-9]" "$T/status.out" || fail "status: $(cat "$T/status.out")"
R --json status >"$T/status.json"
python3 - "$T/status.json" <<'PY' || fail "suspicious events: $(cat "$T/status.json")"
import json, sys
events = json.load(open(sys.argv[1]))["events"]
def n(reason, detail):
    return sum(1 for e in events if e["daemon"] == "rpd" and e["service"] == "sip"
               and e["reason"] == reason and e["detail"] == detail)
assert n("service-rejected", "example.com status 403") == 1, events
assert n("service-rejected", "example.com status 401") == 1, events
assert n("unknown-name", "nosuch.net") == 1, events
assert n("other-service", "example.com") == 2, events
assert len(events) == 5, events
PY

stop_kamailio
for pid in "${KAM[@]}"; do
	wait_exit "$pid"
done
KAM=()
echo "rpd_sip: ok"
