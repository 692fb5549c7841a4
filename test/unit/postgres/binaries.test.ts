import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { findInPath, findPgBinaries, parsePgVersion } from '../../../src/postgres/binaries.js';

/** A fake server bindir whose pg_ctl prints a version. */
function fakeBinDir(root: string, version: string): string {
  const bin = join(root, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'pg_ctl'), `#!/bin/sh\necho "pg_ctl (PostgreSQL) ${version}"\n`);
  writeFileSync(join(bin, 'postgres'), '#!/bin/sh\n');
  chmodSync(join(bin, 'pg_ctl'), 0o755);
  chmodSync(join(bin, 'postgres'), 0o755);
  return bin;
}

describe('PostgreSQL binaries', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgaf-bin-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('parses pg_ctl --version', () => {
    assert.deepEqual(parsePgVersion('pg_ctl (PostgreSQL) 15.14 (Debian 15.14-1.pgdg120+1)\n'), { major: 15, full: '15.14' });
    assert.deepEqual(parsePgVersion('pg_ctl (PostgreSQL) 16beta1'), { major: 16, full: '16beta1' });
    assert.deepEqual(parsePgVersion('pg_ctl (PostgreSQL) 9.6.24'), { major: 9, full: '9.6.24' });
    assert.throws(() => parsePgVersion('pg_ctl whatever'), /cannot parse PostgreSQL version/);
  });

  it('uses --pgctl, resolving a symlink to the real bindir', async () => {
    const real = fakeBinDir(join(dir, 'v15'), '15.4');
    mkdirSync(join(dir, 'links'));
    symlinkSync(join(real, 'pg_ctl'), join(dir, 'links', 'pg_ctl'));
    const found = await findPgBinaries({ pgctl: join(dir, 'links', 'pg_ctl'), env: { PATH: '' } });
    assert.deepEqual(found, { binDir: real, pgCtl: join(real, 'pg_ctl'), version: { major: 15, full: '15.4' } });
    await assert.rejects(findPgBinaries({ pgctl: join(dir, 'nope'), env: { PATH: '' } }), /is not an executable file/);
  });

  it('finds pg_ctl in PATH, refusing several different ones unless told to take the first', async () => {
    const a = fakeBinDir(join(dir, 'a'), '14.1');
    const b = fakeBinDir(join(dir, 'b'), '16.2');
    assert.deepEqual(findInPath('pg_ctl', `${a}:${a}:${b}:/nonexistent`), [join(a, 'pg_ctl'), join(b, 'pg_ctl')]);
    const none = join(dir, 'no-debian');
    await assert.rejects(findPgBinaries({ env: { PATH: `${a}:${b}` }, debianRoot: none }), /Found several pg_ctl in PATH/);
    const first = await findPgBinaries({ env: { PATH: `${a}:${b}` }, debianRoot: none, severalInPath: 'first' });
    assert.equal(first.version.major, 14);
  });

  it('falls back to the newest Debian bindir, and fails clearly without any', async () => {
    const root = join(dir, 'debian');
    fakeBinDir(join(root, '13'), '13.9');
    fakeBinDir(join(root, '15'), '15.2');
    const found = await findPgBinaries({ env: { PATH: '' }, debianRoot: root });
    assert.equal(found.binDir, join(root, '15', 'bin'));
    await assert.rejects(findPgBinaries({ env: { PATH: '' }, debianRoot: join(dir, 'none') }),
      (error: Error & { code?: string }) => error.code === 'PGCTL' && /cannot find pg_ctl/.test(error.message));
  });

  it('uses PG_CONFIG --bindir first', async () => {
    const bin = fakeBinDir(join(dir, 'cfg'), '17.0');
    const pgConfig = join(dir, 'pg_config');
    writeFileSync(pgConfig, `#!/bin/sh\necho ${bin}\n`);
    chmodSync(pgConfig, 0o755);
    const other = fakeBinDir(join(dir, 'other'), '12.0');
    const found = await findPgBinaries({ env: { PATH: other, PG_CONFIG: pgConfig } });
    assert.equal(found.version.full, '17.0');
  });
});
