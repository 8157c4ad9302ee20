/**
 * A LEDBAT scavenger: RFC 6817 with the LEDBAT++ changes of draft-irtf-iccrg-ledbat-plus-plus
 * (RTT instead of one-way delay, a 60 ms target, a gain scaled to the base delay, a
 * multiplicative decrease, a gain-scaled slow start that leaves at 3/4 of the target, and
 * periodic slowdowns). It grows only while the queue it sees is short, so it yields to
 * loss-based flows that fill the queue.
 */
import type { AckEvent, CcPath, LossEvent } from './controller.js';
import { MIN_WINDOW_SEGMENTS, WindowController, slowStartIncrement } from './common.js';

/** LEDBAT++ §4.5 (RFC 6817 §2.5 allowed up to 100 ms): the queuing-delay target. */
export const LEDBAT_TARGET_MS = 60;
/** RFC 6817 §2.5: INIT_CWND and MIN_CWND of 2 segments. */
const INIT_CWND_SEGMENTS = 2;
/** LEDBAT++ §4.2: GAIN = 1 / min(16, ceil(2 * TARGET / base_delay)). */
const MAX_GAIN_DIVISOR = 16;
/** LEDBAT++ §4.1: slow start ends when the queuing delay passes 3/4 of the target. */
const SLOW_START_EXIT_FRACTION = 3 / 4;
/** LEDBAT++ §4.3: Constant in W += max(GAIN − Constant·W·(delay/target − 1), −W/2). */
const DECREASE_CONSTANT = 1;
/** RFC 6817 §2.4.2, §2.5: the current delay is the least of the last CURRENT_FILTER samples. */
const CURRENT_FILTER = 4;
/** RFC 6817 §2.4.2, §2.5: the base delay is the least of BASE_HISTORY per-minute minima. */
const BASE_HISTORY = 10;
const MINUTE_MS = 60_000;
/** LEDBAT++ §4.4: the first slowdown comes 2 RTTs after the first slow-start exit … */
const FIRST_SLOWDOWN_RTTS = 2;
/** … the window stays at 2 segments for 2 RTTs … */
const SLOWDOWN_HOLD_RTTS = 2;
/** … and the next one comes 9 slowdown-durations after the last ended (≤ 10% of the time). */
const SLOWDOWN_INTERVAL_FACTOR = 9;

export interface LedbatOptions {
  /** Queuing-delay target in ms (default 60). */
  targetMs?: number;
  /** LEDBAT++ periodic slowdowns (default on). */
  periodicSlowdowns?: boolean;
}

/**
 * Delay estimation from RTT samples (RFC 6817 §2.4.2 and §3.1, with LEDBAT++ §4.5's RTTs):
 * the current delay filters noise with a short minimum, the base delay is a minimum over
 * minutes so that a route change can raise it again.
 */
export class DelayEstimator {
  private readonly recent: number[] = [];
  /** Per-minute minima, oldest first; the last entry is the current minute. */
  private readonly minuteMinima: number[] = [];
  private currentMinute: number | undefined;

  addSample(now: number, rttMs: number): void {
    this.recent.push(rttMs);
    if (this.recent.length > CURRENT_FILTER) this.recent.shift();
    const minute = Math.floor(now / MINUTE_MS);
    if (minute !== this.currentMinute) {
      this.currentMinute = minute;
      this.minuteMinima.push(rttMs);
      if (this.minuteMinima.length > BASE_HISTORY) this.minuteMinima.shift();
    } else {
      const last = this.minuteMinima.length - 1;
      this.minuteMinima[last] = Math.min(this.minuteMinima[last] ?? rttMs, rttMs);
    }
  }

  /** The base (least) RTT, ms; undefined before any sample. */
  baseDelay(): number | undefined {
    return this.minuteMinima.length === 0 ? undefined : Math.min(...this.minuteMinima);
  }

  /** Queuing delay = current delay − base delay, ms; undefined before any sample. */
  queuingDelay(): number | undefined {
    const base = this.baseDelay();
    if (base === undefined) return undefined;
    return Math.max(0, Math.min(...this.recent) - base);
  }
}

type Slowdown =
  | { phase: 'none' }
  | { phase: 'hold'; started: number; until: number }
  | { phase: 'ramp'; started: number };

export class LedbatController extends WindowController {
  readonly name = 'ledbat';
  private readonly targetMs: number;
  private readonly slowdowns: boolean;
  private readonly delays = new DelayEstimator();
  private slowdown: Slowdown = { phase: 'none' };
  /** When the next slowdown begins, ms; undefined until the first slow start ends. */
  private nextSlowdownAt: number | undefined;

  constructor(path: CcPath, options: LedbatOptions = {}) {
    super(path, INIT_CWND_SEGMENTS * path.mss);
    this.targetMs = options.targetMs ?? LEDBAT_TARGET_MS;
    this.slowdowns = options.periodicSlowdowns ?? true;
  }

  /** LEDBAT++ §4.2: GAIN = 1 / min(16, ceil(2 * TARGET / base)); the smallest before a sample. */
  gain(): number {
    const base = this.delays.baseDelay();
    if (base === undefined || base <= 0) return 1 / MAX_GAIN_DIVISOR;
    return 1 / Math.min(MAX_GAIN_DIVISOR, Math.max(1, Math.ceil((2 * this.targetMs) / base)));
  }

