#!/usr/bin/env python3
"""h323_peer.py - the two ends of an H.323 TCP connection for the rpd tests.

No H.323 endpoint or gatekeeper exists in Debian, so the tests play both:

    h323_peer.py backend --port-file F --record PREFIX [--cert F --key F]
                         [--answer FILE]
        a scripted PBX: listens on a free loopback port (written to F),
        appends what each connection sends to PREFIX.N (N = 1, 2, ... in
        the order connections arrive), over TLS with --cert/--key; with
        --answer, sends FILE's bytes back once the first whole TPKT frame
        has arrived.  Never answers otherwise, never closes first.

    h323_peer.py send --port P [--source ADDR] [--tls] [--ca F]
                      [--cert F --key F] [--mode whole|split|coalesced]
                      [--out FILE] [--wait SECONDS] FRAME...
        an endpoint: connects to 127.0.0.1:P (from ADDR), sends the FRAME
        files, then reads until the other side closes or nothing came for
        --wait seconds (default 0.5).  whole: one write per frame; split:
        each frame in pieces (one octet, then three at a time) with pauses
        between them; coalesced: all frames in one write.  What came back
        goes to --out; prints "closed" or "open" (the connection at the
        end).  Exit status 0, 1 when the connection could not be made.
"""
import argparse
import os
import socket
import ssl
import sys
import threading
import time


def tpkt_whole(buf):
    """True once buf holds at least one whole TPKT frame."""
    return len(buf) >= 4 and buf[0] == 3 and len(buf) >= ((buf[2] << 8) | buf[3])


def backend(a):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    ctx = None
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
    answer = open(a.answer, "rb").read() if a.answer else b""
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(tmp, a.port_file)
    count = 0
    lock = threading.Lock()

    def serve(s, n):
        path = "%s.%d" % (a.record, n)
        got = b""
        answered = False
        try:
            if ctx:
                s = ctx.wrap_socket(s, server_side=True)
            with open(path, "ab", buffering=0) as rec:
                while True:
                    d = s.recv(65536)
                    if not d:
                        break
                    rec.write(d)
                    got += d
                    if answer and not answered and tpkt_whole(got):
                        s.sendall(answer)
                        answered = True
        except (OSError, ssl.SSLError) as e:
            print("backend: connection %d: %s" % (n, e), file=sys.stderr, flush=True)
        finally:
            s.close()

    while True:
        s, _ = ls.accept()
        with lock:
            count += 1
            n = count
        # The record exists (empty) as soon as the connection does.
        open("%s.%d" % (a.record, n), "ab").close()
        threading.Thread(target=serve, args=(s, n), daemon=True).start()


def send(a):
    frames = [open(f, "rb").read() for f in a.frames]
    raw = socket.socket(socket.AF_INET6 if ":" in (a.source or "") else socket.AF_INET)
    if a.source:
        raw.bind((a.source, 0))
    raw.settimeout(10)
    try:
        raw.connect(("127.0.0.1", a.port))
    except OSError as e:
        print("send: connect: %s" % e, file=sys.stderr)
        return 1
    s = raw
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        if a.ca:
            ctx.load_verify_locations(a.ca)
        else:
            ctx.verify_mode = ssl.CERT_NONE
        if a.cert:
            ctx.load_cert_chain(a.cert, a.key)
        s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        if a.mode == "coalesced":
            s.sendall(b"".join(frames))
        for f in frames if a.mode != "coalesced" else []:
            if a.mode == "whole":
                s.sendall(f)
                time.sleep(0.05)
                continue
            pieces = [f[:1]] + [f[i:i + 3] for i in range(1, len(f), 3)]
            for p in pieces:
                s.sendall(p)
                time.sleep(0.002)
    except OSError as e:
        # rpd may close after refusing an early frame: what it answered
        # is still to be read.
        print("send: %s" % e, file=sys.stderr)
    got = b""
    state = "open"
    s.settimeout(a.wait)
    while True:
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        except (OSError, ssl.SSLError):
            state = "closed"
            break
        if not d:
            state = "closed"
            break
        got += d
    if a.out:
        with open(a.out, "wb") as f:
            f.write(got)
    print(state)
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("backend")
    p.add_argument("--port-file", required=True)
    p.add_argument("--record", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--answer")
    p = sub.add_parser("send")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--source")
    p.add_argument("--tls", action="store_true")
    p.add_argument("--ca")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--mode", choices=("whole", "split", "coalesced"), default="whole")
    p.add_argument("--out")
    p.add_argument("--wait", type=float, default=0.5)
    p.add_argument("frames", nargs="+")
    a = ap.parse_args(argv[1:])
    if a.cmd == "backend":
        backend(a)
        return 0
    return send(a)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
