"""The Linux kernel's MPTCP as the other end of an interop case (Node cannot open IPPROTO_MPTCP).

  python3 peer.py serve   --bind IP --port P  [--send N] [--no-fin]
  python3 peer.py connect --to IP:P [--from IP] [--send N] [--no-fin]

Once connected it prints {"event": "connected", "mptcp": ...}, sends N random bytes (and
then a FIN, which is a DATA_FIN on MPTCP, unless --no-fin), and receives until the peer's
FIN, at the same time. What it sent and received is reported as byte counts and SHA-256.
Commands on stdin, one a line:
  abort     close at once with SO_LINGER 0: the kernel sends MP_FASTCLOSE (RFC 8684 §3.5)
  shutdown  send the FIN now
  info      print the connection's MPTCP_INFO
  stats     print the bytes received and sent so far
  pause     stop reading (the receive window fills and closes); resume: read again
  close     close normally
Output is JSON lines; an error on the socket is reported as {"event": "error", ...}.
"""
import argparse
import hashlib
import json
import os
import select
import socket
import struct
import sys

from stdin_lines import LineReader

IPPROTO_MPTCP = getattr(socket, "IPPROTO_MPTCP", 262)
SOL_MPTCP = 284
MPTCP_INFO = 1
CHUNK = 64 * 1024
ACCEPT_TIMEOUT_S = 30.0


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def mptcp_info(sock):
    """The fields of struct mptcp_info (include/uapi/linux/mptcp.h) the cases look at; None after fallback."""
    try:
        raw = sock.getsockopt(SOL_MPTCP, MPTCP_INFO, 256)
    except OSError:
        return None
    if len(raw) < 43:
        return {"short": len(raw)}
    info = {
        "subflows": raw[0],
        "addAddrSignal": raw[1],
        "addAddrAccepted": raw[2],
        "flags": struct.unpack_from("=I", raw, 8)[0],
        "csumEnabled": raw[42],
    }
    if len(raw) > 80:
        info["subflowsTotal"] = raw[80]
    return info


class Flow:
    def __init__(self, sock, send_bytes, fin):
        self.sock = sock
        self.to_send = send_bytes
        self.fin = fin
        self.tx = 0
        self.rx = 0
        self.tx_hash = hashlib.sha256()
        self.rx_hash = hashlib.sha256()
        self.pending = b""
        self.shut = False
        self.eof = False
        self.closed = False
        self.paused = False

    def shutdown(self):
        if not self.shut:
            self.shut = True
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError as e:
                emit({"event": "error", "where": "shutdown", "errno": e.errno, "message": str(e)})
            emit({"event": "sent", "bytes": self.tx, "sha256": self.tx_hash.hexdigest()})

    def on_writable(self):
        while self.tx < self.to_send or self.pending:
            if not self.pending:
                self.pending = os.urandom(min(CHUNK, self.to_send - self.tx))
                self.tx_hash.update(self.pending)
                self.tx += len(self.pending)
            try:
                n = self.sock.send(self.pending)
            except BlockingIOError:
                return
            self.pending = self.pending[n:]
        if self.fin:
            self.shutdown()

    def on_readable(self):
        for _ in range(64):
            try:
                d = self.sock.recv(CHUNK)
            except BlockingIOError:
                return
            if not d:
                self.eof = True
                emit({"event": "eof", "bytes": self.rx, "sha256": self.rx_hash.hexdigest(), "info": mptcp_info(self.sock)})
                return
            self.rx += len(d)
            self.rx_hash.update(d)

    def wants_write(self):
        return not self.closed and (self.tx < self.to_send or bool(self.pending))


def command(flow, cmd):
    """Carries out one stdin command; True when it closed the socket."""
    sock = flow.sock
    if cmd == "abort":
        emit({"event": "aborting", "rx": flow.rx, "tx": flow.tx})
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        flow.closed = True
    elif cmd == "close":
        sock.close()
        flow.closed = True
    elif cmd == "shutdown":
        flow.shutdown()
    elif cmd in ("pause", "resume"):
        flow.paused = cmd == "pause"
        emit({"event": cmd + "d", "rx": flow.rx})
    elif cmd == "stats":
        emit({"event": "stats", "rx": flow.rx, "tx": flow.tx})
    elif cmd == "info":
        emit({"event": "info", "info": mptcp_info(sock)})
    elif cmd:
        emit({"event": "error", "message": "unknown command: " + cmd[:80]})
    return flow.closed


def run(sock, args):
    sock.setblocking(False)
    emit({"event": "connected", "mptcp": mptcp_info(sock) is not None, "info": mptcp_info(sock)})
    flow = Flow(sock, args.send, not args.no_fin)
    stdin = LineReader(sys.stdin.fileno())
    if flow.to_send == 0 and flow.fin:
        flow.shutdown()
    while not flow.closed:
        if flow.eof and flow.shut and not flow.wants_write():
            # Both FINs exchanged (DATA_FIN each way, RFC 8684 §3.3.3): a normal close.
            sock.close()
            flow.closed = True
            break
        r = [stdin.fd] + ([] if flow.eof or flow.paused else [sock])
        w = [sock] if flow.wants_write() else []
        try:
            readable, writable, _ = select.select(r, w, [], 1.0)
            if sock in writable:
                flow.on_writable()
            if sock in readable:
                flow.on_readable()
        except OSError as e:
            emit({"event": "error", "errno": e.errno, "message": str(e), "rx": flow.rx, "tx": flow.tx})
            flow.closed = True
            sock.close()
            break
        if stdin.fd in readable:
            lines = stdin.read()
            if lines is None:
                break
            for cmd in lines:
                if command(flow, cmd):
                    break
    emit({"event": "closed", "rx": flow.rx, "tx": flow.tx})


def family_of(address):
    """IPv6 for an address with colons ("fd77::1"), else IPv4."""
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=["serve", "connect"])
    ap.add_argument("--bind")
    ap.add_argument("--port", type=int)
    ap.add_argument("--to")
    ap.add_argument("--from", dest="source", help="source address of the first subflow (else the kernel picks one)")
    ap.add_argument("--send", type=int, default=0)
    ap.add_argument("--no-fin", action="store_true")
    args = ap.parse_args()
    if args.role == "serve":
        ls = socket.socket(family_of(args.bind), socket.SOCK_STREAM, IPPROTO_MPTCP)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((args.bind, args.port))
        ls.listen(4)
        emit({"event": "listening"})
        ls.settimeout(ACCEPT_TIMEOUT_S)
        try:
            conn, peer = ls.accept()
        except socket.timeout:
            emit({"event": "error", "message": "no connection within %d s" % ACCEPT_TIMEOUT_S})
            return
        emit({"event": "accepted", "peer": "%s:%d" % peer[:2]})
        # The listener stays open: the kernel hands MP_JOIN SYNs for this connection to it.
        run(conn, args)
        ls.close()
    else:
        host, port = args.to.rsplit(":", 1)
        s = socket.socket(family_of(host), socket.SOCK_STREAM, IPPROTO_MPTCP)
        s.settimeout(ACCEPT_TIMEOUT_S)
        try:
            if args.source:
                s.bind((args.source, 0))
            s.connect((host, int(port)))
        except OSError as e:
            emit({"event": "error", "where": "connect", "errno": e.errno, "message": str(e)})
            return
        run(s, args)


if __name__ == "__main__":
    main()
