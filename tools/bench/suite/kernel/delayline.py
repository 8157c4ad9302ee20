"""Delay line for the kernel-MPTCP bench: one-way delay, jitter and random loss on TUN devices.

This kernel has no netem, so the router namespace routes each path through a TUN device
and this script puts every packet back into the same device after the path's delay. The
kernel then forwards it on (and `tbf` on the outgoing veth limits the rate).

  python3 delayline.py --seed 7 --path A:tunA:10:2:0.001 --path B:tunB:30:10:0.0005

Each --path is NAME:DEVICE:DELAY_MS:JITTER_MS:LOSS. Commands on stdin, one a line:
"down NAME" drops everything on that path (a cut), "up NAME" restores it, "stats" prints
counters. Events go to stdout as JSON lines with CLOCK_MONOTONIC times, so the bench can
place them on the receiver's timeline. The process ends when stdin closes.
"""
import argparse
import fcntl
import json
import os
import random
import select
import struct
import sys
import time
from collections import deque

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
# Bound on packets held per path, so a stalled writer cannot grow memory without limit.
MAX_HELD = 20000
MAX_PACKET = 65536


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


class Path:
    def __init__(self, spec, rng):
        parts = spec.split(":")
        if len(parts) != 5:
            raise SystemExit("bad --path " + spec)
        self.name, self.device = parts[0], parts[1]
        self.delay = float(parts[2]) / 1000.0
        self.jitter = float(parts[3]) / 1000.0
        self.loss = float(parts[4])
        self.rng = rng
        self.fd = open_tun(self.device)
        self.up = True
        # One FIFO per destination address: jitter never reorders packets of one direction.
        self.queues = {}
        self.last_release = {}
        self.held = 0
        self.counts = {"read": 0, "written": 0, "lost": 0, "cut": 0, "overflow": 0, "write_errors": 0}

    def take(self, now):
        for _ in range(256):
            try:
                pkt = os.read(self.fd, MAX_PACKET)
            except BlockingIOError:
                return
            self.counts["read"] += 1
            if not self.up:
                self.counts["cut"] += 1
                continue
            if self.loss > 0 and self.rng.random() < self.loss:
                self.counts["lost"] += 1
                continue
            if self.held >= MAX_HELD:
                self.counts["overflow"] += 1
                continue
            key = pkt[16:20] if len(pkt) >= 20 and pkt[0] >> 4 == 4 else b""
            at = now + self.delay + (self.rng.random() * self.jitter if self.jitter > 0 else 0.0)
            at = max(at, self.last_release.get(key, 0.0))
            self.last_release[key] = at
            self.queues.setdefault(key, deque()).append((at, pkt))
            self.held += 1

    def release(self, now):
        for q in self.queues.values():
            while q and q[0][0] <= now:
                _, pkt = q.popleft()
                self.held -= 1
                if not self.up:
                    self.counts["cut"] += 1
                    continue
                try:
                    os.write(self.fd, pkt)
                    self.counts["written"] += 1
                except OSError:
                    self.counts["write_errors"] += 1

    def next_due(self):
        heads = [q[0][0] for q in self.queues.values() if q]
        return min(heads) if heads else None


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--path", action="append", required=True)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    paths = [Path(spec, rng) for spec in args.path]
    by_name = {p.name: p for p in paths}
    by_fd = {p.fd: p for p in paths}
    poller = select.poll()
    for p in paths:
        poller.register(p.fd, select.POLLIN)
    stdin_fd = sys.stdin.fileno()
    os.set_blocking(stdin_fd, False)
    poller.register(stdin_fd, select.POLLIN)
    pending = b""
    emit({"event": "ready", "mono": time.monotonic()})
    while True:
        now = time.monotonic()
        dues = [d for d in (p.next_due() for p in paths) if d is not None]
        timeout_ms = 200 if not dues else max(0, (min(dues) - now) * 1000.0)
        for fd, _ in poller.poll(timeout_ms):
            if fd == stdin_fd:
                chunk = os.read(stdin_fd, 4096)
                if not chunk:
                    return
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    words = line.decode(errors="replace").split()
                    if len(words) == 2 and words[0] in ("down", "up") and words[1] in by_name:
                        p = by_name[words[1]]
                        p.up = words[0] == "up"
                        emit({"event": words[0], "path": p.name, "mono": time.monotonic()})
                    elif words == ["stats"]:
                        emit({"event": "stats", "mono": time.monotonic(), "paths": {p.name: p.counts for p in paths}})
                    elif words:
                        emit({"event": "error", "message": "unknown command: " + line.decode(errors="replace")[:80]})
                if len(pending) > 4096:
                    pending = b""
            else:
                by_fd[fd].take(time.monotonic())
        now = time.monotonic()
        for p in paths:
            p.release(now)


if __name__ == "__main__":
    main()
