/**
 * The keeper learns the monitor members (issue 13): when the monitor
 * database has several monitors (a primary and its standby monitors), the
 * keeper keeps their host:port list in `pg_autoctl.monitors`, a 0600 file
 * beside its state file, and its monitor link tries those hosts besides
 * the configured URI's (monitor-link.ts), so that a node created with a
 * one-host monitor URI still finds the monitor promoted after a monitor
 * failover, also across a restart of pg_autoctl. Each member host also
 * gets the health-check rule in this node's pg_hba.conf
 * (hba-sync.ts syncMonitorHba): any member may become the monitor that
 * health-checks this node.
 *
 * The list is read with monitor_members() on each new monitor connection
 * and every MEMBERS_REFRESH_MS after that: one short query on the
 * existing connection. A monitor without members (before migration 0012)
 * changes nothing, and is asked again on the next connection only.
 *
 * File, written atomically:
 *   monitor <hosts of the configured URI, host:port comma separated>
 *   member <host> <port>
 *   ...
 * The first line ties the list to the configured monitor: a file written
 * for another monitor URI (after `enable monitor` or a reload of
 * pg_autoctl.monitor) is ignored and replaced.
 */
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.js';
import { messageOf } from '../common/errors.js';
import { isMonitorDisabled } from '../config/index.js';
import { monitorMembers, sqlStateOf, type MonitorMember } from '../monitor-api/index.js';
import { parseConnInfo } from '../postgres/index.js';
import type { MemberHost } from './monitor-link.js';
import { onMonitor, type KeeperRuntime } from './runtime.js';
import { configuredMonitorHosts, syncMonitorHba } from './hba-sync.js';

export const MONITORS_FILE_NAME = 'pg_autoctl.monitors';
export const MONITORS_FILE_MODE = 0o600;
/** How often the member list is read again while connected. */
export const MEMBERS_REFRESH_MS = 10_000;

/** The members file of a node, beside its state file. */
export function monitorsFileOf(statePath: string): string {
  return join(dirname(statePath), MONITORS_FILE_NAME);
}

/** The configured URI's hosts as the file's first line names them ('' when it cannot be parsed). */
export function configuredHostsKey(uri: string): string {
  try {
    return parseConnInfo(uri).hosts.map((h) => `${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port ?? ''}`).join(',');
  } catch {
    return '';
  }
}

const HOST_RE = /^[^\s,/?#@]+$/;

function validMember(host: string, port: number): boolean {
  return HOST_RE.test(host) && Number.isInteger(port) && port >= 1 && port <= 65535;
}

export function formatMonitorsFile(monitorKey: string, members: readonly MemberHost[]): string {
  return `monitor ${monitorKey}\n${members.map((m) => `member ${m.host} ${m.port}\n`).join('')}`;
}

/** The members for `monitorKey`; undefined when the file names another monitor. Throws on a damaged file. */
export function parseMonitorsFile(text: string, monitorKey: string): MemberHost[] | undefined {
  const lines = text.split('\n').filter((line) => line !== '');
  const first = lines.shift();
  if (first === undefined || !first.startsWith('monitor ')) throw new Error('expected a first line "monitor <hosts>"');
  if (first.slice('monitor '.length) !== monitorKey) return undefined;
  return lines.map((line) => {
    const match = /^member (\S+) (\d{1,5})$/.exec(line);
    const host = match?.[1];
    const port = Number(match?.[2]);
    if (host === undefined || !validMember(host, port)) throw new Error(`expected "member <host> <port>", got "${line.slice(0, 80)}"`);
    return { host, port };
  });
}

/** Reads the cache; [] when missing, damaged (logged) or written for another monitor. */
export function readMonitorsFile(path: string, monitorKey: string, log: { warn(m: string): void }): MemberHost[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ENOENT') log.warn(`Failed to read the monitor members file "${path}": ${messageOf(error)}`);
    return [];
  }
  try {
    return parseMonitorsFile(text, monitorKey) ?? [];
  } catch (error) {
    log.warn(`Ignoring the monitor members file "${path}": ${messageOf(error)}`);
    return [];
  }
}

export function writeMonitorsFile(path: string, monitorKey: string, members: readonly MemberHost[]): void {
  writeFileAtomic(path, formatMonitorsFile(monitorKey, members), { mode: MONITORS_FILE_MODE });
}

export function removeMonitorsFile(statePath: string): void {
  rmSync(monitorsFileOf(statePath), { force: true });
}

const sameMembers = (a: readonly MemberHost[], b: readonly MemberHost[]): boolean =>
  a.length === b.length && a.every((m, i) => m.host === b[i]?.host && m.port === b[i]?.port);

const label = (m: MemberHost): string => `${m.host.includes(':') ? `[${m.host}]` : m.host}:${m.port}`;

