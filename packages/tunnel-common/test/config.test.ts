import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadJsonConfig, parseByteSize, parseDuration, validate, type Schema } from '../src/config.js';

const schema: Schema = {
  type: 'object',
  required: ['listen'],
  properties: {
    listen: { type: 'array', minItems: 1, items: { type: 'object', properties: { transport: { type: 'string', enum: ['udp', 'ws'] }, port: { type: 'integer', min: 0, max: 65535 } } } },
    idle: { type: 'duration', min: 1000 },
    buffer: { type: 'bytes', max: 1024 ** 3 },
    verbose: { type: 'boolean' },
  },
};

function err(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('config validator', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mptun-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('parses durations and sizes with units', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('2m')).toBe(120_000);
    // A bare number names no unit: refused, as a JSON number or as text.
    expect(parseDuration(250)).toBeNull();
    expect(parseDuration('10')).toBeNull();
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('soon')).toBeNull();
    expect(parseDuration(-1)).toBeNull();
    expect(err(() => validate(schema, { listen: [{}], idle: 10 }, 'f.json')).message).toContain('"10s", "500ms"');
    expect(parseByteSize('64MiB')).toBe(64 * 1024 * 1024);
    expect(parseByteSize('16kB')).toBe(16_000);
    expect(parseByteSize('1GiB')).toBe(1024 ** 3);
    expect(parseByteSize(100)).toBe(100);
    expect(parseByteSize('12 parsecs')).toBeNull();
  });

  it('accepts a valid object and converts units', () => {
    expect(validate(schema, { listen: [{ transport: 'udp', port: 4433 }], idle: '5m', buffer: '1MiB', verbose: true }, 'f.json')).toEqual({
      listen: [{ transport: 'udp', port: 4433 }],
      idle: 300_000,
      buffer: 1024 * 1024,
      verbose: true,
    });
  });

  it('refuses keys that only the object prototype knows', () => {
    for (const key of ['toString', 'constructor', 'hasOwnProperty', '__proto__']) {
      const e = err(() => validate(schema, JSON.parse(`{"listen":[{}],"${key}":5}`), 'f.json'));
      expect(e.message).toContain(`unknown key "${key}"`);
    }
  });

  it('names the file, key path and expectation', () => {
    const e1 = err(() => validate(schema, { listen: [{ transport: 'udp', prot: 1 }] }, 'server.json'));
    expect(e1.keyPath).toBe('listen[0].prot');
    expect(e1.message).toContain('server.json');
    expect(e1.message).toContain('unknown key "prot"');
    const e2 = err(() => validate(schema, { listen: [{ transport: 'tcp' }] }, 's.json'));
    expect(e2.keyPath).toBe('listen[0].transport');
    expect(e2.message).toContain('"udp", "ws"');
    const e3 = err(() => validate(schema, { listen: [{ port: 70000 }] }, 's.json'));
    expect(e3.keyPath).toBe('listen[0].port');
    expect(e3.message).toContain('from 0 to 65535');
    const e4 = err(() => validate(schema, { listen: [], idle: '1s' }, 's.json'));
    expect(e4.keyPath).toBe('listen');
    const e5 = err(() => validate(schema, { listen: [{}], idle: '10ms' }, 's.json'));
    expect(e5.keyPath).toBe('idle');
    const e6 = err(() => validate(schema, {}, 's.json'));
    expect(e6.message).toContain('missing required key "listen"');
    const e7 = err(() => validate(schema, { listen: [{}], verbose: 'yes' }, 's.json'));
    expect(e7.expected).toBe('true or false');
    const e8 = err(() => validate(schema, [], 's.json'));
    expect(e8.keyPath).toBe('');
  });

  it('loads a file; bad JSON and missing files are ConfigErrors naming the file', () => {
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ listen: [{ port: 1 }] }));
    expect(loadJsonConfig(good, schema)).toEqual({ listen: [{ port: 1 }] });
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{ "listen": [ ');
    expect(err(() => loadJsonConfig(broken, schema)).message).toContain(broken);
    expect(err(() => loadJsonConfig(join(dir, 'absent.json'), schema)).message).toContain('cannot read');
  });
});