  /** The current queuing-delay estimate, ms (undefined before any RTT sample). */
  queuingDelay(): number | undefined {
    return this.delays.queuingDelay();
  }

  protected handleAck(now: number, ev: AckEvent, mayGrow: boolean): void {
    if (ev.rttSample !== undefined) this.delays.addSample(now, ev.rttSample);
    this.advanceSlowdown(now);
    const queuing = this.delays.queuingDelay();
    if (queuing === undefined || ev.ackedBytes <= 0) return;
    // LEDBAT++ §4.4: the window stays put while a slowdown holds it at the minimum.
    if (this.slowdown.phase === 'hold') return;
    const mss = this.path.mss;
    if (this.inSlowStart()) {
      // LEDBAT++ §4.1: the first slow start leaves at 3/4 of the target; the ramp after a
      // slowdown only returns to a window that was fine before, so it may go up to the target.
      const exitAt =
        this.slowdown.phase === 'ramp' ? this.targetMs : SLOW_START_EXIT_FRACTION * this.targetMs;
      if (queuing > exitAt) {
        this.leaveSlowStart(now);
        return;
      }
      // LEDBAT++ §4.1: slow start grows by GAIN per acknowledged byte (byte counting capped).
      if (mayGrow) this.cwnd += this.gain() * slowStartIncrement(ev.ackedBytes, mss);
      if (!this.inSlowStart()) this.leaveSlowStart(now);
      return;
    }
    if (queuing <= this.targetMs) {
      // LEDBAT++ §4.2: below target, W += GAIN segments per RTT, spread over the ACKs.
      if (mayGrow) this.cwnd += (this.gain() * ev.ackedBytes * mss) / this.cwnd;
      return;
    }
    // LEDBAT++ §4.3: above target, per RTT
    //   W += max(GAIN − Constant·W·(delay/target − 1), −W/2),
    // spread over the ACKs. A long queue is a reason to back off even when
    // application-limited; a recovery episode has already cut the window.
    if (this.recovery.active) return;
    const perRtt = Math.max(
      this.gain() * mss - DECREASE_CONSTANT * this.cwnd * (queuing / this.targetMs - 1),
      -this.cwnd / 2,
    );
    const share = Math.min(ev.ackedBytes / this.cwnd, 1);
    if (perRtt > 0 && !mayGrow) return;
    const next = Math.max(this.cwnd + perRtt * share, MIN_WINDOW_SEGMENTS * mss);
    if (next >= this.cwnd) this.cwnd = next;
    else this.lowerWindow(next);
  }

  protected reduce(now: number, _ev: LossEvent): void {
    // RFC 6817 §2.4.2: cwnd = min(cwnd, max(cwnd/2, MIN_CWND * MSS)), and slow start ends.
    const mss = this.path.mss;
    this.cwnd = Math.min(this.cwnd, Math.max(this.cwnd / 2, MIN_WINDOW_SEGMENTS * mss));
    this.ssthreshBytes = this.cwnd;
    this.advanceSlowdown(now);
  }

  protected override afterTimeout(now: number): void {
    // A timeout abandons a slowdown in progress; the schedule resumes after slow start.
    if (this.slowdown.phase !== 'none') {
      this.slowdown = { phase: 'none' };
      this.nextSlowdownAt = undefined;
    }
    this.advanceSlowdown(now);
  }

  /** Slow start is over (delay past 3/4 target, or ssthresh reached): ssthresh = cwnd. */
  private leaveSlowStart(now: number): void {
    this.ssthreshBytes = Math.min(this.ssthreshBytes, this.cwnd);
    this.advanceSlowdown(now);
  }

  /**
   * LEDBAT++ §4.4 periodic slowdowns: drop to 2 segments for 2 RTTs so that every flow on the
   * bottleneck can measure the true base delay, ramp back up with slow start to the previous
   * window, then wait 9 times as long as the slowdown took.
   */
  private advanceSlowdown(now: number): void {
    if (!this.slowdowns) return;
    const rtt = this.path.srtt;
    const sd = this.slowdown;
    if (sd.phase === 'hold' && now >= sd.until) {
      this.slowdown = { phase: 'ramp', started: sd.started };
    } else if (sd.phase === 'ramp' && !this.inSlowStart()) {
      this.slowdown = { phase: 'none' };
      this.nextSlowdownAt = now + SLOWDOWN_INTERVAL_FACTOR * (now - sd.started);
    } else if (sd.phase === 'none' && !this.inSlowStart()) {
      if (this.nextSlowdownAt === undefined) {
        this.nextSlowdownAt = now + FIRST_SLOWDOWN_RTTS * rtt;
      } else if (now >= this.nextSlowdownAt) {
        this.ssthreshBytes = this.cwnd;
        this.cwnd = MIN_WINDOW_SEGMENTS * this.path.mss;
        this.slowdown = { phase: 'hold', started: now, until: now + SLOWDOWN_HOLD_RTTS * rtt };
      }
    }
  }
}
