import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isNodeToken, readNodeTokenIfExists, removeNodeToken, writeNodeToken } from '../../../src/config/token-file.js';

const dir = mkdtempSync(join(tmpdir(), 'pgaf-token-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const TOKEN = '0123456789abcdef'.repeat(4);

describe('node token file', () => {
  it('writes the token with mode 0600 and reads it back', async () => {
    const path = join(dir, 'a.token');
    await writeNodeToken(path, TOKEN);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(await readNodeTokenIfExists(path), TOKEN);
    assert.equal(await removeNodeToken(path), true);
    assert.equal(await readNodeTokenIfExists(path), undefined);
  });

  it('refuses a token of another shape', async () => {
    assert.ok(isNodeToken(TOKEN));
    for (const bad of ['', TOKEN.toUpperCase(), `${TOKEN}0`, TOKEN.slice(1), `${TOKEN.slice(1)}\n`]) assert.ok(!isNodeToken(bad), bad);
    await assert.rejects(writeNodeToken(join(dir, 'b.token'), 'x'), /unexpected shape/);
    const path = join(dir, 'c.token');
    writeFileSync(path, 'not a token\n', { mode: 0o600 });
    await assert.rejects(readNodeTokenIfExists(path), /does not hold a node token/);
  });

  it('refuses a file that group or others may read, and a symlink', async () => {
    const path = join(dir, 'd.token');
    await writeNodeToken(path, TOKEN);
    chmodSync(path, 0o644);
    await assert.rejects(readNodeTokenIfExists(path), /must be a regular file owned by this user with mode 0600/);
    chmodSync(path, 0o600);
    const link = join(dir, 'e.token');
    symlinkSync(path, link);
    await assert.rejects(readNodeTokenIfExists(link), /Failed to read the node token file/);
  });
});
