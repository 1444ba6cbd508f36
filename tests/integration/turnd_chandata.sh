#!/usr/bin/env bash
# turnd_chandata - relayed data on the wire (RFC 8656 11-12), which
# turnutils_uclient cannot tell apart (it takes either form): before a
# ChannelBind, a Send indication reaches the peer from the relayed address
# and the peer's answer comes back as a Data indication naming the peer;
# after it, the peer's answer comes back as ChannelData on the bound
# channel (first two bits 01) and ChannelData from the client reaches the
# peer.  A scripted client (stun_talk.py channel, written from the RFC
# independently of pbxedge's codec) runs the peer itself.
# Peers: python3.
. "$(dirname "$0")/lib.sh"
need python3 ss

talk() { python3 "$PBX_SRC/tests/integration/peers/stun_talk.py" "$@"; }
field() { sed -n "s/^$1=//p"; }

P=$(free_udp)
turnd_store "127.0.0.1:$P"
ok R turn user add alice 'al1ce-secret'
ok R set turnd.allow-peer 127.0.0.1
ok R whitelist add 127.0.0.1 --reason "test client"

start turnd "$TURND" --foreground --workers 1
wait_log "$T/turnd.log" "serving listen=127.0.0.1:$P "

for ch in 0x4001 0x4ffe; do
	set +e
	out=$(talk channel 127.0.0.1 "$P" --user alice --password 'al1ce-secret' --channel "$ch")
	rc=$?
	set -e
	[ "$(echo "$out" | field allocate)" = success ] || fail "allocate: $out"
	[ "$(echo "$out" | field peer-got)" = ok ] || fail "Send indication to the peer ($ch): $out"
	[ "$(echo "$out" | field peer-source)" = ok ] || fail "peer's source is not the relayed address ($ch): $out"
	[ "$(echo "$out" | field before-bind)" = data-indication ] ||
		fail "before ChannelBind, not a Data indication from the peer ($ch): $out"
	[ "$(echo "$out" | field bind)" = success ] || fail "ChannelBind $ch: $out"
	[ "$(echo "$out" | field after-bind)" = channeldata ] ||
		fail "after ChannelBind, not ChannelData on $ch: $out"
	[ "$(echo "$out" | field client-channeldata)" = ok ] ||
		fail "client's ChannelData on $ch did not reach the peer: $out"
	[ "$(echo "$out" | field refresh)" = success ] || fail "refresh 0: $out"
	[ "$rc" = 0 ] || fail "stun_talk channel exit $rc: $out"
done
wait_count "$T/turnd.log" "allocation-ended .*reason=refresh-0 .*packets-in=2 packets-out=2" 2
echo "turnd_chandata: ok"
