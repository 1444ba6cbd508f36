#!/usr/bin/env bash
# turnd_vs_coturn - relayed packets per second and loss through turnd and
# through coturn's turnserver, driven by the same client at the same
# offered load (coturn's turnutils_uclient with channels, echoed by
# turnutils_peer), in one run on the same cores; then the memory each
# server takes per allocation, with ALLOCS live allocations made by a
# scripted client (tests/integration/peers/stun_talk.py's TURN messages).
# Then the batched load generator (tests/bench/turn_load.c: LOAD_CLIENTS
# allocations with channels, sendmmsg/recvmmsg, its own batched echo as
# the peer) at several equal offered loads, each server pinned to CPU 1
# (SERVER_CPU) with one relay thread, load generator and echo pinned to
# CPU 0 (LOAD_CPU): delivered rate, loss and round trips of both, and
# the ceiling of load generator and echo alone (--direct, no server).
# Prints Markdown tables with the ratios turnd/coturn; only ratios mean
# anything (client, peer and server share the machine).
#
# Usage: tests/bench/turnd_vs_coturn.sh [BUILD_DIR]   (default: build-bench,
#        configured as a release build with the tests' tree if missing)
# Env:   CLIENTS (uclient -m, default 20), MSGS (per client, default 2000),
#        INTERVAL (ms between a client's messages, uclient -z, default 1),
#        LEN (bytes per message, default 160), ALLOCS (default 5000),
#        PASSES (default 1), UCLIENT (0 skips the uclient and memory rows),
#        LOADS (offered packets/s for turn_load, 0 = closed loop, the
#        maximum; default "20000 50000 100000 0"), LOAD_CLIENTS (default
#        20), WINDOW (closed loop: datagrams in flight per client, default
#        16), DURATION (seconds per load, default 5), SEND (1: Send/Data
#        indications instead of channels), SERVER_CPU, LOAD_CPU.
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$(pwd)
BUILD=${1:-build-bench}
CLIENTS=${CLIENTS:-20}
MSGS=${MSGS:-2000}
INTERVAL=${INTERVAL:-1}
LEN=${LEN:-160}
ALLOCS=${ALLOCS:-5000}
PASSES=${PASSES:-1}
UCLIENT=${UCLIENT:-1}
LOADS=${LOADS:-20000 50000 100000 0}
LOAD_CLIENTS=${LOAD_CLIENTS:-20}
WINDOW=${WINDOW:-16}
DURATION=${DURATION:-5}
SEND=${SEND:-0}
SERVER_CPU=${SERVER_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}

