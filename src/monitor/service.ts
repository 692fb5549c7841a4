/**
 * The monitor service (`listener`), run by `pg_autoctl run` on the monitor
 * node (DESIGN.md decision 3): keeps Postgres running, upgrades the schema
 * in place, claims the leader row (a second service on the same database
 * waits as a hot spare), LISTENs for reports and requests, runs the group
 * decision for every affected group, and health-checks the nodes.
 *
 * Anyone who can connect to the monitor may send notifications and hold
 * locks through the API functions, so: notifications are hints only (see
 * notifications.ts); the leader is a row only this service's role can
 * claim; the service's sessions have a lock_timeout and a
 * statement_timeout; and a group whose lock is held, or whose decision
 * fails, is retried later with a backoff while the others go on.
 */
import type pg from 'pg';
import { messageOf } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { sleep, type Service, type ServiceContext } from '../common/service.js';
import { monitorPeersOf, type AutoctlPaths, type MonitorConfig } from '../config/index.js';
import { advanceMonitorEpoch, CHANNELS, claimMonitorLeadership, type MonitorEpoch } from '../monitor-api/index.js';
import { connectClient } from '../postgres/index.js';
import { connectLocal } from '../postgres/local-client.js';
import { createBrain, type Brain } from './brain.js';
import { createPeerWatch } from './epoch-peers.js';
import { startLeadership, type Leadership } from './ha/leadership.js';
import { leadershipDeps } from './ha/leadership-deps.js';
import {
  runHandover, staleAtStart, staleRejoinPlan, SWITCHOVER_POLL_MS, takeSwitchoverRequest, type HandoverPlan,
} from './ha/handover.js';
import { createMembersLoop } from './ha/members-loop.js';
import { inStandbyMode, runStandbyMode } from './ha/standby-mode.js';
import { DEFAULT_HEALTH_SETTINGS, runHealthChecks, type HealthSettings } from './health-check.js';
import { startMonitorHttp, type MonitorHttpDeps } from './http-routes.js';
import { monitorMetrics, type MonitorMetrics } from './metrics.js';
import { DecideHints, groupKey, logRateLimiter, sanitizeLogMessage, type GroupRef } from './notifications.js';
import { applyMigrations } from './schema.js';
import { readMonitorSettings, type MonitorSettings } from './settings.js';

/** Session limits of the service's connections: no lock or statement holds it up for long. */
export const SERVICE_LOCK_TIMEOUT_MS = 2000;
export const SERVICE_STATEMENT_TIMEOUT_MS = 10_000;
/** A stale monitor that could not plan its rejoin (no member row, ...) tries again after this. */
const STALE_REJOIN_RETRY_MS = 10_000;
/** A group that was busy or failed is retried after this, doubling up to the maximum. */
const RETRY_FIRST_MS = 50;
const RETRY_MAX_MS = 2000;
/** Unknown groups named by hints make the service re-read the group list at most this often. */
const GROUP_LIST_REFRESH_MS = 100;
/** A group named by hints is decided at most once per this period (hints are rate-limited, ticks are not). */
const MIN_HINT_INTERVAL_MS = 20;
/** The same failure of one group is logged at most once per this period. */
const FAILURE_LOG_PERIOD_MS = 60_000;

export interface MonitorServiceOptions {
  paths: AutoctlPaths;
  config: MonitorConfig;
  env: NodeJS.ProcessEnv;
}

/** Claims the leader row; waits while another live monitor service holds it. Returns false when aborted first. */
async function becomeLeader(client: pg.Client, log: Logger, signal: AbortSignal): Promise<boolean> {
  let announced = false;
  while (!signal.aborted) {
    if (await claimMonitorLeadership(client)) return true;
    if (!announced) {
      log.info('Another monitor service is active on this database; waiting as a hot spare');
      announced = true;
    }
    await sleep(1000, signal);
  }
  return false;
}

async function limitSession(client: pg.Client): Promise<void> {
  await client.query(`SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false)`,
    [`${SERVICE_LOCK_TIMEOUT_MS}ms`, `${SERVICE_STATEMENT_TIMEOUT_MS}ms`]);
}

