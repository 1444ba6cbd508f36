#!/usr/bin/env bash
# ice_peer - rpctl ice-test peer, our ICE agent, against independent agents
# through coturn on loopback, over the line protocol of ice/pair.py:
# relay-only over TURN/UDP and TURN/TCP against libnice and werift-ice,
# over TURN/TLS (a test CA) against werift-ice, host-only against libnice,
# each in both roles, against itself, and
# against libnice with its block handed over as a whole SDP body whose
# default address was rewritten (reported).  Both sides exit 0, rpctl
# selects relay -> relay (host -> host for the host row), the hello and its
# echo cross, and coturn logs one release (Refresh lifetime=0) for every
# allocation rpctl made.  A peer whose only candidate is a closed port,
# and that leaves 9 s later, leaves rpctl ABORTED peer-closed (exit 2):
# its checks failed at 7 s, but it was still waiting for the peer's (RFC
# 8863, which --verbose tells); the ICMP errors are on the pair's row and
# in the hint's evidence.
# The same peer staying on: FAILED no-response (exit 1) once that wait
# (the PAC timer) expires, within the default --timeout.
# A peer that goes away before its block ends leaves it ABORTED peer-closed
# (exit 2), and SIGINT during the checks ABORTED interrupted (exit 2), each
# with its allocation released; --json follows the block on stdout.  A
# closed TURN port gives no candidate: FAILED, with the gathering's reason.
# IPv6-only candidates against --family 4 give FAILED no-pairs; an SDP body
# whose c= address is none of its candidates, none answering, FAILED
# mangled after the same wait.
# Peers: libnice (nice_peer), werift-ice, coturn, certtool, python3.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ice/lib.sh"
need turnserver python3 ss certtool
ice_need_nice
ice_need_werift

P=$(free_udp)
TLS=$(free_port)
make_certs "$T/pki" turn.test 127.0.0.1
ice_coturn coturn "" 127.0.0.1 "$P" "user=alice:secret
tls-listening-port=$TLS
cert=$T/pki/server.pem
pkey=$T/pki/server.key
allow-loopback-peers"
wait_listening "$TLS"

# rpctl's side: the block on stdout for pair.py, the report into $T/NAME.rp.
cat >"$T/rp.sh" <<SH
#!/bin/sh
r=\$1
shift
exec 3>&1
PBXEDGE_TURN_PASSWORD=secret exec env -u PBXEDGE_DB HOME="$T/empty" \
	"$RPCTL" ice-test peer --out /dev/fd/3 "\$@" >"\$r" 2>&1
SH
chmod +x "$T/rp.sh"
# ... and with a store, which keeps the result for rpctl status.
sed "s|env -u PBXEDGE_DB|env PBXEDGE_DB=$T/store.db|" "$T/rp.sh" >"$T/rps.sh"
chmod +x "$T/rps.sh"
PBXEDGE_DB="$T/store.db" ok "$RPCTL" init >/dev/null
rp() { local name=$1; shift; echo "$T/rp.sh $T/$name.rp --timeout 15 $*"; }
turn="--turn turn:127.0.0.1:$P --user alice --policy relay"
tn="--turn 127.0.0.1:$P --user nice --pass secret --relay-only --timeout 15"
tw="--turn 127.0.0.1:$P --user werift --pass secret --relay-only --timeout 15"

# An SDP body (from a file) whose c= address is none of its candidates,
# and whose only candidate does not answer: after the RFC 8863 wait for
# the peer's checks, FAILED mangled (the rewriting is what to fix first),
# not a bare no-response.  In the background: it takes 40 s.
printf 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=ice-ufrag:mang\r\na=ice-pwd:mangmangmangmangmangmang\r\na=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\na=end-of-candidates\r\n' >"$T/m.sdp"
(
	rc=0
	env -u PBXEDGE_DB HOME="$T/empty" timeout 55 "$RPCTL" ice-test peer --family 4 \
		--local 127.0.0.1 --policy host --in "$T/m.sdp" --out /dev/null >"$T/m.out" 2>&1 ||
		rc=$?
	echo "$rc" >"$T/m.rc"
) &
MANGLED=$!

