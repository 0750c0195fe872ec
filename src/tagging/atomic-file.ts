import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces `path` with `data` so that a reader (the server's reload) sees either the old
 * file or the new one, never part of either: the data goes to a temporary file in the same
 * directory, is flushed to disk and renamed over the old file. A replaced file keeps its
 * permissions.
 */
export function writeFileAtomically(path: string, data: string | Buffer): void {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let mode: number | null = null;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    // A new file gets the default mode.
  }
  const fd = openSync(temporary, 'wx', 0o644);
  try {
    if (mode !== null) fchmodSync(fd, mode);
    writeFileSync(fd, data);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(temporary, path);
  } catch (error) {
    try {
      closeSync(fd);
    } catch {
      // Already closed.
    }
    unlinkSync(temporary);
    throw error;
  }
}
