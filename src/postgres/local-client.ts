/**
 * Connections to this node's own Postgres (spec 05 §10): `port=<port>
 * dbname=<dbname> [host=<postgresql.host>] [user=<postgresql.username>]`,
 * where an unset host means the socket directory the running postmaster
 * advertises in postmaster.pid. Local access relies on initdb's `peer` rules
 * (pg_autoctl runs as the OS account owning PGDATA; see initdbAuth).
 */
import type pg from 'pg';
import { AutoctlError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { formatKeywordPairs, parseConnInfo } from './conninfo.js';
import { readPostmasterPid } from './data-dir.js';
import { connectClient } from './pg-client.js';

export interface LocalTarget {
  port: number;
  dbname: string;
  host?: string | undefined;
  user?: string | undefined;
}

/** The keyword/value string of a local connection. */
export function localConninfo(target: LocalTarget): string {
  return formatKeywordPairs([
    ['port', target.port], ['dbname', target.dbname], ['host', target.host || undefined], ['user', target.user || undefined],
  ]);
}

export interface ConnectLocalOptions {
  /** `postgresql.username`; libpq's default (the OS user) otherwise. */
  user?: string | undefined;
  /** `postgresql.host` (PGHOST); the postmaster's socket directory otherwise. */
  host?: string | undefined;
  /** Expected port; the one in postmaster.pid otherwise. */
  port?: number | undefined;
  applicationName?: string;
  connectTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  log?: Logger;
}

/** Connects to the Postgres running on `pgdata`, over its socket unless a host is given. */
export async function connectLocal(pgdata: string, dbname: string, options: ConnectLocalOptions = {}): Promise<pg.Client> {
  const info = readPostmasterPid(pgdata);
  if (!info && (options.port === undefined || options.host === undefined)) {
    throw new AutoctlError('PGSQL', `cannot connect to postgres in "${pgdata}": it is not running (no postmaster.pid)`);
  }
  const port = options.port ?? info?.port ?? 5432;
  let host = options.host;
  if (host === undefined && info) {
    if (info.socketDir !== '') host = info.socketDir;
    else if (info.listenAddress === '' || info.listenAddress === '*' || info.listenAddress === '0.0.0.0') host = '127.0.0.1';
    else if (info.listenAddress === '::') host = '::1';
    else host = info.listenAddress;
  }
  const conninfo = parseConnInfo(localConninfo({ port, dbname, host, user: options.user }));
  return connectClient(conninfo, {
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    applicationName: options.applicationName ?? 'pg_autoctl',
    ...(options.env ? { env: options.env } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
}
