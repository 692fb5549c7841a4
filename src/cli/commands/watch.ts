/**
 * `pg_autoctl watch` (spec 04 §10.5), also reached by `show state --watch`
 * and `show events --watch`: a live dashboard of the formation's nodes and
 * latest events (src/cli/watch/). It needs an interactive terminal: with
 * standard input or output not a terminal it fails at once (exit 1) and
 * points to `show state` / `show events`, which print once. While the
 * monitor does not answer, the dashboard keeps the last data it had, says
 * so on its second line and retries; it quits on q, F1 or Ctrl-C (exit 0).
 */
import type { Command } from 'commander';
import { badArgs } from '../../common/errors.js';
import { isKeeperConfig } from '../../config/index.js';
import { connectClient } from '../../postgres/index.js';
import { data, defineCommand, type CommandResult } from '../command.js';
import { withFormationTarget } from '../options/common.js';
import type { CommandContext } from '../context.js';
import { resolveMonitor } from '../monitor-target.js';
import { readSnapshot } from '../watch/feed.js';
import { requireTerminal, runDashboard } from '../watch/session.js';

export interface WatchFlags { pgdata?: string; monitor?: string; formation?: string; group?: string }

function groupOf(flags: WatchFlags): number | undefined {
  if (flags.group === undefined) return undefined;
  if (!/^\d+$/.test(flags.group) || !Number.isSafeInteger(Number(flags.group))) {
    throw badArgs(`--group argument is not a valid group ID: "${flags.group}"`);
  }
  return Number(flags.group);
}

/** Runs the dashboard; the result prints nothing. */
export async function watchDashboard(flags: WatchFlags, ctx: CommandContext): Promise<CommandResult<undefined>> {
  const groupId = groupOf(flags);
  const target = await resolveMonitor(ctx, flags);
  const formation = flags.formation
    ?? (target.config && isKeeperConfig(target.config) ? target.config.pg_autoctl.formation : 'default');
  requireTerminal();
  const seconds = Number(ctx.env.PGCONNECT_TIMEOUT ?? '2');
  const connectTimeoutMs = Number.isFinite(seconds) && seconds > 0 ? Math.max(1000, seconds * 1000) : 2000;
  ctx.log.debug(`Watching formation "${formation}" on the monitor at ${target.uri}`);
  await runDashboard({
    formation,
    connect: () => connectClient(target.conninfo, { connectTimeoutMs, applicationName: 'pg_autoctl', env: ctx.env }),
    read: (client) => readSnapshot(client, formation, groupId),
  });
  return data(undefined);
}

export function registerWatchCommand(program: Command): void {
  defineCommand(program, {
    name: 'watch',
    description: 'Display a dashboard to watch monitor\'s events and state',
    options: (cmd) => withFormationTarget(cmd, 'formation to query, defaults to \'default\'')
      .option('--group <id>', 'group to query formation, defaults to all'),
    run: watchDashboard,
  });
}
