/**
 * Randomness is injected: the engine never calls Math.random or a CSPRNG itself.
 * Production drivers pass a crypto-backed source; tests pass a SeededRandom so a
 * failing seed reproduces exactly.
 */
export interface RandomSource {
  /** Fill buf with random bytes. */
  fill(buf: Uint8Array): void;
}

/** A fresh random u32 from source. */
export function randomU32(source: RandomSource): number {
  const b = new Uint8Array(4);
  source.fill(b);
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

/** A fresh random u64 from source. */
export function randomU64(source: RandomSource): bigint {
  const b = new Uint8Array(8);
  source.fill(b);
  return new DataView(b.buffer).getBigUint64(0);
}

/**
 * Deterministic PRNG (xoshiro128**, seeded through splitmix32) for tests and the
 * simulator. Not for keys in production.
 */
export class SeededRandom implements RandomSource {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(readonly seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
  }

  /** Next u32. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  fill(buf: Uint8Array): void {
    for (let i = 0; i < buf.length; i += 4) {
      const v = this.nextU32();
      buf[i] = v >>> 24;
      if (i + 1 < buf.length) buf[i + 1] = (v >>> 16) & 0xff;
      if (i + 2 < buf.length) buf[i + 2] = (v >>> 8) & 0xff;
      if (i + 3 < buf.length) buf[i + 3] = v & 0xff;
    }
  }

  /** An independent generator derived from this one (for a sub-component). */
  fork(): SeededRandom {
    return new SeededRandom(this.nextU32());
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
