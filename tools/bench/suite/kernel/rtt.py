"""Request/response round trips for the testbed (TCP or the kernel's MPTCP, Node cannot open the latter).

  serve  --proto mptcp|tcp --bind IP --port P       echoes every connection until it closes
  client --proto mptcp|tcp --connect IP:P --size N --warmup-s W --seconds S

The client writes N bytes, waits until all N have come back, and repeats: first for
--warmup-s (not recorded), then for --seconds. It prints the round-trip times in ms in
batches ({"rtts": [...]}, short lines for the reader), then {"event": "end"}. A round trip
slower than TIMEOUT_S ends the loop with {"event": "timeout"}. Nagle is off on both ends.
"""
import socket
import sys
import threading
import time

# flow.py sits beside this script (python puts the script's folder on the path); no
# __pycache__ left in the source tree.
sys.dont_write_bytecode = True
from flow import emit, endpoint_parser, proto_number  # noqa: E402

BATCH = 200
TIMEOUT_S = 5.0
ACCEPT_TIMEOUT_S = 60.0


def echo(conn):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = bytearray(65536)
    try:
        while True:
            n = conn.recv_into(buf)
            if n == 0:
                break
            conn.sendall(memoryview(buf)[:n])
    except OSError:
        pass
    finally:
        conn.close()


def serve(args, proto):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((args.bind, args.port))
    ls.listen(16)
    emit({"event": "listening"})
    ls.settimeout(ACCEPT_TIMEOUT_S)
    while True:
        try:
            conn, _ = ls.accept()
        except socket.timeout:
            continue
        conn.settimeout(None)
        threading.Thread(target=echo, args=(conn,), daemon=True).start()


def round_trip(sock, request, buf):
    t0 = time.monotonic()
    sock.sendall(request)
    want = len(request)
    while want > 0:
        n = sock.recv_into(buf)
        if n == 0:
            raise OSError("echo connection closed")
        want -= n
    return (time.monotonic() - t0) * 1000.0


def client(args, proto):
    host, port = args.connect.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(ACCEPT_TIMEOUT_S)
    s.connect((host, int(port)))
    s.settimeout(TIMEOUT_S)
    request = bytes(i % 256 for i in range(args.size))
    buf = bytearray(max(65536, args.size))
    try:
        end = time.monotonic() + args.warmup_s
        while time.monotonic() < end:
            round_trip(s, request, buf)
        batch = []
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            batch.append(round(round_trip(s, request, buf), 4))
            if len(batch) >= BATCH:
                emit({"rtts": batch})
                batch = []
        if batch:
            emit({"rtts": batch})
    except socket.timeout:
        emit({"event": "timeout"})
    emit({"event": "end"})
    s.close()


def main():
    ap = endpoint_parser("tcp")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--warmup-s", type=float, default=0.5)
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    proto = proto_number(args.proto)
    if args.role == "serve":
        serve(args, proto)
    else:
        client(args, proto)


if __name__ == "__main__":
    main()
