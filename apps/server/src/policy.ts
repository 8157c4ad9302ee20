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
import { isIP } from 'node:net';
import { formatAddress, netContains, netWithin, parseAddress, parseNet, type IpNet, type ParsedAddress } from './ip-address.js';
import { SpecialRanges } from './special-ranges.js';

export interface AllowRule {
  text: string;
  host: { kind: 'name'; name: string } | { kind: 'suffix'; suffix: string } | { kind: 'net'; net: IpNet };
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
    return { kind: 'net', net: parseNet(cidr[1]!, prefix)! };
  }
  if (isIP(h) !== 0) return { kind: 'net', net: parseNet(h)! };
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

function netRuleContains(rule: AllowRule, addr: ParsedAddress): rule is AllowRule & { host: { kind: 'net' } } {
  return rule.host.kind === 'net' && netContains(rule.host.net, addr);
}

function nameMatches(rule: AllowRule, name: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  if (rule.host.kind === 'name') return rule.host.name === n;
  if (rule.host.kind === 'suffix') return n.endsWith(rule.host.suffix) && n.length > rule.host.suffix.length;
  return false;
}

export interface TargetPolicyOptions {
  /** The server's own addresses, denied like loopback (default: its interfaces at start). */
  ownAddresses?: string[];
}

/**
 * Allow rules plus safe defaults: an address in a special-purpose range (special-ranges.ts)
 * passes only a rule that lies inside that range, so `0.0.0.0/0` opens the internet but not
 * 127.0.0.1, 10.0.0.0/8 or 169.254.169.254, while `127.0.0.1/32:8080` or `10.0.0.0/8` do
 * open what they name. A resolved name is held to the same test (DNS rebinding), and a
 * refusal for a name no rule names looks the same whether or not it resolves.
 */
export class TargetPolicy {
  readonly rules: AllowRule[];
  private readonly special: SpecialRanges;
  constructor(
    rules: string[],
    private readonly lookup: Lookup,
    opts: TargetPolicyOptions = {},
  ) {
    this.rules = rules.map(parseAllowRule);
    this.special = new SpecialRanges(opts.ownAddresses);
  }

  /** Decide on a target; resolves a domain name when a rule needs its address. */
  async check(host: string, port: number): Promise<PolicyDecision> {
    const byPort = this.rules.filter((r) => portMatches(r, port));
    if (byPort.length === 0) return { allowed: false, reason: `port ${port} is not in any allow rule` };
    const literal = parseAddress(host);
    if (literal) {
      if (literal.zone !== undefined) return { allowed: false, reason: `address ${host} carries a zone id; scoped addresses are not relayed` };
      return this.checkAddress(literal, byPort, `address ${host}`);
    }
    const byName = byPort.find((r) => nameMatches(r, host));
    const needsAddress = byPort.some((r) => r.host.kind === 'net');
    if (!byName && !needsAddress) return { allowed: false, reason: `host ${host} is not in any allow rule` };
    let resolved: ParsedAddress | null;
    try {
      resolved = parseAddress((await this.lookup(host)).address);
    } catch (e) {
      const why = `cannot resolve ${host}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
      // Only a name the rules allow may say it does not resolve; for any other name the
      // client gets the plain refusal, so it cannot map internal names.
      return byName ? { allowed: false, unresolved: true, reason: why } : { allowed: false, reason: why };
    }
    if (!resolved || resolved.zone !== undefined) return { allowed: false, reason: `${host} resolves to an address that cannot be relayed` };
    const special = this.special.classify(resolved);
    if (byName && special.length === 0) return { allowed: true, address: formatAddress(resolved), rule: byName.text };
    return this.checkAddress(resolved, byPort, `${host} resolves to ${formatAddress(resolved)}, which`);
  }

  private checkAddress(addr: ParsedAddress, byPort: AllowRule[], what: string): PolicyDecision {
    const address = formatAddress(addr);
    const matching = byPort.filter((r) => netRuleContains(r, addr));
    if (matching.length === 0) return { allowed: false, reason: `${what} is not in any allow rule` };
    const special = this.special.classify(addr);
    if (special.length === 0) return { allowed: true, address, rule: matching[0]!.text };
    const named = matching.find((r) => r.host.kind === 'net' && special.some((s) => netWithin(r.host.net, s.net)));
    if (named) return { allowed: true, address, rule: named.text };
    return { allowed: false, reason: `${what} is ${special[0]!.name}; rule ${matching[0]!.text} covers it but does not name it (add a rule inside that range to allow it)` };
  }
}
