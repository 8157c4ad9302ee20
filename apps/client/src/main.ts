/** Process entry of mptun-client: run the program, print errors without a stack trace. */
import { buildProgram } from './cli.js';

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    const e = err as { code?: string; message?: string };
    process.stderr.write(`mptun-client: ${e.message ?? String(err)}${e.code ? ` (${e.code})` : ''}\n`);
    process.exitCode = 1;
  });
