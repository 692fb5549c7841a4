/**
 * `pg_autoctl do monitor get primary|others|candidate-count` (spec 04 §13):
 * what the monitor tells a keeper about its group, asked with the keeper's
 * configuration (monitor URI, formation, group) and state file (node id).
 */
import { AutoctlError } from '../../common/errors.js';
import { isKeeperConfig, isMonitorDisabled, readKeeperState, type KeeperConfig, type KeeperState } from '../../config/index.js';
import { currentState, getNodes, getOtherNodes, getPrimary, type NodeAddress, type PrimaryNode } from '../../monitor-api/index.js';
import { data, type CommandResult } from '../command.js';
import type { CommandContext } from '../context.js';
import { resolveMonitor, withMonitor, type MonitorTarget } from '../monitor-target.js';
import { pathsOf, resolvePgdata } from '../target.js';
import type { PgdataFlags } from './pgsetup.js';

interface KeeperMonitorTarget {
  target: MonitorTarget;
  config: KeeperConfig;
  state: KeeperState;
  formation: string;
  groupId: number;
}

async function keeperMonitor(ctx: CommandContext, flags: PgdataFlags): Promise<KeeperMonitorTarget> {
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  const target = await resolveMonitor(ctx, { pgdata });
  const config = target.config;
  if (config === null || !isKeeperConfig(config)) {
    throw new AutoctlError('BAD_CONFIG', `"${pgdata}" is not a keeper node: do monitor commands run on a Postgres node`);
  }
  if (isMonitorDisabled(config)) throw new AutoctlError('BAD_CONFIG', 'This node runs with --disable-monitor: there is no monitor to ask');
  const state = await readKeeperState(pathsOf(ctx, pgdata).state);
  const groupId = config.pg_autoctl.group >= 0 ? config.pg_autoctl.group : state.currentGroup;
  return { target, config, state, formation: config.pg_autoctl.formation, groupId };
}

export interface PrimaryView { formation: string; groupId: number; primary: PrimaryNode }

/** `do monitor get primary`: the primary of the node's group. */
export async function monitorGetPrimary(flags: PgdataFlags, ctx: CommandContext): Promise<CommandResult<PrimaryView>> {
  const k = await keeperMonitor(ctx, flags);
  const primary = await withMonitor(ctx, k.target, (client) => getPrimary(client, k.formation, k.groupId));
  return data({ formation: k.formation, groupId: k.groupId, primary });
}

export interface OtherNodeView extends NodeAddress { tli: number }

/** `do monitor get others`: the other nodes of the node's group. */
export async function monitorGetOthers(flags: PgdataFlags, ctx: CommandContext): Promise<CommandResult<readonly OtherNodeView[]>> {
  const k = await keeperMonitor(ctx, flags);
  if (k.state.currentNodeId < 0) throw new AutoctlError('BAD_STATE', 'This node is not registered on the monitor yet (no node id in its state file)');
  return data(await withMonitor(ctx, k.target, async (client) => {
    const others = await getOtherNodes(client, k.state.currentNodeId);
    const tli = new Map((await currentState(client, k.formation, k.groupId)).map((row) => [row.nodeId, row.reportedTli]));
    return others.map((node) => ({ ...node, tli: tli.get(node.nodeId) ?? 0 }));
  }));
}

export interface CandidateCountView { formation: string; groupId: number; count: number }

/** `do monitor get candidate-count`: nodes of the group that are not primary and have a candidate priority above 0. */
export async function monitorGetCandidateCount(flags: PgdataFlags, ctx: CommandContext): Promise<CommandResult<CandidateCountView>> {
  const k = await keeperMonitor(ctx, flags);
  const count = await withMonitor(ctx, k.target, async (client) => {
    const priority = new Map((await currentState(client, k.formation, k.groupId)).map((row) => [row.nodeId, row.candidatePriority]));
    return (await getNodes(client, k.formation, k.groupId)).filter((n) => !n.isPrimary && (priority.get(n.nodeId) ?? 0) > 0).length;
  });
  return data({ formation: k.formation, groupId: k.groupId, count });
}
