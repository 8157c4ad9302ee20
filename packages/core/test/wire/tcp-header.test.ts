import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WireError } from '../../src/wire/error.js';
import { TcpHeaderField, TcpHeaderView, TCP_HEADER_MIN_LENGTH } from '../../src/wire/tcp-header.js';
import { TcpFlag, emitSegment } from '../../src/wire/tcp-segment.js';
import { arbMutated, arbTcpSegment, fcParams } from './tcp-arbitraries.js';

/**
 * A SYN laid out as Linux 6.x sends it on an MPTCP socket: MSS 1460, SACK-permitted and
 * timestamps together, NOP + window scale 7, then MP_CAPABLE v1 (flag H only). 44 bytes.
 */
const linuxSyn = Uint8Array.from([
  0xa6, 0x5e, 0x00, 0x50, // ports 42590 → 80
  0x3c, 0x1f, 0x22, 0x8b, // seq
  0x00, 0x00, 0x00, 0x00, // ack
  0xb0, 0x02, // data offset 11, SYN
  0xfa, 0xf0, // window 64240
  0x5c, 0x33, // checksum
  0x00, 0x00, // urgent
  0x02, 0x04, 0x05, 0xb4, // MSS 1460
  0x04, 0x02, 0x08, 0x0a, 0x9d, 0x3e, 0x61, 0x7a, 0x00, 0x00, 0x00, 0x00, // SACK-perm, TS
  0x01, 0x03, 0x03, 0x07, // NOP, WS 7
  0x1e, 0x04, 0x01, 0x01, // MP_CAPABLE v1, flags H
]);

/** A bare ACK+PSH with a 5-byte payload and every field set to something distinct. */
const dataSegment = Uint8Array.from([
  0x01, 0xbb, 0xc3, 0x50, // 443 → 50000
  0xff, 0xee, 0xdd, 0xcc, // seq 0xffeeddcc
  0x80, 0x00, 0x00, 0x01, // ack 0x80000001
  0x50, 0x18, // data offset 5, ACK|PSH
  0x01, 0x00, // window 256
  0xab, 0xcd, // checksum
  0x12, 0x34, // urgent
  0x68, 0x65, 0x6c, 0x6c, 0x6f, // "hello"
]);

function expectWireError(fn: () => unknown, code: WireError['code']): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WireError);
    expect((err as WireError).code).toBe(code);
    return;
  }
  expect.fail(`expected WireError ${code}`);
}

describe('TcpHeaderView field accessors', () => {
  it('reads every field of a Linux-style SYN', () => {
    const h = TcpHeaderView.checked(linuxSyn);
    expect(h.srcPort).toBe(42590);
    expect(h.dstPort).toBe(80);
    expect(h.seq).toBe(0x3c1f228b);
    expect(h.ack).toBe(0);
    expect(h.dataOffset).toBe(11);
    expect(h.headerLength).toBe(44);
    expect(h.flags).toBe(TcpFlag.SYN);
    expect(h.hasFlags(TcpFlag.SYN)).toBe(true);
    expect(h.hasFlags(TcpFlag.SYN | TcpFlag.ACK)).toBe(false);
    expect(h.window).toBe(64240);
    expect(h.checksum).toBe(0x5c33);
    expect(h.urgent).toBe(0);
    expect(Array.from(h.optionBytes())).toEqual(Array.from(linuxSyn.subarray(20, 44)));
    expect(h.payload().length).toBe(0);
  });

  it('reads u32 fields with the top bit set as unsigned', () => {
    const h = TcpHeaderView.checked(dataSegment);
    expect(h.srcPort).toBe(443);
    expect(h.dstPort).toBe(50000);
    expect(h.seq).toBe(0xffeeddcc);
    expect(h.ack).toBe(0x80000001);
    expect(h.flags).toBe(TcpFlag.ACK | TcpFlag.PSH);
    expect(h.window).toBe(256);
    expect(h.checksum).toBe(0xabcd);
    expect(h.urgent).toBe(0x1234);
    expect(h.optionBytes().length).toBe(0);
    expect(new TextDecoder().decode(h.payload())).toBe('hello');
  });

  it('returns views into the original bytes, not copies', () => {
    const bytes = dataSegment.slice();
    const h = TcpHeaderView.checked(bytes);
    const payload = h.payload();
    expect(payload.buffer).toBe(bytes.buffer);
    bytes[20] = 0x4a;
    expect(payload[0]).toBe(0x4a);
  });

  it('works on a subarray that starts inside a larger buffer', () => {
    const outer = new Uint8Array(7 + linuxSyn.length + 3).fill(0xee);
    outer.set(linuxSyn, 7);
    const h = TcpHeaderView.checked(outer.subarray(7, 7 + linuxSyn.length));
    expect(h.srcPort).toBe(42590);
    expect(h.seq).toBe(0x3c1f228b);
    expect(h.optionBytes()[0]).toBe(0x02);
    expect(h.payload().length).toBe(0);
  });

  it('ignores the 4 reserved bits next to the data offset', () => {
    const bytes = dataSegment.slice();
    bytes[TcpHeaderField.DATA_OFFSET] = 0x5f;
    const h = TcpHeaderView.checked(bytes);
    expect(h.dataOffset).toBe(5);
    expect(h.flags).toBe(TcpFlag.ACK | TcpFlag.PSH);
  });

  it('accepts a header of exactly 20 bytes and one of exactly 60', () => {
    expect(TcpHeaderView.checked(dataSegment.subarray(0, 20)).payload().length).toBe(0);
    const full = new Uint8Array(60);
    full[TcpHeaderField.DATA_OFFSET] = 0xf0;
    const h = TcpHeaderView.checked(full);
    expect(h.headerLength).toBe(60);
    expect(h.optionBytes().length).toBe(40);
  });
});

