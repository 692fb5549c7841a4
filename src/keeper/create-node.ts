/**
 * `pg_autoctl create postgres` up to the registration (spec 05 §4.1–4.4,
 * spec 04 §3.2): validate what can be validated before anything is
 * written (PGDATA, port, binaries, hostname, monitor, formation), write the
 * configuration, then register the node in one monitor transaction with
 * its state and init files. The first transition (initdb or adoption, or a
 * base backup) is the keeper loop's job (service.ts), in `create` itself or
 * in `run`, which resume from the init file.
 *
 * A failure before or during the registration leaves nothing behind that
 * this run created; after it, re-running `create` resumes.
 */
import { existsSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type pg from 'pg';
import { AutoctlError, badArgs, messageOf } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import {
  backupDirectoryForNode, checkPidFile, defaultHttpPort, defaultKeeperConfig, ensurePaths, initialKeeperState, isKeeperConfig, pathsFor,
  readConfigFile, readInitFileIfExists, readKeeperStateIfExists, removeInitFile, removeNodeToken, writeConfigFile, writeInitFile, writeNodeToken,
  writeKeeperState, type AutoctlPaths, type HbaLevel, type KeeperConfig, type KeeperState, type PgdataInitState,
} from '../config/index.js';
import {
  checkGivenHostname, classifyPgData, discoverHostname, findPgBinaries, hasRecoverySignal, hasStandbySignal,
  parseConnInfo, readControlData, runningPostmaster, type PgBinaries, type SslMode,
} from '../postgres/index.js';
import { checkFormation, connectMonitorForCreate, registerWithMonitor } from './registration.js';

export interface CreateNodeSsl {
  active: boolean;
  createCertificates: boolean;
  sslMode: SslMode;
  caFile: string;
  crlFile: string;
  serverCert: string;
  serverKey: string;
}

export interface CreateNodeOptions {
  pgdata: string;
  /** --pgport (or PGPORT); undefined: 5432, or the port of a running instance. */
  port: number | undefined;
  pgctl?: string | undefined;
  pghost?: string | undefined;
  listen: string;
  username?: string | undefined;
  dbname: string;
  name?: string | undefined;
  hostname?: string | undefined;
  formation: string;
  monitorUri: string;
  /** null with --skip-pg-hba. */
  authMethod: string | null;
  skipHba: boolean;
  hbaLan: boolean;
  ssl: CreateNodeSsl;
  candidatePriority: number;
  replicationQuorum: boolean;
  maximumBackupRate: string;
  /** --http-port; undefined: derived from the Postgres port (defaultHttpPort); 0: no listener. */
  httpPort?: number | undefined;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export type CreateNodeResult =
  | { outcome: 'registered'; paths: AutoctlPaths; config: KeeperConfig; state: KeeperState }
  | { outcome: 'resume'; paths: AutoctlPaths; config: KeeperConfig }
  | { outcome: 'already-initialized'; paths: AutoctlPaths; config: KeeperConfig };

/** How long `create` keeps retrying an unreachable or busy monitor: PGCONNECT_TIMEOUT when set, else 15 minutes (spec 04 §1.6). */
export function createRetryBudgetMs(env: NodeJS.ProcessEnv): number {
  const seconds = Number(env.PGCONNECT_TIMEOUT);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 15 * 60 * 1000;
}

/** Fails with a clear message when something already listens on the port. */
function checkPortFree(port: number, host: string | undefined, pgdata: string, what = 'postgres'): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE'
        ? badArgs(`cannot start ${what} in "${pgdata}": port ${port} is already in use`)
        : badArgs(`cannot use port ${port} for ${what} in "${pgdata}": ${error.message}`));
    });
    const done = (): void => { server.close(() => resolve()); };
    if (host === undefined) server.listen(port, done);
    else server.listen(port, host, done);
  });
}

