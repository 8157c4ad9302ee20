/**
 * The connection's send buffer: bytes the application wrote, addressed by connection
 * offset, kept until the peer's data ACK covers them (RFC 8684 §3.3.2).
 */
export class SendBuffer {
  private chunks: Uint8Array[] = [];
  private head = 0;
  /** Offset of chunks[head][0]. */
  private base = 0;
  /** Offset just past the last written byte. */
  end = 0;
  /** Where the last slice started: chunk index and that chunk's offset (slices are mostly sequential). */
  private cursorIdx = 0;
  private cursorPos = 0;

  /** Lowest offset still held. */
  get start(): number {
    return this.base;
  }

  get length(): number {
    return this.end - this.base;
  }

  append(data: Uint8Array): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.end += data.length;
  }

  /** Forget everything below `offset`. */
  release(offset: number): void {
    while (this.head < this.chunks.length && this.base < offset) {
      const c = this.chunks[this.head]!;
      if (this.base + c.length <= offset) {
        this.base += c.length;
        this.head++;
      } else {
        this.chunks[this.head] = c.subarray(offset - this.base);
        this.base = offset;
      }
    }
    if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.cursorIdx -= this.head;
      this.head = 0;
    }
  }

  /** Bytes [offset, offset+len): a view when one chunk holds them, else a copy. */
  slice(offset: number, len: number): Uint8Array {
    if (offset < this.base || offset + len > this.end) throw new RangeError(`send buffer has no [${offset}, ${offset + len})`);
    let pos = this.base;
    let i = this.head;
    if (this.cursorIdx > this.head && this.cursorPos > this.base && this.cursorPos <= offset) {
      pos = this.cursorPos;
      i = this.cursorIdx;
    }
    while (pos + this.chunks[i]!.length <= offset) pos += this.chunks[i++]!.length;
    this.cursorIdx = i;
    this.cursorPos = pos;
    const first = this.chunks[i]!;
    const from = offset - pos;
    if (from + len <= first.length) return first.subarray(from, from + len);
    const out = new Uint8Array(len);
    let written = 0;
    let src = first.subarray(from);
    for (;;) {
      const n = Math.min(src.length, len - written);
      out.set(src.subarray(0, n), written);
      written += n;
      if (written === len) return out;
      src = this.chunks[++i]!;
    }
  }
}
