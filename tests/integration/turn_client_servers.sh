#!/usr/bin/env bash
# turn_client_servers - the library's TURN client (pbxedge/turn.h), driven over
# real sockets by tests/integration/peers/turn_client_drive.c, against
# coturn's turnserver and against turnd, over UDP, TCP and TLS (the
# library's GnuTLS sessions, the server verified against a test CA): allocate, a
# permission toward an echo peer (turnutils_peer), data through Send/Data
# indications and through a channel, then release, which coturn logs as a
# refresh with lifetime=0 and after which rpctl turn status no longer
# lists turnd's allocation; a wrong password is recorded as 401 auth;
# turnd's default peer policy as 403 with the peer's address; a closed
# port times out under the caller's cap (or fails at once on ICMP).
# Peers: coturn (turnserver, turnutils_peer), certtool, ss.
. "$(dirname "$0")/lib.sh"
need turnserver turnutils_peer certtool ss

DRIVE="$PBX_BUILD/tests/integration/turn_client_drive"
[ -x "$DRIVE" ] || fail "no $DRIVE"
field() { sed -n "s/^$1=\([^ ]*\).*/\1/p"; }
drive() { timeout 60 "$DRIVE" "$@"; }

wait_udp() {
	local i
	for ((i = 0; i < 100; i++)); do
		ss -Hlun "sport = :$1" | grep -q . && return 0
		sleep 0.1
	done
	fail "nothing listens on UDP port $1"
}

# full NAME ARGS...: the whole sequence must succeed.
full() {
	local name=$1 out
	shift
	out=$(drive "$@" 2>&1) || fail "$name: $out"
	for step in allocate permission channel release; do
		[ "$(field $step <<<"$out")" = ok ] || fail "$name: $step: $out"
	done
	grep -q "^indications=$COUNT/$COUNT$" <<<"$out" || fail "$name: indications: $out"
	grep -Eq "^channel_data=$COUNT/$COUNT number=0x4000$" <<<"$out" || fail "$name: channel: $out"
	echo "$out" >"$T/$name.out"
}

COUNT=10
make_certs "$T/pki" 127.0.0.1
PEER=$(free_udp)
start peer turnutils_peer -L 127.0.0.1 -p "$PEER"

# ---- coturn ----
coturn_loopback
wait_udp "$PEER"

full coturn-udp --server "127.0.0.1:$CP" --user alice --password secret --peer "127.0.0.1:$PEER" \
	--count "$COUNT"
full coturn-tcp --server "127.0.0.1:$CP" --tcp --user alice --password secret \
	--peer "127.0.0.1:$PEER" --count "$COUNT"
wait_listening "$CTP"
full coturn-tls --server "127.0.0.1:$CTP" --tls "$T/pki/ca.pem" --user alice --password secret \
	--peer "127.0.0.1:$PEER" --count "$COUNT"
# Each release reached coturn as a Refresh with lifetime 0.
wait_count "$T/coturn.log" "refreshed, realm=<pbxedge>, username=<alice>, lifetime=0" 3 5

out=$(drive --server "127.0.0.1:$CP" --user alice --password wrong 2>&1) && fail "wrong password allocated: $out"
grep -Eq '^allocate=auth code=401 ' <<<"$out" || fail "wrong password: $out"
grep -q wrong <<<"$out" && fail "the password is in the output: $out"

# A closed UDP port: nothing answers; the cap ends it quickly.  With ICMP
# reported, at once.
DEAD=$(free_udp)
t0=$(date +%s%N)
out=$(drive --server "127.0.0.1:$DEAD" --user alice --password secret --cap-ms 1500 2>&1) \
	&& fail "closed port allocated: $out"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
grep -Eq '^allocate=timeout code=0 sends=2 ms=15[0-9][0-9] ' <<<"$out" || fail "closed port: $out"
[ "$ms" -lt 4000 ] || fail "closed port took ${ms} ms"
out=$(drive --server "127.0.0.1:$DEAD" --icmp --user alice --password secret 2>&1) \
	&& fail "closed port allocated: $out"
