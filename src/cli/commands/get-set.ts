/**
 * `pg_autoctl get|set node|formation ...` (spec 04 §7): the replication
 * settings kept by the monitor (candidate priority, replication quorum,
 * number_sync_standbys) and the node metadata. The `set` commands on
 * replication settings wait until the group's primary has applied them.
 */
import type { Command } from 'commander';
import type pg from 'pg';
import { AutoctlError, badArgs, messageOf } from '../../common/errors.js';
import {
  configToJson, isKeeperConfig, isMonitorConfig, readKeeperConfigFile, readKeeperState, readNodeTokenIfExists, writeConfigFile, checkPidFile,
  type KeeperConfig,
} from '../../config/index.js';
import {
  CHANNELS, currentState, formationSettings, getFormation, getNode, parseStateNotification, presentNodeToken, setFormationNumberSyncStandbys,
  setNodeCandidatePriority, setNodeReplicationQuorum, synchronousStandbyNames, updateNodeMetadata,
  type FormationSettingRow, type NodeRow, type StateNotification,
} from '../../monitor-api/index.js';
import { data, defineCommand, type CommandResult } from '../command.js';
import { withFormationTarget, withPgdata } from '../options/common.js';
import type { CommandContext } from '../context.js';
import { connectMonitor, resolveMonitor, withMonitor, type MonitorTarget } from '../monitor-target.js';
import { parsePgBool, parsePort } from '../options/values.js';
import { settingsRendering, valueRendering, type ValueData } from '../render/settings.js';
import { group } from '../tree.js';
import { pathsOf, resolvePgdata } from '../target.js';

export interface TargetFlags { pgdata?: string; monitor?: string; formation?: string }
interface NodeFlags extends TargetFlags { name?: string }

/** --formation, else the keeper's formation, else `default` (spec 04 §1.4). */
export function formationOf(target: MonitorTarget, flags: TargetFlags): string {
  if (flags.formation !== undefined) return flags.formation;
  if (target.config && isKeeperConfig(target.config)) return target.config.pg_autoctl.formation;
  return 'default';
}

/** --name, else the keeper's node name (spec 04 §1.4). */
function nodeNameOf(target: MonitorTarget, flags: NodeFlags): string {
  if (flags.name !== undefined && flags.name !== '') return flags.name;
  if (target.config === null) throw badArgs('Please use either --name or --pgdata to target a specific node');
  if (isMonitorConfig(target.config)) throw badArgs('Please use --name to target a specific node');
  return target.config.pg_autoctl.name;
}

/** The node row of `--name` in the formation; a clear error when there is none. */
async function nodeOf(client: pg.Client, formation: string, name: string, what: string): Promise<NodeRow> {
  const node = await getNode(client, { formation, name });
  if (node === undefined) {
    throw new AutoctlError('MONITOR', `Unable to get ${what} value from monitor: node "${name}" is not registered in formation "${formation}"`);
  }
  return node;
}

/** Exactly one value argument (spec 04 §7). */
function oneValue(args: readonly string[]): string {
  // A variadic argument: commander passes its words as one array.
  const first: unknown = args[0];
  const values = Array.isArray(first) ? first.map(String) : [];
  if (values.length !== 1 || values[0] === undefined) {
    throw badArgs(`Failed to parse command line arguments: got ${values.length} when 1 is expected`);
  }
  return values[0];
}

export function parseCandidatePriorityValue(text: string): number {
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || n < 0 || n > 100) {
    throw badArgs(`candidate-priority value ${text} is not valid. Valid values are integers from 0 to 100.`);
  }
  return n;
}

export function parseReplicationQuorumValue(text: string): boolean {
  try {
    return parsePgBool(text, 'replication-quorum');
  } catch {
    throw badArgs(`replication-quorum value ${text} is not valid. Valid values are "true" or "false".`);
  }
}

export function parseNumberSyncStandbysValue(text: string): number {
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(n) || n > 2 ** 31 - 1) {
    throw badArgs(`number-sync-standbys value ${text} is not valid. Expected a non-negative integer value.`);
  }
  return n;
}

// ---------------------------------------------------------------------------
// Waiting for the primary to apply new settings

