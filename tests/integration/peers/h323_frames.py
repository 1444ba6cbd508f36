#!/usr/bin/env python3
"""h323_frames.py - H.225.0 frames for the H.323 tests, as a module and a CLI.

No free H.323 client exists in Debian, so the tests build the frames an
endpoint sends: a GatekeeperRequest or RegistrationRequest over H.460.17
(RAS in the genericData of a Q.931 FACILITY), a lightweight re-registration,
a Setup, a TPKT keep-alive; and they parse what rpd answers with: a
GatekeeperReject or RegistrationReject wrapped the same way, or a RELEASE
COMPLETE with a Cause.  The octets are the ones tests/unit/h225_frames.h
builds (both follow the wire-format reference; `selftest` checks them
against tests/vectors/h225, whose frames tshark decoded).

    h323_frames.py grq   --seq N [--gkid ID] [--alias KIND:TEXT ...] [--tokens]
    h323_frames.py rrq   --seq N [--gkid ID] [--alias KIND:TEXT ...]
                         [--endpoint] [--keep-alive] [--tokens]
    h323_frames.py lrrq  --seq N [--gkid ID]        (lightweight: keepAlive)
    h323_frames.py setup --cref N [--src KIND:TEXT ...] [--dest KIND:TEXT ...]
                         [--display TEXT]
    h323_frames.py keepalive
    h323_frames.py parse [FILE]                     (default: standard input)
    h323_frames.py selftest [VECTOR-DIR]

Builders print the frame as hex on one line, or write it raw with
--out FILE (- for standard output).  KIND is h323 (h323-ID), url (url-ID),
email (email-ID) or digits (dialledDigits): h323:alice, url:h323:bob@x.org.
`parse` reads TPKT frames and prints one line per frame:

    keepalive
    facility cref=0 ras=grj seq=1 reason=3
    release-complete cref=257 flag=1 cause=3
    other q931=0x07 cref=5 flag=1

Reject reasons are numbered as tshark numbers them (GRJ: 3 undefinedReason,
4 securityDenial; RRJ: 6 undefinedReason, 11 securityDenial, 12
fullRegistrationRequired).  Exit status: 0, 1 on a frame that cannot be
parsed or a failed selftest, 2 on bad arguments.
"""
import argparse
import os
import sys

PROTOCOL_ID = bytes([0x00, 0x08, 0x91, 0x4a, 0x00, 0x07])  # 0.0.8.2250.0.7
DIGITS = "#*,0123456789"

RAS_NAMES = {0: "grq", 1: "gcf", 2: "grj", 3: "rrq", 4: "rcf", 5: "rrj"}


# ---- ALIGNED PER, written ----

class Bits:
    """A bit writer: most significant bit first, octet alignment on demand."""

    def __init__(self):
        self.out = bytearray()
        self.nbits = 0  # bits used in the last octet (0: none open)

    def put(self, n, v):
        for i in range(n - 1, -1, -1):
            if self.nbits == 0:
                self.out.append(0)
            if (v >> i) & 1:
                self.out[-1] |= 0x80 >> self.nbits
            self.nbits = (self.nbits + 1) % 8

    def align(self):
        self.nbits = 0

    def octets(self, data):
        self.align()
        self.out += bytes(data)

    def length(self, n):
        """Unconstrained length determinant (below 16384)."""
        self.align()
        if n < 128:
            self.out.append(n)
        elif n < 16384:
            self.out += bytes([0x80 | n >> 8, n & 0xff])
        else:
            raise ValueError("length %d needs fragments" % n)

    def open(self, data):
        self.length(len(data))
        self.octets(data)

    def end(self):
        """The complete encoding: at least one octet (X.691 10.1.3)."""
        self.align()
        return bytes(self.out) if self.out else b"\x00"


def _oid(b):
    b.length(len(PROTOCOL_ID))
    b.octets(PROTOCOL_ID)


def parse_alias(spec):
    """'h323:alice' -> ('h323', 'alice'); a tuple is taken as it is."""
    if isinstance(spec, tuple):
        return spec
    kind, sep, text = spec.partition(":")
    if not sep or kind not in ("h323", "url", "email", "digits") or not text:
        raise ValueError("alias %r: want KIND:TEXT, KIND h323, url, email or digits" % spec)
    return kind, text


