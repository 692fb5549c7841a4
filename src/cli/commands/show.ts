/**
 * `pg_autoctl show uri|state|events` (spec 04 §5): data from the monitor's
 * reporting functions (src/monitor-api/reporting.ts), rendered by
 * ../render/show.ts as the original's tables or JSON.
 */
import type { Command } from 'commander';
import { AutoctlError, badArgs } from '../../common/errors.js';
import { isKeeperConfig } from '../../config/index.js';
import {
  currentState, formationUri, getHttpEndpoints, lastEventsShown, listFormations, type ShownEventRow,
} from '../../monitor-api/index.js';
import { data, defineCommand, type CommandResult } from '../command.js';
import type { CommandContext } from '../context.js';
import { resolveMonitor, withMonitor, type MonitorTarget } from '../monitor-target.js';
import {
  eventsRendering, stateRendering, uriRendering, type StateData, type UriData, type UriEntry,
} from '../render/show.js';
import { group } from '../tree.js';
import { watchDashboard } from './watch.js';

interface ShowFlags { pgdata?: string; monitor?: string; formation?: string; group?: string }

interface WatchOption { watch?: boolean; local?: boolean }

/** `--watch`: the `pg_autoctl watch` dashboard instead of a table (spec 04 §5.1). */
function watchInstead(flags: ShowFlags & WatchOption, ctx: CommandContext): Promise<CommandResult<undefined>> {
  if (ctx.json) throw badArgs('Please use either --json or --watch, but not both');
  if (flags.local) throw badArgs('Please use either --local or --watch, but not both');
  return watchDashboard(flags, ctx);
}

function formationOf(target: MonitorTarget, flags: ShowFlags): string {
  if (flags.formation !== undefined) return flags.formation;
  if (target.config && isKeeperConfig(target.config)) return target.config.pg_autoctl.formation;
  return 'default';
}

function groupOf(flags: ShowFlags): number | undefined {
  if (flags.group === undefined) return undefined;
  const n = Number(flags.group);
  if (!/^\d+$/.test(flags.group) || !Number.isInteger(n)) throw badArgs(`--group argument is not a valid group id: "${flags.group}"`);
  return n;
}

async function showState(flags: ShowFlags & WatchOption, ctx: CommandContext): Promise<CommandResult<StateData | undefined>> {
  if (flags.watch) return watchInstead(flags, ctx);
  const target = await resolveMonitor(ctx, flags);
  const formation = formationOf(target, flags);
  const groupId = groupOf(flags);
  return data(await withMonitor(ctx, target, async (client) => ({
    rows: await currentState(client, formation, groupId),
    httpPorts: new Map((await getHttpEndpoints(client, formation)).map((h) => [h.nodeId, h.httpPort])),
  })));
}

async function showEvents(flags: ShowFlags & WatchOption & { count?: string }, ctx: CommandContext): Promise<CommandResult<readonly ShownEventRow[] | undefined>> {
  if (flags.watch) return watchInstead(flags, ctx);
  const count = flags.count === undefined ? 10 : Number(flags.count);
  if (flags.count !== undefined && (!/^\d+$/.test(flags.count) || !Number.isInteger(count))) {
    throw badArgs(`--count argument is not a valid count: "${flags.count}"`);
  }
  const target = await resolveMonitor(ctx, flags);
  const formation = formationOf(target, flags);
  const groupId = groupOf(flags);
  return data(await withMonitor(ctx, target, (client) =>
    lastEventsShown(client, groupId === undefined ? { formation, count } : { formation, groupId, count })));
}

/** The SSL parameters of the formation URIs: the local node's, else those of the monitor URI. */
function sslOf(target: MonitorTarget): { sslmode: string; sslrootcert: string; sslcrl: string } {
  if (target.config) {
    return { sslmode: target.config.ssl.sslmode, sslrootcert: target.config.ssl.ca_file, sslcrl: target.config.ssl.crl_file };
  }
  const param = (k: string): string => target.conninfo.params.find(([key]) => key === k)?.[1] ?? '';
  return { sslmode: param('sslmode') || 'prefer', sslrootcert: param('sslrootcert'), sslcrl: param('sslcrl') };
}

async function showUri(flags: ShowFlags, ctx: CommandContext): Promise<CommandResult<UriData>> {
  const target = await resolveMonitor(ctx, flags);
  const formation = flags.formation;
  if (formation === 'monitor') return data({ kind: 'monitor', monitor: target.uri });
  const ssl = sslOf(target);
  return data(await withMonitor(ctx, target, async (client): Promise<UriData> => {
    if (formation !== undefined) {
      const uri = await formationUri(client, { formation, ...ssl });
      if (uri === null) throw new AutoctlError('MONITOR', `Formation "${formation}" currently has no nodes in group 0`);
      return { kind: 'formation', monitor: target.uri, formation, uri };
    }
    const entries: UriEntry[] = [{ type: 'monitor', name: 'monitor', uri: target.uri }];
    for (const formationId of await listFormations(client)) {
      entries.push({ type: 'formation', name: formationId, uri: (await formationUri(client, { formation: formationId, ...ssl })) ?? '' });
    }
    // Not in 2.0: each keeper's HTTP listener (failsafe vouches).
    for (const endpoint of await getHttpEndpoints(client, null)) {
      entries.push({ type: 'http', name: endpoint.name, uri: `http://${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.httpPort}` });
    }
    return { kind: 'all', entries };
  }));
}

function targetOptions(cmd: Command): Command {
  return cmd
    .option('--pgdata <dir>', 'path to data directory')
    .option('--monitor <uri>', 'pg_auto_failover Monitor Postgres URL')
    .option('--formation <name>', 'formation to query, defaults to \'default\'');
}

export function registerShowCommands(program: Command): void {
  const show = group(program, 'show', 'Show pg_auto_failover information');
  defineCommand(show, {
    name: 'uri',
    description: 'Show the postgres uri to use to connect to pg_auto_failover nodes',
    json: true,
    options: targetOptions,
    run: showUri,
    render: uriRendering,
  });
  defineCommand(show, {
    name: 'events',
    description: 'Prints monitor\'s state of nodes in a given formation and group',
    json: true,
    options: (cmd) => targetOptions(cmd)
      .option('--group <id>', 'group to query')
      .option('--count <n>', 'how many events to fetch, defaults to 10')
      .option('--watch', 'display an auto-updating dashboard'),
    run: showEvents,
    render: eventsRendering,
  });
  defineCommand(show, {
    name: 'state',
    description: 'Prints monitor\'s state of nodes in a given formation and group',
    json: true,
    options: (cmd) => targetOptions(cmd).option('--group <id>', 'group to query')
      .option('--watch', 'display an auto-updating dashboard'),
    run: showState,
    render: stateRendering,
  });
}
