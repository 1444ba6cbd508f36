#!/usr/bin/env python3
"""tshark_fields.py - what tshark reads from each frame of tests/vectors/h225.

An independent check of the H.225.0 reader (lib/h225) and of the encoders
that made the generated vectors: every .bin file (one TPKT frame) is wrapped
in a TCP segment to port 1720 with text2pcap, decoded by tshark -T pdml,
and summed up in one line of the form test_h225.c prints from the reader:

  NAME q931=0x62 body=8 [cause=N] [dest=ALIAS domain=D]
       {ras=N [seq=N] [gkid=ID name=N [standby=S]] [aliases=A,B] [keepalive=1] [reason=N]}

dest is the first destinationAddress alias (h323-ID, url-ID, email-ID) of
the form user@domain; aliases are the h323-IDs of a GRQ's endpointAlias or
an RRQ's terminalAlias; name and standby are worked out here from the
identifier, by the reference's section 10.  A frame tshark finds malformed
gets " MALFORMED".

  tshark_fields.py [--check] [DIR]

prints the lines; with --check compares them with DIR/tshark-expected.txt
(what tests/unit/test_h225.c compares the reader with, so that CI needs no
tshark) and exits 1 on a difference.  Needs text2pcap and tshark 4.0.
"""
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HOST_CHARS = re.compile(r'^[A-Za-z0-9._-]+$')


def part_ok(s):
    return bool(s) and all(0x20 < ord(c) < 0x7f and c not in '@/:' for c in s)


def gkid_names(gkid):
    """(name, standby) of a gatekeeper identifier, or None if unusable."""
    if any(not (0x20 <= ord(c) <= 0x7e) for c in gkid):
        return None
    head, slash, reg = gkid.partition('/')
    phys, at, domain = head.rpartition('@')
    if not at:
        domain = head
    if not part_ok(domain):
        return None
    if at and (not phys or any(ord(c) <= 0x20 or ord(c) > 0x7e or c == ':' for c in phys)):
        return None
    primary, standby = None, None
    if slash:
        primary, colon, rest = reg.partition(':')
        if not part_ok(primary) or (colon and not part_ok(rest)):
            return None
        if colon:
            standby = rest
    name = domain.lower() + ('/' + primary.lower() if primary else '')
    sb = domain.lower() + '/' + standby.lower() if standby else None
    return name, sb


def alias_domain(alias):
    user, at, dom = alias.rpartition('@')
    if not at or not user:
        return None
    dom = re.split('[:;]', dom, maxsplit=1)[0]
    if not HOST_CHARS.match(dom):
        return None
    return dom.lower()


def text_ok(s):
    return all(0x20 <= ord(c) <= 0x7e or (ord(c) >= 0xa0 and not 0xd800 <= ord(c) <= 0xdfff
                                          and ord(c) < 0xfffe) for c in s)


def fields(elem, name):
    return [f for f in elem.iter('field') if f.get('name') == name]


def first(elem, name):
    f = fields(elem, name)
    return f[0].get('show') if f else None


def aliases_of(lst):
    """The aliases of an alias list, in order, as (kind, text)."""
    out = []
    for f in lst.iter('field'):
        n = f.get('name')
        if n in ('h225.h323_ID', 'h225.url_ID', 'h225.email_ID', 'h225.dialledDigits'):
            out.append((n[5:], f.get('show')))
    return out


def summary(pdml):
    root = ET.fromstring(pdml)
    packets = root.findall('packet')
    if len(packets) != 1:
        return 'packets=%d' % len(packets)
    pkt = packets[0]
    out = []
    mt = first(pkt, 'q931.message_type')
    out.append('q931=%s' % mt)
    body = first(pkt, 'h225.h323_message_body')
    if body is not None:
        out.append('body=%s' % body)
    cause = first(pkt, 'q931.cause_value')
    if cause is not None:
        out.append('cause=%s' % cause)
    for lst in fields(pkt, 'h225.destinationAddress'):
        for kind, text in aliases_of(lst):
            if kind == 'dialledDigits' or not text_ok(text):
                continue
            dom = alias_domain(text)
            if dom:
                out += ['dest=%s' % text, 'domain=%s' % dom]
                break
    for ras in fields(pkt, 'h225.RasMessage'):
        kind = ras.get('show')
        out.append('ras=%s' % kind)
        seq = first(ras, 'h225.requestSeqNum')
        if seq is not None and kind in ('0', '2', '3', '5'):
            out.append('seq=%s' % seq)
        if kind in ('0', '3'):
            gkid = first(ras, 'h225.gatekeeperIdentifier')
            if gkid is not None:
                names = gkid_names(gkid)
                if names:
                    out += ['gkid=%s' % gkid, 'name=%s' % names[0]]
                    if names[1]:
                        out.append('standby=%s' % names[1])
                else:
                    out.append('gkid=BAD')
            lname = 'h225.endpointAlias' if kind == '0' else 'h225.terminalAlias'
            ids = [t for lst in fields(ras, lname) for k, t in aliases_of(lst) if k == 'h323_ID']
            if ids:
                out.append('aliases=%s' % ','.join(ids[:8]))
            if first(ras, 'h225.keepAlive') == '1':
                out.append('keepalive=1')
        reason = first(ras, 'h225.rejectReason')
        if reason is not None:
            out.append('reason=%s' % reason)
    if fields(pkt, '_ws.malformed') or any(
            'rror' in (f.get('showname') or '') for f in fields(pkt, '_ws.expert')):
        out.append('MALFORMED')
    return ' '.join(out)


def decode(path, tmp):
    data = open(path, 'rb').read()
    txt = os.path.join(tmp, 'frame.txt')
    pcap = os.path.join(tmp, 'frame.pcap')
    with open(txt, 'w') as f:
        for off in range(0, len(data), 16):
            f.write('%06x %s\n' % (off, ' '.join('%02x' % b for b in data[off:off + 16])))
    subprocess.run(['text2pcap', '-q', '-T', '40000,1720', txt, pcap], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    res = subprocess.run(['tshark', '-r', pcap, '-T', 'pdml'], check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return summary(res.stdout)


def main(argv):
    check = '--check' in argv
    args = [a for a in argv[1:] if a != '--check']
    d = args[0] if args else os.path.dirname(os.path.abspath(__file__))
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in sorted(os.listdir(d)):
            if name.endswith('.bin'):
                lines.append('%s %s' % (name[:-4], decode(os.path.join(d, name), tmp)))
    text = '\n'.join(lines) + '\n'
    if not check:
        sys.stdout.write(text)
        return 0
    want = open(os.path.join(d, 'tshark-expected.txt'), encoding='utf-8').read()
    if want != text:
        sys.stdout.write(text)
        print('tshark_fields: differs from tshark-expected.txt', file=sys.stderr)
        return 1
    print('tshark_fields: %d frames as expected' % len(lines))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
