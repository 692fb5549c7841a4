/**
 * A throwaway PostgreSQL instance run as the cluster account, for tests of
 * SQL (the monitor schema) that do not need pg_autoctl itself.
 */
import { join } from 'node:path';
import pg from 'pg';
import { applyMigrations, createMonitorDatabase, createMonitorRoles } from '../../src/monitor/schema.js';
import { freePort, makeTempDir, onCleanup, pgBinDir, run } from './fixture.js';

export interface TempPostgres {
  pgdata: string;
  port: number;
  /** Superuser connection string (the cluster account, trust auth on 127.0.0.1). */
  url(database?: string, user?: string): string;
  stop(): Promise<void>;
}

export async function startTempPostgres(options: { settings?: Record<string, string> } = {}): Promise<TempPostgres> {
  const bin = pgBinDir();
  const dir = makeTempDir('pgaf-pg-');
  const pgdata = join(dir, 'data');
  const port = await freePort();
  const init = await run([join(bin, 'initdb'), '-D', pgdata, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], { timeoutMs: 120_000 });
  if (init.exitCode !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const opts = [`-c port=${port}`, "-c listen_addresses=127.0.0.1", `-c unix_socket_directories=${dir}`, '-c fsync=off',
    ...Object.entries(options.settings ?? {}).map(([k, v]) => `-c ${k}=${v}`)].join(' ');
  const start = await run([join(bin, 'pg_ctl'), '-D', pgdata, '-l', join(dir, 'postgres.log'), '-w', '-t', '60', '-o', opts, 'start'], { timeoutMs: 90_000 });
  if (start.exitCode !== 0) throw new Error(`pg_ctl start failed: ${start.stderr}${start.stdout}`);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await run([join(bin, 'pg_ctl'), '-D', pgdata, '-m', 'immediate', '-w', 'stop'], { timeoutMs: 60_000 });
  };
  onCleanup(`stop postgres ${pgdata}`, stop);
  return {
    pgdata,
    port,
    url: (database = 'postgres', user = 'postgres') => `postgres://${user}@127.0.0.1:${port}/${database}`,
    stop,
  };
}

/** A temporary Postgres holding the monitor database, with a superuser session and an autoctl_node session on it. */
export interface TempMonitorDatabase {
  server: TempPostgres;
  admin: pg.Client;
  node: pg.Client;
  connect(database: string, user: string): Promise<pg.Client>;
}

/** Starts a temporary Postgres, creates the monitor's roles, database and schema (all migrations and the API). */
export async function startTempMonitorDatabase(): Promise<TempMonitorDatabase> {
  const server = await startTempPostgres();
  const connect = async (database: string, user: string): Promise<pg.Client> => {
    const client = new pg.Client({ connectionString: server.url(database, user) });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  const boot = await connect('postgres', 'postgres');
  await createMonitorRoles(boot);
  await createMonitorDatabase(boot);
  await boot.end();
  const admin = await connect('pg_auto_failover', 'postgres');
  await applyMigrations(admin);
  const node = await connect('pg_auto_failover', 'autoctl_node');
  return { server, admin, node, connect };
}
