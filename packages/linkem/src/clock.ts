/**
 * The clock and the one kind of timer the emulator uses. Real runs use the monotonic clock
 * and Node timers; tests may pass a virtual clock to check the link model exactly.
 */
export type TimerHandle = unknown;

export interface LinkClock {
  /** Milliseconds on a monotonic clock (fractional). */
  now(): number;
  /** Call `fn` once, no earlier than `delayMs` from now. */
  setTimer(fn: () => void, delayMs: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/**
 * performance.now() and setTimeout. Timers are unref'd: the sockets keep the process alive,
 * a pending link timer on its own must not.
 */
export const systemClock: LinkClock = {
  now: () => performance.now(),
  setTimer(fn, delayMs) {
    const timer = setTimeout(fn, delayMs);
    timer.unref();
    return timer;
  },
  clearTimer(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};
