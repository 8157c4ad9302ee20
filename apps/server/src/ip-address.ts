/**
 * IP addresses as numbers, for the target policy: parsing every spelling a resolver accepts
 * (so `2130706433`, `0177.0.0.1`, `0x7f.1` and `127.1` are all seen as 127.0.0.1), mapped
 * and compatible IPv6 forms folded onto IPv4, and prefix containment that never mixes the
 * two families.
 */
import { isIP } from 'node:net';

export type Family = 4 | 6;

/** An address or a network: `prefix` leading bits of `bits` are fixed. */
export interface IpNet {
  family: Family;
  bits: bigint;
  prefix: number;
}

export const familyWidth = (f: Family): number => (f === 4 ? 32 : 128);

/**
 * inet_aton(3) forms: 1 to 4 parts, each decimal, octal (leading 0) or hex (0x); the last
 * part fills the remaining bytes. This is what getaddrinfo accepts for IPv4, and so what a
 * socket connect would reach. Returns null for anything else.
 */
export function parseLooseIpv4(text: string): bigint | null {
  const parts = text.replace(/\.$/, '').split('.');
  if (parts.length < 1 || parts.length > 4) return null;
  const values: bigint[] = [];
  for (const p of parts) {
    if (/^0x[0-9a-f]+$/i.test(p)) values.push(BigInt(p));
    else if (/^0[0-7]*$/.test(p)) values.push(p.length > 1 ? BigInt(`0o${p.slice(1)}`) : 0n);
    else if (/^[1-9][0-9]*$/.test(p)) values.push(BigInt(p));
    else return null;
  }
  const last = values.pop()!;
  let n = 0n;
  for (const v of values) {
    if (v > 255n) return null;
    n = (n << 8n) | v;
  }
  const restBits = BigInt(8 * (4 - values.length));
  if (last >= 1n << restBits) return null;
  return (n << restBits) | last;
}

function parseIpv6(text: string): bigint | null {
  if (isIP(text) !== 6) return null;
  let t = text;
  // An embedded dotted IPv4 tail becomes two hex groups.
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (v4) {
    const n = parseLooseIpv4(v4[2]!)!;
    t = `${v4[1]}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = t.includes('::') ? t.split('::') : [t, undefined];
  const groups = (s: string | undefined): string[] => (s ? s.split(':') : []);
  const h = groups(head);
  const tl = groups(tail);
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - tl.length).fill('0'), ...tl];
  if (all.length !== 8) return null;
  return all.reduce((n, g) => (n << 16n) | BigInt(`0x${g}`), 0n);
}

export interface ParsedAddress {
  family: Family;
  bits: bigint;
  /** The zone id of a scoped IPv6 address (`fe80::1%eth0`), if one was given. */
  zone?: string;
}

const MAPPED_PREFIX = 0xffffn << 32n; // ::ffff:0:0/96, RFC 4291 §2.5.5.2

/**
 * Parse an address literal in any accepted spelling (brackets and a zone id allowed).
 * IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d, RFC 4291 §2.5.5.1) forms
 * come back as the IPv4 address they carry. Returns null for a name.
 */
export function parseAddress(text: string): ParsedAddress | null {
  let t = text.trim();
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1);
  let zone: string | undefined;
  const pct = t.indexOf('%');
  if (pct >= 0 && t.includes(':')) {
    zone = t.slice(pct + 1);
    t = t.slice(0, pct);
  }
  const v4 = parseLooseIpv4(t);
  if (v4 !== null) return { family: 4, bits: v4 };
  const v6 = parseIpv6(t);
  if (v6 === null) return null;
  const withZone = zone !== undefined ? { zone } : {};
  if (v6 >> 32n === MAPPED_PREFIX >> 32n) return { family: 4, bits: v6 & 0xffffffffn, ...withZone };
  // ::/96 minus :: and ::1, which keep their IPv6 meaning (unspecified, loopback).
  if (v6 >> 32n === 0n && v6 > 1n) return { family: 4, bits: v6, ...withZone };
  return { family: 6, bits: v6, ...withZone };
}

export function formatAddress(a: { family: Family; bits: bigint }): string {
  if (a.family === 4) return [24n, 16n, 8n, 0n].map((s) => ((a.bits >> s) & 0xffn).toString()).join('.');
  const groups = [...Array(8).keys()].map((i) => ((a.bits >> BigInt(112 - 16 * i)) & 0xffffn).toString(16));
  // The longest run of zero groups (two or more) becomes "::" (RFC 5952 §4.2).
  let best = { at: -1, len: 1 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  if (best.at < 0) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
}

/** `ADDRESS/PREFIX` or a bare address (a host network); the address is written strictly. */
export function parseNet(address: string, prefix?: number): IpNet | null {
  const family = isIP(address);
  if (family === 0) return null;
  const a = parseAddress(address)!;
  let p = prefix ?? familyWidth(family as Family);
  if (p > familyWidth(family as Family)) return null;
  // A mapped IPv6 network (::ffff:a.b.c.d/104) is the IPv4 network it maps.
  if (family === 6 && a.family === 4) {
    if (p < 96) return { family: 6, bits: parseIpv6(address)!, prefix: p };
    p -= 96;
  }
  return { family: a.family, bits: a.bits, prefix: p };
}

/** Whether `net` contains `addr`; an IPv4 address is never inside an IPv6 network or the reverse. */
export function netContains(net: IpNet, addr: { family: Family; bits: bigint }): boolean {
  if (net.family !== addr.family) return false;
  const shift = BigInt(familyWidth(net.family) - net.prefix);
  return net.bits >> shift === addr.bits >> shift;
}

/** Whether all of `inner` lies inside `outer`. */
export function netWithin(inner: IpNet, outer: IpNet): boolean {
  return inner.family === outer.family && inner.prefix >= outer.prefix && netContains(outer, inner);
}
