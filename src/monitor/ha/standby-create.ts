/**
 * `pg_autoctl create monitor --standby-of <monitor URI>` (docs/architecture.md
 * "Monitor high availability", design point 2): a streaming standby of a
 * running monitor's database.
 *
 * 1. Checks everything local first (PGDATA missing or empty, port free),
 *    then connects to the primary monitor: it must be writable and know
 *    monitor members. Nothing is written before these checks pass.
 * 2. Writes the configuration (`ha.peers` = the primary's URI), registers
 *    (hostname, port) as a member, and waits for the primary's service to
 *    create the member's slot and to open its HBA to the replication role.
 * 3. pg_basebackup through the slot, then makes the copy its own: settings
 *    file (its port, listen addresses, SSL), HBA rules for its keepers,
 *    synchronous_standby_names removed (a promoted copy naming itself would
 *    block every commit), standby.signal with primary_conninfo
 *    (application_name = slot name) and primary_slot_name.
 * 4. Starts Postgres and waits until it streams (proof that the slot, HBA
 *    and credentials work); stops it again unless --run.
 *
 * Any failure undoes what this run did: Postgres stopped, PGDATA removed,
 * member row removed (the primary then drops the slot), configuration file
 * removed.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import type pg from 'pg';
import { AutoctlError, badArgs, messageOf } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { maskSecrets } from '../../common/secrets.js';
import { writeFileAtomic } from '../../common/atomic-file.js';
import {
  checkPidFile, ensurePaths, isMonitorConfig, pathsFor, readConfigFile, writeConfigFile,
} from '../../config/index.js';
import {
  currentMonitorEpoch, monitorMembers, registerMonitorMember, removeMonitorMember, type MonitorMember,
} from '../../monitor-api/index.js';
import {
  classifyPgData, connectClient, createSelfSignedCertificate, findPgBinaries, getParam, hostResources,
  identifySystem, parseConnInfo, pgBasebackup, renderMonitorSettingsFile, replicationConninfo,
  scrubPasswords, sslModeOf, spawnPostmaster, stopPostgres, waitForPostgresReady, walReceiverStatus, writeAutoFailoverSettings,
  writeStandbySetup, type ConnInfo, type ReplicationSource,
} from '../../postgres/index.js';
import { connectLocal } from '../../postgres/local-client.js';
import { ensurePortFree, monitorConfigFor, Rollback, writeMonitorHba, type CreatedMonitor, type CreateMonitorOptions } from '../create-monitor.js';
import { MONITOR_REPLICATOR } from './members-loop.js';

export { MONITOR_REPLICATOR };

/** How long the primary's service may take to create the slot and HBA rule. */
const PRIMARY_PREPARE_TIMEOUT_MS = 30_000;
/** How long the new standby may take to stream once started. */
const STREAM_TIMEOUT_MS = 60_000;
const CONNECT_TIMEOUT_MS = 5000;

export interface CreateStandbyMonitorOptions extends CreateMonitorOptions {
  /** `--standby-of`: the primary monitor's URI (multi-host allowed: the writable host is used). */
  standbyOf: string;
}

/** Parses --standby-of; a one-line BAD_ARGS error otherwise. */
export function parseStandbyOf(text: string): ConnInfo {
  if (text.trim() === '') throw badArgs('--standby-of must not be empty: give the URI of the primary monitor');
  if (text.length >= 1024) throw badArgs('Failed to parse --standby-of connection string: it is 1024 bytes or longer');
  let info: ConnInfo;
  try {
    info = parseConnInfo(text);
  } catch (error) {
    throw badArgs(`Failed to parse --standby-of connection string "${maskSecrets(text)}": ${maskSecrets(messageOf(error))}`);
  }
  if (info.hosts.length === 0 || info.hosts.some((h) => h.host.startsWith('/'))) {
    throw badArgs(`--standby-of "${maskSecrets(text)}" names no TCP host: give the primary monitor's URI, as printed by pg_autoctl show uri --formation monitor`);
  }
  return info;
}

