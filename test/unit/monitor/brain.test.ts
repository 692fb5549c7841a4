/**
 * The brain's shell with a fake database: the startup grace period counts
 * from this service's start (issue 7 point 4), lease grants come from the
 * committed leasegranttime only, a held lock makes the group `busy`, and
 * an id beyond 2^53 refuses the group.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type pg from 'pg';
import { pino } from 'pino';
import { createBrain, InexactNodeIdError } from '../../../src/monitor/brain.js';
import { fsmSettingsFrom, parseSettingsRows } from '../../../src/monitor/settings.js';

interface FakeRow { [k: string]: unknown }

function nodeRow(id: string, state: string, extra: FakeRow = {}): FakeRow {
  return {
    nodeid: id, nodename: `node_${id}`, nodehost: '10.0.0.1', nodeport: 5432 + Number(id.length), goalstate: state, reportedstate: state,
    health: 1, healthcheck_age_ms: 100, report_age_ms: 100, goalchange_age_ms: 600_000, reportedlsn: '0/3000000', reportedtli: 1,
    reportedpgisrunning: true, reportedrepstate: 'quorum', candidatepriority: 50, replicationquorum: true, keepergoalstate: state,
    lease_age_ms: null, ...extra,
  };
}

function fakeDb(state: { nodes: FakeRow[]; postgresAgeMs: number; epochAgeMs?: number; lockFree?: boolean; removed?: FakeRow }) {
  const calls: Array<{ text: string; values: unknown[] }> = [];
  const client = {
    query(text: string, values: unknown[] = []) {
      calls.push({ text, values });
      let rows: FakeRow[] = [];
      if (text.includes('try_lock_group')) rows = [{ ok: state.lockFree !== false }];
      else if (text.includes('removed_age_ms')) rows = state.removed === undefined ? [] : [state.removed];
      else if (text.includes('monitor_age_ms')) rows = [{ number_sync_standbys: 0, monitor_age_ms: state.postgresAgeMs, epoch_age_ms: state.epochAgeMs ?? null }];
      else if (text.includes('lease_age_ms')) rows = state.nodes;
      else if (text.includes('FROM pgautofailover.node WHERE formationid = $1 AND groupid = $2 LIMIT 1')) rows = state.nodes.slice(0, 1);
      else if (text.includes('SELECT nodeid, reportedstate::text')) rows = state.nodes;
      else if (text.includes('number_sync_standbys AS n')) rows = [{ n: 0 }];
      return Promise.resolve({ rows, rowCount: rows.length });
    },
  } as unknown as pg.ClientBase;
  const goals = (): Array<[unknown, unknown]> => calls.filter((c) => c.text.includes('set_node_goal_state')).map((c) => [c.values[0], c.values[1]]);
  return { client, calls, goals };
}

const log = pino({ level: 'silent' });
const settings = parseSettingsRows([]);

describe('brain', () => {
  it('a restarted service does not find a silent primary unhealthy before startup_grace_period since it started', async () => {
    // Postgres has been up for an hour; the service just started. The
    // primary is silent for a minute and its last health check failed.
    const db = fakeDb({
      postgresAgeMs: 3_600_000,
      nodes: [nodeRow('1', 'primary', { health: 0, report_age_ms: 60_000, healthcheck_age_ms: 50 }), nodeRow('2', 'secondary')],
    });
    let now = 1000;
    const brain = createBrain({ client: db.client, log, settings: () => settings, clock: () => now });
    now = 1100;
    const early = await brain.decideGroup('default', 0);
    assert.equal(early.kind, 'decided');
    assert.deepEqual(db.goals(), [], 'no failover within the grace period after the service started');
    // Past the grace period (10 s by default), with a health check made since.
    now = 1000 + settings.health.periodMs + 10_000;
    const late = await brain.decideGroup('default', 0);
    assert.equal(late.kind, 'decided');
    assert.ok(db.goals().length > 0, 'the failover starts once the grace period is over');
  });

  it('issue 13: a promoted monitor gives paused keepers their health grace from its epoch start', async () => {
    // This service has run for long (the startup grace is over); the
    // epoch started 2 s ago (a standby monitor was promoted); the
    // primary's last report is a minute old (replicated from the old
    // monitor) and the new monitor's first check of it failed.
    const primary = nodeRow('1', 'primary', { health: 0, report_age_ms: 60_000, healthcheck_age_ms: 50 });
    const state = { postgresAgeMs: 3_600_000, epochAgeMs: 2_000, nodes: [primary, nodeRow('2', 'secondary')] };
    const db = fakeDb(state);
    let now = 0;
    const brain = createBrain({ client: db.client, log, settings: () => settings, clock: () => now });
    now = 100_000;
    const early = await brain.decideGroup('default', 0);
    assert.equal(early.kind, 'decided');
    assert.deepEqual(db.goals(), [], 'no failover 2 s after the epoch started');
    // The grace: node_considered_unhealthy_timeout and startup_grace_period, counted from the epoch start.
    const fsm = fsmSettingsFrom(settings);
    const timeout = Math.max(fsm.nodeConsideredUnhealthyTimeoutMs, fsm.startupGracePeriodMs);
    const recheck = brain.nextRecheck();
    assert.ok(recheck !== null && recheck <= now - 2_000 + timeout, 'a recheck is due when the grace ends');
    // Just before the grace ends: still nothing.
    now += timeout - 2_000 - 10;
    state.epochAgeMs = timeout - 10;
    await brain.decideGroup('default', 0);
    assert.deepEqual(db.goals(), [], 'no failover before the grace since the epoch start ends');
    // After it, still silent and failing checks made in this epoch: failed over.
    now += 20;
    state.epochAgeMs = timeout + 10;
    const late = await brain.decideGroup('default', 0);
    assert.equal(late.kind, 'decided');
    assert.ok(db.goals().some(([id, goal]) => String(id) === '1' && goal !== 'primary'), `the failover starts after the grace: ${JSON.stringify(db.goals())}`);
  });

  it('issue 13: failed checks from before the epoch start do not count', async () => {
    const state = {
      postgresAgeMs: 3_600_000, epochAgeMs: 60_000,
      nodes: [nodeRow('1', 'primary', { health: 0, report_age_ms: 120_000, healthcheck_age_ms: 61_000 }), nodeRow('2', 'secondary')],
    };
    const db = fakeDb(state);
    let now = 0;
    const brain = createBrain({ client: db.client, log, settings: () => settings, clock: () => now });
    now = 100_000;
    await brain.decideGroup('default', 0);
    assert.deepEqual(db.goals(), [], 'the only failed check predates the epoch');
    state.nodes[0] = { ...state.nodes[0], healthcheck_age_ms: 500 };
    await brain.decideGroup('default', 0);
    assert.ok(db.goals().length > 0, 'a failed check of this epoch counts');
  });

  it('the lease comes from leasegranttime, read as an age', async () => {
    const db = fakeDb({
      postgresAgeMs: 3_600_000,
      nodes: [nodeRow('1', 'primary', { health: 0, report_age_ms: 60_000, healthcheck_age_ms: 50, lease_age_ms: 500 }), nodeRow('2', 'secondary')],
    });
    let now = 0;
    const brain = createBrain({ client: db.client, log, settings: () => settings, clock: () => now });
    now = 100_000;
    const outcome = await brain.decideGroup('default', 0);
    assert.equal(outcome.kind, 'decided');
    if (outcome.kind !== 'decided') return;
    // The grant 500 ms ago keeps any writable goal away from node 2.
    assert.ok(!outcome.decision.assignments.some((a) => a.nodeId === 2 && ['wait_primary', 'primary', 'single'].includes(a.goalState)));
    assert.ok(outcome.decision.recheckAt !== null && outcome.decision.recheckAt <= now - 500 + 20_000 + 1);
  });

  it('the lease of a removed node survives a restart of the service: no new writer while it may run', async () => {
    // Node 1, the last writer, was removed from the group; node 2 waits in
    // prepare_promotion. A service that just started knows the grant only
    // from group_state (migration 0010).
    const nodes = [nodeRow('2', 'prepare_promotion')];
    const held = fakeDb({ postgresAgeMs: 3_600_000, nodes, removed: { nodeid: '1', removed_age_ms: 500 } });
    let now = 100_000;
    const brain = createBrain({ client: held.client, log, settings: () => settings, clock: () => now });
    const outcome = await brain.decideGroup('default', 0);
    assert.equal(outcome.kind, 'decided');
    assert.deepEqual(held.goals(), [], 'no writable goal while the removed holder\'s lease may run');
    if (outcome.kind === 'decided') assert.ok(outcome.decision.recheckAt !== null && outcome.decision.recheckAt <= now + 20_000);
    // Without that record, the same group opens node 2 at once.
    const free = fakeDb({ postgresAgeMs: 3_600_000, nodes });
    now = 100_000;
    await createBrain({ client: free.client, log, settings: () => settings, clock: () => now }).decideGroup('default', 0);
    assert.deepEqual(free.goals(), [[2, 'single']], 'alone in its group, node 2 is opened as single');
  });

  it('a group whose lock is held is busy, without waiting', async () => {
    const db = fakeDb({ postgresAgeMs: 0, lockFree: false, nodes: [nodeRow('1', 'single')] });
    const brain = createBrain({ client: db.client, log, settings: () => settings });
    assert.deepEqual(await brain.decideGroup('default', 0), { kind: 'busy' });
    assert.ok(db.calls.some((c) => c.text === 'ROLLBACK'));
  });

  it('a node id beyond 2^53 refuses its group with a clear error', async () => {
    const db = fakeDb({ postgresAgeMs: 0, nodes: [nodeRow('9007199254740993', 'single')] });
    const brain = createBrain({ client: db.client, log, settings: () => settings });
    await assert.rejects(brain.decideGroup('big', 0), (e: unknown) => e instanceof InexactNodeIdError && /9007199254740993/.test(e.message));
    assert.deepEqual(db.goals(), []);
  });
});
