/**
 * libpq connection strings as data: both forms (`postgres://` URIs with
 * multi-host lists, and `keyword=value` strings), parsed once into a
 * ConnInfo and rendered back. Pure; connecting lives in pg-client.ts.
 */
import { AutoctlError } from '../common/errors.js';
import { maskSecrets } from '../common/secrets.js';

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

export function isSslMode(text: string): text is SslMode {
  return (SSL_MODES as readonly string[]).includes(text);
}

export function parseSslMode(text: string): SslMode {
  if (!isSslMode(text)) throw new AutoctlError('BAD_ARGS', `Failed to parse ssl mode "${text}"`);
  return text;
}

/** Modes are ordered disable < allow < prefer < require < verify-ca < verify-full. */
export function compareSslModes(a: SslMode, b: SslMode): number {
  return SSL_MODES.indexOf(a) - SSL_MODES.indexOf(b);
}

export interface HostSpec {
  /** A host name, an IP address, or a Unix socket directory (starts with `/`). */
  host: string;
  port?: number | undefined;
}

export interface ConnInfo {
  /** In order; empty means libpq's default (the local socket). */
  hosts: HostSpec[];
  user?: string | undefined;
  password?: string | undefined;
  dbname?: string | undefined;
  /** Every other keyword (sslmode, application_name, ...) in the order given. */
  params: Array<readonly [string, string]>;
}

const badConninfo = (text: string, why: string): AutoctlError =>
  new AutoctlError('BAD_ARGS', `invalid connection string "${scrubPasswords(text)}": ${why}`);

export function isUri(text: string): boolean {
  return /^postgres(ql)?:\/\//.test(text);
}

/** Parses either form. Throws BAD_ARGS on malformed input. */
export function parseConnInfo(text: string): ConnInfo {
  return isUri(text) ? parseUri(text) : parseKeywords(text);
}

function decode(text: string, whole: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw badConninfo(whole, `bad percent-encoding in "${text}"`);
  }
}

function parsePort(text: string, whole: string): number | undefined {
  if (text === '') return undefined;
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) throw badConninfo(whole, `invalid port "${text}"`);
  return port;
}

function parseUri(text: string): ConnInfo {
  const rest = text.replace(/^postgres(ql)?:\/\//, '');
  const queryAt = rest.indexOf('?');
  const beforeQuery = queryAt < 0 ? rest : rest.slice(0, queryAt);
  const query = queryAt < 0 ? '' : rest.slice(queryAt + 1);
  const slashAt = beforeQuery.indexOf('/');
  const authority = slashAt < 0 ? beforeQuery : beforeQuery.slice(0, slashAt);
  const path = slashAt < 0 ? undefined : beforeQuery.slice(slashAt + 1);
  const atAt = authority.lastIndexOf('@');
  const userInfo = atAt < 0 ? undefined : authority.slice(0, atAt);
  const hostList = atAt < 0 ? authority : authority.slice(atAt + 1);
  const info: ConnInfo = { hosts: [], params: [] };
  if (userInfo !== undefined) {
    const colon = userInfo.indexOf(':');
    const user = colon < 0 ? userInfo : userInfo.slice(0, colon);
    if (user !== '') info.user = decode(user, text);
    if (colon >= 0) info.password = decode(userInfo.slice(colon + 1), text);
  }
  if (hostList !== '') {
    for (const spec of hostList.split(',')) info.hosts.push(parseUriHost(spec, text));
  }
  if (path !== undefined && path !== '') info.dbname = decode(path, text);
  const overrides: Array<[string, string]> = [];
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw badConninfo(text, `missing "=" in URI parameter "${pair}"`);
    overrides.push([decode(pair.slice(0, eq), text), decode(pair.slice(eq + 1), text)]);
  }
  return applyKeywords(info, overrides, text);
}

function parseUriHost(spec: string, whole: string): HostSpec {
  if (spec.startsWith('[')) {
    const close = spec.indexOf(']');
    if (close < 0) throw badConninfo(whole, `unterminated IPv6 address in "${spec}"`);
    const after = spec.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) throw badConninfo(whole, `unexpected "${after}" after IPv6 address`);
    return { host: spec.slice(1, close), port: parsePort(after.slice(1), whole) };
  }
  const colon = spec.lastIndexOf(':');
  if (colon < 0) return { host: decode(spec, whole) };
  return { host: decode(spec.slice(0, colon), whole), port: parsePort(spec.slice(colon + 1), whole) };
}

