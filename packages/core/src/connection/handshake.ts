import { hmacEqual, joinAckHmac, joinSynAckHmac } from '../crypto/hmac.js';
import { keyIdsn, keyToken } from '../crypto/keys.js';
import type { Subflow } from '../subflow/subflow.js';

/** A join that waits: for the server to hold our key, or (`planned`) one asked for at connect(). */
export interface PendingJoin {
  pathId: number;
  backup: boolean;
  planned: boolean;
}

/**
 * The connection's handshakes: the keys, token and IDSNs of both ends (RFC 8684 §3.1), the
 * client's race of MP_CAPABLE SYNs over several paths, and the nonces and HMACs of MP_JOIN
 * (RFC 8684 §3.2) together with the joins that wait for the server to hold our key.
 */
export class Handshake {
  readonly localToken: number;
  readonly localIdsn: bigint;
  private peerKey: bigint | null = null;
  private peerToken = 0;
  private peerIdsn = 0n;
  /** The peer's MP_CAPABLE carried the C bit: the address it was first reached at, joined never. */
  private refusedJoinAddress: { host: string; port: number } | null = null;
  /** Client only: the server has shown it knows our key (it sent a DSS data ACK). */
  private peerKnowsKeys = false;
  private pending: PendingJoin[] = [];
  private readonly nonces = new Map<Subflow, { local: number; remote: number }>();
  /** Client, while connecting: the bytes that ride every MP_CAPABLE SYN, and the paths raced. */
  private raceSynData: Uint8Array | null = null;
  private readonly racedPaths = new Set<number>();

  constructor(readonly localKey: bigint) {
    this.localToken = keyToken(localKey);
    this.localIdsn = keyIdsn(localKey);
  }

  get remoteKey(): bigint | null {
    return this.peerKey;
  }

  get remoteToken(): number {
    return this.peerToken;
  }

  get remoteIdsn(): bigint {
    return this.peerIdsn;
  }

  get peerHasKeys(): boolean {
    return this.peerKnowsKeys;
  }

  get peerRefusesJoinsToInitialAddress(): boolean {
    return this.refusedJoinAddress !== null;
  }

  /** RFC 8684 §3.1: the peer set the C bit; `address` is where its first subflow reached it. */
  notePeerRefusesJoinsTo(address: { host: string; port: number }): void {
    this.refusedJoinAddress = { host: address.host, port: address.port };
  }

  /** A join over a path to `address` would break the peer's C bit. */
  joinRefusedTo(address: { host: string; port: number } | undefined): boolean {
    const r = this.refusedJoinAddress;
    return r !== null && address !== undefined && address.host === r.host && address.port === r.port;
  }

  /** The peer's key, from its MP_CAPABLE (SYN/ACK or third ACK). */
  learnRemoteKey(key: bigint): void {
    this.peerKey = key;
    this.peerToken = keyToken(key);
    this.peerIdsn = keyIdsn(key);
  }

  /** The peer sent a DSS data ACK, so it holds our key. True the first time. */
  markPeerHasKeys(): boolean {
    if (this.peerKnowsKeys) return false;
    this.peerKnowsKeys = true;
    return true;
  }

  // --- The client's SYN race ----------------------------------------------------------------

  get synData(): Uint8Array | null {
    return this.raceSynData;
  }

  /** connect(): the paths to join (or race) besides the first, and the 0-RTT bytes. */
  start(firstPath: number, extraPaths: readonly number[], synData: Uint8Array | null): void {
    this.pending = extraPaths.map((pathId) => ({ pathId, backup: false, planned: true }));
    this.raceSynData = synData;
    this.racedPaths.add(firstPath);
  }

  /** The next planned path no SYN was raced on yet, now claimed for a race; undefined if none. */
  claimRacePath(): number | undefined {
    const next = this.pending.find((j) => !j.backup && !this.racedPaths.has(j.pathId));
    if (!next) return undefined;
    this.racedPaths.add(next.pathId);
    return next.pathId;
  }

  /** Whether SYNs went out on more than one path. */
  get raced(): boolean {
    return this.racedPaths.size > 1;
  }

  /**
   * The race is over: the winner's path needs no join, every other raced path is joined
   * later instead (once, however many SYNs it had).
   */
  settleRace(winnerPath: number): void {
    this.pending = this.pending.filter((j) => j.pathId !== winnerPath);
    for (const pathId of this.racedPaths) {
      if (pathId !== winnerPath && !this.pending.some((j) => j.pathId === pathId)) this.pending.push({ pathId, backup: false, planned: true });
    }
  }

  /** The 0-RTT bytes are no longer needed (a SYN/ACK came). */
  dropSynData(): void {
    this.raceSynData = null;
  }

  // --- MP_JOIN (RFC 8684 §3.2) ---------------------------------------------------------------

  /**
   * Keep a join for later. A path already planned at connect() is not joined twice; other
   * calls may add subflows on one path on purpose (ndiffports).
   */
  deferJoin(pathId: number, backup: boolean, connecting: boolean): void {
    const dup = this.pending.some((j) => j.pathId === pathId && (j.planned || connecting));
    if (!dup) this.pending.push({ pathId, backup, planned: connecting });
  }

  /** The joins that waited, handed over (and forgotten here). */
  takePendingJoins(): PendingJoin[] {
    const joins = this.pending;
    this.pending = [];
    return joins;
  }

  /** A join subflow's nonces: ours, and the peer's once known (0 until then). */
  setNonces(sf: Subflow, local: number, remote: number): void {
    this.nonces.set(sf, { local, remote });
  }

  noncesOf(sf: Subflow): { local: number; remote: number } | undefined {
    return this.nonces.get(sf);
  }

  forget(sf: Subflow): void {
    this.nonces.delete(sf);
  }

  /** Initiator: the SYN/ACK's HMAC proves the listener knows both keys. Records its nonce. */
  checkJoinSynAck(sf: Subflow, hmac: Uint8Array, nonce: number): boolean {
    const n = this.nonces.get(sf);
    if (!n || this.peerKey === null) return false;
    n.remote = nonce;
    return hmacEqual(hmac, joinSynAckHmac(this.peerKey, this.localKey, nonce, n.local));
  }

  /** Listener: the third ACK's HMAC proves the initiator knows both keys. */
  checkJoinAck(sf: Subflow, hmac: Uint8Array): boolean {
    const n = this.nonces.get(sf);
    if (!n || this.peerKey === null) return false;
    return hmacEqual(hmac, joinAckHmac(this.peerKey, this.localKey, n.remote, n.local));
  }
}
