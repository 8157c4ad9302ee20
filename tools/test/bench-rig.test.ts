import { createHash } from 'node:crypto';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSocks, connectTcp, fillPattern, patternMismatch, Sink, SinkCommand, startRig, type Rig } from '../bench/rig/index.js';

/** Everything a socket sends until it closes. */
function readAll(s: net.Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  s.on('data', (d: Buffer) => parts.push(d));
  return new Promise((resolve, reject) => {
    s.once('close', () => resolve(Buffer.concat(parts)));
    s.once('error', reject);
  });
}

function downloadRequest(n: number): Buffer {
  const b = Buffer.alloc(9);
  b[0] = SinkCommand.download;
  b.writeBigUInt64BE(BigInt(n), 1);
  return b;
}

async function exchange(s: net.Socket, request: Buffer, body?: Buffer): Promise<Buffer> {
  const all = readAll(s);
  s.write(request);
  if (body) s.write(body);
  s.end();
  return all;
}

describe('bench sink', () => {
  let sink: Sink;
  beforeAll(async () => {
    sink = await Sink.start();
  });
  afterAll(() => sink.close());

  it('sends exactly N pattern bytes for D, across the precomputed period', async () => {
    const n = 251 * 256 * 2 + 12345;
    const got = await exchange(await connectTcp(sink.address), downloadRequest(n));
    expect(got.length).toBe(n);
    expect(patternMismatch(got, 0)).toBe(-1);
    expect(patternMismatch(got.subarray(1000), 0)).not.toBe(-1); // an offset slip shows
  });

  it('answers an upload with its count and SHA-256', async () => {
    const body = fillPattern(Buffer.alloc(300_000), 7) as Buffer;
    const reply = await exchange(await connectTcp(sink.address), Buffer.from([SinkCommand.upload]), body);
    expect(Number(reply.readBigUInt64BE(0))).toBe(body.length);
    expect(reply.subarray(8).toString('hex')).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('echoes E and drops a connection with an unknown command or an absurd length', async () => {
    expect((await exchange(await connectTcp(sink.address), Buffer.from('Ehello'))).toString()).toBe('hello');
    expect((await exchange(await connectTcp(sink.address), Buffer.from('?'))).length).toBe(0);
    const huge = Buffer.alloc(9, 0xff);
    huge[0] = SinkCommand.download;
    expect((await exchange(await connectTcp(sink.address), huge)).length).toBe(0);
  });
});

describe('bench rig (server, emulator and client in their own processes)', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({ paths: [{ name: 'a', local: '127.0.0.2', link: { delay: '1ms' } }, { name: 'b', local: '127.0.0.3', link: { delay: '2ms' } }], tcpReferences: true, seed: 7 });
    console.log(`bench rig seed ${rig.seed}`);
  }, 40_000);

  it('carries a download through the port forward and an upload through SOCKS5, byte-exact', async () => {
    const n = 3 * 1024 * 1024;
    const down = await exchange(await connectTcp(rig.forward), downloadRequest(n));
    expect(down.length).toBe(n);
    expect(patternMismatch(down, 0)).toBe(-1);
    const body = fillPattern(Buffer.alloc(1024 * 1024), 3) as Buffer;
    const reply = await exchange(await connectSocks(rig.socks, rig.sink.address), Buffer.from([SinkCommand.upload]), body);
    expect(reply.subarray(8).toString('hex')).toBe(createHash('sha256').update(body).digest('hex'));
    const server = await rig.serverSample();
    expect(server.stats.total).toBe(2);
    const paths = await rig.emulator.stats();
    expect(paths.find((p) => p.name === 'a')!.down.bytesDelivered).toBeGreaterThan(0);
  }, 30_000);

  it('offers a plain TCP reference over the same link, and stops every process on close', async () => {
    const got = await exchange(await connectTcp(rig.reference('a')), downloadRequest(100_000));
    expect(patternMismatch(got, 0)).toBe(-1);
    expect(got.length).toBe(100_000);
    expect(() => rig.reference('c')).toThrow(/no emulated path "c-tcp"/);
    const pids = Object.values(rig.pids);
    await rig.close();
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  }, 30_000);

  afterAll(() => rig?.close());
});
