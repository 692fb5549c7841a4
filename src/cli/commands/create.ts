/**
 * `pg_autoctl create monitor|postgres|formation` (spec 04 §3).
 */
import type { Command } from 'commander';
import { badArgs } from '../../common/errors.js';
import { ETCD_ENDPOINTS_EXPECTED, etcdEndpointsOf } from '../../config/index.js';
import { checkGivenHostname, DEFAULT_ROUTE, discoverHostname } from '../../postgres/index.js';
import { createMonitor } from '../../monitor/create-monitor.js';
import { parseStandbyOf } from '../../monitor/ha/standby-create.js';
import { createFormation, type FormationKind } from '../../monitor-api/index.js';
import { defineCommand, done, serviceEnded, type CommandResult } from '../command.js';
import { withFormationTarget } from '../options/common.js';
import type { CommandContext } from '../context.js';
import { resolveAuth } from '../options/auth.js';
import { defaultPort, parseHttpPort, sslInput, withSslOptions } from '../options/create-node.js';
import { resolveSslOptions, type SslOptionsInput } from '../options/ssl.js';
import { group } from '../tree.js';
import { resolvePgdata } from '../target.js';
import { resolveMonitor, withMonitor } from '../monitor-target.js';
import { monitorFailure } from '../wait-events.js';
import { createPostgresCommand } from './create-postgres.js';
import { runNode } from './run-node.js';

interface CreateMonitorFlags extends SslOptionsInput {
  ssl?: boolean;
  pgdata?: string;
  pgport?: string;
  pgctl?: string;
  hostname?: string;
  listen?: string;
  auth?: string;
  skipPgHba?: boolean;
  httpPort?: string;
  etcd?: string;
  standbyOf?: string;
  rebuildFromNodes?: boolean;
  run?: boolean;
}

/** `--etcd`: the endpoint list, checked and normalised (bare host:port means http://). */
export function parseEtcdOption(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const endpoints = etcdEndpointsOf(text);
  if (endpoints === undefined) throw badArgs(`--etcd "${text}" is not valid: expected ${ETCD_ENDPOINTS_EXPECTED}`);
  return endpoints.join(',');
}

async function createMonitorHandler(flags: CreateMonitorFlags, ctx: CommandContext): Promise<CommandResult<void>> {
  const etcd = parseEtcdOption(flags.etcd);
  const auth = resolveAuth(flags.auth ?? ctx.env.PG_AUTOCTL_AUTH_METHOD, flags.skipPgHba);
  const ssl = resolveSslOptions(sslInput(flags, ctx), ctx.cwd);
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  const port = defaultPort(ctx, flags.pgport);
  for (const note of ssl.notes) ctx.log[note.level](note.message);

  let hostname = flags.hostname;
  if (hostname === undefined) {
    const found = await discoverHostname(DEFAULT_ROUTE, { tryGethostname: true });
    hostname = found.hostname;
    ctx.log.info(found.source === 'ip' ? `Using local IP address "${found.ip}" as the --hostname.`
      : `Using --hostname "${found.hostname}", which resolves to IP address "${found.ip}"`);
  } else {
    const warning = await checkGivenHostname(hostname);
    if (warning) ctx.log.warn(warning);
  }
  if (hostname === '') throw badArgs('--hostname must not be empty');

  const httpPort = parseHttpPort(flags.httpPort);
  if (flags.standbyOf !== undefined && flags.rebuildFromNodes === true) {
    throw badArgs('--standby-of and --rebuild-from-nodes cannot be used together: a standby copies the monitor database, a rebuild starts an empty one');
  }
  if (flags.standbyOf !== undefined) parseStandbyOf(flags.standbyOf);
  const created = await createMonitor({
    standbyOf: flags.standbyOf,
    pgdata, port, pgctl: flags.pgctl, hostname, listen: flags.listen ?? '*', httpPort, etcd,
    authMethod: auth.method, skipHba: auth.skipHba, ssl, env: ctx.env, cwd: ctx.cwd,
    rebuildFromNodes: flags.rebuildFromNodes === true,
  }, ctx.log, Boolean(flags.run));
  return flags.run ? serviceEnded(await runNode(ctx, created.paths.pgdata)) : done();
}

