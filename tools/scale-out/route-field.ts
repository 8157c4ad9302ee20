/**
 * The route field proposed in docs/scale-out.md: a server id carried in the clear in every
 * client → server datagram of the sealed UDP transport, so that a stateless balancer can send
 * every path of a connection to the server that holds it (as QUIC-LB does with connection IDs).
 *
 * It lives in the three bytes that follow the type byte of every path-session message
 * (packages/session/src/messages.ts), which today must be zero:
 *
 *   byte 0   message type (1 initiation, 4 data, …), unchanged
 *   byte 1   bits 7..5 config rotation (0 = no id: route by hash), bits 4..0 zero
 *   byte 2-3 server id, big-endian
 *   byte 4.. the message as today (indexes, counter, ciphertext)
 *
 * Today's all-zero bytes read as "no id", so an old client is routed by hash as before.
 * Readers check the length first and never throw on bad input: they return a typed result.
 */

/** Offset of the rotation byte from the start of the UDP payload. */
export const ROUTE_OFFSET = 1;
/** Offset of the 16-bit server id. */
export const SERVER_ID_OFFSET = 2;
/** The field ends here: a datagram shorter than this carries no readable field. */
export const ROUTE_END = 4;
/** Rotation codepoints 1..7 name a balancer configuration; 0 means the datagram has no id. */
export const MAX_ROTATION = 7;
export const MAX_SERVER_ID = 0xffff;

const ROTATION_SHIFT = 5;
const RESERVED_BITS = 0x1f;

export interface RouteId {
  /** Which balancer configuration the id was issued under (1..7). */
  rotation: number;
  serverId: number;
}

export type RouteRead =
  | { kind: 'id'; route: RouteId }
  | { kind: 'none' }
  | { kind: 'malformed'; reason: 'short' | 'reserved-bits' };

/** Reads the route field of a client → server datagram. */
export function readRoute(datagram: Uint8Array): RouteRead {
  if (datagram.length < ROUTE_END) return { kind: 'malformed', reason: 'short' };
  const head = datagram[ROUTE_OFFSET]!;
  if ((head & RESERVED_BITS) !== 0) return { kind: 'malformed', reason: 'reserved-bits' };
  const rotation = head >>> ROTATION_SHIFT;
  const serverId = (datagram[SERVER_ID_OFFSET]! << 8) | datagram[SERVER_ID_OFFSET + 1]!;
  if (rotation === 0) return serverId === 0 ? { kind: 'none' } : { kind: 'malformed', reason: 'reserved-bits' };
  return { kind: 'id', route: { rotation, serverId } };
}

/** Writes the field (null: no id, the zero bytes of today's format). */
export function writeRoute(datagram: Uint8Array, route: RouteId | null): void {
  if (datagram.length < ROUTE_END) throw new RangeError(`a ${datagram.length}-byte datagram has no route field`);
  if (route === null) {
    datagram[ROUTE_OFFSET] = datagram[SERVER_ID_OFFSET] = datagram[SERVER_ID_OFFSET + 1] = 0;
    return;
  }
  checkRoute(route);
  datagram[ROUTE_OFFSET] = route.rotation << ROTATION_SHIFT;
  datagram[SERVER_ID_OFFSET] = route.serverId >>> 8;
  datagram[SERVER_ID_OFFSET + 1] = route.serverId & 0xff;
}

export function checkRoute(route: RouteId): void {
  if (!Number.isInteger(route.rotation) || route.rotation < 1 || route.rotation > MAX_ROTATION) {
    throw new RangeError(`config rotation ${route.rotation} is not in 1..${MAX_ROTATION}`);
  }
  if (!Number.isInteger(route.serverId) || route.serverId < 0 || route.serverId > MAX_SERVER_ID) {
    throw new RangeError(`server id ${route.serverId} is not in 0..${MAX_SERVER_ID}`);
  }
}
