/**
 * A monitor that was the primary becomes a standby of the new primary
 * (docs/architecture.md "Monitor high availability", design point 5):
 * stop Postgres (fast), bring a crashed cluster to a clean state, pg_rewind
 * from the new primary when our WAL went past the point where the new
 * primary's timeline forked (a base backup through our slot when the
 * rewind fails), keep this monitor's own configuration files (the tools
 * copy the source's), write standby.signal + primary_conninfo
 * (application_name and slot `pgautofailover_monitor_<member id>`), and
 * start. The service then runs in standby mode.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutoctlError, messageOf } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { PostgresControl } from '../../common/service.js';
import {
  formatLsn, identifySystem, parseLsn, pgBasebackup, pgRewind, readControlData, replicationConninfo, runCrashRecovery,
  stopPostgres, wasShutDownCleanly, withClient,
  type ControlData, type Lsn, type PgBinaries, type ReplicationSource, type SslMode,
} from '../../postgres/index.js';
import { MONITOR_REPLICATOR, writeMonitorStandbySetup } from './standby-create.js';

/** The monitor database: pg_rewind's source connection goes there. */
const MONITOR_DBNAME = 'pg_auto_failover';

/** Slot and application_name of monitor member N. */
export function monitorSlotName(memberId: number): string {
  return `pgautofailover_monitor_${memberId}`;
}

/**
 * Files of this monitor that pg_rewind and pg_basebackup overwrite with the
 * source's: our settings (port, listen address, certificate paths), HBA,
 * certificate. Saved before and put back after.
 */
export const OWN_FILES = [
  'postgresql.conf', 'postgresql-auto-failover.conf', 'pg_hba.conf', 'pg_ident.conf', 'server.crt', 'server.key', 'root.crt',
] as const;

export interface TimelineSwitch {
  /** The timeline that ended. */
  timeline: number;
  /** Where the next timeline forked off it. */
  switchpoint: Lsn;
}

/** Parses a timeline history file (`<parent tli>\t<switchpoint>\t<reason>` lines). */
export function parseTimelineHistory(text: string): TimelineSwitch[] {
  const switches: TimelineSwitch[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const [tli, lsn] = trimmed.split(/\s+/);
    if (tli === undefined || lsn === undefined || !/^\d+$/.test(tli)) continue;
    switches.push({ timeline: Number(tli), switchpoint: parseLsn(lsn) });
  }
  return switches;
}

export interface LocalWalEnd {
  timeline: number;
  checkpointLsn: Lsn;
  clusterState: string;
}

/**
 * Whether our cluster must be rewound to follow the upstream. No when we
 * are on the upstream's timeline, or when we are a primary shut down
 * cleanly (our last record is the shutdown checkpoint) whose checkpoint
 * lies before the point where the upstream's timeline forked off ours:
 * the clean switchover, where the new primary received all our WAL.
 * Anything else (a crashed primary, WAL past the fork, a timeline the
 * upstream's history does not name) goes to pg_rewind, which makes the
 * exact decision itself and changes nothing when no rewind is needed.
 */
export function rewindNeeded(local: LocalWalEnd, upstreamTimeline: number, history: readonly TimelineSwitch[]): boolean {
  if (upstreamTimeline === local.timeline) return false;
  if (upstreamTimeline < local.timeline) return true;
  const fork = history.find((s) => s.timeline === local.timeline);
  if (fork === undefined) return true;
  return !(local.clusterState === 'shut down' && local.checkpointLsn < fork.switchpoint);
}

/** TIMELINE_HISTORY of the upstream's timeline (empty for timeline 1). */
export async function upstreamHistory(source: ReplicationSource, timeline: number, env: NodeJS.ProcessEnv): Promise<TimelineSwitch[]> {
  if (timeline <= 1) return [];
  const conninfo = replicationConninfo(source, { includePassword: true });
  return withClient(conninfo, { connectTimeoutMs: 5000, replication: true, env }, async (client) => {
    const result = await client.query<{ content: unknown }>(`TIMELINE_HISTORY ${timeline}`);
    const content = result.rows[0]?.content;
    const text = Buffer.isBuffer(content) ? content.toString('utf8') : String(content ?? '');
    return parseTimelineHistory(text);
  });
}

export interface RejoinOptions {
  bin: Pick<PgBinaries, 'binDir'>;
  pgdata: string;
  /** Our own Postgres port (the temporary postmaster of a crash recovery uses it, without TCP). */
  port: number;
  /** The new primary monitor. */
  upstream: { host: string; port: number };
  /** Our member id: the slot and application_name on the upstream. */
  memberId: number;
  sslMode: SslMode;
  sslRootCert?: string | undefined;
  sslCrl?: string | undefined;
  /** `replication.password`; else PGPASSWORD; else none (.pgpass). */
  password?: string | undefined;
  /** The supervisor's Postgres controller (the service's); stop and start go through it. */
  postgres?: PostgresControl | undefined;
  log: Logger;
  env: NodeJS.ProcessEnv;
}

export interface RejoinOutcome {
  how: 'follow' | 'rewind' | 'base-backup';
  upstreamTimeline: number;
}

