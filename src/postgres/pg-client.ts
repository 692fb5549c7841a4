/**
 * Connecting with node-postgres from a libpq connection string, with libpq's
 * `sslmode` semantics mapped explicitly (STYLE.md: `pg` alone treats
 * `require` as `verify-full`), libpq-like multi-host and
 * `target_session_attrs` handling, and `~/.pgpass`.
 *
 * sslmode mapping (node-postgres cannot negotiate a fallback itself, so a
 * fallback is a second connection attempt):
 * - disable: plain only.
 * - allow: plain first; TLS without verification when the server refuses
 *   the plain connection (pg_hba has only `hostssl` for us: SQLSTATE 28000).
 * - prefer (libpq's default): TLS without verification first; plain when
 *   the server answers that it does not support SSL, the handshake fails,
 *   or the server refuses the TLS connection (SQLSTATE 28000).
 * - require: TLS without certificate checks; like libpq, with an explicit
 *   `sslrootcert` it verifies the CA (verify-ca).
 * - verify-ca: TLS, chain checked against `sslrootcert`, host name not.
 * - verify-full: TLS, chain and host name checked.
 * `sslrootcert` defaults to `~/.postgresql/root.crt`; `system` uses Node's
 * CA store. `sslcrl`, `sslcert`, `sslkey` are read when given.
 *
 * Several hosts (`postgres://u@h1:5432,h2:5433/db`, `host=h1,h2 port=...`):
 * node-postgres knows one host only, so every host is tried at the same
 * time and the answers are taken in libpq's order: the first host (in the
 * order given) whose session matches `target_session_attrs` wins, as soon
 * as every host before it has failed; a dead first host costs no
 * connection timeout when a later one answers. With `rank` (the keeper's
 * monitor link: the monitor epoch), every matching host is waited for and
 * the best ranked wins (ties: the earlier host).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { AutoctlError, messageOf } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import {
  formatUri, getParam, parseConnInfo, sslModeOf, type ConnInfo, type HostSpec, type SslMode,
} from './conninfo.js';
import { findPgpassPassword, readPgpass } from './pgpass.js';

export const TLS_PLANS = ['plain', 'tls-no-verify', 'tls-verify-ca', 'tls-verify-full'] as const;
export type TlsPlan = (typeof TLS_PLANS)[number];

export interface PgClientOptions {
  /** Overrides the string's `connect_timeout`; 10 s when neither is given. */
  connectTimeoutMs?: number;
  /** Overrides the string's `application_name`. */
  applicationName?: string;
  /** A physical replication connection (IDENTIFY_SYSTEM and friends). */
  replication?: boolean;
  /** For `.pgpass` (PGPASSFILE, HOME); process.env by default. */
  env?: NodeJS.ProcessEnv;
  /** Reads certificate files; fs.readFileSync by default. */
  readFile?: (path: string) => string;
  log?: Logger;
  /**
   * Among several hosts that match target_session_attrs, the one with the
   * highest rank wins (equal ranks: the earlier host). A rank that fails
   * counts as -Infinity. Not called when one host matches.
   */
  rank?: (client: pg.Client) => Promise<number>;
  /** A connection deadline for one host instead of `connectTimeoutMs` (undefined: the common one). */
  hostConnectTimeoutMs?: (host: HostSpec | undefined) => number | undefined;
}

export interface ConnectAttempt {
  tls: TlsPlan;
  config: pg.ClientConfig;
}

export interface HostPlan {
  host: HostSpec | undefined;
  /** Tried in order; a later one only after a failure that {@link shouldFallBack} accepts. */
  attempts: ConnectAttempt[];
}

/** TLS attempts, in order, for an sslmode. */
export function tlsPlansFor(mode: SslMode, hasRootCert: boolean): TlsPlan[] {
  switch (mode) {
    case 'disable': return ['plain'];
    case 'allow': return ['plain', 'tls-no-verify'];
    case 'prefer': return ['tls-no-verify', 'plain'];
    case 'require': return [hasRootCert ? 'tls-verify-ca' : 'tls-no-verify'];
    case 'verify-ca': return ['tls-verify-ca'];
    case 'verify-full': return ['tls-verify-full'];
  }
}

function tlsOptions(plan: TlsPlan, info: ConnInfo, env: NodeJS.ProcessEnv, readFile: (path: string) => string): false | ConnectionOptions {
  if (plan === 'plain') return false;
  const options: ConnectionOptions = {};
  const sslcert = getParam(info, 'sslcert');
  const sslkey = getParam(info, 'sslkey');
  if (sslcert) options.cert = readFile(sslcert);
  if (sslkey) options.key = readFile(sslkey);
  if (plan === 'tls-no-verify') {
    options.rejectUnauthorized = false;
    return options;
  }
  const rootCert = getParam(info, 'sslrootcert') ?? (env.HOME ? join(env.HOME, '.postgresql', 'root.crt') : undefined);
  if (rootCert === undefined) {
    throw new AutoctlError('PGSQL', `sslmode "${sslModeOf(info)}" needs sslrootcert`);
  }
  if (rootCert !== 'system') options.ca = readFile(rootCert);
  const crl = getParam(info, 'sslcrl');
  if (crl) options.crl = readFile(crl);
  options.rejectUnauthorized = true;
  if (plan === 'tls-verify-ca') options.checkServerIdentity = () => undefined;
  return options;
}

