/** udp-plain listeners open only when the operator names the risk (issue 14 item 1). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, writeKeys, type KeyFiles } from './cli-apps.js';

describe('mptun-server udp-plain through the real CLI', () => {
  let keys: KeyFiles;
  beforeAll(async () => {
    keys = await writeKeys();
  });
  afterAll(() => keys.remove());

  const base = (): string[] => ['run', '--key', keys.serverKey, '--authorized-keys', keys.authorized, '--allow', '127.0.0.1/32:80', '--drain', '0s', '--log-format', 'json'];

  it('refuses a udp-plain listener without --insecure-plain-udp, saying how', async () => {
    const cli = runCli('server', [...base(), '--listen', 'udp://127.0.0.1:0', '--listen', 'udp-plain://127.0.0.1:0']);
    expect(await cli.exited).toBe(2);
    expect(cli.out).toContain('authenticates no client');
    expect(cli.out).toContain('--insecure-plain-udp');
    expect(cli.out).not.toContain('"msg":"listening"');
  }, 30_000);

  it('opens it with the flag, where told, and warns', async () => {
    const cli = runCli('server', [...base(), '--listen', 'udp-plain://127.0.0.3:0', '--insecure-plain-udp']);
    try {
      const m = await cli.waitFor(/"level":"warn".*udp-plain listener: no client is authenticated.*"address":"([\d.]+):\d+"/);
      expect(m[1]).toBe('127.0.0.3');
      expect(cli.out).toMatch(/"msg":"listening","transport":"udp-plain","address":"127\.0\.0\.3:\d+"/);
    } finally {
      await cli.stop();
    }
    expect(await cli.exited).toBe(0);
  }, 30_000);
});
