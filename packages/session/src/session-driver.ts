/**
 * Runs one PathSession against a real carrier: the carrier's adapter hands in messages and
 * segments, the driver feeds the session, sends what it outputs, reports up/down/silence, and keeps
 * one one-shot timer at the session's next deadline. The clock and the timer are injected
 * (the transports pass Date.now and setTimeout), so this file reads neither itself.
 */
import type { PathDownReason, PathSession } from './path-session.js';

export interface SessionHost {
  /** Wall-clock ms (the handshake timestamp is wall-clock time). */
  now(): number;
  /** Arms a one-shot timer `delayMs` from now; returns what cancels it. */
  setTimer(delayMs: number, fire: () => void): () => void;
  /** Puts one session message on the carrier. */
  transmit(message: Uint8Array): void;
  /** The session is up: keys confirmed (client: answered; server: the client used them). */
  onUp(): void;
  /** The session ended by itself; it is released already. */
  onDown(reason: PathDownReason, message: string): void;
  /** The peer went quiet (`silent`, with why) or was heard again (the session keeps going). */
  onSilence?(silent: boolean, message: string): void;
  /** Path MTU discovery: the largest datagram the path carries is now `bytes`. */
  onMaxDatagram?(bytes: number): void;
}

export class SessionDriver {
  private cancelTimer: (() => void) | null = null;
  private timerAt = Infinity;
  private stopped = false;

  constructor(
    readonly session: PathSession,
    private readonly host: SessionHost,
  ) {}

  /** Sends the session's first messages and arms its timer. */
  start(): void {
    this.flush();
  }

  /**
   * One arriving message: the authenticated plaintext of a data message (empty for a
   * keepalive), true for a handshake message taken, false for a dropped one.
   */
  receive(message: Uint8Array): Uint8Array | boolean {
    if (this.stopped) return false;
    const result = this.session.handle(message, this.host.now());
    this.flush();
    return result;
  }

  /** Seals and sends one segment; false when no key may send it. */
  send(plaintext: Uint8Array): boolean {
    if (this.stopped) return false;
    const sealed = this.session.seal(plaintext, this.host.now());
    if (sealed === null) return false;
    this.host.transmit(sealed);
    if (this.session.hasOutput) this.flush();
    return true;
  }

  /** Sends what the session queued outside a receive or send (e.g. after acceptRekey). */
  flush(): void {
    if (this.stopped) return;
    const now = this.host.now();
    for (let out = this.session.poll(now); out !== null; out = this.session.poll(now)) {
      switch (out.kind) {
        case 'transmit':
          this.host.transmit(out.message);
          break;
        case 'up':
          this.host.onUp();
          break;
        case 'silent':
          this.host.onSilence?.(true, out.message);
          break;
        case 'heard':
          this.host.onSilence?.(false, 'heard from the peer again');
          break;
        case 'max-datagram':
          this.host.onMaxDatagram?.(out.bytes);
          break;
        case 'down':
          this.stop();
          this.host.onDown(out.reason, out.message);
          return;
      }
      if (this.stopped) return; // a host callback closed us
    }
    this.arm();
  }

  /** Ends the session from this side: zeroes its keys, cancels the timer, reports nothing. */
  close(): void {
    this.session.close();
    this.stop();
  }

  private stop(): void {
    this.stopped = true;
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.timerAt = Infinity;
  }

  /** Keeps the timer at the session's next deadline; a later deadline waits for the armed one. */
  private arm(): void {
    const at = this.session.nextDeadline() ?? Infinity;
    if (at >= this.timerAt) return;
    this.cancelTimer?.();
    this.timerAt = at;
    if (at === Infinity) {
      this.cancelTimer = null;
      return;
    }
    this.cancelTimer = this.host.setTimer(Math.max(0, at - this.host.now()), () => {
      this.cancelTimer = null;
      this.timerAt = Infinity;
      this.flush();
    });
  }
}
