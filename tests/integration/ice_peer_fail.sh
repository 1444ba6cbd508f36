#!/usr/bin/env bash
# ice_peer_fail - rpctl ice-test peer against libnice where the checks
# cannot succeed, each with the reason code that names the cause:
#   - through a coturn without allow-loopback-peers (CreatePermission for
#     127.0.0.1 answered 403), relay only, libnice giving up and leaving
#     first: FAILED turn-permission-denied naming 127.0.0.1, not ABORTED
#     peer-closed (the peer left because of the refusal), as controlling
#     side (text) and as controlled side (--json);
#   - host only, with pair.py rewriting one a=ice-pwd on its way: the
#     peer's password rewritten on its way to rpctl gives ice-auth-out (the
#     peer answers our checks with 401), rpctl's rewritten on its way to
#     the peer gives ice-auth-in (the peer's checks fail our
#     MESSAGE-INTEGRITY), each with rpctl controlling (text) and controlled
#     (--json).  With rpctl controlling and its own password rewritten,
#     libnice shows the one-way split: rpctl selects a pair and its hello
#     reaches libnice, which stays connecting and never echoes.
# Peers: libnice (nice_peer), coturn, python3.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ice/lib.sh"
need turnserver python3 ss
ice_need_nice

P=$(free_udp)
ice_coturn coturn "" 127.0.0.1 "$P" ""

# rpctl's side: rp.sh REPORT [--json] ARGS: the block on stdout for
# pair.py, the report into REPORT.
cat >"$T/rp.sh" <<SH
#!/bin/sh
r=\$1
shift
j=
[ "\${1:-}" = --json ] && { j=--json; shift; }
exec 3>&1
PBXEDGE_TURN_PASSWORD=secret exec env -u PBXEDGE_DB HOME="$T/empty" \
	"$RPCTL" \$j ice-test peer --out /dev/fd/3 "\$@" >"\$r" 2>&1
SH
chmod +x "$T/rp.sh"
rp() { local name=$1; shift; echo "$T/rp.sh $T/$name.rp $* --timeout 15"; }
turn="--turn turn:127.0.0.1:$P --user agent --policy relay"
# libnice gives up after 3 s, before its checks (or ours) time out.
tn="--turn 127.0.0.1:$P --user nice --pass secret --relay-only --timeout 3"
host="--policy host --local 127.0.0.1"
nh="--local 127.0.0.1 --timeout 4"

ice_pair deny-c 20 "$(rp deny-c --controlling $turn)" "$NICE --tag B $tn"
ice_pair deny-d 20 "$NICE --controlling --tag A $tn" "$(rp deny-d --json --controlled $turn)"
# B's (libnice's) password rewritten on its way to rpctl (A), and back.
ICE_PAIR_OPTS="--mangle-pwd B" ice_pair out-c 20 "$(rp out-c --controlling $host)" \
	"$NICE --tag B $nh"
ICE_PAIR_OPTS="--mangle-pwd A" ice_pair out-d 20 "$NICE --controlling --tag A $nh" \
	"$(rp out-d --json --controlled $host)"
# rpctl's password rewritten on its way to libnice.
ICE_PAIR_OPTS="--mangle-pwd A" ice_pair in-c 20 "$(rp in-c --controlling $host)" \
	"$NICE --tag B $nh"
ICE_PAIR_OPTS="--mangle-pwd B" ice_pair in-d 20 "$NICE --controlling --tag A $nh" \
	"$(rp in-d --json --controlled $host)"

report() { cat "$T/$1.rp" "$T/$1.log" 2>/dev/null; }
# text NAME CODE REGEX: rpctl exited 1 with "Conclusion FAILED (CODE: ...)"
# whose line matches REGEX.
text() {
	grep -q "^ICE: Conclusion FAILED ($2: " "$T/$1.rp" || fail "$1: not $2: $(report "$1")"
	grep -Eq "^ICE: Conclusion FAILED \($2: .*$3" "$T/$1.rp" ||
		fail "$1: the reason does not match $3: $(report "$1")"
}
# json NAME CODE WORD: --json's conclusion is FAILED CODE, WORD in its reason.
json() {
	python3 - "$T/$1.rp" "$2" "$3" <<'PY' || fail "$1: bad --json: $(report "$1")"
import json, sys
o = json.load(open(sys.argv[1]))
c = o["conclusion"]
assert (c["result"], c["code"]) == ("FAILED", sys.argv[2]), c
assert sys.argv[3] in c["reason"], c
PY
}
rpctl_rc() { sed -n "s/^$2 exited \([0-9]*\) .*/\1/p" "$T/$1.log"; }

# The refused permission: libnice left first (it gave up at 3 s), and
# rpctl still concludes FAILED turn-permission-denied, naming 127.0.0.1.
for r in deny-c:A deny-d:B; do
	n=${r%:*}
	ice_wait "$n"
	[ "$(rpctl_rc "$n" "${r#*:}")" = 1 ] || fail "$n: rpctl did not exit 1: $(report "$n")"
	grep -Eq "^(A|B) exited 2 " "$T/$n.log" || fail "$n: libnice did not give up: $(report "$n")"
done
text deny-c turn-permission-denied "refused a permission for 127\.0\.0\.1 \(403"
grep -Eq "^1 +relay 127\.0\.0\.1:[0-9]+ +relay 127\.0\.0\.1:[0-9]+ +.* TURN 403 *$" \
	"$T/deny-c.rp" || fail "deny-c: no TURN 403 on the pair: $(report deny-c)"
json deny-d turn-permission-denied "127.0.0.1"
grep -q "CREATE_PERMISSION processed, error 403" "$T/coturn.log" ||
	fail "coturn refused no permission"

# The wrong passwords.
ice_expect out-c 1 4
text out-c ice-auth-out "answered 401 Unauthorized"
ice_wait out-d
[ "$(rpctl_rc out-d B)" = 1 ] || fail "out-d: rpctl did not exit 1: $(report out-d)"
json out-d ice-auth-out "401"
ice_wait in-c
[ "$(rpctl_rc in-c A)" = 1 ] || fail "in-c: rpctl did not exit 1: $(report in-c)"
text in-c ice-auth-in "our checks passed \(selected host .*MESSAGE-INTEGRITY.*one way"
grep -q "^ICE: Selected host 127\.0\.0\.1:" "$T/in-c.rp" || fail "in-c: nothing selected: $(report in-c)"
# The one-way split on libnice's side: our hello arrived, it never got
# to ready, so it never echoed.
grep -q "^B received: hello over ICE" "$T/in-c.log" || fail "in-c: no hello reached libnice"
! grep -Eq "^B (state ready|echoed)" "$T/in-c.log" || fail "in-c: libnice completed: $(report in-c)"
ice_wait in-d
[ "$(rpctl_rc in-d B)" = 1 ] || fail "in-d: rpctl did not exit 1: $(report in-d)"
json in-d ice-auth-in "MESSAGE-INTEGRITY"
echo "ice_peer_fail: ok"
