/**
 * Keys for the sealed transports, the same calls the apps use: X25519 key pairs (Noise IK
 * static keys) and their base64 text form. A server pins nothing; a client pins the
 * server's public key, and the server admits the clients' public keys.
 */
import { generateKeypair, loadCrypto, type Keypair } from '@mptun/session';

export { generateKeypair, keypairFromPrivateKey, encodeKey, decodeKey, loadCrypto, type Keypair, type CryptoBackend } from '@mptun/session';

/** A new key pair, made with the default crypto backend (loadCrypto). */
export async function newKeypair(): Promise<Keypair> {
  return generateKeypair(await loadCrypto());
}
