/**
 * A pg_stat_activity sampler: every `intervalMs` on a persistent
 * connection, it records what each backend that is not an idle client is
 * doing (backend type, application, wait event, state, query start), so a
 * slow commit can be matched with what the writer, the walsender or
 * walreceiver, the checkpointer and any other client were waiting on.
 */
import pg from 'pg';
import { clusterUserName } from '../../test/helpers/cluster.js';

export interface Sample {
  /** performance.now() when the answer arrived. */
  at: number;
  /** `backend_type|application|wait_event_type:wait_event|state|query`, one per backend. */
  rows: string[];
}

export interface Sampler {
  readonly samples: Sample[];
  stop(): Promise<void>;
}

const QUERY = `SELECT backend_type || '|' || coalesce(application_name, '') || '|' || coalesce(wait_event_type, '-') || ':'
       || coalesce(wait_event, '-') || '|' || coalesce(state, '-') || '|' || left(regexp_replace(coalesce(query, ''), '\\s+', ' ', 'g'), 70) AS r
  FROM pg_stat_activity
 WHERE pid <> pg_backend_pid() AND (backend_type <> 'client backend' OR state IS DISTINCT FROM 'idle')`;

export function startSampler(port: number, intervalMs: number): Sampler {
  const samples: Sample[] = [];
  let stopped = false;
  const loop = (async () => {
    let client: pg.Client | null = null;
    while (!stopped) {
      const tick = performance.now();
      try {
        if (client === null) {
          client = new pg.Client({ host: '127.0.0.1', port, user: clusterUserName(), database: 'postgres', application_name: 'bench-sampler',
            connectionTimeoutMillis: 2000, query_timeout: 5000 });
          client.on('error', () => undefined);
          await client.connect();
        }
        const { rows } = await client.query<{ r: string }>(QUERY);
        samples.push({ at: performance.now(), rows: rows.map((x) => x.r) });
      } catch {
        await client?.end().catch(() => undefined);
        client = null;
        await new Promise((r) => setTimeout(r, 200));
      }
      const wait = intervalMs - (performance.now() - tick);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await client?.end().catch(() => undefined);
  })();
  return { samples, async stop() { stopped = true; await loop; } };
}

/** How often each backend row was seen in the samples taken within [from, to]. */
export function samplesBetween(sampler: Sampler, from: number, to: number): { samples: number; seen: Record<string, number> } {
  const within = sampler.samples.filter((s) => s.at >= from && s.at <= to);
  const seen: Record<string, number> = {};
  for (const s of within) for (const row of s.rows) seen[row] = (seen[row] ?? 0) + 1;
  const sorted = Object.fromEntries(Object.entries(seen).sort((a, b) => b[1] - a[1]).slice(0, 12));
  return { samples: within.length, seen: sorted };
}

/** Pressure-stall figures of the host (/proc/pressure), sampled every `intervalMs`. */
export interface PressureSampler {
  readonly samples: Array<{ at: number; ioSomeUs: number; ioFullUs: number; cpuSomeUs: number }>;
  stop(): void;
}

export function startPressureSampler(intervalMs: number, read: (path: string) => string): PressureSampler {
  const samples: PressureSampler['samples'] = [];
  const total = (text: string, kind: 'some' | 'full'): number => {
    const line = text.split('\n').find((l) => l.startsWith(kind)) ?? '';
    return Number(/total=(\d+)/.exec(line)?.[1] ?? 0);
  };
  const timer = setInterval(() => {
    try {
      const io = read('/proc/pressure/io');
      const cpu = read('/proc/pressure/cpu');
      samples.push({ at: performance.now(), ioSomeUs: total(io, 'some'), ioFullUs: total(io, 'full'), cpuSomeUs: total(cpu, 'some') });
    } catch {
      // no PSI on this kernel
    }
  }, intervalMs);
  return { samples, stop: () => clearInterval(timer) };
}

/** Share of [from, to] the host spent stalled on I/O (some, full) and CPU (some), in %. */
export function pressureBetween(p: PressureSampler, from: number, to: number): { ioSome: number; ioFull: number; cpuSome: number } | null {
  const before = [...p.samples].reverse().find((s) => s.at <= from);
  const after = p.samples.find((s) => s.at >= to);
  if (!before || !after || after.at <= before.at) return null;
  const span = (after.at - before.at) * 1000;
  const pct = (x: number): number => Math.round((x / span) * 1000) / 10;
  return { ioSome: pct(after.ioSomeUs - before.ioSomeUs), ioFull: pct(after.ioFullUs - before.ioFullUs), cpuSome: pct(after.cpuSomeUs - before.cpuSomeUs) };
}
