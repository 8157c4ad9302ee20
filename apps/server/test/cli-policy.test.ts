/**
 * Safe allow-list defaults through the real apps: mptun-server and mptun-client as a user
 * starts them, a SOCKS5 CONNECT to the server's loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { socksConnect, startClientCli, startServerCli, writeKeyFiles, type AppProcess, type KeyFiles } from './cli-apps.js';
import { startEcho } from './support.js';

const NOT_ALLOWED = 0x02; // RFC 1928 §6: connection not allowed by ruleset

describe('mptun-server allow rules through the real CLIs', () => {
  let keys: KeyFiles;
  let echo: Awaited<ReturnType<typeof startEcho>>;
  const running: AppProcess[] = [];
  beforeAll(async () => {
    keys = await writeKeyFiles();
    echo = await startEcho();
  });
  afterAll(async () => {
    await Promise.all(running.map((c) => c.stop()));
    await echo.close();
    keys.cleanup();
  });

  const run = async (allow: string): Promise<{ reply: number; echoed?: string; serverLog: string }> => {
    const server = await startServerCli(keys, ['--allow', allow]);
    running.push(server.cli);
    const client = await startClientCli(keys, server.port);
    running.push(client.cli);
    const r = await socksConnect(client.socksPort, '127.0.0.1', echo.port);
    await client.cli.stop();
    await server.cli.stop();
    return { ...r, serverLog: server.cli.output() };
  };

  it('a broad rule covering the port does not reach the server loopback', async () => {
    const before = echo.accepted();
    const r = await run(`0.0.0.0/0:80,${echo.port}`);
    expect(r.reply).toBe(NOT_ALLOWED);
    expect(echo.accepted()).toBe(before);
    expect(r.serverLog).toContain('loopback');
  }, 60_000);

  it('a rule naming 127.0.0.1 opens it', async () => {
    const r = await run(`127.0.0.1/32:${echo.port}`);
    expect(r).toMatchObject({ reply: 0, echoed: 'ping' });
  }, 60_000);
});