ice_pair udp-rn 20 "$(rp udp-rn --controlling $turn)" "$NICE --tag B $tn"
ice_pair udp-wr 20 "$WERIFT --controlling --tag A $tw" "$(rp udp-wr --controlled $turn)"
ice_pair tcp-rn 20 "$(rp tcp-rn --controlling --turn turn:127.0.0.1:$P?transport=tcp \
	--user alice --policy relay)" "$NICE --tag B $tn"
ice_pair tls-rw 20 "$(rp tls-rw --turn turns:127.0.0.1:$TLS --ca $T/pki/ca.pem --sni turn.test \
	--user alice --policy relay)" "$WERIFT --tag B ${tw/--turn 127.0.0.1:$P/--turn 127.0.0.1:$TLS} \
	--turn-tls --ca $T/pki/ca.pem --sni turn.test"
ice_pair udp-rr 20 "$(rp udp-rr-a $turn)" "$(rp udp-rr-b --controlled $turn)"
ice_pair host-rn 20 "$(rp host-rn --policy host --local 127.0.0.1 | sed 's/rp\.sh/rps.sh/')" \
	"$NICE --tag B --local 127.0.0.1 --timeout 15"
# The peer's block wrapped into a whole SDP body whose c=/m= default
# address is none of its candidates (as an ALG would leave it).
cat >"$T/sdp.py" <<'PY'
import sys
lines = []
for line in sys.stdin:
    lines.append(line.rstrip("\r\n"))
    if line.startswith("a=end-of-candidates"):
        break
head = ["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.1", "t=0 0",
        "m=audio 4000 RTP/AVP 0"]
sys.stdout.write("".join(l + "\r\n" for l in head + lines))
PY
ice_pair sdp-rn 20 "sh -c 'python3 $T/sdp.py | $(rp sdp-rn $turn)'" "$NICE --tag B $tn"
gone="sh -c 'echo a=ice-ufrag:gone; sleep 1; exit 5'"
ice_pair gone-r 20 "$gone" "$(rp gone-r --controlled $turn)"

# A peer whose only candidate is a closed port: the checks draw ICMP port
# unreachable and fail after 7 s; the peer leaves at 9 s, while rpctl
# still waits for a check from it (RFC 8863).
dead="sh -c 'echo a=ice-ufrag:dead; echo a=ice-pwd:deaddeaddeaddeaddeaddead; \
echo a=candidate:1 1 UDP 2130706431 127.0.0.1 9 typ host; echo a=end-of-candidates; sleep 9'"
ice_pair dead-r 20 "$dead" "$(rp dead-r --controlled --policy host --local 127.0.0.1 --verbose)"
# The same peer staying on (until rpctl leaves), rpctl with its default
# --timeout: it waits the 39.5 s of RFC 8863 for a check from the peer,
# then concludes FAILED.
stay=${dead/sleep 9/cat >/dev/null}
ice_pair wait-r 55 "$stay" "$T/rp.sh $T/wait-r.rp --controlled --policy host --local 127.0.0.1"

report() { cat "$T/$1.rp" "$T/${1%-[ab]}.log" 2>/dev/null; }
for p in udp-rn udp-wr tcp-rn tls-rw host-rn sdp-rn udp-rr; do
	ice_expect "$p" 0 0
done
for p in udp-rn udp-wr tcp-rn tls-rw host-rn sdp-rn udp-rr-a udp-rr-b; do
	grep -q "^ICE: Conclusion SUCCESS" "$T/$p.rp" || fail "$p: no success: $(report "$p")"
done
grep -q "^ICE: Warning: the SDP's default address" "$T/sdp-rn.rp" ||
	fail "sdp-rn: the mangled default address is not reported: $(report sdp-rn)"
for p in udp-rn udp-wr tcp-rn tls-rw sdp-rn udp-rr-a udp-rr-b; do
	grep -Eq "^ICE: Selected relay [^ ]+ -> relay " "$T/$p.rp" ||
		fail "$p: rpctl did not select relay -> relay: $(report "$p")"
done
grep -Eq "^ICE: Selected host 127\.0\.0\.1:[0-9]+ -> host 127\.0\.0\.1:" "$T/host-rn.rp" ||
	fail "host-rn: rpctl did not select host -> host: $(report host-rn)"
PBXEDGE_DB="$T/store.db" "$RPCTL" status | grep -Eq "^ice-test +peer +SUCCESS \(ok: .*\) at \
[0-9T:-]+Z, [0-9]+ pairs, selected host 127\.0\.0\.1:[0-9]+ -> host 127\.0\.0\.1:[0-9]+$" ||
	fail "host-rn: not in rpctl status: $(PBXEDGE_DB="$T/store.db" "$RPCTL" status)"
