/**
 * Forged tcp-in-udp SYNs for flood tests: each from a fresh UDP socket (a distinct source
 * port, as spoofed sources would be), built from an honest client engine's SYN.
 */
import dgram from 'node:dgram';
import { ccFactory, emitSegment, Endpoint, minRttScheduler, parseSegment, SeededRandom, segmentToUdpPayload, TcpFlag, udpPayloadToSegment, type TcpSegment } from '@mptun/core';

/** An honest client's MP_CAPABLE SYN (padded as on a plain path when `plain`), with `data` riding it. */
export function clientSyn(seed: number, serverPort: number, data?: Uint8Array, plain = false): TcpSegment {
  const ep = new Endpoint({ random: new SeededRandom(seed), scheduler: minRttScheduler, congestionControl: ccFactory('cubic') });
  const path = ep.openPath({ host: '127.0.0.2', port: 1 }, { host: '127.0.0.1', port: serverPort }, { authenticated: !plain });
  ep.connect(0, { path, ...(data ? { data } : {}) });
  return parseSegment(ep.pollTransmit(0)!.bytes);
}

/**
 * Sends `syn` to 127.0.0.1:serverPort from `count` fresh sockets, spread over `hosts`, 100 at a time,
 * waiting up to `waitMs` per batch for SYN/ACKs; resolves with how many sockets got one.
 */
export async function synFlood(hosts: readonly string[], serverPort: number, syn: TcpSegment, count: number, waitMs = 3_000): Promise<number> {
  let answered = 0;
  for (let done = 0; done < count; ) {
    const batch = Math.min(100, count - done);
    const sockets = await Promise.all(
      Array.from({ length: batch }, (_, i) => new Promise<dgram.Socket>((resolve) => {
        const s = dgram.createSocket('udp4');
        s.bind(0, hosts[(done + i) % hosts.length], () => resolve(s));
      })),
    );
    const replies = sockets.map((s) => new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), waitMs);
      s.on('message', (msg, rinfo) => {
        const seg = parseSegment(udpPayloadToSegment(msg, rinfo.port, s.address().port));
        if ((seg.flags & (TcpFlag.SYN | TcpFlag.ACK)) === (TcpFlag.SYN | TcpFlag.ACK)) {
          clearTimeout(t);
          resolve(true);
        }
      });
    }));
    for (const s of sockets) {
      s.send(segmentToUdpPayload(emitSegment({ ...syn, srcPort: s.address().port, dstPort: serverPort })), serverPort, '127.0.0.1');
    }
    answered += (await Promise.all(replies)).filter(Boolean).length;
    await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    done += batch;
  }
  return answered;
}
