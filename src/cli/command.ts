/**
 * The command framework: every leaf command of pg_autoctl is a
 * `CommandSpec`, a handler that returns data plus a rendering of that data.
 *
 * Adding a command (e.g. `pg_autoctl get formation number-sync-standbys`):
 *
 * 1. In src/cli/commands/<group>.ts write the handler
 *      async function getNumberSyncStandbys(flags: Flags, ctx: CommandContext): Promise<CommandResult<N>>
 *    It reads its inputs from `flags` (the command's own options), `args`
 *    (positional arguments) and `ctx` (logger, env, cwd, --json), and
 *    returns `data(value)`; `data(value, 'PGCTL')` when the outcome is
 *    expected but must end with that exit status (as `status` does); or
 *    `serviceEnded(code)` when it ran a long-lived supervisor (`run`,
 *    `create ... --run`). Failures throw AutoctlError with a stable code
 *    (src/common/errors.ts). A handler never writes to stdout, never sets
 *    process.exitCode, never exits; logging through ctx.log (stderr) is fine.
 *    The one exception is `ctx.progress` (text mode only): live lines of a
 *    command that follows a change as it happens (the notification table
 *    of `perform --wait`); its data then says so, and its text rendering
 *    prints nothing more.
 * 2. In src/cli/render/<group>.ts write a `Rendering<N>`: `text(n)` for the
 *    human output, and `json(n)` returning the value printed with --json
 *    (omit `json` when the command has no JSON form). Pure functions.
 * 3. Register it:
 *      defineCommand(parent, { name, description, json: true, options: (c) => c.option(...), run, render })
 *    `parent` is a group made with `group()` from ./tree.js.
 *
 * src/cli/program.ts (runCli) is the one place that prints the rendered
 * result on stdout and turns results and thrown errors into exit codes.
 * Handlers and renderings are testable without a terminal: call `run` with
 * a context, then `render.text` / `render.json` on the data.
 */
import type { Command } from 'commander';
import type { ErrorCode } from '../common/errors.js';
import { contextFor, type CommandContext } from './context.js';
import { renderJson } from './render/json.js';
import { withCommonOptions } from './tree.js';

/**
 * What a handler returns. `status` names the exit code of an expected
 * outcome that is not a success (mapped by cli/program.ts, like errors).
 */
export type CommandResult<D> =
  | { kind: 'data'; data: D; status?: ErrorCode }
  | { kind: 'service'; exitCode: number };

/** How a command's data is printed on stdout. */
export interface Rendering<D> {
  text(data: D): string;
  /** The value printed as JSON with --json; without it --json prints the text. */
  json?(data: D): unknown;
}

export function data<D>(value: D, status?: ErrorCode): CommandResult<D> {
  return status === undefined ? { kind: 'data', data: value } : { kind: 'data', data: value, status };
}

/** Nothing to print (like any undefined data); `status` as in data(). */
export function done(status?: ErrorCode): CommandResult<void> {
  return data(undefined, status);
}

/** A supervisor ran the node's services until shutdown; its exit code stands. */
export function serviceEnded(exitCode: number): CommandResult<never> {
  return { kind: 'service', exitCode };
}

export type Handler<F, D> = (flags: F, ctx: CommandContext, args: readonly string[]) => Promise<CommandResult<D>>;

export interface CommandSpec<F, D> {
  name: string;
  description: string;
  /** Accepts --json. */
  json?: boolean;
  /** Declares the command's options and arguments. */
  options?: (cmd: Command) => Command;
  run: Handler<F, D>;
  /** Required when the handler returns data to print; an undefined `data` prints nothing. */
  render?: Rendering<Exclude<D, undefined>>;
  /**
   * Data printed as text even with --json (as 2.0 prints a single value of
   * `config get|set` or a path of `show file`).
   */
  textOnly?: (data: D) => boolean;
}

/** A finished command: its result and what to print on stdout. */
export interface Completion {
  result: CommandResult<unknown>;
  stdout: string;
}

/** The rendering of a result in the format asked for (pure). */
export function renderResult<D>(result: CommandResult<D>, render: Rendering<Exclude<D, undefined>> | undefined, json: boolean): string {
  if (result.kind !== 'data' || render === undefined || result.data === undefined) return '';
  const value = result.data as Exclude<D, undefined>;
  if (json && render.json) return renderJson(render.json(value));
  return render.text(value);
}

/** Root commands keep the completion of the command that ran, for runCli. */
export interface CompletionHolder { completion?: Completion }

function rootOf(cmd: Command): Command {
  let root = cmd;
  while (root.parent) root = root.parent;
  return root;
}

/** Records a finished command on the root of its tree. */
export function complete<D>(cmd: Command, result: CommandResult<D>, render: Rendering<Exclude<D, undefined>> | undefined, json: boolean): void {
  (rootOf(cmd) as CompletionHolder).completion = { result, stdout: renderResult(result, render, json) };
}

/** Adds a leaf command under `parent`, wired to its handler and rendering. */
export function defineCommand<F, D>(parent: Command, spec: CommandSpec<F, D>): Command {
  const cmd = withCommonOptions(parent.command(spec.name).description(spec.description), spec.json ?? false);
  (spec.options ?? ((c: Command) => c))(cmd);
  cmd.action(async (...params: unknown[]) => {
    const self = params[params.length - 1] as Command;
    const ctx = contextFor(self);
    const result = await spec.run(self.opts() as F, ctx, self.processedArgs as string[]);
    const textOnly = result.kind === 'data' && spec.textOnly !== undefined && spec.textOnly(result.data);
    complete(self, result, spec.render, ctx.json && !textOnly);
  });
  return cmd;
}