/**
 * The node-postgres configurations to try for each host of the string, in
 * libpq order. Reads certificate files; does not connect.
 */
export function toPgClientConfig(conninfo: ConnInfo | string, options: PgClientOptions = {}): HostPlan[] {
  const info = typeof conninfo === 'string' ? parseConnInfo(conninfo) : conninfo;
  const env = options.env ?? process.env;
  const readFile = options.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const mode = sslModeOf(info);
  const plans = tlsPlansFor(mode, getParam(info, 'sslrootcert') !== undefined);
  const timeoutParam = Number(getParam(info, 'connect_timeout') ?? '');
  const connectTimeoutMs = options.connectTimeoutMs
    ?? (Number.isFinite(timeoutParam) && timeoutParam > 0 ? Math.max(2, timeoutParam) * 1000 : 10_000);
  const applicationName = options.applicationName ?? getParam(info, 'application_name');
  const pgOptions = getParam(info, 'options');
  const hosts: Array<HostSpec | undefined> = info.hosts.length === 0 ? [undefined] : info.hosts;
  return hosts.map((host) => {
    // Like libpq, never TLS over a Unix socket.
    const hostPlans: TlsPlan[] = host?.host.startsWith('/') ? ['plain'] : plans;
    const base: pg.ClientConfig & { replication?: string } = { connectionTimeoutMillis: options.hostConnectTimeoutMs?.(host) ?? connectTimeoutMs };
    if (host && host.host !== '') base.host = host.host;
    if (host?.port !== undefined) base.port = host.port;
    // libpq defaults the user to the OS account, and the database to the user.
    const user = info.user ?? env.PGUSER ?? osUser(env);
    base.user = user;
    base.database = info.dbname ?? env.PGDATABASE ?? user;
    if (applicationName !== undefined) base.application_name = applicationName;
    if (pgOptions !== undefined) base.options = pgOptions;
    if (options.replication) base.replication = 'true';
    if (info.password !== undefined) {
      base.password = info.password;
    } else {
      const query = { host: host?.host ?? '', port: host?.port ?? 5432, database: base.database, user };
      // Only asked for when the server wants a password; '' makes the server say so clearly.
      base.password = () => findPgpassPassword(readPgpass(env), query) ?? env.PGPASSWORD ?? '';
    }
    return {
      host,
      attempts: hostPlans.map((tls) => ({ tls, config: { ...base, ssl: tlsOptions(tls, info, env, readFile) } })),
    };
  });
}

/** The OS account name, as libpq takes it (getpwuid), not from $USER. */
function osUser(env: NodeJS.ProcessEnv): string {
  try {
    return userInfo().username;
  } catch {
    return env.USER ?? '';
  }
}

/** SQLSTATE 28000: no pg_hba.conf entry (e.g. only `hostssl`, or only `hostnossl`). */
const isHbaRejection = (error: unknown): boolean => (error as { code?: unknown }).code === '28000';

function isTlsFailure(error: unknown): boolean {
  const message = messageOf(error);
  const code = String((error as { code?: unknown }).code ?? '');
  return message.includes('does not support SSL') || message.includes('establishing an SSL connection')
    || code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || code === 'EPROTO';
}

/** Whether an attempt that failed with `error` may be followed by the next plan for the same host. */
export function shouldFallBack(failed: TlsPlan, error: unknown): boolean {
  if (failed === 'plain') return isHbaRejection(error);
  if (failed === 'tls-no-verify') return isTlsFailure(error) || isHbaRejection(error);
  return false;
}

export const TARGET_SESSION_ATTRS = ['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby'] as const;
export type TargetSessionAttrs = (typeof TARGET_SESSION_ATTRS)[number];

async function sessionMatches(client: pg.Client, wanted: Exclude<TargetSessionAttrs, 'prefer-standby'>): Promise<boolean> {
  switch (wanted) {
    case 'any': return true;
    case 'read-write':
    case 'read-only': {
      const result = await client.query<{ ro: string }>("SELECT current_setting('transaction_read_only') AS ro");
      const readOnly = result.rows[0]?.ro === 'on';
      return wanted === 'read-only' ? readOnly : !readOnly;
    }
    case 'primary':
    case 'standby': {
      const result = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      const inRecovery = result.rows[0]?.r === true;
      return wanted === 'standby' ? inRecovery : !inRecovery;
    }
  }
}

function describeHost(host: HostSpec | undefined): string {
  if (!host || host.host === '') return 'the local socket';
  const name = isIP(host.host) === 6 ? `[${host.host}]` : host.host;
  return host.port === undefined ? name : `${name}:${host.port}`;
}

