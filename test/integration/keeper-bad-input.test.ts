/**
 * `create postgres` refuses bad input with one clear error line, and
 * leaves nothing behind: no node on the monitor, no configuration or state
 * file, no PGDATA it would have created (spec 06 §12).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, makeTempDir, pgBinDir, run, runCleanups } from '../helpers/fixture.js';
import {
  dumpOnFailure, nodeDirs, nodeStates, startMonitor, startNode, waitForStates, type NodeDirs, type RunningMonitor, type RunningNode,
} from '../helpers/cluster.js';
import { pgAutoctl } from '../helpers/tool.js';
import type { CommandResult } from '../helpers/fixture.js';

after(runCleanups);

/** The error lines of a pg_autoctl run (ERROR and FATAL). */
function errorLines(result: CommandResult): string[] {
  return result.stderr.split('\n').filter((l) => / (ERROR|FATAL) /.test(l));
}

/** Nothing of pg_autoctl's own files is left for this PGDATA. */
function assertNoLocalFiles(dirs: NodeDirs, pgdata: string): void {
  for (const base of [dirs.env.XDG_CONFIG_HOME, dirs.env.XDG_DATA_HOME]) {
    const dir = join(base ?? '', 'pg_autoctl', pgdata);
    const files = existsSync(dir) ? readdirSync(dir) : [];
    assert.deepEqual(files, [], `no files left in ${dir}`);
  }
}

