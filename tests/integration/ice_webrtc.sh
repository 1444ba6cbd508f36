#!/usr/bin/env bash
# ice_webrtc - rpctl against libwebrtc (@roamhq/wrtc: Chrome's ICE code in
# node), through coturn on loopback.
#  1. libwebrtc makes a relay-only offer with a data channel, as a browser
#     does; rpctl ice-test peer --controlled --no-data takes the offer's
#     whole SDP body (its SDP path: the default address is one of the
#     candidates, no warning) and its block goes back as a minimal SDP
#     answer (ice/wrtc_offer.js: dummy fingerprint, a=setup:active, so
#     DTLS never starts).  libwebrtc's getStats transport iceState becomes
#     connected with a nominated relay -> relay pair, rpctl concludes
#     SUCCESS (a consent check on the selected, nominated pair answered,
#     no data), exit 0, and both name the same two relayed addresses.
#  2. A wrong TURN password: rpctl ice-test servers is FAILED turn-auth
#     within a second with 401 in its servers table and --json, and
#     libwebrtc's icecandidateerror on the same server says 401 too.
# Peers: libwebrtc (@roamhq/wrtc 0.10.0, npm ci in ice/), node, coturn,
# python3.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ice/lib.sh"
need turnserver python3 ss
ice_need_wrtc

P=$(free_udp)
ice_coturn coturn "" 127.0.0.1 "$P" "user=alice:secret
user=wrtc:secret
allow-loopback-peers"
mkdir "$T/empty"
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# ---- 1. libwebrtc offers, rpctl answers ----
t0=$(date +%s%N)
set +e
$WRTC_OFFER --turn "127.0.0.1:$P" --user wrtc --pass secret --relay-only --timeout 20 -- \
	env -u PBXEDGE_DB HOME="$T/empty" PBXEDGE_TURN_PASSWORD=secret "$RPCTL" ice-test peer \
	--controlled --no-data --turn "turn:127.0.0.1:$P" --user alice --policy relay \
	--timeout 15 >"$T/offer.log" 2>&1
rc=$?
set -e
echo "libwebrtc offer, rpctl answer: $(ms_since "$t0") ms, exit $rc"
[ "$rc" = 0 ] || fail "libwebrtc did not connect (exit $rc): $(cat "$T/offer.log")"
L=$(sed -n 's/^L iceState connected; selected relay \([^ ]*\) -> relay \([^ ]*\) nominated true after .*/\1 \2/p' \
	"$T/offer.log")
[ -n "$L" ] || fail "libwebrtc: no connected relay -> relay nominated pair: $(cat "$T/offer.log")"
grep -q "^L answerer exited 0$" "$T/offer.log" || fail "rpctl did not exit 0: $(cat "$T/offer.log")"
grep -q "^R | ICE: Conclusion SUCCESS (ok: a nominated pair was selected and the peer answered a consent check" \
	"$T/offer.log" || fail "rpctl: no SUCCESS on consent: $(cat "$T/offer.log")"
R=$(sed -n 's/^R | ICE: Selected relay \([^ ]*\) -> relay \([^ ]*\)$/\2 \1/p' "$T/offer.log")
[ "$L" = "$R" ] || fail "libwebrtc selected '$L', rpctl the other way round '$R'"
grep -q "^R | ICE: Warning" "$T/offer.log" &&
	fail "rpctl warns about libwebrtc's SDP: $(cat "$T/offer.log")"
# The answer carried rpctl's block; the offer's candidates were libwebrtc's
# relayed ones only.
grep -q "^L answer: a=candidate:.* typ relay" "$T/offer.log" || fail "no relayed candidate in the answer"
grep "^L offer: a=candidate:" "$T/offer.log" | grep -qv " typ relay " &&
	fail "libwebrtc offered a candidate that is not relayed: $(grep "^L offer: a=cand" "$T/offer.log")"
# rpctl's allocation was released.
wait_count "$T/coturn.log" "username=<alice>, lifetime=0" 1

# ---- 2. a wrong TURN password, both tools on one server ----
printf 'zq9-badpass\n' >"$T/bad.pw"
t0=$(date +%s%N)
set +e
env -u PBXEDGE_DB HOME="$T/empty" timeout 10 "$RPCTL" ice-test servers --family 4 \
	--turn "turn:127.0.0.1:$P" --user wrtc --password-file "$T/bad.pw" >"$T/auth.out" 2>&1
rc=$?
set -e
ms=$(ms_since "$t0")
echo "rpctl, wrong password: $ms ms, exit $rc"
[ "$rc" = 1 ] || fail "wrong password: exit $rc: $(cat "$T/auth.out")"
[ "$ms" -lt 1000 ] || fail "wrong password took $ms ms"
grep -q "^ICE: Conclusion FAILED (turn-auth: " "$T/auth.out" ||
	fail "wrong password: not turn-auth: $(cat "$T/auth.out")"
grep -Eq "^turn:127\.0\.0\.1:$P\?transport=udp +127\.0\.0\.1:$P +ipv4 +error +[0-9]+ +- +- +401 Unauthorized$" \
	"$T/auth.out" || fail "wrong password: no 401 row: $(cat "$T/auth.out")"
env -u PBXEDGE_DB HOME="$T/empty" timeout 10 "$RPCTL" --json ice-test servers --family 4 \
	--turn "turn:127.0.0.1:$P" --user wrtc --password-file "$T/bad.pw" >"$T/auth.json" || true
ours=$(python3 - "$T/auth.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert (d["conclusion"]["result"], d["conclusion"]["code"]) == ("FAILED", "turn-auth"), d["conclusion"]
s, = d["servers"]
assert s["reason_code"] == "turn-auth", s
print(s["error_code"])
PY
) || fail "wrong password: bad --json: $(cat "$T/auth.json")"

t0=$(date +%s%N)
set +e
$WRTC_GATHER "turn:127.0.0.1:$P?transport=udp" wrtc zq9-badpass relay 10 >"$T/gather.log" 2>&1
rc=$?
set -e
echo "libwebrtc, wrong password: $(ms_since "$t0") ms, exit $rc"
[ "$rc" = 0 ] || fail "libwebrtc's gathering did not end: $(cat "$T/gather.log")"
theirs=$(sed -n "s/^[0-9]*ms error url=turn:127\.0\.0\.1:$P?transport=udp code=\([0-9]*\) text=.*/\1/p" \
	"$T/gather.log" | sort -u)
[ "$theirs" = 401 ] || fail "libwebrtc's icecandidateerror: '$theirs': $(cat "$T/gather.log")"
grep -q "typ relay" "$T/gather.log" && fail "libwebrtc relayed with a wrong password"
[ "$ours" = "$theirs" ] || fail "rpctl says $ours, libwebrtc $theirs"
echo "ice_webrtc: ok"
