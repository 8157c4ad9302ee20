import { addAddrHmac, hmacEqual } from '../crypto/hmac.js';
import { formatIp, parseIp } from '../ip.js';
import type { Subflow } from '../subflow/subflow.js';
import type { AddAddr } from '../wire/mptcp/option.js';

/** Transmissions of an ADD_ADDR before giving up on its echo. */
const ADD_ADDR_TRIES = 4;

/** An ADD_ADDR to send: ours until echoed (retried), or an echo of the peer's. */
export interface AddAddrOut {
  option: AddAddr;
  due: boolean;
  deadline: number;
  tries: number;
}

/** An address the peer announced. */
export interface PeerAddress {
  addressId: number;
  host: string;
  port: number | undefined;
}

/**
 * Address management of one connection: address ids of our hosts (RFC 8684 §3.2), ADD_ADDR
 * announcements and echoes with their HMAC (§3.4.1), REMOVE_ADDR (§3.4.2), the peer's
 * announced addresses, and the MP_PRIO changes waiting for a segment (§3.3.8).
 */
export class Addresses {
  /** Address id of each local host (RFC 8684 §3.2: the initial subflow's address is 0). */
  private readonly localIds = new Map<string, number>();
  private readonly addrOut: AddAddrOut[] = [];
  private readonly removeOut: number[] = [];
  private readonly peer = new Map<number, { host: string; port: number | undefined }>();
  private readonly prioDue = new Set<Subflow>();

  // --- Address ids ------------------------------------------------------------------------

  /** The id of local host `host`, given one if new: 0 for the initial subflow's, else the next free. */
  idFor(host: string, initial: boolean): number {
    let id = this.localIds.get(host);
    if (id === undefined) {
      id = initial ? 0 : this.localIds.size === 0 ? 1 : Math.max(...this.localIds.values()) + 1;
      this.localIds.set(host, id & 0xff);
    }
    return id & 0xff;
  }

  /** Forget every id (the SYN race's winner decides which address is 0). */
  resetIds(): void {
    this.localIds.clear();
  }

  // --- ADD_ADDR / REMOVE_ADDR ---------------------------------------------------------------

  /**
   * Queue an announcement of one of our addresses with its HMAC (RFC 8684 §3.4.1); subflows
   * later joined from that host carry the id announced. False for a host that is no address.
   */
  announce(addressId: number, host: string, port: number | undefined, localKey: bigint, remoteKey: bigint): boolean {
    const address = parseIp(host);
    if (!address) return false;
    this.localIds.set(host, addressId & 0xff);
    const hmac = addAddrHmac(localKey, remoteKey, addressId, address, port);
    const option: AddAddr = { type: 'add-addr', echo: false, addressId, address, hmac };
    if (port !== undefined) option.port = port;
    this.addrOut.push({ option, due: true, deadline: Infinity, tries: 1 });
    return true;
  }

  /** Queue REMOVE_ADDR for `addressIds` and stop announcing them (RFC 8684 §3.4.2). */
  withdraw(addressIds: readonly number[]): void {
    this.removeOut.push(...addressIds);
    for (let i = this.addrOut.length - 1; i >= 0; i--) if (addressIds.includes(this.addrOut[i]!.option.addressId)) this.addrOut.splice(i, 1);
  }

  peerList(): PeerAddress[] {
    return [...this.peer].map(([addressId, a]) => ({ addressId, ...a }));
  }

