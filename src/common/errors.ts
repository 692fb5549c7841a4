/**
 * One error base with stable codes. Only src/cli/main.ts turns these into
 * exit codes and messages; everything else throws or returns them.
 */
export const ERROR_CODES = ['BAD_ARGS', 'BAD_CONFIG', 'BAD_STATE', 'PGSQL', 'PGCTL', 'MONITOR', 'INTERNAL'] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Exit codes of the original pg_autoctl (spec 04 §1). */
export const EXIT_CODES = {
  OK: 0,
  QUIT: 0,
  BAD_ARGS: 1,
  BAD_CONFIG: 2,
  BAD_STATE: 3,
  PGSQL: 4,
  PGCTL: 5,
  MONITOR: 6,
  FORMATION: 7,
  INTERNAL: 12,
} as const;

export class AutoctlError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; hint?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AutoctlError';
    this.code = code;
    this.hint = options.hint;
  }
}

export const badArgs = (message: string, hint?: string): AutoctlError =>
  new AutoctlError('BAD_ARGS', message, hint === undefined ? {} : { hint });
export const badConfig = (message: string, cause?: unknown): AutoctlError =>
  new AutoctlError('BAD_CONFIG', message, cause === undefined ? {} : { cause });
export const badState = (message: string, hint?: string): AutoctlError =>
  new AutoctlError('BAD_STATE', message, hint === undefined ? {} : { hint });

export function exitCodeFor(error: unknown): number {
  if (error instanceof AutoctlError) return EXIT_CODES[error.code];
  return EXIT_CODES.INTERNAL;
}

/** The message of any thrown value, for logs and one-line errors. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

export function assertNever(value: never, what = 'value'): never {
  throw new AutoctlError('INTERNAL', `unexpected ${what}: ${JSON.stringify(value)}`);
}