interface Retry { at: number; delay: number; logged: number; message: string }

/**
 * Runs the decisions: for the groups named by hints (that exist), for
 * every group each decision tick and when a time-based rule is due, and
 * for groups whose retry time came. One stuck or failing group only
 * delays itself.
 */
export function createDecisionLoop(deps: { brain: Brain; log: Logger; tickMs: () => number; clock?: () => number }) {
  const { brain, log } = deps;
  const clock = deps.clock ?? ((): number => performance.now());
  const hints = new DecideHints();
  const retries = new Map<string, Retry>();
  let groups = new Map<string, GroupRef>();
  let listedAt = Number.NEGATIVE_INFINITY;
  let lastFull = Number.NEGATIVE_INFINITY;
  /** Hinted groups not found in the last list, kept until the next allowed refresh. */
  let unknown = new Map<string, GroupRef>();
  /** When each group was last decided, and hinted groups waiting for MIN_HINT_INTERVAL_MS. */
  const decidedAt = new Map<string, number>();
  const deferred = new Map<string, GroupRef>();

  async function refreshGroups(): Promise<void> {
    const list = await brain.listGroups();
    groups = new Map(list.map((g) => [groupKey(g), g]));
    listedAt = clock();
  }

  async function decide(group: GroupRef): Promise<void> {
    const k = groupKey(group);
    const retry = retries.get(k);
    decidedAt.set(k, clock());
    deferred.delete(k);
    let message: string;
    try {
      const outcome = await brain.decideGroup(group.formationId, group.groupId);
      if (outcome.kind !== 'busy') {
        retries.delete(k);
        return;
      }
      message = 'busy';
    } catch (error) {
      message = messageOf(error);
    }
    const now = clock();
    const delay = retry === undefined ? RETRY_FIRST_MS : Math.min(RETRY_MAX_MS, retry.delay * 2);
    let logged = retry?.logged ?? Number.NEGATIVE_INFINITY;
    if (message !== 'busy' && (message !== retry?.message || now - logged >= FAILURE_LOG_PERIOD_MS)) {
      log.error(`Failed to run the decisions for group ${group.groupId} of formation "${sanitizeLogMessage(group.formationId)}": ${message}`);
      logged = now;
    }
    retries.set(k, { at: now + delay, delay, logged, message });
  }

  /** One round; returns the monotonic time by which the next round is wanted. */
  async function round(): Promise<number> {
    const now = clock();
    const taken = hints.take();
    const recheckAt = brain.nextRecheck();
    const full = taken.overflow || now - lastFull >= deps.tickMs() || (recheckAt !== null && recheckAt <= now);
    for (const g of taken.groups) {
      const k = groupKey(g);
      if (!groups.has(k) && unknown.size < 1024) unknown.set(k, g);
    }
    if (full || (unknown.size > 0 && now - listedAt >= GROUP_LIST_REFRESH_MS)) {
      await refreshGroups();
      unknown = new Map();
    }
    const due = new Map<string, GroupRef>();
    if (full) lastFull = now;
    const candidates = full ? [...groups.values()] : [...taken.groups, ...deferred.values()];
    for (const g of candidates) {
      const k = groupKey(g);
      const known = groups.get(k);
      if (known === undefined) {
        deferred.delete(k);
        continue;
      }
      const retry = retries.get(k);
      if (retry !== undefined && retry.at > now) continue;
      if (!full && now - (decidedAt.get(k) ?? Number.NEGATIVE_INFINITY) < MIN_HINT_INTERVAL_MS) {
        deferred.set(k, known);
        continue;
      }
      due.set(k, known);
    }
    for (const [k, retry] of retries) {
      const g = groups.get(k);
      if (g === undefined) retries.delete(k);
      else if (retry.at <= now) due.set(k, g);
    }
    for (const g of due.values()) await decide(g);
    for (const k of decidedAt.keys()) if (!groups.has(k)) decidedAt.delete(k);

    let next = lastFull + deps.tickMs();
    const recheck = brain.nextRecheck();
    if (recheck !== null) next = Math.min(next, recheck);
    for (const retry of retries.values()) next = Math.min(next, retry.at);
    if (unknown.size > 0) next = Math.min(next, listedAt + GROUP_LIST_REFRESH_MS);
    for (const k of deferred.keys()) next = Math.min(next, (decidedAt.get(k) ?? now) + MIN_HINT_INTERVAL_MS);
    return next;
  }

  return { hints, round };
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

const CONNECTION_LOSS_SQLSTATES = new Set(['57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006']);

/**
 * A lost or refused connection to the monitor's own database (Postgres
 * restarting, crashed, starting up): the service waits and reconnects by
 * itself, hot spare included, instead of failing into the supervisor's
 * restart budget.
 */
export function isConnectionLoss(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e !== null && typeof e === 'object' && depth < 5; depth += 1) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (CONNECTION_LOSS_SQLSTATES.has(code) || ['ECONNREFUSED', 'ECONNRESET', 'ENOENT', 'EPIPE', 'ETIMEDOUT'].includes(code))) return true;
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string' && /Connection terminated|connection (is )?closed|the database system is (starting up|shutting down)|terminating connection/i.test(message)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

