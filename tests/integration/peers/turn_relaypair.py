#!/usr/bin/env python3
"""turn_relaypair - relay to relay through one TURN server on an address of
its own (RFC 8656 with turnd's default peer policy), from one script with
two allocations A and B:

  turn_relaypair.py HOST PORT --user U --password P

the permissions each asks for the other's relayed address are granted,
and B's Send indication to A's relayed address reaches A as a Data indication from B's relayed address; a Send
indication from B to another port on the server's address (where this
script listens: the permission is for the IP, not the port) must not
arrive there.  Prints key=value lines (a-relayed, b-relayed, permission,
relay-to-relay, other-port) and exits 1 unless every step went as
expected."""
import argparse
import hashlib
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stun_talk import addr, attrs_of, error_of, message, signed, xaddr  # noqa: E402


class Client:
    """One TURN client over UDP with long-term credentials."""

    def __init__(self, a):
        self.server = (a.host, a.port)
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((a.host, 0))
        self.s.settimeout(a.timeout)
        self.user, self.password = a.user, a.password

    def rpc(self, msg, tid):
        self.s.sendto(msg, self.server)
        while True:
            try:
                data, _ = self.s.recvfrom(65536)
            except socket.timeout:
                return None
            if data[8:20] == tid:
                return data

    def allocate(self):
        transport = (0x0019, struct.pack("!B3x", 17))
        tid = os.urandom(12)
        ans = self.rpc(message(0x0003, [transport], tid), tid) or b""
        at = attrs_of(ans)
        realm, nonce = at.get(0x0014, b""), at.get(0x0015, b"")
        self.key = hashlib.md5(("%s:%s:%s" % (self.user, realm.decode(),
                                              self.password)).encode()).digest()
        self.creds = [(0x0006, self.user.encode()), (0x0014, realm), (0x0015, nonce)]
        tid = os.urandom(12)
        ans = self.rpc(signed(0x0003, [transport] + self.creds, tid, self.key), tid)
        if ans is None or error_of(ans):
            return None
        return addr(attrs_of(ans)[0x0016], True, tid)

    def permit(self, host, port):
        tid = os.urandom(12)
        ans = self.rpc(signed(0x0008, [(0x0012, xaddr(host, port, tid))] + self.creds, tid,
                              self.key), tid)
        return "timeout" if ans is None else (error_of(ans) or "success")

    def send(self, host, port, payload):
        tid = os.urandom(12)
        self.s.sendto(message(0x0016, [(0x0012, xaddr(host, port, tid)), (0x0013, payload)],
                              tid), self.server)

    def data_indication(self):
        """(peer, data) of the next Data indication, or None."""
        try:
            while True:
                data, _ = self.s.recvfrom(65536)
                if struct.unpack("!H", data[:2])[0] == 0x0017:
                    at = attrs_of(data)
                    return addr(at[0x0012], True, data[8:20]), at.get(0x0013, b"")
        except socket.timeout:
            return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--timeout", type=float, default=1.0)
    a = p.parse_args()
    out, good = {}, []

    ca, cb = Client(a), Client(a)
    ra, rb = ca.allocate(), cb.allocate()
    out["a-relayed"], out["b-relayed"] = ra, rb
    good.append(ra is not None and rb is not None)
    if all(good):
        ha, _, pa = ra.rpartition(":")
        hb, _, pb = rb.rpartition(":")
        # Each side permits the other's relayed address, as ICE agents do.
        perms = (cb.permit(ha, int(pa)), ca.permit(hb, int(pb)))
        out["permission"] = "success" if perms == ("success", "success") else ",".join(perms)
        good.append(out["permission"] == "success")
        # Relay to relay: B's Send reaches A from B's relayed address.
        cb.send(ha, int(pa), b"relay to relay")
        got = ca.data_indication()
        out["relay-to-relay"] = "timeout" if got is None else (
            "ok" if got == (rb, b"relay to relay") else "wrong %r" % (got,))
        good.append(out["relay-to-relay"] == "ok")
        # The permission is for the server's address; another port there
        # (a service of the appliance) stays out of reach.
        other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        other.bind((ha, 0))
        other.settimeout(a.timeout)
        cb.send(ha, other.getsockname()[1], b"to another port")
        try:
            other.recvfrom(65536)
            out["other-port"] = "reached"
        except socket.timeout:
            out["other-port"] = "dropped"
        good.append(out["other-port"] == "dropped")
    for k in sorted(out):
        print("%s=%s" % (k, out[k]))
    return 0 if all(good) else 1


if __name__ == "__main__":
    sys.exit(main())
