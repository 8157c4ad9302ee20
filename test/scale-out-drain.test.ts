/**
 * Three mptun-servers behind nginx (deploy/nginx/mptun-udp.conf as it is, sealed UDP), one
 * of them leaving (issue 17):
 * - drained mid-run (POST /drain on its metrics port): no transfer fails, transfers already
 *   on it go on, new connections go to the other two (each server's /metrics), and it ends
 *   with 0 connections within its --drain bound;
 * - killed (SIGKILL): the time until every client's new connections succeed on the others
 *   is printed, the connections that were on it end with an ERR_MPTUN_* error in the
 *   client's log, and the others carry on.
 * Real CLIs and real nginx, all on loopback (see scale-out-nginx.test.ts for the addresses).
 * Skipped, with the reason printed, where nginx or its stream module is missing (not in CI).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopAll, writeKeyFiles, type KeyFiles } from '../apps/client/test/cli-support.js';
import { startEcho } from '../apps/client/test/support.js';
import {
  echoAgain, echoThroughSocks, nginxMissing, REPO, scrape, SERVERS, startNginx, startScaleOutClient, startScaleOutServer, stopBalancer, takeBalancerTurn, twoPaths,
  type ScaleOutClient, type ScaleOutServer,
} from './scale-out-support.js';

if (nginxMissing) console.log(`drain and failure of a server behind nginx skipped: ${nginxMissing}`);

const BALANCER = { conf: join(REPO, 'deploy/nginx/mptun-udp.conf'), proto: 'udp' as const, shared: '127.0.0.100:4433' };
const CLIENT_ARGS = ['--server', BALANCER.shared];
const BYTES = 200_000;
/** Connections each client keeps open across the event, and opens after it. */
const PER_CLIENT = 2;

interface Rig {
  servers: ScaleOutServer[];
  clients: ScaleOutClient[];
  echoPort: number;
  stop(): Promise<void>;
}

/** nginx, three servers (with `serverExtra`) and five clients with two paths each. */
async function startRig(serverExtra: string[]): Promise<Rig> {
  const releaseTurn = await takeBalancerTurn();
  const dir = mkdtempSync(join(tmpdir(), 'mptun-drain-'));
  const keys: KeyFiles = await writeKeyFiles();
  const echo = await startEcho();
  let nginx: Awaited<ReturnType<typeof startNginx>> | undefined;
  const servers: ScaleOutServer[] = [];
  const clients: ScaleOutClient[] = [];
  const stop = async (): Promise<void> => {
    await stopAll();
    await stopBalancer(nginx?.child);
    await echo.close();
    keys.cleanup();
    rmSync(dir, { recursive: true, force: true });
    releaseTurn();
  };
  try {
    nginx = await startNginx(dir, BALANCER);
    for (const host of SERVERS) servers.push(await startScaleOutServer(host, keys, ['--listen', `udp://${host}:4433`], `${host}:4433`, echo.port, serverExtra));
    for (const i of [1, 2, 3, 4, 5]) clients.push(await startScaleOutClient(twoPaths(i), keys, CLIENT_ARGS));
  } catch (e) {
    await stop();
    throw e;
  }
  return { servers, clients, echoPort: echo.port, stop };
}

/** PER_CLIENT echo connections from every client, left open; fails unless every one is hash-exact. */
async function openEchoes(rig: Rig, stallMs?: number): Promise<Array<{ client: ScaleOutClient; socket: Socket }>> {
  const open = await Promise.all(rig.clients.flatMap((client) => Array.from({ length: PER_CLIENT }, async () => ({ client, ...(await echoThroughSocks(client.socks, rig.echoPort, BYTES, stallMs)) }))));
  for (const o of open) expect(o.got, `echo through client ${o.client.first}`).toBe(o.sent);
  return open.map(({ client, socket }) => ({ client, socket }));
}

const NAMES = ['mptun_connections_open', 'mptun_connections_total', 'mptun_connections_refused_total', 'mptun_draining'];
const figures = (servers: ScaleOutServer[]): Promise<Array<Record<string, number>>> => scrape(servers.map((s) => s.metrics), NAMES);

/** The server with the most connections open now. */
async function busiest(servers: ScaleOutServer[]): Promise<number> {
  const f = await figures(servers);
  console.log('connections open per server:', servers.map((s, i) => `${s.host} ${f[i]!['mptun_connections_open']}`).join(', '));
  return f.reduce((best, x, i) => (x['mptun_connections_open']! > f[best]!['mptun_connections_open']! ? i : best), 0);
}

describe.skipIf(nginxMissing !== undefined)('a server drained behind nginx (UDP)', () => {
  const BOUND_MS = 20_000;
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig(['--drain', `${BOUND_MS / 1000}s`]);
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
    const res = await fetch(victim.metrics.replace(/\/metrics$/, '/drain'), { method: 'POST' });
    expect(res.status).toBe(202);
    await res.text();

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
    console.log(`drain: ${fresh.length} new connections, ${refused} refused by the drained server ${victim.host}, ${retries} client retries; per server open: ${rig.servers.map((s, i) => `${s.host} ${after[i]!['mptun_connections_open']}`).join(', ')}`);
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
    console.log(`drain time: ${ms} ms from POST /drain to 0 connections on ${victim.host} (bound ${BOUND_MS} ms; ${String(drained['cut'])} cut)`);
    expect(drained['cut']).toBe(0);
    expect(ms).toBeLessThan(BOUND_MS + 5_000);
    const end = await figures([victim]);
    expect(end[0]!['mptun_connections_open']).toBe(0);
    expect(end[0]!['mptun_draining']).toBe(1);
  }, 240_000);
});

describe.skipIf(nginxMissing !== undefined)('a server killed behind nginx (UDP)', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig(['--drain', '0s']);
  }, 120_000);
  afterAll(() => rig?.stop());

  it("its clients' new connections succeed on the others (time printed), its connections end with a clear error, nothing hangs", async () => {
    const before = await openEchoes(rig);
    const v = await busiest(rig.servers);
    const victim = rig.servers[v]!;
    const onVictim = (await figures([victim]))[0]!['mptun_connections_open']!;
    // A client's connections land where its path through the balancer does.
    const affected = rig.clients.filter((c) => victim.app.logs().some((l) => l['msg'] === 'client path up' && (l['address'] === c.first || l['address'] === c.second)));
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
          const o = await echoThroughSocks(c.socks, rig.echoPort, 10_000, 5_000);
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
    console.log(`recovery after SIGKILL of ${victim.host}: ${recovery.map((r) => `${r.c.first}${affected.includes(r.c) ? '*' : ''} ${r.ms} ms (${r.tries} tries)`).join(', ')}; worst of its clients (*) ${worst} ms (goal 2000 ms)`);

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
