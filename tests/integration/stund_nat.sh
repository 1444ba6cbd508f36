#!/usr/bin/env bash
# stund_nat - NAT behaviour discovery (RFC 5780) against stund with a primary
# and an alternate address, with coturn's turnutils_natdiscovery: on
# loopback it finds no NAT (endpoint-independent mapping and filtering);
# from a LAN behind a real NAT built for the test (network namespaces: a
# public side with stund's two addresses, a router that masquerades with
# nftables, a LAN client; addresses from 198.18.0.0/15) it reports what
# that NAT does: endpoint-independent mapping, address-and-port-dependent
# filtering.  Everything the test creates is deleted at the end, and
# nothing is sent outside its namespaces.
# Peers: coturn (turnutils_natdiscovery), iproute2, nftables, conntrack.
. "$(dirname "$0")/lib.sh"
need turnutils_natdiscovery ip nft conntrack python3 ss
[ "$(id -u)" = 0 ] || { echo "SKIP: network namespaces need root" >&2; exit 77; }

# discover NS-PREFIX MODE HOST PORT: natdiscovery's verdict line (it exits 0
# even on a timeout, so the text is what counts).
discover() {
	local pre=$1 mode=$2 host=$3 port=$4
	$pre timeout 30 turnutils_natdiscovery "$mode" -p "$port" "$host" 2>&1 |
		grep -E "^NAT with|^No NAT" | head -n 1 || true
}

ok R init >/dev/null
for _ in $(seq 20); do
	P=$(free_port)
	[ "$P" -lt 65000 ] && ! ss -Hlun "sport = :$P" | grep -q . &&
		! ss -Hlun "sport = :$((P + 1))" | grep -q . && break
done

# On loopback: no NAT in between.
ok R set stund.primary "127.0.0.1:$P"
ok R set stund.alternate 127.0.0.2
start stund "$STUND" --foreground
wait_log "$T/stund.log" "ready workers="
v=$(discover "" -m 127.0.0.1 "$P")
[ "$v" = "NAT with Endpoint Independent Mapping!" ] || fail "loopback mapping: $v"
v=$(discover "" -f 127.0.0.1 "$P")
[ "$v" = "NAT with Endpoint Independent Filtering!" ] || fail "loopback filtering: $v"
kill -TERM "$PID_stund"
wait_exit "$PID_stund"

# The NAT: namespaces named after this run, deleted on exit (with their
# veths and nft tables); the plain masquerade of a home router.
. "$(dirname "$0")/netns.sh"
netns_setup
netns_nat port-restricted
LAN=$NS_LAN NAT=$NS_NAT
# The public side has no route to the LAN: only translated traffic arrives.
in_pub ip route | grep -q 198.19 && fail "pub routes to the LAN"

# stund on the public side (turnd.listen keeps its default 0.0.0.0:3478,
# so stund takes another port).
ok R set stund.primary 198.18.0.1:3490
ok R set stund.alternate 198.18.0.2:3491
start stund ip netns exec "$NS_PUB" "$STUND" --foreground
wait_log "$T/stund.log" "ready workers="
wait_log "$T/stund.log" "serving primary=198.18.0.1:3490 alternate=198.18.0.2:3491"

v=$(discover "ip netns exec $LAN" -m 198.18.0.1 3490)
[ "$v" = "NAT with Endpoint Independent Mapping!" ] || fail "masquerade mapping: $v"
# Filtering on a fresh mapping: no state left from the mapping test.
ip netns exec "$NAT" conntrack -F >/dev/null 2>&1 || true
v=$(discover "ip netns exec $LAN" -f 198.18.0.1 3490)
[ "$v" = "NAT with Address and Port Dependent Filtering!" ] || fail "masquerade filtering: $v"
# stund saw the router's address, never the LAN's.
grep -q "198.19.0" "$T/stund.log" && fail "a LAN address reached stund"

kill -TERM "$PID_stund"
wait_exit "$PID_stund"
[ "$EXIT_STATUS" = 0 ] || fail "stund exit $EXIT_STATUS"
status=$(R status)
echo "$status" | grep -Eq "^  stund +answered-changed +[1-9]" || fail "no changed answers: $status"
echo "stund_nat: ok"
