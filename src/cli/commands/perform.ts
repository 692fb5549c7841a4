/**
 * `pg_autoctl perform failover|switchover|promotion` (spec 04 §8, spec 06
 * §3): ask the monitor for a new primary, then follow the group's state
 * notifications until a node is primary again (../wait-events.ts).
 */
import type { Command } from 'commander';
import type pg from 'pg';
import { badArgs, badState } from '../../common/errors.js';
import { isKeeperConfig, isMonitorConfig, readKeeperStateIfExists } from '../../config/index.js';
import {
  currentState, getNode, performFailover, performPromotion, type CurrentStateRow, type StateNotification,
} from '../../monitor-api/index.js';
import { data, defineCommand, type CommandResult } from '../command.js';
import { withFormationTarget, withPgdata } from '../options/common.js';
import type { CommandContext } from '../context.js';
import { resolveMonitor, type MonitorTarget } from '../monitor-target.js';
import { monitorFailoverRendering } from '../render/monitor-failover.js';
import { waitRendering, type NodeRef, type WaitReport } from '../render/operations.js';
import { pathsOf } from '../target.js';
import { performMonitorFailover } from './perform-monitor-failover.js';
import { group } from '../tree.js';
import {
  monitorFailure, notificationWidths, waitForNotifications, watchStates, type StateWatch,
} from '../wait-events.js';

export interface PerformFlags {
  pgdata?: string;
  monitor?: string;
  formation?: string;
  group?: string;
  name?: string;
  wait?: string;
}

/** The default of --wait, in seconds (0 waits without a time limit). */
export const DEFAULT_WAIT_SECONDS = 60;

export function parseWait(given: string | undefined): number {
  if (given === undefined) return DEFAULT_WAIT_SECONDS;
  if (!/^-?\d+$/.test(given.trim()) || !Number.isSafeInteger(Number(given))) {
    throw badArgs(`--wait argument is not a valid timeout: "${given}"`);
  }
  return Number(given);
}

export function formationOf(target: MonitorTarget, given: string | undefined): string {
  if (given !== undefined) return given;
  if (target.config && isKeeperConfig(target.config)) return target.config.pg_autoctl.formation;
  return 'default';
}

function parseGroup(given: string | undefined): number | undefined {
  if (given === undefined) return undefined;
  if (!/^\d+$/.test(given) || !Number.isSafeInteger(Number(given))) throw badArgs(`--group argument is not a valid group ID: "${given}"`);
  return Number(given);
}

/** The local keeper's group: its state file (set at registration), else its configuration. */
async function localGroup(ctx: CommandContext, target: MonitorTarget): Promise<number | undefined> {
  if (!target.config || !isKeeperConfig(target.config)) return undefined;
  const state = await readKeeperStateIfExists(pathsOf(ctx, target.config.postgresql.pgdata).state).catch(() => undefined);
  if (state !== undefined && state.currentGroup >= 0) return state.currentGroup;
  return target.config.pg_autoctl.group >= 0 ? target.config.pg_autoctl.group : undefined;
}

/** The target group (spec 04 §1.4); fails when the formation has no node. */
async function resolveGroup(ctx: CommandContext, client: pg.ClientBase, target: MonitorTarget, formation: string,
  given: string | undefined): Promise<number> {
  const explicit = parseGroup(given);
  const groups = [...new Set((await currentState(client, formation)).map((r) => r.groupId))];
  if (groups.length === 0) throw badState(`The monitor currently has no Postgres nodes registered in formation "${formation}"`);
  if (explicit !== undefined) return explicit;
  const local = await localGroup(ctx, target);
  if (local !== undefined) {
    ctx.log.info(`Targetting group ${local} in formation "${formation}"`);
    return local;
  }
  const [only] = groups;
  if (groups.length > 1 || only === undefined) throw badArgs(`Please use the --group option to target a specific group in formation "${formation}"`);
  return only;
}

