/**
 * `--pcap FILE` on the real apps: mptun-server and mptun-client started as their bins,
 * curl fetching a file through the client's SOCKS5 proxy, and tshark (with its MPTCP
 * analysis on) reading both captures: MPTCP options present, the packets in the path's
 * address family, and no expert error. Once over two IPv4 paths, once over IPv6 (::1).
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeKey, generateKeypair, loadCrypto } from '../packages/session/src/index.js';
import { startFileServer, type FileServer } from '../apps/demo/src/index.js';
import { Children, freePort, sha256File, skipWithout } from './support.js';

const KiB = 1024;
const repoRoot = join(import.meta.dirname, '..');
const missingTool = skipWithout('tshark') || skipWithout('curl');

/** The app's entry run from source, as the other bin tests do. */
function appArgs(app: 'client' | 'server', args: string[]): string[] {
  return ['--conditions=source', '--import', 'tsx', join(repoRoot, `apps/${app}/src/main.ts`), ...args];
}

/** Resolves with the first stderr line matching `pattern` (its match); rejects if the process exits first. */
function waitForStderr(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`${pattern} did not appear within ${timeoutMs} ms; stderr: ${seen}`)), timeoutMs);
    child.stderr!.on('data', (d: Buffer) => {
      seen += d.toString();
      const m = pattern.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before ${pattern} appeared; stderr: ${seen}`));
    });
  });
}

function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  return exited;
}

/**
 * MPTCP analysis on (tshark 4 names it mptcp.analyze_mptcp; older releases tcp.analyze_mptcp),
 * with DSN mappings and both checksums checked, so a wrong byte shows as an expert error.
 */
const ANALYSIS = [
  ['tcp.analyze_sequence_numbers', 'TRUE'],
  ['tcp.check_checksum', 'TRUE'],
  ['ip.check_checksum', 'TRUE'],
  ['mptcp.analyze_mptcp', 'TRUE'],
  ['mptcp.analyze_mappings', 'TRUE'],
  ['mptcp.relative_sequence_numbers', 'TRUE'],
  // No reassembly: a heuristic dissector that claims the random payload (Thrift once did, in the
  // kernel interop captures) would make tshark copy the stream again for every segment.
  ['tcp.desegment_tcp_streams', 'FALSE'],
].flatMap(([k, v]) => ['-o', `${k}:${v}`]).concat(
  // The data inside the segments is the tunnel's own stream (a tunnel header, then whatever the
  // test sends); HTTP's heuristics would read the file's random bytes as a malformed header.
  ['--disable-protocol', 'http'],
);

function tshark(args: string[]): string {
  const r = spawnSync('tshark', [...ANALYSIS, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tshark ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** What tshark says about one capture: expert summary, and per MPTCP frame its IP version and MPTCP subtypes. */
function readCapture(file: string): { expert: string; frames: Array<{ ipVersion: string; subtypes: string[]; payload: number }> } {
  const expert = tshark(['-r', file, '-q', '-z', 'expert']);
  const rows = tshark(['-r', file, '-Y', 'mptcp', '-T', 'fields', '-e', 'ip.version', '-e', 'ipv6.version', '-e', 'tcp.options.mptcp.subtype', '-e', 'tcp.len']);
  const frames = rows
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [v4 = '', v6 = '', subtypes = '', len = '0'] = l.split('\t');
      return { ipVersion: v4 || v6, subtypes: subtypes.split(',').filter((s) => s !== ''), payload: Number(len) || 0 };
    });
  return { expert, frames };
}

describe.skipIf(missingTool)('--pcap on mptun-client and mptun-server', () => {
  const children = new Children();
  let files: FileServer | null = null;
  let dir: string | null = null;

  afterEach(async () => {
    children.killAll();
    await files?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    files = dir = null;
  });

  for (const family of [
    // Two IPv4 paths (a second subflow joins: MP_JOIN), one IPv6 path (::1 is the only IPv6 loopback).
    { name: 'IPv4', host: '127.0.0.1', paths: ['127.0.0.1', '127.0.0.2'], ipVersion: '4' },
    { name: 'IPv6', host: '::1', paths: ['::1'], ipVersion: '6' },
  ]) {
    it(`captures real SOCKS traffic over ${family.name} (${family.paths.join(' + ')}); tshark reads MPTCP with no expert errors`, async () => {
      dir = await mkdtemp(join(tmpdir(), 'mptun-pcap-'));
      const crypto = await loadCrypto();
      const serverKeys = generateKeypair(crypto);
      const clientKeys = generateKeypair(crypto);
      await writeFile(join(dir, 'server.key'), `${encodeKey(serverKeys.privateKey)}\n`, { mode: 0o600 });
      await writeFile(join(dir, 'client.key'), `${encodeKey(clientKeys.privateKey)}\n`, { mode: 0o600 });
      await writeFile(join(dir, 'clients'), `${encodeKey(clientKeys.publicKey)}\n`);
      files = await startFileServer('127.0.0.1', { 'file.bin': 768 * KiB });
      const serverPcap = join(dir, 'server.pcap');
      const clientPcap = join(dir, 'client.pcap');
      const bracketed = family.host.includes(':') ? `[${family.host}]` : family.host;

      const server = children.start(process.execPath, appArgs('server', [
        'run', '--listen', `udp://${bracketed}:0`, '--key', join(dir, 'server.key'), '--authorized-keys', join(dir, 'clients'),
        '--allow', '127.0.0.1', '--drain', '1s', '--log-format', 'json', '--pcap', serverPcap,
      ]));
      const listening = await waitForStderr(server, /"msg":"listening"[^\n]*"address":"[^"]*:(\d+)"/, 60_000);
      const serverPort = Number(listening[1]);

      const socksPort = await freePort();
      const client = children.start(process.execPath, appArgs('client', [
        'run', '--server', `${bracketed}:${serverPort}`, '--server-key', encodeKey(serverKeys.publicKey), '--key', join(dir, 'client.key'),
        ...family.paths.flatMap((p) => ['--path', p]), '--socks', `127.0.0.1:${socksPort}`, '--pcap', clientPcap,
      ]));
      await waitForStderr(client, /SOCKS5 proxy listening/, 60_000);

      const out = join(dir, 'file.bin');
      const curl = await children.run('curl', ['-sS', '--fail', '--max-time', '60', '--socks5-hostname', `127.0.0.1:${socksPort}`, '-o', out, files.url(files.files[0]!.path)], 70_000);
      expect(curl.stderr).toBe('');
      expect(curl.code).toBe(0);
      expect(await sha256File(out)).toBe(files.files[0]!.sha256);

      // SIGTERM: each app closes its capture after its last segment.
      expect(await stop(client)).toBe(0);
      expect(await stop(server)).toBe(0);

      for (const [side, file] of [['client', clientPcap], ['server', serverPcap]] as const) {
        const { expert, frames } = readCapture(file);
        const subtypes = new Set(frames.flatMap((f) => f.subtypes));
        const payload = frames.reduce((n, f) => n + f.payload, 0);
        console.log(`${family.name} ${side} capture: ${frames.length} MPTCP frames carrying ${payload} payload bytes, subtypes ${[...subtypes].join(',')}\n${expert.trim()}`);
        // The 768 KiB file, in segments as large as path MTU discovery allows (64 KiB on loopback), and the request.
        expect(payload, `${side}: TCP payload bytes tshark sees`).toBeGreaterThanOrEqual(768 * KiB);
        expect(subtypes.has('0'), `${side}: MP_CAPABLE`).toBe(true);
        expect(subtypes.has('2'), `${side}: DSS`).toBe(true);
        if (family.paths.length > 1) expect(subtypes.has('1'), `${side}: MP_JOIN`).toBe(true);
        expect(frames.every((f) => f.ipVersion === family.ipVersion), `${side}: every packet is IPv${family.ipVersion}`).toBe(true);
        expect(expert, `${side}: tshark expert errors`).not.toMatch(/^Errors \(/m);
      }
    });
  }
});
