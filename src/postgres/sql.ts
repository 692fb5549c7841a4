/**
 * Queries on the local instance through node-postgres: the facts the
 * keeper reports (spec 05 §12.2), roles and databases (§10), replication
 * slots (§11.2) and the run-time settings set with ALTER SYSTEM (§7.1,
 * §11.5, §11.6). LSNs come back as bigint, identifiers as bigint.
 *
 * Run-time settings: synchronous_standby_names and
 * default_transaction_read_only go through ALTER SYSTEM (postgresql.auto.conf)
 * + pg_reload_conf(), as in 2.x (reference files/node1_auto.conf), not
 * through postgresql-auto-failover.conf: that file is regenerated from the
 * configuration on every reload and must not carry state the monitor
 * decides, and postgresql.auto.conf is read after it, so these values win.
 */
import pg from 'pg';
import { AutoctlError } from '../common/errors.js';
import { isWalSenderSyncState, type WalSenderSyncState } from '../common/sync-states.js';
import { parseLsn, parseLsnOrZero, formatLsn, type Lsn } from '../common/lsn.js';
import { newestWalTimeline } from './data-dir.js';

/** Anything with node-postgres' `query` (a Client, a PoolClient, a Pool). */
export type SqlClient = Pick<pg.ClientBase, 'query'>;

export const quoteIdent = (name: string): string => pg.escapeIdentifier(name);
export const quoteLiteral = (value: string): string => pg.escapeLiteral(value);

const sqlState = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
};

/**
 * Runs a statement whose failure with one SQLSTATE is an expected outcome
 * (the object already exists, or is already gone): `done` on success,
 * `tolerated` on that SQLSTATE. Any other failure throws, as a PGSQL error
 * prefixed with `failure` when given.
 */
async function queryTolerating<D extends string, T extends string>(client: SqlClient, sql: string, params: unknown[],
  outcomes: { done: D; sqlState: string; tolerated: T }, failure?: string): Promise<D | T> {
  try {
    await (params.length === 0 ? client.query(sql) : client.query(sql, params));
    return outcomes.done;
  } catch (error) {
    if (sqlState(error) === outcomes.sqlState) return outcomes.tolerated;
    if (failure === undefined) throw error;
    throw new AutoctlError('PGSQL', `${failure}: ${(error as Error).message}`, { cause: error });
  }
}

export async function isInRecovery(client: SqlClient): Promise<boolean> {
  const result = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
  return result.rows[0]?.r === true;
}

export interface LocalFacts {
  inRecovery: boolean;
  /** Primary: flush LSN. Standby: last received, else last replayed (0/0 when none). */
  lsn: Lsn;
  /**
   * Primary: timeline of the current WAL file. Standby: the WAL receiver's;
   * without one, the newest of the last restartpoint's and, when PGDATA is
   * given, of the WAL segments in pg_wal (the restartpoint's can be older
   * than the WAL replayed: see newestWalTimeline).
   */
  timeline: number;
  systemIdentifier: bigint;
  pgControlVersion: number;
  catalogVersion: number;
  /** Best sync_state among standbys streaming from a pgautofailover_standby_* slot; '' when none. */
  syncState: WalSenderSyncState | '';
}

