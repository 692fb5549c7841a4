/**
 * What the health endpoints (health-routes.ts) need beyond the facts the
 * loop gathers each round: whether this standby streams right now (read on
 * a connection of its own to the local Postgres) and the group's
 * synchronous_standby_names (asked of the monitor). Both are read on
 * demand, cached for a short while and shared by concurrent requests, and
 * every read has a deadline: an HTTP request never waits longer than a
 * fixed bound, and never holds the keeper loop.
 */
import type pg from 'pg';
import { messageOf } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { parseLsnOrZero, type Lsn } from '../common/lsn.js';
import { isMonitorDisabled } from '../config/index.js';
import { synchronousStandbyNames } from '../monitor-api/index.js';
import { connectLocal } from '../postgres/index.js';
import { destroyClient } from './monitor-link.js';
import { onMonitor, type KeeperRuntime } from './runtime.js';

/** Monotonic milliseconds. */
export type Clock = () => number;

export interface CacheTiming {
  /** A value younger than this is served without a new read. */
  freshMs: number;
  /** A value older than this is not served at all (unknown). */
  maxAgeMs: number;
  /** How long a request waits for a read it started (or joined). */
  waitMs: number;
}

/**
 * A value read by `read` on demand: served from the cache while fresh,
 * else one read at a time is started and the caller waits for it at most
 * `waitMs`, then gets the newest value not older than `maxAgeMs` (null
 * when there is none). `read` must not throw: failures are values too, so
 * they are cached like the rest and a failing source is not hammered.
 */
export class OnDemandCache<T> {
  private value: { v: T; at: number } | null = null;
  private inflight: Promise<void> | null = null;

  constructor(private readonly read: () => Promise<T>, private readonly timing: CacheTiming, private readonly clock: Clock) {}

  async get(): Promise<{ value: T; ageMs: number } | null> {
    const now = this.clock();
    if (this.value === null || now - this.value.at >= this.timing.freshMs) {
      const pending = this.refresh();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([pending, new Promise<void>((resolve) => { timer = setTimeout(resolve, this.timing.waitMs); })]);
      clearTimeout(timer);
    }
    const v = this.value;
    if (v === null) return null;
    const age = this.clock() - v.at;
    return age <= this.timing.maxAgeMs ? { value: v.v, ageMs: age } : null;
  }

  /** The cached value without any read (for the status document). */
  peek(): { value: T; ageMs: number } | null {
    return this.value === null ? null : { value: this.value.v, ageMs: this.clock() - this.value.at };
  }

  private refresh(): Promise<void> {
    if (this.inflight !== null) return this.inflight;
    const startedAt = this.clock();
    this.inflight = this.read().then((v) => {
      // Stamped with the start of the read: its facts are at least that old.
      if (this.value === null || startedAt >= this.value.at) this.value = { v, at: startedAt };
    }).finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }
}

/** What this node's Postgres says about its replication (one read). */
export interface StandbyReading {
  /** null: the read failed (Postgres down, timeout); `error` says why. */
  inRecovery: boolean | null;
  /** pg_stat_wal_receiver.status ('streaming', 'waiting', ...), null when no WAL receiver runs. */
  receiverStatus: string | null;
  senderHost: string | null;
  senderPort: number | null;
  receiveLsn: Lsn | null;
  replayLsn: Lsn | null;
  replayPaused: boolean | null;
  error?: string;
}

const STANDBY_QUERY = `
  SELECT pg_is_in_recovery() AS in_recovery,
         w.status, w.sender_host, w.sender_port,
         pg_last_wal_receive_lsn()::text AS receive_lsn,
         pg_last_wal_replay_lsn()::text AS replay_lsn,
         CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END AS replay_paused
    FROM (SELECT 1) AS one LEFT JOIN pg_stat_wal_receiver AS w ON true`;

interface StandbyRow {
  in_recovery: boolean;
  status: string | null;
  sender_host: string | null;
  sender_port: number | null;
  receive_lsn: string | null;
  replay_lsn: string | null;
  replay_paused: boolean | null;
}

export const failedReading = (error: string): StandbyReading => ({
  inRecovery: null, receiverStatus: null, senderHost: null, senderPort: null,
  receiveLsn: null, replayLsn: null, replayPaused: null, error,
});

/** Deadline of one connection attempt or query of the probe connection. */
const PROBE_TIMEOUT_MS = 1000;
/** The probe connection is closed after this long without a read. */
const PROBE_IDLE_MS = 10_000;

