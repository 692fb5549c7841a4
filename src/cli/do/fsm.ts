/**
 * `pg_autoctl do fsm ...` (spec 04 §13): the keeper's state file as JSON
 * (`state`, `init`), the keeper transitions (`list`, `gv`), and `assign`,
 * which writes a goal into the state file and waits for the keeper to reach
 * it (how goals arrive on a node running without a monitor).
 */
import { existsSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { AutoctlError, badArgs, badConfig, messageOf } from '../../common/errors.js';
import { MONITOR_SCHEMA_VERSION, VERSION } from '../../common/version.js';
import {
  checkPidFile, ensurePaths, initialKeeperState, isKeeperConfig, isMonitorDisabled, otherNodesOf, parseNodesArray, pidFileNamesPid,
  readFileIfExists, readKeeperState, readKeeperStateIfExists, readNodesFileTextIfExists, readPidFile, removePidFile, writeKeeperState, writeNodesFile, writePidFile,
  type AnyConfig, type AutoctlPaths, type KeeperConfig, type KeeperState, type NodesFileEntry,
} from '../../config/index.js';
import { KEEPER_TRANSITIONS, NODE_STATES, isNodeState, type KeeperTransition } from '../../fsm/index.js';
import { restartTracker } from '../../keeper/ensure-state.js';
import { runKeeperStep } from '../../keeper/loop.js';
import { currentState } from '../../keeper/runtime.js';
import { buildRuntime } from '../../keeper/service.js';
import { findPgBinaries } from '../../postgres/index.js';
import { localPostgresPort } from '../../supervisor/local-postgres.js';
import { createPostgresController } from '../../supervisor/postgres-controller.js';
import { data, type CommandResult } from '../command.js';
import type { CommandContext } from '../context.js';
import { loadConfig, pathsOf, resolvePgdata } from '../target.js';
import { pgSetupOf, type PgdataFlags, type PgSetup } from './pgsetup.js';

/** What `do fsm state|init|assign` print: the pg setup and the keeper state. */
export interface KeeperStateView {
  postgres: PgSetup;
  state: KeeperState;
}

async function keeperTarget(ctx: CommandContext, flags: PgdataFlags): Promise<{ paths: AutoctlPaths; config: KeeperConfig }> {
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  const { paths, config } = await loadConfig(ctx, pgdata);
  if (!isKeeperConfig(config)) throw notAKeeper(paths, config);
  return { paths, config };
}

function notAKeeper(paths: AutoctlPaths, config: AnyConfig): AutoctlError {
  return badConfig(`"${paths.config}" is the configuration of a ${config.pg_autoctl.role}: do fsm commands need a keeper (a Postgres node)`);
}

/**
 * How long `do fsm state` waits for the files of a node being created. The
 * original's test suite runs it right after starting `create postgres
 * --run`; the original writes its configuration and state files within
 * milliseconds, pg_autoctl here needs a moment to start.
 */
export const FSM_STATE_FILES_WAIT_MS = 5000;

async function waitForFile(ctx: CommandContext, path: string, deadline: number): Promise<void> {
  while (!existsSync(path) && performance.now() < deadline) {
    ctx.log.debug(`Waiting for "${path}" to exist`);
    await delay(100);
  }
}

/** `do fsm state`: the keeper state file, with the pg setup, as JSON. */
export async function fsmState(flags: PgdataFlags, ctx: CommandContext): Promise<CommandResult<KeeperStateView>> {
  const deadline = performance.now() + FSM_STATE_FILES_WAIT_MS;
  await waitForFile(ctx, pathsOf(ctx, resolvePgdata(ctx, flags.pgdata)).config, deadline);
  const { paths, config } = await keeperTarget(ctx, flags);
  await waitForFile(ctx, paths.state, deadline);
  const state = await readKeeperState(paths.state);
  return data({ postgres: await pgSetupOf(ctx, paths.pgdata, config), state });
}

/**
 * `do fsm init`: writes a fresh state file (current `init`, assigned
 * `unknown`, not registered) with the identity of the local Postgres.
 */
export async function fsmInit(flags: PgdataFlags, ctx: CommandContext): Promise<CommandResult<KeeperStateView>> {
  const { paths, config } = await keeperTarget(ctx, flags);
  ctx.log.info(`Initializing an FSM state in "${paths.state}"`);
  const postgres = await pgSetupOf(ctx, paths.pgdata, config);
  const state = initialKeeperState({
    pgVersion: Number.parseInt(postgres.version, 10) || 0,
    pgControlVersion: postgres.control.version,
    catalogVersionNo: postgres.control.catalogVersion,
    systemIdentifier: postgres.control.systemIdentifier,
  });
  await writeKeeperState(paths.state, state);
  return data({ postgres, state });
}

/** `do fsm list`: the transitions from the keeper's current state. */
export async function fsmList(flags: PgdataFlags, ctx: CommandContext): Promise<CommandResult<readonly KeeperTransition[]>> {
  const { paths } = await keeperTarget(ctx, flags);
  const state = await readKeeperState(paths.state);
  if (ctx.json) ctx.log.warn('This command does not support JSON output at the moment');
  return data(KEEPER_TRANSITIONS.filter((t) => t.from === state.currentRole));
}

/** `do fsm gv`: every keeper transition, for graphviz. */
export function fsmGv(): Promise<CommandResult<readonly KeeperTransition[]>> {
  return Promise.resolve(data(KEEPER_TRANSITIONS));
}

export const FSM_ASSIGN_TIMEOUT_SECONDS = 30;

/**
 * `do fsm assign <goal>`: sets the assigned state in the state file, then
 * reads the file every 100 ms until the keeper reports the goal reached
 * (exit 3, BAD_STATE, printing nothing, after 30 s). On a node with a monitor, the next
 * node_active answer overrides the goal: this is a debug tool for nodes
 * running with --disable-monitor.
 */
export async function fsmAssign(flags: PgdataFlags, ctx: CommandContext, args: readonly string[]): Promise<CommandResult<KeeperStateView | undefined>> {
  const { paths, config } = await keeperTarget(ctx, flags);
  const goal = args[0];
  if (goal === undefined || args.length !== 1) throw badArgs('USAGE: do fsm assign <goal state>');
  if (!isNodeState(goal) || goal === 'unknown') {
    throw badArgs(`Unknown node state "${goal}"; expected one of: ${NODE_STATES.filter((s) => s !== 'unknown').join(', ')}`);
  }
  let state = await readKeeperState(paths.state);
  state = { ...state, assignedRole: goal };
  await writeKeeperState(paths.state, state);
  const start = performance.now();
  let attempts = 0;
  while (state.currentRole !== goal && performance.now() - start < FSM_ASSIGN_TIMEOUT_SECONDS * 1000) {
    await delay(100);
    attempts++;
    state = await readKeeperState(paths.state);
  }
  if (state.currentRole !== goal) {
    ctx.log.warn(`Failed to reach goal state "${goal}" in ${attempts} attempts and ${Math.round((performance.now() - start) / 1000)}s`);
    return data(undefined, 'BAD_STATE');
  }
  return data({ postgres: await pgSetupOf(ctx, paths.pgdata, config), state });
}

/** What `do fsm step` prints: the current state before the step, the assigned one after it. */
export interface FsmStepView {
  from: string;
  to: string;
}

/**
 * The running pg_autoctl of this node, if any: its pid. Two keepers must
 * never act on one node at once.
 */
async function runningService(paths: AutoctlPaths): Promise<number | undefined> {
  const status = await checkPidFile(paths.pid, { removeStale: true });
  return status.status === 'running' && status.pidFile.pid !== process.pid ? status.pidFile.pid : undefined;
}

/**
 * `do fsm step`: one round of the keeper, as the service runs it each
 * second: node_active with the local facts, then the transition to the
 * goal the monitor assigned (or keeping Postgres as the current state
 * wants it), and the state file saved. Only on a node whose service is
 * stopped: this process holds the node's pid file while it steps, so
 * `pg_autoctl run` refuses to start meanwhile. Postgres started by the
 * step (as 2.0's step starts it) runs in its own session and keeps running
 * after the command: with no keeper watching it until the service runs
 * again, so no write lease is enforced for a primary in between.
 */
export async function fsmStep(flags: PgdataFlags, ctx: CommandContext): Promise<CommandResult<FsmStepView>> {
  const target = await keeperTarget(ctx, flags);
  if (isMonitorDisabled(target.config)) {
    throw new AutoctlError('BAD_CONFIG',
      'The command `pg_autoctl do fsm step` is meant to step as instructed by the monitor, and the monitor is disabled.',
      { hint: 'see `pg_autoctl do fsm assign` instead' });
  }
  const paths = await ensurePaths(target.paths.pgdata, ctx.env, ctx.cwd);
  const config = target.config;
  const refuse = (pid: number): AutoctlError => new AutoctlError('BAD_STATE',
    `pg_autoctl is running for "${paths.pgdata}" with pid ${pid} (pid file "${paths.pid}"): do fsm step runs the keeper itself, stop the service first`,
    { hint: 'pg_autoctl stop, then pg_autoctl do fsm step; or let the running service do its own rounds' });
  const running = await runningService(paths);
  if (running !== undefined) throw refuse(running);
  if ((await readKeeperStateIfExists(paths.state)) === undefined) {
    throw new AutoctlError('BAD_STATE', `The keeper state file "${paths.state}" does not exist: this node is not registered; run pg_autoctl create postgres first`);
  }
  // Hold the pid file while stepping: `run` then refuses to start a second keeper.
  await writePidFile(paths.pid, {
    pid: process.pid, pgdata: paths.pgdata, version: VERSION, schemaVersion: MONITOR_SCHEMA_VERSION, semId: 0, services: [],
  });
  const holder = (await readPidFile(paths.pid))?.pid;
  if (holder !== process.pid) throw refuse(holder ?? 0);
  try {
    return data(await stepOnce(ctx, paths, config));
  } finally {
    if (await pidFileNamesPid(paths.pid, process.pid)) await removePidFile(paths.pid);
  }
}

async function stepOnce(ctx: CommandContext, paths: AutoctlPaths, config: KeeperConfig): Promise<FsmStepView> {
  const bin = await findPgBinaries({ ...(config.postgresql.pg_ctl ? { pgctl: config.postgresql.pg_ctl } : {}), env: ctx.env });
  const port = localPostgresPort({
    bin, pgdata: paths.pgdata, port: config.postgresql.port, listenAddresses: config.postgresql.listen_addresses || '*', env: ctx.env,
  });
  // The postmaster is spawned in its own session with its output in
  // startup.log: unreferenced, it outlives this short-lived command.
  const postgres = createPostgresController({
    ...port,
    spawn() {
      const child = port.spawn();
      child.unref();
      return child;
    },
  }, ctx.log);
  const stop = new AbortController();
  const rt = await buildRuntime({ paths, config, env: ctx.env }, { signal: stop.signal, postgres, log: ctx.log });
  try {
    const from = currentState(rt);
    const outcome = await runKeeperStep(rt, { untilInitDone: false, leaseFile: rt.leaseFile }, restartTracker());
    const to = rt.state.assignedRole;
    if (outcome.failure !== null || !outcome.reported) {
      throw new AutoctlError('BAD_STATE', outcome.failure === null
        ? 'Failed to step the keeper: it did not report to the monitor, see above for details'
        : `Failed to step the keeper: ${outcome.failure}`);
    }
    const reached = currentState(rt);
    if (isNodeState(to) && to !== 'init' && to !== 'unknown' && reached !== to) {
      throw new AutoctlError('BAD_STATE', `Failed to reach the assigned state "${to}" from "${reached}", see above for details`);
    }
    if (ctx.json) ctx.log.warn('This command does not support JSON output at the moment');
    return { from, to };
  } finally {
    stop.abort();
    await rt.stateWrites.catch((error: unknown) => { ctx.log.error(`Failed to write the keeper state: ${messageOf(error)}`); });
    await rt.monitor.close();
  }
}

/** What `do fsm nodes get|set` print. */
export type NodesView = readonly NodesFileEntry[];

async function disabledMonitorKeeper(ctx: CommandContext, flags: PgdataFlags): Promise<{ paths: AutoctlPaths; config: KeeperConfig }> {
  const target = await keeperTarget(ctx, flags);
  if (!isMonitorDisabled(target.config)) throw badConfig('The monitor is not disabled, there\'s no nodes file');
  return target;
}

/**
 * `do fsm nodes get`: every node of the nodes file, this one included (as
 * 2.0 prints it); an empty table when there is no file yet. With --json,
 * the nodes in the file's format.
 */
export async function fsmNodesGet(flags: PgdataFlags, ctx: CommandContext): Promise<CommandResult<NodesView>> {
  const { paths } = await disabledMonitorKeeper(ctx, flags);
  const text = await readNodesFileTextIfExists(paths.nodesJson);
  if (text === undefined) {
    ctx.log.debug(`The nodes file "${paths.nodesJson}" does not exist`);
    return data([]);
  }
  try {
    return data(parseNodesArray(text, 'INTERNAL'));
  } catch (error) {
    throw new AutoctlError('INTERNAL', `Failed to read the nodes file "${paths.nodesJson}": ${messageOf(error)}`);
  }
}

/**
 * `do fsm nodes set <file>`: checks the JSON nodes array in the file and
 * copies it to the nodes file (mode 0600), where the keeper reads it each
 * round while its monitor is disabled; prints the other nodes (this one
 * left out, as the keeper uses them). Bad input writes nothing: a file
 * that cannot be read is BAD_ARGS, a bad nodes array INTERNAL (12), as in 2.0.
 */
export async function fsmNodesSet(flags: PgdataFlags, ctx: CommandContext, args: readonly string[]): Promise<CommandResult<NodesView>> {
  const { paths } = await disabledMonitorKeeper(ctx, flags);
  const input = args[0];
  if (input === undefined || args.length !== 1) throw badArgs('USAGE: do fsm nodes set </path/to/input/nodes.json>');
  let text: string | undefined;
  try {
    text = await readFileIfExists(input);
  } catch (error) {
    throw badArgs(`Failed to read nodes array from file "${input}": ${messageOf(error)}`);
  }
  if (text === undefined) throw badArgs(`Failed to read nodes array from file "${input}": it does not exist`);
  let nodes: NodesFileEntry[];
  try {
    nodes = parseNodesArray(text, 'INTERNAL');
  } catch (error) {
    throw new AutoctlError('INTERNAL', `${messageOf(error)} (in "${input}")`);
  }
  const self = (await readKeeperStateIfExists(paths.state))?.currentNodeId ?? -1;
  writeNodesFile(paths.nodesJson, text);
  ctx.log.info(`Wrote ${nodes.length} node(s) to the nodes file "${paths.nodesJson}"`);
  return data(otherNodesOf(nodes, self));
}
