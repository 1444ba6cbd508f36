# netns.sh - a real NAT for the integration cases (sourced after lib.sh):
# network namespaces named after the test run, a public side whose veth
# holds two addresses (a STUN server's primary and alternate), a router
# that forwards between its WAN and LAN veths, and a LAN client with a
# default route via the router.  netns_nat builds each NAT type with
# nftables on the router.  Addresses come from 198.18.0.0/15 and exist only
# inside these namespaces; netns_setup arranges for everything to be
# deleted when the case exits.
#
#   pub  198.18.0.1, 198.18.0.2  --  198.18.0.254 (WAN) router 198.19.0.1 (LAN)  --  198.19.0.2 lan

NS_ID=$$
NS_PUB=pbxpub$NS_ID NS_NAT=pbxnat$NS_ID NS_LAN=pbxlan$NS_ID
NS_WAN_IF=w$NS_ID NS_LAN_IF=l$NS_ID
PUB_IP1=198.18.0.1 PUB_IP2=198.18.0.2 WAN_IP=198.18.0.254 LAN_GW=198.19.0.1 LAN_IP=198.19.0.2

netns_cleanup() {
	local n
	for n in "$NS_PUB" "$NS_NAT" "$NS_LAN"; do
		ip netns del "$n" 2>/dev/null || true
	done
}

# in_pub / in_nat / in_lan CMD...: run a command in that namespace (not
# for "start": a daemon started through a function gets the wrong PID).
in_pub() { ip netns exec "$NS_PUB" "$@"; }
in_nat() { ip netns exec "$NS_NAT" "$@"; }
in_lan() { ip netns exec "$NS_LAN" "$@"; }

netns_setup() {
	at_exit netns_cleanup
	local n
	for n in "$NS_PUB" "$NS_NAT" "$NS_LAN"; do
		ip netns add "$n"
		ip -n "$n" link set lo up
	done
	ip link add "$NS_WAN_IF" netns "$NS_NAT" type veth peer name "p$NS_ID" netns "$NS_PUB"
	ip link add "$NS_LAN_IF" netns "$NS_NAT" type veth peer name "c$NS_ID" netns "$NS_LAN"
	ip -n "$NS_PUB" addr add "$PUB_IP1/24" dev "p$NS_ID"
	ip -n "$NS_PUB" addr add "$PUB_IP2/24" dev "p$NS_ID"
	ip -n "$NS_NAT" addr add "$WAN_IP/24" dev "$NS_WAN_IF"
	ip -n "$NS_NAT" addr add "$LAN_GW/24" dev "$NS_LAN_IF"
	ip -n "$NS_LAN" addr add "$LAN_IP/24" dev "c$NS_ID"
	ip -n "$NS_PUB" link set "p$NS_ID" up
	ip -n "$NS_NAT" link set "$NS_WAN_IF" up
	ip -n "$NS_NAT" link set "$NS_LAN_IF" up
	ip -n "$NS_LAN" link set "c$NS_ID" up
	ip -n "$NS_LAN" route add default via "$LAN_GW"
	in_nat sysctl -qw net.ipv4.ip_forward=1
}

# netns_nat TYPE: replace the router's rules with NAT type TYPE and forget
# every mapping (conntrack, the restricted cone's set):
#   none                 plain routing, the public side routes to the LAN
#   port-restricted      plain masquerade (a home router)
#   symmetric            masquerade fully-random
#   full-cone            snat to the WAN address, new UDP flows dnat'ed in
#   full-cone-hairpin    as full-cone, and LAN to WAN address hairpins
#   restricted-cone      as full-cone, but only from (port, address) pairs
#                        the LAN side sent to
# The public side has a route to the LAN only with none.
netns_nat() {
	local type=$1
	in_nat nft flush ruleset
	ip -n "$NS_PUB" route del 198.19.0.0/24 2>/dev/null || true
	case $type in
	none)
		ip -n "$NS_PUB" route add 198.19.0.0/24 via "$WAN_IP"
		;;
	port-restricted)
		in_nat nft -f - <<NFT
table ip nat {
	chain post {
		type nat hook postrouting priority srcnat;
		oifname "$NS_WAN_IF" masquerade
	}
}
NFT
		;;
	symmetric)
		in_nat nft -f - <<NFT
table ip nat {
	chain post {
		type nat hook postrouting priority srcnat;
		oifname "$NS_WAN_IF" masquerade fully-random
	}
}
NFT
		;;
	full-cone)
		in_nat nft -f - <<NFT
table ip nat {
	chain post {
		type nat hook postrouting priority srcnat;
		oifname "$NS_WAN_IF" snat to $WAN_IP
	}
	chain pre {
		type nat hook prerouting priority dstnat;
		iifname "$NS_WAN_IF" ip daddr $WAN_IP meta l4proto udp ct state new dnat to $LAN_IP
	}
}
NFT
		;;
	full-cone-hairpin)
		in_nat nft -f - <<NFT
table ip nat {
	chain post {
		type nat hook postrouting priority srcnat;
		oifname "$NS_WAN_IF" snat to $WAN_IP
		iifname "$NS_LAN_IF" oifname "$NS_LAN_IF" snat to $WAN_IP
	}
	chain pre {
		type nat hook prerouting priority dstnat;
		ip daddr $WAN_IP meta l4proto udp ct state new dnat to $LAN_IP
	}
}
NFT
		;;
	restricted-cone)
		in_nat nft -f - <<NFT
table ip nat {
	set contacted {
		type inet_service . ipv4_addr
		flags dynamic,timeout
		timeout 120s
	}
	chain post {
		type nat hook postrouting priority srcnat;
		oifname "$NS_WAN_IF" snat to $WAN_IP
	}
	chain pre {
		type nat hook prerouting priority dstnat;
		iifname "$NS_WAN_IF" ip daddr $WAN_IP meta l4proto udp ct state new udp dport . ip saddr @contacted dnat to $LAN_IP
	}
	chain lanout {
		type filter hook forward priority filter;
		iifname "$NS_LAN_IF" oifname "$NS_WAN_IF" meta l4proto udp update @contacted { udp sport . ip daddr }
	}
}
NFT
		;;
	*)
		fail "netns_nat: unknown NAT type $type"
		;;
	esac
	in_nat conntrack -F >/dev/null 2>&1 || true
}

# netns_forget: forget every mapping (between tests on one NAT type).
netns_forget() {
	in_nat conntrack -F >/dev/null 2>&1 || true
	in_nat nft flush set ip nat contacted 2>/dev/null || true
}
