/**
 * Handshake timestamps accepted per client static key, against replayed initiations
 * (WireGuard's rule: an initiation is refused unless its TAI64N stamp is newer than the
 * last one accepted from that key). One record per server key, shared by every responder
 * (listener) of that key, so a captured initiation accepted by one listener is refused by
 * all others; encode()/decode() let the caller persist it across restarts.
 *
 * Unlike WireGuard's single endpoint, a multipath client opens several paths at once, and
 * their initiations may arrive out of order (paths of different delay, or behind a
 * balancer). So a stamp up to REORDER_WINDOW_MS older than the newest is accepted once,
 * if it was not seen before: the record remembers each accepted stamp in that window
 * (at most MAX_RECENT per key; past that, the oldest one remembered becomes the floor).
 * A replayed initiation still never yields a path, since its sender cannot confirm the keys.
 * After a restart only the newest stamp is known, so anything not newer is refused.
 *
 * Sans-IO: the caller stores the bytes (onChange says when they changed).
 *
 * Encoding: u32 count (little-endian), then count × (32-byte public key ‖ 12-byte newest stamp).
 */
import { X25519_KEY_BYTES } from './crypto/backend.js';
import { SessionError } from './errors.js';
import { readU32, writeU32 } from './messages.js';
import { TIMESTAMP_BYTES, timestampAfter, timestampMs } from './timestamp.js';

const ENTRY_BYTES = X25519_KEY_BYTES + TIMESTAMP_BYTES;
/** Far above any allow-list; bounds what decode() will allocate for a damaged file. */
const MAX_ENTRIES = 1 << 20;
/** How much older than the newest stamp a not-yet-seen one may be: more than a path's one-way delay. */
export const REORDER_WINDOW_MS = 3_000;
/** Accepted stamps remembered per key inside the window. */
const MAX_RECENT = 32;

interface KeyRecord {
  key: Uint8Array;
  newest: Uint8Array;
  /** Stamps at or below this (ms, timestampMs) are refused. */
  floor: number;
  /** Every accepted stamp above the floor: hex → ms. */
  recent: Map<string, number>;
}

export class ReplayRecord {
  private readonly byKey = new Map<string, KeyRecord>();
  /** Called after every change of a key's newest stamp (what encode() keeps). */
  onChange: (() => void) | null = null;

  get size(): number {
    return this.byKey.size;
  }

  /**
   * Records `stamp` for `clientKey` and returns true when it is newer than the last one
   * accepted for that key, or inside the reorder window and not seen before; returns false
   * (and records nothing) for a replay.
   */
  accept(clientKey: Uint8Array, stamp: Uint8Array): boolean {
    const id = Buffer.from(clientKey.buffer, clientKey.byteOffset, clientKey.byteLength).toString('hex');
    const hex = Buffer.from(stamp.buffer, stamp.byteOffset, TIMESTAMP_BYTES).toString('hex');
    const ms = timestampMs(stamp);
    const r = this.byKey.get(id);
    if (r === undefined) {
      this.byKey.set(id, { key: clientKey.slice(), newest: stamp.slice(), floor: ms - REORDER_WINDOW_MS, recent: new Map([[hex, ms]]) });
      this.onChange?.();
      return true;
    }
    const newer = timestampAfter(stamp, r.newest);
    if (!newer && (ms <= r.floor || r.recent.has(hex))) return false;
    r.recent.set(hex, ms);
    if (newer) {
      r.newest = stamp.slice();
      r.floor = Math.max(r.floor, ms - REORDER_WINDOW_MS);
      for (const [h, t] of r.recent) if (t <= r.floor) r.recent.delete(h);
    }
    if (r.recent.size > MAX_RECENT) {
      let oldest: [string, number] = ['', Infinity];
      for (const e of r.recent) if (e[1] < oldest[1]) oldest = e;
      r.recent.delete(oldest[0]);
      r.floor = Math.max(r.floor, oldest[1]);
    }
    if (newer) this.onChange?.();
    return true;
  }

  encode(): Uint8Array {
    const out = new Uint8Array(4 + this.byKey.size * ENTRY_BYTES);
    writeU32(out, 0, this.byKey.size);
    let at = 4;
    for (const { key, newest } of this.byKey.values()) {
      out.set(key, at);
      out.set(newest, at + X25519_KEY_BYTES);
      at += ENTRY_BYTES;
    }
    return out;
  }

  /** The record `encode()` wrote. Throws ERR_MPTUN_BAD_MESSAGE for anything else. */
  static decode(bytes: Uint8Array): ReplayRecord {
    if (bytes.length < 4) throw new SessionError('ERR_MPTUN_BAD_MESSAGE', 'replay record: shorter than its count');
    const count = readU32(bytes, 0);
    if (count > MAX_ENTRIES || bytes.length !== 4 + count * ENTRY_BYTES) {
      throw new SessionError('ERR_MPTUN_BAD_MESSAGE', `replay record: ${bytes.length} bytes do not hold ${count} entries`);
    }
    const record = new ReplayRecord();
    for (let i = 0, at = 4; i < count; i++, at += ENTRY_BYTES) {
      const key = bytes.slice(at, at + X25519_KEY_BYTES);
      const newest = bytes.slice(at + X25519_KEY_BYTES, at + ENTRY_BYTES);
      // What was accepted inside the window before the restart is not known: nothing older passes.
      record.byKey.set(Buffer.from(key).toString('hex'), { key, newest, floor: timestampMs(newest), recent: new Map() });
    }
    return record;
  }
}
