/**
 * Reaching the monitor from interactive commands (spec 04 §1.4, §1.6):
 * --monitor, then PG_AUTOCTL_MONITOR, then the local configuration (a
 * keeper's pg_autoctl.monitor, or the local monitor itself).
 */
import type pg from 'pg';
import { AutoctlError, messageOf } from '../common/errors.js';
import { maskSecrets } from '../common/secrets.js';
import { isMonitorConfig, type AnyConfig, type MonitorConfig } from '../config/index.js';
import { connectClient, parseConnInfo, formatUri, type ConnInfo } from '../postgres/index.js';
import type { CommandContext } from './context.js';
import { loadConfig } from './target.js';

export interface MonitorTarget {
  /** The monitor URI as shown by `show uri`. */
  uri: string;
  /** How to connect (may differ from `uri` on the monitor node: local socket). */
  conninfo: ConnInfo;
  /** The local node's configuration, when the target came from PGDATA. */
  config: AnyConfig | null;
}

/** `postgres://autoctl_node@host:port/pg_auto_failover?sslmode=...` for a monitor config (spec 04 §5.3). */
export function monitorUriOf(config: MonitorConfig): string {
  const host = config.pg_autoctl.hostname;
  const params: string[] = [];
  const mode = config.ssl.sslmode;
  const rank = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'].indexOf(mode);
  if (rank >= 2) params.push(`sslmode=${mode}`);
  if (rank >= 4 && config.ssl.ca_file) params.push(`sslrootcert=${config.ssl.ca_file}`);
  if (rank >= 4 && config.ssl.crl_file) params.push(`sslcrl=${config.ssl.crl_file}`);
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return `postgres://autoctl_node@${hostPart}:${config.postgresql.port}/pg_auto_failover${params.length ? `?${params.join('&')}` : ''}`;
}

export async function resolveMonitor(ctx: CommandContext, flags: { monitor?: string; pgdata?: string }): Promise<MonitorTarget> {
  const given = flags.monitor ?? (ctx.env.PG_AUTOCTL_MONITOR || undefined);
  if (given !== undefined) {
    if (flags.pgdata !== undefined) ctx.log.warn('Given --monitor URI, the --pgdata option is ignored');
    if (given.length >= 1024) throw new AutoctlError('BAD_ARGS', 'Failed to parse --monitor connection string: it is 1024 bytes or longer');
    let conninfo: ConnInfo;
    try {
      conninfo = parseConnInfo(given);
    } catch (error) {
      throw new AutoctlError('BAD_ARGS', `Failed to parse --monitor connection string "${maskSecrets(given)}": ${maskSecrets(messageOf(error))}`);
    }
    return { uri: given, conninfo, config: null };
  }
  const pgdata = flags.pgdata ?? ctx.env.PGDATA;
  if (pgdata === undefined || pgdata === '') {
    throw new AutoctlError('BAD_ARGS', 'Failed to get the monitor URI: use --monitor, PG_AUTOCTL_MONITOR, or --pgdata/PGDATA of a pg_autoctl node');
  }
  const { config } = await loadConfig(ctx, pgdata);
  if (isMonitorConfig(config)) {
    const uri = monitorUriOf(config);
    // On the monitor node itself, connect to the local instance.
    const conninfo: ConnInfo = {
      hosts: [{ host: '127.0.0.1', port: config.postgresql.port }],
      user: 'autoctl_node',
      dbname: 'pg_auto_failover',
      params: [['sslmode', 'prefer']],
    };
    return { uri, conninfo, config };
  }
  const monitor = config.pg_autoctl.monitor;
  if (!monitor || monitor === 'PG_AUTOCTL_DISABLED') {
    throw new AutoctlError('BAD_CONFIG', 'This node has disabled monitor, pg_autoctl get and set commands are not available.');
  }
  return { uri: monitor, conninfo: parseConnInfo(monitor), config };
}

/** Connects with retries for PGCONNECT_TIMEOUT seconds (default 2). */
export async function connectMonitor(ctx: CommandContext, target: MonitorTarget, budgetMs?: number): Promise<pg.Client> {
  const seconds = Number(ctx.env.PGCONNECT_TIMEOUT ?? '2');
  const budget = budgetMs ?? (Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 2000);
  const start = performance.now();
  let attempts = 0;
  let sleepMs = 5;
  for (;;) {
    attempts++;
    try {
      return await connectClient(target.conninfo, { connectTimeoutMs: Math.max(1000, budget), applicationName: 'pg_autoctl' });
    } catch (error) {
      const elapsed = performance.now() - start;
      if (elapsed >= budget) {
        throw new AutoctlError('MONITOR',
          `Failed to connect to "${formatUri({ ...target.conninfo, password: target.conninfo.password ? '****' : undefined })}" after ${attempts} attempts in ${Math.round(elapsed)} ms, pg_autoctl stops retrying now: ${messageOf(error)}`);
      }
      // The last sleep is cut to the budget, so that a monitor back just
      // before the deadline still gets one more attempt.
      await new Promise((r) => setTimeout(r, Math.min(sleepMs, budget - elapsed)));
      sleepMs = Math.min(2000, sleepMs * 2 + Math.random() * sleepMs);
    }
  }
}

export async function withMonitor<T>(ctx: CommandContext, target: MonitorTarget, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connectMonitor(ctx, target);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
