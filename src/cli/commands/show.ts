/**
 * `pg_autoctl show uri|state|events` (spec 04 §5): data from the monitor's
 * reporting functions, rendered as the original's tables or JSON.
 */
import type { Command } from 'commander';
import type pg from 'pg';
import { AutoctlError, badArgs } from '../../common/errors.js';
import { isKeeperConfig } from '../../config/index.js';
import { getHttpEndpoints } from '../../monitor-api/index.js';
import { contextFor } from '../context.js';
import { connectMonitor, resolveMonitor, withMonitor, type MonitorTarget } from '../monitor-target.js';
import { renderJson } from '../render/json.js';
import { renderTable } from '../render/table.js';
import { group, withCommonOptions } from '../tree.js';

interface ShowFlags { pgdata?: string; monitor?: string; formation?: string; group?: string; json?: boolean }

function formationOf(target: MonitorTarget, flags: ShowFlags): string {
  if (flags.formation !== undefined) return flags.formation;
  if (target.config && isKeeperConfig(target.config)) return target.config.pg_autoctl.formation;
  return 'default';
}

function groupOf(flags: ShowFlags): number | null {
  if (flags.group === undefined) return null;
  const n = Number(flags.group);
  if (!/^\d+$/.test(flags.group) || !Number.isInteger(n)) throw badArgs(`--group argument is not a valid group id: "${flags.group}"`);
  return n;
}

/** Connection type shown by `show state`, from the reported state (spec 04 §5.1). */
export function connectionType(state: string): string {
  if (['single', 'primary', 'wait_primary', 'join_primary', 'prepare_maintenance', 'apply_settings'].includes(state)) return 'read-write';
  if (['secondary', 'catchingup', 'prepare_promotion', 'stop_replication', 'wait_maintenance', 'fast_forward', 'join_secondary', 'report_lsn'].includes(state)) return 'read-only';
  return 'none';
}

interface StateRow {
  formation_kind: string; nodename: string; nodehost: string; nodeport: number; group_id: number; node_id: string;
  current_group_state: string; assigned_group_state: string; candidate_priority: number; replication_quorum: boolean;
  reported_tli: number; reported_lsn: string; health: number; nodecluster: string;
}

export function renderStateTable(rows: readonly StateRow[]): string {
  const citus = rows[0] !== undefined && rows[0].formation_kind !== 'pgsql';
  return renderTable([
    { header: 'Name', minWidth: 4 },
    { header: 'Node', minWidth: 5 },
    { header: 'Host:Port', minWidth: 10 },
    { header: 'TLI: LSN', minWidth: 9 },
    { header: 'Connection', minWidth: 12 },
    { header: 'Reported State', minWidth: 19 },
    { header: 'Assigned State', minWidth: 19 },
  ], rows.map((r) => [
    r.nodename,
    citus ? `${r.group_id}/${r.node_id}` : String(r.node_id),
    `${r.nodehost}:${r.nodeport}`,
    `${String(r.reported_tli).padStart(3)}: ${r.reported_lsn}`,
    `${connectionType(r.current_group_state)}${r.health === 0 ? ' !' : r.health === -1 ? ' ?' : ''}`,
    r.current_group_state,
    r.assigned_group_state,
  ]));
}

async function stateRows(client: pg.ClientBase, formation: string, groupId: number | null): Promise<StateRow[]> {
  const sql = groupId === null
    ? 'SELECT * FROM pgautofailover.current_state($1)'
    : 'SELECT * FROM pgautofailover.current_state($1, $2)';
  const { rows } = await client.query<StateRow>(sql, groupId === null ? [formation] : [formation, groupId]);
  return rows;
}

async function showState(flags: ShowFlags, cmd: Command): Promise<void> {
  const ctx = contextFor(cmd);
  const target = await resolveMonitor(ctx, flags);
  const formation = formationOf(target, flags);
  const groupId = groupOf(flags);
  const { rows, http } = await withMonitor(ctx, target, async (client) => ({
    rows: await stateRows(client, formation, groupId),
    http: ctx.json ? await getHttpEndpoints(client, formation) : [],
  }));
  if (ctx.json) {
    const portOf = new Map(http.map((h) => [h.nodeId, h.httpPort]));
    ctx.out(renderJson(rows.map((r) => ({ ...r, node_id: Number(r.node_id), http_port: portOf.get(Number(r.node_id)) ?? null }))));
    return;
  }
  ctx.out(renderStateTable(rows));
}

interface EventRow {
  eventid: string; eventtime: Date | string; eventtime_text: string; formationid: string; nodeid: string; groupid: number;
  nodename: string; nodehost: string; nodeport: number; reportedstate: string; goalstate: string; reportedrepstate: string | null;
  reportedtli: number; reportedlsn: string; candidatepriority: number | null; replicationquorum: boolean | null; description: string | null;
}

export function renderEventsTable(rows: readonly EventRow[]): string {
  return renderTable([
    { header: 'Event Time', minWidth: 30 },
    { header: 'Node', minWidth: 6 },
    { header: 'Current State', minWidth: 19 },
    { header: 'Assigned State', minWidth: 19 },
    { header: 'Comment', unpadded: true, separatorWidth: 10 },
  ], rows.map((r) => [r.eventtime_text, `${r.groupid}/${r.nodeid}`, r.reportedstate, r.goalstate, r.description ?? '']));
}

