/**
 * What every command handler gets: a logger at the level chosen by -v/-q,
 * the environment and working directory (read once, here, at the edge),
 * and whether --json was asked for. No way to print: handlers return data
 * (see ./command.ts).
 */
import type { Command } from 'commander';
import { createLogger, type Logger, type LogLevel } from '../common/log.js';

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

export interface CommonOptions { verbose?: number; quiet?: boolean; json?: boolean }

export function levelFor(opts: CommonOptions, env: NodeJS.ProcessEnv): LogLevel {
  if (opts.quiet) return 'error';
  const v = opts.verbose ?? 0;
  if (v >= 3) return 'trace';
  if (v === 2 || env.PG_AUTOCTL_DEBUG) return 'debug';
  return 'info';
}

export function contextFor(cmd: Command): CommandContext {
  const opts = cmd.optsWithGlobals<CommonOptions>();
  const env = process.env;
  const jsonFile = env.PG_AUTOCTL_LOG_JSON;
  return {
    log: createLogger(jsonFile ? { level: levelFor(opts, env), jsonFile } : { level: levelFor(opts, env) }),
    env,
    cwd: process.cwd(),
    json: Boolean(opts.json),
    ...(opts.json ? {} : { progress: (text: string) => { process.stdout.write(text); } }),
  };
}
