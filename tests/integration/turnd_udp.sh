#!/usr/bin/env bash
# turnd_udp - coturn's turnutils_uclient relays through turnd over UDP to
# turnutils_peer (an echo peer) with channels and with Send/Data
# indications, every packet arriving at a moderate load, on two workers;
# rpctl turn status lists the live allocations with their channels and
# traffic, and turnd reports its counters; a peer on 127.0.0.1 is refused
# with 403 by default (uclient's ChannelBind and a scripted
# CreatePermission), and allowed once turnd.allow-peer names it; one log
# line per allocation at its end.
# Peers: coturn (turnutils_uclient, turnutils_peer), python3.
. "$(dirname "$0")/lib.sh"
need turnutils_uclient turnutils_peer python3 ss

talk() { python3 "$PBX_SRC/tests/integration/peers/stun_talk.py" "$@"; }
field() { sed -n "s/^$1=//p"; }

P=$(free_udp)
PEER=$(free_udp)
turnd_store "127.0.0.1:$P"
ok R turn user add alice 'al1ce-secret'
out=$("$TURND" --check) || fail "--check: $out"
grep -q "udp+tcp 127.0.0.1:$P" <<<"$out" || fail "--check listeners: $out"
grep -q "relay ports: $LO-$((LO + 99))" <<<"$out" || fail "--check ports: $out"

start peer turnutils_peer -L 127.0.0.1 -p "$PEER"
start turnd "$TURND" --foreground --workers 2
wait_log "$T/turnd.log" "ready workers=2"
wait_log "$T/turnd.log" "serving listen=127.0.0.1:$P tls=off realm=pbxedge ports=$LO-$((LO + 99)) accounts=1"

# Safe by default: the echo peer on 127.0.0.1 is loopback.
set +e
out=$(timeout 20 turnutils_uclient -u alice -w 'al1ce-secret' -e 127.0.0.1 -r "$PEER" -n 5 \
	-m 1 -l 100 -p "$P" 127.0.0.1 2>&1)
rc=$?
set -e
[ "$rc" != 0 ] || fail "uclient relayed to loopback: $out"
grep -q "error 403" <<<"$out" || fail "uclient to loopback, no 403: $out"
out=$(talk turn 127.0.0.1 "$P" --user alice --password 'al1ce-secret' --peer "127.0.0.1:$PEER")
[ "$(echo "$out" | field allocate)" = success ] || fail "allocate: $out"
[ "$(echo "$out" | field permission)" = 403 ] || fail "permission to 127.0.0.1: $out"
wait_log "$T/turnd.log" "refused client=127.0.0.1:[0-9]+ user=alice method=CreatePermission peer=127.0.0.1:$PEER reason=peer-loopback"

# Allowed explicitly (live, without a restart); the tests' client is
# whitelisted so that the refusals above cannot blacklist it.
ok R whitelist add 127.0.0.1 --reason "test client"
wait_log "$T/turnd.log" "config-reloaded .*whitelist=1"
ok R set turnd.allow-peer 127.0.0.1
wait_count "$T/turnd.log" "config-reloaded" 2
out=$(talk turn 127.0.0.1 "$P" --user alice --password 'al1ce-secret' --peer "127.0.0.1:$PEER" \
	--send hello --refresh 0)
[ "$(echo "$out" | field permission)" = success ] || fail "permission: $out"
[ "$(echo "$out" | field data)" = ok ] || fail "Send/Data through the echo peer: $out"
[ "$(echo "$out" | field refresh)" = success ] || fail "refresh 0: $out"
relayed=$(echo "$out" | field relayed)
wait_log "$T/turnd.log" "allocation-ended id=[0-9]+ user=alice client=127.0.0.1:[0-9]+ transport=udp relayed=$relayed reason=refresh-0 .*packets-in=1 packets-out=1"

