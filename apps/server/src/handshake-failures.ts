/**
 * Path handshakes the server refused: counted by reason (mptun_handshake_failures_total) and
 * logged at warn, at most once per reason per LOG_EVERY_MS so a scan cannot flood the log.
 * Nothing is ever sent back to such a datagram (see README "Handshake failures").
 */
import type { HandshakeDropReason } from '@mptun/node';
import type { Logger } from '@mptun/tunnel-common';
import type { ServerStats } from './stats.js';

/** The metric label and the log text of each way an initiation is refused. */
const REASONS: Record<HandshakeDropReason, { label: string; text: string }> = {
  // mac1 is keyed with the server's public key: a client with another --server-key fails here.
  mac1: { label: 'wrong_server_key', text: 'an initiation not made for this server key (the client has a wrong server key)' },
  decrypt: { label: 'decrypt_failed', text: 'an initiation that does not decrypt (wrong server key, or a forged client key)' },
  'not-allowed': { label: 'unauthorized_key', text: 'client key not authorized (not in the authorized keys file)' },
  replay: { label: 'replay', text: 'a replayed initiation (an old handshake sent again)' },
  malformed: { label: 'malformed', text: 'a malformed initiation' },
  'bad-key': { label: 'malformed', text: 'an initiation with an unusable key' },
};

export const LOG_EVERY_MS = 10_000;

export class HandshakeFailures {
  private readonly lastLogged = new Map<string, number>();
  private readonly unlogged = new Map<string, number>();

  constructor(
    private readonly stats: ServerStats,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** One refused handshake; `details` go into the log line (the claimed client key, the source). */
  record(reason: HandshakeDropReason, details: Record<string, unknown>): void {
    const { label, text } = REASONS[reason];
    this.stats.handshakeFailures[label] = (this.stats.handshakeFailures[label] ?? 0) + 1;
    const now = this.now();
    const last = this.lastLogged.get(label);
    if (last !== undefined && now - last < LOG_EVERY_MS) {
      this.unlogged.set(label, (this.unlogged.get(label) ?? 0) + 1);
      return;
    }
    const suppressed = this.unlogged.get(label) ?? 0;
    this.lastLogged.set(label, now);
    this.unlogged.delete(label);
    this.log.warn(`path handshake refused: ${text}`, { reason: label, ...details, ...(suppressed > 0 ? { alsoRefusedSinceLastLine: suppressed } : {}) });
  }
}
