/**
 * Tunnel throughput on loopback, client and server in separate processes, one connection,
 * bulk one way, each figure beside raw node:dgram 1200-byte datagrams and a plain node:net
 * TCP pipe measured in the same run. Also: server memory per idle connection, and the
 * time from connect() to the first echoed byte. Run: `pnpm bench:tunnel`. Figures only.
 */
import { fork, execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeKey, generateKeypair, loadCrypto } from '@mptun/session';
import { MptcpClient, type TransportKind } from '@mptun/node';
import { startLinkEmulator } from '@mptun/linkem';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const crypto = await loadCrypto();
const serverKeys = generateKeypair(crypto);
const clientKeys = generateKeypair(crypto);
const tls = selfSigned();
const child = fork(fileURLToPath(new URL('./tunnel/server-process.ts', import.meta.url)), [JSON.stringify({ serverKey: encodeKey(serverKeys.privateKey), clientPub: encodeKey(clientKeys.publicKey), tls })], {
  execArgv: ['--conditions=source', '--import', 'tsx', '--expose-gc'],
});
const reply = (cmd: string, extra: object = {}): Promise<any> =>
  new Promise((resolve) => {
    const on = (m: any) => {
      if (m.cmd === cmd) {
        child.off('message', on);
        resolve(m);
      }
    };
    child.on('message', on);
    if (cmd !== 'ready') child.send({ cmd, ...extra });
  });
const ready = await reply('ready');
const rows: string[] = [];
// The idle-memory and first-byte figures come first, on a fresh server process.
const line = (name: string, bps: number, note = ''): void => {
  const s = `| ${name} | ${(bps / 1e9).toFixed(2)} | ${note} |`;
  rows.push(s);
  console.log(s);
};
async function measure(run: (stop: () => boolean) => Promise<void> | void): Promise<number> {
  await reply('reset', { mode: 'sink' });
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  await run(() => performance.now() >= end);
  const { received } = await reply('count');
  return (received * 8) / ((performance.now() - t0) / 1000);
}

// Memory per idle connection on the server.
{
  const client = new MptcpClient({ transport: 'udp', server: { host: '127.0.0.1', port: ready.ports.udp }, keypair: clientKeys, serverPublicKey: serverKeys.publicKey, crypto, localAddresses: ['127.0.0.2'] });
  await reply('reset', { mode: 'sink' });
  const before = await reply('memory');
  const N = 1000;
  const socks = [];
  for (let i = 0; i < N; i++) socks.push(client.connect({ data: Buffer.from('x') }));
  await Promise.all(socks.map((s) => new Promise((r) => (s.isBound && s.connection.state === 'established' ? r(null) : s.once('connect', r)))));
  await new Promise((r) => setTimeout(r, 500));
  const after = await reply('memory');
  console.log(`\nServer memory per idle connection (${after.connections} open): ${((after.heap - before.heap) / N / 1024).toFixed(1)} KiB (JS heap + external), RSS +${((after.rss - before.rss) / N / 1024).toFixed(1)} KiB`);
  await client.close();
}

// Time from connect() to the first echoed byte, through a path with a 20 ms RTT (link emulator).
{
  await reply('reset', { mode: 'echo' });
  const em = await startLinkEmulator({ paths: [{ name: 'rtt20', protocol: 'udp', listen: '127.0.0.2:0', target: `127.0.0.1:${ready.ports.udp}`, delay: '10ms' }], control: false });
  const relay = em.paths[0]!;
  const client = new MptcpClient({ transport: 'udp', server: { host: relay.listen.host, port: relay.listen.port }, keypair: clientKeys, serverPublicKey: serverKeys.publicKey, crypto, localAddresses: ['127.0.0.3'] });
  await client.start(); // the path session's own handshake is not part of a connection's cost
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const s = client.connect({ data: Buffer.from('ping') });
    await new Promise((r) => s.once('data', r));
    samples.push(performance.now() - t0);
    s.destroy();
  }
  samples.sort((a, b) => a - b);
  const med = samples[2]!;
  console.log(`Time from connect() to the first echoed byte over a 20 ms RTT path: median ${med.toFixed(1)} ms = ${(med / 20).toFixed(2)} RTT (the request rides the SYN)`);
  await client.close();
  await em.close();
}
console.log(`\nLoopback, client and server in separate processes, ${SECONDS} s each, bulk client → server, crypto ${crypto.name}`);
console.log('| what | Gbit/s | note |\n|---|---|---|');
// (a) raw dgram: as fast as the receiver keeps up, bounded outstanding by pacing on the event loop.
const raw = await measure(async (stop) => {
  const s = dgram.createSocket('udp4');
  s.connect(ready.udpPort, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  const buf = Buffer.alloc(1200);
  while (!stop()) {
    for (let i = 0; i < 64; i++) s.send(buf);
    await new Promise((r) => setImmediate(r));
  }
  s.close();
});
line('raw node:dgram, 1200-byte datagrams', raw, 'sent unpaced; what arrived');
// (b) net pipe.
const pipe = await measure(async (stop) => {
  const c = net.connect(ready.tcpPort, '127.0.0.1');
  await new Promise((r) => c.once('connect', r));
  const buf = Buffer.alloc(64 * 1024);
  while (!stop()) if (!c.write(buf)) await new Promise((r) => c.once('drain', r));
  c.destroy();
});
line('node:net TCP pipe', pipe);

async function tunnel(kind: TransportKind, locals: string[], note: string): Promise<void> {
  const client = new MptcpClient({
    transport: kind,
    server: { host: '127.0.0.1', port: ready.ports[kind] },
    keypair: clientKeys,
    serverPublicKey: serverKeys.publicKey,
    crypto,
    localAddresses: locals,
    ...(kind === 'wss' ? { tlsInsecure: true } : {}),
  });
  const bps = await measure(async (stop) => {
    const sock = client.connect();
    sock.on('error', () => {});
    await new Promise((r) => sock.once('connect', r));
    await new Promise((r) => setTimeout(r, 50)); // let the other paths join
    const buf = Buffer.alloc(64 * 1024);
    while (!stop()) if (!sock.write(buf)) await new Promise((r) => sock.once('drain', r));
    sock.destroy();
  });
  await client.close();
  line(`mptun ${kind}, ${locals.length} path${locals.length > 1 ? 's' : ''}`, bps, `${note}${(100 * bps / raw).toFixed(0)}% of raw dgram`);
}
await tunnel('udp', ['127.0.0.2'], 'sealed; ');
await tunnel('udp', ['127.0.0.2', '127.0.0.3'], 'sealed; ');
await tunnel('udp-plain', ['127.0.0.2'], 'tcp-in-udp; ');
await tunnel('ws', ['127.0.0.2'], '');
await tunnel('ws', ['127.0.0.2', '127.0.0.3'], '');
await tunnel('wss', ['127.0.0.2'], '');

child.send({ cmd: 'close' });

function selfSigned(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mptun-bench-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=bench', '-keyout', join(dir, 'k'), '-out', join(dir, 'c')], { stdio: 'pipe' });
    return { cert: readFileSync(join(dir, 'c'), 'utf8'), key: readFileSync(join(dir, 'k'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
