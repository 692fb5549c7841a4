/**
 * The INI dialect of pg_autoctl.cfg: `[section]` headers and `key = value`
 * lines. Values are taken verbatim (trimmed): no quoting and no inline
 * comments, because the writer never quotes and values such as passwords or
 * URIs may contain `;` or `#`. Whole-line comments start with `;` or `#`.
 * Keys and sections are case-sensitive. A repeated key keeps its last value.
 */
import { fail, ok, type Result } from '../common/result.js';

/** Parsed INI text: sections in file order, each with its keys in file order. */
export type IniDocument = ReadonlyMap<string, ReadonlyMap<string, string>>;

/** One section to render: entries in the order they must appear. */
export interface IniSection {
  readonly name: string;
  readonly entries: ReadonlyArray<readonly [key: string, value: string | number]>;
}

/** Parses INI text. Errors name the line: `line 3: expected "key = value"`. */
export function parseIni(text: string): Result<IniDocument> {
  const sections = new Map<string, Map<string, string>>();
  const errors: string[] = [];
  let current: Map<string, string> | undefined;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    const where = `line ${index + 1}`;
    if (line === '' || line.startsWith(';') || line.startsWith('#')) return;
    if (line.startsWith('[')) {
      if (!line.endsWith(']')) {
        errors.push(`${where}: section header is missing its closing "]"`);
        return;
      }
      const name = line.slice(1, -1).trim();
      if (name === '') {
        errors.push(`${where}: empty section name`);
        return;
      }
      current = sections.get(name) ?? new Map<string, string>();
      sections.set(name, current);
      return;
    }
    const eq = line.indexOf('=');
    if (eq < 0) {
      errors.push(`${where}: expected "key = value", found "${line}"`);
      return;
    }
    const key = line.slice(0, eq).trim();
    if (key === '') {
      errors.push(`${where}: missing key before "="`);
      return;
    }
    if (current === undefined) {
      errors.push(`${where}: key "${key}" appears before any [section]`);
      return;
    }
    current.set(key, line.slice(eq + 1).trim());
  });
  return errors.length > 0 ? fail(errors) : ok(sections);
}

/** The value of `section.key`, or undefined when absent. */
export function iniValue(doc: IniDocument, section: string, key: string): string | undefined {
  return doc.get(section)?.get(key);
}

/**
 * Renders sections as pg_autoctl writes them: entries in the given order,
 * empty string values omitted, numbers always written, one blank line
 * between sections, sections left with no entries skipped, and a final
 * newline after the last entry.
 */
export function renderIni(sections: readonly IniSection[]): string {
  const blocks: string[] = [];
  for (const section of sections) {
    const lines = section.entries
      .filter(([, value]) => value !== '')
      .map(([key, value]) => `${key} = ${String(value)}`);
    if (lines.length === 0) continue;
    blocks.push(`[${section.name}]\n${lines.join('\n')}\n`);
  }
  return blocks.join('\n');
}
