/**
 * The Postgres controller: keeps the local postmaster in the state the
 * service asks for (running or stopped), as a child process of pg_autoctl.
 * A postmaster left running by a previous pg_autoctl (after a SIGKILL of
 * the supervisor) is adopted: watched by pid and signalled by pid, so it
 * keeps serving across the restart of pg_autoctl.
 */
import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../common/log.js';
import { sleep, type PostgresControl } from '../common/service.js';

export const STOP_MODES = ['smart', 'fast', 'immediate'] as const;
export type StopMode = (typeof STOP_MODES)[number];

/** What the controller needs from the local Postgres layer (passed in). */
export interface PostgresPort {
  /** Pid of a live postmaster serving this PGDATA, or null. */
  runningPid(): Promise<number | null>;
  /** Starts the postmaster as a child process (stdout/stderr to startup.log). */
  spawn(): ChildProcess;
  /** Resolves once Postgres accepts connections; throws after the deadline. */
  waitReady(pid: number, timeoutMs: number): Promise<void>;
  /** Signals the postmaster by pid and waits until it is gone. */
  stop(pid: number, mode: StopMode, timeoutMs: number): Promise<void>;
  /** Text to log when a start fails (tail of startup.log). */
  startupLogTail(): string;
}

export interface PostgresController extends PostgresControl {
  /** Stops Postgres with the given mode (used on shutdown). */
  shutdown(mode: StopMode): Promise<void>;
  /** Background loop, every `intervalMs`, until the signal aborts. */
  run(signal: AbortSignal, intervalMs?: number): Promise<void>;
}

export function createPostgresController(port: PostgresPort, log: Logger, options: { readyTimeoutMs?: number } = {}): PostgresController {
  let expected: ReturnType<PostgresControl['expected']> = 'unknown';
  let child: ChildProcess | null = null;
  let pid: number | null = null;
  let startedOnce = false;
  let busy: Promise<number | null> | null = null;
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;

  const alive = (p: number): boolean => {
    try {
      process.kill(p, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  };

  async function currentPid(): Promise<number | null> {
    if (pid !== null && (child ? child.exitCode === null && child.signalCode === null : alive(pid))) return pid;
    pid = null;
    child = null;
    const found = await port.runningPid();
    if (found !== null) {
      pid = found;
      log.info(`Postgres is already running with pid ${found}, adopting it`);
    }
    return pid;
  }

  async function start(): Promise<number> {
    const proc = port.spawn();
    if (proc.pid === undefined) throw new Error('cannot start postgres: spawn failed');
    child = proc;
    pid = proc.pid;
    proc.once('exit', (code, sig) => {
      if (child === proc) {
        log.warn(`Postgres (pid ${proc.pid}) exited with ${sig ?? `code ${code}`}`);
        child = null;
        pid = null;
      }
    });
    try {
      await port.waitReady(proc.pid, readyTimeoutMs);
    } catch (error) {
      log.error(`Failed to start Postgres: ${(error as Error).message}\n${port.startupLogTail()}`);
      throw error;
    }
    log.info(startedOnce
      ? `PostgreSQL was not running, restarted with pid ${proc.pid}`
      : `Postgres is now serving PGDATA with pid ${proc.pid}`);
    startedOnce = true;
    return proc.pid;
  }

  async function converge(): Promise<number | null> {
    const running = await currentPid();
    if (expected === 'running' && running === null) return start();
    if (expected === 'stopped' && running !== null) {
      await port.stop(running, 'fast', 60_000);
      pid = null;
      child = null;
      return null;
    }
    return running;
  }

  const controller: PostgresController = {
    setExpected(status) { expected = status; },
    expected: () => expected,
    async ensure() {
      // Serialise convergence: the loop and a service may both ask.
      while (busy) await busy.catch(() => undefined);
      busy = converge();
      try {
        return await busy;
      } finally {
        busy = null;
      }
    },
    pid: () => pid,
    reload() {
      if (pid !== null) {
        try { process.kill(pid, 'SIGHUP'); } catch { /* gone: the loop restarts it */ }
      }
    },
    async shutdown(mode) {
      expected = 'stopped';
      while (busy) await busy.catch(() => undefined);
      const running = await currentPid();
      if (running !== null) {
        log.info(`Stopping Postgres (pid ${running}) in ${mode} mode`);
        await port.stop(running, mode, mode === 'smart' ? 600_000 : 60_000);
      }
      pid = null;
      child = null;
    },
    async run(signal, intervalMs = 100) {
      while (!signal.aborted) {
        try {
          await controller.ensure();
        } catch (error) {
          log.error(`Postgres controller: ${(error as Error).message}`);
          await sleep(1000, signal);
        }
        await sleep(intervalMs, signal);
      }
    },
  };
  return controller;
}
