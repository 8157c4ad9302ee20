/**
 * WebSocket transport throughput on loopback, one way (client → server), in Mbit of
 * segment bytes per second: mptun's sealed WebSocket paths over ws:// and wss://, for
 * 16 KiB and 64 KiB segments, with and without bufferutil (ws masks client frames and the
 * server unmasks them in JavaScript without it), beside a bare `ws` socket and a plain
 * node:net TCP pipe moving the same chunks.
 *
 * The runner's benches are synchronous, so each case runs its server and its client in two
 * worker threads (each with its own event loop, as two processes would) and `run()`
 * blocks on Atomics.wait until the server has counted every byte. This same file is the
 * workers' entry point. Figures only.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { PathLink } from '@mptun/core';
import { wsTransport } from '@mptun/transport-ws';
import { loadCrypto } from '@mptun/session';
import type { Bench } from './bench.js';

type Carrier = 'tcp' | 'ws' | 'mptun';

interface BenchCase {
  name: string;
  carrier: Carrier;
  tls: boolean;
  bufferutil: boolean;
  segment: number;
  /** The sealing backend the session should load (mptun cases). */
  crypto: 'sodium-native' | 'libsodium-wrappers';
  /** Mbit per timed sample: about a third of a second at the expected rate. */
  iterations: number;
}

interface WorkerConfig {
  benchRole: 'transport-ws-server' | 'transport-ws-client';
  benchCase: BenchCase;
  control: SharedArrayBuffer;
  serverKey: { publicKey: Uint8Array; privateKey: Uint8Array };
  clientKey: { publicKey: Uint8Array; privateKey: Uint8Array };
  cert: { cert: string; key: string } | null;
}

// Slots of the shared control array.
const PORT = 0; // the server's port, once it listens
const CLIENT_READY = 1; // 1 once the client is connected
const DONE = 2; // bumped by the server each time it has counted the target
const FAILED = 3; // 1 when a worker failed (its error goes to stderr)

const BYTES_PER_MBIT = 125_000;
const HIGH_WATER = 512 * 1024;
const LOW_WATER = 128 * 1024;
const WAIT_LIMIT_MS = 120_000;

// ---------------------------------------------------------------------------------------
// Main thread: the cases and the blocking run().

function x25519Keypair(): { publicKey: Uint8Array; privateKey: Uint8Array } {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  const pub = publicKey.export({ format: 'jwk' }).x!;
  const priv = privateKey.export({ format: 'jwk' }).d!;
  return { publicKey: new Uint8Array(Buffer.from(pub, 'base64url')), privateKey: new Uint8Array(Buffer.from(priv, 'base64url')) };
}

