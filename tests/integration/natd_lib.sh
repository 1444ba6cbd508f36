# natd_lib.sh - what the natd cases share (sourced after lib.sh and
# netns.sh): STUN servers on the public side (stund, and coturn's
# turnserver with two addresses), natd --once in the LAN, and the verdicts
# of the third-party clients in natd's words.


STUND_PORT=3490 COTURN_PORT=3492

# start_stund: stund on the public side, primary PUB_IP1:3490, alternate
# PUB_IP2:3491.
start_stund() {
	ok R set stund.primary "$PUB_IP1:$STUND_PORT"
	ok R set stund.alternate "$PUB_IP2:$((STUND_PORT + 1))"
	start stund ip netns exec "$NS_PUB" "$STUND" --foreground
	wait_log "$T/stund.log" "serving primary=$PUB_IP1:$STUND_PORT alternate=$PUB_IP2:$((STUND_PORT + 1))"
}

stop_stund() {
	kill -TERM "$PID_stund"
	wait_exit "$PID_stund"
	[ "$EXIT_STATUS" = 0 ] || fail "stund exit $EXIT_STATUS"
}

# start_coturn: turnserver as a plain STUN server on both public addresses
# (RFC 5780 on: its alternate port is 3493).
start_coturn() {
	cat >"$T/turnserver.conf" <<CONF
listening-ip=$PUB_IP1
listening-ip=$PUB_IP2
listening-port=$COTURN_PORT
stun-only
no-auth
no-tls
no-dtls
no-cli
log-file=stdout
simple-log
pidfile=$T/turnserver.pid
userdb=$T/turndb
CONF
	start coturn ip netns exec "$NS_PUB" turnserver -c "$T/turnserver.conf"
	local i
	for ((i = 0; i < 50; i++)); do
		in_pub ss -Hlun "sport = :$COTURN_PORT" | grep -q "$PUB_IP2" && return 0
		sleep 0.1
	done
	fail "turnserver does not listen on $PUB_IP2:$COTURN_PORT"
}

# natd_once FILE: run natd --once --json in the LAN into FILE; sets
# NATD_RC and NATD_SECONDS (elapsed, whole seconds).
natd_once() {
	local t0=$SECONDS
	set +e
	in_lan "$NATD" --once --json >"$1" 2>>"$T/natd.log"
	NATD_RC=$?
	set -e
	NATD_SECONDS=$((SECONDS - t0))
	python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$1" ||
		fail "natd --once printed no JSON: $(cat "$1")"
}

# field FILE INDEX KEY: one key of one server entry ("null" for none).
field() {
	python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))["servers"][int(sys.argv[2])][sys.argv[3]]
print("null" if v is None else v)' "$@"
}

# expect_verdict FILE INDEX EXTERNAL MAPPING FILTERING HAIRPIN CLASSIC WHAT
expect_verdict() {
	local f=$1 i=$2 what=$8 got want
	got="$(field "$f" "$i" external) $(field "$f" "$i" mapping) $(field "$f" "$i" filtering) $(field "$f" "$i" hairpinning) $(field "$f" "$i" rfc3489)"
	want="$3 $4 $5 $6 $7"
	[ "$got" = "$want" ] || fail "$what: natd says '$got', expected '$want': $(cat "$f")"
	# Every verdict carries evidence: the probes, where they went, what came back.
	python3 - "$f" "$i" <<'PY' || fail "$what: evidence incomplete: $(cat "$f")"
import json, sys
e = json.load(open(sys.argv[1]))["servers"][int(sys.argv[2])]["evidence"]
for k in ("mapping", "filtering", "hairpinning", "rfc3489", "probes"):
    assert k in e, k
assert e["probes"], "no probes"
for p in e["probes"]:
    for k in ("probe", "from", "to", "sent", "result"):
        assert k in p, (k, p)
    if p["result"] == "answered" and p["probe"] != "hairpinning":
        assert "answer_from" in p and "mapped" in p, p
PY
}

# natdiscovery MODE HOST PORT: turnutils_natdiscovery's verdict in natd's
# words (endpoint-independent ...), from the LAN on a fresh NAT state.
natdiscovery() {
	local line
	netns_forget
	line=$(in_lan timeout 30 turnutils_natdiscovery "$1" -p "$3" "$2" 2>&1 |
		grep -E "^NAT with|^No NAT" | head -n 1 || true)
	case $line in
	*"Endpoint Independent"*) echo endpoint-independent ;;
	*"Address and Port Dependent"*) echo address-and-port-dependent ;;
	*"Address Dependent"*) echo address-dependent ;;
	*) echo "unrecognised: $line" ;;
	esac
}

