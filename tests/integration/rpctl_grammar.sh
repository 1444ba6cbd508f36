#!/usr/bin/env bash
# rpctl_grammar - every command of rpctl's grammar works as documented, and
# every bad input exits non-zero with one line naming what is wrong and
# leaves the store unchanged.  Peers: python3 (JSON check).
. "$(dirname "$0")/lib.sh"
need python3 ss

latest=$(ls "$PBX_SRC"/schema/[0-9][0-9][0-9][0-9]_*.sql | wc -l)

# Before init: commands refuse, init creates.
refuse 1 "no store at .*rpctl init" R name list
refuse 2 "no command given" R
refuse 2 "unknown command 'frobnicate'" R frobnicate
R init | grep -q "^created: store $PBXEDGE_DB (schema $latest)" || fail "init did not create the store"
R init | grep -q "^ready: store" || fail "init again"
json R --json init

# Settings.
ok R set rpd.suspicious-per-minute 25
[ "$(R get rpd.suspicious-per-minute)" = 25 ] || fail "get after set"
ok R set rpd.inspect-timeout-ms 1500
ok R unset rpd.inspect-timeout-ms
[ "$(R get rpd.inspect-timeout-ms)" = 5000 ] || fail "unset did not restore the default"
ok R set natd.servers '172.16.13.1:1234,172.16.13.2;stun.provider.net'
ok R set rpd.tls-priority 'SECURE256:-VERS-ALL:+VERS-TLS1.3'
json R --json settings
json R --json get rpd.blacklist-minutes
settings=$(R settings)
grep -Eq '^rpd.suspicious-per-minute +25 .*\[set\]$' <<<"$settings" || fail "settings listing"

ok R listen http 8080 --addr 127.0.0.1
ok R listen https 8443
ok R listen sips 5061 --addr ::1
ok R listen h323s 1300
ok R listen ldaps 636
ok R listen ldaps off
json R --json listen list
R listen list | grep -Eq '^sips +5061 +::1$' || fail "listen list"

ok R name add innovaphone.com
ok R name add innovaphone.com/branch
ok R name add hq.innovaphone.com
ok R target innovaphone.com h323 172.16.0.10 --plain 1720 --tls 1300 --check-cert
ok R target hq.innovaphone.com http 172.16.0.20 --plain 80
ok R target hq.innovaphone.com ldap 172.16.0.90 --tls 636
ok R target hq.innovaphone.com sip pbx.example.net --tls 5061
ok R target hq.innovaphone.com sip pbx.example.net --plain 5060   # replaces
ok R allow-ip hq.innovaphone.com http 192.0.2.0/24
ok R allow-ip hq.innovaphone.com http 2001:db8::/32
ok R allow-url hq.innovaphone.com /PBX0/MY
ok R allow-url hq.innovaphone.com /PBX0/WEBSOCKET
ok R allow-url HQ.innovaphone.com /CDR0/CALL-LIST
json R --json name list
json R --json name show hq.innovaphone.com
R name show hq.innovaphone.com | grep -q "target    sip   pbx.example.net plain 5060$" \
	|| fail "target replace"
R name show innovaphone.com | grep -q "h323  172.16.0.10 plain 1720 tls 1300 check-cert" \
	|| fail "name show"
R name show HQ.INNOVAPHONE.COM | head -1 | grep -qx "name hq.innovaphone.com" \
	|| fail "name show does not print the stored name"
ok R target del hq.innovaphone.com sip
ok R allow-ip del hq.innovaphone.com http 2001:db8::/32
ok R allow-url del hq.innovaphone.com /CDR0/CALL-LIST
ok R name del innovaphone.com/branch

ok R whitelist add 10.0.0.0/8 --reason 'office LAN'
ok R blacklist add 198.51.100.7 --minutes 30 --reason 'brute force'
ok R blacklist add 2001:db8:bad::/48
ok R blacklist add 203.0.113.9 --until 2099-01-01T00:00:00Z
ok R blacklist promote 198.51.100.7
R whitelist list | grep -Eq '^198.51.100.7 +promoted +brute force' || fail "promote"
ok R blacklist del 2001:db8:bad::/48
json R --json blacklist list
json R --json whitelist list
json R --json status
R status | grep -q "^store      $PBXEDGE_DB (schema $latest," || fail "status header"

