#!/usr/bin/env python3
"""stun_talk - a small scripted STUN peer for stund's tests, written from
RFC 8489, RFC 5780 and RFC 3489 independently of pbxedge's codec.

  stun_talk.py ask udp|tcp|tls HOST PORT [options]   one Binding request;
      prints the answer as key=value lines (class, xor-mapped, mapped,
      origin, other, source, changed, error, unknown, software, padding,
      fingerprint, len, from, local) or "timeout"
  stun_talk.py raw HOST PORT HEX...                  send datagrams as given
  stun_talk.py flood HOST PORT N                     N requests at once;
      prints sent=N answered=M
  stun_talk.py turn HOST PORT --user U --password P [options]
      TURN over UDP (RFC 8656) with long-term credentials: Allocate (after
      the 401 that brings realm and nonce), then optionally CreatePermission
      and a Send indication to --peer (an echo peer: the Data indication
      back is awaited), Refresh, or holding the allocation; prints
      key=value lines (first, allocate, error, relayed, lifetime,
      permission, data, refresh)
  stun_talk.py channel HOST PORT --user U --password P [--channel N]
      the wire format of relayed data (RFC 8656 11-12) against a UDP peer
      this script runs itself on 127.0.0.1: Allocate, CreatePermission, a
      Send indication to the peer (which must get the data from the
      relayed address), the peer's answer (which must come back as a Data
      indication from the peer), ChannelBind, the peer's next answer
      (which must now come back as ChannelData on that channel) and
      ChannelData from the client (which must reach the peer), then
      Refresh 0; prints key=value lines (allocate, relayed, peer-got,
      peer-source, before-bind, bind, after-bind, client-channeldata,
      refresh) and exits 1 unless every step went as RFC 8656 says
"""
import argparse
import base64
import hashlib
import hmac
import os
import time
import select
import socket
import ssl
import struct
import sys
import zlib

COOKIE = 0x2112A442


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4)


def message(mtype, attrs, tid, cookie=True, fingerprint=False):
    body = b"".join(attr(t, v) for t, v in attrs)
    head = struct.pack("!HH", mtype, len(body) + (8 if fingerprint else 0))
    head += struct.pack("!I", COOKIE) + tid if cookie else tid
    msg = head + body
    if fingerprint:
        crc = (zlib.crc32(msg) ^ 0x5354554E) & 0xFFFFFFFF
        msg += attr(0x8028, struct.pack("!I", crc))
    return msg


def addr(v, xor, tid):
    fam, port = struct.unpack("!xBH", v[:4])
    raw = v[4:]
    if xor:
        port ^= COOKIE >> 16
        key = struct.pack("!I", COOKIE) + tid
        raw = bytes(a ^ b for a, b in zip(raw, key))
    if fam == 1:
        return "%s:%d" % (socket.inet_ntop(socket.AF_INET, raw[:4]), port)
    return "[%s]:%d" % (socket.inet_ntop(socket.AF_INET6, raw[:16]), port)


NAMES = {0x0001: "mapped", 0x0004: "source", 0x0005: "changed", 0x0020: "xor-mapped",
         0x802B: "origin", 0x802C: "other"}


