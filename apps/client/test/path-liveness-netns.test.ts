/**
 * A path whose server goes silent, under the real apps, in two network namespaces the test
 * makes (root only; skipped with the reason elsewhere; topology: tools/bench/suite/kernel/two-links.ts):
 *
 *   client ns  c1 10.1.1.2 ══ veth ══ s1 10.1.1.1   server ns, mptun-server on 10.9.9.9 (lo)
 *              c2 10.1.2.2 ══ veth ══ s2 10.1.2.1
 *
 * The cut is a blackhole, not a link going down (the interface watcher handles that): each
 * namespace drops what arrives over link 2, by an `ip rule … blackhole` ahead of the local
 * table (this kernel has neither netem nor tc classifiers). The client's status is read as a
 * user would, from its JSON endpoint (GET /api/status), by a poller inside the client
 * namespace every 50 ms.
 *
 * - Under a download through `-L` over sealed UDP: the path is shown down with the traffic rule's reason
 *   (the engine's unanswered liveness probe or RTO; path-liveness.ts), not the carrier's 2.5 s
 *   silence; the client logs it once; the server (the sender) logs the path stalled and
 *   answering again; restored, it is up again; the download ends hash-exact. Over WebSocket
 *   the same by the heartbeat's traffic rule (the engine leaves reliable carriers to their
 *   TCP; a client path busy and then silent is pinged at once: transport-ws/src/heartbeat.ts).
 * - Idle, over sealed UDP and over WebSocket: the keepalives (sealed session silence, ping/pong)
 *   show the path down well before the idle timeout would close it.
 * Times are printed; the only bounds asserted are generous ones (the reason text tells the rules apart).
 */
import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { TwoLinkTopology } from '../../../tools/bench/suite/kernel/two-links.js';
import { startApp, stopAll, writeKeyFiles, type AppProcess, type KeyFiles } from './cli-support.js';
import { inNamespace, netnsSkipReason } from './netns-support.js';

const skipReason = netnsSkipReason();
if (skipReason) console.log(`path-liveness-netns.test.ts skipped: ${skipReason}`);

const topo = new TwoLinkTopology('mptun-lv-');
const NS = topo.ns;
const SERVER = topo.serverAddress;
const CUT = `${topo.links[1].net}.2`; // the client's address on link 2, the path that is cut
const STATUS = '127.0.0.1:9471';
const SOURCE_PORT = 5001;
const FORWARD_PORT = 9000;
const DOWNLOAD_BYTES = 48_000_000;
/** The sealed server's idle timeout (transport-udp's default) and the WebSocket's silence limit: a path is closed after either. */
const IDLE_TIMEOUT_MS = 30_000;
/** What the carrier's own silence rules say (transport-udp's session, transport-ws's heartbeat). */
const SILENCE_REASON = /nothing authenticated from the peer|no answer to ping/;
const TRAFFIC_REASON = /liveness probe unanswered|retransmission timeout|under traffic \(ping unanswered\)/;

const children: ChildProcess[] = [];

afterEach(async () => {
  await stopAll();
  for (const c of children.splice(0)) c.kill('SIGKILL');
  await topo.remove(true);
});

/** Each namespace's local table moves behind pref 10, where the blackhole rules go. */
async function prepareRules(): Promise<void> {
  for (const ns of [NS.client, NS.server]) {
    await topo.ip(ns, 'rule', 'add', 'pref', '100', 'lookup', 'local');
    await topo.ip(ns, 'rule', 'del', 'pref', '0');
  }
}

/** Drop (or stop dropping) everything that arrives over link 2, at both ends. */
async function blackhole(on: boolean): Promise<void> {
  for (const [ns, dev] of [[NS.client, topo.links[1].client], [NS.server, topo.links[1].server]] as const) {
    if (on) await topo.ip(ns, 'rule', 'add', 'pref', '10', 'iif', dev, 'blackhole');
    else await topo.ip(ns, 'rule', 'del', 'pref', '10');
  }
}

interface Sample {
  t: number;
  state: string;
  reason: string | null;
  bytesDown: number;
}