# Help is generated from the command tables: every command appears.  (Read
# whole, and searched without a pipe: grep -q leaving early would make the
# writer die of SIGPIPE under pipefail.)
help=$(R --help)
for c in "init" "set KEY VALUE" "unset KEY" "get KEY" "settings" "listen PROTO PORT|off" \
	"listen list" "name add NAME" "name del NAME" "name list" "name show NAME" \
	"target NAME FAMILY HOST" "target del NAME FAMILY" "allow-ip NAME FAMILY CIDR" \
	"allow-ip del NAME FAMILY CIDR" "allow-url NAME URL" "allow-url del NAME URL" \
	"blacklist list" "blacklist add ADDR" "blacklist del ADDR" "blacklist promote ADDR" \
	"whitelist list" "whitelist add ADDR" "whitelist del ADDR" "status" "export" "import FILE" \
	"turn user add NAME PASSWORD" "turn user del NAME" "turn user list" "turn secret add SECRET" \
	"turn secret del ID|SECRET" "turn secret list" "turn status" "ice-test servers [--stun URI]..."; do
	grep -qF "rpctl $c" <<<"$help" || fail "--help lacks 'rpctl $c'"
done
R name add --help | grep -q "^rpctl name add NAME" || fail "per-command help"

# Refusals: exit status, one line naming the problem, nothing changed.
before=$(R export)
refuse 2 "unknown command 'name frob'; 'name' is followed by one of: add del list show" R name frob
refuse 2 "name add: missing argument" R name add
refuse 2 "name add: unexpected argument 'x'" R name add a.example x
refuse 2 "unknown option '--tls'" R name add a.example --tls 1
refuse 2 "option '--plain' needs a value" R target hq.innovaphone.com http h --plain
refuse 2 "option '--plain' given twice" R target hq.innovaphone.com http h --plain 1 --plain 2
refuse 1 "unknown setting 'rpd.nope'" R set rpd.nope 1
refuse 1 "unknown setting 'rpd.nope'" R get rpd.nope
refuse 1 "rpd.inspect-timeout-ms: 99 is out of range \(100-60000 ms\)" R set rpd.inspect-timeout-ms 99
refuse 1 "not a whole number" R set rpd.blacklist-minutes ten
refuse 1 "not an absolute path" R set rpd.tls-cert cert.pem
refuse 1 "GnuTLS rejects the priority string" R set rpd.tls-priority 'NORMAL:+BOGUS'
refuse 1 "a DNS name must stand alone" R set natd.servers 'a.example,b.example'
refuse 1 "natd.servers: '1.2.3.4:0'" R set natd.servers '1.2.3.4:0'
refuse 1 "unknown service type 'gopher'" R listen gopher 70
refuse 1 "port '0' is not a port number" R listen http 0
refuse 1 "port '65536' is not a port number" R listen http 65536
refuse 1 "port 'x' is not a port number" R listen http x
refuse 1 "'example.com' is not an IPv4 or IPv6 address" R listen http 80 --addr example.com
refuse 1 "--addr does not go with 'off'" R listen https off --addr 127.0.0.1
refuse 1 "ldaps is not being served" R listen ldaps off
refuse 1 "service name 'HQ.innovaphone.com' exists already" R name add HQ.innovaphone.com
refuse 1 "'del' is a command word" R name add del
refuse 1 "service name 'a b': the domain part must be a DNS name" R name add 'a b'
refuse 1 "empty registration location" R name add example.com/
refuse 1 "unknown service name 'nosuch.example'" R name del nosuch.example
refuse 1 "unknown service name 'nosuch.example'" R name show nosuch.example
refuse 1 "unknown service name 'nosuch.example'" R target nosuch.example http 10.0.0.1 --plain 80
refuse 1 "unknown protocol family 'smtp' \(one of: http sip h323 ldap\)" R target hq.innovaphone.com smtp 10.0.0.1 --plain 25
refuse 1 "give a plain port \(--plain\), a TLS port \(--tls\) or both" R target hq.innovaphone.com http 10.0.0.1
refuse 1 "--tls '99999' is not a port number" R target hq.innovaphone.com http 10.0.0.1 --tls 99999
refuse 1 "target host: .*not a host name or IP address" R target hq.innovaphone.com http 'bad host!' --plain 80
refuse 1 "has no sip target" R target del hq.innovaphone.com sip
refuse 1 "'10.1.2.3/8': address has bits set beyond the /8 prefix \(the network is 10.0.0.0/8\)" R allow-ip hq.innovaphone.com http 10.1.2.3/8
refuse 1 "prefix length exceeds 32 for IPv4" R allow-ip hq.innovaphone.com http 10.0.0.0/33
refuse 1 "prefix length exceeds 128 for IPv6" R allow-ip hq.innovaphone.com http ::/129
refuse 1 "'300.1.2.3' is not a valid IPv4 address" R allow-ip hq.innovaphone.com http 300.1.2.3
refuse 1 "leading zeros are not allowed" R allow-ip hq.innovaphone.com http 010.0.0.1
refuse 1 "zone indices" R allow-ip hq.innovaphone.com http fe80::1%eth0
refuse 1 "192.0.2.0/24 is already allowed" R allow-ip hq.innovaphone.com http 192.0.2.0/24
refuse 1 "not in the allowed networks" R allow-ip del hq.innovaphone.com sip 192.0.2.0/24
refuse 1 "URL 'PBX0/MY' must start with '/'" R allow-url hq.innovaphone.com PBX0/MY
refuse 1 "holds a space" R allow-url hq.innovaphone.com '/a b'
refuse 1 "URL /PBX0/MY is already allowed" R allow-url hq.innovaphone.com /PBX0/MY
refuse 1 "URL /nope is not allowed for" R allow-url del hq.innovaphone.com /nope
refuse 1 "10.1.2.3 is whitelisted \(entry 10.0.0.0/8\)" R blacklist add 10.1.2.3
refuse 1 "--minutes 'soon' is not a number of minutes" R blacklist add 192.0.2.1 --minutes soon
refuse 1 "--minutes '0' is not a number of minutes" R blacklist add 192.0.2.1 --minutes 0
refuse 1 "give --minutes or --until, not both" R blacklist add 192.0.2.1 --minutes 5 --until 2099-01-01T00:00:00Z
refuse 1 "--until '2099-02-30T00:00:00Z' is not a time" R blacklist add 192.0.2.1 --until 2099-02-30T00:00:00Z
refuse 1 "the expiry time is in the past" R blacklist add 192.0.2.1 --until 2001-01-01T00:00:00Z
refuse 1 "192.0.2.1 is not on the blacklist" R blacklist del 192.0.2.1
refuse 1 "192.0.2.1 is not on the blacklist" R blacklist promote 192.0.2.1
refuse 1 "10.0.0.0/8 is already on the whitelist" R whitelist add 10.0.0.0/8
refuse 1 "192.0.2.1 is not on the whitelist" R whitelist del 192.0.2.1
refuse 1 "'bogus' is not an IPv4 or IPv6 address" R whitelist add bogus
refuse 1 "no JSON form" R --json export
refuse 1 "cannot open $T/missing.txt" R import "$T/missing.txt"
# ice-test servers parses its own options: usage errors exit 2 in one line.
refuse 2 "ice-test servers: unknown option '--frob'" R ice-test servers --frob
refuse 2 "ice-test servers: unexpected argument 'x'" R ice-test servers x
refuse 2 "option '--stun' needs a value" R ice-test servers --stun
refuse 2 "--family '5' is not 4, 6 or both" R ice-test servers --family 5
refuse 2 "--transport 'sctp' is not udp, tcp or tls" R ice-test servers --transport sctp
refuse 2 "--policy 'any' is not relay, srflx, host or all" R ice-test servers --policy any
refuse 2 "--timeout '0' is not a number of seconds" R ice-test servers --timeout 0
refuse 2 "--gather-timeout 'x' is not a number of seconds" R ice-test servers --gather-timeout x
refuse 2 "too many --stun options" R ice-test servers --stun a --stun a --stun a --stun a \
	--stun a --stun a --stun a --stun a --stun a
