/**
 * What pg_autoctl knows of a node's Postgres (the original's "pg setup"),
 * printed alike by `config check` and `do pgsetup discover` (2.0 prints
 * both with one function).
 */
import { renderLabelled } from './table.js';

export interface PgSetup {
  pgdata: string;
  pgCtl: string;
  /** `pg_ctl --version` number, e.g. "15.5"; '' when pg_ctl was not found. */
  version: string;
  /** postgresql.host of the configuration (a socket directory or a host). */
  host: string;
  port: number;
  proxyport: number;
  /** Postmaster pid; 0 when Postgres is not running. */
  pid: number;
  inRecovery: boolean;
  control: { version: number; catalogVersion: number; systemIdentifier: bigint; clusterState: string; latestCheckpointLsn: string };
  /** Status line of postmaster.pid: starting, ready, standby, stopping; unknown when not running. */
  pmStatus: string;
}

/** `15.18` → 1518, `16.2` → 1602, `16beta1` → 1600: major * 100 + minor, as 2.0 prints it. */
export function versionNumber(version: string): number {
  const match = /^(\d+)(?:\.(\d+))?/.exec(version);
  if (!match) return 0;
  const major = Number(match[1]);
  const minor = Number(match[2] ?? '0');
  return major >= 10 ? major * 100 + minor : major * 10000 + minor * 100;
}

/** The text summary: one `label: value` line each, labels padded as 2.0 does. */
export function pgSetupText(s: PgSetup): string {
  const rows: Array<[string, string | number]> = [
    ['pgdata:', s.pgdata],
    ['pg_ctl:', s.pgCtl],
    ['pg_version:', `"${s.version}" (${versionNumber(s.version)})`],
    ['pghost:', s.host],
    ['pgport:', s.port],
    ['proxyport:', s.proxyport],
    ['pid:', s.pid],
    ['is in recovery:', s.inRecovery ? 'yes' : 'no'],
    ['Control cluster state:', s.control.clusterState],
    ['Control Version:', s.control.version],
    ['Catalog Version:', s.control.catalogVersion],
    ['System Identifier:', s.control.systemIdentifier.toString()],
    ['Latest checkpoint LSN:', s.control.latestCheckpointLsn],
    ['Postmaster status:', s.pmStatus],
  ];
  return renderLabelled(rows, 22, ' ');
}

/** The `postgres` object of the JSON forms. */
export function pgSetupJson(s: PgSetup): Record<string, unknown> {
  return {
    pgdata: s.pgdata,
    pg_ctl: s.pgCtl,
    version: s.version,
    host: s.host,
    port: s.port,
    proxyport: s.proxyport,
    pid: s.pid,
    in_recovery: s.inRecovery,
    control: {
      version: s.control.version,
      catalog_version: s.control.catalogVersion,
      system_identifier: s.control.systemIdentifier.toString(),
    },
    postmaster: { status: s.pmStatus },
  };
}
