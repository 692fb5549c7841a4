/**
 * The GroupStore port (STYLE.md 5 and 9): where the brain reads a group's
 * facts and writes a decision, in one transaction that holds the group's
 * lock. Two implementations: SQL over the monitor database
 * (group-store-sql.ts, production) and in memory over the model checker's
 * world (test/unit/fsm/model/group-store-memory.ts). The brain's shell
 * (brain.ts) runs unchanged over either.
 *
 * Calls return `Maybe<T>`: a promise for the SQL store, a plain value for
 * the in-memory store, so that the synchronous model checker drives the
 * same shell code as the service (andThen() chains either).
 */
import type { Decision, NodeSnapshot, OperatorRequest } from '../fsm/index.js';
import type { GroupKey } from '../monitor-api/index.js';

export type { GroupKey } from '../monitor-api/index.js';

export type Maybe<T> = T | Promise<T>;

/** f(value), after value resolved when it is a promise. */
export function andThen<T, U>(value: Maybe<T>, f: (v: T) => Maybe<U>): Maybe<U> {
  return value instanceof Promise ? value.then(f) : f(value);
}

/**
 * A node row as the store reads it. Times are ages in ms at the time of
 * the read, measured by the store's own clock (Postgres: now() - column),
 * so that the shell never compares two clocks.
 */
export interface NodeFacts extends Omit<NodeSnapshot, 'healthCheckedAt' | 'reportedAt' | 'goalChangedAt'> {
  /** null: never checked (health unknown). */
  readonly healthCheckAgeMs: number | null;
  /** null: the keeper never reported. */
  readonly reportAgeMs: number | null;
  readonly goalChangeAgeMs: number;
  /** Age of the last write-lease grant node_active recorded for the node (leasegranttime); null: none. */
  readonly leaseAgeMs: number | null;
}

/** What the brain reads of a group under its lock. */
export interface GroupFacts {
  readonly numberSyncStandbys: number;
  /**
   * The formation's opt_secondary; only read when a node waits for its
   * first goal (reported and goal init), true otherwise.
   */
  readonly secondariesAllowed: boolean;
  /** Age of the monitor's database (its Postgres start). */
  readonly monitorAgeMs: number;
  /** The monitor's current epoch; absent when unknown (witness rule W0 then holds nothing). */
  readonly monitorEpoch?: number;
  /**
   * Age of the current monitor epoch (monitor_epoch.started_at); null or
   * absent when unknown. After a promotion, health grace counts from there.
   */
  readonly epochAgeMs?: number | null;
  /**
   * The last lease grant of a node removed from the group (kept by the
   * store with the row's deletion); null when none.
   */
  readonly removedLease: { readonly nodeId: number; readonly leaseAgeMs: number } | null;
  /** The group's rows by node id, nodes with goal dropped included. */
  readonly nodes: readonly NodeFacts[];
  /** Pending operator requests, oldest first. */
  readonly requests: readonly OperatorRequest[];
  /**
   * The rebuild from nodes holds the group (ha/rebuild.ts): a node of the
   * group that a registered keeper knows of is not back yet; nothing is
   * decided meanwhile. Absent: false.
   */
  readonly rebuilding?: boolean;
}

export interface GroupTransaction {
  /** The group's facts; null for an unknown formation. */
  read(): Maybe<GroupFacts | null>;
  /**
   * Writes the decision (DESIGN.md decision 3, in the order of
   * decision.ts: priority changes with their events, number_sync_standbys,
   * goal assignments with their events and `state` notifications,
   * removals, request outcomes, log messages) and the group's
   * synchronous_standby_names.
   */
  write(formationId: string, decision: Decision, standbyNames: string): Maybe<void>;
}

/**
 * `done`: the body ran and the transaction committed; `busy`: another
 * transaction holds the group or one of its rows (retry later); `empty`:
 * the lock was not available and the group has no node.
 */
export type TransactionOutcome<T> =
  | { readonly kind: 'done'; readonly value: T }
  | { readonly kind: 'busy' }
  | { readonly kind: 'empty' };

export interface GroupStore {
  /**
   * Runs body in one transaction holding the group's lock, taken without
   * waiting; commits when body returns, rolls back when it throws.
   */
  transaction<T>(formationId: string, groupId: number, body: (tx: GroupTransaction) => Maybe<T>): Maybe<TransactionOutcome<T>>;
  /** The groups that have nodes, by formation and group id. */
  listGroups(): Maybe<GroupKey[]>;
}
