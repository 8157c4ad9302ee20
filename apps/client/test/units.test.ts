/** Pure pieces of mptun-client: SOCKS5 parsers, -L parsing, config validation, path names. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { loadClientConfig } from '../src/config.js';
import { parseForward } from '../src/forward.js';
import { resolvePathAddress } from '../src/paths.js';
import { parseCredentials, parseGreeting, parseRequest, Socks5Error, SocksReply } from '../src/socks5.js';
import { flagsToConfig, buildProgram } from '../src/cli.js';

describe('SOCKS5 parsers', () => {
  it('need more bytes for every strict prefix of a valid request, and parse the whole', () => {
    const req = Buffer.from([5, 1, 0, 3, 9, ...Buffer.from('localhost'), 0x1f, 0x90]);
    for (let i = 0; i < req.length; i++) expect(parseRequest(req.subarray(0, i))).toBeNull();
    expect(parseRequest(req)).toEqual({ command: 1, host: 'localhost', port: 8080, length: req.length });
    expect(parseGreeting(Buffer.from([5, 2, 0, 2]))).toEqual({ methods: [0, 2], length: 4 });
    expect(parseCredentials(Buffer.from([1, 1, 0x61, 2, 0x62, 0x63]))).toEqual({ username: 'a', password: 'bc', length: 6 });
  });

  it('map bad requests onto the RFC 1928 reply codes', () => {
    const reply = (b: number[]) => {
      try {
        parseRequest(Buffer.from(b));
      } catch (e) {
        return (e as Socks5Error).reply;
      }
      return 'parsed';
    };
    expect(reply([5, 2])).toBe(SocksReply.COMMAND_NOT_SUPPORTED);
    expect(reply([5, 3, 0, 1])).toBe(SocksReply.COMMAND_NOT_SUPPORTED);
    expect(reply([5, 1, 0, 7])).toBe(SocksReply.ADDRESS_TYPE_NOT_SUPPORTED);
    expect(reply([5, 1, 0, 3, 0])).toBe(SocksReply.GENERAL_FAILURE); // empty name
    expect(reply([5, 1, 0, 1, 1, 2, 3, 4, 0, 0])).toBe(SocksReply.GENERAL_FAILURE); // port 0
    expect(reply([5, 1, 0, 3, 3, 0x61, 0x2f, 0x62, 0, 80])).toBe(SocksReply.GENERAL_FAILURE); // "a/b"
    expect(reply([5, 1, 1, 1])).toBe(SocksReply.GENERAL_FAILURE); // reserved byte
  });

  it('never throw anything but Socks5Error and never claim more bytes than given (fuzz)', () => {
    const seed = 20240613;
    console.log(`fuzz seed=${seed}`);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        for (const parse of [parseGreeting, parseCredentials, parseRequest]) {
          try {
            const r = parse(bytes);
            if (r) expect(r.length).toBeLessThanOrEqual(bytes.length);
          } catch (e) {
            expect(e).toBeInstanceOf(Socks5Error);
          }
        }
      }),
      { seed, numRuns: 3000 },
    );
  });
});

describe('-L parsing', () => {
  it('takes ssh-style specs with and without a bind address', () => {
    expect(parseForward('8080:intranet:80')).toEqual({ bind: { host: '127.0.0.1', port: 8080 }, target: { host: 'intranet', port: 80 } });
    expect(parseForward('0.0.0.0:2222:10.0.0.5:22')).toEqual({ bind: { host: '0.0.0.0', port: 2222 }, target: { host: '10.0.0.5', port: 22 } });
    expect(parseForward('[::1]:8443:[2001:db8::1]:443')).toEqual({ bind: { host: '::1', port: 8443 }, target: { host: '2001:db8::1', port: 443 } });
  });

  it('rejects malformed specs with the spec in the message', () => {
    for (const bad of ['80', 'a:b:c', '8080:host:0', '8080:host:99999', '1:2:3:4:5', '8080::80', '8080:host:80:']) {
      expect(() => parseForward(bad)).toThrow(`-L "${bad}"`);
    }
  });
});

describe('config', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const write = (obj: unknown) => {
    const dir = mkdtempSync(join(tmpdir(), 'mptun-cfg-'));
    dirs.push(dir);
    const file = join(dir, 'client.json');
    writeFileSync(file, JSON.stringify(obj));
    return file;
  };

  it('a typo in a key names the file and the key', () => {
    const file = write({ server: '127.0.0.1:4433', sever: 'x' });
    expect(() => loadClientConfig(file)).toThrow(/client\.json: sever: unknown key "sever"/);
  });

  it('a bad value names the key path and what was expected', () => {
    expect(() => loadClientConfig(write({ transport: 'tcp' }))).toThrow(/transport: expected/);
    expect(() => loadClientConfig(write({ paths: ['eth0', 3] }))).toThrow(/paths\[1\]/);
    expect(() => loadClientConfig(write({ socks: '127.0.0.1' }))).toThrow(/socks: expected a "host:port" string or "off"/);
    expect(() => loadClientConfig(write({ socksUser: 'a' }))).toThrow(/socksPass/);
  });

  it('flags override the file, durations become ms, "off" turns SOCKS off', () => {
    const file = write({ server: '127.0.0.1:4433', socks: 'off', connectTimeout: '3s', paths: ['127.0.0.2'] });
    const c = loadClientConfig(file, { paths: ['127.0.0.3'], scheduler: 'blest' });
    expect(c).toMatchObject({ server: '127.0.0.1:4433', socks: null, connectTimeoutMs: 3000, paths: ['127.0.0.3'], scheduler: 'blest' });
    expect(() => loadClientConfig(file, { server: 'nope' })).toThrow(/command line: server/);
    expect(loadClientConfig(file, { handshakeTimeout: '500ms' }).handshakeTimeoutMs).toBe(500);
  });

  it('a duration without a unit is refused, in the file and on the command line, with the units shown', () => {
    expect(() => loadClientConfig(write({ connectTimeout: 10 }))).toThrow(/connectTimeout: expected a duration with a unit, like "10s", "500ms"/);
    expect(() => loadClientConfig(undefined, { connectTimeout: '10' })).toThrow(/command line: connectTimeout: .*"10s", "500ms"/);
  });

  it('--transport ws without --ws-url names the URL it needs; auto takes the README default', () => {
    expect(() => loadClientConfig(undefined, { server: 'vpn.example.net:4433', transport: 'ws' })).toThrow(/--transport ws needs the server's WebSocket URL: pass --ws-url .*ws:\/\/vpn\.example\.net:8080\/mptun/);
    expect(loadClientConfig(undefined, { server: 'vpn.example.net:4433', transport: 'auto' }).wsUrl).toBe('ws://vpn.example.net:8080/mptun');
    expect(loadClientConfig(undefined, { server: 'vpn.example.net:4433', transport: 'ws', wsUrl: 'ws://vpn.example.net:9000/t' }).wsUrl).toBe('ws://vpn.example.net:9000/t');
  });

  it('the command line maps flags onto config keys', async () => {
    let seen: unknown;
    const program = buildProgram({ out: () => {}, err: () => {} });
    program.exitOverride();
    program.commands.find((c) => c.name() === 'run')!.exitOverride().action((opts) => {
      seen = flagsToConfig(opts);
    });
    await program.parseAsync(['node', 'mptun-client', 'run', '--server', 'h:1', '--path', '127.0.0.2', '--path', 'auto', '-L', '80:x:80', '-L', '81:y:81', '--no-socks'], { from: 'node' });
    expect(seen).toMatchObject({ server: 'h:1', paths: ['127.0.0.2', 'auto'], forwards: ['80:x:80', '81:y:81'], socks: null });
  });
});

describe('paths', () => {
  const table = { wlan0: [{ address: 'fe80::1', family: 'IPv6', internal: false }, { address: '192.168.1.20', family: 'IPv4', internal: false }], lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true }] };
  it('an interface name becomes its IPv4 address; an address stays', () => {
    expect(resolvePathAddress('wlan0', table)).toBe('192.168.1.20');
    expect(resolvePathAddress('10.1.2.3', table)).toBe('10.1.2.3');
    expect(() => resolvePathAddress('wwan9', table)).toThrow(/interfaces: wlan0, lo/);
  });
});
