/**
 * Which interface addresses a client may use for subflows: the filter the interface
 * watcher applies to what the system lists.
 */
import { formatIp, parseIp } from '@mptun/core';

/** One address of one interface, as os.networkInterfaces() lists it (flattened). */
export interface InterfaceEntry {
  name: string;
  address: string;
  /** 'IPv4' / 'IPv6' (Node 18.4+), 4 / 6 (earlier); the address itself decides. */
  family?: string | number;
  /** Loopback and the like. */
  internal: boolean;
  /** Absent means up: os.networkInterfaces() lists only configured addresses. */
  up?: boolean;
}

export type NamePattern = string | RegExp;

export interface InterfaceFilter {
  /** Default 'any'. */
  family?: 'ipv4' | 'ipv6' | 'any';
  /** Take loopback and other internal addresses too (tests over 127.0.0.x). Default false. */
  includeInternal?: boolean;
  /** Take link-local addresses (169.254/16, fe80::/10), which rarely reach a server. Default false. */
  includeLinkLocal?: boolean;
  /** Only interfaces whose name matches one of these (exact string or RegExp). */
  names?: readonly NamePattern[];
  /** Never interfaces whose name matches one of these. */
  excludeNames?: readonly NamePattern[];
  /** Only these addresses (literal, any spelling). */
  addresses?: readonly string[];
}

/** An accepted address, canonical. */
export interface InterfaceAddress {
  name: string;
  address: string;
  family: 4 | 6;
}

function matches(name: string, patterns: readonly NamePattern[]): boolean {
  return patterns.some((p) => (typeof p === 'string' ? p === name : p.test(name)));
}

function isLinkLocal(bytes: Uint8Array): boolean {
  if (bytes.length === 4) return bytes[0] === 169 && bytes[1] === 254;
  return bytes[0] === 0xfe && (bytes[1]! & 0xc0) === 0x80;
}

/**
 * Compiles a filter once (the address allow list is parsed up front); the result maps an
 * entry to the accepted address, or null. Unparseable addresses are never accepted.
 */
export function interfaceFilter(filter: InterfaceFilter = {}): (entry: InterfaceEntry) => InterfaceAddress | null {
  const family = filter.family ?? 'any';
  const allowed = filter.addresses ? new Set(filter.addresses.map((a) => parseIp(a)).filter((b) => b !== null).map((b) => formatIp(b))) : null;
  return (entry) => {
    if (entry.up === false) return null;
    if (entry.internal && !filter.includeInternal) return null;
    if (typeof entry.name !== 'string' || typeof entry.address !== 'string') return null;
    const bytes = parseIp(entry.address);
    if (!bytes) return null;
    const fam = bytes.length === 4 ? 4 : 6;
    if ((family === 'ipv4' && fam !== 4) || (family === 'ipv6' && fam !== 6)) return null;
    if (!filter.includeLinkLocal && isLinkLocal(bytes)) return null;
    if (filter.names && !matches(entry.name, filter.names)) return null;
    if (filter.excludeNames && matches(entry.name, filter.excludeNames)) return null;
    const address = formatIp(bytes);
    if (allowed && !allowed.has(address)) return null;
    return { name: entry.name, address, family: fam };
  };
}
