/**
 * Liveness of one WebSocket from ping/pong (RFC 6455 §5.5.2–5.5.3). Every interval we check
 * that something arrived since the previous check — a pong or any message counts — and send
 * a fresh ping. A peer silent for a whole interval after a ping is declared gone, so a dead
 * peer is noticed within two intervals.
 */
import type { WebSocket } from 'ws';

export class Heartbeat {
  private heardSinceLastPing = true;
  private timer: NodeJS.Timeout | null;
  private readonly onPong = (): void => {
    this.heardSinceLastPing = true;
  };

  constructor(
    private readonly ws: WebSocket,
    intervalMs: number,
    private readonly onSilent: () => void,
  ) {
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
    if (!this.heardSinceLastPing) {
      this.stop();
      this.onSilent();
      return;
    }
    this.heardSinceLastPing = false;
    if (this.ws.readyState === this.ws.OPEN) this.ws.ping();
  }
}
