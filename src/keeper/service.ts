/**
 * The keeper services run by the supervisor (`pg_autoctl run` and
 * `create postgres`): `node-active`, the permanent keeper loop, and
 * `node-init`, the same loop ending once `create` has brought the node to
 * its first stable state. Both resume an interrupted `create` (init file).
 */
import { join } from 'node:path';
import { messageOf } from '../common/errors.js';
import { bindLogIdentity } from '../common/log.js';
import { maskConfigValue } from '../common/secrets.js';
import { FatalServiceError, type Service, type ServiceContext } from '../common/service.js';
import {
  isKeeperConfig, isMonitorDisabled, planKeeperReload, readConfigFile, readInitFileIfExists, readKeeperStateIfExists, readNodeTokenIfExists,
  PGDATA_INIT_STATE_TEXT, type AutoctlPaths, type KeeperConfig,
} from '../config/index.js';
import { isWritableState } from '../fsm/states.js';
import type pg from 'pg';
import {
  currentMonitorEpoch, getNode, monitorHasWitnesses, presentNodeToken, readPrimaryLeaseTimeoutMs, sqlStateOf, updateNodeMetadata, type MonitorEpoch,
} from '../monitor-api/index.js';
import { classifyPgData, findPgBinaries, parseConnInfo, readStandbySettingsFile } from '../postgres/index.js';
import { enforceLease, guardedLeaseEnd, restartTracker } from './ensure-state.js';
import { registerFailsafeRoutes, runFailsafeLoop } from './failsafe.js';
import { restoreFailsafe } from './failsafe-state.js';
import { HttpListener } from '../common/http-listener.js';
import { createKeeperEvents } from './events.js';
import { registerHealthRoutes } from './health-routes.js';
import { watchKeeperHooks } from './hooks.js';
import { registerKeeperMetrics } from './metrics.js';
import { LeaseGuard } from './lease-guard.js';
import { WriteLease } from './lease.js';
import { maxStoredLeaseMs, readLeaseFile } from './lease-file.js';
import { localPg, NOT_RUNNING } from './local-pg.js';
import { runKeeperLoop } from './loop.js';
import { EpochGuard, epochFileOf } from './monitor-epoch.js';
import { registerIntoRebuiltMonitor } from './rebuild-register.js';
import { MonitorLink } from './monitor-link.js';
import { hasStandbySignalFile, writeNodeSettings, writeStandbyFor } from './pg-ops.js';
import { currentState, notify, onMonitor, type KeeperRuntime } from './runtime.js';

export interface KeeperServiceOptions {
  paths: AutoctlPaths;
  config: KeeperConfig;
  env: NodeJS.ProcessEnv;
}

/** How often the write lease is checked besides the checks of the loop itself. */
const LEASE_CHECK_MS = 100;

export function keeperService(options: KeeperServiceOptions): Service {
  return keeperLoopService(options, 'node-active', false);
}

/** The `create postgres` worker: transient, done once the node reached its first stable state. */
export function keeperInitService(options: KeeperServiceOptions): Service {
  return keeperLoopService(options, 'node-init', true);
}

function keeperLoopService(options: KeeperServiceOptions, name: string, untilInitDone: boolean): Service {
  let runtime: KeeperRuntime | null = null;
  return {
    name,
    transient: untilInitDone,
    async run(ctx: ServiceContext): Promise<void> {
      const rt = await buildRuntime(options, ctx);
      runtime = rt;
      const unwatchHooks = watchKeeperHooks(rt);
      // Also with a disabled monitor: `enable monitor` turns it on again
      // on reload, and then the failsafe and the guard are needed at once.
      const http = await startHttpListener(rt);
      const guard = LeaseGuard.start(rt.config.postgresql.pgdata, options.paths.dirs.runtime, guardedLeaseEnd(rt), rt.log, rt.env);
      const timer = setInterval(() => {
        try {
          enforceLease(rt);
          guard?.arm(guardedLeaseEnd(rt));
        } catch (error) {
          rt.log.error(`Failed to check the write lease: ${messageOf(error)}`);
        }
      }, LEASE_CHECK_MS);
      const failsafeStop = new AbortController();
      const failsafe = runFailsafeLoop(rt, failsafeStop.signal);
      let stopReason = 'the service stopped';
      try {
        notify(rt, 'started');
        await startUp(rt);
        await runKeeperLoop(rt, { untilInitDone, leaseFile: rt.leaseFile }, restartTracker());
      } catch (error) {
        stopReason = messageOf(error);
        throw error;
      } finally {
        notify(rt, 'stopping', { reason: stopReason });
        unwatchHooks();
        failsafeStop.abort();
        await failsafe;
        clearInterval(timer);
        guard?.release();
        runtime = null;
        await http?.close();
        await rt.monitor.close();
      }
    },
    async reload(): Promise<void> {
      if (runtime !== null) await reloadConfig(runtime);
    },
  };
}