const refOf = (r: CurrentStateRow): NodeRef => ({ nodeId: r.nodeId, name: r.name, host: r.host, port: r.port });
const label = (n: NodeRef): string => `node ${n.nodeId} "${n.name}" (${n.host}:${n.port})`;
const isPrimaryNotification = (n: StateNotification): boolean => n.reportedState === 'primary' && n.goalState === 'primary';

/** The converged primary of the group, read after the wait. */
async function convergedPrimary(client: pg.ClientBase, formation: string, groupId: number): Promise<NodeRef | null> {
  const row = (await currentState(client, formation, groupId)).find((r) => r.reportedState === 'primary' && r.goalState === 'primary');
  return row === undefined ? null : refOf(row);
}

/**
 * Follows the notifications until the expected new primary of the group is
 * notified primary/primary (spec 04 §8.1; 2.0 stops at any node notified
 * so, the old primary included), then reads the group's primary on the
 * monitor: the outcome reported is what the monitor says, not only what
 * the notifications suggested. Not copied from 2.0: it logs a spurious
 * monitor ERROR (its get_nodes() call sends the group as an empty string,
 * spec 04 §6.5) although the switchover works and the command exits 0, so
 * its output reads as a failure; and with a keeper's --pgdata it ignores
 * --wait (spec 04 §8.1).
 */
async function followUntilPrimary(ctx: CommandContext, watch: StateWatch, formation: string, groupId: number,
  waitSeconds: number, isNewPrimary: (n: StateNotification) => boolean): Promise<WaitReport> {
  if (waitSeconds > 0) {
    ctx.log.info(`Waiting ${waitSeconds} secs for a notification with state "primary" in formation "${formation}" and group ${groupId}`);
  }
  const widths = await notificationWidths(ctx, watch.client, formation, groupId);
  ctx.log.info(`Listening monitor notifications about state changes in formation "${formation}" and group ${groupId}`);
  ctx.log.info('Following table displays times when notifications are received');
  const outcome = await waitForNotifications(ctx, watch, {
    formation, groupId, widths, timeoutMs: Math.max(0, waitSeconds) * 1000, done: (n) => isPrimaryNotification(n) && isNewPrimary(n),
  });
  let primary: NodeRef | null = null;
  let reached = outcome.reached;
  if (outcome.failure !== 'closed') {
    primary = await convergedPrimary(watch.client, formation, groupId).catch(() => null);
    // The notification may have been missed (e.g. sent before a slow LISTEN); the monitor decides.
    if (!reached && primary !== null && outcome.rows.length > 0) reached = true;
  }
  return { formation, groupId, widths, rows: outcome.rows, streamed: outcome.streamed, reached, primary };
}

function failedWait(ctx: CommandContext, report: WaitReport): CommandResult<WaitReport> {
  ctx.log.error('Failed to receive monitor\'s notifications');
  ctx.log.error('Failed to wait until a new primary has been notified');
  return data(report, 'INTERNAL');
}

async function performFailoverHandler(flags: PerformFlags, ctx: CommandContext): Promise<CommandResult<WaitReport>> {
  const waitSeconds = parseWait(flags.wait);
  parseGroup(flags.group);
  const target = await resolveMonitor(ctx, flags);
  const formation = formationOf(target, flags.formation);
  const watch = await watchStates(ctx, target);
  try {
    const groupId = await resolveGroup(ctx, watch.client, target, formation, flags.group);
    const before = (await currentState(watch.client, formation, groupId))
      .find((r) => ['primary', 'wait_primary', 'single'].includes(r.reportedState));
    try {
      await performFailover(watch.client, formation, groupId);
    } catch (error) {
      throw monitorFailure(ctx, error, 'Failed to perform failover/switchover, see above for details');
    }
    // The old primary's events of the election itself (priority changes) may
    // still show it primary/primary: only another node ends the wait.
    const report = await followUntilPrimary(ctx, watch, formation, groupId, waitSeconds, (n) => n.nodeId !== before?.nodeId);
    if (!report.reached || !report.primary) return failedWait(ctx, report);
    if (before !== undefined && report.primary.nodeId === before.nodeId) {
      ctx.log.error(`The failover did not happen: ${label(report.primary)} is still the primary of group ${groupId} in formation "${formation}"`);
      return data(report, 'INTERNAL');
    }
    ctx.log.info(`${label(report.primary)} is now the primary of group ${groupId} in formation "${formation}"`);
    return data(report);
  } finally {
    await watch.close();
  }
}

