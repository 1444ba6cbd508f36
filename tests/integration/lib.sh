# lib.sh - helpers shared by the integration cases (sourced).
#
# Every case runs in its own temporary directory, removed on exit with
# every process the case started; a process still running then whose
# command line names that directory (a daemon's --db, a peer's files) was
# left behind by the case: it is killed and the case fails.  PBX_BUILD
# points at the build tree.
set -euo pipefail

: "${PBX_BUILD:?PBX_BUILD must point at the meson build directory}"
PBX_BUILD=$(cd "$PBX_BUILD" && pwd)
RPCTL="$PBX_BUILD/ctl/rpctl"
RPD="$PBX_BUILD/rpd/rpd"
TURND="$PBX_BUILD/turnd/turnd"
STUND="$PBX_BUILD/stund/stund"
NATD="$PBX_BUILD/natd/natd"

T=$(mktemp -d /tmp/pbx-it.XXXXXX)
export PBXEDGE_DB="$T/pbxedge.db"
PIDS=()
AT_EXIT=()

# at_exit CMD: one more clean-up step (eval'ed), run after the case's
# processes are killed and before the check for processes left behind;
# the last added runs first.
at_exit() {
	AT_EXIT=("$1" "${AT_EXIT[@]}")
}

cleanup() {
	local rc=$? p h left
	set +e
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	for h in "${AT_EXIT[@]}"; do
		eval "$h" 2>/dev/null
	done
	left=$(pgrep -af -- "$T/")
	if [ -n "$left" ]; then
		echo "FAIL: processes left behind by the case (killed now):" >&2
		echo "$left" >&2
		pkill -KILL -f -- "$T/"
		[ "$rc" != 0 ] || rc=1
	fi
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	local f
	for f in "$T"/*.log; do
		[ -f "$f" ] || continue
		echo "--- last lines of $(basename "$f"):" >&2
		tail -n 15 "$f" >&2
	done
	exit 1
}

# need PROGRAM...: skip the case (exit 77) when a peer is missing.
need() {
	local p
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 || { echo "SKIP: $p not installed" >&2; exit 77; }
	done
}

# R ARGS...: rpctl, on $PBXEDGE_DB unless ARGS say otherwise.
R() { "$RPCTL" "$@"; }

# ok CMD...: the command must succeed.
ok() {
	"$@" || fail "expected success: $*"
}

# refuse STATUS PATTERN CMD...: the command must exit with STATUS and print
# PATTERN (grep -E) on stderr, in one line.
refuse() {
	local want=$1 pattern=$2 out rc
	shift 2
	set +e
	out=$("$@" 2>&1 >/dev/null)
	rc=$?
	set -e
	[ "$rc" -eq "$want" ] || fail "expected exit $want, got $rc: $* ($out)"
	printf '%s\n' "$out" | grep -Eq -- "$pattern" || fail "expected /$pattern/ from: $* (got: $out)"
	[ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "expected one line from: $* (got: $out)"
}

# json CMD...: the command's output must be valid JSON.
json() {
	"$@" | python3 -c 'import json, sys; json.load(sys.stdin)' || fail "invalid JSON from: $*"
}

# start NAME CMD...: run a daemon in the background, log to $T/NAME.log.
start() {
	local name=$1
	shift
	"$@" >"$T/$name.log" 2>&1 &
	PIDS+=("$!")
	eval "PID_$name=$!"
}

# wait_log FILE PATTERN [SECONDS]
wait_log() {
	local file=$1 pattern=$2 secs=${3:-10} i
	for ((i = 0; i < secs * 10; i++)); do
		grep -Eq -- "$pattern" "$file" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "no /$pattern/ in $file within ${secs}s: $(tail -5 "$file" 2>/dev/null)"
}

# wait_count FILE PATTERN N [SECONDS]: until PATTERN matches N lines.
wait_count() {
	local file=$1 pattern=$2 n=$3 secs=${4:-10} i
	for ((i = 0; i < secs * 10; i++)); do
		[ "$(grep -Ec -- "$pattern" "$file" 2>/dev/null)" -ge "$n" ] && return 0
		sleep 0.1
	done
	fail "fewer than $n /$pattern/ in $file within ${secs}s"
}

# wait_exit PID [SECONDS]: wait for a child of this shell to exit and set
# EXIT_STATUS; fail (after killing it) if it is still running after SECONDS.
# Not for use inside $(...): only this shell can wait for its children.
wait_exit() {
	local pid=$1 secs=${2:-10} i state
	for ((i = 0; i < secs * 10; i++)); do
		# A child that exited is a zombie until waited for.
		state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1 || true)
		[ -z "$state" ] || [ "$state" = Z ] && break
		sleep 0.1
	done
	state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1 || true)
	if [ -n "$state" ] && [ "$state" != Z ]; then
		kill -KILL "$pid" 2>/dev/null
		fail "process $pid still running after ${secs}s"
	fi
	set +e
	wait "$pid"
	EXIT_STATUS=$?
	set -e
}

# free_port: an unused TCP port on loopback.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# free_udp: a port on loopback unused for TCP and for UDP.
free_udp() {
	local p
	for _ in $(seq 20); do
		p=$(free_port)
		ss -Hlun "sport = :$p" | grep -q . || { echo "$p"; return; }
	done
	fail "no free UDP port"
}

# relay_base [AVOID]: the first port of a block of 100 for a TURN server's
# relay range. Blocks lie below the kernel's ephemeral range (32768 up on
# Debian), so no port free_port hands out, and no client's source port,
# falls inside one. AVOID is another block's base to stay clear of.
relay_base() {
	local avoid=${1:--1000} b
	for _ in $(seq 50); do
		b=$(( (RANDOM % 120) * 100 + 20000 ))
		[ $((b - avoid)) -ge 100 ] || [ $((avoid - b)) -ge 100 ] || continue
		ss -Hlnut "( sport >= :$b and sport <= :$((b + 99)) )" | grep -q . \
			|| { echo "$b"; return; }
	done
	fail "no free relay port block"
}

# turnd_store LISTEN [AVOID]: a new store at $PBXEDGE_DB for a turnd that
# listens on LISTEN, its relay range a block of 100 ports from relay_base
# (AVOID as there), whose first port is left in LO.
turnd_store() {
	LO=$(relay_base "${2:-}")
	ok R init >/dev/null
	ok R set turnd.listen "$1"
	ok R set turnd.min-port "$LO"
	ok R set turnd.max-port "$((LO + 99))"
}

# ns_single PREFIX ADDR: a network namespace $NS (PREFIX and this shell's
# pid; deleted when the case exits) with lo up and ADDR/24 on a veth pair
# inside it: a non-loopback address that nothing outside reaches.  N CMD...
# runs a command in it.
ns_single() {
	NS=$1$$
	at_exit 'ip netns del "$NS"'
	ip netns add "$NS"
	ip -n "$NS" link set lo up
	ip -n "$NS" link add v0 type veth peer name v1
	ip -n "$NS" addr add "$2/24" dev v0
	ip -n "$NS" link set v0 up
	ip -n "$NS" link set v1 up
}
N() { ip netns exec "$NS" "$@"; }

# listening PORT: true if something listens on TCP PORT.
listening() {
	ss -Hltn "sport = :$1" | grep -q LISTEN
}

wait_listening() {
	local port=$1 secs=${2:-10} i
	for ((i = 0; i < secs * 10; i++)); do
		listening "$port" && return 0
		sleep 0.1
	done
	fail "nothing listens on port $port after ${secs}s"
}

wait_closed() {
	local port=$1 secs=${2:-10} i
	for ((i = 0; i < secs * 10; i++)); do
		listening "$port" || return 0
		sleep 0.1
	done
	fail "port $port still listening after ${secs}s"
}

# make_certs DIR NAME...: a test CA and a server certificate for the names
# (DNS names and IP addresses), made with certtool.  Files: DIR/ca.pem,
# DIR/server.pem (chain), DIR/server.key, and DIR/client.pem/.key signed by
# the same CA.
make_certs() {
	local dir=$1
	shift
	mkdir -p "$dir"
	certtool --generate-privkey --key-type ecdsa --outfile "$dir/ca.key" 2>/dev/null
	cat >"$dir/ca.tmpl" <<TMPL
cn = "pbxedge test CA"
ca
cert_signing_key
expiration_days = 30
TMPL
	certtool --generate-self-signed --load-privkey "$dir/ca.key" --template "$dir/ca.tmpl" \
		--outfile "$dir/ca.pem" 2>/dev/null
	local tmpl="$dir/server.tmpl" n
	{
		echo "cn = \"$1\""
		for n in "$@"; do
			if [[ "$n" =~ ^[0-9.]+$ || "$n" == *:* ]]; then
				echo "ip_address = \"$n\""
			else
				echo "dns_name = \"$n\""
			fi
		done
		echo "tls_www_server"
		echo "encryption_key"
		echo "signing_key"
		echo "expiration_days = 30"
	} >"$tmpl"
	certtool --generate-privkey --key-type ecdsa --outfile "$dir/server.key" 2>/dev/null
	certtool --generate-certificate --load-privkey "$dir/server.key" --load-ca-certificate \
		"$dir/ca.pem" --load-ca-privkey "$dir/ca.key" --template "$tmpl" \
		--outfile "$dir/server.crt" 2>/dev/null
	cat "$dir/server.crt" "$dir/ca.pem" >"$dir/server.pem"
	cat >"$dir/client.tmpl" <<TMPL
cn = "phone-1"
tls_www_client
signing_key
expiration_days = 30
TMPL
	certtool --generate-privkey --key-type ecdsa --outfile "$dir/client.key" 2>/dev/null
	certtool --generate-certificate --load-privkey "$dir/client.key" --load-ca-certificate \
		"$dir/ca.pem" --load-ca-privkey "$dir/ca.key" --template "$dir/client.tmpl" \
		--outfile "$dir/client.pem" 2>/dev/null
}

# start_http_backend NAME [--cert F --key F]: run the echo backend, set
# PORT_NAME to its port.
start_http_backend() {
	local name=$1
	shift
	start "$name" python3 "$PBX_SRC/tests/integration/peers/http_echo.py" --label "$name" \
		--port-file "$T/$name.port" "$@"
	local i
	for ((i = 0; i < 100; i++)); do
		[ -s "$T/$name.port" ] && break
		sleep 0.05
	done
	[ -s "$T/$name.port" ] || fail "backend $name did not start: $(cat "$T/$name.log")"
	eval "PORT_$name=$(cat "$T/$name.port")"
}

# coturn_loopback: coturn's turnserver on 127.0.0.1 with long-term
# credentials (realm pbxedge, user alice:secret), loopback peers allowed,
# a relay range of its own, UDP/TCP on $CP and TLS on $CTP with the
# certificate of make_certs in $T/pki; log in $T/coturn.log.  Sets CP,
# CTP, CLO (the first relay port).
coturn_loopback() {
	CP=$(free_udp)
	CTP=$(free_port)
	CLO=$(relay_base)
	cat >"$T/turnserver.conf" <<CONF
listening-ip=127.0.0.1
listening-port=$CP
tls-listening-port=$CTP
cert=$T/pki/server.pem
pkey=$T/pki/server.key
relay-ip=127.0.0.1
lt-cred-mech
realm=pbxedge
user=alice:secret
allow-loopback-peers
min-port=$CLO
max-port=$((CLO + 99))
no-dtls
no-cli
verbose
simple-log
log-file=$T/coturn.log
pidfile=$T/turnserver.pid
userdb=$T/turndb
CONF
	start coturn turnserver -c "$T/turnserver.conf"
	wait_udp "$CP"
}