function describeState(n: StateNotification): string {
  return `node ${n.nodeId} "${n.name}" (${n.host}:${n.port}) is ${n.reportedState}, assigned ${n.goalState}`;
}

const WAIT_SECONDS = 60;

/**
 * Runs `change` with the `state` channel listened to beforehand when the
 * group has several nodes, then waits (≤ 60 s) until the primary went
 * through apply_settings and is back to primary (or wait_primary), as 2.0
 * does. A single node has nothing to apply: no wait.
 */
async function changeAndWait(ctx: CommandContext, client: pg.Client, where: { formation: string; groupId: number },
  change: () => Promise<void>): Promise<void> {
  let members = 0;
  try {
    members = (await currentState(client, where.formation, where.groupId)).length;
  } catch (error) {
    ctx.log.warn(`Failed to get the nodes of group ${where.groupId} in formation "${where.formation}" from the monitor, not waiting: ${messageOf(error)}`);
  }
  if (members <= 1) {
    await change();
    return;
  }
  let inProgress = false;
  let finished: (() => void) | undefined;
  const applied = new Promise<void>((resolve) => { finished = resolve; });
  const onNotification = (message: pg.Notification): void => {
    if (message.channel !== CHANNELS.state || message.payload === undefined) return;
    let n: StateNotification;
    try {
      n = parseStateNotification(message.payload);
    } catch {
      return;
    }
    if (n.formation !== where.formation || n.groupId !== where.groupId) return;
    ctx.log.info(`New state: ${describeState(n)}`);
    const is = (reported: string, goal: string): boolean => n.reportedState === reported && n.goalState === goal;
    if (is('primary', 'apply_settings') || is('apply_settings', 'apply_settings') || is('apply_settings', 'primary')) inProgress = true;
    // Some changes never go through apply_settings (2.0 stops on any stable primary too).
    if (is('primary', 'primary') || is('wait_primary', 'wait_primary')) {
      if (!inProgress) ctx.log.debug('The primary is stable without going through apply_settings');
      finished?.();
    }
  };
  client.on('notification', onNotification);
  try {
    await client.query(`LISTEN ${CHANNELS.state}`);
    await change();
    ctx.log.info('Waiting for the settings to have been applied to the monitor and primary node');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), WAIT_SECONDS * 1000); });
    const outcome = await Promise.race([applied.then(() => 'applied' as const), timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      throw new AutoctlError('MONITOR', `Failed to wait until the new setting has been applied (no stable primary notified within ${WAIT_SECONDS} s)`);
    }
  } finally {
    client.off('notification', onNotification);
    await client.query(`UNLISTEN ${CHANNELS.state}`).catch(() => undefined);
  }
}

/** The monitor's own message of a failed call, followed by its DETAIL when there is one. */
export function monitorMessage(error: unknown): string {
  const cause = error instanceof AutoctlError && error.cause !== undefined ? error.cause : error;
  const detail = typeof cause === 'object' && cause !== null && 'detail' in cause && typeof cause.detail === 'string' ? ` ${cause.detail}` : '';
  const message = typeof cause === 'object' && cause !== null && 'message' in cause && typeof cause.message === 'string' ? cause.message : messageOf(error);
  return `${message}${detail}`;
}

/** A monitor refusal of a `set` as one line: the setting, the monitor's message and its detail. */
function setFailed(what: string, value: string, error: unknown): AutoctlError {
  const hint = error instanceof AutoctlError ? error.hint : undefined;
  return new AutoctlError('MONITOR', `Failed to set "${what}" to "${value}": ${monitorMessage(error)}`,
    hint === undefined ? { cause: error } : { cause: error, hint });
}

// ---------------------------------------------------------------------------
// get

/** `get node candidate-priority|replication-quorum`: one setting of the target node. */
function nodeSettingGetter(what: string, jsonKey: string, valueOf: (node: NodeRow) => number | boolean) {
  return async (flags: NodeFlags, ctx: CommandContext): Promise<CommandResult<ValueData>> => {
    const target = await resolveMonitor(ctx, flags);
    const formation = formationOf(target, flags);
    const name = nodeNameOf(target, flags);
    const node = await withMonitor(ctx, target, (client) => nodeOf(client, formation, name, what));
    const value = valueOf(node);
    return data({ text: String(value), json: { name: node.name, [jsonKey]: value } });
  };
}

