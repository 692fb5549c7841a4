/**
 * Reading and writing the files pg_autoctl owns (configuration, state, init,
 * pid and expected-status files): writes are atomic (common/atomic-file.ts),
 * and a failure becomes an AutoctlError that names the file.
 */
import { readFile, rm } from 'node:fs/promises';
import { isCode, writeFileAtomic } from '../common/atomic-file.js';
import { AutoctlError, messageOf, type ErrorCode } from '../common/errors.js';

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

/** Like readFileIfExists; a failure is a `code` error "Failed to read <what> "<path>": …". */
export async function readTextFile(path: string, what: string, code: ErrorCode): Promise<string | undefined> {
  try {
    return await readFileIfExists(path);
  } catch (error) {
    throw new AutoctlError(code, `Failed to read ${what} "${path}": ${messageOf(error)}`, { cause: error });
  }
}

/** writeFileAtomic with `mode`; a failure is a `code` error "Failed to write <what> "<path>": …". */
export function writeTextFile(path: string, text: string, mode: number, what: string, code: ErrorCode): void {
  try {
    writeFileAtomic(path, text, { mode });
  } catch (error) {
    throw new AutoctlError(code, `Failed to write ${what} "${path}": ${messageOf(error)}`, { cause: error });
  }
}