# uclient: channels, then Send/Data indications; every packet back.
for mode in channels indications; do
	flag=
	[ "$mode" = indications ] && flag=-s
	out=$(timeout 60 turnutils_uclient -u alice -w 'al1ce-secret' -e 127.0.0.1 -r "$PEER" \
		-n 400 -m 10 -l 160 -z 5 $flag -p "$P" 127.0.0.1 2>&1) || fail "uclient $mode: $out"
	grep -q "tot_send_msgs=4000, tot_recv_msgs=4000" <<<"$out" \
		|| fail "uclient $mode lost packets: $(echo "$out" | tail -5)"
	grep -q "Total lost packets 0 " <<<"$out" || fail "uclient $mode: $(echo "$out" | tail -5)"
done

# A longer run: rpctl turn status shows it within a few seconds.
timeout 90 turnutils_uclient -u alice -w 'al1ce-secret' -e 127.0.0.1 -r "$PEER" -n 600 -m 2 \
	-l 100 -p "$P" 127.0.0.1 >"$T/long.out" 2>&1 &
PIDS+=("$!")
UC=$!
live() {
	python3 -c '
import json, sys
rows = json.load(sys.stdin)
sys.exit(not any(r["user"] == "alice" and r["transport"] == "udp" and r["permissions"] == 1 and
                 r["channels"] > 0 and r["packets_in"] > 0 and r["packets_out"] > 0 and
                 r["expires"] > r["updated"] for r in rows))'
}
for _ in $(seq 100); do
	js=$(R --json turn status)
	echo "$js" | live && break
	sleep 0.2
done
echo "$js" | live || fail "turn status without a live allocation with a permission, channels and traffic: $js"
st=$(R turn status)
grep -Eq "^turnd +alice +127\.0\.0\.1:[0-9]+ +udp +127\.0\.0\.1:[0-9]+ +[0-9T:-]+Z +[0-9T:-]+Z +1 +[1-9][0-9]* +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9T:-]+Z$" <<<"$st" \
	|| fail "turn status text: $st"
wait_exit "$UC" 90
[ "$EXIT_STATUS" = 0 ] || fail "long uclient: $(tail -5 "$T/long.out")"

# A bandwidth cap per allocation: 50 KB/s offered through a 5 KB/s cap.
ok R set turnd.bandwidth 5000
wait_log "$T/turnd.log" "bandwidth=5000"
out=$(timeout 30 turnutils_uclient -u alice -w 'al1ce-secret' -e 127.0.0.1 -r "$PEER" -n 200 \
	-m 1 -l 500 -z 10 -c -p "$P" 127.0.0.1 2>&1) || fail "uclient capped: $out"
recv=$(echo "$out" | sed -n 's/.*start_mclient: tot_send_msgs=200, tot_recv_msgs=\([0-9]*\)$/\1/p')
[ -n "$recv" ] && [ "$recv" -ge 10 ] && [ "$recv" -le 120 ] || fail "bandwidth cap: $(echo "$out" | tail -4)"
ok R set turnd.bandwidth 0

status=$(R status)
for c in dropped-bandwidth allocations allocations-ended channel-binds permissions relayed-to-peers \
	relayed-to-clients forbidden-peers challenged; do
	grep -Eq "^  turnd +$c +[1-9][0-9]*$" <<<"$status" || fail "counter $c: $status"
done
# Every allocation made is ended once, with its line.
made=$(grep -c "allocation-made" "$T/turnd.log")
kill -TERM "$PID_turnd"
wait_exit "$PID_turnd"
[ "$EXIT_STATUS" = 0 ] || fail "turnd exit $EXIT_STATUS"
ended=$(grep -c "allocation-ended" "$T/turnd.log")
[ "$made" -ge 20 ] && [ "$made" = "$ended" ] || fail "allocations made $made, ended $ended"
[ -z "$(R turn status)" ] || fail "turn status after stop: $(R turn status)"
echo "turnd_udp: ok"
