/**
 * pg_autoctl.cfg of either role: reading the file (the role decides the
 * schema), writing it atomically (mode 0600), and `config get|set` by
 * `section.key` path. File errors are BAD_CONFIG and name the file.
 */
import { AutoctlError, badConfig } from '../common/errors.js';
import { fail, type Result } from '../common/result.js';
import { readTextFile, writeTextFile } from './text-file.js';
import {
  getValue, keyPaths, lookupField, setValue, toJsonSections, validateConfig,
  type ChangePolicy, type FieldValue,
} from './config-fields.js';
import { iniValue, parseIni } from './ini.js';
import { KEEPER_ALIASES, KEEPER_SCHEMA, parseKeeperConfig, renderKeeperConfig, type KeeperConfig } from './keeper-config.js';
import { MONITOR_ALIASES, MONITOR_SCHEMA, parseMonitorConfig, renderMonitorConfig, type MonitorConfig } from './monitor-config.js';

export const CONFIG_ROLES = ['keeper', 'monitor'] as const;
export type ConfigRole = (typeof CONFIG_ROLES)[number];
export type AnyConfig = KeeperConfig | MonitorConfig;

/** The file holds the monitor URI and replication.password: readable by its owner only. */
export const CONFIG_FILE_MODE = 0o600;

export function isKeeperConfig(config: AnyConfig): config is KeeperConfig {
  return config.pg_autoctl.role === 'keeper';
}

export function isMonitorConfig(config: AnyConfig): config is MonitorConfig {
  return config.pg_autoctl.role === 'monitor';
}

function schemaOf(role: ConfigRole) {
  return role === 'keeper'
    ? { schema: KEEPER_SCHEMA, aliases: KEEPER_ALIASES }
    : { schema: MONITOR_SCHEMA, aliases: MONITOR_ALIASES };
}

/** Parses config text of either role, dispatching on `pg_autoctl.role`. */
export function parseConfig(text: string): Result<AnyConfig> {
  const doc = parseIni(text);
  if (!doc.ok) return doc;
  const role = iniValue(doc.value, 'pg_autoctl', 'role');
  if (role === 'keeper') return parseKeeperConfig(text);
  if (role === 'monitor') return parseMonitorConfig(text);
  return fail([role === undefined || role === ''
    ? 'pg_autoctl.role is required but missing'
    : `invalid value "${role}" for pg_autoctl.role: expected keeper or monitor`]);
}

export function renderConfig(config: AnyConfig): string {
  return isKeeperConfig(config) ? renderKeeperConfig(config) : renderMonitorConfig(config);
}

/** `config get --json`: `{section: {key: value}}` in file order, integers as numbers, empty values left out. */
export function configToJson(config: AnyConfig): Record<string, Record<string, FieldValue>> {
  return isKeeperConfig(config) ? toJsonSections(KEEPER_SCHEMA, config) : toJsonSections(MONITOR_SCHEMA, config);
}

/** Every `section.key` of the role's file, in file order. */
export function configKeys(role: ConfigRole): string[] {
  return keyPaths(schemaOf(role).schema);
}

/** `config get section.key`; unknown key: `Failed to lookup option <path>`. */
export function getConfigValue(config: AnyConfig, path: string): Result<FieldValue, string> {
  return isKeeperConfig(config)
    ? getValue(KEEPER_SCHEMA, config, path, KEEPER_ALIASES)
    : getValue(MONITOR_SCHEMA, config, path, MONITOR_ALIASES);
}

/**
 * `config set section.key value`: a new config (the given one is not
 * modified) with the value parsed and validated. Keys that may not change
 * are refused. The caller writes the file and signals a reload.
 */
export function setConfigValue<C extends AnyConfig>(config: C, path: string, value: string): Result<C, string> {
  const result = isKeeperConfig(config)
    ? setValue(KEEPER_SCHEMA, config, path, value, KEEPER_ALIASES)
    : setValue(MONITOR_SCHEMA, config as MonitorConfig, path, value, MONITOR_ALIASES);
  return result as Result<C, string>;
}

/** How a key may change (spec 05 §2.4), or undefined for an unknown key. */
export function changePolicyOf(role: ConfigRole, path: string): ChangePolicy | undefined {
  const { schema, aliases } = schemaOf(role);
  return lookupField(schema, path, aliases)?.field.change;
}

/** Keys whose new value is taken on reload (SIGHUP). */
export function reloadableKeys(role: ConfigRole): string[] {
  return configKeys(role).filter((path) => changePolicyOf(role, path) === 'reload');
}

export function isReloadable(role: ConfigRole, path: string): boolean {
  return changePolicyOf(role, path) === 'reload';
}

/**
 * Reads and parses a config file. Missing file: BAD_ARGS `Expected
 * configuration file does not exist: "<p>"`; bad content: BAD_CONFIG naming
 * the file and each offending key.
 */
export async function readConfigFile(path: string): Promise<AnyConfig> {
  const text = await readTextFile(path, 'configuration file', 'BAD_CONFIG');
  if (text === undefined) throw new AutoctlError('BAD_ARGS', `Expected configuration file does not exist: "${path}"`);
  const parsed = parseConfig(text);
  if (!parsed.ok) throw badConfig(`Failed to parse configuration file "${path}": ${parsed.errors.join('; ')}`);
  return parsed.value;
}

/** Reads a keeper config file; a monitor file is a BAD_CONFIG error. */
export async function readKeeperConfigFile(path: string): Promise<KeeperConfig> {
  const config = await readConfigFile(path);
  if (!isKeeperConfig(config)) throw badConfig(`Configuration file "${path}" is for a monitor, not a keeper (pg_autoctl.role = monitor)`);
  return config;
}

/** Reads a monitor config file; a keeper file is a BAD_CONFIG error. */
export async function readMonitorConfigFile(path: string): Promise<MonitorConfig> {
  const config = await readConfigFile(path);
  if (!isMonitorConfig(config)) throw badConfig(`Configuration file "${path}" is for a keeper, not a monitor (pg_autoctl.role = keeper)`);
  return config;
}

/** Validates then writes the file atomically, mode 0600. */
export async function writeConfigFile(path: string, config: AnyConfig): Promise<void> {
  const checked = isKeeperConfig(config) ? validateConfig(KEEPER_SCHEMA, config) : validateConfig(MONITOR_SCHEMA, config);
  if (!checked.ok) throw badConfig(`Refusing to write configuration file "${path}": ${checked.errors.join('; ')}`);
  writeTextFile(path, renderConfig(config), CONFIG_FILE_MODE, 'configuration file', 'BAD_CONFIG');
}
