/**
 * Batched UDP sends for @mptun/transport-udp (udp-batch.ts): one sendmsg() carries a run of
 * equal-sized datagrams with a UDP_SEGMENT control message, and the kernel cuts it into
 * those datagrams (UDP generic segmentation offload, Linux 4.18; udp(7)). Through koffi
 * (libc.ts), since node:dgram sends one datagram per call.
 */
import type { BatchDestination, DatagramBatchSend } from '@mptun/transport-udp';
import { loadLibc, sockaddr, type IoVec } from './libc.js';

/** linux/udp.h: SOL_UDP, UDP_SEGMENT. */
const SOL_UDP = 17;
const UDP_SEGMENT = 103;
const MSG_DONTWAIT = 0x40;
/** errno values (asm-generic/errno*.h). */
const EAGAIN = 11;
const EIO = 5;
const ENOPROTOOPT = 92;
const EOPNOTSUPP = 95;
/** CMSG_SPACE(sizeof(uint16_t)) on 64-bit Linux: a 16-byte header, the value, padding to 8. */
const CMSG_BYTES = 24;

/** The batch sender, or null where libc cannot be had (then every datagram goes through node:dgram). */
export function udpSegmentSender(): DatagramBatchSend | null {
  const l = loadLibc();
  if (!l.ok) return null;
  const libc = l.libc;
  const control = Buffer.alloc(CMSG_BYTES);
  control.writeBigUInt64LE(18n, 0); // cmsg_len = CMSG_LEN(2)
  control.writeInt32LE(SOL_UDP, 8);
  control.writeInt32LE(UDP_SEGMENT, 12);
  const names = new Map<string, Buffer | null>();
  const nameOf = (to: BatchDestination): Buffer | null => {
    const key = `${to.host}|${to.port}`;
    let name = names.get(key);
    if (name === undefined) {
      if (names.size >= 4096) names.clear(); // a cache, not a record of every client
      names.set(key, (name = sockaddr(to.host, to.port)?.bytes ?? null));
    }
    return name;
  };
  return (fd, datagrams, segmentSize, to) => {
    const name = to === null ? null : nameOf(to);
    if (to !== null && name === null) return 'failed'; // not a literal address: node:dgram looks it up
    const iov = piecesOf(datagrams);
    control.writeUInt16LE(segmentSize, 16);
    const sent = libc.sendmsg(fd, { msg_name: name, msg_namelen: name?.length ?? 0, msg_iov: iov, msg_iovlen: iov.length, msg_control: control, msg_controllen: CMSG_BYTES, msg_flags: 0 }, MSG_DONTWAIT);
    if (sent >= 0) return 'sent';
    const errno = libc.errno();
    if (errno === EAGAIN) return 'again';
    if (errno === EIO || errno === ENOPROTOOPT || errno === EOPNOTSUPP) return 'unsupported';
    return 'failed';
  };
}

/** The datagrams as iovecs, neighbours in one buffer joined (sealed datagrams are carved one after another from a block). */
function piecesOf(datagrams: readonly Uint8Array[]): IoVec[] {
  const iov: IoVec[] = [];
  let first = datagrams[0]!;
  let length = first.length;
  const close = (): void => {
    iov.push({ iov_base: length === first.length ? first : new Uint8Array(first.buffer, first.byteOffset, length), iov_len: length });
  };
  for (let i = 1; i < datagrams.length; i++) {
    const d = datagrams[i]!;
    if (d.buffer === first.buffer && d.byteOffset === first.byteOffset + length) {
      length += d.length;
      continue;
    }
    close();
    first = d;
    length = d.length;
  }
  close();
  return iov;
}
