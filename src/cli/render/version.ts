/** `pg_autoctl version` / `--version` (spec 04 §2): text and JSON. */
import type { Rendering } from '../command.js';

export interface VersionInfo {
  version: string;
  schemaVersion: string;
  nodeVersion: string;
}

export const versionRendering: Rendering<VersionInfo> = {
  text: (v) => [
    `pg_autoctl version ${v.version}`,
    `pg_autoctl extension version ${v.schemaVersion}`,
    `compiled with TypeScript for Node.js ${v.nodeVersion}`,
    'compatible with Postgres 13, 14, 15, 16 and 17',
    '',
  ].join('\n'),
  json: (v) => ({
    pg_autoctl: v.version,
    pgautofailover: v.schemaVersion,
    pg_major: '15',
    pg_version: '15',
    pg_version_str: `Node.js ${v.nodeVersion}`,
    pg_version_num: 150000,
  }),
};
