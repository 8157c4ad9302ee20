/**
 * `fuzz-session`: the path session's handling of untrusted datagrams (packages/session)
 * and the plain UDP transport's decoder (packages/transport-udp).
 *
 * - the four message decoders: may throw only SessionError (ERR_MPTUN_BAD_MESSAGE), and
 *   accept exactly what `messageType` classifies as their type;
 * - the responder taking random and mutated initiations, half of them with a recomputed
 *   mac1 so that they get past the cheap check into the Noise IK work (Noise §7.5 "IK");
 * - the initiator taking random and mutated responses and cookie replies;
 * - SecureChannel.open taking random, mutated, reordered and replayed data datagrams.
 * The receive paths (consume*, open) never throw by design, so any exception is a crash.
 * Beyond "no crash", each checks that nothing altered authenticates: an accepted
 * initiation or response carries the Noise-covered bytes of a genuine one, and an opened
 * datagram is a genuine one, opened once.
 */
import { SeededRandom } from '@mptun/core';
import {
  COOKIE_REPLY_BYTES,
  HandshakeInitiator,
  HandshakeResponder,
  INITIATION_BYTES,
  MessageType,
  RESPONSE_BYTES,
  SecureChannel,
  SessionError,
  concat,
  decodeCookieReply,
  decodeDataHeader,
  decodeInitiation,
  decodeResponse,
  keypairFromPrivateKey,
  loadCrypto,
  messageType,
  receiverIndex,
  type CryptoBackend,
  type Keypair,
  type PendingInitiation,
  type TransportKeys,
} from '@mptun/session';
import { receivePlain } from '@mptun/transport-udp';
import type { TortureCheck } from './types.js';
import {
  byteInputs,
  bytesEqual,
  invariant,
  mutate,
  randomBytes,
  runFuzzTargets,
  type ByteInput,
  type ByteSeed,
  type FuzzCheckOptions,
  type FuzzTarget,
} from './fuzz-harness.js';

/** Inputs per target in CI mode (a share of them run X25519, so fewer than the wire's). */
export const SESSION_CI_INPUTS = 20_000;

/** Wall clock for the handshakes (ms since the Unix epoch); fixed so runs replay. */
const NOW = 1_700_000_000_000;
/** Offsets of the message layouts (packages/session/src/messages.ts). */
const INIT_MAC1 = 120;
const INIT_MAC2 = 136;
const RESP_MAC1 = 60;
/** Genuine datagrams remembered for replays and for the forgery check. */
const RING = 64;

const isBadMessage = (err: unknown): boolean => err instanceof SessionError && err.code === 'ERR_MPTUN_BAD_MESSAGE';
const neverThrows = (): boolean => false;

/** mac1 = keyed BLAKE2b-128 under BLAKE2b-256("mac1----" ‖ receiver's static key) (cookie.ts, after WireGuard §5.4.4). */
function mac1KeyFor(crypto: CryptoBackend, publicKey: Uint8Array): Uint8Array {
  return crypto.blake2b(32, concat(new TextEncoder().encode('mac1----'), publicKey));
}

function fixMac(crypto: CryptoBackend, key: Uint8Array, bytes: Uint8Array, macAt: number): void {
  if (bytes.length >= macAt + 16) bytes.set(crypto.blake2b(16, bytes.subarray(0, macAt), key), macAt);
}

/** X25519 public keys whose shared secret is all zeros (RFC 7748 §6.1): u = 0 and u = 1. */
const LOW_ORDER_POINTS = [new Uint8Array(32), Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0))];

/** `bytes` cut or zero-padded to `length`. */
function fitLength(bytes: Uint8Array, length: number): Uint8Array {
  if (bytes.length === length) return bytes;
  if (bytes.length > length) return bytes.slice(0, length);
  return concat(bytes, new Uint8Array(length - bytes.length));
}

function seededKeypair(crypto: CryptoBackend, rng: SeededRandom): Keypair {
  const priv = new Uint8Array(32);
  rng.fill(priv);
  return keypairFromPrivateKey(crypto, priv);
}

/** Both ends of one path, built from the run's seed. */
class Peers {
  readonly client: Keypair;
  readonly server: Keypair;
  readonly initiator: HandshakeInitiator;
  readonly responder: HandshakeResponder;
  readonly serverMac1Key: Uint8Array;
  private nextIndex = 1;
  now = NOW;