refuse 1 "'turn:127.0.0.1' is given with --stun but is a TURN URI" R ice-test servers \
	--stun turn:127.0.0.1
refuse 1 "TURN servers need --user" R ice-test servers --turn turn:127.0.0.1
refuse 1 "cannot read --password-file $T/nope" R ice-test servers --turn turn:127.0.0.1 \
	--user a --password-file "$T/nope"
refuse 1 "the store has no active TURN secret" R ice-test servers --rest-secret-from-store \
	--turn turn:127.0.0.1
refuse 1 "'rpctl ice-test servers' cannot appear in an import file|cannot appear in an import" \
	R import - <<<"ice-test servers --stun 127.0.0.1"
R ice-test servers --help | grep -q "^rpctl ice-test servers \[--stun URI\]" \
	|| fail "ice-test servers --help"
after=$(R export)
[ "$before" = "$after" ] || fail "a refused command changed the configuration"

# --db selects the store; a missing one is not created by accident.
refuse 1 "no store at $T/other.db" R --db "$T/other.db" status
[ ! -e "$T/other.db" ] || fail "a read created a store"
refuse 1 "no store at $T/other.db" R --db "$T/other.db" ice-test servers --stun 127.0.0.1
[ ! -e "$T/other.db" ] || fail "ice-test created a store"
ok R --db "$T/other.db" init >/dev/null
[ -z "$(R --db="$T/other.db" name list)" ] || fail "other store is not empty"
echo "rpctl_grammar: ok"
