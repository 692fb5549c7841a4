/**
 * `pg_autoctl do service getpid|restart ...` (spec 04 §13, spec 05 §9).
 *
 * In the original each service is a sub-process of the supervisor. Here the
 * node-active, listener and monitor services run inside the supervisor
 * process, and the `postgres` service is the postmaster, a child of the
 * supervisor's Postgres controller: the pid file lists
 * `<postmaster pid> postgres` and `<supervisor pid> <service>`.
 * `restart postgres` stops the postmaster (fast mode); the controller,
 * which keeps Postgres running, starts it again, and the command prints
 * the new pid once the supervisor has written it in the pid file.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { AutoctlError } from '../../common/errors.js';
import { checkPidFile, readPidFile, type AutoctlPaths } from '../../config/index.js';
import { readPostmasterPid, stopPostgres } from '../../postgres/index.js';
import { data, type CommandResult } from '../command.js';
import type { CommandContext } from '../context.js';
import { pathsOf, resolvePgdata } from '../target.js';
import { configIfAny, type PgdataFlags } from './pgsetup.js';

export const RESTART_TIMEOUT_SECONDS = 60;

async function runningPidFile(ctx: CommandContext, flags: PgdataFlags): Promise<{ paths: AutoctlPaths; pgdata: string }> {
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  const { config } = await configIfAny(ctx, pgdata);
  const paths = pathsOf(ctx, pgdata);
  const status = await checkPidFile(paths.pid);
  if (status.status !== 'running') {
    throw new AutoctlError('INTERNAL', `pg_autoctl is not running for "${paths.pgdata}": no live pid in "${paths.pid}"`);
  }
  return { paths, pgdata: config?.postgresql.pgdata ?? paths.pgdata };
}

async function servicePid(paths: AutoctlPaths, name: string): Promise<number | undefined> {
  return (await readPidFile(paths.pid))?.services.find((s) => s.name === name)?.pid;
}

/** `do service getpid <service>`: the pid the supervisor's pid file lists for it. */
export function serviceGetpid(name: string) {
  return async (flags: PgdataFlags, ctx: CommandContext): Promise<CommandResult<number>> => {
    const { paths } = await runningPidFile(ctx, flags);
    const pid = await servicePid(paths, name);
    if (pid === undefined) throw new AutoctlError('INTERNAL', `Failed to find pid for service name "${name}" in "${paths.pid}"`);
    return data(pid);
  };
}

/** `do service restart postgres`: the new postmaster pid. */
export async function serviceRestartPostgres(flags: PgdataFlags, ctx: CommandContext): Promise<CommandResult<number>> {
  const { paths, pgdata } = await runningPidFile(ctx, flags);
  const pid = await servicePid(paths, 'postgres');
  const postmaster = readPostmasterPid(pgdata);
  if (pid === undefined || postmaster?.pid !== pid) {
    throw new AutoctlError('INTERNAL', `Postgres is not running under pg_autoctl for "${pgdata}": nothing to restart`);
  }
  ctx.log.info(`Stopping Postgres (pid ${pid}) for the Postgres controller of pg_autoctl to start it again`);
  await stopPostgres(pgdata, 'fast', RESTART_TIMEOUT_SECONDS * 1000);
  const deadline = performance.now() + RESTART_TIMEOUT_SECONDS * 1000;
  for (;;) {
    const now = await servicePid(paths, 'postgres');
    if (now !== undefined && now !== pid) {
      ctx.log.info(`Service "postgres" has been restarted with pid ${now}`);
      return data(now);
    }
    if (performance.now() > deadline) {
      throw new AutoctlError('PGCTL', `Postgres was not started again within ${RESTART_TIMEOUT_SECONDS}s after its restart (pid file "${paths.pid}")`);
    }
    await delay(100);
  }
}
