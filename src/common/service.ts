/**
 * The contract between the supervisor (`pg_autoctl run`) and the services
 * it runs in-process (the monitor's listener, the keeper's node-active
 * loop). Services are `run(ctx)` loops stopped through `ctx.signal`.
 */
import { AutoctlError } from './errors.js';
import type { Logger } from './log.js';

export const EXPECTED_PG_STATUSES = ['unknown', 'stopped', 'running'] as const;
export type ExpectedPgStatus = (typeof EXPECTED_PG_STATUSES)[number];

/** What a service may ask of the Postgres controller. */
export interface PostgresControl {
  /** Sets what Postgres should be doing; the controller converges on it. */
  setExpected(status: ExpectedPgStatus): void;
  expected(): ExpectedPgStatus;
  /** Converges now; resolves with the running postmaster pid, or null. */
  ensure(): Promise<number | null>;
  /** Pid of the running postmaster, if any. */
  pid(): number | null;
  /** SIGHUP to the postmaster. */
  reload(): void;
}

export const SHUTDOWN_MODES = ['graceful', 'fast', 'immediate'] as const;
export type ShutdownMode = (typeof SHUTDOWN_MODES)[number];

export interface ServiceContext {
  /** Aborted on shutdown; its reason is the ShutdownMode. */
  signal: AbortSignal;
  postgres: PostgresControl;
  log: Logger;
}

export interface Service {
  name: string;
  /** Permanent services run until aborted; a transient one ends the supervisor when it returns. */
  transient?: boolean;
  run(ctx: ServiceContext): Promise<void>;
  reload?(): void | Promise<void>;
}

/** The shutdown mode carried by an aborted service signal. */
export function shutdownModeOf(signal: AbortSignal): ShutdownMode | null {
  if (!signal.aborted) return null;
  const reason: unknown = signal.reason;
  return reason === 'graceful' || reason === 'fast' || reason === 'immediate' ? reason : 'fast';
}

/** Resolves after `ms`, or at once when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) { resolve(); return; }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Thrown by a service when its node was dropped: stop everything, exit 0. */
export class NodeDroppedError extends AutoctlError {
  constructor(message: string) {
    super('BAD_STATE', message);
    this.name = 'NodeDroppedError';
  }
}

/** Thrown by a service for an error that a restart cannot fix. */
export class FatalServiceError extends AutoctlError {
  constructor(message: string, cause?: unknown) {
    super('BAD_STATE', message, cause === undefined ? {} : { cause });
    this.name = 'FatalServiceError';
  }
}

