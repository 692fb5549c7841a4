/**
 * Table-driven configuration files. A config schema lists sections and keys
 * in the exact order pg_autoctl writes them; each key is a field spec with
 * its type, default, whether it is required, and how it may change
 * (spec 05 §2.4). Decoding, rendering, `config get`/`config set` and reload
 * planning are generic over such a table, so the keeper and monitor files
 * are plain data (keeper-config.ts, monitor-config.ts).
 */
import { z } from 'zod';
import { fail, ok, type Result } from '../common/result.js';
import { iniValue, type IniDocument, type IniSection } from './ini.js';

export type FieldValue = string | number;

/** libpq sslmode values, shared by the keeper and monitor files. */
export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/**
 * How a key may change once the node exists:
 * - `never`: fixed at create time (`config set` refuses, reload keeps the old value);
 * - `unsupported`: not supported (`config set` refuses, reload keeps the old value with a warning);
 * - `offline`: only while pg_autoctl is stopped (reload keeps the old value);
 * - `reload`: taken into account on reload (SIGHUP).
 */
export const CHANGE_POLICIES = ['never', 'unsupported', 'offline', 'reload'] as const;
export type ChangePolicy = (typeof CHANGE_POLICIES)[number];

export interface FieldSpec<T extends FieldValue = FieldValue> {
  /** `int` values are written as decimal integers and always written. */
  readonly kind: 'string' | 'int';
  readonly defaultValue: T;
  /** A required key must be present and non-empty in the file. */
  readonly required: boolean;
  readonly change: ChangePolicy;
  /** Validates a decoded value; returns why it is refused, or undefined. */
  readonly check: (value: unknown) => string | undefined;
  /** A value not written to the file (keys added after 2.0, so that 2.0's files stay byte for byte). */
  readonly omitWhen?: T;
}

export type ConfigSchema = { readonly [section: string]: { readonly [key: string]: FieldSpec } };

/** The typed configuration object described by a schema. */
export type ConfigOf<S extends ConfigSchema> = {
  readonly [Sec in keyof S]: {
    readonly [K in keyof S[Sec]]: S[Sec][K] extends FieldSpec<infer T> ? T : never;
  };
};

/** `section.key` paths of a schema. */
export type KeyPathOf<S extends ConfigSchema> = {
  [Sec in keyof S & string]: `${Sec}.${keyof S[Sec] & string}`;
}[keyof S & string];

/** Legacy key paths read as a fallback for a current key: `{ current: legacy }`. */
export type Aliases = Readonly<Record<string, string>>;

interface FieldOptions {
  required?: boolean;
  change: ChangePolicy;
}

function checker(schema: z.ZodType): (value: unknown) => string | undefined {
  return (value) => {
    const parsed = schema.safeParse(value);
    return parsed.success ? undefined : (parsed.error.issues[0]?.message ?? 'invalid value');
  };
}

/** A free-form string; `valid` (with `expected` for the message) restricts non-empty values. */
export function stringField(options: FieldOptions & { default?: string; valid?: (v: string) => boolean; expected?: string; omitWhen?: string }): FieldSpec<string> {
  const { valid, expected } = options;
  const line = z.string({ error: 'expected a string' }).regex(/^[^\r\n]*$/, { error: 'must be a single line' });
  const schema = valid === undefined
    ? line
    : line.refine((v) => v === '' || valid(v), { error: `expected ${expected ?? 'a valid value'}` });
  return {
    kind: 'string',
    defaultValue: options.default ?? '',
    required: options.required ?? false,
    change: options.change,
    check: checker(schema),
    ...(options.omitWhen === undefined ? {} : { omitWhen: options.omitWhen }),
  };
}

/** An integer within [min, max]. */
export function intField(options: FieldOptions & { default: number; min: number; max: number; omitWhen?: number }): FieldSpec<number> {
  const { min, max } = options;
  const schema = z.int({ error: 'expected an integer' })
    .min(min, { error: `must be between ${min} and ${max}` })
    .max(max, { error: `must be between ${min} and ${max}` });
  return {
    kind: 'int', defaultValue: options.default, required: options.required ?? false, change: options.change, check: checker(schema),
    ...(options.omitWhen === undefined ? {} : { omitWhen: options.omitWhen }),
  };
}

/** One of a closed set of strings. */
export function enumField<const V extends readonly [string, ...string[]]>(
  values: V, options: FieldOptions & { default: V[number] },
): FieldSpec<V[number]> {
  const schema = z.enum(values, { error: `expected one of: ${values.join(', ')}` });
  return { kind: 'string', defaultValue: options.default, required: options.required ?? false, change: options.change, check: checker(schema) };
}

