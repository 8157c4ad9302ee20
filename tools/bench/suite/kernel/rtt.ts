/**
 * 1 KB request/response round trips between the namespaces with rtt.py: an echo server in
 * the server namespace (TCP or the kernel's MPTCP) and a client in the client namespace
 * that times each exchange.
 */
import { PythonChild } from './exec.js';

const LISTEN_TIMEOUT_MS = 10_000;
const EXIT_SLACK_MS = 20_000;

export interface EchoServer {
  stop(): Promise<void>;
}

/** `ns` undefined: the host's namespace. */
export async function startEchoServer(o: { ns: string | undefined; proto: 'mptcp' | 'tcp'; bind: string; port: number }): Promise<EchoServer> {
  let listening: () => void = () => {};
  const up = new Promise<void>((resolve) => (listening = resolve));
  const child = new PythonChild(`echo server ${o.proto}`, o.ns, 'rtt.py', ['serve', '--proto', o.proto, '--bind', o.bind, '--port', String(o.port)], (obj) => {
    if (obj.event === 'listening') listening();
  });
  try {
    await Promise.race([
      up,
      child.exit(LISTEN_TIMEOUT_MS).then((code) => {
        throw new Error(`echo server exited (${code}) before listening: ${child.stderr}`);
      }),
    ]);
  } catch (e) {
    await child.stop();
    throw e;
  }
  return { stop: () => child.stop() };
}

export interface RoundTrips {
  rttsMs: number[];
  /** One exchange took longer than rtt.py's timeout, which ended the run early. */
  timedOut: boolean;
}

/** Round trips from the client namespace to `connect` for `seconds`, after `warmupSeconds` not recorded. */
export async function roundTrips(o: { ns: string | undefined; proto: 'mptcp' | 'tcp'; connect: string; size: number; warmupSeconds: number; seconds: number }): Promise<RoundTrips> {
  const rttsMs: number[] = [];
  let timedOut = false;
  const args = ['client', '--proto', o.proto, '--connect', o.connect, '--size', String(o.size), '--warmup-s', String(o.warmupSeconds), '--seconds', String(o.seconds)];
  const child = new PythonChild(`echo client ${o.proto}`, o.ns, 'rtt.py', args, (obj) => {
    if (Array.isArray(obj.rtts)) for (const v of obj.rtts) if (typeof v === 'number' && Number.isFinite(v) && v >= 0) rttsMs.push(v);
    if (obj.event === 'timeout') timedOut = true;
  });
  try {
    const code = await child.exit((o.warmupSeconds + o.seconds) * 1000 + EXIT_SLACK_MS);
    if (code !== 0) throw new Error(`echo client ${o.proto} to ${o.connect} failed (${code}): ${child.stderr}`);
    return { rttsMs, timedOut };
  } finally {
    await child.stop();
  }
}
