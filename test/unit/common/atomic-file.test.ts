import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { tempPathOf, writeFileAtomic } from '../../../src/common/atomic-file.js';
import { readFileIfExists, removeFileIfExists } from '../../../src/config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'pgaf-atomic-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('atomic files', () => {
  it('writes the content with the exact mode and leaves no temp file', async () => {
    const path = join(dir, 'a.state');
    writeFileAtomic(path, 'one\n', { mode: 0o600 });
    assert.equal(readFileSync(path, 'utf8'), 'one\n');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    writeFileAtomic(path, 'two\n', { mode: 0o644 });
    assert.equal(readFileSync(path, 'utf8'), 'two\n');
    assert.equal(statSync(path).mode & 0o777, 0o644);
    assert.equal(existsSync(tempPathOf(path)), false);
    assert.deepEqual(readdirSync(dir), ['a.state']);
  });

  it('survives a crash that left a partial temp file behind', async () => {
    const path = join(dir, 'b.state');
    writeFileAtomic(path, 'committed\n', { mode: 0o600 });
    // A writer died after creating <path>.new and before the rename:
    writeFileSync(tempPathOf(path), 'half-writ', { mode: 0o600 });
    assert.equal(await readFileIfExists(path), 'committed\n');
    writeFileAtomic(path, 'next\n', { mode: 0o600 });
    assert.equal(readFileSync(path, 'utf8'), 'next\n');
    assert.equal(existsSync(tempPathOf(path)), false);
  });

  it('fails cleanly when the directory does not exist', async () => {
    const path = join(dir, 'missing', 'c.state');
    assert.throws(() => writeFileAtomic(path, 'x', { mode: 0o600 }), { code: 'ENOENT' });
    assert.equal(existsSync(tempPathOf(path)), false);
  });

  it('leaves the old file and no temp file when the rename fails', async () => {
    const path = join(dir, 'd-is-a-dir');
    mkdirSync(join(path, 'child'), { recursive: true });
    assert.throws(() => writeFileAtomic(path, 'x', { mode: 0o600 }));
    assert.ok(statSync(path).isDirectory());
    assert.equal(existsSync(tempPathOf(path)), false);
  });

  it('keeps the mode of an existing file when asked (files under PGDATA)', () => {
    const path = join(dir, 'f.conf');
    writeFileAtomic(path, 'one\n', { mode: 0o640 });
    writeFileAtomic(path, 'two\n', { mode: 0o600, keepExisting: true });
    assert.equal(readFileSync(path, 'utf8'), 'two\n');
    assert.equal(statSync(path).mode & 0o777, 0o640);
    const fresh = join(dir, 'g.conf');
    writeFileAtomic(fresh, 'x', { mode: 0o600, keepExisting: true });
    assert.equal(statSync(fresh).mode & 0o777, 0o600);
  });

  it('reads a missing file as undefined and removes files idempotently', async () => {
    const path = join(dir, 'e');
    assert.equal(await readFileIfExists(path), undefined);
    assert.equal(await removeFileIfExists(path), false);
    writeFileSync(path, 'x');
    assert.equal(await removeFileIfExists(path), true);
    await assert.rejects(readFileIfExists(dir), { code: 'EISDIR' });
  });
});
