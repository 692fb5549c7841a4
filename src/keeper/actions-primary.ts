/**
 * Keeper actions on the primary side (spec 02 §6.2, spec 05 §5, §11.5,
 * §11.6): initialising or adopting the first node, synchronous replication
 * on and off, promotion, and stopping Postgres. Every action is idempotent:
 * a keeper killed half-way redoes it from the start and succeeds.
 */
import { userInfo } from 'node:os';
import { AutoctlError, messageOf } from '../common/errors.js';
import { sleep } from '../common/service.js';
import { readInitFileIfExists } from '../config/index.js';
import { setNodeSystemIdentifier, synchronousStandbyNames } from '../monitor-api/index.js';
import {
  alterSystemReset, cancelSyncRepWaiters, checkpoint, classifyPgData, createDatabase, createExtension, createRole,
  allowPeerLoginAs, currentSetting, ensureReplicationRole, formatLsn, initdb, initdbAuth, isInRecovery, parseLsn, pgCtlPromote, replicationRows,
  setDefaultTransactionReadOnly, setSynchronousStandbyNames, systemIdentifier,
} from '../postgres/index.js';
import { applicationUser, syncReplicationHba, writeInitHbaRules } from './hba-sync.js';
import type { NodeState } from '../fsm/states.js';
import {
  MONITOR_HEALTH_PASSWORD, MONITOR_HEALTH_USER, REPLICATION_USER, clearStandbySetup, ensureCertificate, ensurePgRunning,
  ensurePgStopped, maintainSlots, requireWriteLease, writeNodeSettings, writeStandbyFor,
} from './pg-ops.js';
import { onMonitor, saveState, type KeeperRuntime } from './runtime.js';

const POLL_MS = 100;

/** Publishes the local system identifier to the monitor (and the state file). */
export async function publishSystemIdentifier(rt: KeeperRuntime): Promise<void> {
  const sysid = await rt.local.withClient((client) => systemIdentifier(client));
  await onMonitor(rt, 'set_node_system_identifier', (c) => setNodeSystemIdentifier(c, rt.state.currentNodeId, sysid));
  if (rt.state.systemIdentifier !== sysid) await saveState(rt, { systemIdentifier: sysid });
}

/** spec 05 §5: init → single, by initdb or by adopting the cluster found in PGDATA. */
export async function initPrimary(rt: KeeperRuntime): Promise<void> {
  const pgdata = rt.config.postgresql.pgdata;
  const init = await readInitFileIfExists(rt.paths.init);
  if (init?.pgdataState === 'running' || init?.pgdataState === 'running-primary') {
    if (rt.local.runningPid() !== null && rt.postgres.pid() === null) {
      throw new AutoctlError('BAD_STATE', `PostgreSQL is already running at "${pgdata}", refusing to initialize a new cluster on-top of the current one.`,
        { hint: 'stop PostgreSQL, then run the same pg_autoctl create postgres command again' });
    }
  }
  const kind = classifyPgData(pgdata);
  if (kind === 'missing' || kind === 'empty') {
    const cfg = rt.config.postgresql;
    await initdb(rt.bin, pgdata, { ...initdbAuth(cfg.hba_level === 'skip' ? null : cfg.auth_method), log: rt.log, env: rt.env });
    allowPeerLoginAs(pgdata, userInfo().username, applicationUser(rt), rt.log);
  } else if (kind !== 'postgres') {
    throw new AutoctlError('BAD_STATE', `PGDATA "${pgdata}" is not empty and does not contain a PostgreSQL cluster`);
  } else {
    rt.log.info(`Using the existing PostgreSQL cluster at "${pgdata}"`);
  }

  await writeInitHbaRules(rt);
  await ensureCertificate(rt);
  writeNodeSettings(rt);
  await ensurePgRunning(rt);

  // The configured user may not exist yet: connect as initdb's superuser (the OS account) to create it.
  await rt.local.withAdminClient(async (client) => {
    if (rt.config.postgresql.username) {
      const made = await createRole(client, { name: rt.config.postgresql.username, login: true, superuser: true });
      if (made === 'created') rt.log.info(`Created role "${rt.config.postgresql.username}"`);
    }
    const dbname = rt.config.postgresql.dbname;
    const made = await createDatabase(client, dbname, applicationUser(rt));
    rt.log.info(made === 'created' ? `Created database "${dbname}" with owner "${applicationUser(rt)}"` : `The database "${dbname}" already exists, skipping.`);
  });
  await rt.local.withClient(async (client) => {
    try {
      await createExtension(client, 'pg_stat_statements');
    } catch (error) {
      rt.log.warn(`Failed to create extension pg_stat_statements: ${messageOf(error)}`);
    }
  }, rt.config.postgresql.dbname);

  await rt.local.withClient(async (client) => {
    if (await currentSetting(client, 'synchronous_standby_names') !== '') await setSynchronousStandbyNames(client, '');
  });
  if (await rt.local.withClient((client) => isInRecovery(client))) {
    rt.log.info('Initialising a postgres server in recovery mode as the primary, promoting');
    requireWriteLease(rt, 'promoting PostgreSQL');
    await promoteLocal(rt);
  }
  await ensureCertificate(rt);
  if (writeNodeSettings(rt)) rt.postgres.reload();

  await rt.local.withClient(async (client) => {
    await createRole(client, { name: MONITOR_HEALTH_USER, login: true, connectionLimit: 1, password: MONITOR_HEALTH_PASSWORD });
    await client.query('SELECT pg_reload_conf()');
  });
  // Not a superuser (issue 8): REPLICATION, and in the formation's database
  // (where pg_rewind connects) EXECUTE on the file functions it reads with.
  await rt.local.withClient((client) => ensureReplicationRole(client, REPLICATION_USER, rt.config.replication.password || undefined),
    rt.config.postgresql.dbname);
  await publishSystemIdentifier(rt);
  await maintainSlots(rt, { advance: false });
}

