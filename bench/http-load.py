#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The HTTP load client of bench/http-load.sh: ROUNDS rounds of REQUESTS mixed requests from
# CLIENTS concurrent clients (processes, so that each is a client of its own to bangerd's
# per-client bound, each with a kept-alive connection), all to bangerd's unix socket and
# nowhere else. After each round it prints requests/s, the answers by status, and bangerd's
# VmRSS, VmHWM and thread count read from /proc/PID/status.
#   http-load.py SOCKET PID ROUNDS REQUESTS CLIENTS VM_NAME
import collections
import multiprocessing
import socket
import sys
import time

sock_path, pid = sys.argv[1], int(sys.argv[2])
rounds, requests, clients = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
vm = sys.argv[6]

# (weight, method, target, body): the mix of one round, in this proportion (per mille). Event
# streams are 1%, each client reading its first event and hanging up: a stream notices that
# within half a second, so abandoned ones do not pile up.
MIX = [
    (300, "GET", "/v1/vms", None),
    (250, "GET", f"/v1/vms/{vm}", None),
    (100, "HEAD", f"/v1/vms/{vm}", None),
    (100, "GET", "/v1/vms/no-such-vm", None),                 # 404 vm_not_found
    (50, "GET", "/v1/no/such/route", None),                   # 404 not_found
    (50, "GET", "/v1/vms/Not_A_Name", None),                  # 400 invalid_path
    (50, "POST", "/v1/vms", b'{"name":"x","image":'),          # 400 invalid_json
    (50, "POST", "/v1/vms", b'{"name":"x","image":"base","cpus":2}'),  # 400 unknown_field
    (40, "PATCH", f"/v1/vms/{vm}", b'{"vcpus":"many"}'),       # 400 invalid_field
    (10, "EVENTS", "/v1/events?since=0", None),               # 200 stream, read then closed
]
PLAN = [m for m in MIX for _ in range(m[0])]


def request_bytes(method, target, body):
    head = f"{method} {target} HTTP/1.1\r\nHost: bench\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + (body or b"")


class Client:
    def __init__(self):
        self.s = None
        self.buf = b""

    def connect(self):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(30)
        self.s.connect(sock_path)
        self.buf = b""

    def close(self):
        if self.s:
            self.s.close()
        self.s = None

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("closed")
            self.buf += d
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for l in lines[1:]:
            k, _, v = l.partition(b":")
            hdrs[k.strip().lower()] = v.strip()
        return status, hdrs

    def read_body(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("closed")
            self.buf += d
        self.buf = self.buf[n:]

    def one(self, method, target, body):
        """One exchange; returns the status."""
        if method == "EVENTS":
            # a stream: take its head and first event line, then hang up
            self.close()
            self.connect()
            self.s.sendall(request_bytes("GET", target, None))
            status, _ = self.read_head()
            while b"\n" not in self.buf:
                d = self.s.recv(65536)
                if not d:
                    break
                self.buf += d
            self.close()
            return status
        if self.s is None:
            self.connect()
        self.s.sendall(request_bytes(method, target, body))
        status, hdrs = self.read_head()
        if method != "HEAD":
            self.read_body(int(hdrs.get(b"content-length", b"0")))
        if hdrs.get(b"connection", b"").lower() == b"close":
            self.close()
        return status


def worker(index, n, results):
    c = Client()
    local = collections.Counter()
    for i in range(n):
        method, target, body = PLAN[(index * 7919 + i) % len(PLAN)][1:]
        try:
            local[c.one(method, target, body)] += 1
        except (OSError, ConnectionError, ValueError, IndexError):
            local["error"] += 1
            c.close()
    c.close()
    results.put(dict(local))


def proc_status():
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "Threads"):
                out[k] = int(v.split()[0])
    return out


print(f"{'round':>5} {'requests':>8} {'req/s':>7} {'VmRSS KiB':>9} {'VmHWM KiB':>9} "
      f"{'threads':>7}  answers")
st = proc_status()
print(f"{'idle':>5} {'':>8} {'':>7} {st['VmRSS']:>9} {st['VmHWM']:>9} {st['Threads']:>7}")
for r in range(1, rounds + 1):
    counts, results = collections.Counter(), multiprocessing.Queue()
    per = [requests // clients + (1 if i < requests % clients else 0) for i in range(clients)]
    procs = [multiprocessing.Process(target=worker, args=(i, per[i], results))
             for i in range(clients)]
    start = time.monotonic()
    for p in procs:
        p.start()
    for _ in procs:
        counts.update(results.get())
    elapsed = time.monotonic() - start
    for p in procs:
        p.join()
    st = proc_status()
    answers = " ".join(f"{k}:{v}" for k, v in sorted(counts.items(), key=str))
    print(f"{r:>5} {sum(counts.values()):>8} {requests / elapsed:>7.0f} {st['VmRSS']:>9} "
          f"{st['VmHWM']:>9} {st['Threads']:>7}  {answers}", flush=True)
