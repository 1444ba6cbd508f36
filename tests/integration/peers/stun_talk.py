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
"""
import argparse
import os
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
    a = p.parse_args()
    return {"ask": ask, "raw": raw, "flood": flood}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
