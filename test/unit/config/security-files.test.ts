/**
 * Issue 8 #5 and #13: pg_autoctl's files and directories are private
 * (0600 files that may hold a secret, 0700 directories), the /tmp runtime
 * fallback is a per-user directory checked before use, a stored lease end
 * is capped, and `stop` only signals pg_autoctl of this user and PGDATA.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AutoctlError } from '../../../src/common/errors.js';
import {
  checkSignalTarget, defaultKeeperConfig, ensurePaths, fallbackRuntimeBase, readProcessIdentity, writeConfigFile, writeInitFile,
  writeKeeperState, initialKeeperState, type ProcessIdentity,
} from '../../../src/config/index.js';
import { LEASE_FILE_MODE, maxStoredLeaseMs, readLeaseFile, storeLeaseEnd } from '../../../src/keeper/lease-file.js';

const root = realpathSync(mkdtempSync(join(tmpdir(), 'pgaf-secfiles-')));
const IS_ROOT = process.getuid?.() === 0;
const cleanups: Array<() => void> = [];
after(() => {
  for (const fn of cleanups.reverse()) fn();
  rmSync(root, { recursive: true, force: true });
});
const mode = (path: string): number => statSync(path).mode & 0o777;
const rejectsConfig = async (promise: Promise<unknown>, pattern: RegExp): Promise<void> => {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof AutoctlError, String(error));
    assert.equal(error.code, 'BAD_CONFIG');
    assert.match(error.message, pattern);
    return true;
  });
};

describe('private files and directories (#5)', () => {
  it('creates every pg_autoctl directory 0700 and writes config, state and init files 0600', async () => {
    const env = { XDG_CONFIG_HOME: join(root, 'a', 'config'), XDG_DATA_HOME: join(root, 'a', 'share'), XDG_RUNTIME_DIR: join(root, 'a', 'run') };
    mkdirSync(env.XDG_RUNTIME_DIR, { recursive: true });
    const previous = process.umask(0o000);
    let paths;
    try {
      paths = await ensurePaths('/srv/node1', env, '/');
    } finally {
      process.umask(previous);
    }
    for (const dir of Object.values(paths.dirs)) assert.equal(mode(dir), 0o700, dir);
    // Each directory mkdir -p created, not only the leaf.
    assert.equal(mode(join(env.XDG_CONFIG_HOME, 'pg_autoctl')), 0o700);
    assert.equal(mode(join(env.XDG_CONFIG_HOME, 'pg_autoctl', 'srv')), 0o700);
    const config = defaultKeeperConfig({ pgdata: '/srv/node1', hostname: 'node1' });
    await writeConfigFile(paths.config, { ...config, replication: { ...config.replication, password: 'S3cret' } });
    await writeKeeperState(paths.state, initialKeeperState());
    await writeInitFile(paths.init, 'missing');
    for (const file of [paths.config, paths.state, paths.init]) assert.equal(mode(file), 0o600, file);
  });

  it('tightens directories an older version created 0755', async () => {
    const env = { XDG_CONFIG_HOME: join(root, 'b', 'config'), XDG_DATA_HOME: join(root, 'b', 'share'), XDG_RUNTIME_DIR: join(root, 'b', 'run') };
    const leaf = join(env.XDG_CONFIG_HOME, 'pg_autoctl', 'srv', 'node1');
    mkdirSync(leaf, { recursive: true, mode: 0o755 });
    chmodSync(leaf, 0o755);
    mkdirSync(env.XDG_RUNTIME_DIR, { recursive: true });
    const paths = await ensurePaths('/srv/node1', env, '/');
    assert.equal(mode(paths.dirs.config), 0o700);
  });

  it('refuses a pg_autoctl directory owned by another user', { skip: !IS_ROOT && 'needs root to chown' }, async () => {
    const env = { XDG_CONFIG_HOME: join(root, 'c', 'config'), XDG_DATA_HOME: join(root, 'c', 'share'), XDG_RUNTIME_DIR: join(root, 'c', 'run') };
    const leaf = join(env.XDG_DATA_HOME, 'pg_autoctl', 'srv', 'node1');
    mkdirSync(leaf, { recursive: true });
    chownSync(leaf, 4242, 4242);
    mkdirSync(env.XDG_RUNTIME_DIR, { recursive: true });
    await rejectsConfig(ensurePaths('/srv/node1', env, '/'), /owned by uid 4242, not by this user/);
  });
});

describe('runtime directory without XDG_RUNTIME_DIR (#13)', () => {
  const env = { XDG_CONFIG_HOME: join(root, 'd', 'config'), XDG_DATA_HOME: join(root, 'd', 'share') };

  it('is a private per-user directory under /tmp', async () => {
    const uid = process.getuid?.() ?? 0;
    const base = fallbackRuntimeBase(uid);
    assert.equal(base, `/tmp/pg_autoctl-${uid}`);
    const existed = existsSync(base);
    if (!existed) cleanups.push(() => rmSync(base, { recursive: true, force: true }));
    const pgdata = join(root, 'd', 'pgdata');
    const paths = await ensurePaths(pgdata, env, '/');
    assert.equal(paths.pid, join(realpathSync(base), 'pg_autoctl', pgdata.slice(1), 'pg_autoctl.pid'));
    assert.equal(mode(base), 0o700);
    assert.equal(statSync(base).uid, uid);
    assert.equal(mode(paths.dirs.runtime), 0o700);
    if (existed) rmSync(join(base, 'pg_autoctl', root.slice(1)), { recursive: true, force: true });
  });

  it('is refused when another user owns it, anyone may write to it, or it is a symlink', { skip: !IS_ROOT && 'needs root to chown' }, async () => {
    const uid = 60000 + (process.pid % 5000);
    const base = fallbackRuntimeBase(uid);
    rmSync(base, { recursive: true, force: true });
    cleanups.push(() => rmSync(base, { recursive: true, force: true }));
    // Planted by someone else (here: root, uid 0).
    mkdirSync(base, { mode: 0o700 });
    await rejectsConfig(ensurePaths('/srv/x', env, '/', uid), /runtime directory ".*": it is owned by uid 0, not by this user/);
    // Ours, but world writable: anyone could swap the pid or lease file.
    chownSync(base, uid, uid);
    chmodSync(base, 0o1777);
    await rejectsConfig(ensurePaths('/srv/x', env, '/', uid), /writable by all users/);
    chmodSync(base, 0o770);
    await rejectsConfig(ensurePaths('/srv/x', env, '/', uid), /writable by its group/);
    // A symlink to a directory the attacker controls.
    rmSync(base, { recursive: true, force: true });
    const target = join(root, 'elsewhere');
    mkdirSync(target, { mode: 0o700 });
    chownSync(target, uid, uid);
    symlinkSync(target, base);
    assert.ok(lstatSync(base).isSymbolicLink());
    await rejectsConfig(ensurePaths('/srv/x', env, '/', uid), /it is not a directory/);
  });
});

describe('stored lease end (#13)', () => {
  const file = join(root, 'pg_autoctl.lease');

  it('is written 0600 and read back as stored when within the lease length', () => {
    storeLeaseEnd(file, performance.now() + 5000);
    assert.equal(mode(file), LEASE_FILE_MODE);
    const stored = readLeaseFile(file, maxStoredLeaseMs(20));
    assert.equal(stored.warning, undefined);
    assert.ok(stored.end !== null && Math.abs(stored.end - (performance.now() + 5000)) < 100);
  });

  it('is clamped to the lease length plus a margin when it claims more', () => {
    // A forged (or corrupted) end one hour ahead: the node would keep writing without the monitor.
    storeLeaseEnd(file, performance.now() + 3_600_000);
    const cap = maxStoredLeaseMs(20);
    assert.equal(cap, 21_000);
    const stored = readLeaseFile(file, cap);
    assert.ok(stored.end !== null);
    assert.ok(stored.end - performance.now() <= cap + 5, `lease left ${stored.end - performance.now()} ms`);
    assert.match(stored.warning ?? '', /claims \d+ ms of lease left, more than the 21000 ms a grant can give/);
  });

  it('is ignored when others may write the file', () => {
    storeLeaseEnd(file, performance.now() + 5000);
    chmodSync(file, 0o666);
    const stored = readLeaseFile(file, maxStoredLeaseMs(20));
    assert.equal(stored.end, null);
    assert.match(stored.warning ?? '', /Ignoring the lease file/);
  });

  it('is ignored when another user owns the file', { skip: !IS_ROOT && 'needs root to chown' }, () => {
    storeLeaseEnd(file, performance.now() + 5000);
    chownSync(file, 4242, 4242);
    assert.equal(readLeaseFile(file, maxStoredLeaseMs(20)).end, null);
  });

  it('never writes through a planted symlink', () => {
    const victim = join(root, 'victim');
    writeFileSync(victim, 'keep\n');
    const planted = join(root, 'planted.lease');
    symlinkSync(victim, `${planted}.new`);
    storeLeaseEnd(planted, performance.now() + 5000);
    assert.equal(statSync(victim).size, 5);
    assert.ok(readLeaseFile(planted).end !== null);
  });
});

describe('stop and reload signal only our own pg_autoctl (#13)', () => {
  const me = process.getuid?.() ?? 0;
  const script = '/opt/pgaf/dist/cli/main.js';
  const base: ProcessIdentity = { pid: 4321, uid: me, argv: ['node', script, 'run'], cwd: '/home/pg', envPgdata: '/srv/node1' };
  const expected = { uid: me, pgdata: '/srv/node1', entryScripts: [script], canonical: (p: string) => p };

  it('accepts pg_autoctl of this user for this PGDATA', () => {
    assert.deepEqual(checkSignalTarget(base, expected), { ok: true, value: true });
    assert.ok(checkSignalTarget({ ...base, argv: ['node', '/usr/bin/pg_autoctl', 'run'] }, expected).ok);
    assert.ok(checkSignalTarget({ ...base, argv: ['node', 'dist/cli/main.js', 'run'], cwd: '/opt/pgaf' }, expected).ok);
    // Started through the interpreter line: Node.js options come before the script.
    assert.ok(checkSignalTarget({ ...base, argv: ['node', '--optimize-for-size', '--max-semi-space-size=1', script, 'run'] }, expected).ok);
    assert.ok(checkSignalTarget({ ...base, argv: ['node', script, 'run', '--pgdata', '../../srv/node1'], envPgdata: undefined }, expected).ok);
  });

  it('refuses another user\'s process, another program, or another PGDATA', () => {
    const refused = (identity: ProcessIdentity, pattern: RegExp): void => {
      const result = checkSignalTarget(identity, expected);
      assert.ok(!result.ok);
      assert.match(result.errors, pattern);
    };
    refused({ ...base, uid: me + 1 }, /belongs to uid \d+, not to this user/);
    refused({ ...base, argv: ['sleep', '600'] }, /is not pg_autoctl \(command line: sleep 600\)/);
    refused({ ...base, argv: ['node', '/tmp/evil.js'] }, /is not pg_autoctl/);
    refused({ ...base, argv: ['node', '--optimize-for-size', '/tmp/evil.js', script] }, /is not pg_autoctl/);
    refused({ ...base, envPgdata: '/srv/node2' }, /for PGDATA "\/srv\/node2", not "\/srv\/node1"/);
    refused({ ...base, argv: ['node', script, 'run', '--pgdata=/srv/other'] }, /for PGDATA "\/srv\/other"/);
  });

  it('reads a live process from /proc', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore', env: { PATH: process.env.PATH, PGDATA: '/srv/sleepy' } });
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      const identity = readProcessIdentity(child.pid ?? 0);
      assert.ok(identity !== undefined);
      assert.equal(identity.uid, me);
      assert.deepEqual(identity.argv, ['sleep', '30']);
      assert.equal(identity.envPgdata, '/srv/sleepy');
      assert.ok(!checkSignalTarget(identity, { ...expected, pgdata: '/srv/sleepy' }).ok);
    } finally {
      child.kill('SIGKILL');
    }
    assert.equal(readProcessIdentity(2 ** 30), undefined);
  });
});