  /**
   * An ADD_ADDR from the peer. An echo of ours stops its repeats (`echo` then says another
   * announcement is ready to go); an announcement with a valid HMAC is echoed (`echo`), and
   * reported (`added`) unless it repeats a known one.
   */
  onAddAddr(m: AddAddr, localKey: bigint, remoteKey: bigint): { echo: boolean; added?: PeerAddress } {
    if (m.echo) {
      const i = this.addrOut.findIndex((a) => !a.option.echo && a.option.addressId === m.addressId);
      if (i >= 0) this.addrOut.splice(i, 1);
      // The next announcement, held back until this echo (see dueAnnouncement), may now go.
      return { echo: this.dueAnnouncement() !== undefined };
    }
    // RFC 8684 §3.4.1: only the holder of both keys can announce; anything else is dropped.
    if (!m.hmac || !hmacEqual(m.hmac, addAddrHmac(remoteKey, localKey, m.addressId, m.address, m.port))) return { echo: false };
    const echo: AddAddr = { type: 'add-addr', echo: true, addressId: m.addressId, address: m.address };
    if (m.port !== undefined) echo.port = m.port;
    this.addrOut.push({ option: echo, due: true, deadline: Infinity, tries: 1 });
    const host = formatIp(m.address);
    const known = this.peer.get(m.addressId);
    if (known && known.host === host && known.port === m.port) return { echo: true }; // a repeat
    this.peer.set(m.addressId, { host, port: m.port });
    return { echo: true, added: { addressId: m.addressId, host, port: m.port } };
  }

  /** A REMOVE_ADDR from the peer: the ids it named that were known (`inUse`: a subflow runs to it). */
  onRemoveAddr(ids: readonly number[], inUse: (id: number) => boolean): number[] {
    return ids.filter((id) => this.peer.delete(id) || inUse(id));
  }

  /**
   * The first ADD_ADDR due for sending, if any. Our announcements go one at a time: the next
   * waits for the echo (or the give-up) of the one before. RFC 8684 §3.4.1 leaves the pacing
   * to us; Linux's path manager holds one received announcement at a time and drops (counts
   * `AddAddrDrop`) another that arrives before it has handled the first. Echoes are not held.
   */
  dueAnnouncement(): AddAddrOut | undefined {
    const awaitingEcho = this.addrOut.some((a) => !a.option.echo && !a.due && a.deadline !== Infinity);
    return this.addrOut.find((a) => a.due && (a.option.echo || !awaitingEcho));
  }

  /** `a` went out: an echo is done; an announcement waits for its echo until `retryAt`. */
  sent(a: AddAddrOut, retryAt: number): void {
    a.due = false;
    if (a.option.echo) this.addrOut.splice(this.addrOut.indexOf(a), 1);
    else a.deadline = retryAt;
  }

  /** Up to `max` REMOVE_ADDR ids to send now, or null. */
  takeRemovals(max: number): number[] | null {
    if (this.removeOut.length === 0 || max < 1) return null;
    return this.removeOut.splice(0, Math.min(this.removeOut.length, max));
  }

  /** When an unechoed announcement is due again. */
  nextDeadline(): number {
    let t = Infinity;
    for (const a of this.addrOut) if (a.deadline < t) t = a.deadline;
    return t;
  }

  /**
   * The first announcement whose echo did not come by `now` is sent again, or given up after
   * ADD_ADDR_TRIES. True when one is due again (a segment should carry it).
   */
  onTimeout(now: number): boolean {
    for (const a of this.addrOut) {
      if (a.deadline > now) continue;
      a.deadline = Infinity;
      if (a.tries++ >= ADD_ADDR_TRIES) {
        this.addrOut.splice(this.addrOut.indexOf(a), 1);
        return false;
      }
      a.due = true;
      return true; // the list may change; the rest wait for the next call
    }
    return false;
  }

  // --- MP_PRIO (RFC 8684 §3.3.8) --------------------------------------------------------------

  /** Subflow `sf` changed its backup flag: the next ACK on it says so. */
  prioChanged(sf: Subflow): void {
    this.prioDue.add(sf);
  }

  prioPending(sf: Subflow): boolean {
    return this.prioDue.has(sf);
  }

  /** The MP_PRIO due on `sf` went out. */
  prioSent(sf: Subflow): void {
    this.prioDue.delete(sf);
  }

  forget(sf: Subflow): void {
    this.prioDue.delete(sf);
  }
}
