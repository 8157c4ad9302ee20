/**
 * mptun-server as a user meets it: the real command (a child process), its output, logs and
 * exit codes.
 */
import { createSocket } from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO, runApp, startApp, stopAll, writeKeyFiles } from '../../client/test/cli-support.js';

afterEach(stopAll);

describe('mptun-server command', () => {
  it('--version prints the package version; --help documents the exit codes', async () => {
    const version = (JSON.parse(readFileSync(join(REPO, 'apps/server/package.json'), 'utf8')) as { version: string }).version;
    expect(await runApp('server', ['--version'])).toMatchObject({ code: 0, stdout: `${version}\n` });
    const h = await runApp('server', ['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/Exit codes: 0 ok, 64 bad command line, 78 bad config or key file,\s+69 unavailable/);
  });

  it('a bare --drain number is a usage error (64) that shows the units; an unknown flag too', async () => {
    const keys = await writeKeyFiles();
    try {
      const r = await runApp('server', ['run', '--listen', 'udp://127.0.0.1:0', '--key', keys.serverKey, '--authorized-keys', keys.authorizedKeys, '--drain', '10']);
      expect(r.code).toBe(64);
      expect(r.stderr).toContain('--drain: expected a duration with a unit, like "10s", "500ms"');
      const u = await runApp('server', ['run', '--no-such-flag']);
      expect(u.code).toBe(64);
      expect(u.stderr).toContain("unknown option '--no-such-flag'");
    } finally {
      keys.cleanup();
    }
  });

  it('a fatal error under --log-format json is a JSON line, and a port in use exits 69', async () => {
    const keys = await writeKeyFiles();
    const taken = createSocket('udp4');
    await new Promise<void>((r) => taken.bind(0, '127.0.0.1', r));
    try {
      const port = taken.address().port;
      const r = await runApp('server', ['run', '--listen', `udp://127.0.0.1:${port}`, '--key', keys.serverKey, '--authorized-keys', keys.authorizedKeys, '--log-format', 'json']);
      expect(r.code).toBe(69);
      const lines = r.stderr.trim().split('\n');
      for (const l of lines) expect(() => JSON.parse(l) as unknown).not.toThrow();
      expect(JSON.parse(lines.at(-1)!)).toMatchObject({ level: 'error', msg: 'fatal', code: 'ERR_MPTUN_ADDRESS_IN_USE', error: expect.stringContaining(`udp://127.0.0.1:${port}`) });
    } finally {
      taken.close();
      keys.cleanup();
    }
  });

  it('warns when the authorized-keys file lists no key', async () => {
    const keys = await writeKeyFiles();
    try {
      writeFileSync(keys.authorizedKeys, '# nobody yet\n\n');
      const app = startApp('server', ['run', '--listen', 'udp://127.0.0.1:0', '--key', keys.serverKey, '--authorized-keys', keys.authorizedKeys, '--allow', '127.0.0.1', '--log-format', 'json']);
      const warn = await app.waitForLog((l) => l['level'] === 'warn' && String(l['msg']).startsWith('no client is authorized'));
      expect(warn['authorizedKeysFile']).toBe(keys.authorizedKeys);
      await app.waitForLog((l) => l['msg'] === 'server started');
    } finally {
      await stopAll();
      keys.cleanup();
    }
  });
});
