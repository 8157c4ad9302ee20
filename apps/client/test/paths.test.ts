/**
 * --path auto (interfaces come and go at run time), --transport auto (UDP/WebSocket race),
 * and a path given as an interface bound to its device.
 */
import { createLogger } from '@mptun/tunnel-common';
import { MptcpServer } from '@mptun/node';
import { encodeKey, generateKeypair, loadCrypto } from '@mptun/session';
import { execFileSync, spawnSync } from 'node:child_process';
import { connect as netConnect } from 'node:net';
import { deviceBindingUnavailable } from '@mptun/node';
import { describe, expect, it } from 'vitest';
import { startClient } from '../src/client-app.js';
import { raceTransport } from '../src/transport-race.js';

const silent = createLogger({ level: 'silent' });

async function server() {
  const crypto = await loadCrypto();
  const sk = generateKeypair(crypto);
  const ck = generateKeypair(crypto);
  const s = new MptcpServer({ listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }, { transport: 'ws', host: '127.0.0.1', port: 0 }], keypair: sk, authorizedKeys: [ck.publicKey], crypto });
  s.on('connection', (sock) => sock.resume());
  const bound = await s.listen();
  return { crypto, sk, ck, s, udp: bound.find((b) => b.transport === 'udp')!.port, ws: bound.find((b) => b.transport === 'ws')!.port };
}

describe('path auto', () => {
  it('opens paths for the interfaces present and picks up one that appears later', async () => {
    const w = await server();
    let entries = [{ name: 'lo', address: '127.0.0.2', family: 'IPv4', internal: true }];
    const app = await startClient(
      { server: `127.0.0.1:${w.udp}`, serverKey: encodeKey(w.sk.publicKey), keypair: w.ck, crypto: w.crypto, paths: ['auto'], socks: '127.0.0.1:0' },
      { logger: silent, interfaces: { source: () => entries, includeInternal: true, pollIntervalMs: 20, debounceMs: 40 } },
    );
    try {
      // A SOCKS CONNECT opens one tunnel connection (this server never replies; that is fine).
      const local = netConnect({ host: '127.0.0.1', port: app.socks!.port });
      local.on('error', () => {});
      local.write(Buffer.from([5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 80]));
      while (w.s.connections().length === 0) await new Promise((r) => setTimeout(r, 20));
      const sock = w.s.connections()[0]!;
      entries = [...entries, { name: 'lo', address: '127.0.0.3', family: 'IPv4', internal: true }];
      // The new address joins the live connection once the watcher's debounce has passed.
      for (let i = 0; i < 200 && !sock.subflows().some((f) => f.remoteAddress === '127.0.0.3' && f.state === 'established'); i++) await new Promise((r) => setTimeout(r, 20));
      expect(sock.subflows().some((f) => f.remoteAddress === '127.0.0.3' && f.state === 'established')).toBe(true);
      local.destroy();
    } finally {
      await app.close();
      await w.s.close();
    }
  });
});

describe('transport auto', () => {
  it('keeps UDP where it works', async () => {
    const w = await server();
    try {
      const r = await raceTransport('127.0.0.2', { base: { keypair: w.ck, serverPublicKey: w.sk.publicKey, crypto: w.crypto }, udpServer: { host: '127.0.0.1', port: w.udp }, wsServer: { host: '127.0.0.1', port: w.ws }, wsKind: 'ws', timeoutMs: 3000 });
      expect(r).toEqual({ local: '127.0.0.2', transport: 'udp', up: true });
    } finally {
      await w.s.close();
    }
  });

  it('falls back to WebSocket where UDP gets no answer', async () => {
    const w = await server();
    try {
      // Nothing answers UDP on the WebSocket's port: as if a middlebox dropped UDP.
      const r = await raceTransport('127.0.0.2', { base: { keypair: w.ck, serverPublicKey: w.sk.publicKey, crypto: w.crypto }, udpServer: { host: '127.0.0.1', port: w.ws }, wsServer: { host: '127.0.0.1', port: w.ws }, wsKind: 'ws', timeoutMs: 1500, udpGraceMs: 100 });
      expect(r).toEqual({ local: '127.0.0.2', transport: 'ws', up: true });
    } finally {
      await w.s.close();
    }
  });
});

describe('a path given as an interface', () => {
  const unavailable = deviceBindingUnavailable() ?? (spawnSync('ss', ['-V'], { stdio: 'ignore' }).status === 0 ? null : 'no `ss` (iproute2) to see the sockets');
  if (unavailable) console.log(`path-as-interface tests skipped: ${unavailable}`);

  /** The local end of this process's UDP sockets connected to 127.0.0.1:`port`, as ss shows them ("127.0.0.1%lo:40000" when bound to lo). */
  const socketsTo = (port: number): string[] =>
    execFileSync('ss', ['-Huanp'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes(`pid=${process.pid},`))
      .map((l) => l.trim().split(/\s+/))
      .filter((cols) => cols[4] === `127.0.0.1:${port}`)
      .map((cols) => cols[3]!);

  for (const bind of [true, false]) {
    it.skipIf(unavailable !== null)(`--path lo${bind ? '' : ' --no-bind-device'}: its socket is ${bind ? '' : 'not '}bound to the device lo`, async () => {
      const w = await server();
      const lines: Array<Record<string, unknown>> = [];
      const logger = createLogger({ level: 'info', format: 'json', write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) });
      const app = await startClient({ server: `127.0.0.1:${w.udp}`, serverKey: encodeKey(w.sk.publicKey), keypair: w.ck, crypto: w.crypto, paths: ['lo'], socks: '127.0.0.1:0', ...(bind ? {} : { bindDevice: false }) }, { logger });
      try {
        for (let i = 0; i < 250 && !lines.some((l) => l['msg'] === 'path up'); i++) await new Promise((r) => setTimeout(r, 20));
        expect(lines.find((l) => l['msg'] === 'path up')).toMatchObject({ path: '127.0.0.1' });
        expect(socketsTo(w.udp)).toEqual([bind ? expect.stringMatching(/^127\.0\.0\.1%lo:\d+$/) : expect.stringMatching(/^127\.0\.0\.1:\d+$/)]);
        const warned = lines.find((l) => String(l['msg']).startsWith('paths given as interfaces are bound to their address only'));
        if (bind) expect(warned).toBeUndefined();
        else expect(warned).toMatchObject({ interfaces: 'lo', reason: 'bindDevice is off' });
      } finally {
        await app.close();
        await w.s.close();
      }
    });
  }
});
