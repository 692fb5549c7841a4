/**
 * A client writing to one node every `intervalMs` (synchronous_commit as the
 * node has it), keeping the ids and times of the acknowledged writes, so a
 * test can measure gaps and check that nothing acknowledged was lost.
 */
import pg from 'pg';
import { clusterUserName } from './cluster.js';

export interface Writer {
  /** Acknowledged ids, in order, with performance.now() of the acknowledgement. */
  readonly acked: Array<{ id: number; at: number }>;
  /** Errors seen (message and time). */
  readonly errors: Array<{ message: string; at: number }>;
  /** Longest time between two acknowledgements within [from, to] (ms); also counts the edges. */
  longestGap(from: number, to: number): number;
  /** Where that gap starts, in ms after `from`. */
  longestGapStart(from: number, to: number): number;
  stop(): Promise<void>;
}

export async function startWriter(port: number, options: { table?: string; intervalMs?: number; host?: string } = {}): Promise<Writer> {
  const table = options.table ?? 'writer_acks';
  const intervalMs = options.intervalMs ?? 100;
  const connect = async (): Promise<pg.Client> => {
    const client = new pg.Client({
      host: options.host ?? '127.0.0.1', port, user: clusterUserName(), database: 'postgres',
      connectionTimeoutMillis: 1000, statement_timeout: 2000, query_timeout: 2500,
    });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  const setup = await connect();
  await setup.query(`CREATE TABLE IF NOT EXISTS ${table} (id int PRIMARY KEY, at timestamptz DEFAULT now())`);
  await setup.end();

  const acked: Array<{ id: number; at: number }> = [];
  const errors: Array<{ message: string; at: number }> = [];
  let stopped = false;
  let next = 1;
  const loop = (async () => {
    let client: pg.Client | null = null;
    while (!stopped) {
      const started = performance.now();
      try {
        client ??= await connect();
        const id = next;
        next += 1;
        await client.query(`INSERT INTO ${table} (id) VALUES ($1)`, [id]);
        acked.push({ id, at: performance.now() });
      } catch (error) {
        errors.push({ message: (error as Error).message, at: performance.now() });
        await client?.end().catch(() => undefined);
        client = null;
      }
      const wait = intervalMs - (performance.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await client?.end().catch(() => undefined);
  })();
  const worst = (from: number, to: number): { gap: number; start: number } => {
    const times = [from, ...acked.map((a) => a.at).filter((t) => t >= from && t <= to), to];
    let best = { gap: 0, start: from };
    for (let i = 1; i < times.length; i += 1) {
      const gap = (times[i] ?? 0) - (times[i - 1] ?? 0);
      if (gap > best.gap) best = { gap, start: times[i - 1] ?? from };
    }
    return best;
  };
  return {
    acked,
    errors,
    longestGap(from, to) {
      return worst(from, to).gap;
    },
    longestGapStart(from, to) {
      return worst(from, to).start - from;
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
