import type { ResolvedConfig } from '../config.js';

/** Tunables of one subflow; the connection passes its own. */
export interface SubflowConfig {
  /** Largest payload per segment we can receive on this path: what our SYN advertises. */
  mss: number;
  /** Largest payload per segment the path carries now (its PLPMTU less headers); setPathMss moves it. */
  pathMss: number;
  initialRtoMs: number;
  minRtoMs: number;
  maxRtoMs: number;
  /** SYN (or SYN/ACK) transmissions before the handshake is given up. */
  maxSynRetries: number;
  /** Consecutive RTOs without progress before the subflow is declared dead. */
  maxRetries: number;
  /** Consecutive RTOs after which the subflow counts as potentially failed (RFC 8684 §3.3.6). */
  potentiallyFailedAfter: number;
  delayedAckMs: number;
  /** Our window scale shift (RFC 7323 §2). */
  windowScale: number;
  /** Probe an idle subflow after this long without hearing from the peer; 0 = never. */
  keepaliveMs: number;
  /** Bytes that may wait out of order or unmapped in the subflow. */
  receiveLimit: number;
  /**
   * Reliable-link mode: the carrier (a WebSocket's TCP) already retransmits and controls
   * congestion, so this subflow never retransmits and only measures RTT.
   */
  reliableLink: boolean;
  /**
   * The path does not authenticate the peer: our SYN is padded to the largest TCP header, so
   * it is never smaller than the SYN/ACK a server may send back to an unverified source.
   */
  padSyn: boolean;
}

/** The tunables of a subflow on a path with this MSS and carrier, from the endpoint's configuration. */
export function subflowConfig(cfg: ResolvedConfig, path: { mss: number; sendMss?: number; reliable: boolean; authenticated?: boolean } | undefined): SubflowConfig {
  const mss = path?.mss ?? cfg.mss;
  return {
    mss,
    pathMss: path?.sendMss ?? mss,
    initialRtoMs: cfg.initialRtoMs,
    minRtoMs: cfg.minRtoMs,
    maxRtoMs: cfg.maxRtoMs,
    maxSynRetries: cfg.maxSynRetries,
    maxRetries: cfg.maxRetries,
    potentiallyFailedAfter: cfg.potentiallyFailedAfter,
    delayedAckMs: cfg.delayedAckMs,
    keepaliveMs: cfg.keepaliveMs,
    windowScale: windowScaleFor(cfg.receiveBuffer),
    receiveLimit: cfg.receiveBuffer,
    reliableLink: path?.reliable ?? cfg.reliableLink,
    padSyn: path?.authenticated === false,
  };
}

/** Smallest shift that lets the window field express the whole buffer (RFC 7323 §2.3). */
function windowScaleFor(buffer: number): number {
  let shift = 0;
  while (shift < 14 && buffer / 2 ** shift > 0xffff) shift++;
  return shift;
}
