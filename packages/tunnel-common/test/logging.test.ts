import { describe, expect, it } from 'vitest';
import { createLogger, isLogLevel } from '../src/logging.js';

function capture(): { lines: string[]; write: (l: string) => void } {
  const lines: string[] = [];
  return { lines, write: (l) => lines.push(l) };
}

describe('structured logging', () => {
  it('writes JSON lines with level, message, time and fields', () => {
    const c = capture();
    const log = createLogger({ format: 'json', write: c.write, now: () => 0 });
    log.info('listening', { port: 4433, big: 5n });
    expect(c.lines).toHaveLength(1);
    expect(c.lines[0]!.endsWith('\n')).toBe(true);
    expect(JSON.parse(c.lines[0]!)).toEqual({ time: '1970-01-01T00:00:00.000Z', level: 'info', msg: 'listening', port: 4433, big: '5' });
  });

  it('writes key=value text, quoting values that need it', () => {
    const c = capture();
    const log = createLogger({ format: 'text', write: c.write, now: () => 0 }).child({ conn: 7 });
    log.warn('target denied', { target: 'example.com:25', reason: 'not in allow list' });
    expect(c.lines[0]).toBe('time=1970-01-01T00:00:00.000Z level=warn msg="target denied" conn=7 target=example.com:25 reason="not in allow list"\n');
  });

  it('filters below the level; silent prints nothing', () => {
    const c = capture();
    const log = createLogger({ level: 'warn', write: c.write });
    log.debug('a');
    log.info('b');
    log.warn('c');
    log.error('d');
    expect(c.lines.map((l) => /msg=(\w)/.exec(l)?.[1])).toEqual(['c', 'd']);
    const s = capture();
    createLogger({ level: 'silent', write: s.write }).error('x');
    expect(s.lines).toEqual([]);
    expect(isLogLevel('debug')).toBe(true);
    expect(isLogLevel('loud')).toBe(false);
  });
});