async function showEvents(flags: ShowFlags & { count?: string }, cmd: Command): Promise<void> {
  const ctx = contextFor(cmd);
  const count = flags.count === undefined ? 10 : Number(flags.count);
  if (flags.count !== undefined && (!/^\d+$/.test(flags.count) || !Number.isInteger(count))) {
    throw badArgs(`--count argument is not a valid count: "${flags.count}"`);
  }
  const target = await resolveMonitor(ctx, flags);
  const formation = formationOf(target, flags);
  const groupId = groupOf(flags);
  const rows = await withMonitor(ctx, target, async (client) => {
    const source = groupId === null
      ? 'pgautofailover.last_events($1, count => $2)'
      : 'pgautofailover.last_events($1, $3, count => $2)';
    const { rows: events } = await client.query<EventRow>(
      `SELECT e.*, e.eventtime::text AS eventtime_text,
              to_char(e.eventtime, 'YYYY-MM-DD"T"HH24:MI:SS.US') || to_char(e.eventtime, 'TZH:TZM') AS eventtime_iso
         FROM ${source} e`,
      groupId === null ? [formation, count] : [formation, count, groupId]);
    return events;
  });
  if (ctx.json) {
    ctx.out(renderJson(rows.map((r) => {
      const { eventtime_text: _t, eventtime_iso: iso, ...rest } = r as EventRow & { eventtime_iso: string };
      return { ...rest, eventid: Number(r.eventid), nodeid: Number(r.nodeid), eventtime: iso };
    })));
    return;
  }
  ctx.out(renderEventsTable(rows));
}

async function formationUri(client: pg.ClientBase, formation: string, ssl: { sslmode: string; ca: string; crl: string }): Promise<string | null> {
  const { rows } = await client.query<{ uri: string | null }>(
    'SELECT pgautofailover.formation_uri($1, \'default\', $2, $3, $4) AS uri', [formation, ssl.sslmode, ssl.ca, ssl.crl]);
  return rows[0]?.uri ?? null;
}

function sslOf(target: MonitorTarget): { sslmode: string; ca: string; crl: string } {
  if (target.config) {
    return { sslmode: target.config.ssl.sslmode, ca: target.config.ssl.ca_file, crl: target.config.ssl.crl_file };
  }
  const param = (k: string): string => target.conninfo.params.find(([key]) => key === k)?.[1] ?? '';
  return { sslmode: param('sslmode') || 'prefer', ca: param('sslrootcert'), crl: param('sslcrl') };
}

async function showUri(flags: ShowFlags, cmd: Command): Promise<void> {
  const ctx = contextFor(cmd);
  const target = await resolveMonitor(ctx, flags);
  if (flags.formation === 'monitor') {
    ctx.out(ctx.json ? renderJson({ monitor: target.uri }) : `${target.uri}\n`);
    return;
  }
  const ssl = sslOf(target);
  const client = await connectMonitor(ctx, target);
  try {
    if (flags.formation !== undefined) {
      const uri = await formationUri(client, flags.formation, ssl);
      if (uri === null) throw new AutoctlError('MONITOR', `Formation "${flags.formation}" currently has no nodes in group 0`);
      ctx.out(ctx.json ? renderJson({ monitor: target.uri, [flags.formation]: uri }) : `${uri}\n`);
      return;
    }
    const { rows } = await client.query<{ formationid: string }>('SELECT formationid FROM pgautofailover.formation ORDER BY formationid');
    const entries: Array<{ type: string; name: string; uri: string }> = [{ type: 'monitor', name: 'monitor', uri: target.uri }];
    for (const { formationid } of rows) {
      entries.push({ type: 'formation', name: formationid, uri: (await formationUri(client, formationid, ssl)) ?? '' });
    }
    // Not in 2.0: each keeper's HTTP listener (failsafe vouches).
    for (const endpoint of await getHttpEndpoints(client, null)) {
      entries.push({ type: 'http', name: endpoint.name, uri: `http://${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.httpPort}` });
    }
    if (ctx.json) {
      ctx.out(renderJson(entries.map((e) => ({ uri: e.uri, name: e.name, type: e.type }))));
      return;
    }
    const nameWidth = Math.max(7, ...entries.map((e) => e.name.length));
    ctx.out(renderTable([
      { header: 'Type', minWidth: 12 },
      { header: 'Name', minWidth: nameWidth },
      { header: 'Connection String', unpadded: true, separatorWidth: 30 },
    ], entries.map((e) => [e.type, e.name, e.uri])));
  } finally {
    await client.end().catch(() => undefined);
  }
}

function targetOptions(cmd: Command): Command {
  return cmd
    .option('--pgdata <dir>', 'path to data directory')
    .option('--monitor <uri>', 'pg_auto_failover Monitor Postgres URL')
    .option('--formation <name>', 'formation to query, defaults to \'default\'');
}

export function registerShowCommands(program: Command): void {
  const show = group(program, 'show', 'Show pg_auto_failover information');
  targetOptions(withCommonOptions(show.command('uri').description('Show the postgres uri to use to connect to pg_auto_failover nodes'), true))
    .action(showUri);
  targetOptions(withCommonOptions(show.command('events').description('Prints monitor\'s state of nodes in a given formation and group'), true))
    .option('--group <id>', 'group to query')
    .option('--count <n>', 'how many events to fetch, defaults to 10')
    .action(showEvents);
  targetOptions(withCommonOptions(show.command('state').description('Prints monitor\'s state of nodes in a given formation and group'), true))
    .option('--group <id>', 'group to query')
    .action(showState);
}
