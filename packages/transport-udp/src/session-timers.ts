/**
 * What the UDP transport gives each PathSession: its timings from the options, the wall
 * clock, a one-shot timer, and the path-close code for each way a session ends.
 */
import type { PathDownReason, PathSessionTimers } from '@mptun/session';
import { PathCloseCode } from './errors.js';
import type { ResolvedOptions } from './options.js';

export function sessionTimers(opts: ResolvedOptions): PathSessionTimers {
  return {
    handshakeTimeoutMs: opts.handshakeTimeoutMs,
    handshakeRetryMs: opts.handshakeRetryMs,
    keepaliveMs: opts.keepaliveMs,
    idleTimeoutMs: opts.idleTimeoutMs,
    silenceMs: opts.silenceMs,
    channelLimits: opts.channelLimits,
    pmtu: opts.pmtudMaxPayload > opts.maxPayload ? { base: opts.maxPayload, max: opts.pmtudMaxPayload } : null,
  };
}

/** A one-shot timer; the socket, not the timer, is what holds a path open. */
export function setTimer(delayMs: number, fire: () => void): () => void {
  const timer = setTimeout(fire, delayMs);
  return () => clearTimeout(timer);
}

export function closeCodeFor(reason: PathDownReason): string {
  return reason === 'keys-expired' ? PathCloseCode.KeysExpired : reason === 'handshake-timeout' ? 'ERR_MPTUN_HANDSHAKE_TIMEOUT' : PathCloseCode.PeerGone;
}
