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

/** One log record as pino hands it to a destination. */
export interface LogRecord { time?: number; pid?: number; level?: number; msg?: string; [field: string]: unknown }

/**
 * Renders one pino JSON record as the original's log line:
 * `HH:MM:SS <pid> <LEVEL> <message>` with LEVEL padded to 5 characters.
 */
export function formatLogLine(record: LogRecord, color = false): string {
  const date = new Date(record.time ?? 0);
  const hhmmss = `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`;
  const level = LEVEL_NAMES[record.level ?? 30] ?? 'INFO';
  const padded = level.padEnd(5, ' ');
  const shown = color ? `${COLORS[level] ?? ''}${padded}\x1b[0m` : padded;
  return `${hhmmss} ${record.pid ?? process.pid} ${shown} ${record.msg ?? ''}\n`;
}

/** The fields that come first in a JSON line, in this order (`msg` comes last). */
const LEADING_FIELDS = ['time', 'level', 'pid', 'formation', 'group', 'node', 'service'] as const;

/**
 * Renders one pino record as a JSON log line (`--log-format json`): `time`
 * in ISO 8601 (UTC, milliseconds), `level` by its name (`info`, `warn`...),
 * `pid`, the node's `formation`, `group` and `node` name once known, the
 * supervisor's `service`, any other field, and `msg` last. Every string is
 * masked again (a secret in a field that is not the message).
 */
export function formatJsonLine(record: LogRecord): string {
  const out: Record<string, unknown> = {
    time: new Date(record.time ?? 0).toISOString(),
    level: (LEVEL_NAMES[record.level ?? 30] ?? 'INFO').toLowerCase(),
    pid: record.pid ?? process.pid,
  };
  for (const key of LEADING_FIELDS.slice(3)) if (record[key] !== undefined) out[key] = record[key];
  for (const [key, value] of Object.entries(record)) {
    if (key !== 'msg' && !(key in out) && !(LEADING_FIELDS as readonly string[]).includes(key)) out[key] = value;
  }
  out.msg = record.msg ?? '';
  return `${JSON.stringify(out, (_key, value: unknown) => (typeof value === 'string' ? maskSecrets(value) : value))}\n`;
}

export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export function isLogFormat(value: string): value is LogFormat {
  return (LOG_FORMATS as readonly string[]).includes(value);
}

/** What JSON lines say of the node, once known (`pg_autoctl run` of a keeper). */
export interface LogIdentity { formation?: string; group?: number; node?: string }

/**
 * The switches of one logger and of all its children (pino children are
 * created with Object.create, so they see the root's symbol property).
 */
interface LogControl {
  format: LogFormat;
  /** Whether --log-format or PG_AUTOCTL_LOG_FORMAT chose the format (the configuration then does not). */
  chosen: boolean;
  identity: () => LogIdentity;
}

const CONTROL = Symbol('pg_autoctl log control');
type Controlled = Logger & { [CONTROL]?: LogControl };

const controlOf = (log: Logger): LogControl | undefined => (log as Controlled)[CONTROL];

/** Renders a record in the logger's current format. */
function render(control: LogControl, record: LogRecord, color: boolean): string {
  return control.format === 'json' ? formatJsonLine(record) : formatLogLine(record, color);
}

/** A synchronous pino destination writing lines in the current format to a file descriptor. */
function lineDestination(fd: number, control: LogControl, color: boolean): DestinationStream {
  const sonic = pino.destination({ dest: fd, sync: true });
  return {
    write(line: string): void {
      try {
        sonic.write(render(control, JSON.parse(line) as LogRecord, color));
      } catch {
        sonic.write(line);
      }
    },
  };
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerSettings {
  level?: LogLevel;
  /** PG_AUTOCTL_LOG_JSON: pino's own JSON records are appended to this file too. */
  jsonFile?: string;
  /** Chosen by --log-format or PG_AUTOCTL_LOG_FORMAT; absent: text until the configuration says otherwise. */
  format?: LogFormat;
  /** Where the lines go; stderr (2) unless a test says otherwise. */
  fd?: number;
}

/**
 * The process logger. Logs go to stderr (stdout is for command output),
 * in the original's line format or, with the json format, one JSON object
 * per line (see formatJsonLine); pino's records are appended to `jsonFile`
 * too when given (PG_AUTOCTL_LOG_JSON).
 */
export function createLogger(options: LoggerSettings = {}): Logger {
  const level = options.level ?? 'info';
  const fd = options.fd ?? 2;
  const control: LogControl = { format: options.format ?? 'text', chosen: options.format !== undefined, identity: () => ({}) };
  const lines = lineDestination(fd, control, fd === 2 && Boolean(process.stderr.isTTY));
  const base: LoggerOptions = {
    base: { pid: process.pid },
    level,
    hooks: { logMethod: maskingLogMethod },
    mixin: () => ({ ...control.identity() }),
  };
  const log = options.jsonFile
    ? pino(base, pino.multistream([
      { level, stream: lines },
      { level, stream: pino.destination({ dest: options.jsonFile, append: true, mkdir: true, sync: true }) },
    ]))
    : pino(base, lines);
  (log as Controlled)[CONTROL] = control;
  return log;
}

/**
 * The format named by the node's configuration (`pg_autoctl.log_format`):
 * used unless --log-format or PG_AUTOCTL_LOG_FORMAT chose one.
 */
export function useConfiguredLogFormat(log: Logger, format: LogFormat): void {
  const control = controlOf(log);
  if (control !== undefined && !control.chosen) control.format = format;
}

/** The format the logger (or its root) writes in. */
export function logFormatOf(log: Logger | undefined): LogFormat {
  return (log === undefined ? undefined : controlOf(log)?.format) ?? 'text';
}

/**
 * Binds the node's identity to every line of this logger and of all its
 * children, existing or future. A function is read at each line, so the
 * fields follow a name changed on reload or a group given on registration.
 */
export function bindLogIdentity(log: Logger, identity: LogIdentity | (() => LogIdentity)): void {
  const control = controlOf(log);
  if (control === undefined) return;
  const read = typeof identity === 'function' ? identity : () => identity;
  control.identity = () => {
    const { formation, group, node } = read();
    return {
      ...(formation ? { formation } : {}),
      ...(group !== undefined && group >= 0 ? { group } : {}),
      ...(node ? { node } : {}),
    };
  };
}

/**
 * A log line written outside the logger (cli/program.ts, errors that end
 * the command: always shown, whatever the level), in the format of `log`
 * when there is one, else as text.
 */
export function logLineFor(log: Logger | undefined, record: LogRecord): string {
  const control = log === undefined ? undefined : controlOf(log);
  const color = Boolean(process.stderr.isTTY);
  if (control === undefined) return formatLogLine(record, color);
  return render(control, control.format === 'json' ? { ...control.identity(), ...record } : record, color);
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
