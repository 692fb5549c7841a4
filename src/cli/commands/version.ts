/** `pg_autoctl version` (spec 04 §2); the root's --version uses the same handler. */
import type { Command } from 'commander';
import { MONITOR_SCHEMA_VERSION, VERSION } from '../../common/version.js';
import { data, defineCommand, type CommandResult } from '../command.js';
import { versionRendering, type VersionInfo } from '../render/version.js';

export function versionInfo(): VersionInfo {
  return { version: VERSION, schemaVersion: MONITOR_SCHEMA_VERSION, nodeVersion: process.versions.node };
}

export function registerVersionCommand(program: Command): void {
  defineCommand(program, {
    name: 'version',
    description: 'print pg_autoctl version',
    json: true,
    run: async (): Promise<CommandResult<VersionInfo>> => data(versionInfo()),
    render: versionRendering,
  });
}
