/**
 * `~/.pgpass` lookups, as libpq does them, for connections made with
 * node-postgres (which does not read the file itself without a deprecation
 * notice). Lines: `hostname:port:database:username:password`, `*` matches
 * anything, `\:` and `\\` escape.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface PgpassEntry {
  host: string;
  port: string;
  database: string;
  user: string;
  password: string;
}

function splitFields(line: string): string[] {
  const fields: string[] = [];
  let current = '';
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i] ?? '';
    if (c === '\\' && i + 1 < line.length) { current += line[i + 1] ?? ''; i += 1; continue; }
    if (c === ':' && fields.length < 4) { fields.push(current); current = ''; continue; }
    current += c;
  }
  fields.push(current);
  return fields;
}

export function parsePgpass(text: string): PgpassEntry[] {
  const entries: PgpassEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line === '' || line.startsWith('#')) continue;
    const [host, port, database, user, password] = splitFields(line);
    if (host === undefined || port === undefined || database === undefined || user === undefined || password === undefined) continue;
    entries.push({ host, port, database, user, password });
  }
  return entries;
}

export interface PgpassQuery {
  /** Empty or a socket directory matches entries for `localhost`, as in libpq. */
  host: string;
  port: number;
  database: string;
  user: string;
}

export function findPgpassPassword(entries: readonly PgpassEntry[], query: PgpassQuery): string | undefined {
  const host = query.host === '' || query.host.startsWith('/') ? 'localhost' : query.host;
  const match = (pattern: string, value: string): boolean => pattern === '*' || pattern === value;
  return entries.find((e) => match(e.host, host) && match(e.port, String(query.port))
    && match(e.database, query.database) && match(e.user, query.user))?.password;
}

/** `$PGPASSFILE`, else `$HOME/.pgpass`. */
export function pgpassPath(env: NodeJS.ProcessEnv): string | undefined {
  if (env.PGPASSFILE) return env.PGPASSFILE;
  return env.HOME ? join(env.HOME, '.pgpass') : undefined;
}

/** Reads the file; like libpq, ignores it when group or others can read it. */
export function readPgpass(env: NodeJS.ProcessEnv): PgpassEntry[] {
  const path = pgpassPath(env);
  if (path === undefined) return [];
  try {
    const st = statSync(path);
    if (!st.isFile() || (st.mode & 0o077) !== 0) return [];
    return parsePgpass(readFileSync(path, 'utf8'));
  } catch {
    return [];
  }
}
