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
# (no-response) as the evidence so far in its hint.  Then the
# rows of ice_turnd.sh through turnd with rpctl on the controlling side:
# relay to relay under turnd's default peer policy, and unroutable relayed
# sends that leave the allocations alive.
# Peers: those of ice_nat_matrix.sh and ice_turnd.sh.
set -euo pipefail
: "${PBX_SRC:?PBX_SRC must point at the source tree}"
dir="$PBX_SRC/tests/integration"
agent="$dir/ice/rpctl_peer.sh"
export ICE_WAITS=1 ICE_NOTE="no check from it had arrived"
export ICE_WAIT_HINT="evidence so far: no-response \\(.*none answered"
ICE_AGENT_A=$agent bash "$dir/ice_nat_matrix.sh"
ICE_AGENT_B=$agent bash "$dir/ice_nat_matrix.sh"
ICE_AGENT_A=$agent bash "$dir/ice_turnd.sh"
echo "ice_peer_nat: ok"
