/**
 * The keeper's connections to the monitor (DESIGN.md decision 5): one
 * long-lived connection for the API calls (node_active and friends) and one
 * that LISTENs on channel `state` to wake the loop when a goal of the
 * node's group changes. Connections are (re)opened lazily with back-off;
 * every call has a deadline, after which the connection is destroyed, so
 * a partitioned network never blocks the loop (and its fencing) for long.
 *
 * Monitor members (issue 13): besides the hosts of the configured URI,
 * the link tries the hosts of the monitor members the keeper learned
 * (monitor-members.ts), all at once with target_session_attrs=read-write
 * unless the URI says otherwise; among several writable ones the highest
 * monitor epoch wins (`rank`). So a node created with a one-host URI still
 * finds the monitor that was promoted after a monitor failover.
 *
 * How long a dead monitor holds a keeper (docs/timings.md, "A monitor
 * failover"): a closed or reset connection (the monitor's host killed
 * its processes) is seen at once, by the socket's 'end' or 'error', and
 * the next call reconnects; a monitor that does not answer any more
 * (frozen, or its host gone without a reset) costs the call deadline
 * (CALL_TIMEOUT_MS); the reconnection then waits at most the connection
 * deadline (CONNECT_TIMEOUT_MS) for each host, in parallel, and only
 * SUSPECT_CONNECT_TIMEOUT_MS, once, for the host that stopped answering. The loop
 * retries after the back-off (100 ms doubling up to MAX_BACK_OFF_MS), not
 * after a full round interval. In steady state nothing is added: no probe
 * of the other hosts, no keepalive traffic.
 */
import pg from 'pg';
import { AutoctlError, messageOf } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { CHANNELS, parseStateNotification, type StateNotification } from '../monitor-api/index.js';
import { connectClient, parseConnInfo, scrubPasswords, setParam, getParam, type ConnInfo } from '../postgres/index.js';

export interface MonitorLinkOptions {
  uri: string;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  /** Connection attempt deadline (ms). */
  connectTimeoutMs?: number;
  /** Deadline of one API call (ms), connection included. */
  callTimeoutMs?: number;
  /** Which notifications wake the loop. */
  wakeOn?: (notification: StateNotification) => boolean;
  /** Called with each newly opened API connection (e.g. to read settings). */
  onConnect?: (client: pg.Client) => Promise<void>;
  /** Among several writable monitor hosts, the best ranked is used (the monitor epoch). */
  rank?: (client: pg.Client) => Promise<number>;
  applicationName?: string;
}

/** Deadline of one connection attempt to the monitor hosts (all at once). */
export const CONNECT_TIMEOUT_MS = 2000;
/** Deadline of one API call, connection included: node_active answers in milliseconds. */
export const CALL_TIMEOUT_MS = 3000;
/**
 * The connection deadline of the host whose call just ran out of time, on
 * the next attempt only: a frozen monitor does not hold the ranking of the
 * others for the full deadline. Safe for the epochs: the keeper has seen
 * that monitor's epoch, so a monitor picked without it may not be lower
 * (the epoch guard refuses it).
 */
export const SUSPECT_CONNECT_TIMEOUT_MS = 500;

/** A monitor host learned from the monitor members. */
export interface MemberHost {
  host: string;
  port: number;
}

const samePort = (a: number | undefined, b: number | undefined, defaultPort: number): boolean => (a ?? defaultPort) === (b ?? defaultPort);

/**
 * The connection target: the configured URI with the member hosts it does
 * not name appended (in the order given), and target_session_attrs
 * read-write when hosts were added and the URI sets none. Returns the URI
 * unchanged when nothing is added.
 */
export function withMemberHosts(uri: string, members: readonly MemberHost[]): string | ConnInfo {
  if (members.length === 0) return uri;
  const info = parseConnInfo(uri);
  const portParam = Number(getParam(info, 'port') ?? '');
  const defaultPort = Number.isInteger(portParam) && portParam > 0 ? portParam : 5432;
  const hosts = [...info.hosts];
  for (const m of members) {
    if (hosts.some((h) => h.host === m.host && samePort(h.port, m.port, defaultPort))) continue;
    hosts.push({ host: m.host, port: m.port });
  }
  if (hosts.length === info.hosts.length) return uri;
  // Every host of a libpq string needs a port when any has one.
  const filled = hosts.map((h) => (h.port === undefined ? { ...h, port: defaultPort } : h));
  let target: ConnInfo = { ...info, hosts: filled };
  if (getParam(target, 'target_session_attrs') === undefined) target = setParam(target, 'target_session_attrs', 'read-write');
  return target;
}

/** Forcibly closes a connection that may be stuck on a dead network. */
export function destroyClient(client: pg.Client): void {
  const stream = (client as unknown as { connection?: { stream?: { destroy?: () => void } } }).connection?.stream;
  try {
    stream?.destroy?.();
  } catch {
    // already gone
  }
  client.end().catch(() => undefined);
}

