/**
 * A slow, independent BLAKE2b (RFC 7693 §3) on BigInt words, written for the tests only:
 * node:crypto has no keyed BLAKE2b and no output lengths other than 64, so the vectors of
 * our MACs are recomputed with this.
 */
const M64 = (1n << 64n) - 1n;
const IV = [
  0x6a09e667f3bcc908n, 0xbb67ae8584caa73bn, 0x3c6ef372fe94f82bn, 0xa54ff53a5f1d36f1n,
  0x510e527fade682d1n, 0x9b05688c2b3e6c1fn, 0x1f83d9abfb41bd6bn, 0x5be0cd19137e2179n,
];
const SIGMA = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];

const rotr = (x: bigint, n: bigint): bigint => ((x >> n) | (x << (64n - n))) & M64;

function mix(v: bigint[], a: number, b: number, c: number, d: number, x: bigint, y: bigint): void {
  v[a] = (v[a]! + v[b]! + x) & M64;
  v[d] = rotr(v[d]! ^ v[a]!, 32n);
  v[c] = (v[c]! + v[d]!) & M64;
  v[b] = rotr(v[b]! ^ v[c]!, 24n);
  v[a] = (v[a]! + v[b]! + y) & M64;
  v[d] = rotr(v[d]! ^ v[a]!, 16n);
  v[c] = (v[c]! + v[d]!) & M64;
  v[b] = rotr(v[b]! ^ v[c]!, 63n);
}

function compress(h: bigint[], block: Uint8Array, t: bigint, last: boolean): void {
  const v = [...h, ...IV];
  v[12] = v[12]! ^ (t & M64);
  v[13] = v[13]! ^ (t >> 64n);
  if (last) v[14] = v[14]! ^ M64;
  const m: bigint[] = [];
  for (let i = 0; i < 16; i++) {
    let w = 0n;
    for (let j = 7; j >= 0; j--) w = (w << 8n) | BigInt(block[i * 8 + j]!);
    m.push(w);
  }
  for (let r = 0; r < 12; r++) {
    const s = SIGMA[r % 10]!;
    const x = (i: number): bigint => m[s[i]!]!;
    mix(v, 0, 4, 8, 12, x(0), x(1));
    mix(v, 1, 5, 9, 13, x(2), x(3));
    mix(v, 2, 6, 10, 14, x(4), x(5));
    mix(v, 3, 7, 11, 15, x(6), x(7));
    mix(v, 0, 5, 10, 15, x(8), x(9));
    mix(v, 1, 6, 11, 12, x(10), x(11));
    mix(v, 2, 7, 8, 13, x(12), x(13));
    mix(v, 3, 4, 9, 14, x(14), x(15));
  }
  for (let i = 0; i < 8; i++) h[i] = h[i]! ^ v[i]! ^ v[i + 8]!;
}

export function referenceBlake2b(outLength: number, message: Uint8Array, key: Uint8Array = new Uint8Array(0)): Uint8Array {
  const h = IV.slice();
  h[0] = h[0]! ^ 0x01010000n ^ (BigInt(key.length) << 8n) ^ BigInt(outLength);
  let data = message;
  if (key.length > 0) {
    data = new Uint8Array(128 + message.length);
    data.set(key);
    data.set(message, 128);
  }
  let t = 0n;
  let at = 0;
  while (data.length - at > 128) {
    t += 128n;
    compress(h, data.subarray(at, at + 128), t, false);
    at += 128;
  }
  const lastBlock = new Uint8Array(128);
  lastBlock.set(data.subarray(at));
  t += BigInt(data.length - at);
  compress(h, lastBlock, t, true);
  const out = new Uint8Array(64);
  for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) out[i * 8 + j] = Number((h[i]! >> BigInt(8 * j)) & 0xffn);
  return out.slice(0, outLength);
}
