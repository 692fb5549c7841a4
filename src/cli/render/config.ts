/**
 * Renderings of `pg_autoctl config get|set|check` (spec 04 §9).
 */
import { configToJson, renderConfig, type AnyConfig, type FieldValue } from '../../config/index.js';
import { formatLsn, type Lsn } from '../../postgres/index.js';
import type { Rendering } from '../command.js';

/**
 * Data printed as text even with --json (2.0 prints a single value of
 * `config get|set` and a path of `show file` as is): see
 * the `textOnly` of their command spec (../command.ts).
 */
export interface TextOnly { readonly textOnly: true }

export function isTextOnly(value: unknown): value is TextOnly {
  return typeof value === 'object' && value !== null && 'textOnly' in value && value.textOnly === true;
}

/** The whole configuration, or one value. */
export type ConfigGetData =
  | { kind: 'all'; config: AnyConfig }
  | { kind: 'value'; value: FieldValue; textOnly: true };

export const configGetRendering: Rendering<ConfigGetData> = {
  /** The INI text followed by an empty line, as 2.0 prints it. */
  text: (d) => (d.kind === 'all' ? `${renderConfig(d.config)}\n` : `${String(d.value)}\n`),
  json: (d) => (d.kind === 'all' ? configToJson(d.config) : d.value),
};

/** What `config check` found about the local Postgres. */
export interface ConfigCheckData {
  pgdata: string;
  pgCtl: string;
  /** `pg_ctl --version`, e.g. `15.18`. */
  version: string;
  host: string;
  port: number;
  proxyport: number;
  pid: number;
  inRecovery: boolean;
  control: { clusterState: string; version: number; catalogVersion: number; systemIdentifier: bigint; latestCheckpointLsn: Lsn };
  postmasterStatus: string;
  config: AnyConfig;
}

/** `15.18` → 1518, `16.2` → 1602, `16beta1` → 1600: major * 100 + minor, as 2.0 prints it. */
export function versionNumber(version: string): number {
  const match = /^(\d+)(?:\.(\d+))?/.exec(version);
  if (!match) return 0;
  const major = Number(match[1]);
  const minor = Number(match[2] ?? '0');
  return major >= 10 ? major * 100 + minor : major * 10000 + minor * 100;
}

export const configCheckRendering: Rendering<ConfigCheckData> = {
  text: (d) => {
    const rows: Array<[string, string | number]> = [
      ['pgdata:', d.pgdata],
      ['pg_ctl:', d.pgCtl],
      ['pg_version:', `"${d.version}" (${versionNumber(d.version)})`],
      ['pghost:', d.host],
      ['pgport:', d.port],
      ['proxyport:', d.proxyport],
      ['pid:', d.pid],
      ['is in recovery:', d.inRecovery ? 'yes' : 'no'],
      ['Control cluster state:', d.control.clusterState],
      ['Control Version:', d.control.version],
      ['Catalog Version:', d.control.catalogVersion],
      ['System Identifier:', d.control.systemIdentifier.toString()],
      ['Latest checkpoint LSN:', formatLsn(d.control.latestCheckpointLsn)],
      ['Postmaster status:', d.postmasterStatus],
    ];
    return rows.map(([label, value]) => `${label.padEnd(22)} ${String(value)}\n`).join('');
  },
  json: (d) => ({
    postgres: {
      pgdata: d.pgdata,
      pg_ctl: d.pgCtl,
      version: d.version,
      host: d.host,
      port: d.port,
      proxyport: d.proxyport,
      pid: d.pid,
      in_recovery: d.inRecovery,
      control: { version: d.control.version, catalog_version: d.control.catalogVersion, system_identifier: d.control.systemIdentifier.toString() },
      postmaster: { status: d.postmasterStatus },
    },
    config: configToJson(d.config),
  }),
};
