/**
 * What the leadership gate (leadership.ts) needs of the rest of the
 * monitor, wired to the real parts: the member row of this monitor, the
 * promotion (promote.ts) and the rejoin (handover.ts, rejoin.ts).
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServiceContext } from '../../common/service.js';
import { currentMonitorEpoch, monitorMemberSync } from '../../monitor-api/index.js';
import { findPgBinaries, runningPostmaster, withClient, type SslMode } from '../../postgres/index.js';
import { connectLocal } from '../../postgres/local-client.js';
import type { MonitorServiceOptions } from '../service.js';
import { runHandover } from './handover.js';
import { memberUri } from './members-loop.js';
import type { LeadershipDeps, MonitorAddress } from './leadership.js';
import { promoteMonitor } from './promote.js';

/** Deadline for a promoted monitor database to accept writes. */
const PROMOTE_TIMEOUT_MS = 60_000;
/** How often a pending promote request is passed on again. */
const PROMOTE_NUDGE_MS = 500;

export function leadershipDeps(options: MonitorServiceOptions, ctx: ServiceContext): LeadershipDeps {
  const { config, env } = options;
  const { log } = ctx;
  const me: MonitorAddress = { hostname: config.pg_autoctl.hostname, port: config.postgresql.port };
  const sslMode = config.ssl.sslmode as SslMode;
  const local = async <T>(fn: (client: import('pg').Client) => Promise<T>): Promise<T> => {
    const client = await connectLocal(config.postgresql.pgdata, 'pg_auto_failover', { applicationName: 'pg_auto_failover leadership' });
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  const remote = <T>(at: MonitorAddress, fn: (client: import('pg').Client) => Promise<T>): Promise<T> =>
    withClient(memberUri(at, sslMode), { connectTimeoutMs: 2000, applicationName: 'pg_auto_failover leadership', env }, fn);

  return {
    config, log, env, postgres: ctx.postgres,
    ownMemberId: () => local(async (client) => (await monitorMemberSync(client, me.hostname, me.port))?.memberId),
    async promote(syncRecord) {
      const bin = await findPgBinaries({ pgctl: config.postgresql.pg_ctl, env });
      // Postgres 15 at times notices a promote request only at the end of
      // its wal_retrieve_retry_interval sleep (5 s) while it waits for a
      // primary that is gone. Once pg_ctl promote was issued, the request
      // is made again every 500 ms (the file, and SIGUSR1 to the
      // postmaster, which passes it on and so wakes the startup process)
      // until the database accepts writes; the file is removed after.
      const pgdata = config.postgresql.pgdata;
      const promoteFile = join(pgdata, 'promote');
      let issuedAt: number | undefined;
      const watchLog: typeof log = Object.create(log) as typeof log;
      const info = log.info.bind(log) as (...args: unknown[]) => void;
      watchLog.info = ((...args: unknown[]) => {
        if (typeof args[0] === 'string' && args[0].startsWith('Promoting PostgreSQL at')) issuedAt = performance.now();
        info(...args);
      }) as typeof log.info;
      const nudge = setInterval(() => {
        if (issuedAt === undefined || performance.now() - issuedAt < PROMOTE_NUDGE_MS) return;
        const pm = runningPostmaster(pgdata);
        if (pm === undefined) return;
        try {
          if (!existsSync(promoteFile)) writeFileSync(promoteFile, '', { mode: 0o600 });
          process.kill(Math.abs(pm.pid), 'SIGUSR1');
        } catch { /* gone, or promoted meanwhile */ }
      }, PROMOTE_NUDGE_MS);
      try {
        await local((client) => promoteMonitor({
          client, bin, pgdata, address: me, syncRecord, log: watchLog, env, timeoutMs: PROMOTE_TIMEOUT_MS, signal: ctx.signal,
        }));
      } finally {
        clearInterval(nudge);
        rmSync(promoteFile, { force: true });
      }
    },
    async rejoin(leader) {
      // Our member id, as the new primary knows it (ours is stopped).
      const self = await remote(leader, (client) => monitorMemberSync(client, me.hostname, me.port));
      if (self === undefined) throw new Error(`this monitor (${me.hostname}:${me.port}) has no member row on the monitor at ${leader.hostname}:${leader.port}`);
      await runHandover({ kind: 'stale', memberId: self.memberId, upstream: { host: leader.hostname, port: leader.port }, epoch: 0 },
        { config, postgres: ctx.postgres, log, env, signal: ctx.signal });
    },
    isWritable: (leader) => remote(leader, async (client) => (await currentMonitorEpoch(client)).writable).catch(() => false),
  };
}
