/**
 * A path given as an interface (`--path c1 --path c2`) whose link goes down, under the real
 * apps, in two network namespaces the test makes (root only; skipped with the reason
 * elsewhere; topology: tools/bench/suite/kernel/two-links.ts). The client sees the link go
 * through ip monitor, reports the path down at once with the reason, the server hears the
 * address withdrawn (REMOVE_ADDR); when the link comes back up, so does the path. The times
 * are printed (the bench section iface-down measures the stall under a transfer).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { TwoLinkTopology } from '../../../tools/bench/suite/kernel/two-links.js';
import { startApp, stopAll, writeKeyFiles } from './cli-support.js';
import { netnsSkipReason } from './netns-support.js';

const skipReason = netnsSkipReason();
if (skipReason) console.log(`path-link-down.test.ts skipped: ${skipReason}`);

const topo = new TwoLinkTopology('mptun-ld-');
const children: ChildProcess[] = [];

afterEach(async () => {
  await stopAll();
  for (const c of children.splice(0)) c.kill('SIGKILL');
  await topo.remove(true);
});

describe.skipIf(skipReason !== null)('a path given as an interface whose link goes down (network namespaces)', () => {
  it('ip link set c2 down: path down at once with the reason, REMOVE_ADDR at the server; up again: the path comes back', async () => {
    await topo.create();
    const keys = await writeKeyFiles();
    try {
      // Where the held connection goes: a listener that keeps it open.
      const sink = spawn('ip', ['netns', 'exec', topo.ns.server, process.execPath, '-e', `require('net').createServer((s)=>s.resume()).listen(5001,'${topo.serverAddress}',()=>console.log('listening'))`], { stdio: ['ignore', 'pipe', 'ignore'] });
      children.push(sink);
      await new Promise((resolve) => sink.stdout!.once('data', resolve));
      const server = startApp('server', ['run', '--listen', `udp://${topo.serverAddress}:4433`, '--key', keys.serverKey, '--authorized-keys', keys.authorizedKeys, '--allow', topo.serverAddress, '--log-format', 'json'], { prefix: ['ip', 'netns', 'exec', topo.ns.server] });
      await server.waitForLog((l) => l['msg'] === 'server started');
      const client = startApp('client', ['run', '--server', `${topo.serverAddress}:4433`, '--server-key', keys.serverPublic, '--key', keys.clientKey, '--path', 'c1', '--path', 'c2', '--no-socks', '-L', `127.0.0.1:9000:${topo.serverAddress}:5001`, '--log-format', 'json'], { prefix: ['ip', 'netns', 'exec', topo.ns.client] });
      const following = await client.waitForLog((l) => l['msg'] === "following the paths' interfaces");
      expect(following['addresses']).toEqual(topo.links.map((l) => `${l.net}.2`));
      const b = `${topo.links[1].net}.2`;
      for (const l of topo.links) await client.waitForLog((x) => x['msg'] === 'path up' && x['path'] === `${l.net}.2`, 15_000);
      // A connection held open, so the server has something to withdraw the address from.
      const conn = spawn('ip', ['netns', 'exec', topo.ns.client, process.execPath, '-e', "require('net').connect(9000,'127.0.0.1').on('connect',()=>console.log('connected')).on('error',()=>{});setTimeout(()=>{},60000)"], { stdio: ['ignore', 'pipe', 'ignore'] });
      children.push(conn);
      await new Promise((resolve) => conn.stdout!.once('data', resolve));
      await server.waitForLog((l) => l['msg'] === 'client path up' && l['address'] === b);

      const downAt = Date.now();
      await topo.ip(topo.ns.client, 'link', 'set', 'dev', 'c2', 'down');
      const returned = Date.now();
      const down = await client.waitForLog((l) => l['msg'] === 'path down' && l['path'] === b, 5000);
      expect(down['reason']).toBe('its local address went away');
      const gone = await client.waitForLog((l) => l['msg'] === 'interface went away' && l['address'] === b);
      const withdrew = await server.waitForLog((l) => l['msg'] === 'client withdrew addresses', 5000);
      const pathUps = (): number => client.logs().filter((l) => l['msg'] === 'path up' && l['path'] === b).length;
      expect(pathUps()).toBe(1);
      console.log(`ip link set c2 down: took ${returned - downAt} ms; the client saw it ${Date.parse(String(gone['time'])) - returned} ms and logged the path down ${Date.parse(String(down['time'])) - returned} ms after it returned; REMOVE_ADDR logged by the server ${Date.parse(String(withdrew['time'])) - returned} ms after`);

      const upAt = Date.now();
      await topo.ip(topo.ns.client, 'link', 'set', 'dev', 'c2', 'up');
      const upReturned = Date.now();
      // The kernel marks the link running (operstate up) from its linkwatch work, which batches
      // a carrier-up event for up to a second; libuv (os.networkInterfaces) lists it only then.
      const back = await client.waitForLog((l) => l['msg'] === 'interface appeared' && l['address'] === b && Date.parse(String(l['time'])) >= upAt - 5);
      const deadline = Date.now() + 10_000;
      while (pathUps() < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      expect(pathUps(), 'the path over c2 comes back up').toBe(2);
      const upAgain = client.logs().filter((l) => l['msg'] === 'path up' && l['path'] === b)[1]!;
      console.log(`ip link set c2 up: took ${upReturned - upAt} ms; the client saw it ${Date.parse(String(back['time'])) - upReturned} ms and logged the path up ${Date.parse(String(upAgain['time'])) - upReturned} ms after it returned`);
    } finally {
      keys.cleanup();
    }
  }, 90_000);
});