# The echo: libnice echoed rpctl's hello; werift got its hello back.
for p in udp-rn tcp-rn host-rn sdp-rn; do
	grep -q "^B echoed" "$T/$p.log" || fail "$p: libnice echoed nothing: $(report "$p")"
done
grep -q "^A received: hello over ICE" "$T/udp-wr.log" ||
	fail "udp-wr: werift got no echo: $(report udp-wr)"
grep -q "^B received: hello over ICE" "$T/tls-rw.log" ||
	fail "tls-rw: werift got no hello: $(report tls-rw)"
ice_expect_selected udp-wr A "relay->relay"
ice_expect gone-r 5 2
grep -q "^ICE: Conclusion ABORTED (peer-closed: " "$T/gone-r.rp" ||
	fail "gone-r: not aborted: $(report gone-r)"

ice_expect dead-r 0 2
grep -q "^ICE: Conclusion ABORTED (peer-closed: .*no check from it had arrived" "$T/dead-r.rp" ||
	fail "dead-r: not aborted peer-closed: $(report dead-r)"
grep -q "^ICE: Hint: .*evidence so far: no-response (.*ICMP errors came back" "$T/dead-r.rp" ||
	fail "dead-r: no-response and the ICMP errors not in the hint: $(report dead-r)"
grep -Eq "^ +[0-9]+ ms  every pair failed: waiting until [0-9]+ ms for a check from the peer \(RFC 8863\)$" \
	"$T/dead-r.rp" || fail "dead-r: --verbose did not tell of the wait: $(report dead-r)"
grep -Eq "^1 +host 127\.0\.0\.1:[0-9]+ +host 127\.0\.0\.1:9 +failed .* ICMP *$" "$T/dead-r.rp" ||
	fail "dead-r: no ICMP error on the pair: $(report dead-r)"

# The other role of each row, in a second wave (the machine runs them
# side by side): rpctl controlled against libnice and werift controlling
# over TURN/UDP, TURN/TCP, TURN/TLS and host-only; rpctl controlling
# against werift controlled over TURN/UDP and TURN/TCP.
tcp="--turn turn:127.0.0.1:$P?transport=tcp --user alice --policy relay"
tls="--turn turns:127.0.0.1:$TLS --ca $T/pki/ca.pem --sni turn.test --user alice --policy relay"
wtls="${tw/--turn 127.0.0.1:$P/--turn 127.0.0.1:$TLS} --turn-tls --ca $T/pki/ca.pem --sni turn.test"
ice_pair udp-nr 20 "$NICE --controlling --tag A $tn" "$(rp udp-nr --controlled $turn)"
ice_pair udp-rw 20 "$(rp udp-rw $turn)" "$WERIFT --tag B $tw"
ice_pair tcp-nr 20 "$NICE --controlling --tag A $tn --turn-tcp" "$(rp tcp-nr --controlled $tcp)"
ice_pair tcp-rw 20 "$(rp tcp-rw $tcp)" "$WERIFT --tag B $tw --turn-tcp"
ice_pair tcp-wr 20 "$WERIFT --controlling --tag A $tw --turn-tcp" "$(rp tcp-wr --controlled $tcp)"
ice_pair tls-wr 20 "$WERIFT --controlling --tag A $wtls" "$(rp tls-wr --controlled $tls)"
ice_pair host-nr 20 "$NICE --controlling --tag A --local 127.0.0.1 --timeout 15" \
	"$(rp host-nr --controlled --policy host --local 127.0.0.1)"
# A peer that completes ICE but never echoes (rpctl --no-data, which ends
# on an answered consent check instead, after about 5 s): the controlling
# rpctl has its pair and no proof when the peer leaves, ABORTED
# peer-closed, saying so.
ice_pair noecho 20 "$(rp noecho-a --policy host --local 127.0.0.1)" \
	"$(rp noecho-b --controlled --no-data --policy host --local 127.0.0.1)"
# libnice's checks reach rpctl before libnice's block does (held back
# 1.5 s): with --verbose rpctl says so, as a transient event, not final.
ice_pair early-nr 20 "$NICE --controlling --tag A --local 127.0.0.1 --timeout 15" \
	"sh -c '(sleep 1.5; cat) | $(rp early-nr --controlled --policy host --local 127.0.0.1 --verbose)'"
