import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadServerConfig } from '../src/config.js';
import { TargetPolicy } from '../src/policy.js';

describe('server config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mptun-server-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, v: unknown): string => {
    const f = join(dir, name);
    writeFileSync(f, JSON.stringify(v));
    return f;
  };
  const base = { listen: ['udp://127.0.0.1:4433'], key: 'server.key', authorizedKeysFile: 'clients', allow: ['127.0.0.1:80'] };

  it('loads a file; flags override it', () => {
    const f = write('ok.json', { ...base, limits: { idleTimeout: '2m', maxBufferedBytes: '1MiB' }, drain: '3s' });
    const c = loadServerConfig(f, { listen: ['ws://127.0.0.1:8080/t', 'udp://[::1]:9'], drain: '1s', metrics: '127.0.0.1:0' });
    expect(c.listen).toEqual([{ transport: 'ws', host: '127.0.0.1', port: 8080, path: '/t' }, { transport: 'udp', host: '::1', port: 9 }]);
    expect(c.limits.idleTimeoutMs).toBe(120_000);
    expect(c.limits.maxBufferedBytes).toBe(1024 * 1024);
    expect(c.drainMs).toBe(1000);
    expect(c.metrics).toEqual({ host: '127.0.0.1', port: 0 });
  });

  it('a udp-plain listener needs insecurePlainUdp, in the file or as a flag', () => {
    const plain = { ...base, listen: ['udp-plain://127.0.0.1:5000'] };
    expect(() => loadServerConfig(write('plain.json', plain))).toThrow(/listen: udp-plain:\/\/127\.0\.0\.1:5000 has no encryption or integrity.*--insecure-plain-udp/);
    expect(loadServerConfig(write('plain-ok.json', { ...plain, insecurePlainUdp: true })).insecurePlainUdp).toBe(true);
    expect(loadServerConfig(write('plain-flag.json', plain), { insecurePlainUdp: true }).listen[0]!.transport).toBe('udp-plain');
    expect(loadServerConfig(write('sealed.json', base)).insecurePlainUdp).toBeUndefined();
  });

  it('announces the UDP listen addresses unless announceListen is false (file) or --no-announce-listen (flag)', () => {
    expect(loadServerConfig(write('announce-default.json', base)).announceListen).toBeUndefined();
    expect(loadServerConfig(write('announce-off.json', { ...base, announceListen: false })).announceListen).toBe(false);
    // commander's default for a --no- flag is true: it must not undo the file's false.
    expect(loadServerConfig(write('announce-off2.json', { ...base, announceListen: false }), { announceListen: true }).announceListen).toBe(false);
    expect(loadServerConfig(write('announce-flag.json', base), { announceListen: false }).announceListen).toBe(false);
  });

  it('behind a balancer (file or --behind-balancer) it needs an address of its own to announce', () => {
    expect(loadServerConfig(write('lb-none.json', base)).behindBalancer).toBeUndefined();
    expect(() => loadServerConfig(write('lb-no-announce.json', base), { behindBalancer: true })).toThrow(/command line: --behind-balancer: .*--announce IP:PORT/);
    expect(() => loadServerConfig(write('lb-file-no-announce.json', { ...base, behindBalancer: true }))).toThrow(/behindBalancer: .*--announce/);
    const c = loadServerConfig(write('lb-ok.json', base), { behindBalancer: true, announce: ['127.0.0.11:4433'] });
    expect(c.behindBalancer).toBe(true);
    expect(c.announce).toEqual([{ host: '127.0.0.11', port: 4433 }]);
    expect(loadServerConfig(write('lb-file.json', { ...base, behindBalancer: true, announce: ['10.0.0.11:4433'] })).behindBalancer).toBe(true);
  });

  it('an affinity token (file or --affinity-token) names the server for a reverse proxy: checked, and only with a WebSocket listener', () => {
    const ws = { ...base, listen: ['ws://127.0.0.11:8080/mptun'] };
    expect(loadServerConfig(write('aff-none.json', ws)).affinityToken).toBeUndefined();
    expect(loadServerConfig(write('aff-file.json', { ...ws, affinityToken: 's1' })).affinityToken).toBe('s1');
    expect(loadServerConfig(write('aff-flag.json', { ...ws, affinityToken: 's1' }), { affinityToken: 'eu-2.b' }).affinityToken).toBe('eu-2.b');
    expect(() => loadServerConfig(write('aff-bad.json', ws), { affinityToken: 's 1' })).toThrow(/command line: --affinity-token: .*letters, digits/);
    expect(() => loadServerConfig(write('aff-long.json', { ...ws, affinityToken: 'x'.repeat(65) }))).toThrow(/affinityToken: .*1\.\.64/);
    expect(() => loadServerConfig(write('aff-udp.json', base), { affinityToken: 's1' })).toThrow(/--affinity-token: .*ws:\/\/ or wss:\/\/ listener/);
  });

  it("HAProxy's agent check address (file or --balancer-agent): an IP and port", () => {
    expect(loadServerConfig(write('agent-none.json', base)).balancerAgent).toBeUndefined();
    expect(loadServerConfig(write('agent-file.json', { ...base, balancerAgent: '10.0.0.11:8081' })).balancerAgent).toEqual({ host: '10.0.0.11', port: 8081 });
    expect(loadServerConfig(write('agent-flag.json', base), { balancerAgent: '[::1]:8081' }).balancerAgent).toEqual({ host: '::1', port: 8081 });
    expect(() => loadServerConfig(write('agent-name.json', base), { balancerAgent: 'lb.example:8081' })).toThrow(/command line: --balancer-agent|balancerAgent/);
    expect(() => loadServerConfig(write('agent-port.json', { ...base, balancerAgent: '10.0.0.11:70000' }))).toThrow(/balancerAgent/);
  });

  it('keeps the replay state next to the key unless told where (issue 14 item 6)', () => {
    expect(loadServerConfig(write('replay-default.json', base)).replayStateFile).toBe('server.key.replay');
    expect(loadServerConfig(write('replay-set.json', { ...base, replayState: '/var/lib/mptun/replay' })).replayStateFile).toBe('/var/lib/mptun/replay');
    const inline = { ...base, key: undefined, privateKey: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' };
    expect(loadServerConfig(write('replay-inline.json', inline)).replayStateFile).toBeUndefined();
  });

  it('takes the sending side\'s scheduler and congestion control; unknown names list the valid ones', () => {
    const f = write('strategy.json', { ...base, scheduler: 'blest', cc: 'olia' });
    expect(loadServerConfig(f)).toMatchObject({ scheduler: 'blest', cc: 'olia' });
    expect(loadServerConfig(f, { scheduler: 'ecf' }).scheduler).toBe('ecf');
    expect(loadServerConfig(write('none.json', base)).scheduler).toBeUndefined();
    expect(() => loadServerConfig(f, { scheduler: 'fastest' })).toThrow(/command line: scheduler: unknown scheduler "fastest"; valid names: minrtt/);
    expect(() => loadServerConfig(write('cc.json', { ...base, scheduler: 'ecf', cc: 'vegas' }))).toThrow(/cc\.json: cc: .*unknown congestion controller "vegas"/);
  });

  it('a typo names the file and the key path', () => {
    const f = write('typo.json', { ...base, limits: { idleTimout: '2m' } });
    expect(() => loadServerConfig(f)).toThrow(`${f}: limits.idleTimout: unknown key "idleTimout"`);
    const g = write('badlisten.json', { ...base, listen: ['udp://127.0.0.1:4433', 'tcp://x:1'] });
    expect(() => loadServerConfig(g)).toThrow(/listen\[1\].*listen URL/);
    const h = write('badrule.json', { ...base, allow: ['10.0.0.0/40'] });
    expect(() => loadServerConfig(h)).toThrow(/allow\[0\].*prefix/);
    expect(() => loadServerConfig(write('m.json', { ...base, metrics: '0.0.0.0:9090' }))).toThrow(/metrics.*loopback/);
    expect(() => loadServerConfig(write('w.json', { ...base, listen: ['wss://0.0.0.0:443/x'] }))).toThrow(/tls/);
    expect(() => loadServerConfig(f.replace('typo', 'absent'))).toThrow(/cannot read/);
    expect(() => loadServerConfig(undefined, { listen: ['udp://0.0.0.0:1'], key: 'k', authorizedKeys: 'a', logLevel: 'loud' })).toThrow(/command line: --log-level/);
  });
});