/** A program polling the client's /api/status every 50 ms: one JSON line per sample of the path from `address`. */
function pollerProgram(address: string): string {
  return `const u='http://${STATUS}/api/status';const go=async()=>{try{const s=await (await fetch(u)).json();const p=s.paths.find((x)=>x.localAddress==='${address}');if(p)console.log(JSON.stringify({t:Date.now(),state:p.state,reason:p.downReason,bytesDown:p.bytesDown}))}catch{}setTimeout(go,50)};go()`;
}

/** Follows the poller's lines. */
function statusPoller(): { samples: Sample[]; waitFor: (match: (s: Sample) => boolean, timeoutMs: number, what: string) => Promise<Sample> } {
  const { child } = inNamespace(children, NS.client, [process.execPath, '-e', pollerProgram(CUT)]);
  const samples: Sample[] = [];
  let partial = '';
  child.stdout!.on('data', (d: string) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop()!;
    for (const l of lines) if (l.trim()) samples.push(JSON.parse(l) as Sample);
  });
  const waitFor = async (match: (s: Sample) => boolean, timeoutMs: number, what: string): Promise<Sample> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = samples.find(match);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`the status never showed ${what} within ${timeoutMs} ms; last sample ${JSON.stringify(samples.at(-1))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { samples, waitFor };
}

/** The source's program (a listener that stays): N random bytes to each connection, then their count and SHA-256 on stdout. */
function sourceProgram(bytes: number): string {
  return `const net=require('net'),c=require('crypto');net.createServer((s)=>{const h=c.createHash('sha256');let sent=0;const go=()=>{while(sent<${bytes}){const b=c.randomBytes(Math.min(65536,${bytes}-sent));h.update(b);sent+=b.length;if(!s.write(b)){s.once('drain',go);return}}s.end();console.log(JSON.stringify({sent,hash:h.digest('hex')}))};go();s.on('error',()=>{})}).listen(${SOURCE_PORT},'${SERVER}',()=>console.log('listening'))`;
}

/** The downloader's program: everything from the port forward, then its count, SHA-256 and duration. */
const downloadProgram = `const net=require('net'),c=require('crypto');const h=c.createHash('sha256');let n=0;const t0=performance.now();const s=net.connect(${FORWARD_PORT},'127.0.0.1');s.on('data',(d)=>{h.update(d);n+=d.length});s.on('end',()=>console.log(JSON.stringify({received:n,hash:h.digest('hex'),seconds:(performance.now()-t0)/1000})))`;

async function startApps(keys: KeyFiles, transport: 'udp' | 'ws'): Promise<{ server: AppProcess; client: AppProcess }> {
  const listen = transport === 'udp' ? `udp://${SERVER}:4433` : `ws://${SERVER}:8080/mptun`;
  const server = startApp('server', ['run', '--listen', listen, '--key', keys.serverKey, '--authorized-keys', keys.authorizedKeys, '--allow', SERVER, '--log-format', 'json'], { prefix: ['ip', 'netns', 'exec', NS.server] });
  await server.waitForLog((l) => l['msg'] === 'server started');
  const serverAt = transport === 'udp' ? ['--server', `${SERVER}:4433`] : ['--server', `${SERVER}:8080`, '--ws-url', listen];
  const client = startApp(
    'client',
    ['run', ...serverAt, '--transport', transport, '--server-key', keys.serverPublic, '--key', keys.clientKey, '--path', topo.links[0].client, '--path', topo.links[1].client, '--no-socks', '-L', `127.0.0.1:${FORWARD_PORT}:${SERVER}:${SOURCE_PORT}`, '--status', STATUS, '--log-format', 'json'],
    { prefix: ['ip', 'netns', 'exec', NS.client] },
  );
  for (const l of topo.links) await client.waitForLog((x) => x['msg'] === 'path up' && x['path'] === `${l.net}.2`, 15_000);
  return { server, client };
}

