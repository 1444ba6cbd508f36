# topo.sh - the ICE NAT-matrix topology (sourced by ice/lib.sh): two LAN
# hosts, each behind its own NAT router, and a public side with the
# STUN/TURN server.  Every namespace name starts with the prefix given to
# topo_up, so that cases (and rows of one case) run side by side; addresses
# exist only inside these namespaces (WANs 198.18.1.0/24 and 198.18.2.0/24,
# LANs 198.19.1.0/24 and 198.19.2.0/24).  topo_up registers the topology
# for topo_cleanup, which the ICE cases run from their EXIT trap.
#
#   la 198.19.1.2 -- 198.19.1.1 na 198.18.1.2 --+
#                                               pub 198.18.1.1, 198.18.2.1 -- 198.18.99.2 void
#   lb 198.19.2.2 -- 198.19.2.1 nb 198.18.2.2 --+
#
# pub has no route to the LANs.  Its default route leads into void, which
# forwards nothing: packets to private addresses vanish, as on the
# internet, instead of failing at the sender with ENETUNREACH; topo_up
# --no-default-route leaves that route out.

TOPO_PUB_A=198.18.1.1 TOPO_PUB_B=198.18.2.1
TOPO_WAN_A=198.18.1.2 TOPO_WAN_B=198.18.2.2
TOPO_LAN_A=198.19.1.2 TOPO_LAN_B=198.19.2.2
TOPOS=()

# topo_up PREFIX [--no-default-route]: namespaces PREFIX-pub, -na, -nb,
# -la, -lb, -void.  Interface names are per namespace, so they can repeat.
topo_up() {
	local p=$1 n
	TOPOS+=("$p")
	for n in pub na nb la lb void; do
		ip netns add "$p-$n"
		ip -n "$p-$n" link set lo up
	done
	ip link add pa netns "$p-pub" type veth peer name wan netns "$p-na"
	ip link add pb netns "$p-pub" type veth peer name wan netns "$p-nb"
	ip link add lan netns "$p-na" type veth peer name eth0 netns "$p-la"
	ip link add lan netns "$p-nb" type veth peer name eth0 netns "$p-lb"
	ip link add pv netns "$p-pub" type veth peer name vv netns "$p-void"
	ip -n "$p-pub" addr add "$TOPO_PUB_A/24" dev pa
	ip -n "$p-pub" addr add "$TOPO_PUB_B/24" dev pb
	ip -n "$p-pub" addr add 198.18.99.1/24 dev pv
	ip -n "$p-void" addr add 198.18.99.2/24 dev vv
	ip -n "$p-na" addr add "$TOPO_WAN_A/24" dev wan
	ip -n "$p-na" addr add 198.19.1.1/24 dev lan
	ip -n "$p-nb" addr add "$TOPO_WAN_B/24" dev wan
	ip -n "$p-nb" addr add 198.19.2.1/24 dev lan
	ip -n "$p-la" addr add "$TOPO_LAN_A/24" dev eth0
	ip -n "$p-lb" addr add "$TOPO_LAN_B/24" dev eth0
	local l
	for l in pub:pa pub:pb pub:pv void:vv na:wan na:lan nb:wan nb:lan la:eth0 lb:eth0; do
		ip -n "$p-${l%%:*}" link set "${l#*:}" up
	done
	[ "${2:-}" = --no-default-route ] || ip -n "$p-pub" route add default via 198.18.99.2
	ip -n "$p-na" route add default via "$TOPO_PUB_A"
	ip -n "$p-nb" route add default via "$TOPO_PUB_B"
	ip -n "$p-la" route add default via 198.19.1.1
	ip -n "$p-lb" route add default via 198.19.2.1
	for n in pub na nb; do
		ip netns exec "$p-$n" sysctl -qw net.ipv4.ip_forward=1
	done
}

# topo_nat PREFIX a|b MODE: the NAT of side a or b.
#   prc   masquerade: endpoint-independent mapping, port-restricted filtering
#   sym   masquerade random: a new port for every destination
#   full  snat, and new inbound UDP flows dnat'ed to the LAN host
# Every router drops new flows addressed to itself, before conntrack
# confirms them, as a home router does: a check answered by the router
# itself would leave a conntrack entry for the same tuple, and the LAN
# host's own mapping would then get another port.
topo_nat() {
	local p=$1 side=$2 mode=$3 wanip host rules
	case $side in
	a) wanip=$TOPO_WAN_A host=$TOPO_LAN_A ;;
	b) wanip=$TOPO_WAN_B host=$TOPO_LAN_B ;;
	*) fail "topo_nat: side $side" ;;
	esac
	case $mode in
	prc) rules='oifname "wan" masquerade' ;;
	sym) rules='oifname "wan" masquerade random' ;;
	full) rules="oifname \"wan\" snat to $wanip" ;;
	*) fail "topo_nat: unknown NAT mode $mode" ;;
	esac
	local pre=""
	[ "$mode" = full ] && pre="iifname \"wan\" ip daddr $wanip meta l4proto udp ct state new dnat to $host"
	ip netns exec "$p-n$side" nft flush ruleset
	ip netns exec "$p-n$side" nft -f - <<NFT
table ip nat {
	chain pre {
		type nat hook prerouting priority dstnat;
		$pre
	}
	chain post {
		type nat hook postrouting priority srcnat;
		$rules
	}
}
table ip filter {
	chain input {
		type filter hook input priority filter;
		iifname "wan" ct state new drop
	}
}
NFT
	ip netns exec "$p-n$side" conntrack -F >/dev/null 2>&1 || true
}

topo_down() {
	local n
	for n in pub na nb la lb void; do
		ip netns del "$1-$n" 2>/dev/null || true
	done
}

topo_cleanup() {
	local p
	for p in "${TOPOS[@]:-}"; do
		if [ -n "$p" ]; then topo_down "$p"; fi
	done
	return 0
}
