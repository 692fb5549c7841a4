/**
 * The witness in the keeper's node_active call (migration 0014): sent only
 * to a monitor whose node_active takes it, the nine-parameter call kept for
 * the others; the decision named in the answer is mapped.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as api from '../../../src/monitor-api/index.js';

function fakeClient(rows: Array<Record<string, unknown>>) {
  const calls: Array<{ text: string; values: unknown[] }> = [];
  const query = (text: string, values: unknown[] = []): Promise<{ rows: Array<Record<string, unknown>> }> => {
    calls.push({ text, values });
    return Promise.resolve({ rows });
  };
  return { client: { query } as unknown as api.MonitorClient, calls };
}

const args: api.NodeActiveArgs = {
  formation: 'default', nodeId: 2, groupId: 0, state: 'secondary', pgIsRunning: true, tli: 1, lsn: 0x3000000n, syncState: '',
  knownGoal: 'secondary', witness: { epoch: 1, decisionId: 41, goal: 'secondary' },
};
const answer = { assigned_node_id: '2', assigned_group_id: 0, assigned_group_state: 'secondary', assigned_candidate_priority: 50,
  assigned_replication_quorum: true, failsafe_peers: [], assigned_decision_epoch: '2', assigned_decision_id: '57' };

describe('node_active with a witness', () => {
  it('a monitor with witnesses gets the three trailing arguments and names its decision', async () => {
    const { client, calls } = fakeClient([answer]);
    const out = await api.nodeActiveWithPeers(client, args, { withEpoch: false, withWitness: true });
    assert.deepEqual(out.decision, { epoch: 2, id: 57 });
    assert.deepEqual(calls[0]?.values.slice(9), [1, 41, 'secondary']);
    assert.match(calls[0]?.text ?? '', /\$12::pgautofailover\.replication_state\) a/);
  });

  it('a monitor without them gets the nine-argument call, and no decision is read', async () => {
    const { client, calls } = fakeClient([{ ...answer, assigned_decision_epoch: undefined, assigned_decision_id: undefined }]);
    const out = await api.nodeActiveWithPeers(client, args, { withEpoch: false });
    assert.equal(out.decision, undefined);
    assert.equal(calls[0]?.values.length, 9);
    assert.doesNotMatch(calls[0]?.text ?? '', /\$10/);
  });

  it('without a witness yet, zeros are sent (nothing recorded)', async () => {
    const { client, calls } = fakeClient([answer]);
    await api.nodeActiveWithPeers(client, { ...args, witness: undefined }, { withWitness: true });
    assert.deepEqual(calls[0]?.values.slice(9), [0, 0, 'unknown']);
  });

  it('asks the catalog whether node_active takes witnesses', async () => {
    const { client, calls } = fakeClient([{ ok: true }]);
    assert.equal(await api.monitorHasWitnesses(client), true);
    assert.match(String(calls[0]?.values[0]), /^pgautofailover\.node_active\(text,bigint,integer,.*,bigint,bigint,pgautofailover\.replication_state\)$/);
  });
});
