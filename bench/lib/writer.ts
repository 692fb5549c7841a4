/**
 * A benchmark writer: one INSERT every `intervalMs` on a persistent
 * connection (reconnecting after an error), keeping the start and the
 * acknowledgement time of every commit, and the errors.
 */
import pg from 'pg';
import { clusterUserName } from '../../test/helpers/cluster.js';

export interface Commit {
  /** performance.now() when the INSERT was sent and when it was acknowledged. */
  start: number;
  end: number;
}

export interface LatencyWriter {
  readonly commits: Commit[];
  readonly errors: Array<{ message: string; at: number }>;
  /** The writer's backend pid (for pg_stat_activity), of the current connection. */
  backendPid(): number | null;
  stop(): Promise<void>;
}

export const WRITER_APPLICATION = 'bench-writer';

export async function startLatencyWriter(port: number, options: { intervalMs?: number; table?: string } = {}): Promise<LatencyWriter> {
  const intervalMs = options.intervalMs ?? 100;
  const table = options.table ?? 'bench_writes';
  const connect = async (): Promise<pg.Client> => {
    const client = new pg.Client({
      host: '127.0.0.1', port, user: clusterUserName(), database: 'postgres', application_name: WRITER_APPLICATION,
      connectionTimeoutMillis: 2000, statement_timeout: 10_000, query_timeout: 12_000,
    });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  const setup = await connect();
  await setup.query(`CREATE TABLE IF NOT EXISTS ${table} (id bigint PRIMARY KEY, at timestamptz DEFAULT now())`);
  await setup.end();

  const commits: Commit[] = [];
  const errors: Array<{ message: string; at: number }> = [];
  let pid: number | null = null;
  let stopped = false;
  let next = 1;
  const loop = (async () => {
    let client: pg.Client | null = null;
    while (!stopped) {
      const tick = performance.now();
      try {
        if (client === null) {
          client = await connect();
          pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? null;
        }
        const id = next;
        next += 1;
        const start = performance.now();
        await client.query(`INSERT INTO ${table} (id) VALUES ($1)`, [id]);
        commits.push({ start, end: performance.now() });
      } catch (error) {
        errors.push({ message: (error as Error).message, at: performance.now() });
        await client?.end().catch(() => undefined);
        client = null;
        pid = null;
      }
      const wait = intervalMs - (performance.now() - tick);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await client?.end().catch(() => undefined);
  })();
  return {
    commits,
    errors,
    backendPid: () => pid,
    async stop() {
      stopped = true;
      await loop;
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
