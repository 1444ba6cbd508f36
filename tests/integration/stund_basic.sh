#!/usr/bin/env bash
# stund_basic - stund answers Binding over UDP (coturn's turnutils_stunclient),
# TCP and TLS (a scripted client: turnutils_stunclient speaks UDP only) with
# the right mapped address; a TLS certificate replaced on disk is served to
# new connections; CHANGE-REQUEST without an alternate gets 420
# (RFC 5780 6.1); unknown attributes 420 with UNKNOWN-ATTRIBUTES; a classic
# RFC 3489 client (stun, from stun-client) gets MAPPED-, SOURCE- and
# CHANGED-ADDRESS once an alternate is set by a live reload; malformed,
# truncated and oversized datagrams, a blacklisted source and a flood over
# the rate limit are dropped and counted by reason while a good client is
# still answered; a port turnd is configured to use is refused at start and
# at reload, naming both settings.
# Peers: coturn (turnutils_stunclient), stun-client (stun), certtool, python3.
. "$(dirname "$0")/lib.sh"
need turnutils_stunclient stun certtool python3 ss

talk() { python3 "$PBX_SRC/tests/integration/peers/stun_talk.py" "$@"; }
# field NAME: the value of NAME= in the key=value lines on stdin.
field() { sed -n "s/^$1=//p"; }
wait_stopped() {
	kill -TERM "$PID_stund"
	wait_exit "$PID_stund"
	[ "$EXIT_STATUS" = 0 ] || fail "stund exit $EXIT_STATUS"
}

ok R init >/dev/null
# A port pair with both ports free for UDP and TCP.
for _ in $(seq 20); do
	P=$(free_port)
	[ "$P" -lt 65000 ] || continue
	ss -Hlun "sport = :$P" | grep -q . || ss -Hlun "sport = :$((P + 1))" | grep -q . || \
		ss -Hltn "sport = :$((P + 1))" | grep -q . || break
done
TP=$(free_port)
make_certs "$T/pki" 127.0.0.1

# Off by default: stund runs, idle, and says so.
start stund "$STUND" --foreground
wait_log "$T/stund.log" "idle reason=not-configured"
wait_log "$T/stund.log" "ready workers="
wait_stopped

# A port turnd is configured to use is refused, naming both settings.
ok R set stund.primary "127.0.0.1:$P"
ok R set turnd.listen "0.0.0.0:3478,127.0.0.1:$P"
set +e
out=$("$STUND" --check 2>&1)
rc=$?
set -e
[ "$rc" = 1 ] || fail "--check accepted a turnd port: $out"
echo "$out" | grep -q "problem: stund.primary 127.0.0.1:$P is a port turnd is configured to use (turnd.listen 127.0.0.1:$P)" \
	|| fail "--check message: $out"
start stund "$STUND" --foreground
wait_exit "$PID_stund"
[ "$EXIT_STATUS" = 1 ] || fail "stund started on a turnd port"
grep -Eq "start-refused reason=invalid-config detail=\"stund.primary 127.0.0.1:$P .*turnd.listen" \
	"$T/stund.log" || fail "no start-refused line: $(cat "$T/stund.log")"
ok R unset turnd.listen

ok R set stund.tls-cert "$T/pki/server.pem"
ok R set stund.tls-key "$T/pki/server.key"
ok R set stund.tls-port "$TP"
ok R set stund.software "pbxedge test"
out=$("$STUND" --check) || fail "--check: $out"
echo "$out" | grep -Eq "A1:P1 +udp\+tcp +127.0.0.1:$P" || fail "--check listeners: $out"
echo "$out" | grep -Eq "tls +tcp +127.0.0.1:$TP" || fail "--check tls: $out"
start stund "$STUND" --foreground --workers 2
wait_log "$T/stund.log" "ready workers=2"
wait_log "$T/stund.log" "serving primary=127.0.0.1:$P alternate=none tls=127.0.0.1:$TP rfc5780=off"

