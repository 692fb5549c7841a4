/**
 * Service commands (spec 04 §10): run, stop, reload, status.
 */
import type { Command } from 'commander';
import { AutoctlError, badArgs } from '../../common/errors.js';
import { MONITOR_SCHEMA_VERSION, VERSION } from '../../common/version.js';
import { checkPidFile, checkSignalTarget, readProcessIdentity, type AutoctlPaths } from '../../config/index.js';
import { postgresStatus } from '../../postgres/index.js';
import { contextFor } from '../context.js';
import { renderJson } from '../render/json.js';
import { loadConfig, pathsOf, resolvePgdata } from '../target.js';
import { withCommonOptions } from '../tree.js';
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

async function stopCommand(flags: PgdataFlags & { fast?: boolean; immediate?: boolean }, cmd: Command): Promise<void> {
  const ctx = contextFor(cmd);
  if (flags.fast && flags.immediate) throw badArgs('Please use either --fast or --immediate, not both');
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  const paths = pathsOf(ctx, pgdata);
  const status = await checkPidFile(paths.pid);
  if (status.status !== 'running') {
    throw new AutoctlError('INTERNAL', `Failed to read the keeper's PID at "${paths.pid}"`);
  }
  const signal = flags.immediate ? 'SIGQUIT' : flags.fast ? 'SIGINT' : 'SIGTERM';
  const pid = verifiedPid(paths, status.pidFile.pid);
  try {
    process.kill(pid, signal);
  } catch (error) {
    throw new AutoctlError('INTERNAL', `Failed to signal pid ${status.pidFile.pid}: ${(error as Error).message}`);
  }
}

async function reloadCommand(flags: PgdataFlags, cmd: Command): Promise<void> {
  const ctx = contextFor(cmd);
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  const paths = pathsOf(ctx, pgdata);
  const status = await checkPidFile(paths.pid);
  if (status.status !== 'running') return;
  const pid = verifiedPid(paths, status.pidFile.pid);
  try {
    process.kill(pid, 'SIGHUP');
  } catch (error) {
    throw new AutoctlError('INTERNAL', `Failed to signal pid ${status.pidFile.pid}: ${(error as Error).message}`);
  }
}

async function statusCommand(flags: PgdataFlags & { json?: boolean }, cmd: Command): Promise<void> {
  const ctx = contextFor(cmd);
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  const { paths, config } = await loadConfig(ctx, pgdata);
  const pid = await checkPidFile(paths.pid);
  const pg = postgresStatus(config.postgresql.pgdata);
  if (pid.status !== 'running') {
    if (pg.state === 'running') ctx.log.fatal(`Postgres is running at "${config.postgresql.pgdata}" with pid ${pg.pid}`);
    ctx.log.info(`pg_autoctl is not running at "${config.postgresql.pgdata}"`);
    process.exitCode = 3;
    return;
  }
  if (ctx.json) {
    ctx.out(renderJson({
      postgres: {
        pgdata: config.postgresql.pgdata,
        pg_ctl: config.postgresql.pg_ctl,
        host: pg.state === 'running' ? pg.socketDir : '',
        port: config.postgresql.port,
        pid: pg.state === 'running' ? pg.pid : 0,
        postmaster: { status: pg.state === 'running' ? (pg.ready ? 'ready' : pg.pmStatus ?? 'unknown') : 'stopped' },
      },
      pg_autoctl: {
        pid: pid.pidFile.pid,
        status: 'running',
        pgdata: config.postgresql.pgdata,
        version: VERSION,
        semId: pid.pidFile.semId,
        services: pid.pidFile.services.map((s) => ({ name: s.name, pid: s.pid, status: 'running', version: VERSION, pgautofailover: MONITOR_SCHEMA_VERSION })),
      },
    }));
  } else {
    ctx.log.info(`pg_autoctl is running with pid ${pid.pidFile.pid}`);
  }
  if (pg.state === 'running' && pg.ready) {
    if (!ctx.json) ctx.log.info(`Postgres is serving PGDATA "${config.postgresql.pgdata}" on port ${pg.port} with pid ${pg.pid}`);
  } else {
    process.exitCode = 5;
  }
}

async function runCommand(flags: PgdataFlags, cmd: Command): Promise<void> {
  const ctx = contextFor(cmd);
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  await loadConfig(ctx, pgdata);
  process.exitCode = await runNode(ctx, pgdata);
}

export function registerServiceCommands(program: Command): void {
  withCommonOptions(program.command('run').description('Run the pg_autoctl service (monitor or keeper)'))
    .option('--pgdata <dir>', 'path to data directory')
    .action(runCommand);
  withCommonOptions(program.command('stop').description('signal the pg_autoctl service for it to stop'))
    .option('--pgdata <dir>', 'path to data directory')
    .option('--fast', 'fast shutdown mode for the keeper')
    .option('--immediate', 'immediate shutdown mode for the keeper')
    .action(stopCommand);
  withCommonOptions(program.command('reload').description('signal the pg_autoctl for it to reload its configuration'))
    .option('--pgdata <dir>', 'path to data directory')
    .action(reloadCommand);
  withCommonOptions(program.command('status').description('Display the current status of the pg_autoctl service'), true)
    .option('--pgdata <dir>', 'path to data directory')
    .action(statusCommand);
}
