/**
 * A UDP relay in front of the server that records what the honest client sends, so the
 * attacks can replay real datagrams and forge copies of them: the first initiations, a
 * sample of data datagrams over time, and the most recent ones. It can send such copies
 * from the honest path's own socket (the server then sees the honest source address).
 *
 *   client ─► link emulator ─► CaptureRelay (listen) ─► per-client upstream socket ─► server
 */
import dgram from 'node:dgram';
import { SeededRandom } from '@mptun/core';
import type { HostPort } from '../bench/rig/index.js';

/** Message type bytes of the sealed path session (packages/session/src/messages.ts). */
export const SessionType = { Initiation: 1, Data: 4 } as const;

const RECENT = 64;
const SAMPLE = 256;
/** Keep one data datagram in this many for the long-term sample. */
const SAMPLE_EVERY = 50;
const MAX_FLOWS = 16;
const MAX_INITIATIONS = 8;

export type ReplayMode = 'duplicate' | 'old' | 'bitflip' | 'initiation';

export interface ReplayOrder {
  mode: ReplayMode;
  count: number;
  perSecond: number;
  seed: number;
}

export interface RelayStats {
  up: number;
  down: number;
  injected: number;
  flows: number;
}

interface Flow {
  upstream: dgram.Socket;
  client: HostPort;
}

export class CaptureRelay {
  readonly stats: RelayStats = { up: 0, down: 0, injected: 0, flows: 0 };
  readonly initiations: Buffer[] = [];
  private readonly recent: Buffer[] = [];
  private readonly sample: Buffer[] = [];
  private dataSeen = 0;
  private readonly flows = new Map<string, Flow>();
  /** The first client flow: the honest path the injections ride. */
  private main: Flow | null = null;

  private constructor(
    private readonly listen: dgram.Socket,
    private readonly server: HostPort,
  ) {
    listen.on('message', (msg, rinfo) => this.fromClient(msg, { host: rinfo.address, port: rinfo.port }));
    listen.on('error', () => {});
  }

  static async start(server: HostPort, host = '127.0.0.1'): Promise<CaptureRelay> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, host, () => resolve());
    });
    return new CaptureRelay(s, server);
  }

  get address(): HostPort {
    const a = this.listen.address();
    return { host: a.address, port: a.port };
  }

  private fromClient(msg: Buffer, client: HostPort): void {
    const key = `${client.host}:${client.port}`;
    let flow = this.flows.get(key);
    if (!flow) {
      if (this.flows.size >= MAX_FLOWS) return;
      const upstream = dgram.createSocket('udp4');
      upstream.on('error', () => {});
      upstream.on('message', (reply) => {
        this.stats.down++;
        this.listen.send(reply, client.port, client.host);
      });
      upstream.bind(0, '127.0.0.1');
      flow = { upstream, client };
      this.flows.set(key, flow);
      this.stats.flows = this.flows.size;
      this.main ??= flow;
    }
    this.stats.up++;
    this.record(msg);
    flow.upstream.send(msg, this.server.port, this.server.host);
  }

  private record(msg: Buffer): void {
    if (msg[0] === SessionType.Initiation && this.initiations.length < MAX_INITIATIONS) this.initiations.push(Buffer.from(msg));
    if (msg[0] !== SessionType.Data) return;
    this.recent.push(Buffer.from(msg));
    if (this.recent.length > RECENT) this.recent.shift();
    if (this.dataSeen++ % SAMPLE_EVERY === 0) {
      this.sample.push(Buffer.from(msg));
      if (this.sample.length > SAMPLE) this.sample.shift();
    }
  }

  /** Captured data datagrams: the long-term sample (oldest first), then the recent ones. */
  captured(): { initiations: Buffer[]; sample: Buffer[]; recent: Buffer[] } {
    return { initiations: [...this.initiations], sample: [...this.sample], recent: [...this.recent] };
  }

  /** Sends copies from the honest path's socket, paced; resolves with how many went out. */
  async replay(order: ReplayOrder): Promise<number> {
    const flow = this.main;
    if (!flow) return 0;
    const rng = new SeededRandom(order.seed);
    const tickMs = 10;
    const perTick = Math.max(1, Math.round((order.perSecond * tickMs) / 1000));
    let sent = 0;
    while (sent < order.count) {
      for (let i = 0; i < perTick && sent < order.count; i++, sent++) {
        const d = this.pick(order.mode, rng);
        if (!d) return sent;
        flow.upstream.send(d, this.server.port, this.server.host);
        this.stats.injected++;
      }
      await new Promise((r) => setTimeout(r, tickMs));
    }
    return sent;
  }

  private pick(mode: ReplayMode, rng: SeededRandom): Buffer | null {
    const from = (list: Buffer[]): Buffer | null => (list.length === 0 ? null : list[rng.int(list.length)]!);
    switch (mode) {
      case 'duplicate':
        return from(this.recent);
      case 'old':
        return from(this.sample);
      case 'initiation':
        return from(this.initiations);
      case 'bitflip': {
        const d = from(this.sample.length > 0 ? this.sample : this.recent);
        if (!d) return null;
        const copy = Buffer.from(d);
        const bit = rng.int(copy.length * 8);
        copy[bit >> 3]! ^= 1 << (bit & 7);
        return copy;
      }
    }
  }

  async close(): Promise<void> {
    for (const f of this.flows.values()) await new Promise<void>((r) => f.upstream.close(() => r()));
    this.flows.clear();
    await new Promise<void>((r) => this.listen.close(() => r()));
  }
}