for p in udp-nr udp-rw tcp-nr tcp-rw tcp-wr tls-wr host-nr; do
	ice_expect "$p" 0 0
	grep -q "^ICE: Conclusion SUCCESS" "$T/$p.rp" || fail "$p: no success: $(report "$p")"
done
for p in udp-nr udp-rw tcp-nr tcp-rw tcp-wr tls-wr; do
	grep -Eq "^ICE: Selected relay [^ ]+ -> relay " "$T/$p.rp" ||
		fail "$p: rpctl did not select relay -> relay: $(report "$p")"
done
grep -Eq "^ICE: Selected host 127\.0\.0\.1:[0-9]+ -> host 127\.0\.0\.1:" "$T/host-nr.rp" ||
	fail "host-nr: rpctl did not select host -> host: $(report host-nr)"
ice_expect noecho 2 0
grep -Eq "^ICE: Conclusion ABORTED \(peer-closed: selected host 127\.0\.0\.1:[0-9]+ -> host .*, but the peer closed its side before the hello's echo came back\)$" \
	"$T/noecho-a.rp" || fail "noecho: $(report noecho-a)"
grep -q "^ICE: Conclusion SUCCESS (ok: a nominated pair was selected and the peer answered a consent check" \
	"$T/noecho-b.rp" || fail "noecho: $(report noecho-b)"
ice_expect early-nr 0 0
grep -q "^ICE: Conclusion SUCCESS" "$T/early-nr.rp" || fail "early-nr: no success: $(report early-nr)"
grep -Eq "^ +[0-9]+ ms  a check from 127\.0\.0\.1:[0-9]+ before the peer's credentials are known: kept, answered once they are \(transient, not final\)$" \
	"$T/early-nr.rp" || fail "early-nr: no transient early check: $(report early-nr)"
# The echo: rpctl's hello came back to libnice and werift (controlling),
# libnice and werift (controlled) got rpctl's hello.
for p in udp-nr tcp-nr host-nr; do
	grep -q "^A received: hello over ICE" "$T/$p.log" || fail "$p: libnice got no echo: $(report "$p")"
done
for p in tcp-wr tls-wr; do
	grep -q "^A received: hello over ICE" "$T/$p.log" || fail "$p: werift got no echo: $(report "$p")"
done
for p in udp-rw tcp-rw; do
	grep -q "^B received: hello over ICE" "$T/$p.log" || fail "$p: werift got no hello: $(report "$p")"
done

# SIGINT while the checks run (the peer's candidate never answers):
# ABORTED interrupted, exit 2; with --json the object follows the block
# on the one standard output.
mkfifo "$T/int.in"
PBXEDGE_TURN_PASSWORD=secret env -u PBXEDGE_DB HOME="$T/empty" "$RPCTL" --json \
	ice-test peer --controlled $turn --in "$T/int.in" --timeout 15 \
	>"$T/int.out" 2>"$T/int.err" &
pid=$!
PIDS+=("$pid")
exec 8>"$T/int.in"
wait_log "$T/int.out" "^a=end-of-candidates"
printf '%s\n' a=ice-ufrag:abcd a=ice-pwd:abcdabcdabcdabcdabcdabcd \
	"a=candidate:1 1 UDP 2130706431 127.0.0.1 9 typ host" a=end-of-candidates >&8
sleep 0.5
kill -INT "$pid"
wait_exit "$pid" 10
exec 8>&-
[ "$EXIT_STATUS" = 2 ] || fail "SIGINT: exit $EXIT_STATUS: $(cat "$T/int.out" "$T/int.err")"
python3 - "$T/int.out" <<'PY' || fail "SIGINT: bad output: $(cat "$T/int.out")"
import json, sys
text = open(sys.argv[1]).read()
block, _, rest = text.partition("a=end-of-candidates\n")
assert block.startswith("a=ice-ufrag:") and "typ relay" in block, block
o = json.loads(rest)
c = o["conclusion"]
assert (c["result"], c["code"]) == ("ABORTED", "interrupted"), c
assert o["role"] == "controlled" and o["remote_candidates"] == 1, o
assert o["pairs"] and o["pairs"][0]["requests_sent"] > 0, o["pairs"]
for k in ("servers", "agents", "selected", "data"):
    assert k in o, k
