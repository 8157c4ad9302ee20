/**
 * Parsed representations of the MPTCP option (TCP option kind 30), RFC 8684 §3.
 * 64-bit quantities (keys, DSNs, data ACKs) are bigint; 32-bit ones are unsigned numbers.
 * Byte strings that are opaque to the codec (HMACs, addresses) are Uint8Array.
 */

/** TCP option kind of every MPTCP option. RFC 8684 §3 */
export const MPTCP_KIND = 30;

/** Option subtypes. RFC 8684 §8 (IANA, "MPTCP Option Subtypes") */
export const MptcpSubtype = {
  MP_CAPABLE: 0x0,
  MP_JOIN: 0x1,
  DSS: 0x2,
  ADD_ADDR: 0x3,
  REMOVE_ADDR: 0x4,
  MP_PRIO: 0x5,
  MP_FAIL: 0x6,
  MP_FASTCLOSE: 0x7,
  MP_TCPRST: 0x8,
  MP_EXPERIMENTAL: 0xf,
} as const;

/** MP_CAPABLE flag bits A..H, RFC 8684 §3.1. */
export const CapableFlag = {
  /** A: checksum required */
  CHECKSUM: 0x80,
  /** B: extensibility (must be 0 in v1) */
  EXTENSIBILITY: 0x40,
  /** C: do not establish new subflows to the sender's source address */
  NO_JOIN_TO_SOURCE: 0x20,
  /** H: HMAC-SHA256 is the crypto algorithm (the only one defined) */
  HMAC_SHA256: 0x01,
} as const;

/**
 * MP_CAPABLE, RFC 8684 §3.1. The form follows from which fields are present:
 * - SYN: neither key (length 4)
 * - SYN/ACK: senderKey (length 12)
 * - ACK: senderKey + receiverKey (length 20)
 * - ACK with data: both keys + dataLength (length 22), + checksum (length 24)
 */
export interface MpCapable {
  type: 'mp-capable';
  version: number; // 4 bits; we speak 1
  flags: number; // the A..H byte as sent
  senderKey?: bigint;
  receiverKey?: bigint;
  dataLength?: number;
  checksum?: number;
}

/** MP_JOIN SYN, RFC 8684 §3.2 (length 12). */
export interface MpJoinSyn {
  type: 'mp-join-syn';
  backup: boolean;
  addressId: number;
  token: number; // receiver's token, u32
  nonce: number; // sender's random number, u32
}

/** MP_JOIN SYN/ACK, RFC 8684 §3.2 (length 16). */
export interface MpJoinSynAck {
  type: 'mp-join-synack';
  backup: boolean;
  addressId: number;
  hmac: Uint8Array; // leftmost 64 bits of the HMAC, 8 bytes
  nonce: number; // sender's random number, u32
}

/** MP_JOIN third ACK, RFC 8684 §3.2 (length 24). */
export interface MpJoinAck {
  type: 'mp-join-ack';
  hmac: Uint8Array; // leftmost 160 bits of the HMAC, 20 bytes
}

/** The mapping half of DSS, RFC 8684 §3.3. */
export interface DssMapping {
  dsn: bigint; // data sequence number (low 32 bits meaningful when dsn64 is false)
  dsn64: boolean; // 'm' flag: DSN sent as 8 octets
  subflowSeq: number; // relative subflow sequence number, u32
  length: number; // data-level length, u16; 0 with dataFin-only or infinite mapping
  checksum?: number; // present only when checksums were negotiated
}

/** DSS, RFC 8684 §3.3. */
export interface Dss {
  type: 'dss';
  dataAck?: bigint; // 'A' flag
  dataAck64: boolean; // 'a' flag: data ACK sent as 8 octets
  mapping?: DssMapping; // 'M' flag
  dataFin: boolean; // 'F' flag
}

/**
 * ADD_ADDR, RFC 8684 §3.4.1. address is 4 bytes (IPv4) or 16 (IPv6).
 * hmac (8 bytes) is present exactly when echo is false.
 */
export interface AddAddr {
  type: 'add-addr';
  echo: boolean;
  addressId: number;
  address: Uint8Array;
  port?: number;
  hmac?: Uint8Array;
}

/** REMOVE_ADDR, RFC 8684 §3.4.2: one or more address ids. */
export interface RemoveAddr {
  type: 'remove-addr';
  addressIds: number[];
}

/** MP_PRIO, RFC 8684 §3.3.8 (length 3). */
export interface MpPrio {
  type: 'mp-prio';
  backup: boolean;
}

/** MP_FAIL, RFC 8684 §3.7 (length 12). */
export interface MpFail {
  type: 'mp-fail';
  dsn: bigint;
}

/** MP_FASTCLOSE, RFC 8684 §3.5 (length 12). */
export interface MpFastclose {
  type: 'mp-fastclose';
  receiverKey: bigint;
}

/** MP_TCPRST reason codes, RFC 8684 §3.6. */
export const TcpRstReason = {
  UNSPECIFIED: 0x00,
  MPTCP_ERROR: 0x01,
  LACK_OF_RESOURCES: 0x02,
  ADMIN_PROHIBITED: 0x03,
  TOO_MUCH_OUTSTANDING: 0x04,
  UNACCEPTABLE_PERFORMANCE: 0x05,
  MIDDLEBOX_INTERFERENCE: 0x06,
} as const;

/** MP_TCPRST's T flag (RFC 8684 §3.6): the cause is transient, the path may be tried again. */
export const TCPRST_TRANSIENT = 0x1;

/** MP_TCPRST, RFC 8684 §3.6 (length 4). flags holds U,V,W,T as the low 4 bits; T = 0x1 (transient). */
export interface MpTcpRst {
  type: 'mp-tcprst';
  flags: number;
  reason: number;
}

/** Any other subtype (MP_EXPERIMENTAL, unassigned): kept whole for the caller. */
export interface MptcpUnknown {
  type: 'mptcp-unknown';
  subtype: number;
  data: Uint8Array; // the option bytes after kind and length
}

export type MptcpOption =
  | MpCapable
  | MpJoinSyn
  | MpJoinSynAck
  | MpJoinAck
  | Dss
  | AddAddr
  | RemoveAddr
  | MpPrio
  | MpFail
  | MpFastclose
  | MpTcpRst
  | MptcpUnknown;
