/**
 * UDP transport rates on loopback (figures only):
 * - raw node:dgram, 1200-byte datagrams, 127.0.0.2 → 127.0.0.1: datagrams/s and bit/s;
 * - sealed seal+open of a 1200-byte datagram (1168-byte segment) per backend, one core;
 * - sealed UDP through udpTransport (segment 1168 B → 1200 B datagram): datagrams/s per
 *   backend, and bit/s of UDP payload with the default backend.
 *
 * The runner's benches are synchronous, and sockets need an event loop: so each socket
 * test runs a sender and a receiver in two worker threads (the machine has two cores),
 * and run() blocks on a shared counter until the receiver has them all. The sender keeps
 * at most WINDOW datagrams unacknowledged by that counter, so the figure is a lossless
 * rate, not how fast the kernel can drop; a stall of STALL_MS writes the in-flight
 * datagrams off as lost so a run always ends.
 */
import dgram from 'node:dgram';
import { Worker, isMainThread, workerData } from 'node:worker_threads';
import type { Bench } from './bench.js';
import {
  SecureChannel,
  generateKeypair,
  HandshakeInitiator,
  HandshakeResponder,
  libsodiumWrappersBackend,
  sodiumNativeBackend,
  type CryptoBackend,
  type Keypair,
} from '@mptun/session';
import { udpTransport } from '@mptun/transport-udp';

const DATAGRAM = 1200;
const SEGMENT = DATAGRAM - 32; // the sealed overhead: 16-byte header, 16-byte tag
const WINDOW = 512;
const STALL_MS = 50;
const BITS_PER_DATAGRAM = DATAGRAM * 8;

// Slots of the shared control array.
const CMD = 0; // run number, set by main
const TARGET = 1; // datagrams to send in this run
const RECEIVED = 2; // incremented by the receiver per datagram
const DONE = 3; // set to the run number by the sender when the run is over
const PORT = 4; // the receiver's port, once it listens
const READY = 5; // 1 once the sender can send (sealed: handshake done)
const LOST = 6; // datagrams written off in this run

type Kind = 'raw' | 'sealed';
type BackendName = CryptoBackend['name'];

interface WorkerInit {
  mptunUdpBench: true;
  role: 'sender' | 'receiver';
  kind: Kind;
  backend: BackendName;
  sab: SharedArrayBuffer;
  server: Keypair;
  client: Keypair;
}

// ---------------------------------------------------------------- worker side --------

async function backendNamed(name: BackendName): Promise<CryptoBackend> {
  return name === 'sodium-native' ? sodiumNativeBackend() : libsodiumWrappersBackend();
}

async function receiver(init: WorkerInit, ctl: Int32Array): Promise<void> {
  const count = (): void => void Atomics.add(ctl, RECEIVED, 1);
  if (init.kind === 'raw') {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
    socket.setRecvBufferSize(4 << 20);
    socket.on('message', count);
    Atomics.store(ctl, PORT, socket.address().port);
  } else {
    const listener = await udpTransport({
      crypto: await backendNamed(init.backend),
      keypair: init.server,
      authorizedKeys: [init.client.publicKey],
    }).listen({ host: '127.0.0.1', port: 0 });
    listener.onPath = (path) => {
      path.onSegment = count;
    };
    Atomics.store(ctl, PORT, listener.local.port);
  }
  Atomics.notify(ctl, PORT);
}

async function sender(init: WorkerInit, ctl: Int32Array): Promise<void> {
  const remote = { host: '127.0.0.1', port: Atomics.load(ctl, PORT) };
  let send: () => void;
  if (init.kind === 'raw') {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.2', r));
    socket.setSendBufferSize(4 << 20);
    await new Promise<void>((r) => socket.connect(remote.port, remote.host, r));
    const payload = Buffer.alloc(DATAGRAM, 0x5a);
    send = () => socket.send(payload);
  } else {
    const path = await udpTransport({
      crypto: await backendNamed(init.backend),
      keypair: init.client,
      serverPublicKey: init.server.publicKey,
    }).connect('127.0.0.2', remote);
    const segment = new Uint8Array(SEGMENT).fill(0x5a);
    send = () => void path.send(segment);
  }
  let lastRun = 0;
  const poll = (): void => {
    const cmd = Atomics.load(ctl, CMD);
    if (cmd !== lastRun) {
      lastRun = cmd;
      pump(cmd);
    } else {
      setTimeout(poll, 1);
    }
  };
  const pump = (cmd: number): void => {
    const target = Atomics.load(ctl, TARGET);
    let sent = 0;
    let lost = 0;
    let seen = -1;
    let seenAt = Date.now();
    const step = (): void => {
      const received = Atomics.load(ctl, RECEIVED);
      while (sent < target && sent - received - lost < WINDOW) {
        send();
        sent++;
      }
      if (received + lost >= target) {
        Atomics.store(ctl, LOST, lost);
        Atomics.store(ctl, DONE, cmd);
        Atomics.notify(ctl, DONE);
        setTimeout(poll, 1);
        return;
      }
      const now = Date.now();
      if (received !== seen) {
        seen = received;
        seenAt = now;
      } else if (now - seenAt >= STALL_MS) {
        lost = sent - received; // in flight for too long: dropped somewhere
        seenAt = now;
      }
      setImmediate(step);
    };
    step();
  };
  Atomics.store(ctl, READY, 1);
  Atomics.notify(ctl, READY);
  poll();
}

