/**
 * openTunnel's second try: a request the server has not acknowledged after retryAfterMs goes
 * out again on a new connection and the first reply wins; an acknowledged request is only
 * waited for. Fake connections and fake timers: no network, no real time.
 */
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { encodeTunnelReply, encodeTunnelRequest, TunnelStatus } from '@mptun/tunnel-common';
import type { MptcpClient, MptcpSocket } from '@mptun/node';
import { DRAINING_RETRIES, drainingRetryDelay, openTunnel } from '../src/tunnel.js';

/** Enough of an MptcpSocket for openTunnel: a stream, and what the server acknowledged. */
class FakeConnection extends PassThrough {
  bytesAcknowledged = 0;
  /** What connect() was asked to send with the SYN. */
  synData: Uint8Array | undefined;
  reply(status: number, reason = ''): void {
    this.push(Buffer.from(encodeTunnelReply(status, reason)));
  }
}

function fakeClient(): { client: MptcpClient; opened: FakeConnection[]; left: unknown[] } {
  const opened: FakeConnection[] = [];
  const left: unknown[] = [];
  const client = {
    leaveServerOf: (s: unknown) => left.push(s),
    connect: (o?: { data?: Uint8Array }) => {
      const c = new FakeConnection();
      c.synData = o?.data;
      opened.push(c);
      return c as unknown as MptcpSocket;
    },
  } as unknown as MptcpClient;
  return { client, opened, left };
}

const target = { host: 'example.test', port: 443 };
const opts = { replyTimeoutMs: 15_000, retryAfterMs: 2_000 };

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('openTunnel retries an unacknowledged request once', () => {
  it('no acknowledgement after 2 s: a second connection goes out and its reply wins; the first is reset', async () => {
    const { client, opened } = fakeClient();
    const result = openTunnel(client, target, opts);
    await vi.advanceTimersByTimeAsync(1_999);
    expect(opened).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(opened).toHaveLength(2);
    opened[1]!.reply(TunnelStatus.OK);
    const r = await result;
    expect(r.status).toBe(TunnelStatus.OK);
    expect(r.socket).toBe(opened[1]);
    expect(opened[0]!.destroyed).toBe(true);
    expect(opened[1]!.destroyed).toBe(false);
  });

  it('the first connection answers after all: it wins and the retry is reset', async () => {
    const { client, opened } = fakeClient();
    const result = openTunnel(client, target, opts);
    await vi.advanceTimersByTimeAsync(3_000);
    opened[0]!.reply(TunnelStatus.OK);
    const r = await result;
    expect(r.socket).toBe(opened[0]);
    expect(opened[1]!.destroyed).toBe(true);
  });

  it('an acknowledged request is not sent again: the server has it and is dialling the target', async () => {
    const { client, opened } = fakeClient();
    const result = openTunnel(client, target, opts);
    opened[0]!.bytesAcknowledged = 40;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(opened).toHaveLength(1);
    opened[0]!.reply(TunnelStatus.CONNECTION_REFUSED, 'refused');
    const r = await result;
    expect(r.status).toBe(TunnelStatus.CONNECTION_REFUSED);
    expect(r.reason).toBe('refused');
  });

  it('a refusal on either connection settles it: a reply is an answer, not a lost connection', async () => {
    const { client, opened } = fakeClient();
    const result = openTunnel(client, target, opts);
    await vi.advanceTimersByTimeAsync(2_000);
    opened[1]!.reply(TunnelStatus.NOT_ALLOWED, 'policy');
    const r = await result;
    expect(r.status).toBe(TunnelStatus.NOT_ALLOWED);
    expect(opened.every((c) => c.destroyed)).toBe(true);
  });

  it('a connection that fails waits for the other one; when both fail, the last failure is the answer', async () => {
    const { client, opened } = fakeClient();
    const result = openTunnel(client, target, opts);
    await vi.advanceTimersByTimeAsync(2_000);
    opened[0]!.destroy(new Error('every subflow timed out'));
    await vi.advanceTimersByTimeAsync(100);
    let settled = false;
    void result.then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBe(false);
    opened[1]!.destroy(new Error('no path left'));
    const r = await result;
    expect(r.status).toBe(TunnelStatus.GENERAL_FAILURE);
    expect(r.reason).toBe('no path left');
  });

  it('the only connection fails before the retry is due: the failure is reported at once, nothing more is opened', async () => {
    const { client, opened } = fakeClient();
    const result = openTunnel(client, target, opts);
    opened[0]!.destroy(new Error('the handshake did not complete'));
    const r = await result;
    expect(r.reason).toBe('the handshake did not complete');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(opened).toHaveLength(1);
  });

  it('silence on both: TIMEOUT at replyTimeoutMs, both reset', async () => {
    const { client, opened } = fakeClient();
    const result = openTunnel(client, target, opts);
    await vi.advanceTimersByTimeAsync(15_000);
    const r = await result;
    expect(r.status).toBe(TunnelStatus.TIMEOUT);
    expect(opened).toHaveLength(2);
    expect(opened.every((c) => c.destroyed)).toBe(true);
  });

  it("early bytes follow the request on every try, in the SYN's data", async () => {
    const { client, opened } = fakeClient();
    const early = Buffer.from('GET / HTTP/1.1\r\n\r\n');
    const result = openTunnel(client, target, { ...opts, early });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(opened).toHaveLength(2);
    const request = encodeTunnelRequest(target);
    for (const c of opened) expect(Buffer.from(c.synData!).equals(Buffer.concat([request, early]))).toBe(true);
    opened[0]!.reply(TunnelStatus.OK);
    expect((await result).socket).toBe(opened[0]);
  });
});

