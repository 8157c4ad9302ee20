import { createHmac, timingSafeEqual } from 'node:crypto';
import { u64Bytes } from './keys.js';

function u32Bytes(value: number): Uint8Array {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new RangeError(`not a u32: ${value}`);
  }
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value);
  return bytes;
}

/** HMAC-SHA256 keyed with the two 64-bit keys concatenated, first key first. */
function hmacOverKeys(firstKey: bigint, secondKey: bigint, message: Uint8Array): Uint8Array {
  const mac = createHmac('sha256', Buffer.concat([u64Bytes(firstKey), u64Bytes(secondKey)]));
  mac.update(message);
  const digest = mac.digest();
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
}

/**
 * The HMAC the listener B sends in the MP_JOIN SYN/ACK: the leftmost 64 bits of
 * HMAC-SHA256(key = K_B ‖ K_A, message = R_B ‖ R_A). RFC 8684 §3.2.
 */
export function joinSynAckHmac(keyB: bigint, keyA: bigint, nonceB: number, nonceA: number): Uint8Array {
  const digest = hmacOverKeys(keyB, keyA, Buffer.concat([u32Bytes(nonceB), u32Bytes(nonceA)]));
  return digest.slice(0, 8);
}

/**
 * The HMAC the initiator A sends in the MP_JOIN third ACK: the leftmost 160 bits of
 * HMAC-SHA256(key = K_A ‖ K_B, message = R_A ‖ R_B). RFC 8684 §3.2.
 */
export function joinAckHmac(keyA: bigint, keyB: bigint, nonceA: number, nonceB: number): Uint8Array {
  const digest = hmacOverKeys(keyA, keyB, Buffer.concat([u32Bytes(nonceA), u32Bytes(nonceB)]));
  return digest.slice(0, 20);
}

/**
 * The truncated HMAC carried in ADD_ADDR: the rightmost 64 bits of
 * HMAC-SHA256(key = K_sender ‖ K_receiver, message = address id ‖ address ‖ port),
 * where the port is two bytes and 0 when the option carries none. RFC 8684 §3.4.1.
 */
export function addAddrHmac(
  senderKey: bigint,
  receiverKey: bigint,
  addressId: number,
  address: Uint8Array,
  port?: number,
): Uint8Array {
  if (!Number.isInteger(addressId) || addressId < 0 || addressId > 0xff) {
    throw new RangeError(`not an address id: ${addressId}`);
  }
  if (address.length !== 4 && address.length !== 16) {
    throw new RangeError(`address must be 4 or 16 bytes, got ${address.length}`);
  }
  const portValue = port ?? 0;
  if (!Number.isInteger(portValue) || portValue < 0 || portValue > 0xffff) {
    throw new RangeError(`not a port: ${portValue}`);
  }
  const message = new Uint8Array(1 + address.length + 2);
  message[0] = addressId;
  message.set(address, 1);
  new DataView(message.buffer).setUint16(1 + address.length, portValue);
  const digest = hmacOverKeys(senderKey, receiverKey, message);
  return digest.slice(digest.length - 8);
}

/**
 * Compares two MACs without an early exit, so the time taken does not reveal how many
 * leading bytes of a forged MAC were right. Different lengths are simply unequal.
 */
export function hmacEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) {
    return false;
  }
  return timingSafeEqual(a, b);
}
