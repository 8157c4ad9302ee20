/**
 * Three mptun-servers behind a balancer, one of them leaving (issue 17), run three times:
 * behind nginx (deploy/nginx/mptun-udp.conf as it is, sealed UDP; mptun-ws.conf, WebSocket),
 * and behind HAProxy
 * (deploy/haproxy/mptun-ws.cfg as it is, WebSocket, servers named by affinity token and
 * reporting their state to HAProxy's agent check):
 * - drained mid-run (POST /drain on its metrics port): no transfer fails, transfers already
 *   on it go on, new connections go to the other two (each server's /metrics), and it ends
 *   with 0 connections within its --drain bound;
 * - killed (SIGKILL): the time until every client's new connections succeed on the others
 *   is printed, the connections that were on it end with an ERR_MPTUN_* error in the
 *   client's log, and the others carry on.
 * Real CLIs and real balancers, each rig in network namespaces of its own that it makes and
 * removes (scale-out-netns.ts; see scale-out-nginx.test.ts and scale-out-haproxy.test.ts for
 * the addresses). Skipped, with the reason printed, where not root (no namespaces) or where
 * the balancer is missing; never in CI, where either fails.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopAll, writeKeyFiles, type KeyFiles } from '../apps/client/test/cli-support.js';
import { ScaleOutNetwork } from './scale-out-netns.js';
import {
  echoAgain, echoThroughSocks, nginxMissing, REPO, scrape, SERVERS, startNginx, startScaleOutClient, startScaleOutServer, stopBalancer, twoPaths,
  type ScaleOutClient, type ScaleOutServer,
} from './scale-out-support.js';
import { haproxyClient, haproxyMissing, PROXY, startHaproxy, startWsServer, WS_SERVERS, type Haproxy } from './scale-out-haproxy-support.js';

const BYTES = 200_000;
/** Connections each client keeps open across the event, and opens after it. */
const PER_CLIENT = 2;

interface Rig {
  servers: ScaleOutServer[];
  clients: ScaleOutClient[];
  /** The clients whose connections are on `victim` (their first path reached it). */
  clientsOn(victim: ScaleOutServer): ScaleOutClient[];
  /** The balancer's own view of a drained server, where it has one: checked after the drain. */
  balancerSawDrain?(victim: ScaleOutServer): Promise<void>;
  stop(): Promise<void>;
}

/** A balancer in front of three servers, and how to start the rig behind it. */
interface Balancer {
  name: string;
  missing: string | undefined;
  startRig(serverExtra: string[]): Promise<Rig>;
}

/**
 * What every rig shares: its namespaces (with the echo target), a directory and keys; `build`
 * starts the balancer, the servers and five clients with two paths each.
 */
async function rigWith(
  balancer: 'nginx' | 'haproxy',
  build: (net: ScaleOutNetwork, dir: string, keys: KeyFiles, rig: Omit<Rig, 'stop' | 'clientsOn'>) => Promise<{ stopBalancer: () => Promise<void> } & Pick<Rig, 'clientsOn' | 'balancerSawDrain'>>,
): Promise<Rig> {
  const net = new ScaleOutNetwork();
  const dir = mkdtempSync(join(tmpdir(), `mptun-drain-${balancer}-`));
  const keys: KeyFiles = await writeKeyFiles();
  const parts: Omit<Rig, 'stop' | 'clientsOn'> = { servers: [], clients: [] };
  let built: Awaited<ReturnType<typeof build>> | undefined;
  const stop = async (): Promise<void> => {
    await stopAll();
    await built?.stopBalancer();
    await net.destroy();
    keys.cleanup();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await net.create();
    built = await build(net, dir, keys, parts);
  } catch (e) {
    await stop();
    throw e;
  }
  return { ...parts, clientsOn: built.clientsOn, ...(built.balancerSawDrain ? { balancerSawDrain: built.balancerSawDrain } : {}), stop };
}

