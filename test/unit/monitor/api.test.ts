import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AutoctlError } from '../../../src/common/errors.js';
import * as api from '../../../src/monitor-api/index.js';
import { sqlStateOf } from '../../../src/monitor-api/index.js';

interface Call { text: string; values: unknown[] }

/** A client that records queries and answers with fixed rows (or fails). */
function fakeClient(answer: Array<Record<string, unknown>> | Error): { client: api.MonitorClient; calls: Call[] } {
  const calls: Call[] = [];
  const query = (text: string, values: unknown[] = []): Promise<{ rows: Array<Record<string, unknown>> }> => {
    calls.push({ text, values });
    return answer instanceof Error ? Promise.reject(answer) : Promise.resolve({ rows: answer });
  };
  return { client: { query } as unknown as api.MonitorClient, calls };
}

describe('monitor API calls', () => {
  it('register_node: all thirteen arguments in order, defaults as in SQL', async () => {
    const { client, calls } = fakeClient([{ assigned_node_id: '3', assigned_group_id: 0, assigned_group_state: 'init',
      assigned_candidate_priority: 50, assigned_replication_quorum: true, assigned_node_name: 'node_3' }]);
    const node = await api.registerNode(client, { formation: 'default', host: 'h', port: 5432, dbname: 'postgres',
      sysIdentifier: 7712242098153588458n, candidatePriority: 50 });
    assert.deepEqual(node, { nodeId: 3, groupId: 0, goalState: 'init', candidatePriority: 50, replicationQuorum: true, name: 'node_3' });
    assert.match(calls[0]?.text ?? '', /pgautofailover\.register_node\(/);
    assert.deepEqual(calls[0]?.values, ['default', 'h', 5432, 'postgres', '', '7712242098153588458', -1, -1, 'init',
      'standalone', 50, true, 'default']);
  });

  it('node_active: sends the LSN as pg_lsn text', async () => {
    const { client, calls } = fakeClient([{ assigned_node_id: 1, assigned_group_id: 0, assigned_group_state: 'primary',
      assigned_candidate_priority: 50, assigned_replication_quorum: true }]);
    const goal = await api.nodeActive(client, { formation: 'default', nodeId: 1, groupId: 0, state: 'wait_primary',
      pgIsRunning: true, tli: 2, lsn: 0x30000d8n, syncState: 'quorum' });
    assert.equal(goal.goalState, 'primary');
    assert.deepEqual(calls[0]?.values, ['default', 1, 0, 'wait_primary', true, 2, '0/30000D8', 'quorum', 'unknown']);
    await api.nodeActive(client, { formation: 'default', nodeId: 1, groupId: 0, state: 'wait_primary',
      pgIsRunning: true, tli: 2, lsn: 0x30000d8n, syncState: 'quorum', knownGoal: 'primary' });
    assert.equal(calls[1]?.values?.[8], 'primary', 'the goal the keeper knew is sent as the last argument');
  });

  it('picks the overload of last_events and current_state', async () => {
    const { client, calls } = fakeClient([]);
    await api.lastEvents(client);
    await api.lastEvents(client, { formation: 'f', count: 5 });
    await api.lastEvents(client, { formation: 'f', groupId: 1 });
    await api.currentState(client, 'f');
    await api.currentState(client, 'f', 2);
    assert.deepEqual(calls.map((c) => c.values), [[10], ['f', 5], ['f', 1, 10], ['f'], ['f', 2]]);
    assert.match(calls[1]?.text ?? '', /count => \$2/);
  });

  it('wraps pg errors as MONITOR errors keeping SQLSTATE and hint', async () => {
    const pgError = Object.assign(new Error('couldn\'t find the primary node in formation "default", group 0'),
      { code: '55006', hint: 'Retry registering in a moment.' });
    const { client } = fakeClient(pgError);
    const error = await api.registerNode(client, { formation: 'default', host: 'h', port: 1, dbname: 'postgres' })
      .then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof AutoctlError);
    assert.equal(error.code, 'MONITOR');
    assert.equal(error.hint, 'Retry registering in a moment.');
    assert.equal(error.cause, pgError);
    assert.equal(sqlStateOf(error), '55006');
    assert.match(error.message, /^pgautofailover\.register_node: couldn't find the primary node/);
  });

  it('reports malformed answers as MONITOR errors', async () => {
    await assert.rejects(api.getPrimary(fakeClient([]).client), (e: unknown) => e instanceof AutoctlError && /returned no row/.test(e.message));
    await assert.rejects(api.getNodes(fakeClient([{ node_id: 1, node_name: 'n', node_host: 'h', node_port: 1, node_lsn: 'bad',
      node_is_primary: false }]).client), (e: unknown) => e instanceof AutoctlError && e.code === 'MONITOR' && /invalid LSN/.test(e.message));
  });

  it('returns undefined or null for absent rows and values', async () => {
    assert.equal(await api.getMostAdvancedStandby(fakeClient([]).client), undefined);
    assert.equal(await api.formationUri(fakeClient([{ uri: null }]).client), null);
    assert.equal(await api.getNode(fakeClient([]).client, { nodeId: 4 }), undefined);
  });
});
