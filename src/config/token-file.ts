/**
 * The node token file `pg_autoctl.token`, beside the state file: the
 * secret the monitor issued to this node when it registered (see
 * docs/security.md "Node credentials"). The keeper presents it on every
 * monitor connection; the monitor keeps only its hash. One line of 64 hex
 * digits, written atomically with mode 0600 and never logged.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { AutoctlError, messageOf } from '../common/errors.js';
import { isCode, writeFileAtomic } from '../common/atomic-file.js';
import { removeFileIfExists } from './text-file.js';

export const TOKEN_FILE_MODE = 0o600;

const TOKEN = /^[0-9a-f]{64}$/;

/** True when `text` has the shape of a node token. */
export function isNodeToken(text: string): boolean {
  return TOKEN.test(text);
}

export async function writeNodeToken(path: string, token: string): Promise<void> {
  if (!isNodeToken(token)) throw new AutoctlError('INTERNAL', 'the monitor returned a node token of an unexpected shape');
  try {
    writeFileAtomic(path, `${token}\n`, { mode: TOKEN_FILE_MODE });
  } catch (error) {
    throw new AutoctlError('BAD_STATE', `Failed to write the node token file "${path}": ${messageOf(error)}`, { cause: error });
  }
}

/**
 * The node token, or undefined when there is no token file (a node
 * registered before node tokens existed). A file that is not a regular file
 * of this account, that group or others may read or write, or that does
 * not hold a token is a BAD_STATE error naming it.
 */
export async function readNodeTokenIfExists(path: string): Promise<string | undefined> {
  let text: string;
  try {
    const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const st = await handle.stat();
      const uid = process.getuid?.();
      if (!st.isFile() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0) {
        throw new AutoctlError('BAD_STATE',
          `The node token file "${path}" must be a regular file owned by this user with mode 0600`,
          { hint: `chmod 0600 "${path}"` });
      }
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (isCode(error, 'ENOENT')) return undefined;
    if (error instanceof AutoctlError) throw error;
    throw new AutoctlError('BAD_STATE', `Failed to read the node token file "${path}": ${messageOf(error)}`, { cause: error });
  }
  const token = text.trim();
  if (!isNodeToken(token)) throw new AutoctlError('BAD_STATE', `The node token file "${path}" does not hold a node token`);
  return token;
}

/** Removes the token file; true when it existed. */
export async function removeNodeToken(path: string): Promise<boolean> {
  return removeFileIfExists(path);
}
