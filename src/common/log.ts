import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * The process logger. Human lines on stderr (pg_autoctl logs to stderr and
 * keeps stdout for command output); JSON to a file when PG_AUTOCTL_LOG_JSON
 * names one. The level follows -v/-q and PG_AUTOCTL_DEBUG.
 */
export function createLogger(options: { level?: string; jsonFile?: string } = {}): Logger {
  const level = options.level ?? 'info';
  if (options.jsonFile) {
    return pino({ level }, pino.destination({ dest: options.jsonFile, append: true, mkdir: true }));
  }
  return pino({ level }, pino.transport({
    target: 'pino-pretty',
    options: {
      destination: 2,
      colorize: Boolean(process.stderr.isTTY),
      translateTime: 'SYS:HH:MM:ss',
      ignore: 'pid,hostname',
      sync: true,
    },
  }));
}

/** A logger that drops everything, for unit tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
