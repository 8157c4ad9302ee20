/**
 * SSRF against the server's allow list (issue 14 item 7): with rules as broad as
 * `0.0.0.0/0` and `[::]/0`, a client asks for the server's own loopback and interface
 * addresses in every spelling a resolver or a socket accepts, and through a name that
 * resolves to 127.0.0.1 (DNS rebinding). Every one must be refused by the policy and none
 * may reach the echo target listening there. A rule naming 127.0.0.2 shows the harness does
 * reach an allowed target, so the zero is not for want of trying.
 * Only addresses of this host are asked for, so nothing leaves the machine even if the
 * policy regressed.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { TunnelStatus } from '@mptun/tunnel-common';
import { localInterfaceAddresses } from '../../apps/server/src/special-ranges.js';
import { startEcho, startHarness, tunnel } from '../../apps/server/test/support.js';
import type { TortureCheck, TortureResult } from './types.js';

const REBIND_NAME = 'rebind.mptun.test';

/** Ways to write 127.0.0.1 and ::1 (and the unspecified address, which reaches this host). */
export const LOOPBACK_SPELLINGS = [
  '127.0.0.1', '2130706433', '0177.0.0.1', '0x7f.1', '0x7f000001', '127.1', '127.0.1', '017700000001', '0x7f.0.0.1', '127.0.0.1.',
  '::ffff:127.0.0.1', '::ffff:7f00:1', '[::ffff:127.0.0.1]', '0:0:0:0:0:ffff:7f00:1', '::127.0.0.1', '64:ff9b::7f00:1', '2002:7f00:1::1',
  '0.0.0.0', '0', '::', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::1%lo', 'localhost', 'LOCALHOST.', REBIND_NAME,
];

export const ssrfCheck: TortureCheck = {
  id: 'ssrf',
  title: 'SSRF spellings and special ranges against a broad allow list',
  async run(): Promise<TortureResult> {
    const echo = await startEcho();
    const control = await startEcho('127.0.0.2');
    const own = localInterfaceAddresses().filter((a) => !a.includes('%'));
    const h = await startHarness(
      { allow: ['0.0.0.0/0', '[::]/0', `127.0.0.2/32:${control.port}`] },
      { lookup: async (host) => (host === REBIND_NAME ? { address: '127.0.0.1', family: 4 } : dnsLookup(host).then((r) => ({ address: r.address, family: r.family === 6 ? 6 : 4 }))) },
    );
    const passed: string[] = [];
    try {
      const targets = [...LOOPBACK_SPELLINGS, ...own];
      for (const host of targets) {
        const r = await tunnel(h.client, host, echo.port);
        r.socket.destroy();
        if (r.status !== TunnelStatus.NOT_ALLOWED) passed.push(`${host} → status ${r.status}`);
      }
      const allowed = await tunnel(h.client, '127.0.0.2', control.port);
      allowed.socket.destroy();
      const reached = echo.accepted();
      const lines = [
        `allow list 0.0.0.0/0 + [::]/0: ${targets.length} targets on this host (${LOOPBACK_SPELLINGS.length} spellings of loopback, ${own.length} own addresses), ${passed.length} passed the policy, ${reached} reached the target; the explicit rule 127.0.0.2/32 ${allowed.status === TunnelStatus.OK ? 'reached its target' : `failed with status ${allowed.status}`}`,
      ];
      if (passed.length > 0 || reached > 0) throw new Error(`SSRF: ${passed.length} special targets passed the policy (${passed.join('; ')}), ${reached} reached the loopback target`);
      if (allowed.status !== TunnelStatus.OK || control.accepted() !== 1) throw new Error(`SSRF check is vacuous: the explicitly allowed target answered status ${allowed.status}`);
      return { lines, data: { targets: targets.length, passedPolicy: passed.length, reached, controlReached: control.accepted() } };
    } finally {
      await h.close();
      await echo.close();
      await control.close();
    }
  },
};
