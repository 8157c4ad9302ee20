/**
 * Target policy: the server is not an open proxy. A target passes when some allow rule
 * matches both its host and its port; everything else is denied.
 *
 * Rule text: `HOST[:PORTS]`, where HOST is an exact name (`db.internal`), a suffix
 * (`*.example.com`, matching sub-domains only), an IP address, or a CIDR (`10.0.0.0/8`,
 * `[fd00::]/8`; IPv6 goes in brackets when ports follow), and PORTS is a comma list of ports
 * and ranges (`80,443,8000-8100`; omitted = every port).
 * A domain name is resolved before connecting; against a CIDR or IP rule it is the resolved
 * address that must pass, and the relay connects to that very address (no second lookup).
 */
import { BlockList, isIP } from 'node:net';

export interface AllowRule {
  text: string;
  host: { kind: 'name'; name: string } | { kind: 'suffix'; suffix: string } | { kind: 'net'; list: BlockList };
  /** Inclusive ranges; empty = all ports. */
  ports: Array<[number, number]>;
}

export class PolicyRuleError extends Error {
  override readonly name = 'PolicyRuleError';
  readonly code = 'ERR_MPTUN_POLICY_RULE';
}

export type Lookup = (host: string) => Promise<{ address: string; family: 4 | 6 }>;

export type PolicyDecision =
  | { allowed: true; address: string; rule: string }
  | { allowed: false; reason: string; unresolved?: boolean };

export function parseAllowRule(text: string): AllowRule {
  const bad = (why: string): never => {
    throw new PolicyRuleError(`allow rule "${text}": ${why}`);
  };
  let hostPart: string;
  let portPart: string | undefined;
  const t = text.trim();
  const bracket = /^\[([^\]]+)\](\/\d+)?(?::(.*))?$/.exec(t);
  if (bracket) {
    hostPart = bracket[1]! + (bracket[2] ?? '');
    portPart = bracket[3];
  } else if ((t.match(/:/g) ?? []).length > 1) {
    hostPart = t; // a bare IPv6 address or CIDR: every port
  } else {
    const i = t.lastIndexOf(':');
    hostPart = i < 0 ? t : t.slice(0, i);
    portPart = i < 0 ? undefined : t.slice(i + 1);
  }
  if (!hostPart) bad('empty host');
  return { text, host: parseHost(hostPart, bad), ports: portPart === undefined ? [] : parsePorts(portPart, bad) };
}

function parseHost(h: string, bad: (why: string) => never): AllowRule['host'] {
  const cidr = /^(.+)\/(\d{1,3})$/.exec(h);
  if (cidr) {
    const family = isIP(cidr[1]!);
    const prefix = Number(cidr[2]);
    if (family === 0) bad(`"${cidr[1]}" is not an IP address`);
    if (prefix > (family === 4 ? 32 : 128)) bad(`prefix /${prefix} is too long`);
    const list = new BlockList();
    list.addSubnet(cidr[1]!, prefix, family === 4 ? 'ipv4' : 'ipv6');
    return { kind: 'net', list };
  }
  const family = isIP(h);
  if (family !== 0) {
    const list = new BlockList();
    list.addAddress(h, family === 4 ? 'ipv4' : 'ipv6');
    return { kind: 'net', list };
  }
  const name = h.toLowerCase().replace(/\.$/, '');
  if (name.startsWith('*.')) {
    if (!/^[a-z0-9.-]+$/.test(name.slice(2))) bad('a suffix must be *.domain');
    return { kind: 'suffix', suffix: name.slice(1) };
  }
  if (!/^[a-z0-9_.-]+$/.test(name)) bad(`"${h}" is not a host name, IP address or CIDR`);
  return { kind: 'name', name };
}

function parsePorts(p: string, bad: (why: string) => never): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const part of p.split(',')) {
    const m = /^\s*(\d{1,5})(?:\s*-\s*(\d{1,5}))?\s*$/.exec(part);
    if (!m) bad(`"${part}" is not a port or port range`);
    const lo = Number(m![1]);
    const hi = m![2] === undefined ? lo : Number(m![2]);
    if (lo < 1 || hi > 65535 || lo > hi) bad(`port range ${part} must lie within 1-65535, low to high`);
    out.push([lo, hi]);
  }
  return out;
}

function portMatches(rule: AllowRule, port: number): boolean {
  return rule.ports.length === 0 || rule.ports.some(([lo, hi]) => port >= lo && port <= hi);
}

function addressMatches(rule: AllowRule, address: string): boolean {
  if (rule.host.kind !== 'net') return false;
  const family = isIP(address);
  return family !== 0 && rule.host.list.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

function nameMatches(rule: AllowRule, name: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  if (rule.host.kind === 'name') return rule.host.name === n;
  if (rule.host.kind === 'suffix') return n.endsWith(rule.host.suffix) && n.length > rule.host.suffix.length;
  return false;
}

export class TargetPolicy {
  readonly rules: AllowRule[];
  constructor(
    rules: string[],
    private readonly lookup: Lookup,
  ) {
    this.rules = rules.map(parseAllowRule);
  }

  /** Decide on a target; resolves a domain name when a rule needs its address. */
  async check(host: string, port: number): Promise<PolicyDecision> {
    const byPort = this.rules.filter((r) => portMatches(r, port));
    if (byPort.length === 0) return { allowed: false, reason: `port ${port} is not in any allow rule` };
    if (isIP(host) !== 0) {
      const rule = byPort.find((r) => addressMatches(r, host));
      return rule ? { allowed: true, address: host, rule: rule.text } : { allowed: false, reason: `address ${host} is not in any allow rule` };
    }
    const byName = byPort.find((r) => nameMatches(r, host));
    const needsAddress = byPort.some((r) => r.host.kind === 'net');
    if (!byName && !needsAddress) return { allowed: false, reason: `host ${host} is not in any allow rule` };
    let address: string;
    try {
      address = (await this.lookup(host)).address;
    } catch (e) {
      return { allowed: false, unresolved: true, reason: `cannot resolve ${host}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
    }
    if (byName) return { allowed: true, address, rule: byName.text };
    const rule = byPort.find((r) => addressMatches(r, address));
    return rule ? { allowed: true, address, rule: rule.text } : { allowed: false, reason: `${host} resolves to ${address}, which is not in any allow rule` };
  }
}
