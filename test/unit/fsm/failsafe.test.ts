/**
 * The failsafe's rules (src/fsm/failsafe.ts): who vouches, how long a
 * vouched lease and a promise last, and that the promise always outlives
 * the lease it vouched for, whatever the clock-rate difference up to the
 * margin.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  NODE_STATES, heldByPromise, isVouchingGoal, leaseMarginMs, roundSucceeded, vouchPromiseEnd, vouchVerdict, vouchedLeaseEnd,
  type VoucherView,
} from '../../../src/fsm/index.js';

const primary = { nodeId: 1, host: '10.0.0.1', port: 5432 };
const view = (over: Partial<VoucherView> = {}): VoucherView => ({
  goal: 'secondary', knownPrimaryNodeId: 1, streamingFrom: { host: '10.0.0.1', port: 5432 }, sameGroup: true, ...over,
});

describe('failsafe rules', () => {
  it('vouches only while streaming from that primary with a secondary or catchingup goal', () => {
    assert.deepEqual(vouchVerdict(view(), primary), { yes: true });
    assert.deepEqual(vouchVerdict(view({ goal: 'catchingup' }), primary), { yes: true });
    for (const goal of NODE_STATES.filter((s) => s !== 'secondary' && s !== 'catchingup')) {
      assert.equal(vouchVerdict(view({ goal }), primary).yes, false, goal);
    }
    assert.equal(vouchVerdict(view({ streamingFrom: null }), primary).yes, false);
    assert.equal(vouchVerdict(view({ streamingFrom: { host: '10.0.0.2', port: 5432 } }), primary).yes, false);
    assert.equal(vouchVerdict(view({ streamingFrom: { host: '10.0.0.1', port: 5433 } }), primary).yes, false);
    assert.equal(vouchVerdict(view({ knownPrimaryNodeId: 3 }), primary).yes, false);
    assert.equal(vouchVerdict(view({ sameGroup: false }), primary).yes, false);
    assert.deepEqual(vouchVerdict(view({ knownPrimaryNodeId: null, streamingFrom: { host: '10.0.0.1', port: 5432 } }), primary), { yes: true });
  });

  it('extends a lease only when every asked node said yes', () => {
    assert.equal(roundSucceeded([2, 3], new Set([2, 3])), true);
    assert.equal(roundSucceeded([2, 3], new Set([2])), false, 'a majority is not enough');
    assert.equal(roundSucceeded([], new Set()), false, 'nobody to vouch: no extension');
  });

  it('makes every promise outlive the lease it vouched for, with clocks apart by up to the margin', () => {
    for (const leaseMs of [1000, 3000, 8000, 20_000, 600_000]) {
      const margin = leaseMarginMs(leaseMs);
      const rate = margin / leaseMs / 2; // each clock off by half the margin rate, in opposite directions
      for (const answerDelay of [0, 1, 250, 999]) {
        const sentAt = 1000;
        // The primary's lease end on a clock running fast, the promise on a clock running slow, both in real time.
        const leaseEndReal = sentAt + (vouchedLeaseEnd(sentAt, leaseMs) - sentAt) * (1 - rate);
        const promiseEndReal = sentAt + answerDelay + (vouchPromiseEnd(sentAt + answerDelay, leaseMs) - (sentAt + answerDelay)) * (1 + rate) - leaseMs * 0;
        assert.ok(promiseEndReal > leaseEndReal, `lease ${leaseMs}, delay ${answerDelay}`);
      }
    }
  });

  it('holds promotions and the end of streaming while a promise runs, not the streaming path', () => {
    for (const goal of ['secondary', 'catchingup', 'prepare_promotion'] as const) assert.equal(heldByPromise(goal), false, goal);
    for (const goal of ['stop_replication', 'wait_primary', 'primary', 'single', 'report_lsn', 'fast_forward', 'maintenance', 'wait_maintenance', 'draining'] as const) {
      assert.equal(heldByPromise(goal), true, goal);
    }
    assert.equal(isVouchingGoal('secondary'), true);
    assert.equal(isVouchingGoal('prepare_promotion'), false);
  });
});
