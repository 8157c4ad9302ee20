/**
 * SOCKS credentials and exposure through the real mptun-client: the password never on argv,
 * taken from a file or MPTUN_SOCKS_PASS; a warning for an open proxy on a non-loopback address.
 */
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, startClientCli, startServerCli, writeKeyFiles, type AppProcess, type KeyFiles } from '../../server/test/cli-apps.js';

/** RFC 1929 username/password sub-negotiation; resolves with its status (0 = accepted). */
function socksLogin(port: number, user: string, pass: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let stage = 0;
    s.on('error', reject);
    s.on('connect', () => s.write(Buffer.from([5, 1, 2])));
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (stage === 0 && buf.length >= 2) {
        if (buf[1] !== 2) return reject(new Error(`server chose method ${buf[1]}`));
        buf = buf.subarray(2);
        stage = 1;
        s.write(Buffer.concat([Buffer.from([1, user.length]), Buffer.from(user), Buffer.from([pass.length]), Buffer.from(pass)]));
      }
      if (stage === 1 && buf.length >= 2) {
        s.destroy();
        resolve(buf[1]!);
      }
    });
  });
}

describe('mptun-client SOCKS secrets', () => {
  let keys: KeyFiles;
  let server: AppProcess;
  // A real server, so that each client's paths come up and it shuts down at once; the SOCKS
  // handshakes tested here are local to the client.
  let SERVER_PORT: number;
  beforeAll(async () => {
    keys = await writeKeyFiles();
    const s = await startServerCli(keys, ['--allow', '127.0.0.1/32:9']);
    server = s.cli;
    SERVER_PORT = s.port;
  }, 30_000);
  afterAll(async () => {
    await server.stop();
    keys.cleanup();
  });

  /** Start the client with `flags` and `env`, try each password as `user`, stop it; the RFC 1929 statuses. */
  const loginsWith = async (flags: string[], env: NodeJS.ProcessEnv, user: string, passwords: string[]): Promise<number[]> => {
    const { cli, socksPort } = await startClientCli(keys, SERVER_PORT, flags, env);
    try {
      const out: number[] = [];
      for (const p of passwords) out.push(await socksLogin(socksPort, user, p));
      return out;
    } finally {
      await cli.stop();
    }
  };

  it('refuses --socks-pass on the command line and says how to give it', async () => {
    const cli = startApp('client', ['run', '--server', `127.0.0.1:${SERVER_PORT}`, '--server-key', keys.serverPublic, '--key', keys.clientKey, '--socks-user', 'alice', '--socks-pass', 'hunter2']);
    expect((await cli.exited).code).toBe(64); // a usage error (exit-code scheme)
    expect(cli.output()).toContain('visible to every local user');
    expect(cli.output()).toContain('--socks-pass-file');
    expect(cli.output()).toContain('MPTUN_SOCKS_PASS');
  }, 30_000);

  it('takes the password from MPTUN_SOCKS_PASS', async () => {
    const logins = await loginsWith(['--socks-user', 'alice'], { MPTUN_SOCKS_PASS: 's3cret' }, 'alice', ['s3cret', 'wrong']);
    expect(logins[0]).toBe(0);
    expect(logins[1]).not.toBe(0);
  }, 30_000);

  it('takes the password from --socks-pass-file (first line)', async () => {
    const file = join(keys.dir, 'socks.pass');
    writeFileSync(file, 'from-file\n', { mode: 0o600 });
    const logins = await loginsWith(['--socks-user', 'bob', '--socks-pass-file', file], { MPTUN_SOCKS_PASS: 'ignored' }, 'bob', ['from-file', 'ignored']);
    expect(logins[0]).toBe(0);
    expect(logins[1]).not.toBe(0);
  }, 30_000);

  it('warns when the proxy listens beyond loopback without credentials, and only then', async () => {
    const open = startApp('client', ['run', '--server', `127.0.0.1:${SERVER_PORT}`, '--server-key', keys.serverPublic, '--key', keys.clientKey, '--socks', '0.0.0.0:0']);
    try {
      await open.waitFor(/SOCKS5 proxy listening" address=0\.0\.0\.0:\d+/);
      expect(open.output()).toMatch(/SOCKS5 proxy without credentials beyond loopback: anyone who can reach this address can use the tunnel" address=0\.0\.0\.0/);
    } finally {
      await open.stop();
    }
    const guarded = startApp('client', ['run', '--server', `127.0.0.1:${SERVER_PORT}`, '--server-key', keys.serverPublic, '--key', keys.clientKey, '--socks', '0.0.0.0:0', '--socks-user', 'alice'], { env: { MPTUN_SOCKS_PASS: 'x' } });
    try {
      await guarded.waitFor(/SOCKS5 proxy listening" address=0\.0\.0\.0:\d+/);
      expect(guarded.output()).not.toContain('without credentials');
    } finally {
      await guarded.stop();
    }
  }, 30_000);
});
