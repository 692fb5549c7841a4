/**
 * The screen of `pg_autoctl watch` (spec 04 §10.5), as pure data: which
 * text goes where, in which style, for a terminal of a given size. The
 * session (./session.ts) paints it with the terminal library; tests read
 * it directly.
 *
 * Layout, top to bottom: the formation line with the clock at the right;
 * a status line (blank while the monitor answers); the nodes table, its
 * column set the widest that fits the width; a blank line; the events
 * table, as many of the latest events as fit the height, newest at the
 * bottom; the key help on the last line.
 */
import { formatLsn, type ReplicationState, type ShownEventRow, type WatchNodeRow } from '../../monitor-api/index.js';
import { connectionType } from '../render/show.js';

/** How a piece of text is shown; the session maps styles to terminal attributes. */
export type Style =
  | 'plain'
  | 'bold'
  /** Column headers and the key help (reverse video). */
  | 'heading'
  /** Something is wrong: an unreachable node or monitor (reverse video, bold). */
  | 'alert'
  /** Worth a look: a node that has not reported for more than 10 s (reverse video). */
  | 'notice'
  /** A state where Postgres is not running. */
  | 'stopped'
  /** A state where the node does not take part in failover. */
  | 'aside';

export interface Cell { x: number; text: string; style: Style }
export type Line = readonly Cell[];

export interface Screen {
  width: number;
  height: number;
  /** Exactly `height` lines; cells never reach past `width`. */
  lines: readonly Line[];
}

/** What the monitor last answered. */
export interface WatchSnapshot {
  /** null when the formation does not exist. */
  numberSyncStandbys: number | null;
  nodes: readonly WatchNodeRow[];
  /** Oldest first. */
  events: readonly ShownEventRow[];
}

export interface WatchModel {
  formation: string;
  /** The latest data; null until the monitor first answers. */
  snapshot: WatchSnapshot | null;
  /** Set while the monitor does not answer: since when, and the last error. */
  monitorDown: { since: Date; error: string } | null;
  now: Date;
}

/** Where the user scrolled to (keys, see ./keys.ts). */
export interface ViewState {
  /** How many of the newest events are scrolled out below the events table. */
  eventsBack: number;
  /** First character of the descriptions shown. */
  column: number;
  /** Show the end of descriptions too long for the screen. */
  toEnd: boolean;
}

export const INITIAL_VIEW: ViewState = { eventsBack: 0, column: 0, toEnd: false };

/** What key handling needs to know about the last layout. */
export interface LayoutFacts {
  eventsShown: number;
  eventsCount: number;
  descriptionWidth: number;
  longestDescription: number;
}

export const QUIT_HELP = 'Press q to quit';

// ---------------------------------------------------------------------------
// Text helpers

