#!/usr/bin/env bash
# rpd_http - HTTP and HTTPS through rpd with curl as the client and real
# HTTP/1.1 backends (Python's http.server): routing by Host, X-Forwarded-For,
# TLS terminated and forwarded plain, plain forwarded as TLS (verified
# against a CA), URL lists with the trailing-slash rule, a keep-alive
# connection whose second request is not allowed, request smuggling, a
# WebSocket upgrade, chunked uploads, HEAD, and a large download.
# Peers: curl, certtool, python3.
. "$(dirname "$0")/lib.sh"
need curl certtool python3 ss

ok R init >/dev/null
make_certs "$T/pki" rp.example.com alpha.example.com localhost 127.0.0.1
start_http_backend alpha
start_http_backend beta
start_http_backend gamma --cert "$T/pki/server.pem" --key "$T/pki/server.key"
hp=$(free_port)
hsp=$(free_port)
ok R listen http "$hp" --addr 127.0.0.1
ok R listen https "$hsp" --addr 127.0.0.1
ok R set rpd.tls-cert "$T/pki/server.pem"
ok R set rpd.tls-key "$T/pki/server.key"
ok R set rpd.target-ca "$T/pki/ca.pem"
# This case sends many bad requests on purpose; fraud detection has its own case.
ok R set rpd.suspicious-per-minute 100000
ok R name add alpha.example.com
ok R target alpha.example.com http 127.0.0.1 --plain "$PORT_alpha"
ok R name add beta.example.com
ok R target beta.example.com http 127.0.0.1 --plain "$PORT_beta"
ok R name add secure.example.com
ok R target secure.example.com http localhost --tls "$PORT_gamma"
ok R name add urls.example.com
ok R target urls.example.com http 127.0.0.1 --plain "$PORT_alpha"
ok R allow-url urls.example.com /PBX0/MY
ok R allow-url urls.example.com /PBX0/APPS/
ok R allow-url urls.example.com /upgrade
start rpd "$RPD" --foreground --workers 2
wait_log "$T/rpd.log" "ready workers=2"

# get HOST PATH [curl args...]: body to stdout; HTTP status in $T/status.
get() {
	local host=$1 path=$2
	shift 2
	curl -s -m 10 -o "$T/body" -w '%{http_code}' -H "Host: $host" "$@" \
		"http://127.0.0.1:$hp$path" >"$T/status" || true
	cat "$T/body"
}
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
header() { python3 -c "import json,sys; d=json.load(sys.stdin); print([v for k,v in d['headers'] if k.lower()=='$1'.lower()][-1])"; }

# Routing by Host (case-insensitive, port stripped) to two backends.
[ "$(get alpha.example.com /a | field 'd["label"]')" = alpha ] || fail "alpha: $(cat "$T/body")"
[ "$(get BETA.Example.com:$hp /b | field 'd["label"]')" = beta ] || fail "beta: $(cat "$T/body")"
# The backend sees X-Forwarded-For, appended to a client's own.
[ "$(get alpha.example.com /x | header x-forwarded-for)" = 127.0.0.1 ] || fail "XFF: $(cat "$T/body")"
[ "$(get alpha.example.com /x -H 'X-Forwarded-For: 10.1.2.3' | header x-forwarded-for)" = \
	"10.1.2.3, 127.0.0.1" ] || fail "XFF append: $(cat "$T/body")"

# HTTPS terminated at rpd, forwarded plain (the target has only a plain port).
out=$(curl -s -m 10 --cacert "$T/pki/ca.pem" --resolve "alpha.example.com:$hsp:127.0.0.1" \
	"https://alpha.example.com:$hsp/tls") || fail "curl over TLS failed"
[ "$(echo "$out" | field 'd["label"]')" = alpha ] || fail "https->http: $out"
curl -s -m 10 --tls-max 1.1 --cacert "$T/pki/ca.pem" --resolve "alpha.example.com:$hsp:127.0.0.1" \
	"https://alpha.example.com:$hsp/old" -o /dev/null && fail "TLS 1.1 was accepted"
wait_log "$T/rpd.log" "tls-failed client=127.0.0.1:[0-9]+ service=https reason=tls-failed"

# Plain forwarded as TLS (the target has only a TLS port), verified.
[ "$(get secure.example.com /s | field 'd["label"]')" = gamma ] || fail "http->https: $(cat "$T/body")"
grep -Eq "name=secure.example.com family=http target=127.0.0.1:$PORT_gamma/tls" "$T/rpd.log" \
	|| fail "no tls target in the log"

# Refusals the HTTP way, with reasons in the log.
get nosuch.example.com / >/dev/null
[ "$(cat "$T/status")" = 421 ] || fail "unknown name: $(cat "$T/status")"
wait_log "$T/rpd.log" "refused client=127.0.0.1:[0-9]+ service=http name=nosuch.example.com reason=unknown-name"
curl -s -m 5 -o /dev/null -w '%{http_code}' -H "Host:" "http://127.0.0.1:$hp/" >"$T/status" || true
[ "$(cat "$T/status")" = 400 ] || fail "no Host: $(cat "$T/status")"

# URL lists: head match, trailing-slash rule, case-sensitive.
for path in /PBX0/MY /PBX0/MY/x /PBX0/MYSELF /PBX0/APPS/x.js "/PBX0/APPS/x.js?a=/b"; do
	get urls.example.com "$path" >/dev/null
	[ "$(cat "$T/status")" = 200 ] || fail "allowed $path got $(cat "$T/status")"