describe('target policy', () => {
  const table: Record<string, string> = { 'db.internal': '10.1.2.3', 'api.example.com': '93.184.216.34', 'evil.example.net': '10.9.9.9' };
  const lookup = async (h: string): Promise<{ address: string; family: 4 | 6 }> => {
    const a = table[h];
    if (!a) throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' });
    return { address: a, family: 4 };
  };
  const policy = new TargetPolicy(['*.example.com:443', '10.1.0.0/16:5432', '[fd00::]/8:22,8000-8100', '127.0.0.1'], lookup);

  it.each([
    ['api.example.com', 443, true],
    ['example.com', 443, false], // the suffix rule matches sub-domains only
    ['api.example.com', 80, false],
    ['db.internal', 5432, true], // resolved address inside the CIDR
    ['evil.example.net', 5432, false], // resolved address outside it
    ['10.1.200.1', 5432, true],
    ['10.2.0.1', 5432, false],
    ['fd12::1', 8050, true],
    ['fd12::1', 8101, false],
    ['127.0.0.1', 1, true],
    ['127.0.0.2', 1, false],
  ])('%s:%i allowed=%s', async (host, port, allowed) => {
    const d = await policy.check(host as string, port as number);
    expect(d.allowed).toBe(allowed);
  });

  it('connects to the resolved address, and says why a target is denied', async () => {
    expect(await policy.check('db.internal', 5432)).toMatchObject({ allowed: true, address: '10.1.2.3' });
    // nope.internal is named by no rule: its failure to resolve is not told apart from a refusal.
    expect(await policy.check('nope.internal', 5432)).toEqual({ allowed: false, reason: 'cannot resolve nope.internal: ENOTFOUND' });
    expect(await new TargetPolicy(['*.example.com:443'], lookup).check('x.org', 9)).toMatchObject({ allowed: false, reason: 'port 9 is not in any allow rule' });
    expect((await new TargetPolicy([], lookup).check('127.0.0.1', 80)).allowed).toBe(false);
  });
});
