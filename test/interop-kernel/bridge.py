"""Bridge between mptun's tcp-in-udp datagrams on loopback and real TCP packets on a TUN.

  python3 bridge.py --netns NAME --tun DEV --loop 127.77.5 (--inner 10.77.0 | --inner6 fd77::)
                    --pcap FILE [--bind HOST:PORT ...]

The bridge starts in the host's network namespace and binds its UDP sockets there; it
creates the TUN device DEV inside namespace NAME (whose file is /var/run/netns/NAME) and
keeps using its descriptor after returning to the host namespace. Addresses map by their
last octet: <loop>.H on loopback is <inner>.H inside the namespace (with --inner6, the IPv6
address <inner6>H, H in hex: the kernel then runs MPTCP over IPv6), ports are unchanged.

  UDP  <loop>.A:pa -> <loop>.B:pb   becomes   TCP <inner>.A:pa -> <inner>.B:pb  on the TUN
  TCP  <inner>.A:pa -> <inner>.B:pb on the TUN becomes UDP <loop>.A:pa -> <loop>.B:pb

A datagram can only be received where a socket is bound, so a kernel listener's loopback
twin is bound on request ("bind" below, or --bind H:PORT at start), and a socket for
<loop>.A:pa is bound the first time the kernel sends from <inner>.A:pa. The tcp-in-udp
layout is the one of packages/core/src/wire/tcp-in-udp.ts: the UDP payload is TCP bytes
12..15, then 4..7, then 8..11, then options and data; checksum and urgent pointer do not
travel, so the bridge computes the TCP checksum (RFC 9293 §3.1) of what it writes and
checks that of what it reads.

Every IP packet written to or read from the TUN goes into FILE (pcap, raw IP). Commands
on stdin, one a line:
  bind H PORT  bind <loop>.H:PORT (answers "bound")
  down H       drop every packet from or to host H (a lost path); up H lets them through
  strip H      blank the MPTCP options (kind 30) of what host H sends, as a middlebox might
  stats        print counters
Output is JSON lines. The bridge ends when stdin closes (or on SIGTERM), capture complete.
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

from stdin_lines import LineReader

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


def pseudo_header(src, dst, length):
    """The pseudo-header of the TCP checksum: RFC 9293 §3.1 (IPv4), RFC 8200 §8.1 (IPv6)."""
    if len(src) == 4:
        return src + dst + struct.pack("!BBH", 0, IPPROTO_TCP, length)
    return src + dst + struct.pack("!IxxxB", length, IPPROTO_TCP)


def with_checksum(src, dst, segment):
    """The segment with its TCP checksum filled in and the urgent pointer zero."""
    seg = bytearray(segment)
    seg[16:20] = b"\0\0\0\0"
    seg[16:18] = struct.pack("!H", (~ones_sum(pseudo_header(src, dst, len(seg)) + bytes(seg))) & 0xFFFF)
    return bytes(seg)


def ipv4_packet(src, dst, segment, ident):
    seg = with_checksum(src, dst, segment)
    header = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), ident & 0xFFFF, 0x4000, 64, IPPROTO_TCP, 0, src, dst))
    header[10:12] = struct.pack("!H", (~ones_sum(bytes(header))) & 0xFFFF)
    return bytes(header) + seg


def ipv6_packet(src, dst, segment):
    """RFC 8200 §3: a fixed header, TCP as the next header, no extension headers."""
    seg = with_checksum(src, dst, segment)
    return struct.pack("!IHBB16s16s", 6 << 28, len(seg), IPPROTO_TCP, 64, src, dst) + seg


def parse_ip(pkt):
    """(source, destination, TCP segment, packet length) of an IPv4 or IPv6 packet carrying TCP, else None."""
    if len(pkt) >= 20 and pkt[0] >> 4 == 4:
        ihl = (pkt[0] & 0x0F) * 4
        total = struct.unpack("!H", pkt[2:4])[0]
        if pkt[9] != IPPROTO_TCP or ihl < 20 or total > len(pkt) or total < ihl + 20:
            return None
        return pkt[12:16], pkt[16:20], pkt[ihl:total], total
    if len(pkt) >= 40 and pkt[0] >> 4 == 6:
        length = struct.unpack("!H", pkt[4:6])[0]
        if pkt[6] != IPPROTO_TCP or 40 + length > len(pkt) or length < 20:
            return None
        return pkt[8:24], pkt[24:40], pkt[40:40 + length], 40 + length
    return None


def strip_mptcp(seg):
    """The segment with each MPTCP option (kind 30) overwritten by NOPs, lengths unchanged."""
    out = bytearray(seg)
    end = min((seg[12] >> 4) * 4, len(seg))
    i = 20
    while i < end:
        kind = out[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= end or out[i + 1] < 2:
            break
        length = out[i + 1]
        if kind == 30:
            out[i:i + length] = b"\x01" * min(length, end - i)
        i += length
    return bytes(out)


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
        if args.inner6:
            self.inner_prefix = socket.inet_pton(socket.AF_INET6, args.inner6)[:15]
        else:
            self.inner_prefix = socket.inet_aton(args.inner + ".0")[:3]
        self.tun = open_tun_in(args.netns, args.tun)
        self.pcap = Pcap(args.pcap)
        self.poller = select.poll()
        self.poller.register(self.tun, select.POLLIN)
        self.socks = {}  # (host octet, port) -> socket
        self.by_fd = {}
        self.down = set()
        self.stripped = set()
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
            src, dst = self.inner_prefix + bytes([rhost]), self.inner_prefix + bytes([lhost])
            if len(src) == 16:
                pkt = ipv6_packet(src, dst, seg)
            else:
                self.ident += 1
                pkt = ipv4_packet(src, dst, seg, self.ident)
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
            parsed = parse_ip(pkt)
            n = len(self.inner_prefix)
            # What is not TCP between two of the bridged addresses (IPv6 router solicitations, say) stays here.
            if parsed is None or parsed[0][:n] != self.inner_prefix or parsed[1][:n] != self.inner_prefix or len(parsed[0]) != n + 1:
                self.counts["not_tcp"] += 1
                continue
            src, dst, seg, end = parsed
            self.pcap.write(pkt[:end])
            if ones_sum(pseudo_header(src, dst, len(seg)) + seg) != 0xFFFF:
                self.counts["bad_checksum"] += 1
                continue
            shost, dhost = src[-1], dst[-1]
            if shost in self.down or dhost in self.down:
                self.counts["dropped_down"] += 1
                continue
            if shost in self.stripped:
                seg = strip_mptcp(seg)
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
        elif len(words) == 2 and words[0] == "strip" and words[1].isdigit():
            self.stripped.add(int(words[1]))
            emit({"event": "strip", "host": int(words[1])})
        elif len(words) == 3 and words[0] == "bind" and words[1].isdigit() and words[2].isdigit():
            self.socket_for(int(words[1]), int(words[2]))
            emit({"event": "bound", "host": int(words[1]), "port": int(words[2])})
        elif words == ["stats"]:
            emit({"event": "stats", "counts": self.counts})
        elif words:
            emit({"event": "error", "message": "unknown command: " + " ".join(words)[:80]})

    def run(self):
        stdin = LineReader(sys.stdin.fileno())
        self.poller.register(stdin.fd, select.POLLIN)
        emit({"event": "ready"})
        while True:
            for fd, _ in self.poller.poll(500):
                if fd == self.tun:
                    self.from_tun()
                elif fd == stdin.fd:
                    lines = stdin.read()
                    if lines is None:
                        return
                    for line in lines:
                        self.command(line.split())
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
    inner = ap.add_mutually_exclusive_group(required=True)
    inner.add_argument("--inner", help="first three octets inside the namespace, e.g. 10.77.0")
    inner.add_argument("--inner6", help="IPv6 prefix inside the namespace, all but the last byte, e.g. fd77::")
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