/** An error the server sent (it has a SQLSTATE), possibly wrapped as a cause. */
export function isServerError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e !== null && typeof e === 'object' && depth < 5; depth += 1) {
    if (e instanceof pg.DatabaseError) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => void, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new AutoctlError('MONITOR', `${what} did not answer within ${ms} ms`));
    }, ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Pause between connection attempts after `failures` consecutive failed
 * ones: 100 ms doubling up to MAX_BACK_OFF_MS, so that a keeper reports to
 * a returned monitor within about a second of it accepting connections.
 */
export const MAX_BACK_OFF_MS = 800;
export function backOffMs(failures: number): number {
  return Math.min(MAX_BACK_OFF_MS, 100 * 2 ** Math.max(0, Math.min(failures - 1, 4)));
}

/** A call refused without any attempt: the previous attempt failed less than the back-off ago. */
export class BackOffError extends AutoctlError {
  constructor(message: string) {
    super('MONITOR', message);
  }
}

export class MonitorLink {
  private main: pg.Client | null = null;
  private connecting: Promise<pg.Client> | null = null;
  private listener: pg.Client | null = null;
  private listening: Promise<void> | null = null;
  private failures = 0;
  private nextAttemptAt = 0;
  private wakeResolvers: Array<() => void> = [];
  private pendingWake = false;
  private closed = false;
  private readonly connectTimeoutMs: number;
  private readonly callTimeoutMs: number;
  private members: readonly MemberHost[] = [];
  /** The host of the connection whose call ran out of time, until the next connection attempt. */
  private suspect: { host: string; port: number } | null = null;
  private target: string | ConnInfo;
  private connections = 0;