/**
 * Where a standby monitor streams from: the primary monitor's host and
 * port, as `pgautofailover_replicator` with the member's slot name as
 * application_name, the SSL parameters of the monitor URI `via`, and the
 * password `password` (config `replication.password`), else PGPASSWORD,
 * else none (libpq's ~/.pgpass).
 */
export function monitorReplicationSource(primary: { host: string; port: number }, slotName: string, via: ConnInfo,
  env: NodeJS.ProcessEnv, password?: string): ReplicationSource {
  return {
    host: primary.host,
    port: primary.port,
    user: MONITOR_REPLICATOR,
    password: password || env.PGPASSWORD || undefined,
    applicationName: slotName,
    sslMode: sslModeOf(via),
    sslRootCert: getParam(via, 'sslrootcert'),
    sslCrl: getParam(via, 'sslcrl'),
  };
}

/**
 * Makes a stopped monitor PGDATA a standby of `source` (create --standby-of,
 * and an old primary rejoining): standby.signal, primary_conninfo,
 * primary_slot_name = the member's slot, recovery_target_timeline latest;
 * and no synchronous_standby_names in postgresql.auto.conf (a standby
 * promoted later would otherwise wait for itself). True when the standby
 * settings changed.
 */
export function writeMonitorStandbySetup(pgdata: string, source: ReplicationSource, log?: Logger): boolean {
  dropSynchronousStandbyNames(pgdata, log);
  return writeStandbySetup(pgdata, {
    primaryConninfo: replicationConninfo(source, { includePassword: true }),
    primarySlotName: source.applicationName,
    recoveryTargetTimeline: 'latest',
  }, log);
}

function dropSynchronousStandbyNames(pgdata: string, log?: Logger): void {
  const autoConf = join(pgdata, 'postgresql.auto.conf');
  if (!existsSync(autoConf)) return;
  const { text, changed } = withoutSynchronousStandbyNames(readFileSync(autoConf, 'utf8'));
  if (changed) {
    writeFileAtomic(autoConf, text, { mode: 0o600 });
    log?.info(`Removed synchronous_standby_names from "${autoConf}"`);
  }
}

/** Removes synchronous_standby_names from a postgresql.auto.conf text. */
export function withoutSynchronousStandbyNames(autoConf: string): { text: string; changed: boolean } {
  const lines = autoConf.split('\n');
  const kept = lines.filter((line) => !/^\s*synchronous_standby_names\s*=/.test(line));
  return { text: kept.join('\n'), changed: kept.length !== lines.length };
}

