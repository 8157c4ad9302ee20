/**
 * udp-plain paths carry no crypto, so the client proves its key inside the tunnel request
 * (@mptun/node plain-proof.ts); the server refuses plain-path connections without a proof
 * from a listed key.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '@mptun/tunnel-common';
import { sealPlainProof } from '@mptun/node';
import type { CryptoBackend, Keypair } from '@mptun/session';

/** request → request + proof; undefined (with a warning) when the keys to make one are missing. */
export function plainProofSealer(crypto: CryptoBackend, keypair: Keypair | undefined, serverPublicKey: Uint8Array | undefined, log: Logger): ((request: Uint8Array) => Uint8Array) | undefined {
  if (!keypair || !serverPublicKey) {
    log.warn('udp-plain without --key and --server-key: the tunnel requests carry no key proof, and an mptun-server refuses them');
    return undefined;
  }
  return (request) => Buffer.concat([request, sealPlainProof(crypto, keypair, serverPublicKey, request, Date.now(), randomBytes(16))]);
}
