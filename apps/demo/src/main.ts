/** `mptun-demo [--seconds N] [--size 32MB] [--no-cut] [--seed N]`: exit 0 when the hash checks out. */
import { Command, InvalidArgumentError } from 'commander';
import { runDemo } from './demo.js';
import { parseSize } from './format.js';

function positive(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

function size(text: string): number {
  try {
    return parseSize(text);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

const program = new Command('mptun-demo')
  .description('Download a file through the mptun SOCKS5 tunnel over emulated Wi-Fi + LTE, cutting Wi-Fi halfway')
  .option('--seconds <n>', 'about how long the download should take (sets the link rates)', positive, 20)
  .option('--size <bytes>', 'file size, e.g. 32MB, 500k', size, 32 * 1024 * 1024)
  .option('--no-cut', 'keep Wi-Fi up for the whole download')
  .option('--seed <n>', 'seed of the emulated links (loss, jitter)', (t) => Math.trunc(positive(t)))
  .action(async (o: { seconds: number; size: number; cut: boolean; seed?: number }) => {
    const summary = await runDemo({
      sizeBytes: o.size,
      seconds: o.seconds,
      cut: o.cut,
      out: { write: (t) => process.stdout.write(t), isTTY: process.stdout.isTTY === true },
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
    });
    process.exitCode = summary.ok ? 0 : 1;
  });

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`mptun-demo: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
