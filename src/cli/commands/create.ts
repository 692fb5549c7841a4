/**
 * `pg_autoctl create monitor|postgres|formation` (spec 04 §3).
 */
import type { Command } from 'commander';
import { badArgs } from '../../common/errors.js';
import { checkGivenHostname, DEFAULT_ROUTE, discoverHostname } from '../../postgres/index.js';
import { createMonitor } from '../../monitor/create-monitor.js';
import { contextFor, type CommandContext } from '../context.js';
import { resolveAuth } from '../options/auth.js';
import { resolveSslOptions, type SslOptionsInput } from '../options/ssl.js';
import { parsePgBool, parsePort } from '../options/values.js';
import { group, withCommonOptions } from '../tree.js';
import { resolvePgdata } from '../target.js';
import { registerCreatePostgres } from './create-postgres.js';
import { runNode } from './run-node.js';

interface CreateMonitorFlags extends SslOptionsInput {
  pgdata?: string;
  pgport?: string;
  pgctl?: string;
  hostname?: string;
  listen?: string;
  auth?: string;
  skipPgHba?: boolean;
  run?: boolean;
}

/** Adds the SSL options shared by create monitor, create postgres and enable ssl. */
export function withSslOptions(cmd: Command): Command {
  return cmd
    .option('--ssl-self-signed', 'setup network encryption using self signed certificates (does NOT protect against MITM)')
    .option('--no-ssl', 'don\'t enable network encryption (NOT recommended, prefer --ssl-self-signed)')
    .option('--ssl-mode <mode>', 'use that sslmode in connection strings')
    .option('--ssl-ca-file <file>', 'set the Postgres ssl_ca_file to that file path')
    .option('--ssl-crl-file <file>', 'set the Postgres ssl_crl_file to that file path')
    .option('--server-cert <file>', 'set the Postgres ssl_cert_file to that file path')
    .option('--server-key <file>', 'set the Postgres ssl_key_file to that file path');
}

/**
 * Commander turns `--no-ssl` into `ssl: false` (default true); map it back
 * and let PG_AUTOCTL_SSL_SELF_SIGNED stand for --ssl-self-signed.
 */
export function sslInput(flags: SslOptionsInput & { ssl?: boolean }, ctx: CommandContext): SslOptionsInput {
  const selfSigned = flags.sslSelfSigned
    ?? (ctx.env.PG_AUTOCTL_SSL_SELF_SIGNED ? parsePgBool(ctx.env.PG_AUTOCTL_SSL_SELF_SIGNED, 'PG_AUTOCTL_SSL_SELF_SIGNED') : undefined);
  const input: SslOptionsInput = { noSsl: flags.ssl === false };
  if (selfSigned !== undefined) input.sslSelfSigned = selfSigned;
  for (const key of ['sslMode', 'sslCaFile', 'sslCrlFile', 'serverCert', 'serverKey'] as const) {
    const value = flags[key];
    if (typeof value === 'string') input[key] = value;
  }
  return input;
}

export function defaultPort(ctx: CommandContext, given: string | undefined): number {
  if (given !== undefined) return parsePort(given);
  const env = ctx.env.PGPORT;
  if (env === undefined || env === '') return 5432;
  try {
    return parsePort(env, 'PGPORT');
  } catch {
    ctx.log.warn(`Failed to parse PGPORT value "${env}", using 5432`);
    return 5432;
  }
}

async function createMonitorCommand(flags: CreateMonitorFlags, cmd: Command): Promise<void> {
  const ctx = contextFor(cmd);
  const auth = resolveAuth(flags.auth ?? ctx.env.PG_AUTOCTL_AUTH_METHOD, flags.skipPgHba);
  const ssl = resolveSslOptions(sslInput(flags, ctx), ctx.cwd);
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  const port = defaultPort(ctx, flags.pgport);
  for (const note of ssl.notes) ctx.log[note.level](note.message);

  let hostname = flags.hostname;
  if (hostname === undefined) {
    const found = await discoverHostname(DEFAULT_ROUTE, { tryGethostname: true });
    hostname = found.hostname;
    ctx.log.info(found.source === 'ip' ? `Using local IP address "${found.ip}" as the --hostname.`
      : `Using --hostname "${found.hostname}", which resolves to IP address "${found.ip}"`);
  } else {
    const warning = await checkGivenHostname(hostname);
    if (warning) ctx.log.warn(warning);
  }
  if (hostname === '') throw badArgs('--hostname must not be empty');

  const created = await createMonitor({
    pgdata, port, pgctl: flags.pgctl, hostname, listen: flags.listen ?? '*',
    authMethod: auth.method, skipHba: auth.skipHba, ssl, env: ctx.env, cwd: ctx.cwd,
  }, ctx.log, Boolean(flags.run));
  if (flags.run) process.exitCode = await runNode(ctx, created.paths.pgdata);
}

export function registerCreateCommands(program: Command): void {
  const create = group(program, 'create', 'Create a pg_auto_failover node, or formation');

  const monitor = withCommonOptions(create.command('monitor').description('Initialize a pg_auto_failover monitor node'))
    .option('--pgctl <path>', 'path to pg_ctl')
    .option('--pgdata <dir>', 'path to data directory')
    .option('--pgport <port>', 'PostgreSQL\'s port number')
    .option('--hostname <name>', 'hostname by which postgres is reachable')
    .option('--listen <addr>', 'PostgreSQL\'s listen_addresses')
    .option('--auth <method>', 'authentication method for connections from data nodes')
    .option('--skip-pg-hba', 'skip editing pg_hba.conf rules')
    .option('--run', 'create node then run pg_autoctl service');
  withSslOptions(monitor).action(createMonitorCommand);
  registerCreatePostgres(create);
}