/** What PGDATA holds (spec 05 §4.2), refusing what `create` cannot use. */
async function inspectPgdata(pgdata: string, port: number | undefined, bin: PgBinaries, env: NodeJS.ProcessEnv,
  log: Logger): Promise<{ state: PgdataInitState; sysid: bigint | undefined }> {
  const kind = classifyPgData(pgdata);
  if (kind === 'not-a-directory' || kind === 'not-postgres') {
    throw badArgs(`PGDATA "${pgdata}" is not empty and does not contain a PostgreSQL cluster`,
      'use a missing or empty directory for a new node, or the data directory of a stopped cluster to adopt it');
  }
  if (kind === 'missing' || kind === 'empty') return { state: 'missing', sysid: undefined };
  const running = runningPostmaster(pgdata);
  if (running) {
    if (port !== undefined && running.port !== port) {
      throw badArgs(`Given --pgport ${port} doesn't match PostgreSQL port ${running.port} from "${pgdata}/postmaster.pid"`);
    }
    if (hasStandbySignal(pgdata) || hasRecoverySignal(pgdata)) {
      throw new AutoctlError('BAD_STATE', 'pg_autoctl doesn\'t know how to register an already existing standby server at the moment');
    }
    throw new AutoctlError('BAD_STATE', `PostgreSQL is already running at "${pgdata}" (pid ${running.pid}, port ${running.port})`,
      { hint: 'stop it cleanly (pg_ctl stop -m fast), then run the same pg_autoctl create postgres command: the cluster is adopted with its data' });
  }
  const control = await readControlData(bin, pgdata, env);
  log.info(`Found a stopped PostgreSQL cluster in "${pgdata}" with system identifier ${control.systemIdentifier}`);
  return { state: 'exists', sysid: control.systemIdentifier };
}

function hbaLevel(options: CreateNodeOptions): HbaLevel {
  if (options.skipHba) return 'skip';
  return options.hbaLan ? 'app' : 'minimal';
}

/** The configuration `create` writes: defaults, then every option given. */
function buildConfig(base: KeeperConfig, options: CreateNodeOptions, hostname: string, port: number, httpPort: number, bin: PgBinaries, pgdata: string): KeeperConfig {
  const ssl = options.ssl;
  return {
    ...base,
    pg_autoctl: {
      ...base.pg_autoctl,
      monitor: options.monitorUri,
      formation: options.formation,
      hostname,
      name: options.name ?? base.pg_autoctl.name,
    },
    postgresql: {
      ...base.postgresql,
      pgdata,
      pg_ctl: bin.pgCtl,
      username: options.username ?? base.postgresql.username,
      dbname: options.dbname,
      host: options.pghost ?? base.postgresql.host,
      port,
      listen_addresses: options.listen,
      auth_method: options.authMethod ?? 'trust',
      hba_level: hbaLevel(options),
    },
    ssl: {
      ...base.ssl,
      active: ssl.active ? 1 : 0,
      sslmode: ssl.sslMode,
      ca_file: ssl.caFile,
      crl_file: ssl.crlFile,
      cert_file: ssl.createCertificates ? `${pgdata}/server.crt` : ssl.serverCert,
      key_file: ssl.createCertificates ? `${pgdata}/server.key` : ssl.serverKey,
    },
    replication: { ...base.replication, maximum_backup_rate: options.maximumBackupRate },
    http: { ...base.http, port: httpPort },
  };
}

/** The keeper's HTTP port: --http-port, else derived from the Postgres port. */
function resolveHttpPort(options: CreateNodeOptions, pgport: number): number {
  if (options.httpPort !== undefined) return options.httpPort;
  const derived = defaultHttpPort(pgport);
  if (derived === null) throw badArgs(`cannot derive the HTTP port of this node from its Postgres port ${pgport}: please give one with --http-port`);
  return derived;
}

/** Removes directories this run created for pg_autoctl's own files, when left empty. */
function removeIfEmpty(dir: string): void {
  try {
    if (readdirSync(dir).length === 0) rmdirSync(dir);
  } catch {
    // not ours to insist on
  }
}

export async function createNode(options: CreateNodeOptions, log: Logger): Promise<CreateNodeResult> {
  const hadDirs = existsSync(pathsFor(options.pgdata, options.env, options.cwd).dirs.config);
  const paths = await ensurePaths(options.pgdata, options.env, options.cwd);
  try {
    return await createNodeIn(paths, options, log);
  } catch (error) {
    if (!hadDirs) for (const dir of [paths.dirs.config, paths.dirs.data, paths.dirs.runtime]) removeIfEmpty(dir);
    throw error;
  }
}