/** `HH:MM:SS` in local time. */
export function clockText(date: Date): string {
  return [date.getHours(), date.getMinutes(), date.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** A duration in seconds, compact: `4s`, `2m05s`, `3h07m`, `2d04h`; `-` when unknown. */
export function durationText(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '-';
  const s = Math.max(1, Math.floor(seconds));
  const two = (n: number): string => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${two(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d${two(Math.floor((s % 86400) / 3600))}h`;
}

const STOPPED_STATES: readonly ReplicationState[] = ['demoted', 'demote_timeout', 'draining', 'report_lsn'];
const ASIDE_STATES: readonly ReplicationState[] = ['maintenance', 'wait_maintenance', 'prepare_maintenance', 'wait_standby', 'dropped'];

export function stateStyle(state: ReplicationState): Style {
  if (STOPPED_STATES.includes(state)) return 'stopped';
  if (ASIDE_STATES.includes(state)) return 'aside';
  return 'plain';
}

/** Cuts cells at the screen's right edge (and drops those past it). */
function clip(cells: readonly Cell[], width: number): Cell[] {
  const out: Cell[] = [];
  for (const cell of cells) {
    if (cell.x >= width || cell.text.length === 0) continue;
    // Control characters (a newline in a description) would move the cursor.
    const text = [...cell.text.slice(0, width - cell.x)].map((c) => (c < ' ' || c === '\u007f' ? ' ' : c)).join('');
    out.push({ ...cell, text });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Nodes table

type NodeField = 'name' | 'id' | 'quorum' | 'priority' | 'hostPort' | 'tliLsn' | 'check' | 'connection' | 'report' | 'reported' | 'assigned';

interface NodeColumn { field: NodeField; header: string }

const col = (field: NodeField, header: string): NodeColumn => ({ field, header });
const REPORTED = col('reported', 'Reported State');
const ASSIGNED = col('assigned', 'Assigned State');

/** Column sets from the narrowest to the widest; the widest that fits is used. */
export const NODE_COLUMN_SETS: readonly (readonly NodeColumn[])[] = [
  [col('id', 'Id'), REPORTED, ASSIGNED],
  [col('name', 'Name'), col('report', 'Report'), REPORTED, ASSIGNED],
  [col('name', 'Name'), col('id', 'Id'), col('report', 'Report'), REPORTED, ASSIGNED],
  [col('name', 'Name'), col('connection', 'Connection'), col('report', 'Report'), REPORTED, ASSIGNED],
  [col('name', 'Name'), col('id', 'Id'), col('connection', 'Connection'), col('report', 'Last Report'), REPORTED, ASSIGNED],
  [col('name', 'Name'), col('id', 'Id'), col('check', 'Check'), col('connection', 'Connection'), col('report', 'Report'), REPORTED, ASSIGNED],
  [col('name', 'Name'), col('id', 'Node'), col('quorum', 'Quorum'), col('priority', 'Priority'), col('check', 'Check'),
    col('connection', 'Connection'), col('report', 'Report'), REPORTED, ASSIGNED],
  [col('name', 'Name'), col('id', 'Node'), col('quorum', 'Quorum'), col('priority', 'Priority'), col('tliLsn', 'TLI: LSN'),
    col('check', 'Check'), col('connection', 'Connection'), col('report', 'Report'), REPORTED, ASSIGNED],
  [col('name', 'Name'), col('id', 'Node'), col('quorum', 'Quorum'), col('priority', 'Priority'), col('hostPort', 'Host:Port'),
    col('tliLsn', 'TLI: LSN'), col('check', 'Check'), col('connection', 'Connection'), col('report', 'Last Report'), REPORTED, ASSIGNED],
  [col('name', 'Name'), col('id', 'Node'), col('quorum', 'Quorum'), col('priority', 'Priority'), col('hostPort', 'Host:Port'),
    col('tliLsn', 'TLI: LSN'), col('check', 'Last Check'), col('connection', 'Connection'), col('report', 'Last Report'), REPORTED, ASSIGNED],
];

/** Durations are at most 6 characters (`23h59m`), states at most 19 (`prepare_maintenance`). */
const FIXED_WIDTH: Partial<Record<NodeField, number>> = { quorum: 3, priority: 3, check: 6, report: 6, reported: 19, assigned: 19 };

function nodeCell(node: WatchNodeRow, field: NodeField, citus: boolean): { text: string; style: Style } {
  switch (field) {
    case 'name': return { text: node.name, style: 'plain' };
    case 'id': return { text: citus ? `${node.groupId}/${node.nodeId}` : String(node.nodeId), style: 'plain' };
    case 'quorum': return { text: node.replicationQuorum ? 'yes' : 'no', style: 'plain' };
    case 'priority': return { text: String(node.candidatePriority), style: 'plain' };
    case 'hostPort': return { text: `${node.host}:${node.port}`, style: 'plain' };
    case 'tliLsn': return { text: `${String(node.reportedTli).padStart(3)}: ${formatLsn(node.reportedLsn)}`, style: 'plain' };
    case 'check': return { text: durationText(node.healthLagSeconds), style: 'plain' };
    case 'connection': {
      const mark = node.health === 0 ? ' !' : node.health === -1 ? ' ?' : '';
      return { text: `${connectionType(node.reportedState)}${mark}`, style: node.health === 1 ? 'plain' : 'alert' };
    }
    case 'report': return {
      text: durationText(node.reportLagSeconds),
      style: node.reportLagSeconds !== null && node.reportLagSeconds > 10 ? 'notice' : 'plain',
    };
    case 'reported': return { text: node.reportedState, style: stateStyle(node.reportedState) };
    case 'assigned': return { text: node.goalState, style: stateStyle(node.goalState) };
  }
}

interface SizedColumns { columns: readonly NodeColumn[]; widths: number[]; total: number }

function sizeColumns(columns: readonly NodeColumn[], nodes: readonly WatchNodeRow[], citus: boolean): SizedColumns {
  const widths = columns.map((c) => Math.max(c.header.length, FIXED_WIDTH[c.field] ?? 0,
    ...nodes.map((n) => nodeCell(n, c.field, citus).text.length)));
  return { columns, widths, total: widths.reduce((a, b) => a + b, 0) + widths.length - 1 };
}

/** The widest column set that fits `width`, or null when even the narrowest does not. */
export function pickNodeColumns(nodes: readonly WatchNodeRow[], width: number): SizedColumns | null {
  const citus = nodes[0] !== undefined && nodes[0].formationKind !== 'pgsql';
  let best: SizedColumns | null = null;
  for (const set of NODE_COLUMN_SETS) {
    const sized = sizeColumns(set, nodes, citus);
    if (sized.total <= width && (best === null || sized.total >= best.total)) best = sized;
  }
  return best;
}

function nodeLines(nodes: readonly WatchNodeRow[], sized: SizedColumns): { header: Cell[]; rows: Cell[][] } {
  const citus = nodes[0] !== undefined && nodes[0].formationKind !== 'pgsql';
  const place = (texts: readonly { text: string; style: Style }[]): Cell[] => {
    let x = 0;
    return texts.map((t, i) => {
      const w = sized.widths[i] ?? 0;
      const cell = { x, text: t.text.padStart(w), style: t.style };
      x += w + 1;
      return cell;
    });
  };
  return {
    header: place(sized.columns.map((c) => ({ text: c.header, style: 'heading' }))),
    rows: nodes.map((n) => place(sized.columns.map((c) => nodeCell(n, c.field, citus)))),
  };
}

// ---------------------------------------------------------------------------
// Events table

type EventField = 'id' | 'time' | 'name';

/** Column sets before the description, from the narrowest to the widest. */
export const EVENT_COLUMN_SETS: readonly (readonly EventField[])[] = [
  ['id'],
  ['time'],
  ['id', 'time'],
  ['id', 'time', 'name'],
];

const EVENT_HEADERS: Record<EventField, string> = { id: 'Id', time: 'Event Time', name: 'Name' };
/** The description width a column set must leave to be chosen. */
export const DESCRIPTION_BUDGET = 60;
const EVENT_GAP = 2;

function eventText(event: ShownEventRow, field: EventField): string {
  switch (field) {
    case 'id': return String(event.eventId);
    // `YYYY-MM-DD HH:MI:SS`, the seconds without their fraction.
    case 'time': return event.eventTimeText.slice(0, 19);
    case 'name': return event.name;
  }
}

function eventWidths(fields: readonly EventField[], events: readonly ShownEventRow[]): number[] {
  return fields.map((f) => Math.max(EVENT_HEADERS[f].length, ...events.map((e) => eventText(e, f).length)));
}

/** The widest column set leaving DESCRIPTION_BUDGET characters, else the narrowest. */
export function pickEventColumns(events: readonly ShownEventRow[], width: number): { fields: readonly EventField[]; widths: number[] } {
  let best: { fields: readonly EventField[]; widths: number[]; total: number } | null = null;
  for (const fields of EVENT_COLUMN_SETS) {
    const widths = eventWidths(fields, events);
    const total = widths.reduce((a, b) => a + b + EVENT_GAP, 0) + DESCRIPTION_BUDGET;
    if (total <= width && (best === null || total >= best.total)) best = { fields, widths, total };
  }
  if (best) return best;
  const fields = EVENT_COLUMN_SETS[0] ?? ['id'];
  return { fields, widths: eventWidths(fields, events) };
}

/** The part of a description shown from `view` in `room` characters. */
export function descriptionSlice(text: string, room: number, view: ViewState): string {
  if (room <= 0) return '';
  if (text.length <= room) return view.toEnd ? text : text.slice(Math.min(view.column, text.length));
  if (view.toEnd) return text.slice(text.length - room);
  return text.slice(Math.min(view.column, text.length)).slice(0, room);
}

// ---------------------------------------------------------------------------
// The whole screen

function headerLine(model: WatchModel, width: number): Cell[] {
  const clock = clockText(model.now);
  const cells: Cell[] = [{ x: 0, text: 'Formation: ', style: 'plain' }, { x: 11, text: model.formation, style: 'bold' }];
  let x = 11 + model.formation.length;
  const nss = model.snapshot?.numberSyncStandbys;
  const nssText = nss === null || nss === undefined ? '-' : String(nss);
  const label = width > x + 18 + nssText.length + clock.length + 1 ? ' - Sync Standbys: ' : ' - nss: ';
  cells.push({ x, text: label, style: 'plain' });
  x += label.length;
  cells.push({ x, text: nssText, style: 'bold' });
  x += nssText.length;
  if (width >= x + 1 + clock.length) cells.push({ x: width - clock.length, text: clock, style: 'plain' });
  return cells;
}

function statusLine(model: WatchModel): Cell[] {
  if (model.monitorDown) {
    return [{ x: 0, text: `Monitor unreachable since ${clockText(model.monitorDown.since)}, retrying: ${model.monitorDown.error}`, style: 'alert' }];
  }
  if (model.snapshot === null) return [{ x: 0, text: 'Connecting to the monitor...', style: 'plain' }];
  if (model.snapshot.numberSyncStandbys === null) return [{ x: 0, text: `Formation "${model.formation}" does not exist (yet)`, style: 'notice' }];
  return [];
}

export interface Layout { screen: Screen; facts: LayoutFacts }

/** The screen for `model` at `width` x `height`, scrolled as in `view`. */
export function layoutWatch(model: WatchModel, view: ViewState, width: number, height: number): Layout {
  const nodes = model.snapshot?.nodes ?? [];
  const events = model.snapshot?.events ?? [];
  const lines: Cell[][] = [];
  const facts: LayoutFacts = { eventsShown: 0, eventsCount: events.length, descriptionWidth: 0, longestDescription: 0 };
  const sized = pickNodeColumns(nodes, width);
  const finish = (): Layout => {
    while (lines.length < height) lines.push([]);
    lines.length = Math.max(0, height);
    return { screen: { width, height, lines: lines.map((l) => clip(l, width)) }, facts };
  };
  if (sized === null || height < 3) {
    lines.push([{ x: 0, text: `Window too small: ${height}x${width}`, style: 'alert' }]);
    return finish();
  }
  // The last line holds the key help.
  const usable = height - 1;
  lines.push(headerLine(model, width), statusLine(model));
  const table = nodeLines(nodes, sized);
  lines.push(table.header);
  for (const row of table.rows) {
    if (lines.length >= usable) break;
    lines.push(row);
  }

  if (lines.length + 2 < usable) {
    lines.push([]);
    const { fields, widths } = pickEventColumns(events, width);
    let x = 0;
    const header: Cell[] = [];
    fields.forEach((f, i) => {
      const w = widths[i] ?? 0;
      header.push({ x, text: EVENT_HEADERS[f].padStart(w), style: 'heading' });
      x += w + EVENT_GAP;
    });
    const descX = x;
    header.push({ x: descX, text: ' Description'.padEnd(Math.max(0, width - descX)), style: 'heading' });
    lines.push(header);
    const room = Math.max(0, width - descX - 1);
    const capacity = usable - lines.length;
    const back = Math.min(view.eventsBack, Math.max(0, events.length - capacity));
    const end = events.length - back;
    const shown = events.slice(Math.max(0, end - capacity), end);
    for (const event of shown) {
      let ex = 0;
      const row: Cell[] = fields.map((f, i) => {
        const w = widths[i] ?? 0;
        const cell = { x: ex, text: eventText(event, f).padStart(w), style: 'plain' as Style };
        ex += w + EVENT_GAP;
        return cell;
      });
      row.push({ x: descX + 1, text: descriptionSlice(event.description ?? '', room, view), style: 'plain' });
      lines.push(row);
    }
    facts.eventsShown = shown.length;
    facts.descriptionWidth = room;
    facts.longestDescription = Math.max(0, ...events.map((e) => (e.description ?? '').length));
  }

  while (lines.length < usable) lines.push([]);
  const hidden = hiddenNewer(view, facts);
  const help = hidden > 0 ? `${hidden} newer events below - ${QUIT_HELP}` : QUIT_HELP;
  lines.push([{ x: Math.max(0, width - help.length), text: help, style: 'heading' }]);
  return finish();
}

function hiddenNewer(view: ViewState, facts: LayoutFacts): number {
  return Math.min(view.eventsBack, Math.max(0, facts.eventsCount - facts.eventsShown));
}

/** The screen as plain text lines (no styles), trailing blanks trimmed: for tests and logs. */
export function screenText(screen: Screen): string[] {
  return screen.lines.map((line) => {
    let text = '';
    for (const cell of line) {
      text = text.padEnd(cell.x).slice(0, cell.x) + cell.text + text.slice(cell.x + cell.text.length);
    }
    return text.trimEnd();
  });
}
