/** The capture relay in its own process (a RigChild), so relaying costs the measuring process nothing. */
import { childArg, processSample, serveParent } from '../bench/rig/ipc.js';
import type { HostPort } from '../bench/rig/index.js';
import { CaptureRelay, type ReplayOrder } from './attack-relay.js';

export interface RelayChildArg {
  server: HostPort;
}

const arg = childArg<RelayChildArg>();
const relay = await CaptureRelay.start(arg.server);
const b64 = (list: Buffer[]): string[] => list.map((b) => b.toString('base64'));

serveParent(
  { address: relay.address },
  {
    stats: () => relay.stats,
    sample: () => processSample(),
    captured: () => {
      const c = relay.captured();
      return { initiations: b64(c.initiations), sample: b64(c.sample), recent: b64(c.recent) };
    },
    replay: (order) => relay.replay(order as ReplayOrder),
  },
  () => relay.close(),
);
