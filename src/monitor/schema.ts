/**
 * The monitor database: roles, database and versioned schema migrations.
 *
 * `pg_autoctl create monitor` runs, as the monitor's superuser:
 * createMonitorRoles() -> createMonitorDatabase() -> connect to
 * pg_auto_failover -> applyMigrations(). A newer pg_autoctl upgrades an
 * existing monitor by calling applyMigrations() again.
 *
 * Two kinds of files (docs/monitor-schema.md), copied to dist/monitor/sql
 * by the build:
 * - migrations, `./sql/NNNN-<name>.sql`: types, tables, indexes, seed rows
 *   and table privileges; append-only, never edited once released; applied
 *   in order, each in its own transaction, and recorded in
 *   pgautofailover.schema_migrations;
 * - the API, `./sql/api/NN-<name>.sql`: functions, the trigger and their
 *   privileges, re-applied as a whole (every function of the schema dropped,
 *   then created again, in one transaction) whenever their text differs
 *   from the one installed, whose hash is kept as the schema's comment.
 * Every transaction first locks schema_migrations (no client can: 0008
 * took every privilege on it away), so concurrent runs serialise and the
 * later one finds the work done.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { AutoctlError, messageOf } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { sqlStateOf } from '../monitor-api/index.js';

export const MONITOR_DBNAME = 'pg_auto_failover';
export const MONITOR_SCHEMA = 'pgautofailover';
/** Role of keepers and of the CLI run from data nodes. */
export const AUTOCTL_NODE_ROLE = 'autoctl_node';
/** Role of the monitor service; owner of the monitor database. */
export const AUTOCTL_ROLE = 'autoctl';

/** Serialises the transactions of migrations and of the API. */
const LOCK_SQL = 'LOCK TABLE pgautofailover.schema_migrations IN SHARE ROW EXCLUSIVE MODE';
/** Serialises the creation of a brand new schema (no table to lock yet). */
const BOOTSTRAP_LOCK_KEY = 0x7067_6166_6d69_67n; // "pgafmig"
/** How long an upgrade waits for a lock before it fails (and the service retries). */
const UPGRADE_LOCK_TIMEOUT = '10s';

const MIGRATION_FILE = /^(\d{4})-([a-z0-9][a-z0-9-]*)\.sql$/;

export interface Migration {
  /** `NNNN`, the order key recorded in schema_migrations. */
  readonly version: string;
  readonly name: string;
  readonly file: string;
}

/** The client surface used here: pg.Client, a pool client. */
export type SqlClient = Pick<pg.ClientBase, 'query'>;

const BOOTSTRAP_SQL = `
CREATE SCHEMA IF NOT EXISTS pgautofailover;
CREATE TABLE IF NOT EXISTS pgautofailover.schema_migrations (
  version    text        NOT NULL,
  name       text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT schema_migrations_pkey PRIMARY KEY (version)
);`;

export function migrationsDir(): string {
  return fileURLToPath(new URL('./sql/', import.meta.url));
}

/** The API files of a migrations directory (`<dir>/api/NN-<name>.sql`), in order; [] when there are none. */
export function apiFiles(dir: string = migrationsDir()): string[] {
  const apiDir = `${dir.endsWith('/') ? dir : `${dir}/`}api`;
  let entries: string[];
  try {
    entries = readdirSync(apiDir);
  } catch {
    return [];
  }
  return entries.filter((e) => /^\d{2}-[a-z0-9-]+\.sql$/.test(e)).sort().map((e) => `${apiDir}/${e}`);
}

/** Parses a migration file name; undefined for files that are not migrations. */
export function parseMigrationFileName(fileName: string): { version: string; name: string } | undefined {
  const match = MIGRATION_FILE.exec(fileName);
  if (!match || match[1] === undefined || match[2] === undefined) return undefined;
  return { version: match[1], name: match[2] };
}

/** The migrations shipped in `dir`, in version order; duplicate versions are an error. */
export function listMigrations(dir: string = migrationsDir()): Migration[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (error) {
    throw new AutoctlError('INTERNAL', `cannot read the monitor schema migrations in "${dir}": ${messageOf(error)}`, { cause: error });
  }
  const migrations: Migration[] = [];
  for (const entry of entries) {
    const parsed = parseMigrationFileName(entry);
    if (parsed) migrations.push({ ...parsed, file: `${dir.endsWith('/') ? dir : `${dir}/`}${entry}` });
  }
  // Plain code-unit order (zero-padded numbers): localeCompare would load ICU collation data, ~2 MB RSS.
  migrations.sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
  for (let i = 1; i < migrations.length; i++) {
    const previous = migrations[i - 1];
    const current = migrations[i];
    if (previous && current && previous.version === current.version) {
      throw new AutoctlError('INTERNAL', `two monitor schema migrations have version ${current.version}: "${previous.file}" and "${current.file}"`);
    }
  }
  if (migrations.length === 0) throw new AutoctlError('INTERNAL', `no monitor schema migrations found in "${dir}"`);
  return migrations;
}

