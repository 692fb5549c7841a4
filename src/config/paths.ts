/**
 * Where pg_autoctl keeps its files for a PGDATA (spec 05 §2.1): the PGDATA
 * path, made absolute, is appended below `<base>/pg_autoctl/` for three XDG
 * bases (config, data, runtime). The environment and the working directory
 * are parameters; nothing here reads process.env or process.cwd().
 */
import { statSync } from 'node:fs';
import { mkdir, realpath } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { badConfig } from '../common/errors.js';

/** The environment variables path derivation depends on. */
export interface XdgEnv {
  readonly HOME?: string | undefined;
  readonly XDG_CONFIG_HOME?: string | undefined;
  readonly XDG_DATA_HOME?: string | undefined;
  readonly XDG_RUNTIME_DIR?: string | undefined;
}

export interface XdgBases {
  readonly config: string;
  readonly data: string;
  readonly runtime: string;
}

/** Service names with their own pid file `pg_autoctl_<name>.pid`. */
export const SERVICE_NAMES = ['postgres', 'node-active', 'listener', 'node-init', 'monitor-init'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** The per-PGDATA directories `<base>/pg_autoctl/<pgdata>` of each base. */
export type AutoctlDirs = XdgBases;

export interface AutoctlPaths {
  /** PGDATA made absolute (lexically; it may not exist yet). */
  readonly pgdata: string;
  readonly dirs: AutoctlDirs;
  /** `<config>/pg_autoctl.cfg` */
  readonly config: string;
  /** `<data>/pg_autoctl.state` */
  readonly state: string;
  /** `<data>/pg_autoctl.init` */
  readonly init: string;
  /** `<data>/nodes.json` (only with --disable-monitor) */
  readonly nodesJson: string;
  /** `<runtime>/pg_autoctl.pid`: the supervisor */
  readonly pid: string;
  /** `<runtime>/pg_autoctl.pg`: expected Postgres status */
  readonly pgStatus: string;
  /** `<runtime>/pg_autoctl_<name>.pid` */
  servicePid(name: ServiceName): string;
}

/** True when `path` names an existing directory. */
export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The three XDG bases: `$XDG_CONFIG_HOME` else `$HOME/.config`;
 * `$XDG_DATA_HOME` else `$HOME/.local/share`; `$XDG_RUNTIME_DIR` when set
 * and an existing directory, else `/tmp`. Empty variables count as unset;
 * relative values are taken from `cwd`.
 */
export function xdgBases(env: XdgEnv, cwd: string, dirExists: (path: string) => boolean = isDirectory): XdgBases {
  const set = (value: string | undefined): string | undefined => (value === undefined || value === '' ? undefined : resolve(cwd, value));
  const home = (): string => {
    const value = set(env.HOME);
    if (value === undefined) throw badConfig('cannot locate the pg_autoctl files: neither HOME nor the XDG_CONFIG_HOME/XDG_DATA_HOME variables are set');
    return value;
  };
  const runtime = set(env.XDG_RUNTIME_DIR);
  return {
    config: set(env.XDG_CONFIG_HOME) ?? join(home(), '.config'),
    data: set(env.XDG_DATA_HOME) ?? join(home(), '.local', 'share'),
    runtime: runtime !== undefined && dirExists(runtime) ? runtime : '/tmp',
  };
}

/** `<base>/pg_autoctl/<absolute pgdata>` */
function pgautoctlDir(base: string, absolutePgdata: string): string {
  return join(base, 'pg_autoctl', absolutePgdata);
}

function makePaths(pgdata: string, dirs: AutoctlDirs): AutoctlPaths {
  return {
    pgdata,
    dirs,
    config: join(dirs.config, 'pg_autoctl.cfg'),
    state: join(dirs.data, 'pg_autoctl.state'),
    init: join(dirs.data, 'pg_autoctl.init'),
    nodesJson: join(dirs.data, 'nodes.json'),
    pid: join(dirs.runtime, 'pg_autoctl.pid'),
    pgStatus: join(dirs.runtime, 'pg_autoctl.pg'),
    servicePid: (name) => join(dirs.runtime, `pg_autoctl_${name}.pid`),
  };
}

/**
 * The paths for a PGDATA without touching the file system (except the
 * existence check of XDG_RUNTIME_DIR): for read-only commands. The
 * directories are not normalised by realpath, so with symlinked bases the
 * strings may differ from {@link ensurePaths} while naming the same files.
 */
export function pathsFor(pgdata: string, env: XdgEnv, cwd: string, dirExists: (path: string) => boolean = isDirectory): AutoctlPaths {
  if (pgdata === '') throw badConfig('cannot locate the pg_autoctl files: PGDATA is empty');
  const absolute = resolve(cwd, pgdata);
  const bases = xdgBases(env, cwd, dirExists);
  return makePaths(absolute, {
    config: pgautoctlDir(bases.config, absolute),
    data: pgautoctlDir(bases.data, absolute),
    runtime: pgautoctlDir(bases.runtime, absolute),
  });
}

/**
 * The paths for a PGDATA, creating the three directories (`mkdir -p`, mode
 * 0755) and normalising each with realpath, as pg_autoctl does before
 * reading or writing its files.
 */
export async function ensurePaths(pgdata: string, env: XdgEnv, cwd: string): Promise<AutoctlPaths> {
  const lexical = pathsFor(pgdata, env, cwd);
  const real = async (dir: string): Promise<string> => {
    try {
      await mkdir(dir, { recursive: true, mode: 0o755 });
      return await realpath(dir);
    } catch (error) {
      throw badConfig(`cannot create directory "${dir}": ${error instanceof Error ? error.message : String(error)}`, error);
    }
  };
  const [config, data, runtime] = await Promise.all([real(lexical.dirs.config), real(lexical.dirs.data), real(lexical.dirs.runtime)]);
  return makePaths(lexical.pgdata, { config, data, runtime });
}
