/**
 * mptun against the Linux kernel's MPTCP (RFC 8684), both roles, over the tcp-in-udp bridge
 * (see lab.ts): A = mptun client → kernel server, B = kernel client → mptun server. Each
 * case runs in a namespace of its own; afterwards the kernel's MIB counters and tshark's
 * MPTCP analysis of the TUN capture judge it (support.ts judge()).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MptcpClient, createServer, type MptcpServer, type MptcpSocket, type SubflowInfo } from '../../packages/node/src/index.js';
import { Lab, removeStaleLabs, type LabOptions, type PeerOptions, type Scripted } from './lab.js';
import { TEN_MB, casePort, closed, formatMib, interopSkipReason, judge, receiveAll, sendRandom, until, type Digest } from './support.js';

const skipReason = await interopSkipReason();
if (skipReason) console.log(`kernel MPTCP interop suite skipped: ${skipReason}`);
const NO_RESETS = { MPFastcloseTx: 0, MPFastcloseRx: 0, MPRstTx: 0, MPRstRx: 0 };

/**
 * With two subflows, data sent again on the other one (reinjection, RFC 8684 §3.3.6) after
 * an RTO, or moved off a subflow that became backup or was reset, reaches the kernel twice when the first
 * copy lands too; a loaded machine makes such RTOs spurious. Counted, printed, bounded.
 */
const REINJECTED = { MPTcpExtDuplicateData: 500 };

/**
 * What the MP_PRIO cases move. Was 24 MB; in one fresh-clone run an MP_PRIO case finished its
 * transfer and then ran into vitest's 120 s limit in judge(), most likely in tshark's analysis
 * of the capture on a loaded machine. In role A the kernel sends fast and the switch waits for
 * its MP_PRIO counter, so A keeps more to leave enough after the switch to judge by.
 */
const MP_PRIO_BYTES = { A: 16_000_000, B: 10_000_000 };