export function monitorService(options: MonitorServiceOptions): Service {
  return {
    name: 'listener',
    async run(ctx: ServiceContext): Promise<void> {
      let failures = 0;
      const httpDeps: MonitorHttpDeps = { config: options.config, log: ctx.log, env: options.env, signal: ctx.signal };
      const metrics = monitorMetrics(httpDeps);
      const http = await startMonitorHttp(httpDeps);
      let leadership: Leadership | undefined;
      try {
        // With ha.etcd: the etcd campaign gates Postgres and the brain (ha/leadership.ts).
        leadership = await startLeadership(leadershipDeps(options, ctx), ctx.signal);
        while (!ctx.signal.aborted) {
          try {
            const plan = await monitorSession(options, ctx, () => { failures = 0; }, metrics, leadership);
            if (plan === undefined) return;
            // This monitor hands over (or is stale): it becomes a standby, then a new session starts.
            await runHandover(plan, { config: options.config, postgres: ctx.postgres, log: ctx.log, env: options.env, signal: ctx.signal });
          } catch (error) {
            if (ctx.signal.aborted) return;
            if (!isConnectionLoss(error)) throw error;
            if (failures === 0) ctx.log.warn(`Lost the connection to the monitor database, reconnecting: ${messageOf(error)}`);
            failures += 1;
            await sleep(Math.min(1000, 100 * 2 ** Math.min(failures - 1, 4)), ctx.signal);
          }
        }
      } finally {
        await leadership?.close();
        await http?.close();
        await metrics.close();
      }
    },
  };
}

/**
 * One connected session of the service: migrations, leadership, the
 * decision loop; throws when a connection is lost. Returns a plan when
 * this monitor must become a standby (a switchover request, a newer
 * writable peer), undefined when the service stops.
 */
