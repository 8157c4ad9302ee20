/**
 * Picks a crypto backend: sodium-native when it loads (faster), else libsodium-wrappers.
 * Both speak the same bytes, so the two ends of a path need not agree on a choice.
 */
import type { CryptoBackend } from './backend.js';
import { libsodiumWrappersBackend } from './libsodium-wrappers.js';
import { sodiumNativeBackend } from './sodium-native.js';

export interface LoadCryptoOptions {
  /**
   * The backend to try first. Default 'sodium-native'. If 'sodium-native' does not load,
   * libsodium-wrappers is used; the returned backend's `name` says which one it is.
   */
  prefer?: 'sodium-native' | 'libsodium-wrappers';
}

export async function loadCrypto(opts: LoadCryptoOptions = {}): Promise<CryptoBackend> {
  if ((opts.prefer ?? 'sodium-native') === 'sodium-native') {
    try {
      return await sodiumNativeBackend();
    } catch {
      // Optional dependency absent or its binary unusable here: fall back below.
    }
  }
  return libsodiumWrappersBackend();
}
