/**
 * The leadership gate of the monitor service (issue 13 phase 3, design
 * point 7; docs/architecture.md "Monitor high availability"). The service
 * asks it before each decision round, and before it starts Postgres.
 *
 * Without etcd (`ha.etcd` empty) this monitor always leads: the gate is
 * open, nothing is loaded, nothing changes.
 *
 * With etcd, a background loop, every 300 ms:
 * - leader, database a standby: promotes only when the etcd sync record
 *   names this member (after writing the `primary` fence key); otherwise it
 *   resigns (it cannot serve) and holds back for one TTL.
 * - leader, database a primary: the brain may decide.
 * - not leader, database a primary and Postgres running: campaigns when no
 *   one leads and no other monitor was made primary since; failing that,
 *   or when etcd does not answer, Postgres stops (fast, then immediate).
 * - not leader, database a primary, Postgres stopped: when another monitor
 *   leads, was made primary and is writable, this one rejoins it as a
 *   standby (pg_rewind); with no leader it campaigns only if no other
 *   monitor was made primary since (the `primary` key), else it waits.
 * - not leader, database a standby: Postgres runs read-only; it campaigns
 *   only when the sync record names it (only such a standby may be
 *   promoted).
 * Losing the leadership (no renewal for TTL/2, lease gone: ha/etcd.ts)
 * closes the gate at once, aborts the term (the service ends the session:
 * the round in flight is cut), and stops Postgres, fast then immediate,
 * well before the lease could pass to another monitor. etcd unreachable is
 * "this monitor is down": Postgres stopped (or read-only as a standby), no
 * decision; the data nodes' failsafe keeps their primary serving.
 */
import { dirname } from 'node:path';
import { messageOf } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { sleep, type PostgresControl } from '../../common/service.js';
import { etcdEndpointsOf, type MonitorConfig } from '../../config/index.js';
import { findPgBinaries, hasStandbySignal, readControlData, runningPostmaster } from '../../postgres/index.js';
import { candidateName, createEtcdHa, defaultEtcdPrefix, parseCandidate, type EtcdHa } from './etcd.js';
import { noSyncRecord, type SyncRecord } from './sync-record.js';

/** How often the background loop looks at etcd and the local database. */
export const LEADERSHIP_PERIOD_MS = 300;

export interface MonitorAddress { hostname: string; port: number }

export interface LeadershipDeps {
  config: MonitorConfig;
  log: Logger;
  env: NodeJS.ProcessEnv;
  postgres: PostgresControl;
  /** This monitor's member id, read from its running database (primary or standby); undefined when not known. */
  ownMemberId(): Promise<number | undefined>;
  /** Promotes the local standby database (ha/promote.ts), checked against `syncRecord`: resolves once writable. */
  promote(syncRecord: SyncRecord): Promise<void>;
  /** Makes the local primary database a standby of `leader` (ha/rejoin.ts): pg_rewind, standby config, start. */
  rejoin(leader: MonitorAddress): Promise<void>;
  /** Whether the monitor database at `leader` answers and is writable. */
  isWritable(leader: MonitorAddress): Promise<boolean>;
}

export interface Leadership {
  /** Whether etcd drives this monitor (false: always the leader). */
  readonly enabled: boolean;
  /** May the brain decide now? Synchronous, asked before every round. */
  mayDecide(): boolean;
  /** Aborted when the current leadership term ends (a fresh signal per term). */
  term(): AbortSignal;
  /** Resolves when the monitor's Postgres may run: a standby always, a primary only while leading. */
  beforePostgres(signal: AbortSignal): Promise<void>;
  /** The sync record for the members loop (no-op and strict without etcd). */
  readonly syncRecord: SyncRecord;
  /** The etcd side (undefined without etcd). */
  readonly etcd: EtcdHa | undefined;
  close(): Promise<void>;
}

/** The gate without etcd: always leading, nothing to wait for. */
export const ALWAYS_LEADER: Leadership = {
  enabled: false,
  mayDecide: () => true,
  term: () => new AbortController().signal,
  beforePostgres: () => Promise.resolve(),
  syncRecord: noSyncRecord,
  etcd: undefined,
  close: () => Promise.resolve(),
};