/** What the members bookkeeping of one keeper remembers between rounds. */
interface MembersState {
  monitorKey: string;
  members: MemberHost[];
  /** Monotonic time of the last read; -Infinity: never. */
  readAt: number;
  /** The link's connection count at the last read. */
  connection: number;
  /** The monitor of that connection has no monitor_members(): asked again on the next connection only. */
  noMembers: boolean;
}

const states = new WeakMap<KeeperRuntime, MembersState>();

/**
 * The keeper's members bookkeeping, loaded from the file the first time
 * and handed to the monitor link; follows a change of the configured URI
 * (the old monitor's members are forgotten).
 */
export function monitorMembersOf(rt: KeeperRuntime): MembersState {
  const key = configuredHostsKey(rt.config.pg_autoctl.monitor);
  let state = states.get(rt);
  if (state === undefined || state.monitorKey !== key) {
    const members = isMonitorDisabled(rt.config) ? [] : readMonitorsFile(monitorsFileOf(rt.paths.state), key, rt.log);
    if (state !== undefined && state.members.length > 0) rt.log.info('The monitor URI changed: forgetting the members of the previous monitor');
    state = { monitorKey: key, members, readAt: Number.NEGATIVE_INFINITY, connection: -1, noMembers: false };
    states.set(rt, state);
    rt.monitor.setMemberHosts(members);
    if (members.length > 0) rt.log.info(`Monitor members known from "${monitorsFileOf(rt.paths.state)}": ${members.map(label).join(', ')}`);
  }
  return state;
}

/** The members as MemberHost, in member id order, without duplicates. */
function toMemberHosts(rows: readonly MonitorMemberHost[]): MemberHost[] {
  const out: MemberHost[] = [];
  for (const r of rows) {
    if (!validMember(r.hostname, r.port)) continue;
    if (out.some((m) => m.host === r.hostname && m.port === r.port)) continue;
    out.push({ host: r.hostname, port: r.port });
  }
  return out;
}

/** What the keeper needs of a member. */
export type MonitorMemberHost = Pick<MonitorMember, 'memberId' | 'hostname' | 'port'>;

export type FetchMembers = (rt: KeeperRuntime) => Promise<MonitorMemberHost[] | undefined>;

/** monitor_members(); undefined from a monitor without it (a schema before migration 0012: SQLSTATE 42883). */
const fetchFromMonitor: FetchMembers = (rt) => onMonitor(rt, 'monitor_members', async (c) => {
  try {
    return (await monitorMembers(c)).sort((a, b) => a.memberId - b.memberId);
  } catch (error) {
    if (sqlStateOf(error) === '42883') return undefined;
    throw error;
  }
});

/**
 * After a successful report: reads the member list when the link opened a
 * new connection since the last read, or MEMBERS_REFRESH_MS after it;
 * stores a changed list (file and link) and writes the health-check HBA
 * rules of every monitor host. Failures are logged, never thrown.
 */
export async function refreshMonitorMembers(rt: KeeperRuntime, options: { fetch?: FetchMembers; now?: number } = {}): Promise<void> {
  if (isMonitorDisabled(rt.config)) return;
  const state = monitorMembersOf(rt);
  const now = options.now ?? performance.now();
  const connection = rt.monitor.connectionCount;
  if (connection === state.connection && (now - state.readAt < MEMBERS_REFRESH_MS || state.noMembers)) return;
  state.readAt = now;
  state.connection = connection;
  let rows: MonitorMemberHost[] | undefined;
  try {
    rows = await (options.fetch ?? fetchFromMonitor)(rt);
  } catch (error) {
    rt.log.warn(`Failed to read the monitor members: ${messageOf(error)}`);
    return;
  }
  state.noMembers = rows === undefined;
  const configured = configuredMonitorHosts(rt.config.pg_autoctl.monitor);
  // A monitor without members keeps what this node learned before (it may be an old copy).
  if (rows !== undefined) {
    const members = toMemberHosts(rows);
    // One monitor, named by the URI: nothing to learn (the one-monitor path keeps its files and output).
    const learnsNothing = state.members.length === 0 && members.length <= 1 && members.every((m) => configured.includes(m.host));
    if (!learnsNothing && !sameMembers(members, state.members)) {
      try {
        writeMonitorsFile(monitorsFileOf(rt.paths.state), state.monitorKey, members);
      } catch (error) {
        rt.log.warn(`Failed to write the monitor members file: ${messageOf(error)}`);
      }
      rt.log.info(members.length === 0 ? 'The monitor has no members any more'
        : `The monitor has ${members.length} member${members.length === 1 ? '' : 's'}: ${members.map(label).join(', ')}`);
      state.members = members;
      rt.monitor.setMemberHosts(members);
    }
  }
  // Health-check rules for every monitor host when there are several (the one-monitor path has its rule from init).
  const hosts = new Set([...configured, ...state.members.map((m) => m.host)]);
  if (hosts.size > 1 && rt.config.postgresql.hba_level !== 'skip') await syncMonitorHba(rt, state.members.map((m) => m.host));
}
