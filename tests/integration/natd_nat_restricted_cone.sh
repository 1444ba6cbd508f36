#!/usr/bin/env bash
# natd_nat_restricted_cone - natd behind a restricted-cone NAT (in only from
# addresses the LAN host sent to), built for real (network namespaces and
# nftables): its verdicts against stund and against coturn's turnserver
# match the NAT, and match what turnutils_natdiscovery and the classic stun
# client find on it.
# Peers: coturn (turnserver, turnutils_natdiscovery), stun-client, iproute2,
# nftables, conntrack.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
. "$(dirname "$0")/natd_lib.sh"
nat_case restricted-cone 198.18.0.254 endpoint-independent address-dependent false restricted-cone
