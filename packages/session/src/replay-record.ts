/**
 * The newest handshake timestamp accepted per client static key: WireGuard's rule against
 * replayed initiations (an initiation is refused unless its TAI64N stamp is newer than the
 * last one accepted from that key). One record per server key, shared by every responder
 * (listener) of that key, so a captured initiation accepted by one listener is refused by
 * all others; encode()/decode() let the caller persist it across restarts.
 *
 * Sans-IO: the caller stores the bytes (onChange says when they changed).
 *
 * Encoding: u32 count (little-endian), then count × (32-byte public key ‖ 12-byte stamp).
 */
import { X25519_KEY_BYTES } from './crypto/backend.js';
import { SessionError } from './errors.js';
import { readU32, writeU32 } from './messages.js';
import { TIMESTAMP_BYTES, timestampAfter } from './timestamp.js';

const ENTRY_BYTES = X25519_KEY_BYTES + TIMESTAMP_BYTES;
/** Far above any allow-list; bounds what decode() will allocate for a damaged file. */
const MAX_ENTRIES = 1 << 20;

export class ReplayRecord {
  private readonly newest = new Map<string, { key: Uint8Array; stamp: Uint8Array }>();
  /** Called after every accepted (newer) stamp. */
  onChange: (() => void) | null = null;

  get size(): number {
    return this.newest.size;
  }

  /**
   * Records `stamp` for `clientKey` and returns true when it is newer than the last one
   * accepted for that key; returns false (and records nothing) for a replay.
   */
  accept(clientKey: Uint8Array, stamp: Uint8Array): boolean {
    const id = Buffer.from(clientKey.buffer, clientKey.byteOffset, clientKey.byteLength).toString('hex');
    const last = this.newest.get(id);
    if (last !== undefined && !timestampAfter(stamp, last.stamp)) return false;
    this.newest.set(id, { key: clientKey.slice(), stamp: stamp.slice() });
    this.onChange?.();
    return true;
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
    return record;
  }
}
