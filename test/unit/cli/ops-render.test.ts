/**
 * The notification table of the operator commands (spec 04 §6.5), byte for
 * byte against 2.0's recording and the spec's sample, its JSON form, and
 * the wait loop over a scripted notification source.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { data, renderResult } from '../../../src/cli/command.js';
import { parseWait } from '../../../src/cli/commands/perform.js';
import {
  MIN_WIDTHS, renderNotificationTable, waitRendering, widthsFor, type NotificationRow, type WaitReport,
} from '../../../src/cli/render/operations.js';
import { FALLBACK_WIDTHS, clockTime, waitForNotifications, type NextNotification } from '../../../src/cli/wait-events.js';
import { silentLogger } from '../../../src/common/log.js';
import type { ReplicationState, StateNotification } from '../../../src/monitor-api/index.js';
import type { CommandContext } from '../../../src/cli/context.js';

const RECORDING = '/work/shared/reference/pgaf-2.0/perform_switchover.out';
const recording = (): string | undefined => {
  try {
    return readFileSync(RECORDING, 'utf8');
  } catch {
    return undefined;
  }
};

function row(time: string, nodeId: number, reportedState: ReplicationState, goalState: ReplicationState,
  host = 'localhost', port = 5500 + nodeId): NotificationRow {
  return { time, nodeId, name: `node${nodeId}`, host, port, reportedState, goalState };
}

describe('notification table', () => {
  it('prints the spec sample with widths from the group\'s nodes', () => {
    const rows = [row('10:02:11', 1, 'primary', 'draining'), row('10:02:16', 2, 'primary', 'primary')];
    const widths = widthsFor(rows);
    assert.equal(renderNotificationTable(widths, rows), [
      '    Time |  Name |  Node |      Host:Port |       Current State |      Assigned State',
      '---------+-------+-------+----------------+---------------------+--------------------',
      '10:02:11 | node1 |     1 | localhost:5501 |             primary |            draining',
      '10:02:16 | node2 |     2 | localhost:5502 |             primary |             primary',
      '',
    ].join('\n'));
  });

  it('keeps the minimum widths with short names and no rows', () => {
    assert.deepEqual(widthsFor([{ nodeId: 1, name: 'a', host: 'h', port: 1 }]), MIN_WIDTHS);
    assert.equal(renderNotificationTable(MIN_WIDTHS, []).split('\n')[0], '    Time | Name |  Node | Host:Port |       Current State |      Assigned State');
  });

  it('prints the rows of the 2.0 recording byte for byte with 2.0\'s fallback widths', { skip: recording() === undefined && 'no reference recordings' }, () => {
    const text = recording() ?? '';
    const rows = text.trimEnd().split('\n').slice(2).map((l) => {
      const [time = '', name = '', node = '', hostPort = '', current = '', assigned = ''] = l.split('|').map((c) => c.trim());
      const [host = '', port = ''] = hostPort.split(':');
      return {
        time, name, nodeId: Number(node), host, port: Number(port),
        reportedState: current as ReplicationState, goalState: assigned as ReplicationState,
      };
    });
    assert.equal(rows.length, 18);
    assert.equal(renderNotificationTable(FALLBACK_WIDTHS, rows), text);
  });

  it('renders JSON with the outcome and each notification', () => {
    const report: WaitReport = {
      formation: 'default', groupId: 0, widths: MIN_WIDTHS, reached: true,
      rows: [row('10:02:16', 2, 'primary', 'primary')],
      primary: { nodeId: 2, name: 'node2', host: 'localhost', port: 5502 },
    };
    const json = JSON.parse(renderResult(data(report), waitRendering, true)) as Record<string, unknown>;
    assert.deepEqual(json, {
      formation: 'default', group: 0, reached: true,
      primary: { node_id: 2, nodename: 'node2', nodehost: 'localhost', nodeport: 5502 },
      notifications: [{
        time: '10:02:16', nodename: 'node2', node_id: 2, nodehost: 'localhost', nodeport: 5502,
        current_state: 'primary', assigned_state: 'primary',
      }],
    });
  });
});

describe('waiting on notifications', () => {
  const ctx: CommandContext = { log: silentLogger(), env: {}, cwd: '/', json: false };
  const note = (nodeId: number, reportedState: ReplicationState, goalState: ReplicationState, groupId = 0): StateNotification => ({
    type: 'state', formation: 'default', groupId, nodeId, name: `node${nodeId}`, host: 'localhost', port: 5500 + nodeId,
    reportedState, goalState, health: 'good',
  });
  const source = (items: NextNotification[]): { next(): Promise<NextNotification> } => ({
    next: () => Promise.resolve(items.shift() ?? 'closed'),
  });
  const at = (): Date => new Date(2026, 0, 1, 9, 5, 7);
  const isPrimary = (n: StateNotification): boolean => n.reportedState === 'primary' && n.goalState === 'primary';

  it('collects the group\'s notifications until the awaited one; the first never ends the wait', async () => {
    const outcome = await waitForNotifications(ctx, source([
      note(2, 'primary', 'primary'), note(3, 'secondary', 'secondary', 1), note(1, 'primary', 'draining'), note(2, 'primary', 'primary'),
      note(1, 'demoted', 'demoted'),
    ]), { formation: 'default', groupId: 0, timeoutMs: 1000, done: isPrimary, now: at });
    assert.equal(outcome.reached, true);
    assert.deepEqual(outcome.rows.map((r) => [r.time, r.nodeId, r.reportedState, r.goalState]), [
      ['09:05:07', 2, 'primary', 'primary'], ['09:05:07', 1, 'primary', 'draining'], ['09:05:07', 2, 'primary', 'primary'],
    ]);
  });

  it('reports a timeout and a lost connection as failures, with the rows received', async () => {
    const timedOut = await waitForNotifications(ctx, source([note(1, 'primary', 'draining'), 'timeout']),
      { formation: 'default', groupId: 0, timeoutMs: 1000, done: isPrimary, now: at });
    assert.deepEqual([timedOut.reached, timedOut.failure, timedOut.rows.length], [false, 'timeout', 1]);
    const closed = await waitForNotifications(ctx, source([]), { formation: 'default', groupId: 0, timeoutMs: 0, done: isPrimary });
    assert.deepEqual([closed.reached, closed.failure, closed.rows.length], [false, 'closed', 0]);
  });

  it('waits without a limit with --wait 0, through quiet periods', async () => {
    const outcome = await waitForNotifications(ctx, source(['timeout', note(1, 'primary', 'draining'), 'timeout', note(2, 'primary', 'primary')]),
      { formation: 'default', groupId: 0, timeoutMs: 0, done: isPrimary, now: at });
    assert.equal(outcome.reached, true);
  });

  it('prints the table row by row through the progress channel, as 2.0, and then nothing more', async () => {
    let printed = '';
    const live = { ...ctx, progress: (text: string) => { printed += text; } };
    const widths = { name: 5, node: 5, hostPort: 14 };
    const outcome = await waitForNotifications(live, source([note(1, 'primary', 'draining'), note(2, 'primary', 'primary')]),
      { formation: 'default', groupId: 0, timeoutMs: 1000, done: isPrimary, now: at, widths });
    assert.equal(outcome.streamed, true);
    assert.equal(printed, renderNotificationTable(widths, outcome.rows));
    const report = { formation: 'default', groupId: 0, widths, rows: outcome.rows, streamed: true, reached: true };
    assert.equal(waitRendering.text(report), '');
    assert.equal(waitRendering.text({ ...report, streamed: false }), printed);
    // --json (no progress channel): nothing printed while waiting.
    const quiet = await waitForNotifications(ctx, source([note(1, 'primary', 'draining'), note(2, 'primary', 'primary')]),
      { formation: 'default', groupId: 0, timeoutMs: 1000, done: isPrimary, now: at, widths });
    assert.equal(quiet.streamed, false);
  });

  it('prints the time of reception as HH:MM:SS', () => {
    assert.equal(clockTime(new Date(2026, 0, 1, 7, 8, 9)), '07:08:09');
  });
});

describe('--wait', () => {
  it('defaults to 60 seconds and refuses what is not an integer', () => {
    assert.equal(parseWait(undefined), 60);
    assert.equal(parseWait('0'), 0);
    assert.equal(parseWait('120'), 120);
    assert.throws(() => parseWait('soon'), /--wait argument is not a valid timeout: "soon"/);
    assert.throws(() => parseWait('1.5'), /not a valid timeout/);
  });
});
