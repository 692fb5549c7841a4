/**
 * Bad input to the operator commands is refused before anything is asked
 * of the monitor (spec 04 §3.5, §4, §6, §8): 2.0's texts and exit codes.
 * The monitor URI points at a closed port: reaching it would fail
 * differently (exit 6), so these checks also prove nothing was sent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildProgram } from '../../../src/cli/program.js';
import { AutoctlError, EXIT_CODES, exitCodeFor } from '../../../src/common/errors.js';

const MONITOR = 'postgres://autoctl_node@127.0.0.1:1/pg_auto_failover';

async function refusal(args: string[]): Promise<{ code: number; message: string }> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(['node', 'pg_autoctl', ...args, '-q']);
  } catch (error) {
    assert.ok(error instanceof AutoctlError, `unexpected ${String(error)}`);
    return { code: exitCodeFor(error), message: error.message };
  }
  throw new Error(`pg_autoctl ${args.join(' ')} did not fail`);
}

describe('operator commands refuse bad input', () => {
  const saved = { PGDATA: process.env.PGDATA, PG_AUTOCTL_MONITOR: process.env.PG_AUTOCTL_MONITOR };
  before(() => {
    delete process.env.PGDATA;
    delete process.env.PG_AUTOCTL_MONITOR;
  });
  after(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  const cases: Array<[string[], keyof typeof EXIT_CODES, RegExp]> = [
    [['drop', 'node', '--monitor', MONITOR, '--name', 'a', '--hostname', 'b'], 'BAD_ARGS',
      /^pg_autoctl drop node target can either be specified using \[ --formation --name \], or using \[ --hostname and --pgport \], but not both\.$/],
    [['drop', 'node', '--monitor', MONITOR], 'BAD_ARGS', /please use either one\.$/],
    [['drop', 'node', '--monitor', MONITOR, '--name', 'a', '--destroy'], 'BAD_ARGS', /^Destroying a node is not supported from a distance$/],
    [['drop', 'node', '--monitor', MONITOR, '--name', 'a', '--wait', 'x'], 'BAD_ARGS', /--wait argument is not a valid timeout: "x"/],
    [['drop', 'node'], 'BAD_ARGS', /Failed to set PGDATA either from the environment or from --pgdata/],
    [['drop', 'monitor', '--pgdata', '/nonexistent/pgaf'], 'BAD_CONFIG', /^Failed to find expected configuration file ".*pg_autoctl\.cfg"$/],
    [['drop', 'formation', '--monitor', MONITOR], 'BAD_ARGS', /^Options --formation is mandatory$/],
    [['create', 'formation', '--monitor', MONITOR, '--formation', 'f'], 'BAD_ARGS', /^Options --formation and --kind are mandatory$/],
    [['create', 'formation', '--monitor', MONITOR, '--formation', 'f', '--kind', 'pgsql', '--number-sync-standbys', '-1'], 'BAD_ARGS',
      /^--number-sync-standbys argument is not valid\. Use a non-negative integer value\.$/],
    [['enable', 'secondary', '--pgdata', '/nonexistent/pgaf'], 'BAD_ARGS', /^Option --formation is mandatory$/],
    [['disable', 'secondary', '--formation', 'f', '--pgdata', '/nonexistent/pgaf'], 'BAD_ARGS', /Expected configuration file does not exist/],
    [['perform', 'switchover', '--monitor', MONITOR, '--wait', '1s'], 'BAD_ARGS', /^--wait argument is not a valid timeout: "1s"$/],
    [['perform', 'failover', '--monitor', MONITOR, '--group', 'one'], 'BAD_ARGS', /^--group argument is not a valid group ID: "one"$/],
    [['perform', 'promotion', '--monitor', MONITOR], 'BAD_ARGS', /^Please use either --name or --pgdata to target a specific node$/],
    [['enable', 'maintenance', '--pgdata', '/nonexistent/pgaf'], 'BAD_ARGS', /Expected configuration file does not exist/],
  ];
  for (const [args, code, message] of cases) {
    it(`pg_autoctl ${args.join(' ')}`, async () => {
      const r = await refusal(args);
      assert.match(r.message, message);
      assert.equal(r.code, EXIT_CODES[code]);
    });
  }

  it('an unreachable monitor is exit 6, after the arguments were checked', async () => {
    process.env.PGCONNECT_TIMEOUT = '1';
    try {
      const r = await refusal(['drop', 'formation', '--monitor', MONITOR, '--formation', 'f']);
      assert.equal(r.code, EXIT_CODES.MONITOR);
      assert.match(r.message, /^Failed to connect to/);
    } finally {
      delete process.env.PGCONNECT_TIMEOUT;
    }
  });
});
