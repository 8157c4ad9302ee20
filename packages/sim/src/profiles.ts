import type { LinkOptions } from './link-options.js';

/** Names of the link presets. */
export type LinkProfileName = 'wifi' | 'lte' | '3g' | 'dsl' | 'satellite';

/**
 * Typical access links, as options for one direction (use the same for both, or override).
 * Figures are round numbers in the range such links show, not measurements of one network.
 * Delays are one way; queues are sized in time so they keep their meaning at any rate.
 */
export const linkProfiles: Readonly<Record<LinkProfileName, Readonly<LinkOptions>>> = Object.freeze({
  /** Home/office Wi-Fi: fast, short, a little loss from the radio. */
  wifi: Object.freeze({ rateBps: 50e6, delayMs: 10, jitterMs: 2, loss: 0.001, queue: Object.freeze({ ms: 50 }) }),
  /** 4G: moderate rate, longer delay with jitter, deep (bloated) queues, rare loss (the RLC retransmits). */
  lte: Object.freeze({ rateBps: 20e6, delayMs: 30, jitterMs: 10, loss: 0.0005, queue: Object.freeze({ ms: 200 }) }),
  /** 3G (HSPA): slow, long, jittery, lossier, very deep queues. */
  '3g': Object.freeze({ rateBps: 2e6, delayMs: 75, jitterMs: 20, loss: 0.005, queue: Object.freeze({ ms: 400 }) }),
  /** ADSL-class wired access: steady, little jitter, almost no loss. */
  dsl: Object.freeze({ rateBps: 8e6, delayMs: 15, jitterMs: 1, loss: 0.0001, queue: Object.freeze({ ms: 100 }) }),
  /** Geostationary satellite: 300 ms each way (a 600 ms RTT before any queueing). */
  satellite: Object.freeze({ rateBps: 10e6, delayMs: 300, jitterMs: 5, loss: 0.001, queue: Object.freeze({ ms: 300 }) }),
});

/** A fresh copy of a preset, with some fields overridden. */
export function linkProfile(name: LinkProfileName, overrides: LinkOptions = {}): LinkOptions {
  const base = linkProfiles[name];
  return { ...base, ...(base.queue !== undefined ? { queue: { ...base.queue } } : {}), ...overrides };
}
