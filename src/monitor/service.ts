/**
 * The monitor service (`listener`), run by `pg_autoctl run` on the monitor
 * node (DESIGN.md decision 3): keeps Postgres running, upgrades the schema
 * in place, holds the leader advisory lock (a second service on the same
 * database waits as a hot spare), LISTENs for reports and requests, runs
 * the group decision for every affected group, and health-checks the nodes.
 */
import type pg from 'pg';
import { messageOf } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { sleep, type Service, type ServiceContext } from '../common/service.js';
import type { AutoctlPaths, MonitorConfig } from '../config/index.js';
import { connectClient } from '../postgres/index.js';
import { connectLocal } from '../postgres/local-client.js';
import { createBrain, type Brain } from './brain.js';
import { DEFAULT_HEALTH_SETTINGS, runHealthChecks, type HealthSettings } from './health-check.js';
import { applyMigrations } from './schema.js';
import { readMonitorSettings, type MonitorSettings } from './settings.js';

/** Session advisory lock held by the active monitor service. */
export const LEADER_LOCK_KEY = 0x70676166; // "pgaf"
const DECIDE_CHANNEL = 'pgautofailover_decide';

export interface MonitorServiceOptions {
  paths: AutoctlPaths;
  config: MonitorConfig;
  env: NodeJS.ProcessEnv;
}

interface DecideRequest { formation: string; groupId: number; nodeId?: number; why?: string; goal?: string }

function parseDecide(payload: string | undefined): DecideRequest | null {
  try {
    const value = JSON.parse(payload ?? '') as Record<string, unknown>;
    if (typeof value.formation !== 'string' || typeof value.groupId !== 'number') return null;
    const request: DecideRequest = { formation: value.formation, groupId: value.groupId };
    if (typeof value.nodeId === 'number') request.nodeId = value.nodeId;
    if (typeof value.why === 'string') request.why = value.why;
    if (typeof value.goal === 'string') request.goal = value.goal;
    return request;
  } catch {
    return null;
  }
}

/** Waits for the leader lock; returns false when aborted first. */
async function becomeLeader(client: pg.Client, log: Logger, signal: AbortSignal): Promise<boolean> {
  let announced = false;
  while (!signal.aborted) {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [LEADER_LOCK_KEY]);
    if (rows[0]?.ok) return true;
    if (!announced) {
      log.info('Another monitor service is active on this database; waiting as a hot spare');
      announced = true;
    }
    await sleep(1000, signal);
  }
  return false;
}

/** Health probe: a fully established connection as pgautofailover_monitor (spec 03 §9.2, 2.1+ semantics). */
async function probeNode(node: { host: string; port: number }, timeoutMs: number): Promise<boolean> {
  try {
    const client = await connectClient({
      hosts: [{ host: node.host, port: node.port }],
      user: 'pgautofailover_monitor',
      password: 'pgautofailover_monitor',
      dbname: 'postgres',
      params: [['sslmode', 'prefer']],
    }, { connectTimeoutMs: timeoutMs, applicationName: 'pg_auto_failover health check' });
    await client.end().catch(() => undefined);
    return true;
  } catch {
    return false;
  }
}

export function monitorService(options: MonitorServiceOptions): Service {
  const pgdata = options.config.postgresql.pgdata;
  return {
    name: 'listener',
    async run(ctx: ServiceContext): Promise<void> {
      const { log, signal } = ctx;
      ctx.postgres.setExpected('running');
      await ctx.postgres.ensure();
      const clients: pg.Client[] = [];
      const open = async (name: string): Promise<pg.Client> => {
        const client = await connectLocal(pgdata, 'pg_auto_failover', { applicationName: `pg_auto_failover ${name}` });
        clients.push(client);
        return client;
      };
      try {
        const main = await open('monitor');
        const { from, to } = await applyMigrations(main, log);
        if (from !== to) log.info(`Upgraded the monitor schema from ${from ?? 'nothing'} to ${to}`);
        if (!(await becomeLeader(main, log, signal))) return;
        log.info(`Managing the monitor at postgres://autoctl_node@${options.config.pg_autoctl.hostname}:${options.config.postgresql.port}/pg_auto_failover`);

        let settings: MonitorSettings = await readMonitorSettings(main);
        const brain: Brain = createBrain({ client: main, log, settings: () => settings });
        const pending = new Map<string, DecideRequest>();
        let wake: (() => void) | null = null;
        const listener = await open('listener');
        listener.on('notification', (msg) => {
          if (msg.channel === DECIDE_CHANNEL) {
            const request = parseDecide(msg.payload);
            if (!request) return;
            if (request.why === 'report' && request.nodeId !== undefined) brain.noteReport(request.nodeId, request.goal ?? null);
            pending.set(`${request.formation}/${request.groupId}`, request);
            wake?.();
          } else if (msg.channel === 'log') {
            log.info(msg.payload ?? '');
          }
        });
        let lost: Error | null = null;
        listener.on('error', (error) => { lost = error; wake?.(); });
        main.on('error', (error) => { lost = error; wake?.(); });
        await listener.query(`LISTEN ${DECIDE_CHANNEL}`);
        await listener.query('LISTEN log');

        const health = await open('health check');
        const healthSettings = (): HealthSettings => ({ ...DEFAULT_HEALTH_SETTINGS, ...settings.health });
        const healthLoop = runHealthChecks({ client: () => health, probe: probeNode, settings: healthSettings, log }, signal);

        // Decide for every group at start, then on each notification, and on
        // a timer so time-based rules (timeouts, leases) fire without reports.
        await brain.decideAll();
        let lastFull = performance.now();
        let lastSettings = performance.now();
        while (!signal.aborted) {
          if (lost) throw lost;
          const batch = [...pending.values()];
          pending.clear();
          for (const request of batch) {
            try {
              await brain.decideGroup(request.formation, request.groupId);
            } catch (error) {
              log.error(`Failed to run the decisions for group ${request.groupId} of formation "${request.formation}": ${messageOf(error)}`);
            }
          }
          const now = performance.now();
          if (now - lastFull >= settings.decisionTickMs) {
            lastFull = now;
            await brain.decideAll();
          }
          if (now - lastSettings >= 5000) {
            lastSettings = now;
            settings = await readMonitorSettings(main);
          }
          const recheckAt = brain.nextRecheck();
          if (recheckAt !== null && recheckAt <= performance.now()) {
            await brain.decideAll();
            continue;
          }
          if (pending.size === 0) {
            const until = recheckAt === null ? settings.decisionTickMs : Math.min(settings.decisionTickMs, recheckAt - performance.now());
            await new Promise<void>((resolve) => {
              const done = (): void => {
                clearTimeout(timer);
                signal.removeEventListener('abort', done);
                wake = null;
                resolve();
              };
              const timer = setTimeout(done, Math.max(20, until));
              wake = done;
              signal.addEventListener('abort', done, { once: true });
            });
          }
        }
        await healthLoop;
      } finally {
        await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      }
    },
  };
}
