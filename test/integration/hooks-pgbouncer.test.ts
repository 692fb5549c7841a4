/**
 * Keeper hooks on a real group (docs/integrations.md, "Hooks"):
 * 1. a hook that sleeps does not hold back the transitions of its node;
 * 2. the documented pgbouncer hook (docs/examples/pgbouncer-hook.sh), set
 *    with `config set` on the running nodes (the reload path), repoints a
 *    real pgbouncer (docs/examples/pgbouncer.ini) at the new primary after
 *    a crash failover: a client writing through pgbouncer lands on it.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import {
  freePort, makeTempDir, onCleanup, pidAlive, runCleanups, startBackground, waitFor, writeClusterFile,
} from '../helpers/fixture.js';
import {
  clusterUserName, dumpOnFailure, startMonitor, startNode, waitForStates, type RunningMonitor, type RunningNode,
} from '../helpers/cluster.js';

after(runCleanups);

const EXAMPLES = join(import.meta.dirname, '..', '..', 'docs', 'examples');

const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : []);

/** `pg_autoctl config set` on a running node, waited for until its keeper reloaded it. */
async function configSet(node: RunningNode, key: string, value: string): Promise<void> {
  const before = node.output().split(`Reloading configuration: ${key} is now`).length;
  const r = await node.cli(['config', 'set', key, value]);
  assert.equal(r.exitCode, 0, r.stderr);
  await waitFor(`${node.name} to reload ${key}`,
    () => node.output().split(`Reloading configuration: ${key} is now "${value}"`).length > 1
      && node.output().split(`Reloading configuration: ${key} is now`).length > before,
    { timeoutMs: 20_000 });
}

