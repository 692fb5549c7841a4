/**
 * `pg_autoctl config check|get|set` (spec 04 §9): the node's pg_autoctl.cfg
 * (keeper or monitor, src/config/), read, changed key by key with type
 * checking, and the running service told to reload it.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { AutoctlError, badArgs, messageOf } from '../../common/errors.js';
import { formatLsn } from '../../common/lsn.js';
import { maskSecrets } from '../../common/secrets.js';
import {
  changePolicyOf, checkPidFile, getConfigValue, isKeeperConfig, isMonitorDisabled, setConfigValue, writeConfigFile,
  type AnyConfig, type AutoctlPaths,
} from '../../config/index.js';
import { hasMonitorSchema } from '../../monitor-api/index.js';
import {
  connectLocal, localConninfo, pgCtlVersion, postgresStatus, readControlData,
} from '../../postgres/index.js';
import { defineCommand, type CommandResult } from '../command.js';
import { withPgdata } from '../options/common.js';
import type { CommandContext } from '../context.js';
import { connectMonitor, resolveMonitor } from '../monitor-target.js';
import {
  configCheckRendering, configGetRendering, isTextOnly, type ConfigCheckData, type ConfigGetData,
} from '../render/config.js';
import { group } from '../tree.js';
import { loadConfig, resolvePgdata } from '../target.js';

interface PgdataFlags { pgdata?: string }

/** The words of a variadic argument (commander passes them as one array). */
function wordsOf(args: readonly string[]): string[] {
  const first: unknown = args[0];
  return Array.isArray(first) ? first.map(String) : [];
}

/**
 * The configuration completed by setup discovery, as 2.0's `config get`
 * prints it: an unset `postgresql.host` shows the socket directory of the
 * running Postgres (spec 04 §9.1).
 */
export function discoveredConfig(config: AnyConfig): AnyConfig {
  if (config.postgresql.host !== '') return config;
  const pg = postgresStatus(config.postgresql.pgdata);
  if (pg.state !== 'running' || pg.socketDir === '') return config;
  return { ...config, postgresql: { ...config.postgresql, host: pg.socketDir } } as AnyConfig;
}

async function configGet(flags: PgdataFlags, ctx: CommandContext, args: readonly string[]): Promise<CommandResult<ConfigGetData>> {
  const words = wordsOf(args);
  if (words.length > 1) throw badArgs(`Failed to parse command line arguments: expected at most one option name, found ${words.length}`);
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  const { config } = await loadConfig(ctx, pgdata);
  const shown = discoveredConfig(config);
  const path = words[0];
  if (path === undefined) return { kind: 'data', data: { kind: 'all', config: shown } };
  const value = getConfigValue(shown, path);
  if (!value.ok) throw badArgs(value.errors);
  return { kind: 'data', data: { kind: 'value', value: value.value, textOnly: true } };
}

/** Signals the running service (if any) to reload its configuration; returns whether one was running. */
async function reloadService(ctx: CommandContext, paths: AutoctlPaths): Promise<boolean> {
  const status = await checkPidFile(paths.pid);
  if (status.status !== 'running') return false;
  try {
    process.kill(status.pidFile.pid, 'SIGHUP');
  } catch (error) {
    throw new AutoctlError('INTERNAL', `Failed to signal the pg_autoctl service (pid ${status.pidFile.pid}) to reload its configuration: ${messageOf(error)}`);
  }
  ctx.log.info(`Signaled the pg_autoctl service (pid ${status.pidFile.pid}) to reload its configuration`);
  return true;
}

/** A hook (hooks.on_*) must be a program this user can run: the keeper runs it as this user, without a shell. */
function checkHookProgram(path: string, program: string): void {
  try {
    if (!statSync(program).isFile()) throw new Error('not a regular file');
    accessSync(program, constants.X_OK);
  } catch (error) {
    throw new AutoctlError('BAD_CONFIG', `Failed to set ${path} to "${program}": cannot run it: ${messageOf(error)}`);
  }
}

async function configSet(flags: PgdataFlags, ctx: CommandContext, args: readonly string[]): Promise<CommandResult<ConfigGetData>> {
  const words = wordsOf(args);
  const [path, text] = words;
  if (words.length !== 2 || path === undefined || text === undefined) throw badArgs(`Two arguments are expected, found ${words.length}`);
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  const { paths, config } = await loadConfig(ctx, pgdata);
  const changed = setConfigValue(config, path, text);
  if (!changed.ok) throw badArgs(changed.errors);
  const next = changed.value;
  // Re-validate what the new value points to, before anything is written.
  if (path === 'postgresql.pg_ctl') {
    try {
      await pgCtlVersion(next.postgresql.pg_ctl, ctx.env);
    } catch (error) {
      throw new AutoctlError('BAD_CONFIG', `Failed to set postgresql.pg_ctl to "${text}": cannot run it: ${messageOf(error)}`);
    }
  }
  if (/^hooks\.on_/.test(path) && text.trim() !== '') checkHookProgram(path, text.trim());
  await writeConfigFile(paths.config, next);
  const value = getConfigValue(next, path);
  const role = isKeeperConfig(config) ? 'keeper' : 'monitor';
  const running = await reloadService(ctx, paths);
  if (running && changePolicyOf(role, path) === 'offline') {
    ctx.log.warn(`${path} is taken into account only when pg_autoctl starts: restart the service for the new value to be used`);
  }
  return { kind: 'data', data: { kind: 'value', value: value.ok ? value.value : text, textOnly: true } };
}

