/** HandshakeFailures: every refusal counted under its label; at most one log line per reason per 10 s. */
import { createLogger } from '@mptun/tunnel-common';
import { describe, expect, it } from 'vitest';
import { HandshakeFailures, LOG_EVERY_MS } from '../src/handshake-failures.js';
import { emptyStats } from '../src/stats.js';

describe('HandshakeFailures', () => {
  it('counts every refusal by reason and logs each reason at most once per interval, with what it held back', () => {
    let now = 1_000_000;
    const lines: Array<Record<string, unknown>> = [];
    const log = createLogger({ format: 'json', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>), now: () => now });
    const stats = emptyStats();
    const failures = new HandshakeFailures(stats, log, () => now);

    failures.record('mac1', { source: '192.0.2.1:4000' });
    failures.record('mac1', { source: '192.0.2.1:4000' });
    failures.record('decrypt', { source: '192.0.2.2:4000' });
    failures.record('not-allowed', { clientKey: 'K' });
    failures.record('bad-key', {});
    failures.record('malformed', {});
    expect(stats.handshakeFailures).toEqual({ wrong_server_key: 2, decrypt_failed: 1, unauthorized_key: 1, malformed: 2 });
    expect(lines.map((l) => l['reason'])).toEqual(['wrong_server_key', 'decrypt_failed', 'unauthorized_key', 'malformed']);
    expect(lines.every((l) => l['level'] === 'warn')).toBe(true);
    expect(lines[2]).toMatchObject({ msg: expect.stringMatching(/client key not authorized/), clientKey: 'K' });

    now += LOG_EVERY_MS - 1;
    failures.record('mac1', {});
    expect(lines).toHaveLength(4);
    now += 1;
    failures.record('mac1', { source: '192.0.2.1:4000' });
    expect(lines).toHaveLength(5);
    expect(lines[4]).toMatchObject({ reason: 'wrong_server_key', alsoRefusedSinceLastLine: 2 });
    expect(stats.handshakeFailures['wrong_server_key']).toBe(4);
  });
});
