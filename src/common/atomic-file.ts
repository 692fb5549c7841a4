/**
 * Files that must survive a crash (STYLE.md 12): the new content goes to
 * `<path>.new`, is fsynced, renamed over `<path>`, and the directory is
 * fsynced, so a reader sees either the old or the new file, never a mix.
 *
 * Synchronous on purpose: the files are small, and the postgres layer
 * writes its settings files from synchronous code.
 */
import {
  chownSync, closeSync, constants, fchmodSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeFileSync, type Stats,
} from 'node:fs';
import { dirname } from 'node:path';

/** The temp file a write goes through; a leftover one is a crashed write. */
export const tempPathOf = (path: string): string => `${path}.new`;

export interface AtomicWriteOptions {
  /** The file's mode, applied exactly whatever the umask. */
  readonly mode: number;
  /**
   * An existing file keeps its own mode and (when we run as root, which only
   * test harnesses do) its owner, so Postgres can still read a file under
   * PGDATA; `mode` then applies to a new file only.
   */
  readonly keepExisting?: boolean;
}

/**
 * Writes `data` to `path` atomically. A stale `<path>.new` from an
 * interrupted write is removed first; the temp file is then created
 * exclusively (O_EXCL), so two writers never interleave inside one temp file.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions): void {
  const existing = options.keepExisting === true ? statIfExists(path) : undefined;
  const mode = existing === undefined ? options.mode : existing.mode & 0o7777;
  const temp = tempPathOf(path);
  rmSync(temp, { force: true });
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    fchmodSync(fd, mode);
    writeFileSync(fd, data);
    fsyncSync(fd);
  } catch (error) {
    closeQuietly(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  closeSync(fd);
  try {
    if (existing !== undefined && process.getuid?.() === 0) chownSync(temp, existing.uid, existing.gid);
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  syncDirectory(dirname(path));
}

/** fsync of a directory, so a rename or unlink in it is durable. Best effort where unsupported. */
export function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY);
    fsyncSync(fd);
  } catch (error) {
    if (!isCode(error, 'EISDIR', 'EINVAL', 'EPERM', 'EACCES')) throw error;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** True when `error` is a Node system error with one of the codes. */
export function isCode(error: unknown, ...codes: string[]): boolean {
  return typeof error === 'object' && error !== null && 'code' in error
    && typeof error.code === 'string' && codes.includes(error.code);
}

function statIfExists(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (error) {
    if (isCode(error, 'ENOENT')) return undefined;
    throw error;
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // The write already failed; that error is the one to report.
  }
}
