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
  decide, isWritableState, planRegistration, synchronousStandbyNames,
  type Decision, type FsmSettings, type GroupSnapshot, type NodeSnapshot, type OperatorRequest, type WriteLease,
} from '../fsm/index.js';
import {
  HEALTH_LABELS, assignGoalState, completeRequest, deleteNode, formationNumberSyncStandbys, formationOptSecondary,
  groupHasNodes, groupRequests, groupStandbyNodes, listGroups, lockGroupNodes, notifyLog, readFormationForDecision,
  recordNodeEvent, setGroupStandbyNames, sqlStateOf, storeCandidatePriority, storeNumberSyncStandbys, tryLockGroup,
  type GroupKey, type GroupRequestRow,
} from '../monitor-api/index.js';
import { fsmSettingsFrom, type MonitorSettings } from './settings.js';

export type { GroupKey } from '../monitor-api/index.js';

/** Outcome of one group decision: `busy` when a lock was held by another transaction (retry later). */
export type GroupOutcome =
  | { readonly kind: 'decided'; readonly decision: Decision }
  | { readonly kind: 'empty' }
  | { readonly kind: 'busy' };

export interface Brain {
  decideGroup(formationId: string, groupId: number): Promise<GroupOutcome>;
  /** The groups that have nodes, by formation and group id. */
  listGroups(): Promise<GroupKey[]>;
  /** Earliest monotonic time at which some group must be decided again, or null. */
  nextRecheck(): number | null;
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

function exactNodeId(formationId: string, groupId: number, id: bigint): number {
  const n = exactId(id);
  if (n === null) throw new InexactNodeIdError(formationId, groupId, id.toString());
  return n;
}

/**
 * When the monitor started, as the health rules see it: the later of the
 * Postgres start and this service's start, so that a restarted service
 * waits startup_grace_period before it finds a silent node unhealthy.
 */
export function monitorStartedAt(now: number, postgresAgeMs: number, serviceStartedAt: number): number {
  return Math.max(now - postgresAgeMs, serviceStartedAt);
}

function toRequest(row: GroupRequestRow): OperatorRequest | null {
  const id = exactId(row.id);
  if (id === null) return null;
  const exactNode = row.nodeId === null ? undefined : exactId(row.nodeId);
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
    default: return assertNever(row.kind);
  }
}

function assertNever(value: never): never {
  throw new Error(`unexpected request kind ${String(value)}`);
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
    const f = await readFormationForDecision(client, formationId);
    if (!f) return null;
    const rows = await lockGroupNodes(client, formationId, groupId);
    const requests = await groupRequests(client, formationId, groupId);
    const grants: WriteLease[] = [];
    const nodes: NodeSnapshot[] = rows.map((r) => {
      const nodeId = exactNodeId(formationId, groupId, r.nodeId);
      if (r.leaseAgeMs !== null) grants.push({ nodeId, grantedAt: now - r.leaseAgeMs });
      return {
        nodeId,
        name: r.name,
        host: r.host,
        port: r.port,
        reportedState: r.reportedState,
        goalState: r.goalState,
        health: HEALTH_LABELS[r.health],
        healthCheckedAt: r.health === -1 ? null : now - r.healthCheckAgeMs,
        reportedAt: now - r.reportAgeMs,
        goalChangedAt: now - r.goalChangeAgeMs,
        keeperGoalState: r.keeperGoalState,
        reportedLsn: r.reportedLsn,
        reportedTimeline: r.reportedTli,
        pgIsRunning: r.reportedPgIsRunning !== false,
        replicationState: r.replicationState,
        candidatePriority: r.candidatePriority,
        replicationQuorum: r.replicationQuorum,
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
      numberSyncStandbys: f.numberSyncStandbys,
      nodes,
      requests: requests.map(toRequest).filter((r): r is OperatorRequest => r !== null),
      writeLease: leases.get(groupKey) ?? null,
      monitorStartedAt: monitorStartedAt(now, f.monitorAgeMs, startedAt),
    };
  }

  async function apply(decision: Decision, snapshot: GroupSnapshot): Promise<void> {
    for (const change of decision.priorityChanges) {
      await storeCandidatePriority(client, change.nodeId, change.candidatePriority);
      await recordNodeEvent(client, change.nodeId, change.reason);
    }
    if (decision.numberSyncStandbys !== null) {
      await storeNumberSyncStandbys(client, snapshot.formationId, decision.numberSyncStandbys);
    }
    for (const a of decision.assignments) {
      await assignGoalState(client, a.nodeId, a.goalState, a.reason);
    }
    for (const removal of decision.removals) {
      await deleteNode(client, removal.nodeId);
      await notifyLog(client, removal.reason);
    }
    for (const done of decision.consumedRequests) {
      await completeRequest(client, BigInt(done.requestId), `${done.outcome}: ${done.message}`);
    }
    for (const message of decision.logs) {
      await notifyLog(client, message);
    }
  }

  /** synchronous_standby_names for the group, after the decision. */
  async function storeStandbyNames(formationId: string, groupId: number): Promise<void> {
    const rows = await groupStandbyNodes(client, formationId, groupId);
    const numberSyncStandbys = await formationNumberSyncStandbys(client, formationId);
    const value = rows.length === 0 ? '' : synchronousStandbyNames({
      formationId, groupId, numberSyncStandbys: numberSyncStandbys ?? 0,
      nodes: rows.map((r) => ({
        nodeId: exactNodeId(formationId, groupId, r.nodeId), reportedState: r.reportedState, goalState: r.goalState,
        candidatePriority: r.candidatePriority, replicationQuorum: r.replicationQuorum,
      })),
    });
    await setGroupStandbyNames(client, formationId, groupId, value);
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
      const optSecondary = await formationOptSecondary(client, snapshot.formationId);
      const plan = planRegistration(others, snapshot.numberSyncStandbys, optSecondary !== false,
        { candidatePriority: node.candidatePriority, replicationQuorum: node.replicationQuorum });
      if (!plan.ok) continue;
      const label = `node ${node.nodeId} "${node.name}" (${node.host}:${node.port})`;
      await assignGoalState(client, node.nodeId, plan.goalState,
        `Setting goal state of ${label} to ${plan.goalState} after it joined group ${snapshot.groupId} of formation "${snapshot.formationId}".`);
      nodes = nodes.map((n) => (n.nodeId === node.nodeId ? { ...n, goalState: plan.goalState, goalChangedAt: now } : n));
      changed = true;
    }
    return changed ? { ...snapshot, nodes } : null;
  }

  async function decideGroup(formationId: string, groupId: number): Promise<GroupOutcome> {
    const settings: FsmSettings = fsmSettingsFrom(deps.settings());
    await client.query('BEGIN');
    try {
      if (!(await tryLockGroup(client, formationId, groupId))) {
        await client.query('ROLLBACK');
        if (await groupHasNodes(client, formationId, groupId)) return { kind: 'busy' };
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
    listGroups: () => listGroups(client),
    nextRecheck() {
      let next: number | null = null;
      for (const at of recheck.values()) if (next === null || at < next) next = at;
      return next;
    },
  };
}

/** 55P03 lock_not_available: NOWAIT, or the session's lock_timeout (also as the cause of a monitor-API error). */
function isLockNotAvailable(error: unknown): boolean {
  return sqlStateOf(error) === '55P03';
}
