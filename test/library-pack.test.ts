/**
 * @mptun/node as an outside project meets it: `pnpm build`, `pnpm pack` of @mptun/node and
 * every workspace package it depends on, checks on what the tarballs hold (exports, type
 * maps, dependency specs), then a fresh project outside the workspace `npm install`s the
 * tarballs, type-checks a consumer (a misspelled event and a missing keypair must not
 * compile) and runs README.md's library example as written: an echo over real loopback
 * paths.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repoRoot = resolve(import.meta.dirname, '..');
const MiB = 1024 * 1024;

interface Manifest {
  name: string;
  version: string;
  exports?: unknown;
  dependencies?: Record<string, string>;
}

function manifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
}

/** Workspace package directories by name. */
function workspacePackages(): Map<string, string> {
  const byName = new Map<string, string>();
  for (const group of ['packages', 'apps']) {
    for (const d of readdirSync(join(repoRoot, group))) {
      const dir = join(repoRoot, group, d);
      if (existsSync(join(dir, 'package.json'))) byName.set(manifest(dir).name, dir);
    }
  }
  byName.set(manifest(join(repoRoot, 'tools')).name, join(repoRoot, 'tools'));
  return byName;
}

/** `name` and every workspace package it depends on, directly or not. */
function closure(name: string, all: Map<string, string>, seen = new Set<string>()): Set<string> {
  if (seen.has(name)) return seen;
  seen.add(name);
  for (const dep of Object.keys(manifest(all.get(name)!).dependencies ?? {})) if (all.has(dep)) closure(dep, all, seen);
  return seen;
}

/** Every string value under `exports`, and every condition name used. */
function exportTargets(exp: unknown, out = { paths: [] as string[], conditions: new Set<string>() }): typeof out {
  if (typeof exp === 'string') out.paths.push(exp);
  else if (exp && typeof exp === 'object') {
    for (const [k, v] of Object.entries(exp)) {
      if (!k.startsWith('.')) out.conditions.add(k);
      exportTargets(v, out);
    }
  }
  return out;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => join(dir, f)).filter((f) => statSync(f).isFile());
}

/** README.md's TypeScript block under "As a library". */
function readmeExample(): string {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## As a library'));
  const m = /```ts\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('README.md has no ```ts block under "## As a library"');
  return m[1]!;
}

/** A consumer that only type-checks: typed events, required keys, the key helpers. */
const TYPES_CONSUMER = `
import { MptcpClient, createServer, connect, encodeKey, decodeKey, newKeypair, type MptcpSocket, type SubflowInfo } from '@mptun/node';

const keys = await newKeypair();
const text: string = encodeKey(keys.publicKey);
const raw: Uint8Array = decodeKey(text);

const server = createServer({ listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }], keypair: keys, authorizedKeys: [raw] });
server.on('connection', (s: MptcpSocket) => s.destroy());
// @ts-expect-error a misspelled server event
server.on('conection', () => {});

const client = new MptcpClient({ transport: 'udp', server: '127.0.0.1:1', keypair: keys, serverPublicKey: keys.publicKey });
client.on('path-up', (p) => p.localAddress.toUpperCase());
// @ts-expect-error a misspelled client event
client.on('path-upp', () => {});

const socket = client.connect();
socket.on('subflow-up', (s: SubflowInfo) => s.srttMs.toFixed());
socket.on('data', (chunk) => chunk.byteLength);
// @ts-expect-error a misspelled socket event
socket.on('subflow-upp', () => {});
// @ts-expect-error a listener of the wrong shape
socket.on('subflow-down', (s: SubflowInfo) => s.srttMs);

// @ts-expect-error sealed UDP needs the client's keypair
new MptcpClient({ transport: 'udp', server: '127.0.0.1:1', serverPublicKey: keys.publicKey });
// @ts-expect-error sealed UDP needs the server's public key
connect({ transport: 'ws', server: '127.0.0.1:1', keypair: keys });
// @ts-expect-error a sealed listener needs the server's keypair
createServer({ listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }], authorizedKeys: [raw] });
// Plain tcp-in-udp has no keys at all.
new MptcpClient({ transport: 'udp-plain', server: '127.0.0.1:1' });
createServer({ listen: [{ transport: 'udp-plain', host: '127.0.0.1', port: 0 }] });
`;

