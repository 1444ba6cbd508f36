#!/usr/bin/env bash
# ice_turnd - independent ICE agents through turnd:
#   lo       libnice and werift-ice relay-only on loopback (turnd.allow-peer
#            127.0.0.1), TURN/UDP and TURN/TCP, each side controlling once;
#   r2r      libnice behind two symmetric NATs (ice/topo.sh) with turnd's
#            default peer policy: the private peers are refused (and not
#            counted as suspicious), turnd's own relayed addresses are not,
#            and the pair meets relay to relay;
#   unreach  the same with the private ranges allowed and no default route
#            on turnd's side: checks relayed to the LAN host candidates fail
#            with ENETUNREACH, turnd drops and counts them
#            (relay-send-failed), the allocations live on and ICE succeeds.
# libnice releases every allocation (allocation-ended reason=refresh-0,
# with data both ways).  ICE_AGENT_A / ICE_AGENT_B replace libnice on one
# side of r2r and unreach (see ice/lib.sh).
# Peers: libnice (nice_peer), werift-ice, nftables, conntrack, python3.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ice/lib.sh"
need nft conntrack ip python3 ss
[ "$(id -u)" = 0 ] || { echo "SKIP: namespaces need root" >&2; exit 77; }
ice_need_nice
ice_need_werift
AGENT_A=${ICE_AGENT_A:-$NICE}
AGENT_B=${ICE_AGENT_B:-$NICE}

# turnd_in NAME NS LISTEN [SETTING VALUE]...: a turnd with its own store,
# users nice and werift (password "secret"), log $T/NAME.log.
turnd_in() {
	local name=$1 ns=$2 listen=$3 LO
	shift 3
	export PBXEDGE_DB="$T/$name.db"
	turnd_store "$listen"
	ok "$RPCTL" turn user add nice secret
	ok "$RPCTL" turn user add werift secret
	while [ $# -gt 0 ]; do
		ok "$RPCTL" "$1" "$2" "$3"
		shift 3
	done
	if [ -n "$ns" ]; then
		start "$name" ip netns exec "$ns" "$TURND" --foreground --db "$PBXEDGE_DB"
	else
		start "$name" "$TURND" --foreground --db "$PBXEDGE_DB"
	fi
	wait_log "$T/$name.log" "ready workers="
}

# lo: both agents on loopback, four pairs side by side.
P=$(free_udp)
turnd_in turnd_lo "" "127.0.0.1:$P" set turnd.allow-peer 127.0.0.1 \
	whitelist add 127.0.0.1
tn() { echo "--turn 127.0.0.1:$P --user nice --pass secret --relay-only --timeout 15 $*"; }
tw() { echo "--turn 127.0.0.1:$P --user werift --pass secret --relay-only --timeout 15 $*"; }
ice_pair udp-nw 20 "$NICE --controlling --tag A $(tn)" "$WERIFT --tag B $(tw)"
ice_pair udp-wn 20 "$WERIFT --controlling --tag A $(tw)" "$NICE --tag B $(tn)"
ice_pair tcp-nw 20 "$NICE --controlling --tag A $(tn --turn-tcp)" "$WERIFT --tag B $(tw --turn-tcp)"
ice_pair tcp-wn 20 "$WERIFT --controlling --tag A $(tw --turn-tcp)" "$NICE --tag B $(tn --turn-tcp)"

# row NAME [--no-default-route] [SETTING...]: sym + sym with TURN, turnd
# on the public side as STUN and TURN server.
row() {
	local name=$1 p="pbxice$$$1" route=
	shift
	[ "${1:-}" = --no-default-route ] && { route=$1; shift; }
	topo_up "$p" $route
	topo_nat "$p" a sym
	topo_nat "$p" b sym
	turnd_in "turnd_$name" "$p-pub" "$TOPO_PUB_A:3478" "$@"
	local s="--stun $TOPO_PUB_A:3478 --turn $TOPO_PUB_A:3478 --user nice --pass secret --timeout 20"
	ice_pair "$name" 25 \
		"ip netns exec $p-la $AGENT_A --controlling --tag A --local $TOPO_LAN_A $s" \
		"ip netns exec $p-lb $AGENT_B --tag B --local $TOPO_LAN_B $s"
}
# A threshold of one: refusals of private peers, which ICE agents cause in
# every call, must not count as suspicious.
row r2r set turnd.suspicious-per-minute 1
row unreach --no-default-route set turnd.allow-peer 198.18.0.0/15

for p in udp-nw udp-wn tcp-nw tcp-wn; do
	ice_expect "$p" 0 0
	ice_expect_selected "$p" A "relay->relay"
	ice_expect_selected "$p" B "relay->relay"
done
L="$T/turnd_lo.log"
ended="allocation-ended id=[0-9]+ user=nice .* reason=refresh-0 .*packets-in=[1-9][0-9]* packets-out=[1-9]"
wait_count "$L" "allocation-made id=[0-9]+ user=nice .*transport=tcp" 2
wait_count "$L" "allocation-made id=[0-9]+ user=werift .*transport=tcp" 2
wait_count "$L" "$ended" 4

# r2r: turnd refused the private peers (the NATs' addresses), allowed its
# own relayed ones, and nothing else met.
ice_expect r2r 0 0
ice_expect_selected r2r A "relay->relay"
ice_expect_selected r2r B "relay->relay"
L="$T/turnd_r2r.log"
grep -Eq "refused client=$TOPO_WAN_A:[0-9]+ user=nice method=(CreatePermission|ChannelBind) peer=$TOPO_WAN_B:[0-9]+ reason=peer-private" "$L" ||
	fail "r2r: the NAT's address was not refused"
! grep -Eq "refused .* peer=$TOPO_PUB_A:[0-9]+ " "$L" || fail "r2r: a relayed address was refused"
! grep -E "blacklisted|suspicious" "$L" || fail "r2r: ICE's refused private peers counted as suspicious"
[ -n "${ICE_AGENT_A:-}${ICE_AGENT_B:-}" ] || wait_count "$L" "$ended" 2

# unreach: the sends to the LANs failed at turnd and were dropped; the
# allocations ended only when libnice released them (one of them may have
# carried no data: a side that reaches the other's relay from its own
# address).
ice_expect unreach 0 0
ice_expect_selected unreach A ".*(relay|prflx).*"
L="$T/turnd_unreach.log"
grep -Eq "relay-send-failed relayed=$TOPO_PUB_A:[0-9]+ datagrams=[1-9][0-9]* error=ENETUNREACH" "$L" ||
	fail "unreach: no failed send logged"
! grep -E "allocation-ended" "$L" | grep -v "reason=refresh-0" || fail "unreach: an allocation ended early"
if [ -z "${ICE_AGENT_A:-}${ICE_AGENT_B:-}" ]; then
	wait_count "$L" "allocation-ended id=[0-9]+ user=nice .* reason=refresh-0 " 2
	wait_count "$L" "$ended" 1
fi
echo "ice_turnd: ok"
