/**
 * PathLiveness on its own, against a fake prober and virtual time (no randomness): when a
 * path is probed, when it is declared stalled and why, how a stall ends, and that an idle
 * path or one without a subflow is left alone. The simulator test (packages/sim/test/engine/
 * path-liveness.test.ts) drives it through two endpoints.
 */
import { describe, expect, it } from 'vitest';
import { PathLiveness, STALLED_PROBE_MS, type PathLivenessEvent, type PathProber } from '../src/path-liveness.js';

const RTO = 200;

/** A prober whose path 1 has one established subflow with RTO 200 ms; records the probes asked for. */
function fake(opts: { subflow?: boolean } = {}): PathProber & { probes: Array<{ unlessOutstanding: boolean }> } {
  const probes: Array<{ unlessOutstanding: boolean }> = [];
  return {
    probes,
    rto: () => (opts.subflow === false ? null : RTO),
    probe: (_pathId, unlessOutstanding) => {
      if (opts.subflow === false) return false;
      probes.push({ unlessOutstanding });
      return true;
    },
  };
}

/** Runs the watch's timers up to `until`, as a driver would. */
function runUntil(w: PathLiveness, until: number): void {
  for (let at = w.nextDeadline(); at <= until; at = w.nextDeadline()) w.handleTimeout(at);
}

function drain(w: PathLiveness): PathLivenessEvent[] {
  const out: PathLivenessEvent[] = [];
  for (let ev = w.poll(); ev; ev = w.poll()) out.push(ev);
  return out;
}

describe('PathLiveness', () => {
  it('the peer’s data stops: one probe after an RTO of silence, stalled when it goes unanswered for another, resumed when heard', () => {
    const p = fake();
    const w = new PathLiveness(p);
    w.heard(1, 1000, true);
    runUntil(w, 1000 + RTO - 1);
    expect(p.probes).toEqual([]);
    runUntil(w, 1000 + RTO);
    expect(p.probes).toEqual([{ unlessOutstanding: false }]);
    runUntil(w, 1000 + 2 * RTO);
    expect(drain(w)).toEqual([{ type: 'path-stalled', pathId: 1, silentMs: 2 * RTO, cause: 'probe' }]);
    expect(w.stalled(1)).toBe(true);
    // Stalled: asked again every STALLED_PROBE_MS, unless unacknowledged data asks already.
    runUntil(w, 1000 + 2 * RTO + 2 * STALLED_PROBE_MS);
    expect(p.probes.slice(1)).toEqual([{ unlessOutstanding: true }, { unlessOutstanding: true }]);
    w.heard(1, 2500, false);
    expect(drain(w)).toEqual([{ type: 'path-resumed', pathId: 1, stalledMs: 2500 - (1000 + 2 * RTO) }]);
    expect(w.stalled(1)).toBe(false);
    // The answer was no data: an idle path, nothing more is asked.
    runUntil(w, 60_000);
    expect(p.probes.length).toBe(3);
  });

  it('data that keeps arriving, then a probe that is answered: no stall, and no probe after the answer', () => {
    const p = fake();
    const w = new PathLiveness(p);
    for (let t = 0; t <= 1000; t += 10) w.heard(1, t, true);
    runUntil(w, 1000 + RTO);
    expect(p.probes.length).toBe(1);
    w.heard(1, 1000 + RTO + 5, false);
    runUntil(w, 60_000);
    expect(p.probes.length).toBe(1);
    expect(drain(w)).toEqual([]);
  });

  it('a retransmission timeout stalls the path only if nothing was heard on it for that RTO', () => {
    const w = new PathLiveness(fake());
    w.heard(1, 1000, false);
    w.timedOut(1, 1000 + RTO - 1, RTO); // another connection's subflow was heard meanwhile
    expect(drain(w)).toEqual([]);
    w.timedOut(1, 1000 + RTO, RTO);
    expect(drain(w)).toEqual([{ type: 'path-stalled', pathId: 1, silentMs: RTO, cause: 'rto' }]);
    w.timedOut(1, 1000 + 3 * RTO, RTO); // still stalled: no second edge
    expect(drain(w)).toEqual([]);
  });

  it('a path without an established subflow is not probed; a forgotten path reports nothing', () => {
    const p = fake({ subflow: false });
    const w = new PathLiveness(p);
    w.heard(1, 0, true);
    runUntil(w, 60_000);
    expect(p.probes).toEqual([]);
    expect(drain(w)).toEqual([]);
    const q = new PathLiveness(fake());
    q.heard(2, 0, true);
    q.forget(2);
    runUntil(q, 60_000);
    expect(drain(q)).toEqual([]);
    expect(q.nextDeadline()).toBe(Infinity);
  });

  it('edges nobody reads are bounded: the newest 256 are kept', () => {
    const w = new PathLiveness(fake());
    for (let i = 0; i < 300; i++) {
      w.timedOut(1, i * 1000 + RTO, RTO);
      w.heard(1, i * 1000 + RTO + 1, false);
    }
    const kept = drain(w);
    expect(kept.length).toBe(256);
    expect(kept.at(-1)).toEqual({ type: 'path-resumed', pathId: 1, stalledMs: 1 });
  });
});
