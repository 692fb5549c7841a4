/**
 * `pg_autoctl run`: a supervisor that owns Postgres as a child process (via
 * the Postgres controller) and runs the node's services in-process, each as
 * a `run(ctx)` loop stopped through an AbortSignal.
 *
 * Signals (DESIGN.md decision 7, spec 05 §13.4): SIGTERM graceful, SIGINT
 * fast, SIGQUIT immediate (the strongest one received wins), SIGHUP reload.
 * A permanent service that fails is restarted, at most 5 times within 300 s.
 */
import type { Logger } from '../common/log.js';
import { AutoctlError, messageOf } from '../common/errors.js';
import { FatalServiceError, NodeDroppedError, sleep, type Service, type ShutdownMode } from '../common/service.js';
import type { PostgresController, StopMode } from './postgres-controller.js';

export interface SupervisorOptions {
  log: Logger;
  postgres: PostgresController;
  services: Service[];
  /** Writes the pid file (called at start and after each restart). */
  writePidFile(services: Array<{ name: string; pid: number }>): Promise<void>;
  removePidFile(): Promise<void>;
  /** Called on SIGHUP before services are told. */
  onReload?(): Promise<void>;
  /** Whether Postgres stops when the supervisor stops (the default). */
  stopPostgresOnExit?: boolean;
  restartLimit?: { count: number; windowMs: number };
  /** Tests may pass their own process-like signal source. */
  signals?: NodeJS.EventEmitter;
}

const RANK: Record<ShutdownMode, number> = { graceful: 1, fast: 2, immediate: 3 };
const PG_STOP_MODE: Record<ShutdownMode, StopMode> = { graceful: 'fast', fast: 'fast', immediate: 'immediate' };

/** Runs until shutdown; resolves with the process exit code. */
export async function runSupervisor(options: SupervisorOptions): Promise<number> {
  const { log, postgres } = options;
  const limit = options.restartLimit ?? { count: 5, windowMs: 300_000 };
  const controller = new AbortController();
  let mode: ShutdownMode | null = null;
  let exitCode = 0;
  const emitter = options.signals ?? process;

  const requestShutdown = (next: ShutdownMode, why: string): void => {
    if (mode !== null && RANK[next] <= RANK[mode]) return;
    const first = mode === null;
    mode = next;
    log.info(`${why}: stopping pg_autoctl (${next} shutdown)`);
    if (first) controller.abort(next);
  };
  const onTerm = (): void => requestShutdown('graceful', 'Received SIGTERM');
  const onInt = (): void => requestShutdown('fast', 'Received SIGINT');
  const onQuit = (): void => requestShutdown('immediate', 'Received SIGQUIT');
  const onHup = (): void => {
    log.info('pg_autoctl received a SIGHUP signal, reloading configuration');
    void (async () => {
      try {
        await options.onReload?.();
        postgres.reload();
        for (const service of options.services) await service.reload?.();
      } catch (error) {
        log.warn(`Reload failed, keeping the previous configuration: ${messageOf(error)}`);
      }
    })();
  };
  emitter.on('SIGTERM', onTerm);
  emitter.on('SIGINT', onInt);
  emitter.on('SIGQUIT', onQuit);
  emitter.on('SIGHUP', onHup);

  await options.writePidFile([]);
  const pgLoop = postgres.run(controller.signal);
  // Keep the pid file's service list current when the postmaster changes.
  let pidInFile = postgres.pid();
  const pidWatch = setInterval(() => {
    const now = postgres.pid();
    if (now !== pidInFile) {
      pidInFile = now;
      options.writePidFile([]).catch((error: unknown) => log.warn(`Failed to update the pid file: ${messageOf(error)}`));
    }
  }, 500);

  const runOne = async (service: Service): Promise<void> => {
    const restarts: number[] = [];
    for (;;) {
      if (controller.signal.aborted) return;
      try {
        log.debug(`Started pg_autoctl ${service.name} service`);
        await service.run({ signal: controller.signal, postgres, log: log.child({ service: service.name }) });
        if (controller.signal.aborted) return;
        if (service.transient) {
          requestShutdown('graceful', `Service ${service.name} has completed`);
          return;
        }
        log.warn(`Service ${service.name} exited, restarting it`);
      } catch (error) {
        if (controller.signal.aborted) return;
        if (error instanceof NodeDroppedError) {
          log.fatal(error.message);
          requestShutdown('fast', 'This node has been dropped');
          return;
        }
        if (error instanceof FatalServiceError || (error instanceof AutoctlError && service.transient)) {
          log.fatal(messageOf(error));
          if (error instanceof AutoctlError && error.hint) log.info(`HINT: ${error.hint}`);
          exitCode = 3;
          requestShutdown('fast', 'A service has reported a fatal error');
          return;
        }
        log.error(`Service ${service.name} failed: ${messageOf(error)}`);
      }
      const now = performance.now();
      restarts.push(now);
      while (restarts.length > limit.count) restarts.shift();
      const oldest = restarts[0];
      if (restarts.length >= limit.count && oldest !== undefined && now - oldest < limit.windowMs) {
        log.fatal(`pg_autoctl service ${service.name} has already been restarted ${limit.count} times in the last ${Math.round((now - oldest) / 1000)} seconds, stopping now`);
        exitCode = 12;
        requestShutdown('fast', 'Too many restarts');
        return;
      }
      log.info(`Restarting service ${service.name}`);
      await sleep(1000, controller.signal);
    }
  };

  try {
    await Promise.all(options.services.map(runOne));
    if (!controller.signal.aborted) requestShutdown('graceful', 'All services have stopped');
    await pgLoop;
    const final: ShutdownMode = mode ?? 'graceful';
    if (options.stopPostgresOnExit !== false) {
      const watchdog = setTimeout(() => {
        log.fatal('Shutdown is taking too long, exiting now');
        process.exit(12);
      }, 120_000);
      watchdog.unref();
      try {
        await postgres.shutdown(PG_STOP_MODE[final]);
      } finally {
        clearTimeout(watchdog);
      }
    }
  } finally {
    clearInterval(pidWatch);
    emitter.off('SIGTERM', onTerm);
    emitter.off('SIGINT', onInt);
    emitter.off('SIGQUIT', onQuit);
    emitter.off('SIGHUP', onHup);
    await options.removePidFile().catch(() => undefined);
  }
  return exitCode;
}
