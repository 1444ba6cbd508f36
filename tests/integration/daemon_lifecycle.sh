#!/usr/bin/env bash
# daemon_lifecycle - the four daemons on the shared skeleton, driven as an
# administrator would: start, listen where the store says, follow rpctl
# changes without a restart, drop blacklisted clients, report status, go to
# the background with a pidfile, drop privileges, refuse a second instance,
# stop cleanly on SIGTERM.  Peers: curl (as the client), ss.
. "$(dirname "$0")/lib.sh"
need curl ss

ok R init >/dev/null
p1=$(free_port)
p2=$(free_port)
ok R listen http "$p1" --addr 127.0.0.1
ok R listen sip "$p2" --addr 127.0.0.1
ok R name add example.com
ok R target example.com http 127.0.0.1 --plain 9 --tls 10

# --check prints the routing as understood: encryption kept with both ports.
"$RPD" --check >"$T/check.out" || fail "rpd --check refused a valid configuration"
grep -Eq '^ +http +-> 127.0.0.1 port 9 plain$' "$T/check.out" || fail "check: $(cat "$T/check.out")"
grep -Eq '^ +https +-> 127.0.0.1 port 10 tls +\(service type not served\)$' "$T/check.out" \
	|| fail "check: $(cat "$T/check.out")"
grep -q "^configuration OK$" "$T/check.out" || fail "check verdict"
# One port only: every request uses it (plain -> TLS conversion).
ok R target example.com ldap 127.0.0.1 --tls 636
"$RPD" --check | grep -Eq '^ +ldap +-> 127.0.0.1 port 636 tls' || fail "encryption conversion"
# A TLS port without a certificate is invalid.
ok R listen https "$(free_port)" --addr 127.0.0.1
set +e
"$RPD" --check >"$T/check2.out" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || fail "rpd --check accepted https without a certificate"
grep -q "problem: rpd.tls-cert is not set" "$T/check2.out" || fail "check2: $(cat "$T/check2.out")"
touch "$T/cert.pem" "$T/key.pem"
ok R set rpd.tls-cert "$T/cert.pem"
ok R set rpd.tls-key "$T/key.pem"
ok "$RPD" --check >/dev/null
ok R listen https off

start rpd "$RPD" --foreground --workers 2 --log-level debug
start turnd "$TURND" --foreground
start stund "$STUND" --foreground
start natd "$NATD" --foreground
for d in rpd turnd stund natd; do
	wait_log "$T/$d.log" "ready workers="
done
grep -q "listening service=http proto=tcp addr=127.0.0.1:$p1 workers=2" "$T/rpd.log" || fail "http listener"
grep -q "listening service=sip proto=tcp addr=127.0.0.1:$p2 workers=2" "$T/rpd.log" || fail "sip listener"

# A client is accepted and answered: example.com has no backend running, so
# the answer is a 502 and the log says why.
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "Host: example.com" "http://127.0.0.1:$p1/" || true)
[ "$code" = 502 ] || fail "curl: expected 502 from rpd, got $code"
wait_log "$T/rpd.log" "refused client=127.0.0.1:[0-9]+ service=http name=example.com reason=target-failed"

# Blacklisted: dropped at accept, and the whitelist wins over it.
ok R blacklist add 127.0.0.0/8 --minutes 5 --reason test
wait_log "$T/rpd.log" "config-reloaded generation=[0-9]+ .* blacklist=1"
curl -s -m 5 -H "Host: example.com" "http://127.0.0.1:$p1/" -o /dev/null || true
wait_log "$T/rpd.log" "connection-dropped service=http client=127.0.0.1:[0-9]+ reason=blacklisted"
ok R whitelist add 127.0.0.1
wait_log "$T/rpd.log" "whitelist=1"
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "Host: example.com" "http://127.0.0.1:$p1/" || true)
[ "$code" = 502 ] || fail "whitelisted client was dropped ($code)"
ok R whitelist del 127.0.0.1
ok R blacklist del 127.0.0.0/8

# Changes apply without a restart: move a listener, stop another.
p3=$(free_port)
ok R listen http "$p3" --addr 127.0.0.1
ok R listen sip off
wait_listening "$p3"
wait_closed "$p1"
wait_closed "$p2"
grep -q "listener-closed service=sip addr=127.0.0.1:$p2 reason=config-changed" "$T/rpd.log" \
	|| fail "sip listener not closed"

