/**
 * The keeper's view of its own Postgres: short-lived local connections
 * (spec 05 §10: `port dbname [host] [user]`, over the socket directory the
 * postmaster advertises) and the facts reported to the monitor each round
 * (spec 05 §12.2 step 5).
 */
import type pg from 'pg';
import { messageOf } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { WalSenderSyncState } from '../common/sync-states.js';
import type { KeeperConfig } from '../config/index.js';
import {
  connectLocal, localFacts, readControlData, readPostmasterPid, isProcessAlive, classifyPgData,
  type LocalFacts, type Lsn, type PgBinaries,
} from '../postgres/index.js';

export interface LocalPg {
  pgdata: string;
  /** Runs `fn` on a fresh connection to `dbname` ('postgres' by default) as the configured user, always closed. */
  withClient<T>(fn: (client: pg.Client) => Promise<T>, dbname?: string): Promise<T>;
  /** The same as the OS account (initdb's superuser), for creating the configured user itself. */
  withAdminClient<T>(fn: (client: pg.Client) => Promise<T>, dbname?: string): Promise<T>;
  /** True when a postmaster runs on PGDATA and says it accepts connections. */
  isReady(): boolean;
  /** Pid of a live postmaster on PGDATA (ready or not). */
  runningPid(): number | null;
}

export function localPg(config: KeeperConfig, env: NodeJS.ProcessEnv, log: Logger): LocalPg {
  const pgdata = config.postgresql.pgdata;
  const run = async <T>(fn: (client: pg.Client) => Promise<T>, dbname: string, user: string | undefined,
    clientEnv: NodeJS.ProcessEnv): Promise<T> => {
    const client = await connectLocal(pgdata, dbname, {
      user,
      host: config.postgresql.host || undefined,
      connectTimeoutMs: 5000,
      env: clientEnv,
      log,
    });
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  const withoutPgUser: NodeJS.ProcessEnv = { ...env, PGUSER: undefined };
  return {
    pgdata,
    withClient: (fn, dbname) => run(fn, dbname ?? 'postgres', config.postgresql.username || undefined, env),
    withAdminClient: (fn, dbname) => run(fn, dbname ?? 'postgres', undefined, withoutPgUser),
    isReady() {
      const info = readPostmasterPid(pgdata);
      return info !== undefined && info.pid > 0 && isProcessAlive(info.pid) && (info.status === 'ready' || info.status === 'standby');
    },
    runningPid() {
      const info = readPostmasterPid(pgdata);
      return info !== undefined && info.pid > 0 && isProcessAlive(info.pid) ? info.pid : null;
    },
  };
}

/** What one round reports about Postgres. */
export interface PgReport {
  running: boolean;
  inRecovery: boolean;
  lsn: Lsn;
  /** 0 when unknown (the monitor keeps the stored value). */
  timeline: number;
  syncState: WalSenderSyncState | '';
  systemIdentifier: bigint | undefined;
  pgControlVersion: number | undefined;
  catalogVersion: number | undefined;
}

export const NOT_RUNNING: PgReport = {
  running: false, inRecovery: false, lsn: 0n, timeline: 0, syncState: '',
  systemIdentifier: undefined, pgControlVersion: undefined, catalogVersion: undefined,
};

/** The facts of a running, ready Postgres; NOT_RUNNING otherwise (or when the query fails). */
export async function gatherFacts(local: LocalPg, log: Logger): Promise<PgReport> {
  if (!local.isReady()) return NOT_RUNNING;
  try {
    const facts: LocalFacts = await local.withClient((client) => localFacts(client, local.pgdata));
    return {
      running: true,
      inRecovery: facts.inRecovery,
      lsn: facts.lsn,
      timeline: facts.timeline,
      syncState: facts.syncState,
      systemIdentifier: facts.systemIdentifier,
      pgControlVersion: facts.pgControlVersion,
      catalogVersion: facts.catalogVersion,
    };
  } catch (error) {
    log.debug(`Failed to read the local Postgres facts: ${messageOf(error)}`);
    return NOT_RUNNING;
  }
}

/** The system identifier of the cluster in PGDATA (pg_controldata), when there is one. */
export async function systemIdentifierOnDisk(bin: Pick<PgBinaries, 'binDir'>, pgdata: string, env: NodeJS.ProcessEnv): Promise<bigint | undefined> {
  if (classifyPgData(pgdata) !== 'postgres') return undefined;
  const control = await readControlData(bin, pgdata, env);
  return control.systemIdentifier;
}