a = o["agents"][0]
assert a["role"] == "controlled" and a["pairs"] == o["pairs"], a
assert any(c["type"] == "relay" for c in a["candidates"]), a["candidates"]
assert o["servers"][0]["uri"].startswith("turn:127.0.0.1:"), o["servers"]
PY

# A TURN port that is closed: no candidate, the gathering's reason shown,
# FAILED (exit 1) at once; the peer's block from a file (--in).
printf '%s\n' a=ice-ufrag:abcd a=ice-pwd:abcdabcdabcdabcdabcdabcd a=end-of-candidates >"$T/blk"
closed=$(free_udp)
set +e
PBXEDGE_TURN_PASSWORD=secret env -u PBXEDGE_DB HOME="$T/empty" timeout 10 "$RPCTL" \
	ice-test peer --turn "turn:127.0.0.1:$closed" --user alice --policy relay \
	--in "$T/blk" >"$T/closed.out" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || fail "closed port: exit $rc: $(cat "$T/closed.out")"
grep -q "^ICE: Gathering FAILED (turn-unreachable: " "$T/closed.out" ||
	fail "closed port: no gathering reason: $(cat "$T/closed.out")"
grep -q "^ICE: Conclusion FAILED (no-local-candidates: " "$T/closed.out" ||
	fail "closed port: not FAILED: $(cat "$T/closed.out")"

# A description with IPv6 candidates only, checked with --family 4:
# FAILED no-pairs at once, naming the families.
printf 'a=ice-ufrag:v6only\na=ice-pwd:v6v6v6v6v6v6v6v6v6v6v6v6\na=candidate:1 1 udp 2130706431 ::1 40000 typ host\na=end-of-candidates\n' >"$T/v6.blk"
set +e
env -u PBXEDGE_DB HOME="$T/empty" timeout 10 "$RPCTL" ice-test peer --family 4 \
	--local 127.0.0.1 --policy host --in "$T/v6.blk" --out /dev/null >"$T/v6.out" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || fail "v6 only: exit $rc: $(cat "$T/v6.out")"
grep -q "^ICE: Conclusion FAILED (no-pairs: .*IPv6 only (1).*IPv4 only (1)" "$T/v6.out" ||
	fail "v6 only: not no-pairs: $(cat "$T/v6.out")"


wait "$MANGLED"
rc=$(cat "$T/m.rc")
[ "$rc" = 1 ] || fail "mangled: exit $rc: $(cat "$T/m.out")"
grep -q "^ICE: Conclusion FAILED (mangled: " "$T/m.out" ||
	fail "mangled: not mangled: $(cat "$T/m.out")"
# The peer that stayed on, the slowest row (see dead-r and wait-r above).
ice_expect wait-r 0 1
grep -q "^ICE: Conclusion FAILED (no-response: .*ICMP errors came back" "$T/wait-r.rp" ||
	fail "wait-r: not failed with no-response and the ICMP errors: $(report wait-r)"
after=$(sed -n 's/^B exited 1 after \([0-9]*\)\..*/\1/p' "$T/wait-r.log")
[ -n "$after" ] && [ "$after" -ge 39 ] && [ "$after" -lt 50 ] ||
	fail "wait-r: rpctl did not wait 39.5 s for the peer: $(report wait-r)"

# coturn: rpctl made 15 allocations, each released once.
C="$T/coturn.log"
wait_count "$C" "user <alice>: incoming packet ALLOCATE processed, success" 15
wait_count "$C" "username=<alice>, lifetime=0" 15
# The TLS row's session was TLS (coturn names the cipher).
wait_count "$C" "new, realm=<pbxedge.test>, username=<alice>, lifetime=[0-9]+, cipher=[A-Z0-9-]+, method=TLSv1\\.[23]" 2
n=$(grep -Ec "user <alice>: incoming packet ALLOCATE processed, success" "$C")
[ "$n" = 15 ] || fail "rpctl made $n allocations, expected 15"
n=$(grep -Ec "username=<alice>, lifetime=0" "$C")
[ "$n" = 15 ] || fail "rpctl released $n times for 15 allocations"
# The TURN password ("secret") is never printed, whatever the end.
! grep -l secret "$T"/*.rp || fail "a password was printed by rpctl"
echo "ice_peer: ok"
