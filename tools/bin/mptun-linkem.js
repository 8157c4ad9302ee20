#!/usr/bin/env node
// mptun-linkem, the userspace link emulator: runs the build (dist/); in a checkout without
// one, the sources (slower start).
try {
  await import('../dist/linkem/main.js');
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('linkem/main.js')) throw err;
  // Outside the repository (a package without its build) there is nothing to fall back to.
  const launcher = await import('../../scripts/run-from-source.mjs').catch(() => null);
  if (!launcher) {
    process.stderr.write('mptun-linkem: not built: run `pnpm build` in the repository\n');
    process.exit(69);
  }
  const { runFromSource } = launcher;
  runFromSource('mptun-linkem', new URL('../src/linkem/main.ts', import.meta.url));
}
