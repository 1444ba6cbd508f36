#!/usr/bin/env bash
# natd_nat_symmetric - natd behind a symmetric NAT (masquerade fully-
# random), built for real (network namespaces and nftables): its verdicts
# against stund and against coturn's turnserver match the NAT, and match
# what turnutils_natdiscovery and the classic stun client find on it.
# Peers: coturn (turnserver, turnutils_natdiscovery), stun-client, iproute2,
# nftables, conntrack.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
. "$(dirname "$0")/natd_lib.sh"
nat_case symmetric 198.18.0.254 address-and-port-dependent address-and-port-dependent false symmetric
