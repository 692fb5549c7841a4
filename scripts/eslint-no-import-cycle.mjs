// ESLint rule `local/no-import-cycle`: a module of src/ must not reach itself
// through its relative runtime imports (`import type` / `export type` are
// erased, so they do not count). The import graph is read from disk once
// per lint run.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';

const IMPORT = /^\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?'(\.{1,2}\/[^']+)'/gm;
const graph = new Map();

function resolveSpecifier(from, spec) {
  const base = resolve(dirname(from), spec);
  for (const candidate of [base.replace(/\.js$/, '.ts'), `${base}.ts`, resolve(base, 'index.ts')]) {
    if (candidate.endsWith('.ts') && existsSync(candidate)) return candidate;
  }
  return undefined;
}

function importsOf(file) {
  let list = graph.get(file);
  if (list) return list;
  list = [];
  graph.set(file, list);
  let text;
  try { text = readFileSync(file, 'utf8'); } catch { return list; }
  for (const match of text.matchAll(IMPORT)) {
    const target = resolveSpecifier(file, match[1]);
    if (target) list.push(target);
  }
  return list;
}

/** A path start -> ... -> start, or undefined. */
function cycleFrom(start) {
  const seen = new Set();
  const walk = (file, path) => {
    for (const next of importsOf(file)) {
      if (next === start) return [...path, next];
      if (seen.has(next)) continue;
      seen.add(next);
      const found = walk(next, [...path, next]);
      if (found) return found;
    }
    return undefined;
  };
  return walk(start, [start]);
}

export default {
  rules: {
    'no-import-cycle': {
      meta: { type: 'problem', schema: [], messages: { cycle: 'import cycle: {{path}}' } },
      create(context) {
        return {
          Program(node) {
            const cycle = cycleFrom(context.filename);
            if (cycle) {
              const root = context.cwd ?? process.cwd();
              context.report({ node, messageId: 'cycle', data: { path: cycle.map((f) => relative(root, f)).join(' -> ') } });
            }
          },
        };
      },
    },
  },
};
