import { badArgs } from '../../common/errors.js';

/** pg_hba.conf authentication methods accepted by --auth. */
export const AUTH_METHODS = ['trust', 'reject', 'md5', 'password', 'scram-sha-256', 'gss', 'sspi', 'ident', 'peer', 'pam', 'ldap', 'radius', 'cert'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

export function parseAuthMethod(value: string): AuthMethod {
  if ((AUTH_METHODS as readonly string[]).includes(value)) return value as AuthMethod;
  throw badArgs(`unknown --auth method "${value}": expected one of ${AUTH_METHODS.join(', ')}`);
}

/**
 * --auth and --skip-pg-hba rules (spec 04 §3.1): exactly one of them.
 * Returns the method, or null when pg_hba.conf is left alone.
 */
export function resolveAuth(auth: string | undefined, skipPgHba: boolean | undefined): { method: AuthMethod | null; skipHba: boolean } {
  if (auth !== undefined && skipPgHba) throw badArgs('Please use either --auth or --skip-pg-hba');
  if (auth === undefined && !skipPgHba) {
    throw badArgs('Please use either --auth trust|md5|scram-sha-256|... or --skip-pg-hba',
      '--auth trust is only meant for testing: it lets anyone on the network connect without a password');
  }
  if (auth === undefined) return { method: null, skipHba: true };
  return { method: parseAuthMethod(auth), skipHba: false };
}
