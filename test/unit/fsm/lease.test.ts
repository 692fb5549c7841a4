/**
 * The write lease (DESIGN.md safety argument): the monitor never opens a
 * new writable node while another node's lease may still run.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkOpenWrites, holderReportedFenced, writeFenceAt } from '../../../src/fsm/index.js';
import { DEAD, NOW, SETTINGS, goals, group, node, noChange, run } from './fixtures.js';

const grant = (ago: number): { nodeId: number; grantedAt: number } => ({ nodeId: 1, grantedAt: NOW - ago });

test('lease: ends leaseMs after the grant', () => {
  const nodes = [node(1, 'primary', 'draining', DEAD)];
  assert.equal(writeFenceAt(grant(5_000), nodes, SETTINGS), NOW - 5_000 + SETTINGS.leaseMs);
  assert.equal(writeFenceAt(null, nodes, SETTINGS), Number.NEGATIVE_INFINITY);
  assert.deepEqual(checkOpenWrites(2, grant(5_000), nodes, NOW, SETTINGS), { ok: false, holderId: 1, until: NOW + 15_000 });
  assert.deepEqual(checkOpenWrites(2, grant(20_000), nodes, NOW, SETTINGS), { ok: true });
  assert.deepEqual(checkOpenWrites(1, grant(5_000), nodes, NOW, SETTINGS), { ok: true }, 'the holder itself');
});

test('lease: ends as soon as the holder, no longer writable, reported a fenced state after the grant', () => {
  const stopped = node(1, 'demote_timeout', 'demote_timeout', { reportedAt: NOW - 1_000, pgIsRunning: false });
  assert.ok(holderReportedFenced(grant(5_000), stopped));
  assert.equal(writeFenceAt(grant(5_000), [stopped], SETTINGS), NOW - 1_000);
  assert.ok(!holderReportedFenced(grant(500), stopped), 'report older than the grant');
  assert.ok(!holderReportedFenced(grant(5_000), { ...stopped, goalState: 'primary' }), 'goal still writable');
  assert.ok(!holderReportedFenced(grant(5_000), { ...stopped, reportedState: 'stop_replication' }), 'promoted Postgres');
});

test('lease: R15 opens the candidate once the silent old primary\'s lease ran out', () => {
  const base = group([node(1, 'primary', 'demote_timeout', DEAD), node(2, 'stop_replication')]);
  noChange(run({ ...base, writeLease: grant(19_000) }));
  assert.deepEqual(goals(run({ ...base, writeLease: grant(20_000) })), { 1: 'demoted', 2: 'wait_primary' });
});

test('lease: a forced removal leaves the lease behind: the survivor waits for it', () => {
  const d = run(group([node(2, 'prepare_promotion'), node(3, 'report_lsn', 'join_secondary')], { writeLease: grant(1_000) }));
  noChange(d);
  assert.ok(d.recheckAt !== null && d.recheckAt <= NOW + 19_000);
});
