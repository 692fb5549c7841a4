/**
 * `pg_autoctl enable|disable ssl` (spec 04 §6.3): new SSL settings for a
 * node, monitor or keeper, while it runs. The command checks the options
 * (spec 04 §3.3) before touching anything, makes the self-signed
 * certificate when asked, on a keeper moves the monitor URI to the new
 * sslmode once a connection with it works, writes the configuration, and
 * signals the running service: a keeper then rewrites its Postgres
 * settings (and a standby its primary_conninfo) and reloads Postgres; on a
 * monitor this command writes the Postgres settings itself and the
 * service's reload makes Postgres read them.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { AutoctlError, messageOf } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { maskSecrets } from '../../common/secrets.js';
import {
  isKeeperConfig, isMonitorConfig, isMonitorDisabled, writeConfigFile, type KeeperConfig, type MonitorConfig,
} from '../../config/index.js';
import {
  classifyPgData, createSelfSignedCertificate, formatUri, hostResources, parseConnInfo, renderMonitorSettingsFile, setParam,
  withClient, writeAutoFailoverSettings,
} from '../../postgres/index.js';
import { defineCommand, done, type CommandResult } from '../command.js';
import { withPgdata } from '../options/common.js';
import type { CommandContext } from '../context.js';
import { sslInput, withSslOptions } from '../options/create-node.js';
import { resolveSslOptions, type SslChoice, type SslOptionsInput } from '../options/ssl.js';
import { loadConfig, resolvePgdata } from '../target.js';
import { reloadRunningService } from './service.js';

interface SslFlags extends SslOptionsInput {
  ssl?: boolean;
  pgdata?: string;
}

type SslSection = KeeperConfig['ssl'];

/** The [ssl] section for a choice: a self-signed certificate lives in PGDATA. */
export function sslSectionFor(choice: SslChoice, pgdata: string): SslSection {
  return {
    active: choice.active ? 1 : 0,
    sslmode: choice.sslMode,
    ca_file: choice.caFile,
    crl_file: choice.crlFile,
    cert_file: choice.createCertificates ? join(pgdata, 'server.crt') : choice.serverCert,
    key_file: choice.createCertificates ? join(pgdata, 'server.key') : choice.serverKey,
  };
}

/**
 * The monitor URI with the sslmode of the new section, and its CA and CRL
 * (`sslrootcert`, `sslcrl`) when set, else without them.
 */
export function monitorUriWithSsl(uri: string, ssl: SslSection): string {
  let info = parseConnInfo(uri);
  info = setParam(info, 'sslmode', ssl.sslmode);
  info = setParam(info, 'sslrootcert', ssl.ca_file === '' ? undefined : ssl.ca_file);
  info = setParam(info, 'sslcrl', ssl.crl_file === '' ? undefined : ssl.crl_file);
  return formatUri(info);
}

/** Connects with the new URI and runs SELECT 1: only a URI that works replaces the old one. */
async function tryMonitorUri(uri: string, ctx: CommandContext): Promise<boolean> {
  ctx.log.info(`Trying to connect to monitor using connection string "${maskSecrets(uri)}"`);
  try {
    await withClient(uri, { connectTimeoutMs: 5000, applicationName: 'pg_autoctl', env: ctx.env }, async (client) => {
      await client.query('SELECT 1');
    });
    return true;
  } catch (error) {
    ctx.log.error(`Failed to connect to the monitor with "${maskSecrets(uri)}": ${maskSecrets(messageOf(error))}`);
    return false;
  }
}

async function makeCertificate(choice: SslChoice, pgdata: string, hostname: string, log: Logger, env: NodeJS.ProcessEnv): Promise<void> {
  if (!choice.createCertificates) return;
  if (classifyPgData(pgdata) !== 'postgres') {
    throw new AutoctlError('BAD_STATE', `Failed to create a self-signed certificate: "${pgdata}" holds no PostgreSQL cluster`);
  }
  try {
    await createSelfSignedCertificate(pgdata, hostname, { log, env });
  } catch (error) {
    throw new AutoctlError('INTERNAL', `Failed to create SSL self-signed certificate: ${messageOf(error)}`, { cause: error });
  }
}

function warnAboutHba(log: Logger, pgdata: string): void {
  log.warn(`HBA rules in "${pgdata}/pg_hba.conf" have NOT been edited: "host" records match both SSL and non-SSL connection attempts.`);
}

