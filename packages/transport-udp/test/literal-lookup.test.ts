import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { bindSocket, closeSocket, literalLookup } from '../src/udp-socket.js';

describe('literalLookup (dgram lookup of the transport sockets)', () => {
  it('answers a literal IPv4 or IPv6 address before it returns', () => {
    const got: Array<[string, number]> = [];
    literalLookup('127.0.0.2', 4, (err, address, family) => {
      expect(err).toBeNull();
      got.push([address, family]);
    });
    literalLookup('::1', 6, (err, address, family) => {
      expect(err).toBeNull();
      got.push([address, family]);
    });
    expect(got).toEqual([
      ['127.0.0.2', 4],
      ['::1', 6],
    ]);
  });

  it('resolves a name through dns.lookup, later', async () => {
    let sync = true;
    const answer = new Promise<[NodeJS.ErrnoException | null, string, number]>((resolve) =>
      literalLookup('localhost', 4, (err, address, family) => {
        expect(sync).toBe(false);
        resolve([err, address, family]);
      }),
    );
    sync = false;
    const [err, address, family] = await answer;
    expect(err).toBeNull();
    expect(family).toBe(4);
    expect(address).toMatch(/^127\./);
  });

  it('an unconnected socket from bindSocket sends to a literal address', async () => {
    const rx = dgram.createSocket('udp4');
    await new Promise<void>((r) => rx.bind(0, '127.0.0.1', () => r()));
    const tx = await bindSocket('127.0.0.1', 0, 64 * 1024);
    try {
      const got = new Promise<Buffer>((resolve) => rx.once('message', resolve));
      tx.send(Buffer.from('hello'), rx.address().port, '127.0.0.1');
      expect((await got).toString()).toBe('hello');
    } finally {
      await closeSocket(tx);
      await closeSocket(rx);
    }
  });
});
