/**
 * The node states of the group state machine: the values of the monitor's
 * `pgautofailover.replication_state` enum (spec 03 §3), in the enum's order,
 * and what each state means for the node holding it (spec 02 §2).
 */
import { AutoctlError } from '../common/errors.js';

export const NODE_STATES = [
  'unknown',
  'init',
  'single',
  'wait_primary',
  'primary',
  'draining',
  'demote_timeout',
  'demoted',
  'catchingup',
  'secondary',
  'prepare_promotion',
  'stop_replication',
  'wait_standby',
  'maintenance',
  'join_primary',
  'apply_settings',
  'prepare_maintenance',
  'wait_maintenance',
  'report_lsn',
  'fast_forward',
  'join_secondary',
  'dropped',
] as const;

export type NodeState = (typeof NODE_STATES)[number];

const STATE_SET: ReadonlySet<string> = new Set(NODE_STATES);

export function isNodeState(value: string): value is NodeState {
  return STATE_SET.has(value);
}

/** Whether the keeper keeps Postgres running in a state (spec 02 §2 "PG"). */
export const POSTGRES_IN_STATE = ['run', 'stop', 'operator', 'none'] as const;
export type PostgresInState = (typeof POSTGRES_IN_STATE)[number];

export interface StateInfo {
  readonly state: NodeState;
  /** Who holds the state. */
  readonly holder: string;
  readonly postgres: PostgresInState;
  /** The node may accept writes (and must hold the write lease to do so). */
  readonly acceptsWrites: boolean;
  readonly meaning: string;
}

/**
 * spec 02 §1 `writable(S)`: the states of a primary that accepts writes,
 * and so must hold the write lease (single included: an operator may remove
 * a partitioned single node and register another one, and the monitor
 * waits for the old lease before opening the new node).
 */
export const WRITABLE_STATES = ['single', 'wait_primary', 'primary', 'join_primary', 'apply_settings'] as const satisfies readonly NodeState[];
export type WritableState = (typeof WRITABLE_STATES)[number];

const WRITABLE: ReadonlySet<NodeState> = new Set<NodeState>(WRITABLE_STATES);

/** One row per state, in enum order; acceptsWrites comes from WRITABLE_STATES. */
const STATE_ROWS: readonly Omit<StateInfo, 'acceptsWrites'>[] = [
  { state: 'unknown', holder: '-', postgres: 'none', meaning: 'placeholder of the enum; never assigned' },
  { state: 'init', holder: 'new node', postgres: 'none', meaning: 'just registered; only ever reported, never a goal' },
  { state: 'single', holder: 'only node', postgres: 'run', meaning: 'primary without any standby; synchronous_standby_names is empty' },
  { state: 'wait_primary', holder: 'primary', postgres: 'run', meaning: 'primary without a usable synchronous standby; synchronous replication is off' },
  { state: 'primary', holder: 'primary', postgres: 'run', meaning: 'primary with the monitor-computed synchronous_standby_names applied; failover-ready' },
  { state: 'draining', holder: 'old primary', postgres: 'stop', meaning: 'first step of a demotion: Postgres is stopped' },
  { state: 'demote_timeout', holder: 'old primary', postgres: 'stop', meaning: 'old primary confirmed stopped, or fenced by its keeper when its write lease ran out' },
  { state: 'demoted', holder: 'old primary', postgres: 'stop', meaning: 'old primary known stopped; waits to rejoin the new primary' },
  { state: 'catchingup', holder: 'standby', postgres: 'run', meaning: 'streaming from the primary, not yet eligible for promotion' },
  { state: 'secondary', holder: 'standby', postgres: 'run', meaning: 'streaming and close to the primary; eligible for promotion' },
  { state: 'prepare_promotion', holder: 'chosen candidate', postgres: 'run', meaning: 'synchronisation point before the promotion' },
  { state: 'stop_replication', holder: 'chosen candidate', postgres: 'run', meaning: 'promoted but read-only until the old primary is known fenced' },
  { state: 'wait_standby', holder: 'new standby', postgres: 'none', meaning: 'waits for the primary to be ready to serve a base backup' },
  { state: 'maintenance', holder: 'any', postgres: 'operator', meaning: 'operator maintenance: the keeper neither starts nor stops Postgres' },
  { state: 'join_primary', holder: 'primary', postgres: 'run', meaning: 'deprecated; never assigned; a node reporting it is moved to primary' },
  { state: 'apply_settings', holder: 'primary', postgres: 'run', meaning: 'primary about to refresh synchronous_standby_names' },
  { state: 'prepare_maintenance', holder: 'primary', postgres: 'stop', meaning: 'primary going to maintenance: checkpoint, then stop Postgres' },
  { state: 'wait_maintenance', holder: 'standby', postgres: 'run', meaning: 'standby waiting for the primary to stop needing it before maintenance' },
  { state: 'report_lsn', holder: 'standby or old primary', postgres: 'run', meaning: 'election: runs as a standby without upstream and reports its frozen LSN' },
  { state: 'fast_forward', holder: 'elected candidate', postgres: 'run', meaning: 'fetches the WAL it misses from the most advanced standby' },
  { state: 'join_secondary', holder: 'standby not elected', postgres: 'stop', meaning: 'Postgres stopped, waiting for the new primary to follow it' },
  { state: 'dropped', holder: 'removed node', postgres: 'stop', meaning: 'removal in progress; the row is deleted once the node reports it' },
];