  constructor(
    readonly crypto: CryptoBackend,
    rng: SeededRandom,
  ) {
    this.client = seededKeypair(crypto, rng);
    this.server = seededKeypair(crypto, rng);
    const allowed = this.client.publicKey;
    this.initiator = new HandshakeInitiator(crypto, { staticKeypair: this.client, serverPublicKey: this.server.publicKey, random: rng.fork() });
    this.responder = new HandshakeResponder(crypto, {
      staticKeypair: this.server,
      isAllowed: (key) => bytesEqual(key, allowed),
      random: rng.fork(),
    });
    this.serverMac1Key = mac1KeyFor(crypto, this.server.publicKey);
  }

  index(): number {
    const i = this.nextIndex;
    this.nextIndex = this.nextIndex >= 0xffff_fff0 ? 1 : this.nextIndex + 1;
    return i;
  }

  /** A fresh initiation (each newer than the last, so the responder would take it). */
  initiate(): PendingInitiation {
    this.now += 1;
    return this.initiator.initiate(this.now, this.index());
  }

  /** A full handshake: the pending initiation, the server's response and both key sets. */
  handshake(): { pending: PendingInitiation; response: Uint8Array; serverKeys: TransportKeys } {
    const pending = this.initiate();
    const result = this.responder.consumeInitiation(pending.message, {
      now: this.now,
      source: '127.0.0.2:40000',
      underLoad: false,
      allocateIndex: () => this.index(),
    });
    if (result.kind !== 'accept') throw new Error(`set-up handshake refused: ${JSON.stringify(result)}`);
    return { pending, response: result.response, serverKeys: result.keys };
  }

  cookieReply(pending: PendingInitiation): Uint8Array {
    // A source the initiator holds no cookie for, or its mac2 would pass and the replayed
    // initiation would be dropped instead of answered with a cookie.
    const source = `127.0.0.3:${this.index() & 0xffff}`;
    const result = this.responder.consumeInitiation(pending.message, { now: this.now, source, underLoad: true, allocateIndex: () => this.index() });
    if (result.kind !== 'cookie') throw new Error(`set-up cookie reply refused: ${result.kind}`);
    return result.reply;
  }
}

/** Valid datagrams of every type, for the decoders. */
function messageSeeds(peers: Peers): ByteSeed[] {
  const { pending, response, serverKeys } = peers.handshake();
  const cookie = peers.cookieReply(peers.initiate());
  const clientKeys = pending.consumeResponse(response);
  if (clientKeys === null) throw new Error('set-up: the initiator refused the response');
  const client = new SecureChannel(peers.crypto, clientKeys, peers.now);
  void serverKeys;
  const data = [client.seal(new Uint8Array(0)), client.seal(new TextEncoder().encode('a segment')), client.seal(new Uint8Array(1200))];
  const header = [0, 1, 2, 3];
  return [
    { bytes: pending.message, lengthFields: header },
    { bytes: response, lengthFields: header },
    { bytes: cookie, lengthFields: header },
    ...data.map((bytes) => ({ bytes, lengthFields: [...header, 15] })),
  ];
}

function decoderTarget(
  name: string,
  type: MessageType,
  decode: (b: Uint8Array) => unknown,
  seeds: ByteSeed[],
): FuzzTarget<ByteInput> {
  const draw = byteInputs(seeds, { maxRandomLength: 200 });
  return {
    name,
    generate(rng) {
      const input = draw(rng);
      // Often keep the type byte, so the decoder gets past its first check.
      if (input.bytes.length > 0 && rng.next() < 0.5) input.bytes[0] = type;
      return input;
    },
    run({ bytes }) {
      const classified = messageType(bytes);
      const index = receiverIndex(bytes);
      invariant(
        (index !== null) === (classified === MessageType.Response || classified === MessageType.CookieReply || classified === MessageType.Data || classified === MessageType.Probe),
        `receiverIndex ${index} for a message classified ${classified}`,
      );
      let decoded: unknown;
      try {
        decoded = decode(bytes);
      } catch (err) {
        if (isBadMessage(err) && type !== MessageType.Data) invariant(classified !== type, `${name} refused a datagram messageType classifies as ${type}`);
        throw err;
      }
      invariant(classified === type, `${name} accepted a datagram messageType classifies as ${classified}`);
      return decoded;
    },
    isExpected: isBadMessage,
    show: (input) => hex(input.bytes),
  };
}

