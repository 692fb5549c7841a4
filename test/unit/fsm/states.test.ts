import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  NODE_STATES, STATE_INFO, isFencedState, isNodeState, isPrimaryishState, isWritableState, stateInfo,
} from '../../../src/fsm/index.js';

test('NODE_STATES is the replication_state enum of spec 03 §3, in its order', () => {
  assert.deepEqual([...NODE_STATES], [
    'unknown', 'init', 'single', 'wait_primary', 'primary', 'draining', 'demote_timeout', 'demoted', 'catchingup',
    'secondary', 'prepare_promotion', 'stop_replication', 'wait_standby', 'maintenance', 'join_primary', 'apply_settings',
    'prepare_maintenance', 'wait_maintenance', 'report_lsn', 'fast_forward', 'join_secondary', 'dropped',
  ]);
  assert.ok(isNodeState('report_lsn'));
  assert.ok(!isNodeState('Primary'));
});

test('STATE_INFO has one row per state, in order (spec 02 §2)', () => {
  assert.deepEqual(STATE_INFO.map((i) => i.state), [...NODE_STATES]);
  assert.equal(stateInfo('stop_replication').acceptsWrites, false);
  assert.equal(stateInfo('maintenance').postgres, 'operator');
});

test('writable(S) and primaryish(S) of spec 02 §1', () => {
  const writable = NODE_STATES.filter(isWritableState);
  assert.deepEqual(writable, ['single', 'wait_primary', 'primary', 'join_primary', 'apply_settings']);
  assert.deepEqual(STATE_INFO.filter((i) => i.acceptsWrites).map((i) => i.state), writable);
  assert.deepEqual(NODE_STATES.filter(isPrimaryishState), [...writable.slice(0, 3), 'draining', 'demote_timeout', 'join_primary', 'apply_settings', 'prepare_maintenance']);
});

test('fenced states exclude every writable state and stop_replication (lease evidence)', () => {
  for (const s of NODE_STATES) {
    if (isWritableState(s) || s === 'stop_replication' || s === 'unknown') assert.equal(isFencedState(s), false, s);
  }
  assert.ok(isFencedState('demote_timeout'));
  assert.ok(isFencedState('report_lsn'));
});
