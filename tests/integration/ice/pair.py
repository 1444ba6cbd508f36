#!/usr/bin/env python3
"""pair.py [--limit S] [--mangle-pwd A|B] 'CMD_A' 'CMD_B': run two ICE test peers and relay
their description blocks.

Each peer prints an RFC 8839 attribute block on stdout (a=ice-ufrag,
a=ice-pwd, a=candidate lines, ending with a=end-of-candidates) and reads the
other's block on stdin.  pair.py hands each block to the other peer, then
waits for both to exit.  When one exits while the other still runs, the
survivor's stdin is closed: a peer can then tell that the other side went
away (the ABORTED case) instead of waiting for its timeout; that happens
--grace seconds (default 1) after the exit, so that two sides reaching
their own verdict at about the same time both report it.  Everything is
bounded by --limit seconds: a peer still running then is killed.

--mangle-pwd A (or B) rewrites the a=ice-pwd of A's (B's) block on its way
to the other side, as a broken relay or SBC would: every character is
changed, the length kept.  The other side then signs its checks with a
password the owner of the block does not know (and verifies the owner's
with it): the wrong-password rows.

Printed on stdout: "A block: ..." / "B block: ..." lines, "A exited N after
S s" as each ends, and finally "exit A=N B=M in S s".  The peers' stderr is
passed through.  Exit status 0 only when both exited 0; 2 on usage."""
import argparse
import shlex
import subprocess
import sys
import threading
import time


def read_block(p, out, done):
    """Collect lines up to a=end-of-candidates, then drain the rest."""
    try:
        for line in p.stdout:
            if done.is_set():
                continue
            out.append(line)
            if line.startswith("a=end-of-candidates"):
                done.set()
    except ValueError:
        pass
    done.set()


def mangle_pwd(line):
    """An a=ice-pwd line with every character of the password changed."""
    head, _, pwd = line.rstrip("\r\n").partition(":")
    return head + ":" + "".join("b" if c == "a" else "a" for c in pwd) + "\n"


def close_stdin(p):
    try:
        p.stdin.close()
    except (BrokenPipeError, OSError, ValueError):
        pass


def main():
    ap = argparse.ArgumentParser(description="relay ICE description blocks between two peers")
    ap.add_argument("--limit", type=float, default=30, help="seconds for the whole pair")
    ap.add_argument("--grace", type=float, default=1, help="seconds before closing the survivor's stdin")
    ap.add_argument("--mangle-pwd", choices=("A", "B"),
                    help="rewrite the a=ice-pwd of this side's block on its way")
    ap.add_argument("a")
    ap.add_argument("b")
    o = ap.parse_args()
    t0 = time.monotonic()
    deadline = t0 + o.limit
    procs = {}
    for name, cmd in (("A", o.a), ("B", o.b)):
        procs[name] = subprocess.Popen(shlex.split(cmd), stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True, bufsize=1)
    blocks = {n: [] for n in procs}
    got = {n: threading.Event() for n in procs}
    readers = [threading.Thread(target=read_block, args=(procs[n], blocks[n], got[n]), daemon=True)
               for n in procs]
    for t in readers:
        t.start()
    other = {"A": "B", "B": "A"}
    sent = set()
    rcs = {}
    close_at = {}
    # Until both have exited: hand over each block once it is complete,
    # and close the survivor's stdin when one side exits.
    while len(rcs) < 2:
        now = time.monotonic()
        if now >= deadline:
            for n, p in procs.items():
                if n not in rcs:
                    print(f"{n} killed after {now - t0:.2f}s (limit)", flush=True)
                    p.kill()
                    rcs[n] = p.wait()
            break
        for n, p in procs.items():
            if n in rcs:
                continue
            rc = p.poll()
            if rc is not None:
                got[n].wait(timeout=1)
                rcs[n] = rc
                print(f"{n} exited {rc} after {now - t0:.2f}s", flush=True)
                if other[n] not in rcs:
                    close_at[other[n]] = now + o.grace
        for n, at in list(close_at.items()):
            if now >= at:
                del close_at[n]
                close_stdin(procs[n])
        for n in procs:
            if n in sent or not got[n].is_set() or not blocks[n] or \
                    not blocks[n][-1].startswith("a=end-of-candidates"):
                continue
            sent.add(n)
            if o.mangle_pwd == n:
                blocks[n] = [mangle_pwd(line) if line.startswith("a=ice-pwd:") else line
                             for line in blocks[n]]
            for line in blocks[n]:
                print(f"{n} block: {line.rstrip()}", flush=True)
            peer = procs[other[n]]
            if other[n] not in rcs:
                try:
                    peer.stdin.write("".join(blocks[n]))
                    peer.stdin.flush()
                except (BrokenPipeError, OSError, ValueError):
                    pass
        time.sleep(0.02)
    for p in procs.values():
        close_stdin(p)
    print(f"exit A={rcs['A']} B={rcs['B']} in {time.monotonic() - t0:.2f}s", flush=True)
    return 0 if rcs["A"] == 0 and rcs["B"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
