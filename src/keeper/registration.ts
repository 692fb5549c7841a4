/**
 * Contacting the monitor at `create` time and registering the node (spec
 * 05 §4.3): one monitor transaction holds register_node and the local
 * records (state file, configuration, init file), so that a node is never
 * registered without its local record, nor the reverse.
 */
import pg from 'pg';
import { AutoctlError, messageOf } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { sleep } from '../common/service.js';
import { getFormation, hasMonitorSchema, issueNodeToken, registerNode, type RegisterNodeArgs } from '../monitor-api/index.js';
import { sqlStateOf, type RegisteredNode } from '../monitor-api/index.js';
import { connectClient, scrubPasswords } from '../postgres/index.js';

/** SQLSTATEs of a server that answers but refuses us: retrying does not help. */
const REFUSALS: ReadonlyMap<string, string> = new Map([
  ['28P01', 'authentication failed'],
  ['28000', 'access refused (pg_hba.conf or role)'],
  ['3D000', 'the database does not exist'],
  ['42501', 'permission denied'],
]);

/**
 * The server's refusals, as connectClient reports them (its error keeps
 * the reason of each attempt in the message, not the pg errors).
 */
const REFUSAL_TEXTS: readonly RegExp[] = [
  /database "[^"]*" does not exist/,
  /role "[^"]*" does not exist/,
  /password authentication failed for user "[^"]*"/,
  /no pg_hba\.conf entry for [^;]*/,
  /permission denied for database "[^"]*"/,
];

/** Why the server refused us, when it did. */
function refusalOf(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e !== null && typeof e === 'object' && depth < 5; depth += 1) {
    if (e instanceof pg.DatabaseError) {
      const known = e.code === undefined ? undefined : REFUSALS.get(e.code);
      if (known !== undefined) return `${known}: ${e.message}`;
    }
    e = (e as { cause?: unknown }).cause;
  }
  const text = messageOf(error);
  for (const pattern of REFUSAL_TEXTS) {
    const match = pattern.exec(text);
    if (match) return match[0];
  }
  return undefined;
}

/** The libpq-like text of a failed connection, one line. */
function oneLine(error: unknown): string {
  return messageOf(error).replace(/\s+/g, ' ').trim();
}

export interface MonitorConnectOptions {
  uri: string;
  log: Logger;
  env: NodeJS.ProcessEnv;
  /** Total time to keep retrying an unreachable monitor (ms). */
  retryBudgetMs: number;
}

/**
 * Connects to the monitor, retrying while it is unreachable (it may still
 * be starting), failing at once when it answers and refuses (wrong role,
 * password or database), and checking that the database holds a
 * pg_auto_failover monitor schema.
 */
export async function connectMonitorForCreate(options: MonitorConnectOptions): Promise<pg.Client> {
  const uri = scrubPasswords(options.uri);
  const started = performance.now();
  let attempts = 0;
  let delay = 100;
  let lastWarn = 0;
  for (;;) {
    attempts += 1;
    try {
      const client = await connectClient(options.uri, { connectTimeoutMs: 2000, applicationName: 'pg_autoctl create', env: options.env });
      try {
        if (!(await hasMonitorSchema(client))) {
          throw new AutoctlError('BAD_STATE', `The database at "${uri}" is not a pg_auto_failover monitor: it has no pgautofailover schema`,
            { hint: 'use the URI printed by pg_autoctl show uri --formation monitor on the monitor node' });
        }
      } catch (error) {
        await client.end().catch(() => undefined);
        throw error;
      }
      return client;
    } catch (error) {
      if (error instanceof AutoctlError && error.code === 'BAD_STATE') throw error;
      const refusal = refusalOf(error);
      if (refusal !== undefined) {
        throw new AutoctlError('BAD_STATE', `Failed to connect to the monitor at "${uri}": ${refusal}`);
      }
      const elapsed = performance.now() - started;
      if (elapsed + delay > options.retryBudgetMs) {
        throw new AutoctlError('BAD_STATE',
          `Failed to connect to the monitor at "${uri}" after ${attempts} attempts in ${Math.round(elapsed)} ms: ${oneLine(error)}`);
      }
      if (attempts === 1 || performance.now() - lastWarn > 30_000) {
        options.log.warn(`Failed to connect to "${uri}", retrying until the server is ready: ${oneLine(error)}`);
        lastWarn = performance.now();
      }
      await sleep(delay);
      delay = Math.min(2000, delay * 2);
    }
  }
}

