/**
 * Renderings of the replication settings commands (spec 04 §5.4, §5.5, §7):
 * `show settings` / `get formation settings`, `show standby-names`, and the
 * single values printed by `get|set node|formation ...`.
 */
import type { FormationSettingRow } from '../../monitor-api/index.js';
import type { Rendering } from '../command.js';
import { renderTable } from './table.js';

/**
 * A copy of a JSON value whose object keys are in the order of the
 * monitor's jsonb_pretty() (length, then bytes), for the output that 2.0
 * gets as JSON from the monitor (spec 04 §1.7).
 */
export function inJsonbKeyOrder(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(inJsonbKeyOrder);
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value).sort((a, b) => {
    const la = Buffer.byteLength(a);
    const lb = Buffer.byteLength(b);
    return la !== lb ? la - lb : Buffer.compare(Buffer.from(a), Buffer.from(b));
  });
  return Object.fromEntries(keys.map((k) => [k, inJsonbKeyOrder((value as Record<string, unknown>)[k])]));
}

const CONTEXT_ORDER: Readonly<Record<FormationSettingRow['context'], number>> = { formation: 0, primary: 1, node: 2 };

/** The table's order: context (formation, primary, node), then setting name, group, node id. */
export function sortSettingsForTable(rows: readonly FormationSettingRow[]): FormationSettingRow[] {
  return [...rows].sort((a, b) => CONTEXT_ORDER[a.context] - CONTEXT_ORDER[b.context]
    || (a.setting < b.setting ? -1 : a.setting > b.setting ? 1 : 0)
    || (a.groupId ?? -1) - (b.groupId ?? -1)
    || (a.nodeId ?? -1) - (b.nodeId ?? -1));
}

export function renderSettingsTable(rows: readonly FormationSettingRow[]): string {
  return renderTable([
    { header: 'Context', minWidth: 9 },
    { header: 'Name', minWidth: 4 },
    { header: 'Setting', minWidth: 7 },
    { header: 'Value', minWidth: 5, align: 'left' },
  ], sortSettingsForTable(rows).map((r) => [r.context, r.name, r.setting, r.value]));
}

function settingJson(r: FormationSettingRow): Record<string, unknown> {
  return { context: r.context, group_id: r.groupId, node_id: r.nodeId, nodename: r.name, setting: r.setting, value: r.value };
}

/** `{formation, primary, nodes}`: arrays in the function's row order, null for a context without rows. */
export function settingsJson(rows: readonly FormationSettingRow[]): Record<string, unknown> {
  const of = (context: FormationSettingRow['context']): unknown[] | null => {
    const selected = rows.filter((r) => r.context === context).map(settingJson);
    return selected.length === 0 ? null : selected;
  };
  return { formation: of('formation'), primary: of('primary'), nodes: of('node') };
}

/** `show settings`, `get formation settings`: JSON keys in the monitor's jsonb order. */
export const settingsRendering: Rendering<readonly FormationSettingRow[]> = {
  text: renderSettingsTable,
  json: (rows) => inJsonbKeyOrder(settingsJson(rows)),
};

export interface StandbyNamesData {
  formation: string;
  group: number;
  /** Without the surrounding quotes. */
  value: string;
}

export const standbyNamesRendering: Rendering<StandbyNamesData> = {
  text: ({ value }) => `'${value}'\n`,
  json: ({ formation, group, value }) => ({ formation, group, synchronous_standby_names: value }),
};

/** One value of `get|set`: its text line, and the JSON object 2.0 prints for it. */
export interface ValueData {
  text: string;
  json: Record<string, unknown>;
}

export const valueRendering: Rendering<ValueData> = {
  text: ({ text }) => `${text}\n`,
  json: ({ json }) => json,
};
