/**
 * `show settings`, `show standby-names`, `get|set` values, `show file` and
 * `show systemd` renderings, byte for byte against the 2.0 recordings
 * (paths, pids and times replaced by the recorded ones).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { data, renderResult } from '../../../src/cli/command.js';
import {
  epochToString, fileContents, fileListRendering, keeperStateJson, pidFileJson, renderKeeperStateText, systemdRendering,
} from '../../../src/cli/render/files.js';
import {
  inJsonbKeyOrder, settingsRendering, sortSettingsForTable, standbyNamesRendering, valueRendering,
} from '../../../src/cli/render/settings.js';
import {
  parseCandidatePriorityValue, parseNumberSyncStandbysValue, parseReplicationQuorumValue,
} from '../../../src/cli/commands/get-set.js';
import { initialKeeperState, parsePidFile } from '../../../src/config/index.js';
import type { FormationSettingRow } from '../../../src/monitor-api/index.js';
import { REFERENCE, reference, noReference } from '../../helpers/recordings.js';


/** The rows of formation_settings('default') for the recorded two-node formation, in the function's order. */
const ROWS: FormationSettingRow[] = [
  { context: 'formation', groupId: null, nodeId: null, name: 'default', setting: 'number_sync_standbys', value: '0' },
  { context: 'primary', groupId: 0, nodeId: 1, name: 'node_1', setting: 'synchronous_standby_names', value: '\'ANY 1 (pgautofailover_standby_2)\'' },
  { context: 'node', groupId: 0, nodeId: 1, name: 'node_1', setting: 'replication quorum', value: 'true' },
  { context: 'node', groupId: 0, nodeId: 2, name: 'node_2', setting: 'replication quorum', value: 'true' },
  { context: 'node', groupId: 0, nodeId: 1, name: 'node_1', setting: 'candidate priority', value: '50' },
  { context: 'node', groupId: 0, nodeId: 2, name: 'node_2', setting: 'candidate priority', value: '50' },
];

describe('show settings / get formation settings', () => {
  it('prints the table of the recording (Value left-aligned and padded)', { skip: noReference('show_settings') }, () => {
    assert.equal(renderResult(data(ROWS), settingsRendering, false), reference('show_settings'));
    assert.equal(renderResult(data(ROWS), settingsRendering, false), reference('get_formation_settings'));
  });

  it('prints the JSON of the recording: monitor key order, nodes in the function order', { skip: noReference('show_settings--json') }, () => {
    assert.equal(renderResult(data(ROWS), settingsRendering, true), reference('show_settings--json'));
  });

  it('orders the table by context, setting, group and node, whatever the row order', () => {
    const shuffled = [ROWS[5], ROWS[2], ROWS[1], ROWS[0], ROWS[4], ROWS[3]].filter((r) => r !== undefined);
    assert.deepEqual(sortSettingsForTable(shuffled).map((r) => `${r.context}/${r.setting}/${r.nodeId}`), [
      'formation/number_sync_standbys/null', 'primary/synchronous_standby_names/1',
      'node/candidate priority/1', 'node/candidate priority/2', 'node/replication quorum/1', 'node/replication quorum/2',
    ]);
  });

  it('prints null for a context without rows (no primary)', () => {
    const json = JSON.parse(renderResult(data(ROWS.filter((r) => r.context !== 'primary')), settingsRendering, true)) as Record<string, unknown>;
    assert.equal(json.primary, null);
    assert.deepEqual(Object.keys(json), ['nodes', 'primary', 'formation']);
  });

  it('sorts object keys by length then bytes, as jsonb does', () => {
    assert.deepEqual(Object.keys(inJsonbKeyOrder({ setting: 1, value: 2, context: 3, a: 4, node_id: 5 }) as object),
      ['a', 'value', 'context', 'node_id', 'setting']);
  });

  it('widens the Value column to the longest value with three standbys', () => {
    const rows: FormationSettingRow[] = [
      { context: 'formation', groupId: null, nodeId: null, name: 'default', setting: 'number_sync_standbys', value: '2' },
      { context: 'primary', groupId: 0, nodeId: 1, name: 'node_1', setting: 'synchronous_standby_names',
        value: '\'ANY 2 (pgautofailover_standby_2, pgautofailover_standby_3, pgautofailover_standby_4)\'' },
    ];
    const width = (rows[1]?.value ?? '').length;
    const lines = renderResult(data(rows), settingsRendering, false).split('\n');
    assert.equal(lines[0], `  Context |    Name |                   Setting | ${'Value'.padEnd(width)}`);
    assert.equal(lines[2], `formation | default |      number_sync_standbys | ${'2'.padEnd(width)}`);
    assert.equal(lines[3], `  primary |  node_1 | synchronous_standby_names | ${rows[1]?.value ?? ''}`);
  });
});

