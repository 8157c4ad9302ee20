import { describe, it, expect } from 'vitest';
import { SeededRandom } from '@mptun/core';
import { SecureChannel } from '../src/channel.js';
import { REPLAY_WINDOW_SIZE } from '../src/replay-window.js';
import { receiverIndex } from '../src/messages.js';
import { bothBackends, channels, handshake, hex, makePair, text } from './helpers.js';

const NOW = 1_700_000_000_000;

describe('SecureChannel', async () => {
  const backends = await bothBackends();

  for (const crypto of backends) {
    describe(crypto.name, () => {
      const setUp = (opts: ConstructorParameters<typeof SecureChannel>[3] = {}) => {
        const p = makePair(crypto, crypto);
        const keys = handshake(p, NOW, 21);
        return { p, keys, ...channels(crypto, crypto, keys, NOW, opts) };
      };

      it('refuses a replayed datagram', () => {
        const { client, server } = setUp();
        const d = client.seal(text('once'));
        expect(server.open(d)).not.toBeNull();
        expect(server.open(d)).toBeNull();
        expect(server.open(d.slice())).toBeNull();
      });

      it('accepts reordering inside the window, refuses what is older', () => {
        const { client, server } = setUp();
        const total = REPLAY_WINDOW_SIZE + 200;
        const sent = Array.from({ length: total }, (_, i) => client.seal(text(`#${i}`)));
        const seed = 1234;
        console.log(`reorder seed ${seed}`);
        const rng = new SeededRandom(seed);
        // Deliver the newest first, then a shuffled run of the 2048 before it.
        expect(server.open(sent[total - 1]!)).not.toBeNull();
        const within = Array.from({ length: 2048 }, (_, i) => total - 2 - i);
        for (let i = within.length - 1; i > 0; i--) {
          const j = rng.int(i + 1);
          [within[i], within[j]] = [within[j]!, within[i]!];
        }
        for (const i of within) expect(new TextDecoder().decode(server.open(sent[i]!)!)).toBe(`#${i}`);
        for (const i of within) expect(server.open(sent[i]!)).toBeNull(); // and each only once
        // The oldest edge: exactly REPLAY_WINDOW_SIZE - 1 below the top still passes, one more does not.
        expect(server.open(sent[total - REPLAY_WINDOW_SIZE]!)).not.toBeNull();
        expect(server.open(sent[total - 1 - REPLAY_WINDOW_SIZE]!)).toBeNull();
      });

      it('drops a tampered byte anywhere, a wrong index, and an unknown type', () => {
        const { client, server } = setUp();
        const d = client.seal(text('payload bytes'));
        for (let i = 0; i < d.length; i++) {
          const bad = d.slice();
          bad[i]! ^= 0x10;
          expect(server.open(bad), `byte ${i}`).toBeNull();
        }
        expect(server.open(d.subarray(0, 31))).toBeNull();
        expect(server.open(d)).not.toBeNull(); // the tampered copies moved nothing
      });

      it('openInPlace decrypts into the datagram itself, and refuses what open() refuses', () => {
        const { client, server } = setUp();
        const d = client.seal(text('in place, please'));
        const got = server.openInPlace(d)!;
        expect(new TextDecoder().decode(got)).toBe('in place, please');
        expect(got.buffer).toBe(d.buffer);
        expect(got.byteOffset).toBe(d.byteOffset + 16);
        // A replay, a tampered tag, a short datagram: null, as open() would say.
        const again = client.seal(text('second'));
        const copy = again.slice();
        expect(server.openInPlace(again)).not.toBeNull();
        expect(server.openInPlace(copy)).toBeNull();
        const bad = client.seal(text('third'));
        bad[bad.length - 1]! ^= 1;
        expect(server.openInPlace(bad)).toBeNull();
        expect(server.openInPlace(bad.subarray(0, 31))).toBeNull();
        // Empty plaintexts (keepalives) too.
        expect(server.openInPlace(client.seal(new Uint8Array(0)))!.length).toBe(0);
      });

      it('keepalives open as empty plaintexts', () => {
        const { client, server } = setUp();
        expect(server.open(client.seal(new Uint8Array(0)))).toEqual(new Uint8Array(0));
      });

      it('needsRekey by age and by message count; only the client rekeys', () => {
        const { client, server } = setUp({ limits: { rekeyAfterMessages: 5 } });
        expect(client.needsRekey(NOW + 119_999)).toBe(false);
        expect(client.needsRekey(NOW + 120_000)).toBe(true);
        expect(server.needsRekey(NOW + 500_000)).toBe(false);
        for (let i = 0; i < 5; i++) server.open(client.seal(text('x')));
        expect(client.needsRekey(NOW)).toBe(true);
        // A client that only receives still notices the server's counter.
        const fresh = setUp({ limits: { rekeyAfterMessages: 5 } });
        for (let i = 0; i < 6; i++) fresh.client.open(fresh.server.seal(text('y')));
        expect(fresh.client.needsRekey(NOW)).toBe(true);
      });

      it('rejects after the limits: seal throws ERR_MPTUN_KEY_EXHAUSTED, maintain() retires old keys', () => {
        const retired: number[] = [];
        const { client, server, keys } = setUp({ limits: { rejectAfterMessages: 3 }, onKeyRetired: (i) => retired.push(i) });
        for (let i = 0; i < 3; i++) expect(server.open(client.seal(text('z')))).not.toBeNull();
        expect(() => client.seal(text('z'))).toThrow(expect.objectContaining({ code: 'ERR_MPTUN_KEY_EXHAUSTED' }));
        expect(server.maintain(NOW + 1)).toBe(false);
        expect(retired).toEqual([keys.server.localIndex]);
        expect(hex(keys.server.receiveKey)).toBe('00'.repeat(32)); // zeroed when retired
        const aged = setUp();
        expect(aged.client.maintain(NOW + 179_999)).toBe(true);
        expect(aged.client.maintain(NOW + 180_000)).toBe(false);
        expect(aged.client.usable).toBe(false);
      });

      it('rekey with traffic in flight both ways loses nothing and zeroes the old keys', () => {
        const retired: number[] = [];
        const { p, client, server, keys: first } = setUp({ onKeyRetired: (i) => retired.push(i) });
        const t = NOW + 120_000;
        expect(client.needsRekey(t)).toBe(true);
        // In flight under the old keys, both ways, when the rekey starts.
        const upOld = [client.seal(text('up-old-1')), client.seal(text('up-old-2'))];
        const downOld = [server.seal(text('down-old-1')), server.seal(text('down-old-2'))];

        const second = handshake(p, t, 22, client.remoteIndex);
        // The server files the new keys on the same channel (the transport checks replacesIndex).
        server.install(second.server, t);
        // The server keeps sending under the old keys until the client proves the new ones.
        const downBetween = server.seal(text('down-between'));
        client.install(second.client, t);
        expect(client.needsRekey(t)).toBe(false);
        expect(client.remoteIndex).toBe(second.server.localIndex);
        const upNew = client.seal(text('up-new'));
        expect(receiverIndex(upNew)).toBe(second.server.localIndex);

        // Everything arrives, old before and after new.
        expect(new TextDecoder().decode(server.open(upOld[0]!)!)).toBe('up-old-1');
        expect(new TextDecoder().decode(server.open(upNew)!)).toBe('up-new'); // promotes next → current
        expect(new TextDecoder().decode(server.open(upOld[1]!)!)).toBe('up-old-2'); // previous still opens
        expect(server.localIndex).toBe(second.server.localIndex);
        const downNew = server.seal(text('down-new'));
        expect(new TextDecoder().decode(client.open(downNew)!)).toBe('down-new');
        for (const d of [...downOld, downBetween]) expect(client.open(d)).not.toBeNull();
        expect(retired).toEqual([]);

        // After the grace period the old keys are zeroed and refuse everything.
        const late = server.seal(text('after'));
        client.maintain(t + 1);
        server.maintain(t + 1);
        client.maintain(t + 10_001);
        server.maintain(t + 10_001);
        expect(retired.sort()).toEqual([first.client.localIndex, first.server.localIndex].sort());
        expect(hex(first.client.sendKey)).toBe('00'.repeat(32));
        expect(hex(first.server.sendKey)).toBe('00'.repeat(32));
        expect(client.open(late)).not.toBeNull();
        expect(server.localIndexes).toEqual([second.server.localIndex]);
      });

      it('destroy() zeroes every key', () => {
        const retired: number[] = [];
        const { client, keys } = setUp({ onKeyRetired: (i) => retired.push(i) });
        client.destroy();
        expect(retired).toEqual([21]);
        expect(hex(keys.client.sendKey) + hex(keys.client.receiveKey)).toBe('00'.repeat(64));
        expect(() => client.seal(text('no'))).toThrow(expect.objectContaining({ code: 'ERR_MPTUN_KEY_EXHAUSTED' }));
      });
    });
  }
});