const getCandidatePriority = nodeSettingGetter('candidate priority', 'candidate-priority', (node) => node.candidatePriority);
const getReplicationQuorum = nodeSettingGetter('replication quorum', 'replication-quorum', (node) => node.replicationQuorum);

/** The rows of formation_settings(); none means that the formation does not exist (spec 04 §5.4). */
export async function formationSettingsOf(ctx: CommandContext, flags: TargetFlags): Promise<FormationSettingRow[]> {
  const target = await resolveMonitor(ctx, flags);
  const formation = formationOf(target, flags);
  const rows = await withMonitor(ctx, target, (client) => formationSettings(client, formation));
  if (rows.length === 0) {
    throw new AutoctlError('MONITOR', `Failed to get the formation settings from the monitor: formation "${formation}" does not exist`);
  }
  return rows;
}

async function getFormationSettings(flags: TargetFlags, ctx: CommandContext): Promise<CommandResult<readonly FormationSettingRow[]>> {
  return data(await formationSettingsOf(ctx, flags));
}

async function getNumberSyncStandbys(flags: TargetFlags, ctx: CommandContext): Promise<CommandResult<ValueData>> {
  const target = await resolveMonitor(ctx, flags);
  const formation = formationOf(target, flags);
  const row = await withMonitor(ctx, target, (client) => getFormation(client, formation));
  if (row === undefined) {
    throw new AutoctlError('MONITOR', `Failed to get number-sync-standbys for formation "${formation}": the formation does not exist`);
  }
  return data({ text: String(row.numberSyncStandbys), json: { 'number-sync-standbys': row.numberSyncStandbys } });
}

// ---------------------------------------------------------------------------
// set

/**
 * `set node candidate-priority|replication-quorum`: checks the node, then
 * applies the value through `apply` and waits for the group to go through
 * apply_settings (changeAndWait).
 */
async function setNodeProperty<V extends number | boolean>(
  flags: NodeFlags, ctx: CommandContext, key: 'candidate-priority' | 'replication-quorum', value: V,
  apply: (client: pg.Client, formation: string, name: string, value: V) => Promise<unknown>,
): Promise<CommandResult<ValueData>> {
  const target = await resolveMonitor(ctx, flags);
  const formation = formationOf(target, flags);
  const name = nodeNameOf(target, flags);
  const client = await connectMonitor(ctx, target);
  try {
    const node = await getNode(client, { formation, name });
    if (node === undefined) {
      throw new AutoctlError('MONITOR', `Failed to set "${key}" to "${value}": node "${name}" is not registered in formation "${formation}"`);
    }
    await changeAndWait(ctx, client, { formation, groupId: node.groupId }, async () => {
      try {
        await apply(client, formation, name, value);
      } catch (error) {
        throw setFailed(key, String(value), error);
      }
    });
  } finally {
    await client.end().catch(() => undefined);
  }
  return data({ text: String(value), json: { [key]: value } });
}

function setCandidatePriority(flags: NodeFlags, ctx: CommandContext, args: readonly string[]): Promise<CommandResult<ValueData>> {
  return setNodeProperty(flags, ctx, 'candidate-priority', parseCandidatePriorityValue(oneValue(args)), setNodeCandidatePriority);
}

function setReplicationQuorum(flags: NodeFlags, ctx: CommandContext, args: readonly string[]): Promise<CommandResult<ValueData>> {
  return setNodeProperty(flags, ctx, 'replication-quorum', parseReplicationQuorumValue(oneValue(args)), setNodeReplicationQuorum);
}

