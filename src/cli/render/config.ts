/**
 * Renderings of `pg_autoctl config get|set|check` (spec 04 §9).
 */
import { configToJson, renderConfig, type AnyConfig, type FieldValue } from '../../config/index.js';
import type { Rendering } from '../command.js';
import { pgSetupJson, pgSetupText, versionNumber, type PgSetup } from './pg-setup.js';

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

/** What `config check` found about the local Postgres, and the configuration. */
export interface ConfigCheckData extends PgSetup { config: AnyConfig }

export { versionNumber };

export const configCheckRendering: Rendering<ConfigCheckData> = {
  text: pgSetupText,
  json: (d) => ({ postgres: pgSetupJson(d), config: configToJson(d.config) }),
};