grep -Eq '^allocate=icmp ' <<<"$out" || fail "closed port with ICMP: $out"
out=$(drive --server "127.0.0.1:$DEAD" --tcp --user alice --password secret 2>&1) \
	&& fail "closed TCP port allocated: $out"
grep -Eq '^allocate=closed ' <<<"$out" || fail "closed TCP port: $out"
kill -TERM "$PID_coturn"

# ---- turnd ----
P=$(free_udp)
TP=$(free_port)
turnd_store "127.0.0.1:$P" "$CLO"
ok R turn user add alice secret
ok R set turnd.tls-listen "127.0.0.1:$TP"
ok R set turnd.tls-cert "$T/pki/server.pem"
ok R set turnd.tls-key "$T/pki/server.key"
# Wrong passwords and refused peers are suspicious: keep the test client
# off the blacklist.
ok R whitelist add 127.0.0.1 --reason "test client"
start turnd "$TURND" --foreground --workers 1
wait_log "$T/turnd.log" "ready workers=1"

# By default turnd refuses loopback peers: 403, with the peer named.
out=$(drive --server "127.0.0.1:$P" --user alice --password secret --peer "127.0.0.1:$PEER" 2>&1) \
	&& fail "loopback peer allowed: $out"
grep -Eq "^permission=forbidden code=403 sends=1 ms=[0-9]+ peer=127.0.0.1:$PEER " <<<"$out" \
	|| fail "403: $out"
[ "$(field release <<<"$out")" = ok ] || fail "release after 403: $out"

reloads=$(grep -c config-reloaded "$T/turnd.log" || true)
ok R set turnd.allow-peer 127.0.0.1
wait_count "$T/turnd.log" "config-reloaded" $((reloads + 1))
full turnd-udp --server "127.0.0.1:$P" --user alice --password secret --peer "127.0.0.1:$PEER" \
	--count "$COUNT"
full turnd-tcp --server "127.0.0.1:$P" --tcp --user alice --password secret \
	--peer "127.0.0.1:$PEER" --count "$COUNT"
full turnd-tls --server "127.0.0.1:$TP" --tls "$T/pki/ca.pem" --user alice --password secret \
	--peer "127.0.0.1:$PEER" --count "$COUNT"
for tr in udp tcp tls; do
	grep -Eq "allocation-ended .* user=alice .*transport=$tr .*reason=refresh-0 .*packets-in=$((2 * COUNT)) packets-out=$((2 * COUNT))" \
		"$T/turnd.log" || fail "turnd: no $tr allocation ended by refresh-0 with $((2 * COUNT)) packets each way"
done

# Held open, rpctl turn status lists the allocation; released, no more.
drive --server "127.0.0.1:$P" --user alice --password secret --hold-ms 4000 >"$T/hold.out" 2>&1 &
HOLD=$!
PIDS+=("$HOLD")
listed=no
for _ in $(seq 40); do
	R turn status | grep -Eq "^turnd +alice +127\.0\.0\.1:[0-9]+ +udp " && { listed=yes; break; }
	sleep 0.1
done
[ "$listed" = yes ] || fail "turn status without the held allocation: $(R turn status)"
wait_exit "$HOLD" 15
[ "$EXIT_STATUS" = 0 ] || fail "held allocation: $(cat "$T/hold.out")"
[ "$(field release <"$T/hold.out")" = ok ] || fail "release: $(cat "$T/hold.out")"
gone=no
for _ in $(seq 50); do
	R turn status | grep -Eq "^turnd +alice " || { gone=yes; break; }
	sleep 0.1
done
[ "$gone" = yes ] || fail "turn status still lists the released allocation: $(R turn status)"

out=$(drive --server "127.0.0.1:$P" --user alice --password wrong 2>&1) && fail "wrong password allocated: $out"
grep -Eq '^allocate=auth code=401 ' <<<"$out" || fail "turnd, wrong password: $out"
echo "turn_client_servers: ok"
