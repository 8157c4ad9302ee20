/**
 * DNS rebinding guard for HTTP endpoints meant for this machine (metrics, status, control).
 * A web page can make a browser send requests to 127.0.0.1 under a name the attacker owns;
 * the Host header then carries that name. So a request is served only when its Host names a
 * loopback address, `localhost`, or the address the endpoint was told to listen on
 * (RFC 9110 §7.2; a wrong one gets 421 Misdirected Request, §15.5.20). A request that can
 * change state (any method but GET/HEAD/OPTIONS) is refused with 403 when a browser says
 * it comes from another origin (RFC 6454 §7), even another local port: a form on a foreign
 * page can POST to localhost without any preflight.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

export interface GuardRefusal {
  status: 421 | 403;
  message: string;
}

/** 127.0.0.0/8, ::1, its IPv4-mapped forms, `localhost` and names under `.localhost` (RFC 6761 §6.3). */
export function isLoopbackName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(h) || /^::ffff:127\./.test(h);
  return false;
}

/** The host of a Host header value or an authority: "127.0.0.1:9090", "[::1]:9090", "localhost". */
export function hostOfAuthority(authority: string): string {
  const v6 = /^\[([^\]]+)\](?::\d*)?$/.exec(authority);
  if (v6) return v6[1]!;
  return authority.replace(/:\d*$/, '');
}

/**
 * Host names a request may carry: every loopback name plus `listenHost` (the configured
 * listen address, unless it is a wildcard, which names nothing).
 */
export function hostAllowed(host: string, listenHost: string): boolean {
  const h = host.toLowerCase();
  if (isLoopbackName(h)) return true;
  const listen = listenHost.toLowerCase().replace(/^\[|\]$/g, '');
  return listen !== '0.0.0.0' && listen !== '::' && h === listen;
}

/** Check a request; null when it may be served, else the status and why. */
export function checkLocalRequest(req: IncomingMessage, listenHost: string): GuardRefusal | null {
  const host = req.headers.host;
  if (!host || !hostAllowed(hostOfAuthority(host), listenHost)) {
    return { status: 421, message: `this endpoint answers only for loopback names and ${listenHost}; Host was ${JSON.stringify(host ?? '')}` };
  }
  const method = req.method ?? 'GET';
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return null;
  const origin = req.headers.origin;
  if (origin === undefined) return null; // not a browser (curl, scripts)
  let originHost: string | null = null;
  try {
    originHost = origin === 'null' ? null : new URL(origin).host;
  } catch {
    originHost = null;
  }
  // Same origin: the page was served by this very endpoint (scheme aside, host and port match).
  if (originHost === null || originHost.toLowerCase() !== host.toLowerCase()) {
    return { status: 403, message: `cross-origin ${method} refused (Origin ${origin})` };
  }
  return null;
}
