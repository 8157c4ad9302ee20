/**
 * The newest handshake timestamp accepted per client static key: WireGuard's rule against
 * replayed initiations (an initiation is refused unless its TAI64N stamp is newer than the
 * last one accepted from that key). One record per server key, shared by every responder
 * (listener) of that key, so a captured initiation accepted by one listener is refused by
 * all others; encode()/decode() let the caller persist it across restarts.
 *
 * Unlike WireGuard, one client key handshakes on several paths at once (a new interface
 * joins the server's every address), over routes of different delay: an initiation stamped
 * earlier may arrive after a later one. So a stamp up to REORDER_WINDOW_MS behind the newest
 * is taken too, once: every stamp taken in the window is remembered (at most MAX_RECENT per
 * key; past that the oldest is forgotten and nothing at or below it is taken again). A
 * record read back from its encoding remembers only the newest stamps, and takes nothing
 * at or below them.
 *
 * Sans-IO: the caller stores the bytes (onChange says when they changed).
 *
 * Encoding: u32 count (little-endian), then count × (32-byte public key ‖ 12-byte stamp).
 */
import { X25519_KEY_BYTES } from './crypto/backend.js';
import { SessionError } from './errors.js';
import { readU32, writeU32 } from './messages.js';
import { TIMESTAMP_BYTES, timestampAfter, timestampMillis } from './timestamp.js';

const ENTRY_BYTES = X25519_KEY_BYTES + TIMESTAMP_BYTES;
/** Far above any allow-list; bounds what decode() will allocate for a damaged file. */
const MAX_ENTRIES = 1 << 20;

/** How far behind a key's newest accepted stamp an initiation may be and still be taken (once). */
export const REORDER_WINDOW_MS = 3_000;
/** Stamps remembered per key inside the window. */
const MAX_RECENT = 32;

interface KeyRecord {
  key: Uint8Array;
  /** The newest stamp taken. */
  stamp: Uint8Array;
  /** Stamps taken within the window behind the newest (the newest among them). */
  recent: Uint8Array[];
  /** Nothing at or below this is taken (stamps forgotten, or from before a restart); null: no floor. */
  floor: Uint8Array | null;
}

export class ReplayRecord {
  private readonly newest = new Map<string, KeyRecord>();
  /** Called after every accepted (newer) stamp. */
  onChange: (() => void) | null = null;

  get size(): number {
    return this.newest.size;
  }

  /**
   * Records `stamp` for `clientKey` and returns true when it is newer than the last one
   * accepted for that key, or a stamp within the reorder window not taken before; returns
   * false (and records nothing) for a replay.
   */
  accept(clientKey: Uint8Array, stamp: Uint8Array): boolean {
    const id = Buffer.from(clientKey.buffer, clientKey.byteOffset, clientKey.byteLength).toString('hex');
    const last = this.newest.get(id);
    if (last === undefined) {
      this.newest.set(id, { key: clientKey.slice(), stamp: stamp.slice(), recent: [stamp.slice()], floor: null });
      this.onChange?.();
      return true;
    }
    if (timestampAfter(stamp, last.stamp)) {
      last.stamp = stamp.slice();
      this.remember(last, last.stamp);
      this.onChange?.();
      return true;
    }
    // Older than the newest: a path slower than another, within the window and not seen yet.
    if (last.floor !== null && !timestampAfter(stamp, last.floor)) return false;
    if (timestampMillis(last.stamp) - timestampMillis(stamp) > REORDER_WINDOW_MS) return false;
    if (last.recent.some((r) => !timestampAfter(r, stamp) && !timestampAfter(stamp, r))) return false;
    this.remember(last, stamp.slice());
    return true;
  }

  /** Keeps `stamp` among the key's recent ones; those out of the window go, and past MAX_RECENT the oldest raise the floor. */
  private remember(r: KeyRecord, stamp: Uint8Array): void {
    r.recent.push(stamp);
    const newest = timestampMillis(r.stamp);
    r.recent = r.recent.filter((s) => newest - timestampMillis(s) <= REORDER_WINDOW_MS);
    r.recent.sort((a, b) => (timestampAfter(a, b) ? 1 : timestampAfter(b, a) ? -1 : 0));
    while (r.recent.length > MAX_RECENT) {
      const oldest = r.recent.shift()!;
      if (r.floor === null || timestampAfter(oldest, r.floor)) r.floor = oldest;
    }
  }

  encode(): Uint8Array {
    const out = new Uint8Array(4 + this.newest.size * ENTRY_BYTES);
    writeU32(out, 0, this.newest.size);
    let at = 4;
    for (const { key, stamp } of this.newest.values()) {
      out.set(key, at);
      out.set(stamp, at + X25519_KEY_BYTES);
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
      record.accept(bytes.subarray(at, at + X25519_KEY_BYTES), bytes.subarray(at + X25519_KEY_BYTES, at + ENTRY_BYTES));
    }
    // What was taken inside the window before is not known: nothing at or below the newest.
    for (const r of record.newest.values()) r.floor = r.stamp;
    return record;
  }
}
