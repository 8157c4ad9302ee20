import { describe, expect, it } from 'vitest';
import { describeResult, runTransfer } from '../support/transfer.js';

describe('engine smoke', () => {
  it('moves 1 MB each way over two clean paths and closes', () => {
    const r = runTransfer({
      seed: 1,
      paths: [{ forward: { rateBps: 50e6, delayMs: 10 } }, { forward: { rateBps: 20e6, delayMs: 30 } }],
      upload: 1_000_000,
      download: 1_000_000,
    });
    console.log(describeResult(r), r.bytesPerPath);
    expect(r.ok).toBe(true);
  });
});
