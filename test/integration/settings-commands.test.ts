/**
 * The settings commands on a real four-node formation (a primary and three
 * standbys): number_sync_standbys, candidate priority and replication
 * quorum through `get|set`, the synchronous_standby_names the primary ends
 * up with, `show settings|standby-names|file|systemd`, and `config
 * get|set|check` on a keeper and on the monitor, bad input included.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { runCleanups, waitFor, type CommandResult } from '../helpers/fixture.js';
import {
  dumpOnFailure, startMonitor, startNode, startSingle, waitForStates, type RunningMonitor, type RunningNode,
} from '../helpers/cluster.js';

after(runCleanups);

/** A clear failure: non-zero exit, nothing on stdout, one ERROR/FATAL line on stderr that matches. */
function assertRefused(r: CommandResult, exitCode: number, message: RegExp): void {
  assert.equal(r.exitCode, exitCode, `exit code; stderr: ${r.stderr}`);
  assert.equal(r.stdout, '');
  const errors = r.stderr.split('\n').filter((l) => / (ERROR|FATAL) /.test(l));
  assert.equal(errors.length, 1, `one error line: ${r.stderr}`);
  assert.match(errors[0] ?? '', message);
}

function ok(r: CommandResult): string {
  assert.equal(r.exitCode, 0, `stderr: ${r.stderr}`);
  return r.stdout;
}

