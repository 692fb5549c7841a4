/**
 * Postgres operations shared by the keeper's actions: start and stop
 * through the supervisor's controller (never behind its back), the
 * settings file regenerated from the configuration, certificates, standby
 * setups pointing at an upstream node, and replication slots.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AutoctlError, messageOf } from '../common/errors.js';
import { sleep } from '../common/service.js';
import { isMonitorDisabled } from '../config/index.js';
import { isWritableState } from '../fsm/states.js';
import type { NodeAddress, PrimaryNode } from '../monitor-api/index.js';
import {
  applySlotPlan, createSelfSignedCertificate, hostResources, identifySystem, listReplicationSlots, planDropAllSlots,
  planSlotMaintenance, removeStandbySetup, renderNodeSettingsFile, replicationConninfo, slotNameFor, stopPostgres,
  waitForPostgresReady, writeAutoFailoverSettings, writeStandbySetup,
  type Lsn, type RecoveryTargetAction, type ReplicationSource, type SslMode,
} from '../postgres/index.js';
import { currentState, type KeeperRuntime } from './runtime.js';

export const REPLICATION_USER = 'pgautofailover_replicator';
export const MONITOR_HEALTH_USER = 'pgautofailover_monitor';
export const MONITOR_HEALTH_PASSWORD = 'pgautofailover_monitor';

const READY_TIMEOUT_MS = 60_000;

/** True when Postgres may be (or become) writable now: the current state or the goal being reached needs the lease. */
function writesAtStake(rt: KeeperRuntime): boolean {
  const goal = rt.transitionGoal;
  return isWritableState(currentState(rt)) || (goal !== null && isWritableState(goal));
}

/** Fails unless the write lease runs (for a node in, or going to, a writable state). */
export function requireWriteLease(rt: KeeperRuntime, what: string): void {
  // Without a monitor no one else is promoted: there is no lease to hold.
  if (writesAtStake(rt) && !rt.lease.valid() && !isMonitorDisabled(rt.config)) {
    throw new AutoctlError('BAD_STATE', `not ${what}: this node holds no write lease from the monitor`);
  }
}

/** Asks the controller for a running Postgres and waits until it accepts connections. */
export async function ensurePgRunning(rt: KeeperRuntime): Promise<void> {
  requireWriteLease(rt, 'starting PostgreSQL');
  rt.postgres.setExpected('running');
  await rt.postgres.ensure();
  await waitForPostgresReady(rt.config.postgresql.pgdata, { timeoutMs: READY_TIMEOUT_MS, signal: rt.signal });
  rt.fencedAt = null;
}

/** Asks the controller for a stopped Postgres (fast shutdown, immediate when that fails) and waits for it. */
export async function ensurePgStopped(rt: KeeperRuntime): Promise<void> {
  rt.postgres.setExpected('stopped');
  try {
    await rt.postgres.ensure();
  } catch (error) {
    rt.log.warn(`Fast shutdown of PostgreSQL failed, using an immediate shutdown: ${messageOf(error)}`);
    await stopPostgres(rt.config.postgresql.pgdata, 'immediate', 30_000, { log: rt.log });
  }
  const deadline = performance.now() + READY_TIMEOUT_MS;
  while (rt.local.runningPid() !== null) {
    if (performance.now() > deadline) throw new AutoctlError('PGCTL', `PostgreSQL in "${rt.config.postgresql.pgdata}" did not stop`);
    await rt.postgres.ensure();
    await sleep(50);
  }
}

export async function restartPg(rt: KeeperRuntime): Promise<void> {
  await ensurePgStopped(rt);
  await ensurePgRunning(rt);
}

/** The SSL file settings of the configuration. */
function sslFiles(rt: KeeperRuntime): { active: boolean; caFile: string; crlFile: string; certFile: string; keyFile: string } {
  const ssl = rt.config.ssl;
  return { active: ssl.active === 1, caFile: ssl.ca_file, crlFile: ssl.crl_file, certFile: ssl.cert_file, keyFile: ssl.key_file };
}

/** True when the configuration asks for a self-signed certificate in PGDATA. */
function usesSelfSignedCertificate(rt: KeeperRuntime): boolean {
  const pgdata = rt.config.postgresql.pgdata;
  return rt.config.ssl.active === 1 && rt.config.ssl.cert_file === join(pgdata, 'server.crt')
    && rt.config.ssl.key_file === join(pgdata, 'server.key');
}

/**
 * Makes this node's own self-signed certificate when configured. With
 * `replaceCopied`, files that came with a copy of another node (base
 * backup, rewind) are replaced: each node has its own certificate.
 */
export async function ensureCertificate(rt: KeeperRuntime, options: { replaceCopied?: boolean } = {}): Promise<void> {
  if (!usesSelfSignedCertificate(rt)) return;
  const pgdata = rt.config.postgresql.pgdata;
  if (options.replaceCopied) {
    rmSync(join(pgdata, 'server.crt'), { force: true });
    rmSync(join(pgdata, 'server.key'), { force: true });
  }
  await createSelfSignedCertificate(pgdata, rt.config.pg_autoctl.hostname, { log: rt.log, env: rt.env });
}

