/**
 * `pg_autoctl do fsm step` on a real monitor and node: refused while the
 * node's service runs; once it is stopped (Postgres stopped with it), one
 * keeper round reports to the monitor, starts Postgres, which keeps
 * running after the command, and prints `single ➜ single`; the service
 * then starts again on top of it. `do fsm nodes get|set` are refused on a
 * node with a monitor; once it is disabled, the step is refused and the
 * nodes file set there gives the running keeper its other nodes (their
 * pg_hba.conf rules). Help of the three new commands.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pidAlive, runCleanups, waitFor, writeClusterFile } from '../helpers/fixture.js';
import {
  dumpOnFailure, postmasterPid, startMonitor, startSingle, waitForStates, type RunningMonitor, type RunningNode,
} from '../helpers/cluster.js';

after(runCleanups);

const DEBUG = { PG_AUTOCTL_DEBUG: '1' };

describe('pg_autoctl do fsm step', { timeout: 180_000 }, () => {
  it('runs one keeper round on a stopped node, never beside its service', async () => {
    const m: RunningMonitor = await startMonitor({ name: 'monitor-step' });
    const nodes: RunningNode[] = [];
    await dumpOnFailure(m, () => nodes, async () => {
      for (const words of [['step'], ['nodes', 'get'], ['nodes', 'set']]) {
        const help = await m.cli(['do', 'fsm', ...words, '--help'], { env: DEBUG });
        assert.equal(help.exitCode, 0, help.stderr);
        assert.match(help.stdout, new RegExp(`^Usage: pg_autoctl do fsm ${words.join(' ')} \\[options\\]`));
      }
      const node1 = await startSingle(m, nodes);
      const pidFile = join(node1.dirs.env.XDG_RUNTIME_DIR ?? '', 'pg_autoctl', node1.dirs.pgdata, 'pg_autoctl.pid');
      assert.ok(existsSync(pidFile), pidFile);

      // Two keepers never act on one node at once.
      const refused = await node1.cli(['do', 'fsm', 'step'], { env: DEBUG });
      assert.equal(refused.exitCode, 3, refused.stderr);
      assert.equal(refused.stdout, '');
      assert.match(refused.stderr, new RegExp(`pg_autoctl is running for ".*" with pid ${node1.proc.pid} .*stop the service first`));

      // The nodes file is for nodes running without a monitor.
      for (const words of [['get'], ['set', '/nonexistent.json']]) {
        const r = await node1.cli(['do', 'fsm', 'nodes', ...words], { env: DEBUG });
        assert.equal(r.exitCode, 2, r.stderr);
        assert.match(r.stderr, /The monitor is not disabled, there's no nodes file/);
      }

      const stop = await node1.cli(['stop']);
      assert.equal(stop.exitCode, 0, stop.stderr);
      await node1.proc.wait(60_000);
      assert.equal(await postmasterPid(node1.dirs.pgdata), null, 'pg_autoctl stop stops Postgres');

      const stepped = await node1.cli(['do', 'fsm', 'step'], { env: DEBUG, timeoutMs: 90_000 });
      assert.equal(stepped.exitCode, 0, stepped.stderr);
      assert.equal(stepped.stdout, 'single ➜ single\n');
      assert.equal(existsSync(pidFile), false, 'the step releases the pid file');
      // The step started Postgres (the single's state wants it running); it outlives the command.
      const pg = await postmasterPid(node1.dirs.pgdata);
      assert.ok(pg !== null && pidAlive(pg), 'Postgres runs after the step');
      assert.deepEqual(await node1.sql('SELECT 1 AS one'), [{ one: 1 }]);
      const row = await node1.row();
      assert.equal(row?.reportedstate, 'single');

      // --json: 2.0's warning, same output.
      const json = await node1.cli(['do', 'fsm', 'step', '--json'], { env: DEBUG, timeoutMs: 90_000 });
      assert.equal(json.exitCode, 0, json.stderr);
      assert.equal(json.stdout, 'single ➜ single\n');
      assert.match(json.stderr, /This command does not support JSON output at the moment/);
      assert.equal(await postmasterPid(node1.dirs.pgdata), pg, 'the second step keeps the same Postgres');

      // The service starts again on top of it, adopting that Postgres.
      node1.run();
      await waitFor('the service to write its pid file', () => existsSync(pidFile), { timeoutMs: 30_000 });
      await waitForStates(m, { node1: 'single' }, { nodes });
      assert.equal(await postmasterPid(node1.dirs.pgdata), pg);
      assert.equal((await node1.cli(['do', 'fsm', 'step'], { env: DEBUG })).exitCode, 3);

      // Without a monitor: no step; the nodes file feeds the keeper's other nodes (HBA rules).
      const id = Number((await node1.row())?.nodeid);
      const disabled = await node1.cli(['disable', 'monitor', '--force'], { timeoutMs: 60_000 });
      assert.equal(disabled.exitCode, 0, disabled.stderr);
      await waitFor('node1 to reload', () => node1.output().includes('The monitor is now disabled'), { timeoutMs: 20_000 });
      const noStep = await node1.cli(['do', 'fsm', 'step'], { env: DEBUG });
      assert.equal(noStep.exitCode, 2, noStep.stderr);
      assert.match(noStep.stderr, /FATAL +The command `pg_autoctl do fsm step` is meant to step as instructed by the monitor, and the monitor is disabled\.\n.*INFO +HINT: see `pg_autoctl do fsm assign` instead/);
      const none = await node1.cli(['do', 'fsm', 'nodes', 'get'], { env: DEBUG });
      assert.equal(none.exitCode, 0, none.stderr);
      assert.equal(none.stdout, 'Name | Node | Host:Port |              TLI: LSN | Primary?\n-+--+--+-   -------------------+---------\n\n');
      const input = join(node1.dirs.root, 'nodes-input.json');
      writeClusterFile(input, JSON.stringify([
        { node_id: id, node_name: 'node1', node_host: '127.0.0.1', node_port: node1.port, node_lsn: '0/0', node_is_primary: true },
        { node_id: id + 10, node_name: 'node9', node_host: '127.0.0.2', node_port: 5999, node_lsn: '0/3000060', node_is_primary: false },
      ]));
      const set = await node1.cli(['do', 'fsm', 'nodes', 'set', input], { env: DEBUG });
      assert.equal(set.exitCode, 0, set.stderr);
      assert.match(set.stdout, new RegExp(`^ *Name \\| +Node \\| +Host:Port \\| +TLI: LSN \\| Primary\\?\\n.*\\n *node9 \\| +${id + 10} \\| 127\\.0\\.0\\.2:5999 \\| +0: 0/3000060 \\| +no\\n\\n$`));
      const listed = await node1.cli(['do', 'fsm', 'nodes', 'get', '--json'], { env: DEBUG });
      assert.deepEqual((JSON.parse(listed.stdout) as { node_id: number }[]).map((n) => n.node_id), [id, id + 10]);
      await waitFor('the keeper to read the nodes file', () => node1.output().includes('Read 1 other node(s) from the nodes file'), { timeoutMs: 20_000 });
      await waitFor('pg_hba.conf rules for 127.0.0.2', () => readFileSync(join(node1.dirs.pgdata, 'pg_hba.conf'), 'utf8').includes('127.0.0.2'), { timeoutMs: 20_000 });
    });
  });
});
