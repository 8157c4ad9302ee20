/**
 * Which transport carries the paths, and how to open them: the one place that knows
 * udpTransport and wsTransport. A path is identified by its local address.
 */
import type { EarlySegmentSource, PathLink, PathListener, TransportAddress } from '@mptun/core';
import type { CryptoBackend, Keypair, ReplayRecord, TimestampClock } from '@mptun/session';
import { udpTransport, type DatagramBatchSend, type HandshakeDropReason } from '@mptun/transport-udp';
import { wsTransport } from '@mptun/transport-ws';
import { isIP } from 'node:net';
import { nativeSocket, noFragmentUnavailable, type NativeSocketOptions } from './bind-device.js';
import { MptunError } from './errors.js';
import { udpSegmentSender } from './udp-gso.js';

/** udp: sealed datagrams (the default); udp-plain: tcp-in-udp, no crypto; ws/wss: WebSocket. */
export type TransportKind = 'udp' | 'udp-plain' | 'ws' | 'wss';

export const transportKinds: readonly TransportKind[] = ['udp', 'udp-plain', 'ws', 'wss'];

/** The transports whose paths are authenticated sessions: they need keys. */
export type SealedTransportKind = Exclude<TransportKind, 'udp-plain'>;

export interface ClientTransportOptions {
  transport: TransportKind;
  /** host:port of the server (udp), or its host and port; for ws/wss also the URL path. */
  server: TransportAddress;
  /** URL path of the WebSocket endpoint (default /mptun). */
  wsPath?: string;
  keypair?: Keypair;
  serverPublicKey?: Uint8Array;
  crypto?: CryptoBackend;
  /** wss: accept a certificate no CA vouches for (tests, self-signed servers). */
  tlsInsecure?: boolean;
  /** wss: extra CA certificates (PEM). */
  tlsCa?: string | Buffer;
  /** Sealed UDP: path MTU discovery (RFC 8899) where sockets can be kept from fragmenting. Default true. */
  pmtud?: boolean;
  /** Sealed UDP: the handshake timestamps' clock, one for every transport of the client key. */
  timestampClock?: TimestampClock;
}

/**
 * Whether sealed UDP paths search their path MTU: asked for (default yes) and possible, that
 * is the sockets can be kept from fragmenting (bind-device.ts); otherwise they keep 1200.
 */
export function pmtudEnabled(asked: boolean | undefined): boolean {
  return asked !== false && noFragmentUnavailable() === null;
}

export interface PathOpener {
  readonly kind: TransportKind;
  /** Paths are shared by all connections of a client (false in plain mode: one subflow per path). */
  readonly shared: boolean;
  /**
   * open() resolves only once the server has answered (sealed UDP and WebSocket finish a
   * handshake first); false for plain paths, whose open binds a socket and sends nothing.
   */
  readonly answeredAtOpen: boolean;
  /**
   * Opens a path from `localHost`. `device`: its socket is bound to that interface too.
   * `affinity`: the server to ask a WebSocket reverse proxy for (the token a path to it
   * reported, PathLink.affinity); UDP paths have no proxy to tell and ignore it. `early`:
   * the path's first segment, to ride a sealed UDP handshake (others ignore it: a
   * WebSocket path's TCP and HTTP upgrade come first, and plain paths have no handshake).
   */
  open(localHost: string, opts?: { device?: string; affinity?: string; early?: EarlySegmentSource }): Promise<PathLink>;
}

/**
 * A socket from `localHost` with the options Node cannot set (bind-device.ts: bound to a
 * device, kept from fragmenting), made when the path opens; undefined when none is asked for
 * and Node makes the socket itself.
 */
function nativeOpener(kind: 'udp' | 'tcp', localHost: string, opts: NativeSocketOptions): (() => number) | undefined {
  return opts.device === undefined && opts.noFragment !== true ? undefined : () => nativeSocket(kind, localHost, opts);
}

/**
 * Sealed UDP sockets made outside Node (openSocket) send a turn's datagrams to one peer in
 * one call where the kernel can segment them (udp-gso.ts). MPTUN_UDP_GSO=0 turns it off,
 * for a kernel or device that misbehaves with it, and to measure without it.
 */
function batchSending(): { batchSend?: DatagramBatchSend } {
  if (process.env['MPTUN_UDP_GSO'] === '0') return {};
  const send = udpSegmentSender();
  return send ? { batchSend: send } : {};
}

