/**
 * Sessions filed by the random u32 index this side chose for them: the index travels in
 * every message, so a datagram finds its session whatever address it came from (a path
 * may roam). Index 0 is never handed out (it means "none" on the wire).
 */
import { randomU32, type RandomSource } from '@mptun/core';
import { SessionError } from './errors.js';

const MAX_TRIES = 64;

export class IndexTable<T> {
  private readonly entries = new Map<number, T>();

  constructor(private readonly random: RandomSource) {}

  get size(): number {
    return this.entries.size;
  }

  /** A random non-zero index that is not in use. */
  freshIndex(): number {
    for (let i = 0; i < MAX_TRIES; i++) {
      const index = randomU32(this.random);
      if (index !== 0 && !this.entries.has(index)) return index;
    }
    throw new SessionError('ERR_MPTUN_INDEX_EXHAUSTED', 'no free session index');
  }

  set(index: number, value: T): void {
    this.entries.set(index, value);
  }

  get(index: number): T | undefined {
    return this.entries.get(index);
  }

  delete(index: number): boolean {
    return this.entries.delete(index);
  }

  values(): IterableIterator<T> {
    return this.entries.values();
  }
}

/** A table that only records which indexes are taken, as the SessionIndexes a PathSession claims from. */
export function claimFrom(table: IndexTable<true>): { claim(): number; release(index: number): void } {
  return {
    claim: () => {
      const index = table.freshIndex();
      table.set(index, true);
      return index;
    },
    release: (index) => void table.delete(index),
  };
}
