/**
 * Keeper actions on the standby side (spec 02 §6.2, spec 05 §6, §11):
 * base backups, rejoining with pg_rewind, following a new primary, the
 * election states (report_lsn, fast_forward), maintenance and drop.
 * Every action is idempotent: a keeper killed half-way redoes it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { AutoctlError, messageOf } from '../common/errors.js';
import { sleep } from '../common/service.js';
import { readInitFileIfExists, removeInitFile } from '../config/index.js';
import { getMostAdvancedStandby, getPrimary } from '../monitor-api/index.js';
import type { NodeAddress, PrimaryNode } from '../monitor-api/index.js';
import {
  checkpoint, classifyPgData, formatLsn, isProcessAlive, localFacts, parseLsnOrZero, pgBasebackup, pgRewind, readControlData,
  runCrashRecovery, slotNameFor, upstreamHasSlot, wasShutDownCleanly,
} from '../postgres/index.js';
import { publishSystemIdentifier } from './actions-primary.js';
import { syncReplicationHba } from './hba-sync.js';
import {
  checkUpstream, dropAllSlots, ensureCertificate, ensurePgRunning, ensurePgStopped, maintainSlots, replicationSourceFor,
  upstreamLabel, writeNodeSettings, writeStandbyFor,
} from './pg-ops.js';
import { onMonitor, type KeeperRuntime } from './runtime.js';

const POLL_MS = 100;

async function currentPrimary(rt: KeeperRuntime): Promise<PrimaryNode> {
  return onMonitor(rt, 'get_primary', (c) => getPrimary(c, rt.config.pg_autoctl.formation, rt.state.currentGroup));
}

/**
 * Replaces PGDATA by a base backup of `upstream` taken with our slot there
 * (spec 05 §6.2). The slot must exist first: the upstream creates it
 * when it learns about this node; until then the action fails and is
 * retried.
 */
async function baseBackupFrom(rt: KeeperRuntime, upstream: { host: string; port: number; label: string }): Promise<void> {
  const source = replicationSourceFor(rt, upstream);
  const slot = slotNameFor(rt.state.currentNodeId);
  const hasSlot = await upstreamHasSlot(source, rt.config.postgresql.dbname, slot, { env: rt.env, connectTimeoutMs: 3000 })
    .catch((error: unknown) => {
      throw new AutoctlError('PGSQL', `cannot check for the replication slot "${slot}" on ${upstream.label}: ${messageOf(error)}`);
    });
  if (!hasSlot) {
    throw new AutoctlError('BAD_STATE', `The replication slot "${slot}" has not been created yet on ${upstream.label}`);
  }
  await checkUpstream(rt, upstream);
  if (rt.local.runningPid() !== null) {
    rt.log.info(`Target directory exists: "${rt.config.postgresql.pgdata}", stopping PostgreSQL`);
  }
  await ensurePgStopped(rt);
  await killStaleBaseBackups(rt, rt.config.replication.backup_directory);
  rt.log.info(`Initialising PostgreSQL as a hot standby of ${upstream.label}`);
  await pgBasebackup(rt.bin, rt.config.postgresql.pgdata, {
    source,
    slotName: slot,
    backupDir: rt.config.replication.backup_directory,
    maxRate: rt.config.replication.maximum_backup_rate || undefined,
    env: rt.env,
    log: rt.log,
    signal: rt.signal,
  });
}

/**
 * A pg_basebackup left running by a pg_autoctl that was killed keeps our
 * slot busy on the upstream and writes into the staging directory: end it
 * before starting again. Found by its exact `--pgdata <staging dir>`
 * argument among this account's processes.
 */
async function killStaleBaseBackups(rt: KeeperRuntime, backupDir: string): Promise<void> {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return;
  }
  for (const name of pids) {
    const pid = Number(name);
    if (pid === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const program = argv[0] ?? '';
    const target = argv.indexOf('--pgdata');
    if (!program.endsWith('pg_basebackup') || target < 0 || argv[target + 1] !== backupDir) continue;
    rt.log.warn(`Stopping pg_basebackup (pid ${pid}) left over by a previous attempt into "${backupDir}"`);
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      continue;
    }
    const deadline = performance.now() + 10_000;
    while (isProcessAlive(pid) && performance.now() < deadline) await sleep(50);
    if (isProcessAlive(pid)) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
}

/** Everything after the files of another node landed in PGDATA: our settings, certificate, standby setup, start. */
async function becomeStandbyOf(rt: KeeperRuntime, upstream: { host: string; port: number } | undefined,
  options: { copied: boolean }): Promise<void> {
  writeStandbyFor(rt, { upstream });
  await ensureCertificate(rt, { replaceCopied: options.copied });
  writeNodeSettings(rt);
  await syncReplicationHba(rt, { force: true });
  await ensurePgRunning(rt);
}

