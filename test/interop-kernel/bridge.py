"""Bridge between mptun's tcp-in-udp datagrams on loopback and real TCP packets on a TUN.

  python3 bridge.py --netns NAME --tun DEV --loop 127.77.5 --inner 10.77.0 --pcap FILE \
                    [--bind HOST:PORT ...]

The bridge starts in the host's network namespace and binds its UDP sockets there; it
creates the TUN device DEV inside namespace NAME (whose file is /var/run/netns/NAME) and
keeps using its descriptor after returning to the host namespace. Addresses map by their
last octet: <loop>.H on loopback is <inner>.H inside the namespace, ports are unchanged.

  UDP  <loop>.A:pa -> <loop>.B:pb   becomes   TCP <inner>.A:pa -> <inner>.B:pb  on the TUN
  TCP  <inner>.A:pa -> <inner>.B:pb on the TUN becomes UDP <loop>.A:pa -> <loop>.B:pb

A datagram can only be received where a socket is bound, so a kernel listener's loopback
twin is bound on request (the "bind" command or --bind H:PORT at start), and a socket for <loop>.A:pa is bound
the first time the kernel sends from <inner>.A:pa. The tcp-in-udp layout is the one of
packages/core/src/wire/tcp-in-udp.ts: the UDP payload is TCP bytes 12..15, then 4..7,
then 8..11, then options and data; checksum and urgent pointer do not travel.

Every IPv4 packet written to or read from the TUN goes into FILE (pcap, raw IP). Commands
on stdin, one a line: "bind H PORT" binds <loop>.H:PORT (answers "bound"), "down H" drops every packet from or to host H, "up H" restores it,
"stats" prints counters. Output is JSON lines. The bridge ends when stdin closes.
"""
import argparse
import ctypes
import fcntl
import json
import os
import select
import signal
import socket
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000
MAX_PACKET = 65536
IPPROTO_TCP = 6
# pcap: LINKTYPE_RAW, each record an IPv4 or IPv6 packet.
LINKTYPE_RAW = 101


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def setns(fd):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns: " + os.strerror(err))


def open_tun_in(netns, name):
    """TUN device `name` created in namespace `netns`; the process returns to its own namespace."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open("/var/run/netns/" + netns, os.O_RDONLY)
    try:
        setns(target)
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    finally:
        setns(home)
        os.close(home)
        os.close(target)
    return fd


def ones_sum(data):
    """RFC 1071 one's-complement sum of 16-bit words, not yet inverted."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def tcp_checksum(src, dst, segment):
    """RFC 9293 §3.1: over the IPv4 pseudo-header and the segment (its checksum field zero)."""
    pseudo = src + dst + struct.pack("!BBH", 0, IPPROTO_TCP, len(segment))
    return (~ones_sum(pseudo + segment)) & 0xFFFF


def ipv4_packet(src, dst, segment, ident):
    seg = bytearray(segment)
    seg[16:18] = b"\0\0"
    seg[18:20] = b"\0\0"
    seg[16:18] = struct.pack("!H", tcp_checksum(src, dst, bytes(seg)))
    header = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), ident & 0xFFFF, 0x4000, 64, IPPROTO_TCP, 0, src, dst))
    header[10:12] = struct.pack("!H", (~ones_sum(bytes(header))) & 0xFFFF)
    return bytes(header) + bytes(seg)


def segment_to_payload(seg):
    """TCP segment -> tcp-in-udp UDP payload (packages/core/src/wire/tcp-in-udp.ts)."""
    return seg[12:16] + seg[4:8] + seg[8:12] + seg[20:]


def payload_to_segment(payload, sport, dport):
    """tcp-in-udp UDP payload -> TCP segment with checksum and urgent pointer zero."""
    return struct.pack("!HH", sport, dport) + payload[4:8] + payload[8:12] + payload[0:4] + b"\0\0\0\0" + payload[12:]


class Pcap:
    def __init__(self, path):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, MAX_PACKET, LINKTYPE_RAW))

    def write(self, pkt):
        t = time.time()
        sec = int(t)
        self.f.write(struct.pack("<IIII", sec, int((t - sec) * 1e6), len(pkt), len(pkt)))
        self.f.write(pkt)

    def close(self):
        self.f.close()