/** What trying one host gave: a connected client whose session matches, or why not. */
export interface HostOutcome<C> {
  client?: C | undefined;
  failures: string[];
}

/**
 * Picks the winner among hosts tried in parallel, `outcomes` in the
 * order of the connection string. Without `rank`: the first host, in
 * order, that connected (returns as soon as every earlier host failed).
 * With `rank`: every host is waited for; the highest rank wins, the
 * earlier host on ties. Every client that does not win is closed.
 */
export async function selectHost<C>(outcomes: ReadonlyArray<Promise<HostOutcome<C>>>,
  options: { rank?: ((client: C) => Promise<number>) | undefined; close: (client: C) => void }): Promise<HostOutcome<C>> {
  const failures: string[] = [];
  if (options.rank === undefined) {
    for (const [index, pending] of outcomes.entries()) {
      const outcome = await pending;
      failures.push(...outcome.failures);
      if (outcome.client !== undefined) {
        for (const later of outcomes.slice(index + 1)) {
          void later.then((o) => { if (o.client !== undefined) options.close(o.client); });
        }
        return { client: outcome.client, failures };
      }
    }
    return { failures };
  }
  const settled = await Promise.all(outcomes);
  const clients: C[] = [];
  for (const outcome of settled) {
    failures.push(...outcome.failures);
    if (outcome.client !== undefined) clients.push(outcome.client);
  }
  if (clients.length <= 1) return { client: clients[0], failures };
  const rank = options.rank;
  const ranks = await Promise.all(clients.map(async (c) => {
    try {
      return await rank(c);
    } catch (error) {
      failures.push(messageOf(error));
      return Number.NEGATIVE_INFINITY;
    }
  }));
  let best = 0;
  for (let i = 1; i < clients.length; i++) if ((ranks[i] ?? -Infinity) > (ranks[best] ?? -Infinity)) best = i;
  clients.forEach((c, i) => { if (i !== best) options.close(c); });
  return { client: clients[best], failures };
}

/** Connects to one host (its sslmode fallbacks in order) and checks its session. */
async function tryHost(plan: HostPlan, wanted: Exclude<TargetSessionAttrs, 'prefer-standby'>, options: PgClientOptions): Promise<HostOutcome<pg.Client>> {
  const failures: string[] = [];
  for (const [index, attempt] of plan.attempts.entries()) {
    const client = new pg.Client(attempt.config);
    client.on('error', (error) => {
      options.log?.warn(`connection to ${describeHost(plan.host)} failed: ${error.message}`);
    });
    try {
      await client.connect();
    } catch (error) {
      failures.push(`${describeHost(plan.host)} (${attempt.tls}): ${messageOf(error)}`);
      await client.end().catch(() => undefined);
      if (index + 1 < plan.attempts.length && shouldFallBack(attempt.tls, error)) continue;
      break;
    }
    try {
      if (await sessionMatches(client, wanted)) return { client, failures };
      failures.push(`${describeHost(plan.host)}: session is not ${wanted}`);
    } catch (error) {
      failures.push(`${describeHost(plan.host)}: ${messageOf(error)}`);
    }
    await client.end().catch(() => undefined);
    break;
  }
  return { failures };
}

/**
 * A connected pg.Client for the connection string: every host at once,
 * sslmode fallbacks, target_session_attrs, the winner picked as
 * {@link selectHost} says. The client has an 'error' listener (a
 * dropped connection is logged, never an uncaught exception); the caller
 * owns it and must `end()` it. Failure: AutoctlError('PGSQL') listing why
 * each attempt failed (passwords scrubbed).
 */
export async function connectClient(conninfo: ConnInfo | string, options: PgClientOptions = {}): Promise<pg.Client> {
  const info = typeof conninfo === 'string' ? parseConnInfo(conninfo) : conninfo;
  const plans = toPgClientConfig(info, options);
  const attrsParam = getParam(info, 'target_session_attrs') ?? 'any';
  if (!(TARGET_SESSION_ATTRS as readonly string[]).includes(attrsParam)) {
    throw new AutoctlError('BAD_ARGS', `invalid target_session_attrs "${attrsParam}"`);
  }
  const attrs = attrsParam as TargetSessionAttrs;
  const passes: Array<Exclude<TargetSessionAttrs, 'prefer-standby'>> = attrs === 'prefer-standby' ? ['standby', 'any'] : [attrs];
  const failures: string[] = [];
  for (const wanted of passes) {
    const picked = await selectHost(plans.map((plan) => tryHost(plan, wanted, options)), {
      rank: options.rank,
      close: (client) => { client.end().catch(() => undefined); },
    });
    failures.push(...picked.failures);
    if (picked.client !== undefined) return picked.client;
  }
  const target = formatUri({ ...info, password: info.password === undefined ? undefined : '****' });
  throw new AutoctlError('PGSQL', `cannot connect to "${target}": ${failures.join('; ')}`);
}

/** Runs `fn` with a fresh connection, always closed afterwards. */
export async function withClient<T>(conninfo: ConnInfo | string, options: PgClientOptions, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connectClient(conninfo, options);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
