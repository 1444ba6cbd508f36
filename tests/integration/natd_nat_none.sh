#!/usr/bin/env bash
# natd_nat_none - natd behind no NAT at all (the router only routes), built
# for real (network namespaces and nftables): its verdicts against stund and
# against coturn's turnserver match the NAT, and match what
# turnutils_natdiscovery and the classic stun client find on it.
# Peers: coturn (turnserver, turnutils_natdiscovery), stun-client, iproute2,
# nftables, conntrack.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
. "$(dirname "$0")/natd_lib.sh"
nat_case none 198.19.0.2 endpoint-independent endpoint-independent true open