/** The keeper's runtime for a service context (also `pg_autoctl do fsm step`, for one round). */
export async function buildRuntime(options: KeeperServiceOptions, ctx: ServiceContext): Promise<KeeperRuntime> {
  const { paths, env } = options;
  const config = options.config;
  const log = ctx.log;
  const state = await readKeeperStateIfExists(paths.state);
  if (state === undefined) {
    throw new FatalServiceError(`The keeper state file "${paths.state}" does not exist: this node is not registered; run pg_autoctl create postgres first`);
  }
  const bin = await findPgBinaries({ ...(config.postgresql.pg_ctl ? { pgctl: config.postgresql.pg_ctl } : {}), env });
  const lease = new WriteLease(() => performance.now(), config.timeout.network_partition_timeout * 1000);
  const leaseFile = join(paths.dirs.runtime, 'pg_autoctl.lease');
  const stored = readLeaseFile(leaseFile, maxStoredLeaseMs(config.timeout.network_partition_timeout));
  if (stored.warning !== undefined) log.warn(stored.warning);
  if (stored.end !== null) lease.extendTo(stored.end);
  // The node's credential on the monitor (docs/security.md "Node
  // credentials"), presented on each API connection before any call.
  // Read again when `enable monitor` registered the node with a new monitor (reload).
  const credential: { token: string | undefined } = {
    token: isMonitorDisabled(config) ? undefined
      : await readNodeTokenIfExists(paths.token).catch((error: unknown) => { throw new FatalServiceError(messageOf(error), error); }),
  };
  if (credential.token === undefined && !isMonitorDisabled(config)) {
    log.warn(`This node has no node token ("${paths.token}" does not exist): its monitor calls are not bound to it`
      + ' (a node registered before node tokens); the monitor refuses it when its setting require_node_token is on');
  }
  const holder: { rt?: KeeperRuntime } = {};
  let epoch: EpochGuard;
  try {
    epoch = new EpochGuard(epochFileOf(paths.state), log);
  } catch (error) {
    throw new FatalServiceError(messageOf(error), error);
  }
  const monitor = new MonitorLink({
    uri: config.pg_autoctl.monitor,
    log,
    env,
    applicationName: 'pg_autoctl keeper',
    wakeOn: (n) => n.formation === config.pg_autoctl.formation && n.groupId === (holder.rt?.state.currentGroup ?? n.groupId),
    rank: async (client) => (await monitorEpochOf(client))?.epoch ?? 0,
    onConnect: async (client) => {
      // A stale monitor is refused before anything else: it looks unreachable.
      const seen = await monitorEpochOf(client);
      epoch.monitorHasEpochs = seen !== undefined;
      epoch.admit(seen?.epoch ?? 0, describeClient(client));
      epoch.monitorHasWitnesses = await monitorHasWitnesses(client).catch(() => false);
      if (credential.token !== undefined) await presentNodeToken(client, credential.token);
      try {
        const ms = await readPrimaryLeaseTimeoutMs(client);
        if (ms !== undefined) lease.setMonitorLeaseMs(ms);
      } catch (error) {
        log.debug(`Failed to read the monitor's lease setting: ${messageOf(error)}`);
      }
    },
  });
  const rt: KeeperRuntime = {
    paths, config, env, log, bin,
    postgres: ctx.postgres,
    monitor,
    lease,
    local: localPg(config, env, log),
    signal: ctx.signal,
    state,
    otherNodes: [],
    hbaHostsKey: '',
    hbaHostFailures: new Map(),
    syncTargetLsn: null,
    lastFacts: NOT_RUNNING,
    fencedAt: null,
    monitorUnreachable: false,
    transitionGoal: null,
    stateWrites: Promise.resolve(),
    leaseFile,
    failsafe: restoreFailsafe(leaseFile),
    httpPort: null,
    events: createKeeperEvents(),
    epoch,
  };
  holder.rt = rt;
  credentials.set(rt, credential);
  // JSON log lines name the node, read at each line: they follow a rename
  // (reload) or the group of a new registration (enable monitor).
  bindLogIdentity(log, () => ({ formation: rt.config.pg_autoctl.formation, group: rt.state.currentGroup, node: rt.config.pg_autoctl.name }));
  return rt;
}

