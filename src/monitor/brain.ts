/**
 * The thin shell around decide() (DESIGN.md decision 3), shared by the
 * monitor service and the model checker: per group, one GroupStore
 * transaction that takes the group lock, reads the group's facts, builds
 * the snapshot (lease bookkeeping included), runs the pure decision, and
 * writes it with the group's synchronous_standby_names. The SQL store
 * (group-store-sql.ts) sends the `state` and `log` notifications at commit.
 *
 * Times: every time in the snapshot is on this process's monotonic clock
 * (performance.now()). The store reads stored times as ages, which are
 * subtracted from the monotonic now, so no two clocks are ever compared.
 * The write lease comes from the committed `leasegranttime` that
 * node_active writes when it returns a writable goal, read as an age like
 * the other times; notifications are only hints that a group needs a
 * decision (anyone may pg_notify).
 */
import type pg from 'pg';
import type { Logger } from '../common/log.js';
import {
  decide, isWritableState, synchronousStandbyNames,
  type Decision, type FsmSettings, type GroupSnapshot, type NodeSnapshot, type WriteLease,
} from '../fsm/index.js';
import { andThen, type GroupFacts, type GroupKey, type GroupStore, type Maybe } from './group-store.js';
import { sqlGroupStore } from './group-store-sql.js';
import { fsmSettingsFrom, type MonitorSettings } from './settings.js';

export type { GroupKey } from './group-store.js';
export { exactId, InexactNodeIdError } from './group-store-sql.js';

/** Outcome of one group decision: `busy` when a lock was held by another transaction (retry later). */
export type GroupOutcome =
  | { readonly kind: 'decided'; readonly decision: Decision; readonly snapshot?: GroupSnapshot }
  | { readonly kind: 'empty' }
  | { readonly kind: 'busy' };

export interface Brain {
  decideGroup(formationId: string, groupId: number): Promise<GroupOutcome>;
  /** The groups that have nodes, by formation and group id. */
  listGroups(): Promise<GroupKey[]>;
  /** Earliest monotonic time at which some group must be decided again, or null. */
  nextRecheck(): number | null;
}

/**
 * When the monitor started, as the health rules see it: the later of the
 * Postgres start and this service's start, so that a restarted service
 * waits startup_grace_period before it finds a silent node unhealthy.
 */
export function monitorStartedAt(now: number, postgresAgeMs: number, serviceStartedAt: number): number {
  return Math.max(now - postgresAgeMs, serviceStartedAt);
}

/** The shell over any GroupStore; `decideGroup` is synchronous over a synchronous store. */
export interface BrainShell {
  /** The 'decided' outcome carries the snapshot decide() saw. */
  decideGroup(formationId: string, groupId: number): Maybe<GroupOutcome>;
  listGroups(): Maybe<GroupKey[]>;
  nextRecheck(): number | null;
}

export interface BrainShellDeps {
  store: GroupStore;
  log: Pick<Logger, 'info'>;
  settings: () => FsmSettings;
  /** Monotonic clock in ms; the shell's start is its first reading. */
  clock: () => number;
}

/** The group after the decision is written, as synchronous_standby_names sees it. */
function standbyNamesAfter(snapshot: GroupSnapshot, decision: Decision): string {
  const removed = new Set(decision.removals.map((r) => r.nodeId));
  const nodes = snapshot.nodes.filter((n) => !removed.has(n.nodeId)).map((n) => {
    let { goalState, candidatePriority } = n;
    for (const c of decision.priorityChanges) if (c.nodeId === n.nodeId) candidatePriority = c.candidatePriority;
    for (const a of decision.assignments) if (a.nodeId === n.nodeId) goalState = a.goalState;
    return { nodeId: n.nodeId, reportedState: n.reportedState, goalState, candidatePriority, replicationQuorum: n.replicationQuorum };
  }).sort((a, b) => a.nodeId - b.nodeId);
  if (nodes.length === 0) return '';
  return synchronousStandbyNames({
    formationId: snapshot.formationId, groupId: snapshot.groupId,
    numberSyncStandbys: decision.numberSyncStandbys ?? snapshot.numberSyncStandbys, nodes,
  });
}

