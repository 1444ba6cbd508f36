#!/usr/bin/env bash
# turnd_external - behind a static NAT map: with turnd.external-ip set to
# an address, turnd binds its relay on the internal address and advertises
# the external one (same port) in XOR-RELAYED-ADDRESS; with 'auto' it
# advertises the external address natd found last, and the relay's own
# address until there is one; data still flows through the bound relay.
# Peers: coturn (turnutils_peer), sqlite3, python3.
. "$(dirname "$0")/lib.sh"
need turnutils_peer sqlite3 python3 ss

talk() { python3 "$PBX_SRC/tests/integration/peers/stun_talk.py" "$@"; }
field() { sed -n "s/^$1=//p"; }

P=$(free_udp)
PEER=$(free_udp)
turnd_store "0.0.0.0:$P" # a wildcard: answers and relays on the address reached
ok R turn user add alice pw
ok R whitelist add 127.0.0.1 --reason "test client"
ok R set turnd.allow-peer 127.0.0.1
refuse 1 "turnd.external-ip: 'nat' is not 'auto' nor an IP address" R set turnd.external-ip nat
refuse 1 "turnd.external-ip: '0.0.0.0' is not 'auto'" R set turnd.external-ip 0.0.0.0
ok R set turnd.external-ip 203.0.113.9
out=$("$TURND" --check) || fail "--check: $out"
grep -q "^external-ip: 203.0.113.9$" <<<"$out" || fail "--check external: $out"

start peer turnutils_peer -L 127.0.0.1 -p "$PEER"
start turnd "$TURND" --foreground
wait_log "$T/turnd.log" "ready workers="

out=$(talk turn 127.0.0.1 "$P" --user alice --password pw --peer "127.0.0.1:$PEER" --send hi \
	--refresh 0)
relayed=$(echo "$out" | field relayed)
[[ "$relayed" == 203.0.113.9:* ]] || fail "advertised: $out"
port=${relayed##*:}
[ "$port" -ge "$LO" ] && [ "$port" -le "$((LO + 99))" ] || fail "port: $out"
[ "$(echo "$out" | field data)" = ok ] || fail "data through the internal relay: $out"
wait_log "$T/turnd.log" "allocation-made id=[0-9]+ user=alice .* relayed=203.0.113.9:$port"

# auto: the relay's own address until natd found one, then natd's.
ok R set turnd.external-ip auto
wait_log "$T/turnd.log" "config-reloaded"
out=$(talk turn 127.0.0.1 "$P" --user alice --password pw --refresh 0)
[[ "$(echo "$out" | field relayed)" == 127.0.0.1:* ]] || fail "auto before natd: $out"
# natd's row as natd writes it (the address without a port); then natd
# finds another address, and turnd follows.
sqlite3 -cmd ".timeout 5000" "$PBXEDGE_DB" "INSERT INTO nat_result (server_index, server, at, external) \
	VALUES (0, 'stun.example', strftime('%s','now'), '198.51.100.20')"
# advertised ADDR: wait until new allocations advertise ADDR.
advertised() {
	for _ in $(seq 50); do
		out=$(talk turn 127.0.0.1 "$P" --user alice --password pw --refresh 0)
		[[ "$(echo "$out" | field relayed)" == "$1":* ]] && return 0
		sleep 0.2
	done
	fail "auto: not following natd to $1: $out"
}
advertised 198.51.100.20
sqlite3 -cmd ".timeout 5000" "$PBXEDGE_DB" "UPDATE nat_result SET external = '198.51.100.21', \
	at = strftime('%s','now') WHERE server_index = 0"
advertised 198.51.100.21
echo "turnd_external: ok"