def _alias(b, spec):
    kind, text = parse_alias(spec)
    if kind == "digits":
        b.put(2, 0)
        b.put(7, len(text) - 1)
        b.align()
        for c in text:
            b.put(4, DIGITS.index(c))
    elif kind == "h323":
        units = text.encode("utf-16-be")
        b.put(2, 1)
        b.align()
        b.put(8, len(units) // 2 - 1)
        b.octets(units)
    else:
        inner = Bits()
        inner.put(16, len(text) - 1)
        inner.octets(text.encode("ascii"))
        b.put(1, 1)
        b.put(7, 0 if kind == "url" else 2)
        b.open(inner.end())


def _aliases(b, aliases):
    b.length(len(aliases))
    for a in aliases:
        _alias(b, a)


def _ip(b, port):
    b.put(4, 0)  # TransportAddress: root, ipAddress
    b.octets(bytes([192, 0, 2, 10, port >> 8, port & 0xff]))


def _vendor(b):
    b.put(3, 3)  # no additions; productId, versionId
    b.put(1, 0)
    b.octets(bytes([9, 0, 0, 61]))
    b.put(8, 8)
    b.octets(b"TestPhone")
    b.put(8, 2)
    b.octets(b"1.0")


def _endpoint(b, vendor):
    b.put(7, 0x11 if vendor else 0x01)
    if vendor:
        _vendor(b)
    b.put(4, 0)  # TerminalInfo preamble; mc, undefinedNode


def _gkid(b, gkid):
    units = gkid.encode("utf-16-be")
    b.put(7, len(units) // 2 - 1)
    b.octets(units)


def _tokens():
    b = Bits()
    b.length(1)
    b.put(9, 0)
    oid = bytes([0x00, 0x08, 0x81, 0x6b, 0x00, 0x03, 0x01])
    b.length(len(oid))
    b.octets(oid)
    return b.end()


def ras_grq(seq, gkid=None, aliases=None, tokens=False):
    """A GatekeeperRequest: the complete RasMessage encoding."""
    b = Bits()
    b.put(6, 0)
    b.put(1, int(tokens))
    b.put(4, (gkid is not None) << 2 | (aliases is not None))
    b.align()
    b.put(16, seq - 1)
    _oid(b)
    _ip(b, 1719)
    _endpoint(b, False)
    if gkid is not None:
        _gkid(b, gkid)
    if aliases is not None:
        _aliases(b, aliases)
    if tokens:
        b.put(7, 1)
        b.put(2, 1)
        b.open(_tokens())
    return b.end()


def ras_rrq(seq, gkid=None, aliases=None, endpoint=False, keep_alive=False, tokens=False):
    """A RegistrationRequest: the complete RasMessage encoding."""
    additions = endpoint or keep_alive or tokens
    b = Bits()
    b.put(6, 3)
    b.put(1, int(additions))
    b.put(3, (aliases is not None) << 1 | (gkid is not None))
    b.align()
    b.put(16, seq - 1)
    _oid(b)
    b.put(1, 0)  # discoveryComplete
    b.length(1)
    _ip(b, 1720)
    b.length(1)
    _ip(b, 1719)
    _endpoint(b, endpoint)
    if aliases is not None:
        _aliases(b, aliases)
    if gkid is not None:
        _gkid(b, gkid)
    _vendor(b)
    if not additions:
        return b.end()
    present = {5}
    if endpoint:
        present |= {1, 7, 8, 12, 19, 23}
    if tokens:
        present.add(2)
    if keep_alive:
        present.add(6)
    b.put(7, 26)
    b.put(27, sum(1 << (26 - i) for i in present))
    if endpoint:
        b.open(bytes([0x40, 0x01, 0x2b]))  # timeToLive 300
    if tokens:
        b.open(_tokens())
    b.open(b"\x80" if keep_alive else b"\x00")
    if keep_alive:
        b.open(bytes([0x04, 0x00, 0x65, 0x00, 0x70, 0x00, 0x31]))  # endpointIdentifier "ep1"
    if endpoint:
        for v in (b"\x00", b"\x80", b"\x00", bytes([0x10, 0x01, 0x00, 0x00, 0x11]), b"\x00"):
            b.open(v)
    return b.end()


def uu_h46017(ras, no_tunnelling=False, other_first=False, long_bitmap=False, bundle=False):
    """H323-UserInformation of a FACILITY: body empty, genericData holding
    each RAS message as the raw parameter 1 of H.460.17 (feature 17)."""
    g = Bits()
    g.length((1 if bundle else len(ras)) + (1 if other_first else 0))
    if other_first:  # H.460.18 with a bool parameter
        g.put(6, 0x10)
        g.align()
        g.put(16, 18)
        g.put(16, 0)
        g.put(6, 0x10)
        g.align()
        g.put(16, 1)
        g.put(5, 3)
        g.put(1, 1)
    for i, r in enumerate(ras):
        if not bundle or i == 0:
            g.put(6, 0x10)
            g.align()
            g.put(16, 17)
            g.put(16, len(ras) - 1 if bundle else 0)
        g.put(6, 0x10)
        g.align()
        g.put(16, 1)
        g.put(5, 0)
        g.open(r)
    b = Bits()
    b.put(5, 0x05)
    b.put(7, 1)
    b.open(b"\x00")
    if long_bitmap:
        b.put(7, 11)
        b.put(12, 0x00f if no_tunnelling else 0x40f)
    else:
        b.put(7, 8)
        b.put(9, 0x001 if no_tunnelling else 0x081)
    if not no_tunnelling:
        b.open(b"\x80")
    b.open(g.end())
    if long_bitmap:
        for _ in range(3):
            b.open(b"\x01\x02\x03")
    return b.end()


def frame(cref, flag, msg_type, ies=b"", uu=None):
    """A TPKT frame with a Q.931 message: ies, then a User-user IE with uu."""
    body = bytes([0x08, 0x02, (cref >> 8) | (0x80 if flag else 0), cref & 0xff, msg_type])
    body += ies
    if uu is not None:
        body += bytes([0x7e, (len(uu) + 1) >> 8, (len(uu) + 1) & 0xff, 0x05]) + uu
    n = len(body) + 4
    if n > 65535:
        raise ValueError("frame of %d octets" % n)
    return bytes([3, 0, n >> 8, n & 0xff]) + body


def h46017(ras, facility_ie=False, **wrap):
    """A FACILITY (global call reference) carrying the RAS messages."""
    return frame(0, False, 0x62, b"\x1c\x00" if facility_ie else b"", uu_h46017(ras, **wrap))


def grq(seq, gkid=None, aliases=None, tokens=False):
    return h46017([ras_grq(seq, gkid, aliases, tokens)])


def rrq(seq, gkid=None, aliases=None, endpoint=False, keep_alive=False, tokens=False):
    # Real endpoints (H323Plus, GnuGk) send the empty Facility IE.
    return h46017([ras_rrq(seq, gkid, aliases, endpoint, keep_alive, tokens)],
                  facility_ie=endpoint)


def lightweight_rrq(seq, gkid=None):
    """A lightweight re-registration: keepAlive TRUE, no aliases, tokens."""
    return rrq(seq, gkid, keep_alive=True, tokens=True)


def keepalive():
    return b"\x03\x00\x00\x04"


def setup(cref, src=None, dest=None, display=None):
    """A SETUP as the reference's worked one: conferenceID and callIdentifier
    made from the call reference."""
    ies = b""
    if display is not None:
        d = display.encode("ascii")
        ies = bytes([0x04, 0x03, 0x80, 0x90, 0xa3, 0x28, len(d)]) + d
    cid = (cref + 1000) & 0xffff

    def guid(v):
        return bytes([0, 0, v >> 8, v & 0xff] + [0x5a] * 4 + [0xa5] * 4 + [0, 0, v >> 8, v & 0xff])

    b = Bits()
    b.put(5, 0x04)
    b.put(3, 0)
    b.put(1, 1)
    b.put(7, (0x20 if src is not None else 0) | (0x10 if dest is not None else 0))
    _oid(b)
    if src is not None:
        _aliases(b, src)
    _endpoint(b, False)
    if dest is not None:
        _aliases(b, dest)
    b.put(1, 0)
    b.octets(guid(cref))
    b.put(6, 0)
    b.put(7, 27)
    b.put(28, 1 << 25 | 1 << 20 | 1 << 19 | 1 << 17 | 1 << 16)
    b.open(b"\x00" + guid(cid))
    for _ in range(4):
        b.open(b"\x00")
    b.put(7, 8)
    b.put(9, 0x080)
    b.open(b"\x80")
    return frame(cref, False, 0x05, ies, b.end())


# ---- parsing what rpd answers with ----

class ParseError(Exception):
    pass


class Reader:
    """A bit reader over one complete PER encoding."""

    def __init__(self, data):
        self.data = data
        self.pos = 0  # in bits

    def bits(self, n):
        v = 0
        for _ in range(n):
            if self.pos >= len(self.data) * 8:
                raise ParseError("runs past its end")
            v = v << 1 | (self.data[self.pos // 8] >> (7 - self.pos % 8)) & 1
            self.pos += 1
        return v

    def align(self):
        self.pos = (self.pos + 7) // 8 * 8

    def octets(self, n):
        self.align()
        start = self.pos // 8
        if start + n > len(self.data):
            raise ParseError("runs past its end")
        self.pos += 8 * n
        return self.data[start:start + n]

    def length(self):
        first = self.octets(1)[0]
        if first < 0x80:
            return first
        if first & 0xc0 == 0xc0:
            raise ParseError("fragmented length")
        return (first & 0x3f) << 8 | self.octets(1)[0]

    def open(self):
        return Reader(self.octets(self.length()))

    def small(self):
        if self.bits(1):
            raise ParseError("large normally small number")
        return self.bits(6)


def _reason(r, nroot, bits):
    if r.bits(1):
        return nroot + r.small()
    return r.bits(bits)


def parse_ras(data):
    """GRJ / RRJ as rpd writes them: (name, seq, reason); other RAS: (name,)."""
    r = Reader(data)
    if r.bits(1):
        raise ParseError("RAS extension alternative")
    kind = r.bits(5)
    name = RAS_NAMES.get(kind, "ras%d" % kind)
    if kind not in (2, 5):
        return {"ras": name}
    r.bits(1)
    ns, gk = r.bits(1), r.bits(1)
    seq = int.from_bytes(r.octets(2), "big") + 1
    r.octets(r.length())  # protocolIdentifier
    if ns:
        raise ParseError("nonStandardData in a reject")
    if kind == 2:
        if gk:
            r.octets(2 * (r.bits(7) + 1))
        reason = _reason(r, 4, 2)
    else:
        reason = _reason(r, 8, 3)
    return {"ras": name, "seq": seq, "reason": reason}


def _generic(r, out):
    """A GenericData list: the raw parameter 1 of feature 17 is RAS."""
    for _ in range(r.length()):
        ext, params = r.bits(1), r.bits(1)
        if r.bits(1) or r.bits(2) != 0 or r.bits(1):
            raise ParseError("GenericData id not a standard number")
        ident = int.from_bytes(r.octets(2), "big")
        if not params:
            continue
        for _ in range(int.from_bytes(r.octets(2), "big") + 1):
            pext, content = r.bits(1), r.bits(1)
            if r.bits(1) or r.bits(2) != 0 or r.bits(1):
                raise ParseError("parameter id not a standard number")
            pid = int.from_bytes(r.octets(2), "big")
            if not content:
                continue
            if r.bits(1) or r.bits(4) != 0:
                raise ParseError("parameter content is not raw")
            raw = r.octets(r.length())
            if ident == 17 and pid == 1:
                out.append(parse_ras(raw))
            if pext:
                raise ParseError("parameter additions")
        if ext:
            raise ParseError("GenericData additions")


def parse_uu(data):
    """What an H323-UserInformation of rpd's says: body and RAS messages."""
    r = Reader(data)
    r.bits(2)
    pdu_ext, ns = r.bits(1), r.bits(1)
    if ns:
        raise ParseError("nonStandardData")
    if r.bits(1):
        body = 7 + r.small()
        r.open()
    else:
        body = r.bits(3)
    ras = []
    if body == 8 and pdu_ext:
        n = r.bits(7) + 1
        present = [r.bits(1) for _ in range(n)]
        for i, p in enumerate(present):
            if not p:
                continue
            o = r.open()
            if i == 8:
                _generic(o, ras)
    return body, ras


def parse_frames(data):
    """Every TPKT frame in data, as dicts."""
    out = []
    while data:
        if len(data) < 4 or data[0] != 3:
            raise ParseError("not TPKT")
        n = data[2] << 8 | data[3]
        if n < 4 or n > len(data):
            raise ParseError("TPKT length %d of %d octets" % (n, len(data)))
        f, data = data[4:n], data[n:]
        if n == 4:
            out.append({"kind": "keepalive"})
            continue
        if len(f) < 5 or f[0] != 0x08 or f[1] != 2:
            raise ParseError("not Q.931 as H.225.0 uses it")
        d = {"q931": f[4], "cref": (f[2] & 0x7f) << 8 | f[3], "flag": f[2] >> 7}
        i = 5
        while i < len(f):
            ie = f[i]
            if ie & 0x80:
                i += 1
                continue
            if ie == 0x7e:
                ln = f[i + 1] << 8 | f[i + 2]
                v = f[i + 3:i + 3 + ln]
                i += 3
            else:
                ln = f[i + 1]
                v = f[i + 2:i + 2 + ln]
                i += 2
            if len(v) != ln:
                raise ParseError("IE 0x%02x runs past the frame" % ie)
            i += ln
            if ie == 0x08 and len(v) >= 2:
                d["cause"] = v[-1] & 0x7f if v[0] & 0x80 else v[2] & 0x7f
            elif ie == 0x7e and v[:1] == b"\x05":
                d["body"], d["ras"] = parse_uu(v[1:])
        d["kind"] = {0x62: "facility", 0x5a: "release-complete"}.get(d["q931"], "other")
        out.append(d)
    return out


def describe(d):
    if d["kind"] == "keepalive":
        return "keepalive"
    if d["kind"] == "facility":
        parts = ["facility cref=%d" % d["cref"]]
        for r in d.get("ras", []):
            parts.append(" ".join("%s=%s" % (k, r[k]) for k in ("ras", "seq", "reason") if k in r))
        return " ".join(parts)
    if d["kind"] == "release-complete":
        return "release-complete cref=%d flag=%d cause=%s" % (d["cref"], d["flag"],
                                                              d.get("cause", "-"))
    return "other q931=0x%02x cref=%d flag=%d" % (d["q931"], d["cref"], d["flag"])


# ---- the vectors of tests/vectors/h225, as h225_frames.h makes them ----

ALICE = ("h323", "alice")
DIGITS_1234 = ("digits", "1234")


def _two(a, b, **wrap):
    return h46017([a, b], **wrap)


VECTORS = {
    "grq": lambda: grq(1, "innovaphone.com", [ALICE]),
    "rrq": lambda: rrq(2, "hq@innovaphone.com/branch", [ALICE], endpoint=True),
    "setup": lambda: setup(257, [ALICE], [("h323", "bob@example.org")], "alice"),
    "gen-grq-standby": lambda: grq(7, "Vienna@InnovaPhone.COM/HQ:HQ-Standby",
                                   [DIGITS_1234, ALICE]),
    "gen-grq-no-gkid": lambda: grq(3, None, [ALICE]),
    "gen-grq-utf8-alias": lambda: grq(9, "example.com", [("h323", "J\u00fcrgen\u20ac")]),
    "gen-grq-after-h46018": lambda: h46017([ras_grq(40, "innovaphone.com", [ALICE])],
                                           other_first=True, long_bitmap=True,
                                           no_tunnelling=True),
    "gen-rrq-lightweight": lambda: lightweight_rrq(12),
    "gen-rrq-lightweight-gkid": lambda: rrq(13, "innovaphone.com", keep_alive=True),
    "gen-rrq-tokens": lambda: rrq(65535, "innovaphone.com/hq:hq-standby",
                                  [ALICE, ("h323", "Alice Smith")], endpoint=True, tokens=True),
    "gen-rrq-many-aliases": lambda: rrq(4, "gw.example.com",
                                        [("h323", "a%d" % i) for i in range(10)]),
    "gen-rrq-bundled": lambda: _two(ras_rrq(20, "innovaphone.com/branch", [ALICE]),
                                    ras_rrq(21, "hq@INNOVAPHONE.com/Branch", [("h323", "bob")]),
                                    facility_ie=True, bundle=True),
    "gen-rrq-bundled-other": lambda: _two(ras_rrq(30, "innovaphone.com", [ALICE]),
                                          ras_rrq(31, "evil.example.com", [ALICE])),
    "gen-setup-url": lambda: setup(4660, [ALICE], [DIGITS_1234, ("h323", "bob"),
                                                   ("url", "h323:bob@Example.ORG:1720"),
                                                   ("h323", "carol@other.example")]),
    "gen-setup-email": lambda: setup(32767, None, [("email", "bob@mail.example.net")], "A"),
    "gen-setup-digits": lambda: setup(2, [ALICE], [DIGITS_1234, ("h323", "bob@")]),
    "gen-setup-no-dest": lambda: setup(3, [ALICE]),
}

# What parse() must find in the rejects and RELEASE COMPLETEs of the vectors.
PARSED = {
    "grj-undefined": "facility cref=0 ras=grj seq=1 reason=3",
    "grj-security": "facility cref=0 ras=grj seq=1 reason=4",
    "rrj-undefined": "facility cref=0 ras=rrj seq=2 reason=6",
    "rrj-security": "facility cref=0 ras=rrj seq=2 reason=11",
    "rpd-grj-resource": "facility cref=0 ras=grj seq=1 reason=0",
    "rpd-rrj-resource": "facility cref=0 ras=rrj seq=2 reason=9",
    "rc-cause3": "release-complete cref=257 flag=1 cause=3",
    "rpd-rc-cref-32767": "release-complete cref=32767 flag=1 cause=3",
}


def selftest(d):
    bad = 0
    for name, build in VECTORS.items():
        want = open(os.path.join(d, name + ".bin"), "rb").read()
        if build() != want:
            print("%s: differs from %s.bin" % (name, name))
            bad += 1
    for name, want in PARSED.items():
        got = "; ".join(describe(f) for f in parse_frames(
            open(os.path.join(d, name + ".bin"), "rb").read()))
        if got != want:
            print("%s: parsed as %r, want %r" % (name, got, want))
            bad += 1
    print("h323_frames: %d built, %d parsed, %d wrong" % (len(VECTORS), len(PARSED), bad))
    return 1 if bad else 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def builder(name):
        p = sub.add_parser(name)
        p.add_argument("--out", help="write the raw frame to FILE (- for stdout)")
        return p

    for name in ("grq", "rrq", "lrrq"):
        p = builder(name)
        p.add_argument("--seq", type=int, required=True)
        p.add_argument("--gkid")
        if name != "lrrq":
            p.add_argument("--alias", action="append", type=parse_alias)
            p.add_argument("--tokens", action="store_true")
        if name == "rrq":
            p.add_argument("--endpoint", action="store_true")
            p.add_argument("--keep-alive", action="store_true")
    p = builder("setup")
    p.add_argument("--cref", type=int, required=True)
    p.add_argument("--src", action="append", type=parse_alias)
    p.add_argument("--dest", action="append", type=parse_alias)
    p.add_argument("--display")
    builder("keepalive")
    p = sub.add_parser("parse")
    p.add_argument("file", nargs="?")
    p = sub.add_parser("selftest")
    p.add_argument("dir", nargs="?", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "vectors", "h225"))
    a = ap.parse_args(argv[1:])

    if a.cmd == "selftest":
        return selftest(a.dir)
    if a.cmd == "parse":
        data = open(a.file, "rb").read() if a.file else sys.stdin.buffer.read()
        try:
            for f in parse_frames(data):
                print(describe(f))
        except ParseError as e:
            print("h323_frames: %s" % e, file=sys.stderr)
            return 1
        return 0
    if a.cmd == "grq":
        out = grq(a.seq, a.gkid, a.alias, a.tokens)
    elif a.cmd == "rrq":
        out = rrq(a.seq, a.gkid, a.alias, a.endpoint, a.keep_alive, a.tokens)
    elif a.cmd == "lrrq":
        out = lightweight_rrq(a.seq, a.gkid)
    elif a.cmd == "setup":
        out = setup(a.cref, a.src, a.dest, a.display)
    else:
        out = keepalive()
    if a.out == "-":
        sys.stdout.buffer.write(out)
    elif a.out:
        with open(a.out, "wb") as f:
            f.write(out)
    else:
        print(out.hex())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
