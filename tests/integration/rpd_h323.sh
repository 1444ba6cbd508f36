#!/usr/bin/env bash
# rpd_h323 - H.323 and H.323/TLS through rpd.  No H.323 endpoint exists in
# Debian, so the frames come from tests/integration/peers/h323_frames.py
# (checked against the tshark-decoded vectors) and the PBXs are scripted
# backends that record every byte; tshark judges what rpd answers.
#
# Checked: GRQ, RRQ and Setup for several names (physical-location prefix,
# registration location, the standby form, url-ID and email-ID Setups)
# reach the right backend byte-identical over TCP and TLS, sent whole,
# split and coalesced, keep-alives included; the standby takes over when
# the primary cannot be connected; an unknown gatekeeper ID, a lightweight
# RRQ first and a Setup with no routable alias are refused the H.323 way
# (tshark decodes the refusals); a second RRQ for another domain never
# reaches the first backend; the check-cert rule with a trusted matching
# certificate, no certificate, an untrusted one, a mismatching CN and plain
# TCP; and a PBX's securityDenial counts as suspicious until the source is
# blacklisted.
# Peers: python3, certtool, tshark, text2pcap.
. "$(dirname "$0")/lib.sh"
need python3 certtool tshark text2pcap ss

F="$PBX_SRC/tests/integration/peers/h323_frames.py"
PEER="$PBX_SRC/tests/integration/peers/h323_peer.py"
TSHARK_FIELDS="$PBX_SRC/tests/vectors/h225/tshark_fields.py"
mkdir -p "$T/fr" "$T/rec" "$T/tshark"

# frame NAME ARGS...: build a frame with h323_frames.py into $T/fr/NAME.
frame() {
	local name=$1
	shift
	python3 "$F" "$@" --out "$T/fr/$name" || fail "h323_frames.py $*"
}

# backend NAME [ARGS...]: a recording PBX; sets PORT_NAME.
backend() {
	local name=$1
	shift
	start "$name" python3 "$PEER" backend --port-file "$T/$name.port" \
		--record "$T/rec/$name" "$@"
	for _ in $(seq 100); do [ -s "$T/$name.port" ] && break; sleep 0.05; done
	[ -s "$T/$name.port" ] || fail "backend $name did not start"
	eval "PORT_$name=$(cat "$T/$name.port")"
}

# conns NAME: how many connections backend NAME has had.
conns() { find "$T/rec" -name "$1.*" | wc -l; }

# send OUT ARGS... FRAME...: run the endpoint with frames of $T/fr, its
# reply into $T/OUT, the final
# connection state into STATE.
send() {
	local out=$1
	shift
	STATE=$(cd "$T/fr" && python3 "$PEER" send --out "$T/$out" "$@") || fail "send $*"
}

# arrived NAME N FRAME...: connection N of backend NAME carried exactly the
# frames, byte for byte (waits for them).
arrived() {
	local name=$1 n=$2
	shift 2
	local f want="$T/want.bin"
	: >"$want"
	for f in "$@"; do cat "$T/fr/$f" >>"$want"; done
	for _ in $(seq 50); do
		cmp -s "$want" "$T/rec/$name.$n" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "backend $name connection $n: got $(hex "$T/rec/$name.$n") want $(hex "$want")"
}

hex() { od -An -tx1 "$1" 2>/dev/null | tr -d ' \n' | head -c 200; }

# parsed FILE WANT: what h323_frames.py reads in FILE.
parsed() {
	local got
	got=$(python3 "$F" parse "$T/$1" | tr '\n' ';') || fail "unreadable reply in $1"
	[ "$got" = "$2" ] || fail "reply $1: '$got', want '$2'"
}

