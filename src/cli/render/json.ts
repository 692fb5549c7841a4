/**
 * JSON built by pg_autoctl itself (spec 04 §1.7): 4-space indent, keys in
 * insertion order, and "/" escaped as "\/" like the original's JSON library.
 */
export function renderJson(value: unknown): string {
  return `${JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 4).replace(/\//g, '\\/')}\n`;
}