/** A key whose value is fixed (the file's role). */
export function literalField<const V extends string>(value: V): FieldSpec<V> {
  const schema = z.literal(value, { error: `expected "${value}"` });
  return { kind: 'string', defaultValue: value, required: true, change: 'never', check: checker(schema) };
}

/** The field of a `section.key` path (legacy aliases resolved), or undefined. */
export function lookupField(schema: ConfigSchema, path: string, aliases: Aliases = {}): { section: string; key: string; path: string; field: FieldSpec } | undefined {
  const canonical = Object.entries(aliases).find(([, legacy]) => legacy === path)?.[0] ?? path;
  const dot = canonical.indexOf('.');
  if (dot < 0) return undefined;
  const section = canonical.slice(0, dot);
  const key = canonical.slice(dot + 1);
  const fields = Object.hasOwn(schema, section) ? schema[section] : undefined;
  const field = fields !== undefined && Object.hasOwn(fields, key) ? fields[key] : undefined;
  return field === undefined ? undefined : { section, key, path: canonical, field };
}

/** Every `section.key` path of a schema, in file order. */
export function keyPaths(schema: ConfigSchema): string[] {
  return Object.entries(schema).flatMap(([section, fields]) => Object.keys(fields).map((key) => `${section}.${key}`));
}

/**
 * Decodes one value given as text (from the file or `config set`).
 * Errors name the key: `Failed to parse postgresql.port's value "x" as a number`.
 */
export function decodeValue(field: FieldSpec, path: string, text: string): Result<FieldValue, string> {
  const trimmed = text.trim();
  let value: FieldValue = trimmed;
  if (field.kind === 'int') {
    if (!/^[+-]?\d+$/.test(trimmed)) return fail(`Failed to parse ${path}'s value "${text}" as a number`);
    value = Number(trimmed);
  }
  const problem = field.check(value);
  return problem === undefined ? ok(value) : fail(`invalid value "${text}" for ${path}: ${problem}`);
}

/**
 * Builds the typed config from parsed INI: missing or empty keys take their
 * default, unknown keys are ignored, required keys must be present.
 */
export function decodeConfig<S extends ConfigSchema>(schema: S, doc: IniDocument, aliases: Aliases = {}): Result<ConfigOf<S>> {
  const errors: string[] = [];
  const out: Record<string, Record<string, FieldValue>> = {};
  for (const [section, fields] of Object.entries(schema)) {
    const values: Record<string, FieldValue> = {};
    out[section] = values;
    for (const [key, field] of Object.entries(fields)) {
      const path = `${section}.${key}`;
      const legacy = aliases[path];
      let text = iniValue(doc, section, key);
      if ((text === undefined || text === '') && legacy !== undefined) {
        const dot = legacy.indexOf('.');
        text = iniValue(doc, legacy.slice(0, dot), legacy.slice(dot + 1));
      }
      if (text === undefined || text === '') {
        if (field.required) errors.push(`${path} is required but missing`);
        values[key] = field.defaultValue;
        continue;
      }
      const decoded = decodeValue(field, path, text);
      if (decoded.ok) values[key] = decoded.value;
      else errors.push(decoded.errors);
    }
  }
  return errors.length > 0 ? fail(errors) : ok(out as ConfigOf<S>);
}

/**
 * Checks a config object built by code before it is written: every key
 * present with the right type and a valid value, required keys non-empty.
 */
export function validateConfig<S extends ConfigSchema>(schema: S, config: unknown): Result<ConfigOf<S>> {
  const errors: string[] = [];
  const root = isRecord(config) ? config : {};
  for (const [section, fields] of Object.entries(schema)) {
    const values = root[section];
    for (const [key, field] of Object.entries(fields)) {
      const path = `${section}.${key}`;
      const value = isRecord(values) ? values[key] : undefined;
      if (field.required && (value === undefined || value === '')) {
        errors.push(`${path} is required but missing`);
        continue;
      }
      if (field.kind === 'string' && value === '') continue;
      const problem = field.check(value);
      if (problem !== undefined) errors.push(`invalid value ${JSON.stringify(value)} for ${path}: ${problem}`);
    }
  }
  return errors.length > 0 ? fail(errors) : ok(config as ConfigOf<S>);
}

