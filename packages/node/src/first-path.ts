/**
 * Which path a new connection's first subflow (the MP_CAPABLE handshake) takes. The
 * configured order is the preference, but a path the peer has gone quiet on while another
 * is still heard from is passed over: over UDP a dead path looks "up" until its subflows
 * time out, and a SYN sent there would wait out the retransmission backoff (1 s, 2 s, …)
 * while a working path sits idle. The other paths join once the connection is up.
 */

/** How much longer a path may have been silent than the freshest one before it is skipped. */
export const QUIET_PATH_MS = 1000;

/**
 * The first of `pathIds` (in preference order) heard from no more than QUIET_PATH_MS before
 * the most recently heard one; the first one when none has been heard yet.
 */
export function chooseFirstPath(pathIds: readonly number[], lastHeard: (pathId: number) => number): number | undefined {
  if (pathIds.length === 0) return undefined;
  const freshest = Math.max(...pathIds.map(lastHeard));
  if (freshest === -Infinity) return pathIds[0];
  return pathIds.find((id) => lastHeard(id) >= freshest - QUIET_PATH_MS);
}
