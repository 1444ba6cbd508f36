#!/usr/bin/env bash
# rpd_vs_haproxy - rpd and HAProxy side by side, in one run, on the same
# cores, in front of the same nginx backend: requests per second with
# keep-alive and with a new connection per request, TLS handshakes per
# second with the same certificate, and the throughput of one large
# download against a direct connection.  Prints a Markdown table of the
# figures and the rpd/HAProxy ratios; only ratios mean anything (client,
# proxy and backend share the machine).
#
# Usage: tests/bench/rpd_vs_haproxy.sh [BUILD_DIR]   (default: build-bench,
#        configured as a release build if missing)
# Env:   DURATION (seconds per measurement, default 10), CONNS (default 50),
#        WORKERS (proxy threads, default 1).
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$(pwd)
BUILD=${1:-build-bench}
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
WORKERS=${WORKERS:-1}

. tests/bench/lib.sh
bench_setup "$BUILD" disabled haproxy nginx-light wrk gnutls-bin curl
chmod 0755 "$T" # nginx's workers run as another user

# The backend: nginx, one worker, a 1 KiB page and a 1 GiB file.
NP=$(port)
mkdir -p "$T/www" "$T/nginx"
head -c 1024 /dev/urandom | base64 -w0 | head -c 1024 >"$T/www/index.html"
truncate -s 1G "$T/www/big.bin"
cat >"$T/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $T/nginx.pid;
error_log $T/nginx/error.log;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 1000000;
	sendfile on;
	client_body_temp_path $T/nginx;
	proxy_temp_path $T/nginx;
	fastcgi_temp_path $T/nginx;
	uwsgi_temp_path $T/nginx;
	scgi_temp_path $T/nginx;
	server { listen 127.0.0.1:$NP; root $T/www; }
}
CONF
nginx -c "$T/nginx.conf" -p "$T" &
pids+=($!)
wait_tcp "$NP"

# One certificate for both proxies (ECDSA P-256).
certtool --generate-privkey --key-type ecdsa --outfile "$T/key.pem" 2>/dev/null
printf 'cn = "bench.local"\ndns_name = "bench.local"\ntls_www_server\nsigning_key\nexpiration_days = 30\n' >"$T/tmpl"
certtool --generate-self-signed --load-privkey "$T/key.pem" --template "$T/tmpl" --outfile "$T/cert.pem" 2>/dev/null
cat "$T/cert.pem" "$T/key.pem" >"$T/haproxy.pem"

# rpd.
RP=$(port)
RPS=$(port)
export PBXEDGE_DB="$T/pbxedge.db"
R="$top/$BUILD/ctl/rpctl"
"$R" init >/dev/null
"$R" listen http "$RP" --addr 127.0.0.1
"$R" listen https "$RPS" --addr 127.0.0.1
"$R" set rpd.tls-cert "$T/cert.pem"
"$R" set rpd.tls-key "$T/key.pem"
"$R" set rpd.suspicious-per-minute 100000
"$R" name add bench.local
"$R" target bench.local http 127.0.0.1 --plain "$NP"
"$top/$BUILD/rpd/rpd" --foreground --workers "$WORKERS" --log-level warning >"$T/rpd.log" 2>&1 &
pids+=($!)
wait_tcp "$RP"
wait_tcp "$RPS"

# HAProxy: the configuration an administrator would write to route by Host.
HP=$(port)
HPS=$(port)
cat >"$T/haproxy.cfg" <<CONF
global
	nbthread $WORKERS
	maxconn 8000
	tune.ssl.default-dh-param 2048
defaults
	mode http
	timeout connect 5s
	timeout client 30s
	timeout server 30s
	option forwardfor
frontend fe
	bind 127.0.0.1:$HP
	bind 127.0.0.1:$HPS ssl crt $T/haproxy.pem
	use_backend be if { req.hdr(host),field(1,:) -i bench.local }
backend be
	server s1 127.0.0.1:$NP
CONF
haproxy -f "$T/haproxy.cfg" -db >"$T/haproxy.log" 2>&1 &
pids+=($!)
wait_tcp "$HP"

rps() { # URL [wrk args]: requests per second
	local url=$1
	shift
	wrk -t1 -c"$CONNS" -d"${DURATION}s" -H "Host: bench.local" "$@" "$url" 2>/dev/null |
		awk '/^Requests\/sec:/ { printf "%.0f", $2 }'
}
mbps() { # URL: MB/s of one 1 GiB download
	curl -s -k -H "Host: bench.local" -o /dev/null -w '%{speed_download}' "$1" |
		awk '{ printf "%.0f", $1 / 1048576 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# Every path must answer 200 first: a benchmark of error pages proves nothing.
for url in "http://127.0.0.1:$NP/" "http://127.0.0.1:$RP/" "http://127.0.0.1:$HP/" \
	"https://127.0.0.1:$RPS/" "https://127.0.0.1:$HPS/"; do
	code=$(curl -s -k -o /dev/null -w '%{http_code}' -H "Host: bench.local" "$url")
	[ "$code" = 200 ] || { echo "$url answered $code" >&2; tail -n 5 "$T"/*.log >&2; exit 1; }
done
echo "measuring (${DURATION}s each, $CONNS connections, $WORKERS proxy thread(s))..." >&2
d_ka=$(rps "http://127.0.0.1:$NP/")
r_ka=$(rps "http://127.0.0.1:$RP/")
h_ka=$(rps "http://127.0.0.1:$HP/")
d_nc=$(rps "http://127.0.0.1:$NP/" -H "Connection: close")
r_nc=$(rps "http://127.0.0.1:$RP/" -H "Connection: close")
h_nc=$(rps "http://127.0.0.1:$HP/" -H "Connection: close")
r_tls=$(rps "https://127.0.0.1:$RPS/" -H "Connection: close")
h_tls=$(rps "https://127.0.0.1:$HPS/" -H "Connection: close")
d_big=$(mbps "http://127.0.0.1:$NP/big.bin")
r_big=$(mbps "http://127.0.0.1:$RP/big.bin")
h_big=$(mbps "http://127.0.0.1:$HP/big.bin")
r_bigs=$(mbps "https://127.0.0.1:$RPS/big.bin")
h_bigs=$(mbps "https://127.0.0.1:$HPS/big.bin")

cat <<TABLE
| measurement | nginx direct | rpd | HAProxy $(haproxy -v | awk 'NR==1 {print $3}') | rpd / HAProxy |
|---|---|---|---|---|
| keep-alive requests/s | $d_ka | $r_ka | $h_ka | $(ratio "$r_ka" "$h_ka") |
| new connection per request, requests/s | $d_nc | $r_nc | $h_nc | $(ratio "$r_nc" "$h_nc") |
| TLS full handshakes (new TLS connection per request)/s | - | $r_tls | $h_tls | $(ratio "$r_tls" "$h_tls") |
| 1 GiB download, plain, MB/s | $d_big | $r_big | $h_big | $(ratio "$r_big" "$h_big") |
| 1 GiB download, TLS to the proxy, MB/s | - | $r_bigs | $h_bigs | $(ratio "$r_bigs" "$h_bigs") |
TABLE