export function rejoinSource(options: Pick<RejoinOptions, 'upstream' | 'memberId' | 'sslMode' | 'sslRootCert' | 'sslCrl' | 'password' | 'env'>): ReplicationSource {
  return {
    host: options.upstream.host,
    port: options.upstream.port,
    user: MONITOR_REPLICATOR,
    password: options.password || options.env.PGPASSWORD || undefined,
    applicationName: monitorSlotName(options.memberId),
    sslMode: options.sslMode,
    sslRootCert: options.sslRootCert,
    sslCrl: options.sslCrl,
  };
}

function saveOwnFiles(pgdata: string): Map<string, Buffer> {
  const saved = new Map<string, Buffer>();
  for (const name of OWN_FILES) {
    const path = join(pgdata, name);
    if (existsSync(path)) saved.set(name, readFileSync(path));
  }
  return saved;
}

function restoreOwnFiles(pgdata: string, saved: Map<string, Buffer>, log: Logger): void {
  for (const [name, contents] of saved) {
    const path = join(pgdata, name);
    if (existsSync(path) && readFileSync(path).equals(contents)) continue;
    log.info(`Restoring this monitor's own "${name}"`);
    writeFileSync(path, contents, { mode: 0o600 });
  }
}

async function stop(options: RejoinOptions): Promise<void> {
  if (options.postgres) {
    options.postgres.setExpected('stopped');
    await options.postgres.ensure();
    // Nobody restarts it while the files change.
    options.postgres.setExpected('unknown');
  } else {
    await stopPostgres(options.pgdata, 'fast', 60_000, { log: options.log });
  }
}

async function cleanControlData(options: RejoinOptions): Promise<ControlData> {
  const control = await readControlData(options.bin, options.pgdata, options.env);
  if (wasShutDownCleanly(control)) return control;
  options.log.info(`The monitor's Postgres was not shut down cleanly (${control.clusterState}): running crash recovery first`);
  await runCrashRecovery(options.bin, options.pgdata, { port: options.port, timeoutMs: 120_000, env: options.env, log: options.log });
  return readControlData(options.bin, options.pgdata, options.env);
}

/**
 * Makes the local monitor a standby of `upstream`. Postgres is left
 * running as a standby (through the controller when one is given).
 */
export async function rejoinAsStandby(options: RejoinOptions): Promise<RejoinOutcome> {
  const { log, pgdata } = options;
  const source = rejoinSource(options);
  const label = `${options.upstream.host}:${options.upstream.port}`;
  log.info(`Rejoining as a standby of the primary monitor at ${label} (member ${options.memberId})`);
  await stop(options);
  const control = await cleanControlData(options);
  const upstream = await identifySystem(source, { env: options.env });
  if (upstream.systemIdentifier !== control.systemIdentifier) {
    throw new AutoctlError('BAD_STATE', `cannot rejoin the monitor at ${label}: its system identifier ${upstream.systemIdentifier} `
      + `is not this monitor's ${control.systemIdentifier}`);
  }
  const history = await upstreamHistory(source, upstream.timeline, options.env);
  const fork = history.find((h) => h.timeline === control.timeline);
  log.info(`This monitor's WAL ends on timeline ${control.timeline} at checkpoint ${formatLsn(control.latestCheckpointLsn)} (${control.clusterState}); `
    + `${label} is on timeline ${upstream.timeline}`
    + (fork === undefined ? '' : `, which forked off timeline ${control.timeline} at ${formatLsn(fork.switchpoint)}`));
  const saved = saveOwnFiles(pgdata);
  const baseBackup = async (): Promise<void> => {
    await pgBasebackup(options.bin, pgdata, {
      source, slotName: monitorSlotName(options.memberId), backupDir: `${pgdata}.rejoin-backup`, env: options.env, log, timeoutMs: 600_000,
    });
    restoreOwnFiles(pgdata, saved, log);
    writeMonitorStandbySetup(pgdata, source, log);
  };
  let how: RejoinOutcome['how'] = 'follow';
  if (rewindNeeded({ timeline: control.timeline, checkpointLsn: control.latestCheckpointLsn, clusterState: control.clusterState },
    upstream.timeline, history)) {
    how = 'rewind';
    try {
      await pgRewind(options.bin, pgdata, { source, dbname: MONITOR_DBNAME, env: options.env, log, timeoutMs: 600_000 });
      restoreOwnFiles(pgdata, saved, log);
    } catch (error) {
      log.warn(`Failed to rewind to a standby of ${label}, taking a base backup instead: ${messageOf(error)}`);
      how = 'base-backup';
      await baseBackup();
    }
  } else {
    log.info('No rewind needed: the new primary has all of this monitor\'s WAL');
  }
  writeMonitorStandbySetup(pgdata, source, log);
  if (options.postgres) {
    options.postgres.setExpected('running');
    try {
      await options.postgres.ensure();
    } catch (error) {
      if (how === 'base-backup') throw error;
      // A rewound (or followed) cluster that cannot start as a standby is copied afresh.
      log.warn(`This monitor's Postgres does not start as a standby of ${label}, taking a base backup instead: ${messageOf(error)}`);
      options.postgres.setExpected('stopped');
      await options.postgres.ensure().catch(() => null);
      options.postgres.setExpected('unknown');
      how = 'base-backup';
      await baseBackup();
      options.postgres.setExpected('running');
      await options.postgres.ensure();
    }
  }
  log.info(`This monitor is now a standby of ${label} (${how === 'follow' ? 'no rewind needed' : how})`);
  return { how, upstreamTimeline: upstream.timeline };
}
