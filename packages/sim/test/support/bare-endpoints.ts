/**
 * Two bare engines joined by hand, for handshake tests that count every segment: no link
 * emulator, a fixed one-way delay, virtual time.
 */
import { ccFactory, Endpoint, minRttScheduler, type EndpointEvent, type RandomSource } from '@mptun/core';

export const clientAddress = { host: '127.0.0.2', port: 40000 };
export const serverAddress = { host: '127.0.0.1', port: 443 };

export function bareEndpoint(random: RandomSource): Endpoint {
  return new Endpoint({ random, scheduler: minRttScheduler, congestionControl: ccFactory('cubic') });
}

export function drainEvents(ep: Endpoint): EndpointEvent[] {
  const out: EndpointEvent[] = [];
  for (let ev = ep.pollEvent(); ev; ev = ep.pollEvent()) out.push(ev);
  return out;
}

export interface Side {
  ep: Endpoint;
  path: number;
}

/** A client and a listening server engine, each with one path to the other. */
export function bareClientServer(random: RandomSource, auth: { client: boolean; server: boolean }): { c: Side; s: Side } {
  const c = bareEndpoint(random);
  const s = bareEndpoint(random);
  s.listen();
  return {
    c: { ep: c, path: c.openPath(clientAddress, serverAddress, { authenticated: auth.client }) },
    s: { ep: s, path: s.openPath(serverAddress, clientAddress, { authenticated: auth.server }) },
  };
}

/**
 * Runs both engines in 10 ms turns (the one-way delay) until `done` says so or `maxMs`
 * passes; `drop` may discard a segment in flight. Returns the virtual time reached.
 */
export function shuttle(
  c: Side,
  s: Side,
  done: (serverEvents: EndpointEvent[], now: number) => boolean,
  opts: { maxMs?: number; drop?: (bytes: Uint8Array, toServer: boolean) => boolean } = {},
): number {
  const maxMs = opts.maxMs ?? 500;
  let now = 0;
  for (; now <= maxMs; now += 10) {
    c.ep.handleTimeout(now);
    s.ep.handleTimeout(now);
    const toServer: Uint8Array[] = [];
    const toClient: Uint8Array[] = [];
    for (let t = c.ep.pollTransmit(now); t; t = c.ep.pollTransmit(now)) if (!opts.drop?.(t.bytes, true)) toServer.push(t.bytes);
    for (let t = s.ep.pollTransmit(now); t; t = s.ep.pollTransmit(now)) if (!opts.drop?.(t.bytes, false)) toClient.push(t.bytes);
    for (const b of toServer) s.ep.handleSegment(now + 10, s.path, b);
    for (const b of toClient) c.ep.handleSegment(now + 10, c.path, b);
    drainEvents(c.ep);
    if (done(drainEvents(s.ep), now)) return now;
  }
  return now;
}
