#!/usr/bin/env bash
# rpd_fraud - fraud detection end to end: a source that sends too many bad
# requests in a minute is blacklisted, refused at once at accept, listed by
# rpctl, let in again when the entry expires or when it is whitelisted,
# and still blacklisted after rpd restarts; rejections by the service count
# too.  Meanwhile garbage, oversized heads and a slow client are refused
# with reasons while another client is served.  Peers: curl, python3.
. "$(dirname "$0")/lib.sh"
need curl python3 ss sqlite3

ok R init >/dev/null
start_http_backend alpha
hp=$(free_port)
ok R listen http "$hp" --addr 127.0.0.1
ok R name add alpha.example.com
ok R target alpha.example.com http 127.0.0.1 --plain "$PORT_alpha"
ok R set rpd.suspicious-per-minute 5
ok R set rpd.blacklist-minutes 30
ok R set rpd.inspect-timeout-ms 1000
start rpd "$RPD" --foreground --workers 2
wait_log "$T/rpd.log" "ready workers=2"

# Clients come from distinct loopback addresses so each is its own source.
code() { curl -s -m 5 -o /dev/null -w '%{http_code}' --interface "$1" -H "Host: $2" \
	"http://127.0.0.1:$hp$3" || true; }

[ "$(code 127.0.0.2 alpha.example.com /ok)" = 200 ] || fail "good request"
# Five bad requests are within the threshold; the sixth goes over it.
for i in 1 2 3 4 5; do
	[ "$(code 127.0.0.2 nosuch.example.com /)" = 421 ] || fail "bad request $i"
done
[ "$(code 127.0.0.2 alpha.example.com /ok)" = 200 ] || fail "blacklisted too early"
[ "$(code 127.0.0.2 nosuch.example.com /)" = 421 ] || fail "bad request 6"
wait_log "$T/rpd.log" "blacklisted source=127.0.0.2 count=6 minutes=30 reason=too-many-suspicious"
# Refused at once, at accept, by every worker: curl sees the connection closed.
sleep 1.5
[ "$(code 127.0.0.2 alpha.example.com /ok)" = 000 ] || fail "blacklisted source was served"
wait_log "$T/rpd.log" "connection-dropped|blacklist"
# Other sources are not affected.
[ "$(code 127.0.0.3 alpha.example.com /ok)" = 200 ] || fail "another source was blocked"
R blacklist list | grep -Eq "^127.0.0.2 +auto +6 suspicious requests within a minute \(last: unknown-name\)" \
	|| fail "blacklist: $(R blacklist list)"

# Rejections by the service count as suspicious too (401/403).
for i in 1 2 3 4 5 6; do
	code 127.0.0.4 alpha.example.com /status/403 >/dev/null
done
wait_log "$T/rpd.log" "blacklisted source=127.0.0.4 .* last=service-rejected"

# Still blacklisted after a restart: the entry is in the store.
kill -TERM "$PID_rpd"
wait_exit "$PID_rpd"
start rpd2 "$RPD" --foreground --workers 2
wait_log "$T/rpd2.log" "ready workers=2"
[ "$(code 127.0.0.2 alpha.example.com /ok)" = 000 ] || fail "blacklist forgotten by a restart"

# Whitelisting lets it in, within about a second.
ok R whitelist add 127.0.0.2 --reason test
sleep 1.5
[ "$(code 127.0.0.2 alpha.example.com /ok)" = 200 ] || fail "whitelisted source refused"
# ... and a whitelisted source is never blacklisted, however bad.
for i in $(seq 8); do code 127.0.0.2 nosuch.example.com / >/dev/null; done
grep -q "suspicious client=127.0.0.2:[0-9]* service=http reason=unknown-name whitelisted=yes" \
	"$T/rpd2.log" || fail "whitelisted source not logged as such"
ok R whitelist del 127.0.0.2
# Expiry is a timestamp: move it to the past and the source is let in.
sqlite3 -cmd ".timeout 5000" "$PBXEDGE_DB" "UPDATE blacklist SET expires = strftime('%s','now') + 1 WHERE network = '127.0.0.4'"
sleep 3
[ "$(code 127.0.0.4 alpha.example.com /ok)" = 200 ] || fail "expired entry still blocks"

# Misbehaving clients get refusals with reasons; others are still served.
python3 - "$hp" >"$T/abuse.out" <<'PY' &
import socket, sys, time
port = int(sys.argv[1])
def first_line(payload, wait=3):
    s = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.5", 0))
    s.settimeout(wait)
    if payload:
        s.sendall(payload)
    data = b""
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            data += d
    except socket.timeout:
        data += b"(no answer)"
    return data.split(b"\r\n", 1)[0].decode("latin-1")
print("garbage", first_line(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 50))
print("oversized", first_line(b"GET / HTTP/1.1\r\nHost: alpha.example.com\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n"))
print("slow", first_line(b"GET / HTTP/1.1\r\nHost: alp"))
PY
abuser=$!
for i in $(seq 20); do
	[ "$(code 127.0.0.6 alpha.example.com /meanwhile)" = 200 ] || fail "served nobody while abused"
done
wait "$abuser"
grep -q "^garbage HTTP/1.1 400 Bad Request" "$T/abuse.out" || fail "garbage: $(cat "$T/abuse.out")"
grep -q "^oversized HTTP/1.1 431" "$T/abuse.out" || fail "oversized: $(cat "$T/abuse.out")"
grep -q "^slow HTTP/1.1 408" "$T/abuse.out" || fail "slow: $(cat "$T/abuse.out")"
for r in malformed too-large inspect-timeout; do
	grep -q "refused client=127.0.0.5:[0-9]* service=http name=[^ ]* reason=$r" "$T/rpd2.log" \
		|| fail "no $r refusal logged"
done
kill -TERM "$PID_rpd2"
wait_exit "$PID_rpd2"
[ "$EXIT_STATUS" = 0 ] || fail "rpd exit $EXIT_STATUS"
echo "rpd_fraud: ok"
