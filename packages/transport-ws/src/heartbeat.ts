/**
 * Liveness of one WebSocket from ping/pong (RFC 6455 §5.5.2–5.5.3). Every interval we check
 * that something arrived since the previous check — a pong or any message counts — and send
 * a fresh ping. A peer silent for a whole interval after a ping is reported quiet (within two
 * intervals), while TCP goes on trying to reach it: a Wi-Fi blip or a stalled event loop on a
 * busy machine outlasts that, and what rides the path should outlast it too. Only a peer
 * still silent after `limitMs` is declared gone.
 *
 * Under traffic (a client's path that heard several messages in the last interval), a wait
 * of two ping intervals is long: with `trafficSilenceMs`, a peer that then says nothing for
 * that long is pinged at once, and reported stalled if that ping goes unanswered as long
 * again (within 2 × trafficSilenceMs of its last word). A stall is only shown (the path
 * stays in use: TCP delivers late what it holds); any message from the peer ends it. A
 * check that runs late (our own event loop stalled) judges nothing, since what arrived
 * meanwhile may not have been read yet.
 */
import type { WebSocket } from 'ws';

export interface HeartbeatEvents {
  /** The peer went quiet (true, with why) or was heard again (false). */
  quiet(silent: boolean, why: string): void;
  /** The peer stayed silent for the whole limit: the path is over. */
  gone(why: string): void;
  /** Under traffic the peer stopped answering (true, with how long it has been silent), or was heard again (false). */
  stalled?(stalled: boolean, silentMs: number): void;
}

/** Messages heard in one ping interval from which the path counts as under traffic. */
const TRAFFIC_MESSAGES = 4;

export class Heartbeat {
  private heardSinceLastPing = true;
  /** When the first unanswered ping went, or null while the peer answers. */
  private silentSince: number | null = null;
  private lastPing: number;
  private timer: NodeJS.Timeout | null;
  /** The traffic rule (trafficSilenceMs): its own timer, when the peer was last heard, and its state. */
  private fastTimer: NodeJS.Timeout | null = null;
  private lastFastCheck = 0;
  private lastHeard: number;
  private heardInInterval = 0;
  private busy = false;
  /** When the traffic rule's ping went, or -1. */
  private fastPingAt = -1;
  private stallReported = false;
  private readonly onPong = (): void => this.markAlive();

  constructor(
    private readonly ws: WebSocket,
    intervalMs: number,
    private readonly limitMs: number,
    private readonly events: HeartbeatEvents,
    /** 0: no traffic rule (a server's paths). */
    private readonly trafficSilenceMs = 0,
  ) {
    this.lastPing = performance.now();
    this.lastHeard = this.lastPing;
    ws.on('pong', this.onPong);
    this.timer = setInterval(() => this.tick(), intervalMs);
    // The socket, not this timer, is what keeps a process alive.
    this.timer.unref();
    if (trafficSilenceMs > 0) {
      this.lastFastCheck = this.lastPing;
      this.fastTimer = setInterval(() => this.fastCheck(), Math.max(10, trafficSilenceMs / 4));
      this.fastTimer.unref();
    }
  }

  /** Any traffic from the peer proves it is alive. */
  markAlive(): void {
    this.heardSinceLastPing = true;
    if (this.trafficSilenceMs === 0) return;
    this.lastHeard = performance.now();
    this.heardInInterval++;
    this.fastPingAt = -1;
    if (this.stallReported) {
      this.stallReported = false;
      this.events.stalled?.(false, 0);
    }
  }

  stop(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
    if (this.fastTimer !== null) clearInterval(this.fastTimer);
    this.fastTimer = null;
    this.ws.off('pong', this.onPong);
  }

  /** The traffic rule: a peer busy a moment ago and silent since is asked at once. */
  private fastCheck(): void {
    const now = performance.now();
    const late = now - this.lastFastCheck > this.trafficSilenceMs / 2;
    this.lastFastCheck = now;
    if (late) {
      this.fastPingAt = -1; // our loop stalled: what came meanwhile may be unread, judge nothing yet
      return;
    }
    if (!this.busy || this.stallReported || now - this.lastHeard < this.trafficSilenceMs) return;
    if (this.fastPingAt < 0) {
      this.fastPingAt = now;
      if (this.ws.readyState === this.ws.OPEN) this.ws.ping();
    } else if (now - this.fastPingAt >= this.trafficSilenceMs) {
      this.stallReported = true;
      this.events.stalled?.(true, now - this.lastHeard);
    }
  }

  private tick(): void {
    const now = performance.now();
    this.busy = this.heardInInterval >= TRAFFIC_MESSAGES;
    this.heardInInterval = 0;
    if (this.heardSinceLastPing) {
      if (this.silentSince !== null) {
        this.silentSince = null;
        this.events.quiet(false, 'the peer answers again');
      }
    } else if (this.silentSince === null) {
      this.silentSince = this.lastPing;
      this.events.quiet(true, `no answer to ping for ${Math.round(now - this.lastPing)} ms`);
    } else if (now - this.silentSince >= this.limitMs) {
      this.stop();
      this.events.gone(`no answer to ping for ${Math.round(now - this.silentSince)} ms`);
      return;
    }
    // Always ping again: an answer to any of them ends the quiet spell.
    this.heardSinceLastPing = false;
    this.lastPing = now;
    if (this.ws.readyState === this.ws.OPEN) this.ws.ping();
  }
}
