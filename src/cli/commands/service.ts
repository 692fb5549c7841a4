/**
 * Service commands (spec 04 §10): run, stop, reload, status.
 */
import type { Command } from 'commander';
import { AutoctlError, badArgs } from '../../common/errors.js';
import { checkPidFile, checkSignalTarget, isKeeperConfig, readProcessIdentity, type AutoctlPaths } from '../../config/index.js';
import { postgresStatus } from '../../postgres/index.js';
import { data, defineCommand, done, serviceEnded, type CommandResult } from '../command.js';
import { withPgdata } from '../options/common.js';
import type { CommandContext } from '../context.js';
import { statusRendering, type ServiceStatus } from '../render/service.js';
import { loadConfig, pathsOf, resolvePgdata } from '../target.js';
import { parsePort } from '../options/values.js';
import { applyNodeMetadata } from './get-set.js';
import { runNode } from './run-node.js';

interface PgdataFlags { pgdata?: string }

/**
 * The pid the pid file names, once checked to be pg_autoctl of this user
 * for this PGDATA (a stale pid may have been reused by any process, and a
 * pid file is only a claim). Without /proc, the pid file is all there is.
 */
function verifiedPid(paths: AutoctlPaths, pid: number): number {
  const identity = readProcessIdentity(pid);
  const uid = process.getuid?.();
  if (identity === undefined || uid === undefined) return pid;
  const checked = checkSignalTarget(identity, { uid, pgdata: paths.pgdata, entryScripts: process.argv[1] === undefined ? [] : [process.argv[1]] });
  if (!checked.ok) {
    throw new AutoctlError('BAD_STATE', `Refusing to signal pid ${pid} found in the pid file "${paths.pid}": ${checked.errors}`,
      { hint: `if pg_autoctl is not running for "${paths.pgdata}", remove the pid file "${paths.pid}"` });
  }
  return pid;
}

/** Sends `signal` to the verified pg_autoctl of PGDATA. */
function signalService(paths: AutoctlPaths, pidFilePid: number, signal: NodeJS.Signals): void {
  const pid = verifiedPid(paths, pidFilePid);
  try {
    process.kill(pid, signal);
  } catch (error) {
    throw new AutoctlError('INTERNAL', `Failed to signal pid ${pidFilePid}: ${(error as Error).message}`);
  }
}

/**
 * SIGHUP to the running pg_autoctl of PGDATA, for commands that changed its
 * configuration (enable ssl, enable|disable monitor); false when it does
 * not run.
 */
export async function reloadRunningService(paths: AutoctlPaths): Promise<boolean> {
  const status = await checkPidFile(paths.pid);
  if (status.status !== 'running') return false;
  signalService(paths, status.pidFile.pid, 'SIGHUP');
  return true;
}

async function stopHandler(flags: PgdataFlags & { fast?: boolean; immediate?: boolean }, ctx: CommandContext): Promise<CommandResult<void>> {
  if (flags.fast && flags.immediate) throw badArgs('Please use either --fast or --immediate, not both');
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  const paths = pathsOf(ctx, pgdata);
  const status = await checkPidFile(paths.pid);
  if (status.status !== 'running') {
    throw new AutoctlError('INTERNAL', `Failed to read the keeper's PID at "${paths.pid}"`);
  }
  signalService(paths, status.pidFile.pid, flags.immediate ? 'SIGQUIT' : flags.fast ? 'SIGINT' : 'SIGTERM');
  return done();
}

async function reloadHandler(flags: PgdataFlags, ctx: CommandContext): Promise<CommandResult<void>> {
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  const paths = pathsOf(ctx, pgdata);
  const status = await checkPidFile(paths.pid);
  if (status.status === 'running') signalService(paths, status.pidFile.pid, 'SIGHUP');
  return done();
}

/**
 * Not running: exit 3 (BAD_STATE), as `pg_ctl status`. Running with a
 * Postgres not ready: the report, and exit 5 (PGCTL).
 */
async function statusHandler(flags: PgdataFlags, ctx: CommandContext): Promise<CommandResult<ServiceStatus | undefined>> {
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  const { paths, config } = await loadConfig(ctx, pgdata);
  const pid = await checkPidFile(paths.pid);
  const pg = postgresStatus(config.postgresql.pgdata);
  if (pid.status !== 'running') {
    if (pg.state === 'running') ctx.log.fatal(`Postgres is running at "${config.postgresql.pgdata}" with pid ${pg.pid}`);
    ctx.log.info(`pg_autoctl is not running at "${config.postgresql.pgdata}"`);
    return data(undefined, 'BAD_STATE');
  }
  const ready = pg.state === 'running' && pg.ready;
  if (!ctx.json) {
    // The text form of `status` is these log lines (stdout stays empty).
    ctx.log.info(`pg_autoctl is running with pid ${pid.pidFile.pid}`);
    if (pg.state === 'running' && pg.ready) {
      ctx.log.info(`Postgres is serving PGDATA "${config.postgresql.pgdata}" on port ${pg.port} with pid ${pg.pid}`);
    }
  }
  const report: ServiceStatus = {
    pgdata: config.postgresql.pgdata, pgCtl: config.postgresql.pg_ctl, port: config.postgresql.port, postgres: pg, pidFile: pid.pidFile,
  };
  return ready ? data(report) : data(report, 'PGCTL');
}

interface RunFlags extends PgdataFlags { name?: string; hostname?: string; pgport?: string }

/**
 * Keeper: --name, --hostname and --pgport override the configuration; when
 * they change it, the monitor's metadata is updated and the file written
 * before the service starts (spec 04 §10.1; a monitor refusal exits 6).
 */
async function runHandler(flags: RunFlags, ctx: CommandContext): Promise<CommandResult<void>> {
  const port = flags.pgport === undefined ? undefined : parsePort(flags.pgport);
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  const { config } = await loadConfig(ctx, pgdata);
  const overrides = (flags.name ?? '') !== '' || (flags.hostname ?? '') !== '' || port !== undefined;
  if (overrides && isKeeperConfig(config)) {
    await applyNodeMetadata(ctx, pgdata, {
      ...(flags.name ? { name: flags.name } : {}),
      ...(flags.hostname ? { hostname: flags.hostname } : {}),
      ...(port === undefined ? {} : { port }),
    }, true);
  }
  return serviceEnded(await runNode(ctx, pgdata));
}

export function registerRunCommand(program: Command): void {
  defineCommand(program, {
    name: 'run',
    description: 'Run the pg_autoctl service (monitor or keeper)',
    options: (cmd) => withPgdata(cmd)
      .option('--name <name>', 'pg_auto_failover node name')
      .option('--hostname <hostname>', 'hostname used to connect from other nodes')
      .option('--pgport <port>', 'PostgreSQL\'s port number'),
    run: runHandler,
  });
}

/** `stop`, `reload` and `status`. */
export function registerSignalCommands(program: Command): void {
  defineCommand(program, {
    name: 'stop',
    description: 'signal the pg_autoctl service for it to stop',
    options: (cmd) => withPgdata(cmd)
      .option('--fast', 'fast shutdown mode for the keeper')
      .option('--immediate', 'immediate shutdown mode for the keeper'),
    run: stopHandler,
  });
  defineCommand(program, {
    name: 'reload', description: 'signal the pg_autoctl for it to reload its configuration', options: withPgdata, run: reloadHandler,
  });
  defineCommand(program, {
    name: 'status',
    description: 'Display the current status of the pg_autoctl service',
    json: true,
    options: withPgdata,
    run: statusHandler,
    render: statusRendering,
  });
}