# A listener that cannot be bound is logged once and retried.
blocker=$(free_port)
python3 -c "
import socket, time, sys
s = socket.socket(); s.bind(('127.0.0.1', $blocker)); s.listen(1)
open('$T/blocker.ready', 'w').close()
time.sleep(3)
" &
bp=$!
PIDS+=("$bp")
while [ ! -e "$T/blocker.ready" ]; do sleep 0.05; done
ok R listen sips "$blocker" --addr 127.0.0.1
wait_log "$T/rpd.log" "listen-failed service=sips addr=127.0.0.1:$blocker reason=bind-failed error=\"Address already in use\""
wait "$bp" || true
wait_log "$T/rpd.log" "listening service=sips proto=tcp addr=127.0.0.1:$blocker" 10
[ "$(grep -c "listen-failed service=sips" "$T/rpd.log")" = 1 ] || fail "bind failure logged more than once"

# Status shows every daemon running.
R status >"$T/status.out"
for d in rpd turnd stund natd; do
	grep -Eq "^  $d +running +pid [0-9]+" "$T/status.out" || fail "status: $d: $(cat "$T/status.out")"
done

# A second rpd on the same store is refused (it would share the ports).
set +e
"$RPD" --foreground >"$T/rpd2.log" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || fail "a second rpd started (exit $rc)"
grep -q "reason=already-running detail=\"another rpd uses this store\"" "$T/rpd2.log" || fail "rpd2: $(cat "$T/rpd2.log")"

# SIGTERM: every daemon exits 0; status says stopped; counters were kept.
for d in rpd turnd stund natd; do
	pid=$(eval echo "\$PID_$d")
	kill -TERM "$pid"
	wait_exit "$pid"
	[ "$EXIT_STATUS" = 0 ] || fail "$d exited $EXIT_STATUS"
	grep -q "stopped reason=signal" "$T/$d.log" || fail "$d did not log its stop"
done
R status >"$T/status.out"
for d in rpd turnd stund natd; do
	grep -Eq "^  $d +stopped " "$T/status.out" || fail "status after stop: $(cat "$T/status.out")"
done
grep -Eq "^  rpd +connections-accepted +[3-9]" "$T/status.out" || fail "counters: $(cat "$T/status.out")"
grep -Eq "^  rpd +connections-blacklisted +1$" "$T/status.out" || fail "counters: $(cat "$T/status.out")"

# In the background: the starter returns once the daemon is ready; the
# pidfile names it; relative paths still work after the chdir to /.
mkdir "$T/rel"
(cd "$T" && "$RPD" --db pbxedge.db --pidfile rel/rpd.pid --log-file rel/rpd.log) || fail "background start failed"
pid=$(cat "$T/rel/rpd.pid")
PIDS+=("$pid")
kill -0 "$pid" || fail "pidfile names no process"
listening "$p3" || fail "backgrounded rpd does not listen"
mv "$T/rel/rpd.log" "$T/rel/rpd.log.1"
kill -HUP "$pid"
wait_log "$T/rel/rpd.log" "logs-reopened signal=SIGHUP"
kill -TERM "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "backgrounded rpd did not stop"
[ ! -e "$T/rel/rpd.pid" ] || fail "pidfile left behind"
# A start-up failure in the background is reported by the exit status.
set +e
"$RPD" --db "$T/nowhere/x.db" --log-file "$T/rel/fail.log"
rc=$?
set -e
[ "$rc" = 1 ] || fail "background start on a bad store exited $rc"

# Dropping privileges (needs root): binds as root, runs as the user, and a
# store it creates belongs to that user.
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	chmod 0711 "$T"
	mkdir -m 0777 "$T/u"
	"$RPCTL" --db "$T/u/p.db" init >/dev/null
	chown nobody "$T/u/p.db"
	"$RPCTL" --db "$T/u/p.db" listen http "$(free_port)" --addr 127.0.0.1
	start rpdu "$RPD" --foreground --db "$T/u/p.db" --user nobody
	wait_log "$T/rpdu.log" "privileges-dropped user=nobody"
	wait_log "$T/rpdu.log" "ready workers="
	uid=$(id -u nobody)
	grep -Eq "^Uid:\s+$uid\s+$uid\s+$uid\s+$uid$" "/proc/$PID_rpdu/status" || fail "not running as nobody"
	grep -q "^CapEff:\s*0000000000000000$" "/proc/$PID_rpdu/status" || fail "capabilities kept"
	[ "$(stat -c %U "$T/u/p.db-wal")" = nobody ] || fail "WAL file not owned by the service user"
	kill -TERM "$PID_rpdu"
	wait_exit "$PID_rpdu"
	[ "$EXIT_STATUS" = 0 ] || fail "rpd --user exited $EXIT_STATUS"
	# A store created at start-up is created as the user.
	start rpdn "$RPD" --foreground --db "$T/u/new.db" --user nobody
	wait_log "$T/rpdn.log" "ready workers="
	[ "$(stat -c %U "$T/u/new.db")" = nobody ] || fail "new store not owned by the service user"
	kill -TERM "$PID_rpdn"
	wait_exit "$PID_rpdn"
else
	echo "note: not root; privilege drop not exercised" >&2
fi
echo "daemon_lifecycle: ok"
