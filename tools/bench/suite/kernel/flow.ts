/**
 * One bulk transfer between the namespaces with flow.py: the server in the server
 * namespace, the client in the client namespace, MPTCP or plain TCP. The receiving side
 * reports delivered bytes (and the rx counters of its interfaces) every `sampleMs`.
 */
import { PythonChild } from './exec.js';

const LISTEN_TIMEOUT_MS = 10_000;
/** Beyond the transfer itself: connection setup, the sender's grace period, exit. */
const EXIT_SLACK_MS = 15_000;

export interface FlowSample {
  /** Seconds since the connection was established, on the receiver. */
  t: number;
  /** Payload bytes delivered so far. */
  bytes: number;
  /** rx_bytes of each listed interface at that moment (link-layer bytes, all traffic). */
  ifaces: Record<string, number>;
}

export interface FlowResult {
  /** The receiver's CLOCK_MONOTONIC at t = 0. */
  startMono: number;
  /** Whether the receiving socket still ran MPTCP (false: fell back to TCP, or plain TCP). */
  mptcp: boolean;
  samples: FlowSample[];
  /** The receiver's closing line: bytes it got and the check of their content (flow.py's pattern). */
  end: FlowEnd | null;
}

export interface FlowEnd {
  bytes: number;
  /** Whether the sender closed before the receiver's window was over. */
  eof: boolean;
  /** Stream offset of the first byte that was not the pattern's byte there; null when all were. */
  firstMismatch: number | null;
}

/** The receiver's "end" line, or null if `obj` is not a well-formed one. */
export function toEnd(obj: Record<string, unknown>): FlowEnd | null {
  if (obj.event !== 'end' || typeof obj.bytes !== 'number' || !Number.isFinite(obj.bytes)) return null;
  const fm = obj.firstMismatch;
  return { bytes: obj.bytes, eof: obj.eof === true, firstMismatch: typeof fm === 'number' && Number.isFinite(fm) ? fm : null };
}

export interface FlowOptions {
  proto: 'mptcp' | 'tcp';
  /** down: the server sends to the client; up: the client sends to the server. */
  direction: 'down' | 'up';
  seconds: number;
  sampleMs: number;
  clientNs: string;
  serverNs: string;
  serverAddress: string;
  port: number;
  /** Where the client connects ("host:port"), when not the server itself (e.g. a tunnel's local forward). */
  connect?: string;
  /** Interfaces whose rx counters the receiver samples (in its own namespace). */
  receiverIfaces: string[];
  /** Congestion control of both sockets (TCP_CONGESTION), e.g. "cubic". */
  cc: string;
  /** Called once the receiver has its connection (its monotonic time), e.g. to schedule a cut. */
  onStart?: (startMono: number) => void;
}

/** A receiver's JSON line as a sample, or undefined if it is not one. */
export function toSample(obj: Record<string, unknown>): FlowSample | undefined {
  if ('event' in obj) return undefined;
  const { t, bytes, ifaces } = obj;
  if (typeof t !== 'number' || typeof bytes !== 'number' || !Number.isFinite(t) || !Number.isFinite(bytes)) return undefined;
  const counters: Record<string, number> = {};
  if (typeof ifaces === 'object' && ifaces !== null) {
    for (const [k, v] of Object.entries(ifaces)) if (typeof v === 'number' && v >= 0) counters[k] = v;
  }
  return { t, bytes, ifaces: counters };
}

export async function runFlow(o: FlowOptions): Promise<FlowResult> {
  const samples: FlowSample[] = [];
  let startMono = Number.NaN;
  let mptcp = false;
  let end: FlowEnd | null = null;
  const onReceiverLine = (obj: Record<string, unknown>): void => {
    if (obj.event === 'start' && typeof obj.mono === 'number') {
      startMono = obj.mono;
      mptcp = obj.mptcp === true;
      o.onStart?.(startMono);
      return;
    }
    end ??= toEnd(obj);
    const s = toSample(obj);
    if (s && samples.length < 100_000) samples.push(s);
  };
  let listening: () => void = () => {};
  const listeningP = new Promise<void>((resolve) => (listening = resolve));
  const serverArgs = ['serve', '--proto', o.proto, '--bind', o.serverAddress, '--port', String(o.port), '--cc', o.cc];
  const server = new PythonChild('flow server', o.serverNs, 'flow.py', serverArgs, (obj) => {
    if (obj.event === 'listening') listening();
    else if (o.direction === 'up') onReceiverLine(obj);
  });
  let client: PythonChild | undefined;
  try {
    await Promise.race([
      listeningP,
      server.exit(LISTEN_TIMEOUT_MS).then((code) => {
        throw new Error(`flow server exited (${code}) before listening: ${server.stderr}`);
      }),
    ]);
    const clientArgs = ['client', '--proto', o.proto, '--connect', o.connect ?? `${o.serverAddress}:${o.port}`, '--mode', o.direction === 'down' ? 'recv' : 'send', '--seconds', String(o.seconds), '--sample-ms', String(o.sampleMs), '--cc', o.cc];
    // The client samples these itself when it receives, or hands them to the receiving server.
    clientArgs.push('--ifaces', o.receiverIfaces.join(','));
    client = new PythonChild('flow client', o.clientNs, 'flow.py', clientArgs, (obj) => {
      if (o.direction === 'down') onReceiverLine(obj);
    });
    const budget = o.seconds * 1000 + EXIT_SLACK_MS;
    const [cc, sc] = await Promise.all([client.exit(budget), server.exit(budget)]);
    if (cc !== 0 || sc !== 0) throw new Error(`flow ${o.proto} ${o.direction} failed (client ${cc}, server ${sc}): ${client.stderr} ${server.stderr}`);
    if (!Number.isFinite(startMono) || samples.length < 2) throw new Error(`flow ${o.proto} ${o.direction}: the receiver reported no timeline`);
    return { startMono, mptcp, samples, end };
  } finally {
    await client?.stop();
    await server.stop();
  }
}