/** Fails clearly when the formation does not exist on the monitor. */
export async function checkFormation(client: pg.Client, formation: string, dbname: string, log: Logger): Promise<void> {
  const row = await getFormation(client, formation);
  if (row === undefined) {
    throw new AutoctlError('BAD_STATE', `formation "${formation}" does not exist`,
      { hint: 'Use `pg_autoctl create formation` to create the target formation first' });
  }
  if (row.dbname !== dbname) {
    log.debug(`Formation "${formation}" uses dbname "${row.dbname}", this node "${dbname}" (the first node decides)`);
  }
}

export interface RegisterOptions {
  client: pg.Client;
  args: RegisterNodeArgs;
  log: Logger;
  /**
   * Local records, written inside the monitor transaction; any failure
   * rolls the registration back. `token` is the node's credential, issued
   * in the same transaction (docs/security.md "Node credentials").
   */
  recordLocally(node: RegisteredNode, token: string): Promise<void>;
  /** Removes what recordLocally wrote (after a failure). */
  undoLocally(): Promise<void>;
  /** How long to keep retrying while the monitor is busy with another registration (ms). */
  retryBudgetMs: number;
}

/**
 * register_node, issue_node_token and the local records in one monitor
 * transaction, retried while the monitor says "not now" (55006).
 */
export async function registerWithMonitor(options: RegisterOptions): Promise<RegisteredNode> {
  const { client, args, log } = options;
  const where = `${args.host}:${args.port} in group ${args.desiredGroupId ?? -1} of formation "${args.formation}"`;
  const started = performance.now();
  let delay = 200;
  for (;;) {
    try {
      await client.query('BEGIN');
      const node = await registerNode(client, args);
      const token = await issueNodeToken(client, node.nodeId);
      await options.recordLocally(node, token);
      await client.query('COMMIT');
      return node;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      await options.undoLocally().catch((undo: unknown) => { log.warn(`Failed to clean up after the failed registration: ${messageOf(undo)}`); });
      const state = sqlStateOf(error);
      const retryable = state === '55006' || state === '40001' || state === '40P01';
      if (retryable && performance.now() - started + delay < options.retryBudgetMs) {
        log.warn(`Failed to register node ${where} with initial state "${args.initialState ?? 'init'}" because the monitor is already registering another standby, retrying in ${delay} ms`);
        await sleep(delay);
        delay = Math.min(2000, delay * 2);
        continue;
      }
      if (state === '23P01') {
        throw new AutoctlError('BAD_STATE',
          `Failed to register node ${args.host}:${args.port} in group ${args.desiredGroupId ?? -1} of formation "${args.formation}" with system_identifier ${args.sysIdentifier ?? 0n}, because another node already exists in this group with another system_identifier`,
          { hint: 'create a standby from a missing or empty PGDATA (a base backup is taken), or from a physical copy of the primary' });
      }
      const detail = typeof (error as { cause?: { detail?: unknown } }).cause?.detail === 'string'
        ? ` (${String((error as { cause: { detail: string } }).cause.detail)})` : '';
      throw new AutoctlError('BAD_STATE', `Failed to register node ${where} with initial state "${args.initialState ?? 'init'}": ${messageOf(error)}${detail}`,
        error instanceof AutoctlError && error.hint !== undefined ? { hint: error.hint, cause: error } : { cause: error });
    }
  }
}
