/** `pg_autoctl status` (spec 04 §10): JSON only; the text form is log lines. */
import { MONITOR_SCHEMA_VERSION, VERSION } from '../../common/version.js';
import type { PidFile } from '../../config/index.js';
import type { PostgresStatus } from '../../postgres/index.js';
import type { Rendering } from '../command.js';

/** A running pg_autoctl service and the Postgres it supervises. */
export interface ServiceStatus {
  pgdata: string;
  pgCtl: string;
  port: number;
  postgres: PostgresStatus;
  pidFile: PidFile;
}

export const statusRendering: Rendering<ServiceStatus> = {
  text: () => '',
  json: ({ pgdata, pgCtl, port, postgres: pg, pidFile }) => ({
    postgres: {
      pgdata,
      pg_ctl: pgCtl,
      host: pg.state === 'running' ? pg.socketDir : '',
      port,
      pid: pg.state === 'running' ? pg.pid : 0,
      postmaster: { status: pg.state === 'running' ? (pg.ready ? 'ready' : pg.pmStatus ?? 'unknown') : 'stopped' },
    },
    pg_autoctl: {
      pid: pidFile.pid,
      status: 'running',
      pgdata,
      version: VERSION,
      semId: pidFile.semId,
      services: pidFile.services.map((s) => ({ name: s.name, pid: s.pid, status: 'running', version: VERSION, pgautofailover: MONITOR_SCHEMA_VERSION })),
    },
  }),
};
