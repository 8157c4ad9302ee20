/**
 * A hand-driven client for the tests that need to misbehave: a bare `ws` WebSocket that
 * runs the session's key exchange itself (and confirms the keys with an empty sealed message), then lets the test send whatever it likes
 * (text, oversized or forged messages), stop reading, or stop answering pings.
 */
import {
  HandshakeInitiator,
  SecureChannel,
  TimestampClock,
  type CryptoBackend,
  type Keypair,
} from '@mptun/session';
import { WebSocket } from 'ws';

export interface RawPeer {
  ws: WebSocket;
  channel: SecureChannel;
}

export interface RawPeerOptions {
  crypto: CryptoBackend;
  keypair: Keypair;
  serverPublicKey: Uint8Array;
  url: string;
  localAddress?: string;
  /** false: the peer never answers pings. */
  autoPong?: boolean;
  /** false: the peer never confirms its keys (as a replayer of a captured initiation cannot). */
  confirm?: boolean;
}

/** Opens a WebSocket and completes the key exchange; rejects if the server refuses it. */
export function openRawPeer(opts: RawPeerOptions): Promise<RawPeer> {
  const initiator = new HandshakeInitiator(opts.crypto, {
    staticKeypair: opts.keypair,
    serverPublicKey: opts.serverPublicKey,
    clock: new TimestampClock(),
  });
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(opts.url, {
      perMessageDeflate: false,
      autoPong: opts.autoPong ?? true,
      ...(opts.localAddress === undefined ? {} : { localAddress: opts.localAddress }),
    });
    ws.on('error', reject);
    ws.once('close', (code) => reject(new Error(`closed with ${code} during the key exchange`)));
    ws.once('open', () => {
      const pending = initiator.initiate(Date.now(), 7);
      ws.send(pending.message);
      ws.once('message', (data: Buffer) => {
        const keys = pending.consumeResponse(data);
        if (keys === null) {
          ws.terminate();
          reject(new Error('response did not authenticate'));
          return;
        }
        ws.removeAllListeners('close');
        ws.removeAllListeners('error');
        ws.on('error', () => {});
        const channel = new SecureChannel(opts.crypto, keys, Date.now());
        // Key confirmation, as a real client sends it: the server reports the path only now.
        if (opts.confirm !== false) ws.send(channel.seal(new Uint8Array(0)));
        resolve({ ws, channel });
      });
    });
  });
}

/** Resolves with the code and reason of the next close of `ws`. */
export function nextClose(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => {
    if (ws.readyState === ws.CLOSED) resolve({ code: 1006, reason: '' });
    ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() }));
  });
}