if (!isMainThread && (workerData as WorkerInit | null)?.mptunUdpBench) {
  const init = workerData as WorkerInit;
  const ctl = new Int32Array(init.sab);
  if (init.role === 'receiver') await receiver(init, ctl);
  else {
    while (Atomics.load(ctl, PORT) === 0) await new Promise((r) => setTimeout(r, 1));
    await sender(init, ctl);
  }
}

// ------------------------------------------------------------------ main side --------

/** A sender and a receiver worker, started on first use. */
class WorkerPair {
  private ctl: Int32Array | null = null;
  private workers: Worker[] = [];
  lost = 0;

  constructor(
    private readonly kind: Kind,
    private readonly backend: BackendName,
    private readonly keys: { server: Keypair; client: Keypair },
  ) {}

  /** Sends `n` datagrams and blocks until the receiver has them (or they were written off). */
  run(n: number): number {
    const ctl = this.ctl ?? this.start();
    Atomics.store(ctl, TARGET, n);
    Atomics.store(ctl, RECEIVED, 0);
    const cmd = Atomics.add(ctl, CMD, 1) + 1;
    for (let d = Atomics.load(ctl, DONE); d !== cmd; d = Atomics.load(ctl, DONE)) {
      if (Atomics.wait(ctl, DONE, d, 60_000) === 'timed-out') throw new Error('UDP bench worker stopped answering');
    }
    this.lost += Atomics.load(ctl, LOST);
    return Atomics.load(ctl, RECEIVED);
  }

  private start(): Int32Array {
    const sab = new SharedArrayBuffer(8 * 4);
    const ctl = new Int32Array(sab);
    // Workers get no TypeScript loader of their own: register tsx in each, then load this file.
    const api = import.meta.resolve('tsx/esm/api');
    const boot = `import { register } from ${JSON.stringify(api)}; register(); await import(${JSON.stringify(import.meta.url)});`;
    for (const role of ['receiver', 'sender'] as const) {
      const init: WorkerInit = { mptunUdpBench: true, role, kind: this.kind, backend: this.backend, sab, ...this.keys };
      const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { workerData: init });
      worker.unref(); // the runner has no teardown: never keep the process alive
      this.workers.push(worker);
    }
    if (Atomics.wait(ctl, READY, 0, 30_000) === 'timed-out' && Atomics.load(ctl, READY) === 0) {
      throw new Error('UDP bench workers did not start');
    }
    this.ctl = ctl;
    return ctl;
  }
}

function sealOpenBench(crypto: CryptoBackend): Bench {
  const server = generateKeypair(crypto);
  const client = generateKeypair(crypto);
  const initiator = new HandshakeInitiator(crypto, { staticKeypair: client, serverPublicKey: server.publicKey });
  const responder = new HandshakeResponder(crypto, { staticKeypair: server, isAllowed: () => true });
  const pending = initiator.initiate(Date.now(), 1);
  const r = responder.consumeInitiation(pending.message, { now: Date.now(), source: 'bench', underLoad: false, allocateIndex: () => 2 });
  if (r.kind !== 'accept') throw new Error('bench handshake failed');
  const sealer = new SecureChannel(crypto, pending.consumeResponse(r.response)!, 0);
  const opener = new SecureChannel(crypto, r.keys, 0);
  const segment = new Uint8Array(SEGMENT).fill(0x5a);
  return {
    name: `seal+open-${DATAGRAM}B/${crypto.name}`,
    unit: 'pkt',
    iterations: crypto.name === 'sodium-native' ? 100_000 : 30_000,
    run(n) {
      let sink = 0;
      for (let i = 0; i < n; i++) sink += opener.open(sealer.seal(segment))!.length;
      return sink;
    },
  };
}

const backends: CryptoBackend[] = isMainThread
  ? [await libsodiumWrappersBackend(), ...(await sodiumNativeBackend().then((b) => [b], () => []))]
  : [];

export function benches(): Bench[] {
  const defaultBackend = backends.at(-1)!; // sodium-native when it loads, as loadCrypto() picks
  const keys = { server: generateKeypair(defaultBackend), client: generateKeypair(defaultBackend) };
  const raw = new WorkerPair('raw', defaultBackend.name, keys);
  const sealedDefault = new WorkerPair('sealed', defaultBackend.name, keys);
  const list: Bench[] = [
    { name: `raw-dgram-${DATAGRAM}B`, unit: 'dgram', iterations: 100_000, run: (n) => raw.run(n) },
    {
      name: `raw-dgram-${DATAGRAM}B-bits`,
      unit: 'bit',
      iterations: 100_000 * BITS_PER_DATAGRAM,
      run: (n) => raw.run(Math.ceil(n / BITS_PER_DATAGRAM)),
    },
    ...backends.map(sealOpenBench),
  ];
  for (const crypto of backends) {
    const pair = crypto === defaultBackend ? sealedDefault : new WorkerPair('sealed', crypto.name, keys);
    list.push({ name: `sealed-udp-${DATAGRAM}B/${crypto.name}`, unit: 'dgram', iterations: 50_000, run: (n) => pair.run(n) });
  }
  list.push({
    name: `sealed-udp-${DATAGRAM}B-bits/${defaultBackend.name}`,
    unit: 'bit',
    iterations: 50_000 * BITS_PER_DATAGRAM,
    run: (n) => sealedDefault.run(Math.ceil(n / BITS_PER_DATAGRAM)),
  });
  return list;
}
