/**
 * A stand-in for the engine's Connection and the driver's paths, for unit and model tests
 * of the path manager: subflows are records the test moves through their states by hand.
 */
import type { Address, ConnectionState, SubflowState } from '@mptun/core';
import type { ManagedConnection, ManagedSubflow, PathHost } from '../../src/host.js';

export class FakeSubflow implements ManagedSubflow {
  constructor(
    readonly id: number,
    readonly pathId: number,
    public state: SubflowState,
    public backup: boolean,
    readonly localAddressId: number,
  ) {}
}

/** Paths by id; ensurePath opens one per (local, remote) unless the local host is refused. */
export class FakeHost implements PathHost {
  readonly open = new Map<number, { local: Address; remote: Address }>();
  readonly released: number[] = [];
  /** Local hosts that cannot be bound: ensurePath returns null. */
  readonly refuse = new Set<string>();
  ensureCalls = 0;
  /** Open a path per sibling index (a transport whose path carries one subflow). */
  perIndex = false;
  /** Local hosts whose paths are still opening: ensurePath answers 'pending'. */
  readonly opening = new Set<string>();
  private readonly indexOf = new Map<number, number>();
  private nextId = 1;

  ensurePath(localHost: string, remote: Address, index: number): number | null | 'pending' {
    this.ensureCalls++;
    if (this.refuse.has(localHost)) return null;
    if (this.opening.has(localHost)) return 'pending';
    for (const [id, p] of this.open) {
      const same = p.local.host === localHost && p.remote.host === remote.host && p.remote.port === remote.port;
      if (same && (!this.perIndex || this.indexOf.get(id) === index)) return id;
    }
    const id = this.nextId++;
    this.open.set(id, { local: { host: localHost, port: 0 }, remote: { ...remote } });
    this.indexOf.set(id, index);
    return id;
  }

  releasePath(pathId: number): void {
    this.released.push(pathId);
    this.open.delete(pathId);
  }

  pathInfo(pathId: number): { local: Address; remote: Address } | undefined {
    return this.open.get(pathId);
  }

  hostOf(pathId: number): string | undefined {
    return this.open.get(pathId)?.local.host;
  }
}

export class FakeConnection implements ManagedConnection {
  state: ConnectionState = 'connecting';
  fallback = false;
  readonly list: FakeSubflow[] = [];
  readonly peer: Array<{ addressId: number; host: string; port: number | undefined }> = [];
  readonly closed: Array<{ id: number; reason: number | undefined }> = [];
  readonly withdrawn: number[][] = [];
  readonly prio: Array<{ id: number; backup: boolean }> = [];
  /** Every join() that started a subflow. */
  joins = 0;
  /** join() returns null while set (the engine's subflow limit, say). */
  refuseJoins = false;
  /** Like the engine on a fixed-port path: a second live subflow on a path is a RangeError. */
  onePerPath = false;
  private nextId = 1;
  /** Like the engine: one address id per local host, 0 for the initial subflow's. */
  private readonly ids = new Map<string, number>();

  constructor(private readonly host: FakeHost) {}

  /** The initial subflow on `pathId`, established along with the connection. */
  start(pathId: number): FakeSubflow {
    const sf = new FakeSubflow(this.nextId++, pathId, 'established', false, this.addressId(pathId, true));
    this.list.push(sf);
    this.state = 'established';
    return sf;
  }

  subflows(): readonly FakeSubflow[] {
    return this.list;
  }

  join(_now: number, pathId: number, backup = false): FakeSubflow | null {
    if (this.state !== 'established' || this.fallback || this.refuseJoins) return null;
    if (this.onePerPath && this.list.some((s) => s.pathId === pathId)) throw new RangeError(`path ${pathId} carries one subflow and has it already`);
    this.joins++;
    const sf = new FakeSubflow(this.nextId++, pathId, 'syn-sent', backup, this.addressId(pathId, false));
    this.list.push(sf);
    return sf;
  }

  closeSubflow(_now: number, subflowId: number, reason?: number): void {
    const i = this.list.findIndex((s) => s.id === subflowId);
    if (i < 0) return;
    this.list.splice(i, 1);
    this.closed.push({ id: subflowId, reason });
  }

  setBackup(subflowId: number, backup: boolean): void {
    const sf = this.list.find((s) => s.id === subflowId);
    if (!sf || sf.backup === backup) return;
    sf.backup = backup;
    this.prio.push({ id: subflowId, backup });
  }

  withdrawAddresses(addressIds: readonly number[]): void {
    this.withdrawn.push([...addressIds]);
  }

  peerAddressList(): Array<{ addressId: number; host: string; port: number | undefined }> {
    return this.peer.map((p) => ({ ...p }));
  }

  // --- What the network does, driven by the test ----------------------------------------

  establish(id: number): void {
    const sf = this.list.find((s) => s.id === id);
    if (sf && sf.state !== 'closed') sf.state = 'established';
  }

  establishAll(): void {
    for (const sf of this.list) sf.state = 'established';
  }

  /** The subflow dies on its own (timeout, reset): it leaves the list, as in the engine. */
  fail(id: number): void {
    const i = this.list.findIndex((s) => s.id === id);
    if (i >= 0) this.list.splice(i, 1);
  }

  onHost(host: string): FakeSubflow[] {
    return this.list.filter((s) => this.host.hostOf(s.pathId) === host);
  }

  private addressId(pathId: number, initial: boolean): number {
    const host = this.host.hostOf(pathId) ?? `path${pathId}`;
    let id = this.ids.get(host);
    if (id === undefined) {
      id = initial ? 0 : Math.max(0, ...this.ids.values()) + 1;
      this.ids.set(host, id);
    }
    return id;
  }
}
