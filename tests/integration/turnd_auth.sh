#!/usr/bin/env bash
# turnd_auth - long-term credentials and TURN REST credentials: coturn's
# turnutils_uclient relays with a REST secret (-W), also after the secret
# was rotated (two active at once); an expired REST user name and a wrong
# password get 401; the store keeps no password; a source that keeps
# sending wrong passwords is blacklisted for every daemon (rpctl blacklist
# list) and dropped, while others are still served.
# Peers: coturn (turnutils_uclient, turnutils_peer), sqlite3, python3.
. "$(dirname "$0")/lib.sh"
need turnutils_uclient turnutils_peer sqlite3 python3 ss

talk() { python3 "$PBX_SRC/tests/integration/peers/stun_talk.py" "$@"; }
field() { sed -n "s/^$1=//p"; }

P=$(free_udp)
PEER=$(free_udp)
turnd_store "127.0.0.1:$P"
ok R set turnd.realm example.org
ok R turn user add alice 'correct horse'
ok R set turnd.allow-peer 127.0.0.1
ok R set turnd.suspicious-per-minute 5
ok R turn secret add 'old-secret'
# Only derived keys are stored.
sqlite3 -cmd ".timeout 5000" "$PBXEDGE_DB" .dump | grep -q "correct horse" && fail "the password is in the store"
R turn user list | grep -Eq "^alice +example.org " || fail "user list: $(R turn user list)"

start peer turnutils_peer -L 127.0.0.1 -p "$PEER"
start turnd "$TURND" --foreground
wait_log "$T/turnd.log" "ready workers="

# Static account, scripted: the first Allocate is challenged (401 with
# realm and nonce), the signed one succeeds.
out=$(talk turn 127.0.0.1 "$P" --user alice --password 'correct horse' --refresh 0)
[ "$(echo "$out" | field first)" = 401 ] || fail "first round: $out"
[ "$(echo "$out" | field allocate)" = success ] || fail "static account: $out"

# REST credentials from uclient, with the active secret; then rotated:
# the new secret works while the old one is still active, and alone.
for secret in old-secret new-secret; do
	[ "$secret" = new-secret ] && { ok R turn secret add new-secret; wait_log "$T/turnd.log" "secrets=2"; }
	out=$(timeout 30 turnutils_uclient -W "$secret" -u carol -e 127.0.0.1 -r "$PEER" -n 50 -m 2 \
		-l 100 -p "$P" 127.0.0.1 2>&1) || fail "uclient REST ($secret): $out"
	grep -q "tot_send_msgs=100, tot_recv_msgs=100" <<<"$out" || fail "REST $secret: $(echo "$out" | tail -4)"
done
ok R turn secret del old-secret
# The start-up line said secrets=1 too: wait for the second one.
wait_count "$T/turnd.log" "secrets=1 " 2
now=$(date +%s)
out=$(talk turn 127.0.0.1 "$P" --user dave --rest-secret new-secret --rest-expiry $((now + 600)) --refresh 0)
[ "$(echo "$out" | field allocate)" = success ] || fail "REST, new secret: $out"
out=$(talk turn 127.0.0.1 "$P" --user dave --rest-secret old-secret --rest-expiry $((now + 600)))
[ "$(echo "$out" | field error)" = 401 ] || fail "REST with a retired secret: $out"
out=$(talk turn 127.0.0.1 "$P" --user dave --rest-secret new-secret --rest-expiry $((now - 10)))
[ "$(echo "$out" | field error)" = 401 ] || fail "expired REST credentials: $out"
wait_log "$T/turnd.log" "refused client=127.0.0.1:[0-9]+ method=Allocate user=\"$((now - 10)):dave\" reason=rest-expired"

# Wrong passwords from 127.0.0.2: 401, counted as suspicious, then the
# source is blacklisted (for rpd and stund too) and dropped.
out=$(talk turn 127.0.0.1 "$P" --user alice --password wrong --bind 127.0.0.2)
[ "$(echo "$out" | field error)" = 401 ] || fail "wrong password: $out"
set +e
timeout 15 turnutils_uclient -u alice -w wrong -L 127.0.0.2 -e 127.0.0.1 -r "$PEER" -n 5 -m 1 \
	-p "$P" 127.0.0.1 >"$T/wrong.out" 2>&1
rc=$?
set -e
[ "$rc" != 0 ] || fail "uclient with a wrong password succeeded"
wait_log "$T/turnd.log" "blacklisted source=127.0.0.2 count=[0-9]+ minutes=10 reason=too-many-suspicious last=wrong-credentials"
for _ in $(seq 50); do
	R blacklist list | grep -q "^127.0.0.2 " && break
	sleep 0.2
done
R blacklist list | grep -Eq "^127.0.0.2 +auto +[0-9]+ suspicious TURN requests" \
	|| fail "not on the blacklist: $(R blacklist list)"
out=$(talk turn 127.0.0.1 "$P" --user alice --password 'correct horse' --bind 127.0.0.2 --timeout 1)
[ "$(echo "$out" | field first)" = timeout ] || fail "blacklisted source answered: $out"
out=$(talk turn 127.0.0.1 "$P" --user alice --password 'correct horse' --bind 127.0.0.1 --refresh 0)
[ "$(echo "$out" | field allocate)" = success ] || fail "others not served: $out"
status=$(R status)
for c in wrong-credentials suspicious blacklist-added dropped-blacklisted; do
	grep -Eq "^  turnd +$c +[1-9][0-9]*$" <<<"$status" || fail "counter $c: $status"
done
grep -Eq "turn +127.0.0.2 +wrong-credentials|127.0.0.2 .*turn .*wrong-credentials" <<<"$status" \
	|| fail "suspicious event: $status"
echo "turnd_auth: ok"
