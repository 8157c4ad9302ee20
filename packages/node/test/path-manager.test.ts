/**
 * MptcpClient and MptcpServer run @mptun/path-manager: the server announces its second
 * address (ADD_ADDR), the client joins it; ndiffports opens its siblings from their own UDP
 * source ports; a local address removed mid-transfer is withdrawn (REMOVE_ADDR) with its
 * subflows closed, and the transfer ends hash-exact.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PcapWriter } from '@mptun/pcap';
import { generateKeypair } from '@mptun/session';
import { MptcpClient, MptcpServer, type Driver, type MptcpSocket } from '../src/index.js';
import { pattern, readAll, sha256, testCrypto, writeAll } from './support.js';

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close();
});

/** A sealed-UDP server on each of `hosts` (own ephemeral ports) and a client of it. */
async function world(hosts: string[], client: Partial<ConstructorParameters<typeof MptcpClient>[0]> = {}) {
  const crypto = await testCrypto();
  const serverKeys = generateKeypair(crypto);
  const clientKeys = generateKeypair(crypto);
  const server = new MptcpServer({ listen: hosts.map((host) => ({ transport: 'udp' as const, host, port: 0 })), keypair: serverKeys, authorizedKeys: [clientKeys.publicKey], crypto });
  const bound = await server.listen();
  open.push(server);
  const c = new MptcpClient({ transport: 'udp', server: { host: bound[0]!.host, port: bound[0]!.port }, keypair: clientKeys, serverPublicKey: serverKeys.publicKey, crypto, connectTimeoutMs: 5000, ...client });
  open.push(c);
  return { server, bound, client: c };
}

function exchange(server: MptcpServer, sock: MptcpSocket, size: number) {
  const down = pattern(3, size);
  const up = pattern(4, size);
  const serverSide = new Promise<{ bytes: number; hash: string }>((resolve) =>
    server.once('connection', (s: MptcpSocket) => {
      readAll(s).then(resolve, () => {});
      writeAll(s, down);
    }),
  );
  const got = readAll(sock);
  writeAll(sock, up);
  return { got, serverSide, down, up };
}

const hasTshark = spawnSync('tshark', ['-v'], { stdio: 'ignore' }).status === 0;
if (!hasTshark) console.log('path-manager.test.ts: the tshark check is skipped: no tshark on this machine');

/** Records every segment an engine sends and receives, with its path's addresses. */
function capture(driver: Driver): PcapWriter {
  const pcap = new PcapWriter();
  const ep = driver.endpoint;
  const t0 = performance.now();
  const inbound = ep.handleSegment.bind(ep);
  ep.handleSegment = (now, pathId, segment) => {
    const p = ep.pathInfo(pathId);
    if (p) pcap.add(performance.now() - t0, p.remote.host, p.local.host, segment);
    return inbound(now, pathId, segment);
  };
  const outbound = ep.pollTransmit.bind(ep);
  ep.pollTransmit = (now) => {
    const t = outbound(now);
    const p = t ? ep.pathInfo(t.pathId) : undefined;
    if (t && p) pcap.add(performance.now() - t0, p.local.host, p.remote.host, t.bytes);
    return t;
  };
  return pcap;
}

