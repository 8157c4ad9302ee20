/**
 * udp-plain listeners open only when the operator names the risk, and admit only clients
 * that prove a listed key in the tunnel request (issue 14 item 1).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeKey, generateKeypair, loadCrypto } from '@mptun/session';
import { startApp, socksConnect, startClientCli, writeKeyFiles, type AppProcess, type KeyFiles } from './cli-apps.js';
import { startEcho } from './support.js';

const NOT_ALLOWED = 0x02; // RFC 1928 §6

describe('mptun-server udp-plain through the real CLI', () => {
  let keys: KeyFiles;
  beforeAll(async () => {
    keys = await writeKeyFiles();
  });
  afterAll(() => keys.cleanup());

  const base = (): string[] => ['run', '--key', keys.serverKey, '--authorized-keys', keys.authorizedKeys, '--allow', '127.0.0.1/32:80', '--drain', '0s', '--log-format', 'json'];

  it('refuses a udp-plain listener without --insecure-plain-udp, saying how', async () => {
    const cli = startApp('server', [...base(), '--listen', 'udp://127.0.0.1:0', '--listen', 'udp-plain://127.0.0.1:0']);
    expect((await cli.exited).code).toBe(64); // the listeners came from the command line: a usage error (exit-code scheme)
    expect(cli.output()).toContain('has no encryption or integrity');
    expect(cli.output()).toContain('--insecure-plain-udp');
    expect(cli.output()).not.toContain('"msg":"listening"');
  }, 30_000);

  it('opens it with the flag, where told, and warns', async () => {
    const cli = startApp('server', [...base(), '--listen', 'udp-plain://127.0.0.3:0', '--insecure-plain-udp']);
    try {
      const m = await cli.waitFor(/"level":"warn".*udp-plain listener: no encryption or integrity.*"address":"([\d.]+):\d+"/);
      expect(m[1]).toBe('127.0.0.3');
      expect(cli.output()).toMatch(/"msg":"listening","transport":"udp-plain","address":"127\.0\.0\.3:\d+"/);
      // Its signal handlers are in place once it says it started: a SIGTERM before that ends it with no exit code.
      await cli.waitFor(/"msg":"server started"/);
    } finally {
      await cli.stop();
    }
    expect((await cli.exited).code).toBe(0);
  }, 30_000);
});

describe('udp-plain admits only a proven, listed client key (real CLIs)', () => {
  let keys: KeyFiles;
  let echo: Awaited<ReturnType<typeof startEcho>>;
  let server: AppProcess;
  let plainPort: number;
  beforeAll(async () => {
    keys = await writeKeyFiles();
    echo = await startEcho();
    // A short header timeout, so a keyless client's request (no proof follows) is refused fast.
    const config = join(keys.dir, 'server.json');
    writeFileSync(config, JSON.stringify({ limits: { headerTimeout: '1s' } }));
    server = startApp('server', ['run', '--config', config, '--listen', 'udp-plain://127.0.0.1:0', '--insecure-plain-udp', '--key', keys.serverKey, '--authorized-keys', keys.authorizedKeys, '--allow', `127.0.0.1/32:${echo.port}`, '--drain', '0s', '--log-format', 'json']);
    plainPort = Number((await server.waitFor(/"msg":"listening","transport":"udp-plain","address":"127\.0\.0\.1:(\d+)"/))[1]);
  }, 30_000);
  afterAll(async () => {
    await server.stop();
    await echo.close();
    keys.cleanup();
  });

  const connectThrough = async (client: AppProcess, socksPort: number): Promise<{ reply: number; echoed?: string }> => {
    try {
      return await socksConnect(socksPort, '127.0.0.1', echo.port);
    } finally {
      await client.stop();
    }
  };

  it('a listed key is relayed', async () => {
    const c = await startClientCli(keys, plainPort, ['--transport', 'udp-plain']);
    expect(await connectThrough(c.cli, c.socksPort)).toEqual({ reply: 0, echoed: 'ping' });
  }, 60_000);

  it('an unlisted key and no key at all are refused, logged by reason, and nothing is dialled', async () => {
    const before = echo.accepted();
    const strangerKey = join(keys.dir, 'stranger.key');
    writeFileSync(strangerKey, encodeKey(generateKeypair(await loadCrypto()).privateKey) + '\n', { mode: 0o600 });
    const stranger = await startClientCli({ ...keys, clientKey: strangerKey }, plainPort, ['--transport', 'udp-plain']);
    expect((await connectThrough(stranger.cli, stranger.socksPort)).reply).toBe(NOT_ALLOWED);

    const keyless = startApp('client', ['run', '--server', `127.0.0.1:${plainPort}`, '--transport', 'udp-plain', '--path', '127.0.0.2', '--socks', '127.0.0.1:0']);
    const socksPort = Number((await keyless.waitFor(/SOCKS5 proxy listening" address=127\.0\.0\.1:(\d+)/))[1]);
    expect(keyless.output()).toContain('carry no key proof');
    expect((await connectThrough(keyless, socksPort)).reply).toBe(NOT_ALLOWED);

    expect(echo.accepted()).toBe(before);
    expect(server.output()).toMatch(/plain-path connection without a valid client key proof.*"why":"unauthorized_key"/);
    expect(server.output()).toMatch(/plain-path connection without a valid client key proof.*"why":"no_proof"/);
  }, 60_000);
});
