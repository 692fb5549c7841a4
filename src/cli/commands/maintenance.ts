/**
 * `pg_autoctl enable|disable maintenance` (spec 04 §6.2, spec 06 §5): on a
 * keeper node, ask the monitor to take this node out of service (or back),
 * then follow the group's state notifications until it got there.
 */
import type { Command } from 'commander';
import { AutoctlError, badArgs } from '../../common/errors.js';
import { sleep } from '../../common/service.js';
import {
  isMonitorConfig, readKeeperState, type KeeperConfig, type KeeperState,
} from '../../config/index.js';
import {
  getNode, isRetryableMonitorError, startMaintenance, stopMaintenance, type NodeId, type ReplicationState,
} from '../../monitor-api/index.js';
import { data, defineCommand, type CommandResult } from '../command.js';
import { withPgdata } from '../options/common.js';
import type { CommandContext } from '../context.js';
import { resolveMonitor, type MonitorTarget } from '../monitor-target.js';
import { waitRendering, type WaitReport } from '../render/operations.js';
import { loadConfig, resolvePgdata } from '../target.js';
import {
  monitorFailure, notificationWidths, waitForNotifications, watchStates, type StateWatch,
} from '../wait-events.js';

interface MaintenanceFlags { pgdata?: string; allowFailover?: boolean }

/** How long the command waits for the node to get there (2.0: PG_AUTOCTL_LISTEN_NOTIFICATIONS_TIMEOUT). */
const MAINTENANCE_WAIT_MS = 60_000;
/** Transient monitor errors are retried for this long (spec 04 §1.6). */
const RETRY_BUDGET_MS = 15 * 60_000;

interface LocalKeeper { config: KeeperConfig; state: KeeperState; target: MonitorTarget }

async function localKeeper(ctx: CommandContext, flags: MaintenanceFlags, command: string): Promise<LocalKeeper> {
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  const { paths, config } = await loadConfig(ctx, pgdata);
  if (isMonitorConfig(config)) {
    throw new AutoctlError('BAD_CONFIG', `The command \`pg_autoctl ${command}\` does not apply to a monitor node.`);
  }
  const state = await readKeeperState(paths.state);
  const target = await resolveMonitor(ctx, { pgdata });
  return { config, state, target };
}

/** Runs a monitor call, retrying serialization failures, deadlocks and the like (spec 04 §1.6). */
async function withRetries<T>(ctx: CommandContext, what: string, fn: () => Promise<T>): Promise<T> {
  const deadline = performance.now() + RETRY_BUDGET_MS;
  let pauseMs = 1000;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (!isRetryableMonitorError(error) || performance.now() + pauseMs > deadline) throw error;
      ctx.log.warn(`Failed to ${what} on the monitor, retrying in ${pauseMs} ms.`);
      await sleep(pauseMs);
      pauseMs = Math.min(5000, pauseMs * 2);
    }
  }
}

/**
 * Follows the notifications until this node is notified in one of `states`
 * (reported and assigned), then reads the node's row: the outcome is the
 * monitor's view, also when a notification was missed.
 */
async function followNode(ctx: CommandContext, watch: StateWatch, keeper: LocalKeeper, states: readonly ReplicationState[]): Promise<WaitReport> {
  const formation = keeper.config.pg_autoctl.formation;
  const groupId = keeper.state.currentGroup;
  const nodeId = keeper.state.currentNodeId;
  const widths = await notificationWidths(ctx, watch.client, formation, groupId);
  ctx.log.info(`Listening monitor notifications about state changes in formation "${formation}" and group ${groupId}`);
  ctx.log.info('Following table displays times when notifications are received');
  const outcome = await waitForNotifications(ctx, watch, {
    formation, groupId, widths, timeoutMs: MAINTENANCE_WAIT_MS,
    done: (n) => n.nodeId === nodeId && n.reportedState === n.goalState && states.includes(n.goalState),
  });
  let reached = outcome.reached;
  let node: WaitReport['node'] = null;
  if (outcome.failure !== 'closed') {
    const row = await getNode(watch.client, { nodeId }).catch(() => undefined);
    if (row !== undefined) {
      node = { nodeId: row.nodeId, name: row.name, host: row.host, port: row.port, reportedState: row.reportedState, goalState: row.goalState };
      if (!reached && row.reportedState === row.goalState && states.includes(row.goalState)) reached = true;
    }
  }
  if (outcome.failure !== undefined && !reached) ctx.log.error('Failed to receive monitor\'s notifications');
  return { formation, groupId, widths, rows: outcome.rows, streamed: outcome.streamed, reached, node };
}

