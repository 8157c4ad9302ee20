/**
 * iperf3 through a port forward (-L): iperf3 -c → forward on 127.0.0.1 → MPTCP over two
 * emulated paths → tunnel server → iperf3 -s. Both directions (-R), rates from its JSON.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Testbed } from '../apps/demo/src/index.js';
import { Children, freePort, skipWithout, twoPathTestbed } from './support.js';

interface IperfReport {
  end?: { sum_sent?: { bytes: number; bits_per_second: number }; sum_received?: { bytes: number; bits_per_second: number } };
  error?: string;
}

describe.skipIf(skipWithout('iperf3'))('iperf3 through a port forward', () => {
  const children = new Children();
  let bed: Testbed | null = null;

  afterEach(async () => {
    children.killAll();
    await bed?.close();
    bed = null;
  });

  for (const reverse of [false, true]) {
    it(`moves bytes ${reverse ? 'server → client (-R)' : 'client → server'}`, async () => {
      const port = await freePort();
      const server = children.start('iperf3', ['-s', '-1', '-B', '127.0.0.1', '-p', String(port), '--forceflush']);
      const serverDone = children.wait(server, 30_000);
      await children.waitForOutput(server, 'Server listening', 10_000);
      bed = await twoPathTestbed({ forwards: [{ host: '127.0.0.1', port }] });
      const fwd = bed.forwards[0]!.bind;
      const args = ['-c', fwd.host, '-p', String(fwd.port), '-t', '3', '-J', ...(reverse ? ['-R'] : [])];
      const r = await children.run('iperf3', args, 30_000);
      const report = JSON.parse(r.stdout) as IperfReport;
      expect(report.error).toBeUndefined();
      expect(r.code).toBe(0);
      const sent = report.end?.sum_sent;
      const received = report.end?.sum_received;
      console.log(
        `iperf3 ${reverse ? '-R' : ''}: sent ${sent?.bytes} B at ${((sent?.bits_per_second ?? 0) / 1e6).toFixed(1)} Mbit/s, ` +
          `received ${received?.bytes} B at ${((received?.bits_per_second ?? 0) / 1e6).toFixed(1)} Mbit/s`,
      );
      expect(sent!.bytes).toBeGreaterThan(256 * 1024);
      expect(received!.bytes).toBeGreaterThan(256 * 1024);
      // The tunnel's subflows carried the test's data, in the direction it flowed.
      const perPath = bed.meter.sample(0);
      console.log(`per path: ${perPath.map((p) => `${p.name} up ${p.bytesUp} B, down ${p.bytesDown} B`).join('; ')}`);
      const moved = perPath.reduce((a, p) => a + (reverse ? p.bytesDown : p.bytesUp), 0);
      // Counters are polled every 100 ms, so the last moments of a closed connection may be missed.
      expect(moved).toBeGreaterThan(received!.bytes / 2);
      const s = await serverDone;
      expect(s.code).toBe(0);
    });
  }
});
