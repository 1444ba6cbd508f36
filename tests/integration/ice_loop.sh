#!/usr/bin/env bash
# ice_loop - rpctl ice-test loop, two local agents through real servers,
# all inside a network namespace the test creates (loopback, and
# 198.18.77.1 on a veth end for turnd):
#   coturn   --policy relay through coturn with allow-loopback-peers:
#            SUCCESS relay -> relay, and coturn logs one Refresh
#            lifetime=0 per allocation (two);
#   sigint   SIGINT while consent runs: ABORTED interrupted, exit 2, both
#            allocations released;
#   turnd    --policy relay through turnd on 198.18.77.1 with its default
#            peer policy (its own relayed addresses are peers, the
#            private range is not allowed), the server taken from the
#            store (no --turn): SUCCESS relay -> relay; --json parses and
#            has its keys;
#   two      --a-turn coturn --b-turn turnd (turnd.allow-peer 127.0.0.1 for
#            coturn's relayed address) --data 2: SUCCESS, 0 lost, an RTT;
#   consent  the same with --consent, turnd silenced by nftables once the
#            echo came back: FAILED consent-lost, coturn's allocation still
#            released;
#   denied   coturn without allow-loopback-peers: FAILED
#            turn-permission-denied (run beside the others).
# Peers: coturn, nftables, iproute2, python3.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ice/lib.sh"
need turnserver nft ip python3 ss
[ "$(id -u)" = 0 ] || { echo "SKIP: network namespaces need root" >&2; exit 77; }

ADDR=198.18.77.1
ns_single pbxil "$ADDR"

# Two coturns on the namespace's loopback: one relays to loopback peers,
# one (its default) refuses them.
CP=3478
DP=3490
ice_coturn coturn "$NS" 127.0.0.1 "$CP" "allow-loopback-peers"
ice_coturn coturn_deny "$NS" 127.0.0.1 "$DP"

# turnd on 198.18.77.1 with its own store and the default peer policy.
TP=3478
export PBXEDGE_DB="$T/turnd.db"
turnd_store "$ADDR:$TP" 20000
ok "$RPCTL" turn user add agent secret
ok "$RPCTL" whitelist add 127.0.0.1 --reason "test agents"
ok "$RPCTL" whitelist add "$ADDR" --reason "test agents"
start turnd ip netns exec "$NS" "$TURND" --foreground --workers 1 --db "$PBXEDGE_DB"
wait_log "$T/turnd.log" "serving listen=$ADDR:$TP "

export PBXEDGE_TURN_PASSWORD=secret
# loop NAME ARGS...: rpctl ice-test loop in the namespace, output in
# $T/NAME.out, exit code in $T/NAME.rc.
loop() {
	local name=$1 rc=0
	shift
	N "$RPCTL" ice-test loop --user agent --policy relay --timeout 20 "$@" \
		>"$T/$name.out" 2>"$T/$name.err" || rc=$?
	echo "$rc" >"$T/$name.rc"
}
expect() { # NAME RC PATTERN
	local rc
	rc=$(cat "$T/$1.rc")
	[ "$rc" = "$2" ] || fail "$1: exit $rc, expected $2: $(cat "$T/$1.out" "$T/$1.err")"
	grep -Eq -- "$3" "$T/$1.out" || fail "$1: no /$3/ in: $(cat "$T/$1.out" "$T/$1.err")"
}
relays() { # NAME: both agents selected relay -> relay
	expect "$1" 0 "^ICE: Selected A relay [^ ]+ -> relay "
	expect "$1" 0 "^ICE: Selected B relay [^ ]+ -> relay "
}
released() { grep -Ec "username=<agent>, lifetime=0" "$T/coturn.log" || true; }

# denied: beside the others (its checks wait for their own timeout), with
# a store of its own for its result.
PBXEDGE_DB="$T/denied.db" ok "$RPCTL" init >/dev/null
PBXEDGE_DB="$T/denied.db" loop denied --turn "turn:127.0.0.1:$DP" &
DENIED=$!

# coturn: relay to relay through one coturn, both allocations released.
before=$(released)
loop coturn --turn "turn:127.0.0.1:$CP"
expect coturn 0 "^ICE: Conclusion SUCCESS \(ok: selected relay "
relays coturn
wait_count "$T/coturn.log" "username=<agent>, lifetime=0" $((before + 2)) 5
[ "$(released)" = $((before + 2)) ] || fail "coturn: $(released) releases, expected $((before + 2))"

# sigint: SIGINT while consent runs: ABORTED interrupted, both released.
before=$(released)
# (ip netns exec execs rpctl: the signal goes to rpctl itself; not N, a
# function, whose background job would be a subshell)
ip netns exec "$NS" "$RPCTL" ice-test loop --user agent --policy relay --timeout 20 --verbose \
	--turn "turn:127.0.0.1:$CP" --consent 20 >"$T/sigint.out" 2>"$T/sigint.err" &