/** Everything the keeper reports about Postgres, in one round trip. */
export async function localFacts(client: SqlClient, pgdata?: string): Promise<LocalFacts> {
  const result = await client.query<{
    in_recovery: boolean; receiving: boolean; lsn: string | null; timeline: number | null; sysid: string;
    control_version: number; catalog_version: number; sync_state: string | null;
  }>(`
    SELECT pg_is_in_recovery() AS in_recovery,
           EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE received_tli IS NOT NULL) AS receiving,
           CASE WHEN pg_is_in_recovery()
                THEN coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())
                ELSE pg_current_wal_flush_lsn() END::text AS lsn,
           CASE WHEN pg_is_in_recovery()
                THEN coalesce((SELECT received_tli FROM pg_stat_wal_receiver), (pg_control_checkpoint()).timeline_id)
                ELSE ('x' || substr(pg_walfile_name(pg_current_wal_flush_lsn()), 1, 8))::bit(32)::int END AS timeline,
           s.system_identifier::text AS sysid,
           s.pg_control_version AS control_version,
           s.catalog_version_no AS catalog_version,
           (SELECT r.sync_state
              FROM pg_stat_replication r
              JOIN pg_replication_slots sl ON sl.active_pid = r.pid
             WHERE sl.slot_name ~ '^pgautofailover_standby_'
             ORDER BY CASE r.sync_state WHEN 'quorum' THEN 1 WHEN 'sync' THEN 2 WHEN 'potential' THEN 3 ELSE 4 END
             LIMIT 1) AS sync_state
      FROM pg_control_system() s`);
  const row = result.rows[0];
  if (!row) throw new AutoctlError('PGSQL', 'no row from the local facts query');
  const sync = row.sync_state ?? '';
  return {
    inRecovery: row.in_recovery,
    lsn: parseLsnOrZero(row.lsn),
    timeline: row.in_recovery && !row.receiving && pgdata !== undefined
      ? Math.max(row.timeline ?? 0, newestWalTimeline(pgdata)) : row.timeline ?? 0,
    systemIdentifier: BigInt(row.sysid),
    pgControlVersion: row.control_version,
    catalogVersion: row.catalog_version,
    syncState: isWalSenderSyncState(sync) ? sync : '',
  };
}

/** Primary: pg_current_wal_flush_lsn(). Standby: last received, else last replayed. */
export async function currentLsn(client: SqlClient): Promise<Lsn> {
  const result = await client.query<{ lsn: string | null }>(`
    SELECT CASE WHEN pg_is_in_recovery()
                THEN coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())
                ELSE pg_current_wal_flush_lsn() END::text AS lsn`);
  return parseLsnOrZero(result.rows[0]?.lsn);
}

export async function systemIdentifier(client: SqlClient): Promise<bigint> {
  const result = await client.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
  const id = result.rows[0]?.id;
  if (id === undefined) throw new AutoctlError('PGSQL', 'pg_control_system() returned no row');
  return BigInt(id);
}

export interface ReplicationRow {
  pid: number;
  applicationName: string;
  userName: string;
  clientAddr: string | undefined;
  state: string;
  syncState: string;
  sentLsn: Lsn;
  writeLsn: Lsn;
  flushLsn: Lsn;
  replayLsn: Lsn;
}

/** pg_stat_replication, one row per connected walsender. */
export async function replicationRows(client: SqlClient): Promise<ReplicationRow[]> {
  const result = await client.query<{
    pid: number; application_name: string; usename: string | null; client_addr: string | null; state: string | null;
    sync_state: string | null; sent_lsn: string | null; write_lsn: string | null; flush_lsn: string | null; replay_lsn: string | null;
  }>(`SELECT pid, application_name, usename, client_addr::text AS client_addr, state, sync_state,
             sent_lsn::text AS sent_lsn, write_lsn::text AS write_lsn, flush_lsn::text AS flush_lsn, replay_lsn::text AS replay_lsn
        FROM pg_stat_replication ORDER BY application_name, pid`);
  return result.rows.map((r) => ({
    pid: r.pid,
    applicationName: r.application_name,
    userName: r.usename ?? '',
    clientAddr: r.client_addr ?? undefined,
    state: r.state ?? '',
    syncState: r.sync_state ?? '',
    sentLsn: parseLsnOrZero(r.sent_lsn),
    writeLsn: parseLsnOrZero(r.write_lsn),
    flushLsn: parseLsnOrZero(r.flush_lsn),
    replayLsn: parseLsnOrZero(r.replay_lsn),
  }));
}

export interface WalReceiverStatus {
  /** `streaming`, `starting`, `waiting`, `stopping`, ... */
  status: string;
  receivedTimeline: number;
  flushedLsn: Lsn;
  senderHost: string | undefined;
  senderPort: number | undefined;
  slotName: string | undefined;
}

