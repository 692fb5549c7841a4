/**
 * Options shared by `create monitor` and `create postgres` (and later
 * `enable ssl`): the SSL option family of spec 04 §3.3 and the default
 * Postgres port.
 */
import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import type { SslOptionsInput } from './ssl.js';
import { badArgs } from '../../common/errors.js';
import { parsePgBool, parsePort } from './values.js';

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

/** --pgport, else PGPORT (unparsable: a warning and 5432), else 5432. */
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

/** `--http-port` of create monitor|postgres: a TCP port, or 0 for no HTTP listener; undefined when not given. */
export function parseHttpPort(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || n > 65535) {
    throw badArgs(`--http-port argument "${value}" is not valid: expected a TCP port from 1 to 65535, or 0 for no HTTP listener`);
  }
  return n;
}