class Bridge:
    def __init__(self, args):
        self.loop = args.loop
        self.inner = args.inner
        self.inner_prefix = socket.inet_aton(args.inner + ".0")[:3]
        self.tun = open_tun_in(args.netns, args.tun)
        self.pcap = Pcap(args.pcap)
        self.poller = select.poll()
        self.poller.register(self.tun, select.POLLIN)
        self.socks = {}  # (host octet, port) -> socket
        self.by_fd = {}
        self.down = set()
        self.ident = 0
        self.counts = {"to_tun": 0, "from_tun": 0, "dropped_down": 0, "bad_checksum": 0, "not_tcp": 0, "bad_datagram": 0, "send_errors": 0}
        for spec in args.bind:
            host, port = spec.split(":")
            self.socket_for(int(host), int(port))

    def socket_for(self, host, port):
        key = (host, port)
        s = self.socks.get(key)
        if s is None:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
            s.bind(("%s.%d" % (self.loop, host), port))
            s.setblocking(False)
            self.socks[key] = s
            self.by_fd[s.fileno()] = (s, host, port)
            self.poller.register(s, select.POLLIN)
        return s

    def from_udp(self, s, lhost, lport):
        for _ in range(256):
            try:
                payload, (addr, rport) = s.recvfrom(MAX_PACKET)
            except BlockingIOError:
                return
            parts = addr.split(".")
            if ".".join(parts[:3]) != self.loop or len(payload) < 12 or (payload[0] >> 4) * 4 < 20 or (payload[0] >> 4) * 4 - 8 > len(payload):
                self.counts["bad_datagram"] += 1
                continue
            rhost = int(parts[3])
            if rhost in self.down or lhost in self.down:
                self.counts["dropped_down"] += 1
                continue
            seg = payload_to_segment(payload, rport, lport)
            self.ident += 1
            pkt = ipv4_packet(self.inner_prefix + bytes([rhost]), self.inner_prefix + bytes([lhost]), seg, self.ident)
            self.pcap.write(pkt)
            try:
                os.write(self.tun, pkt)
                self.counts["to_tun"] += 1
            except OSError:
                self.counts["send_errors"] += 1

    def from_tun(self):
        for _ in range(256):
            try:
                pkt = os.read(self.tun, MAX_PACKET)
            except BlockingIOError:
                return
            if len(pkt) < 20 or pkt[0] >> 4 != 4:
                self.counts["not_tcp"] += 1
                continue
            ihl = (pkt[0] & 0x0F) * 4
            total = struct.unpack("!H", pkt[2:4])[0]
            if pkt[9] != IPPROTO_TCP or total > len(pkt) or total < ihl + 20 or pkt[12:15] != self.inner_prefix or pkt[16:19] != self.inner_prefix:
                self.counts["not_tcp"] += 1
                continue
            self.pcap.write(pkt[:total])
            seg = pkt[ihl:total]
            if ones_sum(pkt[12:20] + struct.pack("!BBH", 0, IPPROTO_TCP, len(seg)) + seg) != 0xFFFF:
                self.counts["bad_checksum"] += 1
                continue
            shost, dhost = pkt[15], pkt[19]
            if shost in self.down or dhost in self.down:
                self.counts["dropped_down"] += 1
                continue
            sport, dport = struct.unpack("!HH", seg[0:4])
            if (seg[12] >> 4) * 4 < 20 or seg[13] & 0x20:
                self.counts["not_tcp"] += 1  # tcp-in-udp carries no URG
                continue
            try:
                self.socket_for(shost, sport).sendto(segment_to_payload(seg), ("%s.%d" % (self.loop, dhost), dport))
                self.counts["from_tun"] += 1
            except OSError:
                self.counts["send_errors"] += 1

    def command(self, words):
        if len(words) == 2 and words[0] in ("down", "up") and words[1].isdigit():
            h = int(words[1])
            if words[0] == "down":
                self.down.add(h)
            else:
                self.down.discard(h)
            emit({"event": words[0], "host": h})
        elif len(words) == 3 and words[0] == "bind" and words[1].isdigit() and words[2].isdigit():
            self.socket_for(int(words[1]), int(words[2]))
            emit({"event": "bound", "host": int(words[1]), "port": int(words[2])})
        elif words == ["stats"]:
            emit({"event": "stats", "counts": self.counts})
        elif words:
            emit({"event": "error", "message": "unknown command: " + " ".join(words)[:80]})

    def run(self):
        stdin_fd = sys.stdin.fileno()
        os.set_blocking(stdin_fd, False)
        self.poller.register(stdin_fd, select.POLLIN)
        pending = b""
        emit({"event": "ready"})
        while True:
            for fd, _ in self.poller.poll(500):
                if fd == self.tun:
                    self.from_tun()
                elif fd == stdin_fd:
                    chunk = os.read(stdin_fd, 4096)
                    if not chunk:
                        return
                    pending += chunk
                    while b"\n" in pending:
                        line, pending = pending.split(b"\n", 1)
                        self.command(line.decode(errors="replace").split())
                    if len(pending) > 4096:
                        pending = b""
                else:
                    entry = self.by_fd.get(fd)
                    if entry:
                        self.from_udp(*entry)

    def close(self):
        self.pcap.close()
        for s in self.socks.values():
            s.close()
        os.close(self.tun)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--netns", required=True)
    ap.add_argument("--tun", required=True)
    ap.add_argument("--loop", required=True, help="first three octets on loopback, e.g. 127.77.5")
    ap.add_argument("--inner", required=True, help="first three octets inside the namespace, e.g. 10.77.0")
    ap.add_argument("--pcap", required=True)
    ap.add_argument("--bind", action="append", default=[])
    args = ap.parse_args()
    # SIGTERM unwinds through the finally below, so the capture is complete on disk.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    bridge = Bridge(args)
    try:
        bridge.run()
    finally:
        bridge.close()


if __name__ == "__main__":
    main()
