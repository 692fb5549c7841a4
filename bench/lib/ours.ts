/**
 * This implementation, from the build in dist/ (copied where the cluster
 * account can read it). BENCH_OURS_CMD (words separated by spaces) runs
 * another build instead, e.g. a bundle: `node /path/pg_autoctl.mjs`.
 */
import { freePort } from '../../test/helpers/fixture.js';
import { pgAutoctlArgv } from '../../test/helpers/tool.js';
import type { Flavor } from './flavor.js';

const custom = process.env.BENCH_OURS_CMD?.split(' ').filter((w) => w !== '');

export const ours: Flavor = {
  name: 'ours',
  argv: (args) => (custom === undefined || custom.length === 0 ? pgAutoctlArgv(args) : [...custom, ...args]),
  // Two nodes on one host: each keeper's HTTP listener (failsafe) on its own port.
  nodeArgs: async () => ['--http-port', String(await freePort())],
};