/** The sections to render, in schema order (rendering omits empty strings). */
export function toIniSections<S extends ConfigSchema>(schema: S, config: ConfigOf<S>): IniSection[] {
  const root = config as Readonly<Record<string, Readonly<Record<string, FieldValue>>>>;
  return Object.entries(schema).map(([section, fields]) => ({
    name: section,
    entries: Object.entries(fields).map(([key, field]) => {
      const value = root[section]?.[key] ?? '';
      return [key, field.omitWhen !== undefined && value === field.omitWhen ? '' : value] as const;
    }),
  })).filter((section) => section.entries.some(([, value]) => value !== '') || !Object.values(schema[section.name] ?? {}).every((f) => f.omitWhen !== undefined));
}

/**
 * `{section: {key: value}}` in file order, omitting empty strings, integers
 * as numbers: the shape of `config get --json`.
 */
export function toJsonSections<S extends ConfigSchema>(schema: S, config: ConfigOf<S>): Record<string, Record<string, FieldValue>> {
  const out: Record<string, Record<string, FieldValue>> = {};
  for (const { name, entries } of toIniSections(schema, config)) {
    const kept = entries.filter(([, value]) => value !== '');
    if (kept.length > 0) out[name] = Object.fromEntries(kept);
  }
  return out;
}

/** `config get section.key`: the value, or `Failed to lookup option <path>`. */
export function getValue<S extends ConfigSchema>(schema: S, config: ConfigOf<S>, path: string, aliases: Aliases = {}): Result<FieldValue, string> {
  const found = lookupField(schema, path, aliases);
  if (found === undefined) return fail(`Failed to lookup option ${path}`);
  const root = config as Readonly<Record<string, Readonly<Record<string, FieldValue>>>>;
  return ok(root[found.section]?.[found.key] ?? found.field.defaultValue);
}

/**
 * `config set section.key value`: a new config with the value decoded and
 * validated; keys that may not change (`never`, `unsupported`) are refused.
 * The given config is not modified.
 */
export function setValue<S extends ConfigSchema>(schema: S, config: ConfigOf<S>, path: string, text: string, aliases: Aliases = {}): Result<ConfigOf<S>, string> {
  const found = lookupField(schema, path, aliases);
  if (found === undefined) return fail(`Failed to lookup option ${path}`);
  const { section, key, field } = found;
  if (field.change === 'never') return fail(`${found.path} can not be changed once the node has been created`);
  if (field.change === 'unsupported') return fail(`changing ${found.path} is not supported`);
  let value: FieldValue = '';
  if (text.trim() === '') {
    if (field.required || field.kind === 'int') return fail(`${found.path} can not be empty`);
  } else {
    const decoded = decodeValue(field, found.path, text);
    if (!decoded.ok) return decoded;
    value = decoded.value;
  }
  const root = config as Readonly<Record<string, Readonly<Record<string, FieldValue>>>>;
  const next = { ...root, [section]: { ...root[section], [key]: value } };
  return ok(next as unknown as ConfigOf<S>);
}

/** One difference between the running config and the file re-read on reload. */
export interface ConfigChange {
  readonly path: string;
  readonly before: FieldValue;
  readonly after: FieldValue;
  readonly change: ChangePolicy;
  /** True when the new value is taken (policy `reload`); else the old value stays. */
  readonly applied: boolean;
}

/**
 * Reload semantics (spec 05 §2.4, §13.5): values of `reload` keys are taken
 * from the new file; every other changed key keeps its running value. The
 * caller logs each change (INFO when applied, WARN otherwise).
 */
export function planReload<S extends ConfigSchema>(schema: S, running: ConfigOf<S>, reread: ConfigOf<S>): { config: ConfigOf<S>; changes: ConfigChange[] } {
  const before = running as Readonly<Record<string, Readonly<Record<string, FieldValue>>>>;
  const after = reread as Readonly<Record<string, Readonly<Record<string, FieldValue>>>>;
  const merged: Record<string, Record<string, FieldValue>> = {};
  const changes: ConfigChange[] = [];
  for (const [section, fields] of Object.entries(schema)) {
    const values: Record<string, FieldValue> = { ...before[section] };
    merged[section] = values;
    for (const [key, field] of Object.entries(fields)) {
      const old = before[section]?.[key] ?? field.defaultValue;
      const now = after[section]?.[key] ?? field.defaultValue;
      if (old === now) continue;
      const applied = field.change === 'reload';
      if (applied) values[key] = now;
      changes.push({ path: `${section}.${key}`, before: old, after: now, change: field.change, applied });
    }
  }
  return { config: merged as ConfigOf<S>, changes };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