/** pg_stat_wal_receiver on a standby; undefined when no WAL receiver runs. */
export async function walReceiverStatus(client: SqlClient): Promise<WalReceiverStatus | undefined> {
  // to_jsonb keeps this independent of column renames across versions (received_lsn -> flushed_lsn in 13).
  const result = await client.query<{ j: Record<string, unknown> }>('SELECT to_jsonb(w) AS j FROM pg_stat_wal_receiver w');
  const j = result.rows[0]?.j;
  if (!j || j.status === null || j.status === undefined) return undefined;
  const text = (key: string): string | undefined => (typeof j[key] === 'string' ? j[key] as string : undefined);
  const flushed = text('flushed_lsn') ?? text('received_lsn');
  return {
    status: String(j.status),
    receivedTimeline: typeof j.received_tli === 'number' ? j.received_tli : 0,
    flushedLsn: parseLsnOrZero(flushed),
    senderHost: text('sender_host'),
    senderPort: typeof j.sender_port === 'number' ? j.sender_port : undefined,
    slotName: text('slot_name'),
  };
}

export interface RoleSpec {
  name: string;
  login?: boolean;
  superuser?: boolean;
  replication?: boolean;
  /** CONNECTION LIMIT. */
  connectionLimit?: number;
  password?: string | undefined;
}

function roleOptions(spec: RoleSpec): string {
  const parts: string[] = [];
  if (spec.login) parts.push('LOGIN');
  if (spec.superuser) parts.push('SUPERUSER');
  if (spec.replication) parts.push('REPLICATION');
  if (spec.connectionLimit !== undefined) parts.push(`CONNECTION LIMIT ${Math.trunc(spec.connectionLimit)}`);
  if (spec.password !== undefined) parts.push(`PASSWORD ${quoteLiteral(spec.password)}`);
  return parts.join(' ');
}

/** CREATE ROLE; an existing role is left as it is. */
export async function createRole(client: SqlClient, spec: RoleSpec): Promise<'created' | 'exists'> {
  const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [spec.name]);
  if ((exists.rowCount ?? 0) > 0) return 'exists';
  return queryTolerating(client, `CREATE ROLE ${quoteIdent(spec.name)} ${roleOptions(spec)}`.trim(), [],
    { done: 'created', sqlState: '42710', tolerated: 'exists' }, `cannot create role "${spec.name}"`);
}

/**
 * What pg_rewind needs from a source server role that is not a superuser
 * (PostgreSQL docs, pg_rewind "Notes"): EXECUTE on the file access
 * functions, granted in the database pg_rewind connects to (function
 * privileges live in each database's catalog).
 */
export const REWIND_FUNCTIONS = [
  'pg_catalog.pg_ls_dir(text, boolean, boolean)',
  'pg_catalog.pg_stat_file(text, boolean)',
  'pg_catalog.pg_read_binary_file(text)',
  'pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)',
] as const;

/**
 * The streaming replication role: LOGIN REPLICATION, never SUPERUSER (a
 * role created as one by an older version loses it), plus the grants of
 * {@link REWIND_FUNCTIONS} in `client`'s database. Idempotent.
 */
export async function ensureReplicationRole(client: SqlClient, name: string, password?: string): Promise<void> {
  await createRole(client, { name, login: true, replication: true, ...(password === undefined ? {} : { password }) });
  await client.query(`ALTER ROLE ${quoteIdent(name)} NOSUPERUSER LOGIN REPLICATION`);
  for (const fn of REWIND_FUNCTIONS) await client.query(`GRANT EXECUTE ON FUNCTION ${fn} TO ${quoteIdent(name)}`);
}

export async function alterRolePassword(client: SqlClient, name: string, password: string): Promise<void> {
  await client.query(`ALTER ROLE ${quoteIdent(name)} PASSWORD ${quoteLiteral(password)}`);
}

/** CREATE DATABASE [OWNER]; an existing database is left as it is. */
export async function createDatabase(client: SqlClient, name: string, owner?: string): Promise<'created' | 'exists'> {
  const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if ((exists.rowCount ?? 0) > 0) return 'exists';
  return queryTolerating(client, `CREATE DATABASE ${quoteIdent(name)}${owner === undefined ? '' : ` OWNER ${quoteIdent(owner)}`}`, [],
    { done: 'created', sqlState: '42P04', tolerated: 'exists' }, `cannot create database "${name}"`);
}

export async function createExtension(client: SqlClient, name: string): Promise<void> {
  await client.query(`CREATE EXTENSION IF NOT EXISTS ${quoteIdent(name)} CASCADE`);
}