/** start_maintenance / stop_maintenance with retries; 2.0's errors when it fails or the node is unknown. */
async function askMonitor(ctx: CommandContext, watch: StateWatch, nodeId: NodeId, verb: 'enable' | 'disable',
  call: (client: StateWatch['client'], nodeId: NodeId) => Promise<boolean>): Promise<void> {
  let known: boolean;
  try {
    known = await withRetries(ctx, `${verb} maintenance of node ${nodeId}`, () => call(watch.client, nodeId));
  } catch (error) {
    throw monitorFailure(ctx, error, `Failed to ${verb} maintenance of node ${nodeId} on the monitor, see above for details`);
  }
  if (!known) throw new AutoctlError('MONITOR', `Failed to ${verb} maintenance of node ${nodeId} on the monitor: the monitor has no node with id ${nodeId}`);
}

async function enableMaintenance(flags: MaintenanceFlags, ctx: CommandContext): Promise<CommandResult<WaitReport | undefined>> {
  const keeper = await localKeeper(ctx, flags, 'enable maintenance');
  const nodeId = keeper.state.currentNodeId;
  if (keeper.state.currentRole === 'primary' && !flags.allowFailover) {
    ctx.log.warn('Enabling maintenance on a primary causes a failover');
    throw badArgs('Please use --allow-failover to allow the command proceed');
  }
  const watch = await watchStates(ctx, keeper.target);
  try {
    await askMonitor(ctx, watch, nodeId, 'enable', startMaintenance);
    if (keeper.state.currentRole === 'maintenance') {
      ctx.log.info('This node is already in the "maintenance" state.');
      return data(undefined);
    }
    const report = await followNode(ctx, watch, keeper, ['maintenance']);
    if (!report.reached) {
      ctx.log.error('Failed to wait until the node reached the maintenance state');
      return data(report, 'MONITOR');
    }
    return data(report);
  } finally {
    await watch.close();
  }
}

async function disableMaintenance(flags: MaintenanceFlags, ctx: CommandContext): Promise<CommandResult<WaitReport>> {
  const keeper = await localKeeper(ctx, flags, 'disable maintenance');
  const nodeId = keeper.state.currentNodeId;
  const watch = await watchStates(ctx, keeper.target);
  try {
    await askMonitor(ctx, watch, nodeId, 'disable', stopMaintenance);
    const report = await followNode(ctx, watch, keeper, ['secondary', 'primary']);
    if (!report.reached) {
      ctx.log.error('Failed to wait until a node reached the secondary or primary state');
      return data(report, 'MONITOR');
    }
    return data(report);
  } finally {
    await watch.close();
  }
}

export function registerMaintenanceCommands(enable: Command, disable: Command): void {
  defineCommand(enable, {
    name: 'maintenance',
    description: 'Enable Postgres maintenance mode on this node',
    json: true,
    options: (cmd) => withPgdata(cmd)
      .option('--allow-failover', 'allow a failover when this node is the primary'),
    run: enableMaintenance,
    render: waitRendering,
  });
  defineCommand(disable, {
    name: 'maintenance',
    description: 'Disable Postgres maintenance mode on this node',
    json: true,
    options: (cmd) => withPgdata(cmd)
      .option('--allow-failover', 'accepted for compatibility, without effect'),
    run: disableMaintenance,
    render: waitRendering,
  });
}
