/**
 * Drain on demand (issue 17): POST /drain on the metrics port (what SIGUSR2 also does) makes
 * the server refuse new tunnels with DRAINING, show mptun_draining 1, let open tunnels go on
 * within the bound and cut them past it, and stay up refusing.
 */
import { connect as netConnect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { TunnelStatus } from '@mptun/tunnel-common';
import { startEcho, startHarness, tunnel } from './support.js';
import { echoText, until } from '../../../packages/node/test/support.js';
import { DRAINING_RETRIES } from '../../client/src/tunnel.js';
import { socksConnect, startClientCli, startServerCli, writeKeyFiles, type AppProcess } from './cli-apps.js';

const drainUrl = (metricsUrl: string): string => metricsUrl.replace(/\/metrics$/, '/drain');

/** The one line the server's agent check answers with (HAProxy agent-check). */
function agentLine(at: { host: string; port: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const s = netConnect(at.port, at.host);
    s.setEncoding('utf8').on('data', (d: string) => (text += d));
    s.on('end', () => resolve(text));
    s.on('error', reject);
  });
}

describe('mptun-server drain on demand', () => {
  it("HAProxy's agent check answers 'up ready', then 'drain' once draining", async () => {
    const h = await startHarness({ allow: [], metrics: { host: '127.0.0.1', port: 0 }, balancerAgent: { host: '127.0.0.1', port: 0 } });
    try {
      const at = h.server.balancerAgent!;
      expect(await agentLine(at)).toBe('up ready\n');
      void h.server.drain();
      expect(await agentLine(at)).toBe('drain\n');
    } finally {
      await h.close();
    }
  });

  it('POST /drain: new tunnels get DRAINING, the open one goes on, the gauge says so', async () => {
    const echo = await startEcho();
    const h = await startHarness({ allow: [`127.0.0.1:${echo.port}`], metrics: { host: '127.0.0.1', port: 0 }, drainMs: 30_000 });
    try {
      const open = await tunnel(h.client, '127.0.0.1', echo.port);
      expect(open.status).toBe(TunnelStatus.OK);
      open.socket.on('error', () => {}); // h.close() may cut it
      expect(await (await fetch(h.server.metricsUrl!)).text()).toContain('mptun_draining 0');

      const res = await fetch(drainUrl(h.server.metricsUrl!), { method: 'POST' });
      expect(res.status).toBe(202);
      expect(await res.text()).toContain('draining: 1 connections open');

      const refused = await tunnel(h.client, '127.0.0.1', echo.port);
      expect(refused.status).toBe(TunnelStatus.DRAINING);
      // RFC 8684 §3.4.1: the open connection was told the listen address; the refused one is
      // told nothing (a draining server invites no further paths).
      await until(() => open.socket.connection.peerAddressList().length > 0, 'the ADD_ADDR of the open connection');
      await new Promise((r) => setTimeout(r, 200));
      expect(refused.socket.connection.peerAddressList()).toEqual([]);
      refused.socket.destroy();
      expect(await echoText(open.socket, 'still relayed')).toBe('still relayed');

      const text = await (await fetch(h.server.metricsUrl!)).text();
      expect(text).toContain('mptun_draining 1');
      expect(text).toContain('mptun_connections_refused_total{reason="draining"} 1');
      expect(text).toContain('mptun_connections_open 1');
      expect(h.server.stats().draining).toBe(true);
      open.socket.end();
      await new Promise<void>((r) => open.socket.once('close', () => r()));
      expect(h.server.stats().open).toBe(0);
    } finally {
      await h.close();
      await echo.close();
    }
  });

  it('past the bound what is still open is cut; the server stays up with 0 connections, refusing', async () => {
    const echo = await startEcho();
    const h = await startHarness({ allow: [`127.0.0.1:${echo.port}`], metrics: { host: '127.0.0.1', port: 0 } });
    try {
      const open = await tunnel(h.client, '127.0.0.1', echo.port);
      expect(open.status).toBe(TunnelStatus.OK);
      const ended = new Promise<void>((r) => open.socket.once('close', () => r()));
      open.socket.on('error', () => {}); // the cut may arrive as a reset
      const started = Date.now();
      await h.server.drain(300);
      const ms = Date.now() - started;
      console.log(`drain with a 300 ms bound and one idle tunnel took ${ms} ms`);
      expect(ms).toBeGreaterThanOrEqual(290);
      await ended;
      expect(h.server.stats().open).toBe(0);
      expect(await (await fetch(h.server.metricsUrl!)).text()).toContain('mptun_connections_open 0');
      expect((await tunnel(h.client, '127.0.0.1', echo.port)).status).toBe(TunnelStatus.DRAINING);
    } finally {
      await h.close();
      await echo.close();
    }
  });

  it('/drain takes only POST, and refuses a browser page of another origin', async () => {
    const h = await startHarness({ metrics: { host: '127.0.0.1', port: 0 } });
    try {
      const url = drainUrl(h.server.metricsUrl!);
      expect((await fetch(url)).status).toBe(405);
      expect((await fetch(url, { method: 'POST', headers: { origin: 'http://evil.example' } })).status).toBe(403);
      expect(h.server.stats().draining).toBe(false);
    } finally {
      await h.close();
    }
  });
});

describe('mptun-server drain through the real CLIs', () => {
  it('SIGUSR2 drains the server: the client retries its bounded number of times, then the SOCKS client gets a failure', async () => {
    const keys = await writeKeyFiles();
    const echo = await startEcho();
    let server: AppProcess | null = null;
    let client: AppProcess | null = null;
    try {
      const s = await startServerCli(keys, ['--allow', `127.0.0.1:${echo.port}`, '--metrics', '127.0.0.1:0']);
      server = s.cli;
      const metrics = String((await server.waitForLog((l) => l['msg'] === 'metrics'))['url']);
      const c = await startClientCli(keys, s.port);
      client = c.cli;
      expect(await socksConnect(c.socksPort, '127.0.0.1', echo.port)).toEqual({ reply: 0, echoed: 'ping' });

      server.child.kill('SIGUSR2');
      await server.waitForLog((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('drained'));
      expect(await (await fetch(metrics)).text()).toContain('mptun_draining 1');
      // One server: every retry lands on it again, and the retries are bounded.
      const started = Date.now();
      expect((await socksConnect(c.socksPort, '127.0.0.1', echo.port)).reply).toBe(1); // general failure
      console.log(`${DRAINING_RETRIES} retries against the one draining server took ${Date.now() - started} ms`);
      const retries = [...client.stderr().matchAll(/server draining: dialling the balancer again from a fresh port.* retry=(\d+)/g)].map((m) => Number(m[1]));
      expect(retries).toEqual(Array.from({ length: DRAINING_RETRIES }, (_, i) => i + 1));
      expect(client.stderr()).toMatch(new RegExp(`the tunnel refused the connection.* status=${TunnelStatus.DRAINING} reason="?server draining, retry elsewhere`));
      expect(server.logs().filter((l) => l['msg'] === 'connection refused' && l['reason'] === 'draining')).toHaveLength(DRAINING_RETRIES + 1);
      await server.stop();
      expect((await server.exited).code).toBe(0);
    } finally {
      await client?.stop();
      await server?.stop();
      await echo.close();
      keys.cleanup();
    }
  });
});
