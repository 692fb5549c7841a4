/**
 * `--ssl-self-signed` (spec 05 §8): a self-signed certificate in PGDATA,
 * made with the `openssl` command. Encryption only, no protection against
 * a man in the middle; each node makes its own (never reuse a primary's
 * copied certificate after a base backup).
 */
import { chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { AutoctlError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { runProgramOk } from '../common/run-program.js';
import { findInPath } from './binaries.js';

export interface SelfSignedCertificate {
  certFile: string;
  keyFile: string;
  /** False when both files already existed. */
  created: boolean;
}

export interface SelfSignedOptions {
  log?: Logger;
  env?: NodeJS.ProcessEnv;
  /** The openssl program; found in PATH by default. */
  openssl?: string;
  days?: number;
}

/** Distinguished name for `-subj`: `/CN=<hostname>` with `/` and `\` escaped as openssl wants. */
export function certificateSubject(hostname: string): string {
  return `/CN=${hostname.replace(/[\\/]/g, (c) => `\\${c}`)}`;
}

/** Creates `$PGDATA/server.crt` and `server.key` (mode 0600) unless both exist. */
export async function createSelfSignedCertificate(pgdata: string, hostname: string,
  options: SelfSignedOptions = {}): Promise<SelfSignedCertificate> {
  const certFile = join(pgdata, 'server.crt');
  const keyFile = join(pgdata, 'server.key');
  if (existsSync(certFile) && existsSync(keyFile)) return { certFile, keyFile, created: false };
  const env = options.env ?? process.env;
  const openssl = options.openssl ?? findInPath('openssl', env.PATH ?? '')[0];
  if (openssl === undefined) {
    throw new AutoctlError('BAD_CONFIG', 'cannot create a self-signed certificate: openssl is not in PATH',
      { hint: 'install openssl, or provide certificates with --server-cert and --server-key' });
  }
  const args = ['req', '-new', '-x509', '-days', String(options.days ?? 365), '-nodes', '-text',
    '-out', certFile, '-keyout', keyFile, '-subj', certificateSubject(hostname)];
  options.log?.info(`Creating a self-signed certificate for "${hostname}" in "${pgdata}"`);
  options.log?.debug(`${openssl} ${args.join(' ')}`);
  await runProgramOk(openssl, args, { env, timeoutMs: 60_000, errorCode: 'BAD_CONFIG' });
  chmodSync(keyFile, 0o600);
  return { certFile, keyFile, created: true };
}
