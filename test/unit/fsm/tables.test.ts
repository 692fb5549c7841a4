/**
 * The two tables as data: golden dumps of the monitor rules and of the
 * keeper transitions (UPDATE_GOLDEN=1 rewrites them), the table's
 * consistency, and every monitor rule named by a test. (Every pair the
 * table tests make decide() emit is checked against the keeper table by
 * fixtures.run(); the model checker checks every pair of its runs.)
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  KEEPER_ACTIONS, KEEPER_ACTION_DESCRIPTIONS, KEEPER_TRANSITIONS, MONITOR_RULES, NODE_STATES, findTransition,
} from '../../../src/fsm/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const goldenDir = join(here, '..', '..', 'golden', 'fsm');

function golden(name: string, actual: string): void {
  const path = join(goldenDir, name);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, actual);
  assert.equal(actual, readFileSync(path, 'utf8'), `${name} differs from the golden file; UPDATE_GOLDEN=1 rewrites it`);
}

function dumpMonitorRules(): string {
  const lines = ['# Monitor rules (src/fsm/rules.ts): id, spec section, condition, assignment, change from 2.x', ''];
  for (const r of MONITOR_RULES) {
    lines.push(`${r.id}  [${r.section}]`, `  when: ${r.when}`, `  then: ${r.then}`);
    if ('change' in r) lines.push(`  change: ${r.change}`);
    lines.push('');
  }
  return lines.join('\n');
}

function dumpKeeperTable(): string {
  const lines = ['# Keeper transitions (src/fsm/keeper-transitions.ts): from -> to: action [origin]', ''];
  for (const t of KEEPER_TRANSITIONS) lines.push(`${t.from} -> ${t.to}: ${t.action} [${t.origin}]`, `  ${t.comment}`);
  lines.push('', '# Actions', '');
  for (const a of KEEPER_ACTIONS) lines.push(`${a}:`, `  ${KEEPER_ACTION_DESCRIPTIONS[a]}`);
  return `${lines.join('\n')}\n`;
}

test('golden: monitor rules table', () => {
  golden('monitor-rules.txt', dumpMonitorRules());
});

test('golden: keeper transition table', () => {
  golden('keeper-transitions.txt', dumpKeeperTable());
});

test('keeper table: one row per pair, known states and actions, every action used, no edge to unknown or from a state to itself', () => {
  const pairs = KEEPER_TRANSITIONS.map((t) => `${t.from}>${t.to}`);
  assert.equal(new Set(pairs).size, pairs.length);
  for (const t of KEEPER_TRANSITIONS) {
    assert.ok(NODE_STATES.includes(t.from) && NODE_STATES.includes(t.to), `${t.from} -> ${t.to}`);
    assert.notEqual(t.from, t.to);
    assert.notEqual(t.to, 'unknown');
    assert.notEqual(t.to, 'init', 'init is never a goal');
    assert.ok(t.comment.length > 10);
    assert.equal(findTransition(t.from, t.to), t);
  }
  for (const a of KEEPER_ACTIONS) assert.ok(KEEPER_TRANSITIONS.some((t) => t.action === a), `action ${a} unused`);
  assert.equal(findTransition('secondary', 'primary'), undefined);
});

test('keeper table: every state can be dropped; every writable state can fence itself (demote_timeout)', () => {
  for (const s of NODE_STATES) if (s !== 'dropped' && s !== 'unknown') assert.ok(findTransition(s, 'dropped'), s);
  for (const s of ['single', 'wait_primary', 'primary', 'join_primary', 'apply_settings'] as const) {
    assert.ok(findTransition(s, 'demote_timeout'), s);
  }
});

test('monitor rules: unique ids', () => {
  const ids = MONITOR_RULES.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length);
});

test('every rule of the monitor table is named by a test', () => {
  const titles = readdirSync(here).filter((f) => f.endsWith('.test.ts'))
    .flatMap((f) => [...readFileSync(join(here, f), 'utf8').matchAll(/test\('([^']*)'/g)].map((m) => m[1] ?? ''));
  const named = (id: string): boolean => titles.some((t) => new RegExp(`(^|[ /(])${id}([:/ ,)]|$)`).test(t));
  const missing = MONITOR_RULES.map((r) => r.id).filter((id) => !named(id));
  assert.deepEqual(missing, []);
});
