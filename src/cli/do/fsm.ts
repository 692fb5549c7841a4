/**
 * `pg_autoctl do fsm ...` (spec 04 §13): the keeper's state file as JSON
 * (`state`, `init`), the keeper transitions (`list`, `gv`), and `assign`,
 * which writes a goal into the state file and waits for the keeper to reach
 * it (how goals arrive on a node running without a monitor).
 */
import { existsSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { AutoctlError, badArgs, badConfig } from '../../common/errors.js';
import {
  initialKeeperState, isKeeperConfig, readKeeperState, writeKeeperState, type AnyConfig, type AutoctlPaths, type KeeperConfig, type KeeperState,
} from '../../config/index.js';
import { KEEPER_TRANSITIONS, NODE_STATES, isNodeState, type KeeperTransition } from '../../fsm/index.js';
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
