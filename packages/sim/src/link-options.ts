import { SimError } from './errors.js';

/**
 * A packet transform applied where a packet enters a link (a middlebox in front of it):
 * returns the bytes to carry on (the same array or a new one), or null to drop the packet.
 */
export type PacketTransform = (bytes: Uint8Array) => Uint8Array | null;

/**
 * Two-state Markov burst loss: in the good state packets are lost with lossInGood, in the
 * bad state with lossInBad; the state may change once per packet.
 */
export interface GilbertElliottOptions {
  pGoodToBad: number;
  pBadToGood: number;
  /** Default 0 (Gilbert's original model). */
  lossInGood?: number;
  /** Default 1 (Gilbert's original model). */
  lossInBad?: number;
}

/** With `probability`, a packet is held `extraDelayMs` longer and later packets may pass it. */
export interface ReorderOptions {
  probability: number;
  extraDelayMs: number;
}

/** Drop-tail bound: in bytes, or in milliseconds of transmission at the current rate. */
export type QueueLimit = { bytes: number } | { ms: number };

/** How one direction of a path behaves. Every field is optional; see DEFAULT_LINK_OPTIONS. */
export interface LinkOptions {
  /** Bits per second; Infinity means no serialization delay (and so no queueing). */
  rateBps?: number;
  queue?: QueueLimit;
  /** One-way propagation delay, ms. */
  delayMs?: number;
  /** Extra delay drawn uniformly from [0, jitterMs) per packet; FIFO order is kept. */
  jitterMs?: number;
  /** Independent per-packet loss probability. */
  loss?: number;
  /** Burst loss, applied before `loss`; null turns it off. */
  gilbertElliott?: GilbertElliottOptions | null;
  /** null turns it off. */
  reorder?: ReorderOptions | null;
  /** Probability that a packet is delivered twice. */
  duplicate?: number;
  /** Largest packet (bytes) the link carries; larger ones are dropped. */
  mtu?: number;
  /** Middleboxes in front of the link, applied in order. */
  transforms?: readonly PacketTransform[];
}

/** LinkOptions with every field present: what a Link actually runs with. */
export interface ResolvedLinkOptions {
  readonly rateBps: number;
  readonly queue: QueueLimit;
  readonly delayMs: number;
  readonly jitterMs: number;
  readonly loss: number;
  readonly gilbertElliott: Readonly<Required<GilbertElliottOptions>> | null;
  readonly reorder: Readonly<ReorderOptions> | null;
  readonly duplicate: number;
  readonly mtu: number;
  readonly transforms: readonly PacketTransform[];
}

/** An ideal wire: no rate limit, no delay, no loss; 100 ms of queue if a rate is set. */
export const DEFAULT_LINK_OPTIONS: ResolvedLinkOptions = Object.freeze({
  rateBps: Infinity,
  queue: Object.freeze({ ms: 100 }),
  delayMs: 0,
  jitterMs: 0,
  loss: 0,
  gilbertElliott: null,
  reorder: null,
  duplicate: 0,
  mtu: Infinity,
  transforms: Object.freeze([]) as readonly PacketTransform[],
});

/** A scripted change: the link goes down, comes back up, or takes new options, at `at` ms. */
export type LinkChange =
  | { at: number; down: true }
  | { at: number; up: true }
  | { at: number; set: LinkOptions };

