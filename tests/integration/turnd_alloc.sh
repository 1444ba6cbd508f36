#!/usr/bin/env bash
# turnd_alloc - allocations and their limits: an allocation that is not
# refreshed expires and its port returns to the pool (a one-port range
# answers 508 meanwhile); quotas per user and in total answer 486;
# EVEN-PORT with the R bit hands out a RESERVATION-TOKEN that a second
# Allocate redeems for the next port; an IPv6 relay asked for over IPv4 is
# 440, an additional IPv6 family gets the IPv4 relay with
# ADDRESS-ERROR-CODE 440; a nonce turnd never made is 438; Binding is
# answered on turnd's port (coturn's turnutils_stunclient); malformed
# datagrams are dropped with a counted reason, unknown attributes and
# methods answered (420, 400), while a good client is still served.
# Peers: coturn (turnutils_stunclient, turnutils_uclient), python3.
. "$(dirname "$0")/lib.sh"
need turnutils_stunclient turnutils_uclient python3 ss

talk() { python3 "$PBX_SRC/tests/integration/peers/stun_talk.py" "$@"; }
field() { sed -n "s/^$1=//p"; }
A() { talk turn 127.0.0.1 "$P" --user alice --password pw "$@"; }

P=$(free_udp)
LO=$(relay_base)
ok R init >/dev/null
ok R turn user add alice pw
ok R turn user add bob pw
ok R set turnd.listen "127.0.0.1:$P"
ok R set turnd.min-port "$LO"
ok R set turnd.max-port "$LO"
ok R set turnd.max-lifetime 2
ok R whitelist add 127.0.0.1 --reason "test client"
start turnd "$TURND" --foreground
wait_log "$T/turnd.log" "ready workers="

# Binding on turnd's own port: a box with only turnd serves STUN too.
out=$(timeout 10 turnutils_stunclient -p "$P" 127.0.0.1 2>&1) || fail "stunclient: $out"
grep -Eq "UDP reflexive addr: 127\.0\.0\.1:[0-9]+" <<<"$out" || fail "stunclient: $out"

# One port: the first allocation takes it, the next gets 508; once the
# first expires unrefreshed (lifetime capped at 2 s), its port is free.
out=$(A)
[ "$(echo "$out" | field allocate)" = success ] || fail "allocate: $out"
[ "$(echo "$out" | field relayed)" = "127.0.0.1:$LO" ] || fail "relayed port: $out"
[ "$(echo "$out" | field lifetime)" = 2 ] || fail "lifetime: $out"
out=$(A)
[ "$(echo "$out" | field error)" = 508 ] || fail "exhausted pool: $out"
wait_log "$T/turnd.log" "allocation-ended id=1 user=alice .*relayed=127.0.0.1:$LO reason=expired" 6
out=$(A --refresh 0)
[ "$(echo "$out" | field allocate)" = success ] || fail "port not back in the pool: $out"
[ "$(echo "$out" | field relayed)" = "127.0.0.1:$LO" ] || fail "relayed port again: $out"
[ "$(echo "$out" | field refresh)" = success ] || fail "refresh 0: $out"

# EVEN-PORT with R: an even port, and the next one kept for the token.
EVEN=$(( LO % 2 ? LO + 1 : LO ))
ok R set turnd.min-port "$EVEN"
ok R set turnd.max-port "$((EVEN + 1))"
ok R set turnd.max-lifetime 600
wait_log "$T/turnd.log" "ports=$EVEN-$((EVEN + 1))"
out1=$(A --attr 0018:80)
[ "$(echo "$out1" | field relayed)" = "127.0.0.1:$EVEN" ] || fail "EVEN-PORT: $out1"
token=$(echo "$out1" | field token)
[ -n "$token" ] || fail "no RESERVATION-TOKEN: $out1"
out=$(A --attr "0022:$token" --refresh 0)
[ "$(echo "$out" | field relayed)" = "127.0.0.1:$((EVEN + 1))" ] || fail "token redeemed: $out"
out=$(A --attr "0022:0123456789abcdef")
[ "$(echo "$out" | field error)" = 508 ] || fail "unknown token: $out"
out=$(A --attr 0018:00 --attr "0022:$token")
[ "$(echo "$out" | field error)" = 400 ] || fail "EVEN-PORT with a token: $out"

