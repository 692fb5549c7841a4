import assert from 'node:assert/strict';
import { test } from 'node:test';
import { synchronousStandbyNames, type NodeState } from '../../../src/fsm/index.js';
import { group, node } from './fixtures.js';

// Examples of spec 01 §7, in its order.
test('01 §7: single node -> empty', () => {
  assert.equal(synchronousStandbyNames(group([node(1, 'single')])), '');
});

test('01 §7: primary [1], standby [2] quorum, goal secondary, nss 0 -> ANY 1 (2)', () => {
  assert.equal(synchronousStandbyNames(group([node(1, 'primary'), node(2, 'secondary')])), 'ANY 1 (pgautofailover_standby_2)');
});

test('01 §7: primary [1], standby [2] goal catchingup -> empty', () => {
  assert.equal(synchronousStandbyNames(group([node(1, 'primary'), node(2, 'catchingup')])), '');
});

test('01 §7: two nodes, standby without replication quorum -> empty', () => {
  assert.equal(synchronousStandbyNames(group([node(1, 'primary'), node(2, 'secondary', 'secondary', { replicationQuorum: false })])), '');
});

test('01 §7: primary [1], [2],[3] quorum, nss 1 -> ANY 1 (2, 3), equal priorities by node id', () => {
  const g = group([node(1, 'primary'), node(3, 'secondary'), node(2, 'secondary')], { numberSyncStandbys: 1 });
  assert.equal(synchronousStandbyNames(g), 'ANY 1 (pgautofailover_standby_2, pgautofailover_standby_3)');
});

test('01 §7: primary [1], [2],[3],[4] quorum, nss 2 -> ANY 2 (2, 3, 4)', () => {
  const g = group([node(1, 'primary'), node(2, 'secondary'), node(3, 'secondary'), node(4, 'secondary')], { numberSyncStandbys: 2 });
  assert.equal(synchronousStandbyNames(g), 'ANY 2 (pgautofailover_standby_2, pgautofailover_standby_3, pgautofailover_standby_4)');
});

test('01 §7: primary [1], [2],[3] quorum, [4] not quorum, nss 1 -> ANY 1 (2, 3)', () => {
  const g = group([node(1, 'primary'), node(2, 'secondary'), node(3, 'secondary'), node(4, 'secondary', 'secondary', { replicationQuorum: false })],
    { numberSyncStandbys: 1 });
  assert.equal(synchronousStandbyNames(g), 'ANY 1 (pgautofailover_standby_2, pgautofailover_standby_3)');
});

test('01 §7: primary converged in wait_primary with [2],[3] quorum -> empty', () => {
  assert.equal(synchronousStandbyNames(group([node(1, 'wait_primary'), node(2, 'catchingup'), node(3, 'secondary')], { numberSyncStandbys: 1 })), '');
});

test('01 §7: 3 nodes, nss 0 -> ANY 1 (both)', () => {
  assert.equal(synchronousStandbyNames(group([node(1, 'primary'), node(2, 'secondary'), node(3, 'secondary')])),
    'ANY 1 (pgautofailover_standby_2, pgautofailover_standby_3)');
});

test('01 §7: the multi-standby list ignores state and sorts by priority', () => {
  const states: NodeState[] = ['wait_standby', 'maintenance', 'catchingup'];
  const nodes = [node(1, 'primary'), ...states.map((s, i) => node(i + 2, s, s, { candidatePriority: 10 * (i + 1) }))];
  assert.equal(synchronousStandbyNames(group(nodes)),
    'ANY 1 (pgautofailover_standby_4, pgautofailover_standby_3, pgautofailover_standby_2)');
});

test('01 §7: nodes being dropped are not in the group; no quorum standby -> empty', () => {
  const g = group([node(1, 'primary'), node(2, 'secondary', 'dropped'), node(3, 'secondary', 'secondary', { replicationQuorum: false }),
    node(4, 'secondary', 'secondary', { replicationQuorum: false })]);
  assert.equal(synchronousStandbyNames(g), '');
});

test('01 §7: two nodes without a writable goal -> empty (open point: 2.x is undefined here)', () => {
  assert.equal(synchronousStandbyNames(group([node(1, 'draining'), node(2, 'prepare_promotion')])), '');
});

test('01 §7: the primary can be named explicitly; an empty group is an error', () => {
  assert.equal(synchronousStandbyNames(group([node(1, 'secondary'), node(2, 'primary')]), 2), 'ANY 1 (pgautofailover_standby_1)');
  assert.throws(() => synchronousStandbyNames(group([])), /no nodes found in group 0/);
});
