#!/usr/bin/env bash
# export_import - 'rpctl export' then 'rpctl import' into a new store and
# 'rpctl export' again gives identical text; an import replaces the
# configuration all or nothing and keeps state that is not configuration.
# Peers: sqlite3 (to look at the kept state).
. "$(dirname "$0")/lib.sh"
need sqlite3

A="$T/a.db"
B="$T/b.db"
ok R --db "$A" init >/dev/null
ok R --db "$B" init >/dev/null

# A configuration that uses every kind of line and awkward text.
for args in \
	"set rpd.suspicious-per-minute 7" \
	"set rpd.blacklist-minutes 60" \
	"set rpd.tls-cert /etc/pbxedge/rp.pem" \
	"set rpd.tls-key /etc/pbxedge/rp.key"; do
	# shellcheck disable=SC2086
	ok R --db "$A" $args
done
ok R --db "$A" set rpd.tls-priority 'NORMAL:-VERS-ALL:+VERS-TLS1.3:%SERVER_PRECEDENCE'
ok R --db "$A" set natd.servers '172.16.13.1:1234,172.16.13.2;[2001:db8::3478]:3479;stun.provider.net'
ok R --db "$A" set stund.primary 192.0.2.10
ok R --db "$A" set stund.alternate 192.0.2.11
ok R --db "$A" set stund.software 'pbxedge "edge" #1'
ok R --db "$A" set turnd.listen '192.0.2.10:3480, [2001:db8::1]'
ok R --db "$A" set turnd.tls-listen ''
ok R --db "$A" listen http 80
ok R --db "$A" listen https 443 --addr 2001:db8::1
ok R --db "$A" listen h323s 1300 --addr 192.0.2.10
ok R --db "$A" name add innovaphone.com
ok R --db "$A" name add innovaphone.com/hq-standby
ok R --db "$A" name add Hq.Innovaphone.com
ok R --db "$A" target innovaphone.com h323 172.16.0.10 --plain 1720 --tls 1300 --check-cert
ok R --db "$A" target innovaphone.com/hq-standby h323 172.16.0.11 --tls 1300
ok R --db "$A" target Hq.Innovaphone.com http 2001:db8::20 --plain 80 --tls 443
ok R --db "$A" target Hq.Innovaphone.com ldap ldap.internal --tls 636
ok R --db "$A" allow-ip Hq.Innovaphone.com http 0.0.0.0/0
ok R --db "$A" allow-ip Hq.Innovaphone.com http ::/0
ok R --db "$A" allow-ip innovaphone.com h323 192.0.2.0/24
ok R --db "$A" allow-url Hq.Innovaphone.com /PBX0/MY
ok R --db "$A" allow-url Hq.Innovaphone.com '/apps/innovaphone-reporting/mypbx'
ok R --db "$A" allow-url Hq.Innovaphone.com '/a%20b/'"'"'quoted'"'"'"double"\back'
ok R --db "$A" whitelist add 10.0.0.0/8 --reason "the office's LAN, \"trusted\""
ok R --db "$A" whitelist add 2001:db8:1::/48
ok R --db "$A" blacklist add 198.51.100.0/24 --reason '#not a comment'
ok R --db "$A" blacklist add 203.0.113.7 --until 2099-06-01T12:00:00Z --reason ''
sqlite3 "$A" "INSERT INTO blacklist (network, origin, reason, created, expires) VALUES ('192.0.2.99', 'auto', 'fraud', 0, strftime('%s','now') + 600)"

R --db "$A" export >"$T/one.txt"
ok R --db "$B" import "$T/one.txt" >/dev/null
R --db "$B" export >"$T/two.txt"
diff -u "$T/one.txt" "$T/two.txt" || fail "export/import/export is not an exact round trip"
grep -q "192.0.2.99" "$T/one.txt" && fail "automatic blacklist entries are state, not configuration"
# The export is readable and every line is an rpctl command.
grep -Ev '^(#|set |listen |name add |target |allow-ip |allow-url |whitelist add |blacklist add )' \
	"$T/one.txt" && fail "unexpected line in the export"
[ "$(grep -c '^name add' "$T/one.txt")" -eq 3 ] || fail "names missing"

# Importing again over the same configuration changes nothing.
ok R --db "$B" import "$T/one.txt" >/dev/null
R --db "$B" export | diff -u "$T/one.txt" - || fail "re-import changed the text"