function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * One connection to the local Postgres kept for the health reads (a query
 * on an open connection costs far less than a new backend each time),
 * dropped on any error or timeout and after PROBE_IDLE_MS unused.
 */
export class ProbeConnection {
  private client: pg.Client | null = null;
  private idle: NodeJS.Timeout | undefined;

  constructor(private readonly connect: () => Promise<pg.Client>) {}

  async query<R extends pg.QueryResultRow>(text: string): Promise<R[]> {
    clearTimeout(this.idle);
    let client = this.client;
    try {
      if (client === null) {
        const opened = await deadline(this.connect(), PROBE_TIMEOUT_MS, 'connecting to the local Postgres');
        opened.on('error', () => {
          if (this.client === opened) this.client = null;
        });
        this.client = opened;
        client = opened;
      }
      const result = await deadline(client.query<R>(text), PROBE_TIMEOUT_MS, 'the health query');
      return result.rows;
    } catch (error) {
      this.close();
      throw error;
    } finally {
      if (this.client !== null) {
        this.idle = setTimeout(() => this.close(), PROBE_IDLE_MS);
        this.idle.unref();
      }
    }
  }

  close(): void {
    clearTimeout(this.idle);
    const client = this.client;
    this.client = null;
    if (client !== null) destroyClient(client);
  }
}

export async function readStandby(connection: ProbeConnection): Promise<StandbyReading> {
  try {
    const row = (await connection.query<StandbyRow>(STANDBY_QUERY))[0];
    if (row === undefined) return failedReading('no row from the health query');
    return {
      inRecovery: row.in_recovery,
      receiverStatus: row.status,
      senderHost: row.sender_host,
      senderPort: row.sender_port,
      receiveLsn: row.receive_lsn === null ? null : parseLsnOrZero(row.receive_lsn),
      replayLsn: row.replay_lsn === null ? null : parseLsnOrZero(row.replay_lsn),
      replayPaused: row.replay_paused,
    };
  } catch (error) {
    return failedReading(messageOf(error));
  }
}

/** The standby names listed in a synchronous_standby_names value (`ANY 1 (a, b)`, `FIRST 2 (a, b)`, `a, b`). */
export function listedStandbys(value: string): string[] {
  const text = value.trim();
  if (text === '') return [];
  const open = text.indexOf('(');
  const inner = open >= 0 && text.endsWith(')') ? text.slice(open + 1, -1) : text;
  return inner.split(',').map((n) => n.trim().replace(/^"(.*)"$/, '$1')).filter((n) => n !== '');
}

/** The group's synchronous_standby_names as the monitor computed it; null when it could not be asked. */
export interface SyncNamesReading {
  names: string[] | null;
  error?: string;
}

/** Timings of the two caches (see CacheTiming). */
export const STANDBY_TIMING: CacheTiming = { freshMs: 100, maxAgeMs: 500, waitMs: 300 };
export const SYNC_NAMES_TIMING: CacheTiming = { freshMs: 2000, maxAgeMs: 10_000, waitMs: 300 };

export interface HealthProbes {
  standby: OnDemandCache<StandbyReading>;
  syncNames: OnDemandCache<SyncNamesReading>;
  close(): void;
}

export function healthProbes(rt: KeeperRuntime, log: Logger, clock: Clock = () => performance.now()): HealthProbes {
  const connection = new ProbeConnection(() => connectLocal(rt.config.postgresql.pgdata, 'postgres', {
    user: rt.config.postgresql.username || undefined,
    host: rt.config.postgresql.host || undefined,
    connectTimeoutMs: PROBE_TIMEOUT_MS,
    applicationName: 'pg_autoctl health',
    env: rt.env,
  }));
  const standby = new OnDemandCache<StandbyReading>(async () => {
    if (!rt.local.isReady()) {
      connection.close();
      return failedReading('PostgreSQL is not running');
    }
    return readStandby(connection);
  }, STANDBY_TIMING, clock);
  const syncNames = new OnDemandCache<SyncNamesReading>(async () => {
    if (isMonitorDisabled(rt.config)) return { names: null, error: 'the monitor is disabled' };
    try {
      const value = await onMonitor(rt, 'synchronous_standby_names',
        (c) => synchronousStandbyNames(c, rt.config.pg_autoctl.formation, rt.state.currentGroup));
      return { names: listedStandbys(value) };
    } catch (error) {
      log.debug(`Failed to read synchronous_standby_names from the monitor for the health endpoints: ${messageOf(error)}`);
      return { names: null, error: messageOf(error) };
    }
  }, SYNC_NAMES_TIMING, clock);
  return { standby, syncNames, close: () => connection.close() };
}