/** `base` with the fields present in `patch` replaced, validated. */
export function resolveLinkOptions(base: ResolvedLinkOptions, patch: LinkOptions): ResolvedLinkOptions {
  const out: ResolvedLinkOptions = {
    rateBps: patch.rateBps ?? base.rateBps,
    queue: patch.queue !== undefined ? { ...patch.queue } : base.queue,
    delayMs: patch.delayMs ?? base.delayMs,
    jitterMs: patch.jitterMs ?? base.jitterMs,
    loss: patch.loss ?? base.loss,
    gilbertElliott:
      patch.gilbertElliott === undefined
        ? base.gilbertElliott
        : patch.gilbertElliott === null
          ? null
          : {
              pGoodToBad: patch.gilbertElliott.pGoodToBad,
              pBadToGood: patch.gilbertElliott.pBadToGood,
              lossInGood: patch.gilbertElliott.lossInGood ?? 0,
              lossInBad: patch.gilbertElliott.lossInBad ?? 1,
            },
    reorder:
      patch.reorder === undefined
        ? base.reorder
        : patch.reorder === null
          ? null
          : { probability: patch.reorder.probability, extraDelayMs: patch.reorder.extraDelayMs },
    duplicate: patch.duplicate ?? base.duplicate,
    mtu: patch.mtu ?? base.mtu,
    transforms: patch.transforms !== undefined ? [...patch.transforms] : base.transforms,
  };
  validate(out);
  return out;
}

/** The drop-tail bound in bytes at the options' current rate. */
export function queueLimitBytes(opts: ResolvedLinkOptions): number {
  const q = opts.queue;
  if ('bytes' in q) return q.bytes;
  return (q.ms * opts.rateBps) / 8000; // ms × bit/s ÷ 8 bit/byte ÷ 1000 ms/s
}

/** Check a change list before it is scheduled, so a typo fails at setup, not mid-run. */
export function validateLinkChange(change: LinkChange): void {
  if (typeof change.at !== 'number' || !Number.isFinite(change.at) || change.at < 0) {
    throw new SimError('BAD_OPTION', `link change: 'at' must be a finite time >= 0 ms, got ${String(change.at)}`);
  }
  const kinds = ('down' in change ? 1 : 0) + ('up' in change ? 1 : 0) + ('set' in change ? 1 : 0);
  if (kinds !== 1) throw new SimError('BAD_OPTION', 'link change: give exactly one of down, up or set');
  if ('set' in change) resolveLinkOptions(DEFAULT_LINK_OPTIONS, change.set);
}

function validate(o: ResolvedLinkOptions): void {
  if (typeof o.rateBps !== 'number' || !(o.rateBps > 0)) bad('rateBps', o.rateBps, 'a number > 0 (Infinity allowed)');
  const q = o.queue as Partial<{ bytes: number; ms: number }>;
  const hasBytes = q.bytes !== undefined;
  const hasMs = q.ms !== undefined;
  if (hasBytes === hasMs) throw new SimError('BAD_OPTION', "link option queue: give exactly one of { bytes } or { ms }");
  if (hasBytes) finiteNonNegative('queue.bytes', q.bytes);
  if (hasMs) finiteNonNegative('queue.ms', q.ms);
  finiteNonNegative('delayMs', o.delayMs);
  finiteNonNegative('jitterMs', o.jitterMs);
  probability('loss', o.loss);
  probability('duplicate', o.duplicate);
  if (typeof o.mtu !== 'number' || !(o.mtu > 0)) bad('mtu', o.mtu, 'a number > 0 (Infinity allowed)');
  if (o.gilbertElliott !== null) {
    const ge = o.gilbertElliott;
    probability('gilbertElliott.pGoodToBad', ge.pGoodToBad);
    probability('gilbertElliott.pBadToGood', ge.pBadToGood);
    probability('gilbertElliott.lossInGood', ge.lossInGood);
    probability('gilbertElliott.lossInBad', ge.lossInBad);
  }
  if (o.reorder !== null) {
    probability('reorder.probability', o.reorder.probability);
    finiteNonNegative('reorder.extraDelayMs', o.reorder.extraDelayMs);
  }
  if (!Array.isArray(o.transforms) || o.transforms.some((t) => typeof t !== 'function')) {
    throw new SimError('BAD_OPTION', 'link option transforms: must be an array of functions');
  }
}

function finiteNonNegative(name: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) bad(name, v, 'a finite number >= 0');
}

function probability(name: string, v: unknown): void {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) bad(name, v, 'a probability in [0, 1]');
}

function bad(name: string, v: unknown, want: string): never {
  throw new SimError('BAD_OPTION', `link option ${name}: expected ${want}, got ${String(v)}`);
}
