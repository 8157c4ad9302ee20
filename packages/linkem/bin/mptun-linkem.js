#!/usr/bin/env node
// mptun-linkem: the userspace link emulator (packages/linkem). Runs the built code, so
// build first (`pnpm build`); from a checkout without building:
//   node --conditions=source --import tsx packages/linkem/src/main.ts --help
try {
  await import('../dist/main.js');
} catch (err) {
  const missing = err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/main.js');
  if (!missing) throw err;
  process.stderr.write('mptun-linkem: not built yet: run `pnpm build` in the repository first\n');
  process.exitCode = 1;
}
