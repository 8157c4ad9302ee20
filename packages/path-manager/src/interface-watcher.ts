/**
 * Watches the local interface addresses by polling an injected source in virtual time, and
 * reports an address as added or removed only once the change has held for `debounceMs`:
 * a Wi-Fi address that vanishes for 100 ms does not tear its subflows down.
 * Sans-IO: the caller polls at nextTimeout() with its own clock.
 */
import { PathManagerError } from './errors.js';
import { interfaceFilter, type InterfaceAddress, type InterfaceEntry, type InterfaceFilter } from './interface-filter.js';

export type InterfaceSource = () => readonly InterfaceEntry[];

export interface InterfaceChange extends InterfaceAddress {
  type: 'added' | 'removed';
}

export interface InterfaceWatcherOptions extends InterfaceFilter {
  source: InterfaceSource;
  /** How often to sample the source, ms. Default 1000. */
  pollIntervalMs?: number;
  /** How long a change must hold before it is reported, ms. Default 2000. */
  debounceMs?: number;
  /** Report what the first poll finds at once, without the debounce. Default true. */
  reportInitial?: boolean;
  /** Addresses taken from one sample at most; the rest are ignored. Default 256. */
  maxAddresses?: number;
}

export class InterfaceWatcher {
  readonly pollIntervalMs: number;
  readonly debounceMs: number;
  /** Samples that failed because the source threw; such a sample changes nothing. */
  sourceErrors = 0;
  private readonly source: InterfaceSource;
  private readonly accept: (entry: InterfaceEntry) => InterfaceAddress | null;
  private readonly reportInitial: boolean;
  private readonly maxAddresses: number;
  /** Addresses reported as present, by key. */
  private readonly stable = new Map<string, InterfaceAddress>();
  /** Addresses whose presence differs from `stable`, and since when. */
  private readonly pending = new Map<string, { since: number; address: InterfaceAddress }>();
  private polled = false;
  private nextPollAt = -Infinity;

  constructor(options: InterfaceWatcherOptions) {
    this.source = options.source;
    this.accept = interfaceFilter(options);
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.debounceMs = options.debounceMs ?? 2000;
    this.reportInitial = options.reportInitial ?? true;
    this.maxAddresses = options.maxAddresses ?? 256;
    if (!Number.isFinite(this.pollIntervalMs) || this.pollIntervalMs <= 0) {
      throw new PathManagerError('ERR_PM_BAD_OPTION', `pollIntervalMs must be a finite number > 0, got ${this.pollIntervalMs}`);
    }
    if (!Number.isFinite(this.debounceMs) || this.debounceMs < 0) {
      throw new PathManagerError('ERR_PM_BAD_OPTION', `debounceMs must be a finite number >= 0, got ${this.debounceMs}`);
    }
    if (!Number.isInteger(this.maxAddresses) || this.maxAddresses < 1) {
      throw new PathManagerError('ERR_PM_BAD_OPTION', `maxAddresses must be an integer >= 1, got ${this.maxAddresses}`);
    }
  }

  /** Sample the source now; returns the changes that have held for debounceMs. */
  poll(now: number): InterfaceChange[] {
    this.nextPollAt = now + this.pollIntervalMs;
    const seen = this.sample();
    if (seen === null) return [];
    const out: InterfaceChange[] = [];
    if (!this.polled) {
      this.polled = true;
      if (this.reportInitial) {
        for (const [key, a] of seen) {
          this.stable.set(key, a);
          out.push({ type: 'added', ...a });
        }
        return out;
      }
    }
    const keys = new Set([...seen.keys(), ...this.stable.keys(), ...this.pending.keys()]);
    for (const key of keys) {
      const present = seen.get(key);
      const was = this.stable.get(key);
      if ((present !== undefined) === (was !== undefined)) {
        this.pending.delete(key); // back as it was: a flap, nothing to report
        continue;
      }
      let p = this.pending.get(key);
      if (!p) this.pending.set(key, (p = { since: now, address: (present ?? was)! }));
      if (now - p.since < this.debounceMs) continue;
      this.pending.delete(key);
      if (present) {
        this.stable.set(key, present);
        out.push({ type: 'added', ...present });
      } else {
        this.stable.delete(key);
        out.push({ type: 'removed', ...was! });
      }
    }
    return out;
  }

  /** When to poll next: the regular interval, or sooner when a pending change matures. */
  nextTimeout(): number {
    let t = this.nextPollAt;
    for (const p of this.pending.values()) t = Math.min(t, p.since + this.debounceMs);
    return t;
  }

  /** The addresses reported present. */
  current(): InterfaceAddress[] {
    return [...this.stable.values()].map((a) => ({ ...a }));
  }

  private sample(): Map<string, InterfaceAddress> | null {
    let entries: readonly InterfaceEntry[];
    try {
      entries = this.source();
    } catch {
      // The system could not list its interfaces this time: better no news than "all gone".
      this.sourceErrors++;
      return null;
    }
    const seen = new Map<string, InterfaceAddress>();
    if (!Array.isArray(entries)) {
      this.sourceErrors++;
      return null;
    }
    for (const e of entries) {
      if (seen.size >= this.maxAddresses) break;
      const a = e && typeof e === 'object' ? this.accept(e) : null;
      if (a) seen.set(interfaceKey(a), a);
    }
    return seen;
  }
}

/** The id an interface address goes by: its interface name and address. */
export function interfaceKey(a: { name: string; address: string }): string {
  return `${a.name}/${a.address}`;
}
