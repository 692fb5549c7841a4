/**
 * Everything one keeper process works with: its files and configuration,
 * the Postgres binaries and controller, the monitor link, the write lease,
 * and the state it keeps between rounds. Built once by the service and
 * passed to the loop and to every action (STYLE.md: dependencies are
 * passed in).
 */
import type pg from 'pg';
import type { Logger } from '../common/log.js';
import type { PostgresControl } from '../common/service.js';
import { renderKeeperState, writeKeeperState, type AutoctlPaths, type KeeperConfig, type KeeperState } from '../config/index.js';
import { isNodeState, type NodeState } from '../fsm/states.js';
import type { NodeAddress } from '../monitor-api/index.js';
import type { PgBinaries } from '../postgres/index.js';
import { emitKeeperEvent, type KeeperEventMap, type KeeperEvents } from './events.js';
import type { WriteLease } from './lease.js';
import type { FailsafeState } from './failsafe-state.js';
import type { LocalPg, PgReport } from './local-pg.js';
import type { MonitorLink } from './monitor-link.js';
import type { EpochGuard } from './monitor-epoch.js';

export interface KeeperRuntime {
  readonly paths: AutoctlPaths;
  config: KeeperConfig;
  readonly env: NodeJS.ProcessEnv;
  readonly log: Logger;
  readonly bin: PgBinaries;
  readonly postgres: PostgresControl;
  readonly monitor: MonitorLink;
  readonly lease: WriteLease;
  readonly local: LocalPg;
  readonly signal: AbortSignal;
  /** In-memory copy of the state file; {@link saveState} writes it. */
  state: KeeperState;
  /** The other nodes of the group, as last returned by get_other_nodes. */
  otherNodes: NodeAddress[];
  /** Host list the replication HBA rules were last written for ('' = never). */
  hbaHostsKey: string;
  /** Hosts of other nodes whose HBA rules could not be written, by host: the error (logged once) and when to retry (monotonic ms). */
  hbaHostFailures: Map<string, { message: string; retryAt: number }>;
  /** enable_sync_rep: the LSN a synchronous standby must reach before `primary` is reported. */
  syncTargetLsn: bigint | null;
  /** Facts of the last round (reused by heartbeats during transitions). */
  lastFacts: PgReport;
  /** Set when the keeper killed Postgres because its write lease ran out. */
  fencedAt: number | null;
  /** The last node_active call failed. */
  monitorUnreachable: boolean;
  /** The goal of the transition running now, if any. */
  transitionGoal: NodeState | null;
  /** State file writes, serialised (the lease timer and the loop both write). */
  stateWrites: Promise<void>;
  /** Where the lease end is kept across restarts (the failsafe files sit beside it). */
  readonly leaseFile: string;
  /** The failsafe: material from the monitor, vouch promises, outage bookkeeping. */
  failsafe: FailsafeState;
  /** Port the keeper's HTTP listener listens on, null when it is off or failed to start. */
  httpPort: number | null;
  /** What metrics and hooks watch (events.ts). */
  readonly events: KeeperEvents;
  /** The highest monitor epoch seen (monitor-epoch.ts); absent in tests that build a bare runtime. */
  readonly epoch?: EpochGuard;
}

/** Tells the watchers (metrics, hooks); a watcher that throws is logged and never breaks the caller. */
export function notify<K extends keyof KeeperEventMap>(rt: KeeperRuntime, name: K, ...args: KeeperEventMap[K]): void {
  emitKeeperEvent(rt.events, (error) => rt.log.warn(`A watcher of the keeper's "${name}" event failed: ${error instanceof Error ? error.message : String(error)}`), name, ...args);
}

export function currentState(rt: KeeperRuntime): NodeState {
  const role = rt.state.currentRole;
  return isNodeState(role) ? role : 'unknown';
}

export function assignedState(rt: KeeperRuntime): NodeState {
  const role = rt.state.assignedRole;
  return isNodeState(role) ? role : 'unknown';
}

export function nodeId(rt: KeeperRuntime): number {
  return rt.state.currentNodeId;
}

/** The state file's text as this process last wrote it, per runtime. */
const lastWritten = new WeakMap<KeeperRuntime, string>();

/**
 * Updates the in-memory state and writes it. Writes are serialised and
 * each writes the state as it was when asked, so the file always ends with
 * the latest state. A write of the text already written is skipped: each
 * write costs two fsyncs (file and directory), and the loop saves the state
 * twice a round, mostly unchanged the second time.
 */
export function saveState(rt: KeeperRuntime, changes: Partial<Omit<KeeperState, 'version'>> = {}): Promise<void> {
  rt.state = { ...rt.state, ...changes };
  const snapshot = rt.state;
  const write = rt.stateWrites.catch(() => undefined).then(async () => {
    const text = renderKeeperState(snapshot);
    if (lastWritten.get(rt) === text) return;
    await writeKeeperState(rt.paths.state, snapshot);
    lastWritten.set(rt, text);
  });
  rt.stateWrites = write;
  return write;
}

/** Runs `fn` on the monitor connection (one call, with a deadline). */
export function onMonitor<T>(rt: KeeperRuntime, what: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  return rt.monitor.call(what, fn);
}
