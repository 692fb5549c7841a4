import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planDropAllSlots, planSlotMaintenance, slotNameFor } from '../../../src/postgres/replication-slots.js';
import type { ReplicationSlot } from '../../../src/postgres/sql.js';

const slot = (slotName: string, active: boolean, restartLsn?: bigint, slotType: 'physical' | 'logical' = 'physical'): ReplicationSlot =>
  ({ slotName, slotType, active, restartLsn });

describe('replication slot maintenance', () => {
  it('names slots by node id', () => {
    assert.equal(slotNameFor(2), 'pgautofailover_standby_2');
  });

  it('creates missing slots and drops inactive slots of departed nodes only', () => {
    const existing = [
      slot('pgautofailover_standby_2', true, 100n),
      slot('pgautofailover_standby_5', false, 10n),
      slot('pgautofailover_standby_6', true, 10n),
      slot('pgautofailover_standby', false),
      slot('user_slot', false),
      slot('pgautofailover_standby_7', false, undefined, 'logical'),
    ];
    const plan = planSlotMaintenance(existing, [{ nodeId: 2, reportedLsn: 0n }, { nodeId: 3, reportedLsn: 0n }], { advance: false });
    assert.deepEqual(plan, { create: ['pgautofailover_standby_3'], drop: ['pgautofailover_standby_5', 'pgautofailover_standby'], advance: [] });
  });

  it('advances inactive slots to the reported LSN on standbys', () => {
    const existing = [
      slot('pgautofailover_standby_1', false, 100n),
      slot('pgautofailover_standby_3', false, 500n),
      slot('pgautofailover_standby_4', true, 100n),
      slot('pgautofailover_standby_5', false, undefined),
      slot('pgautofailover_standby_6', false, 100n),
    ];
    const others = [
      { nodeId: 1, reportedLsn: 300n }, { nodeId: 3, reportedLsn: 400n }, { nodeId: 4, reportedLsn: 300n },
      { nodeId: 5, reportedLsn: 300n }, { nodeId: 6, reportedLsn: 0n },
    ];
    assert.deepEqual(planSlotMaintenance(existing, others, { advance: true }).advance, [{ slotName: 'pgautofailover_standby_1', lsn: 300n }]);
    assert.deepEqual(planSlotMaintenance(existing, others, { advance: false }).advance, []);
  });

  it('drops every physical slot of ours when a primary becomes a standby', () => {
    const existing = [slot('pgautofailover_standby_2', true), slot('user_slot', false), slot('pgautofailover_standby_3', false)];
    assert.deepEqual(planDropAllSlots(existing).drop, ['pgautofailover_standby_2', 'pgautofailover_standby_3']);
  });
});
