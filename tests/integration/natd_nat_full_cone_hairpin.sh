#!/usr/bin/env bash
# natd_nat_full_cone_hairpin - natd behind a full-cone NAT that hairpins,
# built for real (network namespaces and nftables): its verdicts against
# stund and against coturn's turnserver match the NAT, and match what
# turnutils_natdiscovery and the classic stun client find on it.
# Peers: coturn (turnserver, turnutils_natdiscovery), stun-client, iproute2,
# nftables, conntrack.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
. "$(dirname "$0")/natd_lib.sh"
nat_case full-cone-hairpin 198.18.0.254 endpoint-independent endpoint-independent true full-cone
