/** The relay end to end on loopback: an MptcpClient from the test, the server, TCP targets. */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { TunnelStatus } from '@mptun/tunnel-common';
import type { MptcpSocket } from '@mptun/node';
import { closedPort, startEcho, startHarness, tunnel, type Harness } from './support.js';

function readAll(s: MptcpSocket, first: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts = [first];
    s.on('data', (d: Buffer) => parts.push(d));
    s.once('end', () => resolve(Buffer.concat(parts)));
    s.once('error', reject);
    s.resume();
  });
}

describe('mptun-server relay', () => {
  let h: Harness | null = null;
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await h?.close();
    h = null;
    for (const c of cleanups.splice(0)) await c();
  });

  it('relays to a local TCP echo server, both ways, and counts the bytes', async () => {
    const echo = await startEcho();
    cleanups.push(echo.close);
    h = await startHarness({ allow: [`127.0.0.1:${echo.port}`] });
    const r = await tunnel(h.client, '127.0.0.1', echo.port);
    expect(r.status).toBe(TunnelStatus.OK);
    const payload = Buffer.alloc(300_000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
    const got = readAll(r.socket, r.rest);
    r.socket.end(payload);
    const back = await got;
    expect(createHash('sha256').update(back).digest('hex')).toBe(createHash('sha256').update(payload).digest('hex'));
    const st = h.server.stats();
    expect(st.bytesUp).toBe(payload.length);
    expect(st.bytesDown).toBe(payload.length);
    expect(st.total).toBe(1);
  });

  it('a denied target gets NOT_ALLOWED and nothing is connected', async () => {
    const echo = await startEcho();
    cleanups.push(echo.close);
    h = await startHarness({ allow: ['10.0.0.0/8:80'] });
    const r = await tunnel(h.client, '127.0.0.1', echo.port);
    expect(r.status).toBe(TunnelStatus.NOT_ALLOWED);
    expect(echo.accepted()).toBe(0);
    expect(h.server.stats().refused).toEqual({ not_allowed: 1 });
  });

  it('maps refused and unreachable targets', async () => {
    const port = await closedPort();
    h = await startHarness({ allow: ['127.0.0.1', '*.invalid'] }, {
      lookup: async (host) => {
        throw Object.assign(new Error(`no such host ${host}`), { code: 'ENOTFOUND' });
      },
    });
    expect((await tunnel(h.client, '127.0.0.1', port)).status).toBe(TunnelStatus.CONNECTION_REFUSED);
    const u = await tunnel(h.client, 'nowhere.invalid', 80);
    expect(u.status).toBe(TunnelStatus.HOST_UNREACHABLE);
    expect(u.reason).toContain('ENOTFOUND');
    expect(h.server.stats().refused).toEqual({ connection_refused: 1, host_unreachable: 1 });
  });

  it('a name no rule names is refused alike whether it resolves or not', async () => {
    const echo = await startEcho();
    cleanups.push(echo.close);
    h = await startHarness({ allow: ['0.0.0.0/0'] }, {
      lookup: async (host) => {
        if (host === 'loopback.internal') return { address: '127.0.0.1', family: 4 };
        throw Object.assign(new Error(`no such host ${host}`), { code: 'ENOTFOUND' });
      },
    });
    const missing = await tunnel(h.client, 'missing.internal', echo.port);
    const internal = await tunnel(h.client, 'loopback.internal', echo.port);
    expect(missing.status).toBe(TunnelStatus.NOT_ALLOWED);
    expect({ status: internal.status, reason: internal.reason }).toEqual({ status: missing.status, reason: missing.reason });
    expect(missing.reason).not.toContain('ENOTFOUND');
    expect(echo.accepted()).toBe(0);
  });

  it('enforces the per-client and total connection limits with BUSY', async () => {
    const echo = await startEcho();
    cleanups.push(echo.close);
    h = await startHarness({ allow: ['127.0.0.1'], limits: { maxConnections: 5, maxConnectionsPerClient: 2, idleTimeoutMs: 60_000, connectTimeoutMs: 5000, headerTimeoutMs: 5000, maxBufferedBytes: 65536, connectionBufferBytes: 1024 * 1024, bufferBudgetBytes: 256 * 1024 * 1024, clientBufferBudgetBytes: 64 * 1024 * 1024 } });
    const a = await tunnel(h.client, '127.0.0.1', echo.port);
    const b = await tunnel(h.client, '127.0.0.1', echo.port);
    const c = await tunnel(h.client, '127.0.0.1', echo.port);
    expect([a.status, b.status, c.status]).toEqual([TunnelStatus.OK, TunnelStatus.OK, TunnelStatus.BUSY]);
    expect(c.reason).toContain('per-client');
    expect(h.server.stats().open).toBe(2);
    // One ends: room again.
    const ended = new Promise<void>((r) => a.socket.once('close', () => r()));
    a.socket.resume();
    a.socket.end();
    await ended;
    await new Promise((r) => setTimeout(r, 100));
    expect((await tunnel(h.client, '127.0.0.1', echo.port)).status).toBe(TunnelStatus.OK);
    b.socket.destroy();
  });

  it('closes an idle relay after the idle timeout', async () => {
    const echo = await startEcho();
    cleanups.push(echo.close);
    h = await startHarness({ allow: ['127.0.0.1'], limits: { maxConnections: 5, maxConnectionsPerClient: 5, idleTimeoutMs: 300, connectTimeoutMs: 5000, headerTimeoutMs: 5000, maxBufferedBytes: 65536, connectionBufferBytes: 1024 * 1024, bufferBudgetBytes: 256 * 1024 * 1024, clientBufferBudgetBytes: 64 * 1024 * 1024 } });
    const r = await tunnel(h.client, '127.0.0.1', echo.port);
    expect(r.status).toBe(TunnelStatus.OK);
    r.socket.on('error', () => {});
    r.socket.resume();
    await new Promise<void>((res) => r.socket.once('close', () => res()));
    expect(h.server.stats().open).toBe(0);
  });

  it('a malformed request gets BAD_REQUEST and counts a header failure', async () => {
    h = await startHarness();
    const socket = h.client.connect();
    socket.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    const reply = await everythingUntilEnd(socket);
    expect(reply[1]).toBe(TunnelStatus.BAD_REQUEST);
    expect(h.server.stats().headerFailures).toEqual({ malformed: 1 });
  });

  it('a request that never comes counts as a timeout failure', async () => {
    h = await startHarness({ limits: { maxConnections: 5, maxConnectionsPerClient: 5, idleTimeoutMs: 60_000, connectTimeoutMs: 5000, headerTimeoutMs: 300, maxBufferedBytes: 65536, connectionBufferBytes: 1024 * 1024, bufferBudgetBytes: 256 * 1024 * 1024, clientBufferBudgetBytes: 64 * 1024 * 1024 } });
    const socket = h.client.connect();
    socket.write(Buffer.from([0x4d])); // the first byte of the magic, then nothing
    const reply = await everythingUntilEnd(socket);
    expect(reply[1]).toBe(TunnelStatus.BAD_REQUEST);
    expect(h.server.stats().headerFailures).toEqual({ timeout: 1 });
  });
});

/** All a socket receives until the peer ends it. */
function everythingUntilEnd(socket: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    socket.on('data', (d: Buffer) => parts.push(d));
    socket.once('end', () => resolve(Buffer.concat(parts)));
  });
}