/**
 * The monitor's epoch; undefined from a monitor without epochs (a schema
 * before migration 0010: SQLSTATE 42883, no such function), which counts
 * as epoch 0.
 */
async function monitorEpochOf(client: pg.Client): Promise<MonitorEpoch | undefined> {
  try {
    return await currentMonitorEpoch(client);
  } catch (error) {
    if (sqlStateOf(error) === '42883') return undefined;
    throw error;
  }
}

/** host:port of a connected client, for log lines. */
export function describeClient(client: pg.Client): string {
  const host = client.host.includes(':') ? `[${client.host}]` : client.host;
  return `${host}:${client.port}`;
}

/** The node token each runtime presents, replaced on reload after `enable monitor`. */
const credentials = new WeakMap<KeeperRuntime, { token: string | undefined }>();

/** The address the HTTP listener binds: the first of postgresql.listen_addresses, all of them for `*`. */
function httpListenHost(listenAddresses: string): string | undefined {
  const first = listenAddresses.split(',').map((a) => a.trim()).find((a) => a !== '');
  return first === undefined || first === '*' ? undefined : first;
}

/**
 * Starts the keeper's HTTP listener (http.port; 0 = off). A port in use is
 * logged and the keeper runs on without it: the failsafe is then off for
 * this node, which its peers see as a node that does not vouch.
 */
async function startHttpListener(rt: KeeperRuntime): Promise<HttpListener | null> {
  const port = rt.config.http.port;
  if (port === 0) {
    rt.log.warn('The HTTP listener of this node is off (http.port = 0): the failsafe cannot keep this node\'s primary serving through a monitor outage');
    return null;
  }
  const listener = new HttpListener(rt.log);
  registerFailsafeRoutes(rt, listener);
  registerHealthRoutes(rt, listener);
  registerKeeperMetrics(rt, listener);
  const host = httpListenHost(rt.config.postgresql.listen_addresses);
  try {
    await listener.listen(port, host);
    rt.httpPort = port;
    rt.log.info(`HTTP listener on ${host ?? '*'}:${port}`);
    return listener;
  } catch (error) {
    rt.log.error(`Failed to start the HTTP listener on ${host ?? '*'}:${port}: ${messageOf(error)}`);
    return null;
  }
}

/** spec 05 §12.1: resume notice, dropped-node check, configuration applied to Postgres. */
async function startUp(rt: KeeperRuntime): Promise<void> {
  const init = await readInitFileIfExists(rt.paths.init);
  if (init !== undefined) {
    rt.log.info(`Initialisation of this node is in progress (\`pg_autoctl create\`); PostgreSQL state at registration time was: ${PGDATA_INIT_STATE_TEXT[init.pgdataState]}`);
  }
  // A primary restarted without a lease carried over fences at once, before anything else.
  if (isWritableState(currentState(rt))) enforceLease(rt);
  if (!isMonitorDisabled(rt.config)) {
    try {
      const row = await onMonitor(rt, 'node', (c) => getNode(c, { nodeId: rt.state.currentNodeId }));
      // A monitor rebuilt from its nodes does not know this node yet (rebuild-register.ts).
      if (row === undefined && !(await registerIntoRebuiltMonitor(rt))) {
        rt.log.info(`To get rid of the configuration file and PGDATA directory, run pg_autoctl drop node --pgdata "${rt.config.postgresql.pgdata}" --destroy`);
        throw new FatalServiceError(`This node with id ${rt.state.currentNodeId} in formation "${rt.config.pg_autoctl.formation}" and group ${rt.state.currentGroup} has been dropped from the monitor`);
      }
    } catch (error) {
      if (error instanceof FatalServiceError) throw error;
      rt.log.warn(`Failed to check this node on the monitor: ${messageOf(error)}`);
    }
  }
  if (classifyPgData(rt.config.postgresql.pgdata) === 'postgres' && !['init', 'wait_standby'].includes(currentState(rt))) {
    let changed = false;
    try {
      // Also primary_conninfo: `enable ssl` may have changed the SSL settings while pg_autoctl was stopped.
      changed = writeNodeSettings(rt);
      changed = followWithNewSsl(rt) || changed;
    } catch (error) {
      rt.log.warn(`Failed to write the Postgres settings: ${messageOf(error)}`);
    }
    if (changed && currentState(rt) === 'maintenance') await applySettingsInMaintenance(rt);
  }
  rt.log.info(`pg_autoctl service is running, current state is "${currentState(rt)}"`);
}