/**
 * `pg_ctl promote` when in recovery, wait until out of it, CHECKPOINT
 * (unless the caller takes it later), forget the standby setup. The
 * checkpoint writes the new timeline into pg_control, which pg_rewind of
 * the old primary reads: it must come before this node reports the state
 * that lets the old primary rejoin, not before writes open (docs/timings.md).
 */
async function promoteLocal(rt: KeeperRuntime, options: { checkpoint: boolean } = { checkpoint: true }): Promise<void> {
  const inRecovery = await rt.local.withClient((client) => isInRecovery(client));
  if (inRecovery) {
    await pgCtlPromote(rt.bin, rt.config.postgresql.pgdata, { env: rt.env, log: rt.log });
    const deadline = performance.now() + 120_000;
    while (await rt.local.withClient((client) => isInRecovery(client))) {
      if (rt.signal.aborted) throw new AutoctlError('INTERNAL', 'interrupted while waiting for the promotion');
      if (performance.now() > deadline) throw new AutoctlError('PGCTL', 'PostgreSQL is still in recovery 120 s after pg_ctl promote');
      await sleep(POLL_MS);
    }
    rt.log.info('PostgreSQL has been promoted');
  }
  if (options.checkpoint) await rt.local.withClient((client) => checkpoint(client));
  clearStandbySetup(rt);
}

/** synchronous_standby_names = '' and cancel the sessions still waiting on it. */
async function disableSyncRep(rt: KeeperRuntime): Promise<void> {
  await rt.local.withClient(async (client) => {
    if (await currentSetting(client, 'synchronous_standby_names') !== '') {
      rt.log.info('Setting synchronous_standby_names to \'\'');
      await setSynchronousStandbyNames(client, '');
    }
    const cancelled = await cancelSyncRepWaiters(client);
    if (cancelled > 0) rt.log.info(`Cancelled ${cancelled} sessions waiting for synchronous replication`);
  });
  rt.syncTargetLsn = null;
}

export async function actionDisableSyncRep(rt: KeeperRuntime): Promise<void> {
  await ensurePgRunning(rt);
  await disableSyncRep(rt);
}

/** disable_replication: running, no synchronous replication, slots for the current other nodes. */
export async function actionDisableReplication(rt: KeeperRuntime): Promise<void> {
  await ensurePgRunning(rt);
  await disableSyncRep(rt);
  await maintainSlots(rt, { advance: false });
}

/** Applies the monitor's synchronous_standby_names; returns the value. */
async function applyStandbyNames(rt: KeeperRuntime): Promise<string> {
  const wanted = await onMonitor(rt, 'synchronous_standby_names',
    (c) => synchronousStandbyNames(c, rt.config.pg_autoctl.formation, rt.state.currentGroup));
  await rt.local.withClient(async (client) => {
    if (await currentSetting(client, 'synchronous_standby_names') !== wanted) {
      rt.log.info(`Setting synchronous_standby_names to '${wanted}'`);
      await setSynchronousStandbyNames(client, wanted);
    }
  });
  return wanted;
}

/**
 * enable_sync_rep (spec 05 §11.5): apply the monitor's value; with a
 * non-empty value, succeed only once a synchronous standby has flushed
 * the LSN we had when we first tried. Never waits long: a failure is
 * retried next round, so the loop keeps reporting (and renewing the
 * write lease) meanwhile.
 */
