#!/usr/bin/env bash
# stund_vs_coturn - Binding requests answered per second by stund and by
# coturn's turnserver in STUN-only mode (stun-only, no-auth), side by side
# in one run on the same cores, with a minimal recvmmsg/sendmmsg UDP echo as
# the ceiling of what the kernel allows, all driven by the same load
# generator (tests/bench/stund_load.c: sendmmsg from several sockets at a
# fixed window, counting answers with our transaction IDs).  Prints a
# Markdown table with the ratios stund/coturn and stund/ceiling; only
# ratios mean anything (the load generator shares the machine).
#
# Usage: tests/bench/stund_vs_coturn.sh [BUILD_DIR]   (default: build-bench,
#        configured as a release build if missing)
# Env:   DURATION (seconds per measurement, default 10), SOCKETS (default 8),
#        WINDOW (requests in flight per socket, default 32), TWO=1 to add
#        rows with two server threads (unpinned), PASSES (default 1: runs of
#        the whole sequence; the table shows each).
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$(pwd)
BUILD=${1:-build-bench}
DURATION=${DURATION:-10}
SOCKETS=${SOCKETS:-8}
WINDOW=${WINDOW:-32}
PASSES=${PASSES:-1}

. tests/bench/lib.sh
bench_setup "$BUILD" enabled coturn build-essential util-linux
LOADGEN="$BUILD/tests/bench/stund_load"
[ -x "$LOADGEN" ] || { echo "$LOADGEN missing: configure $BUILD with -Dtests=enabled" >&2; exit 1; }
# Servers on CPU 1, the load generator on CPU 0 (with two CPUs or more):
# one server thread against one load thread.
ncpu=$(nproc)
srv_cpu=() load_cpu=()
if [ "$ncpu" -ge 2 ]; then
	srv_cpu=(taskset -c 1)
	load_cpu=(taskset -c 0)
fi
measure() { # PORT [--echo]
	"${load_cpu[@]}" "$LOADGEN" load 127.0.0.1 "$1" "$DURATION" "$SOCKETS" "$WINDOW" \
		${2:-} 2>>"$T/load.log" | sed -n 's/^answers\/s //p'
}
stop() { kill "$1"; wait "$1" 2>/dev/null || true; }

# stund: rate limit on but out of the way (the buckets are still taken).
export PBXEDGE_DB="$T/pbxedge.db"
"$BUILD/ctl/rpctl" init >/dev/null
"$BUILD/ctl/rpctl" set stund.rate-per-second 1000000 >/dev/null
"$BUILD/ctl/rpctl" set stund.rate-burst 1000000 >/dev/null
run_stund() { # WORKERS PIN...
	local w=$1 sp
	shift
	sp=$(port)
	"$BUILD/ctl/rpctl" set stund.primary "127.0.0.1:$sp" >/dev/null
	"$@" "$BUILD/stund/stund" --foreground --workers "$w" --log-level warning \
		>"$T/stund.log" 2>&1 &
	local pid=$!
	pids+=("$pid")
	wait_udp "$sp"
	measure "$sp"
	stop "$pid"
}
run_coturn() { # THREADS PIN...
	local n=$1 cp
	shift
	cp=$(port)
	cat >"$T/turnserver.conf" <<CONF
listening-ip=127.0.0.1
listening-port=$cp
stun-only
no-auth
no-tls
no-dtls
no-cli
relay-threads=$n
no-stdout-log
log-file=/dev/null
pidfile=$T/turnserver.pid
userdb=$T/turndb
CONF
	"$@" turnserver -c "$T/turnserver.conf" >"$T/coturn.log" 2>&1 &
	local pid=$!
	pids+=("$pid")
	wait_udp "$cp"
	measure "$cp"
	stop "$pid"
}
run_echo() { # PIN...
	local ep
	ep=$(port)
	"$@" "$LOADGEN" echo 127.0.0.1 "$ep" &
	local pid=$!
	pids+=("$pid")
	wait_udp "$ep"
	measure "$ep" --echo
	stop "$pid"
}
ratio() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print('%.2f' % (a / b) if b else '-')" "$1" "$2"; }

coturn_v=$(turnserver --version 2>/dev/null | head -n 1 || echo "?")
echo "| threads | echo ceiling | stund | coturn $coturn_v stun-only | stund / coturn | stund / ceiling |"
echo "|---|---|---|---|---|---|"
for _ in $(seq "$PASSES"); do
	e=$(run_echo "${srv_cpu[@]}")
	s=$(run_stund 1 "${srv_cpu[@]}")
	c=$(run_coturn 1 "${srv_cpu[@]}")
	echo "| 1 (pinned) | $e | $s | $c | $(ratio "$s" "$c") | $(ratio "$s" "$e") |"
	if [ "${TWO:-0}" = 1 ]; then
		s=$(run_stund 2)
		c=$(run_coturn 2)
		echo "| 2 | - | $s | $c | $(ratio "$s" "$c") | - |"
	fi
done
echo
echo "load generator: $SOCKETS sockets, $WINDOW requests in flight each, ${DURATION}s per measurement after 1s of warm-up"
grep -h "invalid" "$T/load.log" | awk '{ inv += $5 } END { print "invalid answers seen: " inv + 0 }'
