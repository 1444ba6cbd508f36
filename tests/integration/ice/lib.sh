# ice/lib.sh - what the ICE cases share (sourced after lib.sh): the test
# peers (libnice's nice_peer and Pion's pion_peer, built here; werift-ice's
# werift_peer.js; libwebrtc's wrtc_offer.js and wrtc_gather.js), the pair
# relay, coturn, and the namespace topology of topo.sh.
#
# Every peer speaks one line protocol (see pair.py and nice_peer.c) and
# takes the same options: --controlling --tag T --local ADDR (nice_peer
# takes it more than once) --stun H:P --turn H:P --user U --pass P
# [--turn-tcp|--turn-tls --ca F] --relay-only --timeout S.  Any other
# agent that does can stand in for side A or B of a case: ICE_AGENT_A /
# ICE_AGENT_B name its command (ice/rpctl_peer.sh puts rpctl ice-test peer
# behind these options).

ICE_DIR="$PBX_SRC/tests/integration/ice"
. "$ICE_DIR/topo.sh"
at_exit topo_cleanup

# ice_build_peer NAME SOURCE BUILDER: build a peer harness once per build
# tree (again when SOURCE is newer), under a lock so that cases running
# side by side wait for one build: BUILDER OUT SOURCE writes OUT.  Sets
# ICE_PEER_BIN to its path.
ice_build_peer() {
	local name=$1 src=$2 builder=$3 dir="$PBX_BUILD/tests/integration/ice"
	ICE_PEER_BIN="$dir/$name"
	mkdir -p "$dir"
	(
		flock 9
		if [ ! -x "$ICE_PEER_BIN" ] || [ "$src" -nt "$ICE_PEER_BIN" ]; then
			"$builder" "$ICE_PEER_BIN.tmp" "$src" && mv "$ICE_PEER_BIN.tmp" "$ICE_PEER_BIN"
		fi
	) 9>"$dir/.$name.lock" || fail "$name does not build"
}

# ice_need_nice: build nice_peer (once per build tree) into $NICE and set
# NICE to its path; skip when libnice's headers or library are missing.
# It is built with the system compiler and without the build's sanitizer
# flags: it is a third-party peer, not our code.
ice_need_nice() {
	need gcc pkg-config flock
	local cflags libs hdr="$PBX_SRC/.cache/libnice-dev/usr/include/nice"
	if pkg-config --exists nice 2>/dev/null; then
		cflags=$(pkg-config --cflags nice)
		libs=$(pkg-config --libs nice)
	elif [ -f "$hdr/agent.h" ] && pkg-config --exists gio-2.0 &&
		grep -q 'libnice\.so\.10 ' <<<"$(ldconfig -p 2>/dev/null || /sbin/ldconfig -p)"; then
		cflags="-I$hdr $(pkg-config --cflags gio-2.0)"
		libs="$(pkg-config --libs gio-2.0) -l:libnice.so.10"
	else
		echo "SKIP: libnice headers (libnice-dev, or run-tests' cache) not found" >&2
		exit 77
	fi
	nice_build() { # OUT SOURCE (cflags and libs: the caller's)
		# shellcheck disable=SC2086
		gcc -std=c17 -O2 -Wall -Wextra -Werror -o "$1" "$2" $cflags $libs
	}
	ice_build_peer nice_peer "$ICE_DIR/nice_peer.c" nice_build
	NICE=$ICE_PEER_BIN
}

# ice_need_npm PACKAGE VERSION: node, and PACKAGE at VERSION in
# ice/node_modules (run-tests installs them with npm ci from
# ice/package-lock.json); skip otherwise.
ice_need_npm() {
	need node
	local v
	v=$(node -p 'require(process.argv[1]).version' \
		"$ICE_DIR/node_modules/$1/package.json" 2>/dev/null) || v=
	[ "$v" = "$2" ] || { echo "SKIP: $1 $2 not installed (npm ci in ice/)" >&2; exit 77; }
}

# ice_need_werift: werift-ice 0.2.3; sets WERIFT.
ice_need_werift() {
	ice_need_npm werift-ice 0.2.3
	WERIFT="node $ICE_DIR/werift_peer.js"
}

