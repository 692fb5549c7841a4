/**
 * `pg_autoctl drop node|monitor|formation` (spec 04 §4, spec 06 §6).
 *
 * `drop node` has two forms. On a keeper node (--pgdata): ask the monitor
 * to remove this node, let the running service reach `dropped` and exit
 * (or stop it), make sure the monitor forgot the node, then keep or
 * (--destroy) remove PGDATA and the node's files. From anywhere else
 * (--monitor, or the monitor's --pgdata) with --name or --hostname/--pgport:
 * ask the monitor to remove that node and wait until its row is gone.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Command } from 'commander';
import type pg from 'pg';
import { AutoctlError, badArgs, messageOf } from '../../common/errors.js';
import { sleep } from '../../common/service.js';
import {
  checkPidFile, checkSignalTarget, isKeeperConfig, isMonitorConfig, isMonitorDisabled, isProcessAlive, readConfigFile,
  readKeeperState, readNodeTokenIfExists, readProcessIdentity, removeFileIfExists,
  type AutoctlPaths, type KeeperConfig, type MonitorConfig,
} from '../../config/index.js';
import {
  dropFormation, findNodeByHostPort, getNode, nodeActive, presentNodeToken, removeNodeById, type NodeRow,
} from '../../monitor-api/index.js';
import { stopPostgres } from '../../postgres/index.js';
import { defineCommand, done, type CommandResult } from '../command.js';
import { withFormationTarget, withPgdata } from '../options/common.js';
import type { CommandContext } from '../context.js';
import { connectMonitor, resolveMonitor, withMonitor, type MonitorTarget } from '../monitor-target.js';
import { defaultPort } from '../options/create-node.js';
import { loadConfig, pathsOf, resolvePgdata } from '../target.js';
import { group } from '../tree.js';
import { parseWait } from './perform.js';
import { monitorFailure } from '../wait-events.js';
import { epochFileOf } from '../../keeper/monitor-epoch.js';
import { monitorsFileOf } from '../../keeper/monitor-members.js';

interface DropNodeFlags {
  pgdata?: string;
  monitor?: string;
  formation?: string;
  name?: string;
  hostname?: string;
  pgport?: string;
  destroy?: boolean;
  force?: boolean;
  wait?: string;
}

/** How long a running service gets to exit by itself, then after SIGQUIT (2.0: 30 s each). */
const SERVICE_EXIT_MS = 30_000;
/** How long `drop node --pgdata` waits for the monitor to forget the node. */
const FORGET_MS = 60_000;

// ---------------------------------------------------------------------------
// Stopping the local service and removing files

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (isProcessAlive(pid)) {
    if (performance.now() > deadline) return false;
    await sleep(200);
  }
  return true;
}

/**
 * Stops the pg_autoctl service of PGDATA: first lets it exit by itself for
 * `graceMs` (a dropped keeper does), then SIGQUIT. Only a process checked
 * to be pg_autoctl of this PGDATA is signalled.
 */
async function stopService(ctx: CommandContext, paths: AutoctlPaths, graceMs: number): Promise<void> {
  const status = await checkPidFile(paths.pid);
  if (status.status !== 'running') return;
  const pid = status.pidFile.pid;
  if (graceMs > 0 && await waitForExit(pid, graceMs)) return;
  const identity = readProcessIdentity(pid);
  const uid = process.getuid?.();
  if (identity !== undefined && uid !== undefined) {
    const checked = checkSignalTarget(identity, { uid, pgdata: paths.pgdata, entryScripts: process.argv[1] === undefined ? [] : [process.argv[1]] });
    if (!checked.ok) {
      throw new AutoctlError('BAD_STATE', `Refusing to signal pid ${pid} found in the pid file "${paths.pid}": ${checked.errors}`);
    }
  }
  ctx.log.info(`Sending signal SIGQUIT to pg_autoctl process ${pid}`);
  try {
    process.kill(pid, 'SIGQUIT');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return;
    throw new AutoctlError('INTERNAL', `Failed to send SIGQUIT to the pg_autoctl pid ${pid}: ${messageOf(error)}`);
  }
  if (!await waitForExit(pid, SERVICE_EXIT_MS)) throw new AutoctlError('INTERNAL', `Failed to stop the pg_autoctl process with pid ${pid}`);
}

