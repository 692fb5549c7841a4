/**
 * The keeper's side of the lease guard (lease-guard.pl): starts
 * the guard process, tells it the current lease end on the system-wide
 * monotonic clock, and takes over from the guard of a previous pg_autoctl
 * (after a crash) once its own guard is armed, so that no moment is left
 * unguarded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { messageOf } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { isProcessAlive } from '../postgres/index.js';

/** Copied next to the compiled code by scripts/copy-assets.mjs. */
const GUARD_SCRIPT = fileURLToPath(new URL('./lease-guard.pl', import.meta.url));

/** performance.now() milliseconds to process.hrtime nanoseconds (both monotonic). */
function toHrtime(at: number): bigint {
  return process.hrtime.bigint() + BigInt(Math.round((at - performance.now()) * 1e6));
}

function isGuard(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('lease-guard.pl');
  } catch {
    return false;
  }
}

export class LeaseGuard {
  private sent: string | null = null;

  private constructor(private readonly child: ChildProcess, private readonly log: Logger) {}

  /**
   * Starts a guard for `pgdata` armed with `initialEnd` (performance.now()
   * ms, or null), then ends the guard of a previous pg_autoctl named in
   * the pid file. Null when the guard cannot run (the keeper still fences
   * by itself).
   */
  static start(pgdata: string, runtimeDir: string, initialEnd: number | null, log: Logger, env: NodeJS.ProcessEnv): LeaseGuard | null {
    if (!existsSync(GUARD_SCRIPT)) {
      log.warn(`The lease guard program is missing (${GUARD_SCRIPT}): a stuck pg_autoctl could not fence Postgres`);
      return null;
    }
    let child: ChildProcess;
    try {
      child = spawn('perl', [GUARD_SCRIPT, pgdata], { stdio: ['pipe', 'ignore', 'ignore'], detached: true, env });
    } catch (error) {
      log.warn(`Failed to start the lease guard: ${messageOf(error)}`);
      return null;
    }
    // Spawn failures (no perl on PATH) arrive as an event, not a throw.
    child.on('error', (error) => log.warn(`The lease guard could not run (a stuck pg_autoctl could not fence Postgres): ${messageOf(error)}`));
    child.unref();
    child.stdin?.on('error', () => undefined);
    const guard = new LeaseGuard(child, log);
    guard.arm(initialEnd);
    const pidFile = join(runtimeDir, 'pg_autoctl_lease_guard.pid');
    try {
      const old = Number(readFileSync(pidFile, 'utf8').trim());
      if (Number.isInteger(old) && old > 0 && old !== child.pid && isProcessAlive(old) && isGuard(old)) process.kill(old, 'SIGTERM');
    } catch {
      // no previous guard
    }
    try {
      writeFileSync(`${pidFile}.new`, `${child.pid}\n`);
      renameSync(`${pidFile}.new`, pidFile);
    } catch (error) {
      log.debug(`Failed to write the lease guard pid file: ${messageOf(error)}`);
    }
    log.debug(`Started the lease guard with pid ${child.pid}`);
    return guard;
  }

  /** The lease end to enforce (performance.now() ms), or null when no lease is needed now. */
  arm(end: number | null): void {
    const line = end === null ? 'none' : `lease ${toHrtime(end)}`;
    // The same end converts to slightly different nanoseconds each time: only send real changes.
    if (line === this.sent || (end !== null && this.sent !== null && this.sent.startsWith('lease ')
      && absDiff(BigInt(this.sent.slice(6)), toHrtime(end)) < 1_000_000n)) return;
    this.sent = line;
    this.child.stdin?.write(`${line}\n`);
  }

  /** The keeper stops cleanly: the guard exits without touching Postgres. */
  release(): void {
    try {
      this.child.stdin?.end('release\n');
    } catch (error) {
      this.log.debug(`Failed to release the lease guard: ${messageOf(error)}`);
    }
  }
}

function absDiff(a: bigint, b: bigint): bigint {
  return a > b ? a - b : b - a;
}
