# lib.sh - what the benchmark scripts share; sourced from the source tree's
# top.
#   bench_setup BUILD TESTS PACKAGE...: install the missing Debian packages
#     (apt-get), configure BUILD as a release build if missing (TESTS:
#     enabled or disabled, the tests' tree with the load generators), build
#     it, and make $T, a scratch folder removed on exit with every process
#     whose pid was added to pids.
#   port: a loopback port free for both TCP and UDP (a server that listens
#     on both must not collide with, say, a client's TCP connection).
#   wait_udp PORT / wait_tcp PORT: until something listens there,
#     else the last lines of $T's logs and exit 1 (10 s).

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

bench_setup() {
	local build=$1 tests=$2 p need=()
	shift 2
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			need+=("$p")
	done
	if [ ${#need[@]} -gt 0 ]; then
		sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends "${need[@]}"
	fi
	if [ ! -d "$build" ]; then
		meson setup "$build" --buildtype=release -Dtests="$tests" >/dev/null
	fi
	ninja -C "$build" >/dev/null
	T=$(mktemp -d /tmp/pbx-bench.XXXXXX)
	pids=()
	trap bench_cleanup EXIT
}

bench_cleanup() {
	local p
	for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$T"
}

port() {
	python3 - <<'PY'
import socket
for _ in range(50):
    t = socket.socket()
    t.bind(("127.0.0.1", 0))
    p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p))
    except OSError:
        continue
    print(p)
    break
else:
    raise SystemExit("no port free for both TCP and UDP")
PY
}

wait_listen() { # ss flags, port
	for _ in $(seq 200); do
		ss "-Hl$1" "sport = :$2" | grep -q . && return 0
		sleep 0.05
	done
	echo "port $2 not up" >&2
	tail -n 5 "$T"/*.log "$T"/*/*.log >&2 2>/dev/null || true
	exit 1
}
wait_udp() { wait_listen un "$1"; }
wait_tcp() { wait_listen tn "$1"; }
