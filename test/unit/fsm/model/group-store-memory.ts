/**
 * The GroupStore (src/monitor/group-store.ts) over the model's monitor
 * database: synchronous, never busy (one brain, one thread). Writing a
 * decision updates the rows as the SQL functions do and stands in for the
 * `state` NOTIFY: an assigned keeper the monitor reaches wakes up at once,
 * and the brain is due again.
 */
import type { Decision } from '../../../../src/fsm/index.js';
import type { GroupFacts, GroupStore, GroupTransaction, TransactionOutcome } from '../../../../src/monitor/group-store.js';
import { SLOT_MONITOR, dbNodeById, log, reachable, simNodeById, type World } from './world.js';

export function memoryGroupStore(world: World): GroupStore {
  let lastLogs = '';
  const age = (at: number | null): number | null => (at === null ? null : world.t - at);

  function read(): GroupFacts {
    const m = world.monitor;
    return {
      numberSyncStandbys: m.nss,
      secondariesAllowed: true,
      monitorAgeMs: world.t - m.startedAt,
      // In half the schedules each start of the model's monitor counts as a
      // new monitor epoch (as after the promotion of a standby monitor,
      // issue 13): the health grace counts from there.
      epochAgeMs: m.epochs === true ? world.t - m.startedAt : null,
      nodes: [...m.nodes].sort((a, b) => a.nodeId - b.nodeId).map((n) => ({
        nodeId: n.nodeId, name: n.name, host: n.host, port: n.port,
        reportedState: n.reportedState, goalState: n.goalState, health: n.health,
        healthCheckAgeMs: age(n.healthCheckedAt), reportAgeMs: age(n.reportedAt), goalChangeAgeMs: world.t - n.goalChangedAt,
        keeperGoalState: n.keeperGoalState, reportedLsn: n.reportedLsn, reportedTimeline: n.reportedTimeline,
        pgIsRunning: n.pgIsRunning, replicationState: n.replicationState,
        candidatePriority: n.candidatePriority, replicationQuorum: n.replicationQuorum,
        leaseAgeMs: age(n.leaseGrantedAt),
      })),
      requests: [...m.requests],
      removedLease: m.removedLease === null ? null : { nodeId: m.removedLease.nodeId, leaseAgeMs: world.t - m.removedLease.grantedAt },
    };
  }

  function write(_formationId: string, decision: Decision, standbyNames: string): void {
    const m = world.monitor;
    if (world.trace !== null) {
      const logs = decision.logs.join(' | ');
      if (logs !== lastLogs && logs !== '') log(world, `monitor log: ${logs}`);
      lastLogs = logs;
    }
    for (const change of decision.priorityChanges) {
      const row = dbNodeById(world, change.nodeId);
      if (row !== undefined) row.candidatePriority = change.candidatePriority;
    }
    if (decision.numberSyncStandbys !== null) m.nss = decision.numberSyncStandbys;
    for (const a of decision.assignments) {
      const row = dbNodeById(world, a.nodeId);
      if (row === undefined) continue;
      row.goalState = a.goalState;
      row.goalChangedAt = world.t;
      log(world, () => `monitor: [${a.rule}] ${a.reason}`);
      const node = simNodeById(world, a.nodeId);
      if (node !== undefined && reachable(world, SLOT_MONITOR, node.slot)) node.nextLoopAt = Math.min(node.nextLoopAt, world.t);
    }
    for (const r of decision.removals) {
      // As the SQL store (deleteNode): the removed row's lease grant is kept for the group.
      const gone = dbNodeById(world, r.nodeId);
      if (gone !== undefined && gone.leaseGrantedAt !== null && (m.removedLease === null || m.removedLease.grantedAt < gone.leaseGrantedAt)) {
        m.removedLease = { nodeId: gone.nodeId, grantedAt: gone.leaseGrantedAt };
      }
      m.nodes = m.nodes.filter((n) => n.nodeId !== r.nodeId);
      log(world, `monitor: ${r.reason}`);
    }
    const consumed = new Set(decision.consumedRequests.map((c) => c.requestId));
    for (const c of decision.consumedRequests) log(world, `monitor: request ${c.kind} ${c.outcome}: ${c.message}`);
    m.requests = m.requests.filter((r) => !consumed.has(r.id));
    m.standbyNames = standbyNames;
    if (decision.assignments.length > 0 || decision.removals.length > 0 || decision.priorityChanges.length > 0) m.dirty = true;
  }

  const tx: GroupTransaction = { read, write };
  return {
    transaction<T>(_formationId: string, _groupId: number, body: (t: GroupTransaction) => T | Promise<T>): TransactionOutcome<T> {
      const value = body(tx);
      if (value instanceof Promise) throw new Error('the in-memory group store runs synchronous transactions only');
      return { kind: 'done', value };
    },
    listGroups: () => (world.monitor.nodes.length === 0 ? [] : [{ formationId: 'default', groupId: 0 }]),
  };
}