# tshark_says FILE WANT: tshark's reading of the reply in FILE (one frame).
tshark_says() {
	rm -f "$T/tshark"/*.bin
	cp "$T/$1" "$T/tshark/reply.bin"
	local got
	got=$(python3 "$TSHARK_FIELDS" "$T/tshark") || fail "tshark failed on $1"
	[ "$got" = "reply $2" ] || fail "tshark reads $1 as '$got', want 'reply $2'"
}

# The frames.
frame grq-a grq --seq 1 --gkid innovaphone.com --alias h323:alice
frame rrq-a rrq --seq 2 --gkid innovaphone.com --alias h323:alice --alias digits:200
frame lrrq-a lrrq --seq 3 --gkid innovaphone.com
frame lrrq-none lrrq --seq 4
frame ka keepalive
frame rrq-hq rrq --seq 5 --gkid Vienna@InnovaPhone.COM/HQ --alias h323:bob
frame grq-sb grq --seq 6 --gkid "Linz@innovaphone.com/hq:hq-standby" --alias h323:carol
frame rrq-evil rrq --seq 7 --gkid evil.example.com --alias h323:alice
frame grq-unknown grq --seq 8 --gkid nobody.example --alias h323:alice
frame setup-url setup --cref 300 --src h323:alice --dest digits:1234 \
	--dest url:h323:bob@Example.ORG:1720
frame setup-email setup --cref 301 --dest email:bob@example.org
frame setup-none setup --cref 302 --src h323:alice --dest h323:bob
frame rrq-phone rrq --seq 9 --gkid secure.example --alias h323:phone-1
frame rrq-alice-sec rrq --seq 10 --gkid secure.example --alias h323:alice
frame rrq-tlsonly rrq --seq 11 --gkid tlsonly.example --alias h323:phone-1
frame rrq-deny rrq --seq 12 --gkid deny.example --alias h323:mallory
cp "$PBX_SRC/tests/vectors/h225/rrj-security.bin" "$T/fr/rrj-security"

# Certificates: the test CA signs rpd's certificate and a client
# certificate with CN phone-1; a self-signed one with the same CN is
# untrusted.
make_certs "$T/pki" 127.0.0.1 localhost
certtool --generate-privkey --key-type ecdsa --outfile "$T/pki/rogue.key" 2>/dev/null
printf 'cn = "phone-1"\ntls_www_client\nsigning_key\nexpiration_days = 30\n' >"$T/pki/rogue.tmpl"
certtool --generate-self-signed --load-privkey "$T/pki/rogue.key" --template "$T/pki/rogue.tmpl" \
	--outfile "$T/pki/rogue.pem" 2>/dev/null

# The PBXs.
backend main
backend hq
backend sb
backend evil
backend calls
backend secplain
backend sectls --cert "$T/pki/server.pem" --key "$T/pki/server.key"
backend deny --answer "$T/fr/rrj-security"
dead=$(free_port)

ok R init >/dev/null
hp=$(free_port)
hsp=$(free_port)
ok R listen h323 "$hp" --addr 127.0.0.1
ok R listen h323s "$hsp" --addr 127.0.0.1
ok R set rpd.tls-cert "$T/pki/server.pem"
ok R set rpd.tls-key "$T/pki/server.key"
ok R set rpd.trust-ca "$T/pki/ca.pem"
ok R set rpd.suspicious-per-minute 1000
for n in innovaphone.com innovaphone.com/hq innovaphone.com/hq-standby evil.example.com \
	example.org secure.example tlsonly.example deny.example; do
	ok R name add "$n"
done
ok R target innovaphone.com h323 127.0.0.1 --plain "$PORT_main"
ok R target innovaphone.com/hq h323 127.0.0.1 --plain "$PORT_hq"
ok R target innovaphone.com/hq-standby h323 127.0.0.1 --plain "$PORT_sb"
ok R target evil.example.com h323 127.0.0.1 --plain "$PORT_evil"
ok R target example.org h323 127.0.0.1 --plain "$PORT_calls"
ok R target secure.example h323 127.0.0.1 --plain "$PORT_secplain" --tls "$PORT_sectls" --check-cert
ok R target tlsonly.example h323 127.0.0.1 --tls "$PORT_sectls" --check-cert
ok R target deny.example h323 127.0.0.1 --plain "$PORT_deny"
start rpd "$RPD" --foreground --workers 2 --log-level info
wait_log "$T/rpd.log" "ready workers=2"

# ---- routing by gatekeeper identifier, byte-identical ----
# Whole frames: GRQ, then a full RRQ, a lightweight RRQ and a keep-alive on
# the same registered connection.
send r1 --port "$hp" --mode whole grq-a rrq-a lrrq-a ka
[ "$STATE" = open ] || fail "registration connection closed"
arrived main 1 grq-a rrq-a lrrq-a ka
# Split into pieces of one and three octets.
send r2 --port "$hp" --mode split grq-a ka rrq-a
arrived main 2 grq-a ka rrq-a
# Coalesced: all in one write.
send r3 --port "$hp" --mode coalesced rrq-a ka lrrq-a
arrived main 3 rrq-a ka lrrq-a
wait_count "$T/rpd.log" "connection client=127.0.0.1:[0-9]+ service=h323 name=innovaphone.com family=h323 target=127.0.0.1:$PORT_main/plain port-rule=encryption-converted requests=[0-9]+ .*outcome=ok" 3
# A physical-location prefix and a registration location, in other case.
send r4 --port "$hp" --mode split rrq-hq
arrived hq 1 rrq-hq
# Over TLS, terminated at rpd, whole, split and coalesced.
send t1 --port "$hsp" --tls --ca "$T/pki/ca.pem" --mode whole grq-a rrq-a
arrived main 4 grq-a rrq-a
send t2 --port "$hsp" --tls --ca "$T/pki/ca.pem" --mode split rrq-hq ka
arrived hq 2 rrq-hq ka
send t3 --port "$hsp" --tls --ca "$T/pki/ca.pem" --mode coalesced grq-a ka rrq-a
arrived main 5 grq-a ka rrq-a
wait_log "$T/rpd.log" "service=h323s name=innovaphone.com/hq family=h323 target=127.0.0.1:$PORT_hq/plain"

# ---- the standby form ----
send s1 --port "$hp" grq-sb
arrived hq 3 grq-sb
[ "$(conns sb)" -eq 0 ] || fail "standby used while the primary is up"
reloads=$(grep -c "config-reloaded" "$T/rpd.log" || true)
ok R target innovaphone.com/hq h323 127.0.0.1 --plain "$dead"
wait_count "$T/rpd.log" "config-reloaded" $((reloads + 1))
send s2 --port "$hp" --mode split grq-sb ka
arrived sb 1 grq-sb ka
wait_log "$T/rpd.log" "standby-used client=127.0.0.1:[0-9]+ name=innovaphone.com/hq standby=innovaphone.com/hq-standby reason=target-failed"
reloads=$(grep -c "config-reloaded" "$T/rpd.log" || true)
ok R target innovaphone.com/hq h323 127.0.0.1 --plain "$PORT_hq"
wait_count "$T/rpd.log" "config-reloaded" $((reloads + 1))

# ---- calls without registration: Setup by destination alias ----
send c1 --port "$hp" --mode split setup-url
arrived calls 1 setup-url
send c2 --port "$hsp" --tls --ca "$T/pki/ca.pem" setup-email
arrived calls 2 setup-email

# ---- refusals the H.323 way, decoded by tshark ----
main_before=$(conns main)
send x1 --port "$hp" grq-unknown
[ "$STATE" = closed ] || fail "connection with an unknown gatekeeper ID left open"
parsed x1 "facility cref=0 ras=grj seq=8 reason=3;"
tshark_says x1 "q931=0x62 body=8 ras=2 seq=8 reason=3"
wait_log "$T/rpd.log" "refused client=127.0.0.1:[0-9]+ service=h323 name=nobody.example .*reason=unknown-name"
# A lightweight RRQ without identifier first: register in full.
send x2 --port "$hp" lrrq-none
parsed x2 "facility cref=0 ras=rrj seq=4 reason=12;"
tshark_says x2 "q931=0x62 body=8 ras=5 seq=4 reason=12"
# A Setup with no user@domain alias: RELEASE COMPLETE, no route.
send x3 --port "$hsp" --tls --ca "$T/pki/ca.pem" setup-none
[ "$STATE" = closed ] || fail "unroutable Setup left open"
parsed x3 "release-complete cref=302 flag=1 cause=3;"
tshark_says x3 "q931=0x5a body=5 cause=3"
[ "$(conns main)" -eq "$main_before" ] || fail "a refused first message reached a backend"

# ---- a second RRQ for another domain on the same connection ----
# The first RRQ is still unanswered (this backend never answers): rpd gives
# its answer up to 2 s to come back before the refusal of the second.
evil_before=$(conns evil)
send x4 --port "$hp" --wait 3 rrq-a rrq-evil ka
[ "$STATE" = closed ] || fail "connection left open after an RRQ for another domain"
parsed x4 "facility cref=0 ras=rrj seq=7 reason=6;"
tshark_says x4 "q931=0x62 body=8 ras=5 seq=7 reason=6"
n=$(conns main)
arrived main "$n" rrq-a
sleep 0.3
cmp -s "$T/fr/rrq-a" "$T/rec/main.$n" || fail "the other domain's RRQ reached the first backend"
[ "$(conns evil)" -eq "$evil_before" ] || fail "the other domain's backend was connected"
wait_log "$T/rpd.log" "refused client=127.0.0.1:[0-9]+ service=h323 name=innovaphone.com .*reason=other-service"

# ---- the check-cert rule ----
# Trusted certificate whose CN is the registered alias: the TLS port.
send k1 --port "$hsp" --tls --ca "$T/pki/ca.pem" --cert "$T/pki/client.pem" \
	--key "$T/pki/client.key" rrq-phone
arrived sectls 1 rrq-phone
wait_log "$T/rpd.log" "name=secure.example family=h323 target=127.0.0.1:$PORT_sectls/tls port-rule=check-cert:verified .*cert=verified"
# CN phone-1, alias alice: the plain port.
send k2 --port "$hsp" --tls --ca "$T/pki/ca.pem" --cert "$T/pki/client.pem" \
	--key "$T/pki/client.key" rrq-alice-sec
arrived secplain 1 rrq-alice-sec
wait_log "$T/rpd.log" "name=secure.example family=h323 target=127.0.0.1:$PORT_secplain/plain port-rule=check-cert:cn-mismatch"
# An untrusted certificate with the right CN: the plain port.
send k3 --port "$hsp" --tls --ca "$T/pki/ca.pem" --cert "$T/pki/rogue.pem" \
	--key "$T/pki/rogue.key" rrq-phone
arrived secplain 2 rrq-phone
wait_log "$T/rpd.log" "name=secure.example family=h323 target=127.0.0.1:$PORT_secplain/plain port-rule=check-cert:untrusted .*cert=unverified"
# No certificate over TLS: the plain port.
send k4 --port "$hsp" --tls --ca "$T/pki/ca.pem" rrq-phone
arrived secplain 3 rrq-phone
wait_log "$T/rpd.log" "port-rule=check-cert:no-certificate"
# Plain TCP: the plain port.
send k5 --port "$hp" rrq-phone
arrived secplain 4 rrq-phone
wait_log "$T/rpd.log" "service=h323 name=secure.example family=h323 target=127.0.0.1:$PORT_secplain/plain port-rule=check-cert:plain-tcp"
# No plain port: only a verified registration gets through.
send k6 --port "$hp" rrq-tlsonly
parsed k6 "facility cref=0 ras=rrj seq=11 reason=6;"
[ "$(conns sectls)" -eq 1 ] || fail "plain TCP registration reached the TLS-only target"
send k7 --port "$hsp" --tls --ca "$T/pki/ca.pem" --cert "$T/pki/client.pem" \
	--key "$T/pki/client.key" rrq-tlsonly
arrived sectls 2 rrq-tlsonly

# ---- the PBX's securityDenial is suspicious ----
# From 127.0.0.9: with a limit of 3 per minute, the fourth rejection
# blacklists the source for every daemon.
reloads=$(grep -c "config-reloaded" "$T/rpd.log" || true)
ok R set rpd.suspicious-per-minute 3
wait_count "$T/rpd.log" "config-reloaded" $((reloads + 1))
for i in 1 2 3 4; do
	send d$i --port "$hp" --source 127.0.0.9 --wait 0.5 rrq-deny
	parsed d$i "facility cref=0 ras=rrj seq=2 reason=11;"
done
wait_log "$T/rpd.log" "service-rejected client=127.0.0.9:[0-9]+ name=deny.example status=11"
wait_log "$T/rpd.log" "blacklisted source=127.0.0.9 count=4 .*reason=too-many-suspicious"
R blacklist list | grep -q "^127.0.0.9 " || fail "127.0.0.9 not in the blacklist"
before=$(conns deny)
send d5 --port "$hp" --source 127.0.0.9 --wait 0.5 rrq-deny
[ "$STATE" = closed ] || fail "blacklisted source served"
[ "$(conns deny)" -eq "$before" ] || fail "blacklisted source reached the PBX"

# ---- the reader agrees with tshark on every vector ----
python3 "$TSHARK_FIELDS" --check "$PBX_SRC/tests/vectors/h225" >/dev/null ||
	fail "tshark reads the H.225 vectors differently from tshark-expected.txt"

grep -q "ERROR\|AddressSanitizer\|runtime error" "$T/rpd.log" && fail "rpd logged an error"
# rpctl status shows the H.323 refusals and rejections.
R status >"$T/status.txt"
grep -Eq "^  rpd +refused-other-service +1$" "$T/status.txt" || fail "status: refused-other-service"
grep -Eq " 127\.0\.0\.9 +h323 +service-rejected deny\.example status 11$" "$T/status.txt" ||
	fail "status: no securityDenial event"
grep -Eq " h323 +127\.0\.0\.1 +unknown-name at byte 0$" "$T/status.txt" ||
	fail "status: no refused h323 message"
echo "rpd_h323: ok"
