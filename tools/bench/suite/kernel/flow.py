"""Bulk sender/receiver for the kernel-MPTCP bench (Node cannot open MPTCP sockets).

  serve  --proto mptcp|tcp --bind IP --port P            accepts one connection
  client --proto mptcp|tcp --connect IP:P --mode recv|send --seconds S [--ifaces a,b]

The client's first line tells the server what to do: if the client receives, the server
sends, and the other way round. Whichever side receives prints a JSON line every
--sample-ms with the bytes delivered so far and the rx_bytes of the listed interfaces
(read from /sys/class/net in its namespace), then stops after --seconds. The sender
writes until the receiver closes or its own deadline passes. Times are seconds since the
connection was established; "start" carries its CLOCK_MONOTONIC value.

The stream is a repeating run of PATTERN_PERIOD bytes, so every byte's value follows from
its offset: the receiver compares what arrives with what belongs at that offset, and its
"end" line says how many bytes matched and where the first mismatch was (null: none).
A byte lost, repeated, reordered or altered on the way shows up there.
"""
import argparse
import json
import select
import socket
import struct
import sys
import time

IPPROTO_MPTCP = getattr(socket, "IPPROTO_MPTCP", 262)
CHUNK = 64 * 1024
# Prime, so the pattern does not line up with chunk or segment sizes.
PATTERN_PERIOD = 251
PATTERN = bytes(range(PATTERN_PERIOD)) * (CHUNK // PATTERN_PERIOD + 2)
# The sender stops on its own this long after the receiver's window, whatever happens.
SENDER_GRACE_S = 5.0
ACCEPT_TIMEOUT_S = 20.0


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def proto_number(name):
    if name == "mptcp":
        return IPPROTO_MPTCP
    if name == "tcp":
        return socket.IPPROTO_TCP
    raise SystemExit("unknown --proto " + name)


def read_counter(iface):
    try:
        with open("/sys/class/net/%s/statistics/rx_bytes" % iface) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return -1


def is_mptcp(sock):
    # SOL_MPTCP (284) / MPTCP_INFO (1) answers only on a socket that still runs MPTCP.
    try:
        sock.getsockopt(284, 1, 256)
        return True
    except OSError:
        return False


def first_mismatch(buf, n, offset):
    """Stream offset of the first of buf[:n] that differs from the pattern there, or None."""
    phase = offset % PATTERN_PERIOD
    if buf[:n] == PATTERN[phase:phase + n]:
        return None
    want = PATTERN[phase:phase + n]
    for i in range(n):
        if buf[i] != want[i]:
            return offset + i
    return offset


def receive(sock, seconds, sample_ms, ifaces):
    start = time.monotonic()
    emit({"event": "start", "mono": start, "mptcp": is_mptcp(sock)})
    sock.setblocking(False)
    got = 0
    interval = sample_ms / 1000.0
    next_sample = start
    end = start + seconds
    buf = bytearray(CHUNK)
    eof = False
    first_bad = None
    while True:
        now = time.monotonic()
        if now >= next_sample:
            emit({"t": round(now - start, 4), "bytes": got, "ifaces": {i: read_counter(i) for i in ifaces}})
            next_sample += interval
            if next_sample < now:
                next_sample = now + interval
        if now >= end or eof:
            break
        r, _, _ = select.select([sock], [], [], max(0.0, min(next_sample, end) - now))
        if r:
            for _ in range(64):
                try:
                    n = sock.recv_into(buf)
                except BlockingIOError:
                    break
                except OSError:
                    eof = True
                    break
                if n == 0:
                    eof = True
                    break
                if first_bad is None:
                    first_bad = first_mismatch(buf, n, got)
                got += n
    emit({"event": "end", "t": round(time.monotonic() - start, 4), "bytes": got, "eof": eof, "firstMismatch": first_bad})
    # An abortive close (RST) tells the sender at once that the window is over.
    sock.setblocking(True)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass


def send(sock, seconds):
    deadline = time.monotonic() + seconds + SENDER_GRACE_S
    view = memoryview(PATTERN)
    sent = 0
    sock.settimeout(0.5)
    while time.monotonic() < deadline:
        phase = sent % PATTERN_PERIOD
        try:
            sent += sock.send(view[phase:phase + CHUNK])
        except socket.timeout:
            continue
        except OSError:
            break
    emit({"event": "sent", "bytes": sent})


def set_cc(sock, name):
    # Per socket, since a namespace may not change its default; accepted sockets inherit it.
    if name:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, name.encode())


def endpoint_parser(default_proto):
    """The arguments every script here takes: serve or client, the protocol, where."""
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=["serve", "client"])
    ap.add_argument("--proto", default=default_proto)
    ap.add_argument("--bind")
    ap.add_argument("--port", type=int)
    ap.add_argument("--connect")
    return ap


def main():
    ap = endpoint_parser("mptcp")
    ap.add_argument("--mode", choices=["recv", "send"])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--sample-ms", type=float, default=50.0)
    ap.add_argument("--ifaces", default="")
    ap.add_argument("--cc", help="congestion control for this socket (TCP_CONGESTION), e.g. cubic")
    args = ap.parse_args()
    proto = proto_number(args.proto)
    ifaces = [i for i in args.ifaces.split(",") if i]
    if args.role == "serve":
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        set_cc(ls, args.cc)
        ls.bind((args.bind, args.port))
        ls.listen(1)
        emit({"event": "listening"})
        ls.settimeout(ACCEPT_TIMEOUT_S)
        conn, _ = ls.accept()
        # The listener stays open: the kernel hands MP_JOIN SYNs for this connection to it.
        conn.settimeout(ACCEPT_TIMEOUT_S)
        line = b""
        while not line.endswith(b"\n") and len(line) < 1024:
            b = conn.recv(1)
            if not b:
                return
            line += b
        order = json.loads(line.decode())
        seconds = float(order["seconds"])
        if order["mode"] == "recv":
            send(conn, seconds)
        else:
            receive(conn, seconds, float(order["sampleMs"]), [i for i in order.get("ifaces", []) if isinstance(i, str)])
        conn.close()
        ls.close()
    else:
        host, port = args.connect.rsplit(":", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
        set_cc(s, args.cc)
        s.settimeout(ACCEPT_TIMEOUT_S)
        s.connect((host, int(port)))
        order = {"mode": args.mode, "seconds": args.seconds, "sampleMs": args.sample_ms, "ifaces": ifaces}
        s.sendall((json.dumps(order) + "\n").encode())
        if args.mode == "recv":
            receive(s, args.seconds, args.sample_ms, ifaces)
        else:
            send(s, args.seconds)
        s.close()


if __name__ == "__main__":
    main()
