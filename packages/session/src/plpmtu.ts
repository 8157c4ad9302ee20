/**
 * Datagram packetization-layer path MTU discovery for one path (RFC 8899), sans-IO: which
 * probe to send when, and what the largest confirmed datagram (the PLPMTU) is. Sizes are
 * whole UDP payloads. The path session sends the probes (padded sealed messages) and feeds
 * back the acknowledgments; this file only decides.
 *
 *   BASE            the floor (1200) is assumed to work; the search starts at once.
 *   SEARCHING       probe the next candidate; MAX_PROBES unanswered probes of one size
 *                   mean it does not fit (RFC 8899 §5.1.2); the probe timer doubles after
 *                   each, and a late ack of an earlier probe of the same size still counts. A ladder of common sizes first,
 *                   then halving the gap between the largest that fit and the smallest that
 *                   did not, down to SEARCH_GRANULARITY.
 *   SEARCH_COMPLETE the PLPMTU stays; a probe of the PLPMTU itself goes out every
 *                   CONFIRM_INTERVAL_MS while datagrams above the floor are being sent (an
 *                   idle path has nothing large to lose, and a 64 KiB probe every 2 s would
 *                   cost an idle cellular path more than its keepalives). MAX_PROBES of
 *                   those unanswered while other messages still arrive is a black hole
 *                   (§4.3): back to BASE and search again.
 *                   After RAISE_INTERVAL_MS (§5.1.1 PMTU_RAISE_TIMER) the search resumes above.
 *
 * A probe counts as lost only when something else was heard from the peer after it left:
 * a path that is silent altogether says nothing about sizes (the session deals with that).
 */

/** RFC 8899 §5.1.2 MAX_PROBES. */
export const MAX_PROBES = 3;
/** RFC 8899 §5.1.1 PMTU_RAISE_TIMER: look for a larger size again after this long. */
export const RAISE_INTERVAL_MS = 600_000;
/** Confirm the PLPMTU this often while it is above the floor (black-hole detection, §4.3). */
export const CONFIRM_INTERVAL_MS = 2_000;
/** Shortest wait for a probe's acknowledgment (RFC 8899 §5.1.1 PROBE_TIMER is "not less than" the RTT). */
export const MIN_PROBE_TIMEOUT_MS = 100;
/** Probes remembered for late acks. */
const RECENT_PROBES = 8;
/** The search stops halving once the gap between fits and does not fit is this small. */
export const SEARCH_GRANULARITY = 32;

/**
 * Sizes tried first, in order, when they lie between the floor and the cap: Ethernet less
 * IPv6 and IPv4 headers (1452, 1472), jumbo frames less the same (8952, 8972), then steps to
 * the loopback's 64 KiB MTU, where one datagram per 64 KiB is what saves the per-datagram CPU.
 */
const LADDER = [1452, 1472, 8952, 8972, 16384, 32768];

export type PlpmtuState = 'base' | 'searching' | 'search-complete';

export interface PlpmtuOptions {
  /** The floor: assumed to work, never probed (BASE_PLPMTU). */
  base: number;
  /** The largest size worth probing (MAX_PLPMTU): what the socket and the peer can take. */
  max: number;
}

export interface ProbeRequest {
  id: number;
  size: number;
}

export class PlpmtuSearch {
  private current: PlpmtuState = 'base';
  private plpmtu: number;
  /** Largest size known to fit, smallest known not to (Infinity: none yet). */
  private fits: number;
  private failsAt = Infinity;
  /** The size being probed and how many probes of it went unanswered. */
  private candidate = 0;
  private probesLost = 0;
  private outstanding: { id: number; size: number; sentAt: number } | null = null;
  private nextId = 1;
  private probeRttMs = 0;
  private lastHeard = -Infinity;
  /** When a datagram above the floor last left (dataSent). */
  private lastLargeSent = -Infinity;
  /** SEARCH_COMPLETE, a confirmation skipped for want of large datagrams: the next one brings it back. */
  private confirmWaiting = false;
  /** When the next probe (or the next confirmation, or the raise) is due. */
  private dueAt: number;
  /** SEARCH_COMPLETE: when the raise timer fires. */
  private raiseAt = Infinity;
  /** The last probes sent, by id: a late ack still updates the probe RTT. */
  private readonly recent = new Map<number, { id: number; size: number; sentAt: number }>();
  private readonly base: number;
  private readonly max: number;

  constructor(opts: PlpmtuOptions, now: number) {
    this.base = Math.floor(opts.base);
    this.max = Math.max(this.base, Math.floor(opts.max));
    this.plpmtu = this.base;
    this.fits = this.base;
    this.dueAt = now;
  }

  get state(): PlpmtuState {
    return this.current;
  }

  /** The largest datagram confirmed to reach the peer (the floor until a probe says more). */
  get size(): number {
    return this.plpmtu;
  }

  /** Something authenticated arrived from the peer: the path is alive. */
  heard(now: number): void {
    this.lastHeard = now;
  }

  /** A datagram of `size` bytes (not a probe) left on the path. */
  dataSent(size: number, now: number): void {
    if (size <= this.base) return;
    this.lastLargeSent = now;
    if (!this.confirmWaiting) return;
    this.confirmWaiting = false;
    this.dueAt = Math.min(this.dueAt, now);
  }

  /** When poll() next has something to do. */
  nextDeadline(): number {
    const out = this.outstanding;
    if (out === null) return this.dueAt;
    const timeout = out.sentAt + this.probeTimeout();
    // Timed out while nothing was heard: the verdict waits for the next message (heard()).
    return this.awaitsVerdict(out, timeout) ? Infinity : timeout;
  }