describe('settings commands', { timeout: 400_000 }, () => {
  it('sets and shows replication settings on a primary with three standbys, and edits configurations', async () => {
    const m: RunningMonitor = await startMonitor({ name: 'monitor-settings' });
    const nodes: RunningNode[] = [];
    await dumpOnFailure(m, () => nodes, async () => {
      const node1 = await startSingle(m, nodes);
      const standbys = await Promise.all(['node2', 'node3', 'node4'].map((name) => startNode(m, name)));
      nodes.push(...standbys);
      await waitForStates(m, { node1: 'primary', node2: 'secondary', node3: 'secondary', node4: 'secondary' }, { nodes, timeoutMs: 150_000 });
      const [node2, node3, node4] = standbys;
      assert.ok(node2 && node3 && node4);
      const ids = new Map((await m.sql<{ nodename: string; nodeid: string }>('SELECT nodename, nodeid::text FROM pgautofailover.node'))
        .map((r) => [r.nodename, r.nodeid]));
      const slot = (name: string): string => `pgautofailover_standby_${ids.get(name) ?? '?'}`;
      const primaryNames = async (): Promise<string> =>
        (await node1.sql<{ s: string }>("SELECT current_setting('synchronous_standby_names') AS s"))[0]?.s ?? '';

      // --- number_sync_standbys 2 on three quorum standbys.
      // The monitor raised it from 0 to 1 when the formation got its second standby (as 2.0 does).
      const nss = (await m.sql<{ n: number }>('SELECT number_sync_standbys AS n FROM pgautofailover.formation WHERE formationid = $1', ['default']))[0]?.n;
      assert.equal(ok(await node1.cli(['get', 'formation', 'number-sync-standbys'])), `${nss}\n`);
      const set2 = await node1.cli(['set', 'formation', 'number-sync-standbys', '2', '--json'], { timeoutMs: 90_000 });
      // Equal priorities: by node id (the standbys registered concurrently, in any order).
      const byId = (names: string[]): string => names.sort((a, b) => Number(ids.get(a)) - Number(ids.get(b))).map(slot).join(', ');
      const all3 = `ANY 2 (${byId(['node2', 'node3', 'node4'])})`;
      assert.deepEqual(JSON.parse(ok(set2)), { 'number-sync-standbys': 2, synchronous_standby_names: all3 });
      assert.match(set2.stderr, /Waiting for the settings to have been applied/);
      assert.ok(set2.stderr.includes(`primary node has now set synchronous_standby_names = '${all3}'`), set2.stderr);
      await waitFor('the primary to apply synchronous_standby_names', async () => (await primaryNames()) === all3, { timeoutMs: 20_000 });
      assert.equal(ok(await node2.cli(['show', 'standby-names'])), `'${all3}'\n`);
      assert.deepEqual(JSON.parse(ok(await m.cli(['show', 'standby-names', '--json']))), { formation: 'default', group: 0, synchronous_standby_names: all3 });
      assert.equal(ok(await node3.cli(['get', 'formation', 'number-sync-standbys', '--json'])), '{\n    "number-sync-standbys": 2\n}\n');
      const settings = ok(await m.cli(['show', 'settings'])).split('\n');
      assert.match(settings[2] ?? '', /^formation \| default \| {6}number_sync_standbys \| 2 +$/);
      assert.equal(settings[3]?.trimEnd(), `  primary |   node1 | synchronous_standby_names | '${all3}'`);
      assert.equal(settings.filter((l) => l.includes('candidate priority')).length, 4);
      const settingsJson = JSON.parse(ok(await node1.cli(['get', 'formation', 'settings', '--json']))) as Record<string, unknown[]>;
      assert.deepEqual(Object.keys(settingsJson), ['nodes', 'primary', 'formation']);
      assert.equal(settingsJson.nodes?.length, 8);

      // --- refusals: nothing changes.
      assertRefused(await node1.cli(['set', 'formation', 'number-sync-standbys', '3']), 6,
        /invalid value for number_sync_standbys: 3 At least 4 standby nodes are required, and only 3 are currently participating in the replication quorum\./);
      assertRefused(await node1.cli(['set', 'node', 'replication-quorum', '--name', 'node4', 'false']), 6,
        /can't set replication quorum to false/);
      assertRefused(await node1.cli(['set', 'formation', 'number-sync-standbys', '-1']), 1,
        /number-sync-standbys value -1 is not valid\. Expected a non-negative integer value\./);
      assertRefused(await node1.cli(['set', 'node', 'candidate-priority', '101']), 1,
        /candidate-priority value 101 is not valid\. Valid values are integers from 0 to 100\./);
      assertRefused(await node1.cli(['set', 'node', 'replication-quorum', 'maybe']), 1,
        /replication-quorum value maybe is not valid\. Valid values are "true" or "false"\./);
      assertRefused(await node1.cli(['set', 'node', 'candidate-priority', '10', '20']), 1, /got 2 when 1 is expected/);
      assertRefused(await node1.cli(['get', 'node', 'candidate-priority', '--name', 'nosuchnode']), 6,
        /node "nosuchnode" is not registered in formation "default"/);
      assertRefused(await node1.cli(['set', 'node', 'candidate-priority', '--name', 'nosuchnode', '10']), 6,
        /node "nosuchnode" is not registered in formation "default"/);
      assertRefused(await node1.cli(['get', 'formation', 'number-sync-standbys', '--formation', 'nosuch']), 6, /formation "nosuch"/);
      assertRefused(await node1.cli(['set', 'formation', 'number-sync-standbys', '--formation', 'nosuch', '1']), 6, /formation "nosuch" does not exist/);
      assertRefused(await m.cli(['show', 'settings', '--formation', 'nosuch']), 6, /formation "nosuch" does not exist/);
      assertRefused(await m.cli(['get', 'node', 'candidate-priority']), 1, /Please use --name to target a specific node/);
      assert.equal(ok(await node1.cli(['get', 'formation', 'number-sync-standbys'])), '2\n');
      assert.equal(ok(await node4.cli(['get', 'node', 'replication-quorum'])), 'true\n');
      assert.equal(await primaryNames(), all3);

      // --- back to one sync standby, node4 out of the quorum, node3 first by priority.
      assert.equal(ok(await node1.cli(['set', 'formation', 'number-sync-standbys', '1'], { timeoutMs: 90_000 })), '1\n');
      assert.equal(ok(await node1.cli(['set', 'node', 'replication-quorum', '--name', 'node4', 'false'], { timeoutMs: 90_000 })), 'false\n');
      assert.equal(ok(await node4.cli(['get', 'node', 'replication-quorum'])), 'false\n');
      assert.deepEqual(JSON.parse(ok(await node1.cli(['get', 'node', 'replication-quorum', '--name', 'node4', '--json']))),
        { name: 'node4', 'replication-quorum': false });
      const set90 = await node3.cli(['set', 'node', 'candidate-priority', '90', '--json'], { timeoutMs: 90_000 });
      assert.deepEqual(JSON.parse(ok(set90)), { 'candidate-priority': 90 });
      assert.equal(ok(await node3.cli(['get', 'node', 'candidate-priority'])), '90\n');
      assert.equal(ok(await m.cli(['get', 'node', 'candidate-priority', '--name', 'node2'])), '50\n');
      const two = `ANY 1 (${slot('node3')}, ${slot('node2')})`;
      await waitFor('the primary to apply the new order', async () => (await primaryNames()) === two, { timeoutMs: 20_000 });
      assert.equal(ok(await node1.cli(['show', 'standby-names'])), `'${two}'\n`);
      const shown = ok(await node1.cli(['show', 'settings']));
      assert.match(shown, / {5}node \| {3}node3 \| {8}candidate priority \| 90 /);
      assert.match(shown, / {5}node \| {3}node4 \| {8}replication quorum \| false/);

      // --- show file and show systemd.
      const files = ok(await node2.cli(['show', 'file'])).split('\n');
      assert.deepEqual(files.slice(0, 2), ['   File | Path', '--------+----------------']);
      assert.deepEqual(files.slice(2, 6).map((l) => l.split(' | ')[0]), [' Config', '  State', '   Init', '    Pid']);
      const configPath = ok(await node2.cli(['show', 'file', '--config'])).trim();
      assert.equal(ok(await node2.cli(['show', 'file', '--config', '--contents'])), `${readFileSync(configPath, 'utf8')}\n`);
      assert.match(ok(await node2.cli(['show', 'file', '--state', '--contents'])), /^Current Role: {13}secondary\nAssigned Role: {12}secondary\n/);
      const pidJson = JSON.parse(ok(await node2.cli(['show', 'file', '--pid', '--contents', '--json']))) as { pid: number; services: Array<{ name: string }> };
      assert.equal(pidJson.pid, node2.proc.pid);
      assertRefused(await node2.cli(['show', 'file', '--init', '--contents']), 3, /init file/);
      assertRefused(await node2.cli(['show', 'file', '--config', '--pid']), 1, /Please use only one of --config --state --init --pid/);
      assert.deepEqual(Object.keys(JSON.parse(ok(await m.cli(['show', 'file', '--json']))) as object), ['config', 'pid']);
      assertRefused(await m.cli(['show', 'file', '--state']), 1, /A monitor has no state file/);
      const unit = ok(await node2.cli(['-q', 'show', 'systemd']));
      assert.match(unit, new RegExp(`^\\[Unit\\]\nDescription = pg_auto_failover\n\n\\[Service\\]\nWorkingDirectory = .+\nEnvironment = 'PGDATA=${node2.dirs.pgdata}'\nUser = .+\nExecStart = /.+ run\nRestart = always\nStartLimitBurst = 0\nExecReload = /.+ reload\n\n\\[Install\\]\nWantedBy = multi-user.target\n$`));

      // --- config on a keeper: get, check, bad set (file unchanged), a reloadable key taking effect.
      const keeperConfig = ok(await node2.cli(['config', 'get']));
      assert.match(keeperConfig, /^\[pg_autoctl\]\nrole = keeper\n/);
      assert.match(keeperConfig, /\nhost = \/.+\n/);
      assert.ok(keeperConfig.endsWith('\n\n'));
      assert.equal(ok(await node2.cli(['config', 'get', 'pg_autoctl.name'])), 'node2\n');
      assert.equal(ok(await node2.cli(['config', 'get', 'postgresql.port', '--json'])), `${node2.port}\n`);
      const configJson = JSON.parse(ok(await node2.cli(['config', 'get', '--json']))) as Record<string, Record<string, unknown>>;
      assert.equal(configJson.postgresql?.port, node2.port);
      const check = ok(await node2.cli(['config', 'check']));
      assert.match(check, new RegExp(`^pgdata: {16}${node2.dirs.pgdata}\n`));
      assert.match(check, /\nis in recovery: {8}yes\n/);
      assert.match(check, /\nPostmaster status: {5}ready\n$/);
      const fileBefore = readFileSync(configPath, 'utf8');
      assertRefused(await node2.cli(['config', 'set', 'timeout.network_partition_timeout', 'soon']), 1,
        /Failed to parse timeout.network_partition_timeout's value "soon" as a number/);
      assertRefused(await node2.cli(['config', 'set', 'timeout.nosuchkey', '10']), 1, /Failed to lookup option timeout.nosuchkey/);
      assertRefused(await node2.cli(['config', 'get', 'nosuch.key']), 1, /Failed to lookup option nosuch.key/);
      assertRefused(await node2.cli(['config', 'set', 'pg_autoctl.name']), 1, /Two arguments are expected, found 1/);
      assertRefused(await node2.cli(['config', 'set', 'ssl.sslmode', 'sometimes']), 1, /ssl.sslmode/);
      assertRefused(await node2.cli(['config', 'set', 'postgresql.pg_ctl', '/nonexistent/pg_ctl']), 2, /pg_ctl/);
      assert.equal(readFileSync(configPath, 'utf8'), fileBefore);
      assert.equal(ok(await node2.cli(['config', 'set', 'timeout.network_partition_timeout', '25'])), '25\n');
      assert.match(readFileSync(configPath, 'utf8'), /\nnetwork_partition_timeout = 25\n/);
      await waitFor('the keeper to reload network_partition_timeout', () =>
        node2.output().includes('timeout.network_partition_timeout is now "25"'), { timeoutMs: 20_000 });
      // A reloadable key with a visible effect: the new node name reaches the monitor.
      assert.equal(ok(await node2.cli(['config', 'set', 'pg_autoctl.name', 'node2b'])), 'node2b\n');
      await waitFor('the monitor to know node2 as node2b', async () =>
        (await m.sql<{ n: string }>('SELECT nodename AS n FROM pgautofailover.node WHERE nodeid = $1', [ids.get('node2')]))[0]?.n === 'node2b',
      { timeoutMs: 30_000 });

      // --- set node metadata: the new name on the monitor and in the keeper's configuration.
      assertRefused(await node3.cli(['set', 'node', 'metadata']), 1, /Please use at least one of --name, --hostname, or --pgport/);
      const metadata = JSON.parse(ok(await node3.cli(['set', 'node', 'metadata', '--name', 'node3m', '--json']))) as Record<string, Record<string, unknown>>;
      assert.equal(metadata.pg_autoctl?.name, 'node3m');
      assert.equal(ok(await node3.cli(['config', 'get', 'pg_autoctl.name'])), 'node3m\n');
      assert.equal((await m.sql<{ n: string }>('SELECT nodename AS n FROM pgautofailover.node WHERE nodeid = $1', [ids.get('node3')]))[0]?.n, 'node3m');
      assert.equal(ok(await m.cli(['get', 'node', 'candidate-priority', '--name', 'node3m'])), '90\n');

      // --- run --name: the new name reaches the monitor and the configuration before the service starts.
      await node3.stop();
      const rerun = node3.run(['--name', 'node3r']);
      await waitFor('node3 renamed node3r by run --name', async () =>
        (await m.sql<{ n: string }>('SELECT nodename AS n FROM pgautofailover.node WHERE nodeid = $1', [ids.get('node3')]))[0]?.n === 'node3r',
      { timeoutMs: 30_000 });
      assert.equal(ok(await node3.cli(['config', 'get', 'pg_autoctl.name'])), 'node3r\n');
      await waitFor('run --name to log the change', () => /Node name is now "node3r", used to be "node3m"/.test(rerun.output()), { timeoutMs: 10_000 });

      // --- config on the monitor.
      const monitorConfig = ok(await m.cli(['config', 'get']));
      assert.match(monitorConfig, /^\[pg_autoctl\]\nrole = monitor\nhostname = 127.0.0.1\n\n\[postgresql\]\n/);
      assert.equal(ok(await m.cli(['config', 'get', 'postgresql.dbname'])), 'pg_auto_failover\n');
      assert.match(ok(await m.cli(['config', 'check'])), new RegExp(`^pgdata: {16}${m.dirs.pgdata}\n`));
      assertRefused(await m.cli(['config', 'set', 'postgresql.port', 'high']), 1, /as a number/);
      assertRefused(await m.cli(['config', 'set', 'pg_autoctl.monitor', 'x']), 1, /Failed to lookup option pg_autoctl.monitor/);
      const hups = (): number => m.proc.output().split('received a SIGHUP signal').length;
      const before = hups();
      assert.equal(ok(await m.cli(['config', 'set', 'pg_autoctl.hostname', '127.0.0.1'])), '127.0.0.1\n');
      await waitFor('the monitor to reload its configuration', () => hups() > before, { timeoutMs: 20_000 });
    });
  });
});
