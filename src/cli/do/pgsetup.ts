/**
 * `pg_autoctl do pgsetup ...` (spec 04 §13): what pg_autoctl sees of the
 * local Postgres instance of a node, and the readiness probes the
 * original's test suite polls (`ready`: exit 0 when Postgres accepts
 * connections, else 4; `wait`: the same after waiting up to 30 s).
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { AutoctlError, messageOf } from '../../common/errors.js';
import { formatLsn } from '../../common/lsn.js';
import { isKeeperConfig, type AnyConfig, type AutoctlPaths } from '../../config/index.js';
import {
  classifyPgData, findPgBinaries, hasRecoverySignal, hasStandbySignal, readControlData, readPostmasterPid, isProcessAlive,
  type PgBinaries,
} from '../../postgres/index.js';
import { data, done, type CommandResult } from '../command.js';
import type { CommandContext } from '../context.js';
import type { PgSetup } from '../render/pg-setup.js';
import { loadConfig, pathsOf, resolvePgdata } from '../target.js';

export interface PgdataFlags { pgdata?: string }

export type { PgSetup };

/** The node's configuration when it has one (commands also work on a bare PGDATA). */
export async function configIfAny(ctx: CommandContext, pgdata: string): Promise<{ paths: AutoctlPaths; config: AnyConfig | null }> {
  const paths = pathsOf(ctx, pgdata);
  if (!existsSync(paths.config)) return { paths, config: null };
  return loadConfig(ctx, pgdata);
}

/** The Postgres binaries of the node: its configured pg_ctl, else the usual search. */
export async function binariesOf(ctx: CommandContext, config: AnyConfig | null): Promise<PgBinaries | undefined> {
  try {
    const pgctl = config?.postgresql.pg_ctl;
    return await findPgBinaries({ ...(pgctl ? { pgctl } : {}), env: ctx.env, severalInPath: 'first' });
  } catch (error) {
    ctx.log.warn(`Failed to find pg_ctl: ${messageOf(error)}`);
    return undefined;
  }
}

/** The postmaster serving PGDATA (live pid, not a standalone backend), if any. */
function livePostmaster(pgdata: string): { pid: number; status: string } | undefined {
  const info = readPostmasterPid(pgdata);
  if (info === undefined || info.pid <= 0 || !isProcessAlive(info.pid)) return undefined;
  return { pid: info.pid, status: info.status ?? 'unknown' };
}

/** Gathers the pg setup of PGDATA (its files, pg_controldata, postmaster.pid). */
export async function pgSetupOf(ctx: CommandContext, pgdata: string, config: AnyConfig | null): Promise<PgSetup> {
  const dir = config?.postgresql.pgdata ?? pgdata;
  const bin = await binariesOf(ctx, config);
  const running = livePostmaster(dir);
  const setup: PgSetup = {
    pgdata: dir,
    pgCtl: bin?.pgCtl ?? config?.postgresql.pg_ctl ?? '',
    version: bin?.version.full ?? '',
    host: config?.postgresql.host ?? '',
    port: config?.postgresql.port ?? 5432,
    proxyport: config && isKeeperConfig(config) ? config.postgresql.proxyport : 0,
    pid: running?.pid ?? 0,
    // Once started, Postgres is in recovery while its signal file is there
    // (promotion removes it).
    inRecovery: running !== undefined && (hasStandbySignal(dir) || hasRecoverySignal(dir)),
    control: { version: 0, catalogVersion: 0, systemIdentifier: 0n, clusterState: '', latestCheckpointLsn: '0/0' },
    pmStatus: running?.status ?? 'unknown',
  };
  if (bin && classifyPgData(dir) === 'postgres') {
    try {
      const control = await readControlData(bin, dir, ctx.env);
      setup.control = {
        version: control.pgControlVersion,
        catalogVersion: control.catalogVersion,
        systemIdentifier: control.systemIdentifier,
        clusterState: control.clusterState,
        latestCheckpointLsn: formatLsn(control.latestCheckpointLsn),
      };
    } catch (error) {
      ctx.log.warn(`Failed to run pg_controldata on "${dir}": ${messageOf(error)}`);
    }
  }
  return setup;
}

/** The `Postgres status is: "<status>"` log line of ready/wait. */
function logStatus(ctx: CommandContext, pgdata: string): void {
  ctx.log.info(`Postgres status is: "${livePostmaster(pgdata)?.status ?? 'unknown'}"`);
}

/**
 * True when Postgres accepts connections. While it is starting (or
 * stopping), asks again for up to `patienceMs`, as the original does
 * before answering.
 */
async function isReady(pgdata: string, patienceMs: number): Promise<boolean> {
  if (!existsSync(join(pgdata, 'global', 'pg_control'))) return false;
  const deadline = performance.now() + patienceMs;
  for (;;) {
    const running = livePostmaster(pgdata);
    if (running === undefined) return false;
    if (running.status === 'ready') return true;
    if (performance.now() >= deadline) return false;
    await delay(100);
  }
}

