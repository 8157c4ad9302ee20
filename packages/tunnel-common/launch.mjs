// The apps' bins: run the build (dist/), or, in a checkout where `pnpm build` has not run,
// the TypeScript sources with the flags the README gives for that, in a child process whose
// exit code and termination signals pass through. Plain JavaScript, so it works unbuilt.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * `name` for messages; `binUrl` the bin's import.meta.url; `entry` the module under dist/
 * and src/ ("main", "linkem/main"), next to the bin's directory.
 */
export async function launch(name, binUrl, entry) {
  const built = new URL(`../dist/${entry}.js`, binUrl);
  if (existsSync(fileURLToPath(built))) {
    await import(built.href);
    return;
  }
  const fail = (why) => {
    process.stderr.write(`${name}: ${why}\n`);
    process.exit(69);
  };
  const main = fileURLToPath(new URL(`../src/${entry}.ts`, binUrl));
  if (!existsSync(main)) fail('not built: run `pnpm build` in the repository');
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