/** --destroy: Postgres stopped, PGDATA and the node's files removed, the configuration file last. */
async function destroyFiles(ctx: CommandContext, paths: AutoctlPaths, pgdata: string): Promise<void> {
  for (const file of [paths.init, paths.state, paths.token, paths.nodesJson, paths.pgStatus, epochFileOf(paths.state), monitorsFileOf(paths.state)]) await removeFileIfExists(file);
  ctx.log.info(`Stopping PostgreSQL at "${pgdata}"`);
  await stopPostgres(pgdata, 'fast', 60_000);
  if (existsSync(pgdata)) {
    ctx.log.info(`Removing "${pgdata}"`);
    await rm(pgdata, { recursive: true, force: true });
  } else {
    ctx.log.warn(`Skipping removal of "${pgdata}": directory does not exist`);
  }
  ctx.log.info(`Removing "${paths.config}"`);
  await removeFileIfExists(paths.config);
}

function preserveFiles(ctx: CommandContext, paths: AutoctlPaths, pgdata: string): void {
  ctx.log.warn(`Preserving configuration file: "${paths.config}"`);
  if (existsSync(pgdata)) ctx.log.warn(`Preserving Postgres Data Directory: "${pgdata}"`);
  ctx.log.info('pg_autoctl drop node keeps your data and setup safe, you can still run Postgres or re-join a pg_auto_failover cluster later');
  ctx.log.info('HINT: to completely remove your local Postgres instance and setup, consider `pg_autoctl drop node --destroy`');
}

// ---------------------------------------------------------------------------
// drop node, local form

/**
 * Waits until the monitor has no row for the node. A node assigned
 * `dropped` whose service is not running acknowledges it from here: the
 * CLI reports `dropped` with the node's own credential, as the keeper would.
 */
async function ensureForgotten(ctx: CommandContext, client: pg.ClientBase, paths: AutoctlPaths, config: KeeperConfig,
  nodeId: number, groupId: number): Promise<boolean> {
  const deadline = performance.now() + FORGET_MS;
  let tokenPresented = false;
  while (performance.now() < deadline) {
    const row = await getNode(client, { nodeId });
    if (row === undefined) return true;
    if (row.goalState === 'dropped' && row.reportedState !== 'dropped') {
      if (!tokenPresented) {
        const token = await readNodeTokenIfExists(paths.token);
        if (token !== undefined) await presentNodeToken(client, token);
        tokenPresented = true;
      }
      await nodeActive(client, {
        formation: config.pg_autoctl.formation, nodeId, groupId, state: 'dropped', pgIsRunning: false,
        tli: 0, lsn: 0n, syncState: '', knownGoal: 'dropped',
      });
    }
    await sleep(500);
  }
  return false;
}

