/**
 * The GroupStore over the monitor database, through src/monitor-api.
 *
 * Locks: the group lock is taken without waiting (try_lock_group) and the
 * node rows with NOWAIT, so that a client holding a lock stalls at most
 * its own group, which is then reported as busy and retried later.
 *
 * Node ids arrive as text (bigint): they are used as numbers only when
 * exact, and a group holding an id beyond 2^53 is refused as a whole with
 * a clear error, without affecting the other groups.
 */
import type pg from 'pg';
import type { Decision, OperatorRequest } from '../fsm/index.js';
import {
  HEALTH_LABELS, assignGoalState, completeRequest, deleteNode, formationOptSecondary, groupHasNodes, groupRemovedLease, groupRequests,
  listGroups, lockGroupNodes, notifyLog, readFormationForDecision, rebuildHoldsGroup, readMonitorEpochNumber, recordNodeEvent, setGroupStandbyNames, sqlStateOf,
  storeCandidatePriority, storeNumberSyncStandbys, tryLockGroup, type GroupRequestRow,
} from '../monitor-api/index.js';
import type { GroupFacts, GroupStore, GroupTransaction, Maybe, NodeFacts, TransactionOutcome } from './group-store.js';

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

/** 55P03 lock_not_available: NOWAIT, or the session's lock_timeout (also as the cause of a monitor-API error). */
function isLockNotAvailable(error: unknown): boolean {
  return sqlStateOf(error) === '55P03';
}

/** The monitor's current epoch for the witness rule W0; nothing when unknown. */
async function epochFact(client: pg.ClientBase): Promise<{ monitorEpoch?: number }> {
  const epoch = await readMonitorEpochNumber(client);
  return epoch === undefined ? {} : { monitorEpoch: epoch };
}

export function sqlGroupStore(client: pg.ClientBase): GroupStore {
  function transactionOn(formationId: string, groupId: number): GroupTransaction {
    return {
      async read(): Promise<GroupFacts | null> {
        const f = await readFormationForDecision(client, formationId);
        if (!f) return null;
        const rows = await lockGroupNodes(client, formationId, groupId);
        const requests = await groupRequests(client, formationId, groupId);
        const nodes = rows.map((r): NodeFacts => ({
          nodeId: exactNodeId(formationId, groupId, r.nodeId),
          name: r.name,
          host: r.host,
          port: r.port,
          reportedState: r.reportedState,
          goalState: r.goalState,
          health: HEALTH_LABELS[r.health],
          healthCheckAgeMs: r.health === -1 ? null : r.healthCheckAgeMs,
          reportAgeMs: r.reportAgeMs,
          goalChangeAgeMs: r.goalChangeAgeMs,
          keeperGoalState: r.keeperGoalState,
          reportedLsn: r.reportedLsn,
          reportedTimeline: r.reportedTli,
          pgIsRunning: r.reportedPgIsRunning !== false,
          replicationState: r.replicationState,
          candidatePriority: r.candidatePriority,
          replicationQuorum: r.replicationQuorum,
          leaseAgeMs: r.leaseAgeMs,
          decision: r.decision,
          witness: r.witness,
        }));
        const removed = await groupRemovedLease(client, formationId, groupId);
        const registering = nodes.some((n) => n.goalState === 'init' && n.reportedState === 'init');
        return {
          numberSyncStandbys: f.numberSyncStandbys,
          secondariesAllowed: registering ? (await formationOptSecondary(client, formationId)) !== false : true,
          monitorAgeMs: f.monitorAgeMs,
          epochAgeMs: f.epochAgeMs,
          // An id beyond 2^53 names no node of the snapshot: the grant still counts, held by nobody present.
          removedLease: removed === undefined ? null
            : { nodeId: Number.isSafeInteger(Number(removed.nodeId)) ? Number(removed.nodeId) : -1, leaseAgeMs: removed.leaseAgeMs },
          nodes,
          requests: requests.map(toRequest).filter((r): r is OperatorRequest => r !== null),
          rebuilding: await rebuildHoldsGroup(client, formationId, groupId),
          ...await epochFact(client),
        };
      },

      async write(formation: string, decision: Decision, standbyNames: string): Promise<void> {
        for (const change of decision.priorityChanges) {
          await storeCandidatePriority(client, change.nodeId, change.candidatePriority);
          await recordNodeEvent(client, change.nodeId, change.reason);
        }
        if (decision.numberSyncStandbys !== null) {
          await storeNumberSyncStandbys(client, formation, decision.numberSyncStandbys);
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
        await setGroupStandbyNames(client, formation, groupId, standbyNames);
      },
    };
  }

  async function transaction<T>(
    formationId: string, groupId: number, body: (tx: GroupTransaction) => Maybe<T>,
  ): Promise<TransactionOutcome<T>> {
    await client.query('BEGIN');
    try {
      if (!(await tryLockGroup(client, formationId, groupId))) {
        await client.query('ROLLBACK');
        return (await groupHasNodes(client, formationId, groupId)) ? { kind: 'busy' } : { kind: 'empty' };
      }
      const value = await body(transactionOn(formationId, groupId));
      await client.query('COMMIT');
      return { kind: 'done', value };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (isLockNotAvailable(error)) return { kind: 'busy' };
      throw error;
    }
  }

  return { transaction, listGroups: () => listGroups(client) };
}
