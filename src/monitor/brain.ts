/**
 * The thin shell around decide() (DESIGN.md decision 3): per group, one
 * transaction that takes the group lock, reads the snapshot, runs the pure
 * decision, writes goal states, events, priority changes, removals and
 * request outcomes, stores synchronous_standby_names, and commits (the
 * SQL helpers send the `state` and `log` notifications at commit).
 *
 * Times: every time in the snapshot is on this process's monotonic clock
 * (performance.now()). Times stored by Postgres are turned into ages by
 * Postgres itself (now() - column) and subtracted from the monotonic now,
 * so no two clocks are ever compared. The write lease comes from the
 * committed `leasegranttime` that node_active writes when it returns a
 * writable goal, read as an age like the other times; notifications are
 * only hints that a group needs a decision (anyone may pg_notify).
 *
 * Node ids arrive as text (bigint): they are used as numbers only when
 * exact, and a group holding an id beyond 2^53 is refused as a whole with
 * a clear error, without affecting the other groups.
 *
 * Locks: the group lock is taken without waiting (try_lock_group) and the
 * node rows with NOWAIT, so that a client holding a lock stalls at most
 * its own group, which is then reported as busy and retried later.
 */
import type pg from 'pg';
import type { Logger } from '../common/log.js';
import {
  decide, isNodeState, parseLsn, isWritableState, planRegistration, synchronousStandbyNames,
  type Decision, type FsmSettings, type GroupSnapshot, type NodeSnapshot, type NodeState, type OperatorRequest, type SyncState, type WriteLease,
} from '../fsm/index.js';
import { fsmSettingsFrom, type MonitorSettings } from './settings.js';

/** Outcome of one group decision: `busy` when a lock was held by another transaction (retry later). */
export type GroupOutcome =
  | { readonly kind: 'decided'; readonly decision: Decision }
  | { readonly kind: 'empty' }
  | { readonly kind: 'busy' };

export interface GroupKey { readonly formationId: string; readonly groupId: number }

export interface Brain {
  decideGroup(formationId: string, groupId: number): Promise<GroupOutcome>;
  /** The groups that have nodes, by formation and group id. */
  listGroups(): Promise<GroupKey[]>;
  /** Earliest monotonic time at which some group must be decided again, or null. */
  nextRecheck(): number | null;
}

interface NodeRow {
  nodeid: string; nodename: string; nodehost: string; nodeport: number; goalstate: string; reportedstate: string;
  health: number; healthcheck_age_ms: number; report_age_ms: number; goalchange_age_ms: number;
  reportedlsn: string; reportedtli: number; reportedpgisrunning: boolean | null; reportedrepstate: string | null;
  candidatepriority: number; replicationquorum: boolean; keepergoalstate: string | null; lease_age_ms: number | null;
}

interface RequestRow { id: string; kind: string; nodeid: string | null; force: boolean }

const SYNC_STATES: readonly SyncState[] = ['unknown', 'sync', 'async', 'quorum', 'potential'];

function state(value: string): NodeState {
  return isNodeState(value) ? value : 'unknown';
}

/** A bigint from the database as an exact JavaScript number, or null beyond 2^53. */
export function exactId(text: string | number | bigint): number | null {
  const value = typeof text === 'bigint' ? text : BigInt(text);
  const n = Number(value);
  return Number.isSafeInteger(n) && BigInt(n) === value ? n : null;
}

/** A node id the decisions cannot represent exactly. */
export class InexactNodeIdError extends Error {
  constructor(readonly formationId: string, readonly groupId: number, readonly nodeId: string) {
    super(`group ${groupId} of formation "${formationId}" has node id ${nodeId}, which is beyond 2^53: `
      + 'the monitor does not decide for this group until that node is removed');
  }
}

function exactNodeId(formationId: string, groupId: number, text: string): number {
  const id = exactId(text);
  if (id === null) throw new InexactNodeIdError(formationId, groupId, text);
  return id;
}

/**
 * When the monitor started, as the health rules see it: the later of the
 * Postgres start and this service's start, so that a restarted service
 * waits startup_grace_period before it finds a silent node unhealthy.
 */
export function monitorStartedAt(now: number, postgresAgeMs: number, serviceStartedAt: number): number {
  return Math.max(now - postgresAgeMs, serviceStartedAt);
}

