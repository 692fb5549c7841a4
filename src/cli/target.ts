/**
 * Selecting the target of a command (spec 04 §1.4): PGDATA from --pgdata
 * or the environment, the files derived from it, and the role found in
 * its configuration file.
 */
import { existsSync } from 'node:fs';
import { AutoctlError, badArgs } from '../common/errors.js';
import { bindLogIdentity, isLogFormat, useConfiguredLogFormat } from '../common/log.js';
import { isKeeperConfig, pathsFor, readConfigFile, type AnyConfig, type AutoctlPaths } from '../config/index.js';
import type { CommandContext } from './context.js';

export function resolvePgdata(ctx: CommandContext, given: string | undefined): string {
  const pgdata = given ?? ctx.env.PGDATA;
  if (pgdata === undefined || pgdata === '') {
    throw badArgs('Failed to set PGDATA either from the environment or from --pgdata');
  }
  if (given !== undefined) process.env.PGDATA = given;
  return pgdata;
}

export function pathsOf(ctx: CommandContext, pgdata: string): AutoctlPaths {
  return pathsFor(pgdata, ctx.env, ctx.cwd);
}

/** Reads the node's configuration file; a clear error when it is missing. */
export async function loadConfig(ctx: CommandContext, pgdata: string): Promise<{ paths: AutoctlPaths; config: AnyConfig }> {
  const paths = pathsOf(ctx, pgdata);
  if (!existsSync(paths.config)) {
    throw new AutoctlError('BAD_ARGS', `Expected configuration file does not exist: "${paths.config}"`,
      existsSync(paths.pgdata) ? {} : { hint: `Check your PGDATA setting: "${paths.pgdata}"` });
  }
  const config = await readConfigFile(paths.config);
  logAsConfigured(ctx, config);
  return { paths, config };
}

/**
 * What the node's configuration says of logging: its log format, unless
 * --log-format or PG_AUTOCTL_LOG_FORMAT chose one, and for a keeper the
 * node's formation, group and name on every JSON line.
 */
export function logAsConfigured(ctx: CommandContext, config: AnyConfig): void {
  const format = config.pg_autoctl.log_format;
  if (isLogFormat(format)) useConfiguredLogFormat(ctx.log, format);
  if (isKeeperConfig(config)) {
    const { formation, group, name } = config.pg_autoctl;
    bindLogIdentity(ctx.log, { formation, group, node: name });
  }
}
