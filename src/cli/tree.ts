import { Command } from 'commander';
import { AutoctlError } from '../common/errors.js';

/**
 * A Command that reports unknown or missing sub-commands the way the
 * original does: `<breadcrumb>: <word>: unknown command` then the list.
 */
export class AutoctlCommand extends Command {
  override createCommand(name?: string): AutoctlCommand {
    return new AutoctlCommand(name);
  }

  breadcrumb(): string {
    const names = [this.name()];
    for (let parent = this.parent; parent; parent = parent.parent) names.unshift(parent.name());
    return names.join(' ');
  }

  commandList(): string {
    const width = Math.max(0, ...this.commands.map((c) => c.name().length));
    return this.commands.map((c) => `  ${c.name().padEnd(width)}  ${c.description()}`).join('\n');
  }

  unknownCommand(): never {
    const word = this.args[0] ?? '';
    throw new AutoctlError('BAD_ARGS', `${this.breadcrumb()}: ${word}: unknown command\n\nAvailable commands:\n${this.commandList()}`);
  }
}

/** Adds the options accepted at every level of the tree (spec 04 §1.1). */
export function withCommonOptions(cmd: Command, json = false): Command {
  cmd.option('-v, --verbose', 'increase log verbosity (repeatable)', (_v: string, prev: number) => prev + 1, 0)
    .option('-q, --quiet', 'only log errors')
    .option('--log-format <format>', 'format of the log lines on stderr: text (default) or json');
  if (json) cmd.option('--json', 'output data in the JSON format');
  return cmd;
}

/** A command group: running it without a sub-command is an error listing the choices. */
export function group(parent: Command, name: string, description: string): AutoctlCommand {
  const cmd = (parent as AutoctlCommand).command(name).description(description) as AutoctlCommand;
  withCommonOptions(cmd);
  cmd.argument('[command]').allowExcessArguments(true).action((word: string | undefined) => {
    const what = word === undefined ? 'expected a command' : `${word}: unknown command`;
    throw new AutoctlError('BAD_ARGS', `${cmd.breadcrumb()}: ${what}\n\nAvailable commands:\n${cmd.commandList()}`);
  });
  return cmd;
}

