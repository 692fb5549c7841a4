/**
 * Renderings of `pg_autoctl show file` and `show systemd` (spec 04 §5.6,
 * §5.7, spec 05 §14): the list of pg_autoctl's files, one file's path or
 * contents, the keeper state and the systemd unit.
 */
import type { KeeperState, PidFile } from '../../config/index.js';
import type { Rendering } from '../command.js';
import { renderLabelled } from './table.js';

/** The files of a node; `state` and `init` only on a keeper. */
export interface FileList {
  config: string;
  state?: string;
  init?: string;
  pid: string;
}

export const fileListRendering: Rendering<FileList> = {
  text: (files) => {
    const rows: Array<[string, string | undefined]> = [['Config', files.config], ['State', files.state], ['Init', files.init], ['Pid', files.pid]];
    const lines = [`${'File'.padStart(7)} | Path`, `${'-'.repeat(7)}-+-${'-'.repeat(15)}`];
    for (const [label, path] of rows) if (path !== undefined) lines.push(`${label.padStart(7)} | ${path}`);
    return `${lines.join('\n')}\n\n`;
  },
  json: (files) => ({
    config: files.config,
    ...(files.state === undefined ? {} : { state: files.state }),
    ...(files.init === undefined ? {} : { init: files.init }),
    pid: files.pid,
  }),
};

/** One line of text (a path, the init state), or a file's bytes; JSON when the file has a JSON form. */
export interface FileShown {
  text: string;
  json?: unknown;
  /** Printed as text also with --json (a path, the init state: 2.0 has no JSON form for them). */
  textOnly?: true;
}

export const fileShownRendering: Rendering<FileShown> = {
  text: ({ text }) => text,
  json: (shown) => shown.json ?? shown.text,
};

/** `show file --X --contents`: the file's bytes followed by one newline (spec 04 §5.6). */
export function fileContents(bytes: string): string {
  return `${bytes}\n`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Epoch seconds as C's ctime() prints them in local time (`Wed Nov 25 22:38:18 2026`); 0 (never) is `0`. */
export function epochToString(epoch: number): string {
  if (epoch <= 0) return '0';
  const d = new Date(epoch * 1000);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2)} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${d.getFullYear()}`;
}

/** `show file --state --contents`: labels left-aligned to 26 characters. */
export function renderKeeperStateText(state: KeeperState): string {
  const rows: Array<[string, string | number | bigint]> = [
    ['Current Role:', state.currentRole],
    ['Assigned Role:', state.assignedRole],
    ['Last Monitor Contact:', epochToString(state.lastMonitorContact)],
    ['Last Secondary Contact:', epochToString(state.lastSecondaryContact)],
    ['pg_autoctl state version:', state.version],
    ['group:', state.currentGroup],
    ['node id:', state.currentNodeId],
    ['nodes version:', state.currentNodesVersion],
    ['PostgreSQL Version:', state.pgControlVersion],
    ['PostgreSQL CatVersion:', state.catalogVersionNo],
    ['PostgreSQL System Id:', state.systemIdentifier],
  ];
  return renderLabelled(rows, 26);
}

export function keeperStateJson(state: KeeperState): Record<string, unknown> {
  return {
    current_role: state.currentRole,
    assigned_role: state.assignedRole,
    version: state.version,
    groupId: state.currentGroup,
    nodeId: state.currentNodeId,
    last_monitor_contact: epochToString(state.lastMonitorContact),
    last_secondary_contact: epochToString(state.lastSecondaryContact),
    pgversion: state.pgControlVersion,
  };
}

export function pidFileJson(pidFile: PidFile): Record<string, unknown> {
  return {
    pid: pidFile.pid,
    pgdata: pidFile.pgdata,
    version: pidFile.version,
    semId: pidFile.semId,
    services: pidFile.services.map((s) => ({ name: s.name, pid: s.pid, version: pidFile.version, pgautofailover: pidFile.schemaVersion })),
  };
}

/** What the systemd unit needs (spec 05 §14). */
export interface SystemdUnit {
  /** Absolute PGDATA. */
  pgdata: string;
  /** Owner of PGDATA, and its home directory. */
  user: string;
  home: string;
  /** Absolute path of the pg_autoctl program. */
  program: string;
}

export const systemdRendering: Rendering<SystemdUnit> = {
  text: (u) => [
    '[Unit]',
    'Description = pg_auto_failover',
    '',
    '[Service]',
    `WorkingDirectory = ${u.home}`,
    `Environment = 'PGDATA=${u.pgdata}'`,
    `User = ${u.user}`,
    `ExecStart = ${u.program} run`,
    'Restart = always',
    'StartLimitBurst = 0',
    `ExecReload = ${u.program} reload`,
    '',
    '[Install]',
    'WantedBy = multi-user.target',
    '',
  ].join('\n'),
};
