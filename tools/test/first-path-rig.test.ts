/**
 * A new connection does not start on a path that has gone dead while another works (found
 * by the soak: over UDP a dead path looks up until its subflows time out, and a SYN sent
 * there waited out the retransmission backoff with LTE idle). Through the real apps.
 */
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTcp, SinkCommand, startRig, type Rig } from '../bench/rig/index.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Writes `text` and resolves once as many bytes came back. */
function echoOnce(s: net.Socket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (d: Buffer): void => {
      got += d.toString();
      if (got.length >= text.length) {
        s.off('data', onData);
        resolve(got);
      }
    };
    s.on('data', onData);
    s.once('error', reject);
    s.write(text);
  });
}

describe('first subflow of a new connection', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({ paths: [{ name: 'wifi', local: '127.0.0.2', link: { delay: '2ms' } }, { name: 'lte', local: '127.0.0.3', link: { delay: '5ms' } }], seed: 11 });
    console.log(`first-path rig seed ${rig.seed}`);
  }, 40_000);
  afterAll(() => rig?.close());

  it('takes the preferred path while it works, and another one once it has gone quiet', async () => {
    const before = await connectTcp(rig.forward);
    before.write(Buffer.from([SinkCommand.echo]));
    expect(await echoOnce(before, 'ping')).toBe('ping');
    const firstLocal = async (): Promise<string | undefined> => {
      const conns = (await rig.clientSample()).connections;
      const newest = conns[conns.length - 1]!;
      return [...newest.subflows].sort((a, b) => a.id - b.id)[0]?.localAddress;
    };
    expect(await firstLocal()).toBe('127.0.0.2');

    // Wi-Fi dies; the open connection keeps LTE busy, so LTE is heard and Wi-Fi is not.
    await rig.emulator.down('wifi');
    for (let i = 0; i < 40; i++) {
      expect(await echoOnce(before, `beat ${i}`)).toBe(`beat ${i}`);
      await sleep(50);
    }
    const after = await connectTcp(rig.forward);
    after.write(Buffer.from([SinkCommand.echo]));
    expect(await echoOnce(after, 'hello')).toBe('hello');
    expect(await firstLocal()).toBe('127.0.0.3');
    before.destroy();
    after.destroy();
  }, 40_000);
});
