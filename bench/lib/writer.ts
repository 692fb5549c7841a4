/**
 * A benchmark writer: one INSERT every `intervalMs` on a persistent
 * connection (reconnecting after an error), keeping the start and the
 * acknowledgement time of every commit, and the errors. The loop runs in a
 * worker thread (writer-worker.ts), so the main thread's work never delays it.
 */
import { Worker } from 'node:worker_threads';
import { clusterUserName } from '../../test/helpers/cluster.js';

export interface Commit {
  /** When the INSERT was sent and when it was acknowledged, in the main thread's performance.now() ms. */
  start: number;
  end: number;
}

export interface LatencyWriter {
  readonly commits: Commit[];
  readonly errors: Array<{ message: string; at: number }>;
  stop(): Promise<void>;
}

export const WRITER_APPLICATION = 'bench-writer';

type Message = { kind: 'ready' } | { kind: 'stopped' } | { kind: 'commit'; start: number; end: number } | { kind: 'error'; message: string; at: number };

export async function startLatencyWriter(port: number, options: { intervalMs?: number; table?: string } = {}): Promise<LatencyWriter> {
  // The worker stamps times with process.hrtime (ms); this maps them onto performance.now().
  const offset = Number(process.hrtime.bigint()) / 1e6 - performance.now();
  // The worker's entry is TypeScript: a one-line bootstrap registers tsx in the thread first.
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./writer-worker.ts', import.meta.url).href;
  const worker = new Worker(`import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`, {
    eval: true,
    workerData: { port, user: clusterUserName(), intervalMs: options.intervalMs ?? 100, table: options.table ?? 'bench_writes', application: WRITER_APPLICATION },
  });
  const commits: Commit[] = [];
  const errors: Array<{ message: string; at: number }> = [];
  let stopped: () => void = () => undefined;
  const done = new Promise<void>((resolve) => { stopped = resolve; });
  const ready = new Promise<void>((resolve, reject) => {
    worker.on('error', reject);
    worker.on('exit', () => { stopped(); reject(new Error('the writer thread exited before it was ready')); });
    worker.on('message', (m: Message) => {
      if (m.kind === 'ready') resolve();
      else if (m.kind === 'stopped') stopped();
      else if (m.kind === 'commit') commits.push({ start: m.start - offset, end: m.end - offset });
      else errors.push({ message: m.message, at: m.at - offset });
    });
  });
  await ready;
  return {
    commits,
    errors,
    async stop() {
      worker.postMessage('stop');
      await Promise.race([done, new Promise((r) => setTimeout(r, 15_000))]);
      await worker.terminate();
    },
  };
}

export interface WriteStats {
  commits: number;
  errors: number;
  /** Longest time between two acknowledgements in the window (its edges count). */
  longestGapMs: number;
  /** Where that gap starts, ms after the window's start. */
  longestGapAtMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  over200Ms: number;
  over1000Ms: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

const r1 = (x: number): number => Math.round(x * 10) / 10;

/** Statistics of the commits acknowledged within [from, to]. */
export function writeStats(writer: LatencyWriter, from: number, to: number): WriteStats {
  const inWindow = writer.commits.filter((c) => c.end >= from && c.end <= to);
  const latencies = inWindow.map((c) => c.end - c.start).sort((a, b) => a - b);
  const times = [from, ...inWindow.map((c) => c.end), to];
  let gap = 0;
  let gapAt = 0;
  for (let i = 1; i < times.length; i += 1) {
    const d = (times[i] ?? 0) - (times[i - 1] ?? 0);
    if (d > gap) { gap = d; gapAt = (times[i - 1] ?? from) - from; }
  }
  return {
    commits: inWindow.length,
    errors: writer.errors.filter((e) => e.at >= from && e.at <= to).length,
    longestGapMs: r1(gap),
    longestGapAtMs: Math.round(gapAt),
    p50Ms: r1(percentile(latencies, 50)),
    p99Ms: r1(percentile(latencies, 99)),
    maxMs: r1(latencies.at(-1) ?? 0),
    over200Ms: latencies.filter((l) => l > 200).length,
    over1000Ms: latencies.filter((l) => l > 1000).length,
  };
}
