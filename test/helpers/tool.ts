/**
 * The built pg_autoctl, copied to a temp dir the cluster account can read
 * (CI's clone may sit under /root). The copy is made once per test process.
 */
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onCleanup, run, type CommandResult } from './fixture.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
let toolDir: string | undefined;

function makeReadable(path: string): void {
  const st = statSync(path);
  chmodSync(path, st.isDirectory() || (st.mode & 0o100) ? 0o755 : 0o644);
  if (st.isDirectory()) for (const name of readdirSync(path)) makeReadable(join(path, name));
}

/** Directory holding dist/, node_modules/ and package.json, readable by all. */
export function toolRoot(): string {
  if (toolDir) return toolDir;
  if (process.env.PGAF_TOOL_DIR) return (toolDir = process.env.PGAF_TOOL_DIR);
  if (!existsSync(join(repo, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const dir = mkdtempSync(join(tmpdir(), 'pgaf-tool-'));
  for (const part of ['dist', 'node_modules', 'package.json']) {
    cpSync(join(repo, part), join(dir, part), { recursive: true, dereference: false });
  }
  makeReadable(dir);
  onCleanup(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  toolDir = dir;
  return dir;
}

/** argv that runs pg_autoctl with the given arguments. */
export function pgAutoctlArgv(args: readonly string[]): string[] {
  return [process.execPath, join(toolRoot(), 'dist', 'cli', 'main.js'), ...args];
}

/** Runs `pg_autoctl args...` as the cluster account and collects its output. */
export function pgAutoctl(args: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CommandResult> {
  return run(pgAutoctlArgv(args), options);
}

let repoCopy: string | undefined;

/**
 * A copy of the checkout's sources, tests and node_modules that the cluster
 * account can read, for tests that run TypeScript files as that account
 * (CI's clone may sit in a directory it cannot read). Made once per process.
 */
export function readableRepo(): string {
  if (repoCopy) return repoCopy;
  const dir = mkdtempSync(join(tmpdir(), 'pgaf-src-'));
  for (const part of ['src', 'test', 'node_modules', 'package.json', 'tsconfig.json']) {
    cpSync(join(repo, part), join(dir, part), { recursive: true, dereference: false });
  }
  makeReadable(dir);
  onCleanup(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  repoCopy = dir;
  return dir;
}

/** The path of a file of the checkout inside {@link readableRepo}. */
export function readablePath(file: string): string {
  return join(readableRepo(), relative(repo, file));
}
