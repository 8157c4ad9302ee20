/**
 * The engine timer fires by the event loop's clock, which lags performance.now() on a busy
 * turn, so it can wake a little before the engine's deadline. The driver must then arm the
 * same deadline again rather than wait for traffic that may never come.
 */
import { ccFactory, minRttScheduler, type PathLink } from '@mptun/core';
import { describe, expect, it } from 'vitest';
import { Driver } from '../src/driver.js';

/** A driver whose clock the test sets. */
class SteppedDriver extends Driver {
  clock = 0;
  override now(): number {
    return this.clock;
  }
}

/** A path that swallows every segment it is given, counting them. */
function blackHole(): PathLink & { sent: number } {
  return {
    kind: 'udp',
    local: { host: '127.0.0.2', port: 1 },
    remote: { host: '127.0.0.1', port: 2 },
    maxSegment: 1400,
    reliable: false,
    authenticated: true,
    bufferedAmount: 0,
    sent: 0,
    send() {
      this.sent++;
      return true;
    },
    onSegment: null,
    onClose: null,
    onDrain: null,
    close() {},
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('driver timer', () => {
  it('re-arms a deadline its timer woke up before, and then handles it', async () => {
    const driver = new SteppedDriver({ scheduler: minRttScheduler, congestionControl: ccFactory('cubic') });
    const link = blackHole();
    const path = driver.addLink(link);
    driver.endpoint.connect(driver.now(), { path });
    driver.pump();
    expect(link.sent).toBe(1); // the SYN; its retransmission is due at the initial RTO (1 s)
    const due = driver.endpoint.pollTimeout()!;
    expect(due).toBe(1000);
    driver.clock = due - 5; // the timer will wake 5 ms "early" by the driver's clock
    await sleep(due + 100);
    expect(link.sent).toBe(1); // woke early: nothing was due yet
    driver.clock = due + 1;
    await sleep(50); // the re-armed timer (5 ms) fires again
    expect(link.sent).toBe(2); // the SYN went out again
    await driver.close();
  });
});
