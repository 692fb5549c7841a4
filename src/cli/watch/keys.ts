/**
 * Keys of `pg_autoctl watch` (spec 04 §10.5), as a pure function from a key
 * name (terminal-kit's names) and the current scroll to the next scroll, or
 * 'quit'. Vertical keys scroll the events table through older events,
 * horizontal keys scroll the descriptions.
 */
import type { LayoutFacts, ViewState } from './layout.js';

const QUIT = new Set(['q', 'Q', 'F1', 'CTRL_C']);
const UP = new Set(['UP', 'k', 'CTRL_P']);
const DOWN = new Set(['DOWN', 'j', 'CTRL_N']);
const PAGE_UP = new Set(['PAGE_UP', 'CTRL_U']);
const PAGE_DOWN = new Set(['PAGE_DOWN', 'CTRL_D']);
const LEFT = new Set(['LEFT', 'h', 'CTRL_B']);
const RIGHT = new Set(['RIGHT', 'l', 'CTRL_F']);
const HOME = new Set(['HOME', '0', 'CTRL_A']);
const END = new Set(['END', '$', 'CTRL_E']);

/** The next scroll after `key`, 'quit', or null when the key means nothing here. */
export function applyKey(key: string, view: ViewState, facts: LayoutFacts): ViewState | 'quit' | null {
  if (QUIT.has(key)) return 'quit';
  const maxBack = Math.max(0, facts.eventsCount - facts.eventsShown);
  const page = Math.max(1, facts.eventsShown - 1);
  const vertical = (delta: number): ViewState => ({ ...view, eventsBack: Math.min(maxBack, Math.max(0, view.eventsBack + delta)) });
  const step = Math.max(1, Math.floor(facts.descriptionWidth / 2));
  const maxColumn = Math.max(0, facts.longestDescription - facts.descriptionWidth);
  const horizontal = (column: number): ViewState => ({ ...view, toEnd: false, column: Math.min(maxColumn, Math.max(0, column)) });
  if (UP.has(key)) return vertical(1);
  if (DOWN.has(key)) return vertical(-1);
  if (PAGE_UP.has(key)) return vertical(page);
  if (PAGE_DOWN.has(key)) return vertical(-page);
  if (LEFT.has(key)) return horizontal((view.toEnd ? maxColumn : view.column) - step);
  if (RIGHT.has(key)) return horizontal((view.toEnd ? maxColumn : view.column) + step);
  if (HOME.has(key)) return { ...view, toEnd: false, column: 0 };
  if (END.has(key)) return { ...view, toEnd: true };
  return null;
}