def parse(data, tid, cookie=True):
    out = {"len": str(len(data))}
    mtype, length = struct.unpack("!HH", data[:4])
    cls = (mtype >> 4 & 1) | (mtype >> 7 & 2)
    out["class"] = ["request", "indication", "success", "error"][cls]
    if data[8 if cookie else 4:20] != tid:
        out["tid"] = "mismatch"
    off = 20
    while off + 4 <= len(data):
        t, n = struct.unpack("!HH", data[off:off + 4])
        v = data[off + 4:off + 4 + n]
        if t in NAMES:
            out[NAMES[t]] = addr(v, t == 0x0020, tid if cookie else b"")
        elif t == 0x0009:
            out["error"] = str((v[2] & 7) * 100 + v[3])
            out["reason"] = v[4:].decode("utf-8", "replace").replace(" ", "_")
        elif t == 0x000A:
            out["unknown"] = ",".join("0x%04x" % x for x in struct.unpack("!%dH" % (n // 2), v))
        elif t == 0x8022:
            out["software"] = v.decode("utf-8", "replace").replace(" ", "_")
        elif t == 0x0026:
            out["padding"] = str(n)
        elif t == 0x8028:
            crc = (zlib.crc32(data[:off]) ^ 0x5354554E) & 0xFFFFFFFF
            out["fingerprint"] = "ok" if struct.unpack("!I", v)[0] == crc else "bad"
        off += 4 + n + (-n % 4)
    return out


class Frames:
    """Messages from a stream, cut by their length fields."""

    def __init__(self, s):
        self.s, self.buf = s, b""

    def next(self):
        while len(self.buf) < 20 or len(self.buf) < 20 + struct.unpack("!H", self.buf[2:4])[0]:
            d = self.s.recv(4096)
            if not d:
                raise EOFError
            self.buf += d
        n = 20 + struct.unpack("!H", self.buf[2:4])[0]
        data, self.buf = self.buf[:n], self.buf[n:]
        return data


def ask(a):
    tid = os.urandom(12 if not a.classic else 16)
    attrs = []
    if a.change:
        flags = {"ip": 4, "port": 2, "both": 6, "none": 0}[a.change]
        attrs.append((0x0003, struct.pack("!I", flags)))
    if a.response_port:
        attrs.append((0x0027, struct.pack("!HH", a.response_port, 0)))
    if a.padding is not None:
        attrs.append((0x0026, b"\0" * a.padding))
    for spec in a.attr:
        t, _, hexv = spec.partition(":")
        attrs.append((int(t, 16), bytes.fromhex(hexv)))
    req = message(0x0001, attrs, tid, cookie=not a.classic, fingerprint=a.fingerprint)
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    if a.transport == "udp":
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.bind((a.bind, a.local_port))
        listen = None
        if a.response_port:
            listen = socket.socket(fam, socket.SOCK_DGRAM)
            listen.bind((a.bind, a.response_port))
            listen.settimeout(a.timeout)
        s.settimeout(a.timeout)
        s.sendto(req, (a.host, a.port))
        # Errors come back to the source port, answers to RESPONSE-PORT.
        ready, _, _ = select.select([x for x in (s, listen) if x], [], [], a.timeout)
        if not ready:
            print("timeout")
            return 1
        data, frm = ready[0].recvfrom(4096)
        local = (listen or s).getsockname() if ready[0] is listen else s.getsockname()
    else:
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.bind((a.bind, 0))
        s.settimeout(a.timeout)
        try:
            s.connect((a.host, a.port))
        except (socket.timeout, ConnectionError):
            print("timeout")
            return 1
        local = s.getsockname()
        frm = s.getpeername()
        if a.transport == "tls":
            ctx = ssl.create_default_context(cafile=a.ca)
            ctx.check_hostname = False
            s = ctx.wrap_socket(s)
        s.sendall(req * a.repeat)
        frames = Frames(s)
        try:
            for _ in range(a.repeat):
                data = frames.next()
        except (socket.timeout, EOFError, ConnectionError):
            print("timeout")
            return 1
    out = parse(data, tid if not a.classic else tid, cookie=not a.classic)
    out["from"] = "%s:%d" % frm[:2]
    out["local"] = "%s:%d" % local[:2]
    for k in sorted(out):
        print("%s=%s" % (k, out[k]))
    return 0


def raw(a):
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((a.bind, 0))
    for h in a.hex:
        s.sendto(bytes.fromhex(h), (a.host, a.port))
    return 0


def flood(a):
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((a.bind, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    for i in range(a.n):
        s.sendto(message(0x0001, [], struct.pack("!12s", i.to_bytes(12, "big"))),
                 (a.host, a.port))
    s.settimeout(1.0)
    got = 0
    try:
        while True:
            s.recv(4096)
            got += 1
    except socket.timeout:
        pass
    print("sent=%d answered=%d" % (a.n, got))
    return 0


def xaddr(host, port, tid):
    """XOR-PEER-ADDRESS value for host:port."""
    key = struct.pack("!I", COOKIE) + tid
    if ":" in host:
        raw = socket.inet_pton(socket.AF_INET6, host)
        fam = 2
    else:
        raw = socket.inet_pton(socket.AF_INET, host)
        fam = 1
    x = bytes(a ^ b for a, b in zip(raw, key))
    return struct.pack("!xBH", fam, port ^ (COOKIE >> 16)) + x


def signed(mtype, attrs, tid, key):
    """A message with MESSAGE-INTEGRITY (HMAC-SHA1 over the message with the
    length covering the integrity attribute) and FINGERPRINT."""
    body = b"".join(attr(t, v) for t, v in attrs)
    head = struct.pack("!HH", mtype, len(body) + 24) + struct.pack("!I", COOKIE) + tid
    mac = hmac.new(key, head + body, hashlib.sha1).digest()
    msg = head + body + attr(0x0008, mac)
    msg = msg[:2] + struct.pack("!H", len(msg) - 20 + 8) + msg[4:]
    crc = (zlib.crc32(msg) ^ 0x5354554E) & 0xFFFFFFFF
    return msg + attr(0x8028, struct.pack("!I", crc))


def attrs_of(data):
    out = {}
    off = 20
    while off + 4 <= len(data):
        t, n = struct.unpack("!HH", data[off:off + 4])
        out.setdefault(t, data[off + 4:off + 4 + n])
        off += 4 + n + (-n % 4)
    return out


def error_of(data):
    v = attrs_of(data).get(0x0009)
    return str((v[2] & 7) * 100 + v[3]) if v else ""


def request(s, server, msg, tid):
    """Send msg to server on s; the answer with transaction ID tid, other
    datagrams skipped, or None when the socket's timeout passes."""
    s.sendto(msg, server)
    while True:
        try:
            data, _ = s.recvfrom(65536)
        except socket.timeout:
            return None
        if data[8:20] == tid:
            return data


def turn(a):
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((a.bind, 0))
    s.settimeout(a.timeout)
    out = {}

    def rpc(msg, tid):
        return request(s, (a.host, a.port), msg, tid)

    def done():
        for k in sorted(out):
            print("%s=%s" % (k, out[k]))
        return 0

    transport = (0x0019, struct.pack("!B3x", 17))
    tid = os.urandom(12)
    ans = rpc(message(0x0003, [transport], tid), tid)
    if ans is None:
        out["first"] = "timeout"
        return done()
    out["first"] = error_of(ans) or "success"
    at = attrs_of(ans)
    realm, nonce = at.get(0x0014, b""), at.get(0x0015, b"")
    user = a.user
    password = a.password
    if a.rest_secret:
        user = "%d:%s" % (a.rest_expiry, a.user)
        password = base64.b64encode(hmac.new(a.rest_secret.encode(), user.encode(),
                                             hashlib.sha1).digest()).decode()
    key = hashlib.md5(("%s:%s:%s" % (user, realm.decode(), password)).encode()).digest()
    if a.nonce is not None:
        nonce = a.nonce.encode()
    creds = [(0x0006, user.encode()), (0x0014, realm), (0x0015, nonce)]
    extra = []
    if a.lifetime is not None:
        extra.append((0x000D, struct.pack("!I", a.lifetime)))
    for spec in a.attr:
        t, _, hexv = spec.partition(":")
        extra.append((int(t, 16), bytes.fromhex(hexv)))
    tid = os.urandom(12)
    ans = rpc(signed(0x0003, [transport] + extra + creds, tid, key), tid)
    if ans is None:
        out["allocate"] = "timeout"
        return done()
    if 0x000A in attrs_of(ans):
        v = attrs_of(ans)[0x000A]
        out["unknown"] = ",".join("0x%04x" % x for x in struct.unpack("!%dH" % (len(v) // 2), v))
    if error_of(ans):
        out["allocate"] = "error"
        out["error"] = error_of(ans)
        return done()
    out["allocate"] = "success"
    at = attrs_of(ans)
    out["relayed"] = addr(at[0x0016], True, tid)
    out["lifetime"] = str(struct.unpack("!I", at[0x000D])[0])
    if 0x0022 in at:
        out["token"] = at[0x0022].hex()
    if 0x8001 in at:
        out["address-error"] = "%d/%d" % (at[0x8001][0], (at[0x8001][2] & 7) * 100 + at[0x8001][3])
    if a.peer:
        host, _, port = a.peer.rpartition(":")
        tid = os.urandom(12)
        ans = rpc(signed(0x0008, [(0x0012, xaddr(host, int(port), tid))] + creds, tid, key),
                  tid)
        out["permission"] = "timeout" if ans is None else (error_of(ans) or "success")
        if out["permission"] == "success" and a.send:
            tid = os.urandom(12)
            s.sendto(message(0x0016, [(0x0012, xaddr(host, int(port), tid)),
                                      (0x0013, a.send.encode())], tid),
                     (a.host, a.port))
            out["data"] = "timeout"
            try:
                while True:
                    data, _ = s.recvfrom(65536)
                    if struct.unpack("!H", data[:2])[0] == 0x0017:
                        got = attrs_of(data).get(0x0013, b"")
                        out["data"] = "ok" if got == a.send.encode() else "wrong"
                        break
            except socket.timeout:
                pass
    if a.hold:
        time.sleep(a.hold)
    if a.refresh is not None:
        tid = os.urandom(12)
        ans = rpc(signed(0x0004, [(0x000D, struct.pack("!I", a.refresh))] + creds, tid, key),
                  tid)
        out["refresh"] = "timeout" if ans is None else (error_of(ans) or "success")
    return done()


def describe(data):
    """What a datagram from the server is: ("channeldata", channel, data),
    ("data-indication", peer, data), or ("other", hex, b"")."""
    if len(data) >= 4 and data[0] >> 6 == 1:
        ch, n = struct.unpack("!HH", data[:4])
        if len(data) < 4 + n:
            return ("other", data.hex(), b"")
        return ("channeldata", "0x%04x" % ch, data[4:4 + n])
    if len(data) >= 20 and struct.unpack("!H", data[:2])[0] == 0x0017:
        at = attrs_of(data)
        if 0x0012 in at and 0x0013 in at:
            return ("data-indication", addr(at[0x0012], True, data[8:20]), at[0x0013])
    return ("other", data[:32].hex(), b"")


def channel(a):
    """See the module's doc: Send/Data indications before ChannelBind,
    ChannelData after it, both ways."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(a.timeout)
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(a.timeout)
    peer_addr = "127.0.0.1:%d" % peer.getsockname()[1]
    server = (a.host, a.port)
    out = {}
    good = []

    def done():
        for k in sorted(out):
            print("%s=%s" % (k, out[k]))
        return 0 if all(good) and good else 1

    def rpc(msg, tid):
        return request(s, server, msg, tid)

    def from_server():
        """The next datagram from the server, described."""
        try:
            data, src = s.recvfrom(65536)
        except socket.timeout:
            return ("timeout", "", b"")
        if src[1] != a.port:
            return ("other", "from %s:%d" % src, b"")
        return describe(data)

    def at_peer():
        try:
            data, src = peer.recvfrom(65536)
        except socket.timeout:
            return None, None
        return data, "%s:%d" % src

    transport = (0x0019, struct.pack("!B3x", 17))
    tid = os.urandom(12)
    ans = rpc(message(0x0003, [transport], tid), tid)
    at = attrs_of(ans or b"")
    realm, nonce = at.get(0x0014, b""), at.get(0x0015, b"")
    key = hashlib.md5(("%s:%s:%s" % (a.user, realm.decode(), a.password)).encode()).digest()
    creds = [(0x0006, a.user.encode()), (0x0014, realm), (0x0015, nonce)]
    tid = os.urandom(12)
    ans = rpc(signed(0x0003, [transport] + creds, tid, key), tid)
    if ans is None or error_of(ans):
        out["allocate"] = "timeout" if ans is None else error_of(ans)
        good.append(False)
        return done()
    out["allocate"] = "success"
    relayed = addr(attrs_of(ans)[0x0016], True, tid)
    out["relayed"] = relayed
    pport = peer.getsockname()[1]

    tid = os.urandom(12)
    ans = rpc(signed(0x0008, [(0x0012, xaddr("127.0.0.1", pport, tid))] + creds, tid, key), tid)
    out["permission"] = "timeout" if ans is None else (error_of(ans) or "success")
    good.append(out["permission"] == "success")
    if not good[-1]:
        return done()

    # Before any binding: Send indication out, Data indication back.
    tid = os.urandom(12)
    s.sendto(message(0x0016, [(0x0012, xaddr("127.0.0.1", pport, tid)), (0x0013, b"send-1")],
                     tid), server)
    data, src = at_peer()
    out["peer-got"] = "timeout" if data is None else ("ok" if data == b"send-1" else "wrong")
    out["peer-source"] = "ok" if src == relayed else "%s" % src
    good += [out["peer-got"] == "ok", out["peer-source"] == "ok"]
    host, _, port = relayed.rpartition(":")
    peer.sendto(b"data-1", (host, int(port)))
    kind, who, got = from_server()
    out["before-bind"] = kind
    good.append(kind == "data-indication" and who == peer_addr and got == b"data-1")
    if kind == "data-indication" and not good[-1]:
        out["before-bind"] = "wrong:%s:%r" % (who, got)

    tid = os.urandom(12)
    ans = rpc(signed(0x0009, [(0x000C, struct.pack("!H2x", a.channel)),
                              (0x0012, xaddr("127.0.0.1", pport, tid))] + creds, tid, key), tid)
    out["bind"] = "timeout" if ans is None else (error_of(ans) or "success")
    good.append(out["bind"] == "success")
    if not good[-1]:
        return done()

    # After the binding: the peer's data must come as ChannelData on the
    # channel (first two bits 01), not as a Data indication.
    peer.sendto(b"chan-1", (host, int(port)))
    kind, who, got = from_server()
    out["after-bind"] = kind
    good.append(kind == "channeldata" and who == "0x%04x" % a.channel and got == b"chan-1")
    if kind == "channeldata" and not good[-1]:
        out["after-bind"] = "wrong:%s:%r" % (who, got)
    s.sendto(struct.pack("!HH", a.channel, 6) + b"chan-2", server)
    data, src = at_peer()
    out["client-channeldata"] = "timeout" if data is None else (
        "ok" if data == b"chan-2" and src == relayed else "wrong:%s:%r" % (src, data))
    good.append(out["client-channeldata"] == "ok")

    tid = os.urandom(12)
    ans = rpc(signed(0x0004, [(0x000D, struct.pack("!I", 0))] + creds, tid, key), tid)
    out["refresh"] = "timeout" if ans is None else (error_of(ans) or "success")
    good.append(out["refresh"] == "success")
    return done()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("ask")
    q.add_argument("transport", choices=["udp", "tcp", "tls"])
    q.add_argument("host")
    q.add_argument("port", type=int)
    q.add_argument("--bind", default="")
    q.add_argument("--local-port", type=int, default=0)
    q.add_argument("--classic", action="store_true")
    q.add_argument("--change", choices=["ip", "port", "both", "none"])
    q.add_argument("--response-port", type=int)
    q.add_argument("--padding", type=int)
    q.add_argument("--attr", action="append", default=[], help="TYPE:HEXVALUE")
    q.add_argument("--fingerprint", action="store_true")
    q.add_argument("--ca")
    q.add_argument("--repeat", type=int, default=1)
    q.add_argument("--timeout", type=float, default=2.0)
    r = sub.add_parser("raw")
    r.add_argument("host")
    r.add_argument("port", type=int)
    r.add_argument("hex", nargs="+")
    r.add_argument("--bind", default="")
    f = sub.add_parser("flood")
    f.add_argument("host")
    f.add_argument("port", type=int)
    f.add_argument("n", type=int)
    f.add_argument("--bind", default="")
    t = sub.add_parser("turn")
    t.add_argument("host")
    t.add_argument("port", type=int)
    t.add_argument("--user", required=True)
    t.add_argument("--password", default="")
    t.add_argument("--rest-secret")
    t.add_argument("--rest-expiry", type=int, default=0)
    t.add_argument("--peer", help="ADDR:PORT for CreatePermission")
    t.add_argument("--send", help="text for a Send indication to --peer")
    t.add_argument("--lifetime", type=int)
    t.add_argument("--attr", action="append", default=[], help="TYPE:HEXVALUE")
    t.add_argument("--hold", type=float, default=0)
    t.add_argument("--nonce", help="send this NONCE instead of the server's")
    t.add_argument("--refresh", type=int, help="Refresh with this LIFETIME at the end")
    t.add_argument("--bind", default="")
    t.add_argument("--timeout", type=float, default=2.0)
    c = sub.add_parser("channel")
    c.add_argument("host")
    c.add_argument("port", type=int)
    c.add_argument("--user", required=True)
    c.add_argument("--password", default="")
    c.add_argument("--channel", type=lambda v: int(v, 0), default=0x4001)
    c.add_argument("--timeout", type=float, default=2.0)
    a = p.parse_args()
    return {"ask": ask, "raw": raw, "flood": flood, "turn": turn, "channel": channel}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