export function pathOpener(o: ClientTransportOptions): PathOpener {
  switch (o.transport) {
    case 'udp':
    case 'udp-plain': {
      const plain = o.transport === 'udp-plain';
      if (!plain && (!o.keypair || !o.serverPublicKey)) throw new MptunError('ERR_MPTUN_BAD_OPTION', 'sealed UDP needs keypair and serverPublicKey');
      const pmtud = !plain && pmtudEnabled(o.pmtud);
      const t = udpTransport(plain ? { mode: 'plain' } : { mode: 'sealed', keypair: o.keypair!, serverPublicKey: o.serverPublicKey!, pmtud, ...batchSending(), ...(o.crypto ? { crypto: o.crypto } : {}), ...(o.timestampClock ? { timestampClock: o.timestampClock } : {}) });
      const udpSocket = (localHost: string, device: string | undefined): (() => number) | undefined =>
        nativeOpener('udp', localHost, { noFragment: pmtud, ...(device !== undefined ? { device } : {}) });
      return { kind: o.transport, shared: !plain, answeredAtOpen: !plain, open: (localHost, opts) => t.connect(localHost, o.server, udpSocket(localHost, opts?.device), opts?.early) };
    }
    case 'ws':
    case 'wss': {
      if (!o.keypair || !o.serverPublicKey) throw new MptunError('ERR_MPTUN_BAD_OPTION', 'WebSocket paths need keypair and serverPublicKey');
      const tls = o.transport === 'wss' ? { ...(o.tlsInsecure ? { rejectUnauthorized: false } : {}), ...(o.tlsCa ? { ca: o.tlsCa } : {}) } : undefined;
      const t = wsTransport({ keypair: o.keypair, serverPublicKey: o.serverPublicKey, ...(o.crypto ? { crypto: o.crypto } : {}), ...(tls ? { tls } : {}), ...(o.timestampClock ? { timestampClock: o.timestampClock } : {}) });
      const host = o.server.host.includes(':') ? `[${o.server.host}]` : o.server.host;
      const url = `${o.transport}://${host}:${o.server.port}${o.wsPath ?? '/mptun'}`;
      return {
        kind: o.transport,
        shared: true,
        answeredAtOpen: true,
        open: (localHost, opts) => {
          const openSocket = nativeOpener('tcp', localHost, opts?.device !== undefined ? { device: opts.device } : {});
          return t.connect(localHost, url, { ...(openSocket ? { openSocket } : {}), ...(opts?.affinity !== undefined ? { affinity: opts.affinity } : {}) });
        },
      };
    }
    default:
      throw new MptunError('ERR_MPTUN_BAD_OPTION', `unknown transport "${String(o.transport)}"; valid: ${transportKinds.join(', ')}`);
  }
}

export interface ListenSpec {
  transport: TransportKind;
  host: string;
  port: number;
  /** ws/wss: URL path (default /mptun). */
  path?: string;
  /** wss: certificate and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

export interface ServerTransportOptions {
  keypair?: Keypair;
  isAllowed?: (publicKey: Uint8Array) => boolean;
  crypto?: CryptoBackend;
  /** The server key's replay record, shared by every sealed listener (UDP and WS). */
  replay?: ReplayRecord;
  /** Sealed UDP listeners: every initiation dropped, with why and from where. */
  onHandshakeFailure?: (reason: HandshakeDropReason, source: TransportAddress) => void;
  /** WebSocket listeners: this server's name in every upgrade response (routing behind a proxy). */
  affinityToken?: string;
  /** Sealed UDP listeners: path MTU discovery (RFC 8899) where sockets can be kept from fragmenting. Default true. */
  pmtud?: boolean;
}

export async function openListener(spec: ListenSpec, o: ServerTransportOptions): Promise<PathListener> {
  switch (spec.transport) {
    case 'udp':
    case 'udp-plain': {
      const plain = spec.transport === 'udp-plain';
      if (!plain && (!o.keypair || !o.isAllowed)) throw new MptunError('ERR_MPTUN_BAD_OPTION', 'a sealed UDP listener needs keypair and authorized client keys');
      // The listener's socket is made outside Node to keep it from fragmenting: only for a literal address.
      const pmtud = !plain && isIP(spec.host) !== 0 && pmtudEnabled(o.pmtud);
      const t = udpTransport(plain ? { mode: 'plain' } : { mode: 'sealed', keypair: o.keypair!, isAllowed: o.isAllowed!, pmtud, ...batchSending(), ...(o.crypto ? { crypto: o.crypto } : {}), ...(o.replay ? { replay: o.replay } : {}), ...(o.onHandshakeFailure ? { onHandshakeFailure: o.onHandshakeFailure } : {}) });
      return t.listen({ host: spec.host, port: spec.port }, nativeOpener('udp', spec.host, { noFragment: pmtud, port: spec.port }));
    }
    case 'ws':
    case 'wss': {
      if (!o.keypair || !o.isAllowed) throw new MptunError('ERR_MPTUN_BAD_OPTION', 'a WebSocket listener needs keypair and authorized client keys');
      if (spec.transport === 'wss' && !spec.tls) throw new MptunError('ERR_MPTUN_BAD_OPTION', 'a wss listener needs tls.cert and tls.key');
      const t = wsTransport({ keypair: o.keypair, isAllowed: o.isAllowed, ...(o.crypto ? { crypto: o.crypto } : {}), ...(o.replay ? { replay: o.replay } : {}) });
      return t.listen({ host: spec.host, port: spec.port, path: spec.path ?? '/mptun', ...(spec.tls ? { tls: spec.tls } : {}), ...(o.affinityToken !== undefined ? { affinityToken: o.affinityToken } : {}) });
    }
    default:
      throw new MptunError('ERR_MPTUN_BAD_OPTION', `unknown transport "${String(spec.transport)}"; valid: ${transportKinds.join(', ')}`);
  }
}
