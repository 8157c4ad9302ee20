/**
 * Special-purpose address ranges (RFC 6890 and the IANA registries it set up) that a broad
 * allow rule such as 0.0.0.0/0 must not open: a client of the tunnel would otherwise reach
 * the server's own loopback services, cloud metadata at 169.254.169.254, or the private
 * network behind it. The server's own interface addresses count as special too.
 */
import { networkInterfaces } from 'node:os';
import { formatAddress, netContains, parseNet, type Family, type IpNet } from './ip-address.js';

interface Range {
  net: IpNet;
  name: string;
}

const range = (cidr: string, name: string): Range => {
  const [a, p] = cidr.split('/');
  return { net: parseNet(a!, Number(p))!, name };
};

const IPV4: Range[] = [
  range('0.0.0.0/8', 'unspecified ("this network", RFC 791)'),
  range('10.0.0.0/8', 'private (RFC 1918)'),
  range('100.64.0.0/10', 'shared CGNAT (RFC 6598)'),
  range('127.0.0.0/8', 'loopback (RFC 1122)'),
  range('169.254.0.0/16', 'link-local (RFC 3927)'),
  range('172.16.0.0/12', 'private (RFC 1918)'),
  range('192.168.0.0/16', 'private (RFC 1918)'),
  range('224.0.0.0/4', 'multicast (RFC 5771)'),
  range('240.0.0.0/4', 'reserved and broadcast (RFC 1112, RFC 919)'),
];

const IPV6: Range[] = [
  range('::/128', 'unspecified (RFC 4291)'),
  range('::1/128', 'loopback (RFC 4291)'),
  range('fe80::/10', 'link-local (RFC 4291)'),
  range('fec0::/10', 'site-local (deprecated, RFC 3879)'),
  range('fc00::/7', 'unique local (RFC 4193)'),
  range('ff00::/8', 'multicast (RFC 4291)'),
];

/** IPv6 prefixes that carry an IPv4 address a translator or relay would deliver to. */
const EMBEDDING: Array<{ net: IpNet; shift: bigint; name: string }> = [
  { net: parseNet('64:ff9b::', 96)!, shift: 0n, name: 'NAT64 (RFC 6052)' },
  { net: parseNet('2002::', 16)!, shift: 80n, name: '6to4 (RFC 3056)' },
];

/** A special range an address falls in: the network (in the address's own family) and why. */
export interface SpecialMatch {
  net: IpNet;
  name: string;
}

export class SpecialRanges {
  private readonly own: Range[];

  /** `ownAddresses`: the server's interface addresses (default: os.networkInterfaces() now). */
  constructor(ownAddresses: string[] = localInterfaceAddresses()) {
    this.own = ownAddresses.flatMap((a) => {
      const net = parseNet(a.replace(/%.*$/, ''));
      return net ? [{ net, name: "the server's own address" }] : [];
    });
  }

  /** Every special range `addr` lies in; empty when it is an ordinary address. */
  classify(addr: { family: Family; bits: bigint }): SpecialMatch[] {
    const out: SpecialMatch[] = [];
    for (const r of [...(addr.family === 4 ? IPV4 : IPV6), ...this.own]) if (netContains(r.net, addr)) out.push(r);
    if (addr.family === 6) {
      // 64:ff9b::7f00:1 is 127.0.0.1 once translated: special where its IPv4 address is, and
      // only a rule inside the IPv6 image of that IPv4 range names it.
      for (const e of EMBEDDING) {
        if (!netContains(e.net, addr)) continue;
        const v4 = { family: 4 as const, bits: (addr.bits >> e.shift) & 0xffffffffn };
        for (const m of this.classify(v4)) {
          const bits = e.net.bits | (m.net.bits << e.shift);
          out.push({ net: { family: 6, bits, prefix: e.net.prefix + m.net.prefix }, name: `${m.name} via ${e.name} (${formatAddress(v4)})` });
        }
      }
    }
    return out;
  }
}

/** The addresses of this host's interfaces, as os.networkInterfaces() lists them now. */
export function localInterfaceAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
}
