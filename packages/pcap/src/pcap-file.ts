/**
 * A pcap capture streamed to a file as segments happen: what `--pcap FILE` of the apps
 * writes. Records go through a write stream, so a capture never blocks the event loop; a
 * segment that cannot be written as a packet (an address that is not IP, e.g.) is counted
 * in `skipped`, never thrown into the caller's data path.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { PcapRecords, pcapFileHeader } from './pcap.js';

/** One segment and its endpoints, the shape @mptun/node's segment tap reports. */
export interface CapturedSegment {
  /** Milliseconds since the Unix epoch. */
  timeMs: number;
  /** IP address of the sender and of the receiver. */
  from: string;
  to: string;
  /** The whole TCP segment. */
  bytes: Uint8Array;
}

export class PcapFile {
  private readonly records = new PcapRecords();
  private failure: Error | null = null;
  private closing: Promise<void> | null = null;
  /** Records written so far. */
  packets = 0;
  /** Segments left out because they could not be encoded. */
  skipped = 0;

  private constructor(
    readonly path: string,
    private readonly stream: WriteStream,
  ) {
    stream.on('error', (e) => (this.failure ??= e));
  }

  /** Create (or truncate) `path` and write the global header; rejects if the file cannot be opened. */
  static async open(path: string): Promise<PcapFile> {
    const stream = createWriteStream(path, { mode: 0o600 });
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', (e: NodeJS.ErrnoException) =>
        reject(Object.assign(new Error(`cannot write the pcap file ${path}: ${e.message}`), { code: e.code })),
      );
    });
    const file = new PcapFile(path, stream);
    stream.write(pcapFileHeader());
    return file;
  }

  /** The write error that stopped the capture, if any. */
  get error(): Error | null {
    return this.failure;
  }

  /** Append one segment as a packet. */
  add(segment: CapturedSegment): void {
    if (this.failure || this.closing) return;
    let record: Uint8Array;
    try {
      record = this.records.encode(segment.timeMs, segment.from, segment.to, segment.bytes);
    } catch {
      this.skipped++;
      return;
    }
    this.stream.write(record);
    this.packets++;
  }

  /** Flush and close the file. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.stream.end(() => resolve());
    });
    return this.closing;
  }
}