export async function actionEnableSyncRep(rt: KeeperRuntime): Promise<void> {
  await ensurePgRunning(rt);
  const wanted = await applyStandbyNames(rt);
  if (wanted === '') {
    rt.syncTargetLsn = null;
    return;
  }
  await rt.local.withClient(async (client) => {
    const rows = (await replicationRows(client)).filter((r) => r.applicationName.startsWith('pgautofailover_standby_'));
    const sync = rows.filter((r) => r.syncState === 'sync' || r.syncState === 'quorum');
    if (rt.syncTargetLsn === null) {
      if (sync.length === 0) {
        throw new AutoctlError('BAD_STATE', 'no synchronous standby is connected yet');
      }
      const result = await client.query<{ lsn: string }>('SELECT pg_current_wal_flush_lsn()::text AS lsn');
      const lsnText = result.rows[0]?.lsn ?? '0/0';
      rt.syncTargetLsn = parseLsn(lsnText);
      rt.log.info(`Waiting until standby node has caught-up to LSN ${lsnText}`);
      await checkpoint(client);
    }
    const target = rt.syncTargetLsn;
    const deadline = performance.now() + 500;
    for (;;) {
      const now = (await replicationRows(client)).filter((r) => r.applicationName.startsWith('pgautofailover_standby_')
        && (r.syncState === 'sync' || r.syncState === 'quorum'));
      if (now.some((r) => r.flushLsn >= target)) break;
      if (performance.now() > deadline) {
        throw new AutoctlError('BAD_STATE', `no synchronous standby has reached LSN ${formatLsn(target)} yet`);
      }
      await sleep(POLL_MS);
    }
  });
  rt.syncTargetLsn = null;
}

export async function actionStopPg(rt: KeeperRuntime): Promise<void> {
  await ensurePgStopped(rt);
}

/** checkpoint_stop: clean up legacy standby settings, two CHECKPOINTs, then a clean stop. */
export async function actionCheckpointStop(rt: KeeperRuntime): Promise<void> {
  if (rt.local.isReady()) {
    await rt.local.withClient(async (client) => {
      try {
        await alterSystemReset(client, 'primary_conninfo');
        await alterSystemReset(client, 'primary_slot_name');
        await checkpoint(client);
        await checkpoint(client);
      } catch (error) {
        rt.log.warn(`CHECKPOINT before stopping PostgreSQL failed: ${messageOf(error)}`);
      }
    }).catch((error: unknown) => { rt.log.warn(`Failed to connect before stopping PostgreSQL: ${messageOf(error)}`); });
  }
  await ensurePgStopped(rt);
}

/** Read-write by default again (undoes promote_read_only). */
async function allowWrites(rt: KeeperRuntime): Promise<void> {
  await rt.local.withClient(async (client) => {
    if (await currentSetting(client, 'default_transaction_read_only') !== 'off') {
      await setDefaultTransactionReadOnly(client, false);
    }
  });
}

/**
 * promote: out of recovery, no standby setup, read-write, no synchronous
 * replication. Reached only towards a writable goal: the promotion itself
 * waits for the write lease.
 */
export async function actionPromote(rt: KeeperRuntime): Promise<void> {
  await ensurePgRunning(rt);
  requireWriteLease(rt, 'promoting PostgreSQL');
  await promoteLocal(rt, { checkpoint: false });
  await allowWrites(rt);
  await rt.local.withClient((client) => checkpoint(client));
  await actionDisableReplication(rt);
}

/**
 * promote_read_only (spec 05 §11.6): read-only by default first, so that
 * `target_session_attrs=read-write` clients do not pick this node before
 * the old primary is known fenced, then promote. No lease yet.
 */
export async function actionPromoteReadOnly(rt: KeeperRuntime): Promise<void> {
  await ensurePgRunning(rt);
  await rt.local.withClient(async (client) => {
    if (await currentSetting(client, 'default_transaction_read_only') !== 'on') {
      await setDefaultTransactionReadOnly(client, true);
    }
  });
  await promoteLocal(rt, { checkpoint: false });
  await disableSyncRep(rt);
}

/**
 * open_writes: with the lease held, read-write again; then the
 * post-promotion CHECKPOINT (promote_read_only left it for here, so that
 * writes open sooner) and HBA refreshed for every other node.
 */
export async function actionOpenWrites(rt: KeeperRuntime): Promise<void> {
  await ensurePgRunning(rt);
  requireWriteLease(rt, 'opening writes');
  if (await rt.local.withClient((client) => isInRecovery(client))) await promoteLocal(rt, { checkpoint: false });
  await disableSyncRep(rt);
  await allowWrites(rt);
  await rt.local.withClient((client) => checkpoint(client));
  await syncReplicationHba(rt, { force: true });
}

/**
 * restart_as_primary: a primary fenced by its lease starts again once the
 * lease is held, with the synchronous replication its goal calls for.
 */
export async function actionRestartAsPrimary(rt: KeeperRuntime, goal: NodeState): Promise<void> {
  await ensurePgRunning(rt);
  if (goal === 'primary') {
    await actionEnableSyncRep(rt);
  } else if (goal === 'apply_settings') {
    await applyStandbyNames(rt);
  } else {
    await disableSyncRep(rt);
  }
  await maintainSlots(rt, { advance: false });
}

/**
 * cleanup_as_primary: stop streaming from the fast-forward source (no
 * primary_conninfo any more); Postgres stays in recovery, paused at its
 * target, until the promotion.
 */
export async function actionCleanupAsPrimary(rt: KeeperRuntime): Promise<void> {
  if (writeStandbyFor(rt, { upstream: undefined, slot: null })) rt.postgres.reload();
}