async function enableOnMonitor(ctx: CommandContext, paths: { config: string; pid: string }, config: MonitorConfig,
  choice: SslChoice, reload: () => Promise<boolean>): Promise<void> {
  const pgdata = config.postgresql.pgdata;
  await makeCertificate(choice, pgdata, config.pg_autoctl.hostname, ctx.log, ctx.env);
  warnAboutHba(ctx.log, pgdata);
  const next: MonitorConfig = { ...config, ssl: { ...sslSectionFor(choice, pgdata) } };
  await writeConfigFile(paths.config, next);
  // The monitor service does not rewrite its Postgres settings on reload: do it here.
  writeAutoFailoverSettings(pgdata, renderMonitorSettingsFile({
    listenAddresses: next.postgresql.listen_addresses || '*',
    port: next.postgresql.port,
    authMethod: next.postgresql.auth_method || undefined,
    ssl: { active: choice.active, caFile: next.ssl.ca_file, crlFile: next.ssl.crl_file, certFile: next.ssl.cert_file, keyFile: next.ssl.key_file },
    host: hostResources(),
  }), ctx.log);
  const reloaded = await reload();
  ctx.log.info('Successfully enabled new SSL configuration:');
  ctx.log.info(`  SSL is now ${choice.active ? 'active' : 'disabled'}`);
  if (choice.createCertificates) ctx.log.info('  A self-signed certificate is in place, named by the Postgres settings ssl_cert_file and ssl_key_file');
  if (reloaded) ctx.log.info('  The pg_autoctl service has been signaled to reload its configuration (and Postgres its settings)');
  else ctx.log.warn('  The pg_autoctl service is not running: the changes apply at its next start');
}

async function enableOnKeeper(ctx: CommandContext, paths: { config: string; pid: string }, config: KeeperConfig,
  choice: SslChoice, reload: () => Promise<boolean>): Promise<void> {
  const pgdata = config.postgresql.pgdata;
  const ssl = sslSectionFor(choice, pgdata);
  let monitor = config.pg_autoctl.monitor;
  let monitorUpdated: boolean | null = null;
  if (!isMonitorDisabled(config)) {
    const uri = monitorUriWithSsl(monitor, ssl);
    monitorUpdated = uri === monitor || (await tryMonitorUri(uri, ctx));
    if (monitorUpdated && uri !== monitor) {
      monitor = uri;
      ctx.log.info(`Updating the monitor URI to "${maskSecrets(uri)}"`);
    } else if (!monitorUpdated) {
      ctx.log.error('Failed to update the monitor URI, keeping the current one; run this command again once the monitor accepts the new sslmode');
    }
  }
  await makeCertificate(choice, pgdata, config.pg_autoctl.hostname, ctx.log, ctx.env);
  warnAboutHba(ctx.log, pgdata);
  const next: KeeperConfig = { ...config, pg_autoctl: { ...config.pg_autoctl, monitor }, ssl };
  await writeConfigFile(paths.config, next);
  const reloaded = await reload();
  ctx.log.info('Successfully enabled new SSL configuration:');
  ctx.log.info(`  SSL is now ${choice.active ? 'active' : 'disabled'}`);
  if (choice.createCertificates) ctx.log.info('  A self-signed certificate is in place, named by the Postgres settings ssl_cert_file and ssl_key_file');
  if (monitorUpdated === true) ctx.log.info(`  The connection string to the monitor uses sslmode "${ssl.sslmode}"`);
  else if (monitorUpdated === false) ctx.log.error('  The connection string to the monitor could not be updated, see above for details');
  ctx.log.info(`  The replication connection string primary_conninfo of a standby is updated by the service to use sslmode "${ssl.sslmode}"`);
  if (reloaded) ctx.log.info('  The pg_autoctl service has been signaled to reload its configuration');
  else ctx.log.error('  The pg_autoctl service is not running: the changes apply at its next start');
}

async function applySsl(ctx: CommandContext, pgdataFlag: string | undefined, input: SslOptionsInput): Promise<CommandResult<void>> {
  const pgdata = resolvePgdata(ctx, pgdataFlag);
  // Every option is checked before anything changes.
  const choice = resolveSslOptions(input, ctx.cwd);
  const { paths, config } = await loadConfig(ctx, pgdata);
  for (const note of choice.notes) ctx.log[note.level](note.message);
  const reload = async (): Promise<boolean> => {
    try {
      return await reloadRunningService(paths);
    } catch (error) {
      ctx.log.error(`Failed to reload the pg_autoctl service, restart it to use the new SSL settings: ${messageOf(error)}`);
      return false;
    }
  };
  if (isMonitorConfig(config)) await enableOnMonitor(ctx, paths, config, choice, reload);
  else if (isKeeperConfig(config)) await enableOnKeeper(ctx, paths, config, choice, reload);
  return done();
}

function enableSsl(flags: SslFlags, ctx: CommandContext): Promise<CommandResult<void>> {
  return applySsl(ctx, flags.pgdata, sslInput(flags, ctx));
}

/** `disable ssl` is `enable ssl --no-ssl`. */
function disableSsl(flags: { pgdata?: string }, ctx: CommandContext): Promise<CommandResult<void>> {
  return applySsl(ctx, flags.pgdata, { noSsl: true });
}

export function registerSslCommands(enable: Command, disable: Command): void {
  defineCommand(enable, {
    name: 'ssl',
    description: 'Enable SSL configuration on this node',
    options: (cmd) => withSslOptions(withPgdata(cmd)),
    run: enableSsl,
  });
  defineCommand(disable, {
    name: 'ssl',
    description: 'Disable SSL configuration on this node',
    options: withPgdata,
    run: disableSsl,
  });
}
