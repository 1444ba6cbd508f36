#!/usr/bin/env bash
# turnd_tcp - TURN over TCP and TLS ("turns:"): coturn's turnutils_uclient
# relays through turnd to turnutils_peer over TCP with channels (padded
# ChannelData on the stream) and with Send/Data indications, and over TLS
# with a certificate from the store; every packet arrives; rpctl turn
# status names the transport; an allocation ends with its connection; a
# stream that loses its framing is closed with a counted reason while
# others are served; TLS without a certificate is refused by --check.
# Peers: coturn (turnutils_uclient, turnutils_peer), certtool, python3.
. "$(dirname "$0")/lib.sh"
need turnutils_uclient turnutils_peer certtool python3 ss

talk() { python3 "$PBX_SRC/tests/integration/peers/stun_talk.py" "$@"; }
field() { sed -n "s/^$1=//p"; }

P=$(free_udp)
TP=$(free_port)
PEER=$(free_udp)
turnd_store "127.0.0.1:$P"
make_certs "$T/pki" 127.0.0.1
ok R turn user add alice pw
ok R whitelist add 127.0.0.1 --reason "test client"
ok R set turnd.allow-peer 127.0.0.1
ok R set turnd.tls-listen "127.0.0.1:$TP"
set +e
out=$("$TURND" --check 2>&1)
rc=$?
set -e
[ "$rc" = 1 ] || fail "--check took TLS without a certificate: $out"
grep -q "problem: turnd.tls-listen is set but turnd.tls-cert and turnd.tls-key are not" <<<"$out" \
	|| fail "--check message: $out"
ok R set turnd.tls-cert "$T/pki/server.pem"
ok R set turnd.tls-key "$T/pki/server.key"
out=$("$TURND" --check) || fail "--check: $out"
grep -q "udp+tcp 127.0.0.1:$P" <<<"$out" || fail "--check listeners: $out"
grep -q "tls     127.0.0.1:$TP" <<<"$out" || fail "--check tls: $out"

start peer turnutils_peer -L 127.0.0.1 -p "$PEER"
start turnd "$TURND" --foreground --workers 2
wait_log "$T/turnd.log" "ready workers=2"
wait_listening "$P"
wait_listening "$TP"

run() {
	local name=$1
	shift
	out=$(timeout 60 turnutils_uclient -u alice -w pw -e 127.0.0.1 -r "$PEER" -n 300 -m 4 -l 160 \
		-z 10 "$@" 127.0.0.1 2>&1) || fail "uclient $name: $out"
	# Every message sent came back (uclient counts its RTCP streams too).
	local sent recv
	sent=$(echo "$out" | sed -n 's/.*start_mclient: tot_send_msgs=\([0-9]*\), tot_recv_msgs=\([0-9]*\)$/\1/p')
	recv=$(echo "$out" | sed -n 's/.*start_mclient: tot_send_msgs=\([0-9]*\), tot_recv_msgs=\([0-9]*\)$/\2/p')
	[ -n "$sent" ] && [ "$sent" -ge 1200 ] && [ "$sent" = "$recv" ] \
		|| fail "uclient $name lost packets: $(echo "$out" | tail -5) $(R status | grep -E 'turnd +(drop|send)')"
	grep -q "Total lost packets 0 " <<<"$out" \
		|| fail "uclient $name: $(echo "$out" | tail -5) $(R status | grep -E 'turnd +(drop|send)')"
}
run tcp-channels -t -p "$P"
run tcp-indications -t -s -p "$P"
run tls-channels -t -S -p "$TP"
run tls-indications -t -S -s -p "$TP"
grep -Eq "allocation-ended .* transport=tcp .*reason=refresh-0 packets-in=300 packets-out=300" "$T/turnd.log" \
	|| grep -Eq "allocation-ended .* transport=tcp .* packets-in=300 packets-out=300" "$T/turnd.log" \
	|| fail "no TCP allocation line"
grep -Eq "allocation-ended .* transport=tls .* packets-in=300 packets-out=300" "$T/turnd.log" \
	|| fail "no TLS allocation line"

# rpctl turn status names the transport of a live TCP allocation; closing
# the connection ends it.
timeout 60 turnutils_uclient -t -u alice -w pw -e 127.0.0.1 -r "$PEER" -n 1000 -m 1 -l 100 \
	-p "$P" 127.0.0.1 >"$T/long.out" 2>&1 &
UC=$!
PIDS+=("$UC")
for _ in $(seq 100); do
	st=$(R turn status)
	grep -Eq "^turnd +alice +127\.0\.0\.1:[0-9]+ +tcp " <<<"$st" && break
	sleep 0.2
done
grep -Eq "^turnd +alice +127\.0\.0\.1:[0-9]+ +tcp " <<<"$st" || fail "turn status: $st"
kill -KILL "$UC"
wait_log "$T/turnd.log" "allocation-ended .* transport=tcp .*reason=connection-closed"

# A stream that loses its framing is closed, counted; others go on.
python3 - "$P" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"\xff" * 64)
s.settimeout(5)
assert s.recv(100) == b""
PY
wait_log "$T/turnd.log" "dropped source=127.0.0.1:[0-9]+ reason=not-stun"
run tcp-after-garbage -t -p "$P"
status=$(R status)
for c in connections-accepted connections-closed dropped-not-stun; do
	grep -Eq "^  turnd +$c +[1-9][0-9]*$" <<<"$status" || fail "counter $c: $status"
done
kill -TERM "$PID_turnd"
wait_exit "$PID_turnd"
[ "$EXIT_STATUS" = 0 ] || fail "turnd exit $EXIT_STATUS"
echo "turnd_tcp: ok"