/** nginx with its deploy file for sealed UDP or for WebSocket, servers announcing their own address. */
function nginxBalancer(transport: 'udp' | 'ws'): Balancer {
  const shared = transport === 'udp' ? '10.47.0.100:4433' : '10.47.0.100:8080';
  const port = transport === 'udp' ? 4433 : 8080;
  const listen = (host: string): string[] => ['--listen', transport === 'udp' ? `udp://${host}:${port}` : `ws://${host}:${port}/mptun`];
  const clientArgs = transport === 'udp' ? ['--server', shared] : ['--server', shared, '--transport', 'ws', '--ws-url', `ws://${shared}/mptun`];
  return {
    name: transport === 'udp' ? 'nginx (UDP)' : 'nginx (WebSocket)',
    missing: nginxMissing,
    startRig: (serverExtra) =>
      rigWith('nginx', async (net, dir, keys, rig) => {
        let nginx: Awaited<ReturnType<typeof startNginx>> | undefined;
        const built = { stopBalancer: () => stopBalancer(nginx?.child), clientsOn: (v: ScaleOutServer) => rig.clients.filter((c) => v.app.logs().some((l) => l['msg'] === 'client path up' && (l['address'] === c.first || l['address'] === c.second))) };
        try {
          nginx = await startNginx(net, dir, { conf: join(REPO, `deploy/nginx/mptun-${transport}.conf`), proto: transport === 'udp' ? 'udp' : 'tcp', shared });
          for (const host of SERVERS) rig.servers.push(await startScaleOutServer(net, host, keys, listen(host), `${host}:${port}`, serverExtra));
          for (const i of [1, 2, 3, 4, 5]) rig.clients.push(await startScaleOutClient(net, twoPaths(i), keys, clientArgs));
        } catch (e) {
          await built.stopBalancer();
          throw e;
        }
        return built;
      }),
  };
}

const WS_CLIENT_ARGS = ['--server', PROXY, '--transport', 'ws', '--ws-url', `ws://${PROXY}/mptun`];

