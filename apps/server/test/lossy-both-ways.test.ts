/**
 * Issue 14 item 9 through the real apps: mptun-client -> mptun-linkem (5% loss each way) ->
 * mptun-server, one SOCKS tunnel carrying bulk data both ways at once. Every byte must arrive
 * (SHA-256 compared each way); the test prints each direction's time and longest gap between
 * arrivals. Before the subflow fix, one direction stopped for good (issue: ≥ 40 s in 4 of 4
 * runs at 50 MB); that stall needs more volume than fits here (this test passed before the fix
 * too), so the reproduction that fails without the fix is the simulator's,
 * packages/sim/test/engine/lossy-both-ways.test.ts. This one shows the apps end to end.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { freeUdpPort } from '../../client/test/support.js';
import { BothWaysTarget, describeBothWays } from './both-ways.js';
import { socksOpen, startApp, startServerCli, TestResources, writeKeyFiles } from './cli-apps.js';

const BYTES = 6_000_000;
const LOSS = '5%';
/** A stall is a wait this long for the next byte; the was ≥ 40 s, its goal ≤ 2 s. */
const MAX_GAP_MS = 2000;
const SEED = Number(process.env.MPTUN_SEED ?? 14);

const res = new TestResources();
let target: BothWaysTarget | null = null;
afterEach(async () => {
  await target?.close();
  target = null;
  await res.release();
});

describe('bulk both ways through mptun-linkem with loss (issue 14 item 9)', () => {
  it(`${BYTES / 1e6} MB each way at once, ${LOSS} loss each way: hash-exact both ways, longest gap ≤ ${MAX_GAP_MS} ms`, async () => {
    const keys = (res.keys = await writeKeyFiles());
    // The target: reads the upload, writes the download, both at once.
    target = await BothWaysTarget.start(BYTES, SEED);
    const targetPort = target.port;

    // --no-announce-listen: the client must not find a way around the emulator.
    const server = await startServerCli(keys, ['--allow', '127.0.0.1', '--no-announce-listen']);
    res.clis.push(server.cli);
    const front = await freeUdpPort();
    const linkem = startApp('linkem', [
      '--udp', `lossy@127.0.0.3:${front}=127.0.0.1:${server.port}`,
      '--rate', '50mbit', '--delay', '5ms', '--queue', '50ms', '--loss', LOSS, '--seed', String(SEED), '--no-control',
    ]);
    res.clis.push(linkem);
    await linkem.waitFor(/running;/);
    const client = startApp('client', [
      'run', '--server', `127.0.0.3:${front}`, '--server-key', keys.serverPublic, '--key', keys.clientKey,
      '--path', '127.0.0.2', '--socks', '127.0.0.1:0',
    ]);
    res.clis.push(client);
    const socksPort = Number((await client.waitFor(/SOCKS5 proxy listening" address=127\.0\.0\.1:(\d+)/))[1]);

    const { reply, socket: tunnel } = await socksOpen(socksPort, targetPort);
    expect(reply, 'SOCKS reply').toBe(0);
    const r = await target.run(tunnel, 150_000);
    console.log(`seed ${SEED}, ${LOSS} loss each way, ${BYTES} bytes each way: ${describeBothWays(r)}`);
    expect(r.up.hashMatches, 'upload arrived whole').toBe(true);
    expect(r.down.hashMatches, 'download arrived whole').toBe(true);
    expect(r.up.longestGapMs, 'longest wait for upload bytes').toBeLessThanOrEqual(MAX_GAP_MS);
    expect(r.down.longestGapMs, 'longest wait for download bytes').toBeLessThanOrEqual(MAX_GAP_MS);
  }, 200_000);
});