# Families: IPv6 over an IPv4 listener is 440; ADDITIONAL-ADDRESS-FAMILY
# IPv6 gets the IPv4 relay and an ADDRESS-ERROR-CODE for IPv6.
ok R set turnd.min-port "$LO"
ok R set turnd.max-port "$((LO + 50))"
wait_log "$T/turnd.log" "ports=$LO-$((LO + 50))"
out=$(A --attr 0017:02000000)
[ "$(echo "$out" | field error)" = 440 ] || fail "IPv6 relay: $out"
out=$(A --attr 8000:02000000 --refresh 0)
[ "$(echo "$out" | field allocate)" = success ] || fail "dual allocation: $out"
[ "$(echo "$out" | field address-error)" = 2/440 ] || fail "ADDRESS-ERROR-CODE: $out"
out=$(A --attr 0017:01000000 --attr 8000:02000000)
[ "$(echo "$out" | field error)" = 400 ] || fail "both family attributes: $out"
out=$(A --attr 0017:07000000)
[ "$(echo "$out" | field error)" = 440 ] || fail "unknown family: $out"
out=$(A --attr 001A:)
[ "$(echo "$out" | field allocate)" = success ] || fail "DONT-FRAGMENT: $out"

# A nonce turnd never made is stale (438), with a fresh one.
out=$(A --nonce 00000000deadbeefdeadbeef)
[ "$(echo "$out" | field error)" = 438 ] || fail "stale nonce: $out"

# Quotas: one allocation per user, two in all.
ok R set turnd.user-quota 1
ok R set turnd.total-quota 2
wait_log "$T/turnd.log" "user-quota=1 total-quota=2"
A --hold 3 >"$T/held1.out" &
H1=$!
sleep 0.5
out=$(A)
[ "$(echo "$out" | field error)" = 486 ] || fail "user quota: $out"
talk turn 127.0.0.1 "$P" --user bob --password pw --hold 3 >"$T/held2.out" &
H2=$!
sleep 0.5
out=$(talk turn 127.0.0.1 "$P" --user carol --password pw)
[ "$(echo "$out" | field error)" = 401 ] || fail "unknown user: $out"
ok R turn user add carol pw
wait_log "$T/turnd.log" "accounts=3"
out=$(talk turn 127.0.0.1 "$P" --user carol --password pw)
[ "$(echo "$out" | field error)" = 486 ] || fail "total quota: $out"
wait_exit "$H1"
wait_exit "$H2"
# The held allocations live on: wait until turnd has lifted the quotas.
n=$(grep -c "user-quota=0 total-quota=0" "$T/turnd.log" || true)
ok R set turnd.user-quota 0
ok R set turnd.total-quota 0
wait_count "$T/turnd.log" "user-quota=0 total-quota=0" $((n + 1))

# Malformed and odd datagrams: dropped with a reason, or answered.
COOKIE=2112a442
TID=000102030405060708090a0b
ok talk raw 127.0.0.1 "$P" 0001 "00010001${COOKIE}${TID}00" \
	"00010008${COOKIE}${TID}0006001041414141" "4000000441414141" ff00000000 \
	"01010000${COOKIE}${TID}"
out=$(talk ask udp 127.0.0.1 "$P" --attr 0031:00000000)
[ "$(echo "$out" | field error)" = 420 ] || fail "unknown attribute: $out"
[ "$(echo "$out" | field unknown)" = 0x0031 ] || fail "UNKNOWN-ATTRIBUTES: $out"
out=$(A --attr 0031:00000000)
[ "$(echo "$out" | field error)" = 420 ] || fail "unknown attribute in Allocate: $out"
out=$(A --refresh 0)
[ "$(echo "$out" | field allocate)" = success ] || fail "good client after garbage: $out"
# Each worker adds its counters on its own schedule: wait for all of them.
counters="dropped-truncated dropped-bad-length dropped-attr-truncated dropped-no-allocation
	dropped-not-stun dropped-not-request unknown-attributes insufficient-capacity quota-reached
	stale-nonces bindings"
for _ in $(seq 50); do
	status=$(R status)
	missing=
	for c in $counters; do
		grep -Eq "^  turnd +$c +[1-9][0-9]*$" <<<"$status" || missing+=" $c"
	done
	[ -z "$missing" ] && break
	sleep 0.2
done
[ -z "$missing" ] || fail "counters$missing: $status"
wait_log "$T/turnd.log" "dropped source=127.0.0.1:[0-9]+ reason=bad-length offset="
grep -Eq "turn +127.0.0.1 +truncated" <<<"$status" || fail "refused excerpt: $status"
kill -TERM "$PID_turnd"
wait_exit "$PID_turnd"
[ "$EXIT_STATUS" = 0 ] || fail "turnd exit $EXIT_STATUS"
echo "turnd_alloc: ok"
