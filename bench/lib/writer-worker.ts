/**
 * The benchmark writer's loop, in a worker thread of its own so that what
 * the main thread does (crashing processes, sampling, reading logs) never
 * delays a write or its timing. Times are process.hrtime in ms (the
 * system's monotonic clock, the same in every thread).
 */
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';

interface Options { port: number; user: string; intervalMs: number; table: string; application: string }

const options = workerData as Options;
const hr = (): number => Number(process.hrtime.bigint()) / 1e6;
let stopped = false;
parentPort?.on('message', (m: unknown) => { if (m === 'stop') stopped = true; });

async function connect(): Promise<pg.Client> {
  const client = new pg.Client({
    host: '127.0.0.1', port: options.port, user: options.user, database: 'postgres', application_name: options.application,
    connectionTimeoutMillis: 2000, statement_timeout: 10_000, query_timeout: 12_000,
  });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

const setup = await connect();
await setup.query(`CREATE TABLE IF NOT EXISTS ${options.table} (id bigint PRIMARY KEY, at timestamptz DEFAULT now())`);
await setup.end();
parentPort?.postMessage({ kind: 'ready' });

let client: pg.Client | null = null;
let next = 1;
while (!stopped) {
  const tick = hr();
  try {
    client ??= await connect();
    const id = next;
    next += 1;
    const start = hr();
    await client.query(`INSERT INTO ${options.table} (id) VALUES ($1)`, [id]);
    parentPort?.postMessage({ kind: 'commit', start, end: hr() });
  } catch (error) {
    parentPort?.postMessage({ kind: 'error', message: (error as Error).message, at: hr() });
    await client?.end().catch(() => undefined);
    client = null;
  }
  const wait = options.intervalMs - (hr() - tick);
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}
await client?.end().catch(() => undefined);
parentPort?.postMessage({ kind: 'stopped' });
