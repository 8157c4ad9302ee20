/**
 * Entry point of `mptun-linkem`: runs the command line with the process's streams and
 * stops on SIGINT or SIGTERM. It never calls process.exit on the normal path: the process
 * ends because close() left nothing open.
 */
import { runLinkem } from './cli.js';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

function stopped(): Promise<string> {
  return new Promise((resolve) => {
    const handlers = SIGNALS.map((signal) => {
      const handler = (): void => {
        for (const [s, h] of handlers) process.off(s, h);
        // A second signal while closing means "now".
        for (const s of SIGNALS) process.once(s, () => process.exit(130));
        resolve(signal);
      };
      process.once(signal, handler);
      return [signal, handler] as const;
    });
  });
}

/** A stream whose reader went away (`| head`) is written no more; the relay keeps running. */
function lineWriter(stream: NodeJS.WriteStream): (line: string) => void {
  let open = true;
  stream.on('error', () => {
    open = false;
  });
  return (line) => {
    if (open) stream.write(`${line}\n`);
  };
}

process.exitCode = await runLinkem(process.argv.slice(2), {
  out: lineWriter(process.stdout),
  err: lineWriter(process.stderr),
  stopped,
});
