import type { Command } from 'commander';
import { MONITOR_SCHEMA_VERSION, VERSION } from '../../common/version.js';
import { renderJson } from '../render/json.js';
import { withCommonOptions } from '../tree.js';

/** `pg_autoctl version` / `--version` (spec 04 §2). */
export function versionText(json: boolean): string {
  const nodeVersion = process.versions.node;
  if (json) {
    return renderJson({
      pg_autoctl: VERSION,
      pgautofailover: MONITOR_SCHEMA_VERSION,
      pg_major: '15',
      pg_version: '15',
      pg_version_str: `Node.js ${nodeVersion}`,
      pg_version_num: 150000,
    });
  }
  return [
    `pg_autoctl version ${VERSION}`,
    `pg_autoctl extension version ${MONITOR_SCHEMA_VERSION}`,
    `compiled with TypeScript for Node.js ${nodeVersion}`,
    'compatible with Postgres 13, 14, 15, 16 and 17',
    '',
  ].join('\n');
}

export function registerVersionCommand(program: Command): void {
  withCommonOptions(program.command('version').description('Display pg_autoctl version'), true)
    .action((_opts: unknown, cmd: Command) => { process.stdout.write(versionText(Boolean(cmd.optsWithGlobals<{ json?: boolean }>().json))); });
}
