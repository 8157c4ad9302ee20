/**
 * What the engine hands the application is read-only: connection and subflow state is
 * seen through getters and changed only by commands (RFC 6897 style setBackup, closeSubflow).
 */
import { describe, expect, it } from 'vitest';
import { describeResult, runTransfer } from '../support/transfer.js';

const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 5;

describe('read-only views', () => {
  it('connection and subflow state cannot be written, and commands still change it', () => {
    console.log('seed', seed);
    let checked = false;
    const r = runTransfer({
      seed,
      paths: [{ forward: { rateBps: 20e6, delayMs: 10 } }, { forward: { rateBps: 20e6, delayMs: 20 } }],
      upload: 200_000,
      download: 200_000,
      onTick: (ctx) => {
        const conn = ctx.clientConn;
        const sfs = conn.subflows().filter((s) => s.state === 'established');
        if (checked || sfs.length < 2) return;
        checked = true;
        const sf = sfs[1]!;
        expect(() => {
          // @ts-expect-error the connection's state is read-only
          conn.state = 'closed';
        }).toThrow(TypeError);
        expect(() => {
          // @ts-expect-error the peer's key is read-only
          conn.remoteKey = 1n;
        }).toThrow(TypeError);
        expect(() => {
          // @ts-expect-error SND.UNA is read-only
          conn.sndUna = 0;
        }).toThrow(TypeError);
        expect(() => {
          // @ts-expect-error a subflow's backup flag changes only through setBackup
          sf.backup = true;
        }).toThrow(TypeError);
        expect(conn.state).toBe('established');
        expect(sf.backup).toBe(false);
        conn.setBackup(sf.id, true);
        expect(sf.backup).toBe(true);
      },
    });
    console.log(describeResult(r));
    expect(checked).toBe(true);
    expect(r.ok, describeResult(r)).toBe(true);
  });
});
