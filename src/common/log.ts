import { pino, type Logger, type DestinationStream, type LoggerOptions } from 'pino';
import { maskSecrets } from './secrets.js';

export type { Logger } from 'pino';

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL',
};
const COLORS: Record<string, string> = {
  TRACE: '\x1b[34m', DEBUG: '\x1b[34m', INFO: '\x1b[32m', WARN: '\x1b[33m', ERROR: '\x1b[31m', FATAL: '\x1b[35m',
};

const pad2 = (n: number): string => String(n).padStart(2, '0');

/**
 * Renders one pino JSON record as the original's log line:
 * `HH:MM:SS <pid> <LEVEL> <message>` with LEVEL padded to 5 characters.
 */
export function formatLogLine(record: { time?: number; pid?: number; level?: number; msg?: string }, color = false): string {
  const date = new Date(record.time ?? 0);
  const hhmmss = `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`;
  const level = LEVEL_NAMES[record.level ?? 30] ?? 'INFO';
  const padded = level.padEnd(5, ' ');
  const shown = color ? `${COLORS[level] ?? ''}${padded}\x1b[0m` : padded;
  return `${hhmmss} ${record.pid ?? process.pid} ${shown} ${record.msg ?? ''}\n`;
}

/** A synchronous pino destination writing human lines to a file descriptor. */
function humanDestination(fd: number, color: boolean): DestinationStream {
  const sonic = pino.destination({ dest: fd, sync: true });
  return {
    write(line: string): void {
      try {
        sonic.write(formatLogLine(JSON.parse(line) as Record<string, never>, color));
      } catch {
        sonic.write(line);
      }
    },
  };
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The process logger. Logs go to stderr (stdout is for command output) in
 * the original's line format; JSON lines are appended to `jsonFile` too when
 * given (PG_AUTOCTL_LOG_JSON).
 */
export function createLogger(options: { level?: LogLevel; jsonFile?: string } = {}): Logger {
  const level = options.level ?? 'info';
  const human = humanDestination(2, Boolean(process.stderr.isTTY));
  const base: LoggerOptions = { base: { pid: process.pid }, level, hooks: { logMethod: maskingLogMethod } };
  if (!options.jsonFile) return pino(base, human);
  return pino(base, pino.multistream([
    { level, stream: human },
    { level, stream: pino.destination({ dest: options.jsonFile, append: true, mkdir: true, sync: true }) },
  ]));
}

/** A logger that drops everything, for unit tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * pino's logMethod hook: every string argument of every log call (the
 * message and its interpolation values) goes through maskSecrets, so a
 * connection string logged anywhere never shows its password.
 */
function maskingLogMethod(this: Logger, args: Parameters<Logger['info']>, method: (...a: unknown[]) => void): void {
  method.apply(this, (args as unknown[]).map((arg) => (typeof arg === 'string' ? maskSecrets(arg) : arg)));
}

/** Replaces any password in a connection string by ****. */
export function maskPassword(conninfo: string): string {
  return maskSecrets(conninfo);
}
