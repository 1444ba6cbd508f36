#!/usr/bin/env bash
# ice_coturn_relay - two independent ICE agents, libnice and werift-ice,
# reach each other relay-only through coturn on loopback: over TURN/UDP and
# TURN/TCP with each in the controlling role, and werift with werift over
# TURN/TLS with a test CA.  Every pair selects relay -> relay, the hello and
# its echo cross, coturn's log shows the allocations, channel bindings and
# data both ways, and libnice releases each allocation (Refresh with
# lifetime 0; werift-ice 0.2.3 never does).  A peer whose other side goes
# away early (the relay closes its stdin) concludes ABORTED, exit 4, long
# before its timeout.
# Peers: libnice (nice_peer), werift-ice, coturn, certtool, python3.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ice/lib.sh"
need turnserver certtool python3 ss
ice_need_nice
ice_need_werift

P=$(free_udp)
TLS=$(free_port)
make_certs "$T/pki" turn.test 127.0.0.1
ice_coturn coturn "" 127.0.0.1 "$P" "tls-listening-port=$TLS
cert=$T/pki/server.pem
pkey=$T/pki/server.key
allow-loopback-peers"
wait_listening "$TLS"

tn() { echo "--turn 127.0.0.1:$P --user nice --pass secret --relay-only --timeout 15 $*"; }
tw() { echo "--turn 127.0.0.1:$P --user werift --pass secret --relay-only --timeout 15 $*"; }
# The pairs share nothing but coturn: run them side by side.
ice_pair udp-nw 20 "$NICE --controlling --tag A $(tn)" "$WERIFT --tag B $(tw)"
ice_pair udp-wn 20 "$WERIFT --controlling --tag A $(tw)" "$NICE --tag B $(tn)"
ice_pair tcp-nw 20 "$NICE --controlling --tag A $(tn --turn-tcp)" "$WERIFT --tag B $(tw --turn-tcp)"
ice_pair tcp-wn 20 "$WERIFT --controlling --tag A $(tw --turn-tcp)" "$NICE --tag B $(tn --turn-tcp)"
tls="--turn 127.0.0.1:$TLS --user werift --pass secret --relay-only --timeout 15 --turn-tls --ca $T/pki/ca.pem --sni turn.test"
ice_pair tls-ww 20 "$WERIFT --controlling --tag A $tls" "$WERIFT --tag B $tls"
# Gone before its block ended, and gone after a block whose candidate
# never answers (port 9 on loopback: nothing listens).
gone="sh -c 'echo a=ice-ufrag:gone; exit 5'"
after="sh -c 'echo a=ice-ufrag:gone; echo a=ice-pwd:gonegonegonegonegonegone; \
echo a=candidate:1 1 UDP 2130706431 127.0.0.1 9 typ host; echo a=end-of-candidates; exit 5'"
ice_pair gone-n 20 "$gone" "$NICE --tag B $(tn)"
ice_pair gone-w 20 "$gone" "$WERIFT --tag B $(tw)"
ice_pair after-n 20 "$after" "$NICE --tag B $(tn)"
ice_pair after-w 20 "$after" "$WERIFT --tag B $(tw)"
for p in gone-n gone-w after-n after-w; do
	ice_expect "$p" 5 4
	grep -q "^B Conclusion ABORTED" "$T/$p.log" || fail "$p: not aborted: $(cat "$T/$p.log")"
done
for p in udp-nw udp-wn tcp-nw tcp-wn tls-ww; do
	ice_expect "$p" 0 0
	ice_expect_selected "$p" A "relay->relay"
	ice_expect_selected "$p" B "relay->relay"
	grep -q "^A Conclusion SUCCESS" "$T/$p.log" || fail "$p: no success: $(cat "$T/$p.log")"
	grep -q "^B echoed" "$T/$p.log" || fail "$p: no echo"
done

# coturn's view: 4 libnice allocations (2 over TCP) and 6 of werift (2
# over TLS), each with a channel, and two each for the aborted pairs.
C="$T/coturn.log"
wait_count "$C" "user <nice>: incoming packet ALLOCATE processed, success" 6
wait_count "$C" "user <werift>: incoming packet ALLOCATE processed, success" 8
wait_count "$C" "user <nice>: incoming packet CHANNEL_BIND processed, success" 4
wait_count "$C" "user <werift>: incoming packet CHANNEL_BIND processed, success" 6
# The TLS pair's two sessions were TLS (coturn names the cipher).
wait_count "$C" "new, realm=<pbxedge.test>, username=<werift>, lifetime=[0-9]+, cipher=[A-Z0-9-]+, method=TLSv1\\.[23]" 2
# libnice releases its allocations; each had data both ways.
wait_count "$C" "refreshed, realm=<pbxedge.test>, username=<nice>, lifetime=0" 6
wait_count "$C" "peer usage: realm=<pbxedge.test>, username=<nice>, rp=[1-9][0-9]*, rb=[0-9]+, sp=[1-9]" 4
! grep -q "username=<werift>, lifetime=0" "$C" || fail "werift-ice released an allocation: update the test"
echo "ice_coturn_relay: ok"
