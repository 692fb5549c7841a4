/**
 * Human tables in the original's layout (spec 04 §1.7): every cell
 * right-aligned to its column width, cells joined by " | ", a separator of
 * dashes joined by "-+-", and an empty line after the table.
 */
export interface Column {
  header: string;
  /** Minimum width; the header length counts too. */
  minWidth?: number;
  /** Leave the cells of this (last) column unpadded, as `show uri` does. */
  unpadded?: boolean;
  /** Width of the separator when the column is unpadded. */
  separatorWidth?: number;
  align?: 'right' | 'left';
}

export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((col, i) => {
    if (col.unpadded) return col.separatorWidth ?? col.header.length;
    const longest = Math.max(0, ...rows.map((row) => (row[i] ?? '').length));
    return Math.max(col.header.length, col.minWidth ?? 0, longest);
  });
  const cell = (text: string, i: number): string => {
    const col = columns[i];
    const width = widths[i] ?? 0;
    if (col?.unpadded) return text;
    return col?.align === 'left' ? text.padEnd(width) : text.padStart(width);
  };
  const line = (cells: readonly string[]): string => columns.map((_, i) => cell(cells[i] ?? '', i)).join(' | ');
  const out = [line(columns.map((c) => c.header)), widths.map((w) => '-'.repeat(w)).join('-+-')];
  for (const row of rows) out.push(line(row));
  return `${out.join('\n')}\n\n`;
}

/**
 * `label value` lines, each label left-aligned to `width` characters then
 * followed by `separator` (2.0's summaries: pg setup, keeper state).
 */
export function renderLabelled(rows: ReadonlyArray<readonly [string, string | number | bigint]>, width: number, separator = ''): string {
  return rows.map(([label, value]) => `${label.padEnd(width)}${separator}${String(value)}\n`).join('');
}
