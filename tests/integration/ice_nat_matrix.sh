#!/usr/bin/env bash
# ice_nat_matrix - the NAT rules of ICE, each row in its own namespaces
# (ice/topo.sh) with coturn as STUN and TURN server on the public side:
#   prc + prc          SUCCESS, server-reflexive candidates
#   sym + sym          FAILED on both sides
#   prc + sym          FAILED (a symmetric NAT works only against a full
#                      cone or restricted one)
#   full + sym         SUCCESS, the symmetric side's peer-reflexive address
#   sym + sym, TURN    SUCCESS through the relay
# These are libnice's verdicts, the baseline for other agents: ICE_AGENT_A
# (controlling) or ICE_AGENT_B (controlled) replace libnice on that side
# with any command that speaks the line protocol of ice/pair.py and takes
# nice_peer's options (e.g. "rpctl ice-test peer").
# Peers: libnice (nice_peer), coturn, nftables, conntrack, python3.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ice/lib.sh"
need turnserver nft conntrack ip python3 ss
[ "$(id -u)" = 0 ] || { echo "SKIP: namespaces need root" >&2; exit 77; }
ice_need_nice
AGENT_A=${ICE_AGENT_A:-$NICE}
AGENT_B=${ICE_AGENT_B:-$NICE}

STUN="--stun $TOPO_PUB_A:3478"
TURN="--turn $TOPO_PUB_A:3478 --user nice --pass secret"
# row NAME NAT_A NAT_B [turn]: build the row's topology and start its pair.
row() {
	local name=$1 p="pbxice$$$1" t=
	topo_up "$p"
	topo_nat "$p" a "$2"
	topo_nat "$p" b "$3"
	ice_coturn "coturn_$name" "$p-pub" "$TOPO_PUB_A" 3478
	[ "${4:-}" = turn ] && t=$TURN
	ice_pair "$name" 25 \
		"ip netns exec $p-la $AGENT_A --controlling --tag A --local $TOPO_LAN_A $STUN $t --timeout 20" \
		"ip netns exec $p-lb $AGENT_B --tag B --local $TOPO_LAN_B $STUN $t --timeout 20"
}
row pp prc prc
row ss sym sym
row ps prc sym
row fs full sym
row sst sym sym turn

ice_expect pp 0 0
ice_expect_selected pp A "srflx->(srflx|prflx)"
ice_expect fs 0 0
ice_expect_selected fs A "srflx->prflx"
ice_expect sst 0 0
ice_expect_selected sst A ".*relay.*"
# The failing rows: libnice concludes FAILED (exit 1) after about 7 s and
# leaves.  Another agent in its place that waits for the peer's checks as
# RFC 8863 asks (39.5 s) is still waiting then: with ICE_WAITS set, it
# must conclude ABORTED peer-closed (exit 4), and with ICE_WAIT_HINT set
# (a grep -E pattern) print "TAG | ICE: Hint: ..." matching it (the
# evidence so far: no-response, libnice's verdict).  With ICE_NOTE set
# (another pattern), that agent's conclusion must match it (e.g. that no
# check from the peer ever arrived).
for r in ss ps; do
	ice_wait "$r"
	for s in A B; do
		agent=ICE_AGENT_$s
		rc=$(sed -n "s/^$s exited \([0-9]*\) .*/\1/p" "$T/$r.log")
		want=1
		[ -n "${!agent:-}" ] && [ -n "${ICE_WAITS:-}" ] && want=4
		[ "$rc" = "$want" ] || fail "$r: $s exited ${rc:-not}, expected $want"
		if [ "$rc" = 1 ]; then
			grep -q "^$s Conclusion FAILED" "$T/$r.log" || fail "$r: $s did not conclude FAILED"
		else
			grep -q "^$s Conclusion ABORTED (peer-closed: " "$T/$r.log" ||
				fail "$r: $s did not conclude ABORTED peer-closed"
			[ -z "${ICE_WAIT_HINT:-}" ] ||
				grep -Eq "^$s \| ICE: Hint: .*$ICE_WAIT_HINT" "$T/$r.log" ||
				fail "$r: $s's hint does not say: $ICE_WAIT_HINT"
		fi
		[ -z "${!agent:-}" ] || [ -z "${ICE_NOTE:-}" ] ||
			grep -Eq "^$s Conclusion .*$ICE_NOTE" "$T/$r.log" ||
			fail "$r: $s's conclusion does not say: $ICE_NOTE"
	done
done
# The relay row went through coturn: allocations with channels, data
# relayed, and libnice released what it allocated.
C="$T/coturn_sst.log"
wait_count "$C" "user <nice>: incoming packet ALLOCATE processed, success" 2
grep -Eq "user <nice>: incoming packet (CHANNEL_BIND|CREATE_PERMISSION) processed, success" "$C" ||
	fail "no permission in coturn's log"
n=0
[ -z "${ICE_AGENT_A:-}" ] && n=$((n + 1))
[ -z "${ICE_AGENT_B:-}" ] && n=$((n + 1))
[ "$n" = 0 ] || wait_count "$C" "username=<nice>, lifetime=0" "$n"
# Data from the peer reached a relay (coturn logs usage as sessions end).
wait_count "$C" "peer usage: realm=<pbxedge.test>, username=<nice>, rp=[1-9]" 1
echo "ice_nat_matrix: ok"
