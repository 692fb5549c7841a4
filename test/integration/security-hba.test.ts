/**
 * Issue 8 findings 1, 7, 9 and 12 on a real cluster (monitor + one node,
 * `--auth trust`): a host injected into the monitor's node table never
 * reaches pg_hba.conf while the other nodes' rules still do, other local
 * OS users cannot log in over the socket, the replication role is not a
 * superuser, and the health-check role is opened to `postgres` only.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { readPostmasterPid } from '../../src/postgres/data-dir.js';
import { IS_ROOT, pgBinDir, run, runCleanups, waitFor } from '../helpers/fixture.js';
import { dumpOnFailure, startMonitor, startSingle, type RunningMonitor, type RunningNode } from '../helpers/cluster.js';

after(runCleanups);

const INJECTION = '0.0.0.0/0 trust\nhost all all 0.0.0.0/0 trust #';

describe('security: pg_hba.conf and local authentication', { timeout: 300_000 }, () => {
  let monitor: RunningMonitor | undefined;
  const nodes: RunningNode[] = [];

  it('refuses injected hosts at the monitor and in the keeper, and trusts no other local user', async () => {
    monitor = await startMonitor();
    const m = monitor;
    await dumpOnFailure(m, () => nodes, async () => {
      const node1 = await startSingle(m, nodes);
      const hbaPath = join(node1.dirs.pgdata, 'pg_hba.conf');
      const hbaAtStart = readFileSync(hbaPath, 'utf8');

      // Finding 7: sockets use peer; host lines follow --auth (trust here).
      assert.match(hbaAtStart, /^local\s+all\s+all\s+peer\s*$/m);
      assert.doesNotMatch(hbaAtStart, /^local\s+\S+\s+\S+\s+trust/m);
      // Finding 12: the health-check role only for the postgres database.
      assert.match(hbaAtStart, /^host(ssl)? "postgres" "pgautofailover_monitor" 127\.0\.0\.1\/32 trust /m);
      assert.doesNotMatch(hbaAtStart, /^host(ssl)? all "pgautofailover_monitor"/m);
      // Finding 1: the replication role is not a superuser, and may run pg_rewind's functions.
      const [role] = await node1.sql<{ rolsuper: boolean; rolreplication: boolean }>(
        "SELECT rolsuper, rolreplication FROM pg_roles WHERE rolname = 'pgautofailover_replicator'");
      assert.deepEqual(role, { rolsuper: false, rolreplication: true });
      const [grant] = await node1.sql<{ ok: boolean }>(
        "SELECT has_function_privilege('pgautofailover_replicator', 'pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)', 'EXECUTE') AS ok");
      assert.equal(grant?.ok, true);

      // Finding 7: another local OS user is refused on the socket; pg_autoctl's account is let in.
      const socketDir = readPostmasterPid(node1.dirs.pgdata)?.socketDir ?? '';
      assert.notEqual(socketDir, '');
      const psql = [join(pgBinDir(), 'psql'), '-X', '-h', socketDir, '-p', String(node1.port), '-U', 'postgres', '-d', 'postgres', '-tAc', 'SELECT 1'];
      const own = await run(psql);
      assert.equal(own.stdout.trim(), '1', own.stderr);
      if (IS_ROOT) {
        const other = await run(['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--', ...psql], { asUser: false });
        assert.notEqual(other.exitCode, 0);
        assert.match(other.stderr, /Peer authentication failed for user "postgres"/);
      }

      // Finding 1, monitor side: autoctl_node cannot register the injected host.
      const keeperSession = new pg.Client({ host: '127.0.0.1', port: m.port, user: 'autoctl_node', database: 'pg_auto_failover' });
      await keeperSession.connect();
      try {
        await assert.rejects(keeperSession.query('SELECT * FROM pgautofailover.register_node($1, $2, $3, $4)', ['default', INJECTION, 5999, 'postgres']),
          /invalid node host/);
        await assert.rejects(keeperSession.query('SELECT * FROM pgautofailover.register_node($1, $2, $3, $4)', ['default', '0.0.0.0/0', 5999, 'postgres']),
          /invalid node host/);
      } finally {
        await keeperSession.end();
      }

      // Findings 1 and 9, keeper side: rows that bypassed the monitor's checks
      // (written by a superuser) are refused one by one, and the good host
      // next to them still gets its rules.
      const [node1Row] = await m.sql<{ sysidentifier: string }>("SELECT sysidentifier::text FROM pgautofailover.node WHERE nodename = 'node1'");
      await m.sql(`INSERT INTO pgautofailover.node (formationid, nodeid, groupid, nodename, nodehost, nodeport, sysidentifier, goalstate, reportedstate, candidatepriority)
        VALUES ('default', 901, 0, 'evil1', $1, 5999, $3, 'wait_standby', 'wait_standby', 0),
               ('default', 902, 0, 'evil2', '0.0.0.0/0', 5999, $3, 'wait_standby', 'wait_standby', 0),
               ('default', 903, 0, 'good', $2, 5999, $3, 'wait_standby', 'wait_standby', 0)`,
      [INJECTION, '127.0.0.5', node1Row?.sysidentifier]);
      await waitFor('the replication rules of the good host', () =>
        /^host(ssl)? replication "pgautofailover_replicator" 127\.0\.0\.5\/32 trust /m.test(readFileSync(hbaPath, 'utf8')), { timeoutMs: 30_000 });
      const hba = readFileSync(hbaPath, 'utf8');
      assert.equal(hba.includes('0.0.0.0'), false);
      assert.doesNotMatch(hba, /^host(ssl)? all all/m);
      assert.match(node1.output(), /Skipping the pg_hba\.conf rules for other node host "0\.0\.0\.0\/0 trust\\nhost all all 0\.0\.0\.0\/0 trust #"/);
      assert.equal(node1.output().split('Skipping the pg_hba.conf rules for other node host "0.0.0.0/0"').length - 1, 1, 'logged once');
      // Postgres loaded the file without errors.
      const errors = await node1.sql<{ n: string }>('SELECT count(*)::text AS n FROM pg_hba_file_rules WHERE error IS NOT NULL');
      assert.equal(errors[0]?.n, '0');
    });
  });
});
