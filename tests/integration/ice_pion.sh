#!/usr/bin/env bash
# ice_pion - rpctl ice-test peer against Pion ice (Go), a fourth independent
# ICE agent, relay-only through coturn on loopback, over the line protocol
# of ice/pair.py: rpctl controlling against Pion controlled, and Pion
# controlling against rpctl controlled.  Both sides exit 0, both select
# relay -> relay (the same two relayed addresses, seen from either end),
# the hello and its echo cross (Pion echoes rpctl's hello; Pion gets its
# own back), and coturn logs one release (Refresh lifetime=0) for every
# allocation rpctl made.
# Peers: Pion ice (pion_peer.go, built offline from golang-go and
# golang-github-pion-ice.v2-dev), coturn, python3.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ice/lib.sh"
need turnserver python3 ss
ice_need_pion

P=$(free_udp)
ice_coturn coturn "" 127.0.0.1 "$P" "user=alice:secret
user=pion:secret
allow-loopback-peers"

rp="$ICE_DIR/rpctl_peer.sh --turn 127.0.0.1:$P --user alice --pass secret --relay-only --timeout 15"
pion="$PION --turn 127.0.0.1:$P --user pion --pass secret --relay-only --timeout 15"
# Pion as controlling waits 2 s (RelayAcceptanceMinWait) before it takes a
# relayed pair.
ice_pair rp 20 "$rp --controlling --tag A" "$pion --tag B"
ice_pair pr 20 "$pion --controlling --tag A" "$rp --tag B"

# relay_addrs NAME TAG: TAG's selected pair as "LOCAL REMOTE" addresses.
relay_addrs() {
	sed -n "s/^$2 selected relay \([^ ]*\) -> relay \([^ ]*\)$/\1 \2/p" "$T/$1.log" | head -1
}
for p in rp pr; do
	ice_expect "$p" 0 0
	ice_expect_selected "$p" A "relay->relay"
	ice_expect_selected "$p" B "relay->relay"
	a=$(relay_addrs "$p" A)
	b=$(relay_addrs "$p" B)
	[ -n "$a" ] && [ "$a" = "$(awk '{print $2, $1}' <<<"$b")" ] ||
		fail "$p: the two sides selected different pairs: A '$a', B '$b'"
done
grep -q "^A Conclusion SUCCESS (ok: a pair was selected and the echo came back)" "$T/rp.log" ||
	fail "rp: rpctl got no echo from Pion"
grep -q "^B echoed" "$T/rp.log" || fail "rp: Pion echoed nothing"
grep -q "^A received: hello over ICE" "$T/pr.log" || fail "pr: Pion got no echo"
grep -q "^B Conclusion SUCCESS (ok: a pair was selected and the peer's hello was echoed)" \
	"$T/pr.log" || fail "pr: rpctl echoed nothing"

# Through the relay: rpctl's two allocations, each released once.
C="$T/coturn.log"
wait_count "$C" "user <alice>: incoming packet ALLOCATE processed, success" 2
wait_count "$C" "username=<alice>, lifetime=0" 2
n=$(grep -Ec "username=<alice>, lifetime=0" "$C")
[ "$n" = 2 ] || fail "rpctl released $n times for 2 allocations"
grep -Eq "user <pion>: incoming packet (CREATE_PERMISSION|CHANNEL_BIND) processed, success" "$C" ||
	fail "Pion's relay was not used"
echo "ice_pion: ok"
