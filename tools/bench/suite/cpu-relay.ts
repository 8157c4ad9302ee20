/**
 * The CPU section's reference: a plain Node TCP relay in its own process — a net.Server
 * whose every connection is piped to the target and back — doing the tunnel's job (carry a
 * TCP connection from the client side to the sink) with nothing in between.
 *
 * Parent side: `startTcpRelay(target)`. Child side: this module, forked by RigChild.
 */
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { childArg, processSample, RigChild, serveParent, type ProcessSample } from '../rig/ipc.js';
import type { HostPort } from '../rig/traffic.js';

export interface TcpRelay {
  readonly listen: HostPort;
  readonly pid: number;
  /** CPU and memory; with `gc`, after a full collection (start the relay with --expose-gc). */
  sample(gc?: boolean): Promise<ProcessSample>;
  close(): Promise<void>;
}

export async function startTcpRelay(target: HostPort, execArgv: string[] = []): Promise<TcpRelay> {
  const child = await RigChild.start<{ listen: HostPort }>('tcp relay', fileURLToPath(import.meta.url), { target }, execArgv);
  return {
    listen: child.ready.listen,
    pid: child.pid,
    sample: (gc = false) => child.request<ProcessSample>(gc ? 'gcSample' : 'sample'),
    close: () => child.stop(),
  };
}

/** Runs in the child: relay every accepted connection to `target`. */
async function serveRelay(target: HostPort): Promise<void> {
  const pairs = new Set<net.Socket>();
  // Half-open allowed both ways: a client's FIN travels on to the target and back, as in the tunnel.
  const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (downstream) => {
    const upstream = net.connect({ host: target.host, port: target.port, noDelay: true, allowHalfOpen: true });
    pairs.add(downstream);
    pairs.add(upstream);
    // An error on either side ends both; otherwise each closes once its FINs have gone both
    // ways (pipe() forwards the end after the last byte, and gives backpressure both ways).
    const abort = (): void => {
      downstream.destroy();
      upstream.destroy();
    };
    downstream.on('error', abort).once('close', () => pairs.delete(downstream));
    upstream.on('error', abort).once('close', () => pairs.delete(upstream));
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const a = server.address() as net.AddressInfo;
  serveParent(
    { listen: { host: a.address, port: a.port } },
    {
      sample: () => processSample(),
      gcSample: () => {
        globalThis.gc?.();
        return processSample();
      },
    },
    async () => {
      for (const s of pairs) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  );
}

// Only the forked child has the IPC channel and its argument; the parent just imports the API.
if (process.send && process.argv[1] === fileURLToPath(import.meta.url)) {
  await serveRelay(childArg<{ target: HostPort }>().target);
}
