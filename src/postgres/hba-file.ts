/**
 * Applying pg_autoctl's HBA rules to a pg_hba.conf file (spec 05 §9.1).
 * The caller reloads Postgres afterwards when it is running and rules were
 * added (`pg_reload_conf()` or reloadPostgres()).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../common/log.js';
import { writeFileAtomic } from './atomic-file.js';
import { addHbaRules, formatHbaRule, parseHba, renderHba, type HbaRule } from './hba.js';

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
  writeFileAtomic(path, renderHba(file));
  return added;
}
