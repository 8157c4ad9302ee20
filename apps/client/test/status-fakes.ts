/**
 * Fakes for the status tests: a client whose path list and sockets whose subflow counters
 * the test sets by hand.
 */
import { EventEmitter } from 'node:events';
import type { SubflowInfo } from '@mptun/node';
import type { TrackedClient, TrackedConnection, TrackedSocket } from '../src/status/tracker.js';

export type FakePath = { localAddress: string; transport: string; backup: boolean; up: boolean };

/** A client with the app's connection registry: open() is what the SOCKS server does on success. */
export class FakeClient extends EventEmitter implements TrackedClient {
  private readonly open = new Set<TrackedConnection>();
  constructor(public paths: FakePath[]) {
    super();
  }
  pathList(): FakePath[] {
    return this.paths.map((p) => ({ ...p }));
  }
  connections(): TrackedConnection[] {
    return [...this.open];
  }
  /** A connection the app accepted; it leaves the list when its socket closes. */
  accept(socket: FakeSocket, target: string, since?: number): void {
    const c: TrackedConnection = { socket, target, ...(since === undefined ? {} : { since }) };
    this.open.add(c);
    socket.once('close', () => this.open.delete(c));
  }
}

export class FakeSocket extends EventEmitter implements TrackedSocket {
  flows: SubflowInfo[] = [];
  constructor(public connectionId: number | undefined) {
    super();
  }
  subflows(): SubflowInfo[] {
    return this.flows.map((f) => ({ ...f }));
  }
  /** Set a subflow's fields (creating it with zero counters). */
  set(id: number, fields: Partial<SubflowInfo>): void {
    let f = this.flows.find((x) => x.id === id);
    if (!f) {
      f = subflow(id, fields.localAddress ?? '127.0.0.2');
      this.flows.push(f);
    }
    Object.assign(f, fields);
  }
  closeNow(): void {
    this.emit('close');
  }
}

export function subflow(id: number, localAddress: string): SubflowInfo {
  return {
    id,
    localAddress,
    localPort: 40000 + id,
    remoteAddress: '127.0.0.1',
    remotePort: 9000,
    state: 'established',
    backup: false,
    peerBackup: false,
    srttMs: 0,
    mssBytes: 1140,
    cwndBytes: 14600,
    bytesInFlight: 0,
    bytesSent: 0,
    bytesReceived: 0,
    bytesRetransmitted: 0,
    segmentsSent: 0,
    segmentsReceived: 0,
    retransmissions: 0,
    rtoCount: 0,
    lossEvents: 0,
  };
}
