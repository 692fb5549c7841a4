/**
 * Who may reach the monitor's HTTP listener (metrics and status page).
 * Loopback needs nothing (http.listen = 127.0.0.1 by default). Any other
 * address needs TLS (http.cert_file, http.key_file) and client
 * authentication: a password (http.auth_file holding one `user:password`
 * line, checked as HTTP Basic authentication, in constant time) or client
 * certificates signed by http.ca_file. Without them the listener does not
 * start, and the log says why.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { messageOf } from '../../common/errors.js';
import type { HttpListenerOptions } from '../../common/http-listener.js';
import type { MonitorConfig } from '../../config/index.js';

type HttpConfig = MonitorConfig['http'];

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and `localhost`. */
export function isLoopbackAddress(listen: string): boolean {
  const address = listen.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (address === 'localhost') return true;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(v4) === 4) return LOOPBACK.check(v4, 'ipv4');
  if (isIP(address) === 6) return LOOPBACK.check(address, 'ipv6');
  return false;
}

const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** A Basic-auth check against one `user:password`, in constant time. */
export function basicAuthorizer(user: string, password: string): (headers: IncomingMessage['headers']) => boolean {
  const expected = sha256(`${user}:${password}`);
  return (headers) => {
    const header = headers.authorization;
    const match = typeof header === 'string' ? /^Basic +([A-Za-z0-9+/=]{1,1024})$/i.exec(header.trim()) : null;
    const given = match?.[1] === undefined ? '' : Buffer.from(match[1], 'base64').toString('utf8');
    // Always compare, so a missing header takes as long as a wrong one.
    return timingSafeEqual(sha256(given), expected) && match !== null;
  };
}

/** Reads http.auth_file: the first line that is not empty nor a comment, `user:password`. */
export function readAuthFile(path: string): { user: string; password: string } {
  const mode = statSync(path).mode;
  if ((mode & 0o007) !== 0) {
    throw new Error(`http.auth_file "${path}" must not be accessible to other users (chmod 600)`);
  }
  const line = readFileSync(path, 'utf8').split(/\r?\n/).map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'));
  const colon = line?.indexOf(':') ?? -1;
  if (line === undefined || colon <= 0 || colon === line.length - 1) {
    throw new Error(`http.auth_file "${path}" must hold a line "user:password"`);
  }
  return { user: line.slice(0, colon), password: line.slice(colon + 1) };
}

export type HttpSecurity =
  | { ok: true; options: HttpListenerOptions; scheme: 'http' | 'https'; auth: string }
  | { ok: false; error: string };

/** The listener options for the [http] settings, or why the listener must not start. */
export function httpSecurity(http: HttpConfig): HttpSecurity {
  const where = `${http.listen}:${http.port}`;
  const refuse = (why: string): HttpSecurity => ({ ok: false, error: `Refusing to start the HTTP listener on ${where}: ${why}` });
  if ((http.cert_file === '') !== (http.key_file === '')) return refuse('http.cert_file and http.key_file must be set together');
  if (http.ca_file !== '' && http.cert_file === '') return refuse('http.ca_file (client certificates) needs TLS: set http.cert_file and http.key_file');
  let tls: HttpListenerOptions['tls'];
  let authorize: HttpListenerOptions['authorize'];
  try {
    if (http.cert_file !== '') {
      tls = {
        cert: readFileSync(http.cert_file),
        key: readFileSync(http.key_file),
        ...(http.ca_file === '' ? {} : { ca: readFileSync(http.ca_file) }),
      };
    }
    if (http.auth_file !== '') {
      const { user, password } = readAuthFile(http.auth_file);
      authorize = basicAuthorizer(user, password);
    }
  } catch (error) {
    return refuse(messageOf(error));
  }
  if (!isLoopbackAddress(http.listen) && (tls === undefined || (authorize === undefined && http.ca_file === ''))) {
    return refuse(`an address other than loopback needs TLS (http.cert_file, http.key_file) and client authentication (http.auth_file or http.ca_file)`);
  }
  const auth = [authorize === undefined ? '' : 'password', http.ca_file === '' ? '' : 'client certificate'].filter((a) => a !== '').join(' and ');
  return {
    ok: true,
    options: { ...(tls === undefined ? {} : { tls }), ...(authorize === undefined ? {} : { authorize }) },
    scheme: tls === undefined ? 'http' : 'https',
    auth: auth === '' ? 'no authentication' : auth,
  };
}
