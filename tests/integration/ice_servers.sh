#!/usr/bin/env bash
# ice_servers - rpctl ice-test servers against coturn and turnd on loopback:
# good credentials give srflx and relay candidates and SUCCESS (exit 0),
# every allocation is released (coturn logs lifetime=0 for each); a wrong
# password is FAILED turn-auth within a second; a closed UDP port is
# turn-unreachable (ICMP) within a second; a server silenced by an
# nftables drop rule in a namespace of the test's own is turn-timeout
# within --gather-timeout; turns: without the CA is tls-untrusted, with
# --ca it succeeds; with the store and no servers given, the appliance's
# own stund and turnd are checked and the result shows in rpctl status;
# --rest-secret-from-store mints a credential turnd takes, an expired REST
# name is reported with nothing sent; IPv6 rows against turnd on ::1;
# SIGINT and --timeout end it ABORTED (exit 2), allocations released;
# TLS to a plain TCP port is tls-handshake; --json parses; a name that
# does not resolve is dns; without --db and without a store nothing is
# created; behind a NAT (netns.sh) the srflx candidate is the router's
# address.
# Peers: coturn (turnserver), certtool, ss, python3, nft, ip (root).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
need turnserver certtool ss python3 nft ip

# Until the turnd part, no store: $PBXEDGE_DB unset, HOME empty.
unset_db() { env -u PBXEDGE_DB HOME="$T/empty" "$@"; }
ICE() { unset_db timeout 40 "$RPCTL" ice-test servers "$@"; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

wait_udp() {
	local i
	for ((i = 0; i < 100; i++)); do
		ss -Hlun "sport = :$1" | grep -q . && return 0
		sleep 0.1
	done
	fail "nothing listens on UDP port $1"
}

# run NAME WANT_STATUS ARGS...: ice-test servers, output into $T/NAME.out.
run() {
	local name=$1 want=$2 rc
	shift 2
	set +e
	ICE "$@" >"$T/$name.out" 2>"$T/$name.err"
	rc=$?
	set -e
	[ "$rc" = "$want" ] || fail "$name: exit $rc, not $want: $(cat "$T/$name.out" "$T/$name.err")"
}
conclusion() { grep -E "^ICE: Conclusion $2 \($3: " "$T/$1.out" >/dev/null \
	|| fail "$1: no 'Conclusion $2 ($3: ...)': $(cat "$T/$1.out" "$T/$1.err")"; }

mkdir "$T/empty"
make_certs "$T/pki" 127.0.0.1
printf 'secret\n' >"$T/good.pw"
printf 'zq9-badpass\n' >"$T/bad.pw"

# ---- coturn ----
coturn_loopback
wait_listening "$CTP"

# No store anywhere: runs from its arguments, creates nothing.
DEFAULT_DB=$("$RPCTL" --help | sed -n 's/^ *\(\/[^ ]*\))$/\1/p')
[ -n "$DEFAULT_DB" ] || fail "no default store path in rpctl --help"
had_default=no
[ -e "$DEFAULT_DB" ] && had_default=yes

t0=$(date +%s%N)
set +e
unset_db timeout 40 "$RPCTL" ice-test servers --family 4 --stun "stun:127.0.0.1:$CP" \
	--turn "turn:127.0.0.1:$CP" --user alice --password-file "$T/good.pw" >"$T/udp.out" 2>&1
rc=$?
set -e
echo "coturn udp: $(ms_since "$t0") ms, exit $rc"
[ "$rc" = 0 ] || fail "coturn udp: exit $rc: $(cat "$T/udp.out")"
conclusion udp SUCCESS ok
grep -Eq "^turn:127\.0\.0\.1:$CP\?transport=udp +127\.0\.0\.1:$CP +ipv4 +ok +[0-9]+ +127\.0\.0\.1:[0-9]+ +127\.0\.0\.1:[0-9]+ +lifetime [0-9]+s$" \
	"$T/udp.out" || fail "coturn udp: no TURN row: $(cat "$T/udp.out")"
grep -Eq "^stun:127\.0\.0\.1:$CP +127\.0\.0\.1:$CP +ipv4 +ok " "$T/udp.out" \
	|| fail "coturn udp: no STUN row: $(cat "$T/udp.out")"
# On loopback the server-reflexive address is the host's own: the srflx
# candidate is redundant (RFC 8445 5.1.3) and pruned; the mapped address
# is in the servers table, and the NAT case below has a srflx row.
for type in host relay; do
	grep -Eq "^[0-9]+ +1 +$type +[0-9a-f]{8} +udp +127\.0\.0\.1 +[0-9]+ +[0-9]+\|[0-9]+\|1 " \
		"$T/udp.out" || fail "coturn udp: no $type candidate: $(cat "$T/udp.out")"
done
grep -q secret "$T/udp.out" && fail "the password is in the output"
[ -z "$(ls -A "$T/empty")" ] || fail "a store was created: $(ls -A "$T/empty")"
ls "$T"/*.db 2>/dev/null && fail "a store was created in $T"
[ "$had_default" = yes ] || [ ! -e "$DEFAULT_DB" ] || fail "the default store $DEFAULT_DB was created"

# The password from the environment, over TCP, as JSON.
PBXEDGE_TURN_PASSWORD=secret unset_db timeout 40 "$RPCTL" --json ice-test servers --family 4 \
	--turn "turn:127.0.0.1:$CP?transport=tcp" --user alice >"$T/tcp.json" \
	|| fail "coturn tcp: $(cat "$T/tcp.json")"
python3 - "$T/tcp.json" <<'PY' || fail "coturn tcp json: $(cat "$T/tcp.json")"
import json, sys
d = json.load(open(sys.argv[1]))
c = d["conclusion"]
assert c["result"] == "SUCCESS" and c["code"] == "ok" and "reason" in c and isinstance(c["hints"], list), c
s = d["servers"][0]
for k in ("uri", "address", "family", "transport", "result", "rtt_ms", "mapped", "relayed",
          "lifetime", "error_code", "error_text"):
    assert k in s, k
assert s["transport"] == "tcp" and s["result"] == "ok" and s["relayed"], s
types = {x["type"] for x in d["candidates"]}
assert {"host", "relay"} <= types, types
assert s["mapped"], s
r = [x for x in d["candidates"] if x["type"] == "relay"][0]
for k in ("time_ms", "component", "foundation", "protocol", "address", "port", "priority",
          "server", "relay_protocol"):
    assert k in r, k
assert r["relay_protocol"] == "tcp", r
PY

# A wrong password: turn-auth, within a second.
t0=$(date +%s%N)
run auth 1 --family 4 --turn "turn:127.0.0.1:$CP" --user alice --password-file "$T/bad.pw"
ms=$(ms_since "$t0")
echo "wrong password: $ms ms"
conclusion auth FAILED turn-auth
[ "$ms" -lt 1000 ] || fail "wrong password took $ms ms"
grep -q zq9-badpass "$T/auth.out" "$T/auth.err" && fail "the wrong password is in the output"

# Both families asked (the default) of coturn, which relays IPv4 only:
# its 440 for IPv6 does not fail the check, and the hint says so.
run both 0 --turn "turn:127.0.0.1:$CP" --user alice --password-file "$T/good.pw"
conclusion both SUCCESS ok
grep -q "^ICE: Hint: not in every family: .*440" "$T/both.out" \
	|| fail "both: no hint about the family not relayed: $(cat "$T/both.out")"

# turns: without the CA, untrusted; with it, relayed.
run untrusted 1 --family 4 --turn "turns:127.0.0.1:$CTP" --user alice --password-file "$T/good.pw"
conclusion untrusted FAILED tls-untrusted
run tls 0 --family 4 --turn "turns:127.0.0.1:$CTP" --ca "$T/pki/ca.pem" --user alice \
	--password-file "$T/good.pw"
conclusion tls SUCCESS ok
grep -Eq "^[0-9]+ +1 +relay .* tls$" "$T/tls.out" || fail "tls: no relay over tls: $(cat "$T/tls.out")"

# A STUN server that never answers (a bound socket that reads nothing)
# keeps the gathering going: SIGINT aborts it (exit 2) and the allocation
# made meanwhile is still released; so does the overall --timeout.
MUTE=$(free_udp)
start mute python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
time.sleep(120)' "$MUTE"
wait_udp "$MUTE"
made=$(grep -c "new, realm=<pbxedge>, username=<alice>" "$T/coturn.log" || true)
env -u PBXEDGE_DB HOME="$T/empty" "$RPCTL" ice-test servers --family 4 --stun "stun:127.0.0.1:$MUTE" \
	--turn "turn:127.0.0.1:$CP" --user alice --password-file "$T/good.pw" >"$T/int.out" 2>&1 &
INT=$!
PIDS+=("$INT")
wait_count "$T/coturn.log" "new, realm=<pbxedge>, username=<alice>" $((made + 1)) 5
kill -INT "$INT"
t0=$(date +%s%N)
wait_exit "$INT" 5
echo "SIGINT: exit $EXIT_STATUS after $(ms_since "$t0") ms"
[ "$EXIT_STATUS" = 2 ] || fail "SIGINT: exit $EXIT_STATUS: $(cat "$T/int.out")"
conclusion int ABORTED interrupted
t0=$(date +%s%N)
run overall 2 --family 4 --stun "stun:127.0.0.1:$MUTE" --timeout 1
ms=$(ms_since "$t0")
echo "--timeout 1: $ms ms"
conclusion overall ABORTED timeout
[ "$ms" -lt 2500 ] || fail "--timeout 1 took $ms ms"

# Every allocation made (udp, tcp, both families, tls, interrupted) was
# released: lifetime=0.
wait_count "$T/coturn.log" "refreshed, realm=<pbxedge>, username=<alice>, lifetime=0" 5 5
[ "$(grep -c "new, realm=<pbxedge>, username=<alice>" "$T/coturn.log")" = 5 ] \
	|| fail "coturn: not 5 allocations: $(grep "username=<alice>" "$T/coturn.log")"
kill -TERM "$PID_coturn"

# A closed UDP port: ICMP port unreachable, at once.
DEAD=$(free_udp)
t0=$(date +%s%N)
run closed 1 --family 4 --turn "turn:127.0.0.1:$DEAD" --user alice --password-file "$T/good.pw"
ms=$(ms_since "$t0")
echo "closed port: $ms ms"
conclusion closed FAILED turn-unreachable
[ "$ms" -lt 1000 ] || fail "closed port took $ms ms"
run closedtcp 1 --family 4 --turn "turn:127.0.0.1:$DEAD?transport=tcp" --user alice \
	--password-file "$T/good.pw"
conclusion closedtcp FAILED tcp-refused

# Argument errors: exit 2, one line.
refuse 2 "unknown option '--frob'" R ice-test servers --frob
refuse 2 "--family 'x' is not 4, 6 or both" R ice-test servers --family x
refuse 1 "TURN servers need --user" unset_db "$RPCTL" ice-test servers --turn turn:127.0.0.1

# A server silenced by a drop rule (no ICMP) in a namespace of our own:
# turn-timeout within --gather-timeout.
NS=pbxice$$
ip netns add "$NS"
at_exit 'ip netns del "$NS"' 
ip -n "$NS" link set lo up
ip netns exec "$NS" nft add table inet t
ip netns exec "$NS" nft add chain inet t in '{ type filter hook input priority 0; }'
ip netns exec "$NS" nft add rule inet t in udp dport 3478 drop
ip netns exec "$NS" nft add rule inet t in tcp dport 3478 drop
t0=$(date +%s%N)
set +e
ip netns exec "$NS" env -u PBXEDGE_DB HOME="$T/empty" timeout 40 "$RPCTL" ice-test servers \
	--family 4 --turn turn:127.0.0.1:3478 --user alice --password-file "$T/good.pw" \
	--gather-timeout 2 >"$T/silent.out" 2>&1
rc=$?
set -e
ms=$(ms_since "$t0")
echo "silenced server: $ms ms, exit $rc"
[ "$rc" = 1 ] || fail "silenced: exit $rc: $(cat "$T/silent.out")"
conclusion silent FAILED turn-timeout
[ "$ms" -lt 3000 ] || fail "silenced server took $ms ms (--gather-timeout 2)"
set +e
ip netns exec "$NS" env -u PBXEDGE_DB HOME="$T/empty" timeout 40 "$RPCTL" ice-test servers \
	--family 4 --turn turn:127.0.0.1:3478 --transport tcp --user alice \
	--password-file "$T/good.pw" --gather-timeout 1 >"$T/silenttcp.out" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || fail "silenced tcp: exit $rc: $(cat "$T/silenttcp.out")"
conclusion silenttcp FAILED tcp-timeout
# A name that does not resolve (the namespace reaches no resolver): dns.
set +e
ip netns exec "$NS" env -u PBXEDGE_DB HOME="$T/empty" timeout 40 "$RPCTL" ice-test servers \
	--family 4 --stun stun:no-such-host.invalid >"$T/dns.out" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || fail "dns: exit $rc: $(cat "$T/dns.out")"
conclusion dns FAILED dns
grep -Eq "^stun:no-such-host\.invalid:3478 +- +ipv4 +dns " "$T/dns.out" || fail "dns: $(cat "$T/dns.out")"

# Behind a NAT: coturn on the public side, rpctl on the LAN behind a
# port-restricted NAT; the server-reflexive candidate is the router's WAN
# address, and the relay the public side's.
netns_setup
netns_nat port-restricted
cat >"$T/coturn-nat.conf" <<CONF
listening-ip=$PUB_IP1
listening-port=3478
relay-ip=$PUB_IP1
lt-cred-mech
realm=pbxedge
user=alice:secret
min-port=49152
max-port=49252
no-dtls
no-tls
no-cli
verbose
simple-log
log-file=$T/coturn-nat.log
pidfile=$T/turnserver-nat.pid
userdb=$T/turndb-nat
CONF
start coturnnat ip netns exec "$NS_PUB" turnserver -c "$T/coturn-nat.conf"
for _ in $(seq 100); do
	ip netns exec "$NS_PUB" ss -Hlun "sport = :3478" | grep -q . && break
	sleep 0.1
done
set +e
ip netns exec "$NS_LAN" env -u PBXEDGE_DB HOME="$T/empty" timeout 40 "$RPCTL" ice-test servers \
	--family 4 --stun "stun:$PUB_IP1" --turn "turn:$PUB_IP1" --user alice \
	--password-file "$T/good.pw" >"$T/nat.out" 2>&1
rc=$?
set -e
[ "$rc" = 0 ] || fail "nat: exit $rc: $(cat "$T/nat.out")"
conclusion nat SUCCESS ok
grep -Eq "^[0-9]+ +1 +host +[0-9a-f]{8} +udp +$LAN_IP " "$T/nat.out" || fail "nat: no host: $(cat "$T/nat.out")"
grep -Eq "^[0-9]+ +1 +srflx +[0-9a-f]{8} +udp +$WAN_IP +[0-9]+ .* stun:$PUB_IP1:3478 +- *$" "$T/nat.out" \
	|| fail "nat: no srflx candidate from the STUN server: $(cat "$T/nat.out")"
grep -Eq "^[0-9]+ +1 +relay +[0-9a-f]{8} +udp +$PUB_IP1 +[0-9]+ " "$T/nat.out" \
	|| fail "nat: no relay: $(cat "$T/nat.out")"
wait_log "$T/coturn-nat.log" "refreshed, realm=<pbxedge>, username=<alice>, lifetime=0" 5
kill -TERM "$PID_coturnnat"

# ---- turnd, with the store ----
ICE() { timeout 40 "$RPCTL" ice-test servers "$@"; }
# --json is a global option: it may stand after the command's words.
P=$(free_udp)
V6=no
ip -6 addr show dev lo 2>/dev/null | grep -q "inet6 ::1/128" && V6=yes
if [ "$V6" = yes ]; then
	turnd_store "127.0.0.1:$P,[::1]:$P" "$CLO"
	ok R whitelist add ::1 --reason "test client"
else
	turnd_store "127.0.0.1:$P" "$CLO"
fi
ok R turn user add alice secret
ok R whitelist add 127.0.0.1 --reason "test client"
ok R turn secret add 'rest-secret'
SP=$(free_udp)
ok R set stund.primary "127.0.0.1:$SP"
start turnd "$TURND" --foreground --workers 1
start stund "$STUND" --foreground --workers 1
wait_log "$T/turnd.log" "ready workers=1"
wait_log "$T/stund.log" "ready workers=1"

run turnd 0 --family 4 --stun "127.0.0.1:$P" --turn "turn:127.0.0.1:$P" --user alice \
	--password-file "$T/good.pw"
conclusion turnd SUCCESS ok
grep -Eq "^[0-9]+ +1 +relay " "$T/turnd.out" || fail "turnd: no relay: $(cat "$T/turnd.out")"
grep -Eq "^turn:127\.0\.0\.1:$P\?transport=udp +127\.0\.0\.1:$P +ipv4 +ok +[0-9]+ +127\.0\.0\.1:[0-9]+ +127\.0\.0\.1:[0-9]+ " \
	"$T/turnd.out" || fail "turnd: no mapped and relayed address: $(cat "$T/turnd.out")"
wait_log "$T/turnd.log" "allocation-ended .* user=alice .*reason=refresh-0" 5

# The result is kept for rpctl status.
R status | grep -Eq "^ice-test +servers +SUCCESS \(ok: .*\) at [0-9T:-]+Z, 2 server rows, [0-9]+ candidates$" \
	|| fail "status: $(R status | head -8)"
R --json status | python3 -c 'import json, sys; t = json.load(sys.stdin)["ice_test"]
assert len(t) == 1 and t[0]["mode"] == "servers" and t[0]["result"] == "SUCCESS" \
	and t[0]["code"] == "ok", t' \
	|| fail "status json: $(R --json status)"

# The default servers are the appliance's own stund and turnd; the
# credential is minted from the store's secret.
run rest 0 --family 4 --rest-secret-from-store --user bob
conclusion rest SUCCESS ok
grep -Eq "^stun:127\.0\.0\.1:$SP +127\.0\.0\.1:$SP +ipv4 +ok " "$T/rest.out" \
	|| fail "rest: not stund's address: $(cat "$T/rest.out")"
grep -Eq "^turn:127\.0\.0\.1:$P\?transport=udp " "$T/rest.out" || fail "rest: not turnd's address: $(cat "$T/rest.out")"
wait_log "$T/turnd.log" "allocation-ended .* user=[0-9]+:bob .*reason=refresh-0" 5

# TLS to turnd's plain TCP port: the handshake fails (not a trust problem).
run handshake 1 --family 4 --turn "turns:127.0.0.1:$P" --ca "$T/pki/ca.pem" --user alice \
	--password-file "$T/good.pw"
conclusion handshake FAILED tls-handshake

# IPv6: a relay of that family from turnd on ::1; asked for both families,
# the IPv4 relay is refused (440): that row says so, and the check still
# succeeds on the IPv6 relay, with a hint naming the family without.
if [ "$V6" = yes ]; then
	run v6 0 --family 6 --turn "turn:[::1]:$P" --user alice --password-file "$T/good.pw"
	conclusion v6 SUCCESS ok
	grep -Eq "^[0-9]+ +1 +relay +[0-9a-f]{8} +udp +::1 " "$T/v6.out" || fail "v6: $(cat "$T/v6.out")"
	run both6 0 --family both --turn "turn:[::1]:$P" --user alice --password-file "$T/good.pw"
	conclusion both6 SUCCESS ok
	grep -q "^ICE: Hint: not in every family: .*440" "$T/both6.out" \
		|| fail "both6: no hint: $(cat "$T/both6.out")"
	grep -Eq "^turn:\[::1\]:$P\?transport=udp +\[::1\]:$P +ipv4 +error .* 440 " "$T/both6.out" \
		|| fail "both6: $(cat "$T/both6.out")"
	grep -Eq "^turn:\[::1\]:$P\?transport=udp +\[::1\]:$P +ipv6 +ok " "$T/both6.out" \
		|| fail "both6: $(cat "$T/both6.out")"
else
	echo "note: no ::1, IPv6 rows not checked" >&2
fi

# An expired REST name: reported, nothing sent.
run expired 1 --family 4 --turn "turn:127.0.0.1:$P" --user "1000:bob" --password-file "$T/good.pw"
conclusion expired FAILED turn-rest-expired
grep -Eq "^turn:127\.0\.0\.1:$P\?transport=udp .* rest-expired " "$T/expired.out" \
	|| fail "expired: $(cat "$T/expired.out")"
set +e
ICE --family 4 --turn "turn:127.0.0.1:$P" --user "1000:bob" --password-file "$T/good.pw" \
	--json >"$T/expired.json"
set -e
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); s = d["servers"][0]
assert s["sent"] == 0 and s["result"] == "rest-expired", s
assert d["conclusion"]["code"] == "turn-rest-expired", d' "$T/expired.json" \
	|| fail "expired json: $(cat "$T/expired.json")"
grep -q "1000:bob" "$T/turnd.log" && fail "expired: turnd saw the request"
R status | grep -Eq "^ice-test +servers +FAILED \(turn-rest-expired: " || fail "status after expired: $(R status | head -8)"

echo "ice_servers: ok"
