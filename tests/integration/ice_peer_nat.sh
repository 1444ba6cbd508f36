#!/usr/bin/env bash
# ice_peer_nat - the NAT matrix of ice_nat_matrix.sh with rpctl ice-test
# peer (behind ice/rpctl_peer.sh) in place of libnice, first on the
# controlling side, then on the controlled side: the same verdicts as
# libnice's (prc/prc and full/sym succeed over srflx/prflx, prc/sym and
# sym/sym fail on both sides, sym/sym with TURN succeeds through a relay).
# In the failing rows no check from the peer ever gets through the NATs:
# libnice gives up after about 7 s and leaves while rpctl still waits for
# the peer's checks (RFC 8863), so rpctl concludes ABORTED peer-closed,
# saying that no check from the peer arrived, with libnice's verdict
# (no-response) as the evidence so far in its hint.  Beside the first
# matrix, the rows of ice_turnd.sh through turnd with rpctl on the
# controlling side: relay to relay under turnd's default peer policy, and
# unroutable relayed sends that leave the allocations alive.
# Peers: those of ice_nat_matrix.sh and ice_turnd.sh.
set -euo pipefail
: "${PBX_SRC:?PBX_SRC must point at the source tree}"
dir="$PBX_SRC/tests/integration"
agent="$dir/ice/rpctl_peer.sh"
export ICE_WAITS=1 ICE_NOTE="no check from it had arrived"
export ICE_WAIT_HINT="evidence so far: no-response \\(.*none answered"
# The first matrix and the turnd rows side by side (namespaces of their
# own, few peers each), each case's output kept and shown in order.
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ICE_AGENT_A=$agent bash "$dir/ice_nat_matrix.sh" >"$out/matrix" 2>&1 &
m=$!
ICE_AGENT_A=$agent bash "$dir/ice_turnd.sh" >"$out/turnd" 2>&1 &
t=$!
rc_m=0 rc_t=0
wait "$m" || rc_m=$?
wait "$t" || rc_t=$?
cat "$out/matrix" "$out/turnd"
for rc in "$rc_m" "$rc_t"; do
	[ "$rc" = 0 ] || exit "$rc"
done
ICE_AGENT_B=$agent bash "$dir/ice_nat_matrix.sh"
echo "ice_peer_nat: ok"
