/**
 * What the leadership gate (leadership.ts) needs of the rest of the
 * monitor, wired to the real parts: the member row of this monitor, the
 * promotion (promote.ts) and the rejoin (handover.ts, rejoin.ts).
 */
import { existsSync } from 'node:fs';
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
      // A promote request that arrives right after a reload (promote.ts
      // empties synchronous_standby_names first) is at times noticed only
      // at the startup process's next 5 s timeout: while the request file
      // is still there, the postmaster is asked again (SIGUSR1 makes it
      // pass the request on; a request already taken has no file left).
      const nudge = setInterval(() => {
        if (!existsSync(join(config.postgresql.pgdata, 'promote'))) return;
        const pm = runningPostmaster(config.postgresql.pgdata);
        if (pm === undefined) return;
        try { process.kill(Math.abs(pm.pid), 'SIGUSR1'); } catch { /* gone */ }
      }, PROMOTE_NUDGE_MS);
      try {
        await local((client) => promoteMonitor({
          client, bin, pgdata: config.postgresql.pgdata, address: me, syncRecord, log, env, timeoutMs: PROMOTE_TIMEOUT_MS, signal: ctx.signal,
        }));
      } finally {
        clearInterval(nudge);
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
