/**
 * `--path IF1 --path IF2` on a machine routed by destination only (no `ip rule`), under the
 * real apps, in two network namespaces the test makes (root only; skipped with the reason
 * elsewhere):
 *
 *   client ns  c1 10.1.1.2 ══ veth, 40 Mbit/s ══ s1 10.1.1.1   server ns, mptun-server on
 *              c2 10.1.2.2 ══ veth, 20 Mbit/s ══ s2 10.1.2.1   10.9.9.9 (on lo)
 *   the client's only route off its subnets: default via 10.1.1.1 dev c1
 *
 * An upload through `-L` goes to a sink in the server namespace. With the sockets bound to
 * their device (SO_BINDTODEVICE), c2 carries its share; with --no-bind-device (the previous
 * behaviour) every path follows the default route out of c1. Both runs print the split read
 * from the client's device counters; the bound run asserts it. A second case does the same
 * over wss (the TCP socket bound before connect(), TLS over the adopted socket), and a third
 * with `--path auto` (each interface found bound to its device). The kernel's MPTCP on the same
 * namespaces (a subflow endpoint on c2, `dev c2`) is printed beside them when it is there.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { scriptPath } from '../../../tools/bench/suite/kernel/exec.js';
import { TwoLinkTopology } from '../../../tools/bench/suite/kernel/two-links.js';
import { makeSelfSignedCertificate } from '../../../packages/transport-ws/test/self-signed.js';
import { startApp, stopAll, writeKeyFiles, type KeyFiles } from './cli-support.js';
import { inNamespace as runInNamespace, netnsSkipReason, sinkProgram, uploadProgram } from './netns-support.js';

const skipReason = netnsSkipReason();
if (skipReason) console.log(`bind-device-netns.test.ts skipped: ${skipReason}`);

const topo = new TwoLinkTopology('mptun-bd-');
const NS = topo.ns;
const SERVER = topo.serverAddress;
const LINKS = topo.links;
const UPLOAD_BYTES = 24_000_000;
const FORWARD_PORT = 9000;
const SINK_PORT = 5001;

const children: ChildProcess[] = [];

afterEach(async () => {
  await stopAll();
  for (const c of children.splice(0)) c.kill('SIGKILL');
  await topo.remove(true);
});

const ip = (ns: string, ...args: string[]): Promise<string> => topo.ip(ns, ...args);
const makeTopology = (): Promise<void> => topo.create();
const txBytes = (): Promise<number[]> => topo.clientTxBytes();

function splitLine(label: string, before: number[], after: number[], seconds: number, payload: number): { shareB: number } {
  const d = after.map((a, i) => a - before[i]!);
  const total = d[0]! + d[1]!;
  const shareB = total > 0 ? d[1]! / total : 0;
  console.log(`${label}: upload ${((payload * 8) / seconds / 1e6).toFixed(1)} Mbit/s; c1 sent ${(d[0]! / 1e6).toFixed(1)} MB, c2 sent ${(d[1]! / 1e6).toFixed(1)} MB: c2's share ${(shareB * 100).toFixed(1)}% (links 40 + 20 Mbit/s)`);
  return { shareB };
}

const inNamespace = (ns: string, argv: string[]): ReturnType<typeof runInNamespace> => runInNamespace(children, ns, argv);
const SINK = sinkProgram(SERVER, SINK_PORT);
const UPLOAD = uploadProgram(FORWARD_PORT);

async function upload(): Promise<{ seconds: number }> {
  const { done } = inNamespace(NS.client, [process.execPath, '-e', UPLOAD, String(UPLOAD_BYTES)]);
  const r = JSON.parse(await done) as { sent: number; hash: string; reply: string; seconds: number };
  expect(r.reply).toBe(`${UPLOAD_BYTES} ${r.hash}`); // hash-exact at the sink
  return { seconds: r.seconds };
}

const BY_NAME = ['--path', 'c1', '--path', 'c2'];

/** One upload through mptun-client with `paths` (default `--path c1 --path c2`), plus `extra` flags. */
async function mptunUpload(keys: KeyFiles, extra: string[], paths: string[] = BY_NAME): Promise<{ seconds: number; before: number[]; after: number[] }> {
  const client = startApp('client', ['run', '--server', `${SERVER}:4433`, '--server-key', keys.serverPublic, '--key', keys.clientKey, ...paths, '--no-socks', '-L', `127.0.0.1:${FORWARD_PORT}:${SERVER}:${SINK_PORT}`, '--log-format', 'json', ...extra], { prefix: ['ip', 'netns', 'exec', NS.client] });
  try {
    await client.waitForLog((l) => l['msg'] === 'forward listening');
    for (const l of LINKS) await client.waitForLog((x) => x['msg'] === 'path up' && x['path'] === `${l.net}.2`, 15_000);
    const before = await txBytes();
    const { seconds } = await upload();
    return { seconds, before, after: await txBytes() };
  } finally {
    await client.stop(5000);
  }
}

