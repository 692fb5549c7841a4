/**
 * `pg_autoctl run`: the supervisor for the node named by PGDATA, with the
 * services its role needs (monitor: listener; keeper: node-active).
 */
import { AutoctlError } from '../../common/errors.js';
import { MONITOR_SCHEMA_VERSION, VERSION } from '../../common/version.js';
import type { Service } from '../../common/service.js';
import {
  checkPidFile, ensurePaths, isMonitorConfig, readConfigFile, removePidFile, writePidFile, type AnyConfig, type AutoctlPaths,
} from '../../config/index.js';
import { findPgBinaries } from '../../postgres/index.js';
import { createPostgresController } from '../../supervisor/postgres-controller.js';
import { localPostgresPort } from '../../supervisor/local-postgres.js';
import { runSupervisor } from '../../supervisor/supervisor.js';
import { monitorService } from '../../monitor/service.js';
import { keeperService } from '../../keeper/service.js';
import type { CommandContext } from '../context.js';
import { logAsConfigured } from '../target.js';

function servicesFor(config: AnyConfig, paths: AutoctlPaths, ctx: CommandContext): Service[] {
  if (isMonitorConfig(config)) return [monitorService({ paths, config, env: ctx.env })];
  return [keeperService({ paths, config, env: ctx.env })];
}

export async function runNode(ctx: CommandContext, pgdata: string): Promise<number> {
  const paths = await ensurePaths(pgdata, ctx.env, ctx.cwd);
  const config = await readConfigFile(paths.config);
  logAsConfigured(ctx, config);
  const pid = await checkPidFile(paths.pid, { removeStale: true });
  if (pid.status === 'running' && pid.pidFile.pid !== process.pid) {
    throw new AutoctlError('INTERNAL', `An instance of pg_autoctl is already running with PID ${pid.pidFile.pid}, as seen in pidfile "${paths.pid}"`);
  }
  const bin = await findPgBinaries({ ...(config.postgresql.pg_ctl ? { pgctl: config.postgresql.pg_ctl } : {}), env: ctx.env });
  const postgres = createPostgresController(localPostgresPort({
    bin, pgdata: paths.pgdata, port: config.postgresql.port, listenAddresses: config.postgresql.listen_addresses || '*', env: ctx.env,
  }), ctx.log);
  const services = servicesFor(config, paths, ctx);
  const header = { pid: process.pid, pgdata, version: VERSION, schemaVersion: MONITOR_SCHEMA_VERSION, semId: 0 };
  return runSupervisor({
    log: ctx.log,
    postgres,
    services,
    writePidFile: async (running) => {
      const pgPid = postgres.pid();
      await writePidFile(paths.pid, {
        ...header,
        services: [
          ...(pgPid === null ? [] : [{ pid: pgPid, name: 'postgres' }]),
          ...running,
          ...services.map((s) => ({ pid: process.pid, name: s.name })),
        ],
      });
    },
    removePidFile: async () => { await removePidFile(paths.pid); },
  });
}
