/**
 * Which subflows a connection should have, as a pure function of the usable addresses.
 *
 * - fullmesh: one subflow per allowed local address × peer address of the same family.
 * - ndiffports(n): n subflows over one address pair, the most preferred local address with
 *   the peer's first address (ECMP in the network can then spread them over several
 *   routes). ndiffports(1) is single-path with handover to a better address.
 *
 * In both, a backup local address carries the B flag; under ndiffports each backup local
 * address also gets one standby subflow to the peer, so a failover needs no handshake.
 */
import { byPreference, familiesMatch, type LocalAddress, type RemoteAddress } from './addresses.js';
import { PathManagerError } from './errors.js';

export type PathPolicy = { readonly kind: 'fullmesh' } | { readonly kind: 'ndiffports'; readonly subflows: number };

/** The engine accepts at most this many live subflows per connection. */
export const MAX_SUBFLOWS = 32;

export function fullmesh(): PathPolicy {
  return { kind: 'fullmesh' };
}

export function ndiffports(subflows: number): PathPolicy {
  if (!Number.isInteger(subflows) || subflows < 1 || subflows > MAX_SUBFLOWS) {
    throw new PathManagerError('ERR_PM_BAD_OPTION', `ndiffports needs 1..${MAX_SUBFLOWS} subflows, got ${subflows}`);
  }
  return { kind: 'ndiffports', subflows };
}

/** One subflow the policy wants: a local address, a peer address, and an index among siblings on that pair. */
export interface SlotSpec {
  readonly key: string;
  readonly localId: string;
  readonly remoteId: number;
  readonly index: number;
  readonly backup: boolean;
}

export function slotKey(localId: string, remoteId: number, index: number): string {
  return `${localId}\u0000${remoteId}\u0000${index}`;
}

export function pairKey(localId: string, remoteId: number): string {
  return `${localId}\u0000${remoteId}`;
}

function slot(local: LocalAddress, remote: RemoteAddress, index: number, backup = local.backup): SlotSpec {
  return { key: slotKey(local.id, remote.addressId, index), localId: local.id, remoteId: remote.addressId, index, backup };
}

/**
 * The subflows the policy wants now.
 * @param locals usable local addresses (present and allowed), any order
 * @param remotes peer addresses, any order
 * @param pairExhausted true when every retry toward that pair was spent: ndiffports then
 *   moves on to the next address rather than insisting on a dead one
 */
export function desiredSlots(
  policy: PathPolicy,
  locals: readonly LocalAddress[],
  remotes: readonly RemoteAddress[],
  pairExhausted: (localId: string, remoteId: number) => boolean,
): SlotSpec[] {
  const ordered = [...locals].sort(byPreference);
  const peers = [...remotes].sort((a, b) => a.addressId - b.addressId);
  const out: SlotSpec[] = [];
  if (policy.kind === 'fullmesh') {
    for (const l of ordered) for (const r of peers) if (familiesMatch(l.host, r.host)) out.push(slot(l, r, 0));
    return out.slice(0, MAX_SUBFLOWS);
  }
  const firstPeer = (l: LocalAddress): RemoteAddress | undefined => peers.find((r) => familiesMatch(l.host, r.host));
  // Regular addresses first; a backup address carries the pair only when no regular one can.
  const candidates = [...ordered.filter((l) => !l.backup), ...ordered.filter((l) => l.backup)];
  let main: { local: LocalAddress; remote: RemoteAddress } | undefined;
  for (const l of candidates) {
    const r = firstPeer(l);
    if (r && !pairExhausted(l.id, r.addressId)) {
      main = { local: l, remote: r };
      break;
    }
  }
  if (main) for (let i = 0; i < policy.subflows; i++) out.push(slot(main.local, main.remote, i));
  for (const l of ordered) {
    if (!l.backup || l === main?.local) continue;
    const r = firstPeer(l);
    if (r) out.push(slot(l, r, 0, true));
  }
  return out.slice(0, MAX_SUBFLOWS);
}

/** The policy names the CLI and the API take. */
export const POLICY_NAMES = ['fullmesh', 'ndiffports[:N]'] as const;

/**
 * A policy by name: "fullmesh", "ndiffports" (2 subflows) or "ndiffports:N". Unknown names
 * and bad counts are a typed error naming what is valid.
 */
export function parsePathPolicy(name: string): PathPolicy {
  const m = /^(fullmesh|ndiffports)(?::(\d+))?$/.exec(name.trim());
  if (!m || (m[1] === 'fullmesh' && m[2] !== undefined)) {
    throw new PathManagerError('ERR_PM_BAD_OPTION', `unknown path manager "${name}"; valid: ${POLICY_NAMES.join(', ')}`);
  }
  return m[1] === 'fullmesh' ? fullmesh() : ndiffports(m[2] === undefined ? 2 : Number(m[2]));
}