done
for path in /PBX0/APPS/a/b /pbx0/my /other / /PBX0/MY/../ADMIN; do
	get urls.example.com "$path" --path-as-is >/dev/null
	case $path in
	*..*) want=400 ;;
	*) want=403 ;;
	esac
	[ "$(cat "$T/status")" = $want ] || fail "refused $path got $(cat "$T/status"), want $want"
done
grep -q "reason=url-denied" "$T/rpd.log" || fail "no url-denied in the log"

# Keep-alive: the second request on the same connection is not allowed.
curl -sv -m 10 -H "Host: urls.example.com" "http://127.0.0.1:$hp/PBX0/MY" \
	"http://127.0.0.1:$hp/forbidden" -o /dev/null -o /dev/null 2>"$T/curl.v" || true
grep -q "Re-using existing connection" "$T/curl.v" || fail "curl did not reuse the connection"
grep -q "< HTTP/1.1 200" "$T/curl.v" || fail "first request not answered 200"
grep -q "< HTTP/1.1 403" "$T/curl.v" || fail "second request not refused 403"

# Request smuggling: framing that two parsers could read differently.
smuggle() {
	python3 - "$hp" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
s.settimeout(5)
data = b""
try:
    while True:
        d = s.recv(4096)
        if not d:
            break
        data += d
except socket.timeout:
    pass
print(data.split(b"\r\n", 1)[0].decode("latin-1"))
PY
}
line=$(smuggle 'POST / HTTP/1.1\r\nHost: alpha.example.com\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG')
[ "$line" = "HTTP/1.1 400 Bad Request" ] || fail "CL.TE answered: $line"
line=$(smuggle 'POST / HTTP/1.1\r\nHost: alpha.example.com\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd')
[ "$line" = "HTTP/1.1 400 Bad Request" ] || fail "CL.CL answered: $line"
line=$(smuggle 'POST / HTTP/1.1\r\nHost: alpha.example.com\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n')
[ "$line" = "HTTP/1.1 400 Bad Request" ] || fail "TE with space answered: $line"
wait_log "$T/rpd.log" "reason=ambiguous-framing"

# Chunked upload and HEAD keep the framing right.
head -c 100000 /dev/urandom >"$T/upload"
[ "$(curl -s -m 10 -H "Host: alpha.example.com" -H "Transfer-Encoding: chunked" \
	--data-binary @"$T/upload" "http://127.0.0.1:$hp/up" | field 'd["body_length"]')" = 100000 ] \
	|| fail "chunked upload"
# A HEAD answer announces a length but has no body: the GET after it on the
# same connection must still be answered as such.
python3 - "$hp" <<'PY' || fail "request after HEAD"
import json, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"HEAD /h HTTP/1.1\r\nHost: alpha.example.com\r\n\r\n"
          b"GET /after-head HTTP/1.1\r\nHost: alpha.example.com\r\n\r\n")
s.settimeout(5)
data = b""
while data.count(b"HTTP/1.1 200") < 2 or not data.endswith(b"}"):
    d = s.recv(65536)
    if not d:
        break
    data += d
head2 = data.index(b"HTTP/1.1 200", 1)
body = data[data.index(b"\r\n\r\n", head2) + 4:]
assert json.loads(body)["path"] == "/after-head", data
PY

# WebSocket: after the 101 the connection is a tunnel.
python3 - "$hp" <<'PY' || fail "websocket tunnel"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /upgrade HTTP/1.1\r\nHost: urls.example.com\r\nUpgrade: websocket\r\n"
          b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          b"Sec-WebSocket-Version: 13\r\n\r\n")
s.settimeout(5)
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(4096)
assert head.startswith(b"HTTP/1.1 101"), head
payload = b"GET /not-inspected HTTP/1.1\r\n\r\n" * 10
s.sendall(payload)
got = b""
while len(got) < len(payload):
    got += s.recv(65536)
assert got == payload, got[:80]
PY

# A large download, plain (spliced) and over TLS.
size=$(curl -s -m 60 -H "Host: alpha.example.com" "http://127.0.0.1:$hp/big/50000000" -o /dev/null \
	-w '%{size_download}')
[ "$size" = 50000000 ] || fail "plain download got $size bytes"
size=$(curl -s -m 60 --cacert "$T/pki/ca.pem" --resolve "alpha.example.com:$hsp:127.0.0.1" \
	"https://alpha.example.com:$hsp/big/20000000" -o /dev/null -w '%{size_download}')
[ "$size" = 20000000 ] || fail "TLS download got $size bytes"

# One log line per connection, and counters in rpctl status.
grep -Eq "info connection client=127.0.0.1:[0-9]+ service=http name=alpha.example.com family=http target=127.0.0.1:$PORT_alpha/plain port-rule=encryption-converted requests=1 up=[0-9]+ down=[0-9]+ duration-ms=[0-9]+ cert=none outcome=ok" \
	"$T/rpd.log" || fail "connection log line"
kill -TERM "$PID_rpd"
wait_exit "$PID_rpd"
[ "$EXIT_STATUS" = 0 ] || fail "rpd exit $EXIT_STATUS"
R status >"$T/status.out"
grep -Eq "^  rpd +requests-routed +[1-9]" "$T/status.out" || fail "status: $(cat "$T/status.out")"
grep -Eq "^  rpd +refused-url-denied +[1-9]" "$T/status.out" || fail "status: $(cat "$T/status.out")"
grep -q "url-denied at byte" "$T/status.out" || fail "refused messages: $(cat "$T/status.out")"
echo "rpd_http: ok"
