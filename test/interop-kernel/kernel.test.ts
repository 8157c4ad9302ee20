/**
 * mptun against the Linux kernel's MPTCP (RFC 8684), both roles, over the tcp-in-udp bridge
 * (see lab.ts). Each case runs in a namespace of its own; afterwards the kernel's MIB
 * counters and tshark's MPTCP analysis of the TUN capture judge it (support.ts judge()).
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MptcpClient, createServer, type MptcpServer, type MptcpSocket } from '../../packages/node/src/index.js';
import { Lab, type LabOptions } from './lab.js';
import { TEN_MB, casePort, closed, interopSkipReason, judge, receiveAll, sendRandom } from './support.js';

const skipReason = await interopSkipReason();
if (skipReason) console.log(`kernel MPTCP interop suite skipped: ${skipReason}`);

describe.skipIf(skipReason !== undefined)('kernel MPTCP interop', () => {
  const labs = new Set<Lab>();
  const cleanups: Array<() => Promise<void>> = [];

  async function lab(opts: LabOptions = {}): Promise<Lab> {
    const l = await Lab.create(opts);
    labs.add(l);
    return l;
  }

  async function cleanUp(): Promise<void> {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
    await Promise.allSettled([...labs].map((l) => l.destroy()));
    labs.clear();
  }
  afterEach(cleanUp);
  afterAll(cleanUp);

  /** An mptun client over udp-plain from loopback hosts `from` to the lab's kernel at host 1. */
  function mptunClient(l: Lab, port: number, from: number[], opts: { checksums?: boolean } = {}): MptcpClient {
    const client = new MptcpClient({
      transport: 'udp-plain',
      server: `${l.host(1)}:${port}`,
      localAddresses: from.map((h) => l.host(h)),
      engine: { checksums: opts.checksums ?? false },
    });
    cleanups.push(() => client.close());
    return client;
  }

  /** An mptun server with a udp-plain listener on loopback host 2. */
  async function mptunServer(l: Lab, port: number, onConnection: (s: MptcpSocket) => void, opts: { checksums?: boolean } = {}): Promise<MptcpServer> {
    const server = createServer({ listen: [{ transport: 'udp-plain', host: l.host(2), port }], engine: { checksums: opts.checksums ?? false } }, onConnection);
    cleanups.push(() => server.close());
    await server.listen();
    return server;
  }

  function firstConnection(): { onConnection: (s: MptcpSocket) => void; socket: Promise<MptcpSocket> } {
    let resolve!: (s: MptcpSocket) => void;
    const socket = new Promise<MptcpSocket>((r) => (resolve = r));
    return { onConnection: (s) => resolve(s), socket };
  }

  for (const checksums of [false, true]) {
    const tag = checksums ? ' with DSS checksums' : '';

    it(`mptun client → kernel server: MPTCP without fallback, 10 MB each way hash-exact, clean DATA_FIN${tag}`, async () => {
      const l = await lab({ checksums });
      const port = casePort();
      const kernel = await l.kernelServer(port, { send: TEN_MB });
      const client = mptunClient(l, port, [2], { checksums });
      const sock = client.connect();
      const [got, sent] = await Promise.all([receiveAll(sock), sendRandom(sock, TEN_MB)]);
      const connected = await kernel.event('connected');
      const kernelSent = await kernel.event('sent');
      const kernelGot = await kernel.event('eof', 60_000);
      expect(connected.mptcp, 'the kernel socket still runs MPTCP').toBe(true);
      expect(sock.multipath).toBe(true);
      expect(got).toEqual({ bytes: TEN_MB, sha256: kernelSent.sha256 });
      expect({ bytes: kernelGot.bytes, sha256: kernelGot.sha256 }).toEqual(sent);
      if (checksums) expect((kernelGot.info as { csumEnabled: number }).csumEnabled).toBe(1);
      await closed(sock);
      await kernel.event('closed');
      await judge(l, `client→kernel bulk${tag}`, { atLeast: { MPCapableSYNRX: 1, MPCapableACKRX: 1 } });
    });

    it(`kernel client → mptun server: MPTCP without fallback, 10 MB each way hash-exact, clean DATA_FIN${tag}`, async () => {
      const l = await lab({ checksums });
      const port = casePort();
      const first = firstConnection();
      await mptunServer(l, port, first.onConnection, { checksums });
      const kernel = l.kernelClient(2, port, { send: TEN_MB });
      const sock = await first.socket;
      const [got, sent] = await Promise.all([receiveAll(sock), sendRandom(sock, TEN_MB)]);
      const connected = await kernel.event('connected');
      const kernelSent = await kernel.event('sent');
      const kernelGot = await kernel.event('eof', 60_000);
      expect(connected.mptcp, 'the kernel socket still runs MPTCP').toBe(true);
      expect(sock.multipath).toBe(true);
      expect(got).toEqual({ bytes: TEN_MB, sha256: kernelSent.sha256 });
      expect({ bytes: kernelGot.bytes, sha256: kernelGot.sha256 }).toEqual(sent);
      if (checksums) expect((kernelGot.info as { csumEnabled: number }).csumEnabled).toBe(1);
      await closed(sock);
      await kernel.event('closed');
      await judge(l, `kernel→server bulk${tag}`, { atLeast: { MPCapableSYNTX: 1, MPCapableSYNACKRX: 1 } });
    });
  }
});
