import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Link } from '../src/link.js';
import { mptcpOptionStripper, stripMptcpOptions } from '../src/middlebox.js';
import { Recorder } from './support/trace.js';

const MSS = [2, 4, 0x05, 0xb4];
const MP_CAPABLE = [30, 12, 0x01, 0x81, 1, 2, 3, 4, 5, 6, 7, 8]; // v1, key A
const NOP_NOP_TIMESTAMPS = [1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 7];
const DSS_ACK = [30, 8, 0x20, 0x01, 0xde, 0xad, 0xbe, 0xef]; // 32-bit data ACK
const PAYLOAD = [0x68, 0x65, 0x6c, 0x6c, 0x6f];

/** A TCP segment (RFC 9293 §3.1) with the given option bytes (a multiple of 4) and payload. */
function segment(options: readonly number[], payload: readonly number[] = PAYLOAD, dataOffsetWords?: number): Uint8Array {
  const header = [
    0x04, 0xd2, 0x00, 0x50, // ports 1234 → 80
    0, 0, 0x10, 0, // seq
    0, 0, 0x20, 0, // ack
    (dataOffsetWords ?? 5 + options.length / 4) << 4, 0x18, // data offset, PSH|ACK
    0xff, 0xff, // window
    0, 0, // checksum
    0, 0, // urgent
  ];
  return Uint8Array.from([...header, ...options, ...payload]);
}

/** One's-complement sum of 16-bit words, RFC 1071. */
function onesSum(bytes: Uint8Array, start = 0): number {
  let sum = start;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** Fill in a checksum as if over a pseudo-header whose words sum to `pseudo`. */
function withChecksum(seg: Uint8Array, pseudo: number): Uint8Array {
  const out = seg.slice();
  const c = ~onesSum(out, pseudo) & 0xffff;
  out[16] = c >>> 8;
  out[17] = c & 0xff;
  return out;
}

describe('stripMptcpOptions', () => {
  it('overwrites every kind-30 option with NOPs and leaves everything else alone', () => {
    const options = [...MSS, ...MP_CAPABLE, ...NOP_NOP_TIMESTAMPS, ...DSS_ACK];
    const input = segment(options);
    const before = input.slice();
    const out = stripMptcpOptions(input);
    expect([...input]).toEqual([...before]); // the input is not modified
    expect(out).not.toBe(input);
    const expected = segment([...MSS, ...MP_CAPABLE.map(() => 1), ...NOP_NOP_TIMESTAMPS, ...DSS_ACK.map(() => 1)]);
    expect([...out]).toEqual([...expected]);
    expect([...out.subarray(out.length - PAYLOAD.length)]).toEqual(PAYLOAD);
  });

  it('returns the very same array when there is no MPTCP option', () => {
    const input = segment([...MSS, ...NOP_NOP_TIMESTAMPS]);
    expect(stripMptcpOptions(input)).toBe(input);
    const bare = segment([]);
    expect(stripMptcpOptions(bare)).toBe(bare);
  });

  it('stops at EOL: what follows is padding', () => {
    const input = segment([0, ...MP_CAPABLE.slice(0, 11), ...MSS]);
    expect(stripMptcpOptions(input)).toBe(input);
    const mixed = segment([...DSS_ACK, 0, 30, 2, 0]);
    const out = stripMptcpOptions(mixed);
    expect([...out.subarray(20, 32)]).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 0, 30, 2, 0]);
  });

  it('leaves malformed segments unchanged', () => {
    const cases: Array<[string, Uint8Array]> = [
      ['shorter than a TCP header', segment([...MP_CAPABLE]).subarray(0, 19)],
      ['data offset below 5 words', segment([...MP_CAPABLE], PAYLOAD, 4)],
      ['data offset past the end', segment([...MP_CAPABLE], [], 9)],
      ['option length 0', segment([...DSS_ACK, 8, 0, 0, 0])],
      ['option length 1', segment([...DSS_ACK, 8, 1, 0, 0])],
      ['option runs past the options', segment([...DSS_ACK, 1, 1, 2, 8])],
      ['kind with no room for its length', segment([...DSS_ACK, 1, 1, 1, 2])],
      ['MPTCP option longer than the options', segment([30, 12, 0x01, 0x81, 1, 2, 3, 4])],
    ];
    for (const [what, input] of cases) {
      const copy = input.slice();
      const out = stripMptcpOptions(input);
      expect(out, what).toBe(input);
      expect([...input], what).toEqual([...copy]);
    }
  });

  it('patches a non-zero checksum incrementally so it still verifies (RFC 1624)', () => {
    const pseudo = 0x1234; // stands for the pseudo-header's contribution
    const input = withChecksum(segment([...MSS, ...MP_CAPABLE, ...NOP_NOP_TIMESTAMPS, ...DSS_ACK]), pseudo);
    expect(onesSum(input, pseudo)).toBe(0xffff);
    const out = stripMptcpOptions(input);
    expect(out[20 + 4]).toBe(1);
    expect(onesSum(out, pseudo)).toBe(0xffff);
    // A zero checksum means "none carried" and stays zero.
    const none = stripMptcpOptions(segment([...MP_CAPABLE]));
    expect([none[16], none[17]]).toEqual([0, 0]);
  });

  it('never throws, keeps the length, and only turns option bytes into NOPs (property)', () => {
    const seed = 20240;
    console.log(`middlebox property: seed ${seed}`);
    const option = fc.oneof(
      fc.constant([1]),
      fc.constant([...MSS]),
      fc.constant([...MP_CAPABLE]),
      fc.constant([...DSS_ACK]),
      fc.uint8Array({ maxLength: 6 }).map((b) => [...b]), // garbage
      fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })).map(([k, l]) => [k, l]),
    );
    const arbSegment = fc.tuple(fc.array(option, { maxLength: 6 }), fc.uint8Array({ maxLength: 40 })).map(([opts, payload]) => {
      let bytes = opts.flat();
      while (bytes.length % 4 !== 0) bytes.push(1);
      bytes = bytes.slice(0, 40);
      return segment(bytes, [...payload]);
    });
    const anyBytes = fc.uint8Array({ maxLength: 80 });
    let changed = 0;
    fc.assert(
      fc.property(fc.oneof(arbSegment, anyBytes), (input) => {
        const copy = input.slice();
        const out = stripMptcpOptions(input);
        expect([...input]).toEqual([...copy]);
        expect(out.length).toBe(input.length);
        if (out === input) return;
        changed++;
        const headerLen = (input[12]! >>> 4) * 4;
        for (let i = 0; i < input.length; i++) {
          if (out[i] === input[i]) continue;
          const inOptions = i >= 20 && i < headerLen;
          const inChecksum = i === 16 || i === 17;
          expect(inOptions || inChecksum).toBe(true);
          if (inOptions) expect(out[i]).toBe(1);
        }
      }),
      { seed, numRuns: 2000 },
    );
    expect(changed).toBeGreaterThan(200); // the generator does reach the stripping path
  });

  it('works as a link transform', () => {
    const rec = new Recorder();
    const link = new Link({ delayMs: 1, transforms: [mptcpOptionStripper] });
    rec.net.send([link], segment([...MSS, ...MP_CAPABLE]), 0);
    rec.net.runUntil(2);
    expect([...rec.arrivals[0]!.bytes]).toEqual([...segment([...MSS, ...MP_CAPABLE.map(() => 1)])]);
  });
});
