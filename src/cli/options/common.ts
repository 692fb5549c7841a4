/**
 * The options that many commands share, with one help text each.
 */
import type { Command } from 'commander';

/** --pgdata: the node a command works on (else PGDATA). */
export const withPgdata = (cmd: Command): Command => cmd.option('--pgdata <dir>', 'path to data directory');

/** --pgdata and --monitor: a command that reaches the monitor, from a node or from anywhere. */
export const withMonitorTarget = (cmd: Command): Command =>
  withPgdata(cmd).option('--monitor <uri>', 'pg_auto_failover Monitor Postgres URL');

/** --pgdata, --monitor and --formation, with the formation's help text of the command. */
export const withFormationTarget = (cmd: Command, formationHelp: string): Command =>
  withMonitorTarget(cmd).option('--formation <name>', formationHelp);