async function waitUntil<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = messageOf(error);
    }
    if (performance.now() > deadline) throw new AutoctlError('MONITOR', `${what}${last === '' ? '' : ` (last error: ${last})`}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function createStandbyMonitor(options: CreateStandbyMonitorOptions, log: Logger, keepRunning: boolean): Promise<CreatedMonitor> {
  const primaryInfo = parseStandbyOf(options.standbyOf);
  const shownUri = scrubPasswords(options.standbyOf);
  const rollback = new Rollback();
  const configPath = pathsFor(options.pgdata, options.env, options.cwd).config;
  const configExisted = existsSync(configPath);

  // 1. Local checks, then the primary: nothing written yet.
  const kind = classifyPgData(options.pgdata);
  if (kind !== 'missing' && kind !== 'empty') {
    throw badArgs(`PGDATA "${options.pgdata}" is not empty: a standby monitor is created by a base backup into a missing or empty directory`);
  }
  if (configExisted) {
    const existing = await readConfigFile(configPath);
    if (!isMonitorConfig(existing)) throw new AutoctlError('BAD_CONFIG', `"${configPath}" belongs to a keeper node, not a monitor`);
  }
  await ensurePortFree(options.port, options.pgdata);
  const bin = await findPgBinaries({ ...(options.pgctl ? { pgctl: options.pgctl } : {}), env: options.env });

  let primary: pg.Client;
  try {
    primary = await connectClient(primaryInfo, { connectTimeoutMs: CONNECT_TIMEOUT_MS, applicationName: 'pg_autoctl', env: options.env });
  } catch (error) {
    throw new AutoctlError('MONITOR', `Failed to connect to the primary monitor at "${shownUri}": ${messageOf(error)}`);
  }
  primary.on('error', () => undefined);
  const primaryHost = (primary as unknown as { host?: string }).host ?? primaryInfo.hosts[0]?.host ?? '';
  const primaryPort = (primary as unknown as { port?: number }).port ?? primaryInfo.hosts[0]?.port ?? 5432;
  let member: MonitorMember;
  try {
    const epoch = await currentMonitorEpoch(primary).catch((error: unknown) => {
      throw new AutoctlError('MONITOR', `"${shownUri}" is not a pg_auto_failover monitor of this version: ${messageOf(error)}`);
    });
    if (!epoch.writable) throw badArgs(`the monitor at "${shownUri}" is not writable (a standby?): give the URI of the primary monitor`);
    const members = await monitorMembers(primary).catch((error: unknown) => {
      throw new AutoctlError('MONITOR', `the monitor at "${shownUri}" does not know monitor members yet (restart its pg_autoctl with this version): ${messageOf(error)}`);
    });
    const same = members.find((m) => m.hostname === options.hostname && m.port === options.port);
    if (same?.role === 'primary') {
      throw badArgs(`${options.hostname}:${options.port} is the primary monitor itself: give this standby its own --hostname or --pgport`);
    }
    if (!members.some((m) => m.role === 'primary')) {
      log.warn('The primary monitor has not registered itself as a member yet: is its pg_autoctl service running?');
    }
    const memberExisted = same !== undefined;

    // 2. Configuration and membership.
    const paths = await ensurePaths(options.pgdata, options.env, options.cwd);
    const pgdata = paths.pgdata;
    if (!configExisted) rollback.add(`remove "${paths.config}"`, () => { rmSync(paths.config, { force: true }); });
    const pidStatus = await checkPidFile(paths.pid, { removeStale: true });
    if (pidStatus.status === 'running') throw new AutoctlError('BAD_STATE', `pg_autoctl is already running with pid ${pidStatus.pidFile.pid}`);

    const config = await monitorConfigFor(options, paths.config, configExisted, pgdata, bin);

    try {
      await writeConfigFile(paths.config, config);
      member = await registerMonitorMember(primary, options.hostname, options.port);
      if (!memberExisted) {
        rollback.add(`remove monitor member ${member.memberId} from the primary monitor`, async () => {
          // A fresh session: the one used so far may be what failed.
          const again = await connectClient(primaryInfo, { connectTimeoutMs: CONNECT_TIMEOUT_MS, applicationName: 'pg_autoctl', env: options.env });
          try {
            await removeMonitorMember(again, member.memberId);
            log.info(`Removed monitor member ${member.memberId} from the primary monitor`);
          } finally {
            await again.end().catch(() => undefined);
          }
        });
      }
      log.info(`Registered as monitor member ${member.memberId} (${member.hostname}:${member.port}) of the primary monitor at ${primaryHost}:${primaryPort}`);

      const slot = member.slotName;
      await waitUntil(`the primary monitor did not create replication slot "${slot}" within ${PRIMARY_PREPARE_TIMEOUT_MS / 1000} s: is its pg_autoctl service running, with this version?`,
        PRIMARY_PREPARE_TIMEOUT_MS, async () => ((await monitorMembers(primary)).find((m) => m.memberId === member.memberId)?.slotExists ? true : undefined));
      const source = monitorReplicationSource({ host: primaryHost, port: primaryPort }, slot, primaryInfo, options.env,
        config.replication.password);
      // Another application_name for the base backup's WAL stream: the
      // primary must not take it for this member streaming.
      const backupSource: ReplicationSource = { ...source, applicationName: 'pg_autoctl standby monitor base backup' };
      await waitUntil(`the primary monitor at ${primaryHost}:${primaryPort} does not let "${MONITOR_REPLICATOR}" replicate from this host `
        + `after ${PRIMARY_PREPARE_TIMEOUT_MS / 1000} s (its pg_hba.conf, or the role's password: PGPASSWORD or ~/.pgpass)`,
      PRIMARY_PREPARE_TIMEOUT_MS, async () => identifySystem(backupSource, { env: options.env }));

      // 3. The copy.
      const backupDir = join(dirname(pgdata), `.${basename(pgdata)}.standby-backup`);
      rollback.add(`remove "${pgdata}"`, () => {
        rmSync(backupDir, { recursive: true, force: true });
        if (kind === 'missing') rmSync(pgdata, { recursive: true, force: true });
        else if (existsSync(pgdata)) for (const name of readdirSync(pgdata)) rmSync(join(pgdata, name), { recursive: true, force: true });
        else mkdirSync(pgdata, { mode: 0o700 });
      });
      await pgBasebackup(bin, pgdata, { source: backupSource, slotName: slot, backupDir, env: options.env, log });
      makeCopyOurs(pgdata, options, config, log);
      if (options.ssl.createCertificates) {
        for (const f of ['server.crt', 'server.key']) rmSync(join(pgdata, f), { force: true });
        await createSelfSignedCertificate(pgdata, options.hostname, { log, env: options.env });
      }
      await writeMonitorHba(options, pgdata, log);
      writeMonitorStandbySetup(pgdata, source, log);

      // 4. Start, stream.
      const postmaster = spawnPostmaster(bin, pgdata, {
        port: options.port, listenAddresses: options.listen, logFile: `${pgdata}/startup.log`, env: options.env,
      });
      rollback.add('stop postgres', async () => { await stopPostgres(pgdata, 'immediate', 60_000); });
      await waitForPostgresReady(pgdata, { timeoutMs: STREAM_TIMEOUT_MS, postmaster });
      const local = await connectLocal(pgdata, 'pg_auto_failover');
      try {
        await waitUntil(`the standby monitor does not stream from ${primaryHost}:${primaryPort} after ${STREAM_TIMEOUT_MS / 1000} s`
          + ` (see "${pgdata}/log")`, STREAM_TIMEOUT_MS, async () => ((await walReceiverStatus(local))?.status === 'streaming' ? true : undefined));
      } finally {
        await local.end().catch(() => undefined);
      }
      log.info(`Postgres is now serving PGDATA "${pgdata}" on port ${options.port} with pid ${postmaster.pid}, `
        + `streaming from the primary monitor at ${primaryHost}:${primaryPort} through slot "${slot}"`);
      log.info(`Your pg_auto_failover standby monitor (member ${member.memberId}) is now ready on port ${options.port}.`);
      log.info('The primary monitor adds it to its synchronous standbys: while this standby does not stream, '
        + 'the monitor\'s writes wait for it (remove it from the primary to stop that).');

      if (!keepRunning) {
        await stopPostgres(pgdata, 'fast', 60_000, { log });
        log.warn('Run "pg_autoctl run" for this standby monitor now: the primary monitor waits for it.');
        return { paths, config, bin, postmasterPid: null };
      }
      postmaster.unref();
      return { paths, config, bin, postmasterPid: postmaster.pid };
    } catch (error) {
      log.error(`Failed to create the standby monitor: ${messageOf(error)}`);
      await rollback.run(log);
      throw error;
    }
  } finally {
    await primary.end().catch(() => undefined);
  }
}

/** The copied PGDATA gets this monitor's own settings (its standby setup follows). */
function makeCopyOurs(pgdata: string, options: CreateStandbyMonitorOptions, config: { ssl: { ca_file: string; crl_file: string; cert_file: string; key_file: string } }, log: Logger): void {
  for (const name of ['postmaster.opts', 'startup.log']) rmSync(join(pgdata, name), { force: true });
  rmSync(join(pgdata, 'log'), { recursive: true, force: true });
  mkdirSync(join(pgdata, 'log'), { mode: 0o700 });
  writeAutoFailoverSettings(pgdata, renderMonitorSettingsFile({
    listenAddresses: options.listen,
    port: options.port,
    authMethod: options.authMethod ?? undefined,
    ssl: { active: options.ssl.active, caFile: config.ssl.ca_file, crlFile: config.ssl.crl_file, certFile: config.ssl.cert_file, keyFile: config.ssl.key_file },
    host: hostResources(),
  }), log);
}