interface CreateFormationFlags {
  pgdata?: string;
  monitor?: string;
  formation?: string;
  kind?: string;
  dbname?: string;
  enableSecondary?: boolean;
  disableSecondary?: boolean;
  numberSyncStandbys?: string;
}

async function createFormationHandler(flags: CreateFormationFlags, ctx: CommandContext): Promise<CommandResult<void>> {
  const { formation, kind } = flags;
  if (!formation || !kind) throw badArgs('Options --formation and --kind are mandatory');
  if (flags.enableSecondary && flags.disableSecondary) throw badArgs('Please use either --enable-secondary or --disable-secondary, not both');
  let numberSyncStandbys = 0;
  if (flags.numberSyncStandbys !== undefined) {
    numberSyncStandbys = Number(flags.numberSyncStandbys);
    if (!/^\d+$/.test(flags.numberSyncStandbys.trim()) || !Number.isSafeInteger(numberSyncStandbys)) {
      throw badArgs('--number-sync-standbys argument is not valid. Use a non-negative integer value.');
    }
  }
  const optSecondary = !flags.disableSecondary;
  const target = await resolveMonitor(ctx, flags);
  await withMonitor(ctx, target, async (client) => {
    try {
      await createFormation(client, {
        // As 2.0, the monitor checks the kind (`unknown formation kind "x"`, exit 6).
        formation, kind: kind as FormationKind, dbname: flags.dbname ?? 'postgres', optSecondary, numberSyncStandbys,
      });
    } catch (error) {
      throw monitorFailure(ctx, error, `Failed to create formation "${formation}" on the monitor, see above for details`);
    }
  });
  ctx.log.info(`Created formation "${formation}" of kind "${kind}" on the monitor, with secondary ${optSecondary ? 'enabled' : 'disabled'}.`);
  return done();
}

export function registerCreateCommands(program: Command): void {
  const create = group(program, 'create', 'Create a pg_auto_failover node, or formation');
  defineCommand(create, {
    name: 'monitor',
    description: 'Initialize a pg_auto_failover monitor node',
    options: (cmd) => withSslOptions(cmd
      .option('--pgctl <path>', 'path to pg_ctl')
      .option('--pgdata <dir>', 'path to data directory')
      .option('--pgport <port>', 'PostgreSQL\'s port number')
      .option('--hostname <name>', 'hostname by which postgres is reachable')
      .option('--listen <addr>', 'PostgreSQL\'s listen_addresses')
      .option('--auth <method>', 'authentication method for connections from data nodes')
      .option('--skip-pg-hba', 'skip editing pg_hba.conf rules')
      .option('--http-port <port>', 'port of the service\'s HTTP listener (metrics, status page; 0: off)')
      .option('--etcd <endpoints>', 'etcd endpoints for automatic monitor failover (comma separated)')
      .option('--standby-of <uri>', 'create a streaming standby of the monitor at this URI')
      .option('--rebuild-from-nodes', 'create an empty monitor that the running nodes register into again, roles unchanged')
      .option('--run', 'create node then run pg_autoctl service')),
    run: createMonitorHandler,
  });
  defineCommand(create, createPostgresCommand);
  defineCommand(create, {
    name: 'formation',
    description: 'Create a new formation on the pg_auto_failover monitor',
    options: (cmd) => withFormationTarget(cmd, 'name of the formation to create')
      .option('--kind <kind>', 'formation kind, either "pgsql" or "citus"')
      .option('--dbname <name>', 'name for postgres database to use in this formation')
      .option('--enable-secondary', 'create a formation that has multiple nodes that can be used for fail over when others have issues')
      .option('--disable-secondary', 'create a citus formation without nodes to fail over to')
      .option('--number-sync-standbys <n>', 'minimum number of standbys to confirm write'),
    run: createFormationHandler,
  });
}
