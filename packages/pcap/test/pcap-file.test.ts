import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PcapFile } from '../src/pcap-file.js';
import { PcapWriter } from '../src/pcap.js';

// An ACK 10.0.0.1:40001 → 10.0.0.2:443 with no options and no payload.
const SEGMENT = new Uint8Array(Buffer.from('9c4101bb0102030400000000501000ff00000000', 'hex'));

describe('PcapFile', () => {
  let dir: string | null = null;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = null;
  });

  it('streams the same bytes the in-memory writer builds, and counts what it cannot encode', async () => {
    dir = await mkdtemp(join(tmpdir(), 'mptun-pcapfile-'));
    const path = join(dir, 'x.pcap');
    const file = await PcapFile.open(path);
    file.add({ timeMs: 1000, from: '10.0.0.1', to: '10.0.0.2', bytes: SEGMENT });
    file.add({ timeMs: 1001, from: 'not an address', to: '10.0.0.2', bytes: SEGMENT });
    file.add({ timeMs: 1002, from: '::1', to: '::1', bytes: SEGMENT });
    await file.close();
    file.add({ timeMs: 1003, from: '10.0.0.1', to: '10.0.0.2', bytes: SEGMENT }); // after close: ignored
    expect(file.packets).toBe(2);
    expect(file.skipped).toBe(1);
    expect(file.error).toBeNull();

    const expected = new PcapWriter();
    expected.add(1000, '10.0.0.1', '10.0.0.2', SEGMENT);
    expected.add(1002, '::1', '::1', SEGMENT);
    expect(Buffer.from(await readFile(path)).equals(Buffer.from(expected.bytes()))).toBe(true);
  });

  it('a file that cannot be created is an error naming it, at open', async () => {
    dir = await mkdtemp(join(tmpdir(), 'mptun-pcapfile-'));
    const path = join(dir, 'missing-dir', 'x.pcap');
    await expect(PcapFile.open(path)).rejects.toMatchObject({ code: 'ENOENT', message: expect.stringContaining(`cannot write the pcap file ${path}`) });
  });
});
