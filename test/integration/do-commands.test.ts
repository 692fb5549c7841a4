/**
 * `pg_autoctl do ...` on a real monitor, primary and standby: hidden
 * without PG_AUTOCTL_DEBUG; `do fsm state` JSON as the original's test
 * suite reads it; `do pgsetup ready|wait` exit codes; `do monitor get ...`;
 * `do service getpid|restart postgres`; `do fsm list|assign`.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCleanups, waitFor } from '../helpers/fixture.js';
import {
  dumpOnFailure, postmasterPid, startMonitor, startPrimaryAndStandby, type RunningMonitor, type RunningNode,
} from '../helpers/cluster.js';

after(runCleanups);

const DEBUG = { PG_AUTOCTL_DEBUG: '1' };

interface FsmState {
  postgres: { pgdata: string; pid: number; port: number; in_recovery: boolean; postmaster: { status: string }; control: { system_identifier: string } };
  state: { current_role: string; assigned_role: string; nodeId: number; groupId: number; last_monitor_contact: string };
}

function stateFile(node: RunningNode): string {
  return join(node.dirs.env.XDG_DATA_HOME ?? '', 'pg_autoctl', node.dirs.pgdata, 'pg_autoctl.state');
}

describe('pg_autoctl do', { timeout: 240_000 }, () => {
  it('serves the debug tree the original test suite uses', async () => {
    const m: RunningMonitor = await startMonitor({ name: 'monitor-do' });
    const nodes: RunningNode[] = [];
    await dumpOnFailure(m, () => nodes, async () => {
      const [node1, node2] = await startPrimaryAndStandby(m, nodes);

      // Hidden and refused without PG_AUTOCTL_DEBUG; shown when set, even empty.
      const hidden = await node1.cli(['do', 'fsm', 'state']);
      assert.equal(hidden.exitCode, 1);
      assert.match(hidden.stderr, /pg_autoctl: do: unknown command/);
      assert.equal(hidden.stdout, '');
      assert.doesNotMatch((await node1.cli(['help'])).stdout, /^ {2}\+ do /m);
      assert.match((await node1.cli(['help'], { env: { PG_AUTOCTL_DEBUG: '' } })).stdout, /^ {2}\+ do +Internal commands and internal QA tooling$/m);

      // show state --local: the node's own files and Postgres, no monitor.
      const local1 = await node1.cli(['show', 'state', '--local']);
      assert.equal(local1.exitCode, 0, local1.stderr);
      assert.match(local1.stdout, /^ *node1 \| +\d+ \| 127\.0\.0\.1:\d+ \| +1: 0\/[0-9A-F]+ \| +read-write \? \| +primary \| +primary$/m);
      const localJson = JSON.parse((await node2.cli(['show', 'state', '--local', '--json'])).stdout) as Record<string, unknown>;
      assert.equal(localJson.nodename, 'node2');
      assert.equal(localJson.current_group_state, 'secondary');
      assert.equal(localJson.reachable, 'unknown');
      assert.equal(localJson.conntype, 'read-only');
      assert.match(String(localJson['Minimum Recovery Ending LSN']), /^[0-9A-F]+\/[0-9A-F]+$/);
      const onMonitor = await m.cli(['show', 'state', '--local']);
      assert.equal(onMonitor.exitCode, 6);
      assert.match(onMonitor.stderr, /pg_autoctl show state --local is not supported on a monitor/);
      assert.equal((await node1.cli(['show', 'state', '--local', '--group', '3'])).exitCode, 2);

      // do fsm state: `-vv` before `do`, as the suite's get_local_state() runs it.
      const rows = await m.sql<{ nodename: string; nodeid: string }>('SELECT nodename, nodeid::text FROM pgautofailover.node');
      const idOf = (name: string): number => Number(rows.find((r) => r.nodename === name)?.nodeid);
      const s1 = await node1.cli(['-vv', 'do', 'fsm', 'state', '--pgdata', node1.dirs.pgdata], { env: DEBUG });
      assert.equal(s1.exitCode, 0, s1.stderr);
      const st1 = JSON.parse(s1.stdout) as FsmState;
      assert.equal(st1.state.nodeId, idOf('node1'));
      assert.equal(st1.state.current_role, 'primary');
      assert.equal(st1.state.assigned_role, 'primary');
      assert.equal(st1.state.groupId, 0);
      assert.match(st1.state.last_monitor_contact, /^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$/);
      assert.equal(st1.postgres.pgdata, node1.dirs.pgdata);
      assert.equal(st1.postgres.port, node1.port);
      assert.equal(st1.postgres.pid, await postmasterPid(node1.dirs.pgdata));
      assert.equal(st1.postgres.postmaster.status, 'ready');
      assert.equal(st1.postgres.in_recovery, false);
      assert.match(st1.postgres.control.system_identifier, /^\d{10,}$/);
      const st2 = JSON.parse((await node2.cli(['do', 'fsm', 'state'], { env: DEBUG })).stdout) as FsmState;
      assert.equal(st2.state.nodeId, idOf('node2'));
      assert.equal(st2.state.current_role, 'secondary');
      assert.equal(st2.postgres.in_recovery, true);
      assert.equal(st2.postgres.control.system_identifier, st1.postgres.control.system_identifier);
      // On the monitor there is no keeper state: a configuration error (exit 2).
      assert.equal((await m.cli(['do', 'fsm', 'state'], { env: DEBUG })).exitCode, 2);

      // do pgsetup ready / wait, with the suite's -vvv.
      const ready = await node1.cli(['do', 'pgsetup', 'ready', '-vvv'], { env: DEBUG });
      assert.equal(ready.exitCode, 0, ready.stderr);
      assert.match(ready.stderr, /Postgres status is: "ready"/);
      assert.equal((await m.cli(['do', 'pgsetup', 'ready'], { env: DEBUG })).exitCode, 0);

      // do monitor get ...
      const primary = await node2.cli(['do', 'monitor', 'get', 'primary'], { env: DEBUG });
      assert.equal(primary.stdout, `default/0 127.0.0.1:${node1.port}\n`, primary.stderr);
      const primaryJson = JSON.parse((await node2.cli(['do', 'monitor', 'get', 'primary', '--json'], { env: DEBUG })).stdout) as Record<string, unknown>;
      assert.deepEqual(primaryJson, { formation: 'default', groupId: 0, nodeId: idOf('node1'), name: 'node1', host: '127.0.0.1', port: node1.port });
      const others = await node2.cli(['do', 'monitor', 'get', 'others'], { env: DEBUG });
      const otherLines = others.stdout.split('\n');
      assert.match(otherLines[0] ?? '', /^ {0,}Name \| +Node \| +Host:Port \| +TLI: LSN \| Primary\?$/);
      assert.match(otherLines[2] ?? '', new RegExp(`^ *node1 \\| +${idOf('node1')} \\| 127\\.0\\.0\\.1:${node1.port} \\| +1: \\d+/[0-9A-F]+ \\| +yes$`));
      const othersJson = JSON.parse((await node2.cli(['do', 'monitor', 'get', 'others', '--json'], { env: DEBUG })).stdout) as Array<Record<string, unknown>>;
      assert.deepEqual(othersJson.map((n) => [n.node_id, n.node_name, n.node_port, n.node_is_primary]), [[idOf('node1'), 'node1', node1.port, true]]);
      assert.equal((await node1.cli(['do', 'monitor', 'get', 'candidate-count'], { env: DEBUG })).stdout, '1\n');

      // do fsm list: the transitions from primary.
      const list = await node1.cli(['do', 'fsm', 'list'], { env: DEBUG });
      assert.match(list.stdout, /^ +Current \| +Reachable \| Comment$/m);
      assert.match(list.stdout, /^ +primary \| +draining \| /m);
      assert.doesNotMatch(list.stdout, /^ +secondary \|/m);

      // do service getpid / restart postgres, on the standby.
      const before = await postmasterPid(node2.dirs.pgdata);
      const getpid = await node2.cli(['do', 'service', 'getpid', 'postgres'], { env: DEBUG });
      assert.equal(getpid.stdout, `${before}\n`, getpid.stderr);
      const restarted = await node2.cli(['do', 'service', 'restart', 'postgres'], { env: DEBUG, timeoutMs: 90_000 });
      assert.equal(restarted.exitCode, 0, restarted.stderr);
      const newPid = Number(restarted.stdout.trim());
      assert.notEqual(newPid, before);
      const waited = await node2.cli(['do', 'pgsetup', 'wait', '-vvv'], { env: DEBUG, timeoutMs: 60_000 });
      assert.equal(waited.exitCode, 0, waited.stderr);
      assert.equal(await postmasterPid(node2.dirs.pgdata), newPid);
      await waitFor('node2 back in sync', async () => {
        const r = await node1.sql<{ n: string }>('SELECT count(*)::text AS n FROM pg_stat_replication WHERE state = \'streaming\'');
        return r[0]?.n === '1';
      }, { timeoutMs: 60_000 });

      // Stopped: ready answers 4 (PGSQL) at once; assign to the current role
      // returns at once; an unknown state is refused and changes nothing.
      await node2.stop();
      const notReady = await node2.cli(['do', 'pgsetup', 'ready'], { env: DEBUG });
      assert.equal(notReady.exitCode, 4);
      assert.match(notReady.stderr, /Postgres status is: "unknown"/);
      // show state --local with Postgres stopped: TLI and LSN from pg_controldata.
      const localStopped = await node2.cli(['show', 'state', '--local']);
      assert.equal(localStopped.exitCode, 0, localStopped.stderr);
      assert.match(localStopped.stdout, /^ *node2 \| .* \| +1: 0\/[0-9A-F]+ \| /m);
      const before2 = readFileSync(stateFile(node2), 'utf8');
      const bad = await node2.cli(['do', 'fsm', 'assign', 'no_such_state'], { env: DEBUG });
      assert.equal(bad.exitCode, 1);
      assert.equal(readFileSync(stateFile(node2), 'utf8'), before2);
      const assigned = await node2.cli(['do', 'fsm', 'assign', 'secondary'], { env: DEBUG });
      assert.equal(assigned.exitCode, 0, assigned.stderr);
      assert.equal((JSON.parse(assigned.stdout) as FsmState).state.assigned_role, 'secondary');
    });
  });
});
