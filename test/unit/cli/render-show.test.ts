/** `show state|events|uri` renderings, byte for byte against the 2.0 recordings. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventsRendering, stateRendering, uriRendering } from '../../../src/cli/render/show.js';
import { renderResult, data } from '../../../src/cli/command.js';
import type { CurrentStateRow, ShownEventRow } from '../../../src/monitor-api/index.js';
import { reference } from '../../helpers/recordings.js';


function node(id: number, port: number, state: CurrentStateRow['reportedState']): CurrentStateRow {
  return {
    formationKind: 'pgsql', name: `node_${id}`, host: '127.0.0.1', port, groupId: 0, nodeId: id, reportedState: state,
    goalState: state, candidatePriority: 50, replicationQuorum: true, reportedTli: 1, reportedLsn: 0x30000d8n, health: 1,
    nodeCluster: 'default',
  };
}

const STATE = { rows: [node(1, 6001, 'primary'), node(2, 6002, 'secondary')], httpPorts: new Map([[1, 8009]]) };

describe('show state', () => {
  it('prints the table of the recording', { skip: reference('show_state') === undefined && 'no reference recordings' }, () => {
    assert.equal(renderResult(data(STATE), stateRendering, false), reference('show_state'));
  });

  it('prints JSON keyed by the columns of current_state(), then http_port', () => {
    const json = JSON.parse(renderResult(data(STATE), stateRendering, true)) as Array<Record<string, unknown>>;
    assert.deepEqual(Object.keys(json[0] ?? {}), [
      'formation_kind', 'nodename', 'nodehost', 'nodeport', 'group_id', 'node_id', 'current_group_state', 'assigned_group_state',
      'candidate_priority', 'replication_quorum', 'reported_tli', 'reported_lsn', 'health', 'nodecluster', 'http_port',
    ]);
    assert.equal(json[0]?.reported_lsn, '0/30000D8');
    assert.equal(json[0]?.http_port, 8009);
    assert.equal(json[1]?.http_port, null);
  });
});

describe('show events', () => {
  const event: ShownEventRow = {
    eventId: 4n, eventTime: new Date('2026-11-25T22:38:14.185Z'), formationId: 'default', nodeId: 1, groupId: 0, name: 'node_1',
    host: '127.0.0.1', port: 6001, reportedState: 'single', goalState: 'wait_primary', reportedRepState: 'unknown', reportedTli: 1,
    reportedLsn: 0x155a068n, candidatePriority: 50, replicationQuorum: true, description: 'Setting goal state',
    eventTimeText: '2026-11-25 22:38:14.185216+00', eventTimeIso: '2026-11-25T22:38:14.185216+00:00',
  };

  it('prints the event time as Postgres wrote it, with microseconds', () => {
    const lines = renderResult(data([event]), eventsRendering, false).split('\n');
    assert.equal(lines[0], '                    Event Time |   Node |       Current State |      Assigned State | Comment');
    assert.equal(lines[2], ' 2026-11-25 22:38:14.185216+00 |    0/1 |              single |        wait_primary | Setting goal state');
  });

  it('prints JSON keyed by the columns of the event table', () => {
    const [json] = JSON.parse(renderResult(data([event]), eventsRendering, true)) as Array<Record<string, unknown>>;
    assert.deepEqual(json, {
      eventid: 4, eventtime: '2026-11-25T22:38:14.185216+00:00', formationid: 'default', nodeid: 1, groupid: 0, nodename: 'node_1',
      nodehost: '127.0.0.1', nodeport: 6001, reportedstate: 'single', goalstate: 'wait_primary', reportedrepstate: 'unknown',
      reportedtli: 1, reportedlsn: '0/155A068', candidatepriority: 50, replicationquorum: true, description: 'Setting goal state',
    });
  });
});

describe('show uri', () => {
  const monitor = 'postgres://autoctl_node@127.0.0.1:6000/pg_auto_failover?sslmode=prefer';
  const formation = 'postgres://127.0.0.1:6001,127.0.0.1:6002/postgres?target_session_attrs=read-write&sslmode=prefer';

  it('prints the table of the recording', { skip: reference('show_uri') === undefined && 'no reference recordings' }, () => {
    const all = data({
      kind: 'all' as const,
      entries: [{ type: 'monitor' as const, name: 'monitor', uri: monitor }, { type: 'formation' as const, name: 'default', uri: formation }],
    });
    assert.equal(renderResult(all, uriRendering, false), reference('show_uri'));
  });

  it('prints one URI alone, or as an object with --json', () => {
    assert.equal(renderResult(data({ kind: 'monitor' as const, monitor }), uriRendering, false), `${monitor}\n`);
    const one = data({ kind: 'formation' as const, monitor, formation: 'default', uri: formation });
    assert.equal(renderResult(one, uriRendering, false), `${formation}\n`);
    assert.deepEqual(JSON.parse(renderResult(one, uriRendering, true)), { monitor, default: formation });
  });
});