# coturn's client over UDP: the reflexive address is where it sent from.
out=$(timeout 10 turnutils_stunclient -p "$P" -L 127.0.0.1 127.0.0.1 2>&1) || fail "stunclient: $out"
echo "$out" | grep -Eq "UDP reflexive addr: 127\.0\.0\.1:[0-9]+" || fail "stunclient: $out"
# The scripted client knows its own port: check it exactly, per transport.
for tr in udp tcp; do
	out=$(talk ask "$tr" 127.0.0.1 "$P" --bind 127.0.0.1 --fingerprint) || fail "$tr: $out"
	[ "$(echo "$out" | field class)" = success ] || fail "$tr: $out"
	[ "$(echo "$out" | field xor-mapped)" = "$(echo "$out" | field local)" ] || fail "$tr mapped: $out"
	[ "$(echo "$out" | field mapped)" = "$(echo "$out" | field local)" ] || fail "$tr mapped: $out"
	[ "$(echo "$out" | field origin)" = "127.0.0.1:$P" ] || fail "$tr origin: $out"
	[ "$(echo "$out" | field fingerprint)" = ok ] || fail "$tr fingerprint: $out"
	[ "$(echo "$out" | field software)" = pbxedge_test ] || fail "$tr software: $out"
	[ -z "$(echo "$out" | field other)" ] || fail "$tr: OTHER-ADDRESS without an alternate: $out"
done
out=$(talk ask tls 127.0.0.1 "$TP" --ca "$T/pki/ca.pem") || fail "tls: $out"
[ "$(echo "$out" | field xor-mapped)" = "$(echo "$out" | field local)" ] || fail "tls mapped: $out"
[ "$(echo "$out" | field origin)" = "127.0.0.1:$TP" ] || fail "tls origin: $out"
# A certificate and key replaced on disk are served to new connections
# within a few seconds, without a store change.
make_certs "$T/pki2" 127.0.0.1
cp "$T/pki2/server.key" "$T/key.new"
cp "$T/pki2/server.pem" "$T/cert.new"
mv "$T/key.new" "$T/pki/server.key"
mv "$T/cert.new" "$T/pki/server.pem"
wait_count "$T/stund.log" "tls-credentials-loaded cert=$T/pki/server.pem" 2 10
for _ in $(seq 50); do
	talk ask tls 127.0.0.1 "$TP" --ca "$T/pki2/ca.pem" >/dev/null 2>&1 && break
	sleep 0.2
done
out=$(talk ask tls 127.0.0.1 "$TP" --ca "$T/pki2/ca.pem") || fail "tls, replaced certificate: $out"
talk ask tls 127.0.0.1 "$TP" --ca "$T/pki/ca.pem" >/dev/null 2>&1 \
	&& fail "the old certificate is still served to new connections"

# Without an alternate a CHANGE-REQUEST is answered 420 naming it (RFC 5780
# 6.1); an unknown comprehension-required attribute 420 naming it.
out=$(talk ask udp 127.0.0.1 "$P" --change ip) || fail "change: $out"
[ "$(echo "$out" | field error)" = 420 ] && [ "$(echo "$out" | field unknown)" = 0x0003 ] \
	|| fail "CHANGE-REQUEST without alternate: $out"
out=$(talk ask udp 127.0.0.1 "$P" --attr 7777:0011) || fail "unknown: $out"
[ "$(echo "$out" | field error)" = 420 ] && [ "$(echo "$out" | field unknown)" = 0x7777 ] \
	|| fail "unknown attribute: $out"
# RESPONSE-PORT with PADDING is refused (RFC 5780 6.1); a large PADDING to a
# small request is cut to the amplification bound (4 times the request).
out=$(talk ask udp 127.0.0.1 "$P" --response-port 40123 --padding 4) || fail "rp: $out"
[ "$(echo "$out" | field error)" = 400 ] || fail "RESPONSE-PORT with PADDING: $out"
out=$(talk ask udp 127.0.0.1 "$P" --padding 0) || fail "padding: $out"
[ "$(echo "$out" | field len)" -le 96 ] || fail "answer of $(echo "$out" | field len) bytes to 24: $out"
out=$(talk ask udp 127.0.0.1 "$P" --padding 1500) || fail "padding: $out"
[ "$(echo "$out" | field padding)" = 1500 ] || fail "padding asked by a large request: $out"

