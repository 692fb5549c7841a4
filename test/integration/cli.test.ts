/**
 * The command line itself: --version, help at every level, unknown
 * commands, refusing root. No cluster needed.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { IS_ROOT, run, runCleanups } from '../helpers/fixture.js';
import { pgAutoctl, pgAutoctlArgv } from '../helpers/tool.js';

after(runCleanups);

const COMMANDS = [
  [], ['create'], ['create', 'monitor'], ['create', 'postgres'], ['show'], ['show', 'uri'], ['show', 'state'],
  ['show', 'events'], ['run'], ['stop'], ['reload'], ['status'], ['version'],
];

describe('pg_autoctl command line', () => {
  it('prints its version', async () => {
    const r = await pgAutoctl(['--version']);
    assert.equal(r.exitCode, 0);
    assert.match(r.stdout, /^pg_autoctl version \d+\.\d+\npg_autoctl extension version /);
    const json = await pgAutoctl(['version', '--json']);
    assert.equal(json.exitCode, 0);
    assert.equal((JSON.parse(json.stdout) as { pg_autoctl: string }).pg_autoctl, r.stdout.split('\n')[0]?.split(' ').pop());
  });

  for (const words of COMMANDS) {
    it(`pg_autoctl ${[...words, '--help'].join(' ')} prints its usage and exits 0`, async () => {
      const r = await pgAutoctl([...words, '--help']);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(r.stdout + r.stderr, /Usage: pg_autoctl/);
    });
  }

  it('pg_autoctl help lists the command tree', async () => {
    const r = await pgAutoctl(['help']);
    assert.equal(r.exitCode, 0);
    for (const word of ['create', 'monitor', 'postgres', 'show', 'state', 'uri', 'run', 'stop', 'status']) assert.match(r.stdout, new RegExp(`\\b${word}\\b`));
  });

  it('reports an unknown command with the list of commands', async () => {
    const r = await pgAutoctl(['show', 'nothing']);
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr, /pg_autoctl show: nothing: unknown command/);
    assert.match(r.stderr, /Available commands:/);
    const group = await pgAutoctl(['create']);
    assert.equal(group.exitCode, 1);
    assert.match(group.stderr, /pg_autoctl create: expected a command/);
  });

  it('refuses to run as root with a one-line error', { skip: !IS_ROOT && 'needs root' }, async () => {
    const r = await run(pgAutoctlArgv(['show', 'state', '--pgdata', '/nonexistent']), { asUser: false });
    assert.equal(r.exitCode, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /must not be run as root/);
  });
});