describe('openTunnel and a draining server (DRAINING)', () => {
  it('the refusal sets its paths aside and a new connection tries again after a jittered wait; its OK wins', async () => {
    const { client, opened, left } = fakeClient();
    const result = openTunnel(client, target, opts);
    opened[0]!.reply(TunnelStatus.DRAINING, 'server draining, retry elsewhere');
    await vi.advanceTimersByTimeAsync(0);
    expect(left).toEqual([opened[0]]); // before it was destroyed
    expect(opened[0]!.destroyed).toBe(true);
    expect(opened).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(drainingRetryDelay(1, () => 1)); // the longest first wait
    expect(opened).toHaveLength(2);
    opened[1]!.reply(TunnelStatus.OK);
    const r = await result;
    expect(r.status).toBe(TunnelStatus.OK);
    expect(r.socket).toBe(opened[1]);
  });

  it('the retries are bounded: after DRAINING_RETRIES more refusals the caller gets DRAINING', async () => {
    const { client, opened } = fakeClient();
    let settled = false;
    const result = openTunnel(client, target, { ...opts, replyTimeoutMs: 60_000 }).finally(() => (settled = true));
    for (let i = 0; i <= DRAINING_RETRIES; i++) {
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(drainingRetryDelay(i, () => 1)); // the longest wait before try i
      expect(opened).toHaveLength(i + 1);
      opened[i]!.reply(TunnelStatus.DRAINING, 'server draining, retry elsewhere');
      await vi.advanceTimersByTimeAsync(0);
    }
    const r = await result;
    expect(r.status).toBe(TunnelStatus.DRAINING);
    expect(opened).toHaveLength(DRAINING_RETRIES + 1);
  });

  it('the wait grows from 25-75 ms and stays under 1.2 s', () => {
    expect(drainingRetryDelay(1, () => 0)).toBe(25);
    expect(drainingRetryDelay(1, () => 1)).toBe(75);
    expect(drainingRetryDelay(3, () => 0.5)).toBe(200);
    expect(drainingRetryDelay(DRAINING_RETRIES, () => 1)).toBe(1_200);
  });
});
