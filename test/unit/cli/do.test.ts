/** `pg_autoctl do ...`: registration behind PG_AUTOCTL_DEBUG and the renderings (src/cli/render/do.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { registerDoCommands, debugEnabled } from '../../../src/cli/commands/do.js';
import type { KeeperStateView } from '../../../src/cli/do/fsm.js';
import type { PgSetup } from '../../../src/cli/do/pgsetup.js';
import {
  candidateCountRendering, ctimeOf, graphvizRendering, keeperStateRendering, otherNodesRendering, pgSetupRendering,
  primaryRendering, transitionsRendering,
} from '../../../src/cli/render/do.js';
import { helpTree } from '../../../src/cli/program.js';
import { AutoctlCommand } from '../../../src/cli/tree.js';
import { initialKeeperState } from '../../../src/config/index.js';
import { KEEPER_TRANSITIONS } from '../../../src/fsm/index.js';

const setup: PgSetup = {
  pgdata: '/tmp/node1', pgCtl: '/usr/lib/postgresql/15/bin/pg_ctl', version: '15.5', host: '', port: 5432, proxyport: 0,
  pid: 4242, inRecovery: false, pmStatus: 'ready',
  control: { version: 1300, catalogVersion: 202209061, systemIdentifier: 7300000000000000001n, clusterState: 'in production', latestCheckpointLsn: '0/3000148' },
};

describe('do: registration', () => {
  it('is there only when PG_AUTOCTL_DEBUG is set, even to an empty value', () => {
    assert.equal(debugEnabled({}), false);
    assert.equal(debugEnabled({ PG_AUTOCTL_DEBUG: '' }), true);
    const hidden = new AutoctlCommand('pg_autoctl');
    registerDoCommands(hidden, {});
    assert.equal(hidden.commands.length, 0);
    const shown = new AutoctlCommand('pg_autoctl');
    registerDoCommands(shown, { PG_AUTOCTL_DEBUG: '' });
    const tree = helpTree(shown);
    for (const line of ['  + do  ', '  pg_autoctl do\n', '  + fsm ', '    state ', '    assign ', '  + pgsetup ', '    ready ', '    wait ',
      '  + service ', '  pg_autoctl do service restart\n', '  + monitor ', '    candidate-count  Get']) {
      assert.ok(tree.includes(line), `missing "${line}" in\n${tree}`);
    }
  });
});

describe('do: renderings', () => {
  it('prints ctime(3) local times, and "0" for never', () => {
    assert.equal(ctimeOf(0), '0');
    const t = new Date(2026, 11, 3, 9, 5, 7);
    assert.equal(ctimeOf(t.getTime() / 1000), 'Thu Dec  3 09:05:07 2026');
  });

  it('prints the keeper state as the JSON the original test suite reads', () => {
    const view: KeeperStateView = {
      postgres: setup,
      state: initialKeeperState({ currentRole: 'primary', assignedRole: 'primary', currentNodeId: 3, currentGroup: 0, pgControlVersion: 1300 }),
    };
    const text = keeperStateRendering.text(view);
    assert.match(text, /^\{\n {4}"postgres": \{\n {8}"pgdata": "\\\/tmp\\\/node1",/);
    const parsed = JSON.parse(text) as { postgres: Record<string, unknown>; state: Record<string, unknown> };
    assert.deepEqual(parsed.state, {
      current_role: 'primary', assigned_role: 'primary', version: 1, groupId: 0, nodeId: 3,
      last_monitor_contact: '0', last_secondary_contact: '0', pgversion: 1300,
    });
    assert.deepEqual(parsed.postgres.control, { version: 1300, catalog_version: 202209061, system_identifier: '7300000000000000001' });
    assert.deepEqual(parsed.postgres.postmaster, { status: 'ready' });
    assert.equal(parsed.postgres.pid, 4242);
  });

  it('lists reachable states in the original layout', () => {
    const fromSingle = KEEPER_TRANSITIONS.filter((t) => t.from === 'single');
    const lines = transitionsRendering.text(fromSingle).split('\n');
    assert.equal(lines[0], `${'Current'.padStart(20)} | ${'Reachable'.padStart(20)} | Comment`);
    assert.equal(lines[1], `${'-'.repeat(20)}-+-${'-'.repeat(20)}-+-${'-'.repeat(20)}`);
    assert.match(lines[2] ?? '', /^ {14}single \| {9}wait_primary \| /);
    assert.equal(transitionsRendering.text([]), '\n');
    const gv = graphvizRendering.text(KEEPER_TRANSITIONS);
    assert.match(gv, /^digraph finite_state_machine\n\{\n/);
    assert.match(gv, /^ {4}init -> single \[ label = ".+" \];$/m);
    assert.ok(gv.endsWith('}\n'));
  });

  it('prints pg setup, primary, other nodes and candidate count', () => {
    assert.match(pgSetupRendering.text(setup), /^pg_version: {12}"15\.5" \(1505\)$/m);
    assert.match(pgSetupRendering.text(setup), /^Postmaster status: {5}ready$/m);
    const primary = { formation: 'default', groupId: 0, primary: { nodeId: 1, name: 'node1', host: '10.0.0.1', port: 5432 } };
    assert.equal(primaryRendering.text(primary), 'default/0 10.0.0.1:5432\n');
    assert.deepEqual(primaryRendering.json?.(primary), { formation: 'default', groupId: 0, nodeId: 1, name: 'node1', host: '10.0.0.1', port: 5432 });
    const others = [{ nodeId: 12, name: 'node_12', host: '10.0.0.2', port: 6000, lsn: 0x3000148n, isPrimary: false, tli: 2 }];
    assert.equal(otherNodesRendering.text(others), [
      '   Name |  Node |     Host:Port |              TLI: LSN | Primary?',
      '--------+-------+---------------+-   -------------------+---------',
      'node_12 |    12 | 10.0.0.2:6000 |          2: 0/3000148 |       no',
      '', ''].join('\n'));
    assert.deepEqual(otherNodesRendering.json?.(others), [
      { node_id: 12, node_lsn: '0/3000148', node_host: '10.0.0.2', node_name: 'node_12', node_port: 6000, node_is_primary: false },
    ]);
    assert.equal(candidateCountRendering.text({ formation: 'default', groupId: 0, count: 2 }), '2\n');
  });
});
