/**
 * This implementation, from the build in dist/ (copied where the cluster
 * account can read it), started the way the installed `pg_autoctl` starts:
 * through the interpreter line of dist/cli/main.js (its Node.js flags
 * included), as the kernel would run it. BENCH_OURS_CMD (words separated
 * by spaces) runs another command instead, e.g. `node /path/bundle.mjs`.
 */
import { readFileSync } from 'node:fs';
import { freePort } from '../../test/helpers/fixture.js';
import { pgAutoctlArgv } from '../../test/helpers/tool.js';
import type { Flavor } from './flavor.js';

const custom = process.env.BENCH_OURS_CMD?.split(' ').filter((w) => w !== '');

/** argv as execve of the script would build it: interpreter, its one optional argument, the script. */
export function viaInterpreterLine(args: readonly string[]): string[] {
  const [, script, ...rest] = pgAutoctlArgv(args);
  if (script === undefined) throw new Error('no pg_autoctl script');
  const first = readFileSync(script, 'utf8').split('\n', 1)[0] ?? '';
  if (!first.startsWith('#!')) return pgAutoctlArgv(args);
  const line = first.slice(2).trim();
  const space = line.indexOf(' ');
  const interpreter = space < 0 ? line : line.slice(0, space);
  const optional = space < 0 ? [] : [line.slice(space + 1).trim()];
  return [interpreter, ...optional, script, ...rest];
}

export const ours: Flavor = {
  name: 'ours',
  argv: (args) => (custom === undefined || custom.length === 0 ? viaInterpreterLine(args) : [...custom, ...args]),
  // Two nodes on one host: each keeper's HTTP listener (failsafe) on its own port.
  nodeArgs: async () => ['--http-port', String(await freePort())],
};
