#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A stand-in DNS server for tests/e2e/test_net.sh: on ADDR:PORT (UDP) it answers an A query for
# NAME with IP, a query for any other name with NXDOMAIN, and appends each question to LOG.
# usage: dnsstub.py ADDR PORT NAME IP LOG
import socket
import struct
import sys


def question(q):
    """The name and type asked in a query, and where its question section ends."""
    i, labels = 12, []
    while i < len(q) and q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode('ascii', 'replace'))
        i += 1 + q[i]
    qtype = struct.unpack('>H', q[i + 1:i + 3])[0] if i + 3 <= len(q) else 0
    return '.'.join(labels).lower(), qtype, i + 5


def main():
    addr, port, name, ip, log = sys.argv[1], int(sys.argv[2]), sys.argv[3].lower(), sys.argv[4], sys.argv[5]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    while True:
        q, peer = s.recvfrom(512)
        if len(q) < 17:
            continue
        qid = struct.unpack('>H', q[:2])[0]
        asked, qtype, end = question(q)
        with open(log, 'a') as f:
            f.write(f'{asked} {qtype}\n')
        hit = asked == name
        answer = b''
        if hit and qtype == 1:
            answer = b'\xc0\x0c' + struct.pack('>HHIH', 1, 1, 60, 4) + socket.inet_aton(ip)
        flags = 0x8180 | (0 if hit else 3)
        head = struct.pack('>HHHHHH', qid, flags, 1, 1 if answer else 0, 0, 0)
        s.sendto(head + q[12:end] + answer, peer)


main()
