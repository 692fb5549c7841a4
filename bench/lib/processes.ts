/**
 * A crash of a host, for benchmarks: SIGKILL of a process, of every process
 * below it, and of the whole Postgres of a PGDATA (whoever started it), all
 * found by pid from /proc.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { killPostmaster } from '../../test/helpers/cluster.js';
import type { BackgroundProcess } from '../../test/helpers/fixture.js';

function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/** Every live descendant of `root` (children first found, then theirs). */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const ppid = parentOf(pid);
    if (ppid === null) continue;
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    for (const child of children.get(pid) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/**
 * SIGKILL of `proc` and all its descendants at once (SIGSTOP first, so none
 * reacts to the death of another), then of the postmaster of `pgdata` and
 * its children if still there; resolves once they are gone.
 */
export async function crashTree(proc: BackgroundProcess, pgdata: string): Promise<void> {
  const pids = [proc.pid, ...descendants(proc.pid)];
  for (const pid of pids) {
    try { process.kill(pid, 'SIGSTOP'); } catch { /* gone */ }
  }
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  await proc.wait(10_000).catch(() => undefined);
  await killPostmaster(pgdata);
}