describe('@mptun/node from packed tarballs', () => {
  const work: string[] = [];
  afterAll(async () => {
    for (const d of work) await rm(d, { recursive: true, force: true });
  });

  it('packs with exports, types and maps that resolve; an outside project type-checks and runs the README example', async () => {
    const step = (what: string): void => console.log(`[library-pack] ${what}`);

    step('pnpm build');
    await run('pnpm', ['build'], { cwd: repoRoot, timeout: 600_000, maxBuffer: 16 * MiB });

    const all = workspacePackages();
    const names = [...closure('@mptun/node', all)].sort();
    step(`packing ${names.join(', ')}`);
    const packDir = await mkdtemp(join(tmpdir(), 'mptun-pack-'));
    work.push(packDir);
    const tarballs = new Map<string, string>();
    for (const name of names) {
      const before = new Set(readdirSync(packDir));
      await run('pnpm', ['pack', '--pack-destination', packDir], { cwd: all.get(name)!, timeout: 120_000 });
      const made = readdirSync(packDir).filter((f) => !before.has(f) && f.endsWith('.tgz'));
      expect(made, `one tarball for ${name}`).toHaveLength(1);
      tarballs.set(name, join(packDir, made[0]!));
    }

    step('checking what each tarball holds');
    for (const [name, tgz] of tarballs) {
      const dir = join(packDir, 'x', name.replace('/', '+'));
      await mkdir(dir, { recursive: true });
      await run('tar', ['-xzf', tgz, '-C', dir]);
      const root = join(dir, 'package');
      const m = manifest(root);
      const { paths, conditions } = exportTargets(m.exports);
      expect([...conditions], `${name}: export conditions`).not.toContain('source');
      expect(paths.length, `${name}: export targets`).toBeGreaterThan(0);
      for (const p of paths) expect(existsSync(join(root, p)), `${name}: exports target ${p} is in the tarball`).toBe(true);
      for (const [dep, spec] of Object.entries(m.dependencies ?? {})) expect(spec, `${name}: dependency ${dep}`).not.toMatch(/^workspace:/);
      expect(existsSync(join(root, 'LICENSE')), `${name}: LICENSE`).toBe(true);
      const maps = filesUnder(root).filter((f) => f.endsWith('.d.ts.map'));
      expect(maps.length, `${name}: declaration maps`).toBeGreaterThan(0);
      for (const map of maps) {
        const { sources } = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] };
        for (const s of sources) {
          const target = resolve(dirname(map), s);
          expect(existsSync(target), `${name}: ${relative(root, map)} points at ${s}, which must be in the tarball`).toBe(true);
        }
      }
    }

    step('a fresh project outside the workspace: npm install of the tarballs');
    const app = await mkdtemp(join(tmpdir(), 'mptun-consumer-'));
    work.push(app);
    expect(relative(repoRoot, app).startsWith('..'), 'the consumer lives outside the workspace').toBe(true);
    const deps = Object.fromEntries([...tarballs].map(([name, tgz]) => [name, `file:${tgz}`]));
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'mptun-consumer', private: true, type: 'module', dependencies: deps }, null, 2));
    await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', '@types/node@20'], { cwd: app, timeout: 300_000 });
    const installed = manifest(join(app, 'node_modules/@mptun/node'));
    expect(installed.version).toBe(manifest(all.get('@mptun/node')!).version);

    step('tsc --noEmit on a consumer of the types, then tsc on the README example');
    await writeFile(join(app, 'types.ts'), TYPES_CONSUMER);
    await writeFile(join(app, 'readme.ts'), readmeExample());
    const compilerOptions = { strict: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', types: ['node'], skipLibCheck: false, outDir: 'out' };
    await writeFile(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['types.ts', 'readme.ts'] }, null, 2));
    const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
    const check = await run(process.execPath, [tsc, '-p', app, '--noEmit'], { cwd: app, timeout: 300_000 }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? String(e) }));
    expect(check.stdout, 'tsc --noEmit output').toBe('');
    await writeFile(join(app, 'tsconfig.build.json'), JSON.stringify({ compilerOptions, files: ['readme.ts'] }, null, 2));
    await run(process.execPath, [tsc, '-p', join(app, 'tsconfig.build.json')], { cwd: app, timeout: 300_000 });

    step('running the README example: an echo over loopback paths');
    const out = await run(process.execPath, [join(app, 'out/readme.js')], { cwd: app, timeout: 60_000 });
    console.log(out.stdout);
    expect(out.stdout).toMatch(/^connection \d+$/m);
    expect(out.stdout).toContain('path up 127.0.0.1 subflows 1');
    expect(out.stdout).toContain('path up 127.0.0.2 subflows 2');
    expect(out.stdout.trim().split('\n').at(-1)).toBe('hello world');
  }, 1_200_000);
});
