/**
 * `pg_autoctl enable|disable secondary` (spec 04 §6.1): whether a
 * formation accepts standby nodes. Needs a local node (monitor or keeper)
 * to find the monitor.
 */
import type { Command } from 'commander';
import { badArgs } from '../../common/errors.js';
import { disableSecondary, enableSecondary } from '../../monitor-api/index.js';
import { defineCommand, done, type CommandResult } from '../command.js';
import { withPgdata } from '../options/common.js';
import type { CommandContext } from '../context.js';
import { resolveMonitor, withMonitor } from '../monitor-target.js';
import { monitorFailure } from '../wait-events.js';

interface SecondaryFlags { pgdata?: string; formation?: string }

function secondaryHandler(enable: boolean) {
  return async (flags: SecondaryFlags, ctx: CommandContext): Promise<CommandResult<void>> => {
    const formation = flags.formation;
    if (formation === undefined || formation === '') throw badArgs('Option --formation is mandatory');
    const target = await resolveMonitor(ctx, { ...(flags.pgdata === undefined ? {} : { pgdata: flags.pgdata }) });
    await withMonitor(ctx, target, async (client) => {
      try {
        await (enable ? enableSecondary(client, formation) : disableSecondary(client, formation));
      } catch (error) {
        throw monitorFailure(ctx, error,
          `Failed to ${enable ? 'enable' : 'disable'} secondaries on formation "${formation}", see above for details`);
      }
    });
    ctx.log.info(enable
      ? `Enabled secondaries for formation "${formation}", make sure to add worker nodes to the formation to have secondaries ready for failover.`
      : `Disabled secondaries for formation "${formation}".`);
    return done();
  };
}

export function registerSecondaryCommands(enable: Command, disable: Command): void {
  for (const [parent, on] of [[enable, true], [disable, false]] as const) {
    defineCommand(parent, {
      name: 'secondary',
      description: on ? 'Enable secondary nodes on a formation' : 'Disable secondary nodes on a formation',
      options: (cmd) => withPgdata(cmd)
        .option('--formation <name>', `Formation to ${on ? 'enable' : 'disable'} secondary on`),
      run: secondaryHandler(on),
    });
  }
}
