/**
 * `pg_autoctl create monitor` (spec 04 §3.1, spec 05 §15): write the
 * monitor's configuration, initdb (or reuse a stopped monitor cluster),
 * write the settings file and HBA rules, start Postgres, create the roles,
 * the database and the schema. A failure leaves nothing behind that this
 * run created (data directory, configuration files).
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Logger } from '../common/log.js';
import { AutoctlError, badArgs, messageOf } from '../common/errors.js';
import {
  checkPidFile, defaultMonitorConfig, ensurePaths, pathsFor, readConfigFile, writeConfigFile, isMonitorConfig,
  type AutoctlPaths, type MonitorConfig,
} from '../config/index.js';
import {
  applyHbaRules, classifyPgData, findPgBinaries, hbaPathOf, initdb, initdbAuth, monitorHbaRules, readPostmasterPid,
  isProcessAlive, renderMonitorSettingsFile, hostResources, writeAutoFailoverSettings, ensureIncludeLine,
  spawnPostmaster, waitForPostgresReady, stopPostgres, createSelfSignedCertificate, monitorLanCidr,
  type PgBinaries, type SslMode,
} from '../postgres/index.js';
import { connectLocal } from '../postgres/local-client.js';
import { startRebuildFromNodes } from './ha/rebuild.js';
import { applyMigrations, createMonitorDatabase, createMonitorRoles } from './schema.js';

export interface CreateMonitorOptions {
  /** `--standby-of`: build a streaming standby of that monitor instead (ha/standby-create.ts). */
  standbyOf?: string | undefined;
  pgdata: string;
  port: number;
  pgctl?: string | undefined;
  hostname: string;
  listen: string;
  /** The service's HTTP listener (metrics, status page); 0 = off, undefined = keep what the config has. */
  httpPort?: number | undefined;
  /** `--etcd`: etcd endpoints (normalised, comma separated) for automatic monitor failover; undefined = keep the config's. */
  etcd?: string | undefined;
  authMethod: string | null;
  skipHba: boolean;
  ssl: { active: boolean; createCertificates: boolean; sslMode: SslMode; caFile: string; crlFile: string; serverCert: string; serverKey: string };
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** `--rebuild-from-nodes`: an empty monitor that running keepers register into again (ha/rebuild.ts). */
  rebuildFromNodes?: boolean;
}

export interface CreatedMonitor {
  paths: AutoctlPaths;
  config: MonitorConfig;
  bin: PgBinaries;
  /** Pid of the postmaster left running (for `--run`), else null. */
  postmasterPid: number | null;
}

/** Fails with a clear message when nothing can listen on the port. */
export function ensurePortFree(port: number, pgdata: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE'
        ? new AutoctlError('BAD_ARGS', `cannot start postgres in "${pgdata}": port ${port} is already in use`)
        : new AutoctlError('BAD_ARGS', `cannot use port ${port}: ${error.message}`));
    });
    server.listen(port, () => server.close(() => resolve()));
  });
}

/** Undo steps, run in reverse order when creation fails. */
export class Rollback {
  private readonly steps: Array<{ what: string; fn: () => void | Promise<void> }> = [];
  add(what: string, fn: () => void | Promise<void>): void { this.steps.push({ what, fn }); }
  async run(log: Logger): Promise<void> {
    for (const step of this.steps.reverse()) {
      try {
        await step.fn();
      } catch (error) {
        log.warn(`Failed to ${step.what}: ${messageOf(error)}`);
      }
    }
  }
}

/**
 * The monitor's configuration for `create monitor` (a standby monitor's
 * too): the existing monitor file merged with the options, or the
 * defaults with the options.
 */
export async function monitorConfigFor(options: CreateMonitorOptions, configPath: string, configExisted: boolean, pgdata: string,
  bin: PgBinaries): Promise<MonitorConfig> {
  let config = defaultMonitorConfig({ pgdata, hostname: options.hostname });
  if (configExisted) {
    const existing = await readConfigFile(configPath);
    if (!isMonitorConfig(existing)) throw new AutoctlError('BAD_CONFIG', `"${configPath}" belongs to a keeper node, not a monitor`);
    config = existing;
  }
  return {
    ...config,
    pg_autoctl: { ...config.pg_autoctl, hostname: options.hostname },
    postgresql: {
      ...config.postgresql, pgdata, pg_ctl: bin.pgCtl, port: options.port, listen_addresses: options.listen,
      auth_method: options.authMethod ?? config.postgresql.auth_method,
    },
    ssl: {
      ...config.ssl, sslmode: options.ssl.sslMode, active: options.ssl.active ? 1 : 0,
      ca_file: options.ssl.caFile, crl_file: options.ssl.crlFile,
      cert_file: options.ssl.createCertificates ? `${pgdata}/server.crt` : options.ssl.serverCert,
      key_file: options.ssl.createCertificates ? `${pgdata}/server.key` : options.ssl.serverKey,
    },
    http: { ...config.http, port: options.httpPort ?? config.http.port },
    ha: { ...config.ha, ...(options.standbyOf === undefined ? {} : { peers: options.standbyOf }), etcd: options.etcd ?? config.ha.etcd },
  };
}

/**
 * The monitor's HBA rules for the keepers (its LAN); with --skip-pg-hba
 * they are only logged, so failing to find the LAN is no error then.
 */