async function dropLocalNode(ctx: CommandContext, flags: DropNodeFlags, paths: AutoctlPaths, config: KeeperConfig): Promise<void> {
  const hint = 'To drop another node, please use this command from the monitor itself.';
  if (flags.hostname !== undefined || flags.pgport !== undefined) {
    throw badArgs('Only dropping the local node is supported, [ --hostname --pgport ] are not supported when --pgdata is used.', hint);
  }
  if (flags.name !== undefined) {
    throw badArgs('Only dropping the local node is supported, [ --formation --name ] are not supported when --pgdata is used.', hint);
  }
  const pgdata = config.postgresql.pgdata;
  if (isMonitorDisabled(config)) {
    if (!flags.destroy) throw badArgs('pg_autoctl drop node is not supported when the monitor is disabled', 'use --destroy to remove the local node');
    await stopService(ctx, paths, 0);
    await destroyFiles(ctx, paths, pgdata);
    return;
  }
  const state = await readKeeperState(paths.state);
  const nodeId = state.currentNodeId;
  const groupId = state.currentGroup;
  const formation = config.pg_autoctl.formation;
  const target = await resolveMonitor(ctx, { pgdata: paths.pgdata });

  // false: the monitor had already forgotten the node, whose service then will not exit by itself.
  const known = await withMonitor(ctx, target, async (client) => {
    const row = await getNode(client, { nodeId });
    if (row === undefined) return false;
    if (state.assignedRole === 'dropped') return true;
    ctx.log.info(`Removing node with name "${row.name}" in formation "${formation}" from the monitor`);
    try {
      await removeNodeById(client, nodeId, Boolean(flags.force));
    } catch (error) {
      throw monitorFailure(ctx, error, `Failed to remove node with id ${nodeId} from the monitor, see above for details`);
    }
    return true;
  });

  // Without --force the service reaches `dropped`, reports it and exits by itself.
  await stopService(ctx, paths, flags.force || !known ? 0 : SERVICE_EXIT_MS);

  const client = await connectMonitor(ctx, target);
  let forgotten: boolean;
  try {
    forgotten = await ensureForgotten(ctx, client, paths, config, nodeId, groupId);
  } catch (error) {
    throw monitorFailure(ctx, error,
      `Failed to ensure that the local node with id ${nodeId} in formation "${formation}" and group ${groupId} has been removed from the monitor`);
  } finally {
    await client.end().catch(() => undefined);
  }
  if (!forgotten) {
    throw new AutoctlError('MONITOR',
      `Failed to ensure that the local node with id ${nodeId} in formation "${formation}" and group ${groupId} has been removed from the monitor`);
  }
  ctx.log.info(`This node with id ${nodeId} in formation "${formation}" and group ${groupId} has been dropped from the monitor`);
  if (flags.destroy) await destroyFiles(ctx, paths, pgdata);
  else preserveFiles(ctx, paths, pgdata);
}

// ---------------------------------------------------------------------------
// drop node, remote form

async function dropRemoteNode(ctx: CommandContext, flags: DropNodeFlags, target: MonitorTarget): Promise<void> {
  if (flags.destroy) {
    ctx.log.error('Please use either [ --hostname --pgport ] or [ --formation --name ] to target a remote node, or --destroy to destroy the local node.');
    throw badArgs('Destroying a node is not supported from a distance');
  }
  if (flags.name !== undefined && flags.hostname !== undefined) {
    throw badArgs('pg_autoctl drop node target can either be specified using [ --formation --name ], or using [ --hostname and --pgport ], but not both.');
  }
  if (flags.name === undefined && flags.hostname === undefined) {
    throw badArgs('pg_autoctl drop node target can either be specified using [ --formation --name ], or using [ --hostname and --pgport ], please use either one.');
  }
  const waitSeconds = parseWait(flags.wait);
  const formation = flags.formation ?? 'default';
  const port = flags.hostname === undefined ? 0 : defaultPort(ctx, flags.pgport);

  await withMonitor(ctx, target, async (client) => {
    let node: NodeRow | undefined;
    if (flags.name !== undefined) {
      ctx.log.info(`Removing node with name "${flags.name}" in formation "${formation}" from the monitor`);
      node = await getNode(client, { formation, name: flags.name });
      if (node === undefined) throw new AutoctlError('MONITOR', `node "${flags.name}" is not registered in formation "${formation}"`);
    } else {
      const host = flags.hostname ?? '';
      ctx.log.info(`Removing node with hostname "${host}" and port ${port} in formation "${formation}" from the monitor`);
      node = await findNodeByHostPort(client, host, port);
      if (node === undefined) throw new AutoctlError('MONITOR', `couldn't find node with hostname "${host}" and port ${port}`);
    }
    try {
      await removeNodeById(client, node.nodeId, Boolean(flags.force));
    } catch (error) {
      throw monitorFailure(ctx, error, `Failed to remove node with id ${node.nodeId} from the monitor, see above for details`);
    }
    if (waitSeconds <= 0) return;
    ctx.log.info(`Waiting until the node with id ${node.nodeId} in group ${node.groupId} has been dropped from the monitor, or for ${waitSeconds}s, whichever comes first`);
    const deadline = performance.now() + waitSeconds * 1000;
    while ((await getNode(client, { nodeId: node.nodeId })) !== undefined) {
      if (performance.now() > deadline) throw new AutoctlError('INTERNAL', 'Failed to wait until the node has been dropped');
      await sleep(500);
    }
    ctx.log.info(`Node with id ${node.nodeId} in group ${node.groupId} has been successfully dropped from the monitor`);
  });
}

