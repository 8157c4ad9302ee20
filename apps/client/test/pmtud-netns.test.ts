/**
 * Path MTU discovery under the real apps on a real 1500-byte path (issue 16, RFC 8899), in
 * two network namespaces the test makes (root only; skipped with the reason elsewhere):
 *
 *   client ns  c1 10.1.1.2 ══ veth, MTU 1500, 100 Mbit/s ══ s1 10.1.1.1   server ns, mptun-server on 10.9.9.9
 *
 * The search ends at 1472-byte datagrams (IPv4: 1500 less 28), so the client's status shows
 * MSS 1380 (1472 less the session's 32 and a 60-byte TCP header). Then, while an upload
 * runs, both ends of the veth drop to MTU 1300: the confirmed size stops getting through (a
 * black hole), the path falls back to the floor and searches again, ending at or below
 * 1272-byte datagrams, and the upload completes hash-exact.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { TwoLinkTopology } from '../../../tools/bench/suite/kernel/two-links.js';
import type { PathStatus } from '../src/status/types.js';
import { startApp, stopAll, writeKeyFiles } from './cli-support.js';
import { inNamespace as runInNamespace, sinkProgram, uploadProgram } from './netns-support.js';

const isRoot = process.getuid?.() === 0;
const hasTools = ['ip', 'tc'].every((c) => spawnSync(c, ['-V'], { stdio: 'ignore' }).status === 0);
const skipReason = process.platform !== 'linux' ? `not Linux (${process.platform})` : !isRoot ? 'not root: cannot make network namespaces' : !hasTools ? 'no `ip` or `tc` (iproute2)' : null;
if (skipReason) console.log(`pmtud-netns.test.ts skipped: ${skipReason}`);

const topo = new TwoLinkTopology('mptun-pm-', [
  { client: 'c1', server: 's1', net: '10.1.1', mbit: 100 },
  { client: 'c2', server: 's2', net: '10.1.2', mbit: 100 },
]);
const NS = topo.ns;
const SERVER = topo.serverAddress;
const PATH = '10.1.1.2';
const STATUS = '127.0.0.1:18480';
const FORWARD_PORT = 9000;
const SINK_PORT = 5001;
const UPLOAD_BYTES = 60_000_000;
/** Payload of a segment in a sealed datagram of `bytes`: less the session's 32 and a TCP header at its largest (60). */
const mssOf = (bytes: number): number => bytes - 32 - 60;

const children: ChildProcess[] = [];

afterEach(async () => {
  await stopAll();
  for (const c of children.splice(0)) c.kill('SIGKILL');
  await topo.remove(true);
});

const inNamespace = (ns: string, argv: string[]): ReturnType<typeof runInNamespace> => runInNamespace(children, ns, argv);
const SINK = sinkProgram(SERVER, SINK_PORT);
const UPLOAD = uploadProgram(FORWARD_PORT);
/** The client's status row of the path, read inside the client namespace. */
const STATUS_READ = `fetch('http://${STATUS}/api/status').then((r)=>r.json()).then((s)=>console.log(JSON.stringify(s.paths.find((p)=>p.localAddress==='${PATH}')??null)))`;

async function pathRow(): Promise<PathStatus | null> {
  return JSON.parse(await inNamespace(NS.client, [process.execPath, '-e', STATUS_READ]).done) as PathStatus | null;
}

/** Samples the path's MSS every 200 ms until `cond` holds; returns every value seen. */
async function watchMss(cond: (mss: number | null) => boolean, timeoutMs: number, seen: Array<number | null>): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const mss = (await pathRow())?.mssBytes ?? null;
    if (seen[seen.length - 1] !== mss) seen.push(mss);
    if (cond(mss)) return;
    if (Date.now() > end) throw new Error(`path MSS never met the condition; seen ${JSON.stringify(seen)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.skipIf(skipReason !== null)('path MTU discovery on a 1500-byte veth path (network namespaces)', () => {
  it('finds 1472-byte datagrams; with the MTU lowered to 1300 mid-upload it falls back, searches again, and the upload completes', async () => {
    await topo.create();
    const keys = await writeKeyFiles();
    try {
      const sink = inNamespace(NS.server, [process.execPath, '-e', SINK]);
      await new Promise<void>((resolve) => sink.child.stdout!.once('data', () => resolve()));
      const server = startApp('server', ['run', '--listen', `udp://${SERVER}:4433`, '--key', keys.serverKey, '--authorized-keys', keys.authorizedKeys, '--allow', SERVER, '--log-format', 'json'], { prefix: ['ip', 'netns', 'exec', NS.server] });
      await server.waitForLog((l) => l['msg'] === 'server started');
      const client = startApp('client', ['run', '--server', `${SERVER}:4433`, '--server-key', keys.serverPublic, '--key', keys.clientKey, '--path', 'c1', '--no-socks', '--status', STATUS, '-L', `127.0.0.1:${FORWARD_PORT}:${SERVER}:${SINK_PORT}`, '--log-format', 'json'], { prefix: ['ip', 'netns', 'exec', NS.client] });
      await client.waitForLog((l) => l['msg'] === 'forward listening');
      await client.waitForLog((l) => l['msg'] === 'path up' && l['path'] === PATH, 15_000);

      const upload = inNamespace(NS.client, [process.execPath, '-e', UPLOAD, String(UPLOAD_BYTES)]);
      const seen: Array<number | null> = [];
      await watchMss((m) => m === mssOf(1472), 15_000, seen);
      console.log('path MSS before the MTU drop', seen);

      for (const [ns, dev] of [[NS.client, 'c1'], [NS.server, 's1']] as const) await topo.ip(ns, 'link', 'set', 'dev', dev, 'mtu', '1300');
      const after: Array<number | null> = [];
      await watchMss((m) => m !== null && m <= mssOf(1300 - 28) && m > mssOf(1200), 30_000, after);
      console.log('path MSS after the MTU drop to 1300', after);

      const r = JSON.parse(await upload.done) as { sent: number; hash: string; reply: string };
      expect(r.reply).toBe(`${UPLOAD_BYTES} ${r.hash}`); // hash-exact at the sink
    } finally {
      keys.cleanup();
    }
  }, 120_000);
});
