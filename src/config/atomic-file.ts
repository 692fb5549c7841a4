/**
 * Files that must survive a crash: the new content goes to `<path>.new`,
 * is fsynced, renamed over `<path>`, and the directory is fsynced, so a
 * reader sees either the old or the new file, never a mix.
 */
import { constants } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The temp file a write goes through; a leftover one is a crashed write. */
export const tempPathOf = (path: string): string => `${path}.new`;

/**
 * Writes `data` to `path` atomically with the given mode (applied exactly,
 * whatever the umask). A stale `<path>.new` from an interrupted write is
 * removed first; the temp file is then created exclusively (O_EXCL), so two
 * writers never interleave inside one temp file.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const temp = tempPathOf(path);
  await rm(temp, { force: true });
  const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    await handle.chmod(mode);
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncDirectory(dirname(path));
}

/** fsync of a directory, so a rename in it is durable. Best effort where unsupported. */
export async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, constants.O_RDONLY);
    await handle.sync();
  } catch (error) {
    if (!isCode(error, 'EISDIR', 'EINVAL', 'EPERM', 'EACCES')) throw error;
  } finally {
    await handle?.close();
  }
}

/** The file's text, or undefined when it does not exist. Other errors throw. */
export async function readFileIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isCode(error, 'ENOENT')) return undefined;
    throw error;
  }
}

/** Removes a file; true when it existed. */
export async function removeFileIfExists(path: string): Promise<boolean> {
  try {
    await rm(path);
    return true;
  } catch (error) {
    if (isCode(error, 'ENOENT')) return false;
    throw error;
  }
}

/** True when `error` is a Node system error with one of the codes. */
export function isCode(error: unknown, ...codes: string[]): boolean {
  return typeof error === 'object' && error !== null && 'code' in error
    && typeof error.code === 'string' && codes.includes(error.code);
}
