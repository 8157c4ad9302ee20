/**
 * One replay record per server key (issue 14 item 6): an initiation one listener accepted
 * is refused by every other listener of the same server (UDP and WebSocket), and by the
 * server after a restart, through the state file next to its key.
 */
import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { HandshakeInitiator, MessageType, encodeKey, generateKeypair, loadCrypto, messageType } from '@mptun/session';
import { MptcpServer } from '../src/index.js';

const crypto = await loadCrypto();
const serverKeys = generateKeypair(crypto);
const clientKeys = generateKeypair(crypto);
const initiator = new HandshakeInitiator(crypto, { staticKeypair: clientKeys, serverPublicKey: serverKeys.publicKey });

const closers: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function startServer(stateFile: string): Promise<{ udpA: number; udpB: number; ws: number }> {
  const server = new MptcpServer({
    listen: [
      { transport: 'udp', host: '127.0.0.1', port: 0 },
      { transport: 'udp', host: '127.0.0.1', port: 0 },
      { transport: 'ws', host: '127.0.0.1', port: 0, path: '/mptun' },
    ],
    keypair: serverKeys,
    authorizedKeys: [encodeKey(clientKeys.publicKey)],
    crypto,
    replayStateFile: stateFile,
  });
  const bound = await server.listen();
  closers.push(() => server.close());
  return { udpA: bound[0]!.port, udpB: bound[1]!.port, ws: bound[2]!.port };
}

/** Sends one initiation to a UDP listener; true when a handshake response comes back. */
async function answeredOverUdp(port: number, initiation: Uint8Array): Promise<boolean> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.2', r));
  try {
    const answered = new Promise<boolean>((resolve) => {
      socket.on('message', (msg) => messageType(msg) === MessageType.Response && resolve(true));
      setTimeout(() => resolve(false), 400);
    });
    socket.send(initiation, port, '127.0.0.1');
    return await answered;
  } finally {
    await new Promise<void>((r) => socket.close(() => r()));
  }
}

/** Sends one initiation over a WebSocket; the close code when the server refuses, 0 when it answers. */
async function wsVerdict(port: number, initiation: Uint8Array): Promise<number> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/mptun`, { perMessageDeflate: false, localAddress: '127.0.0.2' });
  ws.on('error', () => {});
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('close', reject);
  });
  const verdict = new Promise<number>((resolve) => {
    ws.once('message', (data: Buffer) => resolve(messageType(data) === MessageType.Response ? 0 : -1));
    ws.once('close', (code: number) => resolve(code));
  });
  ws.send(initiation);
  const v = await verdict;
  ws.terminate();
  return v;
}

describe('replay record per server key', () => {
  it('a captured initiation is refused by every other listener and after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mptun-replay-'));
    closers.push(() => rmSync(dir, { recursive: true, force: true }));
    const stateFile = join(dir, 'server.key.replay');

    let ports = await startServer(stateFile);
    const captured = initiator.initiate(Date.now(), 11).message;
    expect(await answeredOverUdp(ports.udpA, captured)).toBe(true);
    // The same bytes at the other UDP listener and at the WebSocket listener: refused.
    expect(await answeredOverUdp(ports.udpB, captured)).toBe(false);
    expect(await wsVerdict(ports.ws, captured)).toBe(4003);
    // The honest client's next initiation is newer: accepted anywhere.
    expect(await answeredOverUdp(ports.udpB, initiator.initiate(Date.now(), 12).message)).toBe(true);
    expect(statSync(stateFile).mode & 0o777).toBe(0o600);

    // Restart: a new server on the same state file still refuses the captured initiation.
    for (const c of closers.splice(1).reverse()) await c();
    ports = await startServer(stateFile);
    expect(await answeredOverUdp(ports.udpA, captured)).toBe(false);
    expect(await wsVerdict(ports.ws, captured)).toBe(4003);
    expect(await answeredOverUdp(ports.udpA, initiator.initiate(Date.now(), 13).message)).toBe(true);
  });
});
