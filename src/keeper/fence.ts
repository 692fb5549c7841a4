/**
 * Killing the local Postgres when the write lease has run out (spec 05
 * §12.4, made lease-based by DESIGN.md). Not a read-only setting and not
 * a clean shutdown: no session may commit once the lease is gone, so every
 * process of the instance gets SIGKILL at once. Crash recovery at the next
 * start makes this as safe for the data as a power loss.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Logger } from '../common/log.js';
import { sleep } from '../common/service.js';
import { isProcessAlive, readPostmasterPid } from '../postgres/index.js';

/** The state letter and parent pid of a process, from /proc (Linux); undefined when gone. */
function procStat(pid: number): { state: string; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', ppid: Number(fields[1]) };
  } catch {
    return undefined;
  }
}

/** The pids whose parent is `pid`. */
export function childrenOf(pid: number): number[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  const children: number[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    if (procStat(Number(name))?.ppid === pid) children.push(Number(name));
  }
  return children;
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
 * Kills the postmaster of `pgdata` and every one of its processes now.
 * Postgres puts each child in its own session, so there is no process
 * group to signal: the postmaster is stopped first (SIGSTOP: it can fork
 * no new backend), its children are killed, then the postmaster. Where
 * /proc is missing, SIGQUIT (immediate shutdown: the postmaster makes
 * every child exit at once) then SIGKILL. Returns the pid killed, or null
 * when nothing was running.
 */
export function killPostgresNow(pgdata: string, log: Logger): number | null {
  const info = readPostmasterPid(pgdata);
  if (!info || info.pid <= 0 || !isProcessAlive(info.pid)) return null;
  const pid = info.pid;
  if (procStat(pid) === undefined) {
    kill(pid, 'SIGQUIT');
    kill(pid, 'SIGKILL');
  } else {
    kill(pid, 'SIGSTOP');
    const deadline = performance.now() + 200;
    while (procStat(pid)?.state !== 'T' && procStat(pid)?.state !== 'Z' && performance.now() < deadline) {
      // A stopped postmaster forks no more backends; a few ms at most.
    }
    for (const child of childrenOf(pid)) kill(child, 'SIGKILL');
    kill(pid, 'SIGKILL');
  }
  log.warn(`Killed PostgreSQL (pid ${pid}) and all its processes in "${pgdata}"`);
  return pid;
}
/** Waits (briefly, polling) until the postmaster is gone. */
export async function waitPostgresGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  // A zombie (dead, not reaped yet by whoever inherited it) counts as gone.
  while (isProcessAlive(pid) && procStat(pid)?.state !== 'Z') {
    if (performance.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}
