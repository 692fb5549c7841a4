/** The command framework: handlers return data, runCli alone prints (src/cli/command.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  data, defineCommand, done, renderResult, serviceEnded, type CommandResult, type CompletionHolder, type Rendering,
} from '../../../src/cli/command.js';
import { AutoctlCommand, group } from '../../../src/cli/tree.js';

const rendering: Rendering<{ name: string }> = {
  text: (d) => `name is ${d.name}\n`,
  json: (d) => ({ name: d.name, path: '/tmp' }),
};

describe('renderResult', () => {
  it('renders data as text, or as JSON (pg_autoctl style: 4 spaces, "/" escaped) with --json', () => {
    assert.equal(renderResult(data({ name: 'a' }), rendering, false), 'name is a\n');
    assert.equal(renderResult(data({ name: 'a' }), rendering, true), '{\n    "name": "a",\n    "path": "\\/tmp"\n}\n');
  });

  it('falls back to the text when the command has no JSON form', () => {
    assert.equal(renderResult(data({ name: 'a' }), { text: rendering.text }, true), 'name is a\n');
  });

  it('prints nothing for undefined data, nor for a service that ended', () => {
    assert.equal(renderResult(done('BAD_STATE'), undefined, false), '');
    assert.equal(renderResult(data<{ name: string } | undefined>(undefined), rendering, true), '');
    assert.equal(renderResult(serviceEnded(12), undefined, true), '');
  });

  it('keeps the named status of an expected outcome', () => {
    assert.deepEqual(data(1, 'PGCTL'), { kind: 'data', data: 1, status: 'PGCTL' });
    assert.deepEqual(done(), { kind: 'data', data: undefined });
  });
});

describe('defineCommand', () => {
  async function runTree(argv: string[], run: (flags: { flag?: string }, json: boolean, args: readonly string[]) => Promise<CommandResult<{ name: string }>>): Promise<CompletionHolder['completion']> {
    const program = new AutoctlCommand('pg_autoctl');
    program.exitOverride();
    const get = group(program, 'get', 'get things');
    defineCommand<{ flag?: string }, { name: string }>(get, {
      name: 'thing',
      description: 'get a thing',
      json: true,
      options: (cmd) => cmd.option('--flag <v>', 'a flag').argument('[word]'),
      run: (flags, ctx, args) => run(flags, ctx.json, args),
      render: rendering,
    });
    await program.parseAsync(['node', 'pg_autoctl', ...argv]);
    return (program as CompletionHolder).completion;
  }

  it('passes the flags, --json and positional arguments to the handler and records the rendering on the root', async () => {
    const completion = await runTree(['get', 'thing', 'word1', '--flag', 'x', '--json'], async (flags, json, args) => {
      assert.equal(flags.flag, 'x');
      assert.equal(json, true);
      assert.deepEqual(args, ['word1']);
      return data({ name: 'b' }, 'MONITOR');
    });
    assert.deepEqual(completion?.result, { kind: 'data', data: { name: 'b' }, status: 'MONITOR' });
    assert.equal(completion?.stdout, '{\n    "name": "b",\n    "path": "\\/tmp"\n}\n');
  });

  it('lets thrown errors through to runCli', async () => {
    await assert.rejects(runTree(['get', 'thing'], async () => { throw new Error('boom'); }), /boom/);
  });
});
