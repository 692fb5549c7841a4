import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AutoctlError } from '../../../src/common/errors.js';
import {
  MonitorDataError, REPLICATION_STATES, formatLsn, isRetryableMonitorError, mapCurrentState, mapEvent, mapFormation,
  mapNode, mapRequest, parseDecideNotification, parseLsn, parseStateNotification, sqlStateOf,
} from '../../../src/monitor-api/index.js';

describe('LSN at the monitor boundary', () => {
  it('parses and formats pg_lsn text', () => {
    assert.equal(parseLsn('0/3000060'), 0x3000060n);
    assert.equal(parseLsn('16/b374d848'), (0x16n << 32n) | 0xb374d848n);
    assert.equal(formatLsn(0x30000d8n), '0/30000D8');
    for (const text of ['0/0', '1/0', 'FFFFFFFF/FFFFFFFF', 'AB/CDEF0123']) assert.equal(formatLsn(parseLsn(text)), text);
  });

  it('rejects what is not an LSN', () => {
    for (const text of ['', '0', '0/', '/1', '0/123456789', 'x/1', ' 0/1']) {
      assert.throws(() => parseLsn(text), MonitorDataError, text);
    }
    assert.throws(() => formatLsn(-1n), MonitorDataError);
    assert.throws(() => formatLsn(1n << 64n), MonitorDataError);
  });
});

describe('row mapping', () => {
  it('maps current_state rows as pg returns them', () => {
    const row = mapCurrentState({
      formation_kind: 'pgsql', nodename: 'node_1', nodehost: '10.0.0.1', nodeport: 5432, group_id: 0, node_id: '1',
      current_group_state: 'primary', assigned_group_state: 'primary', candidate_priority: 50, replication_quorum: true,
      reported_tli: 1, reported_lsn: '0/30000D8', health: 1, nodecluster: 'default',
    });
    assert.deepEqual(row, {
      formationKind: 'pgsql', name: 'node_1', host: '10.0.0.1', port: 5432, groupId: 0, nodeId: 1, reportedState: 'primary',
      goalState: 'primary', candidatePriority: 50, replicationQuorum: true, reportedTli: 1, reportedLsn: 0x30000d8n, health: 1,
      nodeCluster: 'default',
    });
  });

  it('refuses unknown states, health values and kinds', () => {
    const base = {
      formation_kind: 'pgsql', nodename: 'n', nodehost: 'h', nodeport: 1, group_id: 0, node_id: '1', current_group_state: 'primary',
      assigned_group_state: 'primary', candidate_priority: 50, replication_quorum: true, reported_tli: 1, reported_lsn: '0/0',
      health: -1, nodecluster: 'default',
    };
    assert.throws(() => mapCurrentState({ ...base, current_group_state: 'leader' }), /current_group_state/);
    assert.throws(() => mapCurrentState({ ...base, health: 2 }), /health/);
    assert.throws(() => mapCurrentState({ ...base, formation_kind: 'oracle' }), /formation kind/);
    assert.throws(() => mapCurrentState({ ...base, node_id: 'one' }), /node_id/);
  });

  it('maps event rows, keeping NULLs and big ids', () => {
    const event = mapEvent({
      eventid: '9007199254740993', eventtime: new Date('2026-11-25T22:38:14.185Z'), formationid: 'default', nodeid: '2', groupid: 0,
      nodename: 'node_2', nodehost: 'h', nodeport: 6002, reportedstate: 'wait_standby', goalstate: 'catchingup',
      reportedrepstate: null, reportedtli: 1, reportedlsn: '0/0', candidatepriority: null, replicationquorum: null, description: null,
    });
    assert.equal(event.eventId, 9007199254740993n);
    assert.equal(event.nodeId, 2);
    assert.equal(event.reportedRepState, null);
    assert.equal(event.candidatePriority, null);
    assert.equal(event.eventTime.toISOString(), '2026-11-25T22:38:14.185Z');
  });

  it('maps node rows with 64-bit system identifiers', () => {
    const now = new Date();
    const node = mapNode({
      formationid: 'default', nodeid: '1', groupid: 0, nodename: 'node_1', nodehost: 'h', nodeport: 6001,
      sysidentifier: '7712242098153588458', goalstate: 'primary', reportedstate: 'primary', reportedpgisrunning: true,
      reportedrepstate: 'quorum', reporttime: now, reportedtli: 1, reportedlsn: '0/30000D8', walreporttime: now, health: 1,
      healthchecktime: now, statechangetime: now, candidatepriority: 50, replicationquorum: true, nodecluster: 'default',
    });
    assert.equal(node.sysIdentifier, 7712242098153588458n);
    assert.equal(node.reportedLsn, 0x30000d8n);
    assert.equal(mapNode({ ...node, formationid: 'default', nodeid: 1, groupid: 0, nodename: 'x', nodehost: 'h', nodeport: 1,
      sysidentifier: null, goalstate: 'init', reportedstate: 'init', reportedpgisrunning: null, reportedrepstate: null,
      reporttime: now, reportedtli: 1, reportedlsn: '0/0', walreporttime: now, health: -1, healthchecktime: now,
      statechangetime: now, candidatepriority: 100, replicationquorum: true, nodecluster: 'default' }).sysIdentifier, null);
  });

  it('maps formation rows from the table and from create_formation', () => {
    const expected = { formationId: 'f', kind: 'citus', dbname: 'app', optSecondary: false, numberSyncStandbys: 1 };
    assert.deepEqual(mapFormation({ formationid: 'f', kind: 'citus', dbname: 'app', opt_secondary: false, number_sync_standbys: 1 }), expected);
    assert.deepEqual(mapFormation({ formation_id: 'f', kind: 'citus', dbname: 'app', opt_secondary: false, number_sync_standbys: 1 }), expected);
  });

  it('maps request rows', () => {
    const request = mapRequest({
      id: '5', formationid: 'default', groupid: 0, nodeid: null, kind: 'settings_changed', force: false,
      setting: 'number_sync_standbys', description: 'x', requested_at: new Date(), done_at: null, outcome: null,
    });
    assert.equal(request.id, 5n);
    assert.equal(request.nodeId, null);
    assert.equal(request.setting, 'number_sync_standbys');
    assert.throws(() => mapRequest({ ...request, id: '5', formationid: 'default', groupid: 0, kind: 'reboot', requested_at: new Date() }),
      /request kind/);
  });

  it('knows the 22 replication states in enum order', () => {
    assert.equal(REPLICATION_STATES.length, 22);
    assert.equal(REPLICATION_STATES[0], 'unknown');
    assert.equal(REPLICATION_STATES.at(-1), 'dropped');
  });
});

