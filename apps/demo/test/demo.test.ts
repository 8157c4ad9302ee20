import { describe, expect, it } from 'vitest';
import { linkRates, runDemo } from '../src/demo.js';
import { parseSize } from '../src/format.js';
import { ProgressView, type ProgressFrame } from '../src/progress-view.js';

function capture(isTTY: boolean): { out: { write(t: string): void; isTTY: boolean }; text(): string } {
  let text = '';
  return { out: { write: (t) => (text += t), isTTY }, text: () => text };
}

const frame = (elapsedMs: number): ProgressFrame => ({
  elapsedMs,
  paths: [{ name: 'wifi', localAddress: '127.0.0.2', bytesDown: 1 << 20, bytesUp: 0, downBps: 8e6, srttMs: 20, active: true }],
  linkUp: { wifi: true },
  bytes: 1 << 20,
  total: 4 << 20,
  totalBps: 8e6,
});

describe('demo pieces', () => {
  it('parses sizes and rejects nonsense', () => {
    expect(parseSize('64MB')).toBe(64 * 1024 * 1024);
    expect(parseSize('500k')).toBe(500 * 1024);
    expect(parseSize('1000')).toBe(1000);
    expect(() => parseSize('lots')).toThrow(/expected a size/);
    expect(() => parseSize('0')).toThrow(/at least 1 byte/);
  });

  it('chooses link rates so the download takes the asked time', () => {
    const size = 32 * 1024 * 1024;
    const { wifiBps, lteBps } = linkRates(size, 20, true);
    expect(Math.abs(wifiBps - 2 * lteBps)).toBeLessThanOrEqual(1);
    // Half at wifi+lte, half at lte alone.
    const t = (size * 4) / (wifiBps + lteBps) + (size * 4) / lteBps;
    expect(t).toBeCloseTo(20, 2);
    const nc = linkRates(size, 20, false);
    expect((size * 8) / (nc.wifiBps + nc.lteBps)).toBeCloseTo(20, 2);
  });

  it('redraws in place on a terminal and prints plain lines elsewhere', () => {
    const tty = capture(true);
    const v = new ProgressView(tty.out);
    v.update(frame(0));
    v.update(frame(500));
    v.log('event');
    expect(tty.text()).toContain('\x1b[2A');
    const plain = capture(false);
    const p = new ProgressView(plain.out);
    p.update(frame(0));
    p.update(frame(500)); // within the same second: not printed
    p.update(frame(1000));
    p.log('event');
    expect(plain.text()).not.toContain('\x1b');
    expect(plain.text().trim().split('\n')).toHaveLength(3);
  });
});

describe('the demo end to end (small)', () => {
  it('downloads through SOCKS5 over wifi+lte, survives the cut, verifies the hash', async () => {
    const seed = 12345;
    console.log(`link emulator seed ${seed}`);
    const cap = capture(false);
    const s = await runDemo({ sizeBytes: 3 * 1024 * 1024, seconds: 3, cut: true, out: cap.out, seed });
    console.log(s.lines.join('\n'));
    expect(s.ok).toBe(true);
    expect(s.hashVerified).toBe(true);
    expect(s.cutAtMs).not.toBeNull();
    expect(s.perPathBytes.wifi).toBeGreaterThan(0);
    expect(s.perPathBytes.lte).toBeGreaterThan(0);
    expect(cap.text()).toContain('Wi-Fi cut');
    expect(cap.text()).toContain('verified OK');
    expect(cap.text()).not.toContain('\x1b');
  });
});