/** The versions recorded in schema_migrations, ascending; [] on a database without the schema. */
export async function appliedVersions(client: SqlClient): Promise<string[]> {
  const exists = await client.query<{ present: boolean }>(
    "SELECT to_regclass('pgautofailover.schema_migrations') IS NOT NULL AS present");
  if (exists.rows[0]?.present !== true) return [];
  const result = await client.query<{ version: string }>('SELECT version FROM pgautofailover.schema_migrations ORDER BY version');
  return result.rows.map((row) => row.version);
}

/** The newest applied migration version, or null when the schema is not installed. */
export async function schemaVersion(client: SqlClient): Promise<string | null> {
  const versions = await appliedVersions(client);
  return versions.at(-1) ?? null;
}

export interface MigrationResult {
  /** Schema version before the run (null: not installed). */
  from: string | null;
  /** Schema version after the run. */
  to: string;
  /** Versions applied by this run, in order. */
  applied: string[];
}

/**
 * Brings the monitor schema up to date. Idempotent; safe to run
 * concurrently. Refuses a database whose schema is newer than the
 * migrations this pg_autoctl ships.
 */
export async function applyMigrations(client: SqlClient, log?: Logger, dir: string = migrationsDir()): Promise<MigrationResult> {
  const migrations = listMigrations(dir);
  const latest = migrations.at(-1)?.version ?? '';
  const before = await appliedVersions(client);
  const from = before.at(-1) ?? null;
  const known = new Set(migrations.map((m) => m.version));
  const unknown = before.filter((v) => !known.has(v));
  if (unknown.length > 0) {
    throw new AutoctlError('MONITOR',
      `the monitor schema has version ${unknown.join(', ')}, which this pg_autoctl does not know (it ships up to ${latest})`,
      { hint: 'Upgrade pg_autoctl to the version that upgraded this monitor.' });
  }

  if (from === null) await refuseOriginalExtension(client);

  const applied: string[] = [];
  for (const migration of migrations) {
    if (before.includes(migration.version)) continue;
    if (await applyOne(client, migration)) {
      applied.push(migration.version);
      log?.info(`Applied monitor schema migration ${migration.version}-${migration.name}`);
    }
  }
  await applyApi(client, apiFiles(dir), log);
  const to = (await schemaVersion(client)) ?? latest;
  return { from, to, applied };
}

/**
 * (Re)creates every function of the schema from the API files, unless the
 * installed ones came from the same text. CASCADE also drops the trigger
 * and the function privileges, which the files create again.
 */
async function applyApi(client: SqlClient, files: readonly string[], log?: Logger): Promise<void> {
  if (files.length === 0) return;
  const texts = files.map((file) => readFileSync(file, 'utf8'));
  const hash = createHash('sha256').update(texts.join('\n')).digest('hex');
  const marker = `pg_autoctl api ${hash}`;
  const current = await client.query<{ comment: string | null }>(
    "SELECT obj_description('pgautofailover'::regnamespace, 'pg_namespace') AS comment");
  if (current.rows[0]?.comment === marker) return;
  await client.query('BEGIN');
  try {
    await client.query(`SET LOCAL lock_timeout = '${UPGRADE_LOCK_TIMEOUT}'`);
    await client.query(LOCK_SQL);
    await client.query('SET LOCAL search_path TO pgautofailover, pg_catalog');
    await client.query(`DO $$
      DECLARE f regprocedure;
      BEGIN
        FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p WHERE p.pronamespace = 'pgautofailover'::regnamespace LOOP
          EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', f);
        END LOOP;
      END $$`);
    for (const text of texts) await client.query(text);
    await client.query(`COMMENT ON SCHEMA pgautofailover IS '${marker}'`);
    await client.query('COMMIT');
    log?.info(`Installed the monitor API (${files.length} files, ${hash.slice(0, 12)})`);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw new AutoctlError('MONITOR', `failed to install the monitor API: ${messageOf(error)}`, { cause: error });
  }
}

/** A database holding the original C extension cannot also hold this schema. */
async function refuseOriginalExtension(client: SqlClient): Promise<void> {
  const { rows } = await client.query<{ extversion: string }>(
    "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pgautofailover'");
  const version = rows[0]?.extversion;
  if (version !== undefined) {
    throw new AutoctlError('MONITOR',
      `this database has the pgautofailover extension version ${version} of the original pg_auto_failover installed, which this pg_autoctl does not use`,
      { hint: 'Create a new monitor with pg_autoctl create monitor, then register the nodes to it.' });
  }
}

