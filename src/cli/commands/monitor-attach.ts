/**
 * `pg_autoctl enable|disable monitor` (spec 04 §6.4, spec 06 §10): take a
 * keeper off its monitor (a lost one, or a live one with --force) and
 * register it with a new monitor, keeping its role, while `pg_autoctl run`
 * and Postgres keep running. The running service learns each change on
 * reload (SIGHUP); see docs/architecture.md, "Running without a monitor".
 */
import type { Command } from 'commander';
import type pg from 'pg';
import { AutoctlError, badArgs, messageOf } from '../../common/errors.js';
import { maskSecrets } from '../../common/secrets.js';
import { sleep } from '../../common/service.js';
import {
  MONITOR_DISABLED, isKeeperConfig, isMonitorDisabled, readKeeperState, readNodeTokenIfExists, removeNodeToken, writeConfigFile,
  writeKeeperState, writeNodeToken, type AnyConfig, type AutoctlPaths, type KeeperConfig, type KeeperState,
} from '../../config/index.js';
import { connectMonitorForCreate, registerWithMonitor } from '../../keeper/registration.js';
import {
  getNodes, nodeActive, presentNodeToken, removeNodeById, type NodeAddress, type NodeAssignment, type ReplicationState,
} from '../../monitor-api/index.js';
import { connectLocal, isUri, localFacts, parseConnInfo, type LocalFacts } from '../../postgres/index.js';
import { defineCommand, done, type CommandResult } from '../command.js';
import { withPgdata } from '../options/common.js';
import type { CommandContext } from '../context.js';
import { connectMonitor } from '../monitor-target.js';
import { loadConfig, resolvePgdata } from '../target.js';
import { reloadRunningService } from './service.js';
import { removeEpochFile } from '../../keeper/monitor-epoch.js';
import { removeMonitorsFile } from '../../keeper/monitor-members.js';

/** 2.0 registers again with its defaults: they are not kept in any local file. */
const DEFAULT_CANDIDATE_PRIORITY = 50;
const DEFAULT_REPLICATION_QUORUM = true;

/** Time for a signaled keeper to reload before its node is removed from the monitor (a reload takes milliseconds). */
const RELOAD_GRACE_MS = 1500;

/** How long `enable monitor` waits for a standby to be assigned catchingup. */
const CATCHINGUP_WAIT_MS = 300_000;

function keeperConfigOf(config: AnyConfig, command: string): KeeperConfig {
  if (!isKeeperConfig(config)) {
    throw new AutoctlError('BAD_CONFIG', `The command \`pg_autoctl ${command}\` does not apply to a monitor node.`);
  }
  return config;
}

/** SIGHUP to the running service; true when it was signaled. */
async function reloadService(ctx: CommandContext, paths: AutoctlPaths): Promise<boolean> {
  try {
    if (await reloadRunningService(paths)) {
      ctx.log.info('The pg_autoctl service has been signaled to reload its configuration');
      return true;
    }
    ctx.log.info('The pg_autoctl service is not running: the change applies at its next start');
  } catch (error) {
    ctx.log.fatal(`Failed to reload the pg_autoctl service: ${messageOf(error)}`);
  }
  return false;
}

function label(node: NodeAddress): string {
  return `node ${node.nodeId} "${node.name}" (${node.host}:${node.port})`;
}

// ---------------------------------------------------------------------------
// disable monitor

interface DisableFlags { pgdata?: string; force?: boolean }

