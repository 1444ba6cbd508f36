#!/usr/bin/env bash
# natd_nat_full_cone - natd behind a full-cone NAT (snat, and new UDP flows
# dnat'ed to the LAN host), built for real (network namespaces and
# nftables): its verdicts against stund and against coturn's turnserver
# match the NAT, and match what turnutils_natdiscovery and the classic stun
# client find on it.
# Peers: coturn (turnserver, turnutils_natdiscovery), stun-client, iproute2,
# nftables, conntrack.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
. "$(dirname "$0")/natd_lib.sh"
nat_case full-cone 198.18.0.254 endpoint-independent endpoint-independent false full-cone
