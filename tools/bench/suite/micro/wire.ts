/**
 * Wire codec rates: encode, decode, and encode+decode pairs of TCP segments as the engine
 * sends them, for (a) a full data segment — 1200-byte payload, timestamps, DSS with a
 * 64-bit data ACK and a 64-bit mapping — and (b) an ACK-only segment — timestamps, DSS
 * with a 64-bit data ACK, one SACK block. Encoding reuses one output buffer, as a sender
 * would.
 */
import { TcpFlag, emitSegment, parseSegment, type TcpSegment } from '@mptun/core';
import type { Bench } from './bench.js';

function dataSegment(): TcpSegment {
  return {
    srcPort: 50000,
    dstPort: 443,
    seq: 0x1234_5678,
    ack: 0x9abc_def0,
    flags: TcpFlag.ACK | TcpFlag.PSH,
    window: 0xfaf0,
    checksum: 0,
    urgent: 0,
    options: [
      { kind: 'timestamps', tsval: 0x0102_0304, tsecr: 0x0506_0708 },
      {
        kind: 'mptcp',
        option: {
          type: 'dss',
          dataAck: 0x0000_0001_2345_6789n,
          dataAck64: true,
          mapping: { dsn: 0x0000_0002_3456_789an, dsn64: true, subflowSeq: 0x1001, length: 1200 },
          dataFin: false,
        },
      },
    ],
    payload: new Uint8Array(1200).fill(0x5a),
  };
}

function ackSegment(): TcpSegment {
  return {
    srcPort: 443,
    dstPort: 50000,
    seq: 0x9abc_def0,
    ack: 0x1234_5678,
    flags: TcpFlag.ACK,
    window: 0x2000,
    checksum: 0,
    urgent: 0,
    options: [
      { kind: 'timestamps', tsval: 0x0506_0708, tsecr: 0x0102_0304 },
      { kind: 'mptcp', option: { type: 'dss', dataAck: 0x0000_0002_3456_7c4an, dataAck64: true, dataFin: false } },
      { kind: 'sack', blocks: [{ left: 0x1234_6000, right: 0x1234_64b0 }] },
    ],
    payload: new Uint8Array(0),
  };
}

/** Encode, decode and encode+decode benches for one segment shape. */
function shapeBenches(label: string, seg: TcpSegment): Bench[] {
  const out = new Uint8Array(2048);
  const encoded = emitSegment(seg).slice();
  return [
    {
      name: `${label} encode`,
      run(n) {
        let acc = 0;
        for (let i = 0; i < n; i++) acc += emitSegment(seg, out, 0).length;
        return acc;
      },
    },
    {
      name: `${label} decode`,
      run(n) {
        let acc = 0;
        for (let i = 0; i < n; i++) acc += parseSegment(encoded).options.length;
        return acc;
      },
    },
    {
      name: `${label} encode+decode`,
      unit: 'pair',
      run(n) {
        let acc = 0;
        for (let i = 0; i < n; i++) acc += parseSegment(emitSegment(seg, out, 0)).payload.length + 1;
        return acc;
      },
    },
  ];
}

export function benches(): Bench[] {
  return [...shapeBenches('data 1200B', dataSegment()), ...shapeBenches('ack-only', ackSegment())];
}
