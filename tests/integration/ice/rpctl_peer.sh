#!/usr/bin/env bash
# rpctl_peer.sh - rpctl ice-test peer behind the options and the output of
# the other test peers (nice_peer, werift_peer.js), so that it can stand in
# for either side of a case: ICE_AGENT_A=.../rpctl_peer.sh.
#   rpctl_peer.sh [--controlling] [--tag T] [--local ADDR] [--stun H:P]
#     [--turn H:P --user U --pass P [--turn-tcp|--turn-tls --ca F [--sni N]]]
#     [--relay-only] [--timeout S]
# The block goes to stdout as the others print it; rpctl's report goes to
# stderr, its selected pair and conclusion also as "T selected ..." and
# "T Conclusion ...".  Exit status as the other peers: 0 success, 1
# failed, 2 timeout, 4 the other side went away.
set -u
rpctl=${RPCTL:-${PBX_BUILD:?PBX_BUILD or RPCTL must be set}/ctl/rpctl}
tag=R role=--controlled turn= scheme=turn query= args=()
while [ $# -gt 0 ]; do
	case $1 in
	--controlling) role=--controlling ;;
	--relay-only) args+=(--policy relay) ;;
	--turn-tcp) query='?transport=tcp' ;;
	--turn-tls) scheme=turns ;;
	--tag) tag=$2; shift ;;
	--local) args+=(--local "$2"); shift ;;
	--stun) args+=(--stun "stun:$2"); shift ;;
	--turn) turn=$2; shift ;;
	--user) args+=(--user "$2"); shift ;;
	--pass) export PBXEDGE_TURN_PASSWORD=$2; shift ;;
	--ca) args+=(--ca "$2"); shift ;;
	--sni) args+=(--sni "$2"); shift ;;
	--timeout) args+=(--timeout "$2"); shift ;;
	*) echo "rpctl_peer.sh: unknown option $1" >&2; exit 3 ;;
	esac
	shift
done
[ -n "$turn" ] && args+=(--turn "$scheme:$turn$query")
report=$(mktemp)
trap 'rm -f "$report"' EXIT
exec 3>&1
env -u PBXEDGE_DB HOME=/nonexistent "$rpctl" ice-test peer "$role" --out /dev/fd/3 "${args[@]}" \
	>"$report" 2>&1
rc=$?
sed "s/^/$tag | /" "$report" >&2
sed -n "s/^ICE: Selected /$tag selected /p; s/^ICE: Conclusion /$tag Conclusion /p" "$report" >&2
case $rc in
0 | 1) exit "$rc" ;;
2) grep -q '^ICE: Conclusion ABORTED (peer-closed' "$report" && exit 4
   grep -q '^ICE: Conclusion ABORTED' "$report" && exit 2
   exit 3 ;;
*) exit "$rc" ;;
esac
