import { createHash } from 'node:crypto';

const U64_MAX = (1n << 64n) - 1n;

/** A 64-bit key as the 8 big-endian bytes that RFC 8684 hashes. */
export function u64Bytes(value: bigint): Uint8Array {
  if (value < 0n || value > U64_MAX) {
    throw new RangeError(`not a u64: ${value}`);
  }
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, value);
  return bytes;
}

function sha256OfKey(key: bigint): Uint8Array {
  return createHash('sha256').update(u64Bytes(key)).digest();
}

/**
 * The connection token a peer derives from its key: the most significant 32 bits of
 * SHA-256 over the key in network byte order. RFC 8684 §3.1 (MP_CAPABLE), §3.2 (MP_JOIN).
 */
export function keyToken(key: bigint): number {
  const digest = sha256OfKey(key);
  return new DataView(digest.buffer, digest.byteOffset, digest.byteLength).getUint32(0);
}

/**
 * The initial data sequence number: the least significant 64 bits of the same SHA-256.
 * RFC 8684 §3.1.
 */
export function keyIdsn(key: bigint): bigint {
  const digest = sha256OfKey(key);
  return new DataView(digest.buffer, digest.byteOffset, digest.byteLength).getBigUint64(
    digest.byteLength - 8,
  );
}
