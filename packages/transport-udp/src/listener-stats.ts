import type { PathListener } from '@mptun/core';

/** Counters of a UDP listener, for tests, benches and a live view. */
export interface UdpListenerStats {
  /** Initiations that reached the responder. */
  initiations: number;
  /** Cookie replies sent (the listener was under load). */
  cookieReplies: number;
  /** Handshakes completed (responses sent). */
  handshakes: number;
  /** New paths' first segments that rode their initiation and were handed on (onEarlyPath). */
  earlySegments: number;
  /** Datagrams dropped without allocating anything (no session, bad tag, replay, malformed). */
  dropped: number;
}

/** A PathListener with a view of its state. */
export interface UdpPathListener extends PathListener {
  /** Sessions held: pending (answered, not yet confirmed) and established. */
  readonly sessionCount: number;
  readonly stats: Readonly<UdpListenerStats>;
}
