/** The rig's link emulator, in its own process so its timers do not share a core with the tunnel. */
import { startLinkEmulator, type LinkEmulatorConfig, type PathPatch } from '@mptun/linkem';
import { childArg, processSample, serveParent } from './ipc.js';

const emulator = await startLinkEmulator(childArg<LinkEmulatorConfig>());

serveParent(
  { paths: emulator.paths, seed: emulator.seed },
  {
    stats: () => emulator.stats(),
    sample: () => processSample(),
    setOptions: (a) => {
      const { name, patch } = a as { name: string; patch: PathPatch };
      emulator.setOptions(name, patch);
      return null;
    },
    down: (name) => {
      emulator.down(name as string);
      return null;
    },
    up: (name) => {
      emulator.up(name as string);
      return null;
    },
  },
  () => emulator.close(),
);
