/** Safe defaults of the target policy: special ranges, SSRF spellings, families, rebinding. */
import { describe, expect, it } from 'vitest';
import { formatAddress, parseAddress, parseLooseIpv4 } from '../src/ip-address.js';
import { TargetPolicy, type Lookup } from '../src/policy.js';

const OWN = ['198.51.100.7', '2001:db8::7'];
const table: Record<string, string> = {
  'rebind.example.com': '127.0.0.1',
  'meta.example.com': '169.254.169.254',
  'mapped.example.com': '::ffff:127.0.0.1',
  'public.example.com': '93.184.216.34',
  'intranet.corp': '10.0.0.5',
};
const lookup: Lookup = async (h) => {
  const a = table[h];
  if (!a) throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' });
  return { address: a, family: a.includes(':') ? 6 : 4 };
};
const broad = new TargetPolicy(['0.0.0.0/0:80,443', '[::]/0:80,443', '*.example.com:443'], lookup, { ownAddresses: OWN });

describe('address spellings', () => {
  it.each([
    ['2130706433', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['0x7f.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['127.0.0.1.', '127.0.0.1'],
    ['[::1]', '::1'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['::ffff:7f00:1', '127.0.0.1'],
    ['0:0:0:0:0:ffff:7f00:1', '127.0.0.1'],
    ['::127.0.0.1', '127.0.0.1'],
    ['64:ff9b::7f00:1', '64:ff9b::7f00:1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
  ])('%s is %s', (text, canonical) => {
    const a = parseAddress(text);
    expect(a).not.toBeNull();
    expect(formatAddress(a!)).toBe(canonical);
  });

  it('names and out-of-range forms are not addresses', () => {
    expect(parseAddress('localhost')).toBeNull();
    expect(parseAddress('1.2.3.256')).toBeNull();
    expect(parseLooseIpv4('1.2.65536')).toBeNull();
    expect(parseLooseIpv4('09.1.1.1')).toBeNull(); // 9 is not an octal digit
    expect(parseAddress('fe80::1%eth0')).toMatchObject({ family: 6, zone: 'eth0' });
  });
});

describe('a broad rule keeps special ranges denied', () => {
  it.each([
    '127.0.0.1', '127.9.9.9', '2130706433', '0177.0.0.1', '0x7f.1', '127.1', '[::1]', '::1',
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::127.0.0.1', '64:ff9b::7f00:1', '2002:7f00:1::1',
    '0.0.0.0', '::', '169.254.169.254', 'fe80::1', '10.1.2.3', '172.16.0.1', '172.31.255.255',
    '192.168.1.1', 'fd00::1', '100.64.0.1', '224.0.0.1', 'ff02::1', '255.255.255.255',
    '::ffff:169.254.169.254', '64:ff9b::a9fe:a9fe', '198.51.100.7', '2001:db8::7', '::ffff:198.51.100.7',
  ])('%s:80 is refused', async (host) => {
    const d = await broad.check(host, 80);
    expect(d.allowed).toBe(false);
  });

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:2800:220:1::1', '::ffff:8.8.8.8', '64:ff9b::808:808', '1.1'])('%s:80 is allowed', async (host) => {
    const d = await broad.check(host, 80);
    expect(d).toMatchObject({ allowed: true });
  });

  it('connects to the canonical address, IPv4 for mapped forms', async () => {
    expect(await broad.check('::ffff:8.8.8.8', 443)).toMatchObject({ allowed: true, address: '8.8.8.8', rule: '0.0.0.0/0:80,443' });
    expect(await broad.check('134744072', 443)).toMatchObject({ allowed: true, address: '8.8.8.8' });
  });

  it('a zone id is refused even on an allowed address', async () => {
    const p = new TargetPolicy(['[fe80::]/10'], lookup, { ownAddresses: [] });
    expect(await p.check('fe80::1', 22)).toMatchObject({ allowed: true });
    expect(await p.check('fe80::1%eth0', 22)).toMatchObject({ allowed: false, reason: expect.stringContaining('zone id') });
  });
});

describe('explicit rules open what they name', () => {
  it.each([
    ['127.0.0.1/32:8080', '127.0.0.1', 8080, true],
    ['127.0.0.1/32:8080', '2130706433', 8080, true],
    ['127.0.0.1/32:8080', '::ffff:127.0.0.1', 8080, true],
    ['127.0.0.1/32:8080', '127.0.0.2', 8080, false],
    ['127.0.0.0/8', '127.3.3.3', 1, true],
    ['10.0.0.0/8:22', '10.9.9.9', 22, true],
    ['10.0.0.0/7:22', '10.9.9.9', 22, false], // wider than the private range: covers, does not name
    ['[::1]:80', '::1', 80, true],
    ['[::1]:80', '127.0.0.1', 80, false],
    ['[::ffff:127.0.0.1]:80', '127.0.0.1', 80, true],
    ['169.254.169.254:80', '169.254.169.254', 80, true],
    ['198.51.100.7:80', '198.51.100.7', 80, true],
    ['[64:ff9b::7f00:0]/104:80', '64:ff9b::7f00:1', 80, true],
  ])('rule %s: %s:%i allowed=%s', async (rule, host, port, allowed) => {
    const p = new TargetPolicy([rule as string], lookup, { ownAddresses: OWN });
    expect((await p.check(host as string, port as number)).allowed).toBe(allowed);
  });
});

describe('families never cross', () => {
  it('an IPv6 rule does not match IPv4 and an IPv4 rule does not match IPv6', async () => {
    const v6 = new TargetPolicy(['[::]/0'], lookup, { ownAddresses: [] });
    expect((await v6.check('8.8.8.8', 80)).allowed).toBe(false);
    expect((await v6.check('::ffff:8.8.8.8', 80)).allowed).toBe(false); // a mapped address is IPv4
    expect((await v6.check('2606:2800:220:1::1', 80)).allowed).toBe(true);
    const v4 = new TargetPolicy(['0.0.0.0/0'], lookup, { ownAddresses: [] });
    expect((await v4.check('2606:2800:220:1::1', 80)).allowed).toBe(false);
  });
});

describe('resolved names (DNS rebinding)', () => {
  it('a name allowed by name is still refused when it resolves into a special range', async () => {
    expect(await broad.check('rebind.example.com', 443)).toMatchObject({ allowed: false, reason: expect.stringContaining('loopback') });
    expect((await broad.check('meta.example.com', 443)).allowed).toBe(false);
    expect((await broad.check('mapped.example.com', 443)).allowed).toBe(false);
    expect(await broad.check('public.example.com', 443)).toMatchObject({ allowed: true, address: '93.184.216.34' });
  });

  it('a name resolving into a range a rule names is allowed', async () => {
    const p = new TargetPolicy(['intranet.corp:80', '10.0.0.0/8:80'], lookup, { ownAddresses: [] });
    expect(await p.check('intranet.corp', 80)).toMatchObject({ allowed: true, address: '10.0.0.5', rule: '10.0.0.0/8:80' });
    const nameOnly = new TargetPolicy(['intranet.corp:80'], lookup, { ownAddresses: [] });
    expect((await nameOnly.check('intranet.corp', 80)).allowed).toBe(false);
  });

  it('a name no rule names gets the same refusal whether or not it resolves', async () => {
    const missing = await broad.check('nosuch.internal', 80);
    const internal = await broad.check('intranet.corp', 80);
    expect(missing).toMatchObject({ allowed: false });
    expect(internal).toMatchObject({ allowed: false });
    expect('unresolved' in missing).toBe(false);
    // Only a name the rules allow may report that it does not resolve.
    expect(await broad.check('nosuch.example.com', 443)).toMatchObject({ allowed: false, unresolved: true });
  });
});