interface InitiationInput {
  bytes: Uint8Array;
  underLoad: boolean;
  source: string;
}

/** The responder against mutated initiations; half get a correct mac1 after mutation. */
function responderTarget(peers: Peers): FuzzTarget<InitiationInput> {
  const genuine: Uint8Array[] = [];
  const remember = (b: Uint8Array): void => {
    genuine.push(b.slice());
    if (genuine.length > RING) genuine.shift();
  };
  const seeds: ByteSeed[] = [];
  for (let i = 0; i < 4; i++) {
    const m = peers.initiate().message;
    remember(m);
    seeds.push({ bytes: m, lengthFields: [0, 1, 2, 3] });
  }
  const draw = byteInputs(seeds, { maxRandomLength: 160, randomShare: 0.1 });
  // Same server, a client key it does not admit.
  const stranger = new HandshakeInitiator(peers.crypto, {
    staticKeypair: seededKeypair(peers.crypto, new SeededRandom(0x57a2)),
    serverPublicKey: peers.server.publicKey,
    random: new SeededRandom(0x57a3),
  });
  return {
    name: 'responder initiation',
    generate(rng) {
      const underLoad = rng.next() < 0.2;
      const source = rng.next() < 0.9 ? '127.0.0.2:40000' : `127.0.0.${1 + rng.int(254)}:${rng.int(65536)}`;
      if (rng.next() < 0.03) {
        // A genuine, fresh initiation: the responder must still take those.
        const bytes = peers.initiate().message;
        remember(bytes);
        return { bytes, underLoad, source };
      }
      const r = rng.next();
      if (r < 0.06) {
        // An initiation by a key the server does not admit, or with a low-order ephemeral key.
        const bytes = r < 0.03 ? stranger.initiate(peers.now, peers.index()).message : peers.initiate().message.slice();
        if (r >= 0.03) bytes.set(LOW_ORDER_POINTS[rng.int(LOW_ORDER_POINTS.length)]!, 8);
        fixMac(peers.crypto, peers.serverMac1Key, bytes, INIT_MAC1);
        return { bytes, underLoad, source };
      }
      let { bytes } = draw(rng);
      // Mostly keep the one length an initiation has, so the input gets past the shape check.
      if (rng.next() < 0.6) bytes = fitLength(bytes, INITIATION_BYTES);
      if (bytes.length > 0 && rng.next() < 0.7) bytes[0] = MessageType.Initiation;
      if (bytes.length >= 4 && rng.next() < 0.7) bytes.fill(0, 1, 4);
      if (rng.next() < 0.5) fixMac(peers.crypto, peers.serverMac1Key, bytes, INIT_MAC1);
      return { bytes, underLoad, source };
    },
    run(input) {
      const result = peers.responder.consumeInitiation(input.bytes, {
        now: peers.now,
        source: input.source,
        underLoad: input.underLoad,
        allocateIndex: () => peers.index(),
      });
      if (result.kind === 'accept') {
        // Everything Noise covers (ephemeral, encrypted static, encrypted payload) is genuine.
        const covered = input.bytes.subarray(8, INIT_MAC1);
        invariant(
          input.bytes.length === INITIATION_BYTES && genuine.some((g) => bytesEqual(g.subarray(8, INIT_MAC1), covered)),
          'the responder accepted an initiation whose Noise payload no initiator made',
        );
      }
      if (result.kind === 'cookie') invariant(input.underLoad, 'a cookie reply while not under load');
      return result;
    },
    isExpected: neverThrows,
    show: (input) => `${hex(input.bytes)} underLoad=${input.underLoad} source=${input.source}`,
    outcome: (r) => {
      const result = r as ReturnType<HandshakeResponder['consumeInitiation']>;
      return result.kind === 'drop' ? `drop ${result.reason}` : result.kind;
    },
  };
}

