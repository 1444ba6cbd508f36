#!/usr/bin/env bash
# ice_peer_dual - rpctl ice-test peer in dual stack against libnice: coturn
# listens and relays on 127.0.0.1 and ::1, rpctl has host addresses in
# both families and one TURN server (turn:127.0.0.1).  rpctl asks that
# server for a relayed address of each family (RFC 8656
# REQUESTED-ADDRESS-FAMILY, one allocation per family), so its block
# carries an IPv6 relayed candidate although the server was reached over
# IPv4 (libnice 0.1.21 never asks: over TURN it gets an IPv4 relay only).
# The local preferences interleave the families (RFC 8421 4): host ::1
# and host 127.0.0.1 one apart, the two relays one apart; the pairs table
# holds both families, mixed by priority, and the run ends SUCCESS.
# Skipped (77) when ::1 is not configured on lo.
# Peers: libnice (nice_peer), coturn, python3.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ice/lib.sh"
need turnserver python3 ss ip
ip -6 addr show dev lo 2>/dev/null | grep -q "inet6 ::1/128" ||
	{ echo "SKIP: ::1 is not configured on lo" >&2; exit 77; }
ice_need_nice

P=$(free_udp)
ice_coturn coturn "" 127.0.0.1 "$P" "listening-ip=::1
relay-ip=::1
allow-loopback-peers"

cat >"$T/rp.sh" <<SH
#!/bin/sh
exec 3>&1
PBXEDGE_TURN_PASSWORD=secret exec env -u PBXEDGE_DB HOME="$T/empty" \
	"$RPCTL" ice-test peer --out /dev/fd/3 "\$@" >"$T/dual.rp" 2>&1
SH
chmod +x "$T/rp.sh"
ice_pair dual 20 "$T/rp.sh --controlling --family both --local 127.0.0.1 --local ::1 \
	--turn turn:127.0.0.1:$P --user agent --timeout 15" \
	"$NICE --tag B --local 127.0.0.1 --local ::1 --turn 127.0.0.1:$P --user nice \
	--pass secret --timeout 15"
ice_expect dual 0 0
report() { cat "$T/dual.rp" "$T/dual.log"; }
grep -q "^ICE: Conclusion SUCCESS" "$T/dual.rp" || fail "no success: $(report)"
grep -q "^B echoed" "$T/dual.log" || fail "libnice echoed nothing: $(report)"

# rpctl's block: host and relayed candidates in both families, the
# relayed IPv6 one from the IPv4 server, local preferences interleaved.
python3 - "$T/dual.log" <<'PY' || fail "rpctl's candidates: $(report)"
import sys
cands = []
for line in open(sys.argv[1]):
    if line.startswith("A block: a=candidate:"):
        f = line.split()
        # A block: a=candidate:F 1 udp PRIO ADDR PORT typ TYPE ...
        cands.append((f[9], ":" in f[6], int(f[5])))
got = {(t, v6) for t, v6, _ in cands}
for want in (("host", False), ("host", True), ("relay", False), ("relay", True)):
    assert want in got, (want, cands)
for t in ("host", "relay"):
    prefs = sorted(((p >> 8) & 0xFFFF, v6) for typ, v6, p in cands if typ == t)
    assert len(prefs) == 2 and prefs[0][1] != prefs[1][1], (t, prefs)
    assert prefs[1][0] - prefs[0][0] == 1, (t, "not interleaved", prefs)
PY
grep -Eq "^A block: a=candidate:[^ ]+ 1 udp [0-9]+ ::1 [0-9]+ typ relay " "$T/dual.log" ||
	fail "no IPv6 relayed candidate in rpctl's block: $(report)"

# The pairs table: both families, mixed by priority (the family changes
# at least twice down the table), not one family's pairs after the other's.
python3 - "$T/dual.rp" <<'PY' || fail "pairs table: $(report)"
import sys
rows, on = [], False
for line in open(sys.argv[1]):
    if line.startswith("PAIR "):
        on = True
        continue
    if on:
        if not line.strip():
            break
        f = line.split()
        rows.append((f[1], "[" in f[2]))
fams = [v6 for _, v6 in rows]
assert True in fams and False in fams, rows
changes = sum(1 for a, b in zip(fams, fams[1:]) if a != b)
assert changes >= 2, ("families not interleaved", rows)
assert ("relay", True) in rows, ("no pair from the IPv6 relay", rows)
PY
# coturn gave rpctl two allocations, one IPv6, and released both.
C="$T/coturn.log"
grep -q "IPv6. Local relay addr: ::1:" "$C" || fail "coturn made no IPv6 relay"
wait_count "$C" "user <agent>: incoming packet ALLOCATE processed, success" 2
wait_count "$C" "username=<agent>, lifetime=0" 2
echo "ice_peer_dual: ok"
