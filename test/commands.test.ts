/**
 * The commands a user gets: scripts/install-commands.sh links mptun-server, mptun-client and
 * mptun-linkem into a directory of the PATH, and each bin runs with or without a build.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '..');
const version = (app: string): string => (JSON.parse(readFileSync(join(REPO, 'apps', app, 'package.json'), 'utf8')) as { version: string }).version;

function run(cmd: string, args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd: REPO, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('installed commands', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mptun-commands-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('install-commands.sh links the three commands into BIN_DIR, and each answers --version/--help', () => {
    const binDir = join(dir, 'bin');
    // The build is the script's other half, skipped here: a bin runs the build when there is one, else the sources.
    const install = run('bash', ['scripts/install-commands.sh'], { BIN_DIR: binDir, MPTUN_SKIP_BUILD: '1' });
    expect(install.code).toBe(0);
    const path = `${binDir}:${process.env['PATH']}`;
    expect(run('mptun-client', ['--version'], { PATH: path })).toMatchObject({ code: 0, stdout: `${version('client')}\n` });
    expect(run('mptun-server', ['--version'], { PATH: path })).toMatchObject({ code: 0, stdout: `${version('server')}\n` });
    const linkem = run('mptun-linkem', ['--help'], { PATH: path });
    expect(linkem.code).toBe(0);
    expect(linkem.stdout).toContain('Usage: mptun-linkem');
  });

  it('without a build a bin runs the sources; without sources either it says to build, not ERR_MODULE_NOT_FOUND', () => {
    // An app with no dist/: its bin, its sources and its installed dependencies.
    const tree = join(dir, 'unbuilt');
    mkdirSync(join(tree, 'bin'), { recursive: true });
    copyFileSync(join(REPO, 'apps/client/bin/mptun-client.js'), join(tree, 'bin/mptun-client.js'));
    symlinkSync(join(REPO, 'apps/client/src'), join(tree, 'src'));
    symlinkSync(join(REPO, 'apps/client/node_modules'), join(tree, 'node_modules'));
    expect(run(process.execPath, [join(tree, 'bin/mptun-client.js'), '--version'])).toMatchObject({ code: 0, stdout: `${version('client')}\n` });
    const usage = run(process.execPath, [join(tree, 'bin/mptun-client.js'), 'run', '--no-such-flag']);
    expect(usage.code).toBe(64);

    // A package with neither its build nor its sources.
    const bare = join(dir, 'bare');
    mkdirSync(join(bare, 'bin'), { recursive: true });
    copyFileSync(join(REPO, 'apps/server/bin/mptun-server.js'), join(bare, 'bin/mptun-server.js'));
    symlinkSync(join(REPO, 'apps/server/node_modules'), join(bare, 'node_modules'));
    const r = run(process.execPath, [join(bare, 'bin/mptun-server.js'), '--version']);
    expect(r.code).toBe(69);
    expect(r.stderr).toBe('mptun-server: not built: run `pnpm build` in the repository\n');
  });
});