describe('keeper: create postgres refuses bad input', { timeout: 420_000 }, () => {
  let monitor: RunningMonitor;
  let node1: RunningNode;
  const nodes: RunningNode[] = [];

  before(async () => {
    monitor = await startMonitor();
    node1 = await startNode(monitor, 'node1');
    nodes.push(node1);
    await waitForStates(monitor, { node1: 'single' }, { nodes });
  });

  /** Runs create postgres for a fresh node directory with `args` replacing some defaults. */
  async function create(name: string, overrides: { monitor?: string; pgdata?: string; port?: number; extra?: string[] } = {},
    env: NodeJS.ProcessEnv = {}): Promise<{ result: CommandResult; dirs: NodeDirs; pgdata: string }> {
    const dirs = nodeDirs(name);
    const pgdata = overrides.pgdata ?? dirs.pgdata;
    const port = overrides.port ?? await freePort();
    const result = await pgAutoctl(['create', 'postgres', '--pgdata', pgdata, '--pgport', String(port), '--hostname', '127.0.0.1',
      '--name', name, '--auth', 'trust', '--ssl-self-signed', '--monitor', overrides.monitor ?? monitor.uri, ...(overrides.extra ?? [])],
    { env: { ...dirs.env, PGCONNECT_TIMEOUT: '3', ...env }, timeoutMs: 60_000 });
    return { result, dirs, pgdata };
  }

  async function assertNotRegistered(name: string): Promise<void> {
    const rows = await nodeStates(monitor);
    assert.ok(!rows.some((r) => r.nodename === name), `${name} is not registered on the monitor`);
  }

  it('an unreachable monitor', async () => {
    await dumpOnFailure(monitor, () => nodes, async () => {
      const closed = await freePort();
      const { result, dirs, pgdata } = await create('unreachable', { monitor: `postgres://autoctl_node@127.0.0.1:${closed}/pg_auto_failover` });
      assert.equal(result.exitCode, 3, result.stderr);
      assert.match(errorLines(result).join('\n'), /Failed to connect to the monitor at .* after \d+ attempts/);
      assert.ok(!existsSync(pgdata));
      assertNoLocalFiles(dirs, pgdata);
    });
  });

  it('a monitor URI naming a database or a role that does not exist', async () => {
    await dumpOnFailure(monitor, () => nodes, async () => {
      const wrongDb = monitor.uri.replace('/pg_auto_failover', '/no_such_db');
      const a = await create('wrongdb', { monitor: wrongDb });
      assert.equal(a.result.exitCode, 3, a.result.stderr);
      assert.match(errorLines(a.result).join('\n'), /Failed to connect to the monitor.*database "no_such_db" does not exist/);
      assertNoLocalFiles(a.dirs, a.pgdata);

      const wrongRole = monitor.uri.replace('autoctl_node@', 'no_such_role@');
      const b = await create('wrongrole', { monitor: wrongRole });
      assert.equal(b.result.exitCode, 3, b.result.stderr);
      assert.match(errorLines(b.result).join('\n'), /Failed to connect to the monitor.*role "no_such_role" does not exist/);
      assertNoLocalFiles(b.dirs, b.pgdata);

      const notMonitor = monitor.uri.replace('/pg_auto_failover', '/postgres').replace('autoctl_node@', 'postgres@');
      const c = await create('notmonitor', { monitor: notMonitor });
      assert.equal(c.result.exitCode, 3, c.result.stderr);
      assert.match(errorLines(c.result).join('\n'), /is not a pg_auto_failover monitor/);
      await assertNotRegistered('wrongdb');
      await assertNotRegistered('wrongrole');
    });
  });

  it('a PGDATA already managed by a running pg_autoctl', async () => {
    await dumpOnFailure(monitor, () => nodes, async () => {
      const again = await node1.cli(['create', 'postgres', '--pgdata', node1.dirs.pgdata, '--pgport', String(node1.port),
        '--hostname', '127.0.0.1', '--name', 'node1', '--auth', 'trust', '--ssl-self-signed', '--monitor', monitor.uri]);
      assert.equal(again.exitCode, 3, again.stderr);
      assert.match(errorLines(again).join('\n'), /pg_autoctl is already running with pid \d+/);
      const rows = await nodeStates(monitor);
      assert.equal(rows.filter((r) => r.nodename === 'node1').length, 1);
    });
  });

  it('a --pgport already in use', async () => {
    await dumpOnFailure(monitor, () => nodes, async () => {
      const port = await freePort();
      const server: Server = createServer();
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      try {
        const { result, dirs, pgdata } = await create('busyport', { port });
        assert.equal(result.exitCode, 1, result.stderr);
        assert.match(errorLines(result).join('\n'), new RegExp(`port ${port} is already in use`));
        assertNoLocalFiles(dirs, pgdata);
        await assertNotRegistered('busyport');
      } finally {
        server.close();
      }
    });
  });

  it('a --formation that does not exist', async () => {
    await dumpOnFailure(monitor, () => nodes, async () => {
      const { result, dirs, pgdata } = await create('noformation', { extra: ['--formation', 'no_such_formation'] });
      assert.equal(result.exitCode, 3, result.stderr);
      assert.match(errorLines(result).join('\n'), /formation "no_such_formation" does not exist/);
      assertNoLocalFiles(dirs, pgdata);
      await assertNotRegistered('noformation');
    });
  });

  it('a second node whose PGDATA holds an unrelated cluster', async () => {
    await dumpOnFailure(monitor, () => nodes, async () => {
      const root = makeTempDir('pgaf-unrelated-');
      const pgdata = join(root, 'data');
      const init = await run([join(pgBinDir(), 'initdb'), '-D', pgdata, '--auth=trust', '--no-sync'], { timeoutMs: 120_000 });
      assert.equal(init.exitCode, 0, init.stderr);
      const before = readdirSync(pgdata).sort();
      const { result, dirs } = await create('unrelated', { pgdata });
      assert.equal(result.exitCode, 3, result.stderr);
      assert.match(errorLines(result).join('\n'), /another node already exists in this group with another system_identifier/);
      assertNoLocalFiles(dirs, pgdata);
      await assertNotRegistered('unrelated');
      assert.deepEqual(readdirSync(pgdata).sort(), before, 'the unrelated PGDATA is left as it was');
    });
  });
});