async function setNumberSyncStandbys(flags: TargetFlags, ctx: CommandContext, args: readonly string[]): Promise<CommandResult<ValueData>> {
  const text = oneValue(args);
  const count = parseNumberSyncStandbysValue(text);
  const target = await resolveMonitor(ctx, flags);
  const formation = formationOf(target, flags);
  const groupId = target.config && isKeeperConfig(target.config) && target.config.pg_autoctl.group >= 0 ? target.config.pg_autoctl.group : 0;
  const client = await connectMonitor(ctx, target);
  let names = '';
  try {
    if (await getFormation(client, formation) === undefined) {
      throw new AutoctlError('MONITOR', `Failed to set "number-sync-standbys" to "${count}": formation "${formation}" does not exist`);
    }
    await changeAndWait(ctx, client, { formation, groupId }, async () => {
      try {
        await setFormationNumberSyncStandbys(client, formation, count);
      } catch (error) {
        throw setFailed('number-sync-standbys', String(count), error);
      }
    });
    try {
      names = await synchronousStandbyNames(client, formation, groupId);
      ctx.log.info(`primary node has now set synchronous_standby_names = '${names}'`);
    } catch (error) {
      ctx.log.warn(`Failed to get synchronous_standby_names from the monitor: ${messageOf(error)}`);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
  return data({
    text: String(count),
    json: names === '' ? { 'number-sync-standbys': count } : { 'number-sync-standbys': count, synchronous_standby_names: names },
  });
}

interface MetadataFlags { pgdata?: string; name?: string; hostname?: string; pgport?: string }

export interface MetadataChanges { name?: string; hostname?: string; port?: number }

/**
 * Applies new metadata (name, hostname, port) of the keeper of `pgdata`:
 * on the monitor first (with the node's credential: update_node_metadata
 * acts for one node), then in the configuration file. With
 * `onlyWhenChanged`, values equal to the configuration's change nothing.
 * Used by `set node metadata` and by `run --name|--hostname|--pgport`.
 */
export async function applyNodeMetadata(ctx: CommandContext, pgdata: string, changes: MetadataChanges, onlyWhenChanged = false): Promise<{ before: KeeperConfig; after: KeeperConfig; changed: boolean }> {
  const paths = pathsOf(ctx, pgdata);
  const before = await readKeeperConfigFile(paths.config);
  if (before.pg_autoctl.monitor === '' || before.pg_autoctl.monitor === 'PG_AUTOCTL_DISABLED') {
    throw new AutoctlError('BAD_CONFIG', 'This node has disabled monitor');
  }
  const after: KeeperConfig = {
    ...before,
    pg_autoctl: {
      ...before.pg_autoctl,
      ...(changes.name ? { name: changes.name } : {}),
      ...(changes.hostname ? { hostname: changes.hostname } : {}),
    },
    postgresql: { ...before.postgresql, ...(changes.port === undefined ? {} : { port: changes.port }) },
  };
  const changed = after.pg_autoctl.name !== before.pg_autoctl.name || after.pg_autoctl.hostname !== before.pg_autoctl.hostname
    || after.postgresql.port !== before.postgresql.port;
  if (!changed && onlyWhenChanged) return { before, after, changed };
  const state = await readKeeperState(paths.state);
  const target = await resolveMonitor(ctx, { pgdata });
  const token = await readNodeTokenIfExists(paths.token);
  await withMonitor(ctx, target, async (client) => {
    try {
      if (token !== undefined) await presentNodeToken(client, token);
      await updateNodeMetadata(client, state.currentNodeId, {
        ...(changes.name ? { name: changes.name } : {}),
        ...(changes.hostname ? { host: changes.hostname } : {}),
        ...(changes.port === undefined ? {} : { port: changes.port }),
      });
    } catch (error) {
      throw setFailed('metadata', [changes.name, changes.hostname, changes.port].filter((v) => v !== undefined).join(', '), error);
    }
  });
  const logChange = (what: string, now: string | number, was: string | number): void => {
    if (now !== was) ctx.log.info(`${what} is now "${now}", used to be "${was}"`);
  };
  logChange('Node name', after.pg_autoctl.name, before.pg_autoctl.name);
  logChange('Node hostname', after.pg_autoctl.hostname, before.pg_autoctl.hostname);
  logChange('Node port', after.postgresql.port, before.postgresql.port);
  await writeConfigFile(paths.config, after);
  return { before, after, changed };
}

/** `set node metadata`: the keeper's name, hostname or port, on the monitor and in the config (spec 04 §7). */
async function setNodeMetadata(flags: MetadataFlags, ctx: CommandContext): Promise<CommandResult<Record<string, unknown> | undefined>> {
  if ((flags.name ?? '') === '' && (flags.hostname ?? '') === '' && flags.pgport === undefined) {
    throw badArgs('Please use at least one of --name, --hostname, or --pgport');
  }
  const port = flags.pgport === undefined ? undefined : parsePort(flags.pgport);
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  const paths = pathsOf(ctx, pgdata);
  const { after } = await applyNodeMetadata(ctx, pgdata, {
    ...(flags.name ? { name: flags.name } : {}),
    ...(flags.hostname ? { hostname: flags.hostname } : {}),
    ...(port === undefined ? {} : { port }),
  });
  const service = await checkPidFile(paths.pid);
  if (service.status === 'running') {
    try {
      process.kill(service.pidFile.pid, 'SIGHUP');
    } catch (error) {
      throw new AutoctlError('INTERNAL', `Failed to reload the pg_autoctl service, consider restarting it to implement the metadata changes: ${messageOf(error)}`);
    }
  }
  return data(ctx.json ? configToJson(after) : undefined);
}

// ---------------------------------------------------------------------------
// registration

function targetOptions(cmd: Command): Command {
  return withFormationTarget(cmd, 'pg_auto_failover formation');
}

const nodeOptions = (cmd: Command): Command => targetOptions(cmd).option('--name <name>', 'pg_auto_failover node name');

export function registerGetSetCommands(program: Command): void {
  const get = group(program, 'get', 'Get a pg_auto_failover node, or formation setting');
  const getNodeGroup = group(get, 'node', 'get a node property from the pg_auto_failover monitor');
  defineCommand(getNodeGroup, {
    name: 'replication-quorum',
    description: 'get replication-quorum property from the monitor',
    json: true,
    options: nodeOptions,
    run: getReplicationQuorum,
    render: valueRendering,
  });
  defineCommand(getNodeGroup, {
    name: 'candidate-priority',
    description: 'get candidate property from the monitor',
    json: true,
    options: nodeOptions,
    run: getCandidatePriority,
    render: valueRendering,
  });
  const getFormationGroup = group(get, 'formation', 'get a formation property from the pg_auto_failover monitor');
  defineCommand(getFormationGroup, {
    name: 'settings',
    description: 'get replication settings for a formation from the monitor',
    json: true,
    options: targetOptions,
    run: getFormationSettings,
    render: settingsRendering,
  });
  defineCommand(getFormationGroup, {
    name: 'number-sync-standbys',
    description: 'get number_sync_standbys for a formation from the monitor',
    json: true,
    options: targetOptions,
    run: getNumberSyncStandbys,
    render: valueRendering,
  });

  const set = group(program, 'set', 'Set a pg_auto_failover node, or formation setting');
  const setNodeGroup = group(set, 'node', 'set a node property on the monitor');
  defineCommand(setNodeGroup, {
    name: 'metadata',
    description: 'set metadata on the monitor',
    json: true,
    options: (cmd) => withPgdata(cmd)
      .option('--name <name>', 'pg_auto_failover node name')
      .option('--hostname <host>', 'hostname used to connect from other nodes')
      .option('--pgport <port>', 'PostgreSQL\'s port number'),
    run: setNodeMetadata,
    render: { text: () => '', json: (config: Record<string, unknown>) => config },
  });
  defineCommand(setNodeGroup, {
    name: 'replication-quorum',
    description: 'set replication-quorum property on the monitor',
    json: true,
    options: (cmd) => nodeOptions(cmd).argument('[value...]', '<true|false>'),
    run: setReplicationQuorum,
    render: valueRendering,
  });
  defineCommand(setNodeGroup, {
    name: 'candidate-priority',
    description: 'set candidate property on the monitor',
    json: true,
    options: (cmd) => nodeOptions(cmd).argument('[value...]', '<priority: 0..100>'),
    run: setCandidatePriority,
    render: valueRendering,
  });
  const setFormationGroup = group(set, 'formation', 'set a formation property on the monitor');
  defineCommand(setFormationGroup, {
    name: 'number-sync-standbys',
    description: 'set number-sync-standbys for a formation on the monitor',
    json: true,
    options: (cmd) => targetOptions(cmd).argument('[value...]', '<number_sync_standbys>'),
    run: setNumberSyncStandbys,
    render: valueRendering,
  });
}