describe('show standby-names', () => {
  const value = { formation: 'default', group: 0, value: 'ANY 1 (pgautofailover_standby_2)' };
  it('prints the value between single quotes', { skip: noReference('show_standby-names') }, () => {
    assert.equal(renderResult(data(value), standbyNamesRendering, false), reference('show_standby-names'));
  });
  it('prints the JSON of the recording', { skip: noReference('show_standby-names--json') }, () => {
    assert.equal(renderResult(data(value), standbyNamesRendering, true), reference('show_standby-names--json'));
  });
  it('prints \'\' when synchronous replication is off', () => {
    assert.equal(renderResult(data({ ...value, value: '' }), standbyNamesRendering, false), '\'\'\n');
  });
});

describe('get node / get formation values', () => {
  it('prints the recorded values', { skip: noReference('get_node_candidate-priority') }, () => {
    assert.equal(renderResult(data({ text: '50', json: {} }), valueRendering, false), reference('get_node_candidate-priority'));
    assert.equal(renderResult(data({ text: 'true', json: {} }), valueRendering, false), reference('get_node_replication-quorum'));
    assert.equal(renderResult(data({ text: '0', json: {} }), valueRendering, false), reference('get_formation_number-sync-standbys'));
  });

  it('prints the JSON objects of spec 04 §7', () => {
    assert.equal(renderResult(data({ text: '50', json: { name: 'node_1', 'candidate-priority': 50 } }), valueRendering, true),
      '{\n    "name": "node_1",\n    "candidate-priority": 50\n}\n');
  });

  it('validates set values with the original\'s messages', () => {
    assert.equal(parseCandidatePriorityValue('0'), 0);
    assert.equal(parseCandidatePriorityValue('100'), 100);
    assert.throws(() => parseCandidatePriorityValue('101'), /candidate-priority value 101 is not valid. Valid values are integers from 0 to 100./);
    assert.throws(() => parseCandidatePriorityValue('abc'), /candidate-priority value abc is not valid/);
    assert.equal(parseReplicationQuorumValue('off'), false);
    assert.equal(parseReplicationQuorumValue('TRUE'), true);
    assert.throws(() => parseReplicationQuorumValue('maybe'), /replication-quorum value maybe is not valid. Valid values are "true" or "false"./);
    assert.equal(parseNumberSyncStandbysValue('2'), 2);
    assert.throws(() => parseNumberSyncStandbysValue('-1'), /number-sync-standbys value -1 is not valid. Expected a non-negative integer value./);
    assert.throws(() => parseNumberSyncStandbysValue('two'), /number-sync-standbys value two is not valid/);
  });
});

const CAPTURE = '/tmp/anchor/capture';
const XDG = (kind: string, file: string): string => `${CAPTURE}/xdg/${kind}/pg_autoctl${CAPTURE}/node1/${file}`;