async function disableMonitor(flags: DisableFlags, ctx: CommandContext): Promise<CommandResult<void>> {
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  const loaded = await loadConfig(ctx, pgdata);
  const paths = loaded.paths;
  const config = keeperConfigOf(loaded.config, 'disable monitor');
  if (isMonitorDisabled(config)) throw new AutoctlError('BAD_CONFIG', 'Monitor is disabled in the configuration');
  const state = await readKeeperState(paths.state);
  const force = flags.force === true;

  const target = { uri: config.pg_autoctl.monitor, conninfo: parseConnInfo(config.pg_autoctl.monitor), config };
  let client: pg.Client | null = null;
  try {
    client = await connectMonitor(ctx, target, 3000);
  } catch (error) {
    ctx.log.warn(`Failed to get_nodes() on the monitor: ${maskSecrets(messageOf(error))}`);
    if (!force) throw new AutoctlError('MONITOR', 'Failed to contact the monitor, use --force to continue');
    ctx.log.info('Failed to contact the monitor, disabling it as requested');
  }
  let toRemove: NodeAddress | undefined;
  if (client !== null) {
    try {
      const nodes = await getNodes(client, config.pg_autoctl.formation, state.currentGroup);
      const self = nodes.find((n) => n.nodeId === state.currentNodeId);
      if (self !== undefined) {
        if (!force) {
          ctx.log.info(`Found ${label(self)} on the monitor`);
          throw new AutoctlError('BAD_STATE', 'Use --force to remove the node from the monitor');
        }
        // A monitor that still manages standbys of this primary would
        // promote one once the primary is gone from it, and this node no
        // longer fences itself without a monitor: refuse that split brain.
        const others = nodes.filter((n) => n.nodeId !== state.currentNodeId);
        if (self.isPrimary && others.length > 0) {
          throw new AutoctlError('BAD_STATE',
            `Refusing to disable the monitor of the primary ${label(self)} while the monitor still manages ${others.map(label).join(', ')}: `
            + 'it would fail over to one of them while this node keeps accepting writes',
            { hint: 'run pg_autoctl disable monitor --force on the standbys first, the primary last' });
        }
        toRemove = self;
      }
    } catch (error) {
      await client.end().catch(() => undefined);
      if (error instanceof AutoctlError && (error.code === 'BAD_STATE')) throw error;
      if (!force) {
        ctx.log.warn(`Failed to get_nodes() on the monitor: ${maskSecrets(messageOf(error))}`);
        throw new AutoctlError('MONITOR', 'Failed to contact the monitor, use --force to continue');
      }
      ctx.log.warn(`Failed to get_nodes() on the monitor, disabling it as requested: ${maskSecrets(messageOf(error))}`);
      client = null;
    }
  }

  await writeConfigFile(paths.config, { ...config, pg_autoctl: { ...config.pg_autoctl, monitor: MONITOR_DISABLED } });
  ctx.log.info(`Disabled the monitor of this node: node ${state.currentNodeId} keeps its state "${state.currentRole}" and its Postgres`);
  const reloaded = await reloadService(ctx, paths);
  if (client !== null) {
    try {
      if (toRemove !== undefined) {
        // The service first stops calling the monitor: otherwise it could
        // get the "dropped" goal of the removal and stop Postgres.
        if (reloaded) await sleep(RELOAD_GRACE_MS);
        ctx.log.info(`Removing ${label(toRemove)} from monitor`);
        await removeNodeById(client, toRemove.nodeId, true);
      }
    } catch (error) {
      ctx.log.warn(`Failed to remove this node from the monitor: ${maskSecrets(messageOf(error))}`);
      ctx.log.info('HINT: drop it from the monitor with pg_autoctl drop node --force on the monitor');
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return done();
}

// ---------------------------------------------------------------------------
// enable monitor

interface EnableFlags { pgdata?: string; allowFailover?: boolean }

/** The one positional argument of `enable monitor`: a monitor URI (the config file takes only URIs). */
export function parseNewMonitorUri(given: readonly unknown[]): string {
  // The variadic argument arrives as one array.
  const args = given.flat();
  if (args.length !== 1 || typeof args[0] !== 'string' || args[0] === '') throw badArgs('Failed to parse new monitor URI as an argument.');
  const uri = String(args[0]);
  const fail = (why: string): never => {
    throw badArgs(`Failed to parse the new monitor connection string "${maskSecrets(uri)}": ${why}`);
  };
  if (uri.length >= 1024) fail('it is 1024 bytes or longer');
  if (!isUri(uri)) fail('expected a postgres:// or postgresql:// URI');
  let hosts: Array<{ host: string }>;
  try {
    hosts = parseConnInfo(uri).hosts;
  } catch (error) {
    return fail(maskSecrets(messageOf(error)));
  }
  if (hosts.length === 0 || hosts.some((h) => h.host === '')) fail('it names no host');
  return uri;
}

async function readLocalFacts(config: KeeperConfig, ctx: CommandContext): Promise<LocalFacts> {
  try {
    const client = await connectLocal(config.postgresql.pgdata, config.postgresql.dbname || 'postgres', {
      user: config.postgresql.username || undefined,
      host: config.postgresql.host || undefined,
      port: config.postgresql.port,
      connectTimeoutMs: 5000,
      env: ctx.env,
      applicationName: 'pg_autoctl',
    });
    try {
      return await localFacts(client, config.postgresql.pgdata);
    } finally {
      await client.end().catch(() => undefined);
    }
  } catch (error) {
    throw new AutoctlError('PGSQL', `Failed to get the local Postgres metadata: ${messageOf(error)}`,
      { hint: 'Postgres must run to register this node with a new monitor: keep pg_autoctl run going' });
  }
}

/**
 * A standby registered in wait_standby reports until the monitor assigns
 * catchingup, so that the service carries on from there without a new
 * base backup (2.0 does the same).
 */
async function waitForCatchingUp(client: pg.Client, ctx: CommandContext, config: KeeperConfig, token: string,
  node: { nodeId: number; groupId: number }): Promise<NodeAssignment> {
  await presentNodeToken(client, token);
  const deadline = performance.now() + CATCHINGUP_WAIT_MS;
  let known: ReplicationState = 'wait_standby';
  let rounds = 0;
  for (;;) {
    const facts = await readLocalFacts(config, ctx);
    const assignment = await nodeActive(client, {
      formation: config.pg_autoctl.formation, nodeId: node.nodeId, groupId: node.groupId, state: 'wait_standby',
      pgIsRunning: true, tli: facts.timeline, lsn: facts.lsn, syncState: facts.syncState, knownGoal: known,
    });
    if (assignment.goalState === 'catchingup') return assignment;
    known = assignment.goalState;
    rounds += 1;
    if (rounds === 10) {
      ctx.log.info('Still waiting for the monitor to drive us to state "catchingup"');
      ctx.log.warn('Please make sure that the primary node is currently running `pg_autoctl run` and contacting the monitor.');
    }
    if (performance.now() > deadline) {
      throw new AutoctlError('MONITOR', `Failed to reach state "catchingup" on the new monitor within ${CATCHINGUP_WAIT_MS / 1000} s (goal is "${assignment.goalState}")`,
        { hint: 'enable the monitor on the primary first; then drop this node from the new monitor (pg_autoctl drop node --force on the monitor) and run this command again' });
    }
    await sleep(300);
  }
}

async function enableMonitor(flags: EnableFlags, ctx: CommandContext, args: readonly string[]): Promise<CommandResult<void>> {
  const uri = parseNewMonitorUri(args);
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  const loaded = await loadConfig(ctx, pgdata);
  const paths = loaded.paths;
  const config = keeperConfigOf(loaded.config, 'enable monitor');
  if (!isMonitorDisabled(config)) {
    throw new AutoctlError('BAD_CONFIG', `Failed to enable monitor "${maskSecrets(config.pg_autoctl.monitor)}": there is already a monitor enabled`);
  }
  const state = await readKeeperState(paths.state);
  const facts = await readLocalFacts(config, ctx);
  const initialState: ReplicationState = facts.inRecovery ? 'wait_standby' : 'single';

  let client: pg.Client;
  try {
    client = await connectMonitorForCreate({ uri, log: ctx.log, env: ctx.env, retryBudgetMs: 5000 });
  } catch (error) {
    throw new AutoctlError('MONITOR', messageOf(error), { cause: error });
  }
  const oldToken = await readNodeTokenIfExists(paths.token).catch(() => undefined);
  try {
    let token = '';
    const node = await registerWithMonitor({
      client,
      log: ctx.log,
      retryBudgetMs: 30_000,
      args: {
        formation: config.pg_autoctl.formation,
        host: config.pg_autoctl.hostname,
        port: config.postgresql.port,
        dbname: config.postgresql.dbname || 'postgres',
        ...(config.pg_autoctl.name === '' ? {} : { name: config.pg_autoctl.name }),
        sysIdentifier: facts.systemIdentifier,
        ...(state.currentNodeId > 0 ? { desiredNodeId: state.currentNodeId } : {}),
        desiredGroupId: state.currentGroup >= 0 ? state.currentGroup : config.pg_autoctl.group,
        initialState,
        kind: config.pg_autoctl.nodekind,
        candidatePriority: DEFAULT_CANDIDATE_PRIORITY,
        replicationQuorum: DEFAULT_REPLICATION_QUORUM,
      },
      recordLocally: async (_node, issued) => {
        token = issued;
        await writeNodeToken(paths.token, issued);
      },
      undoLocally: async () => {
        if (oldToken === undefined) await removeNodeToken(paths.token);
        else await writeNodeToken(paths.token, oldToken);
      },
    }).catch((error: unknown) => {
      throw new AutoctlError('MONITOR', messageOf(error), { cause: error });
    });
    ctx.log.info(`Successfully registered to the monitor with nodeId ${node.nodeId}`);

    let reached: ReplicationState = node.goalState;
    if (initialState === 'wait_standby') reached = (await waitForCatchingUp(client, ctx, config, token, node)).goalState;
    const next: KeeperState = {
      ...state, currentNodeId: node.nodeId, currentGroup: node.groupId, currentRole: reached, assignedRole: reached,
      lastMonitorContact: Math.floor(Date.now() / 1000),
    };
    await writeKeeperState(paths.state, next);
    // Another monitor on purpose: the epochs of the old one mean nothing to it.
    removeEpochFile(paths.state);
    // ... nor its members.
    removeMonitorsFile(paths.state);
  } finally {
    await client.end().catch(() => undefined);
  }
  // The state and token are in place before the service reads the new URI.
  await writeConfigFile(paths.config, { ...config, pg_autoctl: { ...config.pg_autoctl, monitor: uri } });
  await reloadService(ctx, paths);
  return done();
}

export function registerMonitorAttachCommands(enable: Command, disable: Command): void {
  defineCommand(enable, {
    name: 'monitor',
    description: 'Enable a monitor for this node to be orchestrated from',
    options: (cmd) => withPgdata(cmd)
      .option('--allow-failover', 'accepted for compatibility, ignored')
      .argument('[uri...]', 'postgres://autoctl_node@new.monitor.add.ress/pg_auto_failover'),
    run: enableMonitor,
  });
  defineCommand(disable, {
    name: 'monitor',
    description: 'Disable the monitor for this node',
    options: (cmd) => withPgdata(cmd)
      .option('--force', 'force unregistering from the monitor'),
    run: disableMonitor,
  });
}