describe('TcpHeaderView.checked rejects', () => {
  it('every buffer shorter than 20 bytes with TRUNCATED', () => {
    for (let n = 0; n < TCP_HEADER_MIN_LENGTH; n++) {
      expectWireError(() => TcpHeaderView.checked(linuxSyn.subarray(0, n)), 'TRUNCATED');
    }
  });

  it('a data offset below 5 words with BAD_OFFSET', () => {
    for (let words = 0; words < 5; words++) {
      const bytes = dataSegment.slice();
      bytes[TcpHeaderField.DATA_OFFSET] = words << 4;
      expectWireError(() => TcpHeaderView.checked(bytes), 'BAD_OFFSET');
    }
  });

  it('a data offset that runs past the buffer with BAD_OFFSET', () => {
    // The SYN announces 44 bytes; every shorter cut of at least 20 bytes is past the end.
    for (let n = TCP_HEADER_MIN_LENGTH; n < linuxSyn.length; n++) {
      expectWireError(() => TcpHeaderView.checked(linuxSyn.subarray(0, n)), 'BAD_OFFSET');
    }
    const bytes = dataSegment.slice();
    bytes[TcpHeaderField.DATA_OFFSET] = 0x70; // 28 bytes announced, 25 present
    expectWireError(() => TcpHeaderView.checked(bytes), 'BAD_OFFSET');
  });
});

/** An independent reading of the header through DataView, to compare the view against. */
function oracle(bytes: Uint8Array) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    srcPort: dv.getUint16(0),
    dstPort: dv.getUint16(2),
    seq: dv.getUint32(4),
    ack: dv.getUint32(8),
    headerLength: (dv.getUint8(12) >> 4) * 4,
    flags: dv.getUint8(13),
    window: dv.getUint16(14),
    checksum: dv.getUint16(16),
    urgent: dv.getUint16(18),
  };
}

/** Checks `bytes` and, when it passes, that every accessor agrees with the oracle. */
function checkAgainstOracle(bytes: Uint8Array): void {
  let h: TcpHeaderView;
  try {
    h = TcpHeaderView.checked(bytes);
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
    // It must have failed for a reason the bytes show.
    const o = bytes.length >= 20 ? oracle(bytes) : undefined;
    expect(o === undefined || o.headerLength < 20 || o.headerLength > bytes.length).toBe(true);
    return;
  }
  const o = oracle(bytes);
  expect(bytes.length).toBeGreaterThanOrEqual(o.headerLength);
  expect(o.headerLength).toBeGreaterThanOrEqual(20);
  expect({
    srcPort: h.srcPort,
    dstPort: h.dstPort,
    seq: h.seq,
    ack: h.ack,
    headerLength: h.headerLength,
    flags: h.flags,
    window: h.window,
    checksum: h.checksum,
    urgent: h.urgent,
  }).toEqual(o);
  expect(h.dataOffset * 4).toBe(h.headerLength);
  expect(h.optionBytes().length).toBe(o.headerLength - 20);
  expect(h.payload().length).toBe(bytes.length - o.headerLength);
}

describe('TcpHeaderView properties', () => {
  it('accepts or rejects any byte string with WireError, and agrees with a DataView reading', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => checkAgainstOracle(bytes)),
      fcParams('TcpHeaderView.checked on random bytes', 0x68647231, 100_000),
    );
  });

  it('does the same on mutated valid encodings', () => {
    const encoded = arbTcpSegment().map((seg) => emitSegment(seg));
    fc.assert(
      fc.property(arbMutated(encoded), (bytes) => checkAgainstOracle(bytes)),
      fcParams('TcpHeaderView.checked on mutated segments', 0x68647232, 20_000),
    );
  });
});
