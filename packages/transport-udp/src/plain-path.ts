/**
 * Plain mode: no crypto, each segment travels in the tcp-in-udp layout of
 * multipath-tcp/tcp-in-udp (packages/core/src/wire/tcp-in-udp.ts), so a Linux MPTCP peer
 * running that eBPF program can be the other end.
 *
 * In that layout the UDP ports ARE the TCP ports: the datagram has no room for them. So
 * one plain PathLink carries exactly one subflow, whose TCP source and destination ports
 * are the socket's local and remote ports (PathLink.local.port and .remote.port). send()
 * refuses (returns false) a segment whose ports are not those, or that tcp-in-udp cannot
 * carry (URG set, malformed). Nothing is authenticated: use plain mode only where the
 * network is trusted, or to interoperate.
 */
import type dgram from 'node:dgram';
import { segmentToUdpPayload, udpPayloadToSegment, type TransportAddress } from '@mptun/core';

/** The segment's TCP ports, read after a length check; null when it is too short. */
function segmentPorts(segment: Uint8Array): [number, number] | null {
  if (segment.length < 4) return null;
  return [(segment[0]! << 8) | segment[1]!, (segment[2]! << 8) | segment[3]!];
}

/** Sends `segment` as tcp-in-udp from `local` to `remote`; false when it cannot. */
export function sendPlain(
  socket: dgram.Socket,
  segment: Uint8Array,
  local: TransportAddress,
  remote: TransportAddress,
  connected: boolean,
): boolean {
  const ports = segmentPorts(segment);
  if (ports === null || ports[0] !== local.port || ports[1] !== remote.port) return false;
  let payload: Uint8Array;
  try {
    payload = segmentToUdpPayload(segment);
  } catch {
    return false; // WireError: URG, bad data offset, too long
  }
  if (connected) socket.send(payload);
  else socket.send(payload, remote.port, remote.host);
  return true;
}

/** The segment carried by a tcp-in-udp payload, or null when it is malformed. */
export function receivePlain(payload: Uint8Array, remotePort: number, localPort: number): Uint8Array | null {
  try {
    return udpPayloadToSegment(payload, remotePort, localPort);
  } catch {
    return null;
  }
}
