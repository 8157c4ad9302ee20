/**
 * Affinity tokens: how a WebSocket path finds the same server again behind an HTTP reverse
 * proxy whose servers clients cannot reach themselves (docs/scale-out.md). A server with a
 * token names itself in its upgrade response (header X-Mptun-Affinity). A client that opens
 * a further path for a connection begun on that server sends the token back in its upgrade
 * request, as that header and as the query parameter `mptun-affinity` (for proxies that
 * route on the URL only), and the proxy routes on it.
 *
 * The token is routing only. It travels outside the path session, so it proves nothing: the
 * server never reads it, and a wrong one (a proxy's mistake or a forgery) only sends the path
 * to a server that does not hold the connection, whose MP_JOIN then fails (RFC 8684 §3.2).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { WsTransportError } from './errors.js';

/** The HTTP header of the token, both ways (lower case, as Node's header maps spell it). */
export const AFFINITY_HEADER = 'x-mptun-affinity';
/** The query parameter of the token on a client's upgrade request. */
export const AFFINITY_QUERY = 'mptun-affinity';
/** Longest token: a server name, not a payload. */
export const MAX_AFFINITY_BYTES = 64;

/** 1..64 characters that need no escaping in a header, a query string or a proxy's config. */
export const AFFINITY_TOKEN_PATTERN = new RegExp(`^[A-Za-z0-9._~-]{1,${MAX_AFFINITY_BYTES}}$`);

/** Whether `token` may name a server: 1..64 of A-Z a-z 0-9 . _ ~ -. */
export function isAffinityToken(token: string): boolean {
  return AFFINITY_TOKEN_PATTERN.test(token);
}

/** The server's token, checked: a typed error naming the rule otherwise. */
export function checkAffinityToken(token: string): string {
  if (!isAffinityToken(token)) {
    throw new WsTransportError('ERR_MPTUN_BAD_CONFIG', `an affinity token is 1..${MAX_AFFINITY_BYTES} of A-Z a-z 0-9 . _ ~ -, got ${JSON.stringify(token)}`);
  }
  return token;
}

/**
 * The token in a server's upgrade response, or null when it sent none or one that breaks the
 * rule (it comes from the network: never trusted for its length or its characters).
 */
export function affinityOfResponse(headers: IncomingHttpHeaders): string | null {
  const value = headers[AFFINITY_HEADER];
  if (typeof value !== 'string') return null;
  const token = value.trim();
  return isAffinityToken(token) ? token : null;
}

/** `url` with the token as its query parameter (any earlier one replaced). */
export function urlWithAffinity(url: URL, token: string): URL {
  const routed = new URL(url.href);
  routed.searchParams.set(AFFINITY_QUERY, token);
  return routed;
}
