/**
 * The simulated world of the model checker: a monitor (its database and
 * the brain calling decide()), the nodes (keeper + Postgres), the network,
 * and the bookkeeping the invariants need.
 */
import type { FsmSettings, NodeHealth, NodeState, OperatorRequest, SyncState } from '../../../../src/fsm/index.js';
import type { BrainShell } from '../../../../src/monitor/brain.js';
import type { Rng } from './prng.js';
import type { Pos, Timelines } from './timelines.js';

/** One row of pgautofailover.node, as the model's monitor stores it. */
export interface DbNode {
  nodeId: number;
  slot: number;
  name: string;
  host: string;
  port: number;
  reportedState: NodeState;
  goalState: NodeState;
  health: NodeHealth;
  healthCheckedAt: number | null;
  reportedAt: number | null;
  goalChangedAt: number;
  keeperGoalState: NodeState | null;
  reportedLsn: bigint;
  reportedTimeline: number;
  pgIsRunning: boolean;
  replicationState: SyncState;
  candidatePriority: number;
  replicationQuorum: boolean;
  /** leasegranttime: when node_active last returned a writable goal to this node; null: never. */
  leaseGrantedAt: number | null;
  nextHealthCheckAt: number;
}

/** A node_active call in flight. */
export interface Call {
  readonly nodeId: number;
  readonly slot: number;
  readonly sentAt: number;
  /** When the monitor processes it (null: the request is lost). */
  readonly deliverAt: number | null;
  readonly responseLost: boolean;
  readonly timeoutAt: number;
  readonly report: { state: NodeState; goal: NodeState; pgIsRunning: boolean; tli: number; lsn: number; sync: SyncState };
  processed: boolean;
  goal: NodeState | null;
  /** The node was unknown to the monitor. */
  unknownNode: boolean;
}

export interface SyncNames {
  readonly n: number;
  readonly ids: readonly number[];
}

export interface Postgres {
  running: boolean;
  hasData: boolean;
  pos: Pos;
  /** Out of recovery. */
  promoted: boolean;
  readOnly: boolean;
  /** Node id streamed from, or null. */
  upstream: number | null;
  /** fast_forward: stop replaying at this position. */
  recoveryTarget: Pos | null;
  /** Applied synchronous_standby_names; null is ''. */
  ssn: SyncNames | null;
  /** Commits waiting for their acknowledgement. */
  pending: Pos[];
  /** Node id of its upstream when it last received WAL this step (for sync acknowledgements). */
  streamingFrom: number | null;
  /** The keeper released Postgres to the operator (maintenance). */
  operatorControlled: boolean;
}