/** The initiator against mutated responses and cookie replies to its pending initiation. */
function initiatorTarget(peers: Peers): FuzzTarget<ByteInput> {
  let current = peers.handshake();
  let cookie = peers.cookieReply(current.pending);
  const seedsFor = (): ByteSeed[] => [
    { bytes: current.response, lengthFields: [0, 1, 2, 3] },
    { bytes: cookie, lengthFields: [0, 1, 2, 3] },
  ];
  let seeds = seedsFor();
  const ownMac1Key = peers.initiator.ownMac1Key;
  const renew = (): void => {
    current = peers.handshake();
    cookie = peers.cookieReply(current.pending);
    seeds = seedsFor();
  };
  return {
    name: 'initiator response',
    generate(rng) {
      if (rng.next() < 0.1) return { bytes: randomBytes(rng, 120), origin: null };
      const origin = seeds[rng.int(seeds.length)]!;
      let bytes: Uint8Array = origin.bytes.slice();
      // Now and then the genuine reply itself; otherwise 1..3 mutations.
      if (rng.next() >= 0.02) {
        const n = 1 + rng.int(3);
        for (let k = 0; k < n; k++) bytes = mutate(rng, bytes, origin, seeds);
        if (rng.next() < 0.6) bytes = fitLength(bytes, origin.bytes.length);
      }
      if (bytes.length >= 4 && rng.next() < 0.7) {
        bytes[0] = origin.bytes[0]!;
        bytes.fill(0, 1, 4);
      }
      if (bytes[0] === MessageType.Response && rng.next() < 0.5) fixMac(peers.crypto, ownMac1Key, bytes, RESP_MAC1);
      return { bytes, origin };
    },
    run({ bytes }) {
      const pending = current.pending;
      if (bytes[0] === MessageType.CookieReply) {
        const ok = pending.consumeCookieReply(bytes, peers.now);
        if (ok) invariant(bytes.length === COOKIE_REPLY_BYTES && bytesEqual(bytes.subarray(4), cookie.subarray(4)), 'a cookie reply no server sent authenticated');
        return ok;
      }
      const keys = pending.consumeResponse(bytes);
      if (keys !== null) {
        // The sender index is outside the Noise transcript (as in WireGuard) and mac1 is
        // computable by anyone; receiver index, ephemeral key and tag must be genuine.
        invariant(
          bytes.length === RESPONSE_BYTES && bytesEqual(bytes.subarray(8, RESP_MAC1), current.response.subarray(8, RESP_MAC1)),
          `the initiator accepted a response no responder made; genuine: ${hex(current.response)}`,
        );
        renew(); // the pending initiation is single-use: start the next one
      }
      return keys;
    },
    isExpected: neverThrows,
    show: (input) => hex(input.bytes),
    outcome: (r) => (r === true ? 'cookie taken' : r === false ? 'cookie refused' : r === null ? 'response refused' : 'response taken'),
  };
}

interface Sealed {
  bytes: Uint8Array;
  plaintext: Uint8Array;
  opened: boolean;
}

/** SecureChannel.open against fresh, reordered, replayed, mutated and random datagrams. */
function channelTarget(peers: Peers, rng0: SeededRandom): FuzzTarget<ByteInput> {
  const { pending, response, serverKeys } = peers.handshake();
  const clientKeys = pending.consumeResponse(response);
  if (clientKeys === null) throw new Error('set-up: the initiator refused the response');
  const client = new SecureChannel(peers.crypto, clientKeys, peers.now);
  const server = new SecureChannel(peers.crypto, serverKeys, peers.now);
  const ring: Sealed[] = [];
  const seal = (rng: SeededRandom): Sealed => {
    const plaintext = new Uint8Array(rng.next() < 0.3 ? 0 : rng.int(1300));
    rng.fill(plaintext);
    const s = { bytes: client.seal(plaintext), plaintext, opened: false };
    ring.push(s);
    if (ring.length > RING) ring.shift();
    return s;
  };
  for (let i = 0; i < 8; i++) seal(rng0);
  const localIndex = serverKeys.localIndex;
  return {
    name: 'channel open',
    generate(rng) {
      const r = rng.next();
      if (r < 0.1) {
        // Fresh datagrams, sometimes several at once so that later ones arrive first.
        const batch = 1 + rng.int(3);
        for (let k = 1; k < batch; k++) seal(rng);
        return { bytes: seal(rng).bytes, origin: null };
      }
      const pick = ring[rng.int(ring.length)]!;
      if (r < 0.3) return { bytes: pick.bytes.slice(), origin: null }; // a replay, or a late one
      if (r < 0.4) return { bytes: randomBytes(rng, 200), origin: null };
      const origin: ByteSeed = { bytes: pick.bytes, lengthFields: [0, 1, 2, 3, 15] };
      let bytes: Uint8Array = pick.bytes.slice();
      const n = 1 + rng.int(3);
      for (let k = 0; k < n; k++) bytes = mutate(rng, bytes, origin, [origin]);
      // Usually keep a well-formed header with our index, so the tag check is what decides.
      if (bytes.length >= 8 && rng.next() < 0.7) {
        bytes[0] = MessageType.Data;
        bytes.fill(0, 1, 4);
        new DataView(bytes.buffer, bytes.byteOffset).setUint32(4, localIndex, true);
      }
      return { bytes, origin };
    },
    run({ bytes }) {
      const plaintext = server.open(bytes);
      if (plaintext !== null) {
        const match = ring.find((s) => bytesEqual(s.bytes, bytes));
        invariant(match !== undefined, 'SecureChannel.open accepted a datagram the peer never sealed');
        invariant(!match!.opened, 'SecureChannel.open accepted a replayed datagram');
        invariant(bytesEqual(plaintext, match!.plaintext), 'SecureChannel.open returned another plaintext than was sealed');
        match!.opened = true;
      }
      return plaintext;
    },
    isExpected: neverThrows,
    show: (input) => hex(input.bytes),
    outcome: (r) => (r === null ? 'dropped' : 'opened'),
  };
}

