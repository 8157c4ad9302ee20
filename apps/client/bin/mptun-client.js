#!/usr/bin/env node
// mptun-client: runs the build (dist/); in a checkout without one, the sources (slower start).
try {
  await import('../dist/main.js');
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('dist/main.js')) throw err;
  // Outside the repository (a package without its build) there is nothing to fall back to.
  const launcher = await import('../../../scripts/run-from-source.mjs').catch(() => null);
  if (!launcher) {
    process.stderr.write('mptun-client: not built: run `pnpm build` in the repository\n');
    process.exit(69);
  }
  const { runFromSource } = launcher;
  runFromSource('mptun-client', new URL('../src/main.ts', import.meta.url));
}