/** --name, else the local keeper's node name (spec 04 §1.4). */
function nodeNameOf(target: MonitorTarget, given: string | undefined): string {
  if (given !== undefined) return given;
  if (target.config && isKeeperConfig(target.config)) return target.config.pg_autoctl.name;
  if (target.config && isMonitorConfig(target.config)) throw badArgs('Please use --name to target a specific node');
  throw badArgs('Please use either --name or --pgdata to target a specific node');
}

async function performPromotionHandler(flags: PerformFlags, ctx: CommandContext): Promise<CommandResult<WaitReport | undefined>> {
  const waitSeconds = parseWait(flags.wait);
  if (flags.name === '') throw badArgs('--name must not be empty');
  const target = await resolveMonitor(ctx, flags);
  const formation = formationOf(target, flags.formation);
  const name = nodeNameOf(target, flags.name);
  const watch = await watchStates(ctx, target);
  try {
    const node = await getNode(watch.client, { formation, name });
    if (node === undefined) throw badArgs(`node "${name}" is not registered in formation "${formation}"`);
    let requested: boolean;
    try {
      requested = await performPromotion(watch.client, formation, name);
    } catch (error) {
      throw monitorFailure(ctx, error, `Failed to perform promotion of node "${name}" in formation "${formation}", see above for details`);
    }
    // false: the node already is the primary (the monitor's NOTICE is logged as a warning); nothing to wait for.
    if (!requested) return data(undefined);
    const report = await followUntilPrimary(ctx, watch, formation, node.groupId, waitSeconds, (n) => n.nodeId === node.nodeId);
    if (!report.reached || !report.primary) return failedWait(ctx, report);
    if (report.primary.nodeId !== node.nodeId) {
      ctx.log.error(`Failed to promote node "${name}": ${label(report.primary)} is the primary of group ${node.groupId} in formation "${formation}"`);
      return data(report, 'INTERNAL');
    }
    ctx.log.info(`${label(report.primary)} is now the primary of group ${node.groupId} in formation "${formation}"`);
    return data(report);
  } finally {
    await watch.close();
  }
}

function targetOptions(cmd: Command): Command {
  return withFormationTarget(cmd, 'formation to target, defaults to \'default\'');
}

export function registerPerformCommands(program: Command): void {
  const perform = group(program, 'perform', 'Perform an action orchestrated by the monitor');
  for (const [name, description] of [
    ['failover', 'Perform a failover for given formation and group'],
    ['switchover', 'Perform a switchover for given formation and group'],
  ] as const) {
    defineCommand(perform, {
      name,
      description,
      json: true,
      options: (cmd) => targetOptions(cmd)
        .option('--group <id>', 'group to target, defaults to 0')
        .option('--wait <seconds>', 'how many seconds to wait, default to 60'),
      run: performFailoverHandler,
      render: waitRendering,
    });
  }
  defineCommand(perform, {
    name: 'promotion',
    description: 'Perform a failover that promotes a target node',
    json: true,
    options: (cmd) => targetOptions(cmd)
      .option('--name <name>', 'node name to target, defaults to current node')
      .option('--wait <seconds>', 'how many seconds to wait, default to 60'),
    run: performPromotionHandler,
    render: waitRendering,
  });
  // Not in pg_auto_failover 2.0 (issue 13): the standby monitor takes over.
  defineCommand(perform, {
    name: 'monitor-failover',
    description: 'Promote this standby monitor: a clean switchover, or --force when the primary monitor is gone',
    json: true,
    options: (cmd) => withPgdata(cmd)
      .option('--force', 'promote even though the primary monitor does not answer (fence its host first)')
      .option('--wait <seconds>', 'how many seconds to wait, default to 60'),
    run: performMonitorFailover,
    render: monitorFailoverRendering,
  });
}

