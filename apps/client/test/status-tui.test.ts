import { createServer, type Server } from 'node:http';
import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import { describe, it, expect, afterEach } from 'vitest';
import { startStatusServer, type RunningStatusServer } from '../src/status/server.js';
import { renderStatusTable } from '../src/status/status-table.js';
import { StatusTracker } from '../src/status/tracker.js';
import { addStatusCommand, runStatusView } from '../src/status/tui.js';
import { FakeClient, FakeSocket } from './status-fakes.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

async function liveServer(): Promise<RunningStatusServer> {
  const client = new FakeClient([
    { localAddress: '127.0.0.2', transport: 'udp', backup: false, up: true },
    { localAddress: '127.0.0.3', transport: 'udp', backup: true, up: false },
  ]);
  let now = 1_700_000_000_000;
  const tracker = new StatusTracker(client, { now: () => now, names: { '127.0.0.2': 'wlan0' } });
  const sock = new FakeSocket(42);
  client.accept(sock, 'example.org:443');
  sock.set(1, { localAddress: '127.0.0.2', srttMs: 23.4 });
  tracker.sample(now);
  now += 1000;
  sock.set(1, { bytesSent: 1_250_000, bytesReceived: 3 * 1024 * 1024, segmentsSent: 1000, retransmissions: 20 });
  tracker.sample(now);
  const srv = await startStatusServer(client, { port: 0, tracker });
  cleanups.push(() => srv.close());
  return srv;
}

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  return { stream, text: () => text };
}

describe('mptun-client status (terminal view)', () => {
  it('--once prints one snapshot of a running status server', async () => {
    const srv = await liveServer();
    const out = capture();
    const code = await runStatusView({ url: srv.url, once: true, output: out.stream });
    expect(code).toBe(0);
    const text = out.text();
    console.log(text);
    expect(text).not.toContain('\x1b['); // not a terminal: no ANSI
    const lines = text.split('\n');
    expect(lines[0]).toBe(`mptun-client status (${srv.url}) at 2023-11-14T22:13:21.000Z`);
    const header = lines.find((l) => l.includes('PATH'))!;
    expect(header.trim().split(/\s+/)).toEqual(['PATH', 'TRANSPORT', 'STATE', 'ROLE', 'RTT', 'MSS', 'UP', 'DOWN', 'LOSS', 'SENT', 'RECEIVED', 'RETRANS']);
    const wlan = lines.find((l) => l.includes('wlan0'))!;
    expect(wlan.trim().split(/\s{2,}/)).toEqual(['wlan0 (127.0.0.2)', 'udp', 'up', 'active', '23 ms', '1140', '10.00 Mbit/s', '25.17 Mbit/s', '2.0 %', '1.2 MiB', '3.0 MiB', '20']);
    const other = lines.find((l) => l.includes('127.0.0.3'))!;
    expect(other.trim().split(/\s{2,}/)).toEqual(['127.0.0.3', 'udp', 'down', 'backup', '-', '-', '0 bit/s', '0 bit/s', '0.0 %', '0 B', '0 B', '0']);
    const conn = lines.find((l) => l.includes('example.org'))!;
    expect(conn.trim().split(/\s{2,}/)).toEqual(['example.org:443', '42', '1.2 MiB', '3.0 MiB', '1', '1s']);
    // Columns line up: every path row is as wide as its header's columns allow.
    expect(wlan.indexOf('udp')).toBe(header.indexOf('TRANSPORT'));
  });

  it('runs as the `status` subcommand of a commander program', async () => {
    const srv = await liveServer();
    const out = capture();
    const write = process.stdout.write.bind(process.stdout);
    // The command writes to stdout; catch it for the length of the run.
    process.stdout.write = ((chunk: string | Uint8Array) => out.stream.write(chunk)) as typeof process.stdout.write;
    const prevExit = process.exitCode;
    try {
      const program = new Command('mptun-client').exitOverride();
      addStatusCommand(program, () => undefined);
      await program.parseAsync(['status', '--url', srv.url, '--once'], { from: 'user' });
      expect(process.exitCode ?? 0).toBe(0);
    } finally {
      process.stdout.write = write;
      process.exitCode = prevExit;
    }
    expect(out.text()).toContain('wlan0 (127.0.0.2)');
    expect(out.text()).toContain('Connections (1)');
  });

  it('--once fails with exit code 1 when nothing answers or the answer is not a status', async () => {
    const bogus: Server = createServer((_req, res) => res.end('{"hello": 1}'));
    await new Promise<void>((r) => bogus.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => bogus.close(() => r())));
    const port = (bogus.address() as { port: number }).port;
    const errs: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (errs.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      expect(await runStatusView({ url: `http://127.0.0.1:${port}`, once: true, output: capture().stream })).toBe(1);
      expect(await runStatusView({ url: 'http://127.0.0.1:1', once: true, output: capture().stream })).toBe(1);
    } finally {
      process.stderr.write = write;
    }
    expect(errs[0]).toContain('not an mptun status');
    expect(errs[1]).toContain('cannot reach');
  });

  it('live mode redraws until q is pressed', async () => {
    const srv = await liveServer();
    const out = capture();
    const input = new PassThrough();
    const sigintListeners = process.listenerCount('SIGINT');
    const done = runStatusView({ url: srv.url, output: out.stream, input, refreshMs: 50 });
    // Wait for at least two draws, then quit.
    for (let i = 0; i < 200 && out.text().split('Paths (2)').length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    input.write('q');
    expect(await done).toBe(0);
    expect(out.text().split('Paths (2)').length).toBeGreaterThanOrEqual(3);
    expect(process.listenerCount('SIGINT')).toBe(sigintListeners);
  });

  it('colours the state column on a terminal and neutralises control characters', () => {
    const text = renderStatusTable(
      {
        time: 0,
        paths: [{ name: 'eth0', localAddress: '10.0.0.1', transport: 'udp', state: 'down', up: false, downReason: 'bind failed\x1b[2J', backup: false, rttMs: 5, mssBytes: null, upBps: 0, downBps: 0, lossRate: 0, bytesUp: 0, bytesDown: 0, retransmissions: 0 }],
        connections: [{ id: 1, target: 'evil\x1b[2Jhost:1', bytesUp: 0, bytesDown: 0, subflows: 0, ageMs: 3_725_000 }],
      },
      { color: true },
    );
    expect(text).toContain('\x1b[31mdown');
    expect(text).not.toContain('\x1b[2J');
    expect(text).toContain('evil?[2Jhost:1');
    expect(text).toContain('eth0 is down: bind failed?[2J');
    expect(text).toContain('1h02m');
  });
});