/** SIGHUP (spec 05 §13.5): re-read the file, keep what cannot change, apply the rest. */
async function reloadConfig(rt: KeeperRuntime): Promise<void> {
  let reread;
  try {
    reread = await readConfigFile(rt.paths.config);
  } catch (error) {
    rt.log.warn(`Failed to reload the configuration, keeping the current one: ${messageOf(error)}`);
    return;
  }
  if (!isKeeperConfig(reread)) {
    rt.log.warn(`"${rt.paths.config}" is no longer a keeper configuration, keeping the current one`);
    return;
  }
  const planned = planKeeperReload(rt.config, reread);
  const changes = planned.changes;
  let config = planned.config;
  for (const change of changes) {
    const before = maskConfigValue(change.path, change.before);
    if (change.applied) rt.log.info(`Reloading configuration: ${change.path} is now "${maskConfigValue(change.path, change.after)}"; used to be "${before}"`);
    else rt.log.warn(`Reloading configuration: ${change.path} cannot change while running (${change.change}), keeping "${before}"`);
  }
  const before = rt.config.pg_autoctl;
  const beforeSsl = rt.config.ssl;
  const wasDisabled = isMonitorDisabled(rt.config);
  if (!wasDisabled && isMonitorDisabled(config)) {
    rt.log.info('The monitor is now disabled: this node keeps its state and Postgres as they are, and no longer calls a monitor');
  }
  if (wasDisabled && !isMonitorDisabled(config) && !(await adoptNewMonitor(rt))) {
    rt.log.warn(`Reloading configuration: keeping the monitor disabled, the node is not registered with "${maskConfigValue('pg_autoctl.monitor', config.pg_autoctl.monitor)}"`);
    config = { ...config, pg_autoctl: { ...config.pg_autoctl, monitor: before.monitor } };
  }
  rt.config = config;
  rt.monitor.setUri(config.pg_autoctl.monitor);
  const renamed = config.pg_autoctl.name !== before.name;
  const moved = config.pg_autoctl.hostname !== before.hostname;
  if ((renamed || moved) && !isMonitorDisabled(config)) {
    try {
      await onMonitor(rt, 'update_node_metadata', (c) => updateNodeMetadata(c, rt.state.currentNodeId, {
        ...(renamed ? { name: config.pg_autoctl.name } : {}),
        ...(moved ? { host: config.pg_autoctl.hostname } : {}),
      }));
    } catch (error) {
      rt.log.warn(`Failed to update the node name or hostname on the monitor: ${messageOf(error)}`);
    }
  }
  if (classifyPgData(config.postgresql.pgdata) === 'postgres') {
    let changed = writeNodeSettings(rt);
    if (sslChanged(beforeSsl, config.ssl)) changed = followWithNewSsl(rt) || changed;
    if (changed) rt.postgres.reload();
  }
  rt.log.info(`Reloaded the new configuration from "${rt.paths.config}"`);
}

/**
 * `enable monitor` registered this node with a new monitor from the CLI
 * and wrote the node token and the state file (current state `single`, or
 * `catchingup` for a standby) before signalling us: take them, and grant
 * the write lease from now. That is safe because the new monitor registered
 * this node alone in its group (a primary registers as `single` only then),
 * and lets no other node of the group get as far as `secondary` before this
 * keeper reported to it (rules R4-R6): until that report nothing can be
 * promoted, and from it on the lease runs as usual. False when the files
 * are not there (the URI was edited by hand): the monitor stays disabled.
 */