/** Splits `key=value key='quoted value'` (libpq's quoting: single quotes, backslash escapes). */
function parseKeywords(text: string): ConnInfo {
  const pairs: Array<[string, string]> = [];
  let i = 0;
  const skipSpaces = (): void => { while (i < text.length && /\s/.test(text[i] ?? '')) i += 1; };
  for (;;) {
    skipSpaces();
    if (i >= text.length) break;
    const keyStart = i;
    while (i < text.length && !/[\s=]/.test(text[i] ?? '')) i += 1;
    const key = text.slice(keyStart, i);
    skipSpaces();
    if (text[i] !== '=' || key === '') throw badConninfo(text, `missing "=" after "${key}"`);
    i += 1;
    skipSpaces();
    let value = '';
    if (text[i] === "'") {
      i += 1;
      for (;;) {
        if (i >= text.length) throw badConninfo(text, 'unterminated quoted string');
        const c = text[i] ?? '';
        if (c === '\\') { value += text[i + 1] ?? ''; i += 2; continue; }
        if (c === "'") { i += 1; break; }
        value += c;
        i += 1;
      }
    } else {
      while (i < text.length && !/\s/.test(text[i] ?? '')) {
        const c = text[i] ?? '';
        if (c === '\\') { value += text[i + 1] ?? ''; i += 2; continue; }
        value += c;
        i += 1;
      }
    }
    pairs.push([key, value]);
  }
  return applyKeywords({ hosts: [], params: [] }, pairs, text);
}

/** Folds libpq keywords into a ConnInfo; later keywords win, as in libpq. */
function applyKeywords(base: ConnInfo, pairs: ReadonlyArray<readonly [string, string]>, whole: string): ConnInfo {
  const info: ConnInfo = { ...base, hosts: [...base.hosts], params: [...base.params] };
  let hostList: string[] | undefined;
  let portList: string[] | undefined;
  for (const [key, value] of pairs) {
    switch (key) {
      case 'host': hostList = value === '' ? [] : value.split(','); break;
      case 'port': portList = value.split(','); break;
      case 'user': info.user = value; break;
      case 'password': info.password = value; break;
      case 'dbname': info.dbname = value; break;
      default: {
        if (key === 'sslmode' && !isSslMode(value)) throw badConninfo(whole, `invalid sslmode "${value}"`);
        const at = info.params.findIndex(([k]) => k === key);
        if (at >= 0) info.params[at] = [key, value];
        else info.params.push([key, value]);
      }
    }
  }
  if (hostList !== undefined) info.hosts = hostList.map((host) => ({ host }));
  if (portList !== undefined) {
    if (info.hosts.length === 0) info.hosts = [{ host: '' }];
    const ports = portList;
    if (ports.length !== 1 && ports.length !== info.hosts.length) {
      throw badConninfo(whole, `${ports.length} ports for ${info.hosts.length} hosts`);
    }
    info.hosts = info.hosts.map((h, index) => ({ host: h.host, port: parsePort(ports[ports.length === 1 ? 0 : index] ?? '', whole) }));
  }
  return info;
}

export function getParam(info: ConnInfo, key: string): string | undefined {
  return info.params.find(([k]) => k === key)?.[1];
}

/** A copy with `key` set (in place when present, else appended) or removed when `value` is undefined. */
export function setParam(info: ConnInfo, key: string, value: string | undefined): ConnInfo {
  const params = info.params.filter(([k]) => k !== key || value !== undefined)
    .map(([k, v]): readonly [string, string] => (k === key && value !== undefined ? [k, value] : [k, v]));
  if (value !== undefined && !params.some(([k]) => k === key)) params.push([key, value]);
  return { ...info, params };
}

/** The `sslmode` keyword, or `prefer` (libpq's default) when absent. */
export function sslModeOf(info: ConnInfo): SslMode {
  const mode = getParam(info, 'sslmode');
  return mode !== undefined && isSslMode(mode) ? mode : 'prefer';
}

