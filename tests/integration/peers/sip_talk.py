#!/usr/bin/env python3
"""sip_talk.py - send crafted SIP requests over one TCP (or TLS) connection
and print what comes back, for the cases no real client sends.

    sip_talk.py [--tls CAFILE] [--sni NAME] [--pipeline] PORT MSGFILE...

Each MSGFILE holds one request with LF line ends (turned into CRLF here;
Content-Length is the caller's business).  The requests are sent one at a
time on the same connection to 127.0.0.1:PORT; after each, replies are read
up to the first final one (status >= 200) and printed as

    == local 127.0.0.1:PORT      (once, the client's address as rpd sees it)
    == reply MSGFILE-INDEX
    SIP/2.0 200 OK
    Header: value
    ...
    == closed | == open          (after the last request: whether the server
                                  closed the connection within 2 s)

A request that gets no final reply within 5 s prints "== no-reply" and the
remaining requests are not sent.  With --pipeline every request goes out
at once, in one write, before any reply is read; the replies are then read
and numbered in order as above.  The exit status is 0 unless the
connection could not be made.
"""
import argparse
import socket
import ssl
import sys


def read_message(sock, buf, timeout):
    """One message head (+ body) from sock: (head_text, rest, False), or
    (None, buf, eof) on EOF (eof True) or timeout.  Keep-alive CRLFs before
    a message are skipped."""
    sock.settimeout(timeout)
    while True:
        while buf.startswith(b"\r\n") and not buf.startswith(b"\r\n\r\n"):
            buf = buf[2:]
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head = buf[:end].decode("latin-1").replace("\r\n", "\n")
            length = 0
            for line in head.split("\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() in ("content-length", "l"):
                    length = int(value.strip())
            total = end + 4 + length
            if len(buf) >= total:
                return head, buf[total:], False
        try:
            data = sock.recv(65536)
        except (socket.timeout, TimeoutError):
            return None, buf, False
        except (ConnectionResetError, ssl.SSLError):
            data = b""
        if not data:
            return None, buf, True
        buf += data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tls", metavar="CAFILE")
    ap.add_argument("--sni", default="localhost")
    ap.add_argument("--pipeline", action="store_true")
    ap.add_argument("port", type=int)
    ap.add_argument("messages", nargs="+")
    args = ap.parse_args()

    sock = socket.create_connection(("127.0.0.1", args.port), timeout=5)
    local = sock.getsockname()
    if args.tls:
        ctx = ssl.create_default_context(cafile=args.tls)
        sock = ctx.wrap_socket(sock, server_hostname=args.sni)
    print("== local %s:%d" % local, flush=True)
    buf = b""
    msgs = []
    for name in args.messages:
        with open(name, "rb") as f:
            msgs.append(f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    if args.pipeline:
        sock.sendall(b"".join(msgs))
    for i, msg in enumerate(msgs, 1):
        if not args.pipeline:
            sock.sendall(msg)
        while True:
            head, buf, _ = read_message(sock, buf, 5)
            if head is None:
                print("== no-reply %d" % i, flush=True)
                return 0
            print("== reply %d" % i)
            print(head, flush=True)
            parts = head.split(" ", 2)
            if parts[0] == "SIP/2.0" and parts[1].isdigit() and int(parts[1]) >= 200:
                break
    # Whether the server closes the connection after the last reply.
    head, buf, closed = read_message(sock, buf, 2)
    if head is not None:
        print("== unexpected")
        print(head)
        closed = False
    print("== closed" if closed else "== open", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
