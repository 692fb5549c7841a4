#!/usr/bin/env node
// Runs the test suite: type check, lint (eslint, then the import-cycle
// check), build, then unit tests and the
// integration tests (serially: they start real clusters).
// Usage: node scripts/run-tests.mjs [unit|integration] [file filter...]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const kinds = ['unit', 'integration'];
const only = kinds.includes(args[0]) ? [args.shift()] : kinds;
const filters = args;

function find(dir) {
  let out = [];
  let entries;
  try { entries = readdirSync(dir); } catch { return out; }
  for (const name of entries.sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(find(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

function run(cmd, cmdArgs) {
  console.log(`$ ${cmd} ${cmdArgs.join(' ')}`);
  const r = spawnSync(cmd, cmdArgs, { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (!process.env.SKIP_CHECKS) {
  run('npx', ['tsc', '--noEmit', '-p', '.']);
  run('npx', ['eslint', '.']);
}
run('npm', ['run', '--silent', 'build']);

const files = only.flatMap((kind) => find(join('test', kind)))
  .filter((f) => filters.length === 0 || filters.some((flt) => f.includes(flt)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
run(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files]);
