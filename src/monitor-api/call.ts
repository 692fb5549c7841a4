/**
 * The one door to the monitor's SQL API (schema pgautofailover): typed
 * calls grouped by caller (keeper.ts, operator.ts, reporting.ts,
 * service.ts), the row types and notification payloads (types.ts).
 *
 * Every call runs one statement on the given client, in whatever
 * transaction the caller has open. Failures become
 * AutoctlError('MONITOR') whose `cause` is the original pg error, so
 * callers test SQLSTATEs with sqlStateOf(error) (e.g. '55006' during
 * registration) and show `hint` when there is one.
 */
import type pg from 'pg';
import { AutoctlError, messageOf } from '../common/errors.js';


/** What the calls need from a connection: a pg.Client, a pool client or a pool. */
export type MonitorClient = Pick<pg.ClientBase, 'query'>;

export type Row = Record<string, unknown>;

/** Wraps a failed monitor call; the pg error (with its SQLSTATE) stays the cause. */
export function monitorError(fn: string, error: unknown): AutoctlError {
  if (error instanceof AutoctlError) return error;
  const hint = typeof error === 'object' && error !== null && 'hint' in error && typeof error.hint === 'string' ? error.hint : undefined;
  return new AutoctlError('MONITOR', `pgautofailover.${fn}: ${messageOf(error)}`,
    hint === undefined ? { cause: error } : { cause: error, hint });
}

export async function call<T>(client: MonitorClient, fn: string, text: string, values: readonly unknown[],
  map: (rows: Row[]) => T): Promise<T> {
  let rows: Row[];
  try {
    const result = await client.query<Row>(text, [...values]);
    rows = result.rows;
  } catch (error) {
    throw monitorError(fn, error);
  }
  try {
    return map(rows);
  } catch (error) {
    throw monitorError(fn, error);
  }
}

export function one<T>(fn: string, map: (row: Row) => T): (rows: Row[]) => T {
  return (rows) => {
    const row = rows[0];
    if (row === undefined) throw new AutoctlError('MONITOR', `pgautofailover.${fn} returned no row`);
    return map(row);
  };
}

export function maybeOne<T>(map: (row: Row) => T): (rows: Row[]) => T | undefined {
  return (rows) => {
    const row = rows[0];
    return row === undefined ? undefined : map(row);
  };
}

export const nothing = (): void => undefined;
