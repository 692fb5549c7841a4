/** Reporting: what `show` and the operators read. */
import { call, one, maybeOne, type MonitorClient, type Row } from './call.js';
import {
  type CurrentStateRow, type EventRow, type FormationRow, type FormationSettingRow, type NodeId, type NodeRow, asInt, asNullableText, asText, mapCurrentState, mapEvent, mapFormation, mapFormationSetting, mapNode,
} from './types.js';

// ---------------------------------------------------------------------------
// Reporting

/** current_state: the nodes of a formation (or one group), by group then node id. */
export function currentState(client: MonitorClient, formation = 'default', groupId?: number): Promise<CurrentStateRow[]> {
  return groupId === undefined
    ? call(client, 'current_state', 'SELECT * FROM pgautofailover.current_state($1::text)',
      [formation], (rows) => rows.map(mapCurrentState))
    : call(client, 'current_state', 'SELECT * FROM pgautofailover.current_state($1::text, $2::int)',
      [formation, groupId], (rows) => rows.map(mapCurrentState));
}

/**
 * last_events: the `count` latest events, oldest first; of all formations
 * when `formation` is absent, else of the formation (and group).
 */
export function lastEvents(client: MonitorClient,
  options: { formation?: string; groupId?: number; count?: number } = {}): Promise<EventRow[]> {
  const count = options.count ?? 10;
  const map = (rows: Row[]): EventRow[] => rows.map(mapEvent);
  if (options.formation === undefined) {
    return call(client, 'last_events', 'SELECT * FROM pgautofailover.last_events($1::int)', [count], map);
  }
  if (options.groupId === undefined) {
    return call(client, 'last_events', 'SELECT * FROM pgautofailover.last_events($1::text, count => $2::int)',
      [options.formation, count], map);
  }
  return call(client, 'last_events', 'SELECT * FROM pgautofailover.last_events($1::text, $2::int, $3::int)',
    [options.formation, options.groupId, count], map);
}

export interface FormationUriOptions {
  formation?: string;
  cluster?: string;
  sslmode?: string;
  sslrootcert?: string;
  sslcrl?: string;
}

/** formation_uri: the multi-host URI of the formation's group 0, null when it has no node. */
export function formationUri(client: MonitorClient, options: FormationUriOptions = {}): Promise<string | null> {
  return call(client, 'formation_uri',
    'SELECT pgautofailover.formation_uri($1::text, $2::text, $3::text, $4::text, $5::text) AS uri',
    [options.formation ?? 'default', options.cluster ?? 'default', options.sslmode ?? 'prefer',
      options.sslrootcert ?? '', options.sslcrl ?? ''],
    one('formation_uri', (row) => asNullableText(row.uri)));
}

/** formation_settings: formation, primary and node rows in the function's order. */
export function formationSettings(client: MonitorClient, formation = 'default'): Promise<FormationSettingRow[]> {
  return call(client, 'formation_settings', 'SELECT * FROM pgautofailover.formation_settings($1::text)',
    [formation], (rows) => rows.map(mapFormationSetting));
}

/** The formation row, read from the table. */
export function getFormation(client: MonitorClient, formation: string): Promise<FormationRow | undefined> {
  return call(client, 'formation', 'SELECT * FROM pgautofailover.formation WHERE formationid = $1',
    [formation], maybeOne(mapFormation));
}

/** A node row, by id or by formation and name. */
export function getNode(client: MonitorClient, key: { nodeId: NodeId } | { formation: string; name: string }): Promise<NodeRow | undefined> {
  return 'nodeId' in key
    ? call(client, 'node', 'SELECT * FROM pgautofailover.node WHERE nodeid = $1::bigint', [key.nodeId], maybeOne(mapNode))
    : call(client, 'node', 'SELECT * FROM pgautofailover.node WHERE formationid = $1 AND nodename = $2',
      [key.formation, key.name], maybeOne(mapNode));
}

/** Number of groups holding nodes in the formation. */
export function countGroups(client: MonitorClient, formation: string): Promise<number> {
  return call(client, 'node', 'SELECT count(DISTINCT groupid) AS groups FROM pgautofailover.node WHERE formationid = $1',
    [formation], one('node', (row) => asInt(row.groups)));
}

/** The formation ids, in order. */
export function listFormations(client: MonitorClient): Promise<string[]> {
  return call(client, 'formation', 'SELECT formationid FROM pgautofailover.formation ORDER BY formationid',
    [], (rows) => rows.map((row) => asText(row.formationid, 'formationid')));
}

/** An event with its time as `show events` prints it (microseconds, the session's time zone). */
export interface ShownEventRow extends EventRow {
  /** `eventtime::text`, e.g. `2024-05-01 10:00:00.123456+00`. */
  eventTimeText: string;
  /** ISO 8601 with microseconds and offset, e.g. `2024-05-01T10:00:00.123456+00:00`. */
  eventTimeIso: string;
}

/** last_events of a formation (and group), oldest first, with the time texts of `show events`. */
export function lastEventsShown(client: MonitorClient,
  options: { formation: string; groupId?: number; count?: number }): Promise<ShownEventRow[]> {
  const count = options.count ?? 10;
  const source = options.groupId === undefined
    ? 'pgautofailover.last_events($1::text, count => $2::int)'
    : 'pgautofailover.last_events($1::text, $3::int, count => $2::int)';
  return call(client, 'last_events',
    `SELECT e.*, e.eventtime::text AS eventtime_text,
            to_char(e.eventtime, 'YYYY-MM-DD"T"HH24:MI:SS.US') || to_char(e.eventtime, 'TZH:TZM') AS eventtime_iso
       FROM ${source} e`,
    options.groupId === undefined ? [options.formation, count] : [options.formation, count, options.groupId],
    (rows) => rows.map((row) => ({
      ...mapEvent(row),
      eventTimeText: asText(row.eventtime_text, 'eventtime_text'),
      eventTimeIso: asText(row.eventtime_iso, 'eventtime_iso'),
    })));
}