# Import from stdin, and --json output.
R --db "$B" --json import - <"$T/one.txt" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["commands"] > 20'

# An import replaces: what is not in the file is gone afterwards.
printf 'name add only.example\nlisten sip 5060\n' >"$T/small.txt"
ok R --db "$B" import "$T/small.txt" >/dev/null
[ "$(R --db "$B" export | grep -v '^#')" = "$(printf 'listen sip 5060\nname add only.example')" ] \
	|| fail "import did not replace the configuration: $(R --db "$B" export)"

# It keeps what is not configuration: automatic entries, status, accounts.
sqlite3 "$B" "INSERT INTO blacklist (network, origin, reason, created, expires) VALUES ('192.0.2.50', 'auto', 'x', 0, strftime('%s','now') + 600);
	INSERT INTO turn_account VALUES ('alice', 'example.org', zeroblob(16), zeroblob(32), 0);
	INSERT INTO daemon_status VALUES ('rpd', 1, '0.1.0', 0, 0, 'stopped', '')"
ok R --db "$B" import "$T/one.txt" >/dev/null
[ "$(sqlite3 "$B" "SELECT count(*) FROM blacklist WHERE origin = 'auto'")" = 1 ] || fail "auto entry lost"
[ "$(sqlite3 "$B" "SELECT count(*) FROM turn_account")" = 1 ] || fail "account lost"
[ "$(sqlite3 "$B" "SELECT count(*) FROM daemon_status")" = 1 ] || fail "status lost"

# A bad line anywhere: nothing changes, and the line is named.  (The store
# now holds the account added above, which the export carries.)
R --db "$B" export >"$T/kept.txt"
grep -q "^turn user key alice example.org 0\{32\} 0\{64\}$" "$T/kept.txt" || fail "account not exported"
cp "$T/one.txt" "$T/bad.txt"
printf 'allow-ip only.example http 10.0.0.0/8\n' >>"$T/bad.txt"   # name unknown in this file
refuse 1 "bad.txt:[0-9]+: unknown service name 'only.example'" R --db "$B" import "$T/bad.txt"
R --db "$B" export | diff -u "$T/kept.txt" - || fail "failed import changed the store"
printf 'name add x.example\nstatus\n' >"$T/bad2.txt"
refuse 1 "bad2.txt:2: 'status' cannot appear in an import file" R --db "$B" import "$T/bad2.txt"
printf "name add 'x.example\n" >"$T/bad3.txt"
refuse 2 "bad3.txt:1: unterminated ' quote" R --db "$B" import "$T/bad3.txt"
printf 'target x.example http h --bogus 1\n' >"$T/bad4.txt"
refuse 2 "bad4.txt:1: target: unknown option '--bogus'" R --db "$B" import "$T/bad4.txt"
printf 'frobnicate\n' >"$T/bad5.txt"
refuse 2 "bad5.txt:1: unknown command 'frobnicate'" R --db "$B" import "$T/bad5.txt"
printf 'name add a.example\0\n' >"$T/bad6.txt"
refuse 1 "not a text file" R --db "$B" import "$T/bad6.txt"
R --db "$B" export | diff -u "$T/kept.txt" - || fail "failed imports changed the store"

# A whitelist entry added after a blacklist entry it covers: the export
# still imports (blacklist lines come first).
C="$T/c.db"
ok R --db "$C" init >/dev/null
ok R --db "$C" blacklist add 192.0.2.5 --reason later-whitelisted
ok R --db "$C" whitelist add 192.0.2.0/24
R --db "$C" export >"$T/c1.txt"
ok R --db "$B" turn user del alice   # accounts outlive imports
ok R --db "$B" import "$T/c1.txt" >/dev/null
R --db "$B" export | diff -u "$T/c1.txt" - || fail "covered blacklist entry broke the round trip"

# An old export whose blacklist entry has expired since: imported without it.
printf 'name add y.example\nblacklist add 192.0.2.1 --until 2001-01-01T00:00:00Z\n' >"$T/old.txt"
R --db "$B" import "$T/old.txt" 2>"$T/old.err" >/dev/null || fail "old export refused"
grep -q "expired at 2001-01-01T00:00:00Z; not imported" "$T/old.err" || fail "no note for the expired entry"
echo "export_import: ok"
