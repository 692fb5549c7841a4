/**
 * The status page's own connection to the monitor database: opened on
 * the first read, limited (read-only sessions, statement and lock
 * timeouts) so that it can never hold up the monitor service, dropped on
 * any failure and reopened by the next read, and closed when nobody
 * watches.
 */
import type pg from 'pg';
import type { Logger } from '../../common/log.js';
import { lastEvents } from '../../monitor-api/reporting.js';
import { statusOverview } from '../../monitor-api/status.js';
import { connectLocal } from '../../postgres/local-client.js';
import type { StatusData, StatusEvent } from './feed.js';

export const STATUS_STATEMENT_TIMEOUT_MS = 2000;
export const STATUS_LOCK_TIMEOUT_MS = 500;
/** Latest events shown. */
export const STATUS_EVENT_COUNT = 20;

export interface StatusReader {
  read(): Promise<StatusData>;
  /** Closes the connection (the next read opens one again, unless `final`). */
  close(final?: boolean): void;
}

export function monitorStatusReader(options: { pgdata: string; log: Logger; env?: NodeJS.ProcessEnv }): StatusReader {
  let client: pg.Client | null = null;
  let connecting: Promise<pg.Client> | null = null;
  let stopped = false;

  const drop = (c: pg.Client): void => {
    if (client === c) client = null;
    c.end().catch(() => undefined);
  };

  const connect = async (): Promise<pg.Client> => {
    const c = await connectLocal(options.pgdata, 'pg_auto_failover', {
      applicationName: 'pg_auto_failover status page',
      connectTimeoutMs: 2000,
      ...(options.env === undefined ? {} : { env: options.env }),
    });
    c.on('error', (e) => {
      options.log.debug(`Status page connection lost: ${e.message}`);
      drop(c);
    });
    try {
      await c.query(`SELECT set_config('statement_timeout', $1, false), set_config('lock_timeout', $2, false),
                            set_config('default_transaction_read_only', 'on', false), set_config('idle_in_transaction_session_timeout', $3, false)`,
      [`${STATUS_STATEMENT_TIMEOUT_MS}ms`, `${STATUS_LOCK_TIMEOUT_MS}ms`, `${STATUS_STATEMENT_TIMEOUT_MS * 2}ms`]);
    } catch (e) {
      drop(c);
      throw e;
    }
    return c;
  };

  const session = async (): Promise<pg.Client> => {
    if (client !== null) return client;
    if (stopped) throw new Error('the status page is stopped');
    connecting ??= connect().finally(() => { connecting = null; });
    const c = await connecting;
    if (stopped) {
      drop(c);
      throw new Error('the status page is stopped');
    }
    client = c;
    return c;
  };

  return {
    async read(): Promise<StatusData> {
      const c = await session();
      try {
        await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const overview = await statusOverview(c);
        const events = await lastEvents(c, { count: STATUS_EVENT_COUNT });
        await c.query('COMMIT');
        return {
          ...overview,
          events: events.reverse().map((e): StatusEvent => ({
            id: e.eventId.toString(),
            timeMs: e.eventTime.getTime(),
            formationId: e.formationId,
            groupId: e.groupId,
            nodeId: e.nodeId,
            name: e.name,
            host: e.host,
            port: e.port,
            reportedState: e.reportedState,
            goalState: e.goalState,
            description: e.description,
          })),
        };
      } catch (e) {
        drop(c);
        throw e;
      }
    },
    close(final = false): void {
      if (final) stopped = true;
      if (client !== null) drop(client);
    },
  };
}