async function monitorSession(options: MonitorServiceOptions, ctx: ServiceContext, connected: () => void,
  metrics: MonitorMetrics, leadership: Leadership): Promise<HandoverPlan | undefined> {
  const pgdata = options.config.postgresql.pgdata;
  const { log, signal } = ctx;
  await leadership.beforePostgres(signal);
  if (signal.aborted) return undefined;
  // The end of the leadership term ends the session at once: its clients close, the round in flight fails.
  const term = leadership.term();
  ctx.postgres.setExpected('running');
  await ctx.postgres.ensure();
  const clients: pg.Client[] = [];
  const open = async (name: string): Promise<pg.Client> => {
    if (term.aborted) throw new Error('Connection terminated: the monitor leadership term ended');
    const client = await connectLocal(pgdata, 'pg_auto_failover', { applicationName: `pg_auto_failover ${name}` });
    clients.push(client);
    if (term.aborted) void client.end().catch(() => undefined);
    return client;
  };
  let dropped: NodeJS.Timeout | undefined;
  const peerStop = new AbortController();
  const stopPeers = (): void => peerStop.abort();
  signal.addEventListener('abort', stopPeers, { once: true });
  let peerLoop: Promise<void> = Promise.resolve();
  const endTerm = (): void => { for (const c of clients) void c.end().catch(() => undefined); };
  term.addEventListener('abort', endTerm, { once: true });
  let healthLoop: Promise<void> = Promise.resolve();
  // A statement may wait for a synchronous standby monitor that is gone
  // (strict without etcd): on shutdown the sessions are closed after a
  // moment, so that the service stops and Postgres with it.
  let closing: NodeJS.Timeout | undefined;
  const closeSessions = (): void => {
    closing = setTimeout(() => { for (const c of clients) void c.end().catch(() => undefined); }, 1000);
  };
  signal.addEventListener('abort', closeSessions, { once: true });
  try {
    const main = await open('monitor');
    connected();
    // A standby monitor (its database in recovery) waits until promoted.
    if (await inStandbyMode(main)) {
      metrics.setLeader(false);
      if (await runStandbyMode({ client: main, log, signal, peers: monitorPeersOf(options.config.ha.peers) }) === 'aborted') return undefined;
    } else if (!leadership.enabled) {
      // Writable, but maybe stale (back after a forced failover): rejoin before writing anything.
      // (With etcd, only the leader's database is writable: ha/leadership.ts.)
      const stale = await staleAtStart(main, options.config, log, options.env);
      if (stale !== undefined) return stale;
    }
    const { from, to } = await applyMigrations(main, log);
    if (from !== to) log.info(`Upgraded the monitor schema from ${from ?? 'nothing'} to ${to}`);
    if (!(await becomeLeader(main, log, signal))) return undefined;
    metrics.setLeader(true);
    log.info(`Managing the monitor at postgres://autoctl_node@${options.config.pg_autoctl.hostname}:${options.config.postgresql.port}/pg_auto_failover`);

    await limitSession(main);
    const first = await advanceMonitorEpoch(main);
    let epoch: MonitorEpoch = first;
    log.info(`Monitor epoch ${first.epoch} (system identifier ${first.systemIdentifier ?? 'unknown'}, timeline ${first.timeline ?? 'unknown'})`
      + (first.advanced ? ': a new epoch starts now' : ''));
    let settings: MonitorSettings = await readMonitorSettings(main);
    const brain: Brain = metrics.instrumentBrain(createBrain({ client: main, log, settings: () => settings }));
    const loop = createDecisionLoop({ brain, log, tickMs: () => settings.decisionTickMs });
    const logLimit = logRateLimiter(50, 200, () => performance.now());
    let wake: (() => void) | null = null;
    const listener = await open('listener');
    await limitSession(listener);
    listener.on('notification', (msg) => {
      if (msg.channel === CHANNELS.decide) {
        loop.hints.add(msg.payload);
        wake?.();
      } else if (msg.channel === CHANNELS.log) {
        const { print, suppressed } = logLimit(msg.payload ?? '');
        if (!print) return;
        if (suppressed > 0) log.warn(`${suppressed} messages of the log channel were not printed (more than 50 a second)`);
        log.info(sanitizeLogMessage(msg.payload ?? ''));
      }
    });
    dropped = setInterval(() => {
      const count = logLimit.flush();
      if (count > 0) log.warn(`${count} messages of the log channel were not printed (more than 50 a second)`);
    }, 1000);
    let lost: Error | null = null;
    listener.on('error', (error) => { lost = error; wake?.(); });
    main.on('error', (error) => { lost = error; wake?.(); });
    await listener.query(`LISTEN ${CHANNELS.decide}`);
    await listener.query(`LISTEN ${CHANNELS.log}`);

    const health = await open('health check');
    await limitSession(health);
    const healthSettings = (): HealthSettings => ({ ...DEFAULT_HEALTH_SETTINGS, ...settings.health });
    healthLoop = runHealthChecks({ client: () => health, probe: probeNode, settings: healthSettings, log }, peerStop.signal);
    // The standby monitors: slots, HBA, the synchronous set; they are peers too.
    const membersClient = await open('members');
    membersClient.on('error', () => undefined); // its next query fails and is logged; the main session notices the loss
    await limitSession(membersClient);
    const members = createMembersLoop({
      client: membersClient, self: { hostname: options.config.pg_autoctl.hostname, port: options.config.postgresql.port },
      pgdata, authMethod: options.config.postgresql.auth_method, sslActive: options.config.ssl.active === 1,
      sslmode: options.config.ssl.sslmode, replicationPassword: options.config.replication.password, log, syncRecord: leadership.syncRecord,
    });
    await members.round().catch((error: unknown) => log.warn(`Failed to maintain the monitor members: ${messageOf(error)}`));
    const membersLoop = members.run(peerStop.signal);
    const peers = createPeerWatch({
      peers: monitorPeersOf(options.config.ha.peers), morePeers: () => members.peerUris(), log, ownEpoch: () => epoch.epoch, env: options.env,
    });
    // No decision before the first look at the peers.
    await peers.check().catch((error: unknown) => log.warn(`Failed to check the monitor peers: ${messageOf(error)}`));
    peerLoop = Promise.all([peers.run(peerStop.signal, () => wake?.()), membersLoop]).then(() => undefined);

    // Decide for every group at start, then on each notification, and on
    // a timer so time-based rules (timeouts, leases) fire without reports.
    let lastSettings = performance.now();
    let lastSwitchoverPoll = Number.NEGATIVE_INFINITY;
    let lastStaleAttempt = Number.NEGATIVE_INFINITY;
    const staleWarned = new Set<string>();
    while (!signal.aborted) {
      if (lost) throw lost;
      // A writable peer with a higher epoch: this monitor is stale, it
      // decides nothing and rejoins that peer as a standby. Nor does it
      // decide without the leadership in etcd (ha/leadership.ts).
      if (term.aborted) throw new Error('Connection terminated: the monitor leadership term ended');
      if (peers.blockedBy !== undefined && performance.now() - lastStaleAttempt >= STALE_REJOIN_RETRY_MS) {
        lastStaleAttempt = performance.now();
        const plan = await staleRejoinPlan(options.config, epoch, peers.blockedBy, log, options.env, staleWarned);
        if (plan !== undefined) return plan;
      }
      const deciding = peers.blockedBy === undefined && leadership.mayDecide();
      let next = deciding ? await loop.round() : performance.now() + (leadership.mayDecide() ? 1000 : 200);
      const now = performance.now();
      if (deciding && now - lastSwitchoverPoll >= SWITCHOVER_POLL_MS) {
        lastSwitchoverPoll = now;
        const plan = await takeSwitchoverRequest(main, options.config, log);
        if (plan !== undefined) return plan;
      }
      if (deciding) next = Math.min(next, lastSwitchoverPoll + SWITCHOVER_POLL_MS);
      if (now - lastSettings >= 5000) {
        lastSettings = now;
        settings = await readMonitorSettings(main);
        const current = await advanceMonitorEpoch(main);
        if (current.advanced) log.info(`Monitor epoch ${current.epoch} starts now (timeline ${current.timeline ?? 'unknown'})`);
        epoch = current;
      }
      if ((deciding && loop.hints.pending) || lost) continue;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          wake = null;
          resolve();
        };
        const timer = setTimeout(done, Math.max(5, next - performance.now()));
        wake = done;
        signal.addEventListener('abort', done, { once: true });
      });
    }
    return undefined;
  } finally {
    term.removeEventListener('abort', endTerm);
    metrics.setLeader(false);
    signal.removeEventListener('abort', stopPeers);
    signal.removeEventListener('abort', closeSessions);
    clearTimeout(closing);
    peerStop.abort();
    await peerLoop;
    await healthLoop;
    clearInterval(dropped);
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}
