/**
 * Crash-safe file replacement for files under PGDATA: write a temp file in
 * the same directory, fsync it, rename it over the target, fsync the
 * directory. An existing file keeps its mode and (when we run as root, which
 * only test harnesses do) its owner, so Postgres can still read it.
 */
import { chownSync, closeSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** Mode for a new file; an existing file keeps its own mode. */
  mode?: number;
}

export function writeFileAtomic(path: string, contents: string, options: AtomicWriteOptions = {}): void {
  const dir = dirname(path);
  const existing = statOrUndefined(path);
  const mode = existing ? existing.mode & 0o7777 : (options.mode ?? 0o600);
  const temp = join(dir, `.${basename(path)}.tmp-${process.pid}`);
  const fd = openSync(temp, 'w', mode);
  try {
    fchmodSync(fd, mode);
    writeSync(fd, contents);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  closeSync(fd);
  try {
    if (existing && process.getuid?.() === 0) chownSync(temp, existing.uid, existing.gid);
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  fsyncDirectory(dir);
}

/** Makes a rename or unlink in `dir` durable. */
export function fsyncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