/** One other node of the group on a keeper's failsafe peer list (failsafe_peers). */
export interface Peer {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

/**
 * The failsafe material a keeper fetched from the monitor after a
 * successful node_active (kept in a file: it survives crashes).
 */
export interface PeerList {
  readonly peers: readonly Peer[];
  readonly fetchedAt: number;
  /** Fetched after the last node_active that granted this node a write lease. */
  freshForLease: boolean;
}

/** A vouch round of a primary whose node_active failed. */
export interface VouchRound {
  readonly id: number;
  readonly sentAt: number;
  readonly asked: readonly number[];
  readonly yes: Set<number>;
  readonly answered: Set<number>;
  readonly deadline: number;
}

/** A keeper-to-keeper message of the failsafe in the simulated network. */
export interface Message {
  readonly kind: 'question' | 'answer';
  readonly fromNodeId: number;
  readonly fromSlot: number;
  readonly toNodeId: number;
  readonly toSlot: number;
  readonly roundId: number;
  /** The lease length the question asks a promise for. */
  readonly leaseMs: number;
  readonly yes: boolean;
  readonly sentAt: number;
  deliverAt: number;
}

export interface SimNode {
  readonly slot: number;
  nodeId: number;
  name: string;
  /** The machine is up (keeper and Postgres can run). */
  alive: boolean;
  keeperUp: boolean;
  /** SIGSTOP of the whole node. */
  frozen: boolean;
  /** The keeper exited for good (node removed). */
  retired: boolean;
  state: NodeState;
  goal: NodeState;
  leaseUntil: number;
  nextLoopAt: number;
  busy: { until: number; to: NodeState } | null;
  call: Call | null;
  syncTarget: number | null;
  pg: Postgres;
  /** The failsafe peer list (file: survives crashes of the keeper and of the machine). */
  peers: PeerList | null;
  /** When the last node_active answer granting a writable goal arrived (keeper memory). */
  lastGrantAnsweredAt: number | null;
  /** get_other_nodes' primary, fetched after each successful node_active (keeper memory). */
  knownPrimary: number | null;
  /** The vouch promise: no held transition before this time (file: survives a keeper crash, not a reboot). */
  promiseEnd: number | null;
  /** The vouch round in flight. */
  round: VouchRound | null;
}

export interface Monitor {
  up: boolean;
  startedAt: number;
  /** Each start is a new monitor epoch (a promoted standby monitor, issue 13), in schedules with an even seed. */
  epochs?: boolean;
  nodes: DbNode[];
  nss: number;
  /** The group's stored synchronous_standby_names. */
  standbyNames: string;
  /** The lease grant of the last removed holder (group_state, migration 0010). */
  removedLease: { nodeId: number; grantedAt: number } | null;
  requests: OperatorRequest[];
  nextRequestId: number;
  nextNodeId: number;
  lastDecideAt: number;
  recheckAt: number | null;
  dirty: boolean;
  /** The monitor service's brain (src/monitor/brain.ts over the in-memory GroupStore), new at each monitor start. */
  shell: BrainShell | null;
  /** The priority each node got from the operator (without the ±101 shifts). */
  configuredPriority: Map<number, number>;
}

export interface Violation {
  readonly kind: string;
  readonly message: string;
}

export interface World {
  readonly rng: Rng;
  readonly settings: FsmSettings;
  readonly tls: Timelines;
  readonly monitor: Monitor;
  readonly nodes: SimNode[];
  /** links[a][b]: slot a reaches slot b; slot 0 is the monitor, node slots start at 1. */
  readonly links: boolean[][];
  /** Failsafe messages in flight. */
  messages: Message[];
  nextRoundId: number;
  t: number;
  readonly loopMs: number;
  readonly healthPeriodMs: number;
  readonly writeBytes: number;
  /** Tip of the acknowledged writes, per system identifier. */
  readonly acked: Map<number, Pos>;
  /** report_lsn positions when the last candidate was selected, by the selected node id. */
  readonly electionFloor: Map<number, { nodeId: number; pos: Pos }[]>;
  readonly violations: Violation[];
  readonly trace: string[] | null;
  faults: boolean;
  /**
   * A schedule aimed at the failsafe: 3 or 4 nodes, the primary often cut
   * from the monitor (with some or all standbys, a new node joining), more
   * asynchronous standbys (they do not hold an election back).
   */
  readonly failsafeFocus: boolean;
  /** Keeper edges taken, as "from>to". */
  readonly edgesSeen: Set<string>;
  readonly stats: Stats;
}

export interface Stats {
  failovers: number;
  acks: number;
  promotions: number;
  decisions: number;
  assignments: number;
  /** Vouch rounds run, rounds that extended a lease, yes answers given, transitions held by a promise. */
  vouchRounds: number;
  vouchExtensions: number;
  vouchYes: number;
  promiseHolds: number;
}

export function newStats(): Stats {
  return { failovers: 0, acks: 0, promotions: 0, decisions: 0, assignments: 0, vouchRounds: 0, vouchExtensions: 0, vouchYes: 0, promiseHolds: 0 };
}

export const SLOT_MONITOR = 0;

export function log(world: World, line: string | (() => string)): void {
  if (world.trace === null) return;
  world.trace.push(`${(world.t / 1000).toFixed(3)}s ${typeof line === 'string' ? line : line()}`);
}

export function violate(world: World, kind: string, message: string): void {
  world.violations.push({ kind, message });
  log(world, `VIOLATION ${kind}: ${message}`);
}

export function reachable(world: World, a: number, b: number): boolean {
  return world.links[a]?.[b] ?? false;
}

export function simNodeById(world: World, nodeId: number): SimNode | undefined {
  return world.nodes.find((n) => n.nodeId === nodeId && !n.retired);
}

export function dbNodeById(world: World, nodeId: number): DbNode | undefined {
  return world.monitor.nodes.find((n) => n.nodeId === nodeId);
}

/** Postgres of this node can serve (machine up, not frozen, running). */
export function pgServes(node: SimNode): boolean {
  return node.alive && !node.frozen && node.pg.running;
}
