/**
 * Where pg_autoctl keeps its files for a PGDATA (spec 05 §2.1): the PGDATA
 * path, made absolute, is appended below `<base>/pg_autoctl/` for three XDG
 * bases (config, data, runtime). The environment and the working directory
 * are parameters; nothing here reads process.env or process.cwd().
 */
import { statSync } from 'node:fs';
import { chmod, lstat, mkdir, realpath, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { AutoctlError, badConfig } from '../common/errors.js';

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
  /** `<data>/pg_autoctl.token`: the node's credential on the monitor (mode 0600) */
  readonly token: string;
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

/** Mode of every directory pg_autoctl creates: its files may hold secrets. */
export const PRIVATE_DIR_MODE = 0o700;

/**
 * The runtime base when XDG_RUNTIME_DIR is not usable: a directory of this
 * user alone under /tmp (a shared `/tmp/pg_autoctl` could be created, read
 * or filled by any local user). {@link ensurePaths} creates it 0700 and
 * refuses it when someone else owns it or may write to it.
 */
export function fallbackRuntimeBase(uid: number | undefined): string {
  return uid === undefined ? '/tmp/pg_autoctl-runtime' : `/tmp/pg_autoctl-${uid}`;
}

/**
 * The three XDG bases: `$XDG_CONFIG_HOME` else `$HOME/.config`;
 * `$XDG_DATA_HOME` else `$HOME/.local/share`; `$XDG_RUNTIME_DIR` when set
 * and an existing directory, else `/tmp/pg_autoctl-<uid>`. Empty variables
 * count as unset; relative values are taken from `cwd`.
 */
export function xdgBases(
  env: XdgEnv, cwd: string, dirExists: (path: string) => boolean = isDirectory, uid: number | undefined = process.getuid?.(),
): XdgBases {
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
    runtime: runtime !== undefined && dirExists(runtime) ? runtime : fallbackRuntimeBase(uid),
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
    token: join(dirs.data, 'pg_autoctl.token'),
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
export function pathsFor(
  pgdata: string, env: XdgEnv, cwd: string, dirExists: (path: string) => boolean = isDirectory, uid: number | undefined = process.getuid?.(),
): AutoctlPaths {
  if (pgdata === '') throw badConfig('cannot locate the pg_autoctl files: PGDATA is empty');
  const absolute = resolve(cwd, pgdata);
  const bases = xdgBases(env, cwd, dirExists, uid);
  return makePaths(absolute, {
    config: pgautoctlDir(bases.config, absolute),
    data: pgautoctlDir(bases.data, absolute),
    runtime: pgautoctlDir(bases.runtime, absolute),
  });
}

/**
 * The paths for a PGDATA, creating the three directories (`mkdir -p`, mode
 * 0700, also when an older version made them 0755) and normalising each
 * with realpath, as pg_autoctl does before reading or writing its files.
 * A directory owned by another user is refused, and so is the /tmp
 * fallback runtime base when it is not this user's private directory.
 */
export async function ensurePaths(
  pgdata: string, env: XdgEnv, cwd: string, uid: number | undefined = process.getuid?.(),
): Promise<AutoctlPaths> {
  const lexical = pathsFor(pgdata, env, cwd, isDirectory, uid);
  const runtimeBase = xdgBases(env, cwd, isDirectory, uid).runtime;
  if (runtimeBase === fallbackRuntimeBase(uid)) await ensurePrivateBase(runtimeBase, uid);
  const real = async (dir: string): Promise<string> => {
    try {
      const first = await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
      if (first !== undefined) await chmodCreated(first, dir);
      const path = await realpath(dir);
      await makePrivate(path, uid);
      return path;
    } catch (error) {
      if (error instanceof AutoctlError) throw error;
      throw badConfig(`cannot create directory "${dir}": ${error instanceof Error ? error.message : String(error)}`, error);
    }
  };
  const [config, data, runtime] = await Promise.all([real(lexical.dirs.config), real(lexical.dirs.data), real(lexical.dirs.runtime)]);
  return makePaths(lexical.pgdata, { config, data, runtime });
}

/** chmod 0700 of each directory `mkdir -p` created, from `first` down to `leaf` (the umask may have widened nothing, but be exact). */
async function chmodCreated(first: string, leaf: string): Promise<void> {
  const steps = relative(first, leaf).split(sep).filter((part) => part !== '');
  let dir = first;
  await chmod(dir, PRIVATE_DIR_MODE);
  for (const part of steps) {
    dir = join(dir, part);
    await chmod(dir, PRIVATE_DIR_MODE);
  }
}

/** Our own directory: refused when another user owns it; group and other permissions removed. */
async function makePrivate(dir: string, uid: number | undefined): Promise<void> {
  const st = await stat(dir);
  if (uid !== undefined && st.uid !== uid) {
    throw badConfig(`refusing to use directory "${dir}": it is owned by uid ${st.uid}, not by this user (uid ${uid})`);
  }
  if ((st.mode & 0o077) !== 0) await chmod(dir, st.mode & 0o7700);
}

/**
 * The /tmp fallback base: created 0700 when missing; refused when it is a
 * symlink or not a directory, owned by someone else, or writable by group
 * or others (anyone could then swap our files).
 */
async function ensurePrivateBase(base: string, uid: number | undefined): Promise<void> {
  try {
    await mkdir(dirname(base), { recursive: true });
    await mkdir(base, { mode: PRIVATE_DIR_MODE });
    await chmod(base, PRIVATE_DIR_MODE);
  } catch (error) {
    if (!(error instanceof Error && 'code' in error && error.code === 'EEXIST')) {
      throw badConfig(`cannot create the runtime directory "${base}": ${error instanceof Error ? error.message : String(error)}`, error);
    }
  }
  const st = await lstat(base);
  const refuse = (why: string): AutoctlError => new AutoctlError('BAD_CONFIG', `refusing to use the runtime directory "${base}": ${why}`,
    { hint: 'set XDG_RUNTIME_DIR to a directory only this user can write, or remove the directory' });
  if (st.isSymbolicLink() || !st.isDirectory()) throw refuse('it is not a directory');
  if (uid !== undefined && st.uid !== uid) throw refuse(`it is owned by uid ${st.uid}, not by this user (uid ${uid})`);
  if ((st.mode & 0o022) !== 0) throw refuse(`it is writable by ${(st.mode & 0o002) !== 0 ? 'all users' : 'its group'} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')})`);
  if ((st.mode & 0o077) !== 0) await chmod(base, PRIVATE_DIR_MODE);
}
