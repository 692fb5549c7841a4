/**
 * The brain's shell over a fake monitor database: the decision and the
 * witness columns of migration 0014 reach decide() (a goal the monitor
 * lacks is adopted and written), and while the monitor is being rebuilt
 * from its nodes nothing is decided, even for a group that would otherwise
 * be failed over.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type pg from 'pg';
import { createBrain } from '../../../src/monitor/brain.js';
import { parseSettingsRows } from '../../../src/monitor/settings.js';

type FakeRow = Record<string, unknown>;

function nodeRow(id: string, state: string, extra: FakeRow = {}): FakeRow {
  return {
    nodeid: id, nodename: `node_${id}`, nodehost: `10.0.0.${id}`, nodeport: 5432, goalstate: state, reportedstate: state,
    health: 1, healthcheck_age_ms: 100, report_age_ms: 100, goalchange_age_ms: 600_000, reportedlsn: '0/3000000', reportedtli: 1,
    reportedpgisrunning: true, reportedrepstate: 'quorum', candidatepriority: 50, replicationquorum: true, keepergoalstate: state,
    lease_age_ms: null, goaldecisionepoch: '2', goaldecisionid: '7', witnessepoch: null, witnessdecisionid: null, witnessgoalstate: null,
    ...extra,
  };
}

function fakeDb(state: { nodes: FakeRow[]; rebuilding: boolean }) {
  const calls: Array<{ text: string; values: unknown[] }> = [];
  const client = {
    query(text: string, values: unknown[] = []) {
      calls.push({ text, values });
      let rows: FakeRow[] = [];
      if (text.includes('try_lock_group')) rows = [{ ok: true }];
      else if (text.includes('rebuild_holds_group')) rows = [{ held: state.rebuilding }];
      else if (text.includes('removed_age_ms')) rows = [];
      else if (text.includes('monitor_age_ms')) rows = [{ number_sync_standbys: 0, monitor_age_ms: 3_600_000 }];
      else if (text.includes('lease_age_ms')) rows = state.nodes;
      return Promise.resolve({ rows, rowCount: rows.length });
    },
  } as unknown as pg.ClientBase;
  const goals = (): Array<[unknown, unknown]> => calls.filter((c) => c.text.includes('set_node_goal_state')).map((c) => [c.values[0], c.values[1]]);
  return { client, calls, goals };
}

const settings = parseSettingsRows([]);

describe('brain: witnesses and the rebuild from nodes', () => {
  it('W1 through the SQL store: the keeper\'s witness newer than the row\'s decision is adopted and written, with its log line', async () => {
    const lines: string[] = [];
    const db = fakeDb({
      rebuilding: false,
      nodes: [
        nodeRow('1', 'primary', { health: 0, report_age_ms: 120_000, healthcheck_age_ms: 50, goaldecisionepoch: '1', goaldecisionid: '10' }),
        nodeRow('2', 'secondary', {
          reportedstate: 'wait_primary', keepergoalstate: 'wait_primary', goaldecisionepoch: '1', goaldecisionid: '11',
          witnessepoch: '1', witnessdecisionid: '25', witnessgoalstate: 'wait_primary',
        }),
      ],
    });
    let now = 10_000_000;
    const log = { info: (m: string) => { lines.push(m); } } as never;
    const brain = createBrain({ client: db.client, log, settings: () => settings, clock: () => now });
    now += 60_000;
    const outcome = await brain.decideGroup('default', 0);
    assert.equal(outcome.kind, 'decided');
    assert.deepEqual(db.goals().slice(0, 2), [[2, 'wait_primary'], [1, 'demoted']]);
    assert.ok(lines.some((l) => l.startsWith('Adopting the goal "wait_primary" that node 2 "node_2" (10.0.0.2:5432) received at epoch 1, decision 25')), lines.join('\n'));
  });

  it('while the monitor is rebuilt from its nodes, a standby alone (its primary not back yet) is not promoted; afterwards the group is decided again', async () => {
    const lines: string[] = [];
    const state = { rebuilding: true, nodes: [nodeRow('2', 'secondary')] };
    const db = fakeDb(state);
    let now = 10_000_000;
    const log = { info: (m: string) => { lines.push(m); } } as never;
    const brain = createBrain({ client: db.client, log, settings: () => settings, clock: () => now });
    now += 60_000;
    assert.equal((await brain.decideGroup('default', 0)).kind, 'empty');
    assert.equal((await brain.decideGroup('default', 0)).kind, 'empty');
    assert.deepEqual(db.goals(), [], 'nothing written during the rebuild');
    assert.equal(lines.filter((l) => l.startsWith('Rebuilding this monitor from its nodes')).length, 1, 'logged once');
    // The primary is back: the rebuild ends, the group converged as it was.
    state.nodes = [nodeRow('1', 'primary'), nodeRow('2', 'secondary')];
    state.rebuilding = false;
    const after = await brain.decideGroup('default', 0);
    assert.equal(after.kind, 'decided');
    assert.deepEqual(db.goals(), [], 'roles unchanged: a converged primary and secondary');
    assert.ok(lines.includes('The rebuild from nodes holds group 0 of formation "default" no more: deciding again'), lines.join('\n'));
  });
});
