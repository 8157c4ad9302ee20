/** Socket addresses as typed on a command line: "127.0.0.2:7000", "[::1]:7000", "localhost:7000". */
import { isIP } from 'node:net';
import { badOption } from './errors.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** A path as written on the command line: `[NAME@]LISTEN=TARGET`. */
export interface PathEndpoints {
  readonly name: string | null;
  readonly listen: HostPort;
  readonly target: HostPort;
}

const HOST_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const WANT = 'HOST:PORT, like 127.0.0.2:7000 or [::1]:7000';

/** `HOST:PORT`; the port must be 1..65535, or 0 too when `allowPortZero` (bind to any free port). */
export function parseHostPort(input: string, where: string, allowPortZero: boolean): HostPort {
  const text = input.trim();
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return badOption(where, input, WANT);
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (isIP(host) !== 6) return badOption(where, input, `${WANT} (inside [] an IPv6 address)`);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon <= 0) return badOption(where, input, WANT);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) return badOption(where, input, `${WANT} (put an IPv6 address in [])`);
    if (isIP(host) === 0 && !HOST_NAME.test(host)) return badOption(where, input, WANT);
  }
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  const min = allowPortZero ? 0 : 1;
  if (!(port >= min && port <= 65535)) {
    return badOption(where, input, `${WANT} with a port from ${min} to 65535`);
  }
  return { host, port };
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Checks a path name: it appears in URLs of the control endpoint, so it stays plain. */
export function checkPathName(name: string, where: string): string {
  if (!NAME.test(name)) return badOption(where, name, 'a path name of letters, digits, "_", "." or "-" (at most 64)');
  return name;
}

/** `[NAME@]LISTEN=TARGET`, e.g. `wifi@127.0.0.2:7000=127.0.0.1:7000`. */
export function parsePathEndpoints(input: string, where: string): PathEndpoints {
  const at = input.indexOf('@');
  const name = at >= 0 ? checkPathName(input.slice(0, at), where) : null;
  const rest = at >= 0 ? input.slice(at + 1) : input;
  const eq = rest.indexOf('=');
  if (eq < 0) return badOption(where, input, '[NAME@]LISTEN=TARGET, like wifi@127.0.0.2:7000=127.0.0.1:7000');
  return {
    name,
    listen: parseHostPort(rest.slice(0, eq), where, true),
    target: parseHostPort(rest.slice(eq + 1), where, false),
  };
}

/** "127.0.0.2:7000" or "[::1]:7000". */
export function formatHostPort(a: HostPort): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Whether `host` is a loopback address (127.0.0.0/8 or ::1). */
export function isLoopback(host: string): boolean {
  return (isIP(host) === 4 && host.startsWith('127.')) || host === '::1';
}