/** A self-signed certificate for 127.0.0.1 from the openssl command, or null without it. */
function selfSignedCertificate(): { cert: string; key: string } | null {
  const dir = mkdtempSync(join(tmpdir(), 'mptun-bench-cert-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
        '-subj', '/CN=mptun bench', '-addext', 'subjectAltName=IP:127.0.0.1',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      { stdio: 'pipe' },
    );
    return { cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8') };
  } catch {
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Which backend the session will seal with: sodium-native when it loads here. */
function sealingBackend(): 'sodium-native' | 'libsodium-wrappers' {
  try {
    createRequire(new URL('../../../../packages/session/package.json', import.meta.url))('sodium-native');
    return 'sodium-native';
  } catch {
    return 'libsodium-wrappers';
  }
}

/** Loads this file in a worker thread, with tsx registered there (hooks do not cross threads). */
function startWorker(config: WorkerConfig): Worker {
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const self = import.meta.url;
  const code = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(self)}); });`;
  const env = { ...process.env };
  if (config.benchCase.bufferutil) delete env.WS_NO_BUFFER_UTIL;
  else env.WS_NO_BUFFER_UTIL = '1'; // read by ws when it loads, so it must be set per worker
  const worker = new Worker(code, { eval: true, workerData: config, env });
  worker.unref(); // the process may end after the last bench whatever the workers do
  worker.on('error', (err) => {
    console.error(`transport-ws bench worker failed: ${err.stack ?? String(err)}`);
    const control = new Int32Array(config.control);
    Atomics.store(control, FAILED, 1);
    Atomics.notify(control, DONE);
  });
  return worker;
}

/** Blocks until control[slot] differs from `from`; throws if a worker failed. */
function waitChange(control: Int32Array, slot: number, from: number): void {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  while (Atomics.load(control, slot) === from) {
    if (Atomics.load(control, FAILED) !== 0) throw new Error('a transport-ws bench worker failed');
    if (Date.now() > deadline) throw new Error('transport-ws bench: no progress for two minutes');
    Atomics.wait(control, slot, from, 100);
  }
  if (Atomics.load(control, FAILED) !== 0) throw new Error('a transport-ws bench worker failed');
}

class CaseRunner {
  private server: Worker | null = null;
  private client: Worker | null = null;
  private control: Int32Array | null = null;
  private target = 0;

  constructor(
    private readonly benchCase: BenchCase,
    private readonly shared: Omit<WorkerConfig, 'benchRole' | 'benchCase' | 'control'>,
    private readonly onStart: (runner: CaseRunner) => void,
  ) {}

  run(mbit: number): number {
    this.ensureStarted();
    const bytes = mbit * BYTES_PER_MBIT;
    this.target += bytes;
    const control = this.control!;
    const done = Atomics.load(control, DONE);
    this.server!.postMessage({ target: this.target });
    this.client!.postMessage({ bytes });
    waitChange(control, DONE, done);
    return bytes;
  }

  stop(): void {
    void this.client?.terminate();
    void this.server?.terminate();
    this.client = this.server = null;
  }

  private ensureStarted(): void {
    if (this.server !== null) return;
    this.onStart(this);
    const sab = new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT);
    this.control = new Int32Array(sab);
    const base = { ...this.shared, benchCase: this.benchCase, control: sab };
    this.server = startWorker({ ...base, benchRole: 'transport-ws-server' });
    waitChange(this.control, PORT, 0);
    this.client = startWorker({ ...base, benchRole: 'transport-ws-client' });
    waitChange(this.control, CLIENT_READY, 0);
  }
}

export function benches(): Bench[] {
  const backend = sealingBackend();
  const cert = selfSignedCertificate();
  const cases: BenchCase[] = [
    { name: 'tcp pipe 16K writes', carrier: 'tcp', tls: false, bufferutil: true, segment: 16384, crypto: backend, iterations: 3000 },
    { name: 'bare ws 16K +bufferutil', carrier: 'ws', tls: false, bufferutil: true, segment: 16384, crypto: backend, iterations: 2000 },
    { name: 'bare ws 16K -bufferutil', carrier: 'ws', tls: false, bufferutil: false, segment: 16384, crypto: backend, iterations: 600 },
  ];
  for (const tls of cert === null ? [false] : [false, true]) {
    for (const segment of [16384, 65536]) {
      for (const bufferutil of [true, false]) {
        cases.push({
          name: `sealed ${tls ? 'wss' : 'ws'} ${segment >> 10}K ${bufferutil ? '+' : '-'}bufferutil`,
          carrier: 'mptun',
          tls,
          bufferutil,
          segment,
          crypto: backend,
          iterations: bufferutil ? 1000 : 500,
        });
      }
    }
  }
  if (backend === 'sodium-native') {
    // The portable fallback, for comparison.
    cases.push({
      name: 'sealed ws 16K, wasm crypto',
      carrier: 'mptun',
      tls: false,
      bufferutil: true,
      segment: 16384,
      crypto: 'libsodium-wrappers',
      iterations: 300,
    });
  }
  console.log(`transport-ws: one way on loopback; 'sealed' = mptun paths sealing with ${backend} ('wasm': libsodium-wrappers)`);
  const shared = { serverKey: x25519Keypair(), clientKey: x25519Keypair(), cert };
  let current: CaseRunner | null = null;
  const onStart = (runner: CaseRunner): void => {
    current?.stop(); // one case's threads at a time on a two-core machine
    current = runner;
  };
  return cases.map((c) => {
    const runner = new CaseRunner(c, shared, onStart);
    return {
      name: c.name,
      unit: 'Mbit',
      iterations: c.iterations,
      run: (n: number) => runner.run(n),
    };
  });
}

// ---------------------------------------------------------------------------------------
// Worker threads: one server and one client per case.

/** The few pieces of `ws` the bare case uses (its types are not visible from tools/). */
interface BareSocket {
  readonly bufferedAmount: number;
  send(data: Buffer, options: { binary: boolean }, cb: (err?: Error) => void): void;
  on(event: 'message', listener: (data: Buffer) => void): void;
  once(event: 'open', listener: () => void): void;
}
interface BareWs {
  WebSocket: new (url: string, options: object) => BareSocket;
  WebSocketServer: new (options: object, callback: () => void) => {
    on(event: 'connection', listener: (ws: BareSocket) => void): void;
    address(): { port: number };
  };
}

function bareWs(): BareWs {
  return createRequire(new URL('../../../../packages/transport-ws/package.json', import.meta.url))('ws') as BareWs;
}

/** Waits for messages from the main thread. */
function onCommand(handler: (msg: { target?: number; bytes?: number }) => void): void {
  parentPort!.on('message', handler);
}

async function runServer(config: WorkerConfig): Promise<void> {
  const control = new Int32Array(config.control);
  const { benchCase } = config;
  let received = 0;
  let target = Infinity;
  const count = (n: number): void => {
    received += n;
    if (received >= target) {
      target = Infinity;
      Atomics.add(control, DONE, 1);
      Atomics.notify(control, DONE);
    }
  };
  onCommand((msg) => {
    if (msg.target === undefined) return;
    target = msg.target;
    count(0);
  });

  let port: number;
  if (benchCase.carrier === 'tcp') {
    const server = net.createServer((socket) => socket.on('data', (chunk: Buffer) => count(chunk.length)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  } else if (benchCase.carrier === 'ws') {
    const { WebSocketServer } = bareWs();
    let server!: InstanceType<BareWs['WebSocketServer']>;
    await new Promise<void>((resolve) => {
      server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 1 << 20 }, resolve);
    });
    server.on('connection', (ws) => ws.on('message', (data) => count(data.length)));
    port = server.address().port;
  } else {
    const clientKey = config.clientKey.publicKey;
    const transport = wsTransport({
      keypair: config.serverKey,
      isAllowed: (key) => Buffer.compare(key, clientKey) === 0,
      crypto: await loadCrypto({ prefer: benchCase.crypto }),
      maxSegment: benchCase.segment,
      highWaterMark: HIGH_WATER,
      lowWaterMark: LOW_WATER,
    });
    const listener = await transport.listen({
      host: '127.0.0.1',
      port: 0,
      ...(benchCase.tls && config.cert !== null ? { tls: config.cert } : {}),
    });
    listener.onPath = (path) => {
      path.onSegment = (segment) => count(segment.length);
    };
    port = listener.local.port;
  }
  Atomics.store(control, PORT, port);
  Atomics.notify(control, PORT);
}

/** Something that takes chunks and says when to stop for a while. */
interface Sink {
  /** false: the chunk was NOT taken (mptun) or was taken but the backlog is full (others). */
  write(chunk: Buffer): 'taken' | 'taken-full' | 'refused';
  drained(): Promise<void>;
}

async function openSink(config: WorkerConfig): Promise<Sink> {
  const { benchCase } = config;
  const port = Atomics.load(new Int32Array(config.control), PORT);
  if (benchCase.carrier === 'tcp') {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2', writableHighWaterMark: HIGH_WATER } as net.NetConnectOpts);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    return {
      write: (chunk) => (socket.write(chunk) ? 'taken' : 'taken-full'),
      drained: () => new Promise((resolve) => socket.once('drain', resolve)),
    };
  }
  if (benchCase.carrier === 'ws') {
    const { WebSocket } = bareWs();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false, localAddress: '127.0.0.2' });
    await new Promise<void>((resolve) => ws.once('open', resolve));
    let wake: (() => void) | null = null;
    const afterWrite = (): void => {
      if (wake !== null && ws.bufferedAmount <= LOW_WATER) {
        const w = wake;
        wake = null;
        w();
      }
    };
    return {
      write: (chunk) => {
        ws.send(chunk, { binary: true }, afterWrite);
        return ws.bufferedAmount >= HIGH_WATER ? 'taken-full' : 'taken';
      },
      drained: () => new Promise((resolve) => (wake = resolve)),
    };
  }
  const transport = wsTransport({
    keypair: config.clientKey,
    serverPublicKey: config.serverKey.publicKey,
    crypto: await loadCrypto({ prefer: benchCase.crypto }),
    maxSegment: benchCase.segment,
    highWaterMark: HIGH_WATER,
    lowWaterMark: LOW_WATER,
    ...(config.cert === null ? {} : { tls: { ca: config.cert.cert } }),
  });
  const scheme = benchCase.tls ? 'wss' : 'ws';
  const path: PathLink = await transport.connect('127.0.0.2', `${scheme}://127.0.0.1:${port}/`);
  return {
    write: (chunk) => (path.send(chunk) ? 'taken' : 'refused'),
    drained: () => new Promise((resolve) => (path.onDrain = resolve)),
  };
}

async function runClient(config: WorkerConfig): Promise<void> {
  const control = new Int32Array(config.control);
  const sink = await openSink(config);
  const full = Buffer.alloc(config.benchCase.segment, 0x5a);
  let queue = Promise.resolve();
  onCommand((msg) => {
    const bytes = msg.bytes;
    if (bytes === undefined) return;
    queue = queue.then(async () => {
      let remaining = bytes;
      while (remaining > 0) {
        const chunk = remaining >= full.length ? full : full.subarray(0, remaining);
        const result = sink.write(chunk);
        if (result !== 'refused') remaining -= chunk.length;
        if (result !== 'taken') await sink.drained();
      }
    });
  });
  Atomics.store(control, CLIENT_READY, 1);
  Atomics.notify(control, CLIENT_READY);
}

if (!isMainThread) {
  const config = workerData as WorkerConfig | undefined;
  if (config?.benchRole === 'transport-ws-server') await runServer(config);
  else if (config?.benchRole === 'transport-ws-client') await runClient(config);
}
