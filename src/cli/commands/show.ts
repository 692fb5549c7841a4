/**
 * `pg_autoctl show uri|state|events` (spec 04 §5): data from the monitor's
 * reporting functions (src/monitor-api/reporting.ts), rendered by
 * ../render/show.ts as the original's tables or JSON.
 */
import { readFileSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import type { Command } from 'commander';
import { AutoctlError, badArgs, messageOf } from '../../common/errors.js';
import {
  configToJson, isKeeperConfig, isMonitorDisabled, parseConfig, readInitFile, readKeeperState, readPidFile, readTextFile,
  PGDATA_INIT_STATE_TEXT, type AnyConfig, type AutoctlPaths, type KeeperConfig,
} from '../../config/index.js';
import { connectLocal, localFacts, readControlData } from '../../postgres/index.js';
import type { CurrentStateRow, ReplicationState } from '../../monitor-api/index.js';
import { binariesOf } from '../do/pgsetup.js';
import {
  countGroups, currentState, formationUri, getHttpEndpoints, lastEventsShown, listFormations, monitorMembers, synchronousStandbyNames,
  type FormationSettingRow, type MonitorClient, type ShownEventRow,
} from '../../monitor-api/index.js';
import { data, defineCommand, type CommandResult } from '../command.js';
import { withFormationTarget, withMonitorTarget, withPgdata } from '../options/common.js';
import type { CommandContext } from '../context.js';
import { resolveMonitor, withMonitor, type MonitorTarget } from '../monitor-target.js';
import {
  eventsRendering, stateRendering, uriRendering, type StateData, type UriData, type UriEntry,
} from '../render/show.js';
import { monitorsRendering, multiHostMonitorUri, type MonitorsData } from '../render/monitors.js';
import { group } from '../tree.js';
import { watchDashboard } from './watch.js';
import { loadConfig, resolvePgdata } from '../target.js';
import { formationSettingsOf, monitorMessage } from './get-set.js';
import {
  fileContents, fileListRendering, fileShownRendering, keeperStateJson, pidFileJson, renderKeeperStateText, systemdRendering,
  type FileList, type FileShown, type SystemdUnit,
} from '../render/files.js';
import { isTextOnly } from '../render/config.js';
import { settingsRendering, standbyNamesRendering, type StandbyNamesData } from '../render/settings.js';

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

/** TLI and LSN of the local Postgres: asked to the server when it runs, else from pg_controldata. */
async function localPosition(ctx: CommandContext, config: KeeperConfig): Promise<{ tli: number; lsn: bigint }> {
  const pgdata = config.postgresql.pgdata;
  try {
    const client = await connectLocal(pgdata, config.postgresql.dbname, {
      user: config.postgresql.username || undefined, connectTimeoutMs: 2000, env: ctx.env,
    });
    try {
      const facts = await localFacts(client, pgdata);
      return { tli: facts.timeline, lsn: facts.lsn };
    } finally {
      await client.end().catch(() => undefined);
    }
  } catch (error) {
    ctx.log.debug(`Postgres is not answering (${messageOf(error)}): reading pg_controldata`);
  }
  const bin = await binariesOf(ctx, config);
  if (bin === undefined) return { tli: 0, lsn: 0n };
  const control = await readControlData(bin, pgdata, ctx.env);
  return { tli: control.timeline, lsn: control.latestCheckpointLsn };
}

/** `show state --local`: the node's own view, from its config and state file, without the monitor (spec 04 §5.1). */
async function showLocalState(flags: ShowFlags, ctx: CommandContext, loaded: { paths: AutoctlPaths; config: AnyConfig }): Promise<CommandResult<StateData>> {
  const { paths, config } = loaded;
  if (!isKeeperConfig(config)) throw new AutoctlError('MONITOR', 'pg_autoctl show state --local is not supported on a monitor');
  const state = await readKeeperState(paths.state);
  const groupId = groupOf(flags);
  if (groupId !== undefined && groupId !== state.currentGroup) {
    throw new AutoctlError('BAD_CONFIG', `--group ${groupId} does not match this node's group: ${state.currentGroup}`);
  }
  const { tli, lsn } = await localPosition(ctx, config);
  const row: CurrentStateRow = {
    formationKind: 'pgsql',
    name: config.pg_autoctl.name,
    host: config.pg_autoctl.hostname,
    port: config.postgresql.port,
    groupId: state.currentGroup,
    nodeId: state.currentNodeId,
    reportedState: state.currentRole as ReplicationState,
    goalState: state.assignedRole as ReplicationState,
    candidatePriority: 0,
    replicationQuorum: true,
    reportedTli: tli,
    reportedLsn: lsn,
    health: -1,
    nodeCluster: 'default',
  };
  return data({ rows: [row], httpPorts: new Map(), local: true });
}

async function showState(flags: ShowFlags & WatchOption, ctx: CommandContext): Promise<CommandResult<StateData | undefined>> {
  if (flags.watch) return watchInstead(flags, ctx);
  if (flags.local) {
    if (flags.monitor !== undefined) throw badArgs('Please use either --local or --monitor, but not both');
    return showLocalState(flags, ctx, await loadConfig(ctx, resolvePgdata(ctx, flags.pgdata)));
  }
  if (flags.monitor === undefined) {
    const pgdata = flags.pgdata ?? ctx.env.PGDATA;
    const loaded = pgdata === undefined || pgdata === '' ? undefined : await loadConfig(ctx, pgdata).catch(() => undefined);
    if (loaded && isKeeperConfig(loaded.config) && isMonitorDisabled(loaded.config)) {
      ctx.log.info('Monitor is disabled, showing --local state');
      return showLocalState(flags, ctx, loaded);
    }
  }
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

/**
 * The monitor URI naming every monitor member (several monitors: multi-host
 * with target_session_attrs=read-write); the configured URI with one member,
 * or when the members cannot be read (older monitor schema).
 */
async function monitorUriOfMembers(ctx: CommandContext, target: MonitorTarget, client: MonitorClient): Promise<string> {
  try {
    return multiHostMonitorUri(await monitorMembers(client), target.uri);
  } catch (error) {
    ctx.log.debug(`Failed to read the monitor members: ${messageOf(error)}`);
    return target.uri;
  }
}

async function showUri(flags: ShowFlags, ctx: CommandContext): Promise<CommandResult<UriData>> {
  const target = await resolveMonitor(ctx, flags);
  const formation = flags.formation;
  if (formation === 'monitor') {
    let monitor = target.uri;
    try {
      monitor = await withMonitor(ctx, target, (client) => monitorUriOfMembers(ctx, target, client));
    } catch (error) {
      ctx.log.debug(`Failed to reach the monitor for its members, showing the configured URI: ${messageOf(error)}`);
    }
    return data({ kind: 'monitor', monitor });
  }
  const ssl = sslOf(target);
  return data(await withMonitor(ctx, target, async (client): Promise<UriData> => {
    if (formation !== undefined) {
      const uri = await formationUri(client, { formation, ...ssl });
      if (uri === null) throw new AutoctlError('MONITOR', `Formation "${formation}" currently has no nodes in group 0`);
      return { kind: 'formation', monitor: target.uri, formation, uri };
    }
    const entries: UriEntry[] = [{ type: 'monitor', name: 'monitor', uri: await monitorUriOfMembers(ctx, target, client) }];
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

/** `show monitors` (not in 2.0): the monitor members, as the monitor that answers sees them. */
async function showMonitors(flags: ShowFlags, ctx: CommandContext): Promise<CommandResult<MonitorsData>> {
  const target = await resolveMonitor(ctx, flags);
  return data(await withMonitor(ctx, target, async (client): Promise<MonitorsData> => {
    const members = await monitorMembers(client);
    const now = Date.now();
    const replyAgeMs = new Map<number, number>();
    for (const m of members) if (m.replyTime !== null) replyAgeMs.set(m.memberId, now - m.replyTime.getTime());
    return { members, replyAgeMs };
  }));
}

// ---------------------------------------------------------------------------
// show settings, standby-names, file, systemd

async function showSettings(flags: ShowFlags, ctx: CommandContext): Promise<CommandResult<readonly FormationSettingRow[]>> {
  return data(await formationSettingsOf(ctx, flags));
}

/** `show standby-names`: the value the monitor computed for the group's primary (spec 04 §5.5). */
async function showStandbyNames(flags: ShowFlags, ctx: CommandContext): Promise<CommandResult<StandbyNamesData>> {
  const target = await resolveMonitor(ctx, flags);
  const formation = formationOf(target, flags);
  let groupId = groupOf(flags);
  return data(await withMonitor(ctx, target, async (client) => {
    if (groupId === undefined && target.config && isKeeperConfig(target.config) && target.config.pg_autoctl.group >= 0) {
      groupId = target.config.pg_autoctl.group;
      ctx.log.info(`Targetting group ${groupId} in formation "${formation}"`);
    }
    if (groupId === undefined) {
      const groups = await countGroups(client, formation);
      if (groups === 0) throw new AutoctlError('BAD_STATE', `The monitor currently has no Postgres nodes registered in formation "${formation}"`);
      if (groups > 1) throw badArgs(`Please use the --group option to target a specific group in formation "${formation}"`);
      groupId = 0;
    }
    let value: string;
    try {
      value = await synchronousStandbyNames(client, formation, groupId);
    } catch (error) {
      throw new AutoctlError('MONITOR', `Failed to get the synchronous_standby_names setting value from the monitor: ${monitorMessage(error)}`,
        { cause: error });
    }
    return { formation, group: groupId, value };
  }));
}

interface ShowFileFlags { pgdata?: string; all?: boolean; config?: boolean; state?: boolean; init?: boolean; pid?: boolean; contents?: boolean }

/** `show file` (spec 04 §5.6): the paths of pg_autoctl's files, or one file's contents. */
async function showFile(flags: ShowFileFlags, ctx: CommandContext): Promise<CommandResult<FileList | FileShown>> {
  const selected = (['config', 'state', 'init', 'pid'] as const).filter((k) => flags[k] === true);
  if (selected.length > 1) throw badArgs('Please use only one of --config --state --init --pid');
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  const { paths, config } = await loadConfig(ctx, pgdata);
  const keeper = isKeeperConfig(config);
  const which = selected[0];
  if (which === undefined) {
    if (flags.contents) ctx.log.warn('Ignoring --contents with --all: it shows the contents of one file only');
    return data(keeper ? { config: paths.config, state: paths.state, init: paths.init, pid: paths.pid } : { config: paths.config, pid: paths.pid });
  }
  if (!keeper && which === 'state') throw badArgs('A monitor has no state file');
  if (!keeper && which === 'init') throw badArgs('A monitor has no init state file');
  const path = paths[which];
  if (!flags.contents) return data({ text: `${path}\n`, textOnly: true });
  switch (which) {
    case 'config': {
      const text = await readTextFile(path, 'configuration file', 'BAD_CONFIG');
      if (text === undefined) throw new AutoctlError('BAD_CONFIG', `Failed to read configuration file "${path}": it does not exist`);
      const parsed = parseConfig(text);
      return data({ text: fileContents(text), ...(parsed.ok ? { json: configToJson(parsed.value) } : {}) });
    }
    case 'state': {
      const state = await readKeeperState(path);
      return data({ text: renderKeeperStateText(state), json: keeperStateJson(state) });
    }
    case 'init': {
      const init = await readInitFile(path);
      const text = `Postgres state at keeper init: ${PGDATA_INIT_STATE_TEXT[init.pgdataState]}`;
      return data({ text: `${text}\n`, textOnly: true });
    }
    case 'pid': {
      const text = await readTextFile(path, 'the pid file', 'BAD_STATE');
      if (text === undefined) throw new AutoctlError('BAD_STATE', `Failed to read the pid file "${path}": it does not exist (is pg_autoctl running?)`);
      const pidFile = await readPidFile(path);
      return data({ text: fileContents(text), ...(pidFile === undefined ? {} : { json: pidFileJson(pidFile) }) });
    }
  }
}

/** The account name and home directory of a uid, from /etc/passwd (the current user's when not found there). */
function accountOf(uid: number): { user: string; home: string } {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const fields = line.split(':');
      if (fields.length >= 7 && Number(fields[2]) === uid) return { user: fields[0] ?? '', home: fields[5] ?? '' };
    }
  } catch {
    // no /etc/passwd: fall through
  }
  const me = userInfo();
  return { user: me.username, home: me.homedir };
}

/** The unit name suggested by `show systemd` (spec 05 §14). */
const SYSTEMD_UNIT = 'pgautofailover';

/** `show systemd` (spec 04 §5.7, spec 05 §14): a unit running `pg_autoctl run` as the owner of PGDATA. */
async function showSystemd(flags: { pgdata?: string }, ctx: CommandContext): Promise<CommandResult<SystemdUnit>> {
  const given = resolvePgdata(ctx, flags.pgdata);
  const pgdata = isAbsolute(given) ? given : resolve(ctx.cwd, given);
  let uid: number;
  try {
    uid = statSync(pgdata).uid;
  } catch (error) {
    throw new AutoctlError('INTERNAL', `Failed to grab file stat(1) for "${pgdata}": ${messageOf(error)}`);
  }
  const { user, home } = accountOf(uid);
  const script = process.argv[1] ?? 'pg_autoctl';
  const program = isAbsolute(script) ? script : resolve(ctx.cwd, script);
  ctx.log.info('HINT: to complete a systemd integration, run the following commands (as root):');
  ctx.log.info(`pg_autoctl -q show systemd --pgdata "${pgdata}" | tee /etc/systemd/system/${SYSTEMD_UNIT}.service`);
  ctx.log.info('systemctl daemon-reload');
  ctx.log.info(`systemctl enable ${SYSTEMD_UNIT}`);
  ctx.log.info(`systemctl start ${SYSTEMD_UNIT}`);
  return data({ pgdata, user, home, program });
}

function targetOptions(cmd: Command): Command {
  return withFormationTarget(cmd, 'formation to query, defaults to \'default\'');
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
    name: 'monitors',
    description: 'Show the monitor members: primary and standby monitors, sync state and lag',
    json: true,
    options: withMonitorTarget,
    run: showMonitors,
    render: monitorsRendering,
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
      .option('--local', 'show local data, do not connect to the monitor')
      .option('--watch', 'display an auto-updating dashboard'),
    run: showState,
    render: stateRendering,
  });
  defineCommand(show, {
    name: 'settings',
    description: 'Print replication settings for a formation from the monitor',
    json: true,
    options: targetOptions,
    run: showSettings,
    render: settingsRendering,
  });
  defineCommand(show, {
    name: 'standby-names',
    description: 'Prints synchronous_standby_names for a given group',
    json: true,
    options: (cmd) => targetOptions(cmd).option('--group <id>', 'group to query'),
    run: showStandbyNames,
    render: standbyNamesRendering,
  });
  defineCommand(show, {
    textOnly: isTextOnly,
    name: 'file',
    description: 'List pg_autoctl internal files (config, state, pid)',
    json: true,
    options: (cmd) => withPgdata(cmd)
      .option('--all', 'show all pg_autoctl files')
      .option('--config', 'show pg_autoctl configuration file')
      .option('--state', 'show pg_autoctl state file')
      .option('--init', 'show pg_autoctl initialisation state file')
      .option('--pid', 'show pg_autoctl PID file')
      .option('--contents', 'show selected file contents'),
    run: showFile,
    render: {
      text: (d: FileList | FileShown) => ('text' in d ? fileShownRendering.text(d) : fileListRendering.text(d)),
      json: (d: FileList | FileShown) => ('text' in d ? fileShownRendering.json?.(d) : fileListRendering.json?.(d)),
    },
  });
  defineCommand(show, {
    name: 'systemd',
    description: 'Print systemd service file for this node',
    options: withPgdata,
    run: showSystemd,
    render: systemdRendering,
  });
}
