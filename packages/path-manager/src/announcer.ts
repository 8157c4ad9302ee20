/**
 * The server side's share of path management: announce extra addresses of the server to
 * every connection (ADD_ADDR, RFC 8684 §3.4.1) once it can carry them, and withdraw them
 * (REMOVE_ADDR, §3.4.2). Clients then join subflows to them (fullmesh).
 */
import type { ConnectionState } from '@mptun/core';
import { requireHost } from './addresses.js';
import { PathManagerError } from './errors.js';

/** An extra server address: id 1..255 (0 is the address each connection started on). */
export interface ServerAddress {
  addressId: number;
  host: string;
  /** The transport port when it differs from the one the connection started on. */
  port?: number;
}

/** The calls the announcer makes on a connection (Connection implements them). */
export interface AnnouncingConnection {
  readonly state: ConnectionState;
  /** Returns false when the connection cannot signal yet (keys not known) or at all (fallback). */
  announceAddress(addressId: number, host: string, port?: number): boolean;
  withdrawAddresses(addressIds: readonly number[]): void;
}

export class AddressAnnouncer {
  private readonly list = new Map<number, ServerAddress>();
  /** Connections being served, and the ids each has been sent. */
  private readonly sent = new Map<AnnouncingConnection, Set<number>>();

  constructor(addresses: readonly ServerAddress[] = []) {
    for (const a of addresses) this.list.set(a.addressId, checked(a));
  }

  addresses(): ServerAddress[] {
    return [...this.list.values()].map((a) => ({ ...a }));
  }

  /**
   * Take note of an engine event (Endpoint.pollEvent()). A connection is announced to once
   * a subflow is up (before that the peer's key is unknown and nothing can be signed); a
   * closed one is forgotten.
   */
  handleEvent(ev: { type: string; connection: AnnouncingConnection }): void {
    const conn = ev.connection;
    if (ev.type === 'closed') {
      this.sent.delete(conn);
      return;
    }
    if (ev.type === 'incoming' || ev.type === 'subflow-up') {
      if (!this.sent.has(conn)) this.sent.set(conn, new Set());
      this.announceTo(conn);
    }
  }

  /** A new address: announced to every connection served. An id already in use is withdrawn first. */
  add(address: ServerAddress): void {
    const a = checked(address);
    if (this.list.has(a.addressId)) this.remove(a.addressId);
    this.list.set(a.addressId, a);
    for (const conn of this.sent.keys()) this.announceTo(conn);
  }

  /** The address is gone: withdrawn from every connection that was told of it. */
  remove(addressId: number): boolean {
    if (!this.list.delete(addressId)) return false;
    for (const [conn, ids] of this.sent) {
      if (!ids.delete(addressId) || conn.state === 'closed') continue;
      conn.withdrawAddresses([addressId]);
    }
    return true;
  }

  private announceTo(conn: AnnouncingConnection): void {
    const ids = this.sent.get(conn);
    if (!ids || conn.state !== 'established') return;
    for (const a of this.list.values()) {
      if (ids.has(a.addressId)) continue;
      if (conn.announceAddress(a.addressId, a.host, a.port)) ids.add(a.addressId);
    }
  }
}

function checked(a: ServerAddress): ServerAddress {
  if (!Number.isInteger(a.addressId) || a.addressId < 1 || a.addressId > 255) {
    throw new PathManagerError('ERR_PM_BAD_ADDRESS', `a server address id must be 1..255, got ${a.addressId}`);
  }
  if (a.port !== undefined && (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535)) {
    throw new PathManagerError('ERR_PM_BAD_ADDRESS', `port must be 0..65535, got ${a.port}`);
  }
  const out: ServerAddress = { addressId: a.addressId, host: requireHost(a.host, `server address ${a.addressId}`) };
  if (a.port !== undefined) out.port = a.port;
  return out;
}
