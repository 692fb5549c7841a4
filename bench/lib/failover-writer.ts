/**
 * The client of the benchmark: one INSERT every 100 ms, to whichever node
 * accepts writes (as a client with both hosts and target_session_attrs=
 * read-write would): it writes to the node that took the last write, and
 * when that fails, to the other one in the same tick. Every acknowledged
 * id is kept with the node and the time, so that a failover is measured
 * as "first write acknowledged by the other node" and lost writes are
 * counted at the end.
 */
import pg from 'pg';
import { clusterUserName } from '../../test/helpers/cluster.js';

export interface Ack { id: number; port: number; at: number }

export const WRITES_TABLE = 'bench_writes';

export class Writer {
  readonly acks: Ack[] = [];
  errors = 0;
  private readonly clients = new Map<number, pg.Client | null>();
  private current = 0;
  private nextId = 1;
  private stopped = false;
  private loop: Promise<void> | null = null;

  constructor(private readonly ports: readonly number[], private readonly intervalMs = 100) {}

  start(): void {
    this.loop = (async () => {
      let next = performance.now();
      while (!this.stopped) {
        await this.tick();
        next = Math.max(next + this.intervalMs, performance.now());
        await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    for (const c of this.clients.values()) await c?.end().catch(() => undefined);
  }

  /** The first write acknowledged by a node other than `notPort` at or after `since`. */
  firstAckElsewhere(notPort: number, since: number): Ack | undefined {
    return this.acks.find((a) => a.at >= since && a.port !== notPort);
  }

  private async client(port: number): Promise<pg.Client> {
    const have = this.clients.get(port);
    if (have) return have;
    const c = new pg.Client({ host: '127.0.0.1', port, user: clusterUserName(), database: 'postgres', connectionTimeoutMillis: 1000, query_timeout: 2000 });
    c.on('error', () => { if (this.clients.get(port) === c) this.clients.set(port, null); });
    await c.connect();
    this.clients.set(port, c);
    return c;
  }

  private async write(port: number, id: number): Promise<boolean> {
    try {
      const c = await this.client(port);
      await c.query(`INSERT INTO ${WRITES_TABLE} (id) VALUES ($1)`, [id]);
      this.acks.push({ id, port, at: performance.now() });
      return true;
    } catch {
      this.errors += 1;
      const c = this.clients.get(port);
      this.clients.set(port, null);
      await c?.end().catch(() => undefined);
      return false;
    }
  }

  private async tick(): Promise<void> {
    const first = this.ports[this.current] as number;
    if (await this.write(first, this.nextId++)) return;
    const other = (this.current + 1) % this.ports.length;
    if (await this.write(this.ports[other] as number, this.nextId++)) this.current = other;
  }
}

/** Acknowledged ids missing from `present` (the ids the surviving primary holds). */
export function lostWrites(acks: readonly Ack[], present: ReadonlySet<number>): number[] {
  return acks.filter((a) => !present.has(a.id)).map((a) => a.id);
}
