/**
 * `pg_autoctl create postgres` (spec 04 §3.2): parses and checks the
 * options, then src/keeper/create-node.ts registers the node, and a
 * supervisor drives it to its first stable state: the transient
 * `node-init` service, or with --run the permanent `node-active` one.
 */
import { badArgs, messageOf } from '../../common/errors.js';
import { maskSecrets } from '../../common/secrets.js';
import { MONITOR_SCHEMA_VERSION, VERSION } from '../../common/version.js';
import { readInitFileIfExists, removePidFile, writePidFile, type AutoctlPaths, type KeeperConfig } from '../../config/index.js';
import { createNode, type CreateNodeOptions } from '../../keeper/create-node.js';
import { keeperInitService } from '../../keeper/service.js';
import { findPgBinaries, parseConnInfo } from '../../postgres/index.js';
import { createPostgresController } from '../../supervisor/postgres-controller.js';
import { localPostgresPort } from '../../supervisor/local-postgres.js';
import { runSupervisor } from '../../supervisor/supervisor.js';
import { done, serviceEnded, type CommandResult, type CommandSpec } from '../command.js';
import type { CommandContext } from '../context.js';
import { resolveAuth } from '../options/auth.js';
import { defaultPort, parseHttpPort, sslInput, withSslOptions } from '../options/create-node.js';
import { resolveSslOptions, type SslOptionsInput } from '../options/ssl.js';
import { parsePgBool } from '../options/values.js';
import { logAsConfigured, resolvePgdata } from '../target.js';
import { runNode } from './run-node.js';

interface CreatePostgresFlags extends SslOptionsInput {
  ssl?: boolean;
  pgdata?: string;
  pgport?: string;
  pgctl?: string;
  pghost?: string;
  listen?: string;
  username?: string;
  dbname?: string;
  name?: string;
  hostname?: string;
  formation?: string;
  group?: string;
  monitor?: string;
  auth?: string;
  skipPgHba?: boolean;
  pgHbaLan?: boolean;
  candidatePriority?: string;
  replicationQuorum?: string;
  maximumBackupRate?: string;
  httpPort?: string;
  run?: boolean;
  disableMonitor?: boolean;
  nodeId?: string;
}

function parseCandidatePriority(value: string | undefined): number {
  if (value === undefined) return 50;
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || n < 0 || n > 100) {
    throw badArgs('--candidate-priority argument is not valid. Valid values are integers from 0 to 100. ');
  }
  return n;
}

function parseReplicationQuorum(value: string | undefined): boolean {
  if (value === undefined) return true;
  try {
    return parsePgBool(value, '--replication-quorum');
  } catch {
    throw badArgs('--replication-quorum argument is not valid. Valid values are "true" or "false".');
  }
}

function parseMonitorUri(value: string | undefined): string {
  if (value === undefined || value === '') {
    throw badArgs('Failed to set the monitor URI: use either --monitor postgresql://... or --disable-monitor');
  }
  if (value.length >= 1024) throw badArgs(`Failed to parse --monitor connection string: it is longer than 1023 bytes`);
  try {
    parseConnInfo(value);
  } catch (error) {
    throw badArgs(`Failed to parse --monitor connection string "${maskSecrets(value)}": ${maskSecrets(messageOf(error))}`);
  }
  return value;
}

/** All checks of spec 04 §3.2 that need no I/O, into the options of createNode. */
function resolveOptions(flags: CreatePostgresFlags, ctx: CommandContext): CreateNodeOptions {
  const env = ctx.env;
  if (flags.group !== undefined) throw badArgs('--group is not supported by pg_autoctl create postgres: pgsql formations only have group 0');
  if (flags.disableMonitor) {
    throw badArgs('--disable-monitor is not supported by this version of pg_autoctl create postgres');
  }
  // PG_REGRESS_SOCK_DIR set to '' marks the original's test environments,
  // where 2.x opens the LAN in pg_hba.conf for the test runner.
  const hbaLan = Boolean(flags.pgHbaLan) || (env.PG_AUTOCTL_PG_HBA_LAN !== undefined && env.PG_AUTOCTL_PG_HBA_LAN !== '')
    || (env.PG_REGRESS_SOCK_DIR === '' && !flags.skipPgHba);
  if (flags.skipPgHba && hbaLan) throw badArgs('Please use either --skip-pg-hba or --pg-hba-lan');
  const auth = resolveAuth(flags.auth ?? env.PG_AUTOCTL_AUTH_METHOD, flags.skipPgHba);
  const ssl = resolveSslOptions(sslInput(flags, ctx), ctx.cwd);
  for (const note of ssl.notes) ctx.log[note.level](note.message);
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  const portGiven = flags.pgport !== undefined || (env.PGPORT !== undefined && env.PGPORT !== '');
  const port = portGiven ? defaultPort(ctx, flags.pgport) : undefined;
  if (flags.hostname === '') throw badArgs('--hostname must not be empty');
  return {
    pgdata,
    port,
    pgctl: flags.pgctl,
    pghost: flags.pghost ?? (env.PGHOST || undefined),
    listen: flags.listen ?? '*',
    username: flags.username ?? (env.PGUSER || undefined),
    dbname: flags.dbname ?? (env.PGDATABASE || 'postgres'),
    name: flags.name ?? (env.PG_AUTOCTL_NODE_NAME || undefined),
    hostname: flags.hostname,
    formation: flags.formation ?? 'default',
    monitorUri: parseMonitorUri(flags.monitor ?? env.PG_AUTOCTL_MONITOR),
    authMethod: auth.method,
    skipHba: auth.skipHba,
    hbaLan,
    ssl,
    candidatePriority: parseCandidatePriority(flags.candidatePriority ?? env.PG_AUTOCTL_CANDIDATE_PRIORITY),
    replicationQuorum: parseReplicationQuorum(flags.replicationQuorum ?? env.PG_AUTOCTL_REPLICATION_QUORUM),
    maximumBackupRate: flags.maximumBackupRate ?? '100M',
    httpPort: parseHttpPort(flags.httpPort ?? env.PG_AUTOCTL_HTTP_PORT),
    env,
    cwd: ctx.cwd,
  };
}

