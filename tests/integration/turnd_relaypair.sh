#!/usr/bin/env bash
# turnd_relaypair - relay to relay through one turnd on an address of its
# own, under the default peer policy: a permission for another
# allocation's relayed address is granted and data reaches that
# allocation's client; but a permission is for an IP address, and the
# other ports of turnd's own address (the appliance's services) stay out
# of reach of Send indications.  turnd runs in a network namespace the
# test creates, on 198.18.77.1 (one end of a veth pair).
# Peers: python3 (a scripted client written from RFC 8656), iproute2.
. "$(dirname "$0")/lib.sh"
need python3 ip
[ "$(id -u)" = 0 ] || { echo "SKIP: network namespaces need root" >&2; exit 77; }

field() { sed -n "s/^$1=//p"; }

ADDR=198.18.77.1
ns_single pbxtr "$ADDR"

P=3478
turnd_store "$ADDR:$P"
ok R turn user add alice 'al1ce-secret'
ok R whitelist add "$ADDR" --reason "test client"

start turnd ip netns exec "$NS" "$TURND" --foreground --workers 1 --db "$PBXEDGE_DB"
wait_log "$T/turnd.log" "serving listen=$ADDR:$P "

set +e
out=$(N python3 "$PBX_SRC/tests/integration/peers/turn_relaypair.py" \
	"$ADDR" "$P" --user alice --password 'al1ce-secret')
rc=$?
set -e
echo "$out"
[ "$(echo "$out" | field permission)" = success ] || fail "permission for a relayed address: $out"
[ "$(echo "$out" | field relay-to-relay)" = ok ] || fail "relay to relay: $out"
[ "$(echo "$out" | field other-port)" = dropped ] ||
	fail "a Send indication reached another port of turnd's own address: $out"
[ "$rc" = 0 ] || fail "turn_relaypair exit $rc: $out"
# The refused destination is counted as a drop without a permission.
for _ in $(seq 50); do
	R status >"$T/status"
	grep -Eq "^  turnd +dropped-no-permission +[1-9]" "$T/status" && break
	sleep 0.2
done
grep -Eq "^  turnd +dropped-no-permission +[1-9]" "$T/status" ||
	fail "no dropped-no-permission counter: $(grep turnd "$T/status")"
kill -TERM "$PID_turnd"
wait_exit "$PID_turnd"
echo "turnd_relaypair: ok"