async function createNodeIn(paths: AutoctlPaths, options: CreateNodeOptions, log: Logger): Promise<CreateNodeResult> {
  const pgdata = paths.pgdata;
  const pid = await checkPidFile(paths.pid, { removeStale: true });
  if (pid.status === 'running') {
    throw new AutoctlError('BAD_STATE', `pg_autoctl is already running with pid ${pid.pidFile.pid}`);
  }

  const existing = existsSync(paths.config) ? await readConfigFile(paths.config) : undefined;
  if (existing !== undefined && !isKeeperConfig(existing)) {
    throw new AutoctlError('BAD_CONFIG', `"${paths.config}" belongs to a monitor node, not to a Postgres node`);
  }
  const state = await readKeeperStateIfExists(paths.state);
  const init = await readInitFileIfExists(paths.init);
  if (existing !== undefined && state !== undefined) {
    return { outcome: init === undefined ? 'already-initialized' : 'resume', paths, config: existing };
  }

  const bin = await findPgBinaries({ ...(options.pgctl ? { pgctl: options.pgctl } : {}), env: options.env });
  const found = await inspectPgdata(pgdata, options.port, bin, options.env, log);
  const port = options.port ?? 5432;
  await checkPortFree(port, undefined, pgdata);
  await checkPortFree(port, '127.0.0.1', pgdata);
  const httpPort = existing?.http.port ?? resolveHttpPort(options, port);
  if (existing === undefined && httpPort !== 0) {
    if (httpPort === port) throw badArgs(`--http-port ${httpPort} is the Postgres port of this node`);
    await checkPortFree(httpPort, undefined, pgdata, 'the HTTP listener of pg_autoctl');
  }

  const monitorInfo = parseConnInfo(options.monitorUri);
  const monitorHost = monitorInfo.hosts[0];
  let hostname = options.hostname;
  if (hostname === undefined) {
    if (!monitorHost || monitorHost.host === '' || monitorHost.host.startsWith('/')) {
      throw badArgs('Failed to auto-detect the hostname of this machine, please provide one via --hostname');
    }
    try {
      const discovered = await discoverHostname({ host: monitorHost.host, port: monitorHost.port ?? 5432 });
      hostname = discovered.hostname;
      log.info(discovered.source === 'ip' ? `Using local IP address "${discovered.ip}" as the --hostname.`
        : `Using --hostname "${discovered.hostname}", which resolves to IP address "${discovered.ip}"`);
    } catch (error) {
      throw badArgs(`Failed to auto-detect the hostname of this machine, please provide one via --hostname (${messageOf(error)})`);
    }
  } else {
    const warning = await checkGivenHostname(hostname);
    if (warning) log.warn(warning);
  }

  const budget = createRetryBudgetMs(options.env);
  const client = await connectMonitorForCreate({ uri: options.monitorUri, log, env: options.env, retryBudgetMs: budget });
  const created: string[] = [];
  try {
    await checkFormation(client, options.formation, options.dbname, log);
    let config = buildConfig(existing ?? defaultKeeperConfig({ pgdata, hostname }), options, hostname, port, httpPort, bin, pgdata);
    if (existing === undefined) created.push(paths.config);
    await writeConfigFile(paths.config, config);
    log.info(`Writing configuration file at "${paths.config}"`);

    let written: KeeperState | undefined;
    const node = await registerWithMonitor({
      client,
      log,
      retryBudgetMs: budget,
      args: {
        formation: options.formation,
        host: hostname,
        port,
        dbname: options.dbname,
        ...(options.name === undefined ? {} : { name: options.name }),
        ...(found.sysid === undefined ? {} : { sysIdentifier: found.sysid }),
        initialState: 'init',
        kind: 'standalone',
        candidatePriority: options.candidatePriority,
        replicationQuorum: options.replicationQuorum,
      },
      recordLocally: async (registered, token) => {
        await writeNodeToken(paths.token, token);
        written = initialKeeperState({
          currentNodeId: registered.nodeId,
          currentGroup: registered.groupId,
          assignedRole: registered.goalState,
          currentRole: 'init',
          systemIdentifier: found.sysid ?? 0n,
        });
        log.info(`Writing keeper state file at "${paths.state}"`);
        await writeKeeperState(paths.state, written);
        config = {
          ...config,
          pg_autoctl: { ...config.pg_autoctl, group: registered.groupId, name: registered.name },
          replication: { ...config.replication, backup_directory: backupDirectoryForNode(pgdata, registered.nodeId) },
        };
        await writeConfigFile(paths.config, config);
        log.info(`Writing keeper init state file at "${paths.init}"`);
        await writeInitFile(paths.init, found.state);
      },
      undoLocally: async () => {
        rmSync(paths.state, { force: true });
        await removeInitFile(paths.init);
        await removeNodeToken(paths.token);
      },
    });
    log.info(`Registered node ${node.nodeId} "${node.name}" (${hostname}:${port}) in formation "${options.formation}", group ${node.groupId}, state "${node.goalState}"`);
    log.info(`Successfully registered to the monitor with node id ${node.nodeId}; the monitor now assigns its first state`);
    if (written === undefined) throw new AutoctlError('INTERNAL', 'the registration did not write the state file');
    return { outcome: 'registered', paths, config, state: written };
  } catch (error) {
    for (const file of created) rmSync(file, { force: true });
    throw error;
  } finally {
    await closeQuietly(client);
  }
}

async function closeQuietly(client: pg.Client): Promise<void> {
  await client.end().catch(() => undefined);
}