# stun_client HOST PORT: the classic client's verdict in natd's words:
# "CLASS HAIRPIN" (hairpin "-" when it does not say).
stun_client() {
	local line class hp=-
	netns_forget
	line=$(in_lan timeout 30 stun "$1:$2" 2>&1 | grep -E "^Primary:" | head -n 1 || true)
	case $line in
	*"Primary: Open"*) class=open ;;
	*"Independent Mapping, Independent Filter"*) class=full-cone ;;
	*"Independent Mapping, Address Dependent Filter"*) class=restricted-cone ;;
	*"Independent Mapping, Port Dependent Filter"*) class=port-restricted-cone ;;
	*"Dependent Mapping"*) class=symmetric ;;
	*"Blocked"*) class=udp-blocked ;;
	*) class="unrecognised($line)" ;;
	esac
	case $line in
	*"will hairpin"*) hp=true ;;
	*"no hairpin"*) hp=false ;;
	esac
	echo "$class $hp"
}

# nat_case TYPE EXTERNAL MAPPING FILTERING HAIRPIN CLASSIC: build NAT TYPE
# and check natd's verdict against stund and coturn, and against what
# turnutils_natdiscovery and the classic stun client find on it.
nat_case() {
	local type=$1 ext=$2 mapping=$3 filtering=$4 hairpin=$5 classic=$6 v
	need turnutils_natdiscovery turnserver stun ip nft conntrack python3 ss
	[ "$(id -u)" = 0 ] || { echo "SKIP: network namespaces need root" >&2; exit 77; }
	ok R init >/dev/null
	netns_setup
	netns_nat "$type"

	start_stund
	ok R set natd.servers "$PUB_IP1:$STUND_PORT"
	natd_once "$T/stund.json"
	[ "$NATD_RC" = 0 ] || fail "natd --once exit $NATD_RC against stund"
	expect_verdict "$T/stund.json" 0 "$ext" "$mapping" "$filtering" "$hairpin" "$classic" \
		"$type behind stund"
	[ "$(field "$T/stund.json" 0 answered_by)" = "$PUB_IP1:$STUND_PORT" ] ||
		fail "answered_by: $(cat "$T/stund.json")"
	# The round stays within its bound (three phases of 4 s at most).
	[ "$NATD_SECONDS" -le 13 ] || fail "the round took ${NATD_SECONDS}s"
	# The verdict is stored, with its time.
	[ "$(R --json nat status | python3 -c 'import json,sys; s=json.load(sys.stdin)["servers"][0]; print(s["rfc3489"], s["at"] > 0)')" = "$classic True" ] ||
		fail "stored verdict: $(R --json nat status)"

	# The third-party clients see the same NAT.
	v=$(natdiscovery -m "$PUB_IP1" "$STUND_PORT")
	[ "$v" = "$mapping" ] || fail "$type: turnutils_natdiscovery -m says $v, natd $mapping"
	v=$(natdiscovery -f "$PUB_IP1" "$STUND_PORT")
	[ "$v" = "$filtering" ] || fail "$type: turnutils_natdiscovery -f says $v, natd $filtering"
	v=$(stun_client "$PUB_IP1" "$STUND_PORT")
	[ "$v" = "$classic $hairpin" ] || [ "$v" = "$classic -" ] ||
		fail "$type: the stun client says '$v', natd '$classic $hairpin'"
	stop_stund

	# The same against coturn's turnserver.
	netns_forget
	start_coturn
	ok R set natd.servers "$PUB_IP1:$COTURN_PORT"
	natd_once "$T/coturn.json"
	[ "$NATD_RC" = 0 ] || fail "natd --once exit $NATD_RC against coturn"
	expect_verdict "$T/coturn.json" 0 "$ext" "$mapping" "$filtering" "$hairpin" "$classic" \
		"$type behind coturn"
	v=$(stun_client "$PUB_IP1" "$COTURN_PORT")
	[ "$v" = "$classic $hairpin" ] || [ "$v" = "$classic -" ] ||
		fail "$type: the stun client says '$v' against coturn, natd '$classic $hairpin'"
	# Neither server ever saw the LAN's own address unless there is no NAT.
	if [ "$type" != none ]; then
		grep -q "198.19.0" "$T/stund.log" && fail "a LAN address reached stund"
	fi
	echo "natd nat case $type: ok"
}