  /**
   * Runs what is due: a probe to send (the caller seals and sends it, and its acknowledgment
   * comes back through onAck), or null. `changed` tells the caller to read size again.
   */
  poll(now: number): { probe: ProbeRequest | null; changed: boolean } {
    let changed = false;
    const out = this.outstanding;
    if (out && now >= out.sentAt + this.probeTimeout() && !this.awaitsVerdict(out, now)) {
      this.outstanding = null;
      this.probesLost++;
      if (this.probesLost >= MAX_PROBES) changed = this.sizeFailed(now);
      else this.dueAt = now;
    }
    if (this.outstanding || now < this.dueAt) return { probe: null, changed };
    if (this.current === 'base') this.startSearch(now);
    else if (this.current === 'search-complete' && now >= this.raiseAt) this.startSearch(now); // §5.1.1 raise
    if (this.candidate === 0) return { probe: null, changed };
    if (this.current === 'search-complete' && this.lastLargeSent < this.dueAt - CONFIRM_INTERVAL_MS) {
      // Nothing above the floor left since the last confirmation: no probe until something does.
      this.confirmWaiting = true;
      this.dueAt = this.raiseAt;
      return { probe: null, changed };
    }
    const probe = { id: this.nextId++, size: this.candidate };
    this.outstanding = { ...probe, sentAt: now };
    this.recent.set(probe.id, this.outstanding);
    if (this.recent.size > RECENT_PROBES) this.recent.delete(this.recent.keys().next().value!);
    return { probe, changed };
  }

  /** The peer acknowledged probe `id`; returns true when the PLPMTU changed. */
  onAck(id: number, now: number): boolean {
    const sent = this.recent.get(id);
    if (sent === undefined) return false;
    this.recent.delete(id);
    const rtt = now - sent.sentAt;
    this.probeRttMs = this.probeRttMs === 0 ? rtt : (7 * this.probeRttMs + rtt) / 8;
    const out = this.outstanding;
    // An ack after its probe timed out still proves that size while it is the one being
    // probed again (a queue grew the round trip past the probe timer): take it as on time.
    if (!out || (out.id !== id && out.size !== sent.size)) return false;
    this.outstanding = null;
    this.probesLost = 0;
    if (this.current === 'search-complete') {
      this.dueAt = Math.min(this.raiseAt, now + CONFIRM_INTERVAL_MS);
      return false;
    }
    this.fits = Math.max(this.fits, out.size);
    const grew = out.size > this.plpmtu;
    this.plpmtu = Math.max(this.plpmtu, out.size);
    this.candidate = this.nextCandidate();
    this.dueAt = now;
    if (this.candidate === 0) this.completeSearch(now, false);
    return grew;
  }

  /**
   * RFC 8899 §4.3: a lost confirmation counts only once something else arrived after it was
   * sent, so an outage is not taken for a black hole. While searching, a loss always counts.
   */
  private awaitsVerdict(out: { sentAt: number }, now: number): boolean {
    return this.current !== 'searching' && now >= out.sentAt + this.probeTimeout() && this.lastHeard <= out.sentAt;
  }

  /**
   * The probe timer: three smoothed probe RTTs, at least MIN_PROBE_TIMEOUT_MS, doubled for each
   * probe of this size already lost, so a queue that grows the round trip several-fold lets
   * an ack come back before the third probe gives the size up.
   */
  private probeTimeout(): number {
    return Math.max(MIN_PROBE_TIMEOUT_MS, 3 * this.probeRttMs) * 2 ** this.probesLost;
  }

  /** BASE → SEARCHING, or SEARCH_COMPLETE → SEARCHING above the PLPMTU when the raise timer fires. */
  private startSearch(now: number): void {
    this.current = 'searching';
    this.confirmWaiting = false;
    this.fits = this.plpmtu;
    this.failsAt = Infinity;
    this.probesLost = 0;
    this.candidate = this.nextCandidate();
    this.dueAt = now;
    if (this.candidate === 0) this.completeSearch(now, false);
  }

  private completeSearch(now: number, changed: boolean): { probe: null; changed: boolean } {
    this.current = 'search-complete';
    this.raiseAt = now + RAISE_INTERVAL_MS;
    // Confirmation probes only make sense above the floor (the floor is assumed).
    this.candidate = this.plpmtu > this.base ? this.plpmtu : 0;
    this.dueAt = this.plpmtu > this.base ? now + CONFIRM_INTERVAL_MS : this.raiseAt;
    this.probesLost = 0;
    return { probe: null, changed };
  }

  /** MAX_PROBES of the candidate went unanswered. Returns true when the PLPMTU changed. */
  private sizeFailed(now: number): boolean {
    this.probesLost = 0;
    if (this.current === 'search-complete') {
      // A black hole: the confirmed size stopped getting through (RFC 8899 §4.3).
      this.plpmtu = this.base;
      this.current = 'base';
      this.dueAt = now;
      return true;
    }
    this.failsAt = Math.min(this.failsAt, this.candidate);
    this.candidate = this.nextCandidate();
    this.dueAt = now;
    if (this.candidate === 0) this.completeSearch(now, false);
    return false;
  }

  /** The next size to probe in the search, or 0 when it is done. */
  private nextCandidate(): number {
    const hi = Math.min(this.failsAt, this.max + 1);
    if (this.failsAt === Infinity) {
      for (const s of LADDER) if (s > this.fits && s < hi) return s;
      if (this.max > this.fits) return this.max;
      return 0;
    }
    if (hi - this.fits <= SEARCH_GRANULARITY) return 0;
    return this.fits + Math.floor((hi - this.fits) / 2);
  }
}