const HAPROXY_WS: Balancer = {
  name: 'HAProxy (WebSocket)',
  missing: haproxyMissing,
  startRig: (serverExtra) =>
    rigWith('haproxy', async (net, dir, keys, rig) => {
      let haproxy: Haproxy | undefined;
      // HAProxy's log: the server each client address's upgrades went to.
      const clientsOn = (v: ScaleOutServer): ScaleOutClient[] => {
        const token = WS_SERVERS.find((w) => w.host === v.host)!.token;
        const routed = haproxy?.routed() ?? [];
        return rig.clients.filter((c) => routed.some((r) => r.server === token && r.client === c.first));
      };
      // The agent check: once HAProxy has put the drained server in drain state, no first path
      // (one that asks for no server by token) goes to it. New clients open first paths from
      // addresses that `balance source` spreads over all three servers.
      const balancerSawDrain = async (v: ScaleOutServer): Promise<void> => {
        const token = WS_SERVERS.find((w) => w.host === v.host)!.token;
        const drainState = new RegExp(`/${token} enters drain state`);
        const deadline = Date.now() + 10_000;
        while (!drainState.test(haproxy!.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        expect(haproxy!.output(), `HAProxy put ${token} in drain state (agent check)`).toMatch(drainState);
        const mark = haproxy!.routed().length;
        for (const i of [6, 7, 8]) {
          const c = await startScaleOutClient(net, haproxyClient(i), keys, WS_CLIENT_ARGS);
          const o = await echoThroughSocks(c.socks, BYTES);
          expect(o.got, `echo through a client started after the drain (${c.first})`).toBe(o.sent);
          o.socket.destroy();
        }
        const first = haproxy!.routed().slice(mark).filter((r) => r.affinity === null);
        console.log(`first paths through HAProxy after it put ${token} in drain state: ${first.length}, by server: ${WS_SERVERS.map((w) => `${w.token} ${first.filter((r) => r.server === w.token).length}`).join(', ')}`);
        expect(first.length, 'first paths of the clients started after the drain').toBeGreaterThanOrEqual(6);
        expect(first.filter((r) => r.server === token), 'first paths HAProxy sent to the drained server').toEqual([]);
      };
      const built = { stopBalancer: () => stopBalancer(haproxy?.child), clientsOn, balancerSawDrain };
      try {
        for (const s of WS_SERVERS) rig.servers.push(await startWsServer(net, s, keys, serverExtra));
        haproxy = await startHaproxy(net, dir);
        for (const i of [1, 2, 3, 4, 5]) rig.clients.push(await startScaleOutClient(net, haproxyClient(i), keys, WS_CLIENT_ARGS));
      } catch (e) {
        await built.stopBalancer();
        throw e;
      }
      return built;
    }),
};

/** PER_CLIENT echo connections from every client, left open; fails unless every one is hash-exact. */
async function openEchoes(rig: Rig, stallMs?: number): Promise<Array<{ client: ScaleOutClient; socket: Socket }>> {
  const open = await Promise.all(rig.clients.flatMap((client) => Array.from({ length: PER_CLIENT }, async () => ({ client, ...(await echoThroughSocks(client.socks, BYTES, stallMs)) }))));
  for (const o of open) expect(o.got, `echo through client ${o.client.first}`).toBe(o.sent);
  return open.map(({ client, socket }) => ({ client, socket }));
}

const NAMES = ['mptun_connections_open', 'mptun_connections_total', 'mptun_connections_refused_total', 'mptun_draining'];
const figures = (servers: ScaleOutServer[]): Promise<Array<Record<string, number>>> => scrape(servers, NAMES);

/** The server with the most connections open now. */
async function busiest(servers: ScaleOutServer[]): Promise<number> {
  const f = await figures(servers);
  console.log('connections open per server:', servers.map((s, i) => `${s.host} ${f[i]!['mptun_connections_open']}`).join(', '));
  return f.reduce((best, x, i) => (x['mptun_connections_open']! > f[best]!['mptun_connections_open']! ? i : best), 0);
}

for (const balancer of [nginxBalancer('udp'), nginxBalancer('ws'), HAPROXY_WS]) {
  if (balancer.missing) console.log(`drain and failure of a server behind ${balancer.name} skipped: ${balancer.missing}`);

  describe.skipIf(balancer.missing !== undefined)(`a server drained behind ${balancer.name}`, () => {
    const BOUND_MS = 20_000;
    let rig: Rig;
    beforeAll(async () => {
      rig = await balancer.startRig(['--drain', `${BOUND_MS / 1000}s`]);
    }, 120_000);
    afterAll(() => rig?.stop());

    it('mid-run: no transfer fails, new connections go to the other two, it ends with 0 connections within the bound', async () => {
      const before = await openEchoes(rig);
      const v = await busiest(rig.servers);
      const victim = rig.servers[v]!;
      const others = rig.servers.filter((s) => s !== victim);
      const ahead = await figures(rig.servers);
      const relayedBefore = ahead[v]!['mptun_connections_total']! - ahead[v]!['mptun_connections_refused_total']!;

      const started = Date.now();
      expect(await victim.post('/drain')).toBe(202);

      // Mid-run: the open connections carry more (those on the drained server too) while every
      // client opens new ones.
      const [again, fresh] = await Promise.all([
        Promise.all(before.map((o) => echoAgain(o.socket, BYTES))),
        openEchoes(rig),
      ]);
      for (const a of again) expect(a.got, 'a transfer on a connection open before the drain').toBe(a.sent);

      const after = await figures(rig.servers);
      const refused = after[v]!['mptun_connections_refused_total']! - ahead[v]!['mptun_connections_refused_total']!;
      const retries = rig.clients.reduce((n, c) => n + c.app.logs().filter((l) => l['msg'] === 'server draining: dialling the balancer again from a fresh port').length, 0);
      console.log(`${balancer.name}, drain: ${fresh.length} new connections, ${refused} refused by the drained server ${victim.host}, ${retries} client retries; per server open: ${rig.servers.map((s, i) => `${s.host} ${after[i]!['mptun_connections_open']}`).join(', ')}`);
      expect(after[v]!['mptun_draining']).toBe(1);
      expect(after[v]!['mptun_connections_total']! - after[v]!['mptun_connections_refused_total']!, 'connections the drained server relays').toBe(relayedBefore);
      const openBefore = ahead.reduce((n, f) => n + f['mptun_connections_open']!, 0);
      expect(openBefore).toBe(before.length);
      const onOthers = others.reduce((n, s) => n + after[rig.servers.indexOf(s)]!['mptun_connections_open']!, 0);
      expect(onOthers, 'the new connections are on the other two').toBe(openBefore - ahead[v]!['mptun_connections_open']! + fresh.length);
      expect(victim.app.logs().some((l) => l['msg'] === 'drained'), 'not drained while its connections are open').toBe(false);

      // The transfers end: the drained server is left with none, within its bound.
      for (const o of [...before, ...fresh]) o.socket.end();
      const drained = await victim.app.waitForLog((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('drained'), BOUND_MS + 10_000);
      const ms = Date.now() - started;
      console.log(`${balancer.name}, drain time: ${ms} ms from POST /drain to 0 connections on ${victim.host} (bound ${BOUND_MS} ms; ${String(drained['cut'])} cut)`);
      expect(drained['cut']).toBe(0);
      expect(ms).toBeLessThan(BOUND_MS + 5_000);
      const end = await figures([victim]);
      expect(end[0]!['mptun_connections_open']).toBe(0);
      expect(end[0]!['mptun_draining']).toBe(1);
      await rig.balancerSawDrain?.(victim);
    }, 240_000);
  });

  describe.skipIf(balancer.missing !== undefined)(`a server killed behind ${balancer.name}`, () => {
    let rig: Rig;
    beforeAll(async () => {
      rig = await balancer.startRig(['--drain', '0s']);
    }, 120_000);
    afterAll(() => rig?.stop());

    it("its clients' new connections succeed on the others (time printed), its connections end with a clear error, nothing hangs", async () => {
      const before = await openEchoes(rig);
      const v = await busiest(rig.servers);
      const victim = rig.servers[v]!;
      const onVictim = (await figures([victim]))[0]!['mptun_connections_open']!;
      // A client's connections land where its path through the balancer does.
      const affected = rig.clientsOn(victim);
      const closedAt = before.map(() => null as number | null);
      before.forEach((o, i) => o.socket.once('close', () => (closedAt[i] = Date.now())));
      const marks = new Map(rig.clients.map((c) => [c, c.app.logs().length]));

      const killedAt = Date.now();
      victim.app.child.kill('SIGKILL');

      // Every client, affected or not, tries new connections until one succeeds.
      const recovery = await Promise.all(rig.clients.map(async (c) => {
        let tries = 0;
        for (;;) {
          tries++;
          try {
            const o = await echoThroughSocks(c.socks, 10_000, 5_000);
            o.socket.destroy();
            if (o.got === o.sent) return { c, ms: Date.now() - killedAt, tries };
          } catch {
            // refused, reset or stalled: try again
          }
          if (Date.now() - killedAt > 60_000) throw new Error(`client ${c.first}: no new connection succeeded within 60 s of the kill`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }));
      const worst = Math.max(...recovery.filter((r) => affected.includes(r.c)).map((r) => r.ms));
      console.log(`${balancer.name}, recovery after SIGKILL of ${victim.host}: ${recovery.map((r) => `${r.c.first}${affected.includes(r.c) ? '*' : ''} ${r.ms} ms (${r.tries} tries)`).join(', ')}; worst of its clients (*) ${worst} ms (goal 2000 ms)`);

      // The connections that were on it end (their state is gone), each with an error named in
      // the client's log; nothing hangs. The others carry on.
      const deadline = Date.now() + 90_000;
      while (closedAt.filter((t) => t !== null).length < onVictim && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      const ended = closedAt.filter((t): t is number => t !== null);
      console.log(`the ${onVictim} connections that were on ${victim.host} ended after: ${ended.map((t) => `${t - killedAt} ms`).join(', ')}`);
      expect(ended.length, 'connections ended: those that were on the killed server').toBe(onVictim);
      const lines = rig.clients.flatMap((c) => c.app.logs().slice(marks.get(c)).filter((l) => l['msg'] === 'connection closed' && /ERR_MPTUN_/.test(String(l['reason']))));
      console.log('their log lines:', [...new Set(lines.map((l) => `${String(l['level'])} ${String(l['reason'])}`))].join(' | '));
      expect(lines.length, 'a connection closed line naming an ERR_MPTUN_ error for each').toBe(onVictim);
      const alive = before.filter((_, i) => closedAt[i] === null);
      for (const a of await Promise.all(alive.map((o) => echoAgain(o.socket, BYTES)))) expect(a.got, 'a connection on a server that lives on').toBe(a.sent);
    }, 240_000);
  });
}