async function dropNodeHandler(flags: DropNodeFlags, ctx: CommandContext): Promise<CommandResult<void>> {
  const monitorUri = flags.monitor ?? (ctx.env.PG_AUTOCTL_MONITOR || undefined);
  if (monitorUri !== undefined) {
    await dropRemoteNode(ctx, flags, await resolveMonitor(ctx, flags));
    return done();
  }
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  const paths = pathsOf(ctx, pgdata);
  if (!existsSync(paths.config)) throw new AutoctlError('BAD_CONFIG', `Failed to find expected configuration file "${paths.config}"`);
  const { config } = await loadConfig(ctx, pgdata);
  if (isKeeperConfig(config)) await dropLocalNode(ctx, flags, paths, config);
  else await dropRemoteNode(ctx, flags, await resolveMonitor(ctx, { pgdata }));
  return done();
}

// ---------------------------------------------------------------------------
// drop monitor, drop formation

async function dropMonitorHandler(flags: { pgdata?: string; destroy?: boolean }, ctx: CommandContext): Promise<CommandResult<void>> {
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  const paths = pathsOf(ctx, pgdata);
  if (!existsSync(paths.config)) throw new AutoctlError('BAD_CONFIG', `Failed to find expected configuration file "${paths.config}"`);
  const config = await readConfigFile(paths.config);
  if (!isMonitorConfig(config)) throw new AutoctlError('BAD_CONFIG', 'Local node is not a monitor');
  await stopService(ctx, paths, 0);
  const dataDir = (config as MonitorConfig).postgresql.pgdata;
  if (flags.destroy) await destroyFiles(ctx, paths, dataDir);
  else preserveFiles(ctx, paths, dataDir);
  return done();
}

async function dropFormationHandler(flags: { pgdata?: string; monitor?: string; formation?: string }, ctx: CommandContext): Promise<CommandResult<void>> {
  const formation = flags.formation;
  if (formation === undefined || formation === '') throw badArgs('Options --formation is mandatory');
  const target = await resolveMonitor(ctx, flags);
  await withMonitor(ctx, target, async (client) => {
    try {
      await dropFormation(client, formation);
    } catch (error) {
      throw monitorFailure(ctx, error, `Failed to drop formation "${formation}" on the monitor, see above for details`);
    }
  });
  ctx.log.info(`Dropped formation "${formation}" on the monitor`);
  return done();
}

export function registerDropCommands(program: Command): void {
  const drop = group(program, 'drop', 'Drop a pg_auto_failover node, or formation');
  defineCommand(drop, {
    name: 'monitor',
    description: 'Drop the pg_auto_failover monitor',
    options: (cmd) => withPgdata(cmd)
      .option('--destroy', 'also destroy Postgres database'),
    run: dropMonitorHandler,
  });
  defineCommand(drop, {
    name: 'node',
    description: 'Drop a node from the pg_auto_failover monitor',
    options: (cmd) => withFormationTarget(cmd, 'pg_auto_failover formation')
      .option('--name <name>', 'drop the node with the given node name')
      .option('--hostname <host>', 'drop the node with given hostname and pgport')
      .option('--pgport <port>', 'drop the node with given hostname and pgport')
      .option('--destroy', 'also destroy Postgres database')
      .option('--force', 'force dropping the node from the monitor')
      .option('--wait <seconds>', 'how many seconds to wait, default to 60'),
    run: dropNodeHandler,
  });
  defineCommand(drop, {
    name: 'formation',
    description: 'Drop a formation on the pg_auto_failover monitor',
    options: (cmd) => withFormationTarget(cmd, 'name of the formation to drop'),
    run: dropFormationHandler,
  });
}
