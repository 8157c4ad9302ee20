import { describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WireError } from '@mptun/core';
import { FuzzFailure, byteInputs, fuzz, type FuzzTarget, type ByteInput } from '../torture/fuzz-harness.js';
import { createFuzzWireCheck } from '../torture/fuzz-wire.js';
import { createFuzzSessionCheck } from '../torture/fuzz-session.js';
import { createFuzzSocksCheck } from '../torture/fuzz-socks.js';
import { configTargets } from '../torture/fuzz-config.js';
import { UsageError, parseArgs, renderMarkdown, runChecks } from '../torture/main.js';
import type { TortureCheck } from '../torture/types.js';

const SEED = 0x70a7;
console.log(`torture-fuzz test seed ${SEED}`);

const seeds = [{ bytes: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), lengthFields: [1] }];

/** Rejects inputs starting with 0 (typed), crashes on inputs starting with 0x42. */
function plantedCrash(): FuzzTarget<ByteInput> {
  return {
    name: 'planted crash',
    generate: byteInputs(seeds, { randomShare: 0.5 }),
    run({ bytes }) {
      if (bytes[0] === 0x42) throw new TypeError('planted');
      if (bytes.length === 0 || bytes[0] === 0) throw new WireError('TRUNCATED', 'typed');
      return bytes.length;
    },
    isExpected: (e) => e instanceof WireError,
  };
}

async function failureOf(p: Promise<unknown>): Promise<FuzzFailure> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(FuzzFailure);
    return err as FuzzFailure;
  }
  throw new Error('expected a FuzzFailure');
}

describe('fuzz harness', () => {
  it('counts accepted and typed rejections of a clean target', async () => {
    const target: FuzzTarget<ByteInput> = { ...plantedCrash(), run: ({ bytes }) => (bytes[0] === 0 ? Promise.reject(new WireError('BAD_VALUE', 'x')) : Promise.resolve(1)) };
    const c = await fuzz(target, { seed: SEED, inputs: 2000 });
    expect(c.inputs).toBe(2000);
    expect(c.accepted + c.rejected).toBe(2000);
    expect(c.accepted).toBeGreaterThan(0);
    expect(c.rejected).toBeGreaterThan(0);
    expect(c.rejectedBy.BAD_VALUE).toBe(c.rejected);
    expect(c.crashes).toBe(0);
  });

  it('flags a planted crash, naming the seed and the input as hex, and replays it', async () => {
    const f = await failureOf(fuzz(plantedCrash(), { seed: SEED, inputs: 100_000 }));
    expect(f.kind).toBe('crash');
    expect(f.seed).toBe(SEED);
    expect(f.input, f.message).toMatch(/^42/);
    expect(f.message).toContain(`seed ${SEED}`);
    expect(f.message).toContain('TypeError: planted');
    expect(f.message).toContain(f.input);
    const again = await failureOf(fuzz(plantedCrash(), { seed: SEED, inputs: 100_000 }));
    expect(again.index).toBe(f.index);
    expect(again.input).toBe(f.input);
  });

  it('flags a planted leak', async () => {
    const kept: Uint8Array[] = [];
    const leaky: FuzzTarget<ByteInput> = { ...plantedCrash(), name: 'planted leak', run: () => kept.push(new Uint8Array(64 * 1024).fill(1)) };
    const f = await failureOf(fuzz(leaky, { seed: SEED, inputs: 300, maxHeapGrowthBytes: 8 * 1024 * 1024 }));
    expect(f.kind).toBe('leak');
    expect(f.message).toContain(`seed ${SEED}`);
    expect(kept.length).toBe(300);
    kept.length = 0;
  });

  it('flags an input far slower than the bound as a hang', async () => {
    let n = 0;
    const slow: FuzzTarget<ByteInput> = {
      ...plantedCrash(),
      name: 'planted hang',
      run: () => {
        if (++n === 50) {
          const until = Date.now() + 80;
          while (Date.now() < until) {
            // busy: a decoder stuck in a loop
          }
        }
        return n;
      },
    };
    const f = await failureOf(fuzz(slow, { seed: SEED, inputs: 100, maxInputMs: 20 }));
    expect(f.kind).toBe('hang');
    expect(f.index).toBe(49);
  });
});

