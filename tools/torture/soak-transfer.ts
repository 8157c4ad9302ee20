/**
 * One hash-checked transfer through the tunnel to the sink, either way:
 *   'D' + N: the sink sends exactly N pattern bytes; every chunk is checked against the
 *            pattern at its offset, and the count must be exactly N at the end.
 *   'U':     we send N bytes (slices of a random block, so the content is not periodic
 *            at the MSS) and end; the sink answers count + SHA-256, compared with ours.
 * A transfer resolves with its byte count or rejects with what went wrong, and always
 * leaves its socket destroyed.
 */
import { createHash } from 'node:crypto';
import type net from 'node:net';
import { patternMismatch, SinkCommand } from '../bench/rig/index.js';

export type TransferKind = 'download' | 'upload';

export interface TransferProgress {
  /** Payload bytes moved so far (received for a download, written for an upload). */
  bytes: number;
}

const UPLOAD_CHUNK = 64 * 1024;
const UPLOAD_REPLY_BYTES = 8 + 32;

/** Downloads exactly `n` pattern bytes over `socket`. */
export function downloadExact(socket: net.Socket, n: number, progress: TransferProgress): Promise<void> {
  return new Promise((resolve, reject) => {
    let offset = 0;
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(new Error(why));
    };
    socket.on('data', (d: Buffer) => {
      if (settled) return;
      if (offset + d.length > n) return fail(`${offset + d.length} bytes received, ${n} asked for`);
      const at = patternMismatch(d, offset);
      if (at >= 0) return fail(`byte ${offset + at} is not the pattern byte`);
      offset += d.length;
      progress.bytes = offset;
    });
    socket.once('end', () => {
      if (offset !== n) return fail(`the stream ended after ${offset} of ${n} bytes`);
      settled = true;
      socket.destroy();
      resolve();
    });
    socket.once('error', (e) => fail(`socket error after ${offset} of ${n} bytes: ${e.message}`));
    socket.once('close', () => fail(`closed after ${offset} of ${n} bytes`));
    const req = Buffer.alloc(9);
    req[0] = SinkCommand.download;
    req.writeBigUInt64BE(BigInt(n), 1);
    socket.write(req);
  });
}

/**
 * Uploads `n` bytes taken from `block` (cyclically, from `start`) and checks the sink's
 * count and SHA-256 against our own.
 */
export function uploadExact(socket: net.Socket, n: number, block: Uint8Array, start: number, progress: TransferProgress): Promise<void> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let sent = 0;
    let pos = start % block.length;
    let settled = false;
    let reply = Buffer.alloc(0);
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(new Error(why));
    };
    const pump = (): void => {
      while (!settled && sent < n) {
        const len = Math.min(UPLOAD_CHUNK, n - sent, block.length - pos);
        const chunk = block.subarray(pos, pos + len);
        hash.update(chunk);
        sent += len;
        progress.bytes = sent;
        pos = (pos + len) % block.length;
        // Buffer.from copies: the socket may hold the chunk after write() returns.
        if (!socket.write(Buffer.from(chunk))) return void socket.once('drain', pump);
      }
      if (!settled && sent >= n) socket.end();
    };
    socket.on('data', (d: Buffer) => {
      reply = Buffer.concat([reply, d]);
      if (reply.length > UPLOAD_REPLY_BYTES) fail(`the sink's reply is ${reply.length} bytes long`);
    });
    socket.once('end', () => {
      if (settled) return;
      if (reply.length !== UPLOAD_REPLY_BYTES) return fail(`the sink's reply is ${reply.length} bytes, after ${sent} of ${n} sent`);
      const count = Number(reply.readBigUInt64BE(0));
      if (count !== n) return fail(`the sink counted ${count} of ${n} bytes`);
      const theirs = reply.subarray(8).toString('hex');
      const ours = hash.digest('hex');
      if (theirs !== ours) return fail(`SHA-256 differs: sink ${theirs.slice(0, 16)}…, sent ${ours.slice(0, 16)}…`);
      settled = true;
      socket.destroy();
      resolve();
    });
    socket.once('error', (e) => fail(`socket error after ${sent} of ${n} bytes sent: ${e.message}`));
    socket.once('close', () => fail(`closed after ${sent} of ${n} bytes sent, reply ${reply.length} bytes`));
    socket.write(Buffer.from([SinkCommand.upload]));
    pump();
  });
}
