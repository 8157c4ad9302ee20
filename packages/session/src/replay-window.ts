/**
 * Anti-replay window over 64-bit counters, after RFC 6479: a ring of 32-bit blocks; moving
 * the window forward clears whole blocks instead of shifting bits. With 128 blocks it
 * remembers the last 4064 counters below the highest one accepted, so reordering of up
 * to that many packets is tolerated and every duplicate inside it is caught.
 *
 * Counters are JavaScript numbers below 2^53 (the channel retires keys long before).
 */
const BLOCK_BITS = 32;
const BLOCKS = 128; // a power of two, RFC 6479 §2
/** Counters more than this far below the highest accepted one are refused as too old. */
export const REPLAY_WINDOW_SIZE = (BLOCKS - 1) * BLOCK_BITS;

export class ReplayWindow {
  private readonly bitmap = new Uint32Array(BLOCKS);
  private top = -1;

  /** The highest counter accepted so far, or -1. */
  get highest(): number {
    return this.top;
  }

  /** Whether `counter` would be accepted (neither seen nor too old); changes nothing. */
  check(counter: number): boolean {
    if (counter > this.top) return true;
    if (this.top - counter >= REPLAY_WINDOW_SIZE) return false;
    return (this.bitmap[blockOf(counter)]! & bitOf(counter)) === 0;
  }

  /**
   * Records `counter` as received. Returns false (and records nothing) when it was seen
   * or is too old. Call only after the packet authenticated, so forgeries cannot move
   * the window. RFC 6479 §2.
   */
  accept(counter: number): boolean {
    if (counter > this.top) {
      const newBlock = Math.floor(counter / BLOCK_BITS);
      const topBlock = this.top < 0 ? -1 : Math.floor(this.top / BLOCK_BITS);
      const advance = Math.min(newBlock - topBlock, BLOCKS);
      for (let i = 1; i <= advance; i++) this.bitmap[(topBlock + i) % BLOCKS] = 0;
      this.top = counter;
    } else if (this.top - counter >= REPLAY_WINDOW_SIZE) {
      return false;
    }
    const block = blockOf(counter);
    const bit = bitOf(counter);
    if ((this.bitmap[block]! & bit) !== 0) return false;
    this.bitmap[block] = this.bitmap[block]! | bit;
    return true;
  }
}

function blockOf(counter: number): number {
  return Math.floor(counter / BLOCK_BITS) % BLOCKS;
}

function bitOf(counter: number): number {
  return 1 << counter % BLOCK_BITS;
}