/** tshark over a capture: the given fields of the packets a display filter selects, one line each. */
function tsharkFields(pcap: PcapWriter): (filter: string, ...fields: string[]) => string[] {
  return (filter, ...fields) => {
    const dir = mkdtempSync(join(tmpdir(), 'mptun-pm-pcap-'));
    try {
      const file = join(dir, 'paths.pcap');
      writeFileSync(file, pcap.bytes());
      return execFileSync('tshark', ['-r', file, '-Y', filter, '-T', 'fields', ...fields.flatMap((x) => ['-e', x])], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

describe('path manager in MptcpClient / MptcpServer', () => {
  it.skipIf(!hasTshark)('tshark reads the ADD_ADDR of the second server address and the MP_JOIN to it in a capture of the engine\'s segments', async () => {
    const w = await world(['127.0.0.1', '127.0.0.4'], { localAddresses: ['127.0.0.2'] });
    const pcap = capture(w.client.driver);
    const sock = w.client.connect();
    const x = exchange(w.server, sock, 2_000_000);
    expect(await x.got).toEqual({ bytes: x.down.length, hash: sha256(x.down) });
    const fields = tsharkFields(pcap);
    {
      // RFC 8684 §3.4.1 ADD_ADDR (subtype 3) from the server, not echoed, naming 127.0.0.4.
      const addAddr = fields('tcp.options.mptcp.subtype == 3 && tcp.options.mptcp.echo == 0', 'ip.src', 'tcp.options.mptcp.addrid', 'tcp.options.mptcp.ipv4', 'tcp.options.mptcp.port');
      console.log('ADD_ADDR seen by tshark (src, id, address, port):', addAddr);
      expect(addAddr.some((l) => l.startsWith('127.0.0.1\t') && l.includes('\t127.0.0.4\t'))).toBe(true);
      // RFC 8684 §3.2 MP_JOIN SYN (subtype 1, SYN without ACK) toward 127.0.0.4.
      const joins = fields('tcp.options.mptcp.subtype == 1 && tcp.flags.syn == 1 && tcp.flags.ack == 0', 'ip.src', 'ip.dst');
      console.log('MP_JOIN SYNs seen by tshark (src, dst):', joins);
      expect(joins).toContain('127.0.0.2\t127.0.0.4');
    }
  }, 60_000);

  it('the server announces its second listen address (ADD_ADDR); the client, told only the first, joins it and the download uses both', async () => {
    const w = await world(['127.0.0.1', '127.0.0.4']);
    expect(w.server.announcedAddresses().map((a) => a.host)).toEqual(['127.0.0.1', '127.0.0.4']);
    const sock = w.client.connect();
    const x = exchange(w.server, sock, 20_000_000);
    await until(() => sock.isBound && sock.connection.peerAddressList().some((a) => a.host === '127.0.0.4'), 'ADD_ADDR of 127.0.0.4');
    expect(await x.got).toEqual({ bytes: x.down.length, hash: sha256(x.down) });
    expect(await x.serverSide).toEqual({ bytes: x.up.length, hash: sha256(x.up) });
    const byRemote = new Map<string, number>();
    for (const f of sock.subflows()) byRemote.set(f.remoteAddress, (byRemote.get(f.remoteAddress) ?? 0) + f.bytesReceived);
    console.log('bytes received per server address', Object.fromEntries(byRemote));
    expect([...byRemote.keys()].sort()).toEqual(['127.0.0.1', '127.0.0.4']);
    expect(byRemote.get('127.0.0.4')!).toBeGreaterThan(1_000_000);
    expect(byRemote.get('127.0.0.1')!).toBeGreaterThan(1_000_000);
  }, 60_000);

  it('ndiffports:4 puts four subflows on four distinct UDP source ports', async () => {
    const w = await world(['127.0.0.1'], { localAddresses: ['127.0.0.2'], pathManager: 'ndiffports:4' });
    const sock = w.client.connect();
    const x = exchange(w.server, sock, 4_000_000);
    await until(() => sock.isBound && sock.subflows().filter((f) => f.state === 'established').length === 4, 'four established subflows');
    const ports = new Set(sock.subflows().map((f) => w.client.driver.linkOf(sock.connection.subflows().find((s) => s.id === f.id)!.pathId)?.local.port));
    console.log('UDP source ports', [...ports]);
    expect(ports.size).toBe(4);
    expect(await x.got).toEqual({ bytes: x.down.length, hash: sha256(x.down) });
  }, 60_000);

  it.skipIf(!hasTshark)('removeLocal mid-transfer: the subflow closes with MP_TCPRST, the server receives REMOVE_ADDR (tshark on its capture), the transfer ends hash-exact', async () => {
    const w = await world(['127.0.0.1'], { localAddresses: ['127.0.0.2', '127.0.0.3'] });
    const serverPcap = capture(w.server.driver);
    const sock = w.client.connect();
    const x = exchange(w.server, sock, 20_000_000);
    await until(() => sock.isBound && sock.subflows().filter((f) => f.state === 'established').length === 2, 'two established subflows');
    await until(() => sock.bytesAcknowledged > 2_000_000, 'two megabytes acknowledged');
    const removedId = sock.connection.subflows().find((f) => w.client.driver.endpoint.pathInfo(f.pathId)?.local.host === '127.0.0.3')!.localAddressId;
    w.client.removeLocal('127.0.0.3');
    expect(sock.subflows().filter((f) => f.localAddress === '127.0.0.3' && f.state !== 'closed')).toEqual([]);
    expect(await x.got).toEqual({ bytes: x.down.length, hash: sha256(x.down) });
    expect(await x.serverSide).toEqual({ bytes: x.up.length, hash: sha256(x.up) });
    const fields = tsharkFields(serverPcap);
    // RFC 8684 §3.4.2 REMOVE_ADDR (subtype 4) naming the address id of 127.0.0.3's subflow.
    const removes = fields('tcp.options.mptcp.subtype == 4', 'ip.src', 'tcp.options.mptcp.addrid');
    console.log(`REMOVE_ADDR received by the server (src, ids), id of 127.0.0.3 is ${removedId}:`, removes);
    expect(removes.some((l) => l.split('\t')[1]!.split(',').includes(String(removedId)))).toBe(true);
    // RFC 8684 §3.6 MP_TCPRST (subtype 8) on the subflow from 127.0.0.3.
    const resets = fields('tcp.options.mptcp.subtype == 8', 'ip.src', 'ip.dst');
    console.log('MP_TCPRST received by the server (src, dst):', resets);
    expect(resets).toContain('127.0.0.3\t127.0.0.1');
  }, 60_000);

  it('a followed address that goes and comes back (the interface watcher): its path is reported down and withdrawn, then reopens without a connection asking, a configured backup again', async () => {
    const present = new Set(['127.0.0.2', '127.0.0.3']);
    const source = () => [...present].map((address) => ({ name: address === '127.0.0.3' ? 'if3' : 'if2', address, family: 'IPv4', internal: true }));
    const w = await world(['127.0.0.1'], {
      localAddresses: ['127.0.0.2'],
      backupAddresses: ['127.0.0.3'],
      watchInterfaces: { source, ipMonitor: false, pollIntervalMs: 20, debounceMs: 0, includeInternal: true, addresses: ['127.0.0.2', '127.0.0.3'] },
    });
    const ups: string[] = [];
    const downs: Array<{ localAddress: string; reason: string }> = [];
    w.client.on('path-up', (p: { localAddress: string }) => ups.push(p.localAddress));
    w.client.on('path-down', (p: { localAddress: string; reason: string }) => downs.push(p));
    await w.client.start();
    const sock = w.client.connect();
    w.server.once('connection', (s: MptcpSocket) => s.on('error', () => {}).resume()); // reset when the client destroys it
    const backupSubflow = (): boolean => sock.isBound && sock.subflows().some((f) => f.localAddress === '127.0.0.3' && f.state === 'established' && f.backup);
    await until(backupSubflow, 'a backup subflow from 127.0.0.3');

    present.delete('127.0.0.3');
    await until(() => downs.some((d) => d.localAddress === '127.0.0.3'), 'the path from 127.0.0.3 reported down');
    expect(downs.find((d) => d.localAddress === '127.0.0.3')!.reason).toBe('its local address went away');
    await until(() => !sock.subflows().some((f) => f.localAddress === '127.0.0.3' && f.state === 'established'), 'the subflow from 127.0.0.3 closed');

    // Back: the standing path opens at once (before any join asks), and the join is a backup again.
    const upsBefore = ups.filter((a) => a === '127.0.0.3').length;
    present.add('127.0.0.3');
    await until(() => ups.filter((a) => a === '127.0.0.3').length > upsBefore, 'the path from 127.0.0.3 up again');
    await until(backupSubflow, 'a backup subflow from 127.0.0.3 again');

    // With no connection at all, a returning address's standing path opens too.
    sock.destroy();
    await until(() => sock.destroyed && sock.subflows().length === 0, 'the connection gone');
    present.delete('127.0.0.3');
    await until(() => downs.filter((d) => d.localAddress === '127.0.0.3').length === 2, 'the path from 127.0.0.3 down again');
    const upsIdle = ups.filter((a) => a === '127.0.0.3').length;
    present.add('127.0.0.3');
    await until(() => ups.filter((a) => a === '127.0.0.3').length > upsIdle, 'the path from 127.0.0.3 up with no connection');
  }, 60_000);
});