/** Applies one migration unless another run already did; true when this call applied it. */
async function applyOne(client: SqlClient, migration: Migration): Promise<boolean> {
  let sql: string;
  try {
    sql = readFileSync(migration.file, 'utf8');
  } catch (error) {
    throw new AutoctlError('INTERNAL', `cannot read monitor schema migration "${migration.file}": ${messageOf(error)}`, { cause: error });
  }
  await client.query('BEGIN');
  try {
    await client.query(`SET LOCAL lock_timeout = '${UPGRADE_LOCK_TIMEOUT}'`);
    // A brand new database has no table to lock yet, and no client: the
    // concurrent runs of its creation serialise on an advisory lock.
    const bare = await client.query<{ bare: boolean }>("SELECT to_regclass('pgautofailover.schema_migrations') IS NULL AS bare");
    if (bare.rows[0]?.bare === true) await client.query('SELECT pg_advisory_xact_lock($1)', [BOOTSTRAP_LOCK_KEY.toString()]);
    await client.query(BOOTSTRAP_SQL);
    await client.query(LOCK_SQL);
    const done = await client.query('SELECT 1 FROM pgautofailover.schema_migrations WHERE version = $1', [migration.version]);
    if ((done.rowCount ?? 0) > 0) {
      await client.query('COMMIT');
      return false;
    }
    await client.query('SET LOCAL search_path TO pgautofailover, pg_catalog');
    await client.query(sql);
    await client.query('INSERT INTO pgautofailover.schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
    await client.query('COMMIT');
    return true;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw new AutoctlError('MONITOR',
      `failed to apply monitor schema migration ${migration.version}-${migration.name}: ${messageOf(error)}`, { cause: error });
  }
}

export interface MonitorRoleOptions {
  autoctlNodePassword?: string;
  autoctlPassword?: string;
}

/**
 * Creates the roles autoctl_node and autoctl (LOGIN, not superuser) when
 * missing, and sets the passwords given. Idempotent; the client must be a
 * superuser (or have CREATEROLE).
 */
export async function createMonitorRoles(client: SqlClient, options: MonitorRoleOptions = {}): Promise<void> {
  const roles: Array<{ name: string; attributes: string; password: string | undefined }> = [
    { name: AUTOCTL_NODE_ROLE, attributes: 'LOGIN', password: options.autoctlNodePassword },
    { name: AUTOCTL_ROLE, attributes: 'LOGIN NOSUPERUSER NOREPLICATION', password: options.autoctlPassword },
  ];
  for (const role of roles) {
    const exists = await client.query('SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1', [role.name]);
    if ((exists.rowCount ?? 0) === 0) {
      try {
        await client.query(`CREATE ROLE ${pg.escapeIdentifier(role.name)} WITH ${role.attributes}`);
      } catch (error) {
        if (sqlStateOf(error) !== '42710') { // created meanwhile by a concurrent run
          throw new AutoctlError('MONITOR', `cannot create role "${role.name}" on the monitor: ${messageOf(error)}`, { cause: error });
        }
      }
    }
    if (role.password !== undefined) await setRolePassword(client, role.name, role.password);
  }
}

/** ALTER ROLE ... PASSWORD without the statement reaching the server log. */
async function setRolePassword(client: SqlClient, role: string, password: string): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query("SET LOCAL log_statement = 'none'");
    await client.query(`ALTER ROLE ${pg.escapeIdentifier(role)} WITH PASSWORD ${pg.escapeLiteral(password)}`);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw new AutoctlError('MONITOR', `cannot set the password of role "${role}" on the monitor: ${messageOf(error)}`, { cause: error });
  }
}

/**
 * Creates the monitor database (owner autoctl) when missing; true when it
 * was created by this call. The client must be connected to another
 * database of the same server, outside any transaction.
 */
export async function createMonitorDatabase(superClient: SqlClient,
  options: { dbname?: string; owner?: string } = {}): Promise<boolean> {
  const dbname = options.dbname ?? MONITOR_DBNAME;
  const owner = options.owner ?? AUTOCTL_ROLE;
  const exists = await superClient.query('SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1', [dbname]);
  if ((exists.rowCount ?? 0) > 0) return false;
  try {
    await superClient.query(`CREATE DATABASE ${pg.escapeIdentifier(dbname)} WITH OWNER ${pg.escapeIdentifier(owner)}`);
    return true;
  } catch (error) {
    if (sqlStateOf(error) === '42P04') return false; // created meanwhile
    throw new AutoctlError('MONITOR', `cannot create database "${dbname}" on the monitor: ${messageOf(error)}`, { cause: error });
  }
}