/** A supervisor with the Postgres controller and the transient node-init service; its exit code. */
async function runNodeInit(ctx: CommandContext, created: { paths: AutoctlPaths; config: KeeperConfig }, pgdataAsGiven: string): Promise<number> {
  const { paths, config } = created;
  logAsConfigured(ctx, config);
  const bin = await findPgBinaries({ ...(config.postgresql.pg_ctl ? { pgctl: config.postgresql.pg_ctl } : {}), env: ctx.env });
  const postgres = createPostgresController(localPostgresPort({
    bin, pgdata: paths.pgdata, port: config.postgresql.port, listenAddresses: config.postgresql.listen_addresses || '*', env: ctx.env,
  }), ctx.log);
  const service = keeperInitService({ paths, config, env: ctx.env });
  const header = { pid: process.pid, pgdata: pgdataAsGiven, version: VERSION, schemaVersion: MONITOR_SCHEMA_VERSION, semId: 0 };
  return runSupervisor({
    log: ctx.log,
    postgres,
    services: [service],
    writePidFile: async (running) => {
      const pgPid = postgres.pid();
      await writePidFile(paths.pid, {
        ...header,
        services: [...(pgPid === null ? [] : [{ pid: pgPid, name: 'postgres' }]), ...running, { pid: process.pid, name: service.name }],
      });
    },
    removePidFile: async () => { await removePidFile(paths.pid); },
  });
}

async function createPostgresHandler(flags: CreatePostgresFlags, ctx: CommandContext): Promise<CommandResult<void>> {
  const options = resolveOptions(flags, ctx);
  const result = await createNode(options, ctx.log);
  if (flags.run) return serviceEnded(await runNode(ctx, options.pgdata));
  if (result.outcome === 'already-initialized') {
    ctx.log.fatal(`The state file "${result.paths.state}" exists and there's no init in progress`);
    ctx.log.info('HINT: use `pg_autoctl run` to start the service.');
    return done();
  }
  const code = await runNodeInit(ctx, result, options.pgdata);
  if (code !== 0) return serviceEnded(code);
  // The supervisor also returns 0 when a signal stopped it: init is done only once the init file is gone.
  if ((await readInitFileIfExists(result.paths.init)) !== undefined) {
    ctx.log.error(`pg_autoctl create postgres was interrupted before the keeper was initialized; the init file "${result.paths.init}" is still there`);
    ctx.log.info('HINT: run the same pg_autoctl create postgres command again, or pg_autoctl run, to resume the initialization.');
    return done('BAD_STATE');
  }
  ctx.log.info('keeper has been successfully initialized.');
  return done();
}

/** `create postgres`, added to the `create` group by ./create.ts. */
export const createPostgresCommand: CommandSpec<CreatePostgresFlags, void> = {
  name: 'postgres',
  description: 'Initialize a pg_auto_failover standalone postgres node',
  options: (cmd) => withSslOptions(cmd
    .option('--pgctl <path>', 'path to pg_ctl')
    .option('--pgdata <dir>', 'path to data directory')
    .option('--pghost <host>', 'PostgreSQL\'s hostname (for local connections)')
    .option('--pgport <port>', 'PostgreSQL\'s port number')
    .option('--listen <addr>', 'PostgreSQL\'s listen_addresses')
    .option('--username <name>', 'PostgreSQL\'s username')
    .option('--dbname <name>', 'PostgreSQL\'s database name')
    .option('--name <name>', 'pg_auto_failover node name')
    .option('--hostname <name>', 'hostname used to connect from the other nodes')
    .option('--formation <name>', 'pg_auto_failover formation')
    .option('--group <id>', 'pg_auto_failover group (not supported for pgsql formations)')
    .option('--monitor <uri>', 'pg_auto_failover Monitor Postgres URL')
    .option('--auth <method>', 'authentication method for connections from other nodes')
    .option('--skip-pg-hba', 'skip editing pg_hba.conf rules')
    .option('--pg-hba-lan', 'edit pg_hba.conf rules for --dbname in detected LAN')
    .option('--candidate-priority <n>', 'priority of the node to be promoted to become primary')
    .option('--replication-quorum <bool>', 'true if node participates in write quorum')
    .option('--maximum-backup-rate <rate>', 'maximum transfer rate of data transferred from the server during initial sync')
    .option('--http-port <port>', 'port of the keeper\'s HTTP listener (failsafe vouches); 0 for none; default: 8008 shifted like --pgport')
    .option('--disable-monitor', 'do not use a monitor (not supported)')
    .option('--node-id <id>', 'node id when the monitor is disabled (not supported)')
    .option('--run', 'create node then run pg_autoctl service')),
  run: createPostgresHandler,
};
