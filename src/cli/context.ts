/**
 * What every command handler gets: a logger at the level chosen by -v/-q,
 * the environment and working directory (read once, here, at the edge),
 * and whether --json was asked for. No way to print: handlers return data
 * (see ./command.ts).
 */
import type { Command } from 'commander';
import { badArgs } from '../common/errors.js';
import { createLogger, isLogFormat, LOG_FORMATS, type LogFormat, type Logger, type LogLevel } from '../common/log.js';

export interface CommandContext {
  log: Logger;
  env: NodeJS.ProcessEnv;
  cwd: string;
  json: boolean;
  /**
   * Live progress on stdout, for commands that follow a change as it
   * happens (the notification table of `perform --wait`, as 2.0 prints it
   * row by row). Only in text mode: with --json the result alone is printed.
   */
  progress?: (text: string) => void;
}

export interface CommonOptions { verbose?: number; quiet?: boolean; json?: boolean; logFormat?: string }

export function levelFor(opts: CommonOptions, env: NodeJS.ProcessEnv): LogLevel {
  if (opts.quiet) return 'error';
  const v = opts.verbose ?? 0;
  if (v >= 3) return 'trace';
  if (v === 2 || env.PG_AUTOCTL_DEBUG) return 'debug';
  return 'info';
}

/**
 * The log format chosen by --log-format, else PG_AUTOCTL_LOG_FORMAT;
 * undefined leaves it to the node's configuration (`pg_autoctl.log_format`,
 * applied where the configuration is read), then text.
 */
export function logFormatFor(opts: CommonOptions, env: NodeJS.ProcessEnv): LogFormat | undefined {
  const check = (value: string, where: string): LogFormat => {
    if (isLogFormat(value)) return value;
    throw badArgs(`Unknown log format "${value}" in ${where}: expected one of ${LOG_FORMATS.join(', ')}`);
  };
  if (opts.logFormat !== undefined) return check(opts.logFormat, '--log-format');
  const fromEnv = env.PG_AUTOCTL_LOG_FORMAT;
  if (fromEnv !== undefined && fromEnv !== '') return check(fromEnv, 'PG_AUTOCTL_LOG_FORMAT');
  return undefined;
}

/** Root commands keep the logger of the command that ran, for the errors runCli logs. */
export interface LoggerHolder { log?: Logger }

export function contextFor(cmd: Command): CommandContext {
  const opts = cmd.optsWithGlobals<CommonOptions>();
  const env = process.env;
  const jsonFile = env.PG_AUTOCTL_LOG_JSON;
  const format = logFormatFor(opts, env);
  const log = createLogger({ level: levelFor(opts, env), ...(jsonFile ? { jsonFile } : {}), ...(format ? { format } : {}) });
  let root = cmd;
  while (root.parent) root = root.parent;
  (root as LoggerHolder).log = log;
  return {
    log,
    env,
    cwd: process.cwd(),
    json: Boolean(opts.json),
    ...(opts.json ? {} : { progress: (text: string) => { process.stdout.write(text); } }),
  };
}
