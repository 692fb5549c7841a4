/**
 * Finding the PostgreSQL server binaries (spec 04 §3.1–3.2, DESIGN.md 6):
 * `--pgctl` when given (its real directory is the bindir), else the bindir
 * of `$PG_CONFIG`, else `pg_ctl` found in PATH, else `pg_config --bindir`
 * from PATH, else the newest Debian `/usr/lib/postgresql/<major>/bin`.
 */
import { accessSync, constants, existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { AutoctlError } from '../common/errors.js';
import { runProgramOk } from '../common/run-program.js';

export interface PgVersion {
  /** 15 for "15.4"; for pre-10 releases the first number (9 for "9.6.24"). */
  major: number;
  /** As printed by `pg_ctl --version`, e.g. "15.4" or "16beta1". */
  full: string;
}

export interface PgBinaries {
  binDir: string;
  pgCtl: string;
  version: PgVersion;
}

export const PG_PROGRAMS = ['pg_ctl', 'postgres', 'initdb', 'pg_controldata', 'pg_basebackup', 'pg_rewind', 'pg_isready', 'psql'] as const;
export type PgProgram = (typeof PG_PROGRAMS)[number];

export interface FindBinariesOptions {
  /** The `--pgctl` option. */
  pgctl?: string | undefined;
  /** Environment to read PG_CONFIG and PATH from. */
  env?: NodeJS.ProcessEnv;
  /** Where Debian installs server versions; `/usr/lib/postgresql` by default. */
  debianRoot?: string;
  /**
   * What to do when PATH holds several different `pg_ctl`: `error` (create
   * postgres: "please provide --pgctl") or take the `first` (create monitor).
   */
  severalInPath?: 'error' | 'first';
}

/** Absolute path of one program of the bindir. */
export function pgProgram(bin: Pick<PgBinaries, 'binDir'>, program: PgProgram): string {
  return join(bin.binDir, program);
}

export async function findPgBinaries(options: FindBinariesOptions = {}): Promise<PgBinaries> {
  const env = options.env ?? process.env;
  const pgCtl = await locatePgCtl(options, env);
  const real = realpathSync(pgCtl);
  const binDir = existsSync(join(dirname(real), 'postgres')) ? dirname(real) : dirname(pgCtl);
  if (!isExecutable(join(binDir, 'postgres'))) {
    throw new AutoctlError('PGCTL', `cannot find the "postgres" server program next to "${pgCtl}"`,
      { hint: 'install the PostgreSQL server package, or point --pgctl at the pg_ctl of a server installation' });
  }
  const version = await pgCtlVersion(join(binDir, 'pg_ctl'), env);
  return { binDir, pgCtl: join(binDir, 'pg_ctl'), version };
}

async function locatePgCtl(options: FindBinariesOptions, env: NodeJS.ProcessEnv): Promise<string> {
  if (options.pgctl !== undefined && options.pgctl !== '') {
    if (!isExecutable(options.pgctl)) {
      throw new AutoctlError('PGCTL', `--pgctl "${options.pgctl}" is not an executable file`);
    }
    return options.pgctl;
  }
  const pgConfig = env.PG_CONFIG;
  if (pgConfig) {
    const fromConfig = await bindirFromPgConfig(pgConfig, env);
    if (fromConfig) return fromConfig;
  }
  const inPath = findInPath('pg_ctl', env.PATH ?? '');
  if (inPath.length > 1 && (options.severalInPath ?? 'error') === 'error') {
    throw new AutoctlError('PGCTL', `Found several pg_ctl in PATH: ${inPath.join(', ')}`,
      { hint: 'please provide --pgctl' });
  }
  if (inPath[0] !== undefined) return inPath[0];
  const configs = findInPath('pg_config', env.PATH ?? '');
  for (const config of configs) {
    const fromConfig = await bindirFromPgConfig(config, env);
    if (fromConfig) return fromConfig;
  }
  const debian = newestDebianBinDir(options.debianRoot ?? '/usr/lib/postgresql');
  if (debian) return join(debian, 'pg_ctl');
  throw new AutoctlError('PGCTL', 'cannot find pg_ctl: not in PATH, no PG_CONFIG, no pg_config in PATH',
    { hint: 'use --pgctl /path/to/pg_ctl, or set PG_CONFIG' });
}

async function bindirFromPgConfig(pgConfig: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const { stdout } = await runProgramOk(pgConfig, ['--bindir'], { env, timeoutMs: 10_000 });
  const candidate = join(stdout.trim(), 'pg_ctl');
  return isExecutable(candidate) ? candidate : undefined;
}

/** `pg_ctl --version` parsed. */
export async function pgCtlVersion(pgCtl: string, env: NodeJS.ProcessEnv = process.env): Promise<PgVersion> {
  const { stdout } = await runProgramOk(pgCtl, ['--version'], { env, timeoutMs: 10_000 });
  return parsePgVersion(stdout);
}

/** Parses `pg_ctl (PostgreSQL) 15.4 (Debian 15.4-1)` and the like. */
export function parsePgVersion(text: string): PgVersion {
  const match = /\(PostgreSQL\)\s+((\d+)(?:\.\d+)*[A-Za-z0-9]*)/.exec(text);
  if (!match || match[1] === undefined || match[2] === undefined) {
    throw new AutoctlError('PGCTL', `cannot parse PostgreSQL version from "${text.trim()}"`);
  }
  return { major: Number(match[2]), full: match[1] };
}

/**
 * Every executable `name` along PATH, in PATH order, without duplicates
 * (entries resolving to the same real file count once).
 */
export function findInPath(name: string, pathEnv: string): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  for (const dir of pathEnv.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (!isExecutable(candidate)) continue;
    const real = realpathSync(candidate);
    if (seen.has(real)) continue;
    seen.add(real);
    found.push(candidate);
  }
  return found;
}

function newestDebianBinDir(root: string): string | undefined {
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return undefined;
  }
  const majors = entries
    .filter((name) => /^\d+(\.\d+)?$/.test(name) && isExecutable(join(root, name, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] === undefined ? undefined : join(root, majors[0], 'bin');
}

function isExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
