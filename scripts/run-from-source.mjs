// Runs an app from its TypeScript sources when its bin finds no build (a checkout where
// `pnpm build` has not run): the same process flags the README gives for running from
// source, in a child process whose exit code and termination signals pass through.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** `name` for messages; `sourceMain` the file URL of the app's src/main.ts. */
export function runFromSource(name, sourceMain) {
  const main = fileURLToPath(sourceMain);
  const fail = (why) => {
    process.stderr.write(`${name}: ${why}\n`);
    process.exit(69);
  };
  if (!existsSync(main)) fail('not built, and no sources next to it: run `pnpm build` in the repository (README: "Real use")');
  let tsx;
  try {
    tsx = import.meta.resolve('tsx');
  } catch {
    fail('not built, and tsx (to run the sources) is not installed: run `pnpm install` and `pnpm build` in the repository');
  }
  const child = spawn(process.execPath, ['--conditions=source', '--import', tsx, main, ...process.argv.slice(2)], { stdio: 'inherit' });
  // A terminal's Ctrl-C reaches the child itself (same process group); kill(1)'s signals are passed on.
  process.on('SIGINT', () => {});
  for (const sig of ['SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 70);
  });
}