/** Regenerates `postgresql-auto-failover.conf` (+ include line); true when it changed. */
export function writeNodeSettings(rt: KeeperRuntime): boolean {
  const pg = rt.config.postgresql;
  return writeAutoFailoverSettings(pg.pgdata, renderNodeSettingsFile({
    listenAddresses: pg.listen_addresses || '*',
    port: pg.port,
    authMethod: pg.auth_method || undefined,
    ssl: sslFiles(rt),
    host: hostResources(),
    pgMajor: rt.bin.version.major,
  }), rt.log);
}

/** Where this node streams from when following `upstream`. */
export function replicationSourceFor(rt: KeeperRuntime, upstream: { host: string; port: number }): ReplicationSource {
  const ssl = rt.config.ssl;
  return {
    host: upstream.host,
    port: upstream.port,
    user: REPLICATION_USER,
    password: rt.config.replication.password || undefined,
    applicationName: slotNameFor(rt.state.currentNodeId),
    sslMode: ssl.sslmode as SslMode,
    sslRootCert: ssl.ca_file || undefined,
    sslCrl: ssl.crl_file || undefined,
  };
}

export interface StandbyTarget {
  /** Absent: no upstream (report_lsn, maintenance). */
  upstream?: { host: string; port: number } | undefined;
  /** Our slot on the upstream; the default is `pgautofailover_standby_<id>`. */
  slot?: string | null;
  targetLsn?: Lsn;
  targetAction?: RecoveryTargetAction;
}

/** Writes standby.signal and the standby settings; true when they changed. */
export function writeStandbyFor(rt: KeeperRuntime, target: StandbyTarget): boolean {
  const slot = target.slot === null ? undefined : (target.slot ?? slotNameFor(rt.state.currentNodeId));
  const conninfo = target.upstream ? replicationConninfo(replicationSourceFor(rt, target.upstream), { includePassword: true }) : undefined;
  return writeStandbySetup(rt.config.postgresql.pgdata, {
    primaryConninfo: conninfo,
    primarySlotName: slot,
    recoveryTargetTimeline: 'latest',
    ...(target.targetLsn === undefined ? {} : {
      recoveryTargetLsn: target.targetLsn,
      recoveryTargetInclusive: true,
      recoveryTargetAction: target.targetAction ?? 'pause',
    }),
  }, rt.log);
}

/** Leaves standby mode: no standby.signal, empty standby settings. */
export function clearStandbySetup(rt: KeeperRuntime): void {
  removeStandbySetup(rt.config.postgresql.pgdata, rt.log);
}

export function hasStandbySignalFile(rt: KeeperRuntime): boolean {
  return existsSync(join(rt.config.postgresql.pgdata, 'standby.signal'));
}

/** IDENTIFY_SYSTEM on the upstream as the replication user: it is reachable as a source. */
export async function checkUpstream(rt: KeeperRuntime, upstream: { host: string; port: number }): Promise<{ timeline: number; systemIdentifier: bigint }> {
  try {
    const id = await identifySystem(replicationSourceFor(rt, upstream), { env: rt.env, connectTimeoutMs: 3000 });
    return { timeline: id.timeline, systemIdentifier: id.systemIdentifier };
  } catch (error) {
    throw new AutoctlError('PGSQL', `cannot open a replication connection to ${upstream.host}:${upstream.port}: ${messageOf(error)}`, { cause: error });
  }
}

/** Slot maintenance (spec 05 §11.2): a slot per other node; with `advance`, inactive slots follow their node's LSN. */
export async function maintainSlots(rt: KeeperRuntime, options: { advance: boolean }): Promise<void> {
  const others = rt.otherNodes.map((n: NodeAddress) => ({ nodeId: n.nodeId, reportedLsn: n.lsn }));
  await rt.local.withClient(async (client) => {
    const plan = planSlotMaintenance(await listReplicationSlots(client), others, options);
    // On a standby, advancing may fail for a slot that has not reserved WAL yet: not worth failing the round.
    try {
      await applySlotPlan(client, plan, rt.log);
    } catch (error) {
      rt.log.warn(`Failed to maintain replication slots: ${messageOf(error)}`);
    }
  });
}

/** Drops every pgautofailover slot (a former primary turned standby: resets their xmin). */
export async function dropAllSlots(rt: KeeperRuntime): Promise<void> {
  await rt.local.withClient(async (client) => {
    await applySlotPlan(client, planDropAllSlots(await listReplicationSlots(client)), rt.log);
  });
}

export function upstreamLabel(node: PrimaryNode | NodeAddress): string {
  return `node ${node.nodeId} "${node.name}" (${node.host}:${node.port})`;
}
