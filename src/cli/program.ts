/**
 * The command tree of pg_autoctl (spec 04 §2). Each command module adds its
 * commands with defineCommand (./command.ts): handlers return data, and
 * runCli is the one place that prints the rendering on stdout and turns
 * results and errors into exit codes.
 */
import { CommanderError, type Command, type Help } from 'commander';
import { AutoctlCommand, group, withCommonOptions } from './tree.js';
import { AutoctlError, EXIT_CODES, exitCodeFor, messageOf } from '../common/errors.js';
import { createLogger, logFormatOf, logLineFor, type Logger } from '../common/log.js';
import { maskSecrets } from '../common/secrets.js';
import { complete, data, type CommandResult, type CompletionHolder } from './command.js';
import type { LoggerHolder } from './context.js';
import { registerCreateCommands } from './commands/create.js';
import { registerConfigCommands } from './commands/config.js';
import { registerDoCommands } from './commands/do.js';
import { registerDropCommands } from './commands/drop.js';
import { registerGetSetCommands } from './commands/get-set.js';
import { registerMaintenanceCommands } from './commands/maintenance.js';
import { registerMonitorAttachCommands } from './commands/monitor-attach.js';
import { registerPerformCommands } from './commands/perform.js';
import { registerSecondaryCommands } from './commands/secondary.js';
import { registerRunCommand, registerSignalCommands } from './commands/service.js';
import { registerShowCommands } from './commands/show.js';
import { registerSslCommands } from './commands/ssl.js';
import { registerWatchCommand } from './commands/watch.js';
import { registerVersionCommand, versionInfo } from './commands/version.js';
import { versionRendering } from './render/version.js';

export function buildProgram(): AutoctlCommand {
  const program = new AutoctlCommand('pg_autoctl');
  program
    .description('pg_auto_failover control tools and service')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => process.stdout.write(text),
      writeErr: (text) => process.stderr.write(text),
    })
    .configureHelp({ sortSubcommands: false } satisfies Partial<Help>)
    .option('-V, --version', 'print pg_autoctl version');
  withCommonOptions(program, true);
  program.argument('[command]').allowExcessArguments(true).action((word: string | undefined, opts: { version?: boolean; json?: boolean }) => {
    if (opts.version) {
      complete(program, data(versionInfo()), versionRendering, Boolean(opts.json));
      return;
    }
    const what = word === undefined ? 'expected a command' : `${word}: unknown command`;
    throw new AutoctlError('BAD_ARGS', `pg_autoctl: ${what}\n\nAvailable commands:\n${program.commandList()}`);
  });

  // The order of 2.0's `pg_autoctl help`.
  registerCreateCommands(program);
  registerDropCommands(program);
  registerConfigCommands(program);
  registerShowCommands(program);
  const enable = group(program, 'enable', 'Enable a feature on a formation');
  const disable = group(program, 'disable', 'Disable a feature on a formation');
  registerSecondaryCommands(enable, disable);
  registerMaintenanceCommands(enable, disable);
  registerSslCommands(enable, disable);
  registerMonitorAttachCommands(enable, disable);
  registerGetSetCommands(program);
  registerPerformCommands(program);
  registerDoCommands(program);
  registerRunCommand(program);
  registerWatchCommand(program);
  registerSignalCommands(program);
  // Not defineCommand: `help` takes none of the common options.
  program.command('help').description('print help message').action(() => {
    complete(program, data(helpTree(program)), { text: (tree: string) => tree }, false);
  });
  registerVersionCommand(program);
  return program;
}

/**
 * `pg_autoctl help`: the whole tree as 2.0 prints it, one section per
 * group in depth-first order, `+` marking the groups, the names padded to
 * the longest name of their section.
 */
export function helpTree(root: Command): string {
  const visible = (cmd: Command): Command[] =>
    cmd.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden);
  const sections: string[] = [];
  const walk = (cmd: Command, breadcrumb: string): void => {
    const subs = visible(cmd);
    const width = Math.max(0, ...subs.map((c) => c.name().length));
    const lines = [`  ${breadcrumb}`];
    for (const sub of subs) {
      const mark = visible(sub).length > 0 ? '+' : ' ';
      lines.push(`  ${mark} ${sub.name().padEnd(width)}  ${sub.description()}`);
    }
    sections.push(lines.join('\n'));
    for (const sub of subs) if (visible(sub).length > 0) walk(sub, `${breadcrumb} ${sub.name()}`);
  };
  walk(root, root.name());
  return `${sections.join('\n\n')}\n`;
}

function refuseRoot(): void {
  if (process.getuid?.() === 0) {
    throw new AutoctlError('BAD_ARGS',
      'pg_autoctl must not be run as root: run it as the unprivileged account that owns the PostgreSQL data directory (for example: runuser -u postgres -- pg_autoctl ...)');
  }
}

/** Exit code of a command that returned (thrown errors go through exitCodeFor). */
function exitCodeOfResult(result: CommandResult<unknown>): number {
  if (result.kind === 'service') return result.exitCode;
  return result.status === undefined ? EXIT_CODES.QUIT : EXIT_CODES[result.status];
}

/**
 * For an error before the command made its logger (root refused, bad
 * option value): a JSON logger when --log-format or PG_AUTOCTL_LOG_FORMAT
 * asked for json, else none (text).
 */
function earlyErrorLogger(argv: readonly string[]): Logger | undefined {
  const at = argv.findIndex((a) => a === '--log-format' || a.startsWith('--log-format='));
  const given = at < 0 ? process.env.PG_AUTOCTL_LOG_FORMAT : argv[at]?.startsWith('--log-format=') ? argv[at]?.slice('--log-format='.length) : argv[at + 1];
  return given === 'json' ? createLogger({ format: 'json' }) : undefined;
}

export async function runCli(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    const args = argv.slice(2);
    const informational = args.length === 0 || args.some((a) => a === '--help' || a === '-h' || a === '--version' || a === '-V')
      || args[0] === 'help' || args[0] === 'version';
    if (!informational) refuseRoot();
    await program.parseAsync([...argv]);
    const completion = (program as CompletionHolder).completion;
    if (completion === undefined) return EXIT_CODES.QUIT;
    process.stdout.write(completion.stdout);
    return exitCodeOfResult(completion.result);
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return 0;
      return 1;
    }
    // In the format of the command's logger (--log-format): text puts the
    // lines after the first one as they are; JSON keeps them in its msg.
    const log = (program as LoggerHolder).log ?? earlyErrorLogger(argv);
    const message = maskSecrets(messageOf(error));
    const [first = '', ...rest] = message.split('\n');
    const json = logFormatOf(log) === 'json';
    const now = Date.now();
    process.stderr.write(logLineFor(log, { time: now, pid: process.pid, level: 60, msg: json ? message : first }));
    if (rest.length > 0 && !json) process.stderr.write(`${rest.join('\n')}\n`);
    if (error instanceof AutoctlError && error.hint) {
      process.stderr.write(logLineFor(log, { time: now, pid: process.pid, level: 30, msg: `HINT: ${maskSecrets(error.hint)}` }));
    }
    return exitCodeFor(error);
  }
}