. tests/bench/lib.sh
bench_setup "$BUILD" enabled coturn
LOADGEN="$BUILD/tests/bench/turn_load"
[ -x "$LOADGEN" ] || { echo "$LOADGEN missing: configure $BUILD with -Dtests=enabled" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
stop() { kill "$1"; wait "$1" 2>/dev/null || true; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
ratio() { python3 -c "
import sys
try:
    a, b = float(sys.argv[1]), float(sys.argv[2])
    print('%.2f' % (a / b) if b else '-')
except ValueError:
    print('-')" "$1" "$2"; }

PEER=$(port)
turnutils_peer -L 127.0.0.1 -p "$PEER" >/dev/null 2>&1 &
pids+=("$!")

# One uclient run: prints "PACKETS_PER_S LOSS_PERCENT" (relayed packets
# that came back per second of the run, both directions through the relay
# counted once per round trip).
drive() { # PORT
	local t0 t1 out sent recv
	t0=$(date +%s.%N)
	out=$(timeout 300 turnutils_uclient -u alice -w pw -e 127.0.0.1 -r "$PEER" -n "$MSGS" \
		-m "$CLIENTS" -l "$LEN" -z "$INTERVAL" -c -p "$1" 127.0.0.1 2>&1 || true)
	t1=$(date +%s.%N)
	sent=$(echo "$out" | sed -n 's/.*start_mclient: tot_send_msgs=\([0-9]*\), tot_recv_msgs=\([0-9]*\)$/\1/p')
	recv=$(echo "$out" | sed -n 's/.*start_mclient: tot_send_msgs=\([0-9]*\), tot_recv_msgs=\([0-9]*\)$/\2/p')
	python3 -c "import sys; s, r, d = int(sys.argv[1] or 0), int(sys.argv[2] or 0), float(sys.argv[4]) - float(sys.argv[3]); print('%.0f %.3f' % (r / d, 100.0 * (s - r) / s if s else 100))" \
		"$sent" "$recv" "$t0" "$t1"
}

# ALLOCS allocations held open by one process (one socket each); prints
# how many succeeded once they are all live, then waits for a signal.
cat >"$T/hold.py" <<'PY'
import importlib.util, os, socket, struct, sys, time, hashlib
spec = importlib.util.spec_from_file_location("t", sys.argv[1])
t = importlib.util.module_from_spec(spec)
spec.loader.exec_module(t)
port, n = int(sys.argv[2]), int(sys.argv[3])
socks, ok = [], 0
tr = (0x0019, struct.pack("!B3x", 17))
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(2)
    tid = os.urandom(12)
    s.sendto(t.message(0x0003, [tr], tid), ("127.0.0.1", port))
    a = t.attrs_of(s.recv(2048))
    realm, nonce = a[0x0014], a[0x0015]
    key = hashlib.md5(b"alice:" + realm + b":pw").digest()
    tid = os.urandom(12)
    s.sendto(t.signed(0x0003, [tr, (0x0006, b"alice"), (0x0014, realm), (0x0015, nonce)], tid, key),
             ("127.0.0.1", port))
    ok += t.error_of(s.recv(2048)) == ""
    socks.append(s)
print(ok, flush=True)
time.sleep(600)
PY
hold() { # PID PORT: prints "KB_PER_ALLOCATION MADE"
	local before after made hp
	before=$(rss_kb "$1")
	python3 "$T/hold.py" "$top/tests/integration/peers/stun_talk.py" "$2" "$ALLOCS" >"$T/hold.out" \
		2>"$T/hold.err" &
	hp=$!
	for _ in $(seq 1200); do [ -s "$T/hold.out" ] && break; sleep 0.1; done
	sleep 1
	after=$(rss_kb "$1")
	made=$(cat "$T/hold.out")
	if [ -z "$made" ] || [ -z "$after" ]; then
		echo "no allocations held (rss $before -> $after, made $made): $(tail -n 3 "$T/hold.err" "$T"/*.log)" >&2
		exit 1
	fi
	kill "$hp"
	wait "$hp" 2>/dev/null || true
	python3 -c "import sys; print('%.2f %s' % ((int(sys.argv[2]) - int(sys.argv[1])) / max(int(sys.argv[3]), 1), sys.argv[3]))" "$before" "$after" "$made"
}

export PBXEDGE_DB="$T/pbxedge.db"
"$BUILD/ctl/rpctl" init >/dev/null
"$BUILD/ctl/rpctl" turn user add alice pw >/dev/null
"$BUILD/ctl/rpctl" set turnd.allow-peer 127.0.0.1 >/dev/null
"$BUILD/ctl/rpctl" whitelist add 127.0.0.1 >/dev/null
"$BUILD/ctl/rpctl" set turnd.min-port 20000 >/dev/null
"$BUILD/ctl/rpctl" set turnd.max-port 29999 >/dev/null
start_turnd() {
	TP=$(port)
	"$BUILD/ctl/rpctl" set turnd.listen "127.0.0.1:$TP" >/dev/null
	"${server_cpu[@]}" "$BUILD/turnd/turnd" --foreground --workers 1 --log-level warning \
		>"$T/turnd.log" 2>&1 &
	TPID=$!
	pids+=("$TPID")
	wait_udp "$TP"
}
start_coturn() {
	CP=$(port)
	cat >"$T/turnserver.conf" <<CONF
listening-ip=127.0.0.1
listening-port=$CP
relay-ip=127.0.0.1
lt-cred-mech
realm=pbxedge
user=alice:pw
allow-loopback-peers
min-port=20000
max-port=29999
no-tls
no-dtls
no-cli
relay-threads=1
no-stdout-log
log-file=/dev/null
pidfile=$T/turnserver.pid
userdb=$T/turndb
CONF
	"${server_cpu[@]}" turnserver -c "$T/turnserver.conf" >"$T/coturn.log" 2>&1 &
	CPID=$!
	pids+=("$CPID")
	wait_udp "$CP"
}

coturn_v=$(turnserver --version 2>/dev/null | head -n 1 || echo "?")
server_cpu=()
if [ "$UCLIENT" = 1 ]; then
echo "Offered load: $CLIENTS clients x $MSGS messages of $LEN bytes, one every $INTERVAL ms each, channels (uclient -c)"
echo
echo "| measure | turnd | coturn $coturn_v | turnd / coturn |"
echo "|---|---|---|---|"
for _ in $(seq "$PASSES"); do
	start_turnd
	read -r t_rate t_loss < <(drive "$TP")
	stop "$TPID"
	start_coturn
	read -r c_rate c_loss < <(drive "$CP")
	stop "$CPID"
	echo "| relayed packets/s | $t_rate | $c_rate | $(ratio "$t_rate" "$c_rate") |"
	echo "| loss % | $t_loss | $c_loss | - |"
	start_turnd
	read -r t_mem t_made < <(hold "$TPID" "$TP")
	stop "$TPID"
	start_coturn
	read -r c_mem c_made < <(hold "$CPID" "$CP")
	stop "$CPID"
	echo "| KiB per allocation ($t_made / $c_made live) | $t_mem | $c_mem | $(ratio "$t_mem" "$c_mem") |"
done
fi

# turn_load at equal offered loads, servers pinned.
server_cpu=(taskset -c "$SERVER_CPU")
load_cpu=(taskset -c "$LOAD_CPU")
ECHO=$(port)
"${load_cpu[@]}" "$LOADGEN" echo "127.0.0.1:$ECHO" &
pids+=("$!")
wait_udp "$ECHO"
send_flag=()
[ "$SEND" = 1 ] && send_flag=(--send)
# One run: prints "DELIVERED_PER_S LOSS_PERCENT P50_US P99_US OFFERED_PER_S
# CPU_PERCENT CPU_US_PER_PACKET", the last two of the server PID (its
# user and system time over the run, set-up and release included, per
# round trip delivered); "-" without a server.
load() { # PID PORT RATE [FLAGS...]
	local out a b hz
	hz=$(getconf CLK_TCK)
	a=$([ "$1" = - ] || awk '{ print $14 + $15 }' "/proc/$1/stat")
	out=$("${load_cpu[@]}" "$LOADGEN" load "127.0.0.1:$2" "$DURATION" --user alice --password pw \
		--peer "127.0.0.1:$ECHO" --clients "$LOAD_CLIENTS" --rate "$3" --window "$WINDOW" \
		--len "$LEN" "${@:4}" 2>"$T/load.err") || {
		echo "turn_load failed: $(cat "$T/load.err") $(tail -n 3 "$T"/*.log)" >&2
		exit 1
	}
	b=$([ "$1" = - ] || awk '{ print $14 + $15 }' "/proc/$1/stat")
	echo "$out" | awk -v a="${a:--}" -v b="${b:--}" -v hz="$hz" -v d="$DURATION" '{
		cpu = "-"; per = "-"
		if (a != "-") {
			cpu = sprintf("%.0f", 100 * (b - a) / hz / d)
			per = $6 > 0 ? sprintf("%.1f", 1e6 * (b - a) / hz / ($6 * d)) : "-"
		}
		print $6, $8, $11, $15, $4, cpu, per }'
}
label() { if [ "$1" = 0 ]; then echo "max (closed loop, $WINDOW in flight per client)"; else echo "$1"; fi; }
echo
echo "turn_load: $LOAD_CLIENTS allocations, $LEN-byte $([ "$SEND" = 1 ] && echo "Send indications" || echo ChannelData), ${DURATION} s per load; servers on CPU $SERVER_CPU, load generator and echo on CPU $LOAD_CPU; uptime: $(uptime | sed 's/.*load average/load average/')"
echo
read -r e_rate _ e_p50 e_p99 _ < <(load - "$ECHO" 0 --direct)
echo "Ceiling of load generator and echo alone (no server, closed loop): $e_rate packets/s, round trip p50 $e_p50 us, p99 $e_p99 us"
echo
echo "Per server: delivered round trips/s, loss %, round trip p50 / p99 (us), CPU (% of one core), CPU us per round trip."
echo
echo "| offered packets/s | turnd delivered/s | loss % | RTT p50 / p99 | CPU % | CPU us/pkt | coturn delivered/s | loss % | RTT p50 / p99 | CPU % | CPU us/pkt | delivered turnd / coturn | CPU per packet coturn / turnd |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for _ in $(seq "$PASSES"); do
	for rate in $LOADS; do
		start_turnd
		read -r t_rate t_loss t_p50 t_p99 t_off t_cpu t_per < <(load "$TPID" "$TP" "$rate" "${send_flag[@]}")
		stop "$TPID"
		start_coturn
		read -r c_rate c_loss c_p50 c_p99 c_off c_cpu c_per < <(load "$CPID" "$CP" "$rate" "${send_flag[@]}")
		stop "$CPID"
		off=$(label "$rate")
		[ "$rate" = 0 ] && off="$off: $t_off / $c_off sent"
		echo "| $off | $t_rate | $t_loss | $t_p50 / $t_p99 | $t_cpu | $t_per | $c_rate | $c_loss | $c_p50 / $c_p99 | $c_cpu | $c_per | $(ratio "$t_rate" "$c_rate") | $(ratio "$c_per" "$t_per") |"
	done
done
