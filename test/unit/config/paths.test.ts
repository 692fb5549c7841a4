import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AutoctlError } from '../../../src/common/errors.js';
import { ensurePaths, isDirectory, pathsFor, xdgBases } from '../../../src/config/index.js';

const root = realpathSync(mkdtempSync(join(tmpdir(), 'pgaf-paths-')));
after(() => rmSync(root, { recursive: true, force: true }));
const exists = (): boolean => true;

describe('XDG path derivation (spec 05 §2.1)', () => {
  it('gives the example of the spec', () => {
    const env = { XDG_CONFIG_HOME: '/t/config', XDG_DATA_HOME: '/t/share', XDG_RUNTIME_DIR: '/t/run' };
    const paths = pathsFor('/t/node1', env, '/', exists);
    assert.equal(paths.pgdata, '/t/node1');
    assert.equal(paths.config, '/t/config/pg_autoctl/t/node1/pg_autoctl.cfg');
    assert.equal(paths.state, '/t/share/pg_autoctl/t/node1/pg_autoctl.state');
    assert.equal(paths.init, '/t/share/pg_autoctl/t/node1/pg_autoctl.init');
    assert.equal(paths.token, '/t/share/pg_autoctl/t/node1/pg_autoctl.token');
    assert.equal(paths.nodesJson, '/t/share/pg_autoctl/t/node1/nodes.json');
    assert.equal(paths.pid, '/t/run/pg_autoctl/t/node1/pg_autoctl.pid');
    assert.equal(paths.pgStatus, '/t/run/pg_autoctl/t/node1/pg_autoctl.pg');
    assert.equal(paths.servicePid('node-active'), '/t/run/pg_autoctl/t/node1/pg_autoctl_node-active.pid');
    assert.deepEqual(paths.dirs, {
      config: '/t/config/pg_autoctl/t/node1', data: '/t/share/pg_autoctl/t/node1', runtime: '/t/run/pg_autoctl/t/node1',
    });
  });

  it('falls back to HOME, and to a per-user /tmp/pg_autoctl-<uid> when XDG_RUNTIME_DIR is unset, empty or missing', () => {
    assert.deepEqual(xdgBases({ HOME: '/home/pg' }, '/', isDirectory, 1042),
      { config: '/home/pg/.config', data: '/home/pg/.local/share', runtime: '/tmp/pg_autoctl-1042' });
    assert.deepEqual(xdgBases({ HOME: '/home/pg', XDG_CONFIG_HOME: '', XDG_RUNTIME_DIR: '' }, '/').config, '/home/pg/.config');
    assert.equal(xdgBases({ HOME: '/h', XDG_RUNTIME_DIR: join(root, 'no-such-dir') }, '/', isDirectory, 7).runtime, '/tmp/pg_autoctl-7');
    assert.equal(xdgBases({ HOME: '/h', XDG_RUNTIME_DIR: root }, '/').runtime, root);
    assert.equal(pathsFor('/srv/pg', { HOME: '/home/pg' }, '/', isDirectory, 1042).pid, '/tmp/pg_autoctl-1042/pg_autoctl/srv/pg/pg_autoctl.pid');
  });

  it('needs HOME when an XDG base directory is not given', () => {
    assert.throws(() => xdgBases({}, '/'), (error: unknown) => error instanceof AutoctlError && error.code === 'BAD_CONFIG');
    assert.deepEqual(xdgBases({ XDG_CONFIG_HOME: '/c', XDG_DATA_HOME: '/d' }, '/', isDirectory, 5), { config: '/c', data: '/d', runtime: '/tmp/pg_autoctl-5' });
  });

  it('makes a relative PGDATA absolute lexically from the working directory', () => {
    const env = { XDG_CONFIG_HOME: '/c', XDG_DATA_HOME: '/d', XDG_RUNTIME_DIR: '/r' };
    assert.equal(pathsFor('node1', env, '/work/cluster', exists).config, '/c/pg_autoctl/work/cluster/node1/pg_autoctl.cfg');
    assert.equal(pathsFor('./a/../node2/', env, '/w', exists).pgdata, '/w/node2');
    assert.equal(pathsFor('../n3', env, '/w/x', exists).state, '/d/pg_autoctl/w/n3/pg_autoctl.state');
    assert.throws(() => pathsFor('', env, '/w', exists), /PGDATA is empty/);
  });

  it('creates the directories with mode 0700 and normalises them with realpath', async () => {
    const real = join(root, 'real');
    mkdirSync(real);
    symlinkSync(real, join(root, 'link'));
    const env = { XDG_CONFIG_HOME: join(root, 'link', 'config'), XDG_DATA_HOME: join(root, 'share'), XDG_RUNTIME_DIR: join(root, 'run') };
    mkdirSync(env.XDG_RUNTIME_DIR);
    const paths = await ensurePaths('/srv/node1', env, '/');
    assert.equal(paths.config, join(real, 'config', 'pg_autoctl', 'srv', 'node1', 'pg_autoctl.cfg'));
    assert.equal(paths.state, join(root, 'share', 'pg_autoctl', 'srv', 'node1', 'pg_autoctl.state'));
    assert.equal(paths.pid, join(root, 'run', 'pg_autoctl', 'srv', 'node1', 'pg_autoctl.pid'));
    for (const dir of Object.values(paths.dirs)) {
      assert.ok(statSync(dir).isDirectory());
      assert.equal(statSync(dir).mode & 0o777, 0o700);
    }
    // The lexical variant names the same files without creating anything.
    const lexical = pathsFor('/srv/node1', env, '/');
    assert.equal(realpathSync(join(lexical.config, '..')), join(paths.config, '..'));
    assert.equal(lexical.pgdata, paths.pgdata);
  });

  it('does not resolve symlinks in PGDATA itself', async () => {
    const env = { XDG_CONFIG_HOME: join(root, 'c2'), XDG_DATA_HOME: join(root, 'd2'), XDG_RUNTIME_DIR: join(root, 'r2') };
    mkdirSync(env.XDG_RUNTIME_DIR);
    mkdirSync(join(root, 'data'));
    symlinkSync(join(root, 'data'), join(root, 'data-link'));
    const viaLink = await ensurePaths(join(root, 'data-link'), env, '/');
    const direct = await ensurePaths(join(root, 'data'), env, '/');
    assert.notEqual(viaLink.config, direct.config);
    assert.ok(viaLink.config.endsWith('/data-link/pg_autoctl.cfg'));
  });
});
