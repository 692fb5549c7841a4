/**
 * pg_auto_failover 2.0 as packaged by Debian (pg-auto-failover-cli for
 * /usr/bin/pg_autoctl, postgresql-15-auto-failover for the monitor's
 * extension), driven by the same harness as ours (flavor.ts). Installed
 * with apt-get when missing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Flavor } from './flavor.js';

export const PGAF20_BIN = '/usr/bin/pg_autoctl';
const PACKAGES = ['postgresql-15-auto-failover', 'pg-auto-failover-cli'];

function installed(pkg: string): boolean {
  try {
    return execFileSync('dpkg-query', ['-W', '-f', '${Status}', pkg], { encoding: 'utf8' }).includes('install ok installed');
  } catch {
    return false;
  }
}

/** Installs the two packages when one is missing (root needed); returns the installed version. */
export function ensurePgaf20(log: (line: string) => void): string {
  const missing = PACKAGES.filter((p) => !installed(p));
  if (missing.length > 0 || !existsSync(PGAF20_BIN)) {
    log(`installing ${missing.join(' ')} with apt-get`);
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...PACKAGES], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  return execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'pg-auto-failover-cli'], { encoding: 'utf8' }).trim();
}

export const pgaf20: Flavor = {
  name: 'pgaf-2.0',
  argv: (args) => [PGAF20_BIN, ...args],
  nodeArgs: () => Promise.resolve([]),
};