/** The etcd key prefix of this monitor: `ha.etcd_prefix`, or one named after the database's system identifier. */
export async function etcdPrefixFor(config: MonitorConfig, env: NodeJS.ProcessEnv): Promise<string> {
  if (config.ha.etcd_prefix !== '') return config.ha.etcd_prefix;
  const bin = config.postgresql.pg_ctl !== ''
    ? { binDir: dirname(config.postgresql.pg_ctl) }
    : await findPgBinaries({ env });
  const control = await readControlData(bin, config.postgresql.pgdata, env);
  return defaultEtcdPrefix(control.systemIdentifier.toString());
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const until = performance.now() + ms;
  while (alive(pid)) {
    if (performance.now() >= until) return false;
    await sleep(20);
  }
  return true;
}

/** Starts the gate: ALWAYS_LEADER without `ha.etcd`, else the etcd campaign and its background loop. */
export async function startLeadership(deps: LeadershipDeps, signal: AbortSignal): Promise<Leadership> {
  const { config, log } = deps;
  if (config.ha.etcd === '') return ALWAYS_LEADER;
  const endpoints = etcdEndpointsOf(config.ha.etcd);
  if (endpoints === undefined) throw new Error(`invalid ha.etcd "${config.ha.etcd}"`);
  const pgdata = config.postgresql.pgdata;
  const me: MonitorAddress = { hostname: config.pg_autoctl.hostname, port: config.postgresql.port };
  const candidate = candidateName(me.hostname, me.port);
  const prefix = await etcdPrefixFor(config, deps.env);
  const ttlMs = config.ha.etcd_ttl * 1000;
  const ha = await createEtcdHa({
    endpoints, prefix, ttlSeconds: config.ha.etcd_ttl, candidate, log, syncTimeoutMs: config.ha.sync_timeout * 1000,
  });
  log.info(`Monitor leadership through etcd at ${endpoints.join(',')}: keys under ${prefix}, lease ${config.ha.etcd_ttl} s, candidate "${candidate}"`);

  let termController = new AbortController();
  let claimed = false;
  let holdBackUntil = 0;
  let stopping: Promise<void> | null = null;
  /** A promotion or a rejoin runs: PGDATA is not for the session to touch. */
  let busy = false;
  const exclusive = async (fn: () => Promise<void>): Promise<void> => {
    busy = true;
    try {
      await fn();
    } finally {
      busy = false;
    }
  };
  let lastNote = '';
  const note = (level: 'info' | 'warn', message: string): void => {
    if (message === lastNote) return;
    lastNote = message;
    log[level](message);
  };

  /** Stops the local Postgres: fast, then immediate, within a quarter of the TTL (at most 3 s) each. */
  function stopPostgres(reason: string): Promise<void> {
    deps.postgres.setExpected('stopped');
    if (stopping) return stopping;
    stopping = (async () => {
      const pm = runningPostmaster(pgdata);
      if (pm === undefined) return;
      const pid = Math.abs(pm.pid);
      const stepMs = Math.min(3000, ttlMs / 4);
      log.warn(`Stopping the monitor's Postgres (pid ${pid}) in fast mode: ${reason}`);
      try { process.kill(pid, 'SIGINT'); } catch { /* gone */ }
      if (await waitGone(pid, stepMs)) return;
      log.warn(`Postgres (pid ${pid}) still runs after ${stepMs} ms: immediate shutdown`);
      try { process.kill(pid, 'SIGQUIT'); } catch { /* gone */ }
      if (await waitGone(pid, stepMs)) return;
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      await waitGone(pid, 2000);
    })().finally(() => { stopping = null; });
    return stopping;
  }

  ha.onStepDown((reason) => {
    // At once: the gate is closed already (isLeader), end the term, stop Postgres.
    claimed = false;
    termController.abort(new Error(`monitor leadership lost: ${reason}`));
    termController = new AbortController();
    void stopPostgres(`this monitor no longer leads in etcd (${reason})`);
  });

  async function standbyMayLead(): Promise<boolean> {
    const id = await deps.ownMemberId().catch(() => undefined);
    if (id === undefined) return false;
    return (await ha.syncRecord.isSync(id)) === true;
  }

  async function step(): Promise<void> {
    const standby = hasStandbySignal(pgdata);
    const running = runningPostmaster(pgdata) !== undefined;
    if (ha.isLeader()) {
      if (!standby) {
        if (!claimed) claimed = await ha.claimPrimary();
        return;
      }
      if (!running) return;
      if (!(await standbyMayLead())) {
        note('warn', 'This monitor leads in etcd but the etcd sync record does not name it: it may not be promoted, it resigns');
        await ha.resign();
        holdBackUntil = performance.now() + ttlMs;
        return;
      }
      if (!(await ha.claimPrimary())) return;
      claimed = true;
      note('info', 'This monitor leads in etcd and the etcd sync record names it: promoting its database');
      await exclusive(() => deps.promote(ha.syncRecord));
      log.info('The monitor database is writable: this monitor is the primary monitor');
      return;
    }
    if (!standby) {
      let leader: string | undefined;
      let primary: string | undefined;
      try {
        leader = await ha.leader();
        primary = await ha.primary();
        if ((leader === undefined || leader === candidate) && (primary === undefined || primary === candidate)) {
          if (await ha.campaign()) {
            claimed = await ha.claimPrimary();
            note('info', `This monitor leads in etcd (${prefix}/leader)`);
            return;
          }
        }
      } catch (error) {
        if (running) await stopPostgres(`etcd does not answer (${messageOf(error)}): this monitor is down`);
        throw error;
      }
      if (running) {
        await stopPostgres(leader === undefined ? `no leader in etcd, and "${primary}" was made primary since`
          : `monitor "${leader}" leads in etcd`);
        return;
      }
      const target = leader === undefined ? undefined : parseCandidate(leader);
      if (target === undefined) {
        note('warn', `No monitor leads in etcd and monitor "${primary}" was made primary after this one: waiting for a leader to rejoin`);
        return;
      }
      if (primary !== leader || !(await deps.isWritable(target))) {
        note('info', `Monitor "${leader}" leads in etcd: waiting until its database is writable to rejoin it as a standby`);
        return;
      }
      note('info', `Monitor "${leader}" leads in etcd: this monitor rejoins it as a standby`);
      await exclusive(() => deps.rejoin(target));
      return;
    }
    // A standby: read-only Postgres is fine; only the synchronous one campaigns.
    if (!running || performance.now() < holdBackUntil) return;
    if ((await ha.leader()) !== undefined) return;
    if (await standbyMayLead()) {
      if (await ha.campaign()) note('info', `This monitor leads in etcd (${prefix}/leader)`);
    }
  }

  const loopStop = new AbortController();
  const stopLoop = (): void => loopStop.abort();
  signal.addEventListener('abort', stopLoop, { once: true });
  const loop = (async () => {
    let failing = '';
    while (!loopStop.signal.aborted) {
      try {
        await step();
        if (failing !== '') log.info('Monitor leadership: etcd and the local database answer again');
        failing = '';
      } catch (error) {
        const message = messageOf(error);
        if (message !== failing) log.warn(`Monitor leadership: ${message}`);
        failing = message;
      }
      await sleep(LEADERSHIP_PERIOD_MS, loopStop.signal);
    }
  })();

  return {
    enabled: true,
    mayDecide: () => ha.isLeader() && claimed,
    term: () => termController.signal,
    async beforePostgres(wait) {
      let announced = false;
      while (!wait.aborted) {
        if (stopping === null && !busy && (hasStandbySignal(pgdata) || (ha.isLeader() && claimed))) return;
        if (!announced) {
          log.info('Waiting for the leadership in etcd before starting the monitor\'s Postgres as a primary');
          announced = true;
        }
        await sleep(100, wait);
      }
    },
    syncRecord: ha.syncRecord,
    etcd: ha,
    async close() {
      signal.removeEventListener('abort', stopLoop);
      loopStop.abort();
      await loop;
      // A leader that stops hands over at once rather than after its
      // lease: its Postgres first (the supervisor would stop it next
      // anyway), then the lease.
      if (ha.isLeader()) {
        await stopPostgres('this monitor service stops');
        await ha.resign();
        log.info('Resigned the monitor leadership in etcd');
      }
      await ha.close();
    },
  };
}
