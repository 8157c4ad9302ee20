/**
 * A connection reset in the same pump as the SYN that opened it: the client raced its
 * handshake over two paths (through a load balancer the loser may even reach another
 * server) and reset the loser at once. The server's socket is errored before the application
 * ever had it; that must neither crash the process (an 'error' nobody listens to) nor hand
 * the application a dead socket.
 */
import { describe, expect, it } from 'vitest';
import { CapableFlag, emitSegment, TcpFlag, type PathLink, type TcpSegment } from '@mptun/core';
import { createServer, type MptcpSocket } from '../src/index.js';

/** An authenticated path the test feeds by hand, as a sealed transport would after its handshake. */
function fakeLink(): PathLink & { sent: Uint8Array[] } {
  const sent: Uint8Array[] = [];
  return {
    kind: 'udp',
    local: { host: '127.0.0.11', port: 4433 },
    remote: { host: '127.0.0.21', port: 50000 },
    maxSegment: 1400,
    reliable: false,
    authenticated: true,
    send: (b) => (sent.push(b), true),
    bufferedAmount: 0,
    onSegment: null,
    onClose: null,
    onDrain: null,
    close: () => {},
    sent,
  };
}

function segment(fields: Partial<TcpSegment>): Uint8Array {
  return emitSegment({ srcPort: 40000, dstPort: 4433, seq: 1000, ack: 0, flags: 0, window: 65535, checksum: 0, urgent: 0, options: [], payload: new Uint8Array(0), ...fields });
}

describe('MptcpServer: a reset that comes with the SYN', () => {
  it('the socket errored before the application had it is not emitted, and nothing is thrown', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown): void => void uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    const server = createServer({ listen: [] });
    const got: MptcpSocket[] = [];
    server.on('connection', (s) => got.push(s));
    try {
      await server.listen();
      const link = fakeLink();
      server.driver.addLink(link);
      // Count the sockets made for incoming connections (the engine announced one at the SYN).
      let made = 0;
      const make = server.driver.onIncoming!;
      server.driver.onIncoming = (conn) => (made++, make(conn));
      // Both arrive before the driver pumps (one read of a burst of datagrams).
      link.onSegment!(segment({ flags: TcpFlag.SYN, options: [{ kind: 'mptcp', option: { type: 'mp-capable', version: 1, flags: CapableFlag.HMAC_SHA256 } }] }));
      link.onSegment!(segment({ flags: TcpFlag.RST, seq: 1001 }));
      await new Promise((r) => setTimeout(r, 50));
      expect(made, 'a socket was made for the connection the SYN opened').toBe(1);
      expect(uncaught).toEqual([]);
      expect(got).toEqual([]);
      expect(server.connectionCount).toBe(0);
    } finally {
      process.off('uncaughtException', onUncaught);
      await server.close();
    }
  });
});