/** Settings that replication needs on a keeper's Postgres (the values the keeper writes, spec 05). */
const REQUIRED_SETTINGS_SQL = `
  SELECT current_setting('wal_level') IN ('replica', 'logical')
     AND current_setting('max_wal_senders')::int >= 12
     AND current_setting('max_replication_slots')::int >= 12
     AND current_setting('wal_log_hints') = 'on'
     AND current_setting('hot_standby') = 'on' AS ok`;

async function configCheck(flags: PgdataFlags, ctx: CommandContext): Promise<CommandResult<ConfigCheckData>> {
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  const { config } = await loadConfig(ctx, pgdata);
  const dataDir = config.postgresql.pgdata;
  const pg = postgresStatus(dataDir);
  if (pg.state === 'no-cluster') throw new AutoctlError('BAD_CONFIG', `PGDATA "${dataDir}" is not a PostgreSQL data directory`);
  if (pg.state !== 'running') throw new AutoctlError('BAD_CONFIG', `Postgres is not running for PGDATA "${dataDir}": config check needs it running`);
  ctx.log.info(`Postgres setup for PGDATA "${dataDir}" is ok, running with PID ${pg.pid} and port ${pg.port}`);

  const pgCtl = config.postgresql.pg_ctl;
  let version: string;
  try {
    version = (await pgCtlVersion(pgCtl, ctx.env)).full;
  } catch (error) {
    throw new AutoctlError('BAD_CONFIG', `Failed to run postgresql.pg_ctl "${pgCtl}": ${messageOf(error)}`);
  }
  const control = await readControlData({ binDir: dirname(pgCtl) }, dataDir, ctx.env);

  const keeper = isKeeperConfig(config);
  const dbname = config.postgresql.dbname;
  const user = keeper ? config.postgresql.username || undefined : undefined;
  const host = config.postgresql.host || pg.socketDir || undefined;
  const conninfo = localConninfo({ port: pg.port, dbname, host, user });
  let inRecovery: boolean;
  let client;
  try {
    client = await connectLocal(dataDir, dbname, { user, host, port: pg.port, connectTimeoutMs: 5000, env: ctx.env });
  } catch (error) {
    throw new AutoctlError('BAD_CONFIG', `Failed to connect to the local Postgres using "${conninfo}": ${messageOf(error)}`);
  }
  try {
    ctx.log.info(`Connection to local Postgres ok, using "${conninfo}"`);
    inRecovery = (await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]?.r === true;
    if (keeper) {
      const ok = (await client.query<{ ok: boolean }>(REQUIRED_SETTINGS_SQL)).rows[0]?.ok === true;
      if (ok) ctx.log.info('Postgres configuration settings required for pg_auto_failover are ok');
      else ctx.log.warn('Postgres configuration settings required for pg_auto_failover are not all set: check wal_level, max_wal_senders, max_replication_slots, wal_log_hints and hot_standby');
      const major = Number(/^\d+/.exec(version)?.[0] ?? '0');
      if (major >= 11) ctx.log.info(`Postgres version "${version}" allows using replication slots on the standby nodes`);
    } else if (await hasMonitorSchema(client)) {
      ctx.log.info('The pg_auto_failover monitor schema is installed');
    } else {
      ctx.log.warn(`The database "${dbname}" holds no pg_auto_failover monitor schema`);
    }
  } finally {
    await client.end().catch(() => undefined);
  }

  if (keeper && !isMonitorDisabled(config)) {
    const target = await resolveMonitor(ctx, { pgdata });
    const monitor = await connectMonitor(ctx, target);
    try {
      ctx.log.info(`Connection to monitor ok, using "${maskSecrets(target.uri)}"`);
      if (await hasMonitorSchema(monitor)) ctx.log.info('Monitor is running the pg_auto_failover schema, as expected');
      else ctx.log.warn('The monitor database holds no pg_auto_failover schema');
    } finally {
      await monitor.end().catch(() => undefined);
    }
  }

  return {
    kind: 'data',
    data: {
      pgdata: dataDir,
      pgCtl,
      version,
      host: host ?? '',
      port: pg.port,
      proxyport: keeper ? config.postgresql.proxyport : 0,
      pid: pg.pid,
      inRecovery,
      control: {
        clusterState: control.clusterState,
        version: control.pgControlVersion,
        catalogVersion: control.catalogVersion,
        systemIdentifier: control.systemIdentifier,
        latestCheckpointLsn: formatLsn(control.latestCheckpointLsn),
      },
      pmStatus: pg.pmStatus ?? 'unknown',
      config,
    },
  };
}

export function registerConfigCommands(program: Command): void {
  const config = group(program, 'config', 'Manages the pg_autoctl configuration');
  defineCommand(config, {
    textOnly: isTextOnly,
    name: 'check',
    description: 'Check pg_autoctl configuration',
    json: true,
    options: withPgdata,
    run: configCheck,
    render: configCheckRendering,
  });
  defineCommand(config, {
    textOnly: isTextOnly,
    name: 'get',
    description: 'Get the value of a given pg_autoctl configuration variable',
    json: true,
    options: (cmd) => withPgdata(cmd).argument('[option...]', 'section.option'),
    run: configGet,
    render: configGetRendering,
  });
  defineCommand(config, {
    textOnly: isTextOnly,
    name: 'set',
    description: 'Set the value of a given pg_autoctl configuration variable',
    json: true,
    options: (cmd) => withPgdata(cmd).argument('[option...]', 'section.option value'),
    run: configSet,
    render: configGetRendering,
  });
}
