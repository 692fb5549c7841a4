/**
 * Adopting an existing data directory (spec 06 §9, spec 05 §4.4): a
 * cluster made by initdb and loaded with psql, then stopped, becomes the
 * first node with its data (`create` without --run, then `run`); a new
 * standby receives the data by base backup.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort, makeTempDir, pgBinDir, run, runCleanups, waitFor } from '../helpers/fixture.js';
import {
  dumpOnFailure, startMonitor, startNode, waitForStates, type RunningMonitor, type RunningNode,
} from '../helpers/cluster.js';

after(runCleanups);

const NODE_ARGS = ['--auth', 'trust', '--ssl-self-signed', '--dbname', 'appdb'];

/** initdb, start, load rows with psql, stop: a cluster to adopt. */
async function makeLoadedCluster(): Promise<{ pgdata: string; rows: number }> {
  const bin = pgBinDir();
  const root = makeTempDir('pgaf-adopt-');
  const pgdata = join(root, 'data');
  const port = await freePort();
  const ok = async (argv: string[], what: string): Promise<string> => {
    const r = await run(argv, { timeoutMs: 120_000 });
    assert.equal(r.exitCode, 0, `${what} failed: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  await ok([join(bin, 'initdb'), '-D', pgdata, '--auth=trust', '-E', 'UTF8', '--no-sync'], 'initdb');
  await ok([join(bin, 'pg_ctl'), '-D', pgdata, '-l', join(root, 'load.log'), '-w', '-t', '60',
    '-o', `-c port=${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${root}`, 'start'], 'pg_ctl start');
  try {
    const psql = [join(bin, 'psql'), '-X', '-v', 'ON_ERROR_STOP=1', '-h', root, '-p', String(port)];
    await ok([...psql, '-d', 'postgres', '-c', 'CREATE DATABASE appdb'], 'create database');
    await ok([...psql, '-d', 'appdb', '-c',
      'CREATE TABLE orders (id int PRIMARY KEY, item text); INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, 5000) g;'],
    'load data');
  } finally {
    await ok([join(bin, 'pg_ctl'), '-D', pgdata, '-m', 'fast', '-w', 'stop'], 'pg_ctl stop');
  }
  return { pgdata, rows: 5000 };
}

describe('keeper: adopting an existing data directory', { timeout: 300_000 }, () => {
  let monitor: RunningMonitor | undefined;
  const nodes: RunningNode[] = [];

  it('adopts a stopped cluster as the primary, with its data, and builds a standby from it', async () => {
    monitor = await startMonitor();
    const m = monitor;
    const cluster = await makeLoadedCluster();
    await dumpOnFailure(m, () => nodes, async () => {
      const node1 = await startNode(m, 'node1', { pgdata: cluster.pgdata, extraArgs: NODE_ARGS, run: false });
      nodes.push(node1);
      const code = await node1.proc.wait(180_000);
      assert.equal(code, 0, 'create postgres without --run exits 0 once the node is initialised');
      assert.match(node1.output(), /Found a stopped PostgreSQL cluster/);
      assert.ok(!existsSync(join(cluster.pgdata, 'postmaster.pid')), 'create without --run leaves Postgres stopped');

      node1.run();
      await waitForStates(m, { node1: 'single' }, { nodes });
      const count = await waitFor('node1 to accept connections',
        () => node1.sql<{ n: string }>('SELECT count(*)::text AS n FROM orders', [], 'appdb'), { timeoutMs: 30_000 });
      assert.equal(Number(count[0]?.n), cluster.rows);

      const node2 = await startNode(m, 'node2', { extraArgs: NODE_ARGS });
      nodes.push(node2);
      await waitForStates(m, { node1: 'primary', node2: 'secondary' }, { nodes, timeoutMs: 90_000 });
      await waitFor('the adopted data on the standby', async () => {
        const r = await node2.sql<{ n: string }>('SELECT count(*)::text AS n FROM orders', [], 'appdb');
        return Number(r[0]?.n) === cluster.rows;
      }, { timeoutMs: 30_000 });
    });
  });
});