function toRequest(row: RequestRow): OperatorRequest | null {
  const id = exactId(row.id);
  if (id === null) return null;
  const exactNode = row.nodeid === null ? undefined : exactId(row.nodeid);
  if (exactNode === null) return null; // no such node can be in the snapshot
  const nodeId = exactNode;
  switch (row.kind) {
    case 'failover': return { id, kind: 'failover' };
    case 'switchover': return { id, kind: 'switchover' };
    case 'promotion': return nodeId === undefined ? null : { id, kind: 'promotion', nodeId };
    case 'maintenance_on': return nodeId === undefined ? null : { id, kind: 'maintenance', nodeId, enable: true };
    case 'maintenance_off': return nodeId === undefined ? null : { id, kind: 'maintenance', nodeId, enable: false };
    case 'remove': return nodeId === undefined ? null : { id, kind: 'remove', nodeId, force: row.force };
    case 'settings_changed': return nodeId === undefined ? { id, kind: 'settings_changed' } : { id, kind: 'settings_changed', nodeId };
    default: return null;
  }
}

export interface BrainDeps {
  client: pg.ClientBase;
  log: Logger;
  settings: () => MonitorSettings;
  /** Monotonic clock in ms (performance.now by default). */
  clock?: () => number;
}

export function createBrain(deps: BrainDeps): Brain {
  const { client, log } = deps;
  const clock = deps.clock ?? ((): number => performance.now());
  const startedAt = clock();
  /**
   * The latest lease grant known per group key: from the committed
   * leasegranttime of the group's nodes, kept when the row goes away, and
   * never moved back.
   */
  const leases = new Map<string, WriteLease>();
  const recheck = new Map<string, number>();

  const key = (formationId: string, groupId: number): string => `${formationId}\u0000${groupId}`;

  async function snapshotOf(formationId: string, groupId: number, now: number): Promise<GroupSnapshot | null> {
    const formation = await client.query<{ number_sync_standbys: number; monitor_age_ms: number }>(
      `SELECT number_sync_standbys,
              (extract(epoch FROM now() - pg_postmaster_start_time()) * 1000)::float8 AS monitor_age_ms
         FROM pgautofailover.formation WHERE formationid = $1`, [formationId]);
    const f = formation.rows[0];
    if (!f) return null;
    const { rows } = await client.query<NodeRow>(
      `SELECT nodeid, nodename, nodehost, nodeport, goalstate::text, reportedstate::text, health,
              (extract(epoch FROM now() - healthchecktime) * 1000)::float8 AS healthcheck_age_ms,
              (extract(epoch FROM now() - reporttime) * 1000)::float8 AS report_age_ms,
              (extract(epoch FROM now() - goalchangetime) * 1000)::float8 AS goalchange_age_ms,
              reportedlsn::text, reportedtli, reportedpgisrunning, reportedrepstate, candidatepriority, replicationquorum,
              keepergoalstate::text,
              (extract(epoch FROM now() - leasegranttime) * 1000)::float8 AS lease_age_ms
         FROM pgautofailover.node WHERE formationid = $1 AND groupid = $2 ORDER BY nodeid FOR UPDATE NOWAIT`, [formationId, groupId]);
    const requests = await client.query<RequestRow>(
      `SELECT id, kind, nodeid, force FROM pgautofailover.request
        WHERE formationid = $1 AND groupid = $2 AND done_at IS NULL ORDER BY id`, [formationId, groupId]);
    const grants: WriteLease[] = [];
    const nodes: NodeSnapshot[] = rows.map((r) => {
      const nodeId = exactNodeId(formationId, groupId, r.nodeid);
      if (r.lease_age_ms !== null) grants.push({ nodeId, grantedAt: now - r.lease_age_ms });
      return {
        nodeId,
        name: r.nodename,
        host: r.nodehost,
        port: r.nodeport,
        reportedState: state(r.reportedstate),
        goalState: state(r.goalstate),
        health: r.health === 1 ? 'good' : r.health === 0 ? 'bad' : 'unknown',
        healthCheckedAt: r.health === -1 ? null : now - r.healthcheck_age_ms,
        reportedAt: now - r.report_age_ms,
        goalChangedAt: now - r.goalchange_age_ms,
        keeperGoalState: r.keepergoalstate === null ? null : state(r.keepergoalstate),
        reportedLsn: parseLsn(r.reportedlsn),
        reportedTimeline: r.reportedtli,
        pgIsRunning: r.reportedpgisrunning !== false,
        replicationState: SYNC_STATES.find((s) => s === r.reportedrepstate) ?? 'unknown',
        candidatePriority: r.candidatepriority,
        replicationQuorum: r.replicationquorum,
      };
    });
    const groupKey = key(formationId, groupId);
    if (!leases.has(groupKey)) {
      // Unknown history (service start): assume the node that may be
      // accepting writes was granted a lease just now.
      const holder = nodes.find((n) => isWritableState(n.goalState))
        ?? nodes.find((n) => isWritableState(n.reportedState));
      if (holder) leases.set(groupKey, { nodeId: holder.nodeId, grantedAt: Math.max(startedAt, now - 1) });
    }
    for (const grant of grants) {
      const known = leases.get(groupKey);
      if (known === undefined || grant.grantedAt > known.grantedAt) leases.set(groupKey, grant);
    }
    return {
      formationId,
      groupId,
      numberSyncStandbys: f.number_sync_standbys,
      nodes,
      requests: requests.rows.map(toRequest).filter((r): r is OperatorRequest => r !== null),
      writeLease: leases.get(groupKey) ?? null,
      monitorStartedAt: monitorStartedAt(now, f.monitor_age_ms, startedAt),
    };
  }

  async function apply(decision: Decision, snapshot: GroupSnapshot): Promise<void> {
    for (const change of decision.priorityChanges) {
      await client.query('UPDATE pgautofailover.node SET candidatepriority = $2 WHERE nodeid = $1', [change.nodeId, change.candidatePriority]);
      await client.query('SELECT pgautofailover.record_node_event($1, $2)', [change.nodeId, change.reason]);
    }
    if (decision.numberSyncStandbys !== null) {
      await client.query('UPDATE pgautofailover.formation SET number_sync_standbys = $2 WHERE formationid = $1',
        [snapshot.formationId, decision.numberSyncStandbys]);
    }
    for (const a of decision.assignments) {
      await client.query('SELECT pgautofailover.set_node_goal_state($1, $2, $3)', [a.nodeId, a.goalState, a.reason]);
    }
    for (const removal of decision.removals) {
      await client.query('DELETE FROM pgautofailover.node WHERE nodeid = $1', [removal.nodeId]);
      await client.query('SELECT pg_notify(\'log\', $1)', [removal.reason]);
    }
    for (const done of decision.consumedRequests) {
      await client.query('UPDATE pgautofailover.request SET done_at = now(), outcome = $2 WHERE id = $1',
        [done.requestId, `${done.outcome}: ${done.message}`]);
    }
    for (const message of decision.logs) {
      await client.query('SELECT pg_notify(\'log\', $1)', [message]);
    }
  }

  /** synchronous_standby_names for the group, after the decision. */
  async function storeStandbyNames(formationId: string, groupId: number): Promise<void> {
    const { rows } = await client.query<{ nodeid: string; reportedstate: string; goalstate: string; candidatepriority: number; replicationquorum: boolean }>(
      `SELECT nodeid, reportedstate::text, goalstate::text, candidatepriority, replicationquorum
         FROM pgautofailover.node WHERE formationid = $1 AND groupid = $2 ORDER BY nodeid`, [formationId, groupId]);
    const nss = await client.query<{ n: number }>('SELECT number_sync_standbys AS n FROM pgautofailover.formation WHERE formationid = $1', [formationId]);
    const value = rows.length === 0 ? '' : synchronousStandbyNames({
      formationId, groupId, numberSyncStandbys: nss.rows[0]?.n ?? 0,
      nodes: rows.map((r) => ({
        nodeId: exactNodeId(formationId, groupId, r.nodeid), reportedState: state(r.reportedstate), goalState: state(r.goalstate),
        candidatePriority: r.candidatepriority, replicationQuorum: r.replicationquorum,
      })),
    });
    await client.query(
      `INSERT INTO pgautofailover.group_state (formationid, groupid, standby_names) VALUES ($1, $2, $3)
       ON CONFLICT (formationid, groupid) DO UPDATE SET standby_names = EXCLUDED.standby_names
       WHERE group_state.standby_names IS DISTINCT FROM EXCLUDED.standby_names`, [formationId, groupId, value]);
  }

  /**
   * A node that register_node just inserted (goal and report `init`) gets
   * its first goal here: `single` for the first node of a group,
   * `wait_standby` (or `report_lsn`) for the others (spec 03 §5.1 step 4).
   * register_node itself already raised number_sync_standbys when needed.
   * Returns the snapshot with those goals, or null when nothing changed.
   */
  async function assignRegistrations(snapshot: GroupSnapshot, now: number): Promise<GroupSnapshot | null> {
    let nodes = snapshot.nodes;
    let changed = false;
    for (const node of snapshot.nodes) {
      if (node.goalState !== 'init' || node.reportedState !== 'init') continue;
      const others = nodes.filter((n) => n.nodeId !== node.nodeId);
      if (others.length === 0) continue; // decide() makes the first node single
      const formation = await client.query<{ opt_secondary: boolean }>('SELECT opt_secondary FROM pgautofailover.formation WHERE formationid = $1', [snapshot.formationId]);
      const plan = planRegistration(others, snapshot.numberSyncStandbys, formation.rows[0]?.opt_secondary !== false,
        { candidatePriority: node.candidatePriority, replicationQuorum: node.replicationQuorum });
      if (!plan.ok) continue;
      const label = `node ${node.nodeId} "${node.name}" (${node.host}:${node.port})`;
      await client.query('SELECT pgautofailover.set_node_goal_state($1, $2, $3)', [node.nodeId, plan.goalState,
        `Setting goal state of ${label} to ${plan.goalState} after it joined group ${snapshot.groupId} of formation "${snapshot.formationId}".`]);
      nodes = nodes.map((n) => (n.nodeId === node.nodeId ? { ...n, goalState: plan.goalState, goalChangedAt: now } : n));
      changed = true;
    }
    return changed ? { ...snapshot, nodes } : null;
  }

  async function decideGroup(formationId: string, groupId: number): Promise<GroupOutcome> {
    const settings: FsmSettings = fsmSettingsFrom(deps.settings());
    await client.query('BEGIN');
    try {
      const locked = await client.query<{ ok: boolean }>('SELECT pgautofailover.try_lock_group($1, $2) AS ok', [formationId, groupId]);
      if (locked.rows[0]?.ok !== true) {
        await client.query('ROLLBACK');
        const exists = await client.query('SELECT 1 FROM pgautofailover.node WHERE formationid = $1 AND groupid = $2 LIMIT 1', [formationId, groupId]);
        if (exists.rows.length > 0) return { kind: 'busy' };
        recheck.delete(key(formationId, groupId));
        return { kind: 'empty' };
      }
      const now = clock();
      const snapshot = await snapshotOf(formationId, groupId, now);
      if (snapshot === null || snapshot.nodes.length === 0) {
        await client.query('COMMIT');
        recheck.delete(key(formationId, groupId));
        return { kind: 'empty' };
      }
      const registered = await assignRegistrations(snapshot, now);
      const decision = decide(registered ?? snapshot, now, settings);
      await apply(decision, snapshot);
      await storeStandbyNames(formationId, groupId);
      await client.query('COMMIT');
      const groupKey = key(formationId, groupId);
      if (decision.recheckAt === null) recheck.delete(groupKey);
      else recheck.set(groupKey, decision.recheckAt);
      for (const a of decision.assignments) {
        log.info(`Setting goal state of node ${a.nodeId} to ${a.goalState}: ${a.reason}`);
      }
      for (const message of decision.logs) log.info(message);
      return { kind: 'decided', decision };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (isLockNotAvailable(error)) return { kind: 'busy' };
      throw error;
    }
  }

  return {
    decideGroup,
    async listGroups() {
      const { rows } = await client.query<{ formationid: string; groupid: number }>(
        'SELECT DISTINCT formationid, groupid FROM pgautofailover.node ORDER BY 1, 2');
      return rows.map((r) => ({ formationId: r.formationid, groupId: r.groupid }));
    },
    nextRecheck() {
      let next: number | null = null;
      for (const at of recheck.values()) if (next === null || at < next) next = at;
      return next;
    },
  };
}

/** 55P03 lock_not_available: NOWAIT, or the session's lock_timeout. */
function isLockNotAvailable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === '55P03';
}
