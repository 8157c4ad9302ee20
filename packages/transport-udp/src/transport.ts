/**
 * udpTransport(init): the factory the Node driver uses to open UDP paths (connect, one
 * socket per path bound to a local address) and to accept them (listen, one socket per
 * address). It only moves segment bytes; it knows nothing of MPTCP.
 */
import type { EarlySegmentSource, PathLink, TransportAddress } from '@mptun/core';
import { ReplayRecord, TimestampClock, loadCrypto, type CryptoBackend } from '@mptun/session';
import type { UdpPathListener } from './listener-stats.js';
import { resolveOptions, type UdpTransportInit } from './options.js';
import { connectPlain } from './plain-client.js';
import { listenPlain } from './plain-listener.js';
import { connectSealed } from './sealed-client.js';
import { listenSealed } from './sealed-listener.js';
import type { OpenSocket } from './udp-socket.js';

export interface UdpTransport {
  /**
   * Opens a path from `localHost` to `remote`. Its socket is bound to that address, or is the
   * one `openSocket` makes (bound to the address and, say, to its device). Sealed mode:
   * `earlySegment` gives the path's first segment, which then rides the handshake (the
   * link's earlyAnswer is the server's answer); plain mode has no handshake and ignores it.
   */
  connect(localHost: string, remote: TransportAddress, openSocket?: OpenSocket, earlySegment?: EarlySegmentSource): Promise<PathLink>;
  /**
   * Listens on `local` (port 0: any free port; see the listener's `local`), on the socket
   * `openSocket` makes when given (bound to `local` already; sealed mode).
   */
  listen(local: TransportAddress, openSocket?: OpenSocket): Promise<UdpPathListener>;
}

export function udpTransport(init: UdpTransportInit = {}): UdpTransport {
  const opts = resolveOptions(init);
  let crypto: Promise<CryptoBackend> | null = opts.crypto ? Promise.resolve(opts.crypto) : null;
  const getCrypto = (): Promise<CryptoBackend> => (crypto ??= loadCrypto());
  // Every path of this client shares one static key, so they share one timestamp clock.
  const clock = init.timestampClock ?? TimestampClock.random();
  // Every listener of this server key refuses what any of them accepted.
  const replay = opts.replay ?? new ReplayRecord();
  return {
    async connect(localHost, remote, openSocket, earlySegment) {
      if (opts.mode === 'plain') return connectPlain(opts, localHost, remote, openSocket);
      return connectSealed(opts, await getCrypto(), clock, localHost, remote, openSocket, earlySegment);
    },
    async listen(local, openSocket) {
      if (opts.mode === 'plain') return listenPlain(opts, local);
      return listenSealed(opts, await getCrypto(), local, replay, openSocket);
    },
  };
}
