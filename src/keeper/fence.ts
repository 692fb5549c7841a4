/**
 * Killing the local Postgres when the write lease has run out (spec 05
 * §12.4, made lease-based by DESIGN.md). Not a read-only setting and not
 * a clean shutdown: no session may commit once the lease is gone, so every
 * process of the instance gets SIGKILL at once. Crash recovery at the next
 * start makes this as safe for the data as a power loss.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from '../common/log.js';
import { isProcessAlive, readPostmasterPid } from '../postgres/index.js';

/** The process group of a pid, from /proc (Linux); undefined elsewhere or when gone. */
export function processGroupOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pgrp = Number(fields[2]);
    return Number.isInteger(pgrp) && pgrp > 0 ? pgrp : undefined;
  } catch {
    return undefined;
  }
}

function kill(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Kills the postmaster of `pgdata` and all its children now. The
 * postmaster runs in its own process group (pg_autoctl starts it in a new
 * session), so one SIGKILL to the group reaches every backend at once;
 * otherwise SIGQUIT (immediate shutdown: the postmaster makes every child
 * exit at once) and SIGKILL to the postmaster. Returns the pid killed, or
 * null when nothing was running.
 */
export function killPostgresNow(pgdata: string, log: Logger): number | null {
  const info = readPostmasterPid(pgdata);
  if (!info || info.pid <= 0 || !isProcessAlive(info.pid)) return null;
  const pid = info.pid;
  if (processGroupOf(pid) === pid) {
    kill(-pid, 'SIGKILL');
  } else {
    kill(pid, 'SIGQUIT');
    kill(pid, 'SIGKILL');
  }
  log.warn(`Killed PostgreSQL (pid ${pid}) in "${pgdata}"`);
  return pid;
}

/** Waits (briefly, polling) until the postmaster is gone. */
export async function waitPostgresGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (isProcessAlive(pid)) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}