  constructor(private options: MonitorLinkOptions) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    this.callTimeoutMs = options.callTimeoutMs ?? CALL_TIMEOUT_MS;
    this.target = options.uri;
  }

  get uri(): string {
    return this.options.uri;
  }

  /**
   * The monitor members' hosts, tried besides the URI's from the next
   * connection on; the current connections stay (they work).
   */
  setMemberHosts(members: readonly MemberHost[]): void {
    this.members = [...members];
    this.target = withMemberHosts(this.options.uri, this.members);
  }

  private hostCount(): number {
    try {
      return (typeof this.target === 'string' ? parseConnInfo(this.target) : this.target).hosts.length;
    } catch {
      return 1;
    }
  }

  /** What the next connection tries (for logs and tests). */
  get connectionTarget(): string | ConnInfo {
    return this.target;
  }

  /** Counts the API connections opened so far: a new one means a monitor was (re)joined. */
  get connectionCount(): number {
    return this.connections;
  }

  /** Whether the API connection is open. */
  get connected(): boolean {
    return this.main !== null;
  }

  /** How long until the next connection attempt is allowed (0: now, or connected). */
  retryInMs(): number {
    if (this.main) return 0;
    return Math.max(0, this.nextAttemptAt - performance.now());
  }

  /** A new monitor URI (reload): the current connections are dropped. */
  setUri(uri: string): void {
    if (uri === this.options.uri) return;
    this.options = { ...this.options, uri };
    this.target = withMemberHosts(uri, this.members);
    this.reset();
  }

  /** Consecutive failed calls or connections. */
  get consecutiveFailures(): number {
    return this.failures;
  }

  private async open(purpose: string): Promise<pg.Client> {
    // With one host there are no others to wait for: its full deadline.
    const suspect = this.hostCount() > 1 ? this.suspect : null;
    return connectClient(this.target, {
      connectTimeoutMs: this.connectTimeoutMs,
      ...(suspect === null ? {} : {
        hostConnectTimeoutMs: (h: { host: string; port?: number | undefined } | undefined) =>
          (h !== undefined && h.host === suspect.host && (h.port ?? 5432) === suspect.port
            ? Math.min(SUSPECT_CONNECT_TIMEOUT_MS, this.connectTimeoutMs) : undefined),
      }),
      applicationName: this.options.applicationName ?? `pg_autoctl ${purpose}`,
      ...(this.options.env ? { env: this.options.env } : {}),
      ...(this.options.rank ? { rank: this.options.rank } : {}),
    });
  }

  private async client(): Promise<pg.Client> {
    if (this.closed) throw new AutoctlError('MONITOR', 'the monitor connection is closed');
    if (this.main) return this.main;
    if (this.connecting) return this.connecting;
    const now = performance.now();
    if (now < this.nextAttemptAt) {
      throw new BackOffError(`the monitor at "${scrubPasswords(this.options.uri)}" is unreachable, next attempt in ${Math.ceil(this.nextAttemptAt - now)} ms`);
    }
    this.connecting = (async () => {
      let client: pg.Client;
      try {
        client = await this.open('keeper');
      } finally {
        this.suspect = null;
      }
      client.on('error', () => {
        if (this.main === client) this.main = null;
      });
      client.on('end', () => {
        if (this.main === client) this.main = null;
      });
      try {
        await this.options.onConnect?.(client);
      } catch (error) {
        destroyClient(client);
        throw error;
      }
      this.main = client;
      this.connections += 1;
      return client;
    })();
    try {
      return await this.connecting;
    } finally {
      this.connecting = null;
    }
  }

  /**
   * Runs `fn` on the API connection within the call deadline. Any failure
   * drops the connection (and the LISTEN one: the network may be gone).
   */
  async call<T>(what: string, fn: (client: pg.Client) => Promise<T>, timeoutMs = this.callTimeoutMs): Promise<T> {
    let used: pg.Client | null = null;
    try {
      const result = await withDeadline((async () => {
        used = await this.client();
        return fn(used);
      })(), timeoutMs, () => {
        // An open connection that stopped answering: its host waits less on the next attempt.
        const stuck = used as pg.Client | null;
        if (stuck !== null && this.main === stuck) this.suspect = { host: stuck.host, port: stuck.port };
        this.reset();
      }, what);
      this.failures = 0;
      this.nextAttemptAt = 0;
      return result;
    } catch (error) {
      // A call refused locally inside the back-off window tried nothing:
      // it must not push the next attempt further (that starved every
      // reconnection while the loop called once a second).
      if (error instanceof BackOffError) throw error;
      // A server-side SQL error on a healthy connection keeps the connection.
      if (!(isServerError(error) && used !== null && this.main === used)) {
        this.reset();
        this.failures += 1;
        this.nextAttemptAt = performance.now() + backOffMs(this.failures);
      }
      throw error;
    }
  }

  /** Drops both connections; the next call reconnects. */
  reset(): void {
    if (this.main) destroyClient(this.main);
    this.main = null;
    if (this.listener) destroyClient(this.listener);
    this.listener = null;
    this.listening = null;
  }

  /** Starts the LISTEN connection when it is not there; failures are logged and retried later. */
  ensureListening(): void {
    if (this.closed || this.listener || this.listening) return;
    this.listening = (async () => {
      let client: pg.Client | undefined;
      try {
        client = await this.open('listener');
        const me = client;
        me.on('notification', (message) => {
          if (message.channel !== CHANNELS.state || message.payload === undefined) return;
          try {
            const notification = parseStateNotification(message.payload);
            if (this.options.wakeOn?.(notification) ?? true) this.wake();
          } catch (error) {
            this.options.log.debug(`Ignoring a notification: ${messageOf(error)}`);
          }
        });
        const lost = (): void => {
          if (this.listener === me) {
            this.listener = null;
            this.listening = null;
          }
        };
        me.on('error', lost);
        me.on('end', lost);
        await withDeadline(me.query(`LISTEN ${CHANNELS.state}`), this.callTimeoutMs, () => destroyClient(me), 'LISTEN');
        if (this.closed) {
          destroyClient(me);
          return;
        }
        this.listener = me;
        // Something may have changed while we were not listening.
        this.wake();
      } catch (error) {
        if (client) destroyClient(client);
        this.options.log.debug(`Failed to LISTEN on the monitor: ${messageOf(error)}`);
        this.listening = null;
      }
    })();
  }

  /** Wakes a pending {@link waitForWake}, or the next one. */
  wake(): void {
    const resolvers = this.wakeResolvers;
    this.wakeResolvers = [];
    if (resolvers.length === 0) this.pendingWake = true;
    for (const resolve of resolvers) resolve();
  }

  /** Resolves after `ms`, on a notification for our group, or on abort. True when woken. */
  waitForWake(ms: number, signal?: AbortSignal): Promise<boolean> {
    if (this.pendingWake) {
      this.pendingWake = false;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      let done = false;
      const finish = (woken: boolean): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(woken);
      };
      const onAbort = (): void => finish(false);
      const timer = setTimeout(() => finish(false), ms);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.wakeResolvers.push(() => finish(true));
    });
  }

  /** Clears a wake-up that arrived while the loop was busy. */
  clearWake(): void {
    this.pendingWake = false;
  }

  async close(): Promise<void> {
    this.closed = true;
    const clients = [this.main, this.listener].filter((c): c is pg.Client => c !== null);
    this.main = null;
    this.listener = null;
    await Promise.all(clients.map(async (c) => {
      await withDeadline(c.end(), 1000, () => destroyClient(c), 'closing the monitor connection').catch(() => undefined);
    }));
    for (const resolve of this.wakeResolvers) resolve();
    this.wakeResolvers = [];
  }
}
