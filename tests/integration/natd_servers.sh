#!/usr/bin/env bash
# natd_servers - natd's server list and its daemon mode, on namespaces with
# stund on the public side: a dead server is udp-blocked within the bound,
# "a,b" with a dead a answers through b, a DNS name with several addresses
# is asked on all of them, "x;y" gives two entries, invalid lists are
# refused naming the offending part; run as a daemon, natd probes at once,
# every natd.interval-s and on "rpctl nat probe" (which says when no natd
# runs), logs changes of the external address and NAT type, and keeps
# their history.
# Peers: iproute2, nftables, conntrack (the topology), python3.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
. "$(dirname "$0")/natd_lib.sh"
need ip nft conntrack python3 ss
[ "$(id -u)" = 0 ] || { echo "SKIP: network namespaces need root" >&2; exit 77; }

ok R init >/dev/null
netns_setup
netns_nat none
start_stund
GOOD=$PUB_IP1:$STUND_PORT
DEAD=198.18.0.3:3490 # no host has this address: nothing ever answers

# Invalid lists are refused by rpctl, naming the offending part.
refuse 1 "natd.servers: '198.18.0.1:3490,,198.18.0.3:3490': empty server" R set natd.servers "$GOOD,,$DEAD"
refuse 1 "natd.servers: '198.18.0.1:3490;;198.18.0.3:3490': empty logical server" R set natd.servers "$GOOD;;$DEAD"
refuse 1 "natd.servers: '198.18.0.1:99999'" R set natd.servers "198.18.0.1:99999"
refuse 1 "'a.example,b.example'.*stand alone" R set natd.servers "$GOOD;a.example,b.example"
refuse 1 "natd.servers: '198.18.0.1:x'" R set natd.servers "198.18.0.1:x"

# With no servers, --once says so and fails.
set +e
in_lan "$NATD" --once --json >"$T/none.json" 2>"$T/none.err"
rc=$?
set -e
[ "$rc" = 1 ] || fail "natd --once without servers: exit $rc"
grep -q "natd.servers is empty" "$T/none.err" || fail "no reason: $(cat "$T/none.err")"

# A dead server: udp-blocked within the bound (4 s of retransmissions),
# with the evidence of every request sent; exit 1.
ok R set natd.servers "$DEAD"
natd_once "$T/dead.json"
[ "$NATD_RC" = 1 ] || fail "dead server: exit $NATD_RC"
[ "$NATD_SECONDS" -le 6 ] || fail "dead server took ${NATD_SECONDS}s"
expect_verdict "$T/dead.json" 0 null unknown unknown unknown udp-blocked "dead server"
[ "$(field "$T/dead.json" 0 answered_by)" = null ] || fail "dead server answered?"
python3 - "$T/dead.json" <<'PY' || fail "dead server evidence: $(cat "$T/dead.json")"
import json, sys
p = json.load(open(sys.argv[1]))["servers"][0]["evidence"]["probes"]
# Test I with the magic cookie and as an RFC 3489 request, 4 sends each.
assert [x["probe"] for x in p] == ["binding", "binding-rfc3489"], p
for x in p:
    assert x["result"] == "timeout" and x["sent"] == 4, x
    assert x["to"] == "198.18.0.3:3490" and 3900 <= x["ms"] <= 4500, x
PY
grep -q "nat-no-answer server=$DEAD rfc3489=udp-blocked reason=timeout" "$T/natd.log" ||
	fail "no nat-no-answer line"

# a,b with a dead a: b answers, at once.
ok R set natd.servers "$DEAD,$GOOD"
natd_once "$T/ab.json"
[ "$NATD_RC" = 0 ] || fail "a,b: exit $NATD_RC"
[ "$NATD_SECONDS" -le 2 ] || fail "a,b took ${NATD_SECONDS}s"
[ "$(field "$T/ab.json" 0 answered_by)" = "$GOOD" ] || fail "a,b: $(cat "$T/ab.json")"
[ "$(field "$T/ab.json" 0 server)" = "$DEAD,$GOOD" ] || fail "a,b: $(cat "$T/ab.json")"
expect_verdict "$T/ab.json" 0 "$LAN_IP" endpoint-independent endpoint-independent true open "a,b"

# A DNS name with several addresses (the LAN's hosts file): asked on all
# of them in parallel, the live one answers.
mkdir -p "/etc/netns/$NS_LAN"
at_exit 'rm -rf "/etc/netns/$NS_LAN"; rmdir /etc/netns' 
printf '%s stun.pbxedge.test\n%s stun.pbxedge.test\n' "${DEAD%:*}" "$PUB_IP1" \
	>"/etc/netns/$NS_LAN/hosts"
ok R set natd.servers "stun.pbxedge.test:$STUND_PORT"
natd_once "$T/dns.json"
[ "$NATD_RC" = 0 ] || fail "DNS name: exit $NATD_RC ($(cat "$T/dns.json"))"
[ "$(field "$T/dns.json" 0 answered_by)" = "$GOOD" ] || fail "DNS: $(cat "$T/dns.json")"
python3 - "$T/dns.json" <<'PY' || fail "DNS name: not asked on both addresses: $(cat "$T/dns.json")"
import json, sys
p = json.load(open(sys.argv[1]))["servers"][0]["evidence"]["probes"]
to = sorted(x["to"] for x in p if x["probe"] == "binding")
assert to == ["198.18.0.1:3490", "198.18.0.3:3490"], to
PY