export interface ReplicationSlot {
  slotName: string;
  slotType: 'physical' | 'logical';
  active: boolean;
  restartLsn: Lsn | undefined;
}

export async function listReplicationSlots(client: SqlClient): Promise<ReplicationSlot[]> {
  const result = await client.query<{ slot_name: string; slot_type: string; active: boolean; restart_lsn: string | null }>(
    'SELECT slot_name, slot_type, active, restart_lsn::text AS restart_lsn FROM pg_replication_slots ORDER BY slot_name');
  return result.rows.map((r) => ({
    slotName: r.slot_name,
    slotType: r.slot_type === 'logical' ? 'logical' : 'physical',
    active: r.active,
    restartLsn: r.restart_lsn === null ? undefined : parseLsn(r.restart_lsn),
  }));
}

/** A physical slot reserving WAL at once; an existing slot is fine. */
export async function createPhysicalSlot(client: SqlClient, name: string): Promise<'created' | 'exists'> {
  return queryTolerating(client, 'SELECT pg_create_physical_replication_slot($1, true)', [name],
    { done: 'created', sqlState: '42710', tolerated: 'exists' });
}

/** Drops a slot; a missing one is fine. */
export async function dropReplicationSlot(client: SqlClient, name: string): Promise<'dropped' | 'missing'> {
  return queryTolerating(client, 'SELECT pg_drop_replication_slot($1)', [name],
    { done: 'dropped', sqlState: '42704', tolerated: 'missing' });
}

/** pg_replication_slot_advance (works on standbys too, PG ≥ 13 safely). */
export async function advanceReplicationSlot(client: SqlClient, name: string, lsn: Lsn): Promise<void> {
  await client.query('SELECT pg_replication_slot_advance($1, $2::pg_lsn)', [name, formatLsn(lsn)]);
}

/** True when the slot exists (e.g. on the primary, before a base backup). */
export async function slotExists(client: SqlClient, name: string): Promise<boolean> {
  const result = await client.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [name]);
  return (result.rowCount ?? 0) > 0;
}

export async function checkpoint(client: SqlClient): Promise<void> {
  await client.query('CHECKPOINT');
}

export async function reloadConf(client: SqlClient): Promise<void> {
  await client.query('SELECT pg_reload_conf()');
}

export async function currentSetting(client: SqlClient, name: string): Promise<string> {
  const result = await client.query<{ v: string }>('SELECT current_setting($1) AS v', [name]);
  return result.rows[0]?.v ?? '';
}

/** ALTER SYSTEM SET name TO 'value' (never inside a transaction block). */
export async function alterSystemSet(client: SqlClient, name: string, value: string): Promise<void> {
  await client.query(`ALTER SYSTEM SET ${quoteIdent(name)} TO ${quoteLiteral(value)}`);
}

export async function alterSystemReset(client: SqlClient, name: string): Promise<void> {
  await client.query(`ALTER SYSTEM RESET ${quoteIdent(name)}`);
}

/** spec 05 §11.5: ALTER SYSTEM + reload. '' disables synchronous replication. */
export async function setSynchronousStandbyNames(client: SqlClient, value: string): Promise<void> {
  await alterSystemSet(client, 'synchronous_standby_names', value);
  await reloadConf(client);
}

/** After disabling sync rep: cancel the sessions still waiting on it. Returns how many. */
export async function cancelSyncRepWaiters(client: SqlClient): Promise<number> {
  const result = await client.query<{ n: number }>(
    "SELECT count(pg_cancel_backend(pid))::int AS n FROM pg_stat_activity WHERE wait_event = 'SyncRep'");
  return result.rows[0]?.n ?? 0;
}

/** spec 05 §11.6: read-only fence during promotion, lifted when reaching wait_primary. */
export async function setDefaultTransactionReadOnly(client: SqlClient, on: boolean): Promise<void> {
  await alterSystemSet(client, 'default_transaction_read_only', on ? 'on' : 'off');
  await reloadConf(client);
}

/** spec 05 §13.5: remove standby settings older versions put in postgresql.auto.conf. */
export async function resetLegacyStandbySettings(client: SqlClient): Promise<void> {
  await alterSystemReset(client, 'primary_conninfo');
  await alterSystemReset(client, 'primary_slot_name');
}