export function createBrainShell(deps: BrainShellDeps): BrainShell {
  const { store, log, clock } = deps;
  const startedAt = clock();
  /**
   * The latest lease grant known per group key: from the committed
   * leasegranttime of the group's nodes, kept when the row goes away, and
   * never moved back.
   */
  const leases = new Map<string, WriteLease>();
  const recheck = new Map<string, number>();

  const key = (formationId: string, groupId: number): string => `${formationId}\u0000${groupId}`;

  function snapshotOf(formationId: string, groupId: number, facts: GroupFacts, now: number): GroupSnapshot {
    const grants: WriteLease[] = [];
    const nodes = facts.nodes.map((n): NodeSnapshot => {
      if (n.leaseAgeMs !== null) grants.push({ nodeId: n.nodeId, grantedAt: now - n.leaseAgeMs });
      return {
        nodeId: n.nodeId,
        name: n.name,
        host: n.host,
        port: n.port,
        reportedState: n.reportedState,
        goalState: n.goalState,
        health: n.health,
        healthCheckedAt: n.healthCheckAgeMs === null ? null : now - n.healthCheckAgeMs,
        reportedAt: n.reportAgeMs === null ? null : now - n.reportAgeMs,
        goalChangedAt: now - n.goalChangeAgeMs,
        keeperGoalState: n.keeperGoalState,
        reportedLsn: n.reportedLsn,
        reportedTimeline: n.reportedTimeline,
        pgIsRunning: n.pgIsRunning,
        replicationState: n.replicationState,
        candidatePriority: n.candidatePriority,
        replicationQuorum: n.replicationQuorum,
        ...(n.decision === undefined ? {} : { decision: n.decision }),
        ...(n.witness === undefined ? {} : { witness: n.witness }),
      };
    });
    // A removed node's grant survives in the store, also across a restart of this service.
    if (facts.removedLease !== null) grants.push({ nodeId: facts.removedLease.nodeId, grantedAt: now - facts.removedLease.leaseAgeMs });
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
      numberSyncStandbys: facts.numberSyncStandbys,
      secondariesAllowed: facts.secondariesAllowed,
      nodes,
      requests: facts.requests,
      writeLease: leases.get(groupKey) ?? null,
      monitorStartedAt: monitorStartedAt(now, facts.monitorAgeMs, startedAt),
      ...(facts.monitorEpoch === undefined ? {} : { monitorEpoch: facts.monitorEpoch }),
      epochStartedAt: facts.epochAgeMs === undefined || facts.epochAgeMs === null ? null : now - facts.epochAgeMs,
    };
  }

  /**
   * `create monitor --rebuild-from-nodes` (ha/rebuild.ts): while the nodes
   * of a group register again, the group may look like anything (a standby
   * alone, a primary without its standbys): nothing is decided for it until
   * every node its keepers know of is back or the rebuild window ran out,
   * so that nothing is failed over.
   */
  const held = new Set<string>();
  function rebuildPause(formationId: string, groupId: number, facts: GroupFacts): boolean {
    const k = key(formationId, groupId);
    const now = facts.rebuilding === true;
    const where = `group ${groupId} of formation "${formationId}"`;
    if (now && !held.has(k)) log.info(`Rebuilding this monitor from its nodes: no decision for ${where} until every node its keepers know of registered again, or the rebuild window ran out`);
    if (!now && held.has(k)) log.info(`The rebuild from nodes holds ${where} no more: deciding again`);
    if (now) held.add(k);
    else held.delete(k);
    return now;
  }

  function decideGroup(formationId: string, groupId: number): Maybe<GroupOutcome> {
    const settings = deps.settings();
    const groupKey = key(formationId, groupId);
    const outcome = store.transaction(formationId, groupId, (tx) => {
      const now = clock();
      return andThen(tx.read(), (facts) => {
        if (facts === null || facts.nodes.length === 0) return null;
        if (rebuildPause(formationId, groupId, facts)) return null;
        const snapshot = snapshotOf(formationId, groupId, facts, now);
        const decision = decide(snapshot, now, settings);
        return andThen(tx.write(formationId, decision, standbyNamesAfter(snapshot, decision)), () => ({ decision, snapshot }));
      });
    });
    return andThen(outcome, (done): GroupOutcome => {
      if (done.kind === 'busy') return { kind: 'busy' };
      if (done.kind === 'empty' || done.value === null) {
        recheck.delete(groupKey);
        return { kind: 'empty' };
      }
      const { decision, snapshot } = done.value;
      if (decision.recheckAt === null) recheck.delete(groupKey);
      else recheck.set(groupKey, decision.recheckAt);
      for (const a of decision.assignments) {
        log.info(`Setting goal state of node ${a.nodeId} to ${a.goalState}: ${a.reason}`);
      }
      for (const message of decision.logs) log.info(message);
      return { kind: 'decided', decision, snapshot };
    });
  }

  return {
    decideGroup,
    listGroups: () => store.listGroups(),
    nextRecheck() {
      let next: number | null = null;
      for (const at of recheck.values()) if (next === null || at < next) next = at;
      return next;
    },
  };
}

export interface BrainDeps {
  client: pg.ClientBase;
  log: Logger;
  settings: () => MonitorSettings;
  /** Monotonic clock in ms (performance.now by default). */
  clock?: () => number;
}

/** The service's brain: the shell over the SQL GroupStore. */
export function createBrain(deps: BrainDeps): Brain {
  const shell = createBrainShell({
    store: sqlGroupStore(deps.client),
    log: deps.log,
    settings: () => fsmSettingsFrom(deps.settings()),
    clock: deps.clock ?? ((): number => performance.now()),
  });
  return {
    decideGroup: async (formationId, groupId) => shell.decideGroup(formationId, groupId),
    listGroups: async () => shell.listGroups(),
    nextRecheck: () => shell.nextRecheck(),
  };
}