/** The sink and mptun-server (with `listen` flags) in the server namespace, both ready. */
async function startServerSide(keys: KeyFiles, listen: string[]): Promise<void> {
  const sink = inNamespace(NS.server, [process.execPath, '-e', SINK]);
  await new Promise<void>((resolve) => sink.child.stdout!.once('data', () => resolve()));
  const server = startApp('server', ['run', ...listen, '--key', keys.serverKey, '--authorized-keys', keys.authorizedKeys, '--allow', SERVER, '--log-format', 'json'], { prefix: ['ip', 'netns', 'exec', NS.server] });
  await server.waitForLog((l) => l['msg'] === 'server started');
}

/** The kernel's MPTCP on the same links: a subflow endpoint on c2 bound to it, a timed upload. */
async function kernelReference(): Promise<string> {
  const mptcp = readFileSync('/proc/sys/net/mptcp/enabled', 'utf8').trim() === '1';
  if (!mptcp || spawnSync('python3', ['-V'], { stdio: 'ignore' }).status !== 0) return 'kernel MPTCP reference skipped: no MPTCP in this kernel or no python3';
  for (const n of [NS.client, NS.server]) await ip(n, 'mptcp', 'limits', 'set', 'subflow', '2', 'add_addr_accepted', '2');
  await ip(NS.client, 'mptcp', 'endpoint', 'add', `${LINKS[1].net}.2`, 'dev', LINKS[1].client, 'subflow');
  const flow = scriptPath('flow.py');
  const server = inNamespace(NS.server, ['python3', '-u', flow, 'serve', '--proto', 'mptcp', '--bind', SERVER, '--port', '5002']);
  await new Promise<void>((resolve) => server.child.stdout!.once('data', () => resolve())); // "listening"
  const before = await txBytes();
  await inNamespace(NS.client, ['python3', '-u', flow, 'client', '--proto', 'mptcp', '--connect', `${SERVER}:5002`, '--mode', 'send', '--seconds', '4']).done;
  const lines = (await server.done).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event?: string; bytes?: number; t?: number; mptcp?: boolean });
  const end = lines.find((l) => l.event === 'end');
  const start = lines.find((l) => l.event === 'start');
  if (!end?.bytes || !end.t) return `kernel MPTCP reference: no result (${JSON.stringify(lines.slice(-2))})`;
  const { shareB } = splitLine(`kernel MPTCP (mptcp=${String(start?.mptcp)})`, before, await txBytes(), end.t, end.bytes);
  return `kernel MPTCP: c2's share ${(shareB * 100).toFixed(1)}%`;
}

describe.skipIf(skipReason !== null)('paths given as interfaces leave through them (network namespaces, default route only)', () => {
  it('--path c1 --path c2: the upload carries bytes on both interfaces, hash-exact; without device binding c2 carries none', async () => {
    await makeTopology();
    const keys = await writeKeyFiles();
    try {
      await startServerSide(keys, ['--listen', `udp://${SERVER}:4433`]);

      const unbound = await mptunUpload(keys, ['--no-bind-device']);
      const before = splitLine('mptun --no-bind-device (before)', unbound.before, unbound.after, unbound.seconds, UPLOAD_BYTES);
      // The topology routes by destination only: unbound, both paths leave by c1.
      expect(before.shareB, "c2's share without device binding").toBeLessThan(0.02);

      const bound = await mptunUpload(keys, []);
      const { shareB } = splitLine('mptun, paths bound to c1 and c2', bound.before, bound.after, bound.seconds, UPLOAD_BYTES);
      expect(shareB, "c2's share of the client's sent bytes").toBeGreaterThan(0.1);

      console.log(await kernelReference());
    } finally {
      keys.cleanup();
    }
  }, 120_000);

  it('--path auto: each interface found is bound to its device, and the upload uses both', async () => {
    await makeTopology();
    const keys = await writeKeyFiles();
    try {
      await startServerSide(keys, ['--listen', `udp://${SERVER}:4433`]);
      const bound = await mptunUpload(keys, [], ['--path', 'auto']);
      const { shareB } = splitLine('mptun --path auto, paths bound to the interfaces found', bound.before, bound.after, bound.seconds, UPLOAD_BYTES);
      expect(shareB, "c2's share of the client's sent bytes").toBeGreaterThan(0.1);
    } finally {
      keys.cleanup();
    }
  }, 120_000);

  it('--transport wss: the TCP connections are bound before they connect, and the upload uses both interfaces', async () => {
    await makeTopology();
    const keys = await writeKeyFiles();
    try {
      const cert = makeSelfSignedCertificate();
      writeFileSync(join(keys.dir, 'cert.pem'), cert.cert);
      writeFileSync(join(keys.dir, 'key.pem'), cert.key, { mode: 0o600 });
      const url = `wss://${SERVER}:8443/mptun`;
      await startServerSide(keys, ['--listen', url, '--tls-cert', join(keys.dir, 'cert.pem'), '--tls-key', join(keys.dir, 'key.pem')]);
      const bound = await mptunUpload(keys, ['--transport', 'wss', '--ws-url', url, '--tls-insecure']);
      const { shareB } = splitLine('mptun over wss, paths bound to c1 and c2', bound.before, bound.after, bound.seconds, UPLOAD_BYTES);
      expect(shareB, "c2's share of the client's sent bytes").toBeGreaterThan(0.1);
    } finally {
      keys.cleanup();
    }
  }, 120_000);
});