/** transport-udp's plain-mode decoder: null for anything tcp-in-udp cannot carry, never a throw. */
function plainReceiveTarget(seeds: ByteSeed[]): FuzzTarget<ByteInput> {
  const draw = byteInputs(seeds, { maxRandomLength: 120 });
  return {
    name: 'udp plain receive',
    generate: draw,
    run({ bytes }) {
      const seg = receivePlain(bytes, 40000, 443);
      if (seg !== null) invariant(seg.length === bytes.length + 8 && seg[0] === 40000 >> 8 && seg[3] === (443 & 0xff), 'segment without the socket ports');
      return seg;
    },
    isExpected: neverThrows,
    show: (input) => hex(input.bytes),
    outcome: (r) => (r === null ? 'dropped' : 'segment'),
  };
}

/** A few tcp-in-udp payloads: offset/flags/window, seq, ack, options, data. */
function plainSeeds(): ByteSeed[] {
  const mk = (offsetWords: number, flags: number, tail: number[]): ByteSeed => ({
    bytes: Uint8Array.from([offsetWords << 4, flags, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 2, ...tail]),
    lengthFields: [0],
  });
  return [
    mk(5, 0x02, []),
    mk(6, 0x12, [2, 4, 0x05, 0xb4]),
    mk(8, 0x10, [30, 12, 0x21, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4]),
    mk(5, 0x18, [104, 101, 108, 108, 111]),
  ];
}

/** Every session target; async because the crypto backend loads asynchronously. */
export async function sessionTargets(seed: number): Promise<{ targets: FuzzTarget<any>[]; backend: string }> {
  const crypto = await loadCrypto();
  const rng = new SeededRandom(seed ^ 0x5e55_1011);
  const peers = new Peers(crypto, rng);
  const seeds = messageSeeds(peers);
  const targets: FuzzTarget<any>[] = [
    decoderTarget('decode initiation', MessageType.Initiation, decodeInitiation, seeds),
    decoderTarget('decode response', MessageType.Response, decodeResponse, seeds),
    decoderTarget('decode cookie reply', MessageType.CookieReply, decodeCookieReply, seeds),
    decoderTarget('decode data header', MessageType.Data, decodeDataHeader, seeds),
    responderTarget(peers),
    initiatorTarget(peers),
    channelTarget(peers, rng.fork()),
    plainReceiveTarget(plainSeeds()),
  ];
  return { targets, backend: crypto.name };
}

export function createFuzzSessionCheck(o: FuzzCheckOptions = {}): TortureCheck {
  return {
    id: 'fuzz-session',
    title: 'Fuzzing the session: handshake messages, sealed-datagram opening, plain UDP decoding',
    async run(opts) {
      const { targets, backend } = await sessionTargets(opts.seed);
      opts.log(`  fuzz-session: crypto backend ${backend}`);
      const result = await runFuzzTargets('fuzz-session', targets, opts, o.inputs ?? (opts.long ? undefined : SESSION_CI_INPUTS));
      return { lines: [...result.lines, `fuzz-session: crypto backend ${backend}`], data: { backend, ...(result.data as object) } };
    },
  };
}

export const fuzzSessionCheck = createFuzzSessionCheck();

function hex(bytes: Uint8Array): string {
  return `${Buffer.from(bytes).toString('hex')} (${bytes.length} bytes)`;
}
