/** Shared set-up of the session tests: both backends, keypairs, one full handshake. */
import { SeededRandom } from '@mptun/core';
import { libsodiumWrappersBackend } from '../src/crypto/libsodium-wrappers.js';
import { sodiumNativeBackend } from '../src/crypto/sodium-native.js';
import type { CryptoBackend } from '../src/crypto/backend.js';
import { HandshakeInitiator, HandshakeResponder, type TransportKeys } from '../src/handshake.js';
import { keypairFromPrivateKey, type Keypair } from '../src/keys.js';
import { SecureChannel, type ChannelOptions } from '../src/channel.js';
import { IndexTable } from '../src/index-table.js';

export async function bothBackends(): Promise<CryptoBackend[]> {
  return [await libsodiumWrappersBackend(), await sodiumNativeBackend()];
}

/** A deterministic keypair for tests. */
export function seededKeypair(crypto: CryptoBackend, seed: number): Keypair {
  const priv = new Uint8Array(32);
  new SeededRandom(seed).fill(priv);
  return keypairFromPrivateKey(crypto, priv);
}

export interface Pair {
  client: Keypair;
  server: Keypair;
  initiator: HandshakeInitiator;
  responder: HandshakeResponder;
  serverIndexes: IndexTable<number>;
  allowed: Set<string>;
}

export function makePair(clientCrypto: CryptoBackend, serverCrypto: CryptoBackend, seed = 1): Pair {
  const client = seededKeypair(clientCrypto, seed * 10 + 1);
  const server = seededKeypair(serverCrypto, seed * 10 + 2);
  const allowed = new Set([Buffer.from(client.publicKey).toString('hex')]);
  const initiator = new HandshakeInitiator(clientCrypto, {
    staticKeypair: client,
    serverPublicKey: server.publicKey,
    random: new SeededRandom(seed * 10 + 3),
  });
  const responder = new HandshakeResponder(serverCrypto, {
    staticKeypair: server,
    isAllowed: (key) => allowed.has(Buffer.from(key).toString('hex')),
    random: new SeededRandom(seed * 10 + 4),
  });
  return { client, server, initiator, responder, serverIndexes: new IndexTable(new SeededRandom(seed * 10 + 5)), allowed };
}

/** Runs message 1 and 2 through; throws if either side refuses. */
export function handshake(p: Pair, now: number, clientIndex: number, replacesIndex = 0): { client: TransportKeys; server: TransportKeys } {
  const pending = p.initiator.initiate(now, clientIndex, replacesIndex);
  const result = p.responder.consumeInitiation(pending.message, {
    now,
    source: '127.0.0.2:40000',
    underLoad: false,
    allocateIndex: () => p.serverIndexes.freshIndex(),
  });
  if (result.kind !== 'accept') throw new Error(`responder said ${JSON.stringify(result)}`);
  p.serverIndexes.set(result.keys.localIndex, result.keys.localIndex);
  const keys = pending.consumeResponse(result.response);
  if (keys === null) throw new Error('initiator refused the response');
  return { client: keys, server: result.keys };
}

export function channels(
  clientCrypto: CryptoBackend,
  serverCrypto: CryptoBackend,
  keys: { client: TransportKeys; server: TransportKeys },
  now: number,
  opts: ChannelOptions = {},
): { client: SecureChannel; server: SecureChannel } {
  return {
    client: new SecureChannel(clientCrypto, keys.client, now, opts),
    server: new SecureChannel(serverCrypto, keys.server, now, opts),
  };
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
