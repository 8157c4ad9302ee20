/**
 * 32-bit wire sequence numbers against unbounded relative offsets.
 *
 * Inside the engine every subflow sequence number is a relative offset (a plain number
 * that never wraps: 0 is the first byte after the SYN). Only the wire holds u32 values.
 * A wire value is unwrapped against a nearby relative reference, which is valid while the
 * two lie within 2^31 of each other (RFC 9293 §3.4 arithmetic).
 */

/** u32 wire value of relative offset `rel` (rel 0 is the byte after the SYN, wire isn+1). */
export function toWire(isn: number, rel: number): number {
  // rel can exceed 2^32 on long transfers; `% 2^32` keeps the low 32 bits exactly.
  return (isn + 1 + (rel % 4294967296)) >>> 0;
}

/** Relative offset of wire value `wire`, unwrapped next to relative reference `nearRel`. */
export function fromWire(isn: number, wire: number, nearRel: number): number {
  const nearWire = toWire(isn, nearRel);
  return nearRel + ((wire - nearWire) | 0);
}

/**
 * The subflow sequence number a DSS mapping carries for relative offset `rel`: relative to
 * the SYN, so the first data byte is 1 (RFC 8684 §3.3.1), as a u32.
 */
export function toDssSubflowSeq(rel: number): number {
  return (rel + 1) % 4294967296;
}

/** Relative offset of a DSS subflow sequence number, unwrapped next to `nearRel`. */
export function fromDssSubflowSeq(subflowSeq: number, nearRel: number): number {
  return nearRel + ((subflowSeq - 1 - (nearRel % 4294967296)) | 0);
}

/** Mask for 64-bit data sequence arithmetic (RFC 8684 §3.3). */
export const U64 = (1n << 64n) - 1n;

/** 64-bit DSN of connection-relative offset `off` (first data byte is IDSN+1, RFC 8684 §3.3). */
export function dsnOf(idsn: bigint, off: number): bigint {
  return (idsn + 1n + BigInt(off)) & U64;
}

/**
 * Connection-relative offset of a DSN, unwrapped next to `nearOff`. A 32-bit DSN (m=0) or
 * data ACK (a=0) carries only the low bits; it is expanded against the reference
 * (RFC 8684 §3.3.1 allows either width on the wire).
 */
export function offsetOfDsn(idsn: bigint, dsn: bigint, is64: boolean, nearOff: number): number {
  if (!is64) {
    const nearLow = Number(dsnOf(idsn, nearOff) & 0xffffffffn);
    return nearOff + ((Number(dsn) - nearLow) | 0);
  }
  const diff = (dsn - dsnOf(idsn, nearOff)) & U64;
  // Interpret the 64-bit difference as signed; anything beyond ±2^52 is garbage.
  const signed = diff >= 1n << 63n ? -Number(U64 - diff + 1n) : Number(diff);
  return nearOff + signed;
}
