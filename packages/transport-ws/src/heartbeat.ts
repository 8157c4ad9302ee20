/**
 * Liveness of one WebSocket from ping/pong (RFC 6455 §5.5.2–5.5.3). Every interval we check
 * that something arrived since the previous check — a pong or any message counts — and send
 * a fresh ping. A peer silent for a whole interval after a ping is reported quiet (within two
 * intervals), while TCP goes on trying to reach it: a Wi-Fi blip or a stalled event loop on a
 * busy machine outlasts that, and what rides the path should outlast it too. Only a peer
 * still silent after `limitMs` is declared gone.
 */
import type { WebSocket } from 'ws';

export interface HeartbeatEvents {
  /** The peer went quiet (true, with why) or was heard again (false). */
  quiet(silent: boolean, why: string): void;
  /** The peer stayed silent for the whole limit: the path is over. */
  gone(why: string): void;
}

export class Heartbeat {
  private heardSinceLastPing = true;
  /** When the first unanswered ping went, or null while the peer answers. */
  private silentSince: number | null = null;
  private lastPing: number;
  private timer: NodeJS.Timeout | null;
  private readonly onPong = (): void => {
    this.heardSinceLastPing = true;
  };

  constructor(
    private readonly ws: WebSocket,
    intervalMs: number,
    private readonly limitMs: number,
    private readonly events: HeartbeatEvents,
  ) {
    this.lastPing = performance.now();
    ws.on('pong', this.onPong);
    this.timer = setInterval(() => this.tick(), intervalMs);
    // The socket, not this timer, is what keeps a process alive.
    this.timer.unref();
  }

  /** Any traffic from the peer proves it is alive. */
  markAlive(): void {
    this.heardSinceLastPing = true;
  }

  stop(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
    this.ws.off('pong', this.onPong);
  }

  private tick(): void {
    const now = performance.now();
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
