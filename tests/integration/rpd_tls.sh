#!/usr/bin/env bash
# rpd_tls - TLS at rpd: client certificates requested, not required, and
# verified against rpd.trust-ca; the certificate replaced on disk is picked
# up by new connections while a live one keeps working; SIGTERM lets a
# transfer in progress finish.  Peers: curl, gnutls-cli, certtool, python3.
. "$(dirname "$0")/lib.sh"
need curl gnutls-cli certtool python3 ss

ok R init >/dev/null
make_certs "$T/pki" alpha.example.com
make_certs "$T/pki2" alpha.example.com   # another CA: the replacement
make_certs "$T/rogue" alpha.example.com  # signs a client cert rpd must not trust
start_http_backend alpha
hsp=$(free_port)
hp=$(free_port)
cp "$T/pki/server.pem" "$T/rp.pem"
cp "$T/pki/server.key" "$T/rp.key"
ok R listen https "$hsp" --addr 127.0.0.1
ok R listen http "$hp" --addr 127.0.0.1
ok R set rpd.tls-cert "$T/rp.pem"
ok R set rpd.tls-key "$T/rp.key"
ok R set rpd.trust-ca "$T/pki/ca.pem"
ok R name add alpha.example.com
ok R target alpha.example.com http 127.0.0.1 --plain "$PORT_alpha"
start rpd "$RPD" --foreground --workers 2 --drain-timeout 20
wait_log "$T/rpd.log" "ready workers=2"

https() { curl -s -m 10 --resolve "alpha.example.com:$hsp:127.0.0.1" "$@"; }
ok https --cacert "$T/pki/ca.pem" "https://alpha.example.com:$hsp/none" -o /dev/null
wait_log "$T/rpd.log" "connection client=[^ ]+ service=https .* cert=none outcome=ok"
ok https --cacert "$T/pki/ca.pem" --cert "$T/pki/client.pem" --key "$T/pki/client.key" \
	"https://alpha.example.com:$hsp/good" -o /dev/null
wait_log "$T/rpd.log" "cert=verified outcome=ok"
ok https --cacert "$T/pki/ca.pem" --cert "$T/rogue/client.pem" --key "$T/rogue/client.key" \
	"https://alpha.example.com:$hsp/rogue" -o /dev/null
wait_log "$T/rpd.log" "cert=unverified outcome=ok"

# A live TLS connection, held open by a client that sends a request every
# half second for six seconds.
python3 - "$hsp" "$T/pki/ca.pem" >"$T/live.out" 2>&1 <<'PY' &
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))),
                    server_hostname="alpha.example.com")
issuer = dict(x[0] for x in s.getpeercert()["issuer"])["commonName"]
f = s.makefile("rb")
for i in range(12):
    s.sendall(b"GET /live/%d HTTP/1.1\r\nHost: alpha.example.com\r\n\r\n" % i)
    line = f.readline()
    assert line.startswith(b"HTTP/1.1 200"), line
    length = 0
    while True:
        h = f.readline()
        if h in (b"\r\n", b""):
            break
        if h.lower().startswith(b"content-length:"):
            length = int(h.split(b":")[1])
    f.read(length)
    time.sleep(0.5)
print("live ok", issuer)
PY
live=$!
sleep 1
# Replace the certificate and key on disk (a new CA's chain).
cp "$T/pki2/server.key" "$T/rp.key.new"
cp "$T/pki2/server.pem" "$T/rp.pem.new"
mv "$T/rp.key.new" "$T/rp.key"
mv "$T/rp.pem.new" "$T/rp.pem"
wait_count "$T/rpd.log" "tls-credentials-loaded cert=$T/rp.pem" 2 10
# New connections get the new certificate ...
ok https --cacert "$T/pki2/ca.pem" "https://alpha.example.com:$hsp/new" -o /dev/null
https --cacert "$T/pki/ca.pem" "https://alpha.example.com:$hsp/old" -o /dev/null \
	&& fail "the old certificate is still served to new connections"
# ... and the live one was not dropped.
wait "$live" || fail "live connection dropped: $(cat "$T/live.out")"
grep -q "^live ok pbxedge test CA" "$T/live.out" || fail "live: $(cat "$T/live.out")"

# A broken replacement keeps the working certificate in service.
echo "not a key" >"$T/rp.key"
wait_log "$T/rpd.log" "tls-credentials-failed reason=load-failed .*keeping the previous certificate" 10
ok https --cacert "$T/pki2/ca.pem" "https://alpha.example.com:$hsp/still" -o /dev/null

# SIGTERM while a download is under way: it completes, then rpd exits 0.
curl -s -m 60 --limit-rate 4M -H "Host: alpha.example.com" "http://127.0.0.1:$hp/big/40000000" \
	-o "$T/download" -w '%{size_download}' >"$T/download.size" &
dl=$!
sleep 1
kill -TERM "$PID_rpd"
wait_log "$T/rpd.log" "stopping signal=SIGTERM sessions=1"
sleep 0.5
curl -s -m 2 -H "Host: alpha.example.com" "http://127.0.0.1:$hp/new" -o /dev/null \
	&& fail "a new connection was accepted while draining"
wait "$dl" || true
[ "$(cat "$T/download.size")" = 40000000 ] || fail "download cut at $(cat "$T/download.size") bytes"
wait_exit "$PID_rpd" 30
[ "$EXIT_STATUS" = 0 ] || fail "rpd exit $EXIT_STATUS"
grep -q "stopped reason=signal" "$T/rpd.log" || fail "no clean stop"
echo "rpd_tls: ok"