describe('show file', () => {
  const keeperFiles = {
    config: XDG('config', 'pg_autoctl.cfg'), state: XDG('data', 'pg_autoctl.state'), init: XDG('data', 'pg_autoctl.init'), pid: XDG('run', 'pg_autoctl.pid'),
  };

  it('lists a keeper\'s files as recorded (no selector and --all)', { skip: noReference('show_file') }, () => {
    assert.equal(renderResult(data(keeperFiles), fileListRendering, false), reference('show_file'));
    assert.equal(renderResult(data(keeperFiles), fileListRendering, false), reference('show_file--all'));
  });

  it('lists a monitor\'s files as recorded (no state, no init)', { skip: noReference('show_file_monitor--all') }, () => {
    const monitor = {
      config: `${CAPTURE}/xdg/config/pg_autoctl${CAPTURE}/monitor/pg_autoctl.cfg`,
      pid: `${CAPTURE}/xdg/run/pg_autoctl${CAPTURE}/monitor/pg_autoctl.pid`,
    };
    assert.equal(renderResult(data(monitor), fileListRendering, false), reference('show_file_monitor--all'));
    assert.deepEqual(Object.keys(JSON.parse(renderResult(data(monitor), fileListRendering, true)) as object), ['config', 'pid']);
  });

  it('prints a file\'s contents followed by one newline', { skip: noReference('show_file--config--contents') }, () => {
    const cfg = readFileSync(`${REFERENCE}/files/node1_pg_autoctl.cfg.out`, 'utf8');
    assert.equal(fileContents(cfg), reference('show_file--config--contents'));
    const pid = (reference('show_file--pid--contents') ?? '').replace(/\n$/, '');
    assert.equal(fileContents(pid), reference('show_file--pid--contents'));
  });

  it('prints the pid file as JSON', () => {
    const parsed = parsePidFile('10000\n/tmp/node1\n2.0\n2.0\n3178519\n10011 postgres\n10012 node-active\n');
    assert.ok(parsed.ok);
    assert.deepEqual(pidFileJson(parsed.value), {
      pid: 10000, pgdata: '/tmp/node1', version: '2.0', semId: 3178519,
      services: [{ name: 'postgres', pid: 10011, version: '2.0', pgautofailover: '2.0' }, { name: 'node-active', pid: 10012, version: '2.0', pgautofailover: '2.0' }],
    });
  });

  it('prints the keeper state as recorded', { skip: noReference('show_file--state--contents') }, () => {
    const recorded = reference('show_file--state--contents') ?? '';
    const contact = /Last Monitor Contact:\s+(.*)\n/.exec(recorded)?.[1] ?? '';
    const epoch = 1_795_000_000;
    const state = initialKeeperState({
      currentRole: 'primary', assignedRole: 'primary', lastMonitorContact: epoch, currentGroup: 0, currentNodeId: 1,
      pgControlVersion: 1300, catalogVersionNo: 202209061, systemIdentifier: 7712242098153588458n,
    });
    // The contact time is the one legitimately different value: compare it through its format.
    assert.match(contact, /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}$/);
    assert.equal(renderKeeperStateText(state).replace(epochToString(epoch), contact), recorded);
    assert.deepEqual(Object.keys(keeperStateJson(state)),
      ['current_role', 'assigned_role', 'version', 'groupId', 'nodeId', 'last_monitor_contact', 'last_secondary_contact', 'pgversion']);
  });

  it('prints times as ctime() does, 0 as 0', () => {
    assert.equal(epochToString(0), '0');
    assert.match(epochToString(1_700_000_000), /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d 2023$/);
  });
});

describe('show systemd', () => {
  it('prints the unit of the recording', { skip: noReference('show_systemd') }, () => {
    const unit = { pgdata: `${CAPTURE}/node1`, user: 'postgres', home: '/var/lib/postgresql', program: '/usr/bin/pg_autoctl' };
    assert.equal(renderResult(data(unit), systemdRendering, false), reference('show_systemd'));
  });
});
