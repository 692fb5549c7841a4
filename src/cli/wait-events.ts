/**
 * Following the monitor's `state` notifications from an interactive
 * command (spec 04 §6.5): one connection LISTENs on the channel before the
 * command asks for a change, then the notifications of the target group
 * are collected until an awaited one arrives or the time is up.
 *
 * 2.0 prints each row as it arrives; here the command returns the rows and
 * the table is printed when the wait ends (handlers do not write on
 * stdout, see ./command.ts). Each row is also logged at DEBUG level as it
 * arrives, for a live view with -vv.
 */
import type pg from 'pg';
import { AutoctlError, messageOf } from '../common/errors.js';
import {
  CHANNELS, getNodes, parseStateNotification, type StateNotification,
} from '../monitor-api/index.js';
import type { CommandContext } from './context.js';
import { connectMonitor, type MonitorTarget } from './monitor-target.js';
import {
  renderNotificationHeader, renderNotificationRow, widthsFor, type NotificationRow, type NotificationWidths,
} from './render/operations.js';

/** The widths 2.0 falls back to when it cannot list the group's nodes. */
export const FALLBACK_WIDTHS: NotificationWidths = { name: 25, node: 5, hostPort: 25 };

export type NextNotification = StateNotification | 'timeout' | 'closed';

/** A monitor connection that LISTENs on `state`; it also serves the command's API calls. */
export interface StateWatch {
  client: pg.Client;
  /** The next notification, or 'timeout' after `timeoutMs`, or 'closed' when the connection is gone. */
  next(timeoutMs: number): Promise<NextNotification>;
  close(): Promise<void>;
}

export async function watchStates(ctx: CommandContext, target: MonitorTarget): Promise<StateWatch> {
  const client = await connectMonitor(ctx, target);
  const queue: StateNotification[] = [];
  let closed = false;
  let wake: (() => void) | undefined;
  client.on('notification', (message) => {
    if (message.channel !== CHANNELS.state || message.payload === undefined) return;
    try {
      queue.push(parseStateNotification(message.payload));
    } catch (error) {
      ctx.log.warn(`Failed to parse a notification from the monitor: ${messageOf(error)}`);
      return;
    }
    wake?.();
  });
  const onGone = (error?: Error): void => {
    if (!closed && error) ctx.log.error(`Lost the connection to the monitor: ${messageOf(error)}`);
    closed = true;
    wake?.();
  };
  client.on('error', onGone);
  client.on('notice', (notice) => {
    ctx.log.warn(notice.message);
    if (notice.detail) ctx.log.warn(`DETAIL: ${notice.detail}`);
  });
  client.on('end', () => onGone());
  try {
    await client.query(`LISTEN ${CHANNELS.state}`);
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
  return {
    client,
    async next(timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const first = queue.shift();
        if (first !== undefined) return first;
        if (closed) return 'closed';
        const left = deadline - performance.now();
        if (left <= 0) return 'timeout';
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => { clearTimeout(timer); resolve(); };
        });
        wake = undefined;
      }
    },
    async close() {
      closed = true;
      await client.end().catch(() => undefined);
    },
  };
}

/** HH:MM:SS in local time, as 2.0 prints the reception time. */
export function clockTime(date: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}

/**
 * Widths from the group's nodes. 2.0 sends the group as an empty string
 * here, fails, logs the monitor error and falls back to 25/5/25 (spec 04
 * §6.5); this asks for the group correctly and falls back only on a real
 * failure.
 */
export async function notificationWidths(ctx: CommandContext, client: pg.ClientBase, formation: string, groupId: number): Promise<NotificationWidths> {
  try {
    return widthsFor(await getNodes(client, formation, groupId));
  } catch (error) {
    ctx.log.warn(`Failed to get the nodes of group ${groupId} in formation "${formation}" from the monitor: ${messageOf(error)}`);
    return FALLBACK_WIDTHS;
  }
}

export interface WaitOptions {
  formation: string;
  groupId: number;
  /** Column widths: with a progress channel (text mode), the table is printed as the rows arrive. */
  widths?: NotificationWidths;
  /** Milliseconds; 0 waits without a time limit. */
  timeoutMs: number;
  /** The awaited notification. As 2.0, the first notification received never ends the wait. */
  done(n: StateNotification): boolean;
  now?: () => Date;
}

export interface WaitOutcome {
  rows: NotificationRow[];
  /** The header and rows were printed live through ctx.progress. */
  streamed: boolean;
  /** The awaited notification arrived. */
  reached: boolean;
  /** Why the wait ended without it. */
  failure?: 'timeout' | 'closed';
}

/** Collects the group's notifications until `done` holds, the time is up, or the connection is lost. */
export async function waitForNotifications(ctx: CommandContext, watch: Pick<StateWatch, 'next'>, options: WaitOptions): Promise<WaitOutcome> {
  const now = options.now ?? (() => new Date());
  const rows: NotificationRow[] = [];
  const start = performance.now();
  const { widths } = options;
  const live = ctx.progress !== undefined && widths !== undefined ? ctx.progress : undefined;
  const streamed = live !== undefined;
  if (live && widths) live(renderNotificationHeader(widths));
  let first = true;
  for (;;) {
    const left = options.timeoutMs > 0 ? options.timeoutMs - (performance.now() - start) : 60_000;
    if (left <= 0) return { rows, streamed, reached: false, failure: 'timeout' };
    const n = await watch.next(left);
    if (n === 'closed') return { rows, streamed, reached: false, failure: 'closed' };
    if (n === 'timeout') {
      if (options.timeoutMs > 0) return { rows, streamed, reached: false, failure: 'timeout' };
      continue;
    }
    if (n.formation !== options.formation || n.groupId !== options.groupId) continue;
    const row: NotificationRow = {
      time: clockTime(now()), nodeId: n.nodeId, name: n.name, host: n.host, port: n.port,
      reportedState: n.reportedState, goalState: n.goalState,
    };
    rows.push(row);
    if (live && widths) live(renderNotificationRow(widths, row));
    ctx.log.debug(`${row.time} ${row.name} (${row.nodeId}) ${row.host}:${row.port} ${row.reportedState} -> ${row.goalState}`);
    const isFirst = first;
    first = false;
    if (!isFirst && options.done(n)) return { rows, streamed, reached: true };
  }
}

/**
 * Logs a failed monitor call as 2.0 does, one line per part of the server
 * message (`Monitor ERROR:  ...`, `Monitor DETAIL:  ...`, `Monitor HINT:  ...`),
 * and returns the error to throw: `summary`, exit code of the monitor.
 */
export function monitorFailure(ctx: CommandContext, error: unknown, summary: string): AutoctlError {
  const pgError = pgErrorOf(error);
  if (pgError === undefined) {
    ctx.log.error(messageOf(error));
  } else {
    ctx.log.error(`Monitor ${pgError.severity ?? 'ERROR'}:  ${pgError.message}`);
    if (pgError.detail) ctx.log.error(`Monitor DETAIL:  ${pgError.detail}`);
    if (pgError.hint) ctx.log.error(`Monitor HINT:  ${pgError.hint}`);
  }
  return new AutoctlError('MONITOR', summary, { cause: error });
}

interface PgErrorFields { message: string; severity?: string; detail?: string; hint?: string }

function pgErrorOf(error: unknown): PgErrorFields | undefined {
  for (let e: unknown = error, depth = 0; e !== null && typeof e === 'object' && depth < 5; depth++) {
    if ('severity' in e && 'message' in e && typeof e.message === 'string') return e as PgErrorFields;
    e = 'cause' in e ? e.cause : undefined;
  }
  return undefined;
}
