#!/usr/bin/env bash
# turnd_tls_reload - a certificate and key replaced on disk under a running
# turnd are served to new TLS connections within a few seconds, without a
# store change, while a connection made before keeps working; a broken
# replacement keeps the working certificate in service and says why.
# Peers: gnutls-cli, certtool, python3.
. "$(dirname "$0")/lib.sh"
need gnutls-cli certtool python3 ss

# serial_of FILE: the serial number of the first certificate in FILE.
serial_of() { certtool -i --infile "$1" 2>/dev/null | sed -n 's/^[[:space:]]*Serial Number (hex): //p' | head -1; }
# served PORT: the serial number of the certificate a new connection gets.
served() {
	timeout 10 gnutls-cli --insecure --print-cert -p "$1" 127.0.0.1 </dev/null 2>/dev/null |
		sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/{p;/END CERTIFICATE/q}' >"$T/served.pem"
	serial_of "$T/served.pem"
}
# wait_served PORT SERIAL: new connections get SERIAL within 10 seconds.
wait_served() {
	local got=
	for _ in $(seq 50); do
		got=$(served "$1")
		[ "$got" = "$2" ] && return 0
		sleep 0.2
	done
	fail "served certificate serial $got, wanted $2"
}

P=$(free_port)
TP=$(free_port)
turnd_store "127.0.0.1:$P"
make_certs "$T/pki" 127.0.0.1
make_certs "$T/pki2" 127.0.0.1   # the replacement, from another CA
old=$(serial_of "$T/pki/server.pem")
new=$(serial_of "$T/pki2/server.pem")
[ -n "$old" ] && [ -n "$new" ] && [ "$old" != "$new" ] || fail "serials: '$old' '$new'"
cp "$T/pki/server.pem" "$T/turn.pem"
cp "$T/pki/server.key" "$T/turn.key"
ok R set turnd.tls-listen "127.0.0.1:$TP"
ok R set turnd.tls-cert "$T/turn.pem"
ok R set turnd.tls-key "$T/turn.key"
start turnd "$TURND" --foreground --workers 2
wait_log "$T/turnd.log" "ready workers=2"
wait_listening "$TP"
wait_served "$TP" "$old"

# A connection made with the old certificate, asking for a Binding now and
# again after the replacement.
python3 - "$TP" "$T/pki/ca.pem" "$T/go" >"$T/live.out" 2>&1 <<'PY' &
import os, socket, ssl, struct, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))),
                    server_hostname="127.0.0.1")
def binding():
    tid = os.urandom(12)
    s.sendall(struct.pack("!HHI", 0x0001, 0, 0x2112A442) + tid)
    hdr = b""
    while len(hdr) < 20:
        hdr += s.recv(20 - len(hdr))
    kind, length = struct.unpack("!HH", hdr[:4])
    body = b""
    while len(body) < length:
        body += s.recv(length - len(body))
    assert kind == 0x0101 and hdr[8:20] == tid, hdr
binding()
print("first", flush=True)
for _ in range(300):
    if os.path.exists(sys.argv[3]):
        break
    time.sleep(0.1)
binding()
print("live ok", flush=True)
PY
live=$!
PIDS+=("$live")
for _ in $(seq 50); do grep -q first "$T/live.out" && break; sleep 0.1; done
grep -q first "$T/live.out" || fail "live connection: $(cat "$T/live.out")"

# Replace the pair on disk, as certbot and friends do: new files renamed
# over the old ones, the key first.
loaded=$(grep -c "tls-credentials-loaded cert=$T/turn.pem" "$T/turnd.log")
cp "$T/pki2/server.key" "$T/turn.key.new"
cp "$T/pki2/server.pem" "$T/turn.pem.new"
mv "$T/turn.key.new" "$T/turn.key"
mv "$T/turn.pem.new" "$T/turn.pem"
wait_count "$T/turnd.log" "tls-credentials-loaded cert=$T/turn.pem" $((loaded + 1)) 10
wait_served "$TP" "$new"
# The live connection was not dropped and still answers.
touch "$T/go"
wait "$live" || fail "live connection dropped: $(cat "$T/live.out")"
grep -q "^live ok" "$T/live.out" || fail "live: $(cat "$T/live.out")"

# A broken replacement keeps the working certificate in service.
echo "not a key" >"$T/turn.key"
wait_log "$T/turnd.log" "tls-credentials-failed reason=load-failed detail=\"cannot load certificate $T/turn.pem with key $T/turn.key: .*\" \(keeping the previous certificate\)" 10
[ "$(served "$TP")" = "$new" ] || fail "after a broken key: $(served "$TP")"
# ... logged once, not at every poll.
sleep 2.5
[ "$(grep -c "tls-credentials-failed" "$T/turnd.log")" -le 2 ] \
	|| fail "failure logged again and again: $(grep -c tls-credentials-failed "$T/turnd.log")"
# A good key again is taken.
cp "$T/pki2/server.key" "$T/turn.key"
wait_count "$T/turnd.log" "tls-credentials-loaded cert=$T/turn.pem" $((loaded + 2)) 10
wait_served "$TP" "$new"

kill -TERM "$PID_turnd"
wait_exit "$PID_turnd"
[ "$EXIT_STATUS" = 0 ] || fail "turnd exit $EXIT_STATUS"
echo "turnd_tls_reload: ok"