# ice_need_pion: build pion_peer.go (once per build tree) into $PION and
# set PION to its path, offline from Debian's Go sources of Pion ice
# (golang-go, golang-github-pion-ice.v2-dev); skip when they are missing.
ice_need_pion() {
	need flock
	local gopath=/usr/share/gocode
	if ! command -v go >/dev/null 2>&1 || [ ! -d "$gopath/src/github.com/pion/ice/v2" ]; then
		echo "SKIP: Pion ice needs go and Debian's Go sources (golang-go golang-github-pion-ice.v2-dev)" >&2
		exit 77
	fi
	pion_build() { # OUT SOURCE
		GOPATH=$gopath GO111MODULE=off GOCACHE="$(dirname "$1")/go-cache" \
			go build -o "$1" "$2"
	}
	ice_build_peer pion_peer "$ICE_DIR/pion_peer.go" pion_build
	PION=$ICE_PEER_BIN
}

# ice_need_wrtc: libwebrtc for node, @roamhq/wrtc 0.10.0 with its
# prebuilt binary; sets WRTC_OFFER and WRTC_GATHER.
ice_need_wrtc() {
	ice_need_npm @roamhq/wrtc 0.10.0
	(cd "$ICE_DIR" && node -e 'require("@roamhq/wrtc").RTCPeerConnection' 2>/dev/null) ||
		{ echo "SKIP: @roamhq/wrtc does not load (no prebuilt binary for this platform)" >&2; exit 77; }
	WRTC_OFFER="node $ICE_DIR/wrtc_offer.js"
	WRTC_GATHER="node $ICE_DIR/wrtc_gather.js"
}

# ice_pair NAME LIMIT CMD_A CMD_B: run a pair in the background, output in
# $T/NAME.log; ice_wait NAME collects it.  ICE_PAIR_OPTS: more options for
# pair.py (e.g. --mangle-pwd A).
declare -A ICE_PAIR_PID
ice_pair() {
	local name=$1 limit=$2
	# shellcheck disable=SC2086
	python3 "$ICE_DIR/pair.py" --limit "$limit" ${ICE_PAIR_OPTS:-} "$3" "$4" >"$T/$name.log" 2>&1 &
	PIDS+=("$!")
	ICE_PAIR_PID[$name]=$!
}

ice_wait() {
	wait_exit "${ICE_PAIR_PID[$1]}" 120
}

# ice_expect NAME RC_A RC_B: both peers' exit codes.
ice_expect() {
	local name=$1 line
	ice_wait "$name"
	line=$(grep -E '^exit A=' "$T/$name.log") || fail "$name: no result"
	[[ "$line" == "exit A=$2 B=$3 "* ]] || fail "$name: expected A=$2 B=$3, got: $line"
}

# ice_selected NAME TAG: TAG's selected pair as "LTYPE->RTYPE".
ice_selected() {
	sed -n "s/^$2 selected \([a-z]*\) [^ ]* -> \([a-z]*\) .*/\1->\2/p" "$T/$1.log" | head -1
}

# ice_expect_selected NAME TAG REGEX: TAG's selected pair matches REGEX
# (grep -E over "LTYPE->RTYPE").
ice_expect_selected() {
	local got
	got=$(ice_selected "$1" "$2")
	[ -n "$got" ] || fail "$1: $2 selected no pair"
	grep -Eqx -- "$3" <<<"$got" || fail "$1: $2 selected $got, expected $3"
}

# ice_coturn NAME NS IP PORT [CONF-LINES]: coturn with long-term
# credentials for the users nice, werift and agent (password "secret") on
# IP:PORT, relaying on IP, in namespace NS ("" for this one); log
# $T/NAME.log.
ice_coturn() {
	local name=$1 ns=$2 ip=$3 port=$4 lo
	need turnserver
	lo=$(relay_base)
	cat >"$T/$name.conf" <<CONF
listening-ip=$ip
listening-port=$port
relay-ip=$ip
min-port=$lo
max-port=$((lo + 99))
lt-cred-mech
realm=pbxedge.test
user=nice:secret
user=werift:secret
user=agent:secret
no-dtls
no-cli
no-tcp-relay
log-file=stdout
simple-log
verbose
pidfile=$T/$name.pid
userdb=$T/$name.db
${5:-}
CONF
	if [ -n "$ns" ]; then
		start "$name" ip netns exec "$ns" turnserver -c "$T/$name.conf"
	else
		start "$name" turnserver -c "$T/$name.conf"
	fi
	wait_log "$T/$name.log" "Total General servers"
	local i
	for ((i = 0; i < 50; i++)); do
		if [ -n "$ns" ]; then
			ip netns exec "$ns" ss -Hlun "sport = :$port" | grep -q . && return 0
		else
			ss -Hlun "sport = :$port" | grep -q . && return 0
		fi
		sleep 0.1
	done
	fail "$name does not listen on $ip:$port"
}