export async function writeMonitorHba(options: CreateMonitorOptions, pgdata: string, log: Logger): Promise<void> {
  const lan = await monitorLanCidr(options.hostname).catch((error: unknown) => {
    if (!options.skipHba) throw error;
    return undefined;
  });
  if (lan === undefined) return;
  for (const warning of lan.warnings) log.warn(warning);
  applyHbaRules(hbaPathOf(pgdata), monitorHbaRules({ lanCidr: lan.cidr, authMethod: options.authMethod ?? 'trust', sslActive: options.ssl.active }),
    { skip: options.skipHba, log });
}

export async function createMonitor(options: CreateMonitorOptions, log: Logger, keepRunning: boolean): Promise<CreatedMonitor> {
  if (options.standbyOf !== undefined) {
    const { createStandbyMonitor } = await import('./ha/standby-create.js');
    return createStandbyMonitor({ ...options, standbyOf: options.standbyOf }, log, keepRunning);
  }
  const rollback = new Rollback();
  const configExisted = existsSync(pathsFor(options.pgdata, options.env, options.cwd).config);
  const paths = await ensurePaths(options.pgdata, options.env, options.cwd);
  const pgdata = paths.pgdata;
  if (!configExisted) rollback.add(`remove "${paths.config}"`, () => { rmSync(paths.config, { force: true }); });

  const pidStatus = await checkPidFile(paths.pid, { removeStale: true });
  if (pidStatus.status === 'running') {
    throw new AutoctlError('BAD_STATE', `pg_autoctl is already running with pid ${pidStatus.pidFile.pid}`);
  }

  const kind = classifyPgData(pgdata);
  if (kind === 'not-postgres' || kind === 'not-a-directory') {
    await rollback.run(log);
    throw badArgs(`PGDATA "${pgdata}" is not empty and is not a PostgreSQL data directory: refusing to use it for the monitor`);
  }
  if (kind === 'postgres') {
    const running = readPostmasterPid(pgdata);
    if (running && isProcessAlive(running.pid)) {
      await rollback.run(log);
      throw new AutoctlError('BAD_STATE', `Installing pg_auto_failover monitor in existing PostgreSQL instance at "${pgdata}" running on port ${running.port} is not supported.`);
    }
  }

  try {
    await ensurePortFree(options.port, pgdata);
    const bin = await findPgBinaries({ ...(options.pgctl ? { pgctl: options.pgctl } : {}), env: options.env });

    const config = await monitorConfigFor(options, paths.config, configExisted, pgdata, bin);
    await writeConfigFile(paths.config, config);

    if (kind === 'missing' || kind === 'empty') {
      const created = kind === 'missing';
      rollback.add(`remove "${pgdata}"`, () => {
        if (created) rmSync(pgdata, { recursive: true, force: true });
        else for (const name of readdirSync(pgdata)) rmSync(`${pgdata}/${name}`, { recursive: true, force: true });
      });
      await initdb(bin, pgdata, { ...initdbAuth(options.authMethod), log, env: options.env });
    } else {
      log.info(`Using the existing PostgreSQL cluster at "${pgdata}"`);
    }

    if (options.ssl.createCertificates) {
      await createSelfSignedCertificate(pgdata, options.hostname, { log, env: options.env });
    }
    writeAutoFailoverSettings(pgdata, renderMonitorSettingsFile({
      listenAddresses: options.listen,
      port: options.port,
      authMethod: options.authMethod ?? undefined,
      ssl: { active: options.ssl.active, caFile: config.ssl.ca_file, crlFile: config.ssl.crl_file, certFile: config.ssl.cert_file, keyFile: config.ssl.key_file },
      host: hostResources(),
    }), log);
    ensureIncludeLine(pgdata, 'postgresql-auto-failover.conf', log);

    await writeMonitorHba(options, pgdata, log);

    const postmaster = spawnPostmaster(bin, pgdata, {
      port: options.port, listenAddresses: options.listen, logFile: `${pgdata}/startup.log`, env: options.env,
    });
    rollback.add('stop postgres', async () => { await stopPostgres(pgdata, 'immediate', 60_000); });
    await waitForPostgresReady(pgdata, { timeoutMs: 60_000, postmaster });
    log.info(`Postgres is now serving PGDATA "${pgdata}" on port ${options.port} with pid ${postmaster.pid}`);

    const admin = await connectLocal(pgdata, 'postgres');
    try {
      await createMonitorRoles(admin);
      await createMonitorDatabase(admin);
    } finally {
      await admin.end().catch(() => undefined);
    }
    const db = await connectLocal(pgdata, 'pg_auto_failover');
    try {
      const { from, to } = await applyMigrations(db, log);
      log.info(from === to ? `Monitor schema is at version ${to}` : `Installed the monitor schema version ${to}`);
      if (options.rebuildFromNodes === true) await startRebuildFromNodes(db, log);
    } finally {
      await db.end().catch(() => undefined);
    }
    log.info(`Your pg_auto_failover monitor instance is now ready on port ${options.port}.`);
    log.info('Monitor has been successfully initialized.');

    if (!keepRunning) {
      await stopPostgres(pgdata, 'fast', 60_000, { log });
      return { paths, config, bin, postmasterPid: null };
    }
    postmaster.unref();
    return { paths, config, bin, postmasterPid: postmaster.pid };
  } catch (error) {
    log.error(`Failed to create the monitor: ${messageOf(error)}`);
    await rollback.run(log);
    throw error;
  }
}
