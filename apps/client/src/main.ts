/** Process entry of mptun-client: run the program, print errors without a stack trace. */
import { exitCodeFor } from '@mptun/tunnel-common';
import { buildProgram } from './cli.js';

buildProgram()
  .parseAsync(process.argv)
  // The command is done (run has closed everything it opened): a path handshake still
  // waiting out its timeout must not hold the process after Ctrl-C.
  .then(() => process.exit())
  .catch((err: unknown) => {
    const e = err as { code?: string; message?: string; exitCode?: number; reported?: boolean };
    // commander has printed its own message (usage errors) or the help/version text.
    if (e.code?.startsWith('commander.')) {
      process.exitCode = e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0 ? 0 : exitCodeFor(err);
      return;
    }
    if (!e.reported) process.stderr.write(`mptun-client: ${e.message ?? String(err)}${e.code ? ` (${e.code})` : ''}\n`);
    // Exit now: a path still handshaking in the background must not keep a failed start alive.
    process.exit(exitCodeFor(err));
  });