async function targetPgdata(ctx: CommandContext, flags: PgdataFlags): Promise<string> {
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  const { config } = await configIfAny(ctx, pgdata);
  return config?.postgresql.pgdata ?? pathsOf(ctx, pgdata).pgdata;
}

/** `do pgsetup ready`: exit 0 when Postgres is ready, 4 (PGSQL) when not. */
export async function pgsetupReady(flags: PgdataFlags, ctx: CommandContext): Promise<CommandResult<void>> {
  const pgdata = await targetPgdata(ctx, flags);
  ctx.log.debug(`Checking whether Postgres at "${pgdata}" is ready`);
  const ready = await isReady(pgdata, 5000);
  logStatus(ctx, pgdata);
  return ready ? done() : done('PGSQL');
}

export const PGSETUP_WAIT_SECONDS = 30;

/** `do pgsetup wait`: waits up to 30 s for Postgres to be ready; exit 4 (PGSQL) when it is not. */
export async function pgsetupWait(flags: PgdataFlags, ctx: CommandContext): Promise<CommandResult<void>> {
  const pgdata = await targetPgdata(ctx, flags);
  const deadline = performance.now() + PGSETUP_WAIT_SECONDS * 1000;
  let attempts = 0;
  let ready: boolean;
  for (;;) {
    attempts++;
    ready = await isReady(pgdata, 0);
    if (ready || performance.now() >= deadline) break;
    if (attempts % 10 === 1) ctx.log.debug(`Postgres at "${pgdata}" is not ready yet, after ${attempts} attempt(s)`);
    await delay(100);
  }
  if (ready) {
    const info = readPostmasterPid(pgdata);
    ctx.log.info(`Postgres is now serving PGDATA "${pgdata}" on port ${info?.port ?? '?'} with pid ${info?.pid ?? '?'}`);
  }
  logStatus(ctx, pgdata);
  return ready ? done() : done('PGSQL');
}

function tailOf(path: string, maxLines: number): string[] {
  try {
    return readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').slice(-maxLines);
  } catch {
    return [];
  }
}

/** `do pgsetup logs`: logs the Postgres start-up log and the current server log (INFO, on stderr). */
export async function pgsetupLogs(flags: PgdataFlags, ctx: CommandContext): Promise<CommandResult<void>> {
  const pgdata = await targetPgdata(ctx, flags);
  if (classifyPgData(pgdata) !== 'postgres') throw new AutoctlError('PGCTL', `"${pgdata}" is not a PostgreSQL data directory`);
  const startup = join(pgdata, 'startup.log');
  if (existsSync(startup)) {
    ctx.log.info(`Postgres start-up log "${startup}":`);
    for (const line of tailOf(startup, 200)) ctx.log.info(line);
  }
  const current = tailOf(join(pgdata, 'current_logfiles'), 10).map((l) => l.split(' ')).find(([format]) => format === 'stderr')?.[1];
  if (current) {
    const file = isAbsolute(current) ? current : join(pgdata, current);
    ctx.log.info(`Postgres log "${file}":`);
    for (const line of tailOf(file, 200)) ctx.log.info(line);
  }
  return done();
}

/** `do pgsetup pg_ctl`: which pg_ctl `create postgres` and `create monitor` would use. */
export async function pgsetupPgCtl(_flags: PgdataFlags, ctx: CommandContext): Promise<CommandResult<void>> {
  if (ctx.env.PG_CONFIG) ctx.log.info(`Environment variable PG_CONFIG is set to "${ctx.env.PG_CONFIG}"`);
  let failed = false;
  try {
    const keeper = await findPgBinaries({ env: ctx.env, severalInPath: 'error' });
    ctx.log.info(`\`pg_autoctl create postgres\` would use "${keeper.pgCtl}" for Postgres ${keeper.version.full}`);
  } catch (error) {
    ctx.log.fatal(`pg_autoctl create postgres would fail to find pg_ctl: ${messageOf(error)}`);
    failed = true;
  }
  const monitor = await findPgBinaries({ env: ctx.env, severalInPath: 'first' });
  ctx.log.info(`\`pg_autoctl create monitor\` would use "${monitor.pgCtl}" for Postgres ${monitor.version.full}`);
  return failed ? done('INTERNAL') : done();
}

/** `do pgsetup discover`: the pg setup of PGDATA. */
export async function pgsetupDiscover(flags: PgdataFlags, ctx: CommandContext): Promise<CommandResult<PgSetup>> {
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  const { config } = await configIfAny(ctx, pgdata);
  return data(await pgSetupOf(ctx, pathsOf(ctx, pgdata).pgdata, config));
}