describe('notifications', () => {
  it('parses state payloads', () => {
    const payload = '{"type": "state", "formation": "default", "groupId": 0, "nodeId": 1, "name": "node_1", "host": "127.0.0.1", '
      + '"port": 6001, "reportedState": "single", "goalState": "wait_primary", "health":"good"}';
    assert.deepEqual(parseStateNotification(payload), {
      type: 'state', formation: 'default', groupId: 0, nodeId: 1, name: 'node_1', host: '127.0.0.1', port: 6001,
      reportedState: 'single', goalState: 'wait_primary', health: 'good',
    });
    assert.throws(() => parseStateNotification('{"type": "log"}'), MonitorDataError);
    assert.throws(() => parseStateNotification('not json'), MonitorDataError);
    assert.throws(() => parseStateNotification(payload.replace('"good"', '"fine"')), /health/);
  });

  it('parses decision requests', () => {
    assert.deepEqual(parseDecideNotification('{"formation": "default", "groupId": 0, "nodeId": 3, "why": "report"}'),
      { formation: 'default', groupId: 0, nodeId: 3, why: 'report' });
    assert.deepEqual(parseDecideNotification('{"formation": "f", "groupId": 0, "nodeId": null, "why": "request", "requestId": 12}'),
      { formation: 'f', groupId: 0, nodeId: null, why: 'request', requestId: 12n });
    assert.throws(() => parseDecideNotification('{"formation": "f", "groupId": 0, "nodeId": 1, "why": "whim"}'), /decision reason/);
    assert.throws(() => parseDecideNotification('[]'), MonitorDataError);
  });
});

describe('monitor errors', () => {
  const pgError = (code: string): Error & { code: string } => Object.assign(new Error('boom'), { code });

  it('finds the SQLSTATE through causes, not the AutoctlError code', () => {
    assert.equal(sqlStateOf(pgError('55006')), '55006');
    assert.equal(sqlStateOf(new AutoctlError('MONITOR', 'wrapped', { cause: pgError('23505') })), '23505');
    assert.equal(sqlStateOf(new AutoctlError('PGSQL', 'no pg error below')), undefined);
    assert.equal(sqlStateOf(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), undefined);
    assert.equal(sqlStateOf('text'), undefined);
  });

  it('classifies retryable errors', () => {
    for (const code of ['40001', '40P01', '40003', '53300', '54000']) assert.equal(isRetryableMonitorError(pgError(code)), true, code);
    assert.equal(isRetryableMonitorError(pgError('55006')), false);
    assert.equal(isRetryableMonitorError(pgError('55006'), { objectInUse: true }), true);
    assert.equal(isRetryableMonitorError(pgError('23505'), { objectInUse: true }), false);
    assert.equal(isRetryableMonitorError(new Error('no code')), false);
  });
});
