#!/usr/bin/env bash
# ice_hairpin - rpctl ice-test on an appliance behind a NAT router (network
# namespaces and nftables): when a server is the appliance's own external
# address, the output of servers and loop says the path depends on the
# router's hairpinning, whether the router hairpins (SUCCESS) or not
# (FAILED); so does peer for a peer candidate at that address; a target on
# the appliance's own interfaces, or an external address the appliance
# holds itself, gives no such note.
# Peers: iproute2, nftables, conntrack.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
need ip nft conntrack python3
[ "$(id -u)" = 0 ] || { echo "SKIP: network namespaces need root" >&2; exit 77; }
netns_setup

# ICE NAME WANT_STATUS ARGS...: ice-test servers in the LAN (the appliance),
# output into $T/NAME.out.
ICE() {
	local name=$1 want=$2 st=0
	shift 2
	in_lan timeout 30 "$RPCTL" ice-test servers --family 4 --timeout 8 --gather-timeout 3 \
		"$@" >"$T/$name.out" 2>&1 || st=$?
	[ "$st" = "$want" ] || fail "$name: exit $st, want $want: $(cat "$T/$name.out")"
}
NOTE="ICE: Note: $WAN_IP is this appliance's own external address: from here the path goes out to the router and back in, so it depends on the router's hairpinning"

ok R init >/dev/null
ok R set stund.primary "$LAN_IP:3479"
ok R set turnd.external-ip "$WAN_IP"
start stund ip netns exec "$NS_LAN" "$STUND" --foreground
wait_log "$T/stund.log" "ready workers="

# The router hairpins: the default server (stun: at the external address)
# answers through the router, and the note says so.
netns_nat full-cone-hairpin
ICE hairpin 0
grep -q "^ICE: Conclusion SUCCESS" "$T/hairpin.out" || fail "hairpin: $(cat "$T/hairpin.out")"
grep -Eq "^stun:$WAN_IP:3479 .* ok .* $WAN_IP:[0-9]+ " "$T/hairpin.out" \
	|| fail "hairpin: not mapped to the external address: $(cat "$T/hairpin.out")"
grep -qF "$NOTE" "$T/hairpin.out" || fail "hairpin: no note: $(cat "$T/hairpin.out")"
in_lan "$RPCTL" --json ice-test servers --family 4 --timeout 8 >"$T/hairpin.json" 2>&1 \
	|| fail "hairpin json: $(cat "$T/hairpin.json")"
python3 - "$T/hairpin.json" "$WAN_IP" <<'PY' || fail "hairpin json: $(cat "$T/hairpin.json")"
import json, sys
c = json.load(open(sys.argv[1]))["conclusion"]
assert c["result"] == "SUCCESS", c
assert any(sys.argv[2] + " is this appliance's own external address" in h
           for h in c["hints"]), c
PY

# Two local agents through the same default server say it too.
in_lan timeout 30 "$RPCTL" ice-test loop --family 4 --timeout 10 >"$T/loop.out" 2>&1 \
	|| fail "loop: $(cat "$T/loop.out")"
grep -q "^ICE: Conclusion SUCCESS" "$T/loop.out" || fail "loop: $(cat "$T/loop.out")"
grep -qF "$NOTE" "$T/loop.out" || fail "loop: no note: $(cat "$T/loop.out")"

# A peer whose candidate is the appliance's own external address (a phone
# behind the same router): the peer mode says it too, whatever the end
# (here the 3 s --timeout, the candidate's port being closed).
in_lan timeout 20 "$RPCTL" ice-test peer --controlled --policy host --local "$LAN_IP" \
	--timeout 3 --out /dev/null --in <(printf '%s\n' a=ice-ufrag:hpin \
	a=ice-pwd:hpinhpinhpinhpinhpinhpin \
	"a=candidate:1 1 UDP 1694498815 $WAN_IP 9 typ srflx raddr 10.0.0.1 rport 9" \
	a=end-of-candidates; sleep 5) >"$T/peer.out" 2>&1 || true
grep -q "^ICE: Conclusion " "$T/peer.out" || fail "peer: no conclusion: $(cat "$T/peer.out")"
grep -qF "$NOTE" "$T/peer.out" || fail "peer: no note: $(cat "$T/peer.out")"

# The router does not hairpin: the same check fails, and the note tells
# the administrator why this may not matter to phones outside.
netns_nat full-cone
ICE nohairpin 1
grep -Eq "^ICE: Conclusion FAILED \(stun-(unreachable|timeout): " "$T/nohairpin.out" \
	|| fail "no hairpin: $(cat "$T/nohairpin.out")"
grep -qF "$NOTE" "$T/nohairpin.out" || fail "no hairpin: no note: $(cat "$T/nohairpin.out")"

# A server on the appliance's own interface: no router in the path.
ICE direct 0 --stun "stun:$LAN_IP:3479"
grep -q "^ICE: Conclusion SUCCESS" "$T/direct.out" || fail "direct: $(cat "$T/direct.out")"
grep -q "^ICE: Note:" "$T/direct.out" && fail "direct: a note: $(cat "$T/direct.out")"

# An appliance that holds its external address on an interface needs no
# hairpinning either.
ok R set turnd.external-ip "$LAN_IP"
ICE holds 0
grep -q "^ICE: Conclusion SUCCESS" "$T/holds.out" || fail "holds: $(cat "$T/holds.out")"
grep -q "^ICE: Note:" "$T/holds.out" && fail "holds: a note: $(cat "$T/holds.out")"
echo "ok: hairpinning noted for the appliance's own external address"
