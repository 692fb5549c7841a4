/**
 * Renderings of the operator commands that follow the monitor's `state`
 * notifications (spec 04 §6.5): `perform failover|switchover|promotion`,
 * `enable|disable maintenance`. The text form is 2.0's notification table;
 * the JSON form lists the same notifications and the outcome.
 */
import type { NodeId, ReplicationState, StateNotification } from '../../monitor-api/index.js';
import type { Rendering } from '../command.js';

/** One `state` notification of the watched group, as received, with its local time of reception (HH:MM:SS). */
export type NotificationRow = Pick<StateNotification, 'nodeId' | 'name' | 'host' | 'port' | 'reportedState' | 'goalState'> & { time: string };

/** Column widths of Name, Node and Host:Port, sized from the group's nodes. */
export interface NotificationWidths { name: number; node: number; hostPort: number }

/** The minimum widths of Name, Node and Host:Port (spec 04 §6.5). */
export const MIN_WIDTHS: NotificationWidths = { name: 4, node: 5, hostPort: 9 };

/** Widths for a list of nodes (and the rows received, in case a node joined meanwhile). */
export function widthsFor(nodes: ReadonlyArray<{ nodeId: NodeId; name: string; host: string; port: number }>): NotificationWidths {
  const widths = { ...MIN_WIDTHS };
  for (const n of nodes) {
    widths.name = Math.max(widths.name, n.name.length);
    widths.node = Math.max(widths.node, String(n.nodeId).length);
    widths.hostPort = Math.max(widths.hostPort, `${n.host}:${n.port}`.length);
  }
  return widths;
}

const STATE_WIDTH = 19;

function line(widths: NotificationWidths, cells: readonly [string, string, string, string, string, string]): string {
  const [time, name, node, hostPort, current, assigned] = cells;
  return [time.padStart(8), name.padStart(widths.name), node.padStart(widths.node), hostPort.padStart(widths.hostPort),
    current.padStart(STATE_WIDTH), assigned.padStart(STATE_WIDTH)].join(' | ');
}

/** The header and separator lines of the notification table. */
export function renderNotificationHeader(w: NotificationWidths): string {
  return `${line(w, ['Time', 'Name', 'Node', 'Host:Port', 'Current State', 'Assigned State'])}\n`
    + `${[8, w.name, w.node, w.hostPort, STATE_WIDTH, STATE_WIDTH].map((n) => '-'.repeat(n)).join('-+-')}\n`;
}

/** One line of the notification table. */
export function renderNotificationRow(w: NotificationWidths, r: NotificationRow): string {
  return `${line(w, [r.time, r.name, String(r.nodeId), `${r.host}:${r.port}`, r.reportedState, r.goalState])}\n`;
}

/** The header, separator and one line per notification (no empty line after it, as 2.0). */
export function renderNotificationTable(widths: NotificationWidths, rows: readonly NotificationRow[]): string {
  const all = widthsFor(rows);
  const w: NotificationWidths = {
    name: Math.max(widths.name, all.name), node: Math.max(widths.node, all.node), hostPort: Math.max(widths.hostPort, all.hostPort),
  };
  return renderNotificationHeader(w) + rows.map((r) => renderNotificationRow(w, r)).join('');
}

/** A node as the outcome of an operation names it. */
export interface NodeRef { nodeId: NodeId; name: string; host: string; port: number }

/** What a command that waited on notifications returns. */
export interface WaitReport {
  formation: string;
  groupId: number;
  widths: NotificationWidths;
  rows: readonly NotificationRow[];
  /** The awaited state was notified. */
  reached: boolean;
  /** The group's primary once the wait ended (perform commands), when known. */
  primary?: NodeRef | null;
  /** The table was printed row by row while waiting (ctx.progress): the text rendering has nothing left to print. */
  streamed?: boolean;
  /** The node the command is about (maintenance, promotion), with its states once the wait ended. */
  node?: (NodeRef & { reportedState: ReplicationState; goalState: ReplicationState }) | null;
}

function nodeJson(n: NodeRef): Record<string, unknown> {
  return { node_id: n.nodeId, nodename: n.name, nodehost: n.host, nodeport: n.port };
}

export const waitRendering: Rendering<WaitReport> = {
  text: (report) => (report.streamed ? '' : renderNotificationTable(report.widths, report.rows)),
  json: (report) => {
    const out: Record<string, unknown> = {
      formation: report.formation,
      group: report.groupId,
      reached: report.reached,
    };
    if (report.primary !== undefined) out.primary = report.primary === null ? null : nodeJson(report.primary);
    if (report.node !== undefined) {
      out.node = report.node === null ? null
        : { ...nodeJson(report.node), current_state: report.node.reportedState, assigned_state: report.node.goalState };
    }
    out.notifications = report.rows.map((r) => ({
      time: r.time, nodename: r.name, node_id: r.nodeId, nodehost: r.host, nodeport: r.port,
      current_state: r.reportedState, assigned_state: r.goalState,
    }));
    return out;
  },
};
