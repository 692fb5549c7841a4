/**
 * Processes for the benchmark, found by pid in /proc: the tree below a
 * pg_autoctl process, a host crash (SIGKILL of that tree and of the whole
 * Postgres), a freeze (SIGSTOP/SIGCONT), and memory (RSS and PSS from
 * smaps_rollup) of the pg_autoctl processes of a node, Postgres left out.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { killPostmaster } from '../../test/helpers/cluster.js';
import type { BackgroundProcess } from '../../test/helpers/fixture.js';

function stat(pid: number): { ppid: number; comm: string } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const comm = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
    return { ppid: Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]), comm };
  } catch {
    return null;
  }
}

/** Every live descendant of `root`. */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = stat(Number(name));
    if (st === null) continue;
    children.set(st.ppid, [...(children.get(st.ppid) ?? []), Number(name)]);
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

/** `root` and its descendants that are not Postgres (a postmaster's subtree is skipped whole). */
export function autoctlProcesses(root: number): Array<{ pid: number; comm: string }> {
  const out: Array<{ pid: number; comm: string }> = [];
  const walk = (pid: number): void => {
    const st = stat(pid);
    if (st === null || st.comm === 'postgres' || st.comm === 'postmaster') return;
    out.push({ pid, comm: st.comm });
    for (const child of directChildren(pid)) walk(child);
  };
  walk(root);
  return out;
}

function directChildren(pid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    if (stat(Number(name))?.ppid === pid) found.push(Number(name));
  }
  return found;
}

export interface Memory {
  /** Sum over the processes, in MB (1024 * 1024 bytes). */
  rssMb: number;
  pssMb: number;
  /** Private (anonymous) resident memory, the part another copy of the program would not share. */
  anonMb: number;
  processes: Array<{ pid: number; comm: string; rssMb: number; pssMb: number }>;
}

function rollup(pid: number): { rss: number; pss: number; anon: number } {
  const kb = (text: string, key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  try {
    const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    return { rss: kb(t, 'Rss'), pss: kb(t, 'Pss'), anon: kb(t, 'Anonymous') };
  } catch {
    return { rss: 0, pss: 0, anon: 0 };
  }
}

const mb = (kb: number): number => Math.round(kb / 102.4) / 10;

/** RSS and PSS of the pg_autoctl processes under `root` (Postgres excluded). */
export function memoryOf(root: number): Memory {
  const processes = autoctlProcesses(root).map((p) => ({ ...p, ...rollup(p.pid) }));
  return {
    rssMb: mb(processes.reduce((s, p) => s + p.rss, 0)),
    pssMb: mb(processes.reduce((s, p) => s + p.pss, 0)),
    anonMb: mb(processes.reduce((s, p) => s + p.anon, 0)),
    processes: processes.map((p) => ({ pid: p.pid, comm: p.comm, rssMb: mb(p.rss), pssMb: mb(p.pss) })),
  };
}

/** SIGSTOP or SIGCONT of the pg_autoctl processes under `root` (not Postgres): a frozen service. */
export function signalAutoctl(root: number, signal: 'SIGSTOP' | 'SIGCONT'): number[] {
  const pids = autoctlProcesses(root).map((p) => p.pid);
  for (const pid of pids) {
    try { process.kill(pid, signal); } catch { /* gone */ }
  }
  return pids;
}

/**
 * A host crash: SIGSTOP then SIGKILL of `proc` and every process below it
 * (none reacts to another's death), then of the postmaster of `pgdata` and
 * its children if still there.
 */
export async function crashHost(proc: BackgroundProcess, pgdata: string): Promise<void> {
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