describe.skipIf(skipReason !== null)('a path whose server goes silent is shown down (network namespaces, blackholed link)', () => {
  for (const transport of ['udp', 'ws'] as const) {
    const rule = transport === 'udp' ? "the engine's traffic rule" : "the heartbeat's traffic rule (TCP retransmits under a WebSocket: no engine rule)";
    it(`under a download through -L over ${transport === 'udp' ? 'sealed UDP' : 'WebSocket'}: down by ${rule} with its reason, logged once, up again when restored, download hash-exact`, async () => {
      await topo.create();
      await prepareRules();
      const keys = await writeKeyFiles();
      try {
        const source = inNamespace(children, NS.server, [process.execPath, '-e', sourceProgram(DOWNLOAD_BYTES)]);
        let sourceOut = '';
        source.child.stdout!.on('data', (d: string) => (sourceOut += d));
        await new Promise((resolve) => source.child.stdout!.once('data', resolve));
        const { server, client } = await startApps(keys, transport);
        const status = statusPoller();
        await status.waitFor((s) => s.state === 'up', 10_000, 'the path up');
        const download = inNamespace(children, NS.client, [process.execPath, '-e', downloadProgram]);
        // Cut once link 2 carries a good part of the download (a megabyte).
        await status.waitFor((s) => s.bytesDown > 1_000_000, 30_000, 'a megabyte down link 2');

        const cutAt = Date.now();
        await blackhole(true);
        const down = await status.waitFor((s) => s.t >= cutAt && s.state === 'down', 15_000, 'the path down');
        const restoredAt = Date.now();
        await blackhole(false);
        const up = await status.waitFor((s) => s.t >= restoredAt && s.state === 'up', 15_000, 'the path up again');
        console.log(`under a download over ${transport}: link 2 blackholed; the status showed the path down ${down.t - cutAt} ms later ("${down.reason}"); restored, up again ${up.t - restoredAt} ms later`);
        expect(down.reason, 'the traffic rule, not the carrier silence (2.5 s sealed, 1-2 s ping)').toMatch(TRAFFIC_REASON);
        const logged = client.logs().filter((l) => l['msg'] === 'path down' && l['path'] === CUT && Date.parse(String(l['time'])) >= cutAt - 5 && Date.parse(String(l['time'])) < restoredAt);
        expect(logged.map((l) => l['reason']), 'one log line, with the reason the status shows').toEqual([down.reason]);
        if (transport === 'udp') {
          // The server, sending the download, knows it by its retransmission timeout, and logs it too.
          const serverSaw = await server.waitForLog((l) => l['msg'] === 'client path stalled' && l['address'] === CUT, 5_000);
          await server.waitForLog((l) => l['msg'] === 'client path answers again' && l['address'] === CUT, 10_000);
          console.log(`the server logged the path stalled (cause ${String(serverSaw['cause'])}, silent ${String(serverSaw['silentMs'])} ms) and answering again`);
        }

        const g = JSON.parse(await download.done) as { received: number; hash: string; seconds: number };
        const s = JSON.parse(sourceOut.trim().split('\n').at(-1)!) as { sent: number; hash: string };
        console.log(`download: ${(g.received / 1e6).toFixed(1)} MB in ${g.seconds.toFixed(1)} s, hash ${g.hash === s.hash ? 'equal' : 'DIFFERENT'}`);
        expect(g.received).toBe(DOWNLOAD_BYTES);
        expect(g.hash).toBe(s.hash);
      } finally {
        keys.cleanup();
      }
    }, 120_000);
  }

  for (const transport of ['udp', 'ws'] as const) {
    it(`idle over ${transport === 'udp' ? 'sealed UDP' : 'WebSocket'}: the keepalives show the path down well before the idle timeout, and up again once restored`, async () => {
      await topo.create();
      await prepareRules();
      const keys = await writeKeyFiles();
      try {
        await startApps(keys, transport);
        const status = statusPoller();
        await status.waitFor((s) => s.state === 'up', 10_000, 'the path up');
        const cutAt = Date.now();
        await blackhole(true);
        const down = await status.waitFor((s) => s.t >= cutAt && s.state === 'down', IDLE_TIMEOUT_MS, 'the path down');
        const restoredAt = Date.now();
        await blackhole(false);
        const up = await status.waitFor((s) => s.t >= restoredAt && s.state === 'up', 15_000, 'the path up again');
        console.log(`idle over ${transport}: link 2 blackholed; the status showed the path down ${down.t - cutAt} ms later ("${down.reason}"); restored, up again ${up.t - restoredAt} ms later`);
        expect(down.t - cutAt, 'shown down before the idle timeout would have closed the path').toBeLessThan(IDLE_TIMEOUT_MS);
        expect(down.reason).toMatch(SILENCE_REASON);
        expect(down.reason).not.toMatch(TRAFFIC_REASON);
      } finally {
        keys.cleanup();
      }
    }, 120_000);
  }
});
