/**
 * The addresses a path manager works with: the local ones the application allows (RFC 6897
 * §5.3.3, TCP_MULTIPATH_ADD / TCP_MULTIPATH_REMOVE) and the peer's (its initial address plus
 * what ADD_ADDR announced, RFC 8684 §3.4.1).
 */
import { formatIp, parseIp } from '@mptun/core';
import { PathManagerError } from './errors.js';

/** A local address subflows may start from. */
export interface LocalAddress {
  /** The application's handle for it (an interface name, say); unique per path manager. */
  readonly id: string;
  /** Literal IPv4 or IPv6 address, in canonical form. */
  readonly host: string;
  /** Subflows from here are joined with the B flag and kept in step with MP_PRIO (RFC 8684 §3.3.8). */
  backup: boolean;
  /** RFC 6897 §5.3.3: TCP_MULTIPATH_ADD makes it true, TCP_MULTIPATH_REMOVE false. */
  allowed: boolean;
  /** Lower is preferred; ties go to the address added first. */
  priority: number;
  /** Order of addition, for ties. */
  readonly order: number;
}

export interface LocalAddressInit {
  id: string;
  host: string;
  backup?: boolean;
  allowed?: boolean;
  priority?: number;
}

/** A peer address: id 0 is the one the connection started on. */
export interface RemoteAddress {
  readonly addressId: number;
  readonly host: string;
  readonly port: number;
}

/** The canonical text of a literal address (so '2001:db8::1' and the engine's form compare equal), or null. */
export function canonicalHost(host: string): string | null {
  const bytes = parseIp(host);
  return bytes ? formatIp(bytes) : null;
}

/** canonicalHost, or the typed error. */
export function requireHost(host: string, what: string): string {
  const h = canonicalHost(host);
  if (h === null) throw new PathManagerError('ERR_PM_BAD_ADDRESS', `${what}: ${JSON.stringify(host)} is not a literal IPv4 or IPv6 address`);
  return h;
}

/** 4 or 6 for a literal address, null for anything else (a name: its family is unknown). */
export function hostFamily(host: string): 4 | 6 | null {
  const bytes = parseIp(host);
  if (!bytes) return null;
  return bytes.length === 4 ? 4 : 6;
}

/** A subflow can run between the two only within one address family. */
export function familiesMatch(localHost: string, remoteHost: string): boolean {
  const a = hostFamily(localHost);
  const b = hostFamily(remoteHost);
  return a === null || b === null || a === b;
}

/** Preferred first: lower priority, then the older address. */
export function byPreference(a: LocalAddress, b: LocalAddress): number {
  return a.priority - b.priority || a.order - b.order;
}