# x;y: two entries in list order, each with its own verdict.
ok R set natd.servers "$GOOD;$DEAD"
natd_once "$T/xy.json"
[ "$NATD_RC" = 1 ] || fail "x;y with a dead y: exit $NATD_RC"
[ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["servers"]))' "$T/xy.json")" = 2 ] ||
	fail "x;y: $(cat "$T/xy.json")"
expect_verdict "$T/xy.json" 0 "$LAN_IP" endpoint-independent endpoint-independent true open "x"
[ "$(field "$T/xy.json" 1 rfc3489)" = udp-blocked ] || fail "y: $(cat "$T/xy.json")"
[ "$(field "$T/xy.json" 1 server)" = "$DEAD" ] || fail "y: $(cat "$T/xy.json")"
# Both stored; the first one's address is the one other daemons take.
[ "$(R --json nat status | python3 -c 'import json,sys; print(" ".join(s["rfc3489"] for s in json.load(sys.stdin)["servers"]))')" = "open udp-blocked" ] ||
	fail "nat status: $(R --json nat status)"
R nat status | grep -Eq "^  external +$LAN_IP$" || fail "nat status text: $(R nat status)"

# ---- the daemon ----
ok R set natd.servers "$GOOD"
ok R set natd.interval-s 10
refuse 1 "no natd is running \(natd has never started" R nat probe
start natd ip netns exec "$NS_LAN" "$NATD" --foreground
wait_log "$T/natd.log" "ready workers=1"
# The first round at once.
wait_log "$T/natd.log" "nat-verdict server=$GOOD .*external=$LAN_IP .*rfc3489=open" 10
n0=$(grep -c "nat-verdict server=$GOOD " "$T/natd.log")

# The NAT changes under it; rpctl nat probe asks for a round and waits.
netns_nat port-restricted
t0=$SECONDS
out=$(R nat probe) || fail "nat probe failed: $out"
[ $((SECONDS - t0)) -le 10 ] || fail "nat probe took $((SECONDS - t0))s"
echo "$out" | grep -Eq "^  rfc3489 +port-restricted-cone$" || fail "nat probe: $out"
echo "$out" | grep -Eq "^  external +$WAN_IP$" || fail "nat probe: $out"
grep -q "nat-changed index=0 server=$GOOD external=$WAN_IP previous=$LAN_IP reason=external-changed" \
	"$T/natd.log" || fail "no external-changed line"
grep -q "nat-changed index=0 server=$GOOD rfc3489=port-restricted-cone .* previous=open/.* reason=type-changed" \
	"$T/natd.log" || fail "no type-changed line"
json R --json nat probe
# History: the change, newest first, then the verdict before it (the
# --once rounds above are in it too).
hist=$(R --json nat history)
[ "$(echo "$hist" | python3 -c 'import json,sys; h=[x for x in json.load(sys.stdin) if x["server"] == sys.argv[1]]; print(h[0]["classic"], h[0]["external"], h[1]["classic"], h[1]["external"])' "$GOOD")" = \
	"port-restricted-cone $WAN_IP open $LAN_IP" ] || fail "nat history: $hist"
R nat history | grep -q "port-restricted-cone" || fail "nat history text: $(R nat history)"
# An unchanged verdict adds no history.
nh=$(echo "$hist" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
ok R nat probe >/dev/null
[ "$(R --json nat history | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = "$nh" ] ||
	fail "an unchanged verdict went into the history"

# Every natd.interval-s on its own.
n1=$(grep -c "nat-verdict server=$GOOD " "$T/natd.log")
wait_count "$T/natd.log" "nat-verdict server=$GOOD " $((n1 + 1)) 14
[ "$n1" -gt "$n0" ] || fail "the probes left no verdict lines"

# A new server list takes effect without a restart, and a probe asked for
# right after the change already uses it.
ok R set natd.servers "$GOOD;$PUB_IP2:$((STUND_PORT + 1))"
out=$(R --json nat probe) || fail "nat probe after a change failed: $out"
[ "$(echo "$out" | python3 -c 'import json,sys; print(" ".join(s["server"] for s in json.load(sys.stdin)["servers"]))')" = \
	"$GOOD $PUB_IP2:$((STUND_PORT + 1))" ] || fail "two logical servers: $out"
wait_log "$T/natd.log" "nat-settings servers=$GOOD;$PUB_IP2:$((STUND_PORT + 1)) interval-s=10 reason=config-changed" 5

kill -TERM "$PID_natd"
wait_exit "$PID_natd"
[ "$EXIT_STATUS" = 0 ] || fail "natd exit $EXIT_STATUS"
refuse 1 "no natd is running \(natd is stopped" R nat probe
echo "natd_servers: ok"
