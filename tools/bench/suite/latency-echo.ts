/**
 * Request/response round trips through the sink's echo ('E'): write a request of `size`
 * bytes, wait until all of it has come back, repeat; each round trip's time is a sample.
 */
import type net from 'node:net';
import { fillPattern, SinkCommand } from '../rig/index.js';

/** A round trip slower than this ends the loop (it is counted, not sampled). */
export const EXCHANGE_TIMEOUT_MS = 5000;

export interface EchoResult {
  /** Round-trip times in ms, in order. */
  rttsMs: number[];
  /** Round trips that took longer than EXCHANGE_TIMEOUT_MS (0 or 1: the echoer stops for good at one). */
  timeouts: number;
}

export interface Echoer {
  /** Round trips for `durationMs` (the last one started before it ran out). */
  run(durationMs: number): Promise<EchoResult>;
  close(): void;
}

/** Turns `socket` (connected to the sink, nothing sent yet) into an echo client. */
export function echoer(socket: net.Socket, size = 1024): Echoer {
  const request = Buffer.from(fillPattern(new Uint8Array(size), 0));
  let waiting: { remaining: number; done: (err: Error | null) => void } | null = null;
  let failure: Error | null = null;
  // After a timeout the late echo would be taken for the next request's: no more round trips.
  let timedOut = false;
  const fail = (err: Error): void => {
    failure ??= err;
    waiting?.done(failure);
  };
  socket.on('data', (d: Buffer) => {
    if (waiting === null) return fail(new Error(`echo: ${d.length} bytes with no request outstanding`));
    waiting.remaining -= d.length;
    if (waiting.remaining < 0) return fail(new Error('echo: more bytes back than were sent'));
    if (waiting.remaining === 0) waiting.done(null);
  });
  socket.on('error', (e) => fail(e));
  socket.once('close', () => fail(new Error('echo: connection closed')));
  socket.write(Buffer.from([SinkCommand.echo]));

  /** One round trip: its time in ms, or null after a timeout. */
  const exchange = (): Promise<number | null> =>
    new Promise((resolve, reject) => {
      if (failure) return reject(failure);
      const t0 = performance.now();
      const timer = setTimeout(() => {
        waiting = null;
        timedOut = true;
        resolve(null);
      }, EXCHANGE_TIMEOUT_MS);
      waiting = {
        remaining: size,
        done: (err) => {
          clearTimeout(timer);
          waiting = null;
          if (err) reject(err);
          else resolve(performance.now() - t0);
        },
      };
      socket.write(request);
    });

  return {
    async run(durationMs) {
      const rttsMs: number[] = [];
      if (timedOut) return { rttsMs, timeouts: 0 };
      const end = performance.now() + durationMs;
      while (performance.now() < end) {
        const rtt = await exchange();
        if (rtt === null) return { rttsMs, timeouts: 1 };
        rttsMs.push(rtt);
      }
      return { rttsMs, timeouts: 0 };
    },
    close: () => socket.destroy(),
  };
}