describe('hooks: pgbouncer follows the primary', { timeout: 300_000 }, () => {
  it('runs hooks beside the transitions, and repoints pgbouncer at the new primary after a crash failover', async () => {
    const t0 = performance.now();
    const phase = (what: string): void => { process.stderr.write(`[${Math.round((performance.now() - t0) / 1000)} s] ${what}\n`); };
    const m: RunningMonitor = await startMonitor({ name: 'monitor-hooks' });
    phase('monitor ready');
    const nodes: RunningNode[] = [];
    await dumpOnFailure(m, () => nodes, async () => {
      const dir = makeTempDir('pgaf-pgbouncer-');
      const bouncerPort = await freePort();
      const databasesFile = join(dir, 'databases.ini');
      // What the keepers' service unit would set for the example hook.
      const hookEnv = {
        PGBOUNCER_DATABASES_FILE: databasesFile,
        PGBOUNCER_HOST: '127.0.0.1',
        PGBOUNCER_PORT: String(bouncerPort),
        PGBOUNCER_ADMIN_USER: clusterUserName(),
      };
      const exampleHook = join(dir, 'pgbouncer-hook.sh');
      writeClusterFile(exampleHook, readFileSync(join(EXAMPLES, 'pgbouncer-hook.sh'), 'utf8'), 0o755);
      const slowPids = join(dir, 'slow.pids');
      const slowHook = join(dir, 'slow-hook.sh');
      writeClusterFile(slowHook, `#!/bin/sh\necho $$ >> '${slowPids}'\necho "slow hook for $3 -> $2"\nexec sleep 300\n`, 0o755);
      onCleanup('kill the slow hooks', () => {
        for (const pid of lines(slowPids)) {
          try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
        }
      });

      const node1 = await startNode(m, 'node1', { env: hookEnv });
      nodes.push(node1);
      await waitForStates(m, { node1: 'single' }, { nodes });

      phase('node1 single');
      // A hook must be an absolute path to a program: nothing changes otherwise.
      for (const [value, message] of [
        ['hooks/pgbouncer-hook.sh', /invalid value "hooks\/pgbouncer-hook.sh" for hooks.on_role_change: expected an absolute path/],
        [join(dir, 'missing.sh'), /Failed to set hooks.on_role_change to ".*missing.sh": cannot run it: ENOENT/],
      ] as const) {
        const refused = await node1.cli(['config', 'set', 'hooks.on_role_change', value]);
        assert.notEqual(refused.exitCode, 0);
        assert.match(refused.stderr, message);
      }
      assert.equal((await node1.cli(['config', 'get', 'hooks.on_role_change'])).stdout, '\n');

      // 1. node1's on_role_change sleeps for minutes: node2 joins all the same.
      await configSet(node1, 'hooks.timeout', '600');
      await configSet(node1, 'hooks.on_role_change', slowHook);
      const node2 = await startNode(m, 'node2', { env: hookEnv });
      nodes.push(node2);
      const joinedAt = performance.now();
      await waitForStates(m, { node1: 'primary', node2: 'secondary' }, { nodes, timeoutMs: 90_000 });
      const slow = lines(slowPids).map(Number);
      assert.equal(slow.length, 1, 'one slow run at a time');
      assert.ok(pidAlive(slow[0] ?? 0), 'the slow hook of single -> wait_primary still runs while node1 became primary');
      assert.match(node1.output(), /Running hook on_role_change ".*slow-hook\.sh" for role_change "single" -> "wait_primary"/);
      assert.match(node1.output(), /Hook on_role_change: slow hook for single -> wait_primary/);
      assert.match(node1.output(), /Transition complete: current state is now "primary"/);
      process.stderr.write(`node2 joined and node1 became primary in ${Math.round((performance.now() - joinedAt) / 1000)} s beside a sleeping hook\n`);
      // The run queued behind it (wait_primary -> primary) starts once it ends.
      process.kill(slow[0] ?? 0, 'SIGKILL');
      const second = await waitFor('the queued slow run', () => lines(slowPids)[1], { timeoutMs: 20_000 });
      process.kill(Number(second), 'SIGKILL');
      await waitFor('both slow runs to be logged', () => node1.output().match(/for role_change "\w+" -> "\w+" was terminated by signal SIGKILL/g)?.length === 2,
        { timeoutMs: 20_000 });
      assert.match(node1.output(), /for role_change "wait_primary" -> "primary" was terminated by signal SIGKILL/);

      phase('slow hooks checked');
      // 2. The example hook on both nodes, set while they run.
      await configSet(node1, 'hooks.on_role_change', exampleHook);
      await configSet(node2, 'hooks.on_role_change', exampleHook);

      // pgbouncer with the example configuration, pointing at the primary at first.
      writeClusterFile(databasesFile, `[databases]\npostgres = host=127.0.0.1 port=${node1.port} dbname=postgres\n`);
      writeClusterFile(join(dir, 'userlist.txt'), `"${clusterUserName()}" ""\n`);
      const ini = readFileSync(join(EXAMPLES, 'pgbouncer.ini'), 'utf8')
        .replace(/^listen_port = 6432$/m, `listen_port = ${bouncerPort}`)
        .replaceAll('/etc/pgbouncer/', `${dir}/`)
        .replaceAll('/var/run/postgresql/', `${dir}/`)
        .replace(/^admin_users = postgres$/m, `admin_users = ${clusterUserName()}`);
      writeClusterFile(join(dir, 'pgbouncer.ini'), ini);
      const bouncer = startBackground('pgbouncer', ['/usr/sbin/pgbouncer', join(dir, 'pgbouncer.ini')]);

      const through = async <T extends pg.QueryResultRow>(text: string): Promise<T[]> => {
        const client = new pg.Client({ host: '127.0.0.1', port: bouncerPort, user: clusterUserName(), database: 'postgres', connectionTimeoutMillis: 5000 });
        client.on('error', () => undefined);
        await client.connect();
        try {
          return (await client.query<T>(text)).rows;
        } finally {
          await client.end().catch(() => undefined);
        }
      };
      const before = await waitFor('pgbouncer to serve', async () => {
        if (bouncer.exited()) throw new Error(`pgbouncer exited:\n${bouncer.output()}`);
        return through<{ port: number }>('SELECT inet_server_port() AS port').catch(() => undefined);
      }, { timeoutMs: 20_000 });
      assert.equal(before[0]?.port, node1.port);
      await through('CREATE TABLE hooked (id int, port int)');
      await through('INSERT INTO hooked SELECT 1, inet_server_port()');

      phase('pgbouncer serving');
      // 3. Crash of the primary: node2 takes over, its hook repoints pgbouncer.
      const crashedAt = performance.now();
      await node1.kill({ postgres: true });
      await waitForStates(m, { node2: 'wait_primary' }, { nodes, timeoutMs: 60_000 });
      const written = await waitFor('a write through pgbouncer to reach node2', async () => {
        const rows = await through<{ port: number }>('INSERT INTO hooked SELECT 2, inet_server_port() RETURNING port').catch(() => undefined);
        return rows?.[0]?.port === node2.port ? rows : undefined;
      }, { timeoutMs: 30_000, intervalMs: 250 });
      process.stderr.write(`writes through pgbouncer reached the new primary ${Math.round((performance.now() - crashedAt) / 1000)} s after the crash\n`);
      assert.equal(written[0]?.port, node2.port);
      const rows = await through<{ id: number; port: number }>('SELECT id, port FROM hooked ORDER BY id');
      assert.deepEqual(rows, [{ id: 1, port: node1.port }, { id: 2, port: node2.port }]);
      assert.equal(readFileSync(databasesFile, 'utf8'), `[databases]\npostgres = host=127.0.0.1 port=${node2.port} dbname=postgres\n`);
      assert.match(node2.output(), new RegExp(`Hook on_role_change: pgbouncer now sends postgres to 127\\.0\\.0\\.1:${node2.port} \\(role_change: stop_replication -> wait_primary\\)`));
      assert.match(node2.output(), /Hook on_role_change ".*pgbouncer-hook\.sh" for role_change "stop_replication" -> "wait_primary" exited with status 0/);
      // The states that are not writable leave pgbouncer alone.
      assert.match(node2.output(), /for role_change "secondary" -> "prepare_promotion" exited with status 0/);

      phase('failover checked');
      // 4. on_stop and on_start: pg_autoctl exits once its on_stop hook ended.
      const calls = join(dir, 'calls');
      const recorder = join(dir, 'recorder.sh');
      writeClusterFile(recorder, `#!/bin/sh\necho "$1 $2 $3 $PG_AUTOCTL_NODE_NAME [$PG_AUTOCTL_HOOK_REASON]" >> '${calls}'\nsleep 1\necho "$1 done" >> '${calls}'\n`, 0o755);
      await configSet(node2, 'hooks.on_stop', recorder);
      await configSet(node2, 'hooks.on_start', recorder);
      await node2.stop();
      phase('node2 stopped');
      assert.deepEqual(lines(calls), ['stop wait_primary wait_primary node2 [the service stopped]', 'stop done']);
      assert.match(node2.output(), /Hook on_stop ".*recorder\.sh" for stop in state "wait_primary" exited with status 0/);
      node2.run();
      await waitFor('the on_start hook', () => lines(calls).length === 4, { timeoutMs: 30_000 });
      phase('node2 started');
      assert.deepEqual(lines(calls).slice(2), ['start wait_primary wait_primary node2 []', 'start done']);
    });
  });
});