export const STATE_INFO: readonly StateInfo[] = STATE_ROWS.map((row) => ({ ...row, acceptsWrites: WRITABLE.has(row.state) }));

const PRIMARYISH: ReadonlySet<NodeState> = new Set<NodeState>([...WRITABLE, 'draining', 'demote_timeout', 'prepare_maintenance']);
const MAINTENANCE: ReadonlySet<NodeState> = new Set<NodeState>(['prepare_maintenance', 'wait_maintenance', 'maintenance']);
const DEMOTING: ReadonlySet<NodeState> = new Set<NodeState>(['draining', 'demote_timeout', 'prepare_maintenance']);

/**
 * States in which a keeper has made sure its Postgres cannot accept writes:
 * stopped, or running in recovery. A report of one of these states is
 * evidence that the node's write lease no longer matters (see lease.ts).
 * `stop_replication` is not one of them: Postgres is already promoted there.
 */
const FENCED: ReadonlySet<NodeState> = new Set<NodeState>([
  'init', 'draining', 'demote_timeout', 'demoted', 'catchingup', 'secondary', 'prepare_promotion',
  'wait_standby', 'maintenance', 'prepare_maintenance', 'wait_maintenance', 'report_lsn',
  'fast_forward', 'join_secondary', 'dropped',
]);

/** One of WRITABLE_STATES: the node may accept writes and must hold the write lease. */
export function isWritableState(state: NodeState): boolean {
  return WRITABLE.has(state);
}

/** spec 02 §1 `primaryish(S)`: writable, or an old primary being demoted. */
export function isPrimaryishState(state: NodeState): boolean {
  return PRIMARYISH.has(state);
}

/** Goal states that demote a primary (spec 02 §1 `beingDemoted`). */
export function isDemotingState(state: NodeState): boolean {
  return DEMOTING.has(state);
}

/** spec 02 §1 `inMaintenance` applied to a goal state. */
export function isMaintenanceState(state: NodeState): boolean {
  return MAINTENANCE.has(state);
}

/** A reported state that proves the keeper fenced its Postgres against writes. */
export function isFencedState(state: NodeState): boolean {
  return FENCED.has(state);
}

export function stateInfo(state: NodeState): StateInfo {
  const info = STATE_INFO[NODE_STATES.indexOf(state)];
  if (info === undefined || info.state !== state) throw new AutoctlError('INTERNAL', `no state info for ${state}`);
  return info;
}