/** wait_standby → catchingup (spec 05 §6.2, §6.3). */
export async function actionInitStandby(rt: KeeperRuntime): Promise<void> {
  const primary = await currentPrimary(rt);
  const label = upstreamLabel(primary);
  const init = await readInitFileIfExists(rt.paths.init);
  const pgdata = rt.config.postgresql.pgdata;
  if (init?.pgdataState === 'exists' && classifyPgData(pgdata) === 'postgres') {
    rt.log.info(`Skipping base backup to use pre-existing PGDATA at "${pgdata}"`);
    await checkUpstream(rt, primary);
    await ensurePgStopped(rt);
    await becomeStandbyOf(rt, primary, { copied: false });
  } else {
    await baseBackupFrom(rt, { host: primary.host, port: primary.port, label });
    await becomeStandbyOf(rt, primary, { copied: true });
  }
  await publishSystemIdentifier(rt);
}

/** A cluster that was not shut down cleanly gets a crash recovery first (pg_rewind wants a clean one). */
async function cleanShutdown(rt: KeeperRuntime): Promise<void> {
  const pgdata = rt.config.postgresql.pgdata;
  const control = await readControlData(rt.bin, pgdata, rt.env);
  if (wasShutDownCleanly(control)) return;
  rt.log.info(`PostgreSQL in "${pgdata}" was not shut down cleanly (${control.clusterState}), running crash recovery`);
  // The controller must not touch the temporary postmaster.
  rt.postgres.setExpected('unknown');
  try {
    await runCrashRecovery(rt.bin, pgdata, { port: rt.config.postgresql.port, timeoutMs: 120_000, env: rt.env, log: rt.log });
  } finally {
    rt.postgres.setExpected('stopped');
  }
}

/**
 * rewind_or_init (spec 05 §11.7): an old primary (or a node back from
 * maintenance) follows the current primary: pg_rewind when its timeline
 * diverged, a fresh base backup when the rewind fails.
 */
export async function actionRewindOrInit(rt: KeeperRuntime): Promise<void> {
  const primary = await currentPrimary(rt);
  await checkUpstream(rt, primary);
  await rejoin(rt, primary);
}

/**
 * Stops Postgres and makes PGDATA a standby of `primary`: pg_rewind (after
 * a crash recovery when needed; it changes nothing when our WAL is already
 * part of the primary's history), else a fresh base backup. Then our own
 * settings, certificate and standby setup, start, and no stale slots.
 */
async function rejoin(rt: KeeperRuntime, primary: PrimaryNode): Promise<void> {
  const label = upstreamLabel(primary);
  await ensurePgStopped(rt);
  const pgdata = rt.config.postgresql.pgdata;
  let rewound = false;
  if (classifyPgData(pgdata) === 'postgres') {
    try {
      await cleanShutdown(rt);
      rt.postgres.setExpected('unknown');
      await pgRewind(rt.bin, pgdata, {
        source: replicationSourceFor(rt, primary), dbname: rt.config.postgresql.dbname, env: rt.env, log: rt.log, timeoutMs: 600_000,
      });
      rewound = true;
    } catch (error) {
      rt.log.warn(`Failed to rewind to a standby of ${label}, trying pg_basebackup instead: ${messageOf(error)}`);
    } finally {
      rt.postgres.setExpected('stopped');
    }
  }
  if (!rewound) {
    await baseBackupFrom(rt, { host: primary.host, port: primary.port, label });
  }
  // pg_rewind and pg_basebackup both copy the source's certificate and settings.
  await becomeStandbyOf(rt, primary, { copied: true });
  await dropAllSlots(rt);
  rt.log.info(`Following ${label}`);
}

/** The timeline of the local cluster: the running server's, else pg_controldata's; 0 when unknown. */
async function localTimeline(rt: KeeperRuntime): Promise<number> {
  if (rt.local.isReady()) {
    try {
      return (await rt.local.withClient((client) => localFacts(client, rt.config.postgresql.pgdata))).timeline;
    } catch {
      return 0;
    }
  }
  if (classifyPgData(rt.config.postgresql.pgdata) !== 'postgres') return 0;
  try {
    return (await readControlData(rt.bin, rt.config.postgresql.pgdata, rt.env)).timeline;
  } catch {
    return 0;
  }
}

/** Our timeline must be the upstream's before we count as caught up (spec 05 §11.4). */
async function requireSameTimeline(rt: KeeperRuntime, upstream: { host: string; port: number }): Promise<void> {
  const remote = await checkUpstream(rt, upstream);
  // A standby just (re)started needs a moment to connect its WAL receiver.
  const deadline = performance.now() + 10_000;
  for (;;) {
    const local = await rt.local.withClient((client) => localFacts(client, rt.config.postgresql.pgdata));
    if (local.timeline === remote.timeline) return;
    if (local.timeline > remote.timeline) {
      throw new AutoctlError('BAD_STATE', `local timeline ${local.timeline} is ahead of the upstream's timeline ${remote.timeline}`);
    }
    if (performance.now() > deadline || rt.signal.aborted) {
      throw new AutoctlError('BAD_STATE', `waiting for the local timeline (${local.timeline}) to reach the upstream's timeline ${remote.timeline}`);
    }
    await sleep(POLL_MS);
  }
}

