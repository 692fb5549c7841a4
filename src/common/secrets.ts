/**
 * Masking secrets before they reach a log line or an error message. One
 * place knows what a secret looks like: passwords inside connection
 * strings (URI userinfo, `password=` keywords and URI parameters, either
 * quoted or bare), `PGPASSWORD=`, and the configuration keys that hold a
 * password. Masking is deliberately greedy: hiding a little too much of a
 * connection string is harmless, showing a password is not.
 */

/** What a masked secret reads as. */
export const MASK = '****';

/** Configuration keys (`section.key`) whose whole value is a secret. */
export const SECRET_CONFIG_KEYS: ReadonlySet<string> = new Set(['replication.password']);

/** `postgres://user:<secret>@host`: everything from the first ':' of the userinfo to the last '@' of the token. */
const URI_USERINFO = /(postgres(?:ql)?:\/\/[^\s:/@?]*:)\S*@/gi;

/** `?password=<secret>&...` as a URI parameter: up to the next `&`. */
const URI_PARAM = /([?&](?:ssl)?password=)(?!\*{4}(?:&|\s|$))[^\s&]*/gi;

/**
 * `password=<secret>` as a libpq keyword, bare or quoted (with `\'` and `\\`
 * escapes), also `sslpassword` and `PGPASSWORD`. A value already masked is
 * left alone.
 */
const KEYWORD = /((?<![A-Za-z0-9_?&])(?:pg|ssl)?password\s*=\s*)(?!\*{4}(?:[\s'"]|$))('(?:[^'\\]|\\.)*'?|\S+)/gi;

/** The text with every password it holds replaced by {@link MASK}. */
export function maskSecrets(text: string): string {
  return text.replace(URI_USERINFO, `$1${MASK}@`).replace(URI_PARAM, `$1${MASK}`).replace(KEYWORD, `$1${MASK}`);
}

/** True when the configuration key (`section.key`) holds a secret. */
export function isSecretConfigKey(path: string): boolean {
  return SECRET_CONFIG_KEYS.has(path.toLowerCase());
}

/**
 * A configuration value as it may be shown in a log line: secret keys are
 * masked whole (empty stays empty, so "no password" remains visible), any
 * other string is masked as a connection string (pg_autoctl.monitor).
 */
export function maskConfigValue(path: string, value: unknown): string {
  const text = String(value);
  if (isSecretConfigKey(path)) return text === '' ? '' : MASK;
  return maskSecrets(text);
}
