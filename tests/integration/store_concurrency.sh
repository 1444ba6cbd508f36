#!/usr/bin/env bash
# store_concurrency - the store is shared by rpctl and four daemons: two
# processes writing at once while daemons poll it never see "database is
# locked", every write lands, and the daemons pick the changes up; a fresh
# store opened by four daemons and three rpctl at the same instant (boot)
# comes up every time.  Peers: none beyond the shell.
. "$(dirname "$0")/lib.sh"
need ss

ok "$RPCTL" init >/dev/null
port=$(free_port)
ok "$RPCTL" listen http "$port" --addr 127.0.0.1
start rpd "$RPD" --foreground --workers 2
start natd "$NATD" --foreground
wait_log "$T/rpd.log" "ready workers=2"
wait_log "$T/natd.log" "ready workers=1"

N=120
writer() {
	local w=$1 i
	for ((i = 1; i <= N; i++)); do
		"$RPCTL" name add "n$i.w$w.example" &&
			"$RPCTL" target "n$i.w$w.example" http "10.$w.0.$((i % 250 + 1))" --plain 80 &&
			"$RPCTL" set rpd.suspicious-per-minute "$((w * 1000 + i))" &&
			"$RPCTL" blacklist add "198.51.$w.$((i % 250 + 1))" --minutes 5 --reason "w$w" ||
			echo "writer $w: iteration $i failed"
	done
}
reader() {
	local i
	for ((i = 1; i <= N; i++)); do
		"$RPCTL" status >/dev/null && "$RPCTL" export >/dev/null || echo "reader: iteration $i failed"
	done
}
writer 1 >"$T/w1.out" 2>&1 &
w1=$!
writer 2 >"$T/w2.out" 2>&1 &
w2=$!
reader >"$T/r.out" 2>&1 &
r=$!
wait "$w1" "$w2" "$r"

cat "$T/w1.out" "$T/w2.out" "$T/r.out" >"$T/all.out"
if [ -s "$T/all.out" ]; then
	fail "concurrent commands failed: $(head -5 "$T/all.out")"
fi
[ "$("$RPCTL" name list | tail -n +2 | wc -l)" -eq $((2 * N)) ] || fail "names lost"
[ "$("$RPCTL" blacklist list | tail -n +2 | wc -l)" -eq $((2 * N)) ] || fail "blacklist entries lost"

# The daemons followed: their latest snapshot has every name.
wait_log "$T/rpd.log" "config-reloaded generation=[0-9]+ names=$((2 * N)) "
wait_log "$T/natd.log" "config-reloaded generation=[0-9]+ names=$((2 * N)) "
kill -TERM "$PID_rpd" "$PID_natd"
wait_exit "$PID_rpd"
[ "$EXIT_STATUS" = 0 ] || fail "rpd exit $EXIT_STATUS"
wait_exit "$PID_natd"
[ "$EXIT_STATUS" = 0 ] || fail "natd exit $EXIT_STATUS"
if grep -il "locked" "$T"/*.log "$T"/*.out; then
	fail "'locked' appeared: $(grep -ih locked "$T"/*.log "$T"/*.out | head -3)"
fi

# Boot: a fresh store, four daemons and three rpctl init at the same time.
for round in $(seq 1 8); do
	rm -f "$PBXEDGE_DB" "$PBXEDGE_DB-wal" "$PBXEDGE_DB-shm"
	pids=()
	for d in rpd turnd stund natd; do
		bin=$(eval echo "\$$(echo "$d" | tr a-z A-Z)")
		"$bin" --foreground >"$T/boot-$d.log" 2>&1 &
		pids+=("$!")
		PIDS+=("$!")
	done
	inits=()
	for k in 1 2 3; do
		"$RPCTL" init >"$T/boot-init$k.out" 2>&1 &
		inits+=("$!")
	done
	for p in "${inits[@]}"; do
		wait "$p" || fail "round $round: rpctl init failed: $(cat "$T"/boot-init*.out)"
	done
	for d in rpd turnd stund natd; do
		wait_log "$T/boot-$d.log" "ready workers=" 15
	done
	for p in "${pids[@]}"; do
		kill -TERM "$p"
		wait_exit "$p"
		[ "$EXIT_STATUS" = 0 ] || fail "round $round: a daemon exited $EXIT_STATUS"
	done
	if grep -il "locked\|start-failed" "$T"/boot-*; then
		fail "round $round: $(grep -ih "locked\|start-failed" "$T"/boot-* | head -3)"
	fi
done
echo "store_concurrency: ok"