/** follow_primary: point the standby setup at the current primary (restart when it changed). */
export async function actionFollowPrimary(rt: KeeperRuntime, goal: string): Promise<void> {
  const primary = await currentPrimary(rt);
  const remote = await checkUpstream(rt, primary);
  const local = await localTimeline(rt);
  if (local !== 0 && local !== remote.timeline) {
    // Maybe an old primary whose WAL went past the fork: pg_rewind decides (and does nothing when not needed).
    rt.log.info(`Local timeline ${local} is not the timeline ${remote.timeline} of ${upstreamLabel(primary)}: checking for a divergence with pg_rewind`);
    await rejoin(rt, primary);
    if (goal === 'secondary') await requireSameTimeline(rt, primary);
    return;
  }
  const changed = writeStandbyFor(rt, { upstream: primary });
  if (changed || !rt.local.isReady()) {
    rt.log.info(`Follow new primary ${upstreamLabel(primary)}`);
    await ensurePgStopped(rt);
  }
  await ensurePgRunning(rt);
  if (goal === 'secondary') await requireSameTimeline(rt, primary);
}

/** prepare_secondary: same timeline as the primary, slots for the other nodes. */
export async function actionPrepareSecondary(rt: KeeperRuntime): Promise<void> {
  await ensurePgRunning(rt);
  const primary = await currentPrimary(rt);
  await requireSameTimeline(rt, primary);
  await maintainSlots(rt, { advance: true });
}

/** report_lsn: restart as a standby without upstream, so the LSN stops moving and can be compared. */
export async function actionReportLsn(rt: KeeperRuntime): Promise<void> {
  const changed = writeStandbyFor(rt, { upstream: undefined });
  if (changed || !rt.local.isReady()) await ensurePgStopped(rt);
  await ensurePgRunning(rt);
}

export async function actionReportLsnDropSlots(rt: KeeperRuntime): Promise<void> {
  await actionReportLsn(rt);
  await dropAllSlots(rt);
}

/**
 * fast_forward: fetch the WAL we miss from the most advanced standby, up
 * to its LSN, pausing there (spec 05 §11.3 targeted catch-up).
 */
export async function actionFastForward(rt: KeeperRuntime): Promise<void> {
  const source: NodeAddress | undefined = await onMonitor(rt, 'get_most_advanced_standby',
    (c) => getMostAdvancedStandby(c, rt.config.pg_autoctl.formation, rt.state.currentGroup));
  if (!source) throw new AutoctlError('BAD_STATE', 'the monitor knows no standby to fast-forward from');
  const target = source.lsn;
  rt.log.info(`Fast-forwarding to LSN ${formatLsn(target)} from ${upstreamLabel(source)}`);
  await checkUpstream(rt, source);
  const changed = writeStandbyFor(rt, { upstream: source, targetLsn: target, targetAction: 'pause' });
  if (changed || !rt.local.isReady()) await ensurePgStopped(rt);
  await ensurePgRunning(rt);
  const deadline = performance.now() + 60_000;
  for (;;) {
    const replayed = await rt.local.withClient(async (client) => {
      const r = await client.query<{ lsn: string | null }>('SELECT pg_last_wal_replay_lsn()::text AS lsn');
      return parseLsnOrZero(r.rows[0]?.lsn);
    });
    if (replayed >= target) break;
    if (performance.now() > deadline || rt.signal.aborted) {
      throw new AutoctlError('BAD_STATE', `replayed LSN ${formatLsn(replayed)} has not reached ${formatLsn(target)} yet`);
    }
    await sleep(POLL_MS);
  }
  await rt.local.withClient((client) => checkpoint(client));
}

/** init → report_lsn: a new node joining while no primary exists copies the most advanced standby. */
export async function actionInitFromStandby(rt: KeeperRuntime): Promise<void> {
  const source = await onMonitor(rt, 'get_most_advanced_standby',
    (c) => getMostAdvancedStandby(c, rt.config.pg_autoctl.formation, rt.state.currentGroup));
  if (!source) throw new AutoctlError('BAD_STATE', 'the monitor knows no standby to copy from');
  await baseBackupFrom(rt, { host: source.host, port: source.port, label: upstreamLabel(source) });
  await becomeStandbyOf(rt, undefined, { copied: true });
  await publishSystemIdentifier(rt);
}

/** stop_and_configure_standby: checkpoint, stop, standby setup without upstream, then released to the operator. */
export async function actionStopSetupStandby(rt: KeeperRuntime): Promise<void> {
  if (rt.local.isReady()) {
    await rt.local.withClient((client) => checkpoint(client)).catch((error: unknown) => {
      rt.log.warn(`CHECKPOINT before stopping PostgreSQL failed: ${messageOf(error)}`);
    });
  }
  await ensurePgStopped(rt);
  rt.postgres.setExpected('unknown');
  writeStandbyFor(rt, { upstream: undefined });
}

/** standby_maint: the operator owns Postgres now. */
export async function actionStandbyMaintenance(rt: KeeperRuntime): Promise<void> {
  rt.postgres.setExpected('unknown');
}

/** drop: Postgres stopped, no init in progress. */
export async function actionDrop(rt: KeeperRuntime): Promise<void> {
  await ensurePgStopped(rt);
  await removeInitFile(rt.paths.init);
}
