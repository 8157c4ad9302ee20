/**
 * `--transport auto`: per local address, try a UDP path and a WebSocket path at once and
 * keep UDP where it comes up, WebSocket where UDP is blocked. This is the racing idea of
 * RFC 6897 §3.2.1 (try the preferred way and a fallback in parallel, so a middlebox that
 * eats UDP costs a short wait rather than a failure); UDP is preferred because it gives
 * the engine its own loss recovery and congestion control per subflow.
 */
import { MptcpClient, checkClientOptions, type PathSpec, type TransportKind, type UncheckedClientOptions } from '@mptun/node';
type TransportAddress = { host: string; port: number };

export interface RaceOptions {
  /** Options shared by both probes (keys, crypto, server); transport and paths are set here. */
  base: Omit<UncheckedClientOptions, 'transport' | 'paths' | 'localAddresses' | 'backupAddresses' | 'server'>;
  udpServer: TransportAddress;
  wsServer: TransportAddress;
  wsKind: 'ws' | 'wss';
  /** Give up on a probe after this long. Default 3000 ms. */
  timeoutMs?: number;
  /** Once WebSocket is up, how much longer UDP may take and still win. Default 300 ms. */
  udpGraceMs?: number;
}

export interface RaceResult {
  local: string;
  transport: TransportKind;
  /** Did the chosen transport come up during the race (false: neither did; UDP kept). */
  up: boolean;
}

/** Opens one path over one transport and reports whether it came up. */
function probe(local: string, transport: TransportKind, server: TransportAddress, o: RaceOptions): { up: Promise<boolean>; close(): Promise<void> } {
  const client = new MptcpClient(checkClientOptions({ ...o.base, transport, server, localAddresses: [local] }));
  const up = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), o.timeoutMs ?? 3000);
    client.once('path-up', () => {
      clearTimeout(timer);
      resolve(true);
    });
    client.once('path-error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  void client.start();
  return { up, close: () => client.close() };
}

export async function raceTransport(local: string, o: RaceOptions): Promise<RaceResult> {
  const udp = probe(local, 'udp', o.udpServer, o);
  const ws = probe(local, o.wsKind, o.wsServer, o);
  try {
    const first = await Promise.race([udp.up.then((ok) => ({ kind: 'udp' as const, ok })), ws.up.then((ok) => ({ kind: 'ws' as const, ok }))]);
    if (first.kind === 'udp' && first.ok) return { local, transport: 'udp', up: true };
    if (first.kind === 'ws' && first.ok) {
      // WebSocket won: UDP still gets a short grace, as it is the better path when it works.
      const grace = new Promise<boolean>((r) => setTimeout(() => r(false), o.udpGraceMs ?? 300).unref());
      if (await Promise.race([udp.up, grace])) return { local, transport: 'udp', up: true };
      return { local, transport: o.wsKind, up: true };
    }
    // The first to finish failed: the other decides.
    if (first.kind === 'udp') return (await ws.up) ? { local, transport: o.wsKind, up: true } : { local, transport: 'udp', up: false };
    return { local, transport: 'udp', up: await udp.up };
  } finally {
    await Promise.all([udp.close(), ws.close()]);
  }
}

/** Race every address; the result is one PathSpec per address with the winning transport. */
export async function raceTransports(locals: string[], backups: string[], o: RaceOptions): Promise<{ paths: PathSpec[]; results: RaceResult[] }> {
  const all = [...locals.map((l) => ({ l, backup: false })), ...backups.map((l) => ({ l, backup: true }))];
  const results = await Promise.all(all.map(({ l }) => raceTransport(l, o)));
  const paths = results.map((r, i) => ({
    local: r.local,
    transport: r.transport,
    server: r.transport === 'udp' ? o.udpServer : o.wsServer,
    backup: all[i]!.backup,
  }));
  return { paths, results };
}
