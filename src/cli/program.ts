import { Command, CommanderError } from 'commander';
import { AutoctlError, exitCodeFor, messageOf } from '../common/errors.js';
import { VERSION } from '../common/version.js';

/** Builds the command tree. Handlers return data; rendering happens in each command module. */
export function buildProgram(): Command {
  const program = new Command('pg_autoctl')
    .description('pg_auto_failover control tools and service')
    .version(`pg_autoctl version ${VERSION}`, '--version', 'print pg_autoctl version')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) });
  return program;
}

function refuseRoot(): void {
  if (process.getuid?.() === 0) {
    throw new AutoctlError('BAD_ARGS',
      'pg_autoctl must not be run as root: run it as the unprivileged account that owns the PostgreSQL data directory (for example: runuser -u postgres -- pg_autoctl ...)');
  }
}

export async function runCli(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    const args = argv.slice(2);
    const informational = args.length === 0 || args.includes('--help') || args.includes('-h') || args[0] === 'help' || args.includes('--version') || args[0] === 'version';
    if (!informational) refuseRoot();
    await program.parseAsync([...argv]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 1;
    process.stderr.write(`pg_autoctl: ${messageOf(error)}\n`);
    if (error instanceof AutoctlError && error.hint) process.stderr.write(`HINT: ${error.hint}\n`);
    return exitCodeFor(error);
  }
}