function encodeHost(host: string): string {
  if (isIpv6(host)) return `[${host}]`;
  return encodeURIComponent(host);
}

const isIpv6 = (host: string): boolean => host.includes(':') && !host.startsWith('/');

/** `postgres://user:pw@h1:p1,h2:p2/db?k=v&...` */
export function formatUri(info: ConnInfo): string {
  let text = 'postgres://';
  if (info.user !== undefined || info.password !== undefined) {
    text += encodeURIComponent(info.user ?? '');
    if (info.password !== undefined) text += `:${encodeURIComponent(info.password)}`;
    text += '@';
  }
  text += info.hosts.map((h) => `${encodeHost(h.host)}${h.port === undefined ? '' : `:${h.port}`}`).join(',');
  if (info.dbname !== undefined) text += `/${encodeURIComponent(info.dbname)}`;
  if (info.params.length > 0) {
    // A slash is legal in a query (RFC 3986 §3.4): file paths stay readable,
    // as libpq and 2.0 write them (sslrootcert=/etc/ssl/ca.crt).
    const value = (v: string): string => encodeURIComponent(v).replace(/%2F/g, '/');
    text += `?${info.params.map(([k, v]) => `${encodeURIComponent(k)}=${value(v)}`).join('&')}`;
  }
  return text;
}

/** A value as libpq wants it in `keyword=value` form: quoted when empty or holding spaces, quotes, backslashes. */
export function quoteKeywordValue(value: string): string {
  if (value !== '' && !/[\s'\\]/.test(value)) return value;
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/** `k1=v1 k2=v2` from pairs, in order; undefined values are skipped. */
export function formatKeywordPairs(pairs: ReadonlyArray<readonly [string, string | number | undefined]>): string {
  return pairs
    .filter((pair): pair is readonly [string, string | number] => pair[1] !== undefined)
    .map(([k, v]) => `${k}=${quoteKeywordValue(String(v))}`)
    .join(' ');
}

/** `host=... port=... user=... password=... dbname=...` then the other keywords. */
export function formatKeywords(info: ConnInfo): string {
  const hosts = info.hosts.length === 0 ? undefined : info.hosts.map((h) => h.host).join(',');
  const anyPort = info.hosts.some((h) => h.port !== undefined);
  const ports = anyPort ? info.hosts.map((h) => (h.port === undefined ? '' : String(h.port))).join(',') : undefined;
  return formatKeywordPairs([
    ['host', hosts === '' ? undefined : hosts], ['port', ports], ['user', info.user], ['password', info.password],
    ['dbname', info.dbname], ...info.params,
  ]);
}

/** Replaces passwords in either form with `****`, for logs (see common/secrets.ts). */
export function scrubPasswords(text: string): string {
  return maskSecrets(text);
}

/** Where a standby streams from (spec 05 §6.2, §11.3). */
export interface ReplicationSource {
  host: string;
  port: number;
  /** `pgautofailover_replicator`. */
  user: string;
  /** `replication.password`; goes to primary_conninfo, and to PGPASSWORD for the tools. */
  password?: string | undefined;
  /** `pgautofailover_standby_<id>`. */
  applicationName: string;
  sslMode: SslMode;
  sslRootCert?: string | undefined;
  sslCrl?: string | undefined;
}

/**
 * `application_name=... host=... port=... user=... [password=...]
 * [dbname=...] sslmode=... [sslrootcert=... [sslcrl=...]]`: the
 * primary_conninfo of a standby, and the source of pg_basebackup/pg_rewind
 * (without password: those get PGPASSWORD). The CA and CRL only matter
 * for the verify modes.
 */
export function replicationConninfo(source: ReplicationSource, options: { includePassword: boolean; dbname?: string }): string {
  const verify = source.sslMode === 'verify-ca' || source.sslMode === 'verify-full';
  return formatKeywordPairs([
    ['application_name', source.applicationName],
    ['host', source.host],
    ['port', source.port],
    ['user', source.user],
    ['password', options.includePassword ? source.password : undefined],
    ['dbname', options.dbname],
    ['sslmode', source.sslMode],
    ['sslrootcert', verify ? source.sslRootCert : undefined],
    ['sslcrl', verify && source.sslRootCert !== undefined ? source.sslCrl : undefined],
  ]);
}