async function adoptNewMonitor(rt: KeeperRuntime): Promise<boolean> {
  try {
    const token = await readNodeTokenIfExists(rt.paths.token);
    const state = await readKeeperStateIfExists(rt.paths.state);
    if (token === undefined || state === undefined) return false;
    const credential = credentials.get(rt);
    if (credential !== undefined) credential.token = token;
    rt.state = state;
    // `enable monitor` removed the epoch file: the new monitor starts its own history.
    rt.epoch?.reset();
  } catch (error) {
    rt.log.warn(`Failed to read the node token or state written by pg_autoctl enable monitor: ${messageOf(error)}`);
    return false;
  }
  rt.lease.grant(performance.now());
  // That grant counts as a fresh answer: no vouch round before the first report.
  rt.failsafe.lastGrantAnsweredAt = performance.now();
  rt.failsafe.publishedHttpPort = undefined;
  // What the failsafe did for the old monitor is no news for the new one.
  rt.failsafe.outage = null;
  rt.failsafe.vouched = null;
  rt.otherNodes = [];
  rt.log.info(`The monitor is enabled again: node ${rt.state.currentNodeId} in state "${currentState(rt)}" now reports to it`);
  return true;
}

function sslChanged(a: KeeperConfig['ssl'], b: KeeperConfig['ssl']): boolean {
  return a.active !== b.active || a.sslmode !== b.sslmode || a.ca_file !== b.ca_file || a.crl_file !== b.crl_file;
}

/** A postgresql.conf string value of the standby settings file, unquoted. */
export function standbySetting(text: string, name: string): string | undefined {
  const match = new RegExp(`^${name} = '((?:[^'\\\\]|''|\\\\.)*)'$`, 'm').exec(text);
  return match?.[1]?.replaceAll("''", "'").replace(/\\(.)/g, '$1');
}

/**
 * `enable ssl` on a standby: primary_conninfo gets the new sslmode (and
 * CA, CRL), same upstream and slot. True when the file changed (a reload
 * is enough: Postgres 13 and later restart the WAL receiver).
 */
/**
 * A node in maintenance is in the operator's hands: the keeper neither
 * starts nor stops its Postgres. One exception, as 2.0: when settings
 * changed while pg_autoctl was stopped (`enable ssl` offline), they are
 * applied at start: a reload when Postgres runs, a start when it does not.
 * Only a node set up as a standby (standby.signal) is started, so a
 * maintenance node never comes back as a second primary.
 */
async function applySettingsInMaintenance(rt: KeeperRuntime): Promise<void> {
  if (rt.local.runningPid() !== null) {
    rt.log.info('Settings changed while pg_autoctl was stopped: reloading Postgres (this node is in maintenance)');
    rt.postgres.reload();
    return;
  }
  if (!hasStandbySignalFile(rt)) return;
  rt.log.info('Settings changed while pg_autoctl was stopped: starting Postgres as a standby to apply them (this node is in maintenance)');
  rt.postgres.setExpected('running');
  try {
    await rt.postgres.ensure();
  } catch (error) {
    rt.log.warn(`Failed to start Postgres: ${messageOf(error)}`);
  } finally {
    // Back in the operator's hands.
    rt.postgres.setExpected('unknown');
  }
}

function followWithNewSsl(rt: KeeperRuntime): boolean {
  if (!hasStandbySignalFile(rt)) return false;
  const text = readStandbySettingsFile(rt.config.postgresql.pgdata);
  const conninfo = standbySetting(text, 'primary_conninfo');
  // Only a plain streaming setup: a targeted catch-up or a crash recovery is left as it is.
  const plain = standbySetting(text, 'recovery_target_timeline') === 'latest'
    && standbySetting(text, 'recovery_target_lsn') === undefined && standbySetting(text, 'recovery_target') === undefined;
  if (conninfo === undefined || !plain) return false;
  try {
    const upstream = parseConnInfo(conninfo).hosts[0];
    if (upstream === undefined || upstream.port === undefined) return false;
    const slot = standbySetting(text, 'primary_slot_name');
    const changed = writeStandbyFor(rt, { upstream: { host: upstream.host, port: upstream.port }, slot: slot ?? null });
    if (changed) rt.log.info(`Replication connection string primary_conninfo now uses sslmode "${rt.config.ssl.sslmode}"`);
    return changed;
  } catch (error) {
    rt.log.warn(`Failed to update primary_conninfo with the new SSL settings: ${messageOf(error)}`);
    return false;
  }
}
