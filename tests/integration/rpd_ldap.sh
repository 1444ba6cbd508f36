#!/usr/bin/env bash
# rpd_ldap - LDAP and LDAPS through rpd to a real slapd, with ldapwhoami and
# ldapsearch as clients: binds routed by "domain\user" and by
# "CN=user, DC=a, DC=b", TLS terminated at rpd, refusals the LDAP way, a
# wrong password counted as suspicious, StartTLS refused, and a re-bind to
# another service on the same connection refused.
# Peers: slapd, ldap-utils, certtool, python3.
. "$(dirname "$0")/lib.sh"
need slapd ldapwhoami ldapsearch slapadd certtool python3 ss


# slapd with dc=example,dc=com and one user, on a port of its own.
sp=$(free_port)
mkdir -p "$T/ldapdb"
modpath=$(dirname "$(find /usr/lib -name 'back_mdb*.so' -print -quit 2>/dev/null || echo /usr/lib/ldap/x)")
cat >"$T/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath $modpath
moduleload back_mdb
pidfile $T/slapd.pid
database mdb
suffix "dc=example,dc=com"
rootdn "cn=admin,dc=example,dc=com"
rootpw secret
directory $T/ldapdb
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
CONF
cat >"$T/seed.ldif" <<LDIF
dn: dc=example,dc=com
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: cn=ckl,dc=example,dc=com
objectClass: inetOrgPerson
cn: ckl
sn: Klein
userPassword: pw-ckl
LDIF
slapadd -f "$T/slapd.conf" -l "$T/seed.ldif" >/dev/null 2>&1 || fail "slapadd failed"
slapd -f "$T/slapd.conf" -h "ldap://127.0.0.1:$sp/" || fail "slapd did not start"
for _ in $(seq 50); do [ -s "$T/slapd.pid" ] && break; sleep 0.1; done
PIDS+=("$(cat "$T/slapd.pid")")
wait_listening "$sp"

ok R init >/dev/null
make_certs "$T/pki" 127.0.0.1 localhost
lp=$(free_port)
lsp=$(free_port)
ok R listen ldap "$lp" --addr 127.0.0.1
ok R listen ldaps "$lsp" --addr 127.0.0.1
ok R set rpd.tls-cert "$T/pki/server.pem"
ok R set rpd.tls-key "$T/pki/server.key"
ok R set rpd.suspicious-per-minute 1000
ok R name add example.com
ok R target example.com ldap 127.0.0.1 --plain "$sp"
ok R name add other.org
ok R target other.org ldap 127.0.0.1 --plain "$sp"
start rpd "$RPD" --foreground --workers 2
wait_log "$T/rpd.log" "ready workers=2"

# The DN form: the bind reaches slapd and succeeds.
out=$(ldapwhoami -x -H "ldap://127.0.0.1:$lp" -D 'CN=ckl, DC=example, DC=com' -w pw-ckl 2>&1) \
	|| fail "ldapwhoami (DN form): $out"
[ "$out" = "dn:cn=ckl,dc=example,dc=com" ] || fail "whoami: $out"
wait_log "$T/rpd.log" "connection client=[^ ]+ service=ldap name=example.com family=ldap target=127.0.0.1:$sp/plain port-rule=encryption-converted requests=1 .* outcome=ok"
# The domain\user form: routed to slapd, which does not know the syntax
# (slapd's own answer proves the bind got there).
out=$(ldapwhoami -x -H "ldap://127.0.0.1:$lp" -D 'example.com\ckl' -w pw-ckl 2>&1) && fail "accepted"
echo "$out" | grep -q "Invalid DN syntax (34)" || fail "domain\\user form: $out"
# LDAPS terminated at rpd, forwarded plain.
out=$(LDAPTLS_CACERT="$T/pki/ca.pem" ldapwhoami -x -H "ldaps://127.0.0.1:$lsp" \
	-D 'cn=ckl,dc=example,dc=com' -w pw-ckl 2>&1) || fail "ldapwhoami over LDAPS: $out"
[ "$out" = "dn:cn=ckl,dc=example,dc=com" ] || fail "ldaps whoami: $out"
# A search after the bind passes through.
out=$(ldapsearch -x -LLL -H "ldap://127.0.0.1:$lp" -D 'cn=ckl,dc=example,dc=com' -w pw-ckl \
	-b dc=example,dc=com '(cn=ckl)' sn 2>&1) || fail "ldapsearch: $out"
echo "$out" | grep -q "^sn: Klein$" || fail "search result: $out"

# Refusals the LDAP way.
out=$(ldapwhoami -x -H "ldap://127.0.0.1:$lp" -D 'CN=x,DC=nowhere,DC=net' -w x 2>&1) && fail "accepted"
echo "$out" | grep -q "Server is unwilling to perform (53)" || fail "unknown name: $out"
echo "$out" | grep -q "pbxedge: unknown-name" || fail "unknown name text: $out"
out=$(ldapwhoami -x -H "ldap://127.0.0.1:$lp" 2>&1) && fail "anonymous bind accepted"
wait_log "$T/rpd.log" "reason=no-name"
out=$(LDAPTLS_REQCERT=never ldapwhoami -ZZ -x -H "ldap://127.0.0.1:$lp" -D 'cn=ckl,dc=example,dc=com' \
	-w pw-ckl 2>&1) && fail "StartTLS accepted"
echo "$out" | grep -q "Protocol error (2)" || fail "StartTLS: $out"
# A wrong password: slapd rejects it, rpd counts it as suspicious.
out=$(ldapwhoami -x -H "ldap://127.0.0.1:$lp" -D 'cn=ckl,dc=example,dc=com' -w wrong 2>&1) && fail "accepted"
echo "$out" | grep -q "Invalid credentials (49)" || fail "wrong password: $out"
wait_log "$T/rpd.log" "service-rejected client=127.0.0.1:[0-9]+ name=example.com status=49"

# A re-bind on the same connection must stay with the same service.
python3 - "$lp" <<'PY' || fail "re-bind to another service was not refused"
import socket, sys
def tlv(tag, body):
    n = len(body)
    return bytes([tag]) + (bytes([n]) if n < 128 else bytes([0x81, n])) + body
def bind(msgid, dn, pw):
    op = tlv(0x60, tlv(0x02, b"\x03") + tlv(0x04, dn.encode()) + tlv(0x80, pw.encode()))
    return tlv(0x30, tlv(0x02, bytes([msgid])) + op)
def read_msg(s):
    data = b""
    while len(data) < 2 or len(data) < 2 + data[1]:
        d = s.recv(4096)
        if not d:
            return None
        data += d
    return data
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(5)
s.sendall(bind(1, "cn=ckl,dc=example,dc=com", "pw-ckl"))
r = read_msg(s)
assert r and r[-7:].find(b"\x0a\x01\x00") >= 0, r  # success
s.sendall(bind(2, "cn=ckl,dc=other,dc=org", "pw-ckl"))
r = read_msg(s)
assert r and b"\x0a\x01\x35" in r and b"other-service" in r, r  # unwillingToPerform
PY
wait_log "$T/rpd.log" "reason=other-service"
kill -TERM "$PID_rpd"
wait_exit "$PID_rpd"
[ "$EXIT_STATUS" = 0 ] || fail "rpd exit $EXIT_STATUS"
echo "rpd_ldap: ok"
