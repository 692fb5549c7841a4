/** The screen of `pg_autoctl watch` at several sizes (src/cli/watch/layout.ts) and its keys (keys.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyKey } from '../../../src/cli/watch/keys.js';
import {
  INITIAL_VIEW, QUIT_HELP, clockText, descriptionSlice, durationText, layoutWatch, screenText,
  type LayoutFacts, type ViewState, type WatchModel,
} from '../../../src/cli/watch/layout.js';
import type { ShownEventRow, WatchNodeRow } from '../../../src/monitor-api/index.js';

function node(id: number, name: string, state: WatchNodeRow['reportedState'], extra: Partial<WatchNodeRow> = {}): WatchNodeRow {
  return {
    formationKind: 'pgsql', name, host: '127.0.0.1', port: 6000 + id, groupId: 0, nodeId: id, reportedState: state,
    goalState: state, candidatePriority: 50, replicationQuorum: true, reportedTli: 1, reportedLsn: 0x30000d8n, health: 1,
    nodeCluster: 'default', healthLagSeconds: 2.4, reportLagSeconds: 0.3, ...extra,
  };
}

function event(id: number, name: string, description: string): ShownEventRow {
  return {
    eventId: BigInt(id), eventTime: new Date('2026-11-25T22:38:14Z'), formationId: 'default', nodeId: 1, groupId: 0, name,
    host: '127.0.0.1', port: 6001, reportedState: 'single', goalState: 'single', reportedRepState: 'unknown', reportedTli: 1,
    reportedLsn: 0n, candidatePriority: 50, replicationQuorum: true, description,
    eventTimeText: `2026-11-25 22:38:${String(10 + id).padStart(2, '0')}.185216+00`, eventTimeIso: '',
  };
}

const NOW = new Date(2026, 10, 25, 22, 40, 5);
const EVENTS = Array.from({ length: 30 }, (_, i) => event(i + 1, i % 2 ? 'node_2' : 'node_1', `Event number ${i + 1}: ${'x'.repeat(i * 3)}`));
const MODEL: WatchModel = {
  formation: 'default',
  snapshot: {
    numberSyncStandbys: 1,
    nodes: [node(1, 'node_1', 'primary'), node(2, 'node_2', 'secondary', { health: 0, reportLagSeconds: 75 })],
    events: EVENTS,
  },
  monitorDown: null,
  now: NOW,
};

function screen(model: WatchModel, width: number, height: number, view: ViewState = INITIAL_VIEW): string[] {
  const { screen: s } = layoutWatch(model, view, width, height);
  assert.equal(s.lines.length, height, 'one line per row');
  for (const line of s.lines) for (const cell of line) assert.ok(cell.x + cell.text.length <= width, `cell "${cell.text}" fits ${width}`);
  return screenText(s);
}

const headerOf = (lines: string[]): string => lines.find((l) => l.includes('Reported State')) ?? '';

describe('watch layout', () => {
  it('uses every column on a wide screen', () => {
    const lines = screen(MODEL, 180, 30);
    assert.equal(lines[0], `Formation: default - Sync Standbys: 1${' '.repeat(180 - 37 - 8)}22:40:05`);
    assert.equal(lines[1], '');
    assert.equal(headerOf(lines),
      '  Name Node Quorum Priority      Host:Port       TLI: LSN Last Check  Connection Last Report      Reported State      Assigned State');
    assert.equal(lines[3], 'node_1    1    yes       50 127.0.0.1:6001   1: 0/30000D8         2s  read-write          1s             primary             primary');
    assert.equal(lines[4], 'node_2    2    yes       50 127.0.0.1:6002   1: 0/30000D8         2s read-only !       1m15s           secondary           secondary');
    assert.equal(lines[5], '');
    assert.match(lines[6] ?? '', /^Id {11}Event Time {4}Name {3}Description$/);
    assert.equal(lines[29], `${' '.repeat(180 - QUIT_HELP.length)}${QUIT_HELP}`);
  });

  it('drops columns as the screen narrows, keeping the states', () => {
    const headers = [150, 130, 110, 90, 70, 60, 50, 45].map((w) =>
      layoutWatch(MODEL, INITIAL_VIEW, w, 30).screen.lines[2]?.map((cell) => cell.text.trim()));
    assert.deepEqual(headers[0], ['Name', 'Node', 'Quorum', 'Priority', 'Host:Port', 'TLI: LSN', 'Last Check', 'Connection', 'Last Report', 'Reported State', 'Assigned State']);
    assert.deepEqual(headers[1], ['Name', 'Node', 'Quorum', 'Priority', 'Host:Port', 'TLI: LSN', 'Check', 'Connection', 'Last Report', 'Reported State', 'Assigned State']);
    assert.deepEqual(headers[2], ['Name', 'Node', 'Quorum', 'Priority', 'TLI: LSN', 'Check', 'Connection', 'Report', 'Reported State', 'Assigned State']);
    assert.deepEqual(headers[3], ['Name', 'Id', 'Check', 'Connection', 'Report', 'Reported State', 'Assigned State']);
    assert.deepEqual(headers[4], ['Name', 'Connection', 'Report', 'Reported State', 'Assigned State']);
    assert.deepEqual(headers[5], ['Name', 'Id', 'Report', 'Reported State', 'Assigned State']);
    assert.deepEqual(headers[6], ['Id', 'Reported State', 'Assigned State']);
    assert.deepEqual(headers[7], ['Id', 'Reported State', 'Assigned State']);
    // The sync standbys label shortens before the clock goes.
    assert.match(screen(MODEL, 45, 30)[0] ?? '', /^Formation: default - nss: 1 +22:40:05$/);
  });

  it('says so when even the narrowest table does not fit', () => {
    const lines = screen(MODEL, 30, 10);
    assert.equal(lines[0], 'Window too small: 10x30');
    assert.deepEqual(lines.slice(1), Array(9).fill(''));
  });

  it('shows as many of the newest events as fit the height, newest at the bottom', () => {
    for (const height of [30, 20, 12]) {
      const lines = screen(MODEL, 120, height);
      const rows = lines.filter((l) => /^ *\d+ {2}2026-/.test(l));
      // formation, status, header, 2 nodes, blank, events header ... key help
      assert.equal(rows.length, height - 8, `height ${height}`);
      assert.match(rows[rows.length - 1] ?? '', /^30 {2}2026-11-25 22:38:40 {2}node_2 {3}Event number 30: x+$/);
      assert.ok(!lines.some((l) => l.includes('.185216')), 'event times without fractions');
    }
    // Event columns by width: id + time + name, then id + time, then id only.
    assert.match(screen(MODEL, 100, 12)[6] ?? '', /^Id {11}Event Time {4}Name {3}Description/);
    assert.match(screen(MODEL, 90, 12)[6] ?? '', /^Id {11}Event Time {3}Description/);
    assert.match(screen(MODEL, 70, 12)[6] ?? '', /^Id {3}Description/);
  });

  it('leaves out events, then nodes, on a very short screen', () => {
    const lines = screen(MODEL, 120, 6);
    assert.match(lines[4] ?? '', /^node_2/);
    assert.equal(lines[5]?.trim(), QUIT_HELP);
    const four = screen(MODEL, 120, 4);
    assert.match(four[2] ?? '', /Reported State/);
    assert.equal(four[3]?.trim(), QUIT_HELP);
  });

  it('keeps the last data and names the problem while the monitor is down', () => {
    const down: WatchModel = { ...MODEL, monitorDown: { since: new Date(2026, 10, 25, 22, 39, 58), error: 'connect ECONNREFUSED 127.0.0.1:5432' } };
    const lines = screen(down, 120, 20);
    assert.equal(lines[1], 'Monitor unreachable since 22:39:58, retrying: connect ECONNREFUSED 127.0.0.1:5432');
    assert.match(lines[3] ?? '', /^node_1 /);
    const { screen: s } = layoutWatch(down, INITIAL_VIEW, 120, 20);
    assert.equal(s.lines[1]?.[0]?.style, 'alert');
    // Before any data.
    const first = screen({ ...MODEL, snapshot: null }, 120, 10);
    assert.equal(first[1], 'Connecting to the monitor...');
    assert.match(first[0] ?? '', /Sync Standbys: - /);
  });

  it('styles unhealthy nodes, late reports and states where Postgres is down', () => {
    const model: WatchModel = { ...MODEL, snapshot: { ...MODEL.snapshot!, nodes: [node(1, 'a', 'demoted'), node(2, 'b', 'maintenance', { health: -1, reportLagSeconds: 11 })] } };
    const { screen: s } = layoutWatch(model, INITIAL_VIEW, 180, 12);
    const style = (y: number, text: string): string | undefined => s.lines[y]?.find((c) => c.text.trim() === text)?.style;
    assert.equal(style(3, 'demoted'), 'stopped');
    assert.equal(style(4, 'maintenance'), 'aside');
    assert.equal(style(4, 'none ?'), 'alert');
    assert.equal(style(4, '11s'), 'notice');
    assert.equal(style(3, 'none'), 'plain');
  });

  it('formats durations and the clock', () => {
    assert.deepEqual([0.2, 1, 59.9, 60, 125, 3600 * 3 + 7 * 60, 86400 * 2 + 3600 * 4].map(durationText), ['1s', '1s', '59s', '1m00s', '2m05s', '3h07m', '2d04h']);
    assert.equal(durationText(null), '-');
    assert.equal(clockText(new Date(2026, 0, 2, 3, 4, 5)), '03:04:05');
  });
});

describe('watch keys', () => {
  const facts = (over: Partial<LayoutFacts> = {}): LayoutFacts => ({ eventsShown: 10, eventsCount: 30, descriptionWidth: 40, longestDescription: 100, ...over });

  it('quits on q, F1 and Ctrl-C, ignores other keys', () => {
    for (const key of ['q', 'F1', 'CTRL_C']) assert.equal(applyKey(key, INITIAL_VIEW, facts()), 'quit');
    assert.equal(applyKey('x', INITIAL_VIEW, facts()), null);
  });

  it('scrolls through older events and back, within bounds', () => {
    let view: ViewState = INITIAL_VIEW;
    view = applyKey('UP', view, facts()) as ViewState;
    view = applyKey('k', view, facts()) as ViewState;
    assert.equal(view.eventsBack, 2);
    view = applyKey('PAGE_UP', view, facts()) as ViewState;
    assert.equal(view.eventsBack, 11);
    view = applyKey('CTRL_U', view, facts()) as ViewState;
    assert.equal(view.eventsBack, 20, 'at most the events not shown');
    view = applyKey('PAGE_DOWN', view, facts()) as ViewState;
    view = applyKey('j', view, facts()) as ViewState;
    assert.equal(view.eventsBack, 10);
    view = applyKey('CTRL_D', applyKey('CTRL_D', view, facts()) as ViewState, facts()) as ViewState;
    assert.equal(view.eventsBack, 0);
    // Scrolled back: the screen shows older events and says how many are below.
    const lines = screen(MODEL, 120, 12, { ...INITIAL_VIEW, eventsBack: 5 });
    assert.match(lines.filter((l) => /^ *\d+ {2}2026-/.test(l)).at(-1) ?? '', /^25 /);
    assert.match(lines[11] ?? '', /5 newer events below - Press q to quit$/);
  });

  it('scrolls descriptions sideways, to their end and home', () => {
    let view = applyKey('RIGHT', INITIAL_VIEW, facts()) as ViewState;
    assert.equal(view.column, 20);
    view = applyKey('l', applyKey('CTRL_F', applyKey('RIGHT', view, facts()) as ViewState, facts()) as ViewState, facts()) as ViewState;
    assert.equal(view.column, 60, 'not past the end of the longest description');
    view = applyKey('h', view, facts()) as ViewState;
    assert.equal(view.column, 40);
    view = applyKey('END', view, facts()) as ViewState;
    assert.equal(view.toEnd, true);
    assert.equal(descriptionSlice('abcdefghij', 4, view), 'ghij');
    view = applyKey('0', view, facts()) as ViewState;
    assert.deepEqual(view, INITIAL_VIEW);
    assert.equal(descriptionSlice('abcdefghij', 4, { ...INITIAL_VIEW, column: 3 }), 'defg');
  });
});
