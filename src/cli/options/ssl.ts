/**
 * The SSL option rules of spec 04 §3.3, shared by `create monitor`,
 * `create postgres` and `enable ssl`: exactly one family among
 * --ssl-self-signed, --no-ssl, and user-provided certificate files.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { badArgs } from '../../common/errors.js';
import { isSslMode, SSL_MODES, type SslMode } from '../../postgres/conninfo.js';
import type { CreateNodeSsl } from '../../keeper/create-node.js';


export interface SslOptionsInput {
  sslSelfSigned?: boolean;
  noSsl?: boolean;
  sslCaFile?: string;
  sslCrlFile?: string;
  serverCert?: string;
  serverKey?: string;
  sslMode?: string;
}

export interface SslChoice extends CreateNodeSsl {
  /** Messages to log as INFO/WARN by the caller. */
  notes: Array<{ level: 'info' | 'warn'; message: string }>;
}

const sslModeRank = (mode: SslMode): number => SSL_MODES.indexOf(mode);

export function resolveSslOptions(input: SslOptionsInput, cwd: string): SslChoice {
  const userFiles = Boolean(input.serverCert || input.serverKey || input.sslCaFile || input.sslCrlFile);
  if (input.noSsl && input.sslSelfSigned) throw badArgs('Using both --no-ssl and --ssl-self-signed is not supported');
  if ((input.noSsl || input.sslSelfSigned) && userFiles) {
    throw badArgs('Using either --no-ssl or --ssl-self-signed with user-provided SSL certificates is not supported');
  }
  if (!input.noSsl && !input.sslSelfSigned && !userFiles) {
    throw badArgs('Explicit SSL choice is required: please use either --ssl-self-signed or provide your certificates using --ssl-ca-file, --ssl-crl-file, --server-key, and --server-cert (or use --no-ssl if you are very sure that you do not want encrypted traffic)');
  }
  let mode: SslMode | undefined;
  if (input.sslMode !== undefined) {
    if (!isSslMode(input.sslMode)) throw badArgs(`Failed to parse ssl mode "${input.sslMode}"`);
    mode = input.sslMode;
  }
  const notes: SslChoice['notes'] = [];
  const withDefault = (fallback: SslMode): SslMode => {
    if (mode !== undefined) return mode;
    notes.push({ level: 'info', message: `Using default --ssl-mode "${fallback}"` });
    return fallback;
  };
  const abs = (p: string | undefined): string => (p ? resolve(cwd, p) : '');

  if (input.noSsl) {
    notes.push({ level: 'warn', message: 'No encryption is used for network traffic! This allows an attacker on the network to read all replication data.' });
    notes.push({ level: 'warn', message: 'Using --ssl-self-signed instead of --no-ssl is recommended to achieve more security with the same ease of deployment.' });
    notes.push({ level: 'warn', message: 'See https://www.postgresql.org/docs/current/libpq-ssl.html for details on how to improve' });
    return { active: false, createCertificates: false, sslMode: withDefault('prefer'), caFile: '', crlFile: '', serverCert: '', serverKey: '', notes };
  }
  if (input.sslSelfSigned) {
    const chosen = withDefault('require');
    if (sslModeRank(chosen) > sslModeRank('require')) {
      throw badArgs(`--ssl-mode "${chosen}" is not compatible with self-signed certificates, please provide certificates signed by your trusted CA.`);
    }
    notes.push({ level: 'info', message: 'Using self-signed certificates: traffic is encrypted, but this does not protect against man-in-the-middle attacks' });
    return { active: true, createCertificates: true, sslMode: chosen, caFile: '', crlFile: '', serverCert: '', serverKey: '', notes };
  }
  if (!input.serverCert || !input.serverKey) {
    throw badArgs('Failed to setup SSL with user-provided certificates: options --server-cert and --server-key are required.');
  }
  const files: Array<[string, string | undefined]> = [
    ['--server-cert', input.serverCert], ['--server-key', input.serverKey],
    ['--ssl-ca-file', input.sslCaFile], ['--ssl-crl-file', input.sslCrlFile],
  ];
  for (const [option, path] of files) {
    if (path && !existsSync(abs(path))) throw badArgs(`${option} file does not exist at "${abs(path)}"`);
  }
  const chosen = withDefault('verify-full');
  if (sslModeRank(chosen) >= sslModeRank('verify-ca') && !input.sslCaFile) {
    throw badArgs(`--ssl-ca-file is required when --ssl-mode "${chosen}" is used`);
  }
  return {
    active: true, createCertificates: false, sslMode: chosen,
    caFile: abs(input.sslCaFile), crlFile: abs(input.sslCrlFile), serverCert: abs(input.serverCert), serverKey: abs(input.serverKey), notes,
  };
}