# Bad datagrams from 127.0.0.3: each dropped with its reason.
tid=000102030405060708090a0b
talk raw 127.0.0.1 "$P" --bind 127.0.0.3 \
	"0001000c2112a442$tid" \
	"80010000ffffffff$tid" \
	"000100022112a442${tid}0000" \
	"000100082112a442${tid}8028000400000000" \
	"000100002112a442${tid}00000000" \
	"010100002112a442$tid" \
	"0001000c2112a442$tid$(printf '00%.0s' $(seq 2990))"
for r in truncated not-stun bad-length bad-fingerprint trailing not-request oversized; do
	wait_log "$T/stund.log" "dropped source=127\.0\.0\.3:[0-9]+ reason=$r "
done
out=$(talk ask udp 127.0.0.1 "$P") || fail "good client after bad datagrams: $out"
[ "$(echo "$out" | field class)" = success ] || fail "good client: $out"

# A blacklisted source is dropped (UDP and TCP), others are not.
ok R blacklist add 127.0.0.4 --reason test
wait_log "$T/stund.log" "config-reloaded generation=.* blacklist=1"
out=$(talk ask udp 127.0.0.1 "$P" --bind 127.0.0.4 --timeout 1) && fail "blacklisted answered: $out"
[ "$out" = timeout ] || fail "blacklisted: $out"
out=$(talk ask tcp 127.0.0.1 "$P" --bind 127.0.0.4 --timeout 1) && fail "blacklisted answered over TCP: $out"
wait_log "$T/stund.log" "dropped source=127\.0\.0\.4:[0-9]+ reason=blacklisted"

# A flood over the rate limit (50/s, burst 100) is cut; others still pass.
out=$(talk flood 127.0.0.1 "$P" 2000 --bind 127.0.0.5)
answered=$(echo "$out" | sed -n 's/.*answered=//p')
[ "$answered" -ge 90 ] && [ "$answered" -le 300 ] || fail "flood: $out"
wait_log "$T/stund.log" "dropped source=127\.0\.0\.5:[0-9]+ reason=rate-limited"
out=$(talk ask udp 127.0.0.1 "$P") || fail "good client during the flood's limit: $out"

# A live reload adds the alternate: the classic client gets MAPPED-,
# SOURCE- and CHANGED-ADDRESS.
ok R set stund.alternate 127.0.0.2
wait_log "$T/stund.log" "serving primary=127.0.0.1:$P alternate=127.0.0.2:$((P + 1)) tls=127.0.0.1:$TP rfc5780=on"
out=$(timeout 20 stun "127.0.0.1:$P" -v 2>&1) || true
echo "$out" | grep -Eq "^MappedAddress = 127\.0\.0\.1:[0-9]+" || fail "stun: $out"
echo "$out" | grep -q "^SourceAddress = 127.0.0.1:$P" || fail "stun: $out"
echo "$out" | grep -q "^ChangedAddress = 127.0.0.2:$((P + 1))" || fail "stun: $out"
out=$(talk ask udp 127.0.0.1 "$P" --classic) || fail "classic: $out"
[ -z "$(echo "$out" | field xor-mapped)" ] || fail "XOR attribute to a classic client: $out"

# A reload onto a turnd port is refused; the previous listeners stay.
ok R set turnd.tls-listen "127.0.0.2:$((P + 1))"
wait_log "$T/stund.log" "config-refused reason=invalid-config detail=\"stund.alternate 127.0.0.2:$((P + 1)) is a port turnd is configured to use \(turnd.tls-listen 127.0.0.2:$((P + 1))\).* \(keeping the previous listeners\)"
out=$(talk ask udp 127.0.0.1 "$P" --change both) || fail "after a refused reload: $out"
[ "$(echo "$out" | field from)" = "127.0.0.2:$((P + 1))" ] || fail "CHANGE-REQUEST both: $out"
ok R unset turnd.tls-listen

wait_stopped
status=$(R status)
for c in answered-udp answered-tcp answered-tls errors-sent dropped-truncated dropped-not-stun \
	dropped-bad-length dropped-bad-fingerprint dropped-trailing dropped-not-request \
	dropped-oversized dropped-blacklisted dropped-rate-limited answers-trimmed; do
	echo "$status" | grep -Eq "^  stund +$c +[1-9][0-9]*$" || fail "counter $c: $status"
done
echo "$status" | grep -Eq "stun +127\.0\.0\.3 +oversized at byte 0" || fail "refused excerpt: $status"
echo "stund_basic: ok"