describe('torture runner', () => {
  const ids = ['fuzz-wire', 'fuzz-config'];

  it('parses flags, MPTUN_SEED and the defaults', () => {
    expect(parseArgs([], { MPTUN_SEED: '12' }, ids)).toEqual({ long: false, only: null, seed: 12, out: null, help: false });
    expect(parseArgs(['--long', '--only', 'fuzz-wire,fuzz-config', '--seed=7', '--out', 'r'], { MPTUN_SEED: '12' }, ids)).toEqual({
      long: true,
      only: ['fuzz-wire', 'fuzz-config'],
      seed: 7,
      out: 'r',
      help: false,
    });
    expect(parseArgs([], {}, ids, () => 99).seed).toBe(99);
    expect(parseArgs(['--help'], {}, ids).help).toBe(true);
  });

  it('refuses unknown flags, bad seeds, missing values and unknown check ids', () => {
    for (const argv of [['--fast'], ['--seed', 'x'], ['--seed', '-1'], ['--seed', '4294967296'], ['--only'], ['--out'], ['--only', 'fuzz-nope'], ['extra']]) {
      expect(() => parseArgs(argv, {}, ids), argv.join(' ')).toThrow(UsageError);
    }
    expect(() => parseArgs([], { MPTUN_SEED: 'abc' }, ids)).toThrow(/MPTUN_SEED/);
    expect(() => parseArgs(['--only', 'fuzz-nope'], {}, ids)).toThrow(/fuzz-nope.*known: fuzz-wire, fuzz-config/);
  });

  it('runs the other checks after one throws and reports it with the seed', async () => {
    const checks: TortureCheck[] = [
      { id: 'a', title: 'throws', run: () => Promise.reject(new Error('broken on purpose')) },
      { id: 'b', title: 'works', run: () => Promise.resolve({ lines: ['b: 1 input'], data: { n: 1 } }) },
    ];
    const printed: string[] = [];
    const reports = await runChecks(checks, { long: false, only: null, seed: 5, out: null, help: false }, (l) => printed.push(l));
    expect(reports.map((r) => [r.id, r.ok])).toEqual([
      ['a', false],
      ['b', true],
    ]);
    expect(printed.join('\n')).toMatch(/a: FAILED.*seed 5/);
    expect(printed.join('\n')).toContain('b: 1 input');
    expect(renderMarkdown({ long: false, only: null, seed: 5, out: null, help: false }, reports)).toMatch(/\| a \| \*\*FAILED\*\*/);
  });
});

describe('each fuzz check on a few hundred inputs', () => {
  const opts = { long: false, seed: SEED, log: () => {} };

  it('fuzz-wire', async () => {
    const r = await createFuzzWireCheck({ inputs: 300 }).run(opts);
    expect(r.lines.at(-1)).toMatch(/15 targets, 4,500 inputs in all, 0 crashes/);
  });

  it('fuzz-session', async () => {
    const r = await createFuzzSessionCheck({ inputs: 300 }).run(opts);
    expect(r.lines.some((l) => /responder initiation: 300 inputs/.test(l))).toBe(true);
    expect(r.lines.some((l) => /8 targets, 2,400 inputs in all, 0 crashes/.test(l))).toBe(true);
  });

  it('fuzz-socks', async () => {
    const r = await createFuzzSocksCheck({ inputs: 300 }).run(opts);
    expect(r.lines.at(-1)).toMatch(/5 targets, 1,500 inputs in all, 0 crashes/);
  });

  /** The config targets over one temporary file, removed afterwards. */
  async function fuzzConfigTarget(name: string, inputs: number): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'torture-fuzz-test-'));
    try {
      const target = configTargets({ path: join(dir, 'c.json') }).find((t) => t.name === name)!;
      const c = await fuzz(target, { seed: SEED, inputs });
      expect(c.crashes).toBe(0);
      expect(c.accepted).toBeGreaterThan(0);
      expect(c.rejected).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('fuzz-config: server config', () => fuzzConfigTarget('server config', 300));
  it('fuzz-config: client config', () => fuzzConfigTarget('client config', 300));
  it('fuzz-config: linkem config', () => fuzzConfigTarget('linkem config', 300));
});
