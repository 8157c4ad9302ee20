/**
 * The server key's replay record kept in a small state file, so that a restarted server
 * refuses initiations it accepted before (issue 14 item 6). Written atomically (a
 * temporary file in the same directory, then rename) with mode 0600 on every change: a
 * change is an authenticated handshake, so writes are as rare as those.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { ReplayRecord } from '@mptun/session';
import { MptunError } from './errors.js';

/**
 * The record stored at `path` (empty when the file does not exist yet), saving itself on
 * change. A failed save never fails the handshake that caused it: `onSaveError` hears of
 * it, and the record carries on in memory.
 */
export function openReplayFile(path: string, onSaveError: (err: Error) => void): ReplayRecord {
  let record: ReplayRecord;
  try {
    record = ReplayRecord.decode(new Uint8Array(readFileSync(path)));
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT') record = new ReplayRecord();
    else if (code === 'ERR_MPTUN_BAD_MESSAGE') throw new MptunError('ERR_MPTUN_BAD_OPTION', `replay state file ${path} is damaged: ${(err as Error).message}; remove it to start afresh`);
    else throw new MptunError('ERR_MPTUN_BAD_OPTION', `cannot read replay state file ${path}: ${(err as Error).message}`);
  }
  record.onChange = () => {
    try {
      writeAtomically(path, record.encode());
    } catch (err) {
      onSaveError(err as Error);
    }
  };
  return record;
}

function writeAtomically(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, path);
  } catch (err) {
    unlinkSync(tmp);
    throw err;
  }
}