describe.skipIf(skipReason !== undefined)('kernel MPTCP interop', () => {
  const labs = new Set<Lab>();
  const cleanups: Array<() => Promise<void>> = [];

  async function lab(opts: LabOptions = {}): Promise<Lab> {
    const l = await Lab.create(opts);
    labs.add(l);
    return l;
  }

  async function cleanUp(): Promise<void> {
    // A case that failed before judge() still shows what the kernel counted.
    for (const l of labs) if (!l.judged) console.log(`[interop] unjudged case in ${l.ns}: kernel MIB: ${formatMib(await l.mib().catch(() => ({})))}`);
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
    await Promise.allSettled([...labs].map((l) => l.destroy()));
    labs.clear();
  }
  beforeAll(async () => {
    const stale = await removeStaleLabs();
    if (stale.length > 0) console.log(`removed namespaces left by earlier runs: ${stale.join(', ')}`);
  });
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

  /**
   * An mptun server with udp-plain listeners on loopback hosts `on` (default host 2); resolves its first connection.
   * `noAnnounce`: its loopback listen addresses are not announced (to a kernel on IPv6 they mean nothing).
   */
  async function mptunServer(l: Lab, port: number, opts: { checksums?: boolean; on?: number[]; behindBalancer?: boolean; noAnnounce?: boolean } = {}): Promise<{ server: MptcpServer; first: Promise<MptcpSocket> }> {
    let resolve!: (s: MptcpSocket) => void;
    const first = new Promise<MptcpSocket>((r) => (resolve = r));
    const listen = (opts.on ?? [2]).map((h) => ({ transport: 'udp-plain' as const, host: l.host(h), port }));
    const quiet = opts.behindBalancer || opts.noAnnounce ? { announceListenAddresses: false } : {};
    const server = createServer({ listen, engine: { checksums: opts.checksums ?? false }, ...(opts.behindBalancer ? { behindBalancer: true } : {}), ...quiet }, (s) => resolve(s));
    cleanups.push(() => server.close());
    await server.listen();
    return { server, first };
  }

  /**
   * Both ends send `bytes` at once and end; checks both arrive hash-exact, that the kernel
   * still runs MPTCP, and that the connection closes cleanly (DATA_FIN both ways).
   * `during` runs while data flows (after 1 MB of ours is acknowledged).
   */
  async function bothWays(kernel: Scripted, sock: MptcpSocket, bytes: number, during?: () => Promise<void>): Promise<{ kernelInfo: Record<string, number> }> {
    const got = receiveAll(sock);
    const sending = sendRandom(sock, bytes);
    if (during) {
      await until(() => sock.bytesAcknowledged > 1_000_000, 'a first megabyte acknowledged', 30_000);
      await during();
    }
    const [mine, sent] = (await Promise.all([got, sending])) as [Digest, Digest];
    const connected = await kernel.event('connected');
    const kernelSent = await kernel.event('sent', 60_000);
    const kernelGot = await kernel.event('eof', 60_000);
    expect(connected.mptcp, 'the kernel socket runs MPTCP').toBe(true);
    expect(sock.multipath, 'mptun did not fall back').toBe(true);
    expect(mine).toEqual({ bytes, sha256: kernelSent.sha256 });
    expect({ bytes: kernelGot.bytes, sha256: kernelGot.sha256 }).toEqual(sent);
    await closed(sock);
    await kernel.event('closed');
    return { kernelInfo: kernelGot.info as Record<string, number> };
  }

  /** The subflow of `sock` whose mptun-side address is loopback host `h`. */
  function subflowAt(l: Lab, sock: MptcpSocket, h: number, side: 'local' | 'remote') {
    return sock.subflows().find((f) => (side === 'local' ? f.localAddress : f.remoteAddress) === l.host(h) && f.state === 'established');
  }

  async function established(sock: MptcpSocket, n: number): Promise<void> {
    await until(() => sock.isBound && sock.subflows().filter((f) => f.state === 'established').length >= n, `${n} established subflows`);
  }

  /**
   * Bytes mptun received on each subflow, kept current while the connection lives (the array
   * is filled in place): once it is over, the server has forgotten its subflows.
   */
  function receivedPerSubflow(sock: MptcpSocket): number[] {
    return perSubflow(sock, (f) => f.bytesReceived);
  }

  /**
   * `pick` of each subflow, sampled every 50 ms and at the end: read after the transfer, the
   * array still holds the last figures once the closed connection lists no subflow.
   */
  function perSubflow<T>(sock: MptcpSocket, pick: (f: SubflowInfo) => T): T[] {
    const counts: T[] = [];
    const read = (): void => {
      const now = sock.subflows();
      if (now.length > 0) counts.splice(0, counts.length, ...now.map(pick));
    };
    read();
    const timer = setInterval(read, 50);
    sock.once('end', read);
    sock.once('close', () => clearInterval(timer));
    cleanups.push(async () => clearInterval(timer));
    return counts;
  }

  /** Role B with a second kernel address: the kernel connects to mptun and joins from host 5 (a subflow endpoint). */
  async function kernelJoined(peer: PeerOptions, labOpts: LabOptions = {}): Promise<{ l: Lab; kernel: Scripted; sock: MptcpSocket }> {
    const l = await lab(labOpts);
    await l.kernelEndpoint(5, 'subflow');
    const port = casePort();
    const { first } = await mptunServer(l, port, { noAnnounce: labOpts.ipv6 === true });
    const kernel = l.kernelClient(2, port, peer);
    const sock = await first;
    await established(sock, 2);
    return { l, kernel, sock };
  }

  // --- Handshake, bulk, checksums, DATA_FIN --------------------------------------------------

  for (const checksums of [false, true]) {
    const tag = checksums ? ' with DSS checksums' : '';

    it(`A: mptun client → kernel server: MPTCP without fallback, 10 MB each way hash-exact, clean DATA_FIN${tag}`, async () => {
      const l = await lab({ checksums });
      const port = casePort();
      const kernel = await l.kernelServer(port, { send: TEN_MB });
      const sock = mptunClient(l, port, [2], { checksums }).connect();
      const { kernelInfo } = await bothWays(kernel, sock, TEN_MB);
      if (checksums) expect(kernelInfo.csumEnabled, 'the kernel runs DSS checksums').toBe(1);
      await judge(l, `A bulk${tag}`, { atLeast: { MPCapableSYNRX: 1, MPCapableACKRX: 1 }, exactly: NO_RESETS });
    });

    it(`B: kernel client → mptun server: MPTCP without fallback, 10 MB each way hash-exact, clean DATA_FIN${tag}`, async () => {
      const l = await lab({ checksums });
      const port = casePort();
      const { first } = await mptunServer(l, port, { checksums });
      const kernel = l.kernelClient(2, port, { send: TEN_MB });
      const { kernelInfo } = await bothWays(kernel, await first, TEN_MB);
      if (checksums) expect(kernelInfo.csumEnabled, 'the kernel runs DSS checksums').toBe(1);
      await judge(l, `B bulk${tag}`, { atLeast: { MPCapableSYNTX: 1, MPCapableSYNACKRX: 1 }, exactly: NO_RESETS });
    });
  }

  // RFC 8684 §3.1: the kernel's first data segment carries MP_CAPABLE with a Data-Level Length, no DSS.
  it("B: the kernel client's first bytes ride its MP_CAPABLE third ACK (data-level length) and reach mptun", async () => {
    const l = await lab();
    const port = casePort();
    const { first } = await mptunServer(l, port);
    const kernel = l.kernelClient(2, port, { send: 1000, noFin: true });
    const sock = await first;
    let got = 0;
    sock.on('data', (d: Buffer) => (got += d.length));
    await kernel.event('connected');
    await until(() => got === 1000, "the kernel's first bytes", 5000);
    sock.end();
    kernel.send('shutdown');
    await closed(sock);
    await judge(l, 'B first bytes on the third ACK', { atLeast: { MPCapableSYNACKRX: 1 }, exactly: NO_RESETS });
  });

  // --- MP_JOIN on a second address ---------------------------------------------------------------

  it('A: mptun joins from a second address and both subflows carry data', async () => {
    const l = await lab();
    const port = casePort();
    const kernel = await l.kernelServer(port, { send: 4_000_000 });
    const sock = mptunClient(l, port, [2, 3]).connect();
    await established(sock, 2);
    const perPath = perSubflow(sock, (f) => [f.localAddress, f.bytesSent] as const);
    await bothWays(kernel, sock, 4_000_000);
    const sent = Object.fromEntries(perPath);
    console.log('  A join, bytes mptun sent per subflow:', sent);
    expect(sent[l.host(2)]).toBeGreaterThan(0);
    expect(sent[l.host(3)]).toBeGreaterThan(0);
    await judge(l, 'A join', { atLeast: { MPJoinSynRx: 1, MPJoinAckRx: 1 }, exactly: NO_RESETS, allow: REINJECTED });
  });

  it('B: the kernel joins from a second address (subflow endpoint) and both subflows carry data', async () => {
    const { l, kernel, sock } = await kernelJoined({ send: 4_000_000 });
    const got = receivedPerSubflow(sock);
    await bothWays(kernel, sock, 4_000_000);
    console.log('  B join, bytes mptun received per subflow:', got);
    expect(got).toHaveLength(2);
    expect(Math.min(...got), 'each subflow carried data').toBeGreaterThan(0);
    await judge(l, 'B join', { atLeast: { MPJoinSynTx: 1, MPJoinSynAckRx: 1 }, exactly: NO_RESETS, allow: REINJECTED });
  });

  // --- The kernel on IPv6 (the bridge writes IPv6 packets; mptun's side is unchanged) -------------

  it('A over IPv6: mptun joins from a second address, 4 MB each way hash-exact with DSS checksums', async () => {
    const l = await lab({ ipv6: true, checksums: true });
    const port = casePort();
    const kernel = await l.kernelServer(port, { send: 4_000_000 });
    const sock = mptunClient(l, port, [2, 3], { checksums: true }).connect();
    await established(sock, 2);
    const perPath = perSubflow(sock, (f) => [f.localAddress, f.bytesSent] as const);
    const { kernelInfo } = await bothWays(kernel, sock, 4_000_000);
    expect(kernelInfo.csumEnabled, 'the kernel runs DSS checksums').toBe(1);
    const sent = Object.fromEntries(perPath);
    console.log('  A IPv6 join, bytes mptun sent per subflow:', sent);
    expect(Math.min(sent[l.host(2)] ?? 0, sent[l.host(3)] ?? 0), 'each subflow carried data').toBeGreaterThan(0);
    await judge(l, 'A IPv6 join', { atLeast: { MPCapableSYNRX: 1, MPJoinSynRx: 1, MPJoinAckRx: 1 }, exactly: NO_RESETS, allow: REINJECTED });
  });

  it('B over IPv6: the kernel joins from a second address and both subflows carry data', async () => {
    const { l, kernel, sock } = await kernelJoined({ send: 4_000_000 }, { ipv6: true });
    const got = receivedPerSubflow(sock);
    await bothWays(kernel, sock, 4_000_000);
    console.log('  B IPv6 join, bytes mptun received per subflow:', got);
    expect(got).toHaveLength(2);
    expect(Math.min(...got), 'each subflow carried data').toBeGreaterThan(0);
    await judge(l, 'B IPv6 join', { atLeast: { MPCapableSYNTX: 1, MPJoinSynTx: 1, MPJoinSynAckRx: 1 }, exactly: NO_RESETS, allow: REINJECTED });
  });

  it('B: mptun sets the C bit (behind a balancer) and the kernel opens no subflow to its first address', async () => {
    const l = await lab();
    await l.kernelEndpoint(5, 'subflow'); // without the C bit the kernel joins from here (the case above)
    const port = casePort();
    const { first } = await mptunServer(l, port, { behindBalancer: true });
    const kernel = l.kernelClient(2, port, { send: 1_000_000 });
    const sock = await first;
    let most = 0;
    const watch = setInterval(() => (most = Math.max(most, sock.subflows().length)), 20);
    try {
      await bothWays(kernel, sock, 1_000_000);
    } finally {
      clearInterval(watch);
    }
    expect(most, 'subflows mptun ever had').toBe(1);
    // RFC 8684 §3.1: the kernel keeps the C bit as "deny join to id 0" and sends no MP_JOIN there.
    await judge(l, 'B C bit', { atLeast: { MPCapableSYNACKRX: 1 }, exactly: { MPJoinSynTx: 0, ...NO_RESETS } });
  });

  // --- ADD_ADDR and REMOVE_ADDR -----------------------------------------------------------------

  /**
   * The kernel announces host 5 (ADD_ADDR) and withdraws it (REMOVE_ADDR); mptun must echo the
   * announcement and report both. `kernelFirst` bytes from the kernel come before it.
   */
  async function kernelAnnounces(kernelFirst: number, name: string): Promise<void> {
    const l = await lab();
    await l.addKernelAddress(5);
    const port = casePort();
    const kernel = await l.kernelServer(port, { send: kernelFirst, noFin: true });
    const sock = mptunClient(l, port, [2]).connect();
    const added = new Promise<{ addressId: number; host: string }>((r) => sock.once('address-added', r));
    const removed = new Promise<{ addressIds: number[] }>((r) => sock.once('address-removed', r));
    let got = 0;
    sock.on('data', (d: Buffer) => (got += d.length));
    await kernel.event('connected');
    await until(() => got === kernelFirst, "the kernel's first bytes");
    // An endpoint added while the connection is open is announced to it at once.
    await l.kernelEndpoint(5, 'signal');
    expect(await added).toMatchObject({ addressId: 5, host: l.inner(5) });
    await until(async () => ((await l.mib()).MPTcpExtEchoAdd ?? 0) >= 1, 'the kernel to receive the echo');
    await l.ip('mptcp', 'endpoint', 'delete', 'id', '5');
    expect((await removed).addressIds).toEqual([5]);
    sock.end();
    kernel.send('shutdown');
    await closed(sock);
    await judge(l, name, { atLeast: { AddAddrTx: 1, EchoAdd: 1, RmAddrTx: 1 }, exactly: NO_RESETS });
  }

  it('A: the kernel announces an address (ADD_ADDR) and withdraws it (REMOVE_ADDR); mptun echoes and reports both', () =>
    kernelAnnounces(1000, 'A ADD_ADDR/REMOVE_ADDR from the kernel'));

  // The kernel's ADD_ADDR rides a pure ACK without DSS; its HMAC proves the server holds both
  // keys, so mptun stops repeating the MP_CAPABLE third ACK (RFC 8684 §3.1) and the echo fits.
  it('A: a server that has sent nothing announces an address and mptun echoes it', () =>
    kernelAnnounces(0, 'A ADD_ADDR from a quiet kernel'));

  it('B: mptun announces an address (ADD_ADDR), the kernel echoes and joins it, then mptun withdraws it (REMOVE_ADDR)', async () => {
    const l = await lab();
    const port = casePort();
    const { server, first } = await mptunServer(l, port, { on: [2, 3] });
    const kernel = l.kernelClient(2, port, { noFin: true });
    const sock = await first;
    sock.resume();
    await until(() => sock.connection.state === 'established', 'the third ACK to reach mptun');
    // The kernel sees its own side of the bridge: announce host 3 as the namespace knows it.
    expect(sock.connection.announceAddress(3, l.inner(3))).toBe(true);
    server.driver.schedulePump(); // the engine was called directly, not through the socket
    await established(sock, 2);
    expect(subflowAt(l, sock, 1, 'remote')).toBeDefined();
    sock.connection.withdrawAddresses([3]);
    server.driver.schedulePump();
    await until(async () => ((await l.mib()).MPTcpExtRmAddr ?? 0) >= 1, 'the kernel to receive REMOVE_ADDR');
    // The kernel would now close subflows to address id 3, but mptun gave the joined subflow
    // id 4: its address ids are keyed by its own view of the address (127.77.L.3), not by the
    // namespace's 10.77.0.3 announced here, a difference only the bridge creates.
    kernel.send('shutdown');
    sock.end();
    await closed(sock);
    await judge(l, 'B ADD_ADDR/REMOVE_ADDR from mptun', { atLeast: { AddAddr: 1, EchoAddTx: 1, MPJoinSynTx: 1, RmAddr: 1 }, exactly: NO_RESETS });
  });

  // --- MP_PRIO ---------------------------------------------------------------------------------

  it('A: mptun marks a subflow backup (MP_PRIO) and the kernel stops sending on it', async () => {
    const l = await lab();
    const port = casePort();
    const kernel = await l.kernelServer(port, { send: MP_PRIO_BYTES.A });
    const sock = mptunClient(l, port, [2, 3]).connect();
    await established(sock, 2);
    const got = receiveAll(sock);
    await until(() => (sock.subflows().reduce((n, f) => n + f.bytesReceived, 0)) > 500_000, 'data from the kernel');
    sock.setBackup(l.host(3), true);
    await until(async () => ((await l.mib()).MPTcpExtMPPrioRx ?? 0) >= 1, 'the kernel to receive MP_PRIO');
    await new Promise((r) => setTimeout(r, 300)); // what was in flight lands
    const before = subflowAt(l, sock, 3, 'local')!.bytesReceived;
    const totalBefore = sock.subflows().reduce((n, f) => n + f.bytesReceived, 0);
    sock.end();
    await got;
    const after = subflowAt(l, sock, 3, 'local')?.bytesReceived ?? before;
    const totalAfter = sock.subflows().reduce((n, f) => n + f.bytesReceived, 0);
    console.log(`  A MP_PRIO: backup subflow got ${after - before} of the last ${totalAfter - totalBefore} bytes`);
    // Enough left to judge by (how much depends on the machine's speed, so the bar is low).
    expect(totalAfter - totalBefore).toBeGreaterThan(200_000);
    expect(after - before, 'bytes on the backup subflow after MP_PRIO').toBeLessThan((totalAfter - totalBefore) / 20);
    await closed(sock);
    await judge(l, 'A MP_PRIO from mptun', { atLeast: { MPPrioRx: 1 }, exactly: NO_RESETS, allow: REINJECTED });
  });

  // Once hung until vitest's 120 s timeout after the switch: data the kernel acknowledged on
  // its subflow and then dropped was never sent again (now the data-level retransmission).
  it('B: the kernel marks its subflow backup (MP_PRIO) and mptun stops sending on it', async () => {
    const { l, kernel, sock } = await kernelJoined({ noFin: true });
    const total = MP_PRIO_BYTES.B;
    const sending = sendRandom(sock, total);
    await until(() => sock.bytesAcknowledged > 500_000, 'data acknowledged');
    await l.ip('mptcp', 'endpoint', 'change', 'id', '5', 'backup');
    await until(() => subflowAt(l, sock, 5, 'remote')?.peerBackup === true, 'mptun to see the MP_PRIO');
    await new Promise((r) => setTimeout(r, 300));
    const before = subflowAt(l, sock, 5, 'remote')!.bytesSent;
    const ackedBefore = sock.bytesAcknowledged;
    await sending;
    await kernel.event('eof', 60_000);
    const after = subflowAt(l, sock, 5, 'remote')?.bytesSent ?? before;
    console.log(`  B MP_PRIO: backup subflow carried ${after - before} of the last ${total - ackedBefore} bytes`);
    // Enough left to judge by (how much depends on the machine's speed, so the bar is low).
    expect(total - ackedBefore).toBeGreaterThan(200_000);
    expect(after - before, 'bytes mptun sent on the backup subflow after MP_PRIO').toBeLessThan((total - ackedBefore) / 20);
    kernel.send('shutdown');
    sock.resume();
    await closed(sock);
    await judge(l, 'B MP_PRIO from the kernel', { atLeast: { MPPrioTx: 1 }, exactly: NO_RESETS, allow: REINJECTED });
  });

  // --- MP_FASTCLOSE and MP_TCPRST ----------------------------------------------------------------

  for (const role of ['A', 'B'] as const) {
    /**
     * A connection in `role` over which mptun has sent 1000 bytes, nothing ended. The mptun
     * server writes once the kernel's third ACK has reached it (see the held-back case on
     * early server writes below).
     */
    async function openQuiet(l: Lab): Promise<{ kernel: Scripted; sock: MptcpSocket }> {
      const port = casePort();
      let kernel: Scripted;
      let sock: MptcpSocket;
      if (role === 'A') {
        kernel = await l.kernelServer(port, { noFin: true });
        sock = mptunClient(l, port, [2]).connect();
      } else {
        const { first } = await mptunServer(l, port);
        kernel = l.kernelClient(2, port, { noFin: true });
        sock = await first;
        const s = sock;
        await until(() => s.connection.state === 'established', "the kernel's third ACK at mptun");
      }
      sock.on('error', () => {});
      sock.write(Buffer.alloc(1000, 7));
      await kernel.event('connected');
      await until(async () => (await kernel.ask('stats', (e) => e.event === 'stats')).rx === 1000, "mptun's first bytes at the kernel");
      return { kernel, sock };
    }

    it(`${role}: mptun aborts (MP_FASTCLOSE) and the kernel's connection is reset`, async () => {
      const l = await lab();
      const { kernel, sock } = await openQuiet(l);
      sock.destroy();
      const e = await kernel.event('error');
      expect(e.errno, 'the kernel socket saw ECONNRESET').toBe(104);
      await judge(l, `${role} MP_FASTCLOSE from mptun`, { atLeast: { MPFastcloseRx: 1 } });
    });

    it(`${role}: the kernel aborts (MP_FASTCLOSE) and mptun reports a reset`, async () => {
      const l = await lab();
      const { kernel, sock } = await openQuiet(l);
      const err = new Promise<string>((r) => sock.once('error', (e: Error & { code?: string }) => r(e.code ?? 'error')));
      kernel.send('abort');
      expect(await err).toBe('ERR_MPTUN_RESET');
      await judge(l, `${role} MP_FASTCLOSE from the kernel`, { atLeast: { MPFastcloseTx: 1 } });
    });
  }

  /**
   * mptun resets its subflow from host 3 (RST with MP_TCPRST, RFC 8684 §3.6) and then moves
   * 1 MB over the other. With `kernelBusy` the kernel is sending on that subflow meanwhile.
   */
  async function mptunResetsSubflow(kernelBusy: boolean, name: string): Promise<void> {
    const l = await lab();
    const port = casePort();
    // A few bytes from the kernel show mptun that it holds our key, which joins wait for.
    const kernel = await l.kernelServer(port, { send: kernelBusy ? 2_000_000 : 1000, noFin: !kernelBusy });
    const sock = mptunClient(l, port, [2, 3]).connect();
    const got = receiveAll(sock);
    await established(sock, 2);
    sock.removeLocalAddress(l.host(3));
    await until(async () => ((await l.mib()).MPTcpExtMPRstRx ?? 0) >= 1, 'the kernel to receive MP_TCPRST');
    const sent = await sendRandom(sock, 1_000_000);
    const kernelGot = await kernel.event('eof', 30_000);
    expect({ bytes: kernelGot.bytes, sha256: kernelGot.sha256 }).toEqual(sent);
    if (!kernelBusy) kernel.send('shutdown');
    await got;
    await closed(sock);
    await judge(l, name, { atLeast: { MPRstRx: 1, MPJoinAckRx: 1 }, exactly: { MPFastcloseTx: 0, MPFastcloseRx: 0 }, allow: REINJECTED });
  }

  it('A: mptun resets one subflow (MP_TCPRST) and the connection carries on over the other', () => mptunResetsSubflow(false, 'A MP_TCPRST from mptun'));

  // Segments the kernel still sends on the subflow reach mptun before its RST leaves; mptun
  // answers them with bare RSTs, which must not overtake the RST carrying MP_TCPRST (MPRstRx).
  it('A: mptun resets a subflow the kernel is sending on, and the kernel sees MP_TCPRST', () =>
    mptunResetsSubflow(true, 'A MP_TCPRST from mptun, kernel busy'));

  it('B: the kernel withdraws the address of its joined subflow (REMOVE_ADDR) and the connection carries on', async () => {
    const { l, kernel, sock } = await kernelJoined({ send: 2_000_000 });
    const removed = new Promise<{ addressIds: number[] }>((r) => sock.once('address-removed', r));
    await l.ip('mptcp', 'endpoint', 'delete', 'id', '5');
    expect((await removed).addressIds).toEqual([5]);
    await until(() => subflowAt(l, sock, 5, 'remote') === undefined, 'the subflow from the removed address to close');
    await bothWays(kernel, sock, 2_000_000);
    await judge(l, 'B REMOVE_ADDR from the kernel', { atLeast: { RmAddrTx: 1, RmSubflow: 1 }, exactly: { MPFastcloseTx: 0, MPFastcloseRx: 0 } });
  });

  it('B: the kernel resets its joined subflow (RST with MP_TCPRST) and the connection carries on', async () => {
    const { l, kernel, sock } = await kernelJoined({ send: 1_000_000 });
    // SOCK_DESTROY on the subflow socket: the kernel aborts it, and every RST of an MPTCP
    // subflow carries MP_TCPRST (RFC 8684 §3.6).
    await l.ss('-K', 'src', l.inner(5));
    await until(() => sock.subflows().filter((f) => f.state === 'established').length === 1, 'the reset subflow to close');
    await bothWays(kernel, sock, 1_000_000);
    // What mptun had in flight on the reset subflow goes again on the other (RFC 8684 §3.3.6);
    // the part that had reached the kernel arrives twice.
    await judge(l, 'B MP_TCPRST from the kernel', { atLeast: { MPRstTx: 1 }, exactly: { MPFastcloseTx: 0, MPFastcloseRx: 0 }, allow: REINJECTED });
  });

  // --- A path lost mid-transfer ----------------------------------------------------------------

  it('A: mptun loses its first path mid-transfer and finishes over the second', async () => {
    const l = await lab();
    const port = casePort();
    const kernel = await l.kernelServer(port, { send: 8_000_000 });
    const sock = mptunClient(l, port, [2, 3]).connect();
    await established(sock, 2);
    await bothWays(kernel, sock, 8_000_000, () => l.setHost(2, 'down'));
    // The kernel's data on the lost subflow is sent again on the other: it may see some twice.
    await judge(l, 'A path lost', { atLeast: { MPJoinAckRx: 1 }, allow: { MPTcpExtDuplicateData: 1000 } });
  });

  // Once stalled until vitest's 120 s limit under load, as the MP_PRIO case did: data the
  // kernel acknowledged on a subflow and then dropped was never sent again (now the data-level
  // retransmission, data-level-drop.test.ts).
  it('B: the kernel loses its first address mid-transfer and finishes over its joined subflow', async () => {
    const { l, kernel, sock } = await kernelJoined({ send: 8_000_000 });
    await bothWays(kernel, sock, 8_000_000, () => l.setHost(1, 'down'));
    await judge(l, 'B path lost', { atLeast: { MPJoinSynAckRx: 1 }, allow: { MPTcpExtDuplicateData: 1000 } });
  });

  // Once in five runs under load the server wrote on 'connection' (which comes with the SYN),
  // its data left before the kernel's third ACK arrived without a DATA_ACK (there is none to
  // send before the client's key), and the kernel fell back to TCP (MPCapableDataFallback=1).
  // The server now holds such data until the third ACK unless the SYN carried data
  // (packages/sim/test/engine/early-server-write.test.ts). Five connections, each judged.
  it('B: the mptun server writes as soon as the connection appears and the kernel stays on MPTCP', async () => {
    for (let i = 0; i < 5; i++) {
      const l = await lab();
      const port = casePort();
      const { first } = await mptunServer(l, port);
      const kernel = l.kernelClient(2, port, { noFin: true });
      const sock = await first;
      sock.write(Buffer.alloc(1000, 7));
      await until(async () => (await kernel.ask('stats', (e) => e.event === 'stats')).rx === 1000, "mptun's first bytes at the kernel");
      expect((await kernel.ask('info', (e) => e.event === 'info')).info, 'the kernel still runs MPTCP').not.toBeNull();
      sock.destroy();
      await judge(l, `B early server write, run ${i + 1}`, { atLeast: { MPCapableSYNACKRX: 1 } });
      await cleanUp();
    }
  });

  // mptun falls back on the first unmapped bytes and its ACKs carry MP_FAIL (with a DATA_ACK).
  // The kernel hears it (MPFailRx). It may answer with an infinite mapping on its next new
  // data and follow (InfiniteMapTx); it may ignore it (Linux takes MP_FAIL only while it still
  // allows an infinite fallback: MPFailRx=163 and no answer in one CI run) and end with a
  // subflow FIN, which mptun, fallen back, takes as the end; or, having sent everything already, send no mapping and keep its
  // DATA_FIN stripped, and mptun resets once nothing has moved for 3 s (unmapped-data.test.ts).
  // Each has been seen; what must not happen is a hang or bytes out of order.
  it('A: a middlebox strips the MPTCP options from the kernel\'s data mid-transfer and mptun falls back or resets at once', async () => {
    const l = await lab();
    const port = casePort();
    const kernel = await l.kernelServer(port, { send: 4_000_000 });
    const sock = mptunClient(l, port, [2]).connect();
    let got = 0;
    sock.on('data', (d: Buffer) => (got += d.length));
    const outcome = new Promise<string>((resolve) => {
      sock.once('end', () => resolve('completed'));
      sock.once('error', (e: Error & { code?: string }) => resolve(e.code ?? 'error'));
    });
    await until(() => got > 1_000_000, 'a first megabyte from the kernel');
    await l.stripOptionsFrom(1);
    // RFC 8684 §3.7: data without a mapping after the handshake means fall back to TCP
    // (one subflow, in order) or reset; what is not acceptable is nothing at all.
    const t0 = performance.now();
    const within = await Promise.race([outcome, new Promise<string>((r) => setTimeout(() => r('stalled'), 15_000))]);
    console.log(`  options stripped: ${within} after ${((performance.now() - t0) / 1000).toFixed(1)} s, ${got} bytes read`);
    expect(['completed', 'ERR_MPTUN_PROTOCOL']).toContain(within);
    if (within === 'completed') expect(got, 'every byte, in order, after the fallback').toBe(4_000_000);
    // The kernel heard our MP_FAIL. One rides every ACK of ours until the peer follows, and
    // the kernel may answer each, so those count freely.
    await judge(l, 'A options stripped mid-transfer', {
      atLeast: { MPFailRx: 1 },
      allow: { MPTcpExtMPFailRx: Number.MAX_SAFE_INTEGER, MPTcpExtMPFailTx: Number.MAX_SAFE_INTEGER, MPTcpExtInfiniteMapTx: 1 },
    });
  });

  // Once counted DuplicateData=1 on its single subflow: the opportunistic retransmission
  // copied data the kernel had acknowledged on that subflow (finding 10).
  it('A: the kernel sets the C bit (no joins to its first address) and mptun honours it', async () => {
    const l = await lab();
    await l.sysctl('net.mptcp.allow_join_initial_addr_port=0');
    const port = casePort();
    const kernel = await l.kernelServer(port, { send: 1_000_000 });
    const sock = mptunClient(l, port, [2, 3]).connect();
    await bothWays(kernel, sock, 1_000_000);
    // RFC 8684 §3.1: with C set, the client sends no MP_JOIN to the address of the initial subflow.
    await judge(l, 'A C bit', { atLeast: { MPCapableACKRX: 1 }, exactly: { MPJoinSynRx: 0, MPJoinRejected: 0 } });
  });

  // Finding 10: the kernel acknowledges on its subflow what its DATA_ACK does not cover yet,
  // holding it unread behind a zero window. mptun used to copy that every two round trips (a
  // loss probe re-armed by its own probe) and at once on the window's close. Now only the
  // data-level retransmission copies it, a second after the DATA_ACK stalled and then backing
  // off (2 s more): over a 2 s pause that is one copy, two if the pause stretches under load.
  // It has to go: the kernel's MP_PRIO case shows the same stall when the kernel has dropped it.
  it('A: the kernel stops reading (zero window) and mptun neither floods nor resends what it holds', async () => {
    const l = await lab();
    const port = casePort();
    const kernel = await l.kernelServer(port, { noFin: true });
    const sock = mptunClient(l, port, [2]).connect();
    await kernel.event('connected');
    kernel.send('pause');
    const sending = sendRandom(sock, 8_000_000);
    await new Promise((r) => setTimeout(r, 2000));
    kernel.send('resume');
    await sending;
    await kernel.event('eof', 60_000);
    kernel.send('shutdown');
    sock.resume();
    await closed(sock);
    await judge(l, 'A zero window', { atLeast: { MPCapableACKRX: 1 }, allow: { MPTcpExtDuplicateData: 2 } });
  });
});
