/**
 * A server application that writes as soon as it hears of the connection, before the
 * client's third ACK. Before the third ACK the server cannot send a DATA_ACK (the client's
 * key rides the third ACK, RFC 8684 §3.1), and Linux, as a client, falls back to TCP when its
 * first data arrives with neither a DATA_ACK nor MP_CAPABLE (found beside the kernel: the
 * interop case "B early server write"). So the server holds such data until the third ACK,
 * unless the client's SYN carried data of its own (0-RTT, where the early reply is the point).
 */
import { describe, expect, it } from 'vitest';
import { parseSegment, SeededRandom, TcpFlag, type EndpointEvent, type TcpSegment } from '@mptun/core';
import { bareClientServer, drainEvents, type Side } from '../support/bare-endpoints.js';

const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 2012;
const reply = new Uint8Array(1000).fill(7);

/** The DSS of a segment, if it has one. */
function dssOf(seg: TcpSegment) {
  for (const o of seg.options) if (o.kind === 'mptcp' && o.option.type === 'dss') return o.option;
  return undefined;
}

/**
 * The client opens (with `synData` riding its SYN, if given); the server writes `reply` on
 * 'incoming'. Returns what the server sent before it had the third ACK, and the first data
 * segment it sent after.
 */
function serverWritesEarly(synData?: Uint8Array): { beforeThirdAck: TcpSegment[]; firstDataAfter: TcpSegment | undefined } {
  const { c, s } = bareClientServer(new SeededRandom(seed), { client: true, server: true });
  c.ep.connect(0, { path: c.path, ...(synData ? { data: synData } : {}) });
  const send = (from: Side, to: Side, now: number): Uint8Array[] => {
    const out: Uint8Array[] = [];
    for (let t = from.ep.pollTransmit(now); t; t = from.ep.pollTransmit(now)) out.push(t.bytes);
    for (const b of out) to.ep.handleSegment(now + 10, to.path, b);
    return out;
  };
  const writeOnIncoming = (events: EndpointEvent[]): void => {
    for (const ev of events) if (ev.type === 'incoming') ev.connection.write(reply);
  };
  send(c, s, 0); // the SYN
  writeOnIncoming(drainEvents(s.ep));
  // Everything the server sends now, the SYN/ACK and whatever it adds, comes before the third ACK.
  const beforeThirdAck = send(s, c, 10).map(parseSegment);
  drainEvents(c.ep);
  send(c, s, 20); // the third ACK (and the client's data ACKs)
  writeOnIncoming(drainEvents(s.ep));
  let firstDataAfter: TcpSegment | undefined;
  for (let now = 30; now <= 300 && !firstDataAfter; now += 10) {
    s.ep.handleTimeout(now);
    for (let t = s.ep.pollTransmit(now); t; t = s.ep.pollTransmit(now)) {
      const seg = parseSegment(t.bytes);
      if (!firstDataAfter && seg.payload.length > 0) firstDataAfter = seg;
    }
  }
  return { beforeThirdAck, firstDataAfter };
}

describe('a server that writes before the third ACK', () => {
  it('holds the data when the SYN carried none, and its first data then carries a DATA_ACK', () => {
    console.log('seed', seed);
    const { beforeThirdAck, firstDataAfter } = serverWritesEarly();
    const kinds = beforeThirdAck.map((seg) => `${seg.flags & TcpFlag.SYN ? 'SYN/ACK' : 'ACK'}+${seg.payload.length}`);
    console.log('before the third ACK:', kinds.join(', '));
    expect(beforeThirdAck.length).toBeGreaterThan(0);
    expect(beforeThirdAck.filter((seg) => seg.payload.length > 0), 'data before the third ACK').toEqual([]);
    expect(firstDataAfter, 'the data goes once the third ACK is in').toBeDefined();
    expect(dssOf(firstDataAfter!)?.dataAck, 'a DATA_ACK rides the first data (RFC 8684 §3.1)').toBeDefined();
  });

  it('sends at once when the SYN carried data (0-RTT): the reply costs one round trip', () => {
    console.log('seed', seed);
    const { beforeThirdAck } = serverWritesEarly(new TextEncoder().encode('GET / HTTP/1.0\r\n\r\n'));
    const data = beforeThirdAck.filter((seg) => seg.payload.length > 0);
    console.log('data segments before the third ACK:', data.length);
    expect(data.length).toBeGreaterThan(0);
  });
});
