/**
 * Applying pg_autoctl's HBA rules to a pg_hba.conf file (spec 05 §9.1).
 * The caller reloads Postgres afterwards when it is running and rules were
 * added (`pg_reload_conf()` or reloadPostgres()).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../common/log.js';
import { writeFileAtomic } from '../common/atomic-file.js';

/** pg_hba.conf and pg_ident.conf keep their mode and owner; a new one is 0600. */
const HBA_WRITE = { mode: 0o600, keepExisting: true } as const;
import { addHbaRules, formatHbaRule, parseHba, peerMapLines, renderHba, withPeerMap, type HbaRule } from './hba.js';

export const hbaPathOf = (pgdata: string): string => join(pgdata, 'pg_hba.conf');

export interface ApplyHbaOptions {
  /** `--skip-pg-hba` (hba_level = skip): write nothing, log each rule. */
  skip: boolean;
  log?: Logger;
}

/** Appends the missing rules to the file; returns those added (none when skipping). */
export function applyHbaRules(path: string, rules: readonly HbaRule[], options: ApplyHbaOptions): HbaRule[] {
  if (options.skip) {
    for (const rule of rules) options.log?.warn(`Skipping HBA edits (per --skip-pg-hba) for rule: ${formatHbaRule(rule)}`);
    return [];
  }
  const before = parseHba(readFileSync(path, 'utf8'));
  const { file, added } = addHbaRules(before, rules);
  if (added.length === 0) return [];
  for (const rule of added) options.log?.info(`Adding HBA rule: ${formatHbaRule(rule)}`);
  writeFileAtomic(path, renderHba(file), HBA_WRITE);
  return added;
}

/**
 * After initdb, when the role pg_autoctl connects as (`--username`) is not
 * the OS account: map the account to that role on the `peer` socket lines
 * (pg_ident.conf map `pg_autoctl`). Idempotent.
 */
export function allowPeerLoginAs(pgdata: string, osUser: string, dbUser: string, log?: Logger): void {
  if (osUser === dbUser) return;
  const identPath = join(pgdata, 'pg_ident.conf');
  const ident = existsSync(identPath) ? readFileSync(identPath, 'utf8') : '';
  const missing = peerMapLines(osUser, dbUser).filter((line) => !ident.split('\n').includes(line));
  if (missing.length > 0) {
    writeFileAtomic(identPath, `${ident}${ident === '' || ident.endsWith('\n') ? '' : '\n'}${missing.join('\n')}\n`, HBA_WRITE);
  }
  const hbaPath = hbaPathOf(pgdata);
  const { file, changed } = withPeerMap(parseHba(readFileSync(hbaPath, 'utf8')));
  if (changed) {
    log?.info(`Mapping the OS account "${osUser}" to the role "${dbUser}" on the local peer lines of pg_hba.conf`);
    writeFileAtomic(hbaPath, renderHba(file), HBA_WRITE);
  }
}