SIGINT=$!
wait_log "$T/sigint.err" "loop: the echo came back"
kill -INT "$SIGINT"
rc=0
wait "$SIGINT" || rc=$?
echo "$rc" >"$T/sigint.rc"
expect sigint 2 "^ICE: Conclusion ABORTED \(interrupted: "
wait_count "$T/coturn.log" "username=<agent>, lifetime=0" $((before + 2)) 5

# turnd: relay to relay through turnd on a non-loopback address, default
# peer policy, taken from the store (no --turn: the appliance's own);
# --json.
loop turnd --json
expect turnd 0 '"result":"SUCCESS"'
python3 - "$T/turnd.out" <<'PY' || fail "turnd: bad JSON: $(cat "$T/turnd.out")"
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("servers", "agents", "selected", "data", "conclusion"):
    assert k in d, k
assert len(d["agents"]) == 2
for a in d["agents"]:
    for k in ("name", "role", "candidates", "pairs", "selected"):
        assert k in a, k
    assert a["candidates"] and all(c["type"] == "relay" for c in a["candidates"])
    assert a["selected"]["local_type"] == "relay" and a["selected"]["remote_type"] == "relay"
c = d["conclusion"]
assert c["result"] == "SUCCESS" and c["code"] == "ok" and "hints" in c and c["reason"]
assert d["servers"][0]["record"]["uri"].startswith("turn:198.18.77.1:")
assert d["data"] is None
PY
# The result is kept for rpctl status.
"$RPCTL" status | grep -Eq "^ice-test +loop +SUCCESS \(ok: .*\) at [0-9T:-]+Z, [0-9]+ pairs, \
selected relay 198\.18\.77\.1:[0-9]+ -> relay 198\.18\.77\.1:[0-9]+$" ||
	fail "turnd: not in rpctl status: $("$RPCTL" status)"

# two: A through coturn, B through turnd, which now also relays to
# loopback (coturn's relayed addresses); numbered datagrams through the pair.
ok "$RPCTL" set turnd.allow-peer 127.0.0.1
wait_count "$T/turnd.log" "serving listen=$ADDR:$TP " 2
before=$(released)
loop two --a-turn "turn:127.0.0.1:$CP" --b-turn "turn:$ADDR:$TP" --data 2
expect two 0 "^ICE: Conclusion SUCCESS"
relays two
expect two 0 "^ICE: Data sent (9[0-9]|10[0-9]) received (9[0-9]|10[0-9]) lost 0, RTT min/avg/max [0-9.]+/[0-9.]+/[0-9.]+ ms$"
wait_count "$T/coturn.log" "username=<agent>, lifetime=0" $((before + 1)) 5

# consent: turnd goes silent once the echo came back.
before=$(released)
N "$RPCTL" ice-test loop --user agent --policy relay --timeout 20 --verbose \
	--a-turn "turn:127.0.0.1:$CP" --b-turn "turn:$ADDR:$TP" --consent 12 \
	--consent-timeout 3 >"$T/consent.out" 2>"$T/consent.err" &
CONSENT=$!
wait_log "$T/consent.err" "loop: the echo came back"
N nft -f - <<NFT
table inet silence {
	chain in { type filter hook input priority 0; udp dport $TP ip daddr $ADDR drop; }
	chain out { type filter hook output priority 0; udp sport $TP ip saddr $ADDR drop; }
}
NFT
rc=0
wait "$CONSENT" || rc=$?
echo "$rc" >"$T/consent.rc"
expect consent 1 "^ICE: Conclusion FAILED \(consent-lost: "
wait_count "$T/coturn.log" "username=<agent>, lifetime=0" $((before + 1)) 5
N nft delete table inet silence

rc=0
wait "$DENIED" || rc=$?
expect denied 1 "^ICE: Conclusion FAILED \(turn-permission-denied: "
grep -Eq "^ICE: Hint: " "$T/denied.out" || fail "denied: no hint: $(cat "$T/denied.out")"
PBXEDGE_DB="$T/denied.db" "$RPCTL" status | grep -Eq "^ice-test +loop +FAILED \(turn-permission-denied: .*, selected none$" ||
	fail "denied: not in rpctl status: $(PBXEDGE_DB="$T/denied.db" "$RPCTL" status)"
! grep -q secret "$T"/*.out "$T"/*.err || fail "a password was printed"
for f in coturn sigint turnd two consent denied; do echo "--- $f:"; cat "$T/$f.out"; done
echo "ice_loop: ok"
