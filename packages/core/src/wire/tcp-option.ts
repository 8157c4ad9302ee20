import type { MptcpOption } from './mptcp/option.js';

/** TCP option kinds we understand. RFC 9293 §3.1, RFC 7323, RFC 2018, RFC 8684. */
export const TcpOptionKind = {
  EOL: 0,
  NOP: 1,
  MSS: 2,
  WINDOW_SCALE: 3,
  SACK_PERMITTED: 4,
  SACK: 5,
  TIMESTAMPS: 8,
  MPTCP: 30,
} as const;

/** One SACK block: [left, right) in subflow sequence space, RFC 2018 §3. */
export interface SackBlock {
  left: number;
  right: number;
}

/**
 * A parsed TCP option. NOP and EOL are layout, not content: the parser skips them and
 * the emitter inserts them (alignment and padding), so they never appear here.
 */
export type TcpOption =
  | { kind: 'mss'; mss: number }
  | { kind: 'window-scale'; shift: number }
  | { kind: 'sack-permitted' }
  | { kind: 'sack'; blocks: SackBlock[] } // 1..4 blocks
  | { kind: 'timestamps'; tsval: number; tsecr: number }
  | { kind: 'mptcp'; option: MptcpOption }
  | { kind: 'unknown'; type: number; data: Uint8Array }; // data = bytes after kind and length
